"""The ``az entracert`` command table: names mapped to the functions in ``custom`` (certificates),
``custom_tokens`` (profiles, tokens, audit), ``custom_lifecycle`` (app certificates, rotation,
revocation), ``custom_app`` (applications, their permissions and client secrets),
``custom_store`` (the certificate store) and ``custom_emulator`` (the emulator as a background
service)."""
from ._support import confirm_on_terminal


def load_command_table(loader, _args):
    from azure.cli.core.commands import CliCommandType

    with loader.command_group("entracert cert") as group:
        group.custom_command("create", "cert_create", table_transformer=_certificate_row)
        group.custom_command("csr", "cert_csr")
        group.custom_command("assemble", "cert_assemble", table_transformer=_certificate_row)
        group.custom_show_command("show", "cert_show", table_transformer=_certificate_row)
        group.custom_command("validate", "cert_validate", table_transformer=_checks_table)
        group.custom_command("convert", "cert_convert")

    tokens = CliCommandType(operations_tmpl="azext_entracert.custom_tokens#{}")
    with loader.command_group("entracert profile", custom_command_type=tokens) as group:
        group.custom_command("create", "profile_create", table_transformer=_profile_row)
        group.custom_command("list", "profile_list", table_transformer=_profiles_table)
        group.custom_show_command("show", "profile_show", table_transformer=_profile_row)
        group.custom_command("update", "profile_update", table_transformer=_profile_row)
        group.custom_command("delete", "profile_delete", confirmation=confirm_on_terminal)
        group.custom_command("set-default", "profile_set_default",
                             table_transformer=_profile_row)
        group.custom_command("export", "profile_export")
        group.custom_command("import", "profile_import", table_transformer=_profile_row)

    with loader.command_group("entracert token", custom_command_type=tokens) as group:
        group.custom_command("get", "token_get", table_transformer=_token_row)
        group.custom_command("refresh", "token_refresh", table_transformer=_token_row)
        group.custom_command("inspect", "token_inspect", table_transformer=_inspect_row)
        group.custom_command("clear", "token_clear")

    with loader.command_group("entracert audit", custom_command_type=tokens) as group:
        group.custom_command("list", "audit_list", table_transformer=_audit_table)

    lifecycle = CliCommandType(operations_tmpl="azext_entracert.custom_lifecycle#{}")
    with loader.command_group("entracert cert", custom_command_type=lifecycle) as group:
        group.custom_command("rotate", "cert_rotate", table_transformer=_rotation_steps)
        group.custom_command("check-revocation", "cert_check_revocation",
                             table_transformer=_revocation_row)

    with loader.command_group("entracert app cert", custom_command_type=lifecycle) as group:
        group.custom_command("list", "app_cert_list", table_transformer=_app_certs_table)
        group.custom_command("add", "app_cert_add", table_transformer=_app_cert_row)
        group.custom_command("remove", "app_cert_remove", confirmation=confirm_on_terminal,
                             table_transformer=lambda result: _app_cert_row(result["removed"]))
        group.custom_command("expiring", "app_cert_expiring", table_transformer=_expiring_table)

    apps = CliCommandType(operations_tmpl="azext_entracert.custom_app#{}")
    with loader.command_group("entracert app", custom_command_type=apps) as group:
        group.custom_command("create", "app_create", table_transformer=_app_created_row)
        group.custom_show_command("show", "app_show", table_transformer=_app_row)
        group.custom_command("list", "app_list", table_transformer=_apps_table)
        group.custom_command("delete", "app_delete", confirmation=confirm_on_terminal)

    with loader.command_group("entracert app permission", custom_command_type=apps) as group:
        group.custom_command("add", "app_permission_add", table_transformer=_permission_row)
        group.custom_command("list", "app_permission_list",
                             table_transformer=lambda rows: [_permission_row(r) for r in rows])
        group.custom_command("remove", "app_permission_remove",
                             table_transformer=_permission_row)

    with loader.command_group("entracert app secret", custom_command_type=apps) as group:
        group.custom_command("add", "app_secret_add", table_transformer=_secret_row)
        group.custom_command("list", "app_secret_list",
                             table_transformer=lambda rows: [_secret_row(r) for r in rows])
        group.custom_command("remove", "app_secret_remove", confirmation=confirm_on_terminal,
                             table_transformer=lambda result: _secret_row(result["removed"]))

    stored = CliCommandType(operations_tmpl="azext_entracert.custom_store#{}")
    with loader.command_group("entracert store", custom_command_type=stored) as group:
        group.custom_command("import", "store_import", table_transformer=_stored_row)
        group.custom_command("list", "store_list",
                             table_transformer=lambda rows: [_stored_row(r) for r in rows])
        group.custom_show_command("show", "store_show", table_transformer=_stored_row)
        group.custom_command("remove", "store_remove", confirmation=confirm_on_terminal,
                             table_transformer=lambda result: _stored_row(result["removed"]))

    service = CliCommandType(operations_tmpl="azext_entracert.custom_emulator#{}")
    with loader.command_group("entracert emulator", custom_command_type=service) as group:
        group.custom_command("start", "emulator_start", table_transformer=_emulator_row)
        group.custom_command("status", "emulator_status", table_transformer=_emulator_row)
        group.custom_show_command("show", "emulator_show", table_transformer=_emulator_row)
        group.custom_command("stop", "emulator_stop")


# --- -o table: the columns a person scans; -o json/tsv and --query still see every field. ------

def _stored_row(entry):
    """One stored certificate (store import/list/show/remove): which, until when, how kept."""
    return {"Thumbprint": entry["thumbprint"], "Subject": entry["subject"],
            "NotAfter": entry["notAfter"], "Encrypted": entry["encrypted"]}


def _emulator_row(result):
    """``-o table`` for emulator start/status/show: is it running, where, for which tenant."""
    return {"Running": result["running"], "Pid": result.get("pid"),
            "AuthorityHost": result.get("authority_host"), "TenantId": result.get("tenant_id"),
            "StateDir": result["state_dir"]}


def _certificate_row(result):
    """``-o table`` for cert show/create/assemble: which certificate, until when, which key."""
    return {"Subject": result["subject"], "Thumbprint": result["thumbprint"],
            "NotAfter": result["notAfter"], "DaysLeft": result["daysLeft"],
            "Key": f"{result['keyType']} {result['keySize']}",
            "PrivateKey": result["hasPrivateKey"], "Chain": result["chainLength"]}


def _app_cert_row(cert):
    """One registered certificate (app cert list/add/remove)."""
    return {"KeyId": cert["keyId"], "Thumbprint": cert["thumbprint"],
            "DisplayName": cert["displayName"], "End": cert["endDateTime"],
            "DaysLeft": cert["daysLeft"], "Local": cert["isLocal"]}


def _app_created_row(result):
    """``-o table`` for app create: the new identity and where its profile is."""
    return {"AppId": result["appId"], "DisplayName": result["displayName"],
            "Thumbprint": result["thumbprint"], "Profile": result["profile"],
            "Certificate": result["certificate"]}


def _app_row(app):
    """One application (app show/list)."""
    return {"AppId": app["appId"], "DisplayName": app["displayName"],
            "SignInAudience": app["signInAudience"], "Created": app["createdDateTime"],
            "Profiles": " ".join(app["profiles"])}


def _apps_table(result):
    """``-o table`` for app list: one row per application."""
    return [_app_row(app) for app in result]


def _permission_row(row):
    """One application permission: which API, which role, asked for and granted."""
    return {"Api": row["api"], "Role": row["role"], "RoleId": row["roleId"],
            "Requested": row["requested"], "Granted": row["granted"]}


def _secret_row(secret):
    """One client secret (app secret add/list/remove); the secret itself only in the one answer
    of ``add`` that carries it (not written to --out)."""
    return {"KeyId": secret["keyId"], "DisplayName": secret["displayName"],
            "Hint": secret["hint"], "End": secret["endDateTime"],
            "DaysLeft": secret["daysLeft"], "Expired": secret["expired"],
            **({"Secret": secret["secretText"]} if "secretText" in secret else {})}


def _app_certs_table(result):
    """``-o table`` for app cert list: one row per registered certificate."""
    return [_app_cert_row(cert) for cert in result]


def _expiring_table(result):
    """``-o table`` for app cert expiring: one row per certificate that expires soon."""
    return [{"Profile": e["profile"], "Where": e["where"], "Thumbprint": e["thumbprint"],
             "NotAfter": e["notAfter"], "DaysLeft": e["daysLeft"], "Expired": e["expired"]}
            for e in result["expiring"]]


def _rotation_steps(result):
    """``-o table`` for cert rotate: one row per step, done or planned."""
    return [{"Step": s["name"], "Ok": s["ok"], "Detail": s["detail"]} for s in result["steps"]]


def _revocation_row(result):
    """``-o table`` for cert check-revocation: the verdict and who gave it."""
    return {"Subject": result["subject"], "Thumbprint": result["thumbprint"],
            "Status": result["status"], "Method": result["method"],
            "RevocationDate": result["revocationDate"], "Reason": result["reason"]}


def _checks_table(result):
    """``-o table`` for validate: one row per check."""
    return [{"Check": c["name"], "Ok": c["ok"], "Severity": c["severity"], "Detail": c["detail"]}
            for c in result.get("checks", [])]


def _profile_row(profile):
    """One profile: who, which certificate, until when."""
    return {"Name": profile["name"], "Tenant": profile["tenant"], "ClientId": profile["clientId"],
            "Thumbprint": profile["thumbprint"], "Default": profile["isDefault"],
            "Expires": profile["notAfter"]}


def _profiles_table(result):
    """``-o table`` for profile list: one row per profile."""
    return [_profile_row(profile) for profile in result]


def _token_row(result):
    """``-o table`` for token get/refresh: about the token, without the token (use --query
    accessToken -o tsv for it), which would make the table unreadable."""
    return {"Profile": result["profile"], "ClientId": result["clientId"],
            "Scopes": " ".join(result["scopes"]), "ExpiresOn": result["expiresOn"],
            "Source": result["source"]}


def _inspect_row(result):
    """``-o table`` for token inspect: the claims people look for first, and the verdicts."""
    claims = result.get("claims") or {}
    row = {"Issuer": claims.get("iss"), "Audience": claims.get("aud"),
           "AppId": claims.get("appid") or claims.get("azp"),
           "ExpiresOn": (result.get("expiresOn") or {}).get("local"),
           "Expired": result.get("expired"), "SecondsLeft": result.get("secondsLeft")}
    if "signature" in result:
        row["SignatureValid"] = result["signature"]["valid"]
    return row


def _audit_table(result):
    """``-o table`` for audit list: one line per acquisition, Graph change or failure; for a
    change, who made it (an entracert profile, or the az account) and on which application."""
    return [{"Time": e.get("time"), "Action": e.get("action"), "Outcome": e.get("outcome"),
             "Profile": e.get("profile"), "ClientId": e.get("clientId"),
             "Scopes": " ".join(e.get("scopes") or []), "Code": e.get("code"),
             "Actor": _actor(e.get("actor")), "AppId": e.get("appId")} for e in result]


def _actor(actor):
    """``profile:admin`` or ``az:alice@contoso.com``: who called Graph, in one table cell."""
    if not isinstance(actor, dict):
        return None
    return f"{'az' if actor.get('type') == 'az' else 'profile'}:{actor.get('name')}"
