"""What the installed plugin costs a suite that does not use it, in milliseconds.

    .venv/bin/python scripts/bench_plugin_startup.py [RUNS]

Runs a one-test suite alternately with ``-p no:entracert`` and with the plugin, in fresh
interpreters, and prints the medians of their CPU time and the difference (the budget is 20 ms),
twice: with
nothing configured (an empty Azure CLI folder, no ``AZURE_*`` identity variables), and with a
default ``az entracert`` profile, which the plugin reads at session start for its header.
The spread printed says how noisy the medians were.
"""
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

IDENTITY_VARIABLES = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_CERTIFICATE_PATH",
                      "AZURE_AUTHORITY_HOST", "ENTRACERT_CA_BUNDLE", "PYTEST_ADDOPTS")


def measure(folder, env, runs):
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    timings = {"without": [], "with": []}
    for _ in range(runs):
        for name, extra in (("without", ["-p", "no:entracert"]), ("with", [])):
            start = _children_cpu()
            subprocess.run(base + extra, cwd=folder, env=env, capture_output=True, check=True)
            timings[name].append(_children_cpu() - start)
    without, with_plugin = (statistics.median(timings[k]) * 1000 for k in ("without", "with"))
    spread = statistics.quantiles(timings["without"], n=4)
    return without, with_plugin, (spread[2] - spread[0]) * 1000


def _children_cpu():
    """CPU seconds (user + system) of finished child processes: unlike wall-clock time, barely
    moved by other work on the machine (a test run next door easily adds 100 ms of waiting)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def add_default_profile(config_dir):
    from cryptography.hazmat.primitives.serialization import Encoding

    from azext_entracert.core import certgen, profiles
    from azext_entracert.core.fileio import PRIVATE, atomic_write

    os.environ["AZURE_CONFIG_DIR"] = str(config_dir)
    loaded = certgen.create_self_signed("CN=bench", key_size=2048, days=30)
    pem = config_dir / "bench.pem"
    atomic_write(pem, certgen.key_pem(loaded.private_key)
                 + loaded.certificate.public_bytes(Encoding.PEM),
                 mode=PRIVATE)
    profiles.ProfileStore().add(profiles.new_profile(
        "bench", tenant="11111111-1111-1111-1111-111111111111",
        client_id="44444444-4444-4444-4444-444444444444", certificate=str(pem)))


def main(runs=30):
    folder = Path(tempfile.mkdtemp(prefix="entracert-bench-"))
    (folder / "test_plain.py").write_text("def test_plain():\n    pass\n")
    env = {k: v for k, v in os.environ.items() if k not in IDENTITY_VARIABLES}
    for case in ("nothing configured", "a default az entracert profile"):
        env["AZURE_CONFIG_DIR"] = str(folder / case.replace(" ", "-"))
        Path(env["AZURE_CONFIG_DIR"]).mkdir()
        if case != "nothing configured":
            add_default_profile(Path(env["AZURE_CONFIG_DIR"]))
        without, with_plugin, spread = measure(folder, env, runs)
        print(f"{case}: CPU time without the plugin {without:.1f} ms, "
              f"with it {with_plugin:.1f} ms: cost {with_plugin - without:.1f} ms "
              f"(median of {runs}; run-to-run interquartile spread {spread:.1f} ms)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
