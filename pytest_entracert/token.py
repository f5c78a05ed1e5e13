"""What tests hold: ``EntraToken`` values, the session's token factory and an azure-core
credential.

All of them ask the core (``azext_entracert.core.tokens.acquire``) for tokens: the persistent,
locked MSAL cache in ``EntraConfig.cache_dir`` is what makes every xdist worker and every later run
share one token request per (identity, scopes). The factory only remembers the tokens it handed
out, to check their expiry (with skew) before each test without touching the disk.
"""
import threading
import time


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
    """``factory(scopes=None, *, profile=None) -> EntraToken``: a token for the configured
    identity (or the ``az entracert`` profile named), from the shared cache when it can.

    A token handed out before is handed out again until it comes within ``refresh_skew`` seconds
    of expiry; then a new one is fetched, bypassing the cache if it still holds the old one.
    ``clock`` (epoch seconds) is what "now" means for that check.

    When the core cannot get a token (wrong certificate, unknown tenant, unreachable authority),
    the test fails with the core's message (what, why, how to fix) and no traceback through MSAL
    and requests; the error is remembered, so the next tests fail at once instead of asking the
    authority again for every test.
    """

    def __init__(self, config, *, redactor=None, clock=time.time):
        self.config = config
        self.redactor = redactor
        self.clock = clock
        self._held = {}
        self._failed = {}
        self._lock = threading.Lock()

    def __call__(self, scopes=None, *, profile=None, force=False):
        """The token; ``force=True`` asks the authority for a new one whatever the cache holds."""
        from azext_entracert.core.errors import EntraCertError

        try:
            return self.get(scopes, profile=profile, force=force)
        except EntraCertError as exc:
            import pytest

            raise pytest.fail.Exception(f"entracert: {self.explain(exc, profile)}",
                                        pytrace=False) from None

    def get(self, scopes=None, *, profile=None, force=False, claims=None):
        """Like calling the factory, but a failure raises the core's ``EntraCertError``.
        ``claims`` (a resource's claims challenge) goes to the authority, never to a cache."""
        from azext_entracert.core.errors import EntraCertError

        identity = self._profile(profile)
        scopes = _scope_list(scopes) or list(self.config.scopes) or identity.default_scopes
        key = (identity.name, identity.client_id, tuple(scopes))
        with self._lock:
            if key in self._failed and not force:
                raise self._failed[key].with_traceback(None)
            held = self._held.get(key)
            if (force or claims or held is None
                    or held.expires_within(self.config.refresh_skew, now=self.clock())):
                try:
                    held = self._fetch(identity, scopes, held, force, claims)
                except EntraCertError as exc:
                    self._failed[key] = exc
                    raise
                self._failed.pop(key, None)
                self._held[key] = held
        return held

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

    def explain(self, error, profile=None):
        """The core's error in words that fit the plugin's settings (see ``config.explain``)."""
        from .config import explain

        return explain(error, self.config.profile if profile is None else None)

    def _profile(self, name):
        if name is None or (self.config.profile and name == self.config.profile.name):
            return self.config.profile
        from azext_entracert.core.profiles import ProfileStore

        return ProfileStore().get(name)

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

    def __init__(self, factory, *, profile=None):
        self._factory = factory
        self._profile = profile

    def get_token(self, *scopes, claims=None, tenant_id=None, enable_cae=False, **kwargs):
        from azure.core.credentials import AccessToken

        token = self._token(scopes, claims=claims, tenant_id=tenant_id)
        return AccessToken(token.value, int(token.expires_on))

    def get_token_info(self, *scopes, options=None):
        from azure.core.credentials import AccessTokenInfo

        options = options or {}
        token = self._token(scopes, claims=options.get("claims"),
                            tenant_id=options.get("tenant_id"))
        return AccessTokenInfo(token.value, int(token.expires_on), token_type=token.token_type)

    def _token(self, scopes, *, claims, tenant_id):
        from azure.core.exceptions import ClientAuthenticationError

        from azext_entracert.core.errors import EntraCertError

        if not scopes:
            raise ValueError("EntraCredential.get_token needs at least one scope, "
                             "e.g. 'https://management.azure.com/.default'.")
        identity = self._factory._profile(self._profile)
        if tenant_id and tenant_id.lower() != identity.tenant.lower():
            raise ClientAuthenticationError(
                message=f"EntraCredential is for tenant {identity.tenant}; the SDK asked for "
                        f"tenant {tenant_id}. Configure the identity of that tenant instead.")
        try:
            return self._factory.get(list(scopes), profile=self._profile, claims=claims)
        except EntraCertError as exc:
            raise ClientAuthenticationError(
                message=self._factory.explain(exc, self._profile)) from exc

    def close(self):
        """Nothing to release: the cache belongs to the session."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        return f"EntraCredential({self._factory!r})"


def _scope_list(scopes):
    if scopes is None:
        return []
    if isinstance(scopes, str):
        return scopes.split()
    return [s for scope in scopes for s in str(scope).split()]
