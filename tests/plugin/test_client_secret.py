"""``AZURE_CLIENT_SECRET`` as azure-identity names it: with the tenant and client id, and no
certificate configured, the plugin signs in with the secret (development and testing), live
against the emulator; a configured certificate still wins."""
import pytest

SECRET_SIGN_IN = '''
def test_token_was_obtained_with_the_secret(entra_token, entra_config):
    assert entra_config.profile.client_secret_env == "AZURE_CLIENT_SECRET"
    assert entra_config.profile.thumbprint is None
    assert entra_token.claims["appidacr"] == "{acr}"  # 1: a client secret, 2: a certificate
'''


@pytest.fixture
def secret_app(make_app, emulator, monkeypatch, request):
    """An emulator app with a client secret, named by azure-identity's variables."""
    app = make_app(f"plugin-secret-{request.node.name[:16]}")
    secret = emulator.add_client_secret(app.app_id)
    for name, value in (("AZURE_TENANT_ID", emulator.tenant_id), ("AZURE_CLIENT_ID", app.app_id),
                        ("AZURE_CLIENT_SECRET", secret),
                        ("AZURE_AUTHORITY_HOST", emulator.authority_host),
                        ("ENTRACERT_CA_BUNDLE", emulator.ca_bundle)):
        monkeypatch.setenv(name, value)
    return app, secret


def test_azure_client_secret_signs_in_without_a_certificate(pytester, run, secret_app):
    app, secret = secret_app
    pytester.makepyfile(SECRET_SIGN_IN.replace("{acr}", "1"))
    result = run("--entra-mode=live", "-p", "no:xdist", "-p", "no:randomly", "-v",
                 subprocess=True)
    result.assert_outcomes(passed=1)
    output = result.stdout.str() + result.stderr.str()
    assert "client secret in environment variable AZURE_CLIENT_SECRET" in output  # the header
    assert secret not in output


def test_a_configured_certificate_wins_over_azure_client_secret(pytester, run, secret_app,
                                                                monkeypatch):
    app, _ = secret_app
    monkeypatch.setenv("AZURE_CLIENT_CERTIFICATE_PATH", app.pem_path)
    pytester.makepyfile('''
        def test_token_was_obtained_with_the_certificate(entra_token, entra_config):
            assert entra_config.profile.client_secret_env is None
            assert entra_token.claims["appidacr"] == "2"
    ''')
    run("--entra-mode=live", "-p", "no:xdist", "-p", "no:randomly",
        subprocess=True).assert_outcomes(passed=1)
