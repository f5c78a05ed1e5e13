"""Client secrets as Entra has them: created by Graph (on create or by addPassword), presented in
the body (``client_secret_post``) or as HTTP Basic (``client_secret_basic``, RFC 6749 2.3.1),
refused with AADSTS7000215 when wrong and 7000222 when expired, stored only as hashes.
"""
import base64
import datetime
from urllib.parse import quote_plus

import pytest
import requests

from .test_graph import admin_token, over_https
from .test_sts import GRAPH, assert_aadsts, token_request
from .test_v1 import v1_token_request

SERVICE_ACTIONS = "New password credentials must be generated using service actions."


def utc(days=0):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)


@pytest.fixture(scope="module")
def holder(make_app):
    return make_app("secrets-app", key_index=11)


@pytest.fixture(scope="module")
def secret(emulator, holder):
    return emulator.add_client_secret(holder.app_id)


def basic(client_id, secret_text):
    """RFC 6749 2.3.1: both parts form-urlencoded, then ``id:secret`` in base64."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret_text)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


FORM = {"grant_type": "client_credentials", "scope": GRAPH}


# --- Graph: where secrets come from --------------------------------------------------------------

def test_create_with_password_credentials_shows_each_secret_once(emulator, trust_emulator):
    """As terraform's azuread provider relies on: Graph generates the secret of a
    passwordCredentials entry sent on create and returns it in the 201 answer only."""
    token = admin_token(emulator)
    end = utc(days=30).strftime("%Y-%m-%dT%H:%M:%SZ")
    status, app = over_https(emulator, "POST", "/v1.0/applications", token, {
        "displayName": "secret on create",
        "passwordCredentials": [{"displayName": "ci", "endDateTime": end}]})
    assert status == 201, app
    [shown] = app["passwordCredentials"]
    text = shown["secretText"]
    assert 16 <= len(text) <= 64 and shown["hint"] == text[:3] and shown["displayName"] == "ci"
    assert shown["endDateTime"] == end and "secretHash" not in shown
    status, read = over_https(emulator, "GET", f"/v1.0/applications/{app['id']}", token)
    assert read["passwordCredentials"][0]["secretText"] is None
    assert text not in str(emulator.application(app["appId"]))  # only a salted hash is stored
    over_https(emulator, "POST", "/v1.0/servicePrincipals", token, {"appId": app["appId"]})
    ok = token_request(emulator, {**FORM, "client_id": app["appId"], "client_secret": text})
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("entry, message", [
    ({"secretText": "my-own-password-123"}, SERVICE_ACTIONS),
    ({"keyId": "5ac1014f-bfdd-49db-8a7c-e4bc48658e03"}, SERVICE_ACTIONS),
    ({"value": "somepass"}, "does not exist on type 'microsoft.graph.passwordCredential'"),
    ({"endDateTime": "2001-01-01T00:00:00Z"}, "end date"),
])
def test_create_refuses_what_only_graph_may_choose(emulator, trust_emulator, entry, message):
    token = admin_token(emulator)
    status, body = over_https(emulator, "POST", "/v1.0/applications", token, {
        "displayName": "refused secret", "passwordCredentials": [entry]})
    assert status == 400 and body["error"]["code"] == "Request_BadRequest"
    assert message in body["error"]["message"]
    status, found = over_https(emulator, "GET", "/v1.0/applications", token,
                               params={"$filter": "displayName eq 'refused secret'"})
    assert found["value"] == []  # nothing half-created


# --- the token endpoint ----------------------------------------------------------------------

def test_secret_in_the_body_for_v1_and_v2_tokens(emulator, holder, secret):
    v2_api = emulator.create_application("secrets-v2-api", requested_token_version=2)
    for scope, acr in ((GRAPH, "appidacr"), (f"{v2_api['appId']}/.default", "azpacr")):
        ok = token_request(emulator, {**FORM, "scope": scope, "client_id": holder.app_id,
                                      "client_secret": secret})
        assert ok.status_code == 200, ok.text
        assert emulator.verify_access_token(ok.json()["access_token"])[acr] == "1"
    v1 = v1_token_request(emulator, {"grant_type": "client_credentials", "client_id": holder.app_id,
                                     "client_secret": secret,
                                     "resource": "https://graph.microsoft.com"})
    assert v1.status_code == 200, v1.text
    assert emulator.verify_access_token(v1.json()["access_token"])["appidacr"] == "1"


def test_client_secret_basic(emulator, holder, secret):
    emulator.clear_log()
    ok = token_request(emulator, FORM, headers=basic(holder.app_id, secret))
    assert ok.status_code == 200, ok.text
    assert emulator.verify_access_token(ok.json()["access_token"])["appidacr"] == "1"
    # requests' own Basic auth (no urlencoding: the same for URL-safe secrets)
    url = f"{emulator.authority_host}/{emulator.tenant_id}/oauth2/token"
    v1 = requests.post(url, data={"grant_type": "client_credentials",
                                  "resource": "https://graph.microsoft.com"},
                       auth=(holder.app_id, secret), verify=emulator.ca_bundle, timeout=10)
    assert v1.status_code == 200, v1.text
    assert [e["credential"] for e in emulator.requests_log()] == ["client_secret_basic"] * 2


def test_client_secret_basic_refusals(emulator, holder, secret, make_app):
    wrong = token_request(emulator, FORM, headers=basic(holder.app_id, secret + "x"))
    assert_aadsts(wrong, 401, 7000215, "invalid_client")
    other = make_app("secrets-other", key_index=11)
    mismatch = token_request(emulator, {**FORM, "client_id": other.app_id},
                             headers=basic(holder.app_id, secret))
    assert_aadsts(mismatch, 401, 7000215)  # the secret is not the body's client's
    for header in ("Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode()):
        malformed = token_request(emulator, {**FORM, "client_id": holder.app_id},
                                  headers={"Authorization": header})
        assert_aadsts(malformed, 401, 7000218)


def test_expired_and_wrong_secrets(emulator, holder, secret):
    old = emulator.add_client_secret(holder.app_id, start=utc(-3), end=utc(-1))
    body = {**FORM, "client_id": holder.app_id}
    assert_aadsts(token_request(emulator, {**body, "client_secret": old}), 401, 7000222)
    assert_aadsts(token_request(emulator, FORM, headers=basic(holder.app_id, old)), 401, 7000222)
    refused = assert_aadsts(token_request(emulator, {**body, "client_secret": "nope"}), 401,
                            7000215)
    assert holder.app_id in refused["error_description"]


def test_msal_with_a_client_secret(emulator, holder, secret, trust_emulator):
    import msal

    client = msal.ConfidentialClientApplication(
        holder.app_id, client_credential=secret, instance_discovery=False,
        authority=f"{emulator.authority_host}/{emulator.tenant_id}")
    result = client.acquire_token_for_client([GRAPH])
    assert emulator.verify_access_token(result["access_token"])["appidacr"] == "1"
    wrong = msal.ConfidentialClientApplication(
        holder.app_id, client_credential=secret[::-1], instance_discovery=False,
        authority=f"{emulator.authority_host}/{emulator.tenant_id}")
    assert wrong.acquire_token_for_client([GRAPH]).get("error_codes") == [7000215]


def test_azure_identity_with_an_expired_secret(emulator, holder, trust_emulator):
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import ClientSecretCredential

    old = emulator.add_client_secret(holder.app_id, start=utc(-3), end=utc(-1))
    credential = ClientSecretCredential(emulator.tenant_id, holder.app_id, old,
                                        authority=emulator.authority_host,
                                        disable_instance_discovery=True)
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000222"):
        credential.get_token(GRAPH)
