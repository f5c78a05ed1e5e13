"""Imports point downwards only, checked in fresh interpreters by reading ``sys.modules``.

core (floor 1) imports neither knack, azure.cli nor pytest, nor anything above it; the emulator
imports no pytest and no az adapter; importing the extension package costs nothing until azure-cli
asks for ``COMMAND_LOADER_CLS``; and the modules az loads on every run leave msal, cryptography,
requests and jwt for the command functions. See /work/shared/ARCHITECTURE.md.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "azext_entracert"
HOSTS = ("knack", "azure.cli", "pytest", "_pytest")
ADAPTERS = ("azext_entracert._loader", "azext_entracert.commands", "azext_entracert._params",
            "azext_entracert._help", "azext_entracert.custom", "azext_entracert.custom_tokens",
            "azext_entracert.custom_lifecycle", "azext_entracert.custom_emulator",
            "azext_entracert._support",
            "azext_entracert._errors", "pytest_entracert")
HEAVY = ("msal", "cryptography", "requests", "jwt")


def modules_of(subpackage):
    return sorted(f"azext_entracert.{subpackage}.{path.stem}"
                  for path in (PACKAGE / subpackage).glob("*.py")
                  if path.stem not in ("__init__", "__main__"))


def imported_after(code):
    """Names in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, timeout=120, cwd=REPO)
    return set(json.loads(result.stdout.splitlines()[-1]))


def offenders(modules, prefixes):
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


@pytest.mark.parametrize("floor", ["core", "emulator"])
def test_core_and_emulator_import_no_host_framework_and_no_adapter(floor):
    names = modules_of(floor)
    assert names, f"no modules found in azext_entracert/{floor}"
    loaded = imported_after("\n".join(f"import {name}" for name in names))
    assert offenders(loaded, HOSTS) == []
    assert offenders(loaded, ADAPTERS) == []
    if floor == "core":
        assert offenders(loaded, ("azext_entracert.emulator",)) == []


def test_importing_the_extension_package_imports_no_azure_cli():
    loaded = imported_after("import azext_entracert")
    assert offenders(loaded, HOSTS + ADAPTERS) == []


def test_azure_cli_finds_the_loader_lazily():
    loaded = imported_after(
        "import azext_entracert\n"
        "assert azext_entracert.COMMAND_LOADER_CLS.__name__ == 'EntraCertCommandsLoader'\n"
        "from azure.cli.core import AzCommandsLoader\n"
        "assert issubclass(azext_entracert.COMMAND_LOADER_CLS, AzCommandsLoader)")
    assert "azure.cli.core" in loaded


def test_modules_az_loads_on_every_run_leave_heavy_libraries_to_the_commands():
    """azure-cli itself may already hold some; our start-up modules must add none of them."""
    baseline = imported_after("import azure.cli.core, azure.cli.core.commands, knack.help_files")
    ours = imported_after("import azure.cli.core, azure.cli.core.commands, knack.help_files\n"
                          + "\n".join(f"import {m}" for m in ADAPTERS if m.startswith("azext")))
    assert offenders(ours - baseline, HEAVY) == []
