"""Emulator mode end to end: the inner run starts the emulator, signs in as its application
through the core (real MSAL, real TLS), and hands tokens to tests, an Azure SDK pipeline included.
Each inner run is a subprocess: it owns an emulator thread and the log record factory."""

END_TO_END = '''
import http.server
import threading

import pytest


def test_token_names_the_emulator_application(entra_token, entra_emulator):
    claims = entra_emulator.verify_access_token(entra_token.value)
    assert claims["appid"] == entra_emulator.client_id == entra_token.client_id
    assert entra_token.claims["aud"] == "https://graph.microsoft.com"  # as in live mode
    assert entra_token.headers() == {"Authorization": "Bearer " + entra_token.value}
    assert entra_token.value not in repr(entra_token) + str(entra_token)


@pytest.mark.entra(scopes=["https://graph.microsoft.com/.default"])
def test_marker_scopes(entra_token):
    assert entra_token.claims["aud"] == "https://graph.microsoft.com"
    assert entra_token.scopes == ("https://graph.microsoft.com/.default",)


def test_second_token_for_the_same_scopes_comes_from_memory(entra_token, entra_token_factory):
    assert entra_token_factory().value == entra_token.value


def test_azure_sdk_pipeline_with_the_credential(entra_credential, entra_emulator):
    from azure.core.pipeline import Pipeline
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy
    from azure.core.pipeline.transport import RequestsTransport
    from azure.core.rest import HttpRequest

    seen = []

    class Api(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            header = self.headers.get("Authorization", "")
            try:
                claims = entra_emulator.verify_access_token(header.removeprefix("Bearer "))
                seen.append(claims["appid"])
                self.send_response(200)
            except Exception:
                self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        policy = BearerTokenCredentialPolicy(entra_credential, "api://loopback/.default")
        entra_emulator.create_application("loopback-api", identifier_uris=["api://loopback"])
        with Pipeline(transport=RequestsTransport(), policies=[policy]) as pipeline:
            url = f"http://127.0.0.1:{server.server_address[1]}/things"
            response = pipeline.run(HttpRequest("GET", url), enforce_https=False).http_response
        assert response.status_code == 200
        assert seen == [entra_emulator.client_id]
        info = entra_credential.get_token_info("api://loopback/.default")
        assert info.token_type == "Bearer" and info.expires_on > 0
    finally:
        server.shutdown()


def test_credential_refuses_another_tenant(entra_credential):
    from azure.core.exceptions import ClientAuthenticationError

    with pytest.raises(ClientAuthenticationError, match="tenant"):
        entra_credential.get_token("https://graph.microsoft.com/.default",
                                   tenant_id="00000000-0000-0000-0000-000000000009")
'''

REFRESH = '''
import time

held = {}


def test_first(entra_token):
    held["first"] = entra_token


def test_time_passes(entra_token_factory):
    # 3100 s later the first token has about 500 s left: inside the conftest's 600 s skew
    # (and outside the default 300 s, so this also proves the override is used).
    entra_token_factory.clock = lambda: time.time() + 3100


def test_refreshed(entra_token, entra_emulator):
    first = held["first"]
    assert entra_token.value != first.value
    assert entra_token.expires_on >= first.expires_on + 3100
    assert len(entra_emulator.token_requests(entra_emulator.client_id)) == 2
'''


def test_emulator_mode_end_to_end(pytester, run):
    pytester.makepyfile(END_TO_END)
    result = run("--entra-mode", "emulator", "-p", "no:xdist", "-v", subprocess=True)
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines([
        "entracert: mode emulator, tenant *, client id *, thumbprint *",
        # the default scope (the marker's too: the same); the loopback API's; nothing more
        "entracert: the emulator served 2 token request(s)"])


OVERRIDE = '''
import dataclasses

import pytest


@pytest.fixture(scope="session")
def entra_config(entra_config):
    return dataclasses.replace(entra_config, refresh_skew=600)
'''


def test_a_token_near_expiry_is_replaced_before_the_next_test(pytester, run):
    pytester.makepyfile(REFRESH)
    pytester.makeconftest(OVERRIDE)
    result = run("--entra-mode", "emulator", "-p", "no:xdist", subprocess=True)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["entracert: the emulator served 2 token request(s)"])


def test_entra_emulator_works_without_emulator_mode(pytester, run):
    pytester.makepyfile('''
        def test_emulator(entra_emulator):
            assert entra_emulator.authority_host.startswith("https://127.0.0.1:")
            assert entra_emulator.jwks_url.endswith("/discovery/v2.0/keys")
            app = entra_emulator.create_application("extra")
            assert entra_emulator.requests_log() == []
            assert app["appId"]
    ''')
    run("-p", "no:xdist", subprocess=True).assert_outcomes(passed=1)
