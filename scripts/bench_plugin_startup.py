"""What the installed plugin costs a suite that does not use it, in milliseconds of CPU time.

    .venv/bin/python scripts/bench_plugin_startup.py [RUNS]

Runs a one-test suite with ``-p no:entracert`` and with the plugin, in fresh interpreters, in
pairs (the order alternating, so that neither side is always second), and prints the medians of
their CPU time and of the paired differences (the cost; the budget is 20 ms) in three
configurations: nothing configured (an empty Azure CLI folder, no ``AZURE_*`` identity
variables), a default ``az entracert`` profile, and an identity in azure-identity's environment
variables (tenant, client id, certificate path). The interquartile spreads printed say how noisy
the medians were.

The CPU time counted is a pytest run's from ``pytest.console_main()`` to the interpreter's exit,
its shutdown included: the interpreter's start and ``import pytest``, which load no plugin and
are the same with it or without, are left out. They are half of the process's CPU time, and
on a shared machine would only add their noise to the differences. Modules run from cached
bytecode, as an installed package's do (a cache folder of the benchmark's own, filled by one
warm-up run): compiling the plugin's source at every start is no cost a user pays, and under
``PYTHONDONTWRITEBYTECODE`` it would be most of what we measure.
"""
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

IDENTITY_VARIABLES = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_CERTIFICATE_PATH",
                      "AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_AUTHORITY_HOST",
                      "ENTRACERT_CA_BUNDLE", "PYTEST_ADDOPTS")
TENANT = "11111111-1111-1111-1111-111111111111"
CLIENT = "44444444-4444-4444-4444-444444444444"
START = "entracert-bench-start"
# ``python -m pytest``, but saying first how much CPU time the interpreter has used to get there.
PYTEST = ("import sys, time, pytest\n"
          f"sys.stderr.write(f'{START} {{time.process_time()!r}}\\n')\n"
          "raise SystemExit(pytest.console_main())")


def measure(folder, env, runs):
    """``{"without": (median, spread), "with": ..., "cost": ...}`` in ms: the cost is the median
    of the differences of the two runs of each pair, which moves less with the machine's load
    than the difference of the two medians; spreads are interquartile ranges."""
    base = [sys.executable, "-c", PYTEST, "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    subprocess.run(base, cwd=folder, env=env, capture_output=True, check=True)  # warm-up
    timings = {"without": [], "with": []}
    cases = (("without", ["-p", "no:entracert"]), ("with", []))
    for pair in range(runs):
        for name, extra in cases[::-1] if pair % 2 else cases:
            timings[name].append(_pytest_cpu(base + extra, folder, env))
    timings["cost"] = [w - wo for w, wo in zip(timings["with"], timings["without"], strict=True)]
    return {name: (statistics.median(values), _spread(values)) for name, values in timings.items()}


def _pytest_cpu(command, folder, env):
    """CPU milliseconds (user + system) of one pytest run, from ``console_main()`` to exit: the
    child's whole CPU time, which its parent learns when it ends, less what it reports having
    used before pytest starts. CPU time, unlike wall-clock time, is barely moved by other work
    on the machine (a test run next door easily adds 100 ms of waiting)."""
    before = _children_cpu()
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                          check=True)
    whole = _children_cpu() - before
    started = float(re.search(rf"^{START} (\S+)$", done.stderr, re.MULTILINE).group(1))
    return (whole - started) * 1000


def _spread(values):
    quartiles = statistics.quantiles(values, n=4)
    return quartiles[2] - quartiles[0]


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def write_certificate(folder):
    from cryptography.hazmat.primitives.serialization import Encoding

    from azext_entracert.core import certgen
    from azext_entracert.core.fileio import PRIVATE, atomic_write

    loaded = certgen.create_self_signed("CN=bench", key_size=2048, days=30)
    pem = folder / "bench.pem"
    atomic_write(pem, certgen.key_pem(loaded.private_key)
                 + loaded.certificate.public_bytes(Encoding.PEM), mode=PRIVATE)
    return pem


def add_default_profile(config_dir, pem):
    from azext_entracert.core import profiles

    os.environ["AZURE_CONFIG_DIR"] = str(config_dir)
    profiles.ProfileStore().add(profiles.new_profile("bench", tenant=TENANT, client_id=CLIENT,
                                                     certificate=str(pem)))


def main(runs=30):
    with tempfile.TemporaryDirectory(prefix="entracert-bench-") as temporary:
        measure_all(Path(temporary), runs)


def measure_all(folder, runs):
    (folder / "test_plain.py").write_text("def test_plain():\n    pass\n")
    pem = write_certificate(folder)
    for case in ("nothing configured", "a default az entracert profile",
                 "an identity in the environment"):
        env = {k: v for k, v in os.environ.items()
               if k not in IDENTITY_VARIABLES and k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(folder / "bytecode")
        env["AZURE_CONFIG_DIR"] = str(folder / case.replace(" ", "-"))
        Path(env["AZURE_CONFIG_DIR"]).mkdir()
        if case == "a default az entracert profile":
            add_default_profile(Path(env["AZURE_CONFIG_DIR"]), pem)
        elif case == "an identity in the environment":
            env.update(AZURE_TENANT_ID=TENANT, AZURE_CLIENT_ID=CLIENT,
                       AZURE_CLIENT_CERTIFICATE_PATH=str(pem))
        timings = measure(folder, env, runs)
        (without, _), (with_plugin, _), (cost, spread) = (
            timings[name] for name in ("without", "with", "cost"))
        print(f"{case}: CPU time without the plugin {without:.1f} ms, with it {with_plugin:.1f} "
              f"ms: cost {cost:.1f} ms (median of {runs} paired differences; interquartile "
              f"spread {spread:.1f} ms)", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
