"""``az entracert cert rotate`` on profiles whose key is not a file of their own, through the real
az with the wheel-installed extension, against the emulator: a key on a PKCS#11 token (SoftHSM2)
and a certificate in entracert's store; and rotations whose az process was killed while addKey
was on the wire, finished (or cleaned up and done afresh) by the next ``cert rotate``.

Afterwards Graph lists exactly the profile's certificate, a new token is signed with it, and
nothing is left behind: no old or half-made key object on the token, no entry in the store.
The many interrupted cases live in tests/core (test_lifecycle, test_rotation_resume_kinds).
"""
import os
import re
import subprocess
import time
from types import SimpleNamespace

import pytest
from conftest import HSM_PIN, HSM_TOKEN, key_on_token
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from azext_entracert.core import lifecycle

from .conftest import AZ, assert_clean_failure, create_profile

PFX_PASSWORD = "rotate-kinds-pfx"
STEPS = ["write", "addKey", "verify-token", "switch-profile", "removeKey"]
TOKEN_OBJECTS = ("CERTIFICATE", "PRIVATE_KEY", "PUBLIC_KEY")


@pytest.fixture
def kinds_az(az, tmp_path, emulator):
    """az with a config dir (profiles, store, known keys) of this test's own, and the
    emulator's admin as profile 'admin'."""
    config = tmp_path / "config"

    def run(*args, env=None, check=True):
        return az(*args, env={"AZURE_CONFIG_DIR": str(config), **(env or {})}, check=check)

    run.config = config
    run.entracert = config / "entracert"
    create_profile(run, emulator, "admin", emulator.admin["client_id"], "--certificate",
                   emulator.admin["certificate"])
    yield run
    emulator.clear_faults()


@pytest.fixture
def on_token(kinds_az, emulator, softhsm, monkeypatch):
    """Profile 'hsm' on a key generated on the token, its certificate registered."""
    from azext_entracert.core import pkcs11

    monkeypatch.setenv("HSM_PIN", HSM_PIN)
    source, app = key_on_token(emulator, softhsm, "az-rot", pin_env="HSM_PIN")
    label = source.pkcs11_key
    env = {"SOFTHSM2_CONF": os.environ["SOFTHSM2_CONF"], "HSM_PIN": HSM_PIN}
    shown = create_profile(kinds_az, emulator, "hsm", app["appId"], "--pkcs11-module", softhsm,
                           "--pkcs11-token", HSM_TOKEN, "--pkcs11-key", label, "--pin-env",
                           "HSM_PIN", env=env).out

    def objects():
        """(label, class) of each object on the token made for this profile's keys."""
        from pkcs11 import Attribute

        with pkcs11.open_session(softhsm, HSM_TOKEN, source.pin(None)) as session:
            return sorted((o[Attribute.LABEL], o[Attribute.CLASS].name)
                          for o in session.get_objects({}) if o[Attribute.LABEL].startswith(label))
    return SimpleNamespace(name="hsm", app_id=app["appId"], label=label, env=env,
                           thumbprint=shown["thumbprint"], objects=objects)


@pytest.fixture
def stored(kinds_az, emulator, make_app, tmp_path):
    """Profile 'stored' on a password-protected PFX imported into the store (and only there)."""
    app = make_app("az-rotate-stored")
    pfx = tmp_path / "app.pfx"
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(
        b"app", app.private_key, app.certificate, None,
        serialization.BestAvailableEncryption(PFX_PASSWORD.encode())))
    env = {"PFX_PW": PFX_PASSWORD}
    entry = kinds_az("entracert", "store", "import", "--file", pfx, "--password-env", "PFX_PW",
                     env=env).out
    pfx.unlink()
    create_profile(kinds_az, emulator, "stored", app.app_id, "--thumbprint", entry["thumbprint"],
                   env=env)
    store = kinds_az.entracert / "store"
    return SimpleNamespace(name="stored", app_id=app.app_id, env=env,
                           thumbprint=entry["thumbprint"],
                           files=lambda: sorted(p.name for p in store.glob("*.pfx")))


def _registered(emulator, app_id):
    """The thumbprints Graph (the emulator's) holds for the application."""
    return sorted(lifecycle.entry_thumbprint(k)
                  for k in emulator.application(app_id)["keyCredentials"])


def _rotate(kinds_az, kind, *options):
    return kinds_az("entracert", "cert", "rotate", "--profile", kind.name, "--days", "20",
                    *options, env=kind.env).out


def _signs_in_with(kinds_az, emulator, kind, thumbprint):
    """A new token for the profile, signed with ``thumbprint``, the emulator's log agreeing."""
    emulator.clear_log()
    got = kinds_az("entracert", "token", "get", "--profile", kind.name, "--force-refresh",
                   env=kind.env).out
    assert got["source"] == "network" and got["thumbprint"] == thumbprint
    assert emulator.verify_access_token(got["accessToken"])["appid"] == kind.app_id
    assert [e["status"] for e in emulator.requests_log()
            if e["path"].endswith("/token") and e["client_id"] == kind.app_id] == [200]


def _kill_during_addkey(kinds_az, az_env, kind):
    """Run 'az entracert cert rotate' and kill it while addKey is on the wire (the emulator holds
    it 3 s); return the pending rotation it recorded."""
    known = lifecycle.KnownKeys(kinds_az.entracert)
    process = subprocess.Popen(
        [str(AZ), "entracert", "cert", "rotate", "--profile", kind.name, "--days", "20",
         "--admin-profile", "admin"],
        env={**az_env, "AZURE_CONFIG_DIR": str(kinds_az.config), **kind.env},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while (known.pending(kind.app_id) or {}).get("stage") != "write":
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "az never reached addKey"
            time.sleep(0.05)
        time.sleep(0.7)  # the POST is on its way
        assert process.poll() is None, process.stderr.read().decode()
        process.kill()
    finally:
        process.wait(10)
        process.stderr.close()
    return known.pending(kind.app_id)


def _until(condition, seconds):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_a_token_profile_rotates_to_a_new_dated_key_and_the_old_key_leaves_the_token(
        kinds_az, emulator, on_token):
    result = _rotate(kinds_az, on_token, "--admin-profile", "admin")
    assert [s["name"] for s in result["steps"] if s["ok"]] == STEPS
    new, new_label = result["new"]["thumbprint"], result["new"]["files"]["pkcs11Key"]
    assert new != on_token.thumbprint
    assert re.fullmatch(rf"{on_token.label}-\d{{8}}(-\d+)?", new_label), new_label
    shown = kinds_az("entracert", "profile", "show", "--name", "hsm").out
    assert (shown["pkcs11Key"], shown["thumbprint"], shown["pinEnv"]) == (new_label, new,
                                                                          "HSM_PIN")
    assert shown["credentialKind"] == "pkcs11-key"
    assert _registered(emulator, on_token.app_id) == [new]  # exactly one key: the new one
    _signs_in_with(kinds_az, emulator, on_token, new)
    # The old key pair and its certificate left the token; the new ones are all there is.
    assert on_token.objects() == [(new_label, kind) for kind in TOKEN_OBJECTS]


def test_a_stored_profile_rotates_and_the_old_certificate_leaves_the_store_and_graph(
        kinds_az, emulator, stored):
    old = stored.thumbprint
    result = _rotate(kinds_az, stored, "--admin-profile", "admin")
    assert [s["name"] for s in result["steps"] if s["ok"]] == STEPS
    new = result["new"]["thumbprint"]
    assert result["new"]["files"] == {"store": new} and "removed it from the certificate store" \
        in result["steps"][-1]["detail"]
    listed = kinds_az("entracert", "store", "list").out
    assert [(e["thumbprint"], e["passwordEnv"]) for e in listed] == [(new, "PFX_PW")]
    assert stored.files() == [f"{new}.pfx"]  # the old PFX left with its entry
    assert_clean_failure(kinds_az("entracert", "store", "show", "--thumbprint", old,
                                  check=False), "holds no certificate", old)
    assert kinds_az("entracert", "profile", "show", "--name", "stored").out[
        "storeThumbprint"] == new
    assert _registered(emulator, stored.app_id) == [new]
    _signs_in_with(kinds_az, emulator, stored, new)


@pytest.mark.xdist_group("faults")
def test_a_killed_token_rotation_is_finished_by_the_next_cert_rotate(kinds_az, az_env, emulator,
                                                                     on_token):
    """Graph applies addKey after the az that sent it was killed: the next 'cert rotate' (no
    admin needed) proves the key registered, switches, removes the old key from Graph and the
    token."""
    emulator.add_fault("/addKey", delay=3)
    pending = _kill_during_addkey(kinds_az, az_env, on_token)
    _until(lambda: len(_registered(emulator, on_token.app_id)) == 2, 10)
    assert kinds_az("entracert", "profile", "show", "--name", "hsm").out[
        "pkcs11Key"] == on_token.label  # the killed az never switched
    assert {label for label, _ in on_token.objects()} == {on_token.label, pending["tokenKey"]}

    result = _rotate(kinds_az, on_token)
    assert result["resumed"] and result["new"]["thumbprint"] == pending["thumbprint"]
    assert [s["name"] for s in result["steps"]] == STEPS[1:]
    assert kinds_az("entracert", "profile", "show", "--name", "hsm").out[
        "pkcs11Key"] == pending["tokenKey"]
    assert _registered(emulator, on_token.app_id) == [pending["thumbprint"]]  # no orphan
    _signs_in_with(kinds_az, emulator, on_token, pending["thumbprint"])
    assert on_token.objects() == [(pending["tokenKey"], kind) for kind in TOKEN_OBJECTS]


@pytest.mark.xdist_group("faults")
def test_a_killed_store_rotation_never_registered_is_cleaned_up_and_done_afresh(
        kinds_az, az_env, emulator, stored):
    """Graph refuses the addKey of the az that was killed: the next 'cert rotate' finds the new
    certificate refused, takes its orphan entry out of the store and rotates anew."""
    refused = lambda: sum(e["path"].endswith("/addKey") and e["status"] == 503  # noqa: E731
                          for e in emulator.requests_log())
    before = refused()
    emulator.add_fault("/addKey", delay=3, status=503)
    pending = _kill_during_addkey(kinds_az, az_env, stored)
    assert stored.files() == sorted([f"{stored.thumbprint}.pfx", f"{pending['thumbprint']}.pfx"])
    _until(lambda: refused() > before, 10)  # answered to a dead process: nothing registered
    assert _registered(emulator, stored.app_id) == [stored.thumbprint]

    result = _rotate(kinds_az, stored, "--verify-timeout", "1")
    new = result["new"]["thumbprint"]
    assert not result.get("resumed") and new not in (pending["thumbprint"], stored.thumbprint)
    assert [e["thumbprint"] for e in kinds_az("entracert", "store", "list").out] == [new]
    assert stored.files() == [f"{new}.pfx"]  # neither the orphan nor the old one is left
    assert kinds_az("entracert", "profile", "show", "--name", "stored").out[
        "storeThumbprint"] == new
    assert _registered(emulator, stored.app_id) == [new]
    _signs_in_with(kinds_az, emulator, stored, new)
