"""``az entracert app secret add|list|remove`` end to end: the real az running the wheel-installed
extension against the emulator (loopback TLS), and real MSAL signing in with the secret it made.

Each az run costs about a second, so each test proves several things a user sees in a row.
"""
import json

import pytest

from azext_entracert.core import audit, profiles

from .conftest import admin_az
from .test_prompt import CTRL_D, run_on_terminal


@pytest.fixture(scope="module")
def az_sec(az_env, emulator, tmp_path_factory):
    """az logged in to the emulator as its admin service principal, with the admin profile
    'admin'; ``az_sec(*args, check=True, cwd=None)`` runs az and returns (code, out, stderr)."""
    return admin_az(az_env, emulator, tmp_path_factory.mktemp("az-secret"))


@pytest.fixture
def app(az_sec, make_app, emulator, request):
    """A fresh application with the profile 'app' (its certificate) pointing at it."""
    made = make_app(f"az-secret-{request.node.name[:20]}")
    az_sec.store.add(profiles.new_profile(
        "app", tenant=emulator.tenant_id, client_id=made.app_id, certificate=made.pem_path,
        authority_host=emulator.authority_host, ca_bundle=emulator.ca_bundle), replace=True)
    return made


def msal_token(emulator, app_id, secret):
    """What real MSAL gets for ``app_id`` with client secret ``secret``: a token or an error."""
    import msal

    client = msal.ConfidentialClientApplication(
        app_id, client_credential=secret, instance_discovery=False,
        authority=f"{emulator.authority_host}/{emulator.tenant_id}")
    return client.acquire_token_for_client(["https://graph.microsoft.com/.default"])


def test_add_prints_it_once_msal_signs_in_list_shows_the_hint_remove_stops_it(
        az_sec, app, emulator, trust_emulator):
    _, added, stderr = az_sec("entracert", "app", "secret", "add", "--profile", "app",
                              "--display-name", "dev", "--days", "30", "--admin-profile", "admin")
    secret = added["secretText"]
    assert added["appId"] == app.app_id and added["hint"] == secret[:3]
    assert (added["displayName"], added["daysLeft"], added["expired"]) == ("dev", 29, False)
    assert "shows a client secret only once" in stderr and "prefer a certificate" in stderr
    assert emulator.verify_access_token(
        msal_token(emulator, app.app_id, secret)["access_token"])["appidacr"] == "1"

    _, listed, _ = az_sec("entracert", "app", "secret", "list", "--app-id", app.app_id,
                          "--use-az-login")
    assert [(s["keyId"], s["hint"], s["displayName"]) for s in listed] == [
        (added["keyId"], secret[:3], "dev")]
    assert secret not in json.dumps(listed) and "secretText" not in listed[0]

    _, removed, _ = az_sec("entracert", "app", "secret", "remove", "--profile", "app",
                           "--key-id", added["keyId"], "--use-az-login", "--yes")
    assert removed["removed"]["keyId"] == added["keyId"] and removed["remaining"] == []
    assert msal_token(emulator, app.app_id, secret).get("error_codes") == [7000215]

    changes = [e for e in audit.read(az_sec.config) if e["appId"] == app.app_id]
    assert [(e["action"], e["profile"], e["actor"]["type"]) for e in changes] == [
        ("app-secret-add", "app", "profile"), ("app-secret-remove", "app", "az")]
    assert changes[0]["actor"]["name"] == "admin"
    assert secret not in (az_sec.config / audit.FILE_NAME).read_text()


def test_out_writes_a_private_file_and_never_shows_the_secret_even_with_debug(
        az_sec, app, emulator, trust_emulator, tmp_path):
    out = tmp_path / "dev-secret.txt"
    _, added, stderr = az_sec("entracert", "app", "secret", "add", "--profile", "app",
                              "--out", out, "--admin-profile", "admin", "--debug")
    secret = out.read_text().rstrip("\n")
    assert out.stat().st_mode & 0o777 == 0o600 and len(secret) >= 16
    assert "secretText" not in added and added["file"] == str(out)
    assert secret not in json.dumps(added) and secret not in stderr
    assert "addPassword" in stderr  # --debug did log the Graph calls
    assert 179 <= added["daysLeft"] <= 180  # the default lifetime
    assert "access_token" in msal_token(emulator, app.app_id, secret)
    _, listed, debug = az_sec("entracert", "app", "secret", "list", "--profile", "app",
                              "--admin-profile", "admin", "--debug")
    assert secret not in debug and [s["keyId"] for s in listed] == [added["keyId"]]

    # An existing file is never overwritten without --force, and no secret is made for it.
    code, _, stderr = az_sec("entracert", "app", "secret", "add", "--profile", "app",
                             "--out", out, "--admin-profile", "admin", check=False)
    assert code == 1 and "already exists" in stderr and "--force" in stderr
    assert out.read_text().rstrip("\n") == secret
    assert len(emulator.application(app.app_id)["passwordCredentials"]) == 1
    az_sec("entracert", "app", "secret", "add", "--profile", "app", "--out", out, "--force",
           "--admin-profile", "admin")
    assert out.read_text().rstrip("\n") != secret and out.stat().st_mode & 0o777 == 0o600


def test_more_than_two_years_is_refused_before_graph(az_sec, app, emulator):
    code, _, stderr = az_sec("entracert", "app", "secret", "add", "--profile", "app", "--days",
                             "731", "--admin-profile", "admin", check=False)
    assert code == 1 and "Traceback" not in stderr
    assert "--days 731" in stderr and "730" in stderr and "certificate" in stderr
    assert emulator.application(app.app_id)["passwordCredentials"] == []


def test_without_admin_rights_a_403_says_who_and_how(az_sec, app, emulator):
    # The application's own profile: an application may not add its own secrets.
    code, _, stderr = az_sec("entracert", "app", "secret", "add", "--profile", "app",
                             "--admin-profile", "app", check=False)
    assert code == 1 and "Traceback" not in stderr
    assert "403" in stderr and "Authorization_RequestDenied" in stderr
    assert f"({app.app_id}) may not manage the client secrets" in stderr
    assert "Application.ReadWrite.All" in stderr
    assert emulator.application(app.app_id)["passwordCredentials"] == []


def test_remove_names_the_registered_keyids_and_asks_to_confirm(az_sec, app, emulator):
    _, added, _ = az_sec("entracert", "app", "secret", "add", "--app-id", app.app_id,
                         "--display-name", "keep", "--use-az-login")
    code, _, stderr = az_sec("entracert", "app", "secret", "remove", "--profile", "app",
                             "--key-id", "11111111-2222-3333-4444-555555555555",
                             "--use-az-login", "--yes", check=False)
    assert code == 1 and f"keyId {added['keyId']} (keep, {added['hint']}...)" in stderr
    code, _, stderr = az_sec("entracert", "app", "secret", "remove", "--profile", "app",
                             "--key-id", added["keyId"], "--use-az-login", check=False)
    assert code != 0 and "--yes" in stderr  # no terminal to ask on
    assert len(emulator.application(app.app_id)["passwordCredentials"]) == 1


def test_ctrl_d_at_the_remove_confirmation_cancels(az_env, tmp_path):
    code, screen = run_on_terminal(
        ["entracert", "app", "secret", "remove", "--app-id",
         "00000000-0000-0000-0000-000000000001", "--key-id",
         "00000000-0000-0000-0000-000000000002", "--admin-profile", "nobody"],
        az_env, tmp_path, [("(y/n)", CTRL_D)])
    assert code != 0 and "ERROR: Cancelled." in screen, screen
    assert "Traceback" not in screen, screen
