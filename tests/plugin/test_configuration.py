"""Configuration that does what it says: the emulator's default scope is live mode's, relative
paths in the ini file mean what they say wherever pytest starts, misspelt markers and absurd
settings are refused, the space form of path options is caught, and hints name real things."""
import shutil

import pytest

TENANT = "11111111-1111-1111-1111-111111111111"
CLIENT = "44444444-4444-4444-4444-444444444444"


def test_emulator_mode_default_scope_is_live_modes(pytester, run):
    """A test that checks ``aud`` passes against the emulator and a real tenant alike."""
    pytester.makepyfile('''
        def test_default_token_is_for_graph(entra_token, entra_emulator):
            assert entra_token.scopes == ("https://graph.microsoft.com/.default",)
            assert entra_token.claims["aud"] == "https://graph.microsoft.com"
            assert entra_emulator.verify_access_token(entra_token.value)["aud"] == (
                "https://graph.microsoft.com")
    ''')
    run("--entra-mode=emulator", "-p", "no:xdist", subprocess=True).assert_outcomes(passed=1)


PATHS_SEEN = '''
import os

def test_paths(entra_config):
    assert entra_config.profile.certificate == os.environ["EXPECTED_CERT"]
    assert entra_config.profile.ca_bundle == os.environ["EXPECTED_CERT"]
'''


def test_relative_ini_paths_are_relative_to_the_ini_file(pytester, run, monkeypatch,
                                                       certificate_pem):
    certificate = pytester.mkdir("certs") / "identity.pem"
    shutil.copy(certificate_pem, certificate)
    pytester.makeini(f"[pytest]\nentra_tenant = {TENANT}\nentra_client_id = {CLIENT}\n"
                     "entra_cert = certs/identity.pem\nentra_ca_bundle = certs/identity.pem\n")
    tests = pytester.mkdir("tests")
    (tests / "test_paths.py").write_text(PATHS_SEEN)
    monkeypatch.setenv("EXPECTED_CERT", str(certificate))
    monkeypatch.chdir(tests)  # started from a subfolder: cwd-relative would be tests/certs/...
    run().assert_outcomes(passed=1)


def test_relative_command_line_paths_stay_relative_to_the_current_folder(
        pytester, run, monkeypatch, certificate_pem):
    certificate = pytester.mkdir("certs") / "identity.pem"
    shutil.copy(certificate_pem, certificate)
    pytester.makeini(f"[pytest]\nentra_tenant = {TENANT}\nentra_client_id = {CLIENT}\n")
    tests = pytester.mkdir("tests")
    (tests / "test_paths.py").write_text(PATHS_SEEN)
    monkeypatch.setenv("EXPECTED_CERT", str(certificate))
    monkeypatch.chdir(tests)
    run("--entra-cert=../certs/identity.pem", "--entra-ca-bundle=../certs/identity.pem",
        ).assert_outcomes(passed=1)


@pytest.mark.parametrize("marker", ['scope="api://x/.default"', 'scopes="a", profle="p"',
                                    '"api://x/.default", "other"'])
def test_marker_with_an_unknown_keyword_is_a_usage_error(pytester, run, marker):
    pytester.makepyfile(f'''
        import pytest

        @pytest.mark.entra({marker})
        def test_token(entra_token):
            pass

        def test_other():
            pass
    ''')
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: entracert: @pytest.mark.entra on *test_token takes the "
                                 "keywords scopes and profile (or the scopes alone), not *"])
    assert "test_other" not in result.stdout.str()  # nothing ran


def test_misspelt_marker_keyword_is_named(pytester, run):
    pytester.makepyfile('''
        import pytest

        pytestmark = pytest.mark.entra(scope="api://x/.default")

        def test_token():
            pass
    ''')
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*not scope."])


@pytest.mark.parametrize("skew", ["-1", "3001", "86400", "soon"])
def test_absurd_refresh_skew_is_refused(pytester, run, skew):
    pytester.makepyfile("def test_nothing():\n    pass\n")
    pytester.makeini(f"[pytest]\nentra_refresh_skew = {skew}\n")
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: entracert: entra_refresh_skew '{skew}' is not a whole "
                                 "number of seconds from 0 to 3000*"])


@pytest.mark.parametrize("skew", ["0", "3000"])
def test_refresh_skew_within_range_is_used(pytester, run, skew):
    pytester.makepyfile(f'''
        def test_skew(entra_config):
            assert entra_config.refresh_skew == {skew}
    ''')
    pytester.makeini(f"[pytest]\nentra_refresh_skew = {skew}\n")
    run().assert_outcomes(passed=1)


def test_space_form_of_a_path_option_is_warned_about(pytester, run, certificate_pem):
    """``--entra-cert PATH`` anchors pytest's rootdir at the certificate: the ini file (and its
    tenant) is lost. The warning says so and shows the '=' form, which keeps it."""
    pytester.makepyfile("def test_nothing():\n    pass\n")
    pytester.makeini(f"[pytest]\nentra_tenant = {TENANT}\nentra_client_id = {CLIENT}\n")
    spaced = run("--entra-cert", str(certificate_pem), "-p", "no:xdist")
    spaced.stdout.fnmatch_lines([
        "*entracert: --entra-cert was given as '--entra-cert PATH': pytest reads that PATH as a "
        "test path when it looks for its ini file and rootdir*Write --entra-cert=PATH.*"])
    joined = run(f"--entra-cert={certificate_pem}", "-p", "no:xdist")
    assert "--entra-cert PATH" not in joined.stdout.str()
    joined.stdout.fnmatch_lines([f"entracert: mode live, tenant {TENANT}, client id {CLIENT}*"])


def test_path_options_help_shows_the_equals_form(pytester, run):
    help_text = " ".join(run("--help").stdout.str().split())  # unwrapped
    assert "Write --entra-cert=PATH" in help_text and "Write --entra-ca-bundle=PATH" in help_text


def test_hints_name_the_plugins_settings_not_a_profile_that_does_not_exist(
        pytester, run, monkeypatch, emulator, make_app, tmp_path):
    """The identity made from settings is no stored profile: 'az entracert profile update
    --name pytest' would fail, so the hint names --entra-cert instead."""
    app = make_app("plugin-hints")
    certificate = tmp_path / "moving.pem"
    shutil.copy(app.pem_path, certificate)
    for name, value in (("AZURE_TENANT_ID", emulator.tenant_id), ("AZURE_CLIENT_ID", app.app_id),
                        ("AZURE_CLIENT_CERTIFICATE_PATH", str(certificate)),
                        ("AZURE_AUTHORITY_HOST", emulator.authority_host),
                        ("ENTRACERT_CA_BUNDLE", emulator.ca_bundle)):
        monkeypatch.setenv(name, value)
    pytester.makepyfile(f'''
        import os

        import pytest


        def test_certificate_moved_away(entra_token_factory):
            os.remove({str(certificate)!r})
            entra_token_factory()


        def test_credential_says_the_same(entra_credential):
            from azure.core.exceptions import ClientAuthenticationError

            with pytest.raises(ClientAuthenticationError) as raised:
                entra_credential.get_token("https://graph.microsoft.com/.default")
            assert "--entra-cert=PATH" in raised.value.message
            assert "--name pytest" not in raised.value.message
    ''')
    result = run("-p", "no:xdist", "-p", "no:randomly", subprocess=True)
    result.assert_outcomes(failed=1, passed=1)
    output = result.stdout.str()
    assert "Point --entra-cert=PATH (or AZURE_CLIENT_CERTIFICATE_PATH) at the certificate" in output
    assert "--name pytest" not in output and "--profile pytest" not in output


def test_misspelt_marker_fails_its_tests_under_xdist(pytester, run, certificate_pem):
    """An xdist worker cannot end the run with a usage error: the test fails with the words."""
    pytester.makepyfile('''
        import pytest

        @pytest.mark.entra(scope="api://x/.default")
        def test_token(entra_token):
            pass

        def test_other():
            pass
    ''')
    result = run("-n", "2", f"--entra-tenant={TENANT}", f"--entra-client-id={CLIENT}",
                 f"--entra-cert={certificate_pem}", "-rf", subprocess=True)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*entracert: @pytest.mark.entra on *test_token takes the "
                                 "keywords scopes and profile (or the scopes alone), not scope."])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
