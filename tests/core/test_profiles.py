"""The profile store: validation, no secrets on disk, atomic and locked changes, environment
configuration with azure-identity's variable names."""
import dataclasses
import json
import multiprocessing

import pytest

from azext_entracert.core import profiles
from azext_entracert.core.errors import ConfigurationError, PasswordError, ProfileError

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def cert_pem(make_app):
    return make_app("profile-cert").pem_path


@pytest.fixture
def store(tmp_path):
    return profiles.ProfileStore(tmp_path / "entracert")


def make(name, cert_pem, **kw):
    return profiles.new_profile(name, tenant=kw.pop("tenant", TENANT), client_id=CLIENT,
                                certificate=cert_pem, **kw)


def test_create_records_thumbprint_and_expiry_but_no_secret(store, cert_pem, monkeypatch):
    monkeypatch.setenv("PW", "never-stored")
    profile = make("ci", cert_pem, password_env="PW", scopes=["https://graph.microsoft.com/.default"])
    store.add(profile)
    text = store.path.read_text()
    assert profile.thumbprint in text and "never-stored" not in text
    assert "PRIVATE KEY" not in text
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"
    assert store.get("ci") == profile
    assert store.default_name() == "ci"


@pytest.mark.parametrize("tenant", ["common", "not a tenant", "72f988bf-86f1"])
def test_bad_tenant_is_refused(cert_pem, tenant):
    with pytest.raises(ConfigurationError, match="tenant"):
        make("x", cert_pem, tenant=tenant)


def test_domain_tenant_is_accepted(cert_pem):
    assert make("x", cert_pem, tenant="Contoso.onmicrosoft.com").tenant == "contoso.onmicrosoft.com"


def test_bad_client_id_is_refused(cert_pem):
    with pytest.raises(ConfigurationError, match="client id"):
        profiles.new_profile("x", tenant=TENANT, client_id="my-app", certificate=cert_pem)


def test_wrong_password_fails_at_create(openssl_files, monkeypatch):
    monkeypatch.setenv("BAD", "nope")
    with pytest.raises(PasswordError):
        profiles.new_profile("x", tenant=TENANT, client_id=CLIENT,
                             certificate=openssl_files / "modern.pfx", password_env="BAD")


def test_duplicate_and_unknown_names(store, cert_pem):
    store.add(make("a", cert_pem))
    with pytest.raises(ProfileError, match="already exists"):
        store.add(make("a", cert_pem))
    with pytest.raises(ProfileError, match="Known profiles: a"):
        store.get("b")


def test_failed_change_leaves_the_store_intact(store, cert_pem):
    store.add(make("a", cert_pem))
    before = store.path.read_bytes()
    with pytest.raises(RuntimeError):
        with store._change() as data:
            data["profiles"].clear()
            raise RuntimeError("boom")
    assert store.path.read_bytes() == before


def test_damaged_store_is_reported_not_overwritten(store, cert_pem):
    store.directory.mkdir(parents=True)
    store.path.write_text("{broken")
    with pytest.raises(ConfigurationError, match="damaged"):
        store.add(make("a", cert_pem))
    assert store.path.read_text() == "{broken"


def test_deleting_the_default_leaves_none_and_a_new_profile_is_not_promoted(store, cert_pem):
    store.add(make("a", cert_pem))
    store.add(make("b", cert_pem))
    store.add(make("c", cert_pem))
    assert store.delete("b") == "a"  # not the default: the default stays
    assert store.delete("a") is None
    store.add(make("d", cert_pem))
    assert store.default_name() is None
    with pytest.raises(ProfileError, match="no default profile") as raised:
        store.resolve(environ={})
    assert "profile set-default" in raised.value.hint


def test_export_import_round_trip(store, cert_pem):
    profile = make("a", cert_pem)
    document = json.loads(json.dumps(profiles.export_document(profile)))
    assert profiles.import_document(document, name="copy").name == "copy"
    with pytest.raises(ConfigurationError, match="not an entracert profile"):
        profiles.import_document({"profile": {}})


def test_environment_configuration(cert_pem, store):
    env = {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT,
           "AZURE_CLIENT_CERTIFICATE_PATH": cert_pem, "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN": "true",
           "AZURE_AUTHORITY_HOST": "login.microsoftonline.us"}
    profile = store.resolve(environ=env)
    assert profile.name == "environment" and profile.send_chain
    assert profile.authority_host == "https://login.microsoftonline.us"
    with pytest.raises(ProfileError, match="no default profile"):
        store.resolve(environ={})


def _add_many(directory, cert_pem, prefix):
    store = profiles.ProfileStore(directory)
    base = make("seed", cert_pem)
    for i in range(10):
        store.add(profiles.Profile.from_dict({**base.to_dict(), "name": f"{prefix}{i}"}))


def test_parallel_writers_lose_nothing(store, cert_pem):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_add_many, args=(store.directory, cert_pem, p))
               for p in "abcd"]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    names, _ = store.list()
    assert len(names) == 40


@pytest.mark.parametrize("stored", [
    {"default": "a", "profiles": {"a": {"name": "a"}}},
    {"default": "a", "profiles": {"a": "not a record"}},
])
def test_damaged_profile_record_is_a_clear_error(store, stored):
    store.directory.mkdir(parents=True)
    store.path.write_text(json.dumps(stored))
    with pytest.raises(ConfigurationError) as err:
        store.get("a")
    assert err.value.hint
    with pytest.raises(ConfigurationError):
        store.list()


def test_store_written_without_a_default_still_reads(store, cert_pem):
    store.directory.mkdir(parents=True)
    store.path.write_text(json.dumps({"profiles": {"a": make("a", cert_pem).to_dict()}}))
    assert [p.name for p in store.list()[0]] == ["a"]
    assert store.resolve("a", environ={}).name == "a"
    with pytest.raises(ProfileError, match="no default profile"):
        store.resolve(environ={})


@pytest.mark.parametrize("document, words", [
    ({"kind": profiles.EXPORT_MARKER}, "not a JSON object"),
    ({"kind": profiles.EXPORT_MARKER, "profile": {"name": "x"}}, "lacks tenant, client_id"),
    ({"kind": profiles.EXPORT_MARKER, "profile": {"name": "x", "tenant": TENANT,
                                                  "client_id": CLIENT,
                                                  "authority_host": "http://evil.example"}},
     "not an https URL"),
])
def test_import_refuses_incomplete_or_plain_http_documents(document, words):
    with pytest.raises(ConfigurationError, match=words):
        profiles.import_document(document)


def test_sovereign_authority_host_brings_its_own_graph():
    """--authority-host of a known cloud without --cloud must not send Graph calls to login.*"""
    from azext_entracert.core import clouds

    assert clouds.resolve(authority_host="https://login.microsoftonline.us") == (
        "https://login.microsoftonline.us", "https://graph.microsoft.us")
    assert clouds.resolve(authority_host="https://127.0.0.1:8443") == (
        "https://127.0.0.1:8443", "https://127.0.0.1:8443")


@pytest.mark.parametrize("variable, value", [
    ("AZURE_TENANT_ID", "not a tenant"), ("AZURE_CLIENT_ID", "not-a-guid"),
    ("AZURE_AUTHORITY_HOST", "https://login.example.com/some/path")])
def test_environment_errors_name_the_variable(variable, value):
    env = {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT,
           "AZURE_CLIENT_CERTIFICATE_PATH": "cert.pem", variable: value}
    with pytest.raises(ConfigurationError, match=variable):
        profiles.from_environment(env)


def test_public_only_certificate_cannot_make_a_profile(openssl_files):
    from azext_entracert.core.errors import CertificateError
    with pytest.raises(CertificateError, match="no private key") as err:
        profiles.new_profile("x", tenant=TENANT, client_id=CLIENT,
                             certificate=openssl_files / "leaf.cer")
    assert "cert convert" in err.value.hint


def test_ca_bundle_must_hold_a_certificate(cert_pem, tmp_path):
    (tmp_path / "notes.txt").write_text("not a CA\n")
    with pytest.raises(ConfigurationError, match="holds no PEM certificate"):
        make("x", cert_pem, ca_bundle=tmp_path / "notes.txt")


def test_environment_identity_names_its_password_variable(openssl_files, store, monkeypatch):
    monkeypatch.delenv("AZURE_CLIENT_CERTIFICATE_PASSWORD", raising=False)
    env = {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT,
           "AZURE_CLIENT_CERTIFICATE_PATH": str(openssl_files / "modern.pfx")}
    profile = store.resolve(environ=env)
    from azext_entracert.core import tokens
    with pytest.raises(PasswordError, match="AZURE_CLIENT_CERTIFICATE_PASSWORD is not set"):
        tokens.load_profile_certificate(profile)


def test_update_keeps_the_recorded_certificate_unless_its_source_changes(store, cert_pem,
                                                                        make_app, tmp_path):
    original = store.add(make("u", cert_pem))
    moved = profiles.updated_profile(original, tenant="contoso.onmicrosoft.com",
                                     scopes=["api://x/.default"])
    assert (moved.tenant, moved.scopes) == ("contoso.onmicrosoft.com", ("api://x/.default",))
    assert moved.thumbprint == original.thumbprint
    other = make_app("profile-update-other", key_index=3)
    switched = profiles.updated_profile(original, certificate=other.pem_path)
    assert switched.thumbprint != original.thumbprint and switched.certificate == other.pem_path
    with pytest.raises(ConfigurationError, match="tenant"):
        profiles.updated_profile(original, tenant="common")
    assert profiles.updated_profile(
        dataclasses.replace(original, ca_bundle="/x.pem"), ca_bundle="").ca_bundle is None
