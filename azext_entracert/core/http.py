"""The one HTTP session entracert uses, with per-profile CA trust, timeouts and retries.

Why ``verify=`` goes on every call: ``requests`` lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``
override ``Session.verify`` whenever a request is sent without an explicit ``verify`` argument
(``Session.merge_environment_settings``), and many machines set ``REQUESTS_CA_BUNDLE`` to the
system bundle. A profile that trusts one private CA (the emulator's) must therefore pass it on
each request; MSAL gets this class as its ``http_client``.

Retries: only idempotent requests are repeated here (after a refused connection, or a 429/5xx).
A POST (the token endpoint, Graph's addKey/removeKey, a PATCH) is sent once; its caller decides
whether another attempt is safe. A server asking to wait (``Retry-After``) longer than
``MAX_WAIT`` seconds is never slept through: the request fails at once saying how long.
"""
import hashlib
import logging
import os
import time
from urllib.parse import urlsplit

from .errors import InputFileError, NetworkError

logger = logging.getLogger("entracert")

CONNECT_TIMEOUT = 10
READ_TIMEOUT = 30
MAX_WAIT = 60  # seconds of Retry-After we wait for; a longer wait fails the command at once
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class HttpClient:
    """``get``/``post``/``request`` like requests, with the profile's trust and our retry policy.

    ``last_response`` is the last answer received, for callers whose library hides it (MSAL
    turns a 503 into "HTTP Error: 503" without its Retry-After).
    """

    def __init__(self, *, ca_bundle=None, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), retries=2):
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        self.verify = str(ca_bundle) if ca_bundle else True
        self.timeout = timeout
        self.retries = retries
        self.last_response = None
        self._session = requests.Session()
        # urllib3 only repeats what never reached the server (refused connections); statuses are
        # handled in ``request`` because urllib3 would sleep through any Retry-After.
        retry = Retry(total=retries, connect=retries, read=False, status=0, other=0,
                      backoff_factor=0.3, respect_retry_after_header=False,
                      raise_on_status=False)
        self._session.mount("https://", HTTPAdapter(max_retries=retry))

    def request(self, method, url, **kwargs):
        kwargs["verify"] = self.verify
        kwargs.setdefault("timeout", self.timeout)
        for attempt in range(self.retries + 1):
            response = self._send(method, url, kwargs)
            if not busy(response):
                return response
            wait = retry_wait(response, attempt)
            if method.upper() not in IDEMPOTENT or attempt == self.retries:
                return response
            response.close()
            pause(response, wait)

    def _send(self, method, url, kwargs):
        import requests

        try:
            response = self._session.request(method, url, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise network_error(url, exc, trust=self.verify) from exc
        except requests.exceptions.RequestException as exc:
            raise network_error(url, exc, timeout=kwargs["timeout"]) from exc
        self.last_response = response
        return response

    def get(self, url, params=None, headers=None, **kwargs):
        return self.request("GET", url, params=params, headers=headers, **kwargs)

    def post(self, url, params=None, data=None, headers=None, **kwargs):
        return self.request("POST", url, params=params, data=data, headers=headers, **kwargs)

    def close(self):
        self._session.close()


def busy(response):
    """Whether an answer says "ask again later": 429 Too Many Requests or any 5xx."""
    return response.status_code == 429 or response.status_code >= 500


def retry_wait(response, attempt):
    """Seconds to wait before asking again after a busy answer: its ``Retry-After`` (seconds or
    an HTTP date), else a short backoff. A wait over ``MAX_WAIT`` raises NetworkError instead."""
    header = (response.headers.get("Retry-After") or "").strip()
    wait = None
    if header.isdigit():
        wait = int(header)
    elif header:
        import email.utils  # here: a cache hit imports this module (trust_fingerprint), not it

        try:
            wait = max(0, email.utils.parsedate_to_datetime(header).timestamp() - time.time())
        except (TypeError, ValueError):
            wait = None  # unreadable: as if absent
    if wait is None:
        return 0.5 * 2 ** attempt
    if wait > MAX_WAIT:
        host = urlsplit(response.url).netloc
        raise NetworkError(
            f"{host} answered HTTP {response.status_code} and asked to wait {_seconds(wait)} s "
            f"({_duration(wait)}) before asking again; entracert does not wait longer than "
            f"{MAX_WAIT} s.", host=host,
            hint="The service is overloaded or down for maintenance: try again after that time.")
    return wait


def pause(response, wait):
    """Wait before asking again, saying so on stderr in one line."""
    logger.warning("%s answered HTTP %d; asking again in %s s, as it asked.",
                   urlsplit(response.url).netloc, response.status_code, _seconds(wait))
    time.sleep(wait)


def trust_fingerprint(ca_bundle=None, environ=None):
    """Which CAs a request trusts, as a short text that changes when they change.

    ``ca_bundle`` (a profile's) wins; without it requests uses ``REQUESTS_CA_BUNDLE`` or
    ``CURL_CA_BUNDLE`` even with ``verify=True``, else its own store ("system"). A bundle file
    counts by its content, so replacing the CA behind an unchanged path changes the fingerprint.
    """
    environ = os.environ if environ is None else environ
    variable = next((v for v in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") if environ.get(v)), None)
    bundle = ca_bundle or (environ[variable] if variable else None)
    if not bundle:
        return "system"
    path = os.path.expanduser(bundle)
    if os.path.isdir(path):  # an OpenSSL CA directory: its path is all we can cheaply name
        return f"directory:{os.path.realpath(path)}"
    try:
        with open(path, "rb") as handle:
            return "sha256:" + hashlib.sha256(handle.read()).hexdigest()
    except OSError as exc:
        origin = "the CA bundle" if ca_bundle else f"the CA bundle named by {variable}"
        raise InputFileError(
            f"{origin[0].upper()}{origin[1:]} '{bundle}' cannot be read: {exc.strerror or exc}.",
            path=bundle,
            hint="Restore the file, or point the profile at another one with "
                 "'az entracert profile update --name NAME --ca-bundle PEM'." if ca_bundle else
                 f"Restore the file, or unset {variable}.") from exc


def network_error(url, exc, *, trust=True, timeout=None):
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
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if isinstance(exc, requests.exceptions.ConnectTimeout):  # before ConnectionError: it is both
        return NetworkError(
            f"{host} cannot be reached: no connection within {_seconds(connect)} s.", host=host,
            hint="Check the authority URL, the network and any proxy settings.")
    if isinstance(exc, requests.exceptions.Timeout):
        return NetworkError(
            f"{host} accepted the connection but did not answer within {_seconds(read)} s.",
            host=host, hint="The service is slow or overloaded; try again in a minute. A proxy "
                            "that holds requests can also cause this.")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return NetworkError(f"{host} cannot be reached: the connection failed.", host=host,
                            hint="Check the authority URL, the network and any proxy settings.")
    return NetworkError(f"The request to {host} failed: {exc}.", host=host,
                        hint="Check the authority URL and the network.")


def _seconds(value):
    return f"{value:g}" if isinstance(value, (int, float)) else "?"


def _duration(seconds):
    """``3600`` -> ``1 h``, ``150`` -> ``2 min 30 s``: how long a person waits."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else "",
             f"{secs} s" if secs else ""]
    return " ".join(p for p in parts if p) or "0 s"
