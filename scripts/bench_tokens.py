"""Benchmark: a cached token from ``az entracert token get`` versus ``az entracert profile show``
and ``az account get-access-token``.

Both token commands ask for the same resource (https://management.core.windows.net/) for the same
service principal (one application, one certificate) against the same local emulator, each from a
new az process with its cache already warm. The emulator runs in this process, so its request log
shows what each cache hit costs on the wire.

1. Requests of a cache hit in a new process (goal: 0), read from the emulator's log, and the heavy
   libraries (msal, requests, cryptography, jwt) that az process imported (goal: none), from
   Python's own import log (``PYTHONPROFILEIMPORTTIME``).
2. Wall time of each command on a cache hit: median of --runs runs after a warm-up, the three
   commands interleaved so that all see the same machine load. Goals: ``token get`` <= 1.15 x
   ``profile show`` (a cache hit costs about what reading a profile costs) and <= 0.6 x az's own.

Output, one line each (scripts/bench.py parses it):
    cache hit in a new process: entracert N HTTP request(s) (source: cache), az N
    heavy modules imported by a cache hit: none | msal, requests, ...
    <command>: median N ms   min N   max N   (N runs)          for the three commands
    entracert token get / profile show on a cache hit: R (goal <= 1.15); OK | GOAL MISSED
    entracert / az on a cache hit: R (goal <= 0.6); OK | GOAL MISSED
The exit code is 0 only when every goal is met.

The real az logs in to the emulator as ENTRA-FACTS 0.8 describes (a registered cloud, instance
discovery off, the emulator's CA in REQUESTS_CA_BUNDLE for az only); entracert trusts the CA
through its profile's --ca-bundle. Everything lives in a temporary folder (isolated
AZURE_CONFIG_DIR and AZURE_EXTENSION_DIR).

    .venv/bin/python scripts/bench_tokens.py [--runs 15]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
AZ = Path(sys.executable).parent / "az"
RESOURCE = "https://management.core.windows.net/"
PROFILE_GOAL = 1.15  # token get (cache hit) / profile show
AZ_GOAL = 0.6  # token get (cache hit) / az account get-access-token (cache hit)
HEAVY = ("msal", "requests", "cryptography", "jwt")


def install_extension(workdir, env):
    """Build the wheel from a copy of the tree and ``az extension add`` it, as users do."""
    from demo import build_wheel

    wheel = build_wheel(workdir / "dist")
    az(env, "extension", "add", "--source", str(wheel), "--yes")


def az(env, *args):
    """Run az; the parsed JSON output (or None), failing loudly with az's stderr."""
    result = subprocess.run([str(AZ), *args], env=env, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        sys.exit(f"az {' '.join(args[:4])} failed:\n{result.stderr}")
    return json.loads(result.stdout) if result.stdout.strip() else None


def heavy_imports(env, args):
    """The heavy libraries an az run imports, read from Python's import-time log on stderr."""
    result = subprocess.run([str(AZ), *args], env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, check=True)
    names = {line.rsplit("|", 1)[1].strip().split(".")[0]
             for line in result.stderr.splitlines() if line.startswith("import time:")}
    return sorted(names & set(HEAVY))


def timed(env, args):
    start = time.perf_counter()
    out = az(env, *args)
    return time.perf_counter() - start, out


def service_principal(emulator, folder):
    """An application with a fresh certificate; its key + certificate PEM (what az login takes)."""
    from cryptography.hazmat.primitives import serialization

    from azext_entracert.core import certgen
    from azext_entracert.core.fileio import PRIVATE, atomic_write

    key = certgen.new_rsa_key(2048)
    cert = certgen.build_certificate(subject=certgen.parse_subject("CN=bench-tokens"),
                                     public_key=key.public_key(), signing_key=key, days=365)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()) + cert.public_bytes(
        serialization.Encoding.PEM)
    path = folder / "bench.pem"
    atomic_write(path, pem, mode=PRIVATE)
    app = emulator.create_application("bench-tokens", certificates=[cert])
    return app["appId"], path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each command")
    args = parser.parse_args()

    from azext_entracert.emulator import Emulator

    with tempfile.TemporaryDirectory(prefix="entracert-bench-tokens-") as tmp, \
            Emulator(Path(tmp) / "emulator") as emulator:
        work = Path(tmp)
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("AZURE_", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"))}
        ours = {**base, "AZURE_CONFIG_DIR": str(work / "config"),
                "AZURE_EXTENSION_DIR": str(work / "extensions"),
                "AZURE_CORE_COLLECT_TELEMETRY": "false", "AZURE_CORE_NO_COLOR": "true",
                "AZURE_CORE_SURVEY_MESSAGE": "false"}
        theirs = {**ours, "AZURE_CORE_INSTANCE_DISCOVERY": "false",
                  "REQUESTS_CA_BUNDLE": emulator.ca_bundle}
        install_extension(work, ours)
        app_id, pem = service_principal(emulator, work)
        authority, tenant = emulator.authority_host, emulator.tenant_id

        # The real az, logged in to the emulator as the service principal.
        az(theirs, "cloud", "register", "-n", "Emu", "--endpoint-active-directory", authority,
           "--endpoint-resource-manager", authority,
           "--endpoint-active-directory-resource-id", RESOURCE,
           "--endpoint-microsoft-graph-resource-id", authority + "/", "--skip-endpoint-discovery")
        az(theirs, "cloud", "set", "-n", "Emu")
        az(theirs, "login", "--service-principal", "-u", app_id, "--certificate", str(pem),
           "--tenant", tenant, "--skip-subscription-discovery")
        az_command = ("account", "get-access-token", "--tenant", tenant, "--resource", RESOURCE)
        # entracert: the same principal and certificate, trusting the CA for this profile only.
        az(ours, "entracert", "profile", "create", "--name", "bench", "--tenant", tenant,
           "--client-id", app_id, "--certificate", str(pem), "--authority-host", authority,
           "--ca-bundle", emulator.ca_bundle)
        our_command = ("entracert", "token", "get", "--profile", "bench", "--resource", RESOURCE)
        show_command = ("entracert", "profile", "show", "--name", "bench")

        for _ in range(2):  # warm-up: fill both caches, the command index, the page cache
            az(theirs, *az_command)
            az(ours, *our_command)

        emulator.clear_log()
        hit = az(ours, *our_command)
        our_requests = len(emulator.requests_log())
        emulator.clear_log()
        az(theirs, *az_command)
        their_requests = len(emulator.requests_log())
        print(f"cache hit in a new process: entracert {our_requests} HTTP request(s) "
              f"(source: {hit['source']}), az {their_requests}")
        heavy = heavy_imports(ours, our_command)
        print(f"heavy modules imported by a cache hit: {', '.join(heavy) or 'none'}")

        commands = {"entracert token get": (ours, our_command),
                    "az entracert profile show": (ours, show_command),
                    "az account get-access-token": (theirs, az_command)}
        times = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, (env, command) in commands.items():
                times[name].append(timed(env, command)[0])
        for name, values in times.items():
            print(f"{name:>28}: median {statistics.median(values) * 1000:6.0f} ms   "
                  f"min {min(values) * 1000:6.0f}   max {max(values) * 1000:6.0f}   "
                  f"({len(values)} runs)")
        medians = {name: statistics.median(values) for name, values in times.items()}
        ok = our_requests == 0 and not heavy
        for label, other, goal in (("entracert token get / profile show",
                                    "az entracert profile show", PROFILE_GOAL),
                                   ("entracert / az", "az account get-access-token", AZ_GOAL)):
            ratio = medians["entracert token get"] / medians[other]
            ok = ok and ratio <= goal
            print(f"{label} on a cache hit: {ratio:.2f} (goal <= {goal}); "
                  f"{'OK' if ratio <= goal else 'GOAL MISSED'}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
