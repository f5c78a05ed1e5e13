"""``az entracert cert ...`` end to end: the real az running the extension installed from its wheel.

A few runs that prove the adapter's wiring as a user meets it: files and modes, thumbprints that
agree with openssl, output formatting (-o/--query), exit codes, and errors without tracebacks.
Behaviour in depth is tested in-process (test_custom.py, tests/core).
"""
import datetime
import subprocess

import pytest

OPENSSL = "/usr/bin/openssl"
PASSWORD = {"PFX_PASSWORD": "correct horse battery staple"}


def openssl_fingerprint(path, inform="DER"):
    out = subprocess.run([OPENSSL, "x509", "-in", str(path), "-inform", inform, "-noout",
                          "-fingerprint", "-sha1"], check=True, capture_output=True, text=True)
    return out.stdout.strip().split("=", 1)[1].replace(":", "")


@pytest.fixture(scope="module")
def expired_pem(tmp_path_factory):
    """An RSA-2048/SHA-256 certificate and key that expired yesterday (key file mode 0600)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from azext_entracert.core import certgen
    from azext_entracert.core.fileio import PRIVATE, atomic_write

    folder = tmp_path_factory.mktemp("expired")
    key = certgen.new_rsa_key(2048)
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=30)
    cert = certgen.build_certificate(subject=certgen.parse_subject("CN=expired"),
                                     public_key=key.public_key(), signing_key=key,
                                     not_before=start, days=29)
    pem = cert.public_bytes(Encoding.PEM) + certgen.key_pem(key)
    atomic_write(folder / "expired.pem", pem, mode=PRIVATE)
    return folder / "expired.pem"


@pytest.fixture(scope="module")
def weak_pem(tmp_path_factory):
    """RSA-1024 signed with SHA-1, made by openssl (cryptography refuses to sign with SHA-1)."""
    folder = tmp_path_factory.mktemp("weak")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:1024", "-sha1", "-nodes",
                    "-days", "30", "-subj", "/CN=weak",
                    "-keyout", folder / "weak.key", "-out", folder / "weak.crt"],
                   check=True, capture_output=True)
    (folder / "weak.key").chmod(0o600)
    return folder / "weak.crt", folder / "weak.key"


def test_create_writes_the_bundle_with_thumbprints_openssl_agrees_with(az, tmp_path):
    created = az("entracert", "cert", "create", "--subject", "CN=e2e-app",
                 "--san", "DNS:e2e.example", "--out", "app.pfx",
                 "--password-env", "PFX_PASSWORD", env=PASSWORD).out

    assert (tmp_path / "app.pfx").stat().st_mode & 0o777 == 0o600
    assert created["files"] == {"pfx": "app.pfx", "cer": "app.cer", "pem": "app.pem"}
    openssl_says = openssl_fingerprint(tmp_path / "app.cer")
    assert created["thumbprint"] == openssl_says
    assert created["subjectAltNames"] == ["DNS:e2e.example"] and created["hasPrivateKey"]
    # The PFX opens with the password from the environment, and shows the same certificate.
    shown = az("entracert", "cert", "show", "--file", "app.pfx", "--password-env", "PFX_PASSWORD",
               env=PASSWORD).out
    created_info = {k: v for k, v in created.items() if k != "files"}
    assert shown == {**created_info, "source": shown["source"]}
    # --query and -o tsv are az's own; they work because the command returns plain data.
    tsv = az("entracert", "cert", "show", "--file", "app.cer", "--query", "thumbprint", "-o", "tsv")
    assert tsv.out.strip() == openssl_says


def test_validate_of_a_good_certificate_exits_zero(az, tmp_path):
    az("entracert", "cert", "create", "--subject", "CN=good", "--out", "good.pfx", "--no-password")
    result = az("entracert", "cert", "validate", "--file", "good.pfx")
    assert result.returncode == 0
    assert result.out["valid"] is True
    assert all(check["ok"] for check in result.out["checks"])


def test_validate_of_an_expired_certificate_prints_json_and_exits_non_zero(az, expired_pem):
    result = az("entracert", "cert", "validate", "--file", expired_pem, check=False)
    assert result.returncode == 1
    assert result.out["valid"] is False  # the JSON is printed in full despite the exit code
    failed = {c["name"] for c in result.out["checks"] if not c["ok"] and c["severity"] == "error"}
    assert failed == {"validityPeriod"}
    assert "not valid: failed validityPeriod" in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_exit_code_survives_query_and_other_output_formats(az, weak_pem):
    cert, key = weak_pem
    result = az("entracert", "cert", "validate", "--file", cert, "--key-file", key,
                "--query", "checks[?!ok && severity=='error'].name", "-o", "tsv", check=False)
    assert result.returncode == 1
    assert set(result.out.split()) == {"keySize", "signatureHash"}


@pytest.mark.parametrize("case, content", [("corrupt", b"\x30\x82\x05 not really a pfx"),
                                           ("missing", None)])
def test_bad_input_is_one_clear_error_naming_the_file(az, tmp_path, case, content):
    path = tmp_path / f"{case}.pfx"
    if content is not None:
        path.write_bytes(content)
    result = az("entracert", "cert", "show", "--file", path, check=False)
    assert result.returncode == 1
    assert result.out == ""
    assert result.stderr.startswith("ERROR: ") and str(path) in result.stderr.splitlines()[0]
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2  # the error, then the fix


def test_a_wrong_choice_is_a_usage_error_with_the_allowed_values(az):
    result = az("entracert", "cert", "create", "--subject", "CN=x", "--out", "x.pfx",
                "--no-password", "--key-size", "1024", check=False)
    assert result.returncode == 2  # az's code for a command line it cannot parse
    assert "2048, 3072, 4096" in result.stderr and "Traceback" not in result.stderr


def test_wrong_password_says_so(az, tmp_path):
    az("entracert", "cert", "create", "--subject", "CN=pw", "--out", "pw.pfx",
       "--password-env", "PFX_PASSWORD", env=PASSWORD)
    result = az("entracert", "cert", "show", "--file", "pw.pfx", "--password-env", "PFX_PASSWORD",
                env={"PFX_PASSWORD": "wrong"}, check=False)
    assert result.returncode == 1 and "does not open" in result.stderr
    assert "wrong" not in result.stderr  # the password itself is never echoed


def test_existing_output_is_refused_without_force_and_left_untouched(az, tmp_path):
    (tmp_path / "taken.pfx").write_bytes(b"precious")
    refused = az("entracert", "cert", "create", "--subject", "CN=x", "--out", "taken.pfx",
                 "--no-password", check=False)
    assert refused.returncode == 1
    assert "taken.pfx" in refused.stderr and "--force" in refused.stderr
    assert (tmp_path / "taken.pfx").read_bytes() == b"precious"
    assert not (tmp_path / "taken.cer").exists() and not (tmp_path / "taken.pem").exists()

    az("entracert", "cert", "create", "--subject", "CN=x", "--out", "taken.pfx", "--no-password",
       "--force")
    assert (tmp_path / "taken.pfx").read_bytes() != b"precious"


def test_no_password_source_without_a_terminal_is_refused_before_any_work(az, tmp_path):
    result = az("entracert", "cert", "create", "--subject", "CN=x", "--out", "x.pfx", check=False)
    assert result.returncode == 1
    assert "--password-env" in result.stderr and "--no-password" in result.stderr
    assert list(tmp_path.iterdir()) == []
