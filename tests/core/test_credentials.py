"""The credential source: one value per kind that describes, loads and signs for a profile, and
the profile fields it is recorded in (old records keep loading)."""
import base64
import dataclasses
import hashlib

import jwt
import pytest

from azext_entracert.core import credentials, profiles, tokens
from azext_entracert.core.credentials import CertificateFile, PfxBase64Env
from azext_entracert.core.errors import (
    AuthenticationError,
    CertificateError,
    ConfigurationError,
    InputFileError,
    PasswordError,
)

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "11111111-2222-3333-4444-555555555555"
PASSWORD = "correct horse"  # the openssl_files password (tests/core/conftest.py)


def never_prompt(text):
    raise AssertionError(f"prompted although nothing needed a password: {text}")


def test_repr_and_description_name_sources_never_secrets(openssl_files, monkeypatch):
    monkeypatch.setenv("KEY_PW", PASSWORD)
    source = CertificateFile(certificate=str(openssl_files / "leaf.pem"),
                             key_file=str(openssl_files / "leaf-enc.key"),
                             key_password_env="KEY_PW")
    source.load()
    for text in (repr(source), source.describe()):
        assert PASSWORD not in text
    assert "leaf.pem" in source.describe() and "leaf-enc.key" in source.describe()
    assert "KEY_PW" in repr(source)
    with pytest.raises(dataclasses.FrozenInstanceError):
        source.key_file = None


def test_a_separate_encrypted_key_loads_and_signs(openssl_files, monkeypatch):
    monkeypatch.setenv("KEY_PW", PASSWORD)
    source = CertificateFile(certificate=str(openssl_files / "leaf.pem"),
                             key_file=str(openssl_files / "leaf-enc.key"),
                             key_password_env="KEY_PW")
    loaded = source.load(prompt=never_prompt)
    assert loaded.has_private_key
    signed = source.assertion(loaded, audience="https://login.example/token", client_id=CLIENT)
    assert jwt.get_unverified_header(signed)["x5t#S256"] == loaded.x5t_s256
    claims = jwt.decode(signed, loaded.certificate.public_key(), algorithms=["PS256"],
                        audience="https://login.example/token")
    assert claims["iss"] == claims["sub"] == CLIENT


def test_the_prompt_is_asked_only_when_the_file_needs_a_password(openssl_files):
    assert CertificateFile(certificate=str(openssl_files / "nopass.pfx")).load(
        prompt=never_prompt).has_private_key
    asked = []
    loaded = CertificateFile(certificate=str(openssl_files / "leaf.pem"),
                             key_file=str(openssl_files / "leaf-enc.key")).load(
        prompt=lambda text: asked.append(text) or PASSWORD)
    assert loaded.has_private_key and len(asked) == 1


def test_a_base64_pfx_variable_is_its_own_kind(openssl_files, monkeypatch):
    data = (openssl_files / "modern.pfx").read_bytes()
    monkeypatch.setenv("PFX_B64", base64.b64encode(data).decode())
    monkeypatch.setenv("PFX_PW", PASSWORD)
    source = credentials.from_fields({"pfx_base64_env": "PFX_B64", "password_env": "PFX_PW",
                                      "tenant": TENANT})
    assert source == PfxBase64Env(pfx_base64_env="PFX_B64", password_env="PFX_PW")
    assert source.load().has_private_key
    assert source.fingerprint() == "sha256:" + hashlib.sha256(data).hexdigest()
    assert base64.b64encode(data).decode() not in repr(source)


@pytest.mark.parametrize("values, words", [
    ({}, "No certificate"),
    ({"certificate": "a.pem", "pfx_base64_env": "B64"}, "exactly one"),
    ({"pfx_base64_env": "B64", "key_file": "k.pem"}, "--key-file cannot be used with"),
    ({"certificate": "a.pem", "key_password_env": "KEY_PW"}, "without a key file"),
    ({"store_thumbprint": "ABCDEF01", "password_file": "pw"}, "store keeps the password source"),
    ({"store_thumbprint": "ABCDEF01", "pin_env": "PIN"}, "--pin-env cannot be used with "
                                                         "--thumbprint"),
    ({"pkcs11_module": "m.so", "pkcs11_token": "t"}, "needs --pkcs11-key besides"),
    ({"pkcs11_module": "m.so", "pkcs11_token": "t", "pkcs11_key": "k", "password_env": "PW"},
     "unlocked by its PIN"),
])
def test_sources_that_do_not_fit_together_are_refused(values, words):
    with pytest.raises(ConfigurationError, match=words):
        credentials.from_fields(values)


def test_a_record_written_before_key_files_loads_and_stays_readable(openssl_files):
    old = {"name": "old", "tenant": TENANT, "client_id": CLIENT,
           "certificate": str(openssl_files / "combined.pem"), "pfx_base64_env": None,
           "password_env": None, "password_file": None, "scopes": []}
    profile = profiles.Profile.from_dict(old)
    assert profile.credential == CertificateFile(certificate=old["certificate"])
    # Without a key file the record has no new field, so the previous version still reads it.
    assert not {"key_file", "key_password_env", "key_password_file"} & set(profile.to_dict())


def test_a_profile_over_a_separate_key(openssl_files, monkeypatch, tmp_path):
    monkeypatch.setenv("KEY_PW", PASSWORD)
    source = CertificateFile(certificate=str(openssl_files / "leaf.pem"),
                             key_file=str(openssl_files / "leaf-enc.key"),
                             key_password_env="KEY_PW")
    profile = profiles.new_profile("split", tenant=TENANT, client_id=CLIENT, credential=source)
    assert profile.credential == source and profile.key_password_env == "KEY_PW"
    store = profiles.ProfileStore(tmp_path / "entracert")
    store.add(profile)
    assert PASSWORD not in store.path.read_text()
    assert store.get("split").credential == source
    assert tokens.load_profile_certificate(store.get("split")).has_private_key

    monkeypatch.delenv("KEY_PW")
    with pytest.raises(PasswordError, match="KEY_PW"):
        tokens.load_profile_certificate(profile)
    unnamed = dataclasses.replace(profile, key_password_env=None)
    with pytest.raises(PasswordError) as err:
        tokens.load_profile_certificate(unnamed)
    assert "--key-password-env" in err.value.hint


def test_a_key_that_is_not_the_certificates_is_refused(openssl_files):
    with pytest.raises(CertificateError, match="does not belong"):
        profiles.new_profile("bad", tenant=TENANT, client_id=CLIENT, credential=CertificateFile(
            certificate=str(openssl_files / "leaf.pem"), key_file=str(openssl_files / "ca.key")))


def test_a_new_certificate_replaces_the_key_file_too(openssl_files, monkeypatch):
    monkeypatch.setenv("KEY_PW", PASSWORD)
    split = profiles.new_profile("split", tenant=TENANT, client_id=CLIENT,
                                 credential=CertificateFile(
                                     certificate=str(openssl_files / "leaf.pem"),
                                     key_file=str(openssl_files / "leaf-enc.key"),
                                     key_password_env="KEY_PW"))
    joined = profiles.updated_profile(split, certificate=str(openssl_files / "combined.pem"))
    assert joined.credential == CertificateFile(certificate=str(openssl_files / "combined.pem"))
    again = profiles.updated_profile(joined, certificate=str(openssl_files / "leaf.pem"),
                                     key_file=str(openssl_files / "leaf.key"))
    assert again.key_file == str(openssl_files / "leaf.key") and again.key_password_env is None


def test_rotating_a_profile_over_a_separate_key_switches_to_the_new_pfx(emulator, make_app,
                                                                         tmp_path):
    from cryptography.hazmat.primitives import serialization

    from azext_entracert.core import lifecycle
    from azext_entracert.core.rotation import rotate

    app = make_app("split-rotate")
    cert, key = tmp_path / "app.crt", tmp_path / "app.key"
    cert.write_bytes(app.certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(app.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    where = dict(tenant=emulator.tenant_id, authority_host=emulator.authority_host,
                 ca_bundle=emulator.ca_bundle)
    store = profiles.ProfileStore(tmp_path / "entracert")
    old = store.add(profiles.new_profile("app", client_id=app.app_id, credential=CertificateFile(
        certificate=str(cert), key_file=str(key)), **where))
    admin = profiles.new_profile("admin", client_id=emulator.admin["client_id"],
                                 certificate=emulator.admin["certificate"], **where)
    result = rotate(store, "app", directory=tmp_path, no_password=True, verify_delay=0.05,
                    verify_timeout=10, graph=lifecycle.admin_graph(admin, directory=tmp_path))
    switched = store.get("app")
    assert switched.credential == CertificateFile(certificate=result["new"]["files"]["pfx"])
    token = tokens.acquire(switched, force=True, directory=tmp_path)
    assert token.thumbprint == switched.thumbprint != old.thumbprint


def test_a_moved_key_file_names_the_option_that_fixes_it(openssl_files, tmp_path):
    key = tmp_path / "leaf.key"
    key.write_bytes((openssl_files / "leaf.key").read_bytes())
    profile = profiles.new_profile("moved", tenant=TENANT, client_id=CLIENT,
                                   credential=CertificateFile(
                                       certificate=str(openssl_files / "leaf.pem"),
                                       key_file=str(key)))
    key.unlink()
    with pytest.raises(InputFileError) as err:
        tokens.load_profile_certificate(profile)
    assert str(key) in err.value.message and "--key-file NEW_PATH" in err.value.hint


# --- Client secrets (development and testing) ----------------------------------------------------

def secret_profile(emulator, app_id, name="dev", **source):
    from azext_entracert.core.credentials import ClientSecret

    return profiles.new_profile(name, tenant=emulator.tenant_id, client_id=app_id,
                                credential=ClientSecret(**source),
                                authority_host=emulator.authority_host,
                                ca_bundle=emulator.ca_bundle)


def test_a_client_secret_profile_gets_tokens_through_the_same_cache(emulator, make_app,
                                                                    entra_dir, monkeypatch):
    from azext_entracert.core import audit

    app = make_app("secret-profile")
    secret = emulator.add_client_secret(app.app_id)
    monkeypatch.setenv("DEV_SECRET", secret)
    profile = secret_profile(emulator, app.app_id, client_secret_env="DEV_SECRET")
    assert profile.thumbprint is None and profile.not_after is None
    assert secret not in repr(profile) + repr(profile.credential) + str(profile.to_dict())

    first = tokens.acquire(profile, directory=entra_dir)
    claims = emulator.verify_access_token(first.token)
    assert first.source == "network" and claims["appid"] == app.app_id
    assert claims["appidacr"] == "1"  # Entra's mark of a token obtained with a client secret
    assert tokens.acquire(profile, directory=entra_dir).source == "cache"
    [line] = audit.read(entra_dir)
    assert line["credential"] == "client-secret" and line["outcome"] == "success"
    for path in entra_dir.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_a_certificate_token_line_records_its_credential_kind(emulator, make_app, profile_for,
                                                              entra_dir):
    from azext_entracert.core import audit

    tokens.acquire(profile_for(make_app("secret-kind-cert")), directory=entra_dir)
    assert audit.read(entra_dir)[-1]["credential"] == "certificate"


def test_a_client_secret_file_drops_its_newline_and_must_be_private(emulator, make_app,
                                                                    entra_dir, tmp_path):
    app = make_app("secret-file")
    path = tmp_path / "secret.txt"
    path.write_text(emulator.add_client_secret(app.app_id) + "\n")
    path.chmod(0o644)
    with pytest.raises(PasswordError) as err:
        secret_profile(emulator, app.app_id, client_secret_file=str(path))
    assert "every user" in err.value.message and "chmod 600" in err.value.hint
    path.chmod(0o640)  # a group (a CI runner's) may read it
    profile = secret_profile(emulator, app.app_id, client_secret_file=str(path))
    assert profile.client_secret_file == str(path)
    assert tokens.acquire(profile, directory=entra_dir).source == "network"


@pytest.mark.parametrize("value, word", [(None, "not set"), ("  ", "empty")])
def test_an_unset_or_empty_secret_variable_is_refused_when_the_profile_is_made(
        emulator, monkeypatch, value, word):
    if value is None:
        monkeypatch.delenv("DEV_SECRET", raising=False)
    else:
        monkeypatch.setenv("DEV_SECRET", value)
    with pytest.raises(PasswordError) as err:
        secret_profile(emulator, CLIENT, client_secret_env="DEV_SECRET")
    assert f"DEV_SECRET (the client secret) is {word}" in err.value.message
    assert "export DEV_SECRET=" in err.value.hint


def test_a_missing_secret_file_is_a_clear_error(emulator, tmp_path):
    with pytest.raises(PasswordError) as err:
        secret_profile(emulator, CLIENT, client_secret_file=str(tmp_path / "nope"))
    assert "nope" in err.value.message and "app secret add --out" in err.value.hint


def test_a_secret_profile_has_no_certificate_to_load_or_password(emulator, monkeypatch):
    from azext_entracert.core.credentials import ClientSecret

    monkeypatch.setenv("DEV_SECRET", "x" * 40)
    profile = secret_profile(emulator, CLIENT, client_secret_env="DEV_SECRET")
    with pytest.raises(ConfigurationError) as err:
        tokens.load_profile_certificate(profile)  # e.g. 'cert rotate' of a secret profile
    assert "client secret in environment variable DEV_SECRET" in err.value.message
    assert "cert create" in err.value.hint
    with pytest.raises(ConfigurationError):
        ClientSecret(client_secret_env="DEV_SECRET", password_env="PW")


def test_a_wrong_secret_is_explained_with_aadsts7000215(emulator, make_app, entra_dir,
                                                         monkeypatch):
    app = make_app("secret-wrong")
    emulator.add_client_secret(app.app_id)
    monkeypatch.setenv("DEV_SECRET", "not-the-secret-" + "x" * 24)
    profile = secret_profile(emulator, app.app_id, client_secret_env="DEV_SECRET")
    with pytest.raises(AuthenticationError) as err:
        tokens.acquire(profile, directory=entra_dir)
    assert err.value.code == 7000215
    assert "environment variable DEV_SECRET" in err.value.message
    assert "not its secret ID" in err.value.hint
    assert "az entracert app secret add --profile dev" in err.value.hint


def test_an_expired_secret_is_explained_with_aadsts7000222(emulator, make_app, entra_dir,
                                                           monkeypatch):
    import datetime

    app = make_app("secret-expired")
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    secret = emulator.add_client_secret(app.app_id, start=past - datetime.timedelta(days=30),
                                        end=past)
    monkeypatch.setenv("DEV_SECRET", secret)
    profile = secret_profile(emulator, app.app_id, client_secret_env="DEV_SECRET")
    with pytest.raises(AuthenticationError) as err:
        tokens.acquire(profile, directory=entra_dir)
    assert err.value.code == 7000222
    assert "az entracert app secret add --profile dev" in err.value.hint
    assert "az entracert cert create" in err.value.hint and "app cert add" in err.value.hint
    assert secret not in err.value.message + err.value.hint


def test_the_nudge_toward_certificates_shows_once_a_day(emulator, monkeypatch, entra_dir,
                                                         caplog):
    import datetime

    monkeypatch.setenv("DEV_SECRET", "x" * 40)
    profile = secret_profile(emulator, CLIENT, client_secret_env="DEV_SECRET")
    today = datetime.date(2026, 6, 9)
    for day, shown in ((today, True), (today, False), (today + datetime.timedelta(days=1), True)):
        caplog.clear()
        credentials.nudge_toward_certificates(profile, entra_dir, today=day)
        nudges = [r for r in caplog.records if "client secret" in r.getMessage()]
        assert len(nudges) == shown, day
    assert "az entracert cert create" in nudges[0].getMessage()
    assert (entra_dir / credentials.NUDGE_FILE).stat().st_mode & 0o077 == 0


def test_a_secret_profile_moves_to_a_certificate_with_profile_update(emulator, make_app,
                                                                     monkeypatch, entra_dir):
    app = make_app("secret-to-cert")
    monkeypatch.setenv("DEV_SECRET", emulator.add_client_secret(app.app_id))
    old = secret_profile(emulator, app.app_id, client_secret_env="DEV_SECRET")
    new = profiles.updated_profile(old, certificate=app.pem_path)
    assert new.credential == CertificateFile(certificate=app.pem_path)
    assert new.client_secret_env is None and new.thumbprint
    assert tokens.acquire(new, directory=entra_dir).source == "network"


def test_a_profile_keeps_the_symbolic_links_it_was_given(openssl_files, tmp_path, monkeypatch):
    """Like certbot's ``live/`` folder: the profile names the link a renewal re-points, not the
    file it points at today."""
    live = tmp_path / "live"
    live.mkdir()
    (live / "cert.pem").symlink_to(openssl_files / "leaf.pem")
    (live / "privkey.pem").symlink_to(openssl_files / "leaf.key")
    monkeypatch.chdir(live)
    profile = profiles.new_profile("linked", tenant=TENANT, client_id=CLIENT,
                                   credential=CertificateFile(certificate="cert.pem",
                                                              key_file="privkey.pem"))
    assert (profile.certificate, profile.key_file) == \
        (str(live / "cert.pem"), str(live / "privkey.pem"))
