"""What azure-cli loads of the extension on a run: cheap (budget: scripts/bench_load.py), yet each
command still gets every argument, help text and error mapping of its own."""
import json
import subprocess
import sys
import types

import pytest
from azure.cli.core.mock import DummyCli

import azext_entracert
from tests.az.test_install import COMMANDS

NAMES = [f"entracert {' '.join(command)}" for command in COMMANDS]


def load(command=None):
    """The command table as az loads it to run ``command``: its arguments only, or those of every
    command without one (as for docs)."""
    cli = DummyCli()
    loader = azext_entracert.COMMAND_LOADER_CLS(cli_ctx=cli)
    cli.invocation = types.SimpleNamespace(commands_loader=loader,
                                           data={"command_string": command or ""})
    loader.skip_applicability = command is None
    table = loader.load_command_table(None)
    for name in [command] if command else table:
        loader.command_name = name
        table[name].load_arguments()
        loader.load_arguments(name)
    loader._update_command_definitions()
    return table


def arguments(command):
    """Each argument's settings, comparable across loads: what is made anew on each (enum
    actions, the loader's command types) by name or by its own settings."""
    def plain(value):
        return getattr(value, "__qualname__", None) or getattr(value, "settings", value)

    return {name: {key: plain(value) for key, value in argument.type.settings.items()}
            for name, argument in command.arguments.items()}


@pytest.fixture(scope="module")
def every_command():
    return load()


def test_every_command_is_in_the_list_the_tests_check(every_command):
    assert sorted(every_command) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_a_command_run_alone_gets_the_arguments_it_gets_among_all(every_command, name):
    """_params skips the argument groups of the other commands: none of its own may go."""
    assert arguments(load(name)[name]) == arguments(every_command[name])


def test_loading_the_commands_leaves_the_error_mapping_until_a_command_fails():
    """_errors (and the core's errors) cost az a millisecond and more on every run otherwise."""
    script = (
        "import json, sys, types\n"
        "from azure.cli.core.mock import DummyCli\n"
        "import azext_entracert\n"
        "cli = DummyCli()\n"
        "loader = azext_entracert.COMMAND_LOADER_CLS(cli_ctx=cli)\n"
        "name = 'entracert cert show'\n"
        "cli.invocation = types.SimpleNamespace(commands_loader=loader,\n"
        "                                       data={'command_string': name})\n"
        "table = loader.load_command_table(None)\n"
        "loader.command_name = name\n"
        "table[name].load_arguments()\n"
        "loader.load_arguments(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('azext_entracert'))))\n")
    loaded = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True,
                                       text=True, check=True, timeout=120).stdout.splitlines()[-1])
    assert "azext_entracert._errors" not in loaded
    assert "azext_entracert.core.errors" not in loaded
