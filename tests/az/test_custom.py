"""The command functions in-process: what the az layer itself decides (option combinations,
prompting only on a terminal, output passwords), over the real core and real files.

Under pytest stdin is not a terminal, exactly like az in a CI job.
"""
import base64

import pytest
from azure.cli.core import azclierror as az
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from azext_entracert import custom

PFX_PASSWORD = "pfx pw"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A PFX protected by PFX_PASSWORD, with its .cer and .pem; ``created`` is create's output."""
    folder = tmp_path_factory.mktemp("bundle")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PW", PFX_PASSWORD)
        created = custom.cert_create("CN=in-process", str(folder / "app.pfx"), password_env="PW")
    return folder, created


def test_create_returns_the_show_summary_plus_files(bundle, monkeypatch):
    folder, created = bundle
    monkeypatch.setenv("PW", PFX_PASSWORD)
    shown = custom.cert_show(file_path=str(folder / "app.pfx"), password_env="PW")
    assert {**shown, "source": "generated", "files": created["files"]} == created


def test_show_reads_a_base64_pfx_from_the_environment(bundle, monkeypatch):
    folder, created = bundle
    monkeypatch.setenv("PFX_B64", base64.b64encode((folder / "app.pfx").read_bytes()).decode())
    monkeypatch.setenv("PW", PFX_PASSWORD)
    shown = custom.cert_show(pfx_base64_env="PFX_B64", password_env="PW")
    assert shown["thumbprint"] == created["thumbprint"] and shown["source"] == "env:PFX_B64"


def test_show_needs_exactly_one_certificate_source(bundle, monkeypatch):
    folder, _ = bundle
    monkeypatch.setenv("PFX_B64", "AAAA")
    with pytest.raises(az.MutuallyExclusiveArgumentError, match="--file and --pfx-base64-env"):
        custom.cert_show(file_path=str(folder / "app.cer"), pfx_base64_env="PFX_B64")
    with pytest.raises(az.RequiredArgumentMissingError, match="No certificate given"):
        custom.cert_show()


def test_conflicting_password_options_are_named_as_the_user_typed_them(bundle, tmp_path):
    folder, _ = bundle
    with pytest.raises(az.MutuallyExclusiveArgumentError) as raised:
        custom.cert_assemble(str(folder / "app.cer"), str(folder / "app.pfx"),
                             str(tmp_path / "out.pfx"), key_password_env="A",
                             key_password_file=str(tmp_path / "pw.txt"), no_password=True)
    assert raised.value.error_msg == (
        "--key-password-env and --key-password-file cannot be used together.")
    with pytest.raises(az.MutuallyExclusiveArgumentError, match="--out-password-env and --out-no"):
        custom.cert_convert("pem", str(tmp_path / "out.pem"), file_path=str(folder / "app.pfx"),
                            password_env="PW", out_password_env="PW", out_no_password=True)


def test_a_new_private_file_without_password_source_or_terminal_is_refused(bundle, tmp_path,
                                                                           monkeypatch):
    folder, _ = bundle
    monkeypatch.setenv("PW", PFX_PASSWORD)
    with pytest.raises(az.RequiredArgumentMissingError) as raised:
        custom.cert_convert("pem", str(tmp_path / "key.pem"), file_path=str(folder / "app.pfx"),
                            password_env="PW")
    assert "--out-password-env" in raised.value.recommendations[0]
    assert list(tmp_path.iterdir()) == []


def test_convert_to_der_is_public_and_needs_no_output_password(bundle, tmp_path, monkeypatch):
    folder, _ = bundle
    monkeypatch.setenv("PW", PFX_PASSWORD)
    result = custom.cert_convert("der", str(tmp_path / "app.der"),
                                 file_path=str(folder / "app.pfx"), password_env="PW")
    assert result == {"path": str(tmp_path / "app.der"), "format": "der",
                      "includesPrivateKey": False}
    assert (tmp_path / "app.der").read_bytes() == (folder / "app.cer").read_bytes()


def test_csr_encrypts_its_key_only_when_a_password_source_is_given(tmp_path, monkeypatch):
    monkeypatch.setenv("KEY_PW", "key pw")
    encrypted = custom.cert_csr("CN=req", str(tmp_path / "a.key"), str(tmp_path / "a.csr"),
                                password_env="KEY_PW")
    plain = custom.cert_csr("CN=req", str(tmp_path / "b.key"), str(tmp_path / "b.csr"))
    assert encrypted["keyEncrypted"] is True and plain["keyEncrypted"] is False
    assert type(encrypted["keySize"]) is int and encrypted["keySize"] == 2048
    load_pem_private_key((tmp_path / "a.key").read_bytes(), b"key pw")
    load_pem_private_key((tmp_path / "b.key").read_bytes(), None)
    assert (tmp_path / "a.key").stat().st_mode & 0o777 == 0o600


def test_outputs_are_checked_before_any_key_is_generated(tmp_path):
    """A taken output is refused at once, even for a slow 4096-bit key."""
    (tmp_path / "app.cer").write_bytes(b"taken")
    from azext_entracert.core.errors import OutputError

    with pytest.raises(OutputError, match="app.cer"):
        custom.cert_create("CN=x", str(tmp_path / "app.pfx"), key_size=4096, no_password=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.cer"]


def test_assemble_joins_the_ca_answer_its_key_and_chain(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from azext_entracert.core import certgen
    from azext_entracert.core.errors import CertificateError

    custom.cert_csr("CN=signed-app", str(tmp_path / "app.key"), str(tmp_path / "app.csr"))
    request = x509.load_pem_x509_csr((tmp_path / "app.csr").read_bytes())
    ca_key = certgen.new_rsa_key(2048)
    ca = certgen.build_certificate(subject=certgen.parse_subject("CN=Test CA"),
                                   public_key=ca_key.public_key(), signing_key=ca_key, purpose="ca")
    signed = certgen.build_certificate(subject=request.subject, public_key=request.public_key(),
                                       signing_key=ca_key, issuer=ca)
    (tmp_path / "app.crt").write_bytes(signed.public_bytes(Encoding.PEM))
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(Encoding.PEM))

    result = custom.cert_assemble(str(tmp_path / "app.crt"), str(tmp_path / "app.key"),
                                  str(tmp_path / "app.pfx"), chain_paths=[str(tmp_path / "ca.pem")],
                                  no_password=True)
    assert result["issuer"] == "CN=Test CA" and result["chainLength"] == 1
    assert result["hasPrivateKey"] and result["files"] == {"pfx": str(tmp_path / "app.pfx")}

    custom.cert_csr("CN=other", str(tmp_path / "other.key"), str(tmp_path / "other.csr"))
    with pytest.raises(CertificateError, match="does not belong"):
        custom.cert_assemble(str(tmp_path / "app.crt"), str(tmp_path / "other.key"),
                             str(tmp_path / "bad.pfx"), no_password=True)
    assert not (tmp_path / "bad.pfx").exists()


def test_an_empty_password_for_a_new_key_takes_the_explicit_no_password_flag(tmp_path,
                                                                            monkeypatch):
    monkeypatch.setenv("EMPTY", "")
    with pytest.raises(az.InvalidArgumentValueError, match="environment variable EMPTY is empty"):
        custom.cert_create("CN=x", str(tmp_path / "x.pfx"), password_env="EMPTY")
    with pytest.raises(az.InvalidArgumentValueError, match="key password from environment"):
        custom.cert_csr("CN=x", str(tmp_path / "x.key"), str(tmp_path / "x.csr"),
                        password_env="EMPTY")
    assert list(tmp_path.iterdir()) == []


def test_a_key_file_without_its_password_names_the_key_password_options(tmp_path, monkeypatch):
    """On show/validate/convert and assemble, --password-env means the certificate's (or the new
    PFX's) password: the hint for an encrypted key file must name --key-password-env instead."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from azext_entracert.core import certgen
    from azext_entracert.core.errors import PasswordError

    monkeypatch.setenv("KEY_PW", "key pw")
    custom.cert_csr("CN=keyed", str(tmp_path / "app.key"), str(tmp_path / "app.csr"),
                    password_env="KEY_PW")
    request = x509.load_pem_x509_csr((tmp_path / "app.csr").read_bytes())
    ca_key = certgen.new_rsa_key(2048)
    signed = certgen.build_certificate(subject=request.subject, public_key=request.public_key(),
                                       signing_key=ca_key)
    (tmp_path / "app.crt").write_bytes(signed.public_bytes(Encoding.PEM))

    with pytest.raises(PasswordError) as shown:
        custom.cert_show(file_path=str(tmp_path / "app.crt"), key_file=str(tmp_path / "app.key"))
    with pytest.raises(PasswordError) as assembled:
        custom.cert_assemble(str(tmp_path / "app.crt"), str(tmp_path / "app.key"),
                             str(tmp_path / "app.pfx"), no_password=True)
    for raised in (shown, assembled):
        assert "app.key" in raised.value.message
        assert "--key-password-env" in raised.value.hint
        assert "--password-env" not in raised.value.hint
    assert not (tmp_path / "app.pfx").exists()

    # Given, the key's own options open it; a wrong one keeps the core's plain "wrong password".
    shown = custom.cert_show(file_path=str(tmp_path / "app.crt"),
                             key_file=str(tmp_path / "app.key"), key_password_env="KEY_PW")
    assert shown["hasPrivateKey"] is True
    monkeypatch.setenv("WRONG", "nope")
    with pytest.raises(PasswordError, match="does not decrypt the key"):
        custom.cert_show(file_path=str(tmp_path / "app.crt"), key_file=str(tmp_path / "app.key"),
                         key_password_env="WRONG")
