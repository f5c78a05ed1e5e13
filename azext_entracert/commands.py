"""The ``az entracert`` command table: names mapped to the functions in ``custom``."""
from ._errors import raise_az_error


def load_command_table(loader, _args):
    # exception_handler: every core error leaves the command as azure-cli's own error type (with
    # the core's hint as recommendation), mapped in one place (_errors).
    with loader.command_group("entracert cert", exception_handler=raise_az_error) as group:
        group.custom_command("create", "cert_create")
        group.custom_command("csr", "cert_csr")
        group.custom_command("assemble", "cert_assemble")
        group.custom_show_command("show", "cert_show")
        group.custom_command("validate", "cert_validate", table_transformer=_checks_table)
        group.custom_command("convert", "cert_convert")


def _checks_table(result):
    """``-o table`` for validate: one row per check."""
    return [{"Check": c["name"], "Ok": c["ok"], "Severity": c["severity"], "Detail": c["detail"]}
            for c in result.get("checks", [])]
