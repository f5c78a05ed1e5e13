"""Access tokens for a profile: MSAL's confidential client over our assertion, with a persistent,
locked cache.

How a request travels: the profile says who and where; the persistent MSAL token cache is looked
up first (a hit returns without any network request, in a new process too, because MSAL's
discovery GETs are kept in a persisted ``http_cache`` as MSAL documents for CLIs); only on a miss
is the certificate loaded (so a cache hit never asks for a password) and a client assertion signed
by ``assertion`` for MSAL to send. Every network acquisition and every failure is audited.

Both caches live in the entracert folder with mode 0600. The token cache is read, used and
written back under one cross-process lock, so parallel processes (pytest-xdist workers) neither
corrupt it nor lose entries, and a second process waiting on the lock finds the first one's token
instead of asking Entra again. A cache file that cannot be parsed is set aside with a warning.
"""
import contextlib
import dataclasses
import datetime
import json
import logging
import pickle
import re
import time
from pathlib import Path

from . import aadsts, audit
from .errors import (AuthenticationError, CertificateError, ConfigurationError, EntraCertError,
                     InputFileError, NetworkError)
from .fileio import PRIVATE, atomic_write, file_lock
from .times import iso_z

logger = logging.getLogger("entracert")

TOKEN_CACHE = "msal_token_cache.json"
HTTP_CACHE = "msal_http_cache.bin"
LOCK_TIMEOUT = 120
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
    thumbprint: str
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


class TokenCache:
    """MSAL's serializable token cache persisted as ``msal_token_cache.json`` (0600)."""

    def __init__(self, directory):
        self.path = Path(directory) / TOKEN_CACHE

    @contextlib.contextmanager
    def open(self):
        """Lock, load (setting a corrupt file aside), yield the cache, save it if it changed."""
        import msal

        with file_lock(self.path, timeout=LOCK_TIMEOUT):
            cache = msal.SerializableTokenCache()
            text = self._read()
            if text is not None:
                try:
                    _check_cache_shape(json.loads(text))
                    cache.deserialize(text)
                except ValueError as exc:
                    aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
                    self.path.replace(aside)
                    logger.warning("The token cache '%s' could not be read (%s); it was moved to "
                                   "'%s' and a new cache was started.", self.path, exc, aside)
                    cache = msal.SerializableTokenCache()
            yield cache
            if cache.has_state_changed:
                atomic_write(self.path, cache.serialize().encode("utf-8"), mode=PRIVATE,
                             overwrite=True)

    def _read(self):
        """The cache file's text; None when there is none yet. Undecodable bytes are damage."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise InputFileError(
                f"The token cache '{self.path}' cannot be read: {exc.strerror or exc}.",
                path=self.path, hint="It must belong to you (mode 0600); fix its owner or "
                                     "permissions, or delete it to start an empty cache.") from exc
        return data.decode("utf-8", errors="replace") if data.strip() else None

    def clear(self, client_id=None):
        """Remove cached access tokens (of one client id, or all); return how many."""
        with self.open() as cache:
            return remove_access_tokens(cache, client_id=client_id)


def remove_access_tokens(cache, *, client_id=None, scopes=None):
    """Remove the access tokens of ``client_id`` (all clients: None) for exactly ``scopes``
    (any: None) from an open MSAL cache; return how many."""
    import msal

    wanted = {s.lower() for s in scopes} if scopes is not None else None
    doomed = [entry for entry in cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)
              if (client_id is None or entry.get("client_id") == client_id)
              and (wanted is None
                   or {s.lower() for s in entry.get("target", "").split()} == wanted)]
    for entry in doomed:
        cache.remove_at(entry)
    return len(doomed)


def _check_cache_shape(document):
    """Refuse JSON that MSAL would choke on later: it wants {kind: {key: {field: value}}}."""
    if not isinstance(document, dict) or not all(
            isinstance(entries, dict) and all(isinstance(e, dict) for e in entries.values())
            for entries in document.values()):
        raise ValueError("not an MSAL token cache document")


class HttpCache(dict):
    """MSAL's ``http_cache`` (discovery responses), persisted with pickle as MSAL's docs show.

    Loading tolerates any damage (start afresh); saving happens only when the content changed.
    """

    def __init__(self, directory):
        super().__init__()
        self.path = Path(directory) / HTTP_CACHE
        try:
            self.update(pickle.loads(self.path.read_bytes()))
        except FileNotFoundError:
            pass
        except Exception as exc:  # noqa: BLE001 - any damage means: start afresh
            logger.debug("Ignoring the unreadable HTTP cache %s: %s", self.path, exc)
        self._snapshot = self._dump()

    def _dump(self):
        return pickle.dumps(dict(self))

    def save(self):
        data = self._dump()
        if data != self._snapshot:
            atomic_write(self.path, data, mode=PRIVATE, overwrite=True)
            self._snapshot = data


def acquire(profile, scopes=None, *, force=False, directory=None, prompt=None, now=None,
            claims=None):
    """An access token for ``profile``: from the cache when possible, else from Entra.

    ``prompt`` asks for the certificate password when the profile names no source and a person is
    at the terminal; it is called only if the certificate must be loaded. ``claims`` is a claims
    challenge from a resource (continuous access evaluation): it is sent to Entra, and MSAL never
    answers it from the cache.
    """
    import msal
    import requests

    from .http import HttpClient
    from .profiles import config_dir

    directory = Path(directory) if directory else config_dir()
    scopes = list(scopes or profile.default_scopes)
    now = now or time.time()
    signer = _Signer(profile, prompt)
    expires = profile.expires
    if expires is not None and now >= expires.timestamp():
        # Even a cached token is refused: it was issued to a credential that no longer works, and
        # the cache is shared by every profile of this client id.
        error = expired_error(profile, profile.thumbprint, expires, profile.certificate)
        _audit(directory, profile, scopes, signer, error)
        raise error
    warn_about_expiry(profile, now=now)
    http = HttpClient(ca_bundle=profile.ca_bundle)
    http_cache = HttpCache(directory)
    try:
        with TokenCache(directory).open() as cache:
            app = msal.ConfidentialClientApplication(
                profile.client_id,
                client_credential={"client_assertion": lambda: signer.assertion(app)},
                authority=f"{profile.authority_host}/{profile.tenant}",
                token_cache=cache, http_client=http, http_cache=http_cache,
                instance_discovery=False,  # never call login.microsoftonline.com to "discover"
                app_name="entracert")
            if force:
                remove_access_tokens(cache, client_id=profile.client_id, scopes=scopes)
            result = app.acquire_token_for_client(scopes, claims_challenge=claims)
    except EntraCertError as exc:
        _audit(directory, profile, scopes, signer, exc)
        raise
    except ValueError as exc:  # MSAL: authority discovery failed, or a body that is not JSON
        error = _discovery_error(profile, exc)
        _audit(directory, profile, scopes, signer, error)
        raise error from exc
    except (requests.HTTPError, msal.exceptions.MsalServiceError) as exc:
        # MSAL raises for a 5xx once our retries gave up: MsalServiceError("HTTP Error: 503")
        # since it throttles (its NormalizedResponse), requests.HTTPError before.
        error = NetworkError(
            f"{profile.authority_host} answered HTTP {_http_status(exc)} (a server error).",
            host=profile.authority_host,
            hint="The identity service is failing; try again in a minute (MSAL waits for the "
                 "server's Retry-After, 5 seconds by default, before it asks again).")
        _audit(directory, profile, scopes, signer, error)
        raise error from exc
    finally:
        http.close()
        http_cache.save()
    if "access_token" not in result:
        error = aadsts.from_response(result, client_id=profile.client_id, tenant=profile.tenant,
                                     thumbprint=signer.thumbprint or profile.thumbprint,
                                     resource=" ".join(scopes), profile=profile.name,
                                     certificate=profile.certificate)
        _audit(directory, profile, scopes, signer, error)
        raise error
    source = "cache" if result.get("token_source") == "cache" else "network"
    token = AccessToken(
        token=result["access_token"], expires_on=int(now + int(result["expires_in"])),
        scopes=tuple(scopes), source=source, profile=profile.name, tenant=profile.tenant,
        client_id=profile.client_id, thumbprint=signer.thumbprint or profile.thumbprint,
        token_type=result.get("token_type", "Bearer"))
    if source == "network":
        _audit(directory, profile, scopes, signer)
    return token


class _Signer:
    """Loads the certificate at most once, and only when MSAL needs a fresh assertion."""

    def __init__(self, profile, prompt):
        self.profile, self.prompt = profile, prompt
        self.loaded = None

    thumbprint = property(lambda self: self.loaded and self.loaded.thumbprint)
    thumbprint_sha256 = property(lambda self: self.loaded and self.loaded.thumbprint_sha256)
    serial = property(lambda self: self.loaded and self.loaded.serial)

    def assertion(self, app):
        from .assertion import client_assertion

        if self.loaded is None:
            self.loaded = load_profile_certificate(self.profile, prompt=self.prompt)
        return client_assertion(self.loaded, audience=app.authority.token_endpoint,
                                client_id=self.profile.client_id,
                                legacy_sha1=self.profile.legacy_sha1,
                                send_chain=self.profile.send_chain)


def load_profile_certificate(profile, *, prompt=None, now=None):
    """The profile's certificate with its key, checked: same thumbprint as recorded, not expired."""
    from . import certs
    from .secrets import password_source

    password = password_source(env=profile.password_env, file=profile.password_file,
                               prompt=prompt)
    try:
        loaded = certs.load(profile.certificate, pfx_base64_env=profile.pfx_base64_env,
                            password=password)
    except InputFileError as exc:
        if type(exc) is not InputFileError:  # the file is there but unreadable as a certificate
            raise
        raise InputFileError(
            f"The certificate of profile '{profile.name}' cannot be read: {exc.message}",
            path=exc.path,
            hint=f"If it moved, run 'az entracert profile update --name {profile.name} "
                 "--certificate NEW_PATH'.") from exc
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
                            hint="Check that the authority URL points at Entra ID (or the emulator).")
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


def _audit(directory, profile, scopes, signer, error=None):
    """One audit line for a network acquisition (``error`` None) or a failure."""
    audit.record(directory, profile=profile.name, tenant=profile.tenant,
                 client_id=profile.client_id,
                 thumbprint_sha256=signer.thumbprint_sha256 or profile.thumbprint_sha256,
                 serial=signer.serial or profile.serial, scopes=scopes,
                 outcome="success" if error is None else "failure",
                 code=getattr(error, "code", None),
                 correlation_id=getattr(error, "correlation_id", None),
                 detail=error.message if error is not None else None)
