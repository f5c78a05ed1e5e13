"""Fixtures for the core tests: certificate files written by the real ``openssl`` command line."""
import shutil
import subprocess

import pytest

OPENSSL = shutil.which("openssl")
PASSWORD = "correct horse"


def openssl(*args, cwd=None):
    """Run openssl; return its stdout (text)."""
    result = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def openssl_fingerprint(path, digest="sha1", form="PEM"):
    """The fingerprint openssl prints, as upper hex without colons."""
    out = openssl("x509", "-in", str(path), "-inform", form, "-noout", "-fingerprint", f"-{digest}")
    return out.strip().split("=", 1)[1].replace(":", "").upper()


@pytest.fixture(scope="session")
def openssl_files(tmp_path_factory):
    """Every format users bring, written by openssl from one RSA key, a CA and a leaf it signed."""
    if OPENSSL is None:
        pytest.skip("openssl command line not installed")
    d = tmp_path_factory.mktemp("openssl")
    run = lambda *a: openssl(*a, cwd=d)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-subj", "/CN=Test Root CA", "-days", "30")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
        "-subj", "/CN=leaf-app")
    (d / "ext.cnf").write_text("keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "leaf.pem", "-days", "30", "-extfile", "ext.cnf")
    run("x509", "-in", "leaf.pem", "-outform", "DER", "-out", "leaf.cer")
    pw = f"pass:{PASSWORD}"
    run("pkcs12", "-export", "-in", "leaf.pem", "-inkey", "leaf.key", "-out", "modern.pfx",
        "-passout", pw)
    run("pkcs12", "-export", "-in", "leaf.pem", "-inkey", "leaf.key", "-out", "legacy.pfx",
        "-passout", pw, "-legacy")
    run("pkcs12", "-export", "-in", "leaf.pem", "-inkey", "leaf.key", "-certfile", "ca.pem",
        "-out", "chain.pfx", "-passout", pw)
    run("pkcs12", "-export", "-in", "leaf.pem", "-inkey", "leaf.key", "-out", "nopass.pfx",
        "-passout", "pass:", "-keypbe", "NONE", "-certpbe", "NONE")
    run("pkcs8", "-topk8", "-in", "leaf.key", "-out", "leaf-enc.key", "-passout", pw)
    run("rsa", "-in", "leaf.key", "-traditional", "-out", "leaf-pkcs1.key")
    (d / "combined.pem").write_bytes((d / "leaf.pem").read_bytes() + (d / "leaf.key").read_bytes())
    (d / "combined-enc.pem").write_bytes(
        (d / "leaf-enc.key").read_bytes() + (d / "leaf.pem").read_bytes())
    run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.key")
    run("req", "-x509", "-key", "ec.key", "-out", "ec.pem", "-subj", "/CN=ec", "-days", "30")
    run("req", "-x509", "-newkey", "rsa:1024", "-nodes", "-keyout", "weak.key", "-out", "weak.pem",
        "-subj", "/CN=weak", "-days", "30")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "sha1.key", "-out", "sha1.pem",
        "-subj", "/CN=sha1", "-days", "30", "-sha1")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key",
        "-out", "other.pem", "-subj", "/CN=other", "-days", "30")
    for name in ("leaf.key", "leaf-enc.key", "leaf-pkcs1.key", "combined.pem", "combined-enc.pem",
                 "modern.pfx", "legacy.pfx", "chain.pfx", "nopass.pfx"):
        (d / name).chmod(0o600)
    return d


@pytest.fixture
def entra_dir(tmp_path):
    """The entracert folder of a fresh config dir (where caches and the audit trail go)."""
    return tmp_path / "entracert"


@pytest.fixture
def profile_for(emulator):
    """Factory: ``profile_for(test_app, name="p", **overrides)``, a profile signing in as
    ``test_app`` at the session emulator."""
    from azext_entracert.core import profiles

    def make(test_app, name="p", **overrides):
        values = dict(tenant=emulator.tenant_id, client_id=test_app.app_id,
                      certificate=test_app.pem_path, authority_host=emulator.authority_host,
                      ca_bundle=emulator.ca_bundle)
        values.update(overrides)
        return profiles.new_profile(name, **values)
    return make
