"""How much ``az`` pays for loading the entracert extension (budget: under 10 ms).

The extension is built into a wheel and installed with ``az extension add`` into a temporary
extension folder, exactly as users get it (with the .pyc files pip compiles at install time).
Each sample is then a fresh interpreter that first sets up what az has on every run anyway
(azure.cli.core, the CLI object and its invocation, the command machinery) and times what az does
for our extension when a run touches it:

- ``loader``: import the package, resolve ``COMMAND_LOADER_CLS``, build the loader (help texts);
- ``table``: load the command table (``commands``; ``_errors`` only when a command fails);
- ``arguments``: load the arguments of the one command being run (``_params``, and ``custom``
  imported to read the function signature), as az does for a single command.

``total`` is their wall time; ``cpu`` the CPU time of the same span, which other work on a busy
machine barely moves.

    .venv/bin/python scripts/bench_load.py [--samples 40]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AZ = Path(sys.executable).parent / "az"
BUDGET_MS = 10.0
COMMANDS = ("create", "csr", "assemble", "show", "validate", "convert")

SAMPLE = r"""
import json, sys, time
from azure.cli.core import get_default_cli
import azure.cli.core.commands, azure.cli.core.commands.parameters
sys.path.insert(0, sys.argv[1])  # where az puts an installed extension
cli = get_default_cli()
cli.invocation = cli.invocation_cls(cli_ctx=cli, parser_cls=cli.parser_cls,
                                    commands_loader_cls=cli.commands_loader_cls,
                                    help_cls=cli.help_cls)
name = "entracert cert " + sys.argv[2]
c0, t0 = time.process_time(), time.perf_counter()
import azext_entracert
loader = azext_entracert.COMMAND_LOADER_CLS(cli_ctx=cli)
t1 = time.perf_counter()
table = loader.load_command_table(None)
t2 = time.perf_counter()
loader.command_name = cli.invocation.data["command_string"] = name
loader.load_arguments(name)
table[name].load_arguments()
t3, c3 = time.perf_counter(), time.process_time()
assert azext_entracert.__file__.startswith(sys.argv[1]), azext_entracert.__file__
print(json.dumps({"loader": t1 - t0, "table": t2 - t1, "arguments": t3 - t2, "total": t3 - t0,
                  "cpu": c3 - c0}))
"""


def install(workdir):
    """Build the wheel from a copy of the tree and ``az extension add`` it; return its folder."""
    from demo import build_wheel

    wheel = build_wheel(workdir / "dist")
    env = {**os.environ, "AZURE_EXTENSION_DIR": str(workdir / "ext"),
           "AZURE_CONFIG_DIR": str(workdir / "config"), "AZURE_CORE_COLLECT_TELEMETRY": "false"}
    subprocess.run([str(AZ), "extension", "add", "--source", str(wheel), "--yes"], env=env,
                   check=True, capture_output=True, stdin=subprocess.DEVNULL)
    return workdir / "ext" / "entracert"


def sample(extension, command, workdir):
    out = subprocess.run([sys.executable, "-c", SAMPLE, str(extension), command], check=True,
                         capture_output=True, text=True, cwd=workdir).stdout
    return json.loads(out.splitlines()[-1])


def measure(samples):
    """``samples`` timings in seconds (loader, table, arguments, total wall, cpu), one az run
    each."""
    with tempfile.TemporaryDirectory(prefix="entracert-bench-") as tmp:
        workdir = Path(tmp)
        extension = install(workdir)
        return [sample(extension, COMMANDS[i % len(COMMANDS)], workdir) for i in range(samples)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    runs = measure(args.samples)
    for part in ("loader", "table", "arguments", "total", "cpu"):
        values = [run[part] * 1000 for run in runs]
        print(f"{part:>9}: median {statistics.median(values):5.2f} ms   "
              f"min {min(values):5.2f}   max {max(values):5.2f}")
    total = statistics.median(run["total"] * 1000 for run in runs)
    verdict = "OK" if total < BUDGET_MS else "OVER BUDGET"
    print(f"extension load cost per az run: {total:.2f} ms (budget {BUDGET_MS:.0f} ms): {verdict}")
    return 0 if total < BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
