"""``entra_session``: a ``requests.Session`` that signs its requests with the test identity's
bearer token. Imported only by that fixture, as it imports requests."""
import requests


class EntraAuth(requests.auth.AuthBase):
    """Sends a bearer token for ``scopes``, asking the token factory before every request, so a
    token near expiry is replaced (``entra_refresh_skew``)."""

    def __init__(self, factory, scopes=None, *, profile=None):
        self._factory = factory
        self._scopes = scopes
        self._profile = profile

    def __call__(self, request):
        request.headers.update(self._factory(self._scopes, profile=self._profile).headers())
        return request

    def __repr__(self):
        return f"EntraAuth(scopes={self._scopes!r})"


class EntraSession(requests.Session):
    """A ``requests.Session`` whose own ``verify`` wins over ``REQUESTS_CA_BUNDLE``: plain
    requests lets the environment override it (psf/requests#3829), so setting
    ``session.verify = entra_emulator.ca_bundle`` would not trust the emulator on CI machines
    that set that variable."""

    def __init__(self, factory, scopes=None, *, profile=None):
        super().__init__()
        self.auth = EntraAuth(factory, scopes, profile=profile)

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        if verify is None and self.verify is not True:
            verify = self.verify
        return super().merge_environment_settings(url, proxies, stream, verify, cert)
