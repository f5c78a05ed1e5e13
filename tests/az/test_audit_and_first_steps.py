"""What a new user met (issue 13), through the real az and the wheel-installed extension: the
audit trail naming who changed an application, help that says what the commands do, and inputs
that were silently ignored or cut, now refused with a clear error.
"""
import base64

import pytest
from conftest import make_certificate, pem_of, utc
from cryptography.hazmat.primitives import serialization

from azext_entracert.core import profiles

from .conftest import admin_az


@pytest.fixture(scope="module")
def signed_in(az_env, emulator, tmp_path_factory):
    """az logged in to the emulator as its admin service principal, with a profile 'admin' of
    that same principal; ``run(*args)`` gives (exit code, parsed stdout or text, stderr)."""
    return admin_az(az_env, emulator, tmp_path_factory.mktemp("az-first-steps"))


def _app_profile(run, emulator, app, name="app"):
    run.store.add(profiles.new_profile(
        name, tenant=emulator.tenant_id, client_id=app.app_id, certificate=app.pem_path,
        authority_host=emulator.authority_host, ca_bundle=emulator.ca_bundle), replace=True)


def _cer(tmp_path, key, name):
    path = tmp_path / f"{name}.cer"
    path.write_bytes(make_certificate(key, name).public_bytes(serialization.Encoding.DER))
    return path


# --- Audit says who ------------------------------------------------------------------------------

def test_audit_names_who_changed_which_application(signed_in, emulator, make_app, rsa_keys,
                                                   tmp_path):
    """A change as an admin profile records that profile; one as the az account records the
    account; both name the application changed; -o table shows who."""
    app = make_app("az-audit-actor")
    _app_profile(signed_in, emulator, app)
    signed_in("entracert", "app", "cert", "add", "--profile", "app", "--admin-profile", "admin",
              "--file", _cer(tmp_path, rsa_keys[1], "audit-extra"))
    _, added, _ = signed_in("entracert", "app", "cert", "list", "--profile", "app",
                            "--use-az-login")
    extra = next(c for c in added if not c["isLocal"])
    signed_in("entracert", "app", "cert", "remove", "--profile", "app", "--use-az-login",
              "--key-id", extra["keyId"], "--yes")

    _, trail, _ = signed_in("entracert", "audit", "list", "--profile", "app")
    changes = {e["action"]: e for e in trail if e["source"] == "graph"}
    assert changes["app-cert-add"]["actor"] == {
        "type": "profile", "name": "admin", "clientId": emulator.admin["client_id"],
        "tenant": emulator.tenant_id}
    assert changes["app-cert-remove"]["actor"] == {
        "type": "az", "name": emulator.admin["client_id"], "userType": "servicePrincipal",
        "tenant": emulator.tenant_id}
    assert {e["appId"] for e in changes.values()} == {app.app_id}
    _, table, _ = signed_in("entracert", "audit", "list", "--profile", "app", "-o", "table")
    assert "profile:admin" in table and f"az:{emulator.admin['client_id']}" in table


def test_audit_list_without_profile_lists_every_profile_as_its_help_says(signed_in, emulator,
                                                                         make_app):
    for name in ("one", "two"):
        _app_profile(signed_in, emulator, make_app(f"az-audit-{name}"), name)
        signed_in("entracert", "token", "get", "--profile", name)
    signed_in("entracert", "profile", "set-default", "--name", "one")
    _, trail, _ = signed_in("entracert", "audit", "list")
    assert {"one", "two"} <= {e["profile"] for e in trail}
    _, shown, _ = signed_in("entracert", "audit", "list", "--help")
    assert "every profile's entries" in shown and "else the default profile" not in shown


# --- After removing a certificate ---------------------------------------------------------------

def test_remove_says_issued_tokens_stay_valid_and_how_to_clear_the_cache(signed_in, emulator,
                                                                         make_app, rsa_keys,
                                                                         tmp_path):
    app = make_app("az-remove-note")
    _app_profile(signed_in, emulator, app)
    signed_in("entracert", "app", "cert", "add", "--profile", "app", "--admin-profile", "admin",
              "--file", _cer(tmp_path, rsa_keys[2], "remove-note"))
    own = signed_in.store.get("app").thumbprint
    _, result, stderr = signed_in("entracert", "app", "cert", "remove", "--profile", "app",
                                  "--thumbprint", own, "--force", "--admin-profile", "admin",
                                  "--yes")
    assert result["removed"]["thumbprint"] == own
    assert "stay valid until they expire" in stderr
    assert "az entracert token clear --profile app" in stderr


# --- app cert expiring ---------------------------------------------------------------------------

def test_expiring_says_when_an_expired_certificate_expired(signed_in, emulator, rsa_keys,
                                                           tmp_path):
    key = rsa_keys[3]
    old = make_certificate(key, "long-gone", not_before=utc(-3 * 365 * 86400), days=30)
    pem = tmp_path / "old.pem"
    pem.write_text(pem_of(key, old))
    signed_in.store.add(profiles.new_profile(
        "old", tenant=emulator.tenant_id, client_id="00000000-0000-0000-0000-0000000000aa",
        certificate=str(pem), authority_host=emulator.authority_host,
        ca_bundle=emulator.ca_bundle), replace=True)
    code, report, stderr = signed_in("entracert", "app", "cert", "expiring", "--profile", "old",
                                     check=False)
    ended = old.not_valid_after_utc.date().isoformat()
    assert code == 1 and report["expiring"][0]["expired"] is True
    assert f"expired on {ended}" in stderr and "within 30 day(s)" not in stderr


# --- Refused instead of cut or ignored -----------------------------------------------------------

def test_a_display_name_longer_than_graph_keeps_is_refused(signed_in, emulator, make_app,
                                                           rsa_keys, tmp_path):
    app = make_app("az-long-name")
    _app_profile(signed_in, emulator, app)
    before = emulator.application(app.app_id)["keyCredentials"]
    code, _, stderr = signed_in("entracert", "app", "cert", "add", "--profile", "app",
                                "--admin-profile", "admin", "--display-name", "x" * 91,
                                "--file", _cer(tmp_path, rsa_keys[4], "long-name"), check=False)
    assert code != 0 and "91 characters" in stderr and "at most 90" in stderr
    assert "Traceback" not in stderr
    assert emulator.application(app.app_id)["keyCredentials"] == before


def test_convert_refuses_an_output_password_for_an_output_without_key(signed_in, tmp_path):
    signed_in("entracert", "cert", "create", "--subject", "CN=convert", "--out",
              tmp_path / "c.pfx", "--no-password")
    code, _, stderr = signed_in("entracert", "cert", "convert", "--file", tmp_path / "c.pfx",
                                "--to", "der", "--out", tmp_path / "c.der",
                                "--out-password-env", "PW", check=False)
    assert code != 0 and "--out-password-env does not apply" in stderr
    code, _, stderr = signed_in("entracert", "cert", "convert", "--file", tmp_path / "c.cer",
                                "--to", "pem", "--out", tmp_path / "c2.pem", "--out-no-password",
                                check=False)
    assert code != 0 and "holds no private key" in stderr
    assert not (tmp_path / "c.der").exists() and not (tmp_path / "c2.pem").exists()


def test_a_key_file_with_a_pfx_is_refused(signed_in, tmp_path):
    signed_in("entracert", "cert", "create", "--subject", "CN=keyfile", "--out",
              tmp_path / "k.pfx", "--no-password")
    signed_in("entracert", "cert", "csr", "--subject", "CN=other", "--key-out", tmp_path / "o.key",
              "--out", tmp_path / "o.csr")
    code, _, stderr = signed_in("entracert", "cert", "show", "--file", tmp_path / "k.pfx",
                                "--key-file", tmp_path / "o.key", check=False)
    assert code != 0 and "already holds the private key" in stderr and "--key-file" in stderr


def test_a_jwt_with_a_bad_payload_is_blamed_on_its_payload(signed_in, tmp_path):
    header = base64.urlsafe_b64encode(b'{"alg":"RS256","typ":"JWT"}').rstrip(b"=").decode()
    (tmp_path / "t.txt").write_text(f"{header}.a.c2ln")
    code, _, stderr = signed_in("entracert", "token", "inspect", "--file", tmp_path / "t.txt",
                                check=False)
    assert code != 0 and "its payload (the claims)" in stderr and "header" not in stderr


# --- Help -----------------------------------------------------------------------------------------

def test_offline_commands_hide_the_subscription_and_az_login_ones_keep_it(signed_in):
    for command in (("cert", "show"), ("profile", "create"), ("token", "inspect"),
                    ("audit", "list")):
        _, shown, _ = signed_in("entracert", *command, "--help")
        assert "--subscription" not in shown, command
    _, shown, _ = signed_in("entracert", "app", "cert", "list", "--help")
    assert "--subscription" in shown
    # ... and it is not ignored there: it picks the signed-in account that calls Graph.
    code, _, stderr = signed_in("entracert", "app", "cert", "list", "--profile", "admin",
                                "--use-az-login", "--subscription", "no-such-account",
                                check=False)
    assert code != 0 and "no-such-account" in stderr and "Traceback" not in stderr


def test_help_texts_say_what_the_options_do(signed_in):
    _, shown, _ = signed_in("entracert", "profile", "import", "--help")
    force = shown[shown.index("--force"):].split("\n    --", 1)[0]
    assert "profile of the same name" in force and "output file" not in force
    _, shown, _ = signed_in("entracert", "token", "inspect", "--help")
    assert "default profile's token" not in shown and "profile 'ci'" in shown
