"""Every bad input of the certificate toolkit gets a clear error naming the file and the fix,
and no output file is left behind."""
import os

import pytest

from azext_entracert.core import certgen, certs, fileio
from azext_entracert.core.errors import (
    CertificateError,
    CertificateFormatError,
    ConfigurationError,
    EntraCertError,
    InputFileError,
    OutputError,
    PasswordError,
)
from azext_entracert.core.secrets import PasswordSource, read_pfx_base64_env


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="does not exist") as err:
        certs.load(tmp_path / "nope.pfx")
    assert err.value.path.endswith("nope.pfx")


def test_directory(tmp_path):
    with pytest.raises(InputFileError, match="is a directory"):
        certs.load(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable(tmp_path):
    path = tmp_path / "locked.pem"
    path.write_text("x")
    path.chmod(0)
    with pytest.raises(InputFileError, match="cannot be read"):
        certs.load(path)


def test_empty_file(tmp_path):
    (tmp_path / "empty.pfx").write_bytes(b"")
    with pytest.raises(InputFileError, match="is empty"):
        certs.load(tmp_path / "empty.pfx")


@pytest.mark.parametrize("content", [b"hello, I am not a certificate", b"\x30\x82\x01\x00junk"])
def test_not_a_certificate(tmp_path, content):
    (tmp_path / "junk.pfx").write_bytes(content)
    with pytest.raises(CertificateFormatError, match="neither PEM, DER nor a valid PFX"):
        certs.load(tmp_path / "junk.pfx")


def test_truncated_pfx(openssl_files, tmp_path):
    data = (openssl_files / "modern.pfx").read_bytes()
    (tmp_path / "cut.pfx").write_bytes(data[: len(data) // 2])
    with pytest.raises(CertificateFormatError, match="truncated or corrupt"):
        certs.load(tmp_path / "cut.pfx")


def test_pem_key_only(openssl_files):
    with pytest.raises(CertificateFormatError, match="only a private key"):
        certs.load(openssl_files / "leaf.key")


def test_pem_without_key_when_one_is_needed(openssl_files):
    with pytest.raises(CertificateError, match="no private key") as err:
        certs.load(openssl_files / "leaf.pem", require_key=True)
    assert "--key-file" in err.value.hint


def test_corrupt_key_file(openssl_files, tmp_path):
    (tmp_path / "bad.key").write_text(
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(CertificateFormatError, match="cannot be read"):
        certs.load(openssl_files / "leaf.pem", key_path=tmp_path / "bad.key")


def test_password_env_not_set(openssl_files, monkeypatch):
    monkeypatch.delenv("NOT_SET_PW", raising=False)
    with pytest.raises(PasswordError, match="NOT_SET_PW is not set"):
        certs.load(openssl_files / "modern.pfx", password=PasswordSource.from_env("NOT_SET_PW"))


def test_password_file_strips_the_newline(openssl_files, tmp_path):
    (tmp_path / "pw.txt").write_text("correct horse\n")
    certs.load(openssl_files / "modern.pfx", password=PasswordSource.from_file(tmp_path / "pw.txt"))


def test_base64_pfx_from_environment(openssl_files, monkeypatch):
    import base64
    pfx = (openssl_files / "nopass.pfx").read_bytes()
    monkeypatch.setenv("PFX_B64", base64.b64encode(pfx).decode())
    loaded = certs.load(pfx_base64_env="PFX_B64", require_key=True)
    assert loaded.source == "env:PFX_B64"
    monkeypatch.setenv("PFX_B64", "not base64 at all!")
    with pytest.raises(InputFileError, match="does not hold valid base64"):
        read_pfx_base64_env("PFX_B64")


def test_password_sources_are_exclusive():
    from azext_entracert.core.secrets import password_source
    with pytest.raises(ConfigurationError, match="--password-env and --password-file"):
        password_source(env="A", file="b")


def test_secrets_never_show_in_repr(openssl_files, monkeypatch):
    monkeypatch.setenv("PW_REPR", "super-secret-value")
    assert "super-secret-value" not in repr(PasswordSource.from_env("PW_REPR"))
    loaded = certs.load(openssl_files / "combined.pem")
    assert "PRIVATE" not in repr(loaded) and "RSAPrivateKey" not in repr(loaded)


def test_ec_and_weak_keys_fail_validation(openssl_files):
    ec = certs.validate(certs.load(openssl_files / "ec.pem", key_path=openssl_files / "ec.key"))
    assert not ec["valid"]
    assert _check(ec, "keyType")["ok"] is False
    weak = certs.validate(certs.load(openssl_files / "weak.pem"))
    assert not weak["valid"] and "at least 2048" in _check(weak, "keySize")["detail"]
    sha1 = certs.validate(certs.load(openssl_files / "sha1.pem"))
    assert not sha1["valid"] and _check(sha1, "signatureHash")["ok"] is False


def test_weak_key_cannot_be_created():
    with pytest.raises(ConfigurationError, match="2048, 3072 or 4096"):
        certgen.create_self_signed("CN=weak", key_size=1024)


def test_expired_certificate_warns_and_fails_validation(tmp_path):
    import datetime
    key = certgen.new_rsa_key(2048)
    long_ago = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    cert = certgen.build_certificate(subject=certgen.parse_subject("CN=old"),
                                     public_key=key.public_key(), signing_key=key, days=10,
                                     not_before=long_ago)
    loaded = certs.LoadedCertificate(cert, key, (), "memory")
    assert "expired on 2020-01-11" in certs.expiry_warning(loaded)
    summary = certs.describe(loaded)
    assert summary["expired"] is True and summary["daysLeft"] < 0
    result = certs.validate(loaded)
    assert not result["valid"] and "(expired)" in _check(result, "validityPeriod")["detail"]


def test_expiring_soon_is_a_warning_not_an_error():
    loaded = certgen.create_self_signed("CN=short", days=10)
    result = certs.validate(loaded, warn_days=30)
    assert result["valid"]
    assert _check(result, "expiresSoon") == {
        "name": "expiresSoon", "ok": False, "severity": "warning",
        "detail": _check(result, "expiresSoon")["detail"]}
    assert "expires in" in certs.expiry_warning(loaded)


def test_key_file_readable_by_others_fails_validation(openssl_files, tmp_path):
    path = tmp_path / "open.pem"
    path.write_bytes((openssl_files / "combined.pem").read_bytes())
    path.chmod(0o644)
    result = certs.validate(certs.load(path))
    assert not result["valid"]
    assert "chmod 600" in _check(result, "privateKeyFilePermissions")["detail"]


def test_existing_output_is_refused_and_untouched(tmp_path):
    loaded = certgen.create_self_signed("CN=first")
    certgen.write_bundle(loaded, tmp_path / "a.pfx", password=None)
    before = (tmp_path / "a.pfx").read_bytes()
    with pytest.raises(OutputError, match="already exists") as err:
        certgen.write_bundle(certgen.create_self_signed("CN=second"), tmp_path / "a.pfx",
                             password=None)
    assert "--force" in err.value.hint
    assert (tmp_path / "a.pfx").read_bytes() == before
    certgen.write_bundle(certgen.create_self_signed("CN=second"), tmp_path / "a.pfx",
                         password=None, force=True)
    assert (tmp_path / "a.pfx").read_bytes() != before


def test_one_existing_sibling_blocks_the_whole_bundle(tmp_path):
    (tmp_path / "b.cer").write_bytes(b"keep me")
    with pytest.raises(OutputError, match="b.cer"):
        certgen.write_bundle(certgen.create_self_signed("CN=b"), tmp_path / "b.pfx", password=None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.cer"]


def test_output_folder_missing(tmp_path):
    with pytest.raises(OutputError, match="does not exist") as err:
        certgen.check_bundle_writable(tmp_path / "no" / "such" / "x.pfx")
    assert "mkdir -p" in err.value.hint


def test_assemble_refuses_a_foreign_key(openssl_files):
    with pytest.raises(CertificateError, match="does not belong"):
        certgen.assemble(openssl_files / "leaf.pem", openssl_files / "other.key")


def test_convert_to_pfx_needs_a_key(openssl_files, tmp_path):
    with pytest.raises(CertificateError, match="no private key"):
        certgen.convert(certs.load(openssl_files / "leaf.cer"), "pfx", tmp_path / "x.pfx")
    assert not (tmp_path / "x.pfx").exists()


@pytest.mark.parametrize("to,private", [("pfx", True), ("pem", True), ("der", False)])
def test_convert_writes_private_material_0600(openssl_files, tmp_path, to, private):
    loaded = certs.load(openssl_files / "combined.pem")
    result = certgen.convert(loaded, to, tmp_path / f"out.{to}", password=b"pw")
    assert result["includesPrivateKey"] is private
    mode = (tmp_path / f"out.{to}").stat().st_mode & 0o777
    assert mode == (0o600 if private else 0o644)
    again = certs.load(tmp_path / f"out.{to}", password=PasswordSource.from_prompt(lambda _: "pw"))
    assert again.thumbprint == loaded.thumbprint and again.has_private_key is private


def test_every_error_has_a_hint():
    for cls in (InputFileError, CertificateFormatError, PasswordError, CertificateError,
                OutputError):
        assert issubclass(cls, EntraCertError)


def test_atomic_write_leaves_no_temp_files(tmp_path):
    fileio.atomic_write(tmp_path / "f", b"1", mode=fileio.PRIVATE)
    fileio.atomic_write(tmp_path / "f", b"2", mode=fileio.PRIVATE, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["f"]
    assert (tmp_path / "f").read_bytes() == b"2"


def _check(result, name):
    return next(c for c in result["checks"] if c["name"] == name)


def test_state_folder_that_cannot_be_made_is_a_clear_error(tmp_path):
    """$AZURE_CONFIG_DIR pointing below a file: an OutputError naming the path, not an OSError."""
    from azext_entracert.core import cache, profiles

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    store = profiles.ProfileStore(blocker / "entracert")
    with pytest.raises(OutputError) as err:
        store.set_default("p")
    assert str(blocker) in err.value.message and err.value.hint
    with pytest.raises(OutputError):
        cache.clear(blocker / "entracert")


@pytest.mark.parametrize("subject", ["nonsense", "CN=ok,garbage", "   "])
def test_subject_that_is_not_a_distinguished_name(subject):
    with pytest.raises(ConfigurationError) as err:
        certgen.create_self_signed(subject)
    assert "--subject" in err.value.hint
    assert ": ." not in err.value.message


@pytest.mark.parametrize("name, words", [("ec", "EC key"), ("weak", "1024-bit RSA key")])
def test_ec_and_weak_keys_cannot_become_a_profile_or_a_pfx(openssl_files, tmp_path, name, words):
    """Entra ID needs RSA >= 2048: refused when the profile is made, not at the first token."""
    from azext_entracert.core import profiles

    combined = tmp_path / f"{name}.pem"
    combined.write_bytes((openssl_files / f"{name}.pem").read_bytes()
                         + (openssl_files / f"{name}.key").read_bytes())
    with pytest.raises(CertificateError, match=words) as err:
        profiles.new_profile("p", tenant="contoso.onmicrosoft.com",
                             client_id="11111111-2222-3333-4444-555555555555",
                             certificate=str(combined))
    assert str(combined) in err.value.message and err.value.thumbprint
    with pytest.raises(CertificateError, match=words):
        certgen.assemble(openssl_files / f"{name}.pem", openssl_files / f"{name}.key")
