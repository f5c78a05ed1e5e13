"""Reading an access token: decode its header and claims, and verify its signature.

``decode`` shows what a token says without trusting it (PyJWT's unverified decoding), with its
times in local time and UTC. ``verify`` checks the RS256 signature against a JWKS. ``check``
gives every verdict (signature, issuer, audience, lifetime) against keys from an authority
``trust_for`` chose: one the user named, or Entra ID's own hosts, never the host a token names
(anyone can run a JWKS endpoint and mint tokens naming it). A token is a secret: no message here
ever contains it, at most its length.
"""
import dataclasses
import datetime
import json
import re
from urllib.parse import urlsplit

from .errors import ConfigurationError, NetworkError, TokenFormatError
from .fileio import read_input
from .profiles import GUID

_V1_ISSUER = re.compile(r"^https://sts\.windows\.net/([^/]+)/?$")
_V2_ISSUER = re.compile(r"^https://[^/]+/([^/]+)/v2\.0/?$")
_EXAMPLES = {"--issuer": "https://login.microsoftonline.com/TENANT-ID/v2.0",
             "--jwks-uri": "https://login.microsoftonline.com/TENANT-ID/discovery/v2.0/keys"}
# v1 tokens name their cloud's STS as issuer, not an authority (Microsoft Q&A 1190472): the
# authority that publishes their keys.
_V1_ISSUER_AUTHORITIES = {"sts.windows.net": "login.microsoftonline.com",
                          "sts.chinacloudapi.cn": "login.chinacloudapi.cn"}
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
    try:
        header = jwt.get_unverified_header(token)  # decodes all three parts' base64, too
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.exceptions.DecodeError as exc:
        # PyJWT's own text is not shown, to be sure no fragment of the token reaches the user;
        # it only tells which part failed: "Invalid header/payload/crypto ..." (crypto is the
        # signature), whichever call raised it.
        text = str(exc)
        problem = ("payload (the claims) is not a base64url-encoded JSON object"
                   if "payload" in text else "signature is not base64url-encoded"
                   if "crypto" in text else "header is not base64url-encoded JSON")
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


@dataclasses.dataclass(frozen=True)
class Trust:
    """Where the signing keys of a token may come from, chosen by the user, never by the token.

    ``source`` says why they are trusted (shown as ``trustedBy``); the keys come from ``jwks_uri``
    or from the OpenID ``discovery`` document, which also names the issuer unless the user gave
    ``issuer``; ``ca_bundle`` is the trust used to fetch them (None: the system's).
    """

    source: str
    discovery: str = None
    jwks_uri: str = None
    issuer: str = None
    ca_bundle: str = None


def trust_for(claims, *, profile=None, issuer=None, jwks_uri=None):
    """The ``Trust`` to verify a token with ``claims`` against.

    An explicit ``jwks_uri``/``issuer`` wins, then the ``profile``'s authority. Without either,
    only Entra ID's own hosts (the public and sovereign clouds) are asked: a token naming any
    other issuer is refused with TokenFormatError, since its author could serve its own keys.
    """
    from .clouds import MICROSOFT_HOSTS

    ca_bundle = profile.ca_bundle if profile is not None else None
    if issuer or jwks_uri:
        for value, option in ((issuer, "--issuer"), (jwks_uri, "--jwks-uri")):
            if value and (urlsplit(value).scheme != "https" or not urlsplit(value).hostname):
                raise ConfigurationError(
                    f"{option} '{value}' is not an https URL.",
                    hint=f"Give the full address, e.g. {option} {_EXAMPLES[option]}.")
        discovery = None
        if not jwks_uri:
            discovery = (_discovery(profile.authority_host, profile.tenant) if profile is not None
                         else f"{issuer.rstrip('/')}/.well-known/openid-configuration")
        return Trust("--jwks-uri" if jwks_uri else "--issuer", discovery=discovery,
                     jwks_uri=jwks_uri, issuer=issuer, ca_bundle=ca_bundle)
    if profile is not None:
        return Trust(f"profile '{profile.name}'", ca_bundle=ca_bundle,
                     discovery=_discovery(profile.authority_host, profile.tenant))
    named = str(claims.get("iss") or "")
    host = (urlsplit(named).hostname or "").lower() if named.startswith("https://") else ""
    host = _V1_ISSUER_AUTHORITIES.get(host, host)
    if host not in MICROSOFT_HOSTS:
        raise TokenFormatError(
            f"The token's issuer {named!r} is not an Entra ID authority, so its signing keys "
            f"are not fetched from there: whoever made the token could serve them. To trust "
            f"that authority, name it: --profile NAME (the profile's authority), --issuer URL "
            f"or --jwks-uri URL.",
            hint="Verify against an authority you chose, not one the token names.")
    return Trust(f"Entra ID ({host})", discovery=_discovery(f"https://{host}", _tenant(claims)))


def check(token, *, profile=None, issuer=None, jwks_uri=None, audience=None, now=None):
    """Every verdict on ``token``: who vouches for it, its signature, issuer, audience and times.

    The keys come from where ``trust_for`` says (and, from the discovery document, the expected
    issuer). ``valid`` is True only when the issuer is trusted, the signature verifies, ``iss``
    is the expected issuer, ``aud`` is ``audience`` (when given) and the token is within its
    lifetime; ``reasons`` says what failed. A fetch that fails raises NetworkError.
    """
    header, claims = _unverified(token)
    try:
        trust = trust_for(claims, profile=profile, issuer=issuer, jwks_uri=jwks_uri)
    except TokenFormatError as exc:
        result = _verdicts(token, claims, audience=audience, now=now, reasons=[exc.message])
        result["issuer"]["valid"] = False
        return result
    from .http import HttpClient

    jwks_uri, expected = trust.jwks_uri, trust.issuer
    http = HttpClient(ca_bundle=trust.ca_bundle)
    try:
        if trust.discovery:
            document = _fetch_json(http, trust.discovery, "OpenID configuration")
            jwks_uri = jwks_uri or _field(document, "jwks_uri", trust.discovery)
            if expected is None:
                expected = _expected_issuer(_field(document, "issuer", trust.discovery), claims,
                                            trust.discovery)
        jwks = _fetch_json(http, jwks_uri, "signing key set (JWKS)")
    finally:
        http.close()
    reasons = []
    signature = {"valid": True, "kid": header.get("kid"), "algorithm": header.get("alg")}
    try:
        verify(token, jwks=jwks)
    except TokenFormatError as exc:
        signature["valid"] = False
        reasons.append(exc.message)
    result = _verdicts(token, claims, audience=audience, issuer=expected, now=now,
                       reasons=reasons, source=trust.source)
    result.update(trustedBy=trust.source, jwksUri=jwks_uri, signature=signature)
    return result


def _verdicts(token, claims, *, audience, now, reasons, issuer=None, source=None):
    """The verdict record: issuer, audience and lifetime checks added to ``reasons``.

    ``issuer`` None leaves the issuer unchecked (``valid`` None), as ``audience`` None does.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    named, aud = claims.get("iss"), claims.get("aud")
    issuer_ok = None if issuer is None else named == issuer
    if issuer_ok is False:
        reasons.append(f"The token's issuer {named!r} is not {issuer!r}, the issuer expected "
                       f"from {source}.")
    audience_ok = None if audience is None else (
        audience in aud if isinstance(aud, list) else aud == audience)
    if audience_ok is False:
        reasons.append(f"The token is for audience {aud!r}, not {audience!r}.")
    times = decode(token, now=now)
    not_before = _moment(claims, "nbf")
    not_yet = not_before is not None and not_before > now
    if times["expired"]:
        reasons.append(f"The token expired at {times['expiresOn']['utc']}.")
    if not_yet:
        reasons.append(f"The token is not valid before {times['notBefore']['utc']}.")
    return {"valid": not reasons, "reasons": reasons, "trustedBy": None, "jwksUri": None,
            "signature": None, "issuer": {"value": named, "expected": issuer, "valid": issuer_ok},
            "audience": {"value": aud, "expected": audience, "valid": audience_ok},
            "expired": times["expired"], "notYetValid": not_yet}


def _discovery(authority_host, tenant):
    return f"{authority_host.rstrip('/')}/{tenant}/v2.0/.well-known/openid-configuration"


def _tenant(claims):
    """The token's tenant id (a GUID, so it is safe in a URL path), from ``tid`` or ``iss``."""
    tid = claims.get("tid")
    if not tid:
        named = str(claims.get("iss") or "")
        match = _V1_ISSUER.match(named) or _V2_ISSUER.match(named)
        tid = match.group(1) if match else None
    if not isinstance(tid, str) or not GUID.match(tid):
        raise TokenFormatError(
            "The token names no Entra tenant: it has no 'tid' claim holding a tenant id and its "
            "issuer is not an Entra issuer.",
            hint="Only tokens issued by Entra ID can be verified against its keys.")
    return tid


def _expected_issuer(named, claims, url):
    """The issuer a token with ``claims`` must name, from the discovery document's ``named``.

    The v2 document names the v2 issuer (``{tenantid}`` stands for the token's tenant in the
    multi-tenant documents); a v1 token (``ver`` 1.0) of that tenant names the cloud's v1 STS.
    """
    issuer = named.replace("{tenantid}", str(claims.get("tid")))
    if claims.get("ver") != "1.0":
        return issuer
    match = _V2_ISSUER.match(issuer)
    if match is None:
        raise NetworkError(f"{url} names the issuer {named!r}, which is not an Entra v2 issuer.",
                           host=urlsplit(url).netloc,
                           hint="Check that the authority is Entra ID (or the emulator).")
    sts = "sts.chinacloudapi.cn" if urlsplit(issuer).hostname.endswith(".cn") else "sts.windows.net"
    return f"https://{sts}/{match.group(1)}/"


def _fetch_json(http, url, what):
    response = http.get(url)
    host = urlsplit(url).netloc
    if response.status_code != 200:
        raise NetworkError(f"{url} answered HTTP {response.status_code}, not the {what}.",
                           host=host, hint="If the token comes from another authority or tenant, "
                                           "name it: --profile NAME, --issuer URL or --jwks-uri "
                                           "URL.")
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise NetworkError(f"{url} answered with something that is not a JSON {what}.",
                           host=host, hint="Check that the address is an Entra ID (OpenID) "
                                           "authority.")
    return document


def _field(document, name, url):
    value = document.get(name)
    if not isinstance(value, str) or not value.startswith("https://"):
        raise NetworkError(f"The OpenID configuration at {url} has no https '{name}'.",
                           host=urlsplit(url).netloc,
                           hint="Check that the address is an Entra ID (OpenID) authority.")
    return value
