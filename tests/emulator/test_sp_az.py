"""The real Azure CLI creates an application and its service principal as it does against Entra:
``az ad app create`` makes no service principal (the app cannot sign in: AADSTS7000229) until
``az ad sp create --id`` (body ``{"appId", "accountEnabled": true}``) makes one."""
import pytest

from .test_graph import make_cert, msal_token
from .test_graph_az import AZ, az  # noqa: F401 - az is the module's logged-in az fixture

pytestmark = [pytest.mark.xdist_group("az-graph"),
              pytest.mark.skipif(not AZ.exists(), reason="the project venv has no az")]


def test_az_ad_app_create_then_sp_create(az, emulator, rsa_keys, trust_emulator):  # noqa: F811
    app = az("ad", "app", "create", "--display-name", "az-sp-create")
    cert = make_cert(rsa_keys[2], cn="az-sp-create")
    emulator.add_certificate(app["appId"], cert)
    refused = msal_token(emulator, app["appId"], rsa_keys[2], cert)
    assert refused.get("error_codes") == [7000229], refused

    sp = az("ad", "sp", "create", "--id", app["appId"])
    assert sp["appId"] == app["appId"] and sp["accountEnabled"] is True
    assert az("ad", "sp", "show", "--id", app["appId"])["id"] == sp["id"]
    token = msal_token(emulator, app["appId"], rsa_keys[2], cert)
    assert emulator.verify_access_token(token["access_token"])["oid"] == sp["id"]
