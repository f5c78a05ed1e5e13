"""The ``az entracert profile|token|audit`` commands: translate az arguments into core calls.

Like ``custom`` (the certificate commands), each function checks only what the command line knows
(which options were combined, the active az cloud, whether a terminal can be prompted), calls the
core (``profiles``, ``tokens``, ``inspect``, ``audit``) and returns plain data for ``-o`` and
``--query``.
No secret is ever returned or logged, except the access token ``token get`` exists to print.

The core logs its warnings (a certificate about to expire, a damaged cache set aside) through the
standard ``logging`` module; ``_support.route_core_logs_to_az`` hands them to az's own console
handler, so they show as ``WARNING: ...`` and obey ``--only-show-errors``/``--debug`` like az's own
messages.
"""
from knack.log import get_logger

from ._support import exclusive, key_password_hint, route_core_logs_to_az, terminal_prompt

logger = get_logger(__name__)

# --- Profiles ---------------------------------------------------------------------------------

def profile_create(cmd, name, tenant, client_id, certificate=None, pfx_base64_env=None,
                   password_env=None, password_file=None, key_file=None, key_password_env=None,
                   key_password_file=None, thumbprint=None, client_secret_env=None,
                   client_secret_file=None, pkcs11_module=None, pkcs11_token=None,
                   pkcs11_key=None, pkcs11_uri=None, pin_env=None, pin_file=None, scopes=None,
                   cloud=None, authority_host=None, graph_endpoint=None, ca_bundle=None,
                   send_chain=False, legacy_sha1=False, make_default=False):
    """Validate, load the certificate once (recording its thumbprints and expiry), store; a
    client secret (development and testing) is read once instead, and nothing recorded of it."""
    from .core import clouds, credentials, profiles, tokens

    route_core_logs_to_az()
    _certificate_source(certificate, pfx_base64_env, thumbprint, client_secret_env,
                        client_secret_file, pkcs11_module, pkcs11_uri)
    exclusive(("--password-env", password_env), ("--password-file", password_file))
    exclusive(("--pin-env", pin_env), ("--pin-file", pin_file))
    exclusive(("--key-password-env", key_password_env),
              ("--key-password-file", key_password_file))
    credential = credentials.from_fields(dict(
        certificate=certificate, pfx_base64_env=pfx_base64_env, password_env=password_env,
        password_file=password_file, key_file=key_file, key_password_env=key_password_env,
        key_password_file=key_password_file, store_thumbprint=thumbprint,
        client_secret_env=client_secret_env, client_secret_file=client_secret_file,
        pkcs11_module=pkcs11_module, pkcs11_token=pkcs11_token, pkcs11_key=pkcs11_key,
        pkcs11_uri=pkcs11_uri, pin_env=pin_env, pin_file=pin_file))
    clouds.check_agreement(cloud, authority_host=authority_host, graph_endpoint=graph_endpoint)
    store = profiles.ProfileStore()
    store.check_free(profiles.check_name(name))  # before any password prompt
    if not (cloud or authority_host):
        cloud, authority_host, graph_endpoint = _active_az_cloud(cmd, graph_endpoint)
    with key_password_hint(key_file, given=key_password_env or key_password_file):
        profile = profiles.new_profile(
            name, tenant=tenant, client_id=client_id, credential=credential,
            prompt=terminal_prompt(), scopes=tuple(scopes or ()), cloud=cloud,
            authority_host=authority_host, graph_endpoint=graph_endpoint, ca_bundle=ca_bundle,
            send_chain=send_chain, legacy_sha1=legacy_sha1)
    store.add(profile, make_default=make_default)
    tokens.warn_about_expiry(profile)
    credentials.nudge_toward_certificates(profile, store.directory)
    return _shown(profile, store.default_name())


def profile_list():
    """Every profile, in name order (``-o table`` shows one line each)."""
    from .core import profiles

    listed, default = profiles.ProfileStore().list()
    return [_shown(profile, default) for profile in listed]


def profile_show(name):
    from .core import profiles

    store = profiles.ProfileStore()
    return _shown(store.get(name), store.default_name())


def profile_update(cmd, name, tenant=None, client_id=None, certificate=None, pfx_base64_env=None,
                   password_env=None, password_file=None, key_file=None, key_password_env=None,
                   key_password_file=None, thumbprint=None, client_secret_env=None,
                   client_secret_file=None, pkcs11_module=None, pkcs11_uri=None,
                   pkcs11_token=None, pkcs11_key=None, pin_env=None, pin_file=None, scopes=None,
                   cloud=None, authority_host=None, graph_endpoint=None, ca_bundle=None,
                   send_chain=None, legacy_sha1=None, make_default=False):
    """Change what is given; the credential is loaded (or a secret read) again only when its
    options change, and a new kind of credential keeps nothing of the old one."""
    from .core import clouds, credentials, profiles, tokens

    route_core_logs_to_az()
    exclusive(("--certificate", certificate), ("--pfx-base64-env", pfx_base64_env),
              ("--thumbprint", thumbprint), ("--client-secret-env", client_secret_env),
              ("--client-secret-file", client_secret_file), ("--pkcs11-module", pkcs11_module),
              ("--pkcs11-uri", pkcs11_uri))
    exclusive(("--password-env", password_env), ("--password-file", password_file))
    exclusive(("--key-password-env", key_password_env),
              ("--key-password-file", key_password_file))
    exclusive(("--pin-env", pin_env), ("--pin-file", pin_file))
    clouds.check_agreement(cloud, authority_host=authority_host, graph_endpoint=graph_endpoint)
    store = profiles.ProfileStore()
    with key_password_hint(key_file, given=key_password_env or key_password_file):
        updated = profiles.updated_profile(
            store.get(name), prompt=terminal_prompt(), tenant=tenant, client_id=client_id,
            certificate=certificate, pfx_base64_env=pfx_base64_env, password_env=password_env,
            password_file=password_file, key_file=key_file, key_password_env=key_password_env,
            key_password_file=key_password_file, store_thumbprint=thumbprint,
            client_secret_env=client_secret_env, client_secret_file=client_secret_file,
            pkcs11_module=pkcs11_module, pkcs11_uri=pkcs11_uri, pkcs11_token=pkcs11_token,
            pkcs11_key=pkcs11_key, pin_env=pin_env, pin_file=pin_file, scopes=scopes,
            cloud=cloud, authority_host=authority_host, graph_endpoint=graph_endpoint,
            ca_bundle=ca_bundle, send_chain=send_chain, legacy_sha1=legacy_sha1)
    profile = store.replace(updated)
    if make_default:
        store.set_default(name)
    tokens.warn_about_expiry(profile)
    credentials.nudge_toward_certificates(profile, store.directory)
    return _shown(profile, store.default_name())


def profile_delete(name):
    """Delete a profile (az asks for confirmation unless --yes); cached tokens stay. Deleting
    the default leaves none, and says so: no other profile is promoted behind the user's back."""
    from .core import profiles

    store = profiles.ProfileStore()
    was_default = store.default_name() == name
    default = store.delete(name)
    if was_default:
        logger.warning("'%s' was the default profile; now there is no default. Choose one with "
                       "'az entracert profile set-default --name NAME', or pass --profile.", name)
    return {"deleted": name, "default": default}


def profile_set_default(name):
    from .core import profiles

    store = profiles.ProfileStore()
    store.set_default(name)
    return _shown(store.get(name), name)


def profile_export(name, out, force=False):
    """Write the profile as portable, secret-free JSON (atomically, readable by others)."""
    from .core import profiles

    profiles.write_export(profiles.ProfileStore().get(name), out, force=force)
    return {"name": name, "file": out}


def profile_import(file_path, name=None, force=False, make_default=False):
    """Add the profile in an exported file (optionally under a new name)."""
    from pathlib import Path

    from .core import profiles

    profile = profiles.read_export(file_path, name=name)
    store = profiles.ProfileStore()
    if not force:
        store.check_free(profile.name,
                         hint="Import it under another --name, or pass --force to replace it.")
    store.add(profile, replace=force, make_default=make_default)
    for what, path, option in (("certificate", profile.certificate, "--certificate"),
                               ("key file", profile.key_file, "--key-file")):
        if path and not Path(path).exists():
            logger.warning("The %s '%s' of profile '%s' is not on this machine; copy it there or "
                           "run 'az entracert profile update --name %s %s PATH'.",
                           what, path, profile.name, profile.name, option)
    return _shown(profile, store.default_name())


# --- Tokens -----------------------------------------------------------------------------------

def token_get(profile=None, scopes=None, resource=None, force_refresh=False):
    """An access token for the profile: from the cache when possible, else from Entra ID."""
    from .core import profiles, tokens

    route_core_logs_to_az()
    chosen = profiles.ProfileStore().resolve(profile)
    wanted = tokens.scopes_for(chosen, scopes=scopes, resource=resource)
    return tokens.acquire(chosen, wanted, force=force_refresh, prompt=terminal_prompt()).to_dict()


def token_refresh(profile=None, scopes=None, resource=None):
    """``token get --force-refresh``: always a new token from Entra ID."""
    return token_get(profile=profile, scopes=scopes, resource=resource, force_refresh=True)


def token_inspect(cmd, token=None, file_path=None, stdin=False, profile=None, verify=False,
                  issuer=None, jwks_uri=None, audience=None):
    """Decode a token (header, claims, times); with ``verify`` (implied by ``issuer``,
    ``jwks_uri`` and ``audience``), say whether it can be trusted too."""
    import sys

    from .core import inspect, profiles, tokens

    route_core_logs_to_az()
    if token == "-":  # the usual spelling of "standard input"
        token, stdin = None, True
    sources = (("--token", token), ("--file", file_path), ("--stdin", stdin))
    exclusive(*sources)
    chosen = None
    if profile:
        chosen = profiles.ProfileStore().resolve(profile)
    if any(value for _, value in sources):
        text = inspect.read_token(token=token, file=file_path,
                                  stdin=sys.stdin if stdin else None)
    elif chosen is not None:
        text = tokens.acquire(chosen, chosen.default_scopes, prompt=terminal_prompt()).token
    else:
        from azure.cli.core.azclierror import RequiredArgumentMissingError

        raise RequiredArgumentMissingError(
            "No token to inspect.",
            recommendation="Use --file PATH, --stdin or --profile NAME (a --token value stays in "
                           "your shell history).")
    result = inspect.decode(text)
    if verify or issuer or jwks_uri or audience:
        result["verification"] = _verify(cmd, inspect, text, chosen, issuer=issuer,
                                         jwks_uri=jwks_uri, audience=audience)
    return result


def token_clear(profile=None):
    """Remove cached access tokens: every identity one profile has had, or everything cached."""
    from .core import cache, profiles

    name = profiles.ProfileStore().resolve(profile).name if profile else None
    return {"removed": cache.clear(profiles.config_dir(), profile=name)}


def audit_list(profile=None, since=None, limit=None):
    """The audit trail, oldest first: network acquisitions and failures, never a token."""
    from .core import audit, profiles

    route_core_logs_to_az()
    return list(audit.read(profiles.config_dir(), profile=profile, since=since, limit=limit))


# --- Helpers ----------------------------------------------------------------------------------

def _shown(profile, default):
    """A profile as the commands print it: camelCase, names of password sources, never values;
    every credential field, so that a profile of any kind shows where its key comes from."""
    from .core.credentials import FIELDS

    recorded = profile.to_dict()
    return {
        "name": profile.name, "tenant": profile.tenant, "clientId": profile.client_id,
        "credentialKind": profile.credential.kind,
        **{_camel(field): recorded.get(field) for field in FIELDS},
        "thumbprint": profile.thumbprint,
        "thumbprintSha256": profile.thumbprint_sha256,
        "serial": profile.serial, "notAfter": profile.not_after, "scopes": list(profile.scopes),
        "defaultScopes": profile.default_scopes, "cloud": profile.cloud,
        "authorityHost": profile.authority_host, "graphEndpoint": profile.graph_endpoint,
        "caBundle": profile.ca_bundle, "sendChain": profile.send_chain,
        "legacySha1": profile.legacy_sha1, "isDefault": profile.name == default,
    }


def _camel(name):
    """``key_password_env`` as ``keyPasswordEnv``."""
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def _certificate_source(certificate, pfx_base64_env, thumbprint=None, client_secret_env=None,
                        client_secret_file=None, pkcs11_module=None, pkcs11_uri=None):
    from azure.cli.core.azclierror import RequiredArgumentMissingError

    exclusive(("--certificate", certificate), ("--pfx-base64-env", pfx_base64_env),
              ("--thumbprint", thumbprint), ("--client-secret-env", client_secret_env),
              ("--client-secret-file", client_secret_file), ("--pkcs11-module", pkcs11_module),
              ("--pkcs11-uri", pkcs11_uri))
    if not (certificate or pfx_base64_env or thumbprint or client_secret_env
            or client_secret_file or pkcs11_module or pkcs11_uri):
        raise RequiredArgumentMissingError(
            "No certificate given.",
            recommendation="Use --certificate PATH (PFX or PEM with its key), "
                           "--pfx-base64-env VAR, --thumbprint X (from 'az entracert store "
                           "list') or --pkcs11-module PATH --pkcs11-token LABEL --pkcs11-key "
                           "LABEL (or --pkcs11-uri 'pkcs11:...'); for development, "
                           "--client-secret-env VAR.")


def _active_az_cloud(cmd, graph_endpoint):
    """(cloud, authority_host, graph_endpoint) of the cloud ``az cloud set`` made active."""
    from .core import clouds

    active = cmd.cli_ctx.cloud
    if active.name in clouds.CLOUDS:
        return active.name, None, graph_endpoint
    endpoints = active.endpoints
    graph = getattr(endpoints, "microsoft_graph_resource_id", None)
    return (None, endpoints.active_directory.rstrip("/"),
            graph_endpoint or (graph.rstrip("/") if graph else None))


def _verify(cmd, inspect, text, profile, **explicit):
    """Every verdict on the token, against the authority the user chose (``inspect.check``).

    A token that must not be trusted (untrusted issuer, bad signature, wrong issuer or audience,
    expired or not yet valid) is reported in the output (``valid: false`` and the reasons) and
    makes az exit with 1 after printing it, like ``cert validate``.
    """
    from ._support import exit_after_output

    verdict = inspect.check(text, profile=profile, **explicit)
    if not verdict["valid"]:
        exit_after_output(cmd.cli_ctx, " ".join(verdict["reasons"]))
    return verdict

