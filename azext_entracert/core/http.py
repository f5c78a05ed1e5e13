"""The one HTTP session entracert uses, with per-profile CA trust, timeouts and retries.

Why ``verify=`` goes on every call: ``requests`` lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``
override ``Session.verify`` whenever a request is sent without an explicit ``verify`` argument
(``Session.merge_environment_settings``), and many machines set ``REQUESTS_CA_BUNDLE`` to the
system bundle. A profile that trusts one private CA (the emulator's) must therefore pass it on
each request; MSAL gets this class as its ``http_client``.
"""
from urllib.parse import urlsplit

from .errors import NetworkError

CONNECT_TIMEOUT = 10
READ_TIMEOUT = 30


class HttpClient:
    """``get``/``post``/``request`` like requests, with the profile's trust and our retry policy."""

    def __init__(self, *, ca_bundle=None, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), retries=2):
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        self.verify = str(ca_bundle) if ca_bundle else True
        self.timeout = timeout
        self._session = requests.Session()
        retry = Retry(total=retries, connect=retries, read=0, status=retries, backoff_factor=0.3,
                      status_forcelist=(500, 502, 503, 504), allowed_methods=None,
                      respect_retry_after_header=True, raise_on_status=False)
        self._session.mount("https://", HTTPAdapter(max_retries=retry))

    def request(self, method, url, **kwargs):
        import requests

        kwargs["verify"] = self.verify
        kwargs.setdefault("timeout", self.timeout)
        try:
            return self._session.request(method, url, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise network_error(url, exc, trust=self.verify) from exc
        except requests.exceptions.RequestException as exc:
            raise network_error(url, exc) from exc

    def get(self, url, params=None, headers=None, **kwargs):
        return self.request("GET", url, params=params, headers=headers, **kwargs)

    def post(self, url, params=None, data=None, headers=None, **kwargs):
        return self.request("POST", url, params=params, data=data, headers=headers, **kwargs)

    def close(self):
        self._session.close()


def network_error(url, exc, *, trust=True):
    """A NetworkError that names the host and the cause in the user's terms."""
    import requests

    host = urlsplit(url).netloc
    if isinstance(exc, requests.exceptions.SSLError):
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text:
            where = "the CA bundle " + trust if isinstance(trust, str) else "the system CA store"
            return NetworkError(
                f"The TLS certificate of {host} is not trusted by {where}.", host=host,
                hint="If it is a private authority (such as the local emulator), give its CA "
                     "with --ca-bundle PEM; otherwise check for a TLS-intercepting proxy.")
        if "WRONG_VERSION_NUMBER" in text or "record layer" in text:
            return NetworkError(f"{host} does not speak TLS (HTTPS).", host=host,
                                hint="Check the authority URL and port: entracert needs https.")
        return NetworkError(f"The TLS handshake with {host} failed: {exc}.", host=host,
                            hint="Check the authority URL and the network path to it.")
    if isinstance(exc, requests.exceptions.Timeout):
        return NetworkError(f"{host} did not answer in time.", host=host,
                            hint="Check the network or proxy, then try again.")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return NetworkError(f"{host} cannot be reached: the connection failed.", host=host,
                            hint="Check the authority URL, the network and any proxy settings.")
    return NetworkError(f"The request to {host} failed: {exc}.", host=host,
                        hint="Check the authority URL and the network.")
