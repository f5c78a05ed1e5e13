"""The emulator's minimal Azure Resource Manager (``emulator/arm.py``): subscriptions and tenants on
a listener of its own, so plain ``az login --service-principal`` and ``az rest`` work.

Direct HTTPS tests use tokens from the emulator's STS through real MSAL; the az tests run the
real az 2.91 against an emulator started with a subscription.
"""
import json
import signal
import subprocess

import pytest
import requests
from conftest import sign_in_az

from .test_graph import admin_token
from .test_graph_az import AZ, Az
from .test_server import run_module

SUBSCRIPTION = "5f1d8c36-2f5b-4c8e-9b44-0a6f4a3c2d10"
OTHER = "8a6f0a3e-7b1c-4a55-b0c1-2d3e4f5a6b7c"
ARM_SCOPE = "https://management.core.windows.net//.default"
API = {"api-version": "2022-12-01"}


@pytest.fixture(scope="module")
def arm_emulator(tmp_path_factory):
    """An emulator whose Resource Manager lists two subscriptions (one with a name)."""
    from azext_entracert.emulator import Emulator

    with Emulator(tmp_path_factory.mktemp("arm-state"),
                  subscriptions=[f"{SUBSCRIPTION}:Emulated Dev", OTHER.upper()]) as emu:
        yield emu


def token_for(emulator, scope=ARM_SCOPE):
    """The admin's token for ``scope``, MSAL trusting this emulator's CA."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_bundle)
        patch.delenv("CURL_CA_BUNDLE", raising=False)
        return admin_token(emulator, scope=scope)


@pytest.fixture(scope="module")
def arm_token(arm_emulator):
    return token_for(arm_emulator)


def arm_get(emulator, path, token=None, params=API):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{emulator.resource_manager_endpoint}{path}", params=params,
                        headers=headers, verify=emulator.ca_bundle, timeout=10)


# --- over HTTPS ---

def test_subscriptions_are_listed_for_an_arm_token(arm_emulator, arm_token):
    assert arm_emulator.resource_manager_endpoint != arm_emulator.authority_host
    response = arm_get(arm_emulator, "/subscriptions", arm_token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == {"type": "Total", "value": 2}
    first, second = body["value"]
    assert first == {
        "id": f"/subscriptions/{SUBSCRIPTION}", "authorizationSource": "RoleBased",
        "managedByTenants": [], "subscriptionId": SUBSCRIPTION,
        "tenantId": arm_emulator.tenant_id, "displayName": "Emulated Dev", "state": "Enabled",
        "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                 "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"}}
    assert second["subscriptionId"] == OTHER and second["displayName"]


def test_one_subscription_and_an_unknown_one(arm_emulator, arm_token):
    found = arm_get(arm_emulator, f"/subscriptions/{SUBSCRIPTION.upper()}", arm_token)
    assert found.status_code == 200 and found.json()["displayName"] == "Emulated Dev"
    missing = arm_get(arm_emulator, "/subscriptions/00000000-0000-0000-0000-000000000000",
                      arm_token)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "SubscriptionNotFound"


def test_tenants_list_the_emulators_tenant(arm_emulator, arm_token):
    body = arm_get(arm_emulator, "/tenants", arm_token).json()
    assert [t["tenantId"] for t in body["value"]] == [arm_emulator.tenant_id]
    assert body["value"][0]["defaultDomain"] == arm_emulator.tenant_domain


def test_no_subscriptions_by_default(emulator):
    token = token_for(emulator)
    assert arm_get(emulator, "/subscriptions", token).json() == {
        "value": [], "count": {"type": "Total", "value": 0}}


@pytest.mark.parametrize("case,code", [
    ("none", "AuthenticationFailed"), ("garbage", "InvalidAuthenticationToken"),
    ("graph", "InvalidAuthenticationTokenAudience")])
def test_requests_without_an_arm_token_are_401_in_arms_shape(arm_emulator, case, code):
    token = {"none": None, "garbage": "a.b.c", "graph": token_for(
        arm_emulator, "https://graph.microsoft.com/.default")}[case]
    response = arm_get(arm_emulator, "/subscriptions", token)
    assert response.status_code == 401
    assert set(response.json()) == {"error"}
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")


def test_api_version_is_required_and_other_paths_are_404(arm_emulator, arm_token):
    missing = arm_get(arm_emulator, "/subscriptions", arm_token, params=None)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "MissingApiVersionParameter"
    assert arm_get(arm_emulator, "/v1.0/applications", arm_token).status_code == 404
    assert arm_get(arm_emulator, "/resourceGroups", arm_token).json()["error"]["code"] == \
        "NotFound"


def test_arm_requests_share_the_log_and_faults(arm_emulator, arm_token):
    arm_emulator.clear_log()
    arm_emulator.add_fault("/subscriptions", status=503)
    assert arm_get(arm_emulator, "/subscriptions", arm_token).status_code == 503
    assert arm_get(arm_emulator, "/subscriptions", arm_token).status_code == 200
    logged = [(e["path"], e["status"]) for e in arm_emulator.requests_log()]
    assert logged == [("/subscriptions", 503), ("/subscriptions", 200)]
    assert arm_emulator.requests_log()[1]["client_id"] == arm_emulator.admin["client_id"]


@pytest.mark.parametrize("subscription", ["not-a-guid", ":name", ""])
def test_a_bad_subscription_is_a_clear_error(tmp_path, subscription):
    from azext_entracert.core.errors import ConfigurationError
    from azext_entracert.emulator import Emulator

    with pytest.raises(ConfigurationError, match="subscription id"):
        Emulator(tmp_path, subscriptions=[subscription])
    process = run_module("--state-dir", str(tmp_path / "state"), "--subscription", subscription)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2 and "subscription id" in err and "Traceback" not in err


def test_the_ready_json_names_resource_manager(tmp_path):
    state_dir = tmp_path / "state"
    process = run_module("--state-dir", str(state_dir), "--subscription", f"{SUBSCRIPTION}:Dev")
    try:
        info = json.loads(process.stdout.readline() or process.stderr.read())
        assert info == json.loads((state_dir / "emulator.json").read_text())
        assert info["resource_manager_endpoint"].startswith("https://127.0.0.1:")
        assert info["resource_manager_endpoint"] != info["authority_host"]
        assert info["subscriptions"] == [{"id": SUBSCRIPTION, "name": "Dev"}]
        response = requests.get(f"{info['resource_manager_endpoint']}/subscriptions", params=API,
                                verify=info["ca_bundle"], timeout=10)
        assert response.status_code == 401  # served, with the emulator's CA, and guarded
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


# --- the real az ---

@pytest.mark.xdist_group("az-graph")
@pytest.mark.skipif(not AZ.exists(), reason="the project venv has no az")
def test_plain_az_login_lists_subscriptions_and_az_rest_reaches_arm(arm_emulator, tmp_path):
    az = Az(tmp_path / "azure-config", arm_emulator)
    arm_emulator.clear_log()
    accounts = sign_in_az(az, arm_emulator, subscriptions=True)  # no --allow-no-subscriptions
    assert sorted(a["id"] for a in accounts) == sorted([SUBSCRIPTION, OTHER])
    shown = az("account", "show")
    assert shown["tenantId"] == arm_emulator.tenant_id
    assert shown["id"] in (SUBSCRIPTION, OTHER) and shown["user"]["type"] == "servicePrincipal"
    listed = az("rest", "--method", "get", "--url",
                f"{arm_emulator.resource_manager_endpoint}/subscriptions?api-version=2022-12-01")
    assert {s["subscriptionId"] for s in listed["value"]} == {SUBSCRIPTION, OTHER}
    arm_requests = [e for e in arm_emulator.requests_log() if e["path"] == "/subscriptions"]
    assert arm_requests and all(e["status"] == 200 for e in arm_requests)


@pytest.mark.xdist_group("az-graph")
@pytest.mark.skipif(not AZ.exists(), reason="the project venv has no az")
def test_plain_az_login_without_subscriptions_fails_as_against_entra(emulator, tmp_path):
    az = Az(tmp_path / "azure-config", emulator)
    sign_in_az(az, emulator, subscriptions=False)  # registers the cloud
    result = subprocess.run(
        [str(AZ), "login", "--service-principal", "-u", emulator.admin["client_id"],
         "--certificate", emulator.admin["certificate"], "--tenant", emulator.tenant_id],
        env=az.env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "No subscriptions found" in result.stderr
    assert "Traceback" not in result.stderr


def test_cloud_metadata_names_the_resource_manager_listener(arm_emulator):
    """``az cloud register`` without --skip-endpoint-discovery reads ``/metadata/endpoints``: its
    ``resourceManager`` must be the ARM listener, not the Graph origin."""
    metadata = requests.get(f"{arm_emulator.authority_host}/metadata/endpoints",
                            verify=arm_emulator.ca_bundle, timeout=10).json()
    assert metadata["resourceManager"] == arm_emulator.resource_manager_endpoint + "/"
    assert metadata["resourceManager"] != metadata["graph"]
