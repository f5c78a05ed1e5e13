"""``az entracert emulator start|status|show|stop``: the emulator as a background service, driven by
the real az (wheel-installed extension), used by a real client, and stopped again."""
import json
import os
import signal
import stat
from pathlib import Path

import pytest

SUBSCRIPTION = "2f6bd1c4-9a77-4f0e-8d2b-0a1c3e5f7b90"


def alive(pid):
    """Whether ``pid`` is a live process (a zombie, waiting for init to reap it, is not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


@pytest.fixture
def state_dir(tmp_path):
    """A state dir whose emulator, if a test left one running, is killed afterwards."""
    folder = tmp_path / "emulator-state"
    yield folder
    try:
        pid = json.loads((folder / "emulator.json").read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return
    if alive(pid):
        os.kill(pid, signal.SIGKILL)


def assert_clean_failure(result, *words):
    assert result.returncode != 0, result
    assert "ERROR:" in result.stderr and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_start_use_show_and_stop_a_background_emulator(az, state_dir, tmp_path):
    started = az("entracert", "emulator", "start", "--state-dir", state_dir,
                 "--replication-delay", "2.5", "--arm-subscriptions", f"{SUBSCRIPTION}:Dev").out
    assert started["running"] is True and alive(started["pid"])
    assert started["replication_delay"] == 2.5  # passed on to the emulator, as is
    assert started["subscriptions"] == [{"id": SUBSCRIPTION, "name": "Dev"}]  # for plain az login
    assert started["authority_host"].startswith("https://127.0.0.1:")
    assert started["ca_bundle"] == str(state_dir / "ca.pem")
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((state_dir / "emulator.log").stat().st_mode) == 0o600

    status = az("entracert", "emulator", "status", "--state-dir", state_dir).out
    assert status["running"] is True and status["pid"] == started["pid"]

    # A real client against it: a profile for the admin application, and a token.
    admin = started["admin"]
    az("entracert", "profile", "create", "--name", "bg-emulator", "--tenant",
       started["tenant_id"], "--client-id", admin["client_id"], "--certificate",
       admin["certificate"], "--authority-host", started["authority_host"], "--ca-bundle",
       started["ca_bundle"])
    token = az("entracert", "token", "get", "--profile", "bg-emulator").out
    assert token["source"] == "network" and token["clientId"] == admin["client_id"]

    shown = az("entracert", "emulator", "show", "--state-dir", state_dir).out
    clients = shown["clients"]
    assert clients["environment"]["NODE_EXTRA_CA_CERTS"] == started["ca_bundle"]
    assert clients["environment"]["REQUESTS_CA_BUNDLE"] == started["ca_bundle"]
    host = started["authority_host"].split("://")[1]
    assert f"knownAuthorities: ['{host}']" in clients["msal_node"]
    assert "instance_discovery=False" in clients["msal_python"]
    assert "--allow-no-subscriptions" not in clients["az"][2]  # it lists a subscription
    assert admin["client_id"] in clients["entracert"]
    table = az("entracert", "emulator", "status", "--state-dir", state_dir, "-o", "table").out
    assert str(started["pid"]) in table and "True" in table

    again = az("entracert", "emulator", "start", "--state-dir", state_dir, check=False)
    assert_clean_failure(again, "already running", str(started["pid"]), "emulator stop")

    stopped = az("entracert", "emulator", "stop", "--state-dir", state_dir).out
    assert stopped == {"stopped": True, "pid": started["pid"], "state_dir": str(state_dir)}
    assert not alive(started["pid"]) and not (state_dir / "emulator.json").exists()
    after = az("entracert", "emulator", "status", "--state-dir", state_dir).out
    assert after["running"] is False and "pid" not in after
    assert_clean_failure(az("entracert", "emulator", "stop", "--state-dir", state_dir,
                            check=False), "No emulator is running", str(state_dir))
    assert_clean_failure(az("entracert", "emulator", "show", "--state-dir", state_dir,
                            check=False), "No emulator is running", "emulator start")

    # Restarted, it is the same tenant with the same CA: the profile made before still works.
    restarted = az("entracert", "emulator", "start", "--state-dir", state_dir).out
    assert restarted["tenant_id"] == started["tenant_id"] and restarted["pid"] != started["pid"]
    az("entracert", "profile", "update", "--name", "bg-emulator", "--authority-host",
       restarted["authority_host"])
    renewed = az("entracert", "token", "get", "--profile", "bg-emulator", "--force-refresh").out
    assert renewed["source"] == "network"
    az("entracert", "emulator", "stop", "--state-dir", state_dir)


def test_status_defaults_to_the_config_folder_and_a_failed_start_says_why(az, az_env, state_dir):
    default = az("entracert", "emulator", "status").out
    assert default["running"] is False
    assert default["state_dir"] == str(Path(az_env["AZURE_CONFIG_DIR"]) / "entracert" / "emulator")
    refused = az("entracert", "emulator", "start", "--state-dir", state_dir,
                 "--arm-subscriptions", "dev", check=False)
    assert_clean_failure(refused, "'dev'", "subscription id", "ID[:NAME]")
    assert not state_dir.exists()  # refused before anything was made

    state_dir.mkdir()
    (state_dir / "tenant.json").write_text("{not json")
    failed = az("entracert", "emulator", "start", "--state-dir", state_dir, check=False)
    assert_clean_failure(failed, "did not start", "tenant.json", "emulator.log")
