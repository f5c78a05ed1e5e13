"""Reading an access token: decode its header and claims, and verify its signature.

``decode`` shows what a token says without trusting it (PyJWT's unverified decoding), with its
times in local time and UTC. ``verify`` checks the RS256 signature against the issuer's JWKS;
``trust_for`` picks whose trust settings reach the issuer and ``signing_keys`` fetches the keys. A token is a secret: no message here ever contains
it, at most its length.
"""
import datetime
import json
import re

from .errors import ConfigurationError, TokenFormatError
from .fileio import read_input
from .profiles import GUID

_V1_ISSUER = re.compile(r"^https://sts\.windows\.net/([^/]+)/?$")
_V2_ISSUER = re.compile(r"^https://[^/]+/([^/]+)/v2\.0/?$")
# Entra signs access tokens with RS256; the RSA family is accepted, never "none" or HMAC.
_RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_BEARER = re.compile(r"^bearer(?:\s+|$)", re.IGNORECASE)
_TIMES = (("issuedAt", "iat"), ("notBefore", "nbf"), ("expiresOn", "exp"))


def read_token(*, token=None, file=None, stdin=None):
    """The token from exactly one source: ``token`` text, a ``file`` path, or ``stdin``.

    ``stdin`` is a stream (or its text). Surrounding whitespace and a ``Bearer`` prefix are
    dropped; the JSON that ``az entracert token get`` or ``az account get-access-token`` prints is
    accepted too, so the two commands can be piped together.
    """
    given = [name for name, value in (("--token", token), ("--file", file), ("stdin", stdin))
             if value is not None]
    if len(given) != 1:
        extra = f", not {' and '.join(given)}." if given else "."
        raise ConfigurationError(
            f"Give the token in exactly one way{extra}",
            hint="Use --token TOKEN, --file PATH, or - to read it from standard input.")
    if file is not None:
        text = read_input(file, what="token file")
    elif stdin is not None:
        text = stdin if isinstance(stdin, (str, bytes)) else stdin.read()
    else:
        text = token
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise TokenFormatError(
                f"The token ({len(text)} bytes) is not text.",
                hint="Give the token itself (eyJ...), not a binary file.") from None
    text = text.strip()
    if text.startswith("{"):
        text = _from_json(text)
    text = _BEARER.sub("", text)
    if not text:
        raise TokenFormatError("The token is empty.", hint="Give the token itself (eyJ...).")
    return text


def _from_json(text):
    try:
        document = json.loads(text)
    except ValueError:
        raise TokenFormatError(f"The input ({len(text)} characters) starts like JSON but is not "
                               f"valid JSON.", hint="Give the token itself (eyJ...).") from None
    for key in ("accessToken", "access_token"):
        if isinstance(document, dict) and isinstance(document.get(key), str):
            return document[key].strip()
    raise TokenFormatError("The JSON input has no accessToken or access_token field.",
                           hint="Pipe the output of `az entracert token get`, or the token itself.")


def _segments(token):
    """Refuse what is not a signed JWT (three base64url parts) before PyJWT sees it."""
    if not isinstance(token, str) or not token:
        raise TokenFormatError("The token is empty.", hint="Give the token itself (eyJ...).")
    count = token.count(".") + 1
    if count == 5:
        raise TokenFormatError(
            f"The token ({len(token)} characters) is encrypted (JWE, five parts): only the "
            f"service it was issued for can read it.",
            hint="Inspect an unencrypted access token (a JWT has three parts).")
    if count != 3:
        raise TokenFormatError(
            f"The token ({len(token)} characters) is not a JWT: a JWT has three parts "
            f"separated by dots, this has {count}.",
            hint="Check that the whole token was copied (it starts with eyJ).")


def _unverified(token):
    import jwt  # lazy: az loads this module at start-up

    _segments(token)
    problem = "header is not base64url-encoded JSON"
    try:
        header = jwt.get_unverified_header(token)
        problem = "payload (the claims) is not a base64url-encoded JSON object"
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.exceptions.DecodeError as exc:
        # PyJWT's own text is not shown, to be sure no fragment of the token reaches the user;
        # it only tells which part failed ("Invalid crypto padding" is the signature).
        if "crypto" in str(exc):
            problem = "signature is not base64url-encoded"
        raise TokenFormatError(
            f"The token ({len(token)} characters) is not a readable JWT: its {problem}.",
            hint="Check that the whole token was copied, without quotes or line breaks.") from None
    return header, claims


def decode(token, *, now=None):
    """Header, claims and times of ``token``, without checking its signature.

    Returns ``{"header", "claims", "issuedAt", "notBefore", "expiresOn", "expired",
    "secondsLeft"}``; each time is ``{"local", "utc"}`` (or None when the claim is absent),
    ``secondsLeft`` is 0 once expired and None without ``exp``.
    """
    header, claims = _unverified(token)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    result = {"header": header, "claims": claims}
    for name, claim in _TIMES:
        result[name] = _times(claims, claim)
    expires = _moment(claims, "exp")
    if expires is None:
        result.update(expired=False, secondsLeft=None)
    else:
        left = (expires - now).total_seconds()
        result.update(expired=left <= 0, secondsLeft=max(int(left), 0))
    return result


def _moment(claims, claim):
    value = claims.get(claim)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TokenFormatError(f"The token's '{claim}' claim is not a time (seconds since 1970).",
                               hint="The token is malformed; ask its issuer for a new one.")
    try:
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise TokenFormatError(
            f"The token's '{claim}' claim is out of range.",
            hint="The token is malformed; ask its issuer for a new one.") from None


def _times(claims, claim):
    moment = _moment(claims, claim)
    if moment is None:
        return None
    return {"local": moment.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            "utc": moment.isoformat().replace("+00:00", "Z")}


def verify(token, *, jwks, audience=None, issuer=None, leeway=0, now=None):
    """Check ``token``'s signature with the key of the ``jwks`` document its ``kid`` names.

    ``audience`` and ``issuer``, when given, must match. Expiry does not stop the check: an
    expired token whose signature is good returns ``expired: True``. Any failure raises
    TokenFormatError saying why.
    """
    import jwt  # lazy: az loads this module at start-up

    header, claims = _unverified(token)
    kid = header.get("kid")
    alg = header.get("alg")
    if not kid:
        raise TokenFormatError("The token's header names no signing key (no 'kid').",
                               hint="Only tokens signed by Entra ID (with a kid) can be verified.")
    if alg not in _RSA_ALGORITHMS:
        raise TokenFormatError(f"The token is signed with '{alg}', not an RSA algorithm Entra ID "
                               f"uses (RS256).", hint="It was not issued by Entra ID.")
    key = _key_for(jwks, kid, alg)
    try:
        jwt.decode(token, key=key, algorithms=[alg], audience=audience, issuer=issuer,
                   leeway=leeway,
                   options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                            "verify_aud": audience is not None, "verify_iss": issuer is not None})
    except jwt.exceptions.InvalidSignatureError:
        raise TokenFormatError(
            f"The token's signature does not verify with the issuer's key '{kid}': the token was "
            f"altered, or was not signed by this issuer.",
            hint="Get a new token from Entra ID; do not trust this one.") from None
    except jwt.exceptions.InvalidAudienceError:
        raise TokenFormatError(
            f"The token is for audience {claims.get('aud')!r}, not {audience!r}.",
            hint="Ask for a token with the right scope, or check the expected audience.") from None
    except jwt.exceptions.InvalidIssuerError:
        raise TokenFormatError(
            f"The token was issued by {claims.get('iss')!r}, not {issuer!r}.",
            hint="Check the tenant and cloud the token comes from.") from None
    except jwt.exceptions.PyJWTError as exc:
        raise TokenFormatError(f"The token does not verify: {exc}.",
                               hint="Get a new token from Entra ID.") from None
    checked = decode(token, now=now)
    return {"signatureValid": True, "kid": kid, "algorithm": alg, "issuer": claims.get("iss"),
            "audience": claims.get("aud"), "expired": checked["expired"]}


def _key_for(jwks, kid, alg):
    """The public key ``kid`` names in the JWKS document, or a clear error naming the kids it has.

    The raw RSA key is returned rather than the PyJWK, because PyJWK assumes RS256 for a key
    without ``alg`` (as Entra publishes them), which would reject a PS256 signature.
    """
    import jwt

    listed = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(listed, list) or not listed:
        raise TokenFormatError("The issuer's key set (JWKS) holds no keys.",
                               hint="Check the JWKS address (…/discovery/v2.0/keys).")
    kids = [entry.get("kid") for entry in listed if isinstance(entry, dict)]
    if kid not in kids:
        raise TokenFormatError(
            f"The token was signed with key '{kid}', which the issuer's key set does not hold "
            f"(it has {kids}).",
            hint="The token comes from another tenant or cloud, its key was rotated out, or it "
                 "was not issued by this authority.")
    entry = next(entry for entry in listed if isinstance(entry, dict) and entry.get("kid") == kid)
    if entry.get("kty") != "RSA":
        raise TokenFormatError(
            f"The token claims an RSA signature ({alg}), but the issuer's key '{kid}' is not an "
            f"RSA key (kty {entry.get('kty')!r}).", hint="Do not trust this token.")
    if entry.get("alg", alg) != alg:
        raise TokenFormatError(
            f"The token is signed with {alg}, but the issuer's key '{kid}' is for "
            f"{entry['alg']}.", hint="Do not trust this token.")
    try:
        return jwt.PyJWK.from_dict(entry).key
    except jwt.exceptions.PyJWTError as exc:
        raise TokenFormatError(f"The issuer's key '{kid}' is not a usable key: {exc}.",
                               hint="Check the JWKS document the authority serves.") from None


def jwks_url(claims, authority_host):
    """Where the signing keys of the token with ``claims`` live on ``authority_host``.

    Entra v1 tokens (``iss`` https://sts.windows.net/{tid}/) and v2 tokens (``iss``
    {host}/{tid}/v2.0) both publish their keys at ``{authority_host}/{tid}/discovery/v2.0/keys``.
    """
    tid = claims.get("tid")
    if not tid:
        issuer = str(claims.get("iss") or "")
        match = _V1_ISSUER.match(issuer) or _V2_ISSUER.match(issuer)
        tid = match.group(1) if match else None
    if not isinstance(tid, str) or not GUID.match(tid):
        raise TokenFormatError(
            "The token names no Entra tenant: it has no 'tid' claim holding a tenant id and its "
            "issuer is not an Entra issuer.",
            hint="Only tokens issued by Entra ID can be verified against its keys.")
    host = authority_host.strip().rstrip("/")
    if "://" not in host:
        host = f"https://{host}"
    return f"{host}/{tid}/discovery/v2.0/keys"


def signing_keys(claims, *, authority_host, ca_bundle=None):
    """``(url, jwks)``: the issuer's published keys, fetched over the given trust settings."""
    from .errors import NetworkError
    from .http import HttpClient

    url = jwks_url(claims, authority_host)
    http = HttpClient(ca_bundle=ca_bundle)
    try:
        response = http.get(url)
    finally:
        http.close()
    if response.status_code != 200:
        raise NetworkError(f"{url} answered HTTP {response.status_code}.", host=authority_host,
                           hint="Check the authority host of the profile.")
    try:
        return url, response.json()
    except ValueError:
        raise NetworkError(f"{url} answered with something that is not JSON.",
                           host=authority_host,
                           hint="Check the authority host of the profile.") from None


def trust_for(claims, *, profile=None, default=None):
    """``(authority host, CA bundle)`` to fetch the signing keys of a token with ``claims``.

    The profile given wins. Otherwise the ``default`` profile is used when the token comes from its
    authority (a v1 issuer names no host, so it is assumed to); failing that, the host in the
    token's v2 issuer, or Entra's public one, with the system's trust store.
    """
    from urllib.parse import urlsplit

    if profile is not None:
        return profile.authority_host, profile.ca_bundle
    issuer = str(claims.get("iss") or "")
    issuer_host = urlsplit(issuer).netloc.lower() if issuer.rstrip("/").endswith("/v2.0") else None
    if default is not None and issuer_host in (None, urlsplit(default.authority_host).netloc):
        return default.authority_host, default.ca_bundle
    return (f"https://{issuer_host}" if issuer_host else "https://login.microsoftonline.com"), None
