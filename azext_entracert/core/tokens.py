"""Access tokens for a profile: MSAL's confidential client over our assertion, with a persistent,
locked cache per identity.

How a request travels: the profile says who and where; the persistent MSAL token cache of that
identity is looked up first, by reading MSAL's document directly (``TokenCache.cached``: a hit
imports neither MSAL, requests nor cryptography and makes no network request). Only on a miss is
MSAL built, and it looks again (its discovery GETs are kept in a persisted ``http_cache`` as MSAL
documents for CLIs, so it refreshes a token past its ``refresh_on`` without discovering again);
only when MSAL must ask Entra is the certificate loaded (so a cache hit never asks for a
password) and a client assertion signed by ``assertion`` for MSAL to send (a client-secret
profile hands MSAL its secret instead: ``msal_credential``). Every network acquisition and every
failure is audited.

A cached token counts only for the identity that obtained it: profile, tenant, client id,
authority, CA trust (the bundle's content) and certificate together (``identity``); each identity
has its own cache file, read, used and written back under its own lock (``cache``), so parallel
processes (pytest-xdist workers) neither corrupt it nor lose entries, and a second process waiting
on the lock finds the first one's token instead of asking Entra again.
"""
import contextlib
import dataclasses
import datetime
import json
import logging
import re
import time
from pathlib import Path

from .cache import HttpCache, TokenCache, entry_of, remove_access_tokens
from .errors import (
    AuthenticationError,
    CertificateError,
    ConfigurationError,
    EntraCertError,
    InputFileError,
    NetworkError,
    PasswordError,
    StoreError,
)
from .times import iso_z

logger = logging.getLogger("entracert")

TOKEN_ATTEMPTS = 3  # token requests per acquisition when Entra answers 429/5xx
EXPIRY_WARNING_DAYS = 30


@dataclasses.dataclass(frozen=True)
class AccessToken:
    """A token and what it is for; its ``repr`` never shows the token."""

    token: str = dataclasses.field(repr=False)
    expires_on: int
    scopes: tuple
    source: str  # "cache" or "network"
    profile: str
    tenant: str
    client_id: str
    thumbprint: str  # of the certificate that obtained this token
    token_type: str = "Bearer"

    def to_dict(self):
        local = datetime.datetime.fromtimestamp(self.expires_on)
        return {
            "accessToken": self.token,
            "tokenType": self.token_type,
            "expiresOn": local.strftime("%Y-%m-%d %H:%M:%S.%f"),  # local time, as az prints it
            "expires_on": self.expires_on,
            "scopes": list(self.scopes),
            "profile": self.profile,
            "tenant": self.tenant,
            "clientId": self.client_id,
            "thumbprint": self.thumbprint,
            "source": self.source,
        }


def scopes_for(profile, *, scopes=None, resource=None):
    """The scopes to ask for: explicit scopes, a resource's ``/.default``, or the profile's."""
    if scopes and resource:
        raise ConfigurationError("--scope and --resource cannot be used together.",
                                 hint="A resource R is the same as --scope R/.default.")
    if resource:
        return [f"{resource}/.default"]  # "https://management.core.windows.net/" keeps its slash
    return list(scopes) if scopes else profile.default_scopes


def identity(profile, environ=None):
    """What a cached token of ``profile`` is bound to; a token counts only for the same identity.

    The certificate is the recorded thumbprint, so a cache hit reads no certificate; a profile
    that recorded none (the environment's) is known by its certificate's bytes, so a replaced or
    missing file never meets another certificate's tokens.
    """
    from .http import trust_fingerprint

    return {"profile": profile.name, "tenant": profile.tenant.lower(),
            "clientId": profile.client_id.lower(),
            "authority": profile.authority_host.rstrip("/").lower(),
            "trust": trust_fingerprint(profile.ca_bundle, environ),
            "certificate": profile.thumbprint or _certificate_digest(profile)}


def _certificate_digest(profile):
    try:
        return profile.credential.fingerprint()
    except InputFileError as exc:
        if exc.path and str(exc.path).startswith("env:"):  # the variable's error names the fix
            raise
        raise _unreadable_certificate(profile, exc) from exc


def acquire(profile, scopes=None, *, force=False, directory=None, prompt=None, now=None,
            claims=None):
    """An access token for ``profile``: from its identity's cache when possible, else from Entra.

    ``prompt`` asks for the certificate password when the profile names no source and a person is
    at the terminal; it is called only if the certificate must be loaded. ``claims`` is a claims
    challenge from a resource (continuous access evaluation): it is sent to Entra, and MSAL never
    answers it from the cache. ``now`` is the caller's clock (the pytest plugin's tests move
    theirs): it decides whether the certificate has expired, and the token's ``expires_on`` is
    given in it; whether the cache answers is decided on the real clock, as MSAL decides it.
    """
    from . import credentials
    from .profiles import config_dir

    directory = Path(directory) if directory else config_dir()
    scopes = list(scopes or profile.default_scopes)
    real = time.time()
    now = now or real
    signer = _Signer(profile, prompt)
    try:
        with _failures_mapped(directory, profile, scopes, signer):
            expires = profile.expires
            if expires is not None and now >= expires.timestamp():
                # Even a cached token is refused: it was issued to a credential that no
                # longer works.
                raise expired_error(profile, profile.thumbprint, expires, profile.certificate)
            warn_about_expiry(profile, now=now)
            credentials.nudge_toward_certificates(profile, directory)
            store = TokenCache(directory, identity(profile))
            # The fast path: MSAL's own answer from the cache file, without importing MSAL.
            entry = None if force or claims else store.cached(client_id=profile.client_id,
                                                              scopes=scopes, now=real)
            source = "cache"
            if entry is None:
                entry, source = _from_msal(profile, scopes, store, signer, directory, force=force,
                                           claims=claims)
        # The entry's expiry, so that the network result and every later hit show one value;
        # shifted by whole seconds into the caller's clock.
        token = AccessToken(
            token=entry["secret"], expires_on=int(entry["expires_on"]) + round(now - real),
            scopes=tuple(scopes), source=source, profile=profile.name, tenant=profile.tenant,
            client_id=profile.client_id, thumbprint=store.thumbprint or profile.thumbprint,
            token_type=entry.get("token_type", "Bearer"))
        if source == "network":
            _audit(directory, profile, scopes, signer)
        return token
    finally:
        # A key on a token holds a session (and the process's login) while it is referenced,
        # and MSAL's client keeps it in a reference cycle: let it go now, not at some later
        # garbage collection, so the token's login ends with the command.
        signer.loaded = None


def _from_msal(profile, scopes, store, signer, directory, *, force, claims):
    """MSAL's answer under the identity's lock, as the cache entry it keeps and its source
    ("cache" when MSAL fell back on a cached token it could not refresh). The entry's
    ``expires_on`` is what later cache hits print too."""
    with store.open() as cache:
        result, authority = _ask(profile, scopes, cache, signer, directory, force=force,
                                 claims=claims)
        store.authority = {"environment": authority.instance, "realm": authority.tenant}
        if signer.loaded is not None:
            store.thumbprint = signer.thumbprint
        entry = entry_of(cache, result["access_token"]) if "access_token" in result else None
    if "access_token" not in result:
        from . import aadsts  # here, as ``audit``: a cache hit needs neither

        raise aadsts.from_response(result, client_id=profile.client_id, tenant=profile.tenant,
                                   thumbprint=signer.thumbprint or profile.thumbprint,
                                   resource=" ".join(scopes), profile=profile.name,
                                   certificate=profile.certificate, secret=_secret_source(profile))
    entry = entry or {  # not in the cache only if it expired within this very second
        "secret": result["access_token"], "token_type": result.get("token_type", "Bearer"),
        "expires_on": int(time.time()) + int(result["expires_in"])}
    return entry, "cache" if result.get("token_source") == "cache" else "network"


def _ask(profile, scopes, cache, signer, directory, *, force, claims):
    """MSAL's answer for ``scopes`` over ``cache``, and its authority (MSAL files tokens under
    its host and the discovered tenant); a token request that Entra answers 429/5xx is
    made again (a new assertion each time) up to TOKEN_ATTEMPTS times, as long as it asks to wait
    at most a minute. Our HTTP layer never re-sends the POST itself."""
    import msal

    from .http import HttpClient, pause, retry_wait

    http = HttpClient(ca_bundle=profile.ca_bundle)
    http_cache = HttpCache(directory)  # under the identity's lock: one discovery for the queue
    try:
        app = msal.ConfidentialClientApplication(
            profile.client_id,
            client_credential=profile.credential.msal_credential(lambda: signer.assertion(app)),
            authority=f"{profile.authority_host}/{profile.tenant}",
            token_cache=cache, http_client=http, http_cache=http_cache,
            instance_discovery=False,  # never call login.microsoftonline.com to "discover"
            app_name="entracert")
        if force:
            remove_access_tokens(cache, scopes=scopes)
        for attempt in range(1, TOKEN_ATTEMPTS + 1):
            http.last_response = None
            try:
                result = app.acquire_token_for_client(scopes, claims_challenge=claims)
            except (msal.exceptions.MsalServiceError, ValueError):
                if not _ask_again(http.last_response, attempt):
                    raise
            else:
                if "access_token" in result or not _ask_again(http.last_response, attempt):
                    return result, app.authority
            pause(http.last_response, retry_wait(http.last_response, attempt - 1))
            http_cache.forget_throttling()  # else MSAL answers the next attempt from memory
    finally:
        http.close()
        http_cache.save()


def _ask_again(answer, attempt):
    """Whether the token request just answered deserves another attempt: Entra was busy."""
    from .http import busy

    return (attempt < TOKEN_ATTEMPTS and answer is not None and answer.request.method == "POST"
            and busy(answer))


@contextlib.contextmanager
def _failures_mapped(directory, profile, scopes, signer):
    """Every failure of an acquisition as one of our errors, audited once: MSAL's and requests'
    exceptions are translated here and nowhere else (as httpx's ``map_httpcore_exceptions``)."""
    try:
        yield
    except Exception as exc:
        error = exc if isinstance(exc, EntraCertError) else _translated(exc, profile)
        if error is None:  # not a library's failure: a bug, shown as such
            raise
        _audit(directory, profile, scopes, signer, error)
        if error is exc:
            raise
        raise error from exc


def _translated(exc, profile):
    """MSAL's and requests' exceptions in the user's terms; None for anything else."""
    import msal
    import requests

    if isinstance(exc, ValueError):  # MSAL: discovery failed, or a body that is not JSON
        return _discovery_error(profile, exc)
    if isinstance(exc, (requests.HTTPError, msal.exceptions.MsalServiceError)):
        # MSAL raises MsalServiceError("HTTP Error: 503") for a 5xx (its NormalizedResponse);
        # before it throttled, requests.HTTPError.
        return NetworkError(
            f"{profile.authority_host} answered HTTP {_http_status(exc)} (a server error) to "
            f"{TOKEN_ATTEMPTS} token requests.", host=profile.authority_host,
            hint="The identity service is failing; try again in a few minutes.")
    return None


class _Signer:
    """Loads the certificate at most once, and only when MSAL needs a fresh assertion."""

    def __init__(self, profile, prompt):
        self.profile, self.prompt = profile, prompt
        self.loaded = None  # the credential is read only when MSAL asks for an assertion

    thumbprint = property(lambda self: self.loaded and self.loaded.thumbprint)
    thumbprint_sha256 = property(lambda self: self.loaded and self.loaded.thumbprint_sha256)
    serial = property(lambda self: self.loaded and self.loaded.serial)

    def assertion(self, app):
        if self.loaded is None:
            self.loaded = load_profile_certificate(self.profile, prompt=self.prompt)
        return self.profile.credential.assertion(
            self.loaded, audience=app.authority.token_endpoint, client_id=self.profile.client_id,
            legacy_sha1=self.profile.legacy_sha1, send_chain=self.profile.send_chain)


def load_profile_certificate(profile, *, prompt=None, now=None):
    """The profile's certificate with its key, checked: same thumbprint as recorded, not expired."""
    from . import certs

    credential = profile.credential
    try:
        loaded = credential.load(prompt=prompt)
    except InputFileError as exc:
        if type(exc) is not InputFileError:  # the file is there but unreadable as a certificate
            raise
        raise _unreadable_certificate(profile, exc) from exc
    except PasswordError as exc:
        raise _password_hint(profile, credential, exc) from exc
    except StoreError as exc:  # the store's own words, and which profile asked
        raise StoreError(
            f"{exc.message} (Profile '{profile.name}' reads its certificate from the store.)",
            thumbprint=exc.thumbprint,
            hint=f"{exc.hint} Or give the profile another source: 'az entracert profile update "
                 f"--name {profile.name} --thumbprint X' (or --certificate PATH).") from exc
    if not loaded.has_private_key:
        raise CertificateError(
            f"The certificate file '{loaded.source}' of profile '{profile.name}' holds no private "
            "key, so it cannot sign in.", path=loaded.source, thumbprint=loaded.thumbprint,
            hint="Point the profile at the PFX, or a PEM holding both key and certificate: "
                 f"'az entracert profile update --name {profile.name} --certificate PATH'.")
    if profile.thumbprint and loaded.thumbprint != profile.thumbprint:
        raise CertificateError(
            f"The certificate '{loaded.source}' changed since the profile '{profile.name}' was "
            f"made: the profile expects thumbprint {profile.thumbprint}, the file has "
            f"{loaded.thumbprint}.", path=loaded.source, thumbprint=loaded.thumbprint,
            hint=f"If the new certificate is intended, run 'az entracert profile update --name "
                 f"{profile.name} --certificate {loaded.source}'.")
    certs.require_rsa(loaded)
    moment = datetime.datetime.fromtimestamp(now or time.time(), datetime.timezone.utc)
    if moment >= loaded.certificate.not_valid_after_utc:
        raise expired_error(profile, loaded.thumbprint, loaded.certificate.not_valid_after_utc,
                            loaded.source)
    if profile.expires is None:  # the environment's identity: its expiry is known only now
        warning = certs.expiry_warning(loaded, now=moment, warn_days=EXPIRY_WARNING_DAYS)
        if warning:
            logger.warning(warning)
    return loaded


def _password_hint(profile, credential, exc):
    """A missing password (or a token's PIN), pointed at the profile option that names its
    source."""
    own, (env_option, file_option) = credential.unlocking(exc.path)
    if own is not None and own.given:
        return exc  # the profile's own source failed: the message names it
    # Not "--password-env VAR": on 'cert rotate' that option is the new PFX's password.
    return PasswordError(
        exc.message, path=exc.path,
        hint=f"Keep the password's source in the profile: 'az entracert profile update --name "
             f"{profile.name} {env_option} VAR' (or {file_option} FILE), or run in a terminal "
             "to be prompted.")


def _unreadable_certificate(profile, exc):
    """A missing (or unreadable) certificate file, named with its profile and the fix."""
    from .profiles import ENVIRONMENT_PROFILE

    option = "--key-file" if profile.key_file and exc.path and \
        Path(exc.path) == Path(profile.key_file) else "--certificate"
    return InputFileError(
        f"The certificate of profile '{profile.name}' cannot be read: {exc.message}",
        path=exc.path,
        hint="Point AZURE_CLIENT_CERTIFICATE_PATH at the certificate file."
        if profile.name == ENVIRONMENT_PROFILE else
        f"If it moved, run 'az entracert profile update --name {profile.name} "
        f"{option} NEW_PATH'.")


def expired_error(profile, thumbprint, not_after, path):
    """The refusal of an expired certificate: Entra ID would reject it, so nothing is sent."""
    return CertificateError(
        f"The certificate {thumbprint} of profile '{profile.name}' expired on "
        f"{iso_z(not_after)}; Entra ID would reject it, so no request was sent.",
        path=path, thumbprint=thumbprint,
        hint="An expired certificate cannot prove possession for 'cert rotate': create a new one "
             "('az entracert cert create'), register it with an admin identity ('az entracert app "
             f"cert add --profile {profile.name} --file NEW.cer --admin-profile ADMIN'), then "
             f"'az entracert profile update --name {profile.name} --certificate NEW.pfx'.")


def warn_about_expiry(profile, *, now=None, days=EXPIRY_WARNING_DAYS):
    """Warn (logger ``entracert``) when the profile's certificate expires within ``days``."""
    expires = profile.expires
    if expires is None:
        return
    left = expires - datetime.datetime.fromtimestamp(now or time.time(), datetime.timezone.utc)
    if left.total_seconds() <= 0:
        logger.warning("The certificate %s of profile '%s' expired on %s.", profile.thumbprint,
                       profile.name, profile.not_after)
    elif left.days < days:
        logger.warning("The certificate %s of profile '%s' expires in %d day(s), on %s. Renew it "
                       "before then.", profile.thumbprint, profile.name, left.days,
                       profile.not_after)


def _discovery_error(profile, exc):
    """MSAL's ValueError from tenant discovery (or unparsable JSON) in the user's terms."""
    from . import aadsts

    text = f"{exc} {exc.__context__ or ''}"
    code = aadsts.parse_code(text)
    if code is not None:
        return aadsts.from_response(
            {"error": "invalid_tenant", "error_description": _aadsts_sentence(text, code),
             "error_codes": [code]}, client_id=profile.client_id, tenant=profile.tenant)
    # MSAL re-raises a discovery document that is not JSON as a plain ValueError (context: the
    # JSONDecodeError); a token response that is not JSON arrives as the JSONDecodeError itself.
    if isinstance(exc, json.JSONDecodeError) or isinstance(exc.__context__, json.JSONDecodeError):
        return NetworkError(f"{profile.authority_host} answered with something that is not JSON.",
                            host=profile.authority_host,
                            hint="Check that the authority URL points at Entra ID "
                                 "(or the emulator).")
    return AuthenticationError(
        f"The authority {profile.authority_host}/{profile.tenant} could not be discovered.",
        hint="Check the tenant and --authority-host/--cloud of the profile.")


def _http_status(exc):
    response = getattr(exc, "response", None)
    if response is not None:
        return response.status_code
    digits = re.search(r"\b([1-5]\d\d)\b", str(exc))
    return digits.group(1) if digits else "an error status"


def _aadsts_sentence(text, code):
    start = text.find(f"AADSTS{code}")
    return text[start:].split('"')[0] if start >= 0 else f"AADSTS{code}"


def _secret_source(profile):
    """Where a client-secret profile's secret comes from (for the AADSTS hints), else None."""
    credential = profile.credential
    return credential.source if credential.kind == "client-secret" else None


def _audit(directory, profile, scopes, signer, error=None):
    """One audit line for a network acquisition (``error`` None) or a failure."""
    from . import audit

    audit.record(directory, profile=profile.name, tenant=profile.tenant,
                 client_id=profile.client_id,
                 thumbprint_sha256=signer.thumbprint_sha256 or profile.thumbprint_sha256,
                 serial=signer.serial or profile.serial, scopes=scopes,
                 credential=profile.credential.kind,
                 outcome="success" if error is None else "failure",
                 code=getattr(error, "code", None),
                 correlation_id=getattr(error, "correlation_id", None),
                 detail=error.message if error is not None else None)
