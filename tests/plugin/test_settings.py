"""Settings: the option group, precedence CLI > environment > ini, auto/live/off/require, and the
report header. These runs need no network: an identity is resolved, never used."""
import pytest

TENANTS = {"cli": "11111111-1111-1111-1111-111111111111",
           "env": "22222222-2222-2222-2222-222222222222",
           "ini": "33333333-3333-3333-3333-333333333333"}
CLIENT = "44444444-4444-4444-4444-444444444444"
USES_TOKEN = """
def test_uses_token(entra_token):
    pass

def test_needs_nothing():
    pass
"""


def test_auto_without_identity_skips_token_tests_with_one_clear_reason(pytester, run):
    pytester.makepyfile(USES_TOKEN)
    result = run("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines([
        "entracert: no identity configured; tests that need a token are skipped",
        "SKIPPED [[]1[]] *no Entra ID identity is configured: set AZURE_TENANT_ID, AZURE_CLIENT_ID"
        " and AZURE_CLIENT_CERTIFICATE_PATH*--entra-mode=emulator"])


@pytest.mark.parametrize("args", [["--entra-require"], ["--entra-mode", "live"]])
def test_require_and_live_fail_closed_at_session_start(pytester, run, args):
    pytester.makepyfile(USES_TOKEN)
    result = run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: entracert: no Entra ID identity is configured*"])
    assert "test_uses_token" not in result.stdout.str()  # nothing ran


def test_require_from_the_ini_file(pytester, run):
    pytester.makepyfile(USES_TOKEN)
    pytester.makeini("[pytest]\nentra_require = true\n")
    assert run().ret == pytest.ExitCode.USAGE_ERROR


def test_incomplete_identity_names_what_is_missing(pytester, run, monkeypatch):
    pytester.makepyfile(USES_TOKEN)
    monkeypatch.setenv("AZURE_TENANT_ID", TENANTS["env"])
    result = run("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["entracert: identity incomplete: missing --entra-client-id *; "
                                 "tests that need a token are skipped",
                                 "*identity is incomplete: missing --entra-client-id / "
                                 "AZURE_CLIENT_ID, --entra-cert / AZURE_CLIENT_CERTIFICATE_PATH*"])


def test_off_skips_even_a_configured_identity(pytester, run, monkeypatch, certificate_pem):
    pytester.makepyfile(USES_TOKEN)
    for name, value in (("AZURE_TENANT_ID", TENANTS["env"]), ("AZURE_CLIENT_ID", CLIENT),
                        ("AZURE_CLIENT_CERTIFICATE_PATH", str(certificate_pem))):
        monkeypatch.setenv(name, value)
    result = run("--entra-mode", "off", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*entracert is off (--entra-mode=off)*"])


def test_precedence_cli_over_environment_over_ini(pytester, run, monkeypatch, certificate_pem):
    pytester.makepyfile("""
        import os

        def test_source(entra_config):
            assert entra_config.source_of("tenant") == os.environ["EXPECTED_SOURCE"]
    """)
    pytester.makeini(f"[pytest]\nentra_tenant = {TENANTS['ini']}\nentra_client_id = {CLIENT}\n"
                     f"entra_cert = {certificate_pem}\n")

    def tenant_shown(*args, source):
        monkeypatch.setenv("EXPECTED_SOURCE", source)
        result = run(*args)
        result.assert_outcomes(passed=1)
        header = [line for line in result.outlines if line.startswith("entracert:")]
        assert len(header) == 1 and f"client id {CLIENT}" in header[0]
        return header[0].split("tenant ")[1].split(",")[0]

    assert tenant_shown(source="ini") == TENANTS["ini"]
    monkeypatch.setenv("AZURE_TENANT_ID", TENANTS["env"])
    assert tenant_shown(source="env") == TENANTS["env"]
    assert tenant_shown("--entra-tenant", TENANTS["cli"], source="cli") == TENANTS["cli"]


def test_header_shows_identity_and_thumbprint_never_a_password(pytester, run, monkeypatch,
                                                              certificate_pem):
    from azext_entracert.core import certs

    thumbprint = certs.load(str(certificate_pem)).thumbprint
    pytester.makepyfile(USES_TOKEN)
    monkeypatch.setenv("AZURE_CLIENT_CERTIFICATE_PASSWORD", "not-needed-but-secret")
    # --entra-require loads the certificate at start (auto mode names the file: see test_startup)
    result = run("--entra-require", "--entra-tenant", TENANTS["cli"], "--entra-client-id", CLIENT,
                 "--entra-cert", str(certificate_pem), "--collect-only")
    result.stdout.fnmatch_lines([f"entracert: mode live, tenant {TENANTS['cli']}, client id "
                                 f"{CLIENT}, thumbprint {thumbprint}"])
    assert "not-needed-but-secret" not in result.stdout.str() + result.stderr.str()


def test_a_certificate_that_cannot_be_read_is_a_usage_error(pytester, run, tmp_path):
    pytester.makepyfile(USES_TOKEN)
    missing = tmp_path / "nowhere.pfx"
    result = run("--entra-require", "--entra-tenant", TENANTS["cli"], "--entra-client-id", CLIENT,
                 "--entra-cert", str(missing))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: entracert: *{missing}*"])
    assert "Traceback" not in result.stderr.str()


def test_there_is_no_password_option(pytester, run):
    result = run("--help")
    help_text = result.stdout.str()
    for option in ("--entra-mode", "--entra-profile", "--entra-tenant", "--entra-client-id",
                   "--entra-cert", "--entra-authority", "--entra-scope", "--entra-require"):
        assert option in help_text
    assert "password" not in help_text.split("Entra ID tokens")[1].split("\n\n")[0].lower()


def test_marker_is_registered_for_strict_markers(pytester, run):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.entra(scopes=["api://x/.default"])
        def test_marked():
            pass
    """)
    run("--strict-markers").assert_outcomes(passed=1)


def test_fixtures_are_documented(pytester, run):
    """``pytest --fixtures`` (without -v) shows only a docstring's first paragraph: it must be
    the manual, not a teaser."""
    pytester.makepyfile("def test_x(): pass")
    output = run("--fixtures").stdout.str()
    essentials = {"entra_config": ["EntraConfig", "Override it in a ``conftest.py``"],
                  "entra_credential": ["TokenCredential", "get_token_info"],
                  "entra_token_factory": ["profile", "one token request", "Skips the test"],
                  "entra_token": ["@pytest.mark.entra", "entra_refresh_skew", "repr"],
                  "entra_emulator": ["create_application", "grant_app_role", "ca_bundle"]}
    for name, phrases in essentials.items():
        shown = " ".join(output.split(f"\n{name} ")[1].split("\n\n")[0].split())
        for phrase in phrases:
            assert phrase in shown, (name, phrase)


def test_pfx_from_a_base64_variable_with_the_password_from_the_environment(
        pytester, run, monkeypatch, certificate_pem):
    """The CI recipe of the README: the PFX never touches the disk, the password is no option."""
    import base64

    from azext_entracert.core import certgen, certs

    loaded = certs.load(str(certificate_pem))
    pfx = certgen.pfx_bytes(loaded, b"ci-secret-password")
    monkeypatch.setenv("ENTRA_CERT_PFX_BASE64", base64.b64encode(pfx).decode("ascii"))
    monkeypatch.setenv("AZURE_CLIENT_CERTIFICATE_PASSWORD", "ci-secret-password")
    monkeypatch.setenv("AZURE_TENANT_ID", TENANTS["env"])
    monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT)
    pytester.makepyfile("""
        def test_scopes(entra_config):
            assert entra_config.scopes == ("api://a/.default", "api://b/.default",
                                           "api://c/.default")
            assert entra_config.profile.pfx_base64_env == "ENTRA_CERT_PFX_BASE64"
    """)
    result = run("--entra-require", "--entra-pfx-base64-env", "ENTRA_CERT_PFX_BASE64",
                 "--entra-scope", "api://a/.default api://b/.default",
                 "--entra-scope", "api://c/.default")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"entracert: mode live, *thumbprint {loaded.thumbprint}"])


def test_a_wrong_certificate_password_is_a_usage_error(pytester, run, monkeypatch,
                                                       certificate_pem):
    import base64

    from azext_entracert.core import certgen, certs

    pfx = certgen.pfx_bytes(certs.load(str(certificate_pem)), b"right")
    monkeypatch.setenv("ENTRA_CERT_PFX_BASE64", base64.b64encode(pfx).decode("ascii"))
    monkeypatch.setenv("AZURE_CLIENT_CERTIFICATE_PASSWORD", "wrong-password-value")
    pytester.makepyfile(USES_TOKEN)
    result = run("--entra-require", "--entra-tenant", TENANTS["cli"], "--entra-client-id", CLIENT,
                 "--entra-pfx-base64-env", "ENTRA_CERT_PFX_BASE64")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: entracert: *password*"])
    assert "wrong-password-value" not in result.stdout.str() + result.stderr.str()


def test_az_entracert_profiles_named_or_default(pytester, run, monkeypatch, certificate_pem):
    """A profile named on the command line beats the environment's identity; with nothing set,
    the default ``az entracert`` profile is used, as ``az entracert token get`` would."""
    from azext_entracert.core import profiles

    store = profiles.ProfileStore()
    for name, client in (("ci", "55555555-5555-5555-5555-555555555555"), ("other", CLIENT)):
        store.add(profiles.new_profile(name, tenant=TENANTS["ini"], client_id=client,
                                       certificate=str(certificate_pem)))
    pytester.makepyfile(USES_TOKEN)
    run("--collect-only", "--entra-require").stdout.fnmatch_lines(
        ["entracert: mode live, *client id 5555*"])
    monkeypatch.setenv("AZURE_TENANT_ID", TENANTS["env"])
    monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT)
    monkeypatch.setenv("AZURE_CLIENT_CERTIFICATE_PATH", str(certificate_pem))
    run("--collect-only", "--entra-require").stdout.fnmatch_lines(
        [f"entracert: mode live, tenant {TENANTS['env']}*"])
    run("--collect-only", "--entra-require", "--entra-profile", "ci").stdout.fnmatch_lines(
        [f"entracert: mode live, tenant {TENANTS['ini']}, client id 5555*"])
    result = run("--entra-require", "--entra-profile", "missing")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: entracert: There is no profile named 'missing'*"])
