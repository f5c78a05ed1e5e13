"""The application commands: ``az entracert app create|show|list|delete``,
``az entracert app permission add|list|remove`` and ``az entracert app secret add|list|remove``.

Thin like ``custom_lifecycle`` (``_support.graph_client`` picks who calls Microsoft Graph):
check what only the command line knows, describe the caller a new profile inherits its settings
from, call ``core.onboarding`` and return plain data.
"""
from ._support import (
    exclusive,
    graph_client,
    new_file_password,
    route_core_logs_to_az,
    terminal_prompt,
)


def app_create(cmd, display_name, create_cert=False, file_path=None, days=None, key_size=None,
               out=None, password_env=None, password_file=None, no_password=False, profile=None,
               make_default=False, sign_in_audience="AzureADMyOrg", allow_duplicate=False,
               admin_profile=None, use_az_login=False, verify_timeout=None):
    """Application + service principal + certificate credential, proven by a token; with
    --profile, the profile too."""
    from azure.cli.core.azclierror import (
        InvalidArgumentValueError,
        MutuallyExclusiveArgumentError,
        RequiredArgumentMissingError,
    )

    from .core import onboarding, profiles

    route_core_logs_to_az()  # the wait for Entra ID to accept the new application: stderr
    exclusive(("--create-cert", create_cert), ("--file", file_path))
    if not (create_cert or file_path):
        raise RequiredArgumentMissingError(
            "No certificate for the new application.",
            recommendation="Add --create-cert to make one (with --out PATH.pfx), or --file "
                           "CERT to register one you have.")
    if file_path and (days or key_size or out or no_password):
        given = [o for o, v in (("--days", days), ("--key-size", key_size), ("--out", out),
                                ("--no-password", no_password)) if v]
        raise MutuallyExclusiveArgumentError(
            f"{', '.join(given)} describe(s) a new certificate, and --file names an existing one.",
            recommendation="Leave them out, or use --create-cert instead of --file.")
    if make_default and not profile:
        raise RequiredArgumentMissingError("--default needs --profile NAME.",
                                           recommendation="Add --profile NAME.")
    if days is not None and days < 1:
        raise InvalidArgumentValueError(f"--days {days} is not a lifetime.",
                                        recommendation="Give a number of days, e.g. --days 365.")
    onboarding.check_display_name(display_name)  # before a password prompt or a new key
    store = profiles.ProfileStore()
    if profile:
        store.check_free(profiles.check_name(profile))
    graph = graph_client(cmd, admin_profile, use_az_login)
    caller = (onboarding.Caller.of_profile(store.get(admin_profile)) if admin_profile
              else _az_caller(cmd))
    if create_cert:
        out = out or f"{_file_stem(display_name)}.pfx"
        from .core import certgen
        from .core.credentials import CertificateFile

        certgen.check_bundle_writable(out)  # before the password prompt and the key
        password = new_file_password(password_env, password_file, no_password,
                                     purpose="PFX password")
        certificate = onboarding.NewCertificate.self_signed(
            display_name, CertificateFile(certificate=out, password_env=password_env,
                                          password_file=password_file),
            days=days or 365, key_size=int(key_size or 2048), password=password)
    else:
        certificate = _existing(file_path, password_env, password_file)
    return onboarding.create(
        graph, caller, display_name, certificate, sign_in_audience=sign_in_audience,
        profile_name=profile, make_default=make_default, store=store,
        allow_duplicate=allow_duplicate, prompt=terminal_prompt(),
        **({"verify_timeout": float(verify_timeout)} if verify_timeout else {}))


def app_show(cmd, profile=None, app_id=None, admin_profile=None, use_az_login=False):
    """The application of the profile (or --app-id): ids, certificates, local profiles."""
    from .core import onboarding, profiles

    store = profiles.ProfileStore()
    target = _target(store, profile, app_id)
    return onboarding.show(graph_client(cmd, admin_profile, use_az_login), target,
                           profiles=store.list()[0])


def app_list(cmd, admin_profile=None, use_az_login=False):
    """The tenant's applications the caller may see, with the local profiles of each."""
    from .core import onboarding, profiles

    return onboarding.list_applications(graph_client(cmd, admin_profile, use_az_login),
                                        profiles=profiles.ProfileStore().list()[0])


def app_delete(cmd, profile=None, app_id=None, admin_profile=None, use_az_login=False):
    """Delete the application and its service principal (az asks to confirm unless --yes)."""
    from .core import onboarding, profiles

    store = profiles.ProfileStore()
    target = _target(store, profile, app_id)
    result = onboarding.delete(graph_client(cmd, admin_profile, use_az_login), target,
                               profiles=store.list()[0])
    if result["profiles"]:
        from knack.log import get_logger

        get_logger(__name__).warning(
            "Profile(s) %s still point at the deleted application and can no longer sign in; "
            "remove them with 'az entracert profile delete --name NAME'.",
            ", ".join(result["profiles"]))
    return result


def app_permission_add(cmd, api, role, profile=None, app_id=None, grant=False,
                       admin_profile=None, use_az_login=False):
    """Request an application permission and, with --grant, give it admin consent."""
    from .core import permissions, profiles

    target = _target(profiles.ProfileStore(), profile, app_id)
    return permissions.add(graph_client(cmd, admin_profile, use_az_login), target, api, role,
                                     grant=grant)


def app_permission_list(cmd, profile=None, app_id=None, admin_profile=None, use_az_login=False):
    """The application permissions requested and granted."""
    from .core import permissions, profiles

    target = _target(profiles.ProfileStore(), profile, app_id)
    return permissions.listed(graph_client(cmd, admin_profile, use_az_login), target)


def app_permission_remove(cmd, api, role, profile=None, app_id=None, admin_profile=None,
                          use_az_login=False):
    """Stop requesting an application permission and withdraw its grant."""
    from .core import permissions, profiles

    target = _target(profiles.ProfileStore(), profile, app_id)
    return permissions.remove(graph_client(cmd, admin_profile, use_az_login), target, api,
                                        role)


def app_secret_add(cmd, profile=None, app_id=None, display_name=None, days=None, out=None,
                   force=False, admin_profile=None, use_az_login=False):
    """A client secret generated by Graph (development only): printed once, or only written
    to --out (0600)."""
    from knack.log import get_logger

    from .core import client_secrets

    chosen, target = _profile_and_target(profile, app_id)
    result = client_secrets.add(graph_client(cmd, admin_profile, use_az_login), target,
                                profile=chosen, display_name=display_name, days=days, out=out,
                                force=force)
    get_logger(__name__).warning(
        "Microsoft Graph shows a client secret only once%s. Client secrets are for development "
        "and testing: prefer a certificate ('az entracert cert create', 'az entracert app cert "
        "add').", f": it is in {out} (mode 0600)" if out else ": store it now")
    return result


def app_secret_list(cmd, profile=None, app_id=None, admin_profile=None, use_az_login=False):
    """The application's client secrets: keyId, name, hint and dates, never a secret."""
    from .core import client_secrets

    _, target = _profile_and_target(profile, app_id)
    return client_secrets.listed(graph_client(cmd, admin_profile, use_az_login), target)


def app_secret_remove(cmd, key_id, profile=None, app_id=None, admin_profile=None,
                      use_az_login=False):
    """Remove one client secret (az asks to confirm unless --yes)."""
    from .core import client_secrets

    chosen, target = _profile_and_target(profile, app_id)
    return client_secrets.remove(graph_client(cmd, admin_profile, use_az_login), target, key_id,
                                 profile=chosen)


# --- Helpers -------------------------------------------------------------------------------------

def _target(store, profile, app_id):
    """The appId meant: --app-id, else the profile's (default: the default profile's)."""
    return _profile_and_target(profile, app_id, store=store)[1]


def _profile_and_target(profile, app_id, *, store=None):
    """The profile concerned (None with --app-id) and the appId meant: --app-id, else the
    profile's (default: the default profile's)."""
    from .core import profiles

    exclusive(("--profile", profile), ("--app-id", app_id))
    chosen = None if app_id else (store or profiles.ProfileStore()).resolve(profile)
    return chosen, app_id or chosen.client_id


def _existing(file_path, password_env, password_file):
    """The certificate in ``file_path``; a password typed at the prompt is kept for the token
    that proves it, so it is asked once."""
    from .core import certs, onboarding, secrets
    from .core.credentials import CertificateFile

    exclusive(("--password-env", password_env), ("--password-file", password_file))
    prompt, typed = terminal_prompt(), {}

    def remembering(text):
        typed["password"] = prompt(text)
        return typed["password"]

    loaded = certs.load(file_path, password=secrets.password_source(
        env=password_env, file=password_file, prompt=remembering if prompt else None))
    return onboarding.NewCertificate(
        loaded, CertificateFile(certificate=str(loaded.source), password_env=password_env,
                                password_file=password_file),
        password=typed["password"].encode("utf-8") if typed else None)


def _az_caller(cmd):
    """The signed-in az account as the caller: its tenant, az's active cloud, and the CA bundle
    az trusts (REQUESTS_CA_BUNDLE), so the new profile reaches the same authority."""
    import os

    from azure.cli.core._profile import Profile

    from .core import onboarding
    from .custom_tokens import _active_az_cloud

    tenant = Profile(cli_ctx=cmd.cli_ctx).get_subscription()["tenantId"]
    cloud, authority_host, graph_endpoint = _active_az_cloud(cmd, None)
    return onboarding.Caller("--use-az-login", tenant, cloud=cloud,
                             authority_host=authority_host, graph_endpoint=graph_endpoint,
                             ca_bundle=os.environ.get("REQUESTS_CA_BUNDLE") or None)


def _file_stem(display_name):
    """A file name for the new PFX from the display name: letters, digits, '.', '_' and '-'."""
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "-", display_name).strip("-.") or "app"
