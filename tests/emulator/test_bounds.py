"""The emulator stays bounded and safe under bad input: memory kept in bytes (not only entries),
deeply nested JSON refused with a 400, Graph's string limits, and a private state folder whatever
the umask (a swapped ``ca.pem`` would be trusted by every profile that uses it)."""
import base64
import http.client
import json
import os
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def start_emulator(state_dir, *, umask=None):
    """``python -m azext_entracert.emulator`` in a subprocess (so its RSS is its own); returns
    the process and its ready JSON."""
    process = subprocess.Popen(
        [sys.executable, "-m", "azext_entracert.emulator", "--state-dir", str(state_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)
    line = process.stdout.readline()
    assert line, "the emulator exited before it was ready"
    return process, json.loads(line)


@pytest.fixture
def subprocess_emulator(tmp_path):
    process, info = start_emulator(tmp_path / "state")
    yield process, info
    process.terminate()
    process.wait(timeout=10)


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def connection(info):
    context = ssl.create_default_context(cafile=info["ca_bundle"])
    port = int(info["authority_host"].rsplit(":", 1)[1])
    return http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read RSS")
def test_huge_paths_and_assertions_do_not_grow_memory_by_hundreds_of_mb(subprocess_emulator):
    """Each budget on its own: before it, the paths grew the emulator by 94 MiB and 50
    assertions by 54 MiB (about 1 MiB each: 200 grew it by 198 MiB); now 10 and 2 MiB."""
    process, info = subprocess_emulator
    client = connection(info)
    client.request("GET", "/warm-up")
    client.getresponse().read()

    # 1,500 requests with 60 KB paths: ~90 MB if the request log kept every path whole.
    before = rss_kib(process.pid)
    for i in range(1500):
        client.request("GET", f"/{i}/" + "p" * 60_000)
        assert client.getresponse().read()
    grown_mib = (rss_kib(process.pid) - before) / 1024
    assert grown_mib < 30, f"the request log grew the emulator by {grown_mib:.0f} MiB"

    # Distinct 1 MB assertions with a readable JOSE header: 1 MB each if cached whole (50
    # show it as clearly as 200, at a quarter of the time).
    before = rss_kib(process.pid)
    header = b64url(json.dumps({"alg": "PS256", "typ": "JWT", "x5t#S256": "A" * 43}).encode())
    for i in range(50):
        assertion = f"{header}.{b64url(str(i).encode()) + 'Q' * 1_000_000}.c2ln"
        form = (f"client_id={info['admin']['client_id']}&grant_type=client_credentials"
                "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type"
                "%3Ajwt-bearer&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
                f"&client_assertion={assertion}")
        client.request("POST", f"/{info['tenant_id']}/oauth2/v2.0/token", body=form,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        response = client.getresponse()
        assert response.status in (400, 401), response.read()
        response.read()
    grown_mib = (rss_kib(process.pid) - before) / 1024
    assert grown_mib < 20, f"50 assertions grew the emulator by {grown_mib:.0f} MiB"

    client.request("GET", "/_emulator/requests")
    entries = json.loads(client.getresponse().read())["value"]
    assert entries and all(len(e["path"]) <= 1100 for e in entries)
    assert len(json.dumps(entries)) < 16 * 1024 * 1024


def graph_headers(emulator):
    import msal

    app = msal.ConfidentialClientApplication(
        emulator.admin["client_id"], authority=f"{emulator.authority_host}/{emulator.tenant_id}",
        client_credential={"private_key": Path(emulator.admin["certificate"]).read_text(),
                           "thumbprint": _admin_thumbprint(emulator)},
        instance_discovery=False)
    token = app.acquire_token_for_client([f"{emulator.authority_host}/.default"])["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _admin_thumbprint(emulator):
    from azext_entracert.core.certs import sha1_thumbprint

    return sha1_thumbprint(emulator.pki.admin_cert)


@pytest.fixture
def admin_headers(emulator, trust_emulator):
    return graph_headers(emulator)


@pytest.mark.parametrize("path", ["/v1.0/applications", "/_emulator/faults"])
def test_deeply_nested_json_is_a_400_not_a_500(emulator, admin_headers, path):
    nested = "[" * 100_000 + "]" * 100_000
    response = requests.post(emulator.authority_host + path, data=nested, verify=emulator.ca_bundle,
                             headers={**admin_headers, "Content-Type": "application/json"},
                             timeout=30)
    assert response.status_code == 400, response.text
    # Deep, but under the recursion limit: still refused, before it reaches the tenant document.
    body = {"displayName": "deep", "notes": None, "info": {"a": json.loads("[" * 200 + "]" * 200)}}
    response = requests.post(emulator.authority_host + "/v1.0/applications", json=body,
                             verify=emulator.ca_bundle, headers=admin_headers, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "Request_BadRequest"


def test_string_properties_are_limited_as_graph_limits_them(emulator, admin_headers):
    def call(method, path, body):
        return requests.request(method, emulator.authority_host + path, json=body,
                                verify=emulator.ca_bundle, headers=admin_headers, timeout=10)

    too_long = call("POST", "/v1.0/applications", {"displayName": "x" * 257})
    assert too_long.status_code == 400
    assert "displayName" in too_long.json()["error"]["message"]
    created = call("POST", "/v1.0/applications", {"displayName": "x" * 256})
    assert created.status_code == 201
    app = created.json()
    assert call("PATCH", f"/v1.0/applications/{app['id']}",
                {"displayName": "y" * 300}).status_code == 400
    assert call("PATCH", f"/v1.0/applications/{app['id']}",
                {"description": "d" * 1025}).status_code == 400
    sp = call("POST", "/v1.0/servicePrincipals", {"appId": app["appId"]}).json()
    refused = call("PATCH", f"/v1.0/servicePrincipals/{sp['id']}", {"notes": "n" * 1025})
    assert refused.status_code == 400 and "notes" in refused.json()["error"]["message"]
    assert call("PATCH", f"/v1.0/servicePrincipals/{sp['id']}",
                {"notes": "n" * 1024}).status_code == 204


def modes_while_running(state_dir, *, umask=None):
    """The modes of the state folder and its files while an emulator runs on it."""
    process, _ = start_emulator(state_dir, umask=umask)
    try:
        return {p.name: stat.S_IMODE(p.stat().st_mode)
                for p in [state_dir, *state_dir.iterdir()]}
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_state_folder_is_private_whatever_the_umask(tmp_path):
    found = modes_while_running(tmp_path / "state", umask=0)
    assert found.pop("state") == 0o700
    assert found and all(mode == 0o600 for mode in found.values()), found


def test_a_state_folder_with_wider_modes_is_tightened_at_start(tmp_path):
    state_dir = tmp_path / "state"
    modes_while_running(state_dir)
    state_dir.chmod(0o755)
    for path in state_dir.iterdir():
        path.chmod(0o644)
    found = modes_while_running(state_dir)
    assert found.pop("state") == 0o700
    assert all(mode == 0o600 for mode in found.values()), found


def test_pending_faults_are_bounded_in_number_and_size(emulator):
    url = emulator.authority_host + "/_emulator/faults"

    def add(**spec):
        return requests.post(url, json={"path": "/never/served", **spec},
                             verify=emulator.ca_bundle, timeout=10)

    try:
        assert add(path="/p" * 1000).status_code == 400
        assert add(body="b" * (64 * 1024 + 1)).status_code == 400
        assert all(add(count=1000).status_code == 201 for _ in range(100))
        refused = add()
        assert refused.status_code == 400 and "DELETE" in refused.json()["error_description"]
    finally:
        emulator.clear_faults()
