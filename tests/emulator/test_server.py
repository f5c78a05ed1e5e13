"""The emulator as a server: TLS, routing, control endpoints, faults, limits, and its runner."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def get(emulator, path, **kwargs):
    return requests.get(emulator.authority_host + path, verify=emulator.ca_bundle, timeout=10,
                        **kwargs)


def test_serves_tls_with_its_own_ca_and_answers_unknown_paths_with_json_404(emulator):
    response = get(emulator, "/no/such/thing")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_untrusted_clients_fail_the_handshake(emulator):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(emulator.authority_host + "/metadata/endpoints", verify=True, timeout=10)


def post_json(emulator, path, payload):
    return requests.post(emulator.authority_host + path, json=payload, verify=emulator.ca_bundle,
                         timeout=10)


def test_keep_alive_serves_several_requests_on_one_connection(emulator):
    import http.client
    import ssl

    context = ssl.create_default_context(cafile=emulator.ca_bundle)
    connection = http.client.HTTPSConnection("127.0.0.1", emulator.port, context=context,
                                             timeout=10)
    for _ in range(3):
        connection.request("GET", f"/{emulator.tenant_id}/discovery/v2.0/keys")
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read())["keys"]
        assert response.version == 11 and response.getheader("Connection") != "close"
    connection.close()


def test_concurrent_token_requests_all_succeed(emulator, make_app):
    from concurrent.futures import ThreadPoolExecutor

    app = make_app("server-concurrent", key_index=10)
    secret = emulator.add_client_secret(app.app_id)
    form = {"client_id": app.app_id, "grant_type": "client_credentials", "client_secret": secret,
            "scope": "https://graph.microsoft.com/.default"}
    url = f"{emulator.authority_host}/{emulator.tenant_id}/oauth2/v2.0/token"

    def fetch(_):
        return requests.post(url, data=form, verify=emulator.ca_bundle, timeout=20).status_code

    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(fetch, range(48))) == {200}


def test_request_log_records_outcomes_but_never_secrets(emulator, make_app):
    app = make_app("server-log", key_index=10)
    secret = emulator.add_client_secret(app.app_id)
    emulator.clear_log()
    url = f"{emulator.authority_host}/{emulator.tenant_id}/oauth2/v2.0/token"
    form = {"client_id": app.app_id, "grant_type": "client_credentials",
            "scope": "https://graph.microsoft.com/.default"}
    token = requests.post(url, data={**form, "client_secret": secret}, verify=emulator.ca_bundle,
                          timeout=10).json()["access_token"]
    requests.post(url, data={**form, "client_secret": "wrong-" + secret},
                  verify=emulator.ca_bundle, timeout=10)
    get(emulator, "/metadata/endpoints", params={"code": "query-secret", "$filter": "x eq 1"})
    log = get(emulator, "/_emulator/requests").json()["value"]
    assert [(e["method"], e["status"], e["client_id"], e["error_code"]) for e in log] == [
        ("POST", 200, app.app_id, None), ("POST", 401, app.app_id, "AADSTS7000215"),
        ("GET", 200, None, None)]
    assert log[0]["credential"] == "client_secret" and log[2]["query"] == {"$filter": "x eq 1"}
    text = json.dumps(log)
    for secret_text in (secret, token, "query-secret"):
        assert secret_text not in text
    assert requests.delete(emulator.authority_host + "/_emulator/requests",
                           verify=emulator.ca_bundle, timeout=10).status_code == 204
    assert emulator.requests_log() == []


def test_faults_apply_to_the_next_n_matching_requests(emulator):
    keys = f"/{emulator.tenant_id}/discovery/v2.0/keys"
    created = post_json(emulator, "/_emulator/faults", {"path": "discovery/v2.0/keys", "count": 2,
                                                        "status": 503, "retry_after": 7})
    assert created.status_code == 201
    first, second, third = (get(emulator, keys) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert first.headers["Retry-After"] == "7" and first.json()["error"] == "emulator_fault"

    emulator.add_fault(r"^/metadata/", body="malformed")
    broken = get(emulator, "/metadata/endpoints")
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()

    emulator.add_fault("/metadata/endpoints", method="POST", status=500)  # GET does not match
    assert get(emulator, "/metadata/endpoints").status_code == 200
    assert requests.delete(emulator.authority_host + "/_emulator/faults",
                           verify=emulator.ca_bundle, timeout=10).status_code == 204

    emulator.add_fault("/metadata/endpoints", delay=0.3)
    started = time.monotonic()
    assert get(emulator, "/metadata/endpoints").status_code == 200
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("spec", [{}, {"path": ""}, {"path": "/x", "count": 0},
                                  {"path": "/x", "status": 99}, {"path": "/x", "colour": "red"},
                                  {"path": "/x", "delay": "slow"}, [1, 2],
                                  {"path": "/x", "retry_after": "1\r\nSet-Cookie: x=1"},
                                  {"path": "/x", "retry_after": -1}])
def test_bad_fault_specs_are_refused_with_a_reason(emulator, spec):
    response = post_json(emulator, "/_emulator/faults", spec)
    assert response.status_code == 400 and response.json()["error_description"]


def test_a_handler_failure_is_a_json_500_without_traceback(emulator, make_app):
    """A corrupt tenant.json entry (a keyCredential without dates) must not leak internals."""
    from azext_entracert.emulator import state as st

    app = make_app("server-corrupt", key_index=10)
    with emulator.state.transaction() as data:
        del st.application_by_app_id(data, app.app_id)["keyCredentials"][0]["startDateTime"]
    from .test_sts import make_assertion, with_assertion

    response = with_assertion(emulator, app, make_assertion(emulator, app))
    assert response.status_code == 500
    assert response.json()["error"] == "server_error"
    assert "Traceback" not in response.text and "KeyError" not in response.text


def test_non_loopback_hosts_are_refused_unless_allowed(tmp_path):
    from azext_entracert.core.errors import ConfigurationError
    from azext_entracert.emulator import Emulator

    with pytest.raises(ConfigurationError, match="--allow-remote"):
        Emulator(tmp_path, host="0.0.0.0")
    Emulator(tmp_path, host="0.0.0.0", allow_remote=True)  # allowed: constructing binds nothing


def run_module(*args, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "azext_entracert.emulator", *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kwargs)


@pytest.mark.parametrize("args, message", [
    (["--port", "abc"], "invalid int value"),
    ([], "--state-dir"),
    (["--port", "70000"], "not a TCP port"),
    (["--host", "192.0.2.1"], "--allow-remote"),
])
def test_module_rejects_bad_arguments_with_exit_2(tmp_path, args, message):
    if args[:1] != [] and "--state-dir" not in args:
        args = ["--state-dir", str(tmp_path / "state"), *args]
    process = run_module(*args)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2 and message in err and out == ""
    assert "Traceback" not in err


def start_module(state_dir):
    process = run_module("--state-dir", str(state_dir))
    line = process.stdout.readline()
    assert line, process.stderr.read()
    return process, json.loads(line)


def stop_module(process):
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert process.stdout.read() == ""  # exactly one line was printed


def test_module_runs_until_sigterm_and_a_restart_keeps_everything(tmp_path, rsa_keys):
    from azext_entracert.emulator import Emulator

    state_dir = tmp_path / "state"
    process, info = start_module(state_dir)
    try:
        assert info == json.loads((state_dir / "emulator.json").read_text())
        assert info["authority_host"].startswith("https://127.0.0.1:")
        assert info["pid"] == process.pid
        assert info["graph_endpoint"] == info["authority_host"]
        for private in ("ca-key.pem", "server-key.pem", "signing-key.pem", "admin.pem",
                        "tenant.json"):
            assert (state_dir / private).stat().st_mode & 0o777 == 0o600, private
        assert Path(info["admin"]["certificate"]).stat().st_mode & 0o777 == 0o600
        response = requests.get(f"{info['authority_host']}/{info['tenant_domain']}/v2.0/"
                                ".well-known/openid-configuration", verify=info["ca_bundle"],
                                timeout=10)
        assert response.json()["issuer"].split("/")[3] == info["tenant_id"]
    finally:
        stop_module(process)
    ca = (state_dir / "ca.pem").read_bytes()

    with Emulator(state_dir) as emu:  # register an app in between
        app_id = emu.create_application("survivor")["appId"]
        secret = emu.add_client_secret(app_id)

    process, again = start_module(state_dir)
    try:
        assert (again["tenant_id"], again["admin"]) == (info["tenant_id"], info["admin"])
        assert (state_dir / "ca.pem").read_bytes() == ca
        response = requests.post(
            f"{again['authority_host']}/{again['tenant_id']}/oauth2/v2.0/token",
            data={"client_id": app_id, "client_secret": secret, "grant_type": "client_credentials",
                  "scope": "https://graph.microsoft.com/.default"},
            verify=again["ca_bundle"], timeout=10)
        assert response.status_code == 200, response.text
    finally:
        stop_module(process)


def test_stop_ends_open_keep_alive_connections(tmp_path):
    """A stopped emulator must not go on answering a client's pooled connection."""
    from azext_entracert.emulator import Emulator

    with requests.Session() as session:
        with Emulator(tmp_path) as emu:
            url = emu.authority_host + "/metadata/endpoints"
            assert session.get(url, verify=emu.ca_bundle, timeout=10).status_code == 200
        with pytest.raises(requests.exceptions.ConnectionError):
            session.get(url, verify=emu.ca_bundle, timeout=10)


def test_a_corrupt_state_file_is_a_clear_error_not_a_traceback(tmp_path):
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / "tenant.json").write_text("{not json")
    process = run_module("--state-dir", str(state_dir))
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2 and out == ""
    assert "tenant.json cannot be read" in err and "fresh --state-dir" in err
    assert "Traceback" not in err
    assert (state_dir / "tenant.json").read_text() == "{not json"  # left for the user to inspect


def test_the_debug_log_shows_paths_without_query_strings(emulator, caplog):
    import logging

    with caplog.at_level(logging.DEBUG, logger="azext_entracert.emulator"):
        get(emulator, "/metadata/endpoints", params={"client_secret": "query-secret"})
        deadline = time.monotonic() + 5  # the handler thread logs after the client has its answer
        while "/metadata/endpoints" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.01)
    assert "GET /metadata/endpoints 200" in caplog.text
    assert "query-secret" not in caplog.text


def test_graph_routes_are_served_on_the_same_origin(emulator):
    response = get(emulator, "/v1.0/applications")
    assert response.status_code == 401  # Graph answers (no token), not the 404/501 of the router
    assert response.json()["error"]["code"]


def test_protocol_errors_are_json_too(emulator):
    import socket
    import ssl

    context = ssl.create_default_context(cafile=emulator.ca_bundle)
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(b"BREW /coffee HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = tls.recv(65536).decode()
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 501") and json.loads(body)["error"] == "invalid_request"


def test_one_emulator_per_state_dir(tmp_path):
    """A second emulator on the same state dir would overwrite the first one's tenant.json."""
    from azext_entracert.core.errors import ConfigurationError
    from azext_entracert.emulator import Emulator

    with Emulator(tmp_path):
        with pytest.raises(ConfigurationError, match="already running on the state dir"):
            Emulator(tmp_path).start()
    with Emulator(tmp_path) as again:  # released on stop
        assert again.port
