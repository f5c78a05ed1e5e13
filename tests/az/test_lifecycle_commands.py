"""``az entracert app cert ...`` and ``az entracert cert rotate`` end to end: the real az running
the wheel-installed extension against the emulator (loopback TLS), and the real
``az ad app credential list`` agreeing with what our commands registered.

Each az run costs about a second; the many cases live in tests/core/test_lifecycle.py.
"""
import json
import subprocess
from pathlib import Path

import pytest
from conftest import az_environment, make_certificate, pem_of, sign_in_az
from cryptography.hazmat.primitives import serialization

from azext_entracert.core import profiles

from .conftest import AZ


@pytest.fixture(scope="module")
def logged_in(az_env, emulator, tmp_path_factory):
    """az with our extension, logged in to the emulator's tenant as its admin service principal
    (conftest.sign_in_az), with its own config dir and profile store."""
    config = tmp_path_factory.mktemp("az-lifecycle")
    env = {**az_environment(emulator, config, base=az_env), "AZURE_CORE_ONLY_SHOW_ERRORS": "true"}

    def run(*args, check=True):
        output = [] if "-o" in args else ["-o", "json"]  # JSON, unless the test asks otherwise
        done = subprocess.run([str(AZ), *map(str, args), *output], env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=120)
        if check:
            assert done.returncode == 0, f"az {' '.join(map(str, args))}:\n{done.stderr}"
        if output and done.stdout.strip():
            return done.returncode, json.loads(done.stdout), done.stderr
        return done.returncode, done.stdout or None, done.stderr

    sign_in_az(run, emulator)
    store = profiles.ProfileStore(config / "entracert")
    store.add(profiles.new_profile(
        "admin", tenant=emulator.tenant_id, client_id=emulator.admin["client_id"],
        certificate=emulator.admin["certificate"], authority_host=emulator.authority_host,
        ca_bundle=emulator.ca_bundle))
    run.store = store
    return run


@pytest.fixture
def app_profile(logged_in, make_app, emulator, request):
    app = make_app(f"az-lc-{request.node.name[:20]}")
    logged_in.store.add(profiles.new_profile(
        "app", tenant=emulator.tenant_id, client_id=app.app_id, certificate=app.pem_path,
        authority_host=emulator.authority_host, ca_bundle=emulator.ca_bundle), replace=True)
    return app


def test_add_as_admin_then_list_and_az_ad_app_credential_list_agree(logged_in, app_profile,
                                                                    rsa_keys, tmp_path):
    extra = make_certificate(rsa_keys[1], "az-lifecycle-extra")
    cer = tmp_path / "extra.cer"
    cer.write_bytes(extra.public_bytes(serialization.Encoding.DER))
    _, added, _ = logged_in("entracert", "app", "cert", "add", "--profile", "app", "--file", cer,
                            "--display-name", "second", "--admin-profile", "admin")
    _, listed, _ = logged_in("entracert", "app", "cert", "list", "--profile", "app",
                             "--use-az-login")
    assert {(c["keyId"], c["isLocal"]) for c in listed} == {
        (added["keyId"], False),
        next((c["keyId"], True) for c in listed if c["isLocal"])}
    _, theirs, _ = logged_in("ad", "app", "credential", "list", "--id", app_profile.app_id,
                             "--cert")
    assert sorted((k["keyId"], k["customKeyIdentifier"]) for k in theirs) == sorted(
        (c["keyId"], c["thumbprint"]) for c in listed)


def test_rotate_end_to_end(logged_in, app_profile, emulator):
    old = logged_in.store.get("app").thumbprint
    _, result, _ = logged_in("entracert", "cert", "rotate", "--profile", "app", "--days", "20",
                             "--no-password", "--admin-profile", "admin")
    assert [s["name"] for s in result["steps"] if s["ok"]] == [
        "write", "addKey", "verify-token", "switch-profile", "removeKey"]
    assert Path(result["new"]["files"]["pfx"]).stat().st_mode & 0o777 == 0o600
    _, token, _ = logged_in("entracert", "token", "get", "--profile", "app", "--force-refresh")
    assert token["thumbprint"] == result["new"]["thumbprint"] != old
    stored = emulator.application(app_profile.app_id)["keyCredentials"]
    assert [k["customKeyIdentifier"] for k in stored] == [result["new"]["thumbprint"]]


def test_expiring_prints_json_and_exits_1(logged_in, app_profile):
    code, report, stderr = logged_in("entracert", "app", "cert", "expiring", "--days", "60",
                                     "--profile", "app", check=False)
    assert code == 1 and "expire within 60 day(s)" in stderr
    assert [r["where"] for r in report["expiring"]] == ["local"]
    # -o table shows the certificates themselves, not the report's scalar fields.
    code, table, _ = logged_in("entracert", "app", "cert", "expiring", "--days", "60",
                               "--profile", "app", "-o", "table", check=False)
    assert code == 1 and "Thumbprint" in table and report["expiring"][0]["thumbprint"] in table
    code, report, _ = logged_in("entracert", "app", "cert", "expiring", "--days", "5",
                                "--profile", "app", check=False)
    assert code == 0 and report["expiring"] == []


@pytest.mark.xdist_group("faults")
def test_rotate_ca_issued_via_csr_and_complete_waits_out_replication(logged_in, emulator, rsa_keys,
                                                                     tmp_path):
    """A CA-issued certificate is refused a self-signed successor; --csr then --complete --cert
    registers what the CA signed, and the wait for the new key to replicate shows on stderr."""
    from cryptography import x509

    from azext_entracert.core.certgen import build_certificate, parse_subject
    from azext_entracert.core.fileio import PRIVATE, atomic_write

    ca = build_certificate(subject=parse_subject("CN=az Rotation CA"), signing_key=rsa_keys[5],
                           public_key=rsa_keys[5].public_key(), purpose="ca")
    leaf = make_certificate(rsa_keys[6], "az-ca-issued", issuer=ca, issuer_key=rsa_keys[5])
    app = emulator.create_application("az-ca-issued", certificates=[leaf])
    pem = tmp_path / "az-ca-issued.pem"
    atomic_write(pem, pem_of(rsa_keys[6], leaf).encode("ascii"), mode=PRIVATE)
    logged_in.store.add(profiles.new_profile(
        "ca-app", tenant=emulator.tenant_id, client_id=app["appId"], certificate=str(pem),
        authority_host=emulator.authority_host, ca_bundle=emulator.ca_bundle), replace=True)
    rotate = ("entracert", "cert", "rotate", "--profile", "ca-app", "--no-password")

    code, _, stderr = logged_in(*rotate, "--admin-profile", "admin", check=False)
    assert code != 0 and "self-signed" in stderr and "--csr" in stderr
    assert "Traceback" not in stderr and not list(tmp_path.glob("*.pfx"))

    _, requested, _ = logged_in(*rotate, "--csr", "--admin-profile", "admin")
    request = x509.load_pem_x509_csr(Path(requested["new"]["files"]["csr"]).read_bytes())
    signed = tmp_path / "signed.crt"
    signed.write_bytes(build_certificate(
        subject=request.subject, public_key=request.public_key(), signing_key=rsa_keys[5],
        issuer=ca, days=20).public_bytes(serialization.Encoding.PEM))
    emulator.add_fault("/addKey", replication_delay=3)
    try:
        # --verbose: this az runs with only-show-errors, which would hide the progress lines.
        _, result, stderr = logged_in(*rotate, "--complete", "--cert", signed, "--verbose")
    finally:
        emulator.clear_faults()
    assert [s["name"] for s in result["steps"] if s["ok"]] == [
        "write", "addKey", "verify-token", "switch-profile", "removeKey"]
    assert "No token yet for the new certificate" in stderr and "AADSTS700027" in stderr
    stored = emulator.application(app["appId"])["keyCredentials"]
    assert [k["customKeyIdentifier"] for k in stored] == [result["new"]["thumbprint"]]


def test_rotate_of_a_locked_pfx_points_at_the_profiles_password_source(logged_in, app_profile,
                                                                       tmp_path):
    """'cert rotate --password-env' is the NEW PFX's password: when the current certificate's
    password is missing, the hint is the profile's source, not that option."""
    from cryptography.hazmat.primitives.serialization import pkcs12

    pfx, secret = tmp_path / "locked.pfx", tmp_path / "pw.txt"
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(
        b"locked", app_profile.private_key, app_profile.certificate, None,
        serialization.BestAvailableEncryption(b"pw")))
    secret.write_text("pw")
    app = logged_in.store.get("app")
    logged_in.store.add(profiles.new_profile(
        "locked", tenant=app.tenant, client_id=app.client_id, certificate=str(pfx),
        password_file=str(secret), authority_host=app.authority_host, ca_bundle=app.ca_bundle),
        replace=True)
    logged_in.store.update("locked", password_file=None)  # the source is gone

    code, _, stderr = logged_in("entracert", "cert", "rotate", "--profile", "locked",
                                "--admin-profile", "admin", check=False)
    assert code == 1 and "protected by a password" in stderr and "Traceback" not in stderr
    assert "'az entracert profile update --name locked --password-env VAR'" in stderr
    assert "Give it with --password-env" not in stderr
    assert not list(tmp_path.glob("locked-*.pfx"))
