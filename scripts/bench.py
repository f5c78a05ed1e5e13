"""``make bench``: every benchmark of the project in one run, printed as one table and written to
``bench.json`` (``scripts/bench_report.py`` turns that file into README.md's performance table).

Each section runs an existing benchmark: ``bench_emulator`` and ``bench_load`` are imported;
``bench_tokens.py`` and ``bench_plugin_startup.py`` are run and their output parsed (tolerantly:
their authors may reword them; a figure that cannot be read shows as "not measured", it never
stops the run). Every figure is a median of repeated runs with its spread beside it; each section
is bounded in count and time: the whole run takes two to three minutes on a quiet 2-core machine.
A row's goal is a number (``limit``, ``better``) so the report can say by how much it was missed.

    .venv/bin/python scripts/bench.py [--out bench.json]
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
ROOT = SCRIPTS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(SCRIPTS))

import bench_emulator  # noqa: E402 - after the path is set
import bench_load  # noqa: E402
import bench_report  # noqa: E402

# Environment variables that would point a child run at a real identity or another config folder.
FOREIGN = ("AZURE_", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "ENTRACERT_", "PYTEST_ADDOPTS")
TOKEN_PATH = "/oauth2/v2.0/token"


def row(what, goal=None, measured=None, *, value=None, limit=None, better="lower", unit="",
        error=None):
    return {"what": what, "goal": goal, "measured": measured, "value": value, "limit": limit,
            "better": better, "unit": unit, "error": error}


def spread_ms(seconds):
    """'512 ms (498–530)': median and range of timings given in seconds."""
    ms = [s * 1000 for s in seconds]
    return f"{statistics.median(ms):.0f} ms ({min(ms):.0f}–{max(ms):.0f})"


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def script(name, *args, timeout):
    """Run ``scripts/name`` with this Python; its stdout (a benchmark's exit code only says
    whether its own goal was met, so it is not treated as a failure)."""
    result = subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True,
                            text=True, timeout=timeout, cwd=ROOT, env=clean_env())
    if not result.stdout.strip():
        raise RuntimeError(f"{name} printed nothing: {result.stderr.strip()[-300:]}")
    return result.stdout


# --- Sections: each returns its rows ----------------------------------------------------------

def cache_hit_times(runs):
    """`token get` on a cache hit against `profile show` and az's own, from bench_tokens.py."""
    out = script("bench_tokens.py", "--runs", str(runs), timeout=240)
    medians = {}  # "name: median 512 ms   min 498   max 530 ..." (spaces and units may vary)
    for name, median, low, high in re.findall(
            r"^\s*(.+?):\s+median\s+([\d.]+)\s*ms\s+min\s+([\d.]+)\s*(?:ms)?\s+max\s+([\d.]+)",
            out, re.MULTILINE):
        medians[name.strip()] = tuple(float(x) for x in (median, low, high))

    def find(part):
        return next((v for k, v in medians.items() if part in k), None)

    ours = find("token get")
    rows = []
    for other, label, limit in (("profile show", "`az entracert profile show`", 1.15),
                                ("get-access-token", "`az account get-access-token`", 0.6)):
        what = f"`az entracert token get` cache hit vs {label}"
        theirs = find(other)
        if ours is None or theirs is None:
            rows.append(row(what, f"≤ {limit}×", limit=limit, error="bench_tokens.py did not "
                            f"print both medians ({', '.join(medians) or 'none'})"))
            continue
        ratio = ours[0] / theirs[0]
        rows.append(row(what, f"≤ {limit}×",
                        f"{ours[0]:.0f} ms ({ours[1]:.0f}–{ours[2]:.0f}) vs {theirs[0]:.0f} ms "
                        f"({theirs[1]:.0f}–{theirs[2]:.0f}), medians of {runs}: {ratio:.2f}×",
                        value=round(ratio, 3), limit=limit, unit="×"))
    hit = re.search(r"cache hit in a new process: entracert (\d+)", out)
    what = "HTTP requests: `az entracert token get` cache hit in a new process"
    rows.insert(0, row(what, "0", hit and hit.group(1), value=hit and int(hit.group(1)), limit=0,
                       unit="requests", error=None if hit else "bench_tokens.py printed no count"))
    heavy = re.search(r"heavy modules imported by a cache hit:\s*(.+)", out)
    if heavy:
        names = [] if heavy.group(1).strip() == "none" else heavy.group(1).split(",")
        rows.insert(1, row("heavy modules (msal, requests, cryptography, jwt) a cache hit imports",
                           "none", heavy.group(1).strip(), value=len(names), limit=0,
                           unit="modules"))
    return rows


def http_requests():
    """Requests the emulator logs for new processes asking the core for a token, as `az
    entracert token get` and the plugin do: the first ever, other scopes, a cache hit."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from azext_entracert.core import certgen, profiles
    from azext_entracert.core.fileio import PRIVATE, atomic_write
    from azext_entracert.emulator import Emulator

    ask = ("import sys; from azext_entracert.core import profiles, tokens; "
           "print(tokens.acquire(profiles.ProfileStore().get('bench'), sys.argv[1:]).source)")
    with tempfile.TemporaryDirectory(prefix="entracert-bench-") as tmp, \
            Emulator(Path(tmp) / "emulator") as emulator:
        config = Path(tmp) / "config"
        config.mkdir()
        loaded = certgen.create_self_signed("CN=bench-requests", key_size=2048, days=30)
        app = emulator.create_application("bench-requests", certificates=[loaded.certificate])
        pem = Path(tmp) / "bench.pem"
        atomic_write(pem, certgen.key_pem(loaded.private_key)
                     + loaded.certificate.public_bytes(Encoding.PEM), mode=PRIVATE)
        env = clean_env(AZURE_CONFIG_DIR=str(config))
        os.environ["AZURE_CONFIG_DIR"] = str(config)
        try:
            profiles.ProfileStore().add(profiles.new_profile(
                "bench", tenant=emulator.tenant_id, client_id=app["appId"], certificate=str(pem),
                authority_host=emulator.authority_host, ca_bundle=emulator.ca_bundle))
        finally:
            del os.environ["AZURE_CONFIG_DIR"]

        def counted(*scopes):
            emulator.clear_log()
            source = subprocess.run([sys.executable, "-c", ask, *scopes], env=env, check=True,
                                    capture_output=True, text=True).stdout.strip()
            paths = [entry["path"] for entry in emulator.requests_log()]
            tokens = sum(path.endswith(TOKEN_PATH) for path in paths)
            return source, tokens, len(paths) - tokens

        first = counted("https://graph.microsoft.com/.default")
        other = counted("https://management.core.windows.net//.default")
        hit = counted("https://graph.microsoft.com/.default")
    rows = []
    for what, goal, (source, tokens, discovery), limit in (
            ("HTTP requests: first token ever (new process, empty cache)",
             "1 token + ≤ 1 discovery", first, 2),
            ("HTTP requests: other scopes, authority already known (new process)",
             "1 token, 0 discovery", other, 1)):
        measured = f"{tokens} token + {discovery} discovery ({source})"
        rows.append(row(what, goal, measured, value=tokens + discovery if source == "network"
                        else None, limit=limit, unit="requests",
                        error=None if source == "network" else "no token from the network"))
    source, tokens, discovery = hit
    rows.insert(0, row("HTTP requests: cache hit in a new process (core, the plugin's road)", "0",
                       f"{tokens + discovery} ({source})", value=tokens + discovery, limit=0,
                       unit="requests"))
    return rows


def extension_load(samples=20):
    runs = bench_load.measure(samples)
    cpu, wall = ([run[part] * 1000 for run in runs] for part in ("cpu", "total"))
    return [row("extension load cost inside az (CPU time)", f"≤ {bench_load.BUDGET_MS:.0f} ms",
                f"{statistics.median(cpu):.1f} ms ({min(cpu):.1f}–{max(cpu):.1f}), median of "
                f"{samples} az runs; wall {statistics.median(wall):.1f} ms",
                value=round(statistics.median(cpu), 2), limit=bench_load.BUDGET_MS, unit="ms")]


def plugin_startup(runs=20):
    out = script("bench_plugin_startup.py", str(runs), timeout=180)
    rows = []
    for line in out.splitlines():  # "<configuration>: CPU time ... cost 4.2 ms (median of ...)"
        found = re.match(r"\s*(.+?):.*?\bcost\s+(-?[\d.]+)\s*ms\s*(?:\((.*)\))?", line)
        if found:
            case, cost, details = found.groups()
            measured = f"{float(cost):.1f} ms CPU" + (f" ({details})" if details else "")
            rows.append(row(f"pytest plugin start-up, unused: {case}", "≤ 20 ms", measured,
                            value=float(cost), limit=20, unit="ms"))
    return rows or [row("pytest plugin start-up, unused", "≤ 20 ms", limit=20,
                        error="bench_plugin_startup.py printed no cost line")]


XDIST_TESTS = '''import pytest


@pytest.mark.parametrize("n", range(200))
def test_needs_a_token(entra_token, n):
    assert entra_token.value
'''


def xdist_token_requests():
    """200 tests needing the same token, under `-n 2` and `-n 4`, the plugin in emulator mode:
    the token requests the emulator served (the plugin's closing line says how many)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="entracert-bench-") as tmp:
        Path(tmp, "test_many.py").write_text(XDIST_TESTS)
        for workers in (2, 4):
            env = clean_env(AZURE_CONFIG_DIR=str(Path(tmp) / f"config-{workers}"))
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                 "no:randomly", "-n", str(workers), "--entra-mode=emulator", "test_many.py"],
                cwd=tmp, env=env, capture_output=True, text=True, timeout=180)
            took = time.perf_counter() - started
            served = re.search(r"emulator served (\d+) token request", result.stdout)
            passed = re.search(r"(\d+) passed", result.stdout)
            what = (f"pytest-xdist `-n {workers}`: token requests for 200 tests "
                    "(one identity, one scope)")
            if served is None or result.returncode != 0:
                rows.append(row(what, "1", limit=1, unit="requests",
                                error=f"pytest exit {result.returncode}: "
                                      f"{result.stdout.strip()[-200:]}"))
                continue
            rows.append(row(what, "1", f"{served.group(1)} ({passed.group(1) if passed else '?'}"
                            f" passed in {took:.1f} s)", value=int(served.group(1)), limit=1,
                            unit="requests"))
    return rows


def emulator_figures(starts=3, rounds=3, requests=1000, seconds=10):
    """Time to ready (new and existing state dir); then, with 8 keep-alive clients, the server's
    CPU time per token against one RSA-2048 signature's (the goal: CPU time holds steady when the
    machine is shared), and tokens per second beside what the cores can sign (a reference: the
    clients run on the same cores, so the rate follows the machine's load)."""
    cores = os.cpu_count() or 1
    cold, warm, rounds_run, signs, parallel, latencies = [], [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="entracert-bench-") as tmp:
        for i in range(starts):
            with bench_emulator.emulator(Path(tmp) / f"state-{i}") as (_, ready):
                cold.append(ready)
        for _ in range(starts):
            with bench_emulator.emulator(Path(tmp) / "state-0") as (_, ready):
                warm.append(ready)
        with bench_emulator.emulator(Path(tmp) / "state-0") as (info, _):
            bench_emulator.run(info, 4, 200, seconds)  # warm up: handshakes, caches
            for _ in range(rounds):
                measured = bench_emulator.run(info, 8, requests, seconds)
                if measured.failed:
                    raise RuntimeError(f"{measured.failed} of {measured.ok + measured.failed} "
                                       "token requests failed")
                rounds_run.append(measured)
                latencies.extend(measured.latencies)
                # Signing measured between the rounds, so both see the same machine load.
                signs.append(bench_emulator.signing())
                parallel.append(bench_emulator.signing(cores)[0])
    server = [r.server_cpu / r.ok * 1000 for r in rounds_run]  # ms CPU per token
    clients = [r.client_cpu / r.ok * 1000 for r in rounds_run]
    rates = [r.ok / r.elapsed for r in rounds_run]
    signature = [cpu * 1000 for _, cpu in signs]
    ratio = statistics.median(server) / statistics.median(signature)
    rate, cuts = statistics.median(rates), statistics.quantiles(latencies, n=100)
    all_cores = statistics.median(parallel)
    cap = cores * 1000 / (statistics.median(server) + statistics.median(clients))
    return [
        row("emulator time to ready, new state dir", None,
            f"{spread_ms(cold)}, median of {starts}", value=statistics.median(cold), unit="s"),
        row("emulator time to ready, existing state dir", None,
            f"{spread_ms(warm)}, median of {starts}", value=statistics.median(warm), unit="s"),
        row("emulator server CPU per token, 8 keep-alive clients",
            f"≤ {bench_emulator.GOAL:g}× one RSA-2048 signature",
            f"{statistics.median(server):.2f} ms ({min(server):.2f}–{max(server):.2f}), median "
            f"of {rounds} runs of {requests}; one signature {statistics.median(signature):.2f} ms "
            f"CPU ({min(signature):.2f}–{max(signature):.2f}): {ratio:.2f}×",
            value=round(ratio, 3), limit=bench_emulator.GOAL, unit="×"),
        row("emulator tokens per second, 8 keep-alive clients (follows the machine's load)", None,
            f"{rate:.0f}/s ({min(rates):.0f}–{max(rates):.0f}), median of {rounds} runs of "
            f"{requests}; latency p50 {cuts[49] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms; "
            f"{rate / all_cores:.0%} of the {cores}-thread signing rate, on cores the clients "
            f"share: they use {statistics.median(clients):.2f} ms CPU per token, so server and "
            f"clients together cap the rate at {cap:.0f}/s", value=round(rate), unit="/s"),
        row("RSA-2048 signatures per second (`cryptography`, which releases the GIL while "
            "signing): a threaded server's ceiling", None,
            f"{all_cores:.0f}/s ({min(parallel):.0f}–{max(parallel):.0f}) with {cores} threads, "
            f"{statistics.median(one for one, _ in signs):.0f}/s with one; medians of {rounds}",
            value=round(all_cores), unit="/s"),
    ]


def certificate_creation(limits=((2048, 7), (3072, 5), (4096, 5)), budget=12.0):
    """The core certgen writing a password-protected PFX (+ .cer, .pem), as `az entracert cert
    create` does, in this process, against `openssl req -x509 -newkey` + `openssl pkcs12
    -export`, interleaved; at most ``budget`` seconds per key size (key generation is random)."""
    from azext_entracert.core import certgen

    rows = []
    with tempfile.TemporaryDirectory(prefix="entracert-bench-") as tmp:
        for bits, runs in limits:
            ours, theirs = [], []
            deadline = time.monotonic() + budget
            for i in range(runs):
                if i >= 3 and time.monotonic() > deadline:
                    break
                base = Path(tmp) / f"{bits}-{i}"
                started = time.perf_counter()
                loaded = certgen.create_self_signed("CN=bench", key_size=bits, days=365)
                certgen.write_bundle(loaded, f"{base}-ours.pfx", password=b"bench-password")
                ours.append(time.perf_counter() - started)
                started = time.perf_counter()
                subprocess.run(["openssl", "req", "-x509", "-newkey", f"rsa:{bits}", "-nodes",
                                "-keyout", f"{base}.key", "-out", f"{base}.crt", "-subj",
                                "/CN=bench", "-days", "365"], check=True, capture_output=True)
                subprocess.run(["openssl", "pkcs12", "-export", "-inkey", f"{base}.key", "-in",
                                f"{base}.crt", "-out", f"{base}-openssl.pfx", "-passout",
                                "pass:bench-password"], check=True, capture_output=True)
                theirs.append(time.perf_counter() - started)
            ratio = statistics.median(ours) / statistics.median(theirs)
            rows.append(row(f"certificate creation, RSA {bits}: core certgen + PFX vs openssl",
                            "≤ 1.2×", f"{spread_ms(ours)} vs {spread_ms(theirs)}, medians of "
                            f"{len(ours)}: {ratio:.2f}×", value=round(ratio, 3), limit=1.2,
                            unit="×"))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench.json")
    parser.add_argument("--token-runs", type=int, default=11)
    args = parser.parse_args()
    started = time.perf_counter()
    rows = []
    for name, section in (("HTTP requests", http_requests),
                          ("cache hit timings (bench_tokens.py)",
                           lambda: cache_hit_times(args.token_runs)),
                          ("extension load (bench_load.py)", extension_load),
                          ("plugin start-up (bench_plugin_startup.py)", plugin_startup),
                          ("pytest-xdist token requests", xdist_token_requests),
                          ("emulator (bench_emulator.py)", emulator_figures),
                          ("certificate creation", certificate_creation)):
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        began = time.perf_counter()
        try:
            rows += section()
        except Exception as exc:  # one broken benchmark must not cost the others their figures
            rows.append(row(name, error=f"{type(exc).__name__}: {str(exc)[:200]}"))
        print(f"bench: {name}: {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
    import cryptography

    openssl = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout
    results = {
        "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
                   f"cryptography {cryptography.__version__}, {' '.join(openssl.split()[:2])}",
        "seconds": time.perf_counter() - started,
        "rows": rows,
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(bench_report.table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
