"""Certificate lifecycle against the emulator: real TLS, real MSAL tokens, real Graph calls.

An admin profile (the emulator's bootstrap admin, Application.ReadWrite.All) lists, adds and
removes certificates; rotation uses only the application's own certificate (addKey/removeKey with
proofs). Rotations interrupted by emulator faults must leave a profile that still gets tokens.
"""
import dataclasses

import pytest
from cryptography.hazmat.primitives import serialization

from azext_entracert.core import audit, lifecycle, profiles, tokens
from azext_entracert.core.errors import (AuthenticationError, CertificateError,
                                         ConfigurationError)
from azext_entracert.core.rotation import RotationError, rotate

from conftest import make_certificate, utc


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


@pytest.mark.xdist_group("faults")
def test_addkey_failure_keeps_the_old_certificate(primed, emulator):
    emulator.add_fault("/addKey", status=503, count=3)
    with pytest.raises(RotationError) as err:
        _rotate(primed, no_password=True)
    assert [(s["name"], s["ok"]) for s in err.value.steps] == [("write", True),
                                                               ("addKey", False)]
    assert "Done: write" in err.value.message and "az entracert cert rotate" in err.value.message
    assert _still_works(primed) == primed.profile
    assert _stored_thumbprints(emulator, primed.app.app_id) == [primed.profile.thumbprint]


@pytest.mark.xdist_group("faults")
def test_token_failure_keeps_the_old_certificate_registered_and_used(primed, emulator):
    # retry_after=0: MSAL would otherwise throttle the client for 5 s after a 5xx (its
    # ThrottledHttpClient), and the next attempt would not even reach the emulator.
    emulator.add_fault("/oauth2/v2.0/token", status=503, count=6, retry_after=0)  # 2 x 3 tries
    with pytest.raises(RotationError) as err:
        _rotate(primed, no_password=True, verify_attempts=2)
    assert [s["name"] for s in err.value.steps if s["ok"]] == ["write", "addKey"]
    assert "profile update --name app --certificate" in err.value.remaining[0]
    assert _still_works(primed) == primed.profile
    assert len(_stored_thumbprints(emulator, primed.app.app_id)) == 2


@pytest.mark.xdist_group("faults")
def test_a_passing_token_failure_is_retried(primed, emulator):
    emulator.add_fault("/oauth2/v2.0/token", status=503, count=3, retry_after=0)  # one attempt
    result = _rotate(primed, no_password=True)
    assert result["old"]["removed"] and _still_works(primed).thumbprint == result["new"][
        "thumbprint"]


@pytest.mark.xdist_group("faults")
def test_removekey_failure_leaves_the_new_certificate_in_use(primed, emulator):
    emulator.add_fault("/removeKey", status=503, count=3)
    with pytest.raises(RotationError) as err:
        _rotate(primed, no_password=True)
    assert [s["name"] for s in err.value.steps if s["ok"]] == [
        "write", "addKey", "verify-token", "switch-profile"]
    assert "app cert remove --profile app --thumbprint " + primed.profile.thumbprint in (
        err.value.remaining[0])
    now = _still_works(primed)
    assert now.thumbprint != primed.profile.thumbprint
    assert len(_stored_thumbprints(emulator, primed.app.app_id)) == 2


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
