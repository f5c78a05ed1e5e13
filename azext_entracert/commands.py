"""The ``az entracert`` command table: names mapped to the functions in ``custom`` (certificates),
``custom_tokens`` (profiles, tokens, audit) and ``custom_lifecycle`` (app certificates, rotation,
revocation)."""
from ._errors import raise_az_error


def load_command_table(loader, _args):
    from azure.cli.core.commands import CliCommandType

    # exception_handler: every core error leaves the command as azure-cli's own error type (with
    # the core's hint as recommendation), mapped in one place (_errors).
    with loader.command_group("entracert cert", exception_handler=raise_az_error) as group:
        group.custom_command("create", "cert_create")
        group.custom_command("csr", "cert_csr")
        group.custom_command("assemble", "cert_assemble")
        group.custom_show_command("show", "cert_show")
        group.custom_command("validate", "cert_validate", table_transformer=_checks_table)
        group.custom_command("convert", "cert_convert")

    tokens = CliCommandType(operations_tmpl="azext_entracert.custom_tokens#{}")
    with loader.command_group("entracert profile", custom_command_type=tokens,
                              exception_handler=raise_az_error) as group:
        group.custom_command("create", "profile_create")
        group.custom_command("list", "profile_list", table_transformer=_profiles_table)
        group.custom_show_command("show", "profile_show")
        group.custom_command("update", "profile_update")
        group.custom_command("delete", "profile_delete", confirmation=True)
        group.custom_command("set-default", "profile_set_default")
        group.custom_command("export", "profile_export")
        group.custom_command("import", "profile_import")

    with loader.command_group("entracert token", custom_command_type=tokens,
                              exception_handler=raise_az_error) as group:
        group.custom_command("get", "token_get")
        group.custom_command("refresh", "token_refresh")
        group.custom_command("inspect", "token_inspect")
        group.custom_command("clear", "token_clear")

    with loader.command_group("entracert audit", custom_command_type=tokens,
                              exception_handler=raise_az_error) as group:
        group.custom_command("list", "audit_list", table_transformer=_audit_table)

    lifecycle = CliCommandType(operations_tmpl="azext_entracert.custom_lifecycle#{}")
    with loader.command_group("entracert cert", custom_command_type=lifecycle,
                              exception_handler=raise_az_error) as group:
        group.custom_command("rotate", "cert_rotate")
        group.custom_command("check-revocation", "cert_check_revocation")

    with loader.command_group("entracert app cert", custom_command_type=lifecycle,
                              exception_handler=raise_az_error) as group:
        group.custom_command("list", "app_cert_list", table_transformer=_app_certs_table)
        group.custom_command("add", "app_cert_add")
        group.custom_command("remove", "app_cert_remove", confirmation=True)
        group.custom_command("expiring", "app_cert_expiring")


def _app_certs_table(result):
    """``-o table`` for app cert list: one row per registered certificate."""
    return [{"KeyId": c["keyId"], "Thumbprint": c["thumbprint"], "DisplayName": c["displayName"],
             "End": c["endDateTime"], "DaysLeft": c["daysLeft"], "Local": c["isLocal"]}
            for c in result]


def _checks_table(result):
    """``-o table`` for validate: one row per check."""
    return [{"Check": c["name"], "Ok": c["ok"], "Severity": c["severity"], "Detail": c["detail"]}
            for c in result.get("checks", [])]


def _profiles_table(result):
    """``-o table`` for profile list: who, which certificate, until when."""
    return [{"Name": p["name"], "Tenant": p["tenant"], "ClientId": p["clientId"],
             "Thumbprint": p["thumbprint"], "Default": p["isDefault"], "Expires": p["notAfter"]}
            for p in result]


def _audit_table(result):
    """``-o table`` for audit list: one line per acquisition or failure."""
    return [{"Time": e.get("time"), "Outcome": e.get("outcome"), "Profile": e.get("profile"),
             "ClientId": e.get("clientId"), "Scopes": " ".join(e.get("scopes") or []),
             "Code": e.get("code")} for e in result]
