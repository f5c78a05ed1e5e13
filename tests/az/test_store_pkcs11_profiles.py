"""Profiles whose key is not a file of their own, through the real az with the wheel-installed
extension, against the emulator: a certificate in entracert's store, named by thumbprint, and a
key on a PKCS#11 token (SoftHSM2) that signs inside it."""
import json
import os
import uuid
from pathlib import Path

import pytest
from conftest import HSM_PIN, HSM_TOKEN
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from azext_entracert.core import certs
from azext_entracert.core.secrets import PasswordSource

PFX_PASSWORD = "st0re-pfx-secret"


@pytest.fixture
def store_az(az, tmp_path):
    """az with a config dir (profiles, store, token cache) of this test's own."""
    config = tmp_path / "config"

    def run(*args, env=None, check=True):
        return az(*args, env={"AZURE_CONFIG_DIR": str(config), **(env or {})}, check=check)

    run.config = config / "entracert"
    return run


@pytest.fixture
def stored_app(make_app, store_az, tmp_path):
    """An emulator app whose password-protected PFX was imported into the store."""
    app = make_app("az-store-profile")
    pfx = tmp_path / "app.pfx"
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(
        b"app", app.private_key, app.certificate, None,
        serialization.BestAvailableEncryption(PFX_PASSWORD.encode())))
    entry = store_az("entracert", "store", "import", "--file", pfx, "--password-env", "PFX_PW",
                     env={"PFX_PW": PFX_PASSWORD}).out
    pfx.unlink()  # from now on only the store holds it
    return app, entry


def create(store_az, emulator, name, client_id, *options, env=None, check=True):
    return store_az("entracert", "profile", "create", "--name", name, "--tenant",
                    emulator.tenant_id, "--client-id", client_id, "--authority-host",
                    emulator.authority_host, "--ca-bundle", emulator.ca_bundle, *options,
                    env=env, check=check)


def assert_clean_failure(result, *words):
    assert result.returncode != 0, result
    assert "ERROR:" in result.stderr and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def _pasted(hex_text):
    """The thumbprint as a user pastes it from a certificate dialog: lower case, colons."""
    return ":".join(hex_text[i:i + 2] for i in range(0, len(hex_text), 2)).lower()


def test_a_profile_on_a_stored_certificate_gets_a_token_and_a_cache_hit_reads_nothing(
        store_az, emulator, stored_app):
    app, entry = stored_app
    env = {"PFX_PW": PFX_PASSWORD}
    shown = create(store_az, emulator, "stored", app.app_id, "--thumbprint",
                   _pasted(entry["thumbprint"]), env=env).out
    # Recorded whole, as the store names it: a prefix could turn ambiguous later.
    assert shown["storeThumbprint"] == shown["thumbprint"] == entry["thumbprint"]
    assert shown["certificate"] is None and shown["passwordEnv"] is None
    assert PFX_PASSWORD not in (store_az.config / "profiles.json").read_text()

    got = store_az("entracert", "token", "get", "--profile", "stored", env=env).out
    assert got["source"] == "network"
    assert emulator.verify_access_token(got["accessToken"])["appid"] == app.app_id
    [line] = store_az("entracert", "audit", "list", "--profile", "stored").out
    assert line["credential"] == "stored-certificate"
    # A cache hit reads no certificate: without the store's password it still answers.
    assert store_az("entracert", "token", "get", "--profile", "stored").out["source"] == "cache"
    # A new token opens the stored PFX with the source the store recorded, and says which.
    missing = store_az("entracert", "token", "get", "--profile", "stored", "--force-refresh",
                       check=False)
    assert_clean_failure(missing, "export PFX_PW")
    assert "profile update" not in missing.stderr  # the store, not the profile, names the source
    assert PFX_PASSWORD not in missing.stderr + json.dumps(missing.out)


def test_a_sha256_prefix_names_the_stored_certificate_too(store_az, emulator, stored_app):
    app, entry = stored_app
    shown = create(store_az, emulator, "by-sha256", app.app_id, "--thumbprint",
                   entry["thumbprintSha256"][:12].lower(), env={"PFX_PW": PFX_PASSWORD}).out
    assert shown["storeThumbprint"] == entry["thumbprint"]


def test_update_switches_a_profile_between_a_file_and_the_store(store_az, emulator, make_app,
                                                                stored_app):
    app, entry = stored_app
    env = {"PFX_PW": PFX_PASSWORD}
    create(store_az, emulator, "moving", app.app_id, "--certificate", app.pem_path,
           "--scope", "https://management.azure.com/.default")
    to_store = store_az("entracert", "profile", "update", "--name", "moving", "--thumbprint",
                        entry["thumbprint"][:10], env=env).out
    assert to_store["storeThumbprint"] == entry["thumbprint"] and to_store["certificate"] is None
    got = store_az("entracert", "token", "get", "--profile", "moving", env=env).out
    assert emulator.verify_access_token(got["accessToken"])["appid"] == app.app_id
    back = store_az("entracert", "profile", "update", "--name", "moving", "--certificate",
                    app.pem_path).out
    assert back["storeThumbprint"] is None and back["certificate"] == app.pem_path


@pytest.mark.parametrize("options, expected", [
    (("--thumbprint", "0123456789ABCDEF"), "holds no certificate with thumbprint"),
    (("--thumbprint", "not-hex!"), "is not a thumbprint"),
    (("--thumbprint", "0123456789ABCDEF", "--certificate", "app.pem"),
     "--certificate and --thumbprint cannot be used together"),
    (("--thumbprint", "0123456789ABCDEF", "--password-env", "PFX_PW"),
     "the store keeps the password source"),
])
def test_a_thumbprint_profile_refuses_bad_input_clearly_and_stores_nothing(
        store_az, emulator, stored_app, options, expected):
    app, _ = stored_app
    result = create(store_az, emulator, "bad", app.app_id, *options, check=False)
    assert_clean_failure(result, expected)
    profiles = store_az.config / "profiles.json"
    assert not profiles.exists() or "bad" not in json.loads(profiles.read_text()).get(
        "profiles", {})
    assert Path(store_az.config / "store" / "index.json").exists()


# --- A key on a PKCS#11 token (SoftHSM2) ------------------------------------------------------

@pytest.fixture
def hsm_env(softhsm):
    """What an az process needs to reach the session's SoftHSM2 token, PIN included."""
    return {"SOFTHSM2_CONF": os.environ["SOFTHSM2_CONF"], "HSM_PIN": HSM_PIN}


def _token_options(softhsm, label):
    return ("--pkcs11-module", softhsm, "--pkcs11-token", HSM_TOKEN, "--pkcs11-key", label)


def test_a_key_made_on_the_token_signs_in_through_a_profile_and_never_leaves_it(
        store_az, emulator, softhsm, hsm_env, tmp_path):
    label = f"az-hsm-{uuid.uuid4().hex[:8]}"
    made = store_az("entracert", "cert", "create", "--subject", "CN=az-hsm",
                    *_token_options(softhsm, label), "--pin-env", "HSM_PIN",
                    "--out", tmp_path / "hsm.cer", env=hsm_env).out
    # Only the public halves are written: no PFX, no key file.
    assert sorted(p.name for p in tmp_path.glob("hsm.*")) == ["hsm.cer", "hsm.pem"]
    assert made["hasPrivateKey"] is False and made["pkcs11Key"] == label
    certificate = x509.load_der_x509_certificate((tmp_path / "hsm.cer").read_bytes())
    assert made["thumbprint"] == certificate.fingerprint(hashes.SHA1()).hex().upper()
    app = emulator.create_application("az-hsm", certificates=[certificate])

    shown = create(store_az, emulator, "hsm", app["appId"], *_token_options(softhsm, label),
                   "--pin-env", "HSM_PIN", env=hsm_env).out
    assert shown["thumbprint"] == made["thumbprint"] and shown["pinEnv"] == "HSM_PIN"
    assert HSM_PIN not in (store_az.config / "profiles.json").read_text()

    got = store_az("entracert", "token", "get", "--profile", "hsm", env=hsm_env).out
    assert got["source"] == "network"
    assert emulator.verify_access_token(got["accessToken"])["appid"] == app["appId"]
    # A cache hit opens no token: without the PIN it still answers.
    assert store_az("entracert", "token", "get", "--profile", "hsm",
                    env={"SOFTHSM2_CONF": hsm_env["SOFTHSM2_CONF"]}).out["source"] == "cache"
    wrong = store_az("entracert", "token", "get", "--profile", "hsm", "--force-refresh",
                     env={**hsm_env, "HSM_PIN": "0000"}, check=False)
    assert_clean_failure(wrong, "refused the PIN", "HSM_PIN")
    # The PIN's source alone changes, and the next new token reads it from there.
    pin_file = tmp_path / "pin"
    pin_file.write_text(HSM_PIN + "\n")
    pin_file.chmod(0o600)
    moved = store_az("entracert", "profile", "update", "--name", "hsm", "--pin-file", pin_file,
                     env=hsm_env).out
    assert moved["pinFile"] == str(pin_file) and moved["pinEnv"] is None
    assert moved["pkcs11Key"] == label
    again = store_az("entracert", "token", "get", "--profile", "hsm", "--force-refresh",
                     env={"SOFTHSM2_CONF": hsm_env["SOFTHSM2_CONF"]}).out
    assert again["source"] == "network"


@pytest.mark.parametrize("which, value, expected", [
    ("key", "no-such-key", "No private key labelled 'no-such-key'"),
    ("token", "no-such-token", "No token labelled 'no-such-token'"),
    ("module", "/nonexistent/libpkcs11.so", "does not exist"),
])
def test_a_token_profile_refuses_what_the_token_cannot_answer_and_stores_nothing(
        store_az, emulator, softhsm, hsm_env, which, value, expected):
    chosen = {"module": softhsm, "token": HSM_TOKEN, "key": "any-key", which: value}
    result = create(store_az, emulator, "bad-hsm", "00000000-0000-0000-0000-000000000001",
                    "--pkcs11-module", chosen["module"], "--pkcs11-token", chosen["token"],
                    "--pkcs11-key", chosen["key"], "--pin-env", "HSM_PIN", env=hsm_env,
                    check=False)
    assert_clean_failure(result, expected)
    assert not (store_az.config / "profiles.json").exists()


def test_cert_create_on_a_token_refuses_pfx_password_options(store_az, softhsm, hsm_env,
                                                              tmp_path):
    result = store_az("entracert", "cert", "create", "--subject", "CN=x",
                      *_token_options(softhsm, "unused"), "--pin-env", "HSM_PIN",
                      "--no-password", "--out", tmp_path / "x.cer", env=hsm_env, check=False)
    assert_clean_failure(result, "no PFX is written")
    assert not list(tmp_path.glob("x.*"))


def test_cert_create_into_the_store_writes_no_file_and_records_the_password_source(
        store_az, emulator, tmp_path):
    made = store_az("entracert", "cert", "create", "--subject", "CN=az-made-in-store",
                    "--store", "--password-env", "NEW_PW", "--days", "30",
                    env={"NEW_PW": PFX_PASSWORD}).out
    entry = store_az("entracert", "store", "show", "--thumbprint", made["thumbprint"]).out
    assert entry["encrypted"] and entry["passwordEnv"] == "NEW_PW"
    assert made["files"] == {"store": entry["file"]}
    assert Path(entry["file"]).parent == store_az.config / "store"
    assert oct(Path(entry["file"]).stat().st_mode & 0o777) == "0o600"
    assert not list(tmp_path.glob("*.p*")) and not list(Path.cwd().glob("*.pfx"))
    with pytest.raises(Exception, match="password"):  # the store kept it encrypted
        certs.load(entry["file"])
    loaded = certs.load(entry["file"], password=PasswordSource.from_prompt(lambda _: PFX_PASSWORD))
    # A profile on it signs in once the certificate is registered.
    app = emulator.create_application("az-made-in-store", certificates=[loaded.certificate])
    create(store_az, emulator, "made", app["appId"], "--thumbprint", made["thumbprint"],
           env={"NEW_PW": PFX_PASSWORD})
    token = store_az("entracert", "token", "get", "--profile", "made",
                     env={"NEW_PW": PFX_PASSWORD}).out
    assert emulator.verify_access_token(token["accessToken"])["appid"] == app["appId"]

    both = store_az("entracert", "cert", "create", "--subject", "CN=x", "--store", "--out",
                    tmp_path / "x.pfx", "--no-password", check=False)
    assert_clean_failure(both, "--out and --store cannot be used together")
    assert not list(tmp_path.glob("x.*"))
    neither = store_az("entracert", "cert", "create", "--subject", "CN=x", "--no-password",
                       check=False)
    assert_clean_failure(neither, "--out PATH.pfx", "--store")


def test_cert_rotate_on_a_stored_certificate_keeps_the_new_one_in_the_store(
        store_az, emulator, stored_app, tmp_path):
    app, entry = stored_app
    env = {"PFX_PW": PFX_PASSWORD}
    create(store_az, emulator, "stored", app.app_id, "--thumbprint", entry["thumbprint"],
           env=env)
    create(store_az, emulator, "admin", emulator.admin["client_id"], "--certificate",
           emulator.admin["certificate"])
    result = store_az("entracert", "cert", "rotate", "--profile", "stored", "--days", "20",
                      "--admin-profile", "admin", env=env).out
    new = result["new"]["thumbprint"]
    assert result["new"]["files"] == {"store": new}
    stored = store_az("entracert", "store", "list").out
    assert [(e["thumbprint"], e["passwordEnv"]) for e in stored] == [(new, "PFX_PW")]
    assert store_az("entracert", "profile", "show", "--name", "stored").out[
        "storeThumbprint"] == new
    # No loose PFX anywhere: the only one is the store's own, of the new certificate.
    assert list(tmp_path.rglob("*.pfx")) == [store_az.config / "store" / f"{new}.pfx"]
    got = store_az("entracert", "token", "get", "--profile", "stored", "--force-refresh",
                   env=env).out
    assert got["thumbprint"] == new
