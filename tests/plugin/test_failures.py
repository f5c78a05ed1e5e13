"""What a user sees when a token cannot be had: the core's message (what, why, how to fix) as the
test's failure, never a traceback through MSAL and requests, and one request to the authority per
identity and scopes however many tests need the token."""
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
    """Not az's ``--password-env``: a pytest user sets AZURE_CLIENT_CERTIFICATE_PASSWORD."""
    from azext_entracert.core import certgen, certs

    pfx = tmp_path / "ci.pfx"
    pfx.write_bytes(certgen.pfx_bytes(certs.load(str(certificate_pem)), b"secret"))
    pytester.makepyfile(THREE_TESTS)
    result = run("--entra-tenant", "11111111-1111-1111-1111-111111111111",
                 "--entra-client-id", "44444444-4444-4444-4444-444444444444",
                 "--entra-cert", str(pfx))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: entracert: *AZURE_CLIENT_CERTIFICATE_PASSWORD*"])
    assert "--password-env" not in result.stderr.str()
