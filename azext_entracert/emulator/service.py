"""The emulator as a background service: start it detached, ask whether it runs, stop it.

``start`` launches ``python -m azext_entracert.emulator`` (with this interpreter: inside az, az's
own Python) in its own session, its output going to ``emulator.log`` in the state dir, and waits
for the ready document it writes (``emulator.json``). Whether an emulator runs is decided by its
lock on ``emulator.lock`` (``Emulator`` holds it while it runs; the OS drops it when the process
dies), never by a pid alone, which another process may have reused; the pid in ``emulator.json``
says whom to signal. The state dir persists: a restarted emulator keeps its CA, tenant and
applications, so profiles made against it keep working.
"""
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..core.errors import ConfigurationError
from ..core.profiles import config_dir
from .arm import parse_subscription
from .pki import private_state_dir

READY_FILE = "emulator.json"
LOG_FILE = "emulator.log"
LOCK_FILE = "emulator.lock"
START_TIMEOUT = 60  # the first start makes four RSA keys; a loaded CI machine is slow
STOP_TIMEOUT = 15


def default_state_dir():
    """``$AZURE_CONFIG_DIR/entracert/emulator`` (``~/.azure/entracert/emulator``)."""
    return config_dir() / "emulator"


def _holder_running(state_dir):
    """Whether a process holds the state dir's emulator lock (trying it takes it for an instant)."""
    import portalocker

    path = Path(state_dir) / LOCK_FILE
    if not path.exists():
        return False
    lock = portalocker.Lock(str(path), mode="a", timeout=0,
                            flags=portalocker.LOCK_EX | portalocker.LOCK_NB)
    try:
        lock.acquire()
    except portalocker.LockException:
        return True
    lock.release()
    return False


def _ready_document(state_dir):
    try:
        return json.loads((Path(state_dir) / READY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def status(state_dir=None):
    """``{"running": bool, "state_dir": ..., "log_file": ...}`` plus, when it runs, the ready
    document (endpoints, tenant, CA bundle, admin identity, pid)."""
    state_dir = Path(state_dir or default_state_dir()).expanduser().resolve()
    found = {"running": _holder_running(state_dir), "state_dir": str(state_dir),
             "log_file": str(state_dir / LOG_FILE)}
    if found["running"]:
        found.update(_ready_document(state_dir) or {})
    return found


def start(state_dir=None, *, port=0, replication_delay=None, subscriptions=()):
    """Start a detached emulator on ``state_dir`` and return its status once it is ready;
    its Resource Manager lists ``subscriptions`` (``"ID[:NAME]"`` strings)."""
    state_dir = Path(state_dir or default_state_dir()).expanduser().resolve()
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigurationError(f"The port {port!r} is not a TCP port.",
                                 hint="Use 0-65535 (0, the default, picks a free one).")
    if replication_delay is not None and not 0 <= replication_delay <= 3600:
        raise ConfigurationError(f"The replication delay {replication_delay} s is out of range.",
                                 hint="Use 0 to 3600 seconds.")
    for subscription in subscriptions:
        parse_subscription(subscription)  # refused here, not in a log the caller must read
    if state_dir.exists() and not state_dir.is_dir():
        raise ConfigurationError(f"The state dir '{state_dir}' exists and is not a folder.",
                                 hint="Give --state-dir a folder (it is created if missing).")
    private_state_dir(state_dir)
    running = status(state_dir)
    if running["running"]:
        raise ConfigurationError(
            f"An emulator is already running on the state dir '{state_dir}' (pid "
            f"{running.get('pid', 'unknown')}, {running.get('authority_host', 'starting')}).",
            hint="Use it as it is ('az entracert emulator show'), stop it first ('az entracert "
                 "emulator stop'), or give this one its own --state-dir.")
    with contextlib.suppress(FileNotFoundError):
        (state_dir / READY_FILE).unlink()  # a stale one from an emulator that was killed
    command = [sys.executable, "-m", __package__, "--state-dir", str(state_dir),
               "--port", str(port)]
    if replication_delay is not None:
        command += ["--replication-delay", str(replication_delay)]
    for subscription in subscriptions:
        command += ["--subscription", subscription]
    log_path = state_dir / LOG_FILE
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.fchmod(log, 0o600)
        # Its own session: az's Ctrl+C or a closing terminal does not end it. No pipes: a
        # caller waiting for az's output to end (subprocess.run) must not wait for the emulator.
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   cwd=state_dir, env=_child_environment(),
                                   start_new_session=True)
    finally:
        os.close(log)
    return _wait_ready(state_dir, process)


def _child_environment():
    """This environment, with the folder that holds this package (inside az: the extension's
    folder, which az adds to its own ``sys.path`` only) first on ``PYTHONPATH``."""
    package_root = str(Path(__file__).resolve().parents[2])
    paths = [package_root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}


def _wait_ready(state_dir, process):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        ready = _ready_document(state_dir)
        if ready is not None and ready.get("pid") == process.pid:
            return status(state_dir)
        if process.poll() is not None:
            raise ConfigurationError(
                f"The emulator did not start (exit code {process.returncode}): "
                f"{_last_line(state_dir / LOG_FILE)}",
                hint=f"Read its log, {state_dir / LOG_FILE}, fix the cause and start it again.")
        time.sleep(0.1)
    process.kill()
    process.wait()
    raise ConfigurationError(f"The emulator was not ready after {START_TIMEOUT} s.",
                             hint=f"Read its log, {state_dir / LOG_FILE}.")


def _last_line(path):
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return lines[-1] if lines else "(empty log)"


def stop(state_dir=None):
    """SIGTERM the emulator running on ``state_dir``, wait until its lock is free, and remove its
    ready document; ConfigurationError when none runs there."""
    state_dir = Path(state_dir or default_state_dir()).expanduser().resolve()
    running = status(state_dir)
    if not running["running"]:
        raise ConfigurationError(
            f"No emulator is running on the state dir '{state_dir}'.",
            hint="Check the folder (--state-dir), or start one with 'az entracert emulator "
                 "start'.")
    pid = running.get("pid")
    if not isinstance(pid, int):
        raise ConfigurationError(
            f"An emulator holds the state dir '{state_dir}' but its {READY_FILE} names no "
            "process: it is starting, or it runs inside another program (a test session).",
            hint="Wait a moment and try again, or end the program that runs it.")
    for signum, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _holder_running(state_dir):
            time.sleep(0.1)
        if not _holder_running(state_dir):
            break
    else:
        raise ConfigurationError(f"The emulator (pid {pid}) on '{state_dir}' did not stop.",
                                 hint=f"End process {pid} yourself.")
    with contextlib.suppress(FileNotFoundError):
        (state_dir / READY_FILE).unlink()
    return {"stopped": True, "pid": pid, "state_dir": str(state_dir)}


def client_settings(info):
    """How to point clients at the running emulator ``info`` describes: environment variables,
    and the options MSAL (Python, Node), azure-identity (Python, JS), az and entracert need."""
    authority, tenant, ca = info["authority_host"], info["tenant_id"], info["ca_bundle"]
    host = authority.split("://", 1)[1]
    admin = info["admin"]
    resource_manager = (info.get("resource_manager_endpoint") or authority).rstrip("/") + "/"
    return {
        "token_endpoint": f"{authority}/{tenant}/oauth2/v2.0/token",
        "authority": f"{authority}/{tenant}",
        "environment": {
            "REQUESTS_CA_BUNDLE": ca,  # Python: requests (MSAL, azure-identity, az)
            "NODE_EXTRA_CA_CERTS": ca,  # Node: msal-node, @azure/identity
            "AZURE_AUTHORITY_HOST": authority,  # azure-identity (Python and JS)
            "AZURE_TENANT_ID": tenant,
        },
        "msal_python": f"msal.ConfidentialClientApplication(CLIENT_ID, authority="
                       f"'{authority}/{tenant}', client_credential={{'private_key': PEM, "
                       "'thumbprint': SHA1_HEX}, instance_discovery=False)",
        "azure_identity_python": f"CertificateCredential('{tenant}', CLIENT_ID, CERT_PATH, "
                                 f"authority='{authority}', disable_instance_discovery=True)",
        "msal_node": f"new ConfidentialClientApplication({{auth: {{clientId: CLIENT_ID, "
                     f"authority: '{authority}/{tenant}', knownAuthorities: ['{host}'], "
                     "clientCertificate: {thumbprintSha256: SHA256_HEX, privateKey: PEM}}})",
        "azure_identity_js": f"new ClientCertificateCredential('{tenant}', CLIENT_ID, "
                             f"{{certificatePath: CERT_PATH}}, {{authorityHost: '{authority}', "
                             "disableInstanceDiscovery: true})",
        "az": [
            f"az cloud register -n EntracertEmulator --endpoint-active-directory {authority} "
            "--endpoint-active-directory-resource-id https://management.core.windows.net/ "
            f"--endpoint-resource-manager {resource_manager} "
            f"--endpoint-microsoft-graph-resource-id {authority}/ --skip-endpoint-discovery",
            "az cloud set -n EntracertEmulator",
            f"az login --service-principal -u {admin['client_id']} --certificate "
            f"{admin['certificate']} --tenant {tenant}"
            f"{'' if info.get('subscriptions') else ' --allow-no-subscriptions'}  "
            "(with REQUESTS_CA_BUNDLE and AZURE_CORE_INSTANCE_DISCOVERY=false)",
        ],
        "entracert": f"az entracert profile create --name emulator --tenant {tenant} "
                     f"--client-id {admin['client_id']} --certificate {admin['certificate']} "
                     f"--authority-host {authority} --ca-bundle {ca}",
    }
