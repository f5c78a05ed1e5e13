"""What a user sees when a token cannot be had: the core's message (what, why, how to fix) as the
test's failure, never a traceback through MSAL and requests, and one request to the authority per
identity and scopes however many tests (and xdist workers) need the token, until the emulator's
state changes. A half-configured identity fails the tests that need a token, never the run."""
import pytest

THREE_TESTS = """
def test_one(entra_token):
    pass

def test_two(entra_token):
    pass

def test_three(entra_token_factory):
    entra_token_factory()
"""


def test_a_refused_certificate_fails_every_test_cleanly_after_one_request(
        pytester, run, monkeypatch, emulator, make_app, certificate_pem):
    app = make_app("plugin-refused", key_index=1)  # registered with another key than ours
    monkeypatch.setenv("AZURE_TENANT_ID", emulator.tenant_id)
    monkeypatch.setenv("AZURE_CLIENT_ID", app.app_id)
    monkeypatch.setenv("AZURE_CLIENT_CERTIFICATE_PATH", str(certificate_pem))
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", emulator.authority_host)
    monkeypatch.setenv("ENTRACERT_CA_BUNDLE", emulator.ca_bundle)
    pytester.makepyfile(THREE_TESTS)
    before = len(refusals(emulator))
    result = run("-p", "no:xdist", subprocess=True)
    result.assert_outcomes(errors=2, failed=1)
    output = result.stdout.str()
    assert output.count("entracert: ") >= 3 and "AADSTS700027" in output
    for noise in ("Traceback", "msal/", "requests/", "site-packages"):
        assert noise not in output
    assert len(refusals(emulator)) == before + 1


def refusals(emulator):
    # the emulator's log has no client_id for this error: count the refusals themselves
    return [r for r in emulator.requests_log() if r["path"].endswith("/oauth2/v2.0/token")
            and r["error_code"] == "AADSTS700027"]


def test_a_pfx_without_its_password_names_the_variable_to_set(pytester, run, tmp_path,
                                                              certificate_pem):
    """Not az's ``--password-env``: a pytest user sets AZURE_CLIENT_CERTIFICATE_PASSWORD.
    (``--entra-require`` stops the run at start; without it, see below.)"""
    from azext_entracert.core import certgen, certs

    pfx = tmp_path / "ci.pfx"
    pfx.write_bytes(certgen.pfx_bytes(certs.load(str(certificate_pem)), b"secret"))
    pytester.makepyfile(THREE_TESTS)
    result = run("--entra-require", "--entra-tenant", "11111111-1111-1111-1111-111111111111",
                 "--entra-client-id", "44444444-4444-4444-4444-444444444444",
                 "--entra-cert", str(pfx))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: entracert: *AZURE_CLIENT_CERTIFICATE_PASSWORD*"])
    assert "--password-env" not in result.stderr.str()


# --- a half-configured identity fails the tests that need a token, never the run ------------

USES_TOKEN = """
def test_uses_token(entra_token):
    pass

def test_needs_nothing():
    pass
"""


TENANT = "11111111-1111-1111-1111-111111111111"
CLIENT = "44444444-4444-4444-4444-444444444444"


def environment_identity(monkeypatch, certificate, *, emulator=None, client_id=None):
    """azure-identity's variables for this certificate (and the emulator's authority)."""
    monkeypatch.setenv("AZURE_TENANT_ID", emulator.tenant_id if emulator else TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", client_id or CLIENT)
    monkeypatch.setenv("AZURE_CLIENT_CERTIFICATE_PATH", str(certificate))
    if emulator is not None:
        monkeypatch.setenv("AZURE_AUTHORITY_HOST", emulator.authority_host)
        monkeypatch.setenv("ENTRACERT_CA_BUNDLE", emulator.ca_bundle)


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_a_missing_certificate_file_fails_only_the_tests_that_need_a_token(
        pytester, run, monkeypatch, tmp_path, xdist):
    missing = tmp_path / "gone.pem"
    environment_identity(monkeypatch, missing)
    pytester.makepyfile(USES_TOKEN)
    result = run(*xdist, subprocess=bool(xdist))
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"entracert: identity incomplete: *{missing}*",
                                 "*ERROR at setup of test_uses_token*",
                                 f"entracert: *{missing}* does not exist*"])
    assert "no identity configured" not in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


def test_an_encrypted_pfx_without_its_password_fails_only_the_tests_that_need_a_token(
        pytester, run, monkeypatch, tmp_path, certificate_pem):
    from azext_entracert.core import certgen, certs

    pfx = tmp_path / "ci.pfx"
    pfx.write_bytes(certgen.pfx_bytes(certs.load(str(certificate_pem)), b"secret"))
    environment_identity(monkeypatch, pfx)
    pytester.makepyfile(USES_TOKEN)
    result = run()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["entracert: identity incomplete: *PASSWORD*",
                                 "*ERROR at setup of test_uses_token*",
                                 "entracert: *AZURE_CLIENT_CERTIFICATE_PASSWORD is not set*"])


@pytest.mark.parametrize("args", [["--entra-require"], ["--entra-mode=live"]])
def test_require_and_live_still_stop_at_a_missing_certificate(pytester, run, monkeypatch,
                                                             tmp_path, args):
    missing = tmp_path / "gone.pem"
    environment_identity(monkeypatch, missing)
    pytester.makepyfile(USES_TOKEN)
    result = run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: entracert: *{missing}*"])


SIX_TESTS = """
import pytest

@pytest.mark.parametrize("n", range(6))
def test_token(n, entra_token_factory):
    entra_token_factory()
"""


def test_a_refusal_is_asked_for_once_across_xdist_workers(
        pytester, run, monkeypatch, emulator, make_app, certificate_pem):
    app = make_app("plugin-refused-xdist", key_index=1)
    environment_identity(monkeypatch, certificate_pem, emulator=emulator, client_id=app.app_id)
    pytester.makepyfile(SIX_TESTS)
    before = len(refusals(emulator))
    result = run("-n", "2", subprocess=True)
    result.assert_outcomes(failed=6)
    assert "AADSTS700027" in result.stdout.str()
    assert len(refusals(emulator)) == before + 1


def test_a_refusal_is_not_remembered_by_the_next_run(
        pytester, run, monkeypatch, emulator, make_app, certificate_pem):
    app = make_app("plugin-refused-twice", key_index=1)
    environment_identity(monkeypatch, certificate_pem, emulator=emulator, client_id=app.app_id)
    pytester.makepyfile(SIX_TESTS)
    before = len(refusals(emulator))
    for _ in range(2):
        run("-n", "2", subprocess=True).assert_outcomes(failed=6)
    assert len(refusals(emulator)) == before + 2


CHANGES_ACROSS_WORKERS = '''
import os
import time
from pathlib import Path

import pytest

SYNC = Path(os.environ["SYNC_DIR"])


def signal(name):
    (SYNC / name).write_text("")


def wait_for(name):
    deadline = time.monotonic() + 60
    while not (SYNC / name).exists():
        assert time.monotonic() < deadline, f"the other worker never said {name}"
        time.sleep(0.05)


@pytest.mark.xdist_group("asker")
def test_asker(entra_token_factory):
    wait_for("registered")
    with pytest.raises(pytest.fail.Exception, match="AADSTS500011"):
        entra_token_factory("api://later/.default")  # no such resource yet: remembered
    assert "roles" not in entra_token_factory("api://orders/.default").claims
    signal("asked")
    wait_for("changed")
    # the other worker registered api://later and granted a role on api://orders
    assert entra_token_factory("api://later/.default").claims["aud"]
    assert entra_token_factory("api://orders/.default").claims["roles"] == ["Orders.Read"]


@pytest.mark.xdist_group("changer")
def test_changer(entra_emulator, entra_token_factory):
    entra_emulator.create_application("orders", identifier_uris=["api://orders"],
                                      app_roles=["Orders.Read"])
    signal("registered")
    wait_for("asked")
    with pytest.raises(pytest.fail.Exception, match="AADSTS500011"):
        entra_token_factory("api://later/.default")  # the other worker's failure, remembered
    entra_emulator.create_application("later", identifier_uris=["api://later"])
    entra_emulator.grant_app_role(entra_emulator.client_id, "api://orders", "Orders.Read")
    signal("changed")
'''


def test_emulator_changes_drop_remembered_failures_and_tokens_in_every_worker(
        pytester, run, monkeypatch, tmp_path):
    """One worker meets a failure and holds a token; the other registers the missing resource
    and grants a role: the first worker's next tokens resolve and carry the role. Token
    requests: the refusal once for both workers, the two tokens twice each (before and after
    the change), and the changing worker's Graph sign-in."""
    monkeypatch.setenv("SYNC_DIR", str(tmp_path))
    pytester.makepyfile(CHANGES_ACROSS_WORKERS)
    result = run("--entra-mode=emulator", "-n", "2", "--dist=loadgroup", "-rf", subprocess=True)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["entracert: the emulator served 5 token request(s)"])


def test_a_credential_failure_is_the_sdks_error_in_one_line(
        pytester, run, monkeypatch, emulator, make_app, certificate_pem):
    """azure-core's ClientAuthenticationError with the explanation, not a chain of tracebacks
    through MSAL and requests beneath the SDK's own frames."""
    app = make_app("plugin-refused-credential", key_index=1)
    environment_identity(monkeypatch, certificate_pem, emulator=emulator, client_id=app.app_id)
    pytester.makepyfile("""
        def test_credential(entra_credential):
            entra_credential.get_token("https://graph.microsoft.com/.default")
    """)
    result = run("-p", "no:xdist", subprocess=True)
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    result.stdout.fnmatch_lines(["E * azure.core.exceptions.ClientAuthenticationError: "
                                 "*AADSTS700027*"])
    assert "direct cause" not in output and "During handling" not in output
    failure = output.split("_ test_credential _")[1].split("short test summary")[0]
    assert len(failure.splitlines()) < 20, failure


def test_credential_failures_are_the_sdks_error_in_every_xdist_worker(
        pytester, run, monkeypatch, emulator, make_app, certificate_pem):
    """The workers that did not ask the authority fail with the refusal the first one met,
    rebuilt from the run's memo: the same ClientAuthenticationError and words."""
    app = make_app("plugin-refused-credential-xdist", key_index=1)
    environment_identity(monkeypatch, certificate_pem, emulator=emulator, client_id=app.app_id)
    pytester.makepyfile("""
        import pytest


        @pytest.mark.parametrize("n", range(4))
        def test_credential(n, entra_credential):
            entra_credential.get_token("https://graph.microsoft.com/.default")
    """)
    result = run("-n", "2", subprocess=True)
    result.assert_outcomes(failed=4)
    output = result.stdout.str()
    assert output.count("azure.core.exceptions.ClientAuthenticationError: ") == 4
    assert output.count("AADSTS700027") >= 4
    assert "direct cause" not in output and "During handling" not in output
