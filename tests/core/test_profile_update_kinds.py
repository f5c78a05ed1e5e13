"""``profile update`` moves a profile between every kind of credential (issue 12): a new kind
starts from only what was given, a field of the profile's own kind changes just that, a field of
another kind is refused naming the option and the profile's source, and a failed update leaves
``profiles.json`` exactly as it was."""
import json
import types
import uuid
from pathlib import Path

import pytest
from conftest import HSM_PIN, HSM_TOKEN

from azext_entracert.core import certgen, certs, profiles, tokens
from azext_entracert.core.credentials import (
    CertificateFile,
    ClientSecret,
    Pkcs11Key,
    StoreThumbprint,
)
from azext_entracert.core.errors import ConfigurationError, PasswordError

PFX_PASSWORD = "update kinds pfx"
OPENSSL_PASSWORD = "correct horse"  # of the openssl_files (tests/core/conftest.py)


def never_prompt(text):
    raise AssertionError(f"prompted although every source was named: {text}")


@pytest.fixture
def world(emulator, tmp_path, monkeypatch):
    """A fresh config dir (profiles and certificate store), its profile store and entracert
    folder; ``world.add(name, app_id, credential)`` stores a profile signing in at the emulator,
    ``world.update(name, **given)`` changes it as the az command does."""
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "azure"))
    monkeypatch.setenv("UK_PFX_PW", PFX_PASSWORD)
    store = profiles.ProfileStore()

    def add(name, app_id, credential):
        return store.add(profiles.new_profile(
            name, tenant=emulator.tenant_id, client_id=app_id, credential=credential,
            authority_host=emulator.authority_host, ca_bundle=emulator.ca_bundle))

    def update(name, **given):
        return store.replace(profiles.updated_profile(store.get(name), prompt=never_prompt,
                                                      **given))

    def record(name):
        """The profile as ``profiles.json`` holds it on disk."""
        return json.loads(store.path.read_text())["profiles"][name]

    return types.SimpleNamespace(directory=store.directory, add=add, update=update,
                                 record=record, raw=store.path.read_bytes)


@pytest.fixture
def app_pfx(make_app, tmp_path):
    """A registered app and its certificate as a PFX encrypted with UK_PFX_PW's password."""
    app = make_app("update-kinds")
    pfx = certgen.write_bundle(certs.load(app.pem_path), tmp_path / "app.pfx",
                               password=PFX_PASSWORD.encode())["pfx"]
    return app, str(pfx)


def file_source(pfx):
    return CertificateFile(certificate=pfx, password_env="UK_PFX_PW")


def test_a_file_profile_switches_to_a_client_secret_keeping_nothing_of_the_file(
        world, app_pfx, emulator, monkeypatch):
    app, pfx = app_pfx
    monkeypatch.setenv("UK_SECRET", emulator.add_client_secret(app.app_id))
    world.add("dev", app.app_id, file_source(pfx))
    switched = world.update("dev", client_secret_env="UK_SECRET")
    assert switched.credential == ClientSecret(client_secret_env="UK_SECRET")
    record = world.record("dev")
    for gone in ("certificate", "password_env", "thumbprint", "not_after"):
        assert record.get(gone) is None, gone
    assert tokens.acquire(switched, directory=world.directory).source == "network"


def test_a_secret_profile_moves_to_a_certificate_file_and_its_secret_fields_leave_the_disk(
        world, app_pfx, emulator, monkeypatch, tmp_path):
    app, pfx = app_pfx
    secret_file = tmp_path / "secret"
    secret_file.write_text(emulator.add_client_secret(app.app_id) + "\n")
    secret_file.chmod(0o600)
    monkeypatch.setenv("UK_SECRET", secret_file.read_text().strip())
    world.add("dev", app.app_id, ClientSecret(client_secret_env="UK_SECRET"))
    # Another source of the same secret replaces the variable.
    assert world.update("dev", client_secret_file=str(secret_file)).credential == ClientSecret(
        client_secret_file=str(secret_file))
    assert "client_secret_env" not in world.record("dev")

    moved = world.update("dev", certificate=pfx, password_env="UK_PFX_PW")
    assert moved.credential == file_source(pfx) and moved.thumbprint
    record = world.record("dev")
    assert "client_secret_env" not in record and "client_secret_file" not in record
    assert record["certificate"] == pfx and record["thumbprint"] == moved.thumbprint
    assert tokens.acquire(moved, directory=world.directory).source == "network"


def test_a_file_profile_switches_to_the_store_without_its_password_source(world, app_pfx):
    from azext_entracert.core.store import CertificateStore

    app, pfx = app_pfx
    entry, _ = CertificateStore().import_certificate(pfx, password_env="UK_PFX_PW")
    world.add("app", app.app_id, file_source(pfx))
    # The file's password source must not follow: the store keeps (and refuses) its own.
    stored = world.update("app", store_thumbprint=entry.thumbprint[:10].lower())
    assert stored.store_thumbprint == entry.thumbprint
    assert (stored.certificate, stored.password_env) == (None, None)
    assert stored.thumbprint == entry.thumbprint


def test_a_store_profile_switches_to_a_key_on_a_token_whose_label_and_pin_then_change(
        world, app_pfx, softhsm, emulator, monkeypatch, tmp_path):
    from azext_entracert.core import pkcs11
    from azext_entracert.core.store import CertificateStore

    app, pfx = app_pfx
    entry, _ = CertificateStore().import_certificate(pfx, password_env="UK_PFX_PW")
    world.add("app", app.app_id, StoreThumbprint(store_thumbprint=entry.thumbprint))
    monkeypatch.setenv("UK_PIN", HSM_PIN)
    labels = [f"uk-k{uuid.uuid4().hex[:8]}" for _ in range(2)]
    module = softhsm  # as the profile records it: symbolic links kept
    on_token = [Pkcs11Key(pkcs11_module=module, pkcs11_token=HSM_TOKEN, pkcs11_key=label,
                          pin_env="UK_PIN") for label in labels]
    made = [pkcs11.create_on_token(source, certgen.parse_subject(f"CN={source.pkcs11_key}"),
                                   days=30) for source in on_token]
    registered = emulator.create_application("update-kinds-hsm", certificates=made)

    switched = world.update("app", client_id=registered["appId"], pkcs11_module=softhsm,
                            pkcs11_token=HSM_TOKEN, pkcs11_key=labels[0], pin_env="UK_PIN")
    assert switched.credential == on_token[0] and switched.store_thumbprint is None
    assert switched.thumbprint == certs.sha1_thumbprint(made[0])
    assert tokens.acquire(switched, directory=world.directory).source == "network"

    # Fields of its own kind change just that: another key label, then the PIN's source.
    relabelled = world.update("app", pkcs11_key=labels[1])
    assert relabelled.credential == on_token[1]
    assert relabelled.thumbprint == certs.sha1_thumbprint(made[1])
    pin_file = tmp_path / "pin"
    pin_file.write_text(HSM_PIN)
    pin_file.chmod(0o600)
    moved = world.update("app", pin_file=str(pin_file))
    assert (moved.pin_env, moved.pin_file, moved.pkcs11_key) == (None, str(pin_file), labels[1])
    # A PKCS#11 URI is a new source too: only it (and the PIN option given with it) is kept.
    uri = f"pkcs11:token={HSM_TOKEN};object={labels[0]}?module-path={module}"
    by_uri = world.update("app", pkcs11_uri=uri, pin_env="UK_PIN")
    assert (by_uri.pkcs11_uri, by_uri.pkcs11_key, by_uri.pin_file) == (uri, None, None)
    assert by_uri.thumbprint == certs.sha1_thumbprint(made[0])


def test_a_new_password_source_or_key_file_replaces_the_old_one(world, app_pfx, openssl_files,
                                                                monkeypatch, tmp_path):
    app, pfx = app_pfx
    world.add("app", app.app_id, file_source(pfx))
    password_file = tmp_path / "pfx-password"
    password_file.write_text(PFX_PASSWORD)
    password_file.chmod(0o600)
    moved = world.update("app", password_file=str(password_file))
    assert moved.credential == CertificateFile(certificate=pfx, password_file=str(password_file))

    split = CertificateFile(certificate=str(openssl_files / "leaf.pem"),
                            key_file=str(openssl_files / "leaf-enc.key"),
                            key_password_env="UK_KEY_PW")
    monkeypatch.setenv("UK_KEY_PW", OPENSSL_PASSWORD)
    world.add("split", app.app_id, split)
    plain = world.update("split", key_file=str(openssl_files / "leaf.key"))
    assert plain.credential == CertificateFile(certificate=str(openssl_files / "leaf.pem"),
                                               key_file=str(openssl_files / "leaf.key"))


@pytest.mark.parametrize("given, option", [
    (dict(pin_env="UK_PIN"), "--pin-env"),
    (dict(pkcs11_key="some-label", password_env="UK_PFX_PW"), "--pkcs11-key"),
])
def test_an_option_of_another_kind_is_refused_naming_it_and_the_profile(world, app_pfx, given,
                                                                         option):
    app, pfx = app_pfx
    world.add("x", app.app_id, file_source(pfx))
    before = world.raw()
    with pytest.raises(ConfigurationError) as err:
        world.update("x", **given)
    assert err.value.message == (f"{option} cannot be used with profile 'x', which signs in "
                                 f"with certificate file '{pfx}'.")
    assert "--client-secret-env" in err.value.hint and "--pkcs11-module" in err.value.hint
    assert world.raw() == before


def test_a_secret_profile_refuses_a_key_file_and_keeps_its_record(world, app_pfx, emulator,
                                                                  monkeypatch, openssl_files):
    app, _ = app_pfx
    monkeypatch.setenv("UK_SECRET", emulator.add_client_secret(app.app_id))
    world.add("dev", app.app_id, ClientSecret(client_secret_env="UK_SECRET"))
    before = world.raw()
    with pytest.raises(ConfigurationError, match="--key-file cannot be used with profile 'dev', "
                                                 "which signs in with client secret in "
                                                 "environment variable UK_SECRET"):
        world.update("dev", key_file=str(openssl_files / "leaf.key"))
    assert world.raw() == before


def test_a_failed_switch_leaves_the_profile_file_unchanged(world, app_pfx, monkeypatch):
    app, pfx = app_pfx
    world.add("x", app.app_id, file_source(pfx))
    before = world.raw()
    monkeypatch.delenv("UK_UNSET_SECRET", raising=False)
    with pytest.raises(PasswordError, match="UK_UNSET_SECRET .*is not set"):
        world.update("x", client_secret_env="UK_UNSET_SECRET")
    with pytest.raises(ConfigurationError, match="no certificate to unlock"):
        world.update("x", client_secret_env="UK_UNSET_SECRET", password_env="UK_PFX_PW")
    assert world.raw() == before


def test_a_certificate_file_renewed_by_hand_keeps_its_password_source(world, app_pfx):
    """``profile update --certificate NEW.pfx`` (the hints' way to pick up a renewed file) keeps
    the password variable the old file was read with."""
    app, pfx = app_pfx
    world.add("renewed", app.app_id, file_source(pfx))
    renewed = certgen.write_bundle(certs.load(app.pem_path), Path(pfx).with_name("new.pfx"),
                                   password=PFX_PASSWORD.encode())["pfx"]
    moved = world.update("renewed", certificate=str(renewed))
    assert moved.credential == file_source(str(renewed))
    assert world.record("renewed")["password_env"] == "UK_PFX_PW"
