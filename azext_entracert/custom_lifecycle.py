"""The certificate lifecycle commands: ``az entracert app cert list|add|remove|expiring``,
``az entracert cert rotate`` and ``az entracert cert check-revocation``.

Thin like ``custom``: check what only the command line knows, pick who calls Microsoft Graph
(``_support.graph_client``: an admin profile, or the signed-in az account), call the core
(``lifecycle``, ``rotation``, ``revocation``) and return plain data.
"""
from knack.log import get_logger

from ._support import (
    exclusive,
    exit_after_output,
    graph_client,
    load_certificate,
    route_core_logs_to_az,
    terminal_prompt,
)

logger = get_logger(__name__)


# --- app cert ------------------------------------------------------------------------------------

def app_cert_list(cmd, profile=None, app_id=None, admin_profile=None, use_az_login=False):
    """The certificates registered on the profile's application; ``isLocal`` marks its own."""
    from .core import lifecycle

    chosen = _profile(profile)
    return lifecycle.list_certificates(graph_client(cmd, admin_profile, use_az_login), chosen,
                                       app_id=app_id)


def app_cert_add(cmd, file_path, profile=None, display_name=None, app_id=None,
                 admin_profile=None, use_az_login=False, password_env=None, password_file=None):
    """Register the public part of a certificate, keeping every existing credential."""
    from .core import lifecycle, secrets

    exclusive(("--password-env", password_env), ("--password-file", password_file))
    chosen = _profile(profile)
    graph = graph_client(cmd, admin_profile, use_az_login)
    password = secrets.password_source(env=password_env, file=password_file,
                                       prompt=terminal_prompt())
    return lifecycle.add_certificate(graph, chosen, file_path, password=password,
                                     display_name=display_name, app_id=app_id)


def app_cert_remove(cmd, profile=None, thumbprint=None, key_id=None, force=False, app_id=None,
                    admin_profile=None, use_az_login=False):
    """Remove exactly one registered certificate (az asks to confirm unless --yes)."""
    from .core import lifecycle

    _exactly_one(("--thumbprint", thumbprint), ("--key-id", key_id))
    chosen = _profile(profile)
    result = lifecycle.remove_certificate(graph_client(cmd, admin_profile, use_az_login), chosen,
                                          thumbprint=thumbprint, key_id=key_id, force=force,
                                          app_id=app_id)
    # Removal stops new sign-ins only: Entra ID cannot revoke an app-only access token.
    clear = ("az entracert token clear" + (f" --profile {chosen.name}"
                                           if result["removed"]["isLocal"] else ""))
    logger.warning("Removed %s: Entra ID now refuses sign-ins with it, but access tokens "
                   "already issued with it stay valid until they expire (up to about 60-90 "
                   "minutes). If it was compromised, remove the tokens cached on this machine "
                   "with '%s'.",
                   result["removed"]["thumbprint"], clear)
    return result


def app_cert_expiring(cmd, days=30, profile_names=None, admin_profile=None, use_az_login=False):
    """Certificates expiring within --days across profiles; exit 1 when there is any."""
    from .core import lifecycle, profiles

    store = profiles.ProfileStore()
    chosen = [store.get(n) for n in profile_names] if profile_names else store.list()[0]
    graph = graph_client(cmd, admin_profile, use_az_login, required=False)
    result = lifecycle.expiring(chosen, days=int(days), graph=graph)
    for warning in result["warnings"]:
        logger.warning(warning)
    if result["expiring"]:
        exit_after_output(cmd.cli_ctx, _expiring_summary(result["expiring"], days))
    return result


def _expiring_summary(rows, days):
    """One sentence per expired certificate (when), then how many more expire within ``days``."""
    expired = [r for r in rows if r["expired"]]
    said = [f"The {r['where']} certificate {r['thumbprint']} of profile '{r['profile']}' expired "
            f"on {(r['notAfter'] or '?')[:10]}." for r in expired]
    if len(rows) > len(expired):
        said.append(f"{len(rows) - len(expired)} certificate(s) expire within {days} day(s).")
    return " ".join(said)


# --- cert rotate / check-revocation ------------------------------------------------------------

def cert_rotate(cmd, profile=None, days=None, key_size=None, subject=None, san=None, out=None,
                keep_old=False, dry_run=False, password_env=None, password_file=None,
                no_password=False, admin_profile=None, use_az_login=False, csr=False,
                complete=False, cert_path=None, verify_timeout=None):
    """Rotate a profile's certificate with the application's own key (addKey/removeKey); an
    unfinished rotation is finished first. ``--csr``/``--complete --cert``: the CA path."""
    from azure.cli.core.azclierror import RequiredArgumentMissingError

    from .core import profiles, rotation

    route_core_logs_to_az()  # the progress of the wait for Entra ID goes to stderr
    exclusive(("--password-env", password_env), ("--password-file", password_file),
               ("--no-password", no_password))
    exclusive(("--csr", csr), ("--complete", complete))
    if bool(complete) != bool(cert_path):
        raise RequiredArgumentMissingError(
            "--complete and --cert go together.",
            recommendation="Finish a --csr rotation with --complete --cert SIGNED.crt (the "
                           "certificate your CA issued for the request).")
    store = profiles.ProfileStore()
    name = _profile(profile, store=store).name
    graph = graph_client(cmd, admin_profile, use_az_login, required=False)
    waits = {"verify_timeout": float(verify_timeout)} if verify_timeout else {}
    return rotation.rotate(store, name, days=int(days) if days else None,
                           key_size=int(key_size) if key_size else None, subject=subject,
                           sans=tuple(san) if san else None, out=out, password_env=password_env,
                           password_file=password_file, no_password=no_password,
                           keep_old=keep_old, dry_run=dry_run, csr=csr, complete=cert_path,
                           graph=graph, prompt=terminal_prompt(), **waits)


def cert_check_revocation(cmd, file_path=None, pfx_base64_env=None, password_env=None,
                          password_file=None, issuer=None, ca_bundle=None):
    """The CA's verdict on a certificate (OCSP, then CRL); exit 1 when it is revoked."""
    from .core import certs, revocation

    loaded = load_certificate(file_path, pfx_base64_env, password_env, password_file,
                              None, None, None)
    issuer_certificate = certs.load(issuer).certificate if issuer else None
    result = revocation.check(loaded, issuer=issuer_certificate, ca_bundle=ca_bundle)
    if result["status"] == "unknown":
        logger.warning("Revocation status unknown: %s", result.get("detail"))
    elif result["status"] == "revoked":
        exit_after_output(cmd.cli_ctx, f"The certificate {loaded.thumbprint} was revoked by its "
                                        f"CA on {result['revocationDate']} "
                                        f"({result['reason'] or 'no reason given'}).")
    return result


# --- Helpers -------------------------------------------------------------------------------------

def _profile(name, *, store=None):
    from .core import profiles

    return (store or profiles.ProfileStore()).resolve(name)


def _exactly_one(*named):
    from azure.cli.core.azclierror import RequiredArgumentMissingError

    exclusive(*named)
    if not any(value for _, value in named):
        raise RequiredArgumentMissingError(
            f"Name the certificate with {' or '.join(option for option, _ in named)}.",
            recommendation="'az entracert app cert list' shows thumbprints and keyIds.")
