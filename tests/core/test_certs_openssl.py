"""Interop with the openssl command line, both ways: what openssl writes we read with the same
thumbprints, and what we write openssl reads."""
import base64
import subprocess

import pytest

from azext_entracert.core import certgen, certs
from azext_entracert.core.errors import CertificateError, PasswordError
from azext_entracert.core.secrets import PasswordSource

from .conftest import PASSWORD, openssl, openssl_fingerprint


@pytest.fixture
def password(monkeypatch):
    monkeypatch.setenv("ENTRACERT_TEST_PW", PASSWORD)
    return PasswordSource.from_env("ENTRACERT_TEST_PW")


@pytest.mark.parametrize("name", ["modern.pfx", "legacy.pfx", "chain.pfx"])
def test_reads_password_protected_pfx_from_openssl(openssl_files, password, name):
    loaded = certs.load(openssl_files / name, password=password, require_key=True)
    assert loaded.thumbprint == openssl_fingerprint(openssl_files / "leaf.pem", "sha1")
    assert loaded.thumbprint_sha256 == openssl_fingerprint(openssl_files / "leaf.pem", "sha256")


def test_pfx_with_chain_keeps_the_ca(openssl_files, password):
    loaded = certs.load(openssl_files / "chain.pfx", password=password)
    assert [c.subject.rfc4514_string() for c in loaded.chain] == ["CN=Test Root CA"]
    assert certs.describe(loaded)["chainLength"] == 1


def test_pfx_without_password_needs_no_source(openssl_files):
    assert certs.load(openssl_files / "nopass.pfx", require_key=True).has_private_key


@pytest.mark.parametrize("cert,key", [
    ("combined.pem", None), ("leaf.pem", "leaf.key"), ("leaf.pem", "leaf-pkcs1.key"),
    ("leaf.cer", "leaf.key"), ("leaf.pem", "leaf-enc.key"), ("combined-enc.pem", None)])
def test_reads_pem_and_der_forms(openssl_files, password, cert, key):
    loaded = certs.load(openssl_files / cert, key_path=key and openssl_files / key,
                        password=password, require_key=True)
    assert loaded.thumbprint == openssl_fingerprint(openssl_files / "leaf.pem")


def test_public_only_der_loads_for_show(openssl_files):
    summary = certs.describe(certs.load(openssl_files / "leaf.cer"))
    assert summary["hasPrivateKey"] is False
    assert summary["thumbprint"] == openssl_fingerprint(openssl_files / "leaf.pem")
    assert summary["issuer"] == "CN=Test Root CA"


def test_x5t_is_base64url_of_the_openssl_digest(openssl_files):
    loaded = certs.load(openssl_files / "leaf.pem")
    sha1 = bytes.fromhex(openssl_fingerprint(openssl_files / "leaf.pem", "sha1"))
    sha256 = bytes.fromhex(openssl_fingerprint(openssl_files / "leaf.pem", "sha256"))
    assert loaded.x5t == base64.urlsafe_b64encode(sha1).decode()
    assert loaded.x5t_s256 == base64.urlsafe_b64encode(sha256).decode()


def test_wrong_password_says_so(openssl_files, monkeypatch):
    monkeypatch.setenv("WRONG_PW", "nope")
    with pytest.raises(PasswordError, match="does not open") as err:
        certs.load(openssl_files / "legacy.pfx", password=PasswordSource.from_env("WRONG_PW"))
    assert "nope" not in str(err.value)


@pytest.mark.parametrize("typed", ["", "nope"])
@pytest.mark.parametrize("key", ["leaf-enc.key", "combined-enc.pem"])
def test_wrong_or_empty_password_for_an_encrypted_key_says_so(openssl_files, key, typed):
    """An empty answer at the prompt made cryptography raise a bare TypeError."""
    with pytest.raises(PasswordError, match="does not decrypt the key") as err:
        certs.load(openssl_files / "leaf.pem", key_path=openssl_files / key,
                   key_password=PasswordSource.from_prompt(lambda _text: typed))
    assert key in err.value.message


def test_missing_password_names_the_options(openssl_files):
    with pytest.raises(PasswordError, match="--password-env"):
        certs.load(openssl_files / "modern.pfx")


def test_prompt_is_used_only_when_the_file_is_encrypted(openssl_files):
    asked = []
    prompt = PasswordSource.from_prompt(lambda text: asked.append(text) or PASSWORD)
    certs.load(openssl_files / "nopass.pfx", password=prompt)
    assert asked == []
    certs.load(openssl_files / "modern.pfx", password=prompt)
    assert asked == ["Password for modern.pfx: "]


def test_key_that_does_not_match_is_refused(openssl_files):
    with pytest.raises(CertificateError, match="does not belong"):
        certs.load(openssl_files / "leaf.pem", key_path=openssl_files / "other.key")


def test_pfx_we_write_is_read_by_openssl(tmp_path):
    loaded = certgen.create_self_signed("CN=ours", sans=["DNS:ours.example"])
    paths = certgen.write_bundle(loaded, tmp_path / "ours.pfx", password=b"pfx-pw")
    out = openssl("pkcs12", "-in", paths["pfx"], "-passin", "pass:pfx-pw", "-nokeys", "-clcerts")
    (tmp_path / "from-pfx.pem").write_text(out)
    assert openssl_fingerprint(tmp_path / "from-pfx.pem") == loaded.thumbprint
    assert openssl_fingerprint(paths["cer"], form="DER") == loaded.thumbprint
    assert openssl_fingerprint(paths["pem"], "sha256") == loaded.thumbprint_sha256
    openssl("pkcs12", "-in", paths["pfx"], "-passin", "pass:pfx-pw", "-nocerts", "-nodes")


def test_our_certificate_has_the_extensions_entra_expects(tmp_path):
    loaded = certgen.create_self_signed("CN=ext-check")
    certgen.write_bundle(loaded, tmp_path / "e.pfx", password=None)
    text = openssl("x509", "-in", str(tmp_path / "e.pem"), "-noout", "-text")
    assert "Digital Signature" in text
    assert "TLS Web Client Authentication" in text
    assert "Subject Key Identifier" in text
    assert "sha256WithRSAEncryption" in text


def test_csr_we_write_verifies_in_openssl_and_assembles_after_signing(openssl_files, tmp_path):
    key, csr = certgen.create_csr("CN=csr-app", sans=["DNS:csr.example"], key_size=2048)
    certgen.write_csr(key, csr, key_out=tmp_path / "k.pem", out=tmp_path / "r.csr",
                      password=b"key-pw")
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    verified = subprocess.run(["openssl", "req", "-in", str(tmp_path / "r.csr"), "-verify",
                               "-noout"], capture_output=True, text=True)
    assert verified.returncode == 0 and "verify OK" in verified.stdout + verified.stderr
    openssl("x509", "-req", "-in", str(tmp_path / "r.csr"), "-CA", str(openssl_files / "ca.pem"),
            "-CAkey", str(openssl_files / "ca.key"), "-CAcreateserial",
            "-out", str(tmp_path / "signed.crt"), "-days", "10")
    key_password = PasswordSource.from_prompt(lambda _: "key-pw")
    assembled = certgen.assemble(tmp_path / "signed.crt", tmp_path / "k.pem",
                                 [openssl_files / "ca.pem"], key_password=key_password)
    certgen.write_bundle(assembled, tmp_path / "full.pfx", password=None)
    out = openssl("pkcs12", "-in", str(tmp_path / "full.pfx"), "-passin", "pass:", "-nokeys")
    assert out.count("BEGIN CERTIFICATE") == 2
    signed = openssl_fingerprint(tmp_path / "signed.crt")
    assert openssl_fingerprint(tmp_path / "full.pem") == signed



def test_show_agrees_with_openssl_on_serial_and_dates(openssl_files):
    """The serial and validity a user compares against `openssl x509 -serial -dates`."""
    import datetime

    out = openssl("x509", "-in", str(openssl_files / "leaf.pem"), "-noout", "-serial", "-dates")
    fields = dict(line.split("=", 1) for line in out.strip().splitlines())
    shown = certs.describe(certs.load(openssl_files / "leaf.pem"))
    assert shown["serialNumber"] == fields["serial"].lstrip("0")
    for ours, theirs in (("notBefore", "notBefore"), ("notAfter", "notAfter")):
        moment = datetime.datetime.strptime(fields[theirs], "%b %d %H:%M:%S %Y %Z")
        assert shown[ours] == moment.strftime("%Y-%m-%dT%H:%M:%SZ")
