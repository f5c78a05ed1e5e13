"""Fixtures for real suites, against the emulator in ``--entra-mode emulator``: an async
azure-core credential in an ``aio`` pipeline, signing in as a second application without a
profile, and a ``requests.Session`` that carries (and renews) the bearer token. Each inner run is
a subprocess: it owns an emulator thread and the log record factory."""
import pytest

# The emulator's Graph lists applications to a caller holding Application.ReadWrite.All.
GRANT = '''
import pytest


@pytest.fixture(scope="session", autouse=True)
def graph_reader(entra_emulator):
    entra_emulator.grant_app_role(entra_emulator.client_id, "https://graph.microsoft.com",
                                  "Application.ReadWrite.All")
'''

ASYNC = '''
import asyncio
import os

import pytest

GRAPH = "https://graph.microsoft.com/.default"


@pytest.mark.asyncio
async def test_aio_pipeline_lists_graph_applications(entra_async_credential, entra_emulator):
    from azure.core.credentials_async import AsyncSupportsTokenInfo, AsyncTokenCredential
    from azure.core.pipeline import AsyncPipeline
    from azure.core.pipeline.policies import AsyncBearerTokenCredentialPolicy
    from azure.core.pipeline.transport import AioHttpTransport
    from azure.core.rest import HttpRequest

    assert isinstance(entra_async_credential, AsyncTokenCredential)
    assert isinstance(entra_async_credential, AsyncSupportsTokenInfo)
    policy = AsyncBearerTokenCredentialPolicy(entra_async_credential, GRAPH)
    transport = AioHttpTransport(connection_verify=entra_emulator.ca_bundle)
    async with entra_async_credential, AsyncPipeline(transport, policies=[policy]) as pipeline:
        url = f"{entra_emulator.graph_endpoint}/v1.0/applications"
        response = (await pipeline.run(HttpRequest("GET", url))).http_response
        assert response.status_code == 200, response.text()
        names = [app["displayName"] for app in response.json()["value"]]
        assert "entracert pytest" in names


@pytest.mark.asyncio
async def test_sync_and_async_share_one_token(entra_async_credential, entra_credential,
                                              entra_emulator):
    info = await entra_async_credential.get_token_info(GRAPH)
    assert info.token_type == "Bearer"
    assert (await entra_async_credential.get_token(GRAPH)).token == info.token
    assert entra_credential.get_token(GRAPH).token == info.token
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # else the other worker's grant may renew it
        assert len(entra_emulator.token_requests(entra_emulator.client_id)) == 1


@pytest.mark.asyncio
async def test_the_event_loop_runs_while_a_token_is_fetched(entra_async_credential,
                                                            entra_emulator):
    entra_emulator.create_application("slow api", identifier_uris=["api://slow"])
    entra_emulator.add_fault("/oauth2/v2.0/token", delay=1)
    ticks = 0

    async def tick():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    await entra_async_credential.get_token("api://slow/.default")
    ticker.cancel()
    assert ticks > 20  # a token request on the loop itself would have stalled it for 1 s


@pytest.mark.asyncio
async def test_another_tenant_is_refused(entra_async_credential):
    from azure.core.exceptions import ClientAuthenticationError

    with pytest.raises(ClientAuthenticationError, match="tenant"):
        await entra_async_credential.get_token(
            GRAPH, tenant_id="00000000-0000-0000-0000-000000000009")
'''


@pytest.mark.parametrize("xdist", [["-p", "no:xdist"], ["-n", "2"]], ids=["one-process", "xdist"])
def test_async_credential_in_an_aio_pipeline(pytester, run, xdist):
    """Under xdist too: the workers' graph_reader fixtures grant once between them (a second
    grant would be a 400), and sync and async credentials share one token."""
    pytester.makeconftest(GRANT)
    pytester.makepyfile(ASYNC)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = run("--entra-mode=emulator", *xdist, "-p", "asyncio", "-v", subprocess=True)
    result.assert_outcomes(passed=4)
    if not xdist[-1].isdigit():  # under xdist a token fetched before a grant is fetched again
        result.stdout.fnmatch_lines(["entracert: the emulator served 2 token request(s)"])


SECOND_APP = '''
import pytest

GRAPH = "https://graph.microsoft.com/.default"


@pytest.fixture(scope="module")
def second(entra_emulator):
    return entra_emulator.create_application("second app", with_certificate=True)


def test_token_as_the_second_application(second, entra_token_factory, entra_emulator):
    token = entra_token_factory(profile=second)
    assert entra_emulator.verify_access_token(token.value)["appid"] == second.client_id
    assert second["appId"] == second.client_id != entra_emulator.client_id
    assert entra_token_factory().client_id == entra_emulator.client_id


def test_credential_as_the_second_application(second, entra_credential_factory, entra_emulator):
    credential = entra_credential_factory(second)
    token = credential.get_token(GRAPH).token
    assert entra_emulator.verify_access_token(token)["appid"] == second.client_id


def test_explicit_client_id_and_certificate(second, entra_token_factory, entra_emulator):
    token = entra_token_factory(client_id=second.client_id, certificate=second.certificate)
    assert entra_emulator.verify_access_token(token.value)["appid"] == second.client_id


def test_credential_with_a_missing_certificate_fails_as_the_sdk_expects(
        second, entra_credential_factory):
    from azure.core.exceptions import ClientAuthenticationError

    credential = entra_credential_factory(client_id=second.client_id, certificate="gone.pem")
    with pytest.raises(ClientAuthenticationError, match="gone.pem") as raised:
        credential.get_token(GRAPH)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_application_without_a_key_cannot_sign_in(entra_emulator, entra_token_factory):
    api = entra_emulator.create_application("keyless api")
    with pytest.raises(TypeError, match="with_certificate=True"):
        entra_token_factory(profile=api)
    with pytest.raises(TypeError, match="client_id= and certificate="):
        entra_token_factory(client_id=api.client_id)


def test_wrong_certificate_fails_in_one_line(second, entra_token_factory, entra_emulator):
    entra_token_factory(client_id=second.client_id, certificate=entra_emulator.certificate)


def test_wrong_key_of_an_emulator_application(second, entra_credential_factory, entra_emulator):
    from azure.core.exceptions import ClientAuthenticationError

    impostor = entra_emulator.create_application("impostor", with_certificate=True)
    impostor.certificate = second.certificate  # a key the emulator never saw for this app
    with pytest.raises(ClientAuthenticationError) as raised:
        entra_credential_factory(impostor).get_token(GRAPH)
    assert "--profile impostor" not in raised.value.message
    assert "entra_emulator.ensure_application(" in raised.value.message, raised.value.message
'''


def test_second_application_signs_in_without_a_profile(pytester, run):
    """Across two xdist workers: a worker registers the application over Graph and writes its
    key beside the emulator's state, which the identity then signs in with."""
    pytester.makepyfile(SECOND_APP)
    result = run("--entra-mode", "emulator", "-n", "2", "--dist", "loadfile", subprocess=True)
    result.assert_outcomes(passed=6, failed=1)
    result.stdout.fnmatch_lines([
        "*_ test_wrong_certificate_fails_in_one_line _*", "[[]gw*",
        "entracert: Entra ID does not accept the certificate *AADSTS700027*"
        "*Pass certificate= a PFX or PEM*"])
    output = result.stdout.str()
    assert "Traceback" not in output
    # no stored profile is named for an identity given by client_id= and certificate=
    assert "--profile explicit" not in output and "--name explicit" not in output


SESSION = '''
import time

import pytest


@pytest.mark.entra(scopes=["https://graph.microsoft.com/.default"])
def test_session_calls_graph_and_renews_its_token(entra_session, entra_emulator,
                                                  entra_token_factory):
    entra_session.verify = entra_emulator.ca_bundle
    url = f"{entra_emulator.graph_endpoint}/v1.0/applications"
    assert entra_session.get(url).status_code == 200
    assert entra_session.get(url).status_code == 200  # the same token, from memory
    assert len(entra_emulator.token_requests(entra_emulator.client_id)) == 1
    # about 200 s of the token's hour left: inside the default 300 s skew
    entra_token_factory.clock = lambda: time.time() + 3400
    assert entra_session.get(url).status_code == 200
    assert len(entra_emulator.token_requests(entra_emulator.client_id)) == 2


def test_without_the_session_graph_refuses(entra_emulator):
    import requests

    url = f"{entra_emulator.graph_endpoint}/v1.0/applications"
    assert requests.get(url, verify=entra_emulator.ca_bundle).status_code == 401
'''


def test_entra_session_sends_and_renews_the_bearer_token(pytester, run, monkeypatch):
    """Also: the session's own ``verify`` wins over ``REQUESTS_CA_BUNDLE``, which plain requests
    lets override it (psf/requests#3829) and which many CI images set."""
    import certifi

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    pytester.makeconftest(GRANT)
    pytester.makepyfile(SESSION)
    result = run("--entra-mode", "emulator", "-p", "no:xdist", "-p", "no:randomly",
                 subprocess=True)
    result.assert_outcomes(passed=2)


def test_new_fixtures_are_documented(pytester, run):
    """``pytest --fixtures`` shows a docstring's first paragraph: it is the manual."""
    pytester.makepyfile("def test_x(): pass")
    output = run("--fixtures").stdout.str()
    essentials = {
        "entra_async_credential": ["AsyncTokenCredential", "get_token_info", "async with",
                                   "executor"],
        "entra_credential_factory": ["TokenCredential", "with_certificate=True", "certificate"],
        "entra_session": ["requests.Session", "@pytest.mark.entra", "verify"],
        "entra_token_factory": ["create_application", "client_id", "certificate"]}
    for name, phrases in essentials.items():
        shown = " ".join(output.split(f"\n{name} ")[1].split("\n\n")[0].split())
        for phrase in phrases:
            assert phrase in shown, (name, phrase)
