"""What tests hold: ``EntraToken`` values, the session's token factory and azure-core
credentials, sync and async.

All of them ask the core (``azext_entracert.core.tokens.acquire``) for tokens: the persistent,
locked MSAL cache in ``EntraConfig.cache_dir`` is what makes every xdist worker and every later run
share one token request per (identity, scopes). The factory only remembers the tokens it handed
out, to check their expiry (with skew) before each test without touching the disk.
"""
import asyncio
import contextlib
import hashlib
import json
import threading
import time
from pathlib import Path

# The core's name of an identity given by client_id= and certificate=: no stored profile
GIVEN_IDENTITY = "explicit"


class EntraToken:
    """An access token for tests: ``.value``, ``.expires_on``, ``.claims``, ``.headers()``.

    Its ``repr`` and ``str`` never show the token, so it is safe in ``--tb=long -l`` tracebacks.
    """

    __slots__ = ("_value", "expires_on", "scopes", "client_id", "tenant", "profile", "source",
                 "token_type", "_claims")

    def __init__(self, access_token):
        self._value = access_token.token
        self.expires_on = access_token.expires_on
        self.scopes = tuple(access_token.scopes)
        self.client_id, self.tenant = access_token.client_id, access_token.tenant
        self.profile, self.source = access_token.profile, access_token.source
        self.token_type = access_token.token_type
        self._claims = None

    @property
    def value(self):
        """The token itself (a secret: send it, never print it)."""
        return self._value

    @property
    def claims(self):
        """The token's decoded claims (unverified: they say what the token is for, not whether
        to trust it); a copy, so a test may change it freely."""
        if self._claims is None:
            import jwt

            self._claims = jwt.decode(self._value, options={"verify_signature": False})
        return dict(self._claims)

    def headers(self):
        """``{"Authorization": "Bearer <token>"}`` for an HTTP request."""
        return {"Authorization": f"{self.token_type} {self._value}"}

    def expires_within(self, seconds, *, now=None):
        return self.expires_on - seconds <= (time.time() if now is None else now)

    def __repr__(self):
        return (f"EntraToken(scopes={list(self.scopes)!r}, client_id={self.client_id!r}, "
                f"expires_on={self.expires_on}, source={self.source!r}, value=<hidden>)")

    __str__ = __repr__


class EntraTokenFactory:
    """``factory(scopes=None, *, profile=None, client_id=None, certificate=None, tenant=None)
    -> EntraToken``: a token for the configured identity, or for the one named (see
    ``identity``), from the shared cache when it can.

    A token handed out before is handed out again until it comes within ``refresh_skew`` seconds
    of expiry; then a new one is fetched, bypassing the cache if it still holds the old one.
    ``clock`` (epoch seconds) is what "now" means for that check.

    When the core cannot get a token (wrong certificate, unknown tenant, unreachable authority),
    the test fails with the core's message (what, why, how to fix) and no traceback through MSAL
    and requests; the error is remembered for the run (``memo``, a ``RunMemo``, shares it with
    every xdist worker), so the next tests fail at once instead of asking the authority again,
    until ``entra_emulator`` changes an application, key or role grant.
    """

    def __init__(self, config, *, redactor=None, clock=time.time, memo=None):
        self.config = config
        self.redactor = redactor
        self.clock = clock
        self.memo = memo
        self._generation = 0  # of the run memo's emulator changes, when last looked at
        self._held = {}
        self._failed = {}
        self._explicit = {}
        self._lock = threading.Lock()

    def __call__(self, scopes=None, *, profile=None, force=False, **identity):
        """The token; ``force=True`` asks the authority for a new one whatever the cache holds."""
        from azext_entracert.core.errors import EntraCertError

        try:
            chosen = self.identity(profile, **identity)
            return self.get(scopes, profile=chosen, force=force)
        except EntraCertError as exc:
            import pytest

            raise pytest.fail.Exception(f"entracert: {self.explain(exc, profile, **identity)}",
                                        pytrace=False) from None

    def identity(self, profile=None, *, client_id=None, certificate=None, tenant=None):
        """The core ``Profile`` tokens are asked for: the configured identity by default;
        ``profile`` may name an ``az entracert`` profile, or be a core ``Profile`` or an
        application from ``entra_emulator.create_application`` or ``ensure_application`` made
        ``with_certificate=True``;
        ``client_id`` with ``certificate`` (a PFX or key + certificate PEM path) make an
        identity on the spot, in the configured identity's tenant and authority unless
        ``tenant`` says otherwise."""
        if client_id or certificate or tenant:
            if profile is not None or not (client_id and certificate):
                raise TypeError("entracert: an explicit identity needs client_id= and "
                                "certificate= (tenant= optional), and no profile=.")
            return self._explicit_identity(client_id, certificate, tenant)
        if profile is None or (isinstance(profile, str) and self.config.profile
                               and profile == self.config.profile.name):
            return self.config.profile
        if isinstance(profile, str):
            from azext_entracert.core.profiles import ProfileStore

            return ProfileStore().get(profile)
        from azext_entracert.core.profiles import Profile

        chosen = getattr(profile, "profile", profile)  # an emulator application carries its own
        if not isinstance(chosen, Profile):
            raise TypeError(f"entracert: profile= takes a profile name, a core Profile or an "
                            f"entra_emulator application, not {type(profile).__name__}.")
        return chosen

    def _explicit_identity(self, client_id, certificate, tenant):
        from azext_entracert.core.profiles import new_profile

        key = (client_id, str(certificate), tenant)
        with self._lock:
            if key not in self._explicit:  # load the certificate once, not for every token
                base = self.config.profile
                self._explicit[key] = new_profile(
                    GIVEN_IDENTITY, client_id=client_id, certificate=certificate,
                    tenant=tenant or (base and base.tenant),
                    authority_host=base and base.authority_host,
                    ca_bundle=base and base.ca_bundle, scopes=base.scopes if base else (),
                    password_env="AZURE_CLIENT_CERTIFICATE_PASSWORD", check_name_rules=False)
            return self._explicit[key]

    def get(self, scopes=None, *, profile=None, force=False, claims=None):
        """Like calling the factory, but a failure raises the core's ``EntraCertError``.
        ``claims`` (a resource's claims challenge) goes to the authority, never to a cache."""
        from azext_entracert.core.errors import EntraCertError

        identity = self.identity(profile)
        scopes = _scope_list(scopes) or list(self.config.scopes) or identity.default_scopes
        key = (identity.name, identity.tenant, identity.client_id, identity.thumbprint,
               tuple(scopes))
        with self._lock:
            self._forget_what_changed()
            if key in self._failed and not force:
                raise self._failed[key].with_traceback(None)
            held = self._held.get(key)
            if (force or claims or held is None
                    or held.expires_within(self.config.refresh_skew, now=self.clock())):
                try:
                    held = self._fetch_once(identity, scopes, held, force, claims)
                except EntraCertError as exc:
                    self._failed[key] = exc
                    raise
                self._failed.pop(key, None)
                self._held[key] = held
        return held

    def _forget_what_changed(self):
        """Drop the tokens held for applications the emulator changed since we last looked,
        and every remembered failure (a change may have mended it)."""
        if self.memo is None:
            return
        generation, changed = self.memo.changes()
        if generation != self._generation:
            since = self._generation
            self._held = {key: token for key, token in self._held.items()
                          if changed.get(token.client_id.lower(), 0) <= since}
            self._failed.clear()
            self._generation = generation

    def _fetch_once(self, identity, scopes, expiring, force, claims):
        """``_fetch``, whose failure is remembered for the whole run (every xdist worker): the
        first process to ask holds the memo's lock while it asks; the others wait, then fail with
        its answer instead of asking the authority again."""
        if self.memo is None or claims:
            return self._fetch(identity, scopes, expiring, force, claims)
        from azext_entracert.core import tokens
        from azext_entracert.core.errors import EntraCertError

        with self.memo.failure(tokens.identity(identity), scopes) as failure:
            if failure.error is not None and not force:
                raise failure.error
            try:
                return self._fetch(identity, scopes, expiring, force, claims)
            except EntraCertError as exc:
                failure.remember(exc)
                raise

    def _fetch(self, identity, scopes, expiring, force, claims=None):
        from azext_entracert.core import tokens

        now = self.clock()
        token = EntraToken(tokens.acquire(identity, scopes, directory=self.config.cache_dir,
                                          force=force, now=now, claims=claims))
        stale = expiring is not None and token.value == expiring.value
        spent = stale or token.expires_within(self.config.refresh_skew, now=now)
        if not (force or claims) and spent:
            # The shared cache still trusts a token we consider spent (its clock or skew differs
            # from ours): ask the authority for a new one.
            token = EntraToken(tokens.acquire(identity, scopes, directory=self.config.cache_dir,
                                              force=True, now=now))
        if self.redactor is not None:
            self.redactor.add(token.value)
        return token

    def explain(self, error, profile=None, **identity):
        """The core's error in words that name real things (see ``reasons.explain``): a hint to
        run 'az entracert ... --profile NAME' fits a stored profile only, so for the identity
        made from the settings, one given by ``client_id=``/``certificate=`` and an emulator
        application it names the setting, argument or emulator call to change instead."""
        from . import reasons
        from .config import EXPLICIT_PROFILE
        from .emulator import EmulatorApplication

        if identity:
            return reasons.explain(error, GIVEN_IDENTITY, hints=reasons.ARGUMENT_HINTS,
                                   called=f"the identity of client id {identity.get('client_id')}",
                                   emulated=self.config.mode == "emulator")
        if isinstance(profile, EmulatorApplication):
            return reasons.explain(error, profile["displayName"], hints=reasons.EMULATOR_HINTS,
                                   called=f"the emulator application '{profile['displayName']}'",
                                   emulated=True)
        configured = self.config.profile
        if profile is not None or configured is None:  # a stored profile, or a core Profile
            return reasons.explain(error)
        if self.config.mode == "emulator":
            return reasons.explain(error, configured.name, hints=reasons.EMULATOR_HINTS,
                                   called="the emulator's test application", emulated=True)
        if configured.name == EXPLICIT_PROFILE:
            return reasons.explain(error, configured.name)
        return reasons.explain(error)

    def __repr__(self):
        return (f"EntraTokenFactory(mode={self.config.mode!r}, client_id={self.config.client_id!r},"
                f" tokens={len(self._held)})")


class EntraCredential:
    """azure-core's ``TokenCredential`` (and ``SupportsTokenInfo``) over the token factory, so any
    Azure SDK client can use the test identity: ``BlobServiceClient(url, credential=...)``.

    A ``claims`` challenge (continuous access evaluation) is sent to the authority, bypassing
    every cache; a ``tenant_id``
    other than the identity's is refused, as azure-identity does without
    ``additionally_allowed_tenants``.
    """

    def __init__(self, factory, *, profile=None, **identity):
        self._factory = factory
        self._profile, self._explicit = profile, identity  # resolved when a token is asked for

    def get_token(self, *scopes, claims=None, tenant_id=None, enable_cae=False, **kwargs):
        __tracebackhide__ = True  # a failing test shows where it asked, not our frames
        from azure.core.credentials import AccessToken

        token = self._token(scopes, claims=claims, tenant_id=tenant_id)
        return AccessToken(token.value, int(token.expires_on))

    def get_token_info(self, *scopes, options=None):
        __tracebackhide__ = True
        from azure.core.credentials import AccessTokenInfo

        options = options or {}
        token = self._token(scopes, claims=options.get("claims"),
                            tenant_id=options.get("tenant_id"))
        return AccessTokenInfo(token.value, int(token.expires_on), token_type=token.token_type)

    def _token(self, scopes, *, claims, tenant_id):
        __tracebackhide__ = True
        from azure.core.exceptions import ClientAuthenticationError

        from azext_entracert.core.errors import EntraCertError

        if not scopes:
            raise ValueError("EntraCredential.get_token needs at least one scope, "
                             "e.g. 'https://management.azure.com/.default'.")
        try:
            identity = self._factory.identity(self._profile, **self._explicit)
            if tenant_id and tenant_id.lower() != identity.tenant.lower():
                raise ClientAuthenticationError(
                    message=f"EntraCredential is for tenant {identity.tenant}; the SDK asked "
                            f"for tenant {tenant_id}. Configure the identity of that tenant "
                            "instead.")
            return self._factory.get(list(scopes), profile=identity, claims=claims)
        except EntraCertError as exc:
            # The explanation says it all: the chain through MSAL and requests adds only noise.
            raise ClientAuthenticationError(
                message=self._factory.explain(exc, self._profile, **self._explicit)) from None

    def close(self):
        """Nothing to release: the cache belongs to the session."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        named = self._explicit.get("client_id") or getattr(self._profile, "client_id",
                                                           self._profile)
        return f"EntraCredential({named or 'the configured identity'!r})"


class EntraAsyncCredential:
    """azure-core's ``AsyncTokenCredential`` (and ``AsyncSupportsTokenInfo``) over an
    ``EntraCredential``, for the SDKs' ``aio`` clients: the same identity, cache and errors.
    The core's acquisition blocks (file locks, MSAL over ``requests``), so it runs in the
    event loop's default executor, never on the loop itself."""

    def __init__(self, credential):
        self._credential = credential

    async def get_token(self, *scopes, claims=None, tenant_id=None, enable_cae=False, **kwargs):
        return await asyncio.to_thread(self._credential.get_token, *scopes, claims=claims,
                                       tenant_id=tenant_id, enable_cae=enable_cae)

    async def get_token_info(self, *scopes, options=None):
        return await asyncio.to_thread(self._credential.get_token_info, *scopes,
                                       options=options)

    async def close(self):
        """Nothing to release: the cache belongs to the session."""

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.close()

    def __repr__(self):
        return f"EntraAsyncCredential({self._credential!r})"


class RunMemo:
    """What the processes of one run (the xdist controller and its workers) tell each other
    beyond the token cache, in a folder of the run that the controller removes when it ends: the
    token requests that failed, and the applications ``entra_emulator`` changed.

    ``changes.json`` counts the changes (``generation``) and notes, per client id, the
    generation of its last change. A failure (``failures/<digest of identity and scopes>.json``,
    keyed as the token cache is, plus the scopes) counts only in the generation it was met in:
    a new resource, key or role grant may have mended it.
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._stamp, self._changes = None, (0, {})

    def changes(self):
        """``(generation, {client id: generation of its last change})``: a ``stat`` when nothing
        changed since the last look, so every token request may ask."""
        path = self.folder / "changes.json"
        try:
            stat = path.stat()
        except FileNotFoundError:
            return self._changes
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            data = json.loads(path.read_text())
            self._stamp, self._changes = stamp, (data["generation"], data["clients"])
        return self._changes

    def changed(self, client_ids, cache_dirs):
        """Applications changed: their cached tokens leave the shared caches, then the generation
        moves on, which ends every remembered failure and, in each process, the tokens held for
        these client ids."""
        from azext_entracert.core.cache import forget_client
        from azext_entracert.core.fileio import PRIVATE, atomic_write, file_lock

        for directory in cache_dirs:
            for client_id in client_ids:
                forget_client(directory, client_id)
        path = self.folder / "changes.json"
        with file_lock(path):
            self._stamp = None
            generation, clients = self.changes()
            generation += 1
            clients = {**clients, **{client_id.lower(): generation for client_id in client_ids}}
            atomic_write(path, json.dumps({"generation": generation, "clients": clients}).encode(),
                         mode=PRIVATE, overwrite=True)

    @contextlib.contextmanager
    def failure(self, identity, scopes):
        """Hold the lock of this identity (``tokens.identity``) and scopes; yield its
        ``_Failure``."""
        from azext_entracert.core.cache import LOCK_TIMEOUT
        from azext_entracert.core.fileio import file_lock

        key = json.dumps([identity, sorted(scope.lower() for scope in scopes)], sort_keys=True)
        path = self.folder / "failures" / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"
        with file_lock(path, timeout=LOCK_TIMEOUT):
            yield _Failure(path, self.changes()[0])


class _Failure:
    """The failure remembered for one identity and scopes in this generation (``error``, None if
    there is none), and ``remember(error)`` to keep one."""

    def __init__(self, path, generation):
        self.path, self.generation, self.error = path, generation, None
        try:
            data = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            return
        if data["generation"] == generation:
            self.error = _rebuilt(data["class"], data["fields"])

    def remember(self, error):
        from azext_entracert.core.fileio import PRIVATE, atomic_write

        fields = {name: value for name, value in vars(error).items()
                  if isinstance(value, (str, int, float, type(None)))}  # message, hint, code...
        atomic_write(self.path, json.dumps({"generation": self.generation,
                                            "class": type(error).__name__,
                                            "fields": fields}).encode(),
                     mode=PRIVATE, overwrite=True)


def _rebuilt(name, fields):
    """The core error another process met, as the same class with the same words and fields."""
    from azext_entracert.core import errors

    cls = getattr(errors, name, errors.EntraCertError)
    if not (isinstance(cls, type) and issubclass(cls, errors.EntraCertError)):
        cls = errors.EntraCertError
    error = cls.__new__(cls)
    errors.EntraCertError.__init__(error, fields.get("message", ""), hint=fields.get("hint"))
    error.__dict__.update(fields)
    return error


def _scope_list(scopes):
    if scopes is None:
        return []
    if isinstance(scopes, str):
        return scopes.split()
    return [s for scope in scopes for s in str(scope).split()]
