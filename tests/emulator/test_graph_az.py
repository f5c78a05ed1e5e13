"""The real Azure CLI against the emulator's Graph: ``az ad app credential list / reset --append /
delete`` (ENTRA-FACTS §1.6, §5.3).

One az login (as the emulator's admin) serves the whole module: each az call costs a second or two.
"""
import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import az_environment, sign_in_az

from azext_entracert.core import certs

from .test_graph import make_cert

AZ = Path(sys.executable).with_name("az")
pytestmark = [pytest.mark.xdist_group("az-graph"),
              pytest.mark.skipif(not AZ.exists(), reason="the project venv has no az")]


class Az:
    """Runs the real az with its own config dir, trusting only the emulator's CA."""

    def __init__(self, config_dir, emulator):
        base = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
        self.env = az_environment(emulator, config_dir, base=base)
        self.env["AZURE_CORE_ONLY_SHOW_ERRORS"] = "true"

    def __call__(self, *args, check=True):
        result = subprocess.run([str(AZ), *args, "-o", "json"], env=self.env, capture_output=True,
                                text=True, timeout=120)
        if check:
            assert result.returncode == 0, f"az {' '.join(args)} failed:\n{result.stderr}"
        return json.loads(result.stdout) if result.stdout.strip() else None


@pytest.fixture(scope="module")
def az(emulator, tmp_path_factory):
    """az logged in to the emulator's tenant as its admin (Application.ReadWrite.All)."""
    run = Az(tmp_path_factory.mktemp("azure-config"), emulator)
    sign_in_az(run, emulator)
    return run


def pem_file(folder, cert, name):
    from cryptography.hazmat.primitives import serialization

    path = folder / name
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def stored_keys(emulator, app_id):
    return emulator.application(app_id)["keyCredentials"]


def test_az_credential_list_reset_append_and_delete(az, emulator, make_app, rsa_keys, tmp_path):
    app = make_app("az-graph", key_index=0)
    original = stored_keys(emulator, app.app_id)

    listed = az("ad", "app", "credential", "list", "--id", app.app_id, "--cert")
    assert [k["keyId"] for k in listed] == [original[0]["keyId"]]
    assert listed[0]["customKeyIdentifier"] == certs.sha1_thumbprint(app.certificate)

    new_cert = make_cert(rsa_keys[1], cn="az-appended")
    az("ad", "app", "credential", "reset", "--id", app.app_id, "--append",
       "--cert", f"@{pem_file(tmp_path, new_cert, 'new.pem')}")
    after = stored_keys(emulator, app.app_id)
    assert [k["key"] for k in after] == [
        original[0]["key"], base64.b64encode(certs.der_of(new_cert)).decode()]
    assert after[0] == original[0]  # the existing key survived the key:null round trip

    az("ad", "app", "credential", "delete", "--id", app.app_id, "--key-id", original[0]["keyId"],
       "--cert")
    remaining = stored_keys(emulator, app.app_id)
    assert [k["keyId"] for k in remaining] == [after[1]["keyId"]]
    assert az("ad", "app", "credential", "list", "--id", app.app_id, "--cert")[0][
        "keyId"] == after[1]["keyId"]


def test_az_reports_graph_errors(az, emulator):
    missing = "11111111-2222-3333-4444-555555555555"
    result = subprocess.run([str(AZ), "ad", "app", "credential", "list", "--id", missing],
                            env=az.env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


# --- az ad app / sp create and list: Graph's OData subset as az sends it (emulator/odata.py) ---

def graph_filters(emulator, collection):
    return [e["query"].get("$filter") for e in emulator.requests_log()
            if e["path"] == f"/v1.0/{collection}" and e["method"] == "GET"]


def test_az_ad_app_create_then_list_by_display_name(az, emulator):
    name = f"az-app-{uuid.uuid4().hex[:8]}"
    emulator.clear_log()
    created = az("ad", "app", "create", "--display-name", name)
    assert created["displayName"] == name
    # az first looks for an app of that name: startswith(displayName,'...') must be understood.
    assert graph_filters(emulator, "applications") == [f"startswith(displayName,'{name}')"]
    assert [a["appId"] for a in az("ad", "app", "list", "--display-name", name)] == [
        created["appId"]]
    again = az("ad", "app", "create", "--display-name", name)  # found, so patched, not duplicated
    assert again["appId"] == created["appId"]
    both = az("ad", "app", "list", "--display-name", name[:-1], "--app-id", created["appId"])
    assert [a["id"] for a in both] == [created["id"]]  # "appId eq ... and startswith(...)"


def test_az_ad_sp_create_then_list(az, emulator):
    name = f"az-sp-{uuid.uuid4().hex[:8]}"
    app = az("ad", "app", "create", "--display-name", name)
    sp = az("ad", "sp", "create", "--id", app["appId"])
    assert (sp["appId"], sp["displayName"]) == (app["appId"], name)
    assert [s["id"] for s in az("ad", "sp", "list", "--display-name", name)] == [sp["id"]]
    assert [s["id"] for s in az("ad", "sp", "list", "--filter",
                                f"appId in ('{app['appId']}') and accountEnabled eq true")] \
        == [sp["id"]]


def test_az_follows_next_link_past_a_page(az, emulator):
    prefix = f"az-paged-{uuid.uuid4().hex[:8]}-"
    for i in range(101):  # Graph's default page holds 100
        emulator.create_application(f"{prefix}{i:03}")
    emulator.clear_log()
    listed = az("ad", "app", "list", "--display-name", prefix)
    assert len({a["appId"] for a in listed}) == 101
    pages = [e for e in emulator.requests_log() if e["path"] == "/v1.0/applications"]
    assert len(pages) == 2 and all(e["status"] == 200 for e in pages)
