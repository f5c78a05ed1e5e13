"""Certificate lifecycle against the emulator: real TLS, real MSAL tokens, real Graph calls.

An admin profile (the emulator's bootstrap admin, Application.ReadWrite.All) lists, adds and
removes certificates; rotation uses only the application's own certificate (addKey/removeKey with
proofs). Rotations interrupted by emulator faults must leave a profile that still gets tokens.
"""
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_certificate, pem_of, utc
from cryptography.hazmat.primitives import serialization

from azext_entracert.core import audit, lifecycle, profiles, tokens
from azext_entracert.core.errors import AuthenticationError, CertificateError, ConfigurationError
from azext_entracert.core.rotation import RotationError, rotate


@pytest.fixture
def world(emulator, make_app, tmp_path, rsa_keys):
    """An application with one certificate, a profile for it and an admin Graph client; state in
    ``tmp_path`` (profiles, token cache, audit, known keys)."""
    app = make_app("lifecycle-app", key_index=0)
    store = profiles.ProfileStore(tmp_path)
    profile = store.add(_profile("app", app.app_id, app.pem_path, emulator))
    admin = _profile("admin", emulator.admin["client_id"], emulator.admin["certificate"], emulator)
    graph = lifecycle.admin_graph(admin, directory=tmp_path)
    return dataclasses.make_dataclass("World", ["app", "store", "profile", "graph", "dir"])(
        app, store, profile, graph, tmp_path)


def _profile(name, client_id, certificate, emulator):
    return profiles.new_profile(name, tenant=emulator.tenant_id, client_id=client_id,
                                certificate=certificate, authority_host=emulator.authority_host,
                                ca_bundle=emulator.ca_bundle)


def _token(profile, directory):
    return tokens.acquire(profile, force=True, directory=directory)


def _cer(tmp_path, certificate, name="extra.cer"):
    path = tmp_path / name
    path.write_bytes(certificate.public_bytes(serialization.Encoding.DER))
    return path


def _stored_thumbprints(emulator, app_id):
    return sorted(k["customKeyIdentifier"] for k in emulator.application(app_id)["keyCredentials"])


# --- list / add / remove ----------------------------------------------------------------------

def test_list_marks_the_local_certificate(world):
    rows = lifecycle.list_certificates(world.graph, world.profile, directory=world.dir)
    assert len(rows) == 1
    assert rows[0]["thumbprint"] == world.profile.thumbprint and rows[0]["isLocal"]
    assert rows[0]["daysLeft"] in (29, 30) and rows[0]["expired"] is False


def test_thumbprint_accepted_as_hex_base64_or_from_the_key():
    import base64
    raw = bytes(range(20))
    assert lifecycle.entry_thumbprint({"customKeyIdentifier": raw.hex()}) == raw.hex().upper()
    assert lifecycle.entry_thumbprint(
        {"customKeyIdentifier": base64.b64encode(raw).decode()}) == raw.hex().upper()
    der = b"not really a certificate, hashed all the same"
    import hashlib
    assert lifecycle.entry_thumbprint({"customKeyIdentifier": None, "key": base64.b64encode(
        der).decode()}) == hashlib.sha1(der).hexdigest().upper()


def test_add_keeps_existing_and_the_added_certificate_signs_in(world, emulator, rsa_keys,
                                                               tmp_path):
    extra = make_certificate(rsa_keys[1], "lifecycle-extra")
    added = lifecycle.add_certificate(world.graph, world.profile, _cer(tmp_path, extra),
                                      display_name="second", directory=world.dir)
    assert added["displayName"] == "second" and not added["isLocal"]
    rows = lifecycle.list_certificates(world.graph, world.profile, directory=world.dir)
    assert sorted(r["thumbprint"] for r in rows) == sorted([world.profile.thumbprint,
                                                            added["thumbprint"]])
    assert [r["isLocal"] for r in rows if r["thumbprint"] == world.profile.thumbprint] == [True]
    # The stored dates are clipped to the certificate, and only its public part was sent.
    stored = next(k for k in emulator.application(world.app.app_id)["keyCredentials"]
                  if k["keyId"] == added["keyId"])
    assert stored["endDateTime"] < f"{extra.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}"
    pem = tmp_path / "extra.pem"
    pem.write_bytes(rsa_keys[1].private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())
                    + extra.public_bytes(serialization.Encoding.PEM))
    other = _profile("extra", world.app.app_id, str(pem), emulator)
    assert _token(other, world.dir).token
    assert [e["action"] for e in audit.read(world.dir)].count("app-cert-add") == 1


def test_add_refuses_a_duplicate_and_an_invalid_certificate(world, rsa_keys, tmp_path):
    with pytest.raises(ConfigurationError, match="already registered"):
        lifecycle.add_certificate(world.graph, world.profile,
                                  _cer(tmp_path, world.app.certificate), directory=world.dir)
    expired = make_certificate(rsa_keys[2], "expired", days=1, not_before=utc(-3 * 86400))
    with pytest.raises(CertificateError, match="validityPeriod"):
        lifecycle.add_certificate(world.graph, world.profile, _cer(tmp_path, expired, "old.cer"),
                                  directory=world.dir)


def test_remove_refusals_and_removal_of_exactly_one(world, emulator, rsa_keys, tmp_path):
    with pytest.raises(ConfigurationError, match="signs in with") as refused:
        lifecycle.remove_certificate(world.graph, world.profile,
                                     thumbprint=world.profile.thumbprint, directory=world.dir)
    assert "--force" in refused.value.hint
    with pytest.raises(ConfigurationError, match="no certificate.*Registered: keyId") as unknown:
        lifecycle.remove_certificate(world.graph, world.profile, key_id="0" * 8 + "-0000-0000"
                                     "-0000-000000000000", directory=world.dir)
    assert world.profile.thumbprint in unknown.value.message
    extra = make_certificate(rsa_keys[1], "to-remove")
    added = lifecycle.add_certificate(world.graph, world.profile, _cer(tmp_path, extra),
                                      directory=world.dir)
    result = lifecycle.remove_certificate(world.graph, world.profile, key_id=added["keyId"],
                                          directory=world.dir)
    assert result["removed"]["keyId"] == added["keyId"]
    assert _stored_thumbprints(emulator, world.app.app_id) == [world.profile.thumbprint]
    assert _token(world.profile, world.dir).token  # the profile's certificate was kept


def test_force_removes_the_profiles_certificate_and_its_tokens_stop(world, emulator):
    lifecycle.remove_certificate(world.graph, world.profile, thumbprint=world.profile.thumbprint,
                                 force=True, directory=world.dir)
    assert emulator.application(world.app.app_id)["keyCredentials"] == []
    with pytest.raises(AuthenticationError) as err:
        _token(world.profile, world.dir)
    assert err.value.code == 700027


def test_expiring_reports_local_and_registered(world):
    report = lifecycle.expiring([world.profile], days=60, graph=world.graph, directory=world.dir)
    assert {(r["where"], r["thumbprint"]) for r in report["expiring"]} == {
        ("local", world.profile.thumbprint), ("registered", world.profile.thumbprint)}
    assert lifecycle.expiring([world.profile], days=7, graph=world.graph,
                              directory=world.dir)["expiring"] == []


# --- rotation -----------------------------------------------------------------------------------

def _rotate(world, **kwargs):
    kwargs.setdefault("verify_delay", 0.05)
    kwargs.setdefault("verify_timeout", 10)
    return rotate(world.store, "app", directory=world.dir, **kwargs)


def test_rotate_end_to_end_old_certificate_stops_working(world, emulator):
    old = world.profile
    result = _rotate(world, graph=world.graph, no_password=True)
    assert [s["name"] for s in result["steps"] if s["ok"]] == [
        "write", "addKey", "verify-token", "switch-profile", "removeKey"]
    switched = world.store.get("app")
    assert switched.thumbprint == result["new"]["thumbprint"] != old.thumbprint
    assert switched.certificate == result["new"]["files"]["pfx"]
    assert _stored_thumbprints(emulator, world.app.app_id) == [switched.thumbprint]
    assert _token(switched, world.dir).thumbprint == switched.thumbprint
    with pytest.raises(AuthenticationError) as err:
        _token(old, world.dir)
    assert err.value.code == 700027 and "does not accept the certificate" in err.value.message
    actions = [e["action"] for e in audit.read(world.dir) if e["action"].startswith("rotate-")]
    assert actions == ["rotate-write", "rotate-addKey", "rotate-verify-token",
                       "rotate-switch-profile", "rotate-removeKey"]
    # The second rotation needs no admin: the object id and keyIds were remembered.
    again = _rotate(world, no_password=True)
    assert world.store.get("app").thumbprint == again["new"]["thumbprint"]


def test_rotate_without_any_way_to_find_the_application_changes_nothing(world, emulator):
    with pytest.raises(ConfigurationError, match="object id") as err:
        _rotate(world, no_password=True)
    assert "--admin-profile" in err.value.hint
    assert world.store.get("app") == world.profile
    assert list(world.dir.glob("*.pfx")) == []


def test_dry_run_changes_nothing(world, emulator):
    result = _rotate(world, graph=world.graph, dry_run=True, days=10)
    assert result["dryRun"] and result["new"]["days"] == 10
    assert {s["ok"] for s in result["steps"]} == {None}
    assert world.store.get("app") == world.profile
    assert not any(world.dir.glob("*.pfx"))
    assert _stored_thumbprints(emulator, world.app.app_id) == [world.profile.thumbprint]


def test_keep_old_leaves_both_registered(world, emulator):
    result = _rotate(world, graph=world.graph, keep_old=True, no_password=True)
    assert "removeKey" not in [s["name"] for s in result["steps"]]
    assert _stored_thumbprints(emulator, world.app.app_id) == sorted(
        [world.profile.thumbprint, result["new"]["thumbprint"]])
    assert _token(world.profile, world.dir).token  # the old one still signs in


@pytest.fixture
def primed(world, emulator):
    """Admin and app tokens cached, object id and keyIds known: the next token-endpoint request
    a rotation makes is the one that proves the new certificate."""
    lifecycle.list_certificates(world.graph, world.profile, directory=world.dir)
    tokens.acquire(world.profile, lifecycle.graph_scopes(world.profile.graph_endpoint),
                   directory=world.dir)
    yield world
    emulator.clear_faults()


def _still_works(world):
    profile = world.store.get("app")
    assert _token(profile, world.dir).thumbprint == profile.thumbprint
    return profile


def _registered(world):
    """The thumbprints on the application, as Microsoft Graph (the emulator's) lists them."""
    application = world.graph.find_application(world.app.app_id)
    return sorted(lifecycle.entry_thumbprint(k) for k in application["keyCredentials"])


def _pending(world):
    return lifecycle.KnownKeys(world.dir).pending(world.app.app_id)


def _files_of(result_or_pending):
    pfx = Path(result_or_pending["certificate"] if "certificate" in result_or_pending
               else result_or_pending["new"]["files"]["pfx"])
    return [pfx, pfx.with_suffix(".cer"), pfx.with_suffix(".pem")]


NOT_REGISTERED = json.dumps({
    "error": "invalid_client", "error_codes": [700027],
    "error_description": "AADSTS700027: The certificate with identifier used to sign the client "
                         "assertion is not registered on application."})


@pytest.mark.xdist_group("faults")
def test_addkey_refused_deletes_the_new_files_and_says_so_in_sentences(primed, emulator):
    emulator.add_fault("/addKey", status=503, count=3)
    with pytest.raises(RotationError) as err:
        _rotate(primed, no_password=True)
    assert [(s["name"], s["ok"]) for s in err.value.steps] == [("write", True),
                                                               ("addKey", False)]
    message = err.value.message
    assert "with HTTP 503 and gave no reason." in message and "None" not in message
    assert "Steps done: write." in message and "az entracert cert rotate" in err.value.hint
    written = [p for p in message.split() if p.endswith((".pfx,", ".cer", ".pem"))]
    assert [Path(p.rstrip(",")).suffix for p in written] == [".pfx", ".cer", ".pem"]
    assert not any(Path(p.rstrip(",")).exists() for p in written)  # nothing half-done is left
    assert _pending(primed) is None
    assert _still_works(primed) == primed.profile
    assert _registered(primed) == [primed.profile.thumbprint]


@pytest.mark.xdist_group("faults")
def test_addkey_timeout_after_graph_applied_it_is_found_out_and_finished(primed, emulator,
                                                                         caplog):
    """Graph registers the key but its answer comes after our timeout: a token signed by the new
    certificate proves it is registered, and the rotation goes on to the end."""
    emulator.add_fault("/addKey", delay=2)
    result = _rotate(primed, no_password=True, timeout=0.5)
    assert [(s["name"], s["ok"]) for s in result["steps"]] == [
        ("write", True), ("addKey", True), ("verify-token", True), ("switch-profile", True),
        ("removeKey", True)]
    assert "did not answer" in result["steps"][1]["detail"]
    assert "proved it is registered" in result["steps"][1]["detail"]
    assert any("is not known" in r.getMessage() for r in caplog.records)
    assert _registered(primed) == [result["new"]["thumbprint"]]  # no orphan, the old one gone
    assert _still_works(primed).thumbprint == result["new"]["thumbprint"]
    assert _pending(primed) is None


@pytest.mark.xdist_group("faults")
def test_addkey_unreadable_reply_is_never_called_not_registered(primed, emulator):
    emulator.add_fault("/addKey", body="malformed")  # Graph applies it; its reply is garbage
    result = _rotate(primed, no_password=True)
    assert "not JSON" in result["steps"][1]["detail"] and result["old"]["removed"]
    assert _registered(primed) == [result["new"]["thumbprint"]]
    # The next rotation looks the keyId up again (the lost answer never gave it) and works.
    again = _rotate(primed, graph=primed.graph, no_password=True)
    assert _registered(primed) == [again["new"]["thumbprint"]]


@pytest.mark.xdist_group("faults")
def test_lost_addkey_answer_and_a_refused_token_mean_not_registered(primed, emulator):
    emulator.add_fault("/addKey", status=500, count=3)  # a server error: applied or not?
    with pytest.raises(RotationError) as err:
        _rotate(primed, no_password=True, verify_timeout=0.5)
    message = err.value.message
    assert "Graph's answer was lost" in message and "is not registered" in message
    assert "were deleted" in message and "delete them" not in message
    assert err.value.__cause__.code == 700027
    assert _pending(primed) is None and not list(primed.dir.glob("*.pfx"))
    assert _registered(primed) == [primed.profile.thumbprint]
    assert _still_works(primed) == primed.profile


@pytest.mark.xdist_group("faults")
def test_unsettled_addkey_is_recorded_and_the_next_rotate_finishes_it(primed, emulator):
    emulator.add_fault("/addKey", body="malformed")  # applied, answer unreadable
    emulator.add_fault("/oauth2/v2.0/token", status=503, count=1000, retry_after=0)
    with pytest.raises(RotationError) as err:
        _rotate(primed, no_password=True, verify_timeout=0.3)
    assert "is not known" in err.value.message and "recorded as unfinished" in err.value.message
    assert err.value.remaining == ["az entracert cert rotate --profile app"]
    pending = _pending(primed)
    assert pending["stage"] == "write" and all(p.exists() for p in _files_of(pending))
    assert _still_works_after_faults(primed, emulator) == primed.profile
    assert len(_registered(primed)) == 2  # registered, but the profile does not know it yet

    result = _rotate(primed, no_password=True)
    assert result["resumed"] and result["new"]["thumbprint"] == pending["thumbprint"]
    assert [s["name"] for s in result["steps"]] == ["addKey", "verify-token", "switch-profile",
                                                    "removeKey"]
    assert _registered(primed) == [pending["thumbprint"]]
    assert _still_works(primed).thumbprint == pending["thumbprint"] and _pending(primed) is None


def _still_works_after_faults(world, emulator):
    emulator.clear_faults()
    return _still_works(world)


@pytest.mark.xdist_group("faults")
def test_a_killed_rotation_is_finished_by_the_next_one(primed, emulator):
    """A real process killed while addKey is on the wire (Graph applies it afterwards): the next
    rotate finds the pending record, proves the key registered and finishes the job."""
    emulator.add_fault("/addKey", delay=3)
    script = ("import sys\nfrom azext_entracert.core import profiles, rotation\n"
              "rotation.rotate(profiles.ProfileStore(sys.argv[1]), 'app', directory=sys.argv[1],"
              " no_password=True)\n")
    process = subprocess.Popen([sys.executable, "-c", script, str(primed.dir)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _until(lambda: (_pending(primed) or {}).get("stage") == "write", 60)
        time.sleep(0.7)  # the POST is on its way
        process.kill()
    finally:
        process.wait(10)
    _until(lambda: len(_registered(primed)) == 2, 10)  # Graph applied it after the kill
    pending = _pending(primed)
    assert primed.store.get("app") == primed.profile  # the killed process never switched

    result = _rotate(primed, no_password=True)
    assert result["resumed"] and result["new"]["thumbprint"] == pending["thumbprint"]
    assert _registered(primed) == [pending["thumbprint"]]  # nothing orphaned, the old one gone
    assert _still_works(primed).thumbprint == pending["thumbprint"]


@pytest.mark.xdist_group("faults")
def test_a_rotation_killed_before_addkey_is_cleaned_up_and_done_afresh(primed, emulator):
    """What a kill between the pending record and addKey leaves: the record and the written
    files, no key. The next rotate finds the certificate refused, cleans up and starts afresh."""
    from azext_entracert.core import certgen, certs

    new = certgen.create_self_signed("CN=killed", days=5)
    out = primed.dir / "killed.pfx"
    certgen.write_bundle(new, out, password=None)
    stale = {"profile": "app", "stage": "write", "objectId": primed.app.object_id,
             "certificate": str(out), "thumbprint": certs.load(out).thumbprint, "keyId": None,
             "oldThumbprint": primed.profile.thumbprint, "keepOld": False,
             "oldKeyId": lifecycle.KnownKeys(primed.dir).get(primed.app.app_id)["keys"][
                 primed.profile.thumbprint]}
    lifecycle.KnownKeys(primed.dir).set_pending(primed.app.app_id, stale)

    result = _rotate(primed, no_password=True, verify_timeout=0.5)
    assert not result["resumed"] and not any(p.exists() for p in _files_of(stale))
    assert _registered(primed) == [result["new"]["thumbprint"]] != [stale["thumbprint"]]
    assert _pending(primed) is None


@pytest.mark.xdist_group("faults")
def test_token_failure_keeps_the_old_certificate_and_the_next_rotate_finishes(primed, emulator):
    # retry_after=0: MSAL would otherwise throttle the client for 5 s after a 5xx (its
    # ThrottledHttpClient), and the next attempt would not even reach the emulator.
    emulator.add_fault("/oauth2/v2.0/token", status=503, count=1000, retry_after=0)
    with pytest.raises(RotationError) as err:
        _rotate(primed, no_password=True, verify_timeout=0.3)
    assert [s["name"] for s in err.value.steps if s["ok"]] == ["write", "addKey"]
    assert "is registered as keyId" in err.value.message and "within 0.3 s" in err.value.message
    assert err.value.remaining == ["az entracert cert rotate --profile app"]
    assert _still_works_after_faults(primed, emulator) == primed.profile
    assert len(_registered(primed)) == 2
    result = _rotate(primed, no_password=True)
    assert result["resumed"] and [s["name"] for s in result["steps"]] == [
        "verify-token", "switch-profile", "removeKey"]
    assert _registered(primed) == [result["new"]["thumbprint"]]


@pytest.mark.xdist_group("faults")
def test_replication_lag_is_waited_out_with_progress_on_stderr(primed, emulator, caplog):
    """Entra refuses a just-added key (AADSTS700027) until every replica has it."""
    emulator.add_fault("/oauth2/v2.0/token", status=401, body=NOT_REGISTERED, count=3)
    result = _rotate(primed, no_password=True)
    assert result["old"]["removed"]
    progress = [r.getMessage() for r in caplog.records if "No token yet" in r.getMessage()]
    assert len(progress) == 3 and "AADSTS700027" in progress[0]
    assert "Trying again in 0.05 s" in progress[0] and "Trying again in 0.2 s" in progress[2]


@pytest.mark.xdist_group("faults")
def test_replication_that_outlasts_the_wait_is_bounded(primed, emulator):
    emulator.add_fault("/oauth2/v2.0/token", status=401, body=NOT_REGISTERED, count=1000)
    started = time.monotonic()
    with pytest.raises(RotationError) as err:
        _rotate(primed, no_password=True, verify_timeout=1)
    assert time.monotonic() - started < 5
    assert "did not accept it within 1 s" in err.value.message
    assert _pending(primed)["stage"] == "addKey"


@pytest.mark.xdist_group("faults")
def test_removekey_failure_leaves_the_new_certificate_in_use_until_the_next_rotate(primed,
                                                                                  emulator):
    emulator.add_fault("/removeKey", status=503, count=3)
    with pytest.raises(RotationError) as err:
        _rotate(primed, no_password=True)
    assert [s["name"] for s in err.value.steps if s["ok"]] == [
        "write", "addKey", "verify-token", "switch-profile"]
    assert "app cert remove --profile app --thumbprint " + primed.profile.thumbprint in (
        err.value.remaining[1])
    now = _still_works_after_faults(primed, emulator)
    assert now.thumbprint != primed.profile.thumbprint
    assert len(_registered(primed)) == 2
    result = _rotate(primed, no_password=True)
    assert result["resumed"] and [s["name"] for s in result["steps"]] == ["removeKey"]
    assert _registered(primed) == [now.thumbprint]


def _until(condition, seconds):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_rotate_protects_the_new_pfx_like_the_current_one(world, emulator, monkeypatch):
    """A profile reading a PFX password from a variable gets a new PFX under the same password."""
    from azext_entracert.core import certgen, certs
    from azext_entracert.core.secrets import PasswordSource

    monkeypatch.setenv("LC_PFX_PASSWORD", "s3cret pfx")
    current = certs.load(world.app.pem_path)
    pfx = certgen.write_bundle(current, world.dir / "app.pfx", password=b"s3cret pfx")["pfx"]
    world.store.update("app", certificate=pfx, password_env="LC_PFX_PASSWORD")
    result = _rotate(world, graph=world.graph)
    switched = world.store.get("app")
    assert switched.password_env == "LC_PFX_PASSWORD" and switched.certificate.endswith(".pfx")
    assert certs.load(switched.certificate, password=PasswordSource.from_env(
        "LC_PFX_PASSWORD")).thumbprint == result["new"]["thumbprint"]
    with pytest.raises(Exception, match="password"):
        certs.load(switched.certificate)
    assert _token(switched, world.dir).thumbprint == switched.thumbprint


def test_rotate_a_stored_certificate_keeps_the_new_one_in_the_store(world, emulator,
                                                                    monkeypatch):
    """A profile on the certificate store gets its new certificate in the store (protected by
    the recorded password source), no loose file; the old entry leaves the store after
    removeKey, and with keep_old it stays."""
    from azext_entracert.core import certgen, certs
    from azext_entracert.core.credentials import StoreThumbprint
    from azext_entracert.core.store import CertificateStore

    monkeypatch.setenv("AZURE_CONFIG_DIR", str(world.dir / "az"))
    monkeypatch.setenv("LC_STORE_PASSWORD", "stored pfx")
    pfx = certgen.write_bundle(certs.load(world.app.pem_path), world.dir / "app.pfx",
                               password=b"stored pfx")["pfx"]
    store = CertificateStore()
    old, _ = store.import_certificate(pfx, password_env="LC_STORE_PASSWORD")
    world.store.update("app", **StoreThumbprint(store_thumbprint=old.thumbprint).fields())

    result = _rotate(world, graph=world.graph)
    new = result["new"]["thumbprint"]
    switched = world.store.get("app")
    assert switched.credential == StoreThumbprint(store_thumbprint=new)
    assert result["new"]["files"] == {"store": new}
    assert sorted(p.name for p in world.dir.glob("*.p*")) == ["app.pem", "app.pfx"]  # none new
    assert [e.thumbprint for e in store.list()] == [new]  # the old entry left after removeKey
    entry = store.get(new)
    assert entry.encrypted and entry.password_env == "LC_STORE_PASSWORD"
    assert oct((store.folder / entry.file).stat().st_mode & 0o777) == "0o600"
    assert _stored_thumbprints(emulator, world.app.app_id) == [new]
    assert _token(world.store.get("app"), world.dir).thumbprint == new

    kept = _rotate(world, keep_old=True)
    assert world.store.get("app").credential.store_thumbprint == kept["new"]["thumbprint"]
    assert sorted(e.thumbprint for e in store.list()) == sorted([new, kept["new"]["thumbprint"]])


def test_rotate_a_key_on_a_pkcs11_token(world, emulator, softhsm, monkeypatch):
    """A profile on a token gets a new key generated there under a dated label (its certificate
    signed and stored on the token, addKey's proof signed by the old key in the token); after
    removeKey the old key pair and certificate are gone from the token, with keep_old they stay."""

    from conftest import HSM_PIN, key_on_token

    from azext_entracert.core import pkcs11
    from azext_entracert.core.times import utc_now

    monkeypatch.setenv("LC_HSM_PIN", HSM_PIN)
    source, app = key_on_token(emulator, softhsm, "rot", pin_env="LC_HSM_PIN")
    label = source.pkcs11_key
    world.store.add(profiles.new_profile(
        "hsm", tenant=emulator.tenant_id, client_id=app["appId"], credential=source,
        authority_host=emulator.authority_host, ca_bundle=emulator.ca_bundle))

    result = rotate(world.store, "hsm", graph=world.graph, directory=world.dir,
                    verify_delay=0.05, verify_timeout=10)
    new_label = f"{label}-{utc_now():%Y%m%d}"
    assert result["new"]["files"] == {"pkcs11Key": new_label}
    switched = world.store.get("hsm")
    assert (switched.pkcs11_key, switched.pin_env) == (new_label, "LC_HSM_PIN")
    assert switched.thumbprint == result["new"]["thumbprint"]
    on_token = pkcs11.labels(source)
    assert new_label in on_token and label not in on_token  # old key and certificate deleted
    assert _stored_thumbprints(emulator, app["appId"]) == [switched.thumbprint]
    assert _token(switched, world.dir).thumbprint == switched.thumbprint
    assert "deleted key" in result["steps"][-1]["detail"]

    kept = rotate(world.store, "hsm", keep_old=True, directory=world.dir, verify_delay=0.05,
                  verify_timeout=10)
    assert kept["new"]["files"] == {"pkcs11Key": f"{new_label}-2"}
    assert {new_label, f"{new_label}-2"} <= pkcs11.labels(source)
    assert world.store.get("hsm").pkcs11_key == f"{new_label}-2"


@pytest.mark.parametrize(("current", "new"), [
    ("app-12345678.pfx", "app-12345678-{today}.pfx"),  # eight digits, but no date: kept
    ("app-99999999.pfx", "app-99999999-{today}.pfx"),
    ("app-20250101.pfx", "app-{today}.pfx"),           # an earlier rotation's date: replaced
    ("app-20250101-2.pfx", "app-{today}.pfx"),
])
def test_the_new_file_replaces_only_a_real_date_in_the_name(world, current, new):
    """The new PFX is named after the current one with today's date; a name of the user's own
    that merely ends in eight digits keeps them (it once became 'app-<today>')."""
    from azext_entracert.core import certgen, certs
    from azext_entracert.core.times import utc_now

    pfx = certgen.write_bundle(certs.load(world.app.pem_path), world.dir / current,
                               password=None)["pfx"]
    world.store.update("app", certificate=str(pfx))
    planned = _rotate(world, graph=world.graph, dry_run=True, no_password=True)
    assert planned["new"]["files"]["pfx"] == str(
        world.dir / new.format(today=f"{utc_now():%Y%m%d}"))


def _hsm_profile(world, emulator, name, source):
    """Profile ``name`` on ``source``, a new key generated on the SoftHSM2 token, its
    certificate registered on an application of its own."""
    from conftest import HSM_PIN

    from azext_entracert.core import certgen, pkcs11

    label = source.pkcs11_key
    certificate = pkcs11.create_on_token(source, certgen.parse_subject(f"CN={label}"), days=30,
                                         prompt=lambda _text: HSM_PIN)
    app = emulator.create_application(label, certificates=[certificate])
    world.store.add(profiles.new_profile(
        name, tenant=emulator.tenant_id, client_id=app["appId"], credential=source,
        prompt=lambda _text: HSM_PIN,
        authority_host=emulator.authority_host, ca_bundle=emulator.ca_bundle))
    return app


def test_a_token_key_label_keeps_eight_digits_that_are_no_date(world, emulator, softhsm,
                                                               monkeypatch):
    import uuid

    from conftest import HSM_PIN, HSM_TOKEN

    from azext_entracert.core.credentials import Pkcs11Key
    from azext_entracert.core.times import utc_now

    monkeypatch.setenv("LC_HSM_PIN", HSM_PIN)
    unique, today = f"k{uuid.uuid4().hex[:8]}", f"{utc_now():%Y%m%d}"
    for name, label, new in (("digits", f"{unique}-12345678", f"{unique}-12345678-{today}"),
                             ("dated", f"{unique}-20250101", f"{unique}-{today}")):
        _hsm_profile(world, emulator, name, Pkcs11Key(
            pkcs11_module=softhsm, pkcs11_token=HSM_TOKEN, pkcs11_key=label,
            pin_env="LC_HSM_PIN"))
        planned = rotate(world.store, name, graph=world.graph, directory=world.dir,
                         dry_run=True)
        assert planned["new"]["files"] == {"pkcs11Key": new}


def test_a_pin_typed_at_the_prompt_is_asked_once_and_not_kept(world, emulator, softhsm):
    """An HSM rotation with the PIN typed at the prompt: asked once (the current key's session
    stays logged in, the new key's sessions join it), and no plan or rotation holds it."""
    import gc
    import uuid

    from conftest import HSM_PIN, HSM_TOKEN

    from azext_entracert.core.credentials import Pkcs11Key
    from azext_entracert.core.rotation_plan import plan_rotation

    app = _hsm_profile(world, emulator, "typed", Pkcs11Key(
        pkcs11_module=softhsm, pkcs11_token=HSM_TOKEN, pkcs11_key=f"pin-k{uuid.uuid4().hex[:8]}"))
    gc.collect()  # keys earlier tests left in reference cycles keep the process logged in
    asked = []

    def prompt(text):
        asked.append(text)
        return HSM_PIN

    plan = plan_rotation(world.store.get("typed"), days=None, key_size=None, subject=None,
                         sans=None, out=None, password_env=None, password_file=None,
                         no_password=False, keep_old=False, graph=world.graph,
                         directory=world.dir, prompt=prompt, csr=False, complete=None)
    assert asked == [f"PIN of token '{HSM_TOKEN}': "]
    assert plan.password is None and HSM_PIN not in repr(vars(plan))
    del plan
    gc.collect()  # its session logs the process out as it goes

    asked.clear()
    result = rotate(world.store, "typed", directory=world.dir, prompt=prompt,
                    verify_delay=0.05, verify_timeout=10)
    assert asked == [f"PIN of token '{HSM_TOKEN}': "]
    assert [s["name"] for s in result["steps"] if s["ok"]] == [
        "write", "addKey", "verify-token", "switch-profile", "removeKey"]
    switched = world.store.get("typed")
    assert switched.pkcs11_key == result["new"]["files"]["pkcs11Key"] and switched.pin_env is None
    assert _stored_thumbprints(emulator, app["appId"]) == [switched.thumbprint]


def test_a_key_named_by_a_pkcs11_uri_rotates_to_a_uri_naming_the_new_key(world, emulator,
                                                                         softhsm, monkeypatch):
    """A profile recording only a PKCS#11 URI switches to the same URI with the new key's
    label as its object, and without the old key's id (the new key pair has its own)."""
    import os
    import uuid

    from conftest import HSM_PIN, HSM_TOKEN

    from azext_entracert.core import pkcs11
    from azext_entracert.core.credentials import Pkcs11Key
    from azext_entracert.core.times import utc_now

    monkeypatch.setenv("LC_HSM_PIN", HSM_PIN)
    label, key_id = f"uri-k{uuid.uuid4().hex[:8]}", "".join(f"%{b:02x}" for b in os.urandom(8))
    app = _hsm_profile(world, emulator, "uri", Pkcs11Key(
        pkcs11_uri=f"pkcs11:token={HSM_TOKEN};object={label};id={key_id}"
                   f"?module-path={softhsm}", pin_env="LC_HSM_PIN"))

    result = rotate(world.store, "uri", graph=world.graph, directory=world.dir,
                    verify_delay=0.05, verify_timeout=10)
    new_label = f"{label}-{utc_now():%Y%m%d}"
    switched = world.store.get("uri")
    assert result["new"]["files"] == {"pkcs11Key": new_label}
    assert switched.pkcs11_uri == (f"pkcs11:token={HSM_TOKEN};object={new_label}"
                                   f"?module-path={softhsm}")
    assert _stored_thumbprints(emulator, app["appId"]) == [switched.thumbprint]
    assert _token(switched, world.dir).thumbprint == switched.thumbprint
    assert label not in pkcs11.labels(switched.credential)  # the old key pair was deleted


@pytest.mark.xdist_group("faults")
def test_replication_delay_of_a_new_key_is_waited_out(primed, emulator, caplog):
    """The emulator's own replication lag (a fault's ``replication_delay``): the key addKey
    registers is unknown to the token endpoint for 1.5 s, then the rotation finishes."""
    emulator.add_fault("/addKey", replication_delay=1.5)
    emulator.clear_log()
    result = _rotate(primed, no_password=True)
    assert result["old"]["removed"] and _registered(primed) == [result["new"]["thumbprint"]]
    refused = [e for e in emulator.requests_log()
               if e["path"].endswith("/token") and e["error_code"] == "AADSTS700027"]
    progress = [r for r in caplog.records if "No token yet" in r.getMessage()]
    assert refused and len(progress) == len(refused)


# --- rotation of a CA-issued certificate ------------------------------------------------------

@pytest.fixture
def ca_world(emulator, rsa_keys, tmp_path):
    """An application whose certificate a (test) CA issued, with a profile and known keys."""
    from azext_entracert.core.certgen import build_certificate, parse_subject
    from azext_entracert.core.fileio import PRIVATE, atomic_write

    ca = build_certificate(subject=parse_subject("CN=Rotation Test CA"),
                           public_key=rsa_keys[5].public_key(), signing_key=rsa_keys[5],
                           purpose="ca")
    leaf = make_certificate(rsa_keys[6], "ca-issued-app", issuer=ca, issuer_key=rsa_keys[5])
    app = emulator.create_application("ca-issued-app", certificates=[leaf])
    pem = tmp_path / "ca-issued.pem"
    atomic_write(pem, (pem_of(rsa_keys[6], leaf)).encode("ascii"), mode=PRIVATE)
    store = profiles.ProfileStore(tmp_path)
    store.add(_profile("app", app["appId"], str(pem), emulator))
    admin = _profile("admin", emulator.admin["client_id"], emulator.admin["certificate"], emulator)
    graph = lifecycle.admin_graph(admin, directory=tmp_path)
    lifecycle.list_certificates(graph, store.get("app"), directory=tmp_path)
    return dataclasses.make_dataclass("CAWorld", ["app_id", "store", "graph", "dir", "ca",
                                                  "ca_key"])(app["appId"], store, graph,
                                                             tmp_path, ca, rsa_keys[5])


def _ca_registered(world):
    return sorted(lifecycle.entry_thumbprint(k) for k in
                  world.graph.find_application(world.app_id)["keyCredentials"])


def test_a_ca_issued_certificate_is_not_rotated_to_a_self_signed_one(ca_world):
    before = ca_world.store.get("app")
    with pytest.raises(ConfigurationError, match="issued by 'CN=Rotation Test CA'") as err:
        rotate(ca_world.store, "app", directory=ca_world.dir, no_password=True)
    assert "--csr" in err.value.hint and "--complete --cert" in err.value.hint
    assert ca_world.store.get("app") == before and not list(ca_world.dir.glob("*.pfx"))
    assert _ca_registered(ca_world) == [before.thumbprint]


def test_ca_path_writes_a_request_then_registers_the_signed_certificate(ca_world, emulator):
    from cryptography import x509

    from azext_entracert.core.certgen import build_certificate

    requested = rotate(ca_world.store, "app", directory=ca_world.dir, csr=True,
                       no_password=True)
    key_file, csr_file = Path(requested["new"]["files"]["key"]), Path(
        requested["new"]["files"]["csr"])
    assert key_file.stat().st_mode & 0o777 == 0o600 and csr_file.exists()
    assert "--complete --cert" in requested["remaining"][0]
    with pytest.raises(ConfigurationError, match="waiting for the CA"):
        rotate(ca_world.store, "app", directory=ca_world.dir, no_password=True)

    request = x509.load_pem_x509_csr(csr_file.read_bytes())
    assert request.subject.rfc4514_string() == "CN=ca-issued-app"
    signed = build_certificate(subject=request.subject, public_key=request.public_key(),
                               signing_key=ca_world.ca_key, issuer=ca_world.ca, days=20)
    signed_file = ca_world.dir / "signed.crt"
    signed_file.write_bytes(signed.public_bytes(serialization.Encoding.PEM))
    result = rotate(ca_world.store, "app", directory=ca_world.dir, complete=str(signed_file),
                    verify_delay=0.05)
    assert [s["name"] for s in result["steps"] if s["ok"]] == [
        "write", "addKey", "verify-token", "switch-profile", "removeKey"]
    profile = ca_world.store.get("app")
    assert profile.thumbprint == result["new"]["thumbprint"] and profile.certificate.endswith(
        ".pfx")
    assert _ca_registered(ca_world) == [profile.thumbprint]
    assert _token(profile, ca_world.dir).thumbprint == profile.thumbprint
    assert lifecycle.KnownKeys(ca_world.dir).pending(ca_world.app_id) is None
