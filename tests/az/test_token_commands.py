"""``az entracert profile|token|audit`` end to end: the real az running the wheel-installed
extension against the emulator, which runs in this pytest process and is reached over loopback
TLS. Trust comes from each profile's ``--ca-bundle`` only: REQUESTS_CA_BUNDLE stays the system's,
since per-profile trust is the point.

Each az run costs about a second, so these prove what only a real az run shows (new processes, the
exit code, stdout versus stderr, az's output options, warnings and --debug); the many bad inputs
are covered in-process (test_profile_commands.py).
"""
import base64
import json
from pathlib import Path

import pytest
from conftest import make_certificate, mint_token, pem_of

from azext_entracert.core import certs, profiles


@pytest.fixture
def store(az_env):
    """The profile store of the az runs (this worker's AZURE_CONFIG_DIR)."""
    return profiles.ProfileStore(Path(az_env["AZURE_CONFIG_DIR"]) / "entracert")


@pytest.fixture
def add_profile(store, emulator):
    """Store a profile for an emulator app directly (cheaper than an az run)."""
    def add(name, certificate, client_id, **options):
        values = dict(tenant=emulator.tenant_id, client_id=client_id, certificate=certificate,
                      authority_host=emulator.authority_host, ca_bundle=emulator.ca_bundle)
        values.update(options)
        return store.add(profiles.new_profile(name, **values), replace=True)
    return add


def token_requests(emulator, client_id):
    return [r for r in emulator.requests_log()
            if r["path"].endswith("/oauth2/v2.0/token") and r.get("client_id") == client_id]


def assert_clean_failure(result, *words):
    """Non-zero exit, az's ERROR line with our words, and no traceback."""
    assert result.returncode != 0, result
    assert "ERROR:" in result.stderr and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_a_token_from_the_network_then_from_the_cache_of_a_new_process(az, emulator, make_app):
    app = make_app("az-e2e")
    az("entracert", "profile", "create", "--name", "e2e", "--tenant", emulator.tenant_id,
       "--client-id", app.app_id, "--certificate", app.pem_path,
       "--authority-host", emulator.authority_host, "--ca-bundle", emulator.ca_bundle)
    first = az("entracert", "token", "get", "--profile", "e2e").out
    assert first["source"] == "network" and first["clientId"] == app.app_id
    assert emulator.verify_access_token(first["accessToken"])["appid"] == app.app_id

    emulator.clear_log()
    again = az("entracert", "token", "get", "--profile", "e2e").out
    assert again["source"] == "cache" and again["accessToken"] == first["accessToken"]
    bare = az("entracert", "token", "get", "--profile", "e2e",
              "--query", "accessToken", "-o", "tsv")
    assert bare.out == first["accessToken"] + "\n"
    # -o table is for reading: about the token, not the 1-2 kB token itself.
    table = az("entracert", "token", "get", "--profile", "e2e", "-o", "table").out
    assert "e2e" in table and "cache" in table and first["accessToken"] not in table
    assert [r for r in emulator.requests_log() if app.app_id in json.dumps(r)] == []

    inspected = az("entracert", "token", "inspect", "--profile", "e2e", "--verify").out
    assert inspected["verification"]["valid"] is True
    assert inspected["claims"]["appid"] == app.app_id and inspected["expired"] is False

    audit = az("entracert", "audit", "list", "--profile", "e2e")
    assert [(e["outcome"], e["source"]) for e in audit.out] == [("success", "network")]
    assert first["accessToken"] not in audit.stderr + json.dumps(audit.out)


def test_a_profile_without_the_emulators_ca_fails_on_tls_trust(az, emulator, make_app,
                                                               add_profile):
    app = make_app("az-no-ca")
    add_profile("no-ca", app.pem_path, app.app_id, ca_bundle=None)
    result = az("entracert", "token", "get", "--profile", "no-ca", check=False)
    assert_clean_failure(result, "is not trusted", "--ca-bundle", "127.0.0.1")


def test_an_unregistered_certificate_is_explained_with_its_thumbprint(az, emulator, make_app,
                                                                      add_profile, rsa_keys,
                                                                      tmp_path):
    app = make_app("az-700027")
    stray = make_certificate(rsa_keys[6], "stray")
    (tmp_path / "stray.pem").write_text(pem_of(rsa_keys[6], stray))
    add_profile("stray", str(tmp_path / "stray.pem"), app.app_id)
    result = az("entracert", "token", "get", "--profile", "stray", check=False)
    assert_clean_failure(result, "AADSTS700027", certs.sha1_thumbprint(stray),
                         "az entracert app cert add --profile stray")
    failure = az("entracert", "audit", "list", "--profile", "stray").out[-1]
    assert (failure["outcome"], failure["code"]) == ("failure", 700027)


def test_garbage_from_the_authority_is_an_error_not_a_traceback(az, emulator, make_app,
                                                                add_profile):
    app = make_app("az-garbage")
    add_profile("garbage", app.pem_path, app.app_id)
    emulator.add_fault(f"/{emulator.tenant_id}/oauth2/v2.0/token", body="malformed")
    try:
        result = az("entracert", "token", "get", "--profile", "garbage", check=False)
    finally:
        emulator.clear_faults()
    assert_clean_failure(result, "is not JSON", emulator.authority_host)


def test_profiles_export_and_import_through_az(az, emulator, make_app, add_profile, tmp_path):
    app = make_app("az-export")
    add_profile("exported", app.pem_path, app.app_id, scopes=("api://e/.default",))
    az("entracert", "profile", "export", "--name", "exported", "--out", "p.json")
    assert "PRIVATE KEY" not in (tmp_path / "p.json").read_text()
    imported = az("entracert", "profile", "import", "--file", "p.json", "--name", "imported").out
    shown = az("entracert", "profile", "show", "--name", "exported").out
    assert {**imported, "name": "exported", "isDefault": shown["isDefault"]} == shown
    table = az("entracert", "profile", "list", "-o", "table").out
    assert "imported" in table and shown["thumbprint"] in table
    az("entracert", "profile", "delete", "--name", "imported", "--yes")
    gone = az("entracert", "profile", "show", "--name", "imported", check=False)
    assert_clean_failure(gone, "There is no profile named 'imported'")


def test_expiry_warning_goes_to_stderr_and_only_show_errors_hides_it(az, make_app, add_profile):
    app = make_app("az-expiring", days=5)
    add_profile("expiring", app.pem_path, app.app_id)
    warned = az("entracert", "token", "get", "--profile", "expiring")
    assert "WARNING: The certificate" in warned.stderr and "expires in" in warned.stderr
    assert warned.out["source"] == "network"
    quiet = az("entracert", "token", "get", "--profile", "expiring", "--only-show-errors")
    assert quiet.stderr == "" and quiet.out["source"] == "cache"


def test_debug_output_shows_no_secret(az, make_app, add_profile):
    app = make_app("az-debug")
    add_profile("debug", app.pem_path, app.app_id)
    result = az("entracert", "token", "get", "--profile", "debug", "--debug")
    token = result.out["accessToken"]
    assert "oauth2/v2.0/token" in result.stderr  # the request is logged...
    assert token not in result.stderr  # ...but neither the token...
    assert "client_assertion=" not in result.stderr and "PRIVATE KEY" not in result.stderr


def test_debug_shows_a_token_given_on_the_command_line_only_in_azs_own_argument_line(
        az, make_app, add_profile):
    """Pinned, not fixed: az logs its raw arguments ("Command arguments: [...]") before any
    extension is loaded, so a token given with --token shows there under --debug
    (Azure/azure-cli#20959; the README says so and points at --file/--stdin). Nothing of ours
    repeats it, and --stdin keeps it out of that line."""
    app = make_app("az-debug-arg")
    add_profile("debug-arg", app.pem_path, app.app_id)
    token = az("entracert", "token", "get", "--profile", "debug-arg").out["accessToken"]

    given = az("entracert", "token", "inspect", "--token", token, "--debug")
    lines = [line for line in given.stderr.splitlines() if token in line]
    assert len(lines) == 1 and "Command arguments" in lines[0], lines

    piped = az("entracert", "token", "inspect", "--stdin", "--debug", input=token)
    assert token not in piped.stderr

def test_inspect_of_a_malformed_or_tampered_token(az, emulator, make_app, add_profile, tmp_path):
    garbage = "eyJhbGciOiJSUzI1NiJ9.not-json-at-all.c2ln"
    malformed = az("entracert", "token", "inspect", "--stdin", input=garbage, check=False)
    assert_clean_failure(malformed, "not a readable JWT")
    assert garbage not in malformed.stderr

    app = make_app("az-tamper")
    add_profile("tamper", app.pem_path, app.app_id)
    token = az("entracert", "token", "get", "--profile", "tamper").out["accessToken"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["Admin.Everything"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    (tmp_path / "forged.txt").write_text(".".join((header, forged, signature)))
    result = az("entracert", "token", "inspect", "--file", "forged.txt", "--profile", "tamper",
                "--verify", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.out["verification"]["signature"]["valid"] is False
    assert result.out["verification"]["valid"] is False
    assert result.out["claims"]["roles"] == ["Admin.Everything"]
    assert "does not verify" in result.stderr


def assert_not_trusted(result, *words):
    """Exit 1 after printing the decoded token with ``verification.valid`` false, and why."""
    assert result.returncode == 1 and "Traceback" not in result.stderr, result
    assert result.out["verification"]["valid"] is False, result.out
    for word in words:
        assert word in result.stderr, result.stderr


def test_a_token_naming_an_attackers_keys_never_verifies(az, attacker, make_app, add_profile,
                                                        store, tmp_path):
    """Anyone can run a JWKS endpoint and mint tokens naming it. Even with the attacker's TLS
    certificate trusted (as a public CA's would be), --verify never asks a host only the token
    names: not without profiles, not with a default profile, and --profile finds no such key."""
    (tmp_path / "attacker.txt").write_text(mint_token(attacker))
    trusted = {"REQUESTS_CA_BUNDLE": attacker.ca_bundle}
    attacker.clear_log()
    inspect = ("entracert", "token", "inspect", "--file", "attacker.txt", "--verify")
    alone = az(*inspect, env={**trusted, "AZURE_CONFIG_DIR": str(tmp_path / "no-profiles")},
               check=False)
    app = make_app("az-victim")
    add_profile("victim", app.pem_path, app.app_id)
    store.set_default("victim")
    with_default = az(*inspect, env=trusted, check=False)
    with_profile = az(*inspect, "--profile", "victim", env=trusted, check=False)
    for result in (alone, with_default):
        assert_not_trusted(result, "is not an Entra ID authority", "--profile NAME")
        assert result.out["verification"]["trustedBy"] is None
    assert_not_trusted(with_profile, "does not hold")
    assert with_profile.out["verification"]["signature"]["valid"] is False
    assert attacker.requests_log() == []


def test_verify_trusts_the_authority_the_user_names(az, emulator, make_app, add_profile,
                                                   tmp_path):
    app = make_app("az-verify")
    add_profile("verify", app.pem_path, app.app_id)
    got = az("entracert", "token", "get", "--profile", "verify").out
    (tmp_path / "t.txt").write_text(got["accessToken"])
    aud = emulator.verify_access_token(got["accessToken"])["aud"]
    inspect = ("entracert", "token", "inspect", "--file", "t.txt")
    named = az(*inspect, "--profile", "verify", "--audience", aud).out["verification"]
    assert named["valid"] is True and named["trustedBy"] == "profile 'verify'"
    assert named["audience"] == {"value": aud, "expected": aud, "valid": True}
    assert named["issuer"]["valid"] is True and named["signature"]["valid"] is True
    wrong = az(*inspect, "--profile", "verify", "--audience", "api://other", check=False)
    assert_not_trusted(wrong, f"The token is for audience '{aud}', not 'api://other'.")
    assert wrong.out["verification"]["signature"]["valid"] is True

    # Without --profile, the emulator is not Entra ID: nothing vouches for its keys (a v2 token
    # names its host; a v1 one would send the check to Entra ID's)...
    (tmp_path / "v2.txt").write_text(mint_token(emulator))
    v2 = ("entracert", "token", "inspect", "--file", "v2.txt")
    trusted = {"REQUESTS_CA_BUNDLE": emulator.ca_bundle}
    assert_not_trusted(az(*v2, "--verify", env=trusted, check=False), "--profile NAME")
    # ...unless the user names them, or names the issuer.
    keys = f"{emulator.authority_host}/{emulator.tenant_id}/discovery/v2.0/keys"
    by_keys = az(*inspect, "--jwks-uri", keys, env=trusted).out["verification"]
    assert by_keys["valid"] is True and by_keys["trustedBy"] == "--jwks-uri"
    issuer = f"{emulator.authority_host}/{emulator.tenant_id}/v2.0"
    by_issuer = az(*v2, "--issuer", issuer, env=trusted).out["verification"]
    assert by_issuer["valid"] is True and by_issuer["issuer"]["expected"] == issuer


def test_a_well_signed_token_that_must_not_be_trusted_exits_1(az, emulator, make_app,
                                                             add_profile, tmp_path):
    """Expired, or another tenant's (Entra signs all tenants with the same keys): the signature
    is good, but a script asking --verify must not go on with the token."""
    app = make_app("az-untrusted")
    add_profile("untrusted", app.pem_path, app.app_id)
    other = "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
    (tmp_path / "expired.txt").write_text(mint_token(emulator, iat=1, nbf=1, exp=2))
    (tmp_path / "other.txt").write_text(mint_token(emulator, version=1, tid=other,
                                                   iss=f"https://sts.windows.net/{other}/"))
    for name, words in (("expired.txt", "The token expired at 1970-01-01T00:00:02Z."),
                        ("other.txt", f"The token's issuer 'https://sts.windows.net/{other}/'")):
        result = az("entracert", "token", "inspect", "--file", name, "--profile", "untrusted",
                    "--verify", check=False)
        assert_not_trusted(result, words)
        assert result.out["verification"]["signature"]["valid"] is True
    assert result.out["verification"]["issuer"]["valid"] is False


def test_inspect_help_warns_that_a_token_argument_lands_in_shell_history(az):
    text = " ".join(az("entracert", "token", "inspect", "--help").out.split())
    assert "shell history" in text and "--stdin" in text and "--file" in text


def test_on_a_terminal_the_password_is_asked_at_create_and_when_a_new_token_needs_it(
        az_env, emulator, make_app, tmp_path):
    from azext_entracert.core import certgen

    from .test_prompt import run_on_terminal

    app = make_app("az-prompt")
    certgen.write_bundle(certs.load(app.pem_path), str(tmp_path / "app.pfx"),
                         password=b"typed pw")
    code, screen = run_on_terminal(
        ["entracert", "profile", "create", "--name", "typed", "--tenant", emulator.tenant_id,
         "--client-id", app.app_id, "--certificate", "app.pfx", "--authority-host",
         emulator.authority_host, "--ca-bundle", emulator.ca_bundle, "--query", "thumbprint"],
        az_env, tmp_path, [("assword", "typed pw")])
    assert code == 0 and certs.sha1_thumbprint(app.certificate) in screen, screen
    assert "typed pw" not in screen
    code, screen = run_on_terminal(["entracert", "token", "get", "--profile", "typed",
                                    "--query", "source"], az_env, tmp_path,
                                   [("assword", "typed pw")])
    assert code == 0 and '"network"' in screen, screen
    code, screen = run_on_terminal(["entracert", "token", "get", "--profile", "typed",
                                    "--query", "source"], az_env, tmp_path, [])
    assert code == 0 and '"cache"' in screen and "assword" not in screen, screen


def test_deleting_the_default_profile_leaves_none_and_says_so(az, tmp_path):
    own = {"AZURE_CONFIG_DIR": str(tmp_path / "config")}  # this test's own default
    az("entracert", "cert", "create", "--subject", "CN=d", "--out", "d.pfx", "--no-password")
    for name in ("first", "second"):
        az("entracert", "profile", "create", "--name", name, "--tenant", "contoso.onmicrosoft.com",
           "--client-id", "00000000-0000-0000-0000-000000000001", "--certificate", "d.pfx",
           env=own)
    deleted = az("entracert", "profile", "delete", "--name", "first", "--yes", env=own)
    assert deleted.out == {"deleted": "first", "default": None}
    assert "no default" in deleted.stderr and "profile set-default" in deleted.stderr
    listed = az("entracert", "profile", "list", "--query", "[].isDefault", env=own).out
    assert listed == [False]  # 'second' was not promoted
    bare = az("entracert", "token", "get", env=own, check=False)
    assert_clean_failure(bare, "no default profile", "az entracert profile set-default")


@pytest.mark.parametrize("command", ["create", "update"])
def test_cloud_with_a_conflicting_endpoint_is_refused(az, tmp_path, command):
    own = {"AZURE_CONFIG_DIR": str(tmp_path / "config")}
    az("entracert", "cert", "create", "--subject", "CN=c", "--out", "c.pfx", "--no-password")
    identity = ["--tenant", "contoso.onmicrosoft.com",
                "--client-id", "00000000-0000-0000-0000-000000000001", "--certificate", "c.pfx"]
    if command == "update":
        az("entracert", "profile", "create", "--name", "c", *identity, env=own)
        identity = []
    for flag, value in (("--authority-host", "https://127.0.0.1:8443"),
                        ("--graph-endpoint", "https://graph.microsoft.com")):
        refused = az("entracert", "profile", command, "--name", "c", *identity,
                     "--cloud", "AzureUSGovernment", flag, value, env=own, check=False)
        assert_clean_failure(refused, "--cloud AzureUSGovernment", f"{flag} {value}")
    agreeing = az("entracert", "profile", command, "--name", "c", *identity,
                  "--cloud", "AzureUSGovernment", "--graph-endpoint", "https://graph.microsoft.us",
                  env=own)
    assert agreeing.out["graphEndpoint"] == "https://graph.microsoft.us"


def test_a_changed_certificate_is_never_answered_from_the_cache(az, emulator, make_app,
                                                                add_profile, tmp_path, rsa_keys):
    app = make_app("az-identity")
    add_profile("moving", app.pem_path, app.app_id)
    assert az("entracert", "token", "get", "--profile", "moving").out["source"] == "network"
    stray = tmp_path / "unregistered.pem"
    stray.write_text(pem_of(rsa_keys[9], make_certificate(rsa_keys[9], "unregistered")))
    az("entracert", "profile", "update", "--name", "moving", "--certificate", str(stray))
    result = az("entracert", "token", "get", "--profile", "moving", check=False)
    assert_clean_failure(result, "AADSTS700027")
    add_profile("other", app.pem_path, app.app_id)
    az("entracert", "token", "get", "--profile", "other")
    assert az("entracert", "token", "clear", "--profile", "moving").out == {"removed": 1}
    assert az("entracert", "token", "get", "--profile", "other").out["source"] == "cache"


def test_a_server_asking_to_wait_an_hour_fails_at_once_and_does_not_lock_out(
        az, emulator, make_app, add_profile):
    app = make_app("az-busy")
    add_profile("busy", app.pem_path, app.app_id)
    emulator.add_fault(f"/{emulator.tenant_id}/oauth2/v2.0/token", status=503, retry_after=3600)
    try:
        result = az("entracert", "token", "get", "--profile", "busy", check=False)
    finally:
        emulator.clear_faults()
    assert_clean_failure(result, "asked to wait 3600 s (1 h)")
    assert az("entracert", "token", "get", "--profile", "busy").out["source"] == "network"


def test_a_short_retry_after_is_waited_for_with_a_notice_a_user_sees(az, emulator, make_app,
                                                                      add_profile):
    """No --debug, no --verbose: az's default output shows the one-line notice on stderr."""
    app = make_app("az-short-wait")
    add_profile("patient", app.pem_path, app.app_id)
    emulator.add_fault(f"/{emulator.tenant_id}/oauth2/v2.0/token", status=503, retry_after=1)
    try:
        result = az("entracert", "token", "get", "--profile", "patient")
    finally:
        emulator.clear_faults()
    assert result.out["source"] == "network"
    notices = [line for line in result.stderr.splitlines() if "asking again in" in line]
    assert len(notices) == 1 and "HTTP 503" in notices[0] and "1 s" in notices[0], result.stderr
