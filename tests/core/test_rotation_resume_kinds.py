"""Interrupted rotations of profiles whose key is not a file of their own: a certificate in the
store, a key on a PKCS#11 token (SoftHSM2). A real process running ``rotation.rotate`` is killed
while addKey is on the wire; the emulator then applies the request (delay only) or refuses it
(delay and 503), and the next ``rotate`` finishes the job or cleans up and starts afresh.

Whatever happened, afterwards: Graph lists exactly the profile's certificate, the profile signs
in with it, and no key object (old or half-made) stays on the token, no entry in the store.
"""
import dataclasses
import subprocess
import sys
import time

import pytest
from conftest import HSM_PIN, HSM_TOKEN, key_on_token
from cryptography.hazmat.primitives import hashes

from azext_entracert.core import certgen, certs, lifecycle, profiles, tokens
from azext_entracert.core.credentials import StoreThumbprint
from azext_entracert.core.rotation import rotate

STORE_PASSWORD = "resume store pfx"
KILL = ("import sys\nfrom azext_entracert.core import profiles, rotation\n"
        "rotation.rotate(profiles.ProfileStore(sys.argv[1]), 'app', directory=sys.argv[1])\n")


@dataclasses.dataclass
class Kind:
    """A profile 'app' of one kind, its application, and how to read what its key left behind."""

    app_id: str
    store: object
    graph: object
    dir: object
    leftovers: object  # () -> what the kind keeps outside Graph: store entries or token labels


@pytest.fixture
def base(emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "az"))  # the store lives there
    admin = _profile("admin", emulator.admin["client_id"], emulator, certificate=emulator.admin[
        "certificate"])
    yield profiles.ProfileStore(tmp_path), lifecycle.admin_graph(admin, directory=tmp_path)
    emulator.clear_faults()


@pytest.fixture
def stored(base, make_app, emulator, tmp_path, monkeypatch):
    """A profile on a password-protected certificate in the store."""
    from azext_entracert.core.store import CertificateStore

    monkeypatch.setenv("RK_STORE_PW", STORE_PASSWORD)
    app = make_app("resume-store")
    pfx = certgen.write_bundle(certs.load(app.pem_path), tmp_path / "app.pfx",
                               password=STORE_PASSWORD.encode())["pfx"]
    entry, _ = CertificateStore().import_certificate(pfx, password_env="RK_STORE_PW")
    store, graph = base
    store.add(_profile("app", app.app_id, emulator,
                       credential=StoreThumbprint(store_thumbprint=entry.thumbprint)))

    def leftovers():
        store_ = CertificateStore()
        files = sorted(p.name for p in store_.folder.iterdir()
                       if p.name not in ("index.json", "index.json.lock"))
        return [e.thumbprint for e in store_.list()], files
    return _primed(Kind(app.app_id, store, graph, tmp_path, leftovers))


@pytest.fixture
def on_token(base, softhsm, emulator, tmp_path, monkeypatch):
    """A profile on an RSA key generated on the SoftHSM2 token, PIN from a variable."""
    from azext_entracert.core import pkcs11

    monkeypatch.setenv("RK_HSM_PIN", HSM_PIN)
    source, app = key_on_token(emulator, softhsm, "resume", pin_env="RK_HSM_PIN")
    label = source.pkcs11_key
    store, graph = base
    store.add(_profile("app", app["appId"], emulator, credential=source))

    def leftovers():
        """Each object on the token that came from this profile's key: (label, class)."""
        from pkcs11 import Attribute

        with pkcs11.open_session(softhsm, HSM_TOKEN, source.pin(None)) as session:
            return sorted((o[Attribute.LABEL], o[Attribute.CLASS].name)
                          for o in session.get_objects({}) if o[Attribute.LABEL].startswith(label))
    return _primed(Kind(app["appId"], store, graph, tmp_path, leftovers))


def _profile(name, client_id, emulator, **credential):
    return profiles.new_profile(name, tenant=emulator.tenant_id, client_id=client_id,
                                authority_host=emulator.authority_host,
                                ca_bundle=emulator.ca_bundle, **credential)


def _primed(kind):
    """Object id and keyIds known (no admin needed to rotate), the app's Graph token cached."""
    profile = kind.store.get("app")
    lifecycle.list_certificates(kind.graph, profile, directory=kind.dir)
    tokens.acquire(profile, lifecycle.graph_scopes(profile.graph_endpoint), directory=kind.dir)
    return kind


def _registered(kind):
    application = kind.graph.find_application(kind.app_id)
    return sorted(lifecycle.entry_thumbprint(k) for k in application["keyCredentials"])


def _pending(kind):
    return lifecycle.KnownKeys(kind.dir).pending(kind.app_id)


def _refused_addkeys(emulator):
    return sum(e["path"].endswith("/addKey") and e["status"] == 503
               for e in emulator.requests_log())


def _until(condition, seconds):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def _kill_during_addkey(kind):
    """Run ``rotate`` in a process of its own and kill it while addKey is on the wire; return
    the pending record it left."""
    process = subprocess.Popen([sys.executable, "-c", KILL, str(kind.dir)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _until(lambda: (_pending(kind) or {}).get("stage") == "write"
               or process.poll() is not None, 60)
        time.sleep(0.7)  # the POST is on its way, held by the emulator's delay
        assert process.poll() is None, process.stderr.read().decode()
        process.kill()
    finally:
        process.wait(10)
        process.stderr.close()
    return _pending(kind)


def _assert_settled(kind, thumbprint):
    """Graph lists only ``thumbprint``, the profile names it and signs in with it."""
    assert _registered(kind) == [thumbprint]
    profile = kind.store.get("app")
    assert profile.thumbprint == thumbprint and _pending(kind) is None
    assert tokens.acquire(profile, force=True, directory=kind.dir).thumbprint == thumbprint
    return profile


def _rotate(kind, **kwargs):
    return rotate(kind.store, "app", directory=kind.dir, verify_delay=0.05,
                  **{"verify_timeout": 10, **kwargs})


@pytest.mark.xdist_group("faults")
@pytest.mark.parametrize("kind", ["stored", "on_token"])
def test_a_rotation_killed_after_graph_applied_addkey_is_finished_by_the_next(
        kind, request, emulator):
    kind = request.getfixturevalue(kind)
    before = kind.store.get("app")
    emulator.add_fault("/addKey", delay=3)  # applied after the delay: the kill loses the answer
    pending = _kill_during_addkey(kind)
    assert pending["oldThumbprint"] == before.thumbprint != pending["thumbprint"]
    _until(lambda: len(_registered(kind)) == 2, 10)  # Graph applied it after the kill
    assert kind.store.get("app") == before  # the killed process never switched

    result = _rotate(kind)
    assert result["resumed"] and result["new"]["thumbprint"] == pending["thumbprint"]
    assert [s["name"] for s in result["steps"]] == [
        "addKey", "verify-token", "switch-profile", "removeKey"]
    profile = _assert_settled(kind, pending["thumbprint"])
    if pending["stored"]:
        new = pending["thumbprint"]
        assert profile.credential == StoreThumbprint(store_thumbprint=new)
        assert kind.leftovers() == ([new], [f"{new}.pfx"])  # the old entry and its file left
    else:
        assert profile.pkcs11_key == pending["tokenKey"] != before.pkcs11_key
        assert kind.leftovers() == sorted(  # the new key pair and its certificate, nothing else
            (pending["tokenKey"], c) for c in ("CERTIFICATE", "PRIVATE_KEY", "PUBLIC_KEY"))


@pytest.mark.xdist_group("faults")
@pytest.mark.parametrize("kind", ["stored", "on_token"])
def test_a_rotation_killed_while_graph_refused_addkey_is_cleaned_up_and_done_afresh(
        kind, request, emulator):
    """The killed rotation's certificate was never registered: the next rotate finds it refused,
    deletes what it made (the store entry, the key on the token) and rotates anew."""
    kind = request.getfixturevalue(kind)
    before = kind.store.get("app")
    emulator.add_fault("/addKey", delay=3, status=503)  # refused, once the process is gone
    refusals = _refused_addkeys(emulator)
    pending = _kill_during_addkey(kind)
    half_made = kind.leftovers()
    if pending["stored"]:
        assert pending["thumbprint"] in half_made[0]
    else:
        assert pending["tokenKey"] in {label for label, _ in half_made}
    _until(lambda: _refused_addkeys(emulator) > refusals, 10)  # answered to a dead process
    assert _registered(kind) == [before.thumbprint]

    result = _rotate(kind, verify_timeout=1)
    assert not result.get("resumed") and result["new"]["thumbprint"] != pending["thumbprint"]
    profile = _assert_settled(kind, result["new"]["thumbprint"])
    if pending["stored"]:
        new = result["new"]["thumbprint"]
        assert kind.leftovers() == ([new], [f"{new}.pfx"])  # no orphan entry, old one gone
    else:
        # The dated label was free again once the half-made key went; only the new key is left.
        assert {label for label, _ in kind.leftovers()} == {profile.pkcs11_key}
        assert len(kind.leftovers()) == 3
        from azext_entracert.core import pkcs11

        with pkcs11.open_session(profile.pkcs11_module, HSM_TOKEN,
                                 profile.credential.pin(None)) as session:
            on_it = pkcs11.find_certificate(session, profile.pkcs11_key)
        assert on_it.fingerprint(hashes.SHA1()).hex().upper() == profile.thumbprint


@pytest.mark.xdist_group("faults")
def test_a_resume_whose_key_now_holds_another_certificate_names_the_key(on_token, emulator):
    """The pending key's certificate was replaced on the token meanwhile: the resume stops and
    names the key (there is no file to name), and what to do."""
    from pkcs11 import Attribute, ObjectClass

    from azext_entracert.core import pkcs11
    from azext_entracert.core.errors import ConfigurationError

    emulator.add_fault("/addKey", delay=3)
    pending = _kill_during_addkey(on_token)
    label = pending["tokenKey"]
    source = on_token.store.get("app").credential
    with pkcs11.open_session(source.pkcs11_module, HSM_TOKEN, source.pin(None),
                             write=True) as session:
        for old in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE,
                                        Attribute.LABEL: label}):
            old.destroy()
        key = pkcs11.find_key(session, label)
        other = certgen.build_certificate(subject=certgen.parse_subject("CN=other"),
                                          public_key=key.public_key(), signing_key=key, days=5)
        pkcs11.store_certificate(session, key, other)
    with pytest.raises(ConfigurationError, match=f"The key '{label}' of the unfinished "
                                                 "rotation of profile 'app' now holds") as err:
        _rotate(on_token)
    assert "Put the rotation's certificate back" in err.value.hint
