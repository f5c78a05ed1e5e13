"""``az entracert app create|show|list|delete`` and ``app permission add|list|remove`` end to end:
the real az running the wheel-installed extension against the emulator (loopback TLS).

Each az run costs about a second, so each test proves several things a user sees in a row.
"""
import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import make_certificate, pem_of
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12

from azext_entracert.core import audit, profiles

from .conftest import AZ, REPO, admin_az


@pytest.fixture(scope="module")
def az_app(az_env, emulator, tmp_path_factory):
    """az logged in to the emulator as its admin service principal, with the admin profile
    'admin' in its own profile store; ``az_app(*args, check=True, cwd=None)`` runs az."""
    return admin_az(az_env, emulator, tmp_path_factory.mktemp("az-app"))


def _create(az_app, name, tmp_path, *extra, check=True):
    return az_app("entracert", "app", "create", "--display-name", name, "--create-cert",
                  "--out", tmp_path / f"{name}.pfx", "--no-password", *extra, check=check)


def test_create_as_admin_profile_gives_a_working_profile(az_app, emulator, tmp_path):
    """From nothing to a token: application, service principal, certificate, profile, audited;
    the profile inherits the admin profile's tenant, authority, Graph endpoint and CA bundle."""
    _, created, _ = _create(az_app, "onboard-admin", tmp_path, "--profile", "onboarded",
                            "--admin-profile", "admin")
    assert [s["name"] for s in created["steps"] if s["ok"]] == [
        "certificate", "application", "service-principal", "verify-token", "profile"]
    assert Path(created["certificate"]).stat().st_mode & 0o777 == 0o600
    stored = emulator.application(created["appId"])
    assert stored["id"] == created["objectId"] and stored["passwordCredentials"] == []
    assert [k["customKeyIdentifier"] for k in stored["keyCredentials"]] == [created["thumbprint"]]

    profile = az_app.store.get("onboarded")
    assert (profile.client_id, profile.tenant, profile.authority_host, profile.graph_endpoint,
            profile.ca_bundle) == (created["appId"], emulator.tenant_id, emulator.authority_host,
                                   emulator.graph_endpoint, emulator.ca_bundle)
    _, token, _ = az_app("entracert", "token", "get", "--profile", "onboarded")
    assert token["clientId"] == created["appId"]

    # The certificate is written before the application (and its appId) exists.
    entries = [e for e in audit.read(az_app.config) if e["appId"] == created["appId"]
               or created["certificate"] in (e["detail"] or "")]
    assert all(e["actor"]["name"] == "admin" for e in entries if e["source"] == "graph")
    assert [e["action"] for e in entries if e["source"] == "graph"] == [
        f"app-create-{s}" for s in ("certificate", "application", "service-principal",
                                    "verify-token", "profile")]

    _, shown, _ = az_app("entracert", "app", "show", "--profile", "onboarded",
                         "--use-az-login")
    assert (shown["servicePrincipalId"], shown["profiles"]) == (
        created["servicePrincipalId"], ["onboarded"])
    _, listed, _ = az_app("entracert", "app", "list", "--admin-profile", "admin")
    assert any(a["appId"] == created["appId"] and a["profiles"] == ["onboarded"] for a in listed)


def test_create_as_the_az_account_takes_its_cloud_and_trust(az_app, emulator, tmp_path):
    _, created, _ = _create(az_app, "onboard-az", tmp_path, "--profile", "via-az", "--default",
                            "--days", "30", "--key-size", "3072", "--use-az-login")
    _, certificate, _ = pkcs12.load_key_and_certificates(Path(created["certificate"]).read_bytes(),
                                                         None)
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert certificate.public_key().key_size == 3072 and 29 <= lifetime.days <= 31
    profile = az_app.store.get("via-az")
    assert (profile.tenant, profile.authority_host, profile.ca_bundle) == (
        emulator.tenant_id, emulator.authority_host, emulator.ca_bundle)
    assert az_app.store.default_name() == "via-az"
    assert {(e["actor"]["type"], e["actor"]["name"]) for e in audit.read(az_app.config)
            if e["appId"] == created["appId"] and e["source"] == "graph"} == {
        ("az", emulator.admin["client_id"])}
    _, token, _ = az_app("entracert", "token", "get")  # the default profile
    assert token["clientId"] == created["appId"]


@pytest.mark.xdist_group("faults")
def test_create_waits_while_entra_replicates_the_new_application(az_app, emulator, tmp_path):
    emulator.add_fault("/v1.0/applications", method="POST", replication_delay=3)
    try:
        _, created, stderr = _create(az_app, "onboard-slow", tmp_path, "--profile", "slow",
                                     "--admin-profile", "admin")
    finally:
        emulator.clear_faults()
    assert "No token yet for the new certificate" in stderr and "AADSTS700016" in stderr
    assert created["steps"][-1] == {"name": "profile", "ok": True,
                                    "detail": "created profile 'slow'"}


@pytest.mark.xdist_group("faults")
def test_a_wait_that_runs_out_names_what_exists_and_the_commands_to_finish_or_undo(
        az_app, emulator, tmp_path):
    emulator.add_fault("/v1.0/servicePrincipals", method="POST", replication_delay=120)
    try:
        code, _, stderr = _create(az_app, "onboard-stuck", tmp_path, "--profile", "stuck",
                                  "--verify-timeout", "2", "--admin-profile", "admin",
                                  check=False)
    finally:
        emulator.clear_faults()
    assert code == 1 and "Traceback" not in stderr
    assert "stopped at step 'verify-token'" in stderr and "AADSTS7000229" in stderr
    app_id = re.search(r"appId ([0-9a-f-]{36})", stderr).group(1)
    assert f"'az entracert profile create --name stuck --tenant {emulator.tenant_id} " \
           f"--client-id {app_id}" in stderr
    assert "stuck" not in [p.name for p in az_app.store.list()[0]]  # never a profile that fails
    undo = re.search(r"'(az entracert app delete [^']*)'", stderr).group(1)
    az_app(*undo.split()[1:])
    with pytest.raises(KeyError):
        emulator.application(app_id)


def test_no_admin_rights_is_a_403_that_says_who_and_how_to_grant(az_app, make_app, emulator,
                                                                   tmp_path):
    plain = make_app("onboard-no-rights")
    az_app.store.add(profiles.new_profile(
        "plain", tenant=emulator.tenant_id, client_id=plain.app_id, certificate=plain.pem_path,
        authority_host=emulator.authority_host, ca_bundle=emulator.ca_bundle), replace=True)
    code, _, stderr = _create(az_app, "onboard-denied", tmp_path, "--admin-profile", "plain",
                              check=False)
    assert code == 1 and "Traceback" not in stderr
    assert "403" in stderr and "Authorization_RequestDenied" in stderr
    assert f"--admin-profile plain ({plain.app_id}) may not create" in stderr
    assert (f"az entracert app permission add --app-id {plain.app_id} --api graph --role "
            "Application.ReadWrite.All --grant") in stderr
    assert not list(tmp_path.iterdir())  # no certificate left behind


def test_a_display_name_in_use_is_refused_unless_allowed(az_app, emulator, tmp_path):
    existing = emulator.create_application("onboard-taken")
    code, _, stderr = _create(az_app, "onboard-taken", tmp_path, "--admin-profile", "admin",
                              check=False)
    assert code == 1 and "Traceback" not in stderr
    assert f"already exists (appId {existing['appId']})" in stderr
    assert "--allow-duplicate" in stderr and not list(tmp_path.iterdir())
    _, created, _ = _create(az_app, "onboard-taken", tmp_path, "--allow-duplicate",
                            "--admin-profile", "admin")
    assert created["appId"] != existing["appId"] and created["profile"] is None
    # Without --profile, the token check's audit line names the application, not a profile.
    assert [e["profile"] for e in audit.read(az_app.config)
            if e["action"] == "token" and e["clientId"] == created["appId"]] == [
        "(app create onboard-taken)"]


def test_a_display_name_longer_than_graph_keeps_is_refused_before_anything(az_app, tmp_path):
    code, _, stderr = _create(az_app, "x" * 257, tmp_path, "--admin-profile", "admin",
                              check=False)
    assert code == 1 and "Traceback" not in stderr
    assert "257 characters long" in stderr and "at most 256" in stderr
    assert not list(tmp_path.iterdir())  # no certificate written


def test_create_registers_a_certificate_you_have_for_another_audience(az_app, emulator,
                                                                         rsa_keys, tmp_path):
    certificate = make_certificate(rsa_keys[5], "onboard-own")
    pem = tmp_path / "own.pem"
    pem.write_text(pem_of(rsa_keys[5], certificate))
    code, _, stderr = az_app("entracert", "app", "create", "--display-name", "onboard-own",
                             "--file", pem, "--days", "30", "--admin-profile", "admin",
                             check=False)
    assert code != 0 and "--days" in stderr and "--create-cert instead" in stderr
    _, created, _ = az_app("entracert", "app", "create", "--display-name", "onboard-own",
                           "--file", pem, "--sign-in-audience", "AzureADMultipleOrgs",
                           "--profile", "own", "--admin-profile", "admin")
    thumbprint = certificate.fingerprint(hashes.SHA1()).hex().upper()
    assert created["thumbprint"] == thumbprint and created["files"] == []
    stored = emulator.application(created["appId"])
    assert stored["signInAudience"] == "AzureADMultipleOrgs"
    assert [k["customKeyIdentifier"] for k in stored["keyCredentials"]] == [thumbprint]
    assert az_app.store.get("own").certificate == str(pem)


def test_permissions_add_grant_list_remove_and_the_token_roles(az_app, make_app, emulator):
    app = make_app("onboard-perms")
    az_app.store.add(profiles.new_profile(
        "perms", tenant=emulator.tenant_id, client_id=app.app_id, certificate=app.pem_path,
        authority_host=emulator.authority_host, ca_bundle=emulator.ca_bundle), replace=True)
    common = ("--profile", "perms", "--admin-profile", "admin")

    code, _, stderr = az_app("entracert", "app", "permission", "add", "--api", "graph",
                             "--role", "User.Reed.All", *common, check=False)
    assert code == 1 and "no application role 'User.Reed.All'" in stderr
    assert "Directory.Read.All" in stderr and "User.Read.All" in stderr
    code, _, stderr = az_app("entracert", "app", "permission", "add", "--api", "arm",
                             "--role", "Reader", *common, check=False)
    assert code == 1 and "Azure RBAC" in stderr and "az role assignment create" in stderr

    _, added, _ = az_app("entracert", "app", "permission", "add", "--api", "graph", "--role",
                         "User.Read.All", "--grant", *common)
    assert (added["roleId"], added["granted"]) == ("df021288-bdef-4463-88db-98f22de89214", True)
    _, requested, _ = az_app("entracert", "app", "permission", "add", "--api", "graph",
                             "--role", "Application.Read.All", *common)
    assert (requested["requested"], requested["granted"]) == (True, False)
    _, listed, _ = az_app("entracert", "app", "permission", "list", *common)
    assert {(r["role"], r["requested"], r["granted"]) for r in listed} == {
        ("User.Read.All", True, True), ("Application.Read.All", True, False)}
    _, token, _ = az_app("entracert", "token", "get", "--profile", "perms", "--force-refresh")
    assert emulator.verify_access_token(token["accessToken"])["roles"] == ["User.Read.All"]

    az_app("entracert", "app", "permission", "remove", "--api", "graph", "--role",
           "User.Read.All", *common)
    _, listed, _ = az_app("entracert", "app", "permission", "list", *common)
    assert [(r["role"], r["granted"]) for r in listed] == [("Application.Read.All", False)]
    assert [(e["action"], e["actor"]["name"]) for e in audit.read(az_app.config)
            if e["appId"] == app.app_id] == [
        ("app-permission-add", "admin"), ("app-permission-grant", "admin"),
        ("app-permission-add", "admin"), ("app-permission-remove", "admin")]


def test_delete_needs_a_confirmation_and_deletes_with_yes(az_app, make_app, emulator):
    app = make_app("onboard-delete")
    code, _, stderr = az_app("entracert", "app", "delete", "--app-id", app.app_id,
                             "--admin-profile", "admin", check=False)
    assert code != 0 and "--yes" in stderr
    emulator.application(app.app_id)  # still there
    _, deleted, _ = az_app("entracert", "app", "delete", "--app-id", app.app_id,
                           "--admin-profile", "admin", "--yes")
    assert deleted["deleted"] == app.app_id
    with pytest.raises(KeyError):
        emulator.application(app.app_id)


def test_ctrl_d_at_the_delete_confirmation_cancels(az_env, tmp_path):
    from .test_prompt import CTRL_D, run_on_terminal

    code, screen = run_on_terminal(
        ["entracert", "app", "delete", "--app-id", "00000000-0000-0000-0000-000000000001",
         "--admin-profile", "nobody"], az_env, tmp_path, [("(y/n)", CTRL_D)])
    assert code != 0 and "ERROR: Cancelled." in screen, screen
    assert "Traceback" not in screen, screen


def test_the_readme_quick_start_runs_as_written(az_env, tmp_path):
    """Issue 13's "done when": the README's emulator quick start, pasted into bash by a new user
    (own config dir, nothing set up), ends with a token whose roles claim has the granted role."""
    section = (REPO / "README.md").read_text().split("\n## Quick start", 1)[1]
    script = section.split("```bash\n", 1)[1].split("```", 1)[0]
    env = {**az_env, "AZURE_CONFIG_DIR": str(tmp_path / "azure"),
           "PATH": f"{AZ.parent}{os.pathsep}{az_env.get('PATH', '')}"}
    try:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=300)
    finally:  # never leave the background emulator running
        subprocess.run([str(AZ), "entracert", "emulator", "stop", "--state-dir", "emu"],
                       cwd=tmp_path, env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert '"User.Read.All"' in done.stdout and "Traceback" not in done.stderr
    assert (tmp_path / "my-app.pfx").stat().st_mode & 0o777 == 0o600
