"""A client from another language against the emulator: msal-node (the library under Node's
@azure/identity) signs in with a certificate, trusting the emulator's CA through
NODE_EXTRA_CA_CERTS and naming it in ``knownAuthorities`` (ENTRA-FACTS 8, "Clients offline").

msal-node is installed once with npm into ``.node/`` at the repository root (git-ignored) and
reused by later runs; the tests skip only where node or npm is absent.
"""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from azext_entracert.core import certs
from azext_entracert.core.fileio import PRIVATE, atomic_write, file_lock

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / ".node"
MSAL_NODE = "3.8.9"  # the major version @azure/identity 4 uses
CLIENT = Path(__file__).with_name("node") / "msal_node_client.js"


@pytest.fixture(scope="session")
def node_modules():
    """``.node/node_modules`` holding @azure/msal-node MSAL_NODE (npm install on first use)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to test a Node client (msal-node) against the "
                    "emulator; install Node.js 20+ to run these tests")
    installed = NODE_DIR / "node_modules" / "@azure" / "msal-node" / "package.json"
    with file_lock(NODE_DIR / "install", timeout=300):  # xdist workers: one installs
        if not installed.exists() or json.loads(installed.read_text())["version"] != MSAL_NODE:
            completed = subprocess.run(
                [npm, "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund",
                 "--no-package-lock", f"@azure/msal-node@{MSAL_NODE}"],
                capture_output=True, text=True, timeout=600)
            assert completed.returncode == 0, f"npm install failed:\n{completed.stderr}"
    return NODE_DIR / "node_modules"


def run_client(node_modules, emulator, app, key_path, *, trust=True, discovery=None):
    """msal-node told of the emulator by ``knownAuthorities``, or else by ``discovery``, an
    instance discovery answer given as its offline ``cloudDiscoveryMetadata``."""
    host = emulator.authority_host.split("://", 1)[1]
    settings = {"clientId": app.app_id, "authority": f"{emulator.authority_host}/"
                f"{emulator.tenant_id}",
                **({"cloudDiscoveryMetadata": discovery} if discovery else
                   {"knownAuthorities": [host]}),
                "thumbprintSha256": certs.sha256_thumbprint(app.certificate),
                "privateKeyPath": str(key_path), "scopes": ["https://graph.microsoft.com/.default"]}
    env = {"PATH": str(Path(shutil.which("node")).parent), "NODE_PATH": str(node_modules)}
    if trust:
        env["NODE_EXTRA_CA_CERTS"] = emulator.ca_bundle
    completed = subprocess.run([shutil.which("node"), str(CLIENT), json.dumps(settings)], env=env,
                               capture_output=True, text=True, timeout=60)
    try:
        return completed.returncode, json.loads(completed.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        pytest.fail(f"the Node client printed no result:\n{completed.stdout}\n{completed.stderr}")


@pytest.fixture
def node_app(make_app, tmp_path):
    """An application with a certificate, and its private key alone in a PEM file (0600)."""
    from cryptography.hazmat.primitives import serialization

    app = make_app("msal-node", key_index=12)
    key_path = tmp_path / "key.pem"
    atomic_write(key_path, app.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()), mode=PRIVATE)
    return app, key_path


def test_msal_node_gets_a_token_with_a_certificate(node_modules, emulator, node_app):
    app, key_path = node_app
    emulator.clear_log()
    code, result = run_client(node_modules, emulator, app, key_path)
    assert code == 0, result
    claims = emulator.verify_access_token(result["accessToken"])
    assert claims["appid"] == app.app_id and claims["tid"] == emulator.tenant_id
    tokens = [r for r in emulator.requests_log() if r["path"].endswith("/oauth2/v2.0/token")]
    assert [(r["status"], r["client_id"]) for r in tokens] == [(200, app.app_id)]
    assert tokens[0]["credential"].startswith("PS256 x5t#S256")


def test_msal_node_takes_the_emulators_instance_discovery_as_offline_metadata(
        node_modules, emulator, node_app):
    """msal-node trusts an authority its ``cloudDiscoveryMetadata`` names in ``aliases`` with the
    port, so the emulator's own answer (ENTRA-FACTS 8) must carry ``host:port``."""
    import requests

    discovery = requests.get(f"{emulator.authority_host}/common/discovery/instance",
                             params={"api-version": "1.1", "authorization_endpoint":
                                     f"{emulator.authority_host}/{emulator.tenant_id}/oauth2/"
                                     "v2.0/authorize"}, verify=emulator.ca_bundle, timeout=10)
    app, key_path = node_app
    emulator.clear_log()
    code, result = run_client(node_modules, emulator, app, key_path, discovery=discovery.text)
    assert code == 0, result
    assert emulator.verify_access_token(result["accessToken"])["appid"] == app.app_id
    assert not [r for r in emulator.requests_log() if "discovery/instance" in r["path"]]


def test_msal_node_without_the_emulators_ca_fails_on_tls(node_modules, emulator, node_app):
    app, key_path = node_app
    emulator.clear_log()
    code, result = run_client(node_modules, emulator, app, key_path, trust=False)
    # msal-node reports the refused handshake of its discovery request this way; the emulator
    # saw no request at all, since none got past TLS.
    assert (code, result["errorCode"]) == (1, "endpoints_resolution_error"), result
    assert emulator.requests_log() == []
