"""The profile, token and audit command functions in-process, over the real core, real files and
the real emulator (TLS on loopback): what the az layer decides (the active az cloud, option
combinations, which trust settings verify a token) and every bad input of issue 4, each leaving the
profile store and the token cache exactly as they were.

The az runs that prove the wiring as a user meets it (exit codes, stderr, new processes) are in
test_token_commands.py; these cover the many cases cheaply.
"""
import io
import json
import os
import types

import jwt
import pytest
from azure.cli.core import azclierror as az
from azure.cli.core.cloud import AZURE_PUBLIC_CLOUD, Cloud, CloudEndpoints
from conftest import make_certificate, mint_token, pem_of, utc

from azext_entracert import custom_tokens as commands
from azext_entracert.core import cache, certgen, certs
from azext_entracert.core.errors import (
    CertificateError,
    ConfigurationError,
    InputFileError,
    NetworkError,
    OutputError,
    PasswordError,
    ProfileError,
    TokenFormatError,
)

PFX_PASSWORD = "pfx password"


def az_command(cloud):
    """What az hands a command function as ``cmd``: here only its CLI context's active cloud."""
    return types.SimpleNamespace(cli_ctx=types.SimpleNamespace(cloud=cloud))


@pytest.fixture
def entra_dir(tmp_path, monkeypatch):
    """An isolated AZURE_CONFIG_DIR; returns its entracert folder (store, caches, audit)."""
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "azure"))
    for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_CERTIFICATE_PATH"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "azure" / "entracert"


@pytest.fixture
def emulator_cloud(emulator):
    """The emulator registered as the active az cloud, as `az cloud register` would describe it."""
    return az_command(Cloud("Emu", endpoints=CloudEndpoints(
        active_directory=emulator.authority_host,
        microsoft_graph_resource_id=emulator.authority_host + "/")))


@pytest.fixture
def create(emulator, emulator_cloud, entra_dir):
    """``create(name, app, **options)``: profile create for ``app`` trusting the emulator's CA."""
    def run(name, app, **options):
        values = dict(tenant=emulator.tenant_id, client_id=app.app_id, certificate=app.pem_path,
                      ca_bundle=emulator.ca_bundle)
        values.update(options)
        return commands.profile_create(emulator_cloud, name, **values)
    return run


class Snapshot:
    """The bytes of the store and the token cache, to prove a failure changed neither."""

    def __init__(self, entra_dir):
        self.entra_dir = entra_dir
        self.before = self.take()

    def take(self):
        paths = [self.entra_dir / "profiles.json",
                 *sorted((self.entra_dir / cache.TOKEN_DIR).glob("*.json"))]
        return [(path.name, path.read_bytes() if path.exists() else None) for path in paths]

    def unchanged(self):
        return self.take() == self.before


def token_requests(emulator, client_id):
    return [r for r in emulator.requests_log()
            if r["path"].endswith("/oauth2/v2.0/token") and r.get("client_id") == client_id]


# --- profile create ---------------------------------------------------------------------------

def test_create_follows_the_active_az_cloud(make_app, emulator, emulator_cloud, entra_dir):
    app = make_app("cmd-cloud")
    on_emulator = commands.profile_create(emulator_cloud, "emu", emulator.tenant_id, app.app_id,
                                          certificate=app.pem_path)
    assert on_emulator["authorityHost"] == emulator.authority_host
    assert on_emulator["graphEndpoint"] == emulator.authority_host  # trailing slash stripped
    assert on_emulator["cloud"] is None
    public = commands.profile_create(az_command(AZURE_PUBLIC_CLOUD), "public", emulator.tenant_id,
                                     app.app_id, certificate=app.pem_path)
    assert (public["cloud"], public["authorityHost"], public["graphEndpoint"]) == (
        "AzureCloud", "https://login.microsoftonline.com", "https://graph.microsoft.com")
    chosen = commands.profile_create(emulator_cloud, "gov", emulator.tenant_id, app.app_id,
                                     certificate=app.pem_path, cloud="AzureUSGovernment")
    assert chosen["authorityHost"] == "https://login.microsoftonline.us"


def test_create_records_the_certificate_and_stores_no_secret(make_app, create, entra_dir,
                                                             monkeypatch, tmp_path):
    app = make_app("cmd-secret")
    pfx = tmp_path / "app.pfx"
    certgen.write_bundle(certs.load(app.pem_path), str(pfx), password=PFX_PASSWORD.encode())
    monkeypatch.setenv("PFX_PW", PFX_PASSWORD)
    shown = create("ci", app, certificate=str(pfx), password_env="PFX_PW",
                   scopes=["api://x/.default"], send_chain=True)
    assert shown["thumbprint"] == certs.sha1_thumbprint(app.certificate)
    assert shown["certificate"] == str(pfx) and shown["passwordEnv"] == "PFX_PW"
    assert shown["isDefault"] is True and shown["sendChain"] is True
    assert shown["scopes"] == shown["defaultScopes"] == ["api://x/.default"]
    text = (entra_dir / "profiles.json").read_text()
    assert PFX_PASSWORD not in text and "PRIVATE KEY" not in text
    assert (entra_dir / "profiles.json").stat().st_mode & 0o777 == 0o600
    assert commands.profile_show("ci") == shown
    assert [p["name"] for p in commands.profile_list()] == ["ci"]


@pytest.mark.parametrize("options, error, words", [
    (dict(name="taken"), ProfileError, "already exists"),
    (dict(tenant="not a tenant"), ConfigurationError, "neither a GUID nor a domain"),
    (dict(tenant="common"), ConfigurationError, "multi-tenant alias"),
    (dict(client_id="1234"), ConfigurationError, "is not a GUID"),
    (dict(certificate="/nowhere/app.pem"), InputFileError, "does not exist"),
    (dict(authority_host="http://127.0.0.1:1"), ConfigurationError, "not an https URL"),
    (dict(ca_bundle="/nowhere/ca.pem"), InputFileError, "/nowhere/ca.pem"),
    (dict(pfx_base64_env="PFX_B64"), az.MutuallyExclusiveArgumentError, "--pfx-base64-env"),
    (dict(certificate=None), az.RequiredArgumentMissingError, "No certificate"),
])
def test_bad_input_at_create_changes_nothing(make_app, create, entra_dir, options, error, words):
    app = make_app("cmd-bad-create")
    create("taken", app)
    snapshot = Snapshot(entra_dir)
    values = {"name": "new", **options}
    with pytest.raises(error, match=words):
        create(values.pop("name"), app, **values)
    assert snapshot.unchanged()


def test_a_wrong_password_fails_at_create(make_app, create, entra_dir, monkeypatch, tmp_path):
    app = make_app("cmd-wrong-pw")
    certgen.write_bundle(certs.load(app.pem_path), str(tmp_path / "app.pfx"),
                         password=PFX_PASSWORD.encode())
    monkeypatch.setenv("PFX_PW", "not the password")
    with pytest.raises(PasswordError) as raised:
        create("p", app, certificate=str(tmp_path / "app.pfx"), password_env="PFX_PW")
    assert "not the password" not in str(raised.value)
    assert not (entra_dir / "profiles.json").exists()


# --- update, delete, default, export, import ---------------------------------------------------

def test_update_loads_a_new_certificate_only_when_its_options_change(make_app, create, emulator,
                                                                     emulator_cloud, entra_dir):
    first, second = make_app("cmd-update-1"), make_app("cmd-update-2", key_index=1)
    create("u", first)
    changed = commands.profile_update(emulator_cloud, "u", scopes=["api://y/.default"],
                                      legacy_sha1=True, ca_bundle="")
    assert changed["thumbprint"] == certs.sha1_thumbprint(first.certificate)
    assert changed["scopes"] == ["api://y/.default"] and changed["legacySha1"] is True
    assert changed["caBundle"] is None
    renewed = commands.profile_update(emulator_cloud, "u", certificate=second.pem_path,
                                      ca_bundle=emulator.ca_bundle)
    assert renewed["thumbprint"] == certs.sha1_thumbprint(second.certificate)
    assert renewed["notAfter"] and renewed["caBundle"] == emulator.ca_bundle
    assert renewed["scopes"] == ["api://y/.default"]  # untouched options stay
    with pytest.raises(ConfigurationError, match="not a GUID"):
        commands.profile_update(emulator_cloud, "u", client_id="nope")
    assert commands.profile_show("u") == renewed


def test_deleting_the_default_leaves_none_and_set_default_chooses_it(make_app, create, entra_dir):
    app = make_app("cmd-default")
    create("a", app)
    create("b", app)
    assert commands.profile_set_default("b")["isDefault"] is True
    assert commands.profile_delete("b") == {"deleted": "b", "default": None}
    assert commands.profile_set_default("a")["isDefault"] is True
    with pytest.raises(ProfileError, match="no profile named 'b'"):
        commands.profile_set_default("b")


def test_export_holds_no_secret_and_import_restores_it(make_app, create, entra_dir, tmp_path):
    app = make_app("cmd-export")
    original = create("orig", app, password_file=str(tmp_path / "pw"), scopes=["api://z/.default"])
    out = tmp_path / "orig.json"
    assert commands.profile_export("orig", str(out)) == {"name": "orig", "file": str(out)}
    text = out.read_text()
    assert "PRIVATE KEY" not in text and original["thumbprint"] in text
    with pytest.raises(OutputError):
        commands.profile_export("orig", str(out))
    copy = commands.profile_import(str(out), name="copy")
    assert {**copy, "name": "orig", "isDefault": True} == original
    with pytest.raises(ProfileError, match="already exists") as taken:
        commands.profile_import(str(out))
    assert "--force" in taken.value.hint
    assert commands.profile_import(str(out), force=True)["name"] == "orig"


@pytest.mark.parametrize("content, words", [
    ("{not json", "is not JSON"),
    ('{"kind": "something else"}', "not an entracert profile export"),
])
def test_import_refuses_what_export_did_not_write(entra_dir, tmp_path, content, words):
    (tmp_path / "in.json").write_text(content)
    with pytest.raises(ConfigurationError, match=words) as refused:
        commands.profile_import(str(tmp_path / "in.json"))
    assert "in.json" in refused.value.message
    assert not (entra_dir / "profiles.json").exists()


# --- token get: bad input leaves store and cache intact ----------------------------------------

@pytest.fixture
def cached(make_app, create, entra_dir):
    """A profile with one token already cached, so a failure can be shown to keep it."""
    def make(name, **options):
        app = make_app(name, **{k: options.pop(k) for k in ("key_index", "days", "not_before")
                                if k in options})
        create(name, app, **options)
        commands.token_get(profile=name)
        return app, Snapshot(entra_dir)
    return make


def test_unknown_profile(entra_dir):
    with pytest.raises(ProfileError, match="no profile named 'ghost'"):
        commands.token_get(profile="ghost")


def test_moved_certificate(cached, tmp_path):
    app, snapshot = cached("cmd-moved")
    os.replace(app.pem_path, tmp_path / "moved.pem")
    with pytest.raises(InputFileError, match="does not exist"):
        commands.token_get(profile="cmd-moved", force_refresh=True)
    assert snapshot.unchanged()


def test_changed_certificate_reports_both_thumbprints(cached, rsa_keys):
    app, snapshot = cached("cmd-changed")
    stranger = make_certificate(rsa_keys[5], "stranger")
    with open(app.pem_path, "w", encoding="ascii") as handle:
        handle.write(pem_of(rsa_keys[5], stranger))
    with pytest.raises(CertificateError) as raised:
        commands.token_get(profile="cmd-changed", force_refresh=True)
    assert certs.sha1_thumbprint(app.certificate) in raised.value.message
    assert certs.sha1_thumbprint(stranger) in raised.value.message
    assert "profile update --name cmd-changed" in raised.value.hint
    assert snapshot.unchanged()


def test_wrong_password_at_token_time(make_app, create, entra_dir, monkeypatch, tmp_path):
    app = make_app("cmd-pw-later")
    certgen.write_bundle(certs.load(app.pem_path), str(tmp_path / "app.pfx"),
                         password=PFX_PASSWORD.encode())
    monkeypatch.setenv("PFX_PW", PFX_PASSWORD)
    create("pw", app, certificate=str(tmp_path / "app.pfx"), password_env="PFX_PW")
    snapshot = Snapshot(entra_dir)
    monkeypatch.setenv("PFX_PW", "rotated")
    with pytest.raises(PasswordError):
        commands.token_get(profile="pw")
    assert snapshot.unchanged()


def test_expired_certificate_is_refused_before_calling_entra(make_app, create, emulator,
                                                            entra_dir, caplog):
    app = make_app("cmd-expired", days=1, not_before=utc(-3 * 86400))
    create("old", app)
    assert "expired on" in caplog.text  # create warns at once
    snapshot = Snapshot(entra_dir)
    emulator.clear_log()
    with pytest.raises(CertificateError, match="no request was sent") as raised:
        commands.token_get(profile="old")
    assert "az entracert cert create" in raised.value.hint
    assert token_requests(emulator, app.app_id) == []
    assert snapshot.unchanged()


def test_certificate_expiring_soon_is_warned_about(make_app, create, caplog):
    create("soon", make_app("cmd-soon", days=10))
    caplog.clear()
    commands.token_get(profile="soon")
    assert "expires in 9 day(s)" in caplog.text or "expires in 10 day(s)" in caplog.text


@pytest.mark.parametrize("fault, words", [
    (dict(status=503, count=3), "answered HTTP 503"),  # 1 try + 2 retries, then give up
    (dict(body="malformed"), "not JSON"),
])
def test_a_failing_authority_is_explained_and_audited(cached, emulator, fault, words):
    name = f"cmd-fault-{fault.get('status', 'json')}"
    _, snapshot = cached(name)
    emulator.add_fault("/oauth2/v2.0/token", **fault)
    try:
        with pytest.raises(NetworkError, match=words) as raised:
            commands.token_get(profile=name, force_refresh=True)
    finally:
        emulator.clear_faults()
    assert emulator.authority_host in raised.value.message
    assert snapshot.unchanged()
    last = commands.audit_list(profile=name)[-1]
    assert last["outcome"] == "failure" and words in last["detail"]


def test_an_authority_that_does_not_speak_tls(make_app, create, plain_http_server):
    create("plain", make_app("cmd-plain"), authority_host=plain_http_server)
    with pytest.raises(NetworkError, match="does not speak TLS"):
        commands.token_get(profile="plain")


def test_an_unreachable_authority(make_app, create):
    create("down", make_app("cmd-down"), authority_host="https://127.0.0.1:9")
    with pytest.raises(NetworkError, match="127.0.0.1:9 cannot be reached"):
        commands.token_get(profile="down")


@pytest.fixture
def plain_http_server():
    """An HTTP (not HTTPS) server on loopback, as a mistyped authority port would reach."""
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# --- token get, refresh, clear -----------------------------------------------------------------

def test_get_refresh_and_clear(make_app, create, emulator, entra_dir):
    app, other = make_app("cmd-tokens"), make_app("cmd-tokens-other")
    create("t", app)
    create("o", other)
    first = commands.token_get(profile="t", resource="https://management.core.windows.net/")
    assert first["scopes"] == ["https://management.core.windows.net//.default"]
    assert first["source"] == "network" and first["thumbprint"] == certs.sha1_thumbprint(
        app.certificate)
    assert commands.token_get(profile="t", scopes=first["scopes"])["source"] == "cache"
    refreshed = commands.token_refresh(profile="t", scopes=first["scopes"])
    assert refreshed["source"] == "network" and refreshed["accessToken"] != first["accessToken"]
    commands.token_get(profile="o")
    assert commands.token_clear(profile="t") == {"removed": 1}
    assert commands.token_get(profile="o")["source"] == "cache"  # the other client's stays
    assert commands.token_clear() == {"removed": 1}
    with pytest.raises(ConfigurationError, match="cannot be used together"):
        commands.token_get(profile="t", scopes=["a/.default"], resource="b")


def test_environment_identity_needs_no_profile(make_app, emulator, entra_dir, monkeypatch):
    app = make_app("cmd-environment")
    monkeypatch.setenv("AZURE_TENANT_ID", emulator.tenant_id)
    monkeypatch.setenv("AZURE_CLIENT_ID", app.app_id)
    monkeypatch.setenv("AZURE_CLIENT_CERTIFICATE_PATH", app.pem_path)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", emulator.authority_host)
    monkeypatch.setenv("ENTRACERT_CA_BUNDLE", emulator.ca_bundle)
    token = commands.token_get()
    assert token["profile"] == "environment" and token["clientId"] == app.app_id


# --- token inspect -----------------------------------------------------------------------------

def test_inspect_a_profile_token_and_verify_it(make_app, create, emulator, emulator_cloud):
    app = make_app("cmd-inspect")
    create("i", app)
    result = commands.token_inspect(emulator_cloud, profile="i", verify=True)
    assert result["claims"]["appid"] == app.app_id and result["expired"] is False
    assert result["verification"]["valid"] is True
    assert result["verification"]["jwksUri"].startswith(emulator.authority_host)
    assert set(result["issuedAt"]) == {"local", "utc"}


def test_inspect_reads_files_stdin_and_the_json_of_token_get(make_app, create, emulator_cloud,
                                                             monkeypatch, tmp_path):
    create("s", make_app("cmd-inspect-sources"))
    got = commands.token_get(profile="s")
    (tmp_path / "token.txt").write_text(got["accessToken"] + "\n")
    from_file = commands.token_inspect(emulator_cloud, file_path=str(tmp_path / "token.txt"))
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(got)))
    from_stdin = commands.token_inspect(emulator_cloud, stdin=True)
    monkeypatch.setattr("sys.stdin", io.StringIO("Bearer " + got["accessToken"]))
    from_dash = commands.token_inspect(emulator_cloud, token="-")
    assert from_file["claims"] == from_stdin["claims"] == from_dash["claims"]


def test_verify_trusts_the_default_profiles_authority_only_when_named(make_app, create, emulator,
                                                                      emulator_cloud):
    """Keys come from an authority the user names: a default profile is not an implicit one.
    (A v2 token names the emulator's host; a v1 one would send the check to Entra ID's.)"""
    create("default-trust", make_app("cmd-default-trust"), make_default=True)
    token = mint_token(emulator)
    exits = []
    cmd = az_command(emulator_cloud.cli_ctx.cloud)
    cmd.cli_ctx.register_event = lambda event, handler: exits.append(event)  # exit 1 after output
    unnamed = commands.token_inspect(cmd, token=token, verify=True)["verification"]
    assert unnamed["valid"] is False and unnamed["trustedBy"] is None and len(exits) == 1
    named = commands.token_inspect(emulator_cloud, token=token, profile="default-trust",
                                   verify=True)
    assert named["verification"]["valid"] is True


@pytest.mark.parametrize("text, words", [
    ("not-a-token", "not a JWT"),
    ("eyJhbGciOiJSUzI1NiJ9.@@@.c2ln", "not a readable JWT"),
])
def test_inspect_of_a_malformed_token_never_echoes_it(entra_dir, emulator_cloud, text, words):
    with pytest.raises(TokenFormatError, match=words) as raised:
        commands.token_inspect(emulator_cloud, token=text)
    assert text not in str(raised.value)


def test_inspect_needs_a_token_source(entra_dir, emulator_cloud):
    with pytest.raises(az.RequiredArgumentMissingError, match="No token") as raised:
        commands.token_inspect(emulator_cloud)
    assert "--stdin" in raised.value.recommendations[0]
    with pytest.raises(az.MutuallyExclusiveArgumentError):
        commands.token_inspect(emulator_cloud, token="a.b.c", file_path="t.txt")


# --- audit list --------------------------------------------------------------------------------

def test_audit_lists_network_acquisitions_without_tokens(make_app, create, entra_dir):
    create("aud", make_app("cmd-audit"))
    got = commands.token_get(profile="aud")
    commands.token_get(profile="aud")  # a cache hit is not audited
    entries = commands.audit_list(profile="aud", since="1h")
    assert [e["outcome"] for e in entries] == ["success"]
    assert entries[0]["thumbprintSha256"] == commands.profile_show("aud")["thumbprintSha256"]
    assert got["accessToken"] not in json.dumps(entries)
    assert commands.audit_list(profile="aud", limit=0) == []
    assert commands.audit_list(profile="someone-else") == []
    with pytest.raises(ConfigurationError, match="not a time"):
        commands.audit_list(since="yesterday")


def test_the_access_token_is_a_real_emulator_token(make_app, create, emulator):
    """Sanity: what `token get` prints verifies with the emulator's own key."""
    create("real", make_app("cmd-real"))
    token = commands.token_get(profile="real")["accessToken"]
    assert emulator.verify_access_token(token)["appid"] == jwt.decode(
        token, options={"verify_signature": False})["appid"]


def test_importing_the_command_module_leaves_heavy_libraries_to_the_commands():
    """az imports custom_tokens to read a command's signature: msal & co. load only when run."""
    import subprocess
    import sys

    code = ("import sys, azure.cli.core, knack.log; before = set(sys.modules);"
            "import azext_entracert.custom_tokens; new = set(sys.modules) - before;"
            "print(sorted(m for m in new if m.split('.')[0] in "
            "('msal', 'cryptography', 'requests', 'jwt', 'urllib3')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
