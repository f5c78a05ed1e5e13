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
