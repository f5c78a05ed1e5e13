"""Profiles over a certificate and its separate key (a CA-issued PEM pair used as it is), through
the real az with the wheel-installed extension, against the emulator."""
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from .conftest import assert_clean_failure
from .conftest import create_profile as create

KEY_PASSWORD = "key-s3cret-value"


@pytest.fixture
def split_app(make_app, tmp_path):
    """An emulator app whose certificate PEM and encrypted key PEM are two files."""
    app = make_app("az-key-file")
    cert = tmp_path / "app.crt"
    cert.write_bytes(app.certificate.public_bytes(serialization.Encoding.PEM))
    key = tmp_path / "app.key"
    key.write_bytes(app.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(KEY_PASSWORD.encode())))
    key.chmod(0o600)
    return app, cert, key


def test_a_certificate_with_its_separate_encrypted_key_gets_a_token(az, az_env, emulator,
                                                                    split_app):
    app, cert, key = split_app
    env = {"APP_KEY_PASSWORD": KEY_PASSWORD}
    shown = create(az, emulator, "split", app.app_id, "--certificate", cert, "--key-file", key,
                   "--key-password-env", "APP_KEY_PASSWORD", env=env).out
    assert shown["keyFile"] == str(key) and shown["keyPasswordEnv"] == "APP_KEY_PASSWORD"
    stored = (Path(az_env["AZURE_CONFIG_DIR"]) / "entracert" / "profiles.json").read_text()
    assert KEY_PASSWORD not in stored

    got = az("entracert", "token", "get", "--profile", "split", env=env).out
    assert got["source"] == "network"
    assert emulator.verify_access_token(got["accessToken"])["appid"] == app.app_id
    # A cache hit never reads the key, so it needs no password; a new token does, and says which.
    assert az("entracert", "token", "get", "--profile", "split").out["source"] == "cache"
    missing = az("entracert", "token", "get", "--profile", "split", "--force-refresh",
                 check=False)
    assert_clean_failure(missing, "APP_KEY_PASSWORD")
    assert KEY_PASSWORD not in missing.stderr + json.dumps(missing.out)


def test_profile_update_switches_to_a_separate_key(az, emulator, make_app, split_app):
    app, cert, key = split_app
    create(az, emulator, "switch", app.app_id, "--certificate", app.pem_path)
    shown = az("entracert", "profile", "update", "--name", "switch", "--certificate", cert,
               "--key-file", key, "--key-password-env", "APP_KEY_PASSWORD",
               env={"APP_KEY_PASSWORD": KEY_PASSWORD}).out
    assert shown["certificate"] == str(cert) and shown["keyFile"] == str(key)
    got = az("entracert", "token", "get", "--profile", "switch", "--force-refresh",
             env={"APP_KEY_PASSWORD": KEY_PASSWORD}).out
    assert emulator.verify_access_token(got["accessToken"])["appid"] == app.app_id


def test_key_files_that_do_not_fit_are_clear_errors(az, emulator, split_app, rsa_keys, tmp_path):
    app, cert, key = split_app
    env = {"APP_KEY_PASSWORD": KEY_PASSWORD}
    other = tmp_path / "other.key"
    other.write_bytes(rsa_keys[1].private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    wrong = create(az, emulator, "wrong", app.app_id, "--certificate", cert, "--key-file", other,
                   check=False)
    assert_clean_failure(wrong, "does not belong to the certificate")

    pfx = tmp_path / "app.pfx"
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(
        b"app", app.private_key, app.certificate, None, serialization.NoEncryption()))
    doubled = create(az, emulator, "doubled", app.app_id, "--certificate", pfx, "--key-file",
                     key, "--key-password-env", "APP_KEY_PASSWORD", env=env, check=False)
    assert_clean_failure(doubled, "already holds the private key", "--key-file")

    no_key = create(az, emulator, "nokey", app.app_id, "--certificate", cert,
                    "--key-password-env", "APP_KEY_PASSWORD", env=env, check=False)
    assert_clean_failure(no_key, "without a key file")

    unasked = create(az, emulator, "unasked", app.app_id, "--certificate", cert, "--key-file",
                     key, check=False)
    assert_clean_failure(unasked, "--key-password-env")
    listed = az("entracert", "profile", "list").out
    assert not {"wrong", "doubled", "nokey", "unasked"} & {p["name"] for p in listed}


def test_importing_a_profile_whose_key_file_is_missing_warns(az, emulator, split_app, tmp_path):
    app, cert, key = split_app
    create(az, emulator, "travels", app.app_id, "--certificate", cert, "--key-file", key,
           "--key-password-env", "APP_KEY_PASSWORD", env={"APP_KEY_PASSWORD": KEY_PASSWORD})
    az("entracert", "profile", "export", "--name", "travels", "--out", tmp_path / "p.json")
    key.rename(tmp_path / "elsewhere.key")
    imported = az("entracert", "profile", "import", "--file", tmp_path / "p.json", "--name",
                  "arrived")
    assert imported.out["keyFile"] == str(key)
    assert f"The key file '{key}'" in imported.stderr and "--key-file PATH" in imported.stderr
