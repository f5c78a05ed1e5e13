"""The v1 endpoints real clients still use, and the token endpoint's request details.

v1: ``/{tenant}/oauth2/token`` takes ``resource=`` (no ``scope``) and answers with the v1 shape
(``expires_in`` and friends as strings, ``expires_on``, ``not_before``, ``resource``);
``/{tenant}/.well-known/openid-configuration`` names issuer ``https://sts.windows.net/{tid}/``
(ENTRA-FACTS 8). A ``resource`` sent to the v2 endpoint is AADSTS901002.
"""
import uuid

import jwt
import pytest
import requests

from .test_sts import GRAPH, JWT_BEARER, assert_aadsts, make_assertion, token_request

ARM = "https://management.core.windows.net/"


@pytest.fixture(scope="module")
def app(make_app):
    return make_app("v1-app", key_index=10)


def v1_token_request(emulator, form, *, tenant=None, headers=None):
    url = f"{emulator.authority_host}/{tenant or emulator.tenant_id}/oauth2/token"
    return requests.post(url, data=form, verify=emulator.ca_bundle, timeout=10, headers=headers)


def assertion_form(emulator, app, **extra):
    return {"client_id": app.app_id, "grant_type": "client_credentials",
            "client_assertion_type": JWT_BEARER,
            "client_assertion": make_assertion(emulator, app), **extra}


@pytest.mark.parametrize("tenant", ["guid", "domain"])
def test_v1_discovery_document(emulator, tenant):
    segment = emulator.tenant_id if tenant == "guid" else emulator.tenant_domain
    doc = requests.get(f"{emulator.authority_host}/{segment}/.well-known/openid-configuration",
                       verify=emulator.ca_bundle, timeout=10).json()
    base = f"{emulator.authority_host}/{emulator.tenant_id}"
    assert doc["issuer"] == f"https://sts.windows.net/{emulator.tenant_id}/"
    assert doc["token_endpoint"] == f"{base}/oauth2/token"
    assert doc["authorization_endpoint"] == f"{base}/oauth2/authorize"
    assert "client_secret_basic" in doc["token_endpoint_auth_methods_supported"]
    keys = requests.get(doc["jwks_uri"], verify=emulator.ca_bundle, timeout=10).json()["keys"]
    assert keys and keys[0]["kid"]


def test_v1_discovery_of_an_unknown_tenant_is_refused(emulator):
    response = requests.get(f"{emulator.authority_host}/nosuch.onmicrosoft.com/"
                            ".well-known/openid-configuration", verify=emulator.ca_bundle,
                            timeout=10)
    assert_aadsts(response, 400, 90002, "invalid_tenant")


def test_v1_token_with_resource_has_the_v1_response_shape(emulator, app):
    response = v1_token_request(emulator, assertion_form(emulator, app, resource=ARM))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "expires_on",
                         "not_before", "resource", "access_token"}
    assert body["resource"] == ARM and body["token_type"] == "Bearer"
    for name in ("expires_in", "ext_expires_in", "expires_on", "not_before"):
        assert isinstance(body[name], str) and body[name].isdigit(), name
    claims = emulator.verify_access_token(body["access_token"])
    assert claims["aud"] == ARM and claims["appidacr"] == "2"
    assert claims["iss"] == f"https://sts.windows.net/{emulator.tenant_id}/"
    assert int(body["expires_on"]) == claims["exp"] and int(body["not_before"]) == claims["nbf"]
    assert response.headers["Cache-Control"] == "no-store, no-cache"


def test_v1_assertion_may_name_the_v1_token_endpoint(emulator, app):
    v1_endpoint = f"{emulator.authority_host}/{emulator.tenant_id}/oauth2/token"
    form = assertion_form(emulator, app, resource="https://graph.microsoft.com")
    form["client_assertion"] = make_assertion(emulator, app, claims={"aud": v1_endpoint})
    assert v1_token_request(emulator, form).status_code == 200


def test_v1_requires_resource_and_resolves_it(emulator, app):
    assert_aadsts(v1_token_request(emulator, assertion_form(emulator, app)), 400, 900144)
    assert "'resource'" in v1_token_request(
        emulator, assertion_form(emulator, app, scope=GRAPH)).json()["error_description"]
    unknown = v1_token_request(emulator, assertion_form(emulator, app,
                                                        resource="https://nosuch.example"))
    assert_aadsts(unknown, 400, 500011)


def test_v2_refuses_the_resource_parameter(emulator, app):
    form = assertion_form(emulator, app, resource="https://graph.microsoft.com", scope=GRAPH)
    body = assert_aadsts(token_request(emulator, form), 400, 901002, "invalid_request")
    assert "The 'resource' request parameter is not supported." in body["error_description"]


@pytest.mark.parametrize("endpoint", ["v2", "v1"])
def test_client_request_id_is_echoed_when_asked(emulator, app, endpoint):
    request_id = str(uuid.uuid4())
    send = token_request if endpoint == "v2" else v1_token_request
    extra = {"scope": GRAPH} if endpoint == "v2" else {"resource": "https://graph.microsoft.com"}
    asked = {"client-request-id": request_id, "return-client-request-id": "true"}
    ok = send(emulator, assertion_form(emulator, app, **extra), headers=asked)
    assert ok.status_code == 200 and ok.headers["client-request-id"] == request_id
    refused = send(emulator, {**assertion_form(emulator, app, **extra), "grant_type": "x"},
                   headers=asked)
    assert refused.status_code == 400 and refused.headers["client-request-id"] == request_id
    silent = send(emulator, assertion_form(emulator, app, **extra),
                  headers={"client-request-id": request_id})
    assert "client-request-id" not in silent.headers


def test_v1_token_is_signed_with_the_published_v1_keys(emulator, app):
    body = v1_token_request(emulator, assertion_form(emulator, app, resource=ARM)).json()
    doc = requests.get(f"{emulator.authority_host}/{emulator.tenant_id}/.well-known/"
                       "openid-configuration", verify=emulator.ca_bundle, timeout=10).json()
    client = jwt.PyJWKClient(doc["jwks_uri"], ssl_context=_context(emulator))
    key = client.get_signing_key_from_jwt(body["access_token"])
    claims = jwt.decode(body["access_token"], key.key, algorithms=["RS256"], audience=ARM,
                        issuer=doc["issuer"])
    assert claims["ver"] == "1.0"


def _context(emulator):
    import ssl

    return ssl.create_default_context(cafile=emulator.ca_bundle)
