"""scripts/bench_report.py turns bench.json into README.md's performance table, and the figures
it is given are read right (no timing here: benchmarks are scripts, not tests)."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "bench_report.py"

SAMPLE = {
    "generated": "2026-12-03 18:00 UTC", "machine": "2 CPUs, Python 3.11.9", "seconds": 301.4,
    "rows": [
        {"what": "HTTP requests: cache hit in a new process", "goal": "0", "measured": "0",
         "value": 0, "limit": 0, "better": "lower", "unit": "requests"},
        {"what": "pytest-xdist `-n 2`: token requests", "goal": "1", "measured": "3",
         "value": 3, "limit": 1, "better": "lower", "unit": "requests"},
        {"what": "token get vs profile show", "goal": "≤ 1.15×", "measured": "1.38×",
         "value": 1.38, "limit": 1.15, "better": "lower", "unit": "×"},
        {"what": "emulator server CPU per token", "goal": "≤ 2× one RSA-2048 signature",
         "measured": "2.65 ms: 2.30×", "value": 2.3, "limit": 2.0, "better": "lower", "unit": "×"},
        {"what": "emulator tokens per second", "goal": None, "measured": "600/s",
         "value": 600, "limit": None, "better": "lower", "unit": "/s"},
        {"what": "a rate, higher is better", "goal": "≥ 800/s", "measured": "950/s",
         "value": 950, "limit": 800, "better": "higher", "unit": "/s"},
        {"what": "RSA-2048 signatures per second", "goal": None, "measured": "950/s | 2 threads",
         "value": 950, "limit": None, "better": "lower", "unit": "/s"},
        {"what": "extension load cost", "goal": "≤ 10 ms", "measured": None, "value": None,
         "limit": 10, "better": "lower", "unit": "ms", "error": "az extension add failed"},
    ],
}

TABLE = """\
Measured by `make bench` on 2 CPUs, Python 3.11.9, 2026-12-03 18:00 UTC (301 s in all).

| what | goal | measured | verdict |
|---|---|---|---|
| HTTP requests: cache hit in a new process | 0 | 0 | met |
| pytest-xdist `-n 2`: token requests | 1 | 3 | missed by 2 requests |
| token get vs profile show | ≤ 1.15× | 1.38× | missed by 20% |
| emulator server CPU per token | ≤ 2× one RSA-2048 signature | 2.65 ms: 2.30× | missed by 15% |
| emulator tokens per second | — | 600/s | reference |
| a rate, higher is better | ≥ 800/s | 950/s | met |
| RSA-2048 signatures per second | — | 950/s \\| 2 threads | reference |
| extension load cost | ≤ 10 ms | — | not measured: az extension add failed |"""


def load_script(script=SCRIPT):
    spec = importlib.util.spec_from_file_location(script.stem, script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_report(tmp_path, readme_text):
    (tmp_path / "bench.json").write_text(json.dumps(SAMPLE), encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text(readme_text, encoding="utf-8")
    result = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "bench.json"),
                             str(readme)], capture_output=True, text=True)
    return result, readme.read_text(encoding="utf-8")


def test_sample_results_become_the_table_with_verdicts_and_misses():
    assert load_script().table(SAMPLE) == TABLE


def test_the_readme_table_is_rewritten_between_its_markers_only(tmp_path):
    report = load_script()
    before = f"# Title\n\n## Performance\n\n{report.BEGIN}\n| old | table |\n{report.END}\n"
    result, text = run_report(tmp_path, before + "\n## Development\n")
    assert result.returncode == 0, result.stderr
    assert text == (f"# Title\n\n## Performance\n\n{report.BEGIN}\n{TABLE}\n{report.END}\n"
                    "\n## Development\n")
    again, text_again = run_report(tmp_path, text)
    assert again.returncode == 0 and text_again == text


def test_a_readme_without_the_markers_is_refused_and_left_alone(tmp_path):
    result, text = run_report(tmp_path, "# Title\n\n| hand | copied |\n")
    assert result.returncode != 0
    assert "bench-table:begin" in result.stderr and "Traceback" not in result.stderr
    assert text == "# Title\n\n| hand | copied |\n"


def test_the_project_readme_has_the_markers_make_bench_writes_between():
    report = load_script()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count(report.BEGIN) == 1 and text.count(report.END) == 1


BURN = """import sys, time
while time.process_time() < 0.3:
    pass
print(time.process_time(), flush=True)
sys.stdin.read()
"""


def test_the_emulator_benchmark_reads_another_process_cpu_time_as_that_process_does():
    """The goal row's figure is the emulator's CPU time, read from /proc/PID/stat by pid."""
    bench_emulator = load_script(ROOT / "scripts" / "bench_emulator.py")
    child = subprocess.Popen([sys.executable, "-c", BURN], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        own = float(child.stdout.readline())
        assert abs(bench_emulator.process_cpu(child.pid) - own) < 0.05
    finally:
        child.communicate("")
