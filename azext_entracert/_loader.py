"""The azure-cli command loader of ``az entracert``.

azure-cli builds it on every run that may touch our commands, so it stays cheap: the command table
(``commands``), the arguments (``_params``) and the help texts are imported inside its methods, and
the command functions (``custom``) only when a command actually runs, the error mapping
(``_errors``) only when one fails.
"""
from azure.cli.core import AzCommandsLoader


class EntraCertCommandsLoader(AzCommandsLoader):
    """Registers the ``entracert`` command groups with azure-cli."""

    # azure-cli's command index records ``loader.__module__`` as the *extension module* that owns
    # a command and imports that name on the next run: it must be the package, not this file.
    __module__ = "azext_entracert"

    def __init__(self, cli_ctx=None):
        from azure.cli.core.commands import CliCommandType

        from . import _help  # noqa: F401  (registers the help texts in knack's ``helps``)

        custom = CliCommandType(operations_tmpl="azext_entracert.custom#{}")
        super().__init__(cli_ctx=cli_ctx, custom_command_type=custom)

    def load_command_table(self, args):
        import functools

        from .commands import load_command_table

        load_command_table(self, args)
        # Every core error leaves a command as azure-cli's own error type, with the core's hint
        # as recommendation, mapped knowing the command so that a hint names only options it has
        # (see _errors).
        for command in self.command_table.values():
            command.exception_handler = functools.partial(_raise_az_error, command=command)
        return self.command_table

    def load_arguments(self, command):
        from ._params import load_arguments

        load_arguments(self, command)


def _raise_az_error(exc, command):
    """The exception handler of every command: imports the error mapping (and the core's errors)
    only when a command fails, not on every az run."""
    from ._errors import raise_az_error

    raise_az_error(exc, command=command)
