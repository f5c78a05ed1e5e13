"""Benchmark: access tokens the emulator issues per second to concurrent keep-alive clients.

Starts its own emulator (``python -m azext_entracert.emulator``, loopback, temporary state dir),
then N client threads, each with one ``requests.Session`` (one keep-alive TLS connection), POST
client-credentials requests authenticated by the bootstrap admin's certificate: one RS256 client
assertion, reused as MSAL reuses it (ENTRA-FACTS 0.5). Every answer must be a 200 with a token.
Bounded by a request count and a time limit. Prints the rate as the last line.
``scripts/bench.py`` calls ``emulator()`` and ``run()`` for its table.

    python scripts/bench_emulator.py [--clients 8] [--requests 4000] [--seconds 30]
"""
import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def admin_assertion(info):
    import jwt
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from azext_entracert.core.certs import x5t

    pem = Path(info["admin"]["certificate"]).read_bytes()
    cert, key = x509.load_pem_x509_certificate(pem), load_pem_private_key(pem, None)
    now = time.time()
    client_id = info["admin"]["client_id"]
    return jwt.encode({"aud": f"{info['authority_host']}/{info['tenant_id']}/oauth2/v2.0/token",
                       "iss": client_id, "sub": client_id, "exp": now + 600, "iat": now},
                      key, algorithm="RS256", headers={"x5t": x5t(cert)})


@contextlib.contextmanager
def emulator(state_dir):
    """A foreground emulator on ``state_dir``: yields its ready JSON and the seconds from start to
    that line (a new state dir pays for the CA, keys and tenant; an existing one reloads them)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "azext_entracert.emulator", "--state-dir", str(state_dir),
         "--host", "127.0.0.1"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(server.stdout.readline())
        yield info, time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)


def run(info, clients, total, seconds):
    """(tokens issued, failures, elapsed seconds, each request's latency in seconds)."""
    from urllib.parse import urlencode

    import requests

    url = f"{info['authority_host']}/{info['tenant_id']}/oauth2/v2.0/token"
    form = {"client_id": info["admin"]["client_id"], "grant_type": "client_credentials",
            "scope": "https://graph.microsoft.com/.default",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": admin_assertion(info)}
    body = urlencode(form)  # encoded once: the clients measure the server, not urlencode
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    lock = threading.Lock()
    state = {"left": total, "ok": 0, "failed": 0}
    latencies = []
    deadline = time.monotonic() + seconds

    def client():
        with requests.Session() as session:
            # No proxy/netrc lookups per request; the CA is still passed explicitly on every call
            # (ENTRA-FACTS 0.3: REQUESTS_CA_BUNDLE would otherwise override session.verify).
            session.trust_env = False
            while time.monotonic() < deadline:
                with lock:
                    if state["left"] <= 0:
                        return
                    state["left"] -= 1
                sent = time.perf_counter()
                response = session.post(url, data=body, headers=headers,
                                        verify=info["ca_bundle"], timeout=30)
                good = response.status_code == 200 and "access_token" in response.json()
                took = time.perf_counter() - sent
                with lock:
                    state["ok" if good else "failed"] += 1
                    latencies.append(took)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return state["ok"], state["failed"], elapsed, latencies


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="entracert-bench-") as state_dir, \
            emulator(state_dir) as (info, _):
        run(info, min(args.clients, 4), 200, 10)  # warm up: handshakes, caches
        ok, failed, elapsed, _ = run(info, args.clients, args.requests, args.seconds)
    print(f"{ok} tokens in {elapsed:.2f} s with {args.clients} keep-alive clients "
          f"({failed} failed)", file=sys.stderr)
    print(f"{ok / elapsed:.0f} tokens/s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
