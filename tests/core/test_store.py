"""The certificate store: import as-is, find by any pasted thumbprint, load to sign, remove."""
import json
import os
import stat

import jwt
import pytest
from conftest import make_certificate, pem_of

from azext_entracert.core import assertion, certgen, certs
from azext_entracert.core.errors import (
    CertificateError,
    ConfigurationError,
    PasswordError,
    StoreError,
)
from azext_entracert.core.store import CertificateStore

PASSWORD = b"store pw"


@pytest.fixture
def store(tmp_path):
    return CertificateStore(tmp_path / "config")


@pytest.fixture
def pfx(tmp_path, rsa_keys):
    """A password-protected PFX and what it holds."""
    loaded = certs.LoadedCertificate(make_certificate(rsa_keys[0], "stored-app"), rsa_keys[0])
    path = tmp_path / "app.pfx"
    path.write_bytes(certgen.pfx_bytes(loaded, PASSWORD))
    return path, loaded


def _pem(tmp_path, key, name):
    path = tmp_path / f"{name}.pem"
    path.write_text(pem_of(key, make_certificate(key, name)))
    return path


def test_an_encrypted_pfx_is_stored_as_imported_private_and_records_only_the_source(
        store, pfx, monkeypatch):
    path, loaded = pfx
    monkeypatch.setenv("STORE_PW", PASSWORD.decode())
    umask = os.umask(0o022)  # the usual one, under which the index's lock file was 0644
    try:
        entry, created = store.import_certificate(path, password_env="STORE_PW")
    finally:
        os.umask(umask)

    assert created and entry.encrypted and entry.password_env == "STORE_PW"
    assert (entry.thumbprint, entry.thumbprint_sha256) == (loaded.thumbprint,
                                                           loaded.thumbprint_sha256)
    kept = store.folder / entry.file
    assert kept.read_bytes() == path.read_bytes()  # still encrypted: no plaintext key on disk
    assert stat.S_IMODE(store.folder.stat().st_mode) == 0o700
    files = list(store.folder.iterdir())
    assert {kept, store.index_path} <= set(files)  # and the index's lock file beside them
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name
    assert PASSWORD.decode() not in store.index_path.read_text()


def test_a_loaded_entry_signs_an_assertion_its_certificate_verifies(store, pfx, monkeypatch):
    path, _ = pfx
    monkeypatch.setenv("STORE_PW", PASSWORD.decode())
    entry, _ = store.import_certificate(path, password_env="STORE_PW")

    loaded = store.load(entry.thumbprint)
    token = assertion.client_assertion(loaded, audience="https://login.example/t/oauth2/v2.0/token",
                                       client_id="app")
    claims = jwt.decode(token, loaded.certificate.public_key(), algorithms=["PS256", "RS256"],
                        audience="https://login.example/t/oauth2/v2.0/token")
    assert claims["sub"] == "app" and loaded.source == f"store:{entry.thumbprint}"


def test_the_password_source_is_read_again_at_each_use(store, pfx, monkeypatch):
    path, _ = pfx
    monkeypatch.setenv("STORE_PW", PASSWORD.decode())
    entry, _ = store.import_certificate(path, password_env="STORE_PW")
    monkeypatch.delenv("STORE_PW")
    with pytest.raises(PasswordError, match="STORE_PW is not set"):
        store.load(entry.thumbprint)


def test_a_prompted_password_is_not_recorded_and_asked_again(store, pfx):
    path, _ = pfx
    entry, _ = store.import_certificate(path, prompt=lambda _text: PASSWORD.decode())
    assert entry.encrypted and not (entry.password_env or entry.password_file)
    asked = []
    store.load(entry.thumbprint, prompt=lambda text: asked.append(text) or PASSWORD.decode())
    assert len(asked) == 1


def test_a_password_file_is_recorded_by_absolute_path(store, pfx, tmp_path, monkeypatch):
    path, _ = pfx
    (tmp_path / "pw.txt").write_bytes(PASSWORD + b"\n")
    monkeypatch.chdir(tmp_path)
    entry, _ = store.import_certificate(path, password_file="pw.txt")
    assert entry.password_file == str(tmp_path / "pw.txt")
    monkeypatch.chdir("/")
    assert store.load(entry.thumbprint).has_private_key


@pytest.mark.parametrize("form", [
    lambda t: t, lambda t: t.lower(), lambda t: ":".join(t[i:i + 2] for i in range(0, len(t), 2)),
    lambda t: " ".join(t[i:i + 2] for i in range(0, len(t), 2)).lower(), lambda t: f"  {t}\n",
    lambda t: t[:8]], ids=["upper", "lower", "colons", "spaces", "padded", "prefix"])
@pytest.mark.parametrize("digest", ["thumbprint", "thumbprint_sha256"])
def test_any_pasted_form_of_either_thumbprint_finds_the_entry(store, tmp_path, rsa_keys, form,
                                                              digest):
    entry, _ = store.import_certificate(_pem(tmp_path, rsa_keys[1], "plain"))
    assert not entry.encrypted
    assert store.get(form(getattr(entry, digest))) == entry


def test_an_unknown_thumbprint_says_how_many_are_stored(store, tmp_path, rsa_keys):
    store.import_certificate(_pem(tmp_path, rsa_keys[1], "plain"))
    with pytest.raises(StoreError, match="no certificate with thumbprint 0123456789AB.*1 stored"):
        store.get("01:23:45:67:89:ab")


@pytest.mark.parametrize("text, why", [("12345", "too short"), ("XYZ12345678", "hexadecimal"),
                                       ("A" * 65, "65 hex digits")])
def test_a_thumbprint_of_the_wrong_shape_is_refused(store, text, why):
    with pytest.raises(ConfigurationError, match=why):
        store.get(text)


def test_an_ambiguous_prefix_lists_the_candidates(store, tmp_path, rsa_keys):
    first, _ = store.import_certificate(_pem(tmp_path, rsa_keys[1], "one"))
    second, _ = store.import_certificate(_pem(tmp_path, rsa_keys[2], "two"))
    # A real 8-digit collision is 1 in 4 billion: make one by editing the index.
    index = json.loads(store.index_path.read_text())
    prefix = first.thumbprint[:8]
    record = index["certificates"][second.thumbprint]
    record["thumbprint_sha256"] = prefix + record["thumbprint_sha256"][8:]
    store.index_path.write_text(json.dumps(index))

    with pytest.raises(StoreError, match="matches 2 stored certificates") as raised:
        store.get(prefix)
    assert first.thumbprint in str(raised.value) and second.thumbprint in str(raised.value)
    assert store.get(first.thumbprint) == first  # the whole thumbprint still picks one


def test_importing_the_same_certificate_twice_keeps_the_first_entry(store, tmp_path, rsa_keys):
    path = _pem(tmp_path, rsa_keys[1], "plain")
    first, created = store.import_certificate(path)
    again, created_again = store.import_certificate(path)
    assert created and not created_again and again == first
    assert len(store.list()) == 1


@pytest.mark.parametrize("what", ["certificate only", "EC key"])
def test_a_file_that_cannot_sign_for_entra_is_refused_and_nothing_is_written(
        store, tmp_path, rsa_keys, what):
    if what == "certificate only":
        path = tmp_path / "public.cer"
        path.write_bytes(certs.der_of(make_certificate(rsa_keys[1])))
        expected = "no private key"
    else:
        from cryptography.hazmat.primitives.asymmetric import ec
        path = _pem(tmp_path, ec.generate_private_key(ec.SECP256R1()), "ec")
        expected = "need RSA"
    with pytest.raises(CertificateError, match=expected):
        store.import_certificate(path)
    assert not store.folder.exists() or not os.listdir(store.folder)


def test_a_wrong_password_is_refused_and_nothing_is_written(store, pfx, monkeypatch):
    monkeypatch.setenv("STORE_PW", "wrong")
    with pytest.raises(PasswordError, match="STORE_PW does not open"):
        store.import_certificate(pfx[0], password_env="STORE_PW")
    assert not store.folder.exists()


def test_remove_deletes_the_entry_and_its_file(store, tmp_path, rsa_keys):
    entry, _ = store.import_certificate(_pem(tmp_path, rsa_keys[1], "plain"))
    removed = store.remove(entry.thumbprint_sha256.lower())
    assert removed == entry and store.list() == []
    assert not (store.folder / entry.file).exists()
    with pytest.raises(StoreError, match="no certificate"):
        store.remove(entry.thumbprint)


def test_a_damaged_index_is_an_error_naming_it_and_is_left_untouched(store, tmp_path, rsa_keys):
    store.import_certificate(_pem(tmp_path, rsa_keys[1], "plain"))
    store.index_path.write_text("{not json")
    for call in (store.list, lambda: store.import_certificate(_pem(tmp_path, rsa_keys[2], "b"))):
        with pytest.raises(StoreError, match="index.json' is damaged"):
            call()
    assert store.index_path.read_text() == "{not json"


@pytest.mark.parametrize("damage", ["missing", "garbage", "replaced"])
def test_a_damaged_key_file_names_the_entry_and_how_to_fix_it(store, tmp_path, rsa_keys, damage):
    entry, _ = store.import_certificate(_pem(tmp_path, rsa_keys[1], "plain"))
    kept = store.folder / entry.file
    if damage == "missing":
        kept.unlink()
    elif damage == "garbage":
        kept.write_bytes(b"\x00\x01 truncated")
    else:
        kept.write_bytes(_pem(tmp_path, rsa_keys[2], "other").read_bytes())
    with pytest.raises(StoreError, match=f"{entry.thumbprint} .* is damaged") as raised:
        store.load(entry.thumbprint)
    assert f"store remove --thumbprint {entry.thumbprint}" in raised.value.hint
