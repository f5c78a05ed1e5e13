"""Directory objects and tokens behave as in Entra (issue 10, ENTRA-FACTS 3.3 and 8).

Everything goes over real HTTPS: Graph writes with the admin's token, token requests through real
MSAL (``acquire_token_for_client``), and each refusal is asserted as the AADSTS code MSAL hands
its caller.
"""
import json
import subprocess
import sys
import time

import jwt
import pytest

from .test_graph import admin_token, key_credential, make_cert, msal_token, over_https, proof

GRAPH = "https://graph.microsoft.com/.default"


@pytest.fixture
def admin(emulator, trust_emulator):
    """The emulator admin's Graph token (Application.ReadWrite.All); MSAL trusts the emulator."""
    return admin_token(emulator)


@pytest.fixture
def lag(emulator):
    """Sets the emulator's replication delay for one test, and puts it back to 0 after."""
    yield emulator.set_replication_delay
    emulator.set_replication_delay(0)
    emulator.clear_faults()


def graph_app(emulator, admin, name, cert=None, **fields):
    """An application created through Graph (no service principal yet)."""
    body = {"displayName": name, **fields}
    if cert is not None:
        body["keyCredentials"] = [key_credential(cert)]
    status, app = over_https(emulator, "POST", "/v1.0/applications", admin, body)
    assert status == 201, app
    return app


def create_sp(emulator, admin, app_id):
    return over_https(emulator, "POST", "/v1.0/servicePrincipals", admin, {"appId": app_id})


def refused_with(result, code, error=None):
    assert "access_token" not in result, result
    assert result["error_codes"] == [code], result
    assert result["error_description"].startswith(f"AADSTS{code}: ")
    if error:
        assert result["error"] == error
    return result


# --- service principals are separate objects ---------------------------------------------------

def test_an_application_signs_in_only_once_its_service_principal_exists(emulator, admin,
                                                                        rsa_keys):
    cert = make_cert(rsa_keys[2], cn="objects-sp")
    app = graph_app(emulator, admin, "objects-sp", cert)
    status, found = over_https(emulator, "GET", "/v1.0/servicePrincipals", admin,
                               params={"$filter": f"appId eq '{app['appId']}'"})
    assert status == 200 and found["value"] == []

    result = refused_with(msal_token(emulator, app["appId"], rsa_keys[2], cert, GRAPH), 7000229,
                          "invalid_client")
    assert (f"The client application {app['appId']} is missing service principal in the tenant "
            f"{emulator.tenant_id}.") in result["error_description"]

    status, sp = create_sp(emulator, admin, app["appId"])
    assert status == 201 and sp["appId"] == app["appId"] and sp["accountEnabled"] is True
    assert create_sp(emulator, admin, app["appId"])[0] == 409
    token = msal_token(emulator, app["appId"], rsa_keys[2], cert, GRAPH)
    assert emulator.verify_access_token(token["access_token"])["oid"] == sp["id"]


def test_disabled_or_deleted_service_principal_cannot_sign_in(emulator, admin, rsa_keys):
    cert = make_cert(rsa_keys[2], cn="objects-disabled")
    app = graph_app(emulator, admin, "objects-disabled", cert)
    sp = create_sp(emulator, admin, app["appId"])[1]
    by_app_id = f"/v1.0/servicePrincipals(appId='{app['appId']}')"

    assert over_https(emulator, "PATCH", by_app_id, admin, {"accountEnabled": False})[0] == 204
    result = refused_with(msal_token(emulator, app["appId"], rsa_keys[2], cert, GRAPH), 7000112)
    assert (f"Application '{app['appId']}'(objects-disabled) is disabled."
            in result["error_description"])

    assert over_https(emulator, "PATCH", by_app_id, admin, {"accountEnabled": True})[0] == 204
    assert "access_token" in msal_token(emulator, app["appId"], rsa_keys[2], cert, GRAPH)

    assert over_https(emulator, "DELETE", f"/v1.0/servicePrincipals/{sp['id']}", admin)[0] == 204
    assert over_https(emulator, "GET", by_app_id, admin)[0] == 404
    refused_with(msal_token(emulator, app["appId"], rsa_keys[2], cert, GRAPH), 7000229)


def test_deleting_an_application_deletes_its_service_principal(emulator, admin):
    app = graph_app(emulator, admin, "objects-deleted")
    sp = create_sp(emulator, admin, app["appId"])[1]
    assert over_https(emulator, "DELETE", f"/v1.0/applications/{app['id']}", admin)[0] == 204
    assert over_https(emulator, "GET", f"/v1.0/servicePrincipals/{sp['id']}", admin)[0] == 404


# --- resources resolve as in Entra -------------------------------------------------------------

def test_api_app_id_uri_resolves_only_when_it_is_an_identifier_uri(emulator, admin,
                                                                   make_app):
    client = make_app("objects-client", key_index=2)
    api = graph_app(emulator, admin, "objects-api", api={"requestedAccessTokenVersion": 2})
    create_sp(emulator, admin, api["appId"])
    uri_scope = f"api://{api['appId']}/.default"

    def token(scope):
        return msal_token(emulator, client.app_id, client.private_key, client.certificate, scope)

    refused_with(token(uri_scope), 500011, "invalid_resource")
    by_app_id = token(f"{api['appId']}/.default")  # a bare appId always names its resource
    assert emulator.verify_access_token(by_app_id["access_token"])["aud"] == api["appId"]

    assert over_https(emulator, "PATCH", f"/v1.0/applications/{api['id']}", admin,
                      {"identifierUris": [f"api://{api['appId']}"]})[0] == 204
    claims = emulator.verify_access_token(token(uri_scope)["access_token"])
    assert claims["aud"] == api["appId"] and claims["ver"] == "2.0"  # its accepted version


def test_a_resource_without_service_principal_does_not_resolve(emulator, admin, make_app):
    client = make_app("objects-client", key_index=2)
    graph_app(emulator, admin, "objects-api-nosp", identifierUris=["api://objects-nosp"])
    result = msal_token(emulator, client.app_id, client.private_key, client.certificate,
                        "api://objects-nosp/.default")
    refused_with(result, 500011)
    assert "api://objects-nosp was not found" in result["error_description"]


# --- claims as Entra sends them ----------------------------------------------------------------

def test_idtyp_only_for_first_party_resources_or_when_asked(emulator, admin, make_app):
    client = make_app("objects-claims", key_index=2)
    api = graph_app(emulator, admin, "objects-claims-api", identifierUris=["api://objects-claims"])
    create_sp(emulator, admin, api["appId"])

    def claims(scope):
        result = msal_token(emulator, client.app_id, client.private_key, client.certificate, scope)
        return emulator.verify_access_token(result["access_token"])

    assert claims(GRAPH)["idtyp"] == "app"
    assert claims("https://management.core.windows.net//.default")["idtyp"] == "app"
    assert "idtyp" not in claims("api://objects-claims/.default")
    assert over_https(emulator, "PATCH", f"/v1.0/applications/{api['id']}", admin, {
        "optionalClaims": {"accessToken": [{"name": "idtyp", "essential": False}]}})[0] == 204
    assert claims("api://objects-claims/.default")["idtyp"] == "app"


@pytest.mark.parametrize("version", [1, 2])
def test_token_claims_and_header_per_version(emulator, make_app, trust_emulator, version):
    """ENTRA-FACTS 3.3: v1 carries appid/appidacr/idp and a kid+x5t header, v2 azp/azpacr and
    kid only; both back-date iat/nbf by 5 minutes while expires_in stays 3599."""
    client = make_app("objects-version", key_index=2)
    api = make_app(f"objects-v{version}", key_index=3, requested_token_version=version,
                   identifier_uris=[f"api://objects-v{version}"])
    before = int(time.time())
    result = msal_token(emulator, client.app_id, client.private_key, client.certificate,
                        f"api://objects-v{version}/.default")
    claims = emulator.verify_access_token(result["access_token"])
    header = jwt.get_unverified_header(result["access_token"])
    assert 3500 < result["expires_in"] <= 3599
    assert claims["nbf"] == claims["iat"] and before - 301 <= claims["iat"] <= before - 299
    assert claims["exp"] - claims["iat"] == 3899
    common = {"aud", "iss", "iat", "nbf", "exp", "aio", "oid", "rh", "sub", "tid", "uti", "ver"}
    with emulator.state.read() as data:
        client_sp = next(s for s in data["servicePrincipals"].values()
                         if s["appId"] == client.app_id)
    assert claims["oid"] == claims["sub"] == client_sp["id"]
    if version == 1:
        assert set(claims) == common | {"appid", "appidacr", "idp"}
        assert (claims["appid"], claims["appidacr"], claims["ver"]) == (client.app_id, "2", "1.0")
        assert claims["aud"] == "api://objects-v1" and claims["idp"] == claims["iss"]
        assert header["x5t"] == header["kid"]
    else:
        assert set(claims) == common | {"azp", "azpacr"}
        assert (claims["azp"], claims["azpacr"], claims["ver"]) == (client.app_id, "2", "2.0")
        assert claims["aud"] == api.app_id and "x5t" not in header


# --- replication lag, on demand ----------------------------------------------------------------

def test_new_objects_reach_the_token_endpoint_after_the_replication_delay(emulator, admin,
                                                                          rsa_keys, lag):
    cert = make_cert(rsa_keys[2], cn="objects-lag")
    lag(1.5)
    app = graph_app(emulator, admin, "objects-lag", cert)
    assert create_sp(emulator, admin, app["appId"])[0] == 201
    status, seen = over_https(emulator, "GET", f"/v1.0/servicePrincipals(appId='{app['appId']}')",
                              admin)
    assert status == 200 and seen["appId"] == app["appId"]  # Graph sees it at once

    refused_with(msal_token(emulator, app["appId"], rsa_keys[2], cert, GRAPH), 700016)
    time.sleep(1.6)
    assert "access_token" in msal_token(emulator, app["appId"], rsa_keys[2], cert, GRAPH)


def test_a_new_service_principal_or_key_lags_on_its_own(emulator, admin, rsa_keys, lag):
    """A service principal created later, and a key added later (PATCH or addKey), each wait
    out their own delay: 7000229 and 700027 meanwhile, while the old key keeps working."""
    first, second = make_cert(rsa_keys[2], cn="lag-first"), make_cert(rsa_keys[3], cn="lag-next")
    app = graph_app(emulator, admin, "objects-lag-parts", first)
    lag(1.5)
    create_sp(emulator, admin, app["appId"])
    refused_with(msal_token(emulator, app["appId"], rsa_keys[2], first, GRAPH), 7000229)
    time.sleep(1.6)
    own = msal_token(emulator, app["appId"], rsa_keys[2], first, GRAPH)
    assert "access_token" in own, own

    status, added = over_https(emulator, "POST", f"/v1.0/applications/{app['id']}/addKey",
                               own["access_token"], {
                                   "keyCredential": key_credential(second),
                                   "proof": proof(app, rsa_keys[2], first)})
    assert status == 200 and not any(k.startswith("_") for k in added)
    refused_with(msal_token(emulator, app["appId"], rsa_keys[3], second, GRAPH), 700027,
                 "invalid_client")
    assert "access_token" in msal_token(emulator, app["appId"], rsa_keys[2], first, GRAPH)
    time.sleep(1.6)
    assert "access_token" in msal_token(emulator, app["appId"], rsa_keys[3], second, GRAPH)


def test_a_fault_lags_only_the_writes_it_matches(emulator, admin, rsa_keys, lag):
    import requests

    cert = make_cert(rsa_keys[2], cn="objects-fault")
    app = graph_app(emulator, admin, "objects-fault", cert)
    fault = {"path": "/v1.0/servicePrincipals", "method": "POST", "replication_delay": 600}
    response = requests.post(f"{emulator.authority_host}/_emulator/faults",
                             verify=emulator.ca_bundle, json=fault, timeout=10)
    assert response.status_code == 201 and response.json()["replication_delay"] == 600
    create_sp(emulator, admin, app["appId"])
    refused_with(msal_token(emulator, app["appId"], rsa_keys[2], cert, GRAPH), 7000229)

    other = graph_app(emulator, admin, "objects-fault-spent", cert)  # the fault is spent
    create_sp(emulator, admin, other["appId"])
    assert "access_token" in msal_token(emulator, other["appId"], rsa_keys[2], cert, GRAPH)
    bad = requests.post(f"{emulator.authority_host}/_emulator/faults", verify=emulator.ca_bundle,
                        json={"path": "x", "replication_delay": -1}, timeout=10)
    assert bad.status_code == 400 and "replication_delay" in bad.json()["error_description"]


def test_the_command_line_option_lags_graph_writes_but_not_the_admin(tmp_path, rsa_keys,
                                                                     monkeypatch):
    """``python -m azext_entracert.emulator --replication-delay 600``: the admin (there before)
    signs in and creates an application at once; that application is refused (700016)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "azext_entracert.emulator", "--state-dir", str(tmp_path / "s"),
         "--replication-delay", "600"], stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(process.stdout.readline())
        assert info["replication_delay"] == 600
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", info["ca_bundle"])

        class Running:  # what the test_graph helpers need of an emulator
            authority_host = graph_endpoint = info["authority_host"]
            tenant_id, ca_bundle, admin = info["tenant_id"], info["ca_bundle"], info["admin"]

        key = rsa_keys[2]
        cert = make_cert(key, cn="cli-lag")
        token = admin_token(Running)
        app = graph_app(Running, token, "cli-lag", cert)
        assert create_sp(Running, token, app["appId"])[0] == 201
        refused_with(msal_token(Running, app["appId"], key, cert, GRAPH), 700016)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_replication_delay_must_be_a_number_of_seconds(tmp_path):
    from azext_entracert.core.errors import ConfigurationError
    from azext_entracert.emulator import Emulator

    with pytest.raises(ConfigurationError, match="replication delay"):
        Emulator(tmp_path, replication_delay=-1)
    result = subprocess.run([sys.executable, "-m", "azext_entracert.emulator", "--state-dir",
                             str(tmp_path), "--replication-delay", "-5"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and "--replication-delay" in result.stderr
    assert "Traceback" not in result.stderr
