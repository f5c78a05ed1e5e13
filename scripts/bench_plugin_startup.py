"""What the installed plugin costs a suite that does not use it, in milliseconds.

    .venv/bin/python scripts/bench_plugin_startup.py [RUNS]

Runs a one-test suite alternately with ``-p no:entracert`` and with the plugin, in fresh
interpreters, and prints the medians and their difference (the budget is 20 ms).
"""
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(runs=30):
    folder = Path(tempfile.mkdtemp(prefix="entracert-bench-"))
    (folder / "test_plain.py").write_text("def test_plain():\n    pass\n")
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    timings = {"without": [], "with": []}
    for _ in range(runs):
        for name, extra in (("without", ["-p", "no:entracert"]), ("with", [])):
            start = time.perf_counter()
            subprocess.run(base + extra, cwd=folder, capture_output=True, check=True)
            timings[name].append(time.perf_counter() - start)
    without, with_plugin = (statistics.median(timings[k]) * 1000 for k in ("without", "with"))
    print(f"without the plugin {without:.1f} ms, with it {with_plugin:.1f} ms: "
          f"cost {with_plugin - without:.1f} ms (median of {runs})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
