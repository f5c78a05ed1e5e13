"""Key credentials of the emulated Microsoft Graph: uploads, PATCH merges and addKey proofs.

Everything that touches a certificate on Graph's side lives here, so ``graph.py`` stays a router.
The rules are those of ENTRA-FACTS §5-§6:

* a keyCredential pairs ``AsymmetricX509Cert``/``Verify`` or ``X509CertAndPassword``/``Sign``;
* ``key`` is a base64 DER X.509 certificate (``Sign`` keys may be a PKCS#12, as for SAML signing);
* missing dates default to the certificate's validity, ``endDateTime`` may not pass ``notAfter``;
* ``customKeyIdentifier`` defaults to the upper-case hex SHA-1 thumbprint, ``displayName`` to the
  certificate subject (Graph's own default is UNVERIFIED), and is cut at 90 characters;
* in a PATCH the list replaces the stored one, but an entry re-sent with a stored ``keyId`` and
  ``key: null`` keeps its stored key (``az ad app credential reset --append`` relies on this);
* an addKey/removeKey proof is an RS256/PS256 JWT signed by a currently valid registered
  certificate (looked up by ``x5t#S256``, ``x5t`` or hex ``kid``), ``aud``
  ``00000002-0000-0000-c000-000000000000``, ``iss`` the application's object id, ``nbf`` and
  ``exp`` required with ``exp - nbf <= 600`` s; ``=`` padding in its header or payload is refused.
"""
import base64
import binascii
import copy
import datetime
import uuid

from ..core import certs
from .state import graph_time, is_guid, parse_graph_time, parsed_key

KEY_TYPES = {"AsymmetricX509Cert": "Verify", "X509CertAndPassword": "Sign"}
USAGES = ("Sign", "Verify")
PROOF_AUDIENCE = "00000002-0000-0000-c000-000000000000"
PROOF_ALGORITHMS = ("RS256", "PS256")
PROOF_MAX_LIFETIME = 600  # seconds, exp - nbf (microsoft-graph-docs#6587)
PROOF_CLOCK_SKEW = 300  # seconds of tolerance on nbf/exp: UNVERIFIED, the usual Entra allowance
DISPLAY_NAME_MAX = 90

MALFORMED = "Access Token missing or malformed."
INSUFFICIENT = "Insufficient privileges to complete the operation."
KEY_EMPTY = "KeyCredentialsInvalidValue: KeyValue cannot be null or empty"
KEY_INVALID = ("KeyCredentialsInvalidValue: Key value is not a valid base64 DER-encoded X.509 "
               "certificate.")
USAGE_INVALID = ('The value for the property "usage" in one of your credentials is invalid. '
                 "Acceptable values are Sign, Verify.")
TYPE_INVALID = ('The value for the property "type" in one of your credentials is invalid. '
                "Acceptable values are AsymmetricX509Cert, X509CertAndPassword.")


class GraphError(Exception):
    """A Graph error answer: HTTP ``status``, Graph ``code`` and ``message`` (never a secret)."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def bad_request(message):
    return GraphError(400, "Request_BadRequest", message)


def not_found(identifier):
    return GraphError(404, "Request_ResourceNotFound",
                      f"Resource '{identifier}' does not exist or one of its queried "
                      "reference-property objects are not present.")


def denied():
    return GraphError(403, "Authorization_RequestDenied", INSUFFICIENT)


def malformed_proof():
    return GraphError(401, "Authentication_MissingOrMalformed", MALFORMED)


def load_certificate(key, *, allow_pkcs12=False, password=None):
    """The certificate in a keyCredential's ``key``: base64 of DER (or PEM, leniently: UNVERIFIED
    whether Graph takes it), or of a PKCS#12 for ``Sign`` keys. Raises GraphError 400."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import pkcs12

    if key is None or (isinstance(key, str) and not key.strip()):
        raise bad_request(KEY_EMPTY)
    if not isinstance(key, str):
        raise bad_request(KEY_INVALID)
    try:
        raw = base64.b64decode("".join(key.split()), validate=True)
    except (binascii.Error, ValueError):
        raise bad_request(KEY_INVALID) from None
    loaders = [x509.load_der_x509_certificate]
    if raw.lstrip().startswith(b"-----BEGIN"):
        loaders = [x509.load_pem_x509_certificate]
    for loader in loaders:
        try:
            return loader(raw)
        except ValueError:
            pass
    if allow_pkcs12:
        try:
            secret = password.encode("utf-8") if password else None
            _, certificate, _ = pkcs12.load_key_and_certificates(raw, secret)
            if certificate is not None:
                return certificate
        except (ValueError, TypeError):
            pass
    raise bad_request(KEY_INVALID)


def parse_date(fields, name, default, resource):
    """``fields[name]`` as an aware datetime (``default`` when absent); 400 when unreadable."""
    value = fields.get(name)
    if value is None:
        return default
    try:
        return parse_graph_time(value)
    except ValueError:
        raise bad_request(f"Invalid value specified for property '{name}' of resource "
                          f"'{resource}'.") from None


def new_key_credential(entry, *, password=None):
    """Validate an uploaded keyCredential and return it in stored form (key as base64 DER)."""
    if not isinstance(entry, dict):
        raise bad_request("Each keyCredentials entry must be a JSON object.")
    key_type, usage = entry.get("type"), entry.get("usage")
    if usage not in USAGES:
        raise bad_request(USAGE_INVALID)
    if key_type not in KEY_TYPES:
        raise bad_request(TYPE_INVALID)
    if KEY_TYPES[key_type] != usage:
        # The pairing rule is documented; this wording is ours (UNVERIFIED).
        raise bad_request(f"A key credential of type {key_type} must have usage "
                          f"{KEY_TYPES[key_type]}.")
    signing = key_type == "X509CertAndPassword"
    certificate = load_certificate(entry.get("key"), allow_pkcs12=signing, password=password)
    not_before, not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    start = parse_date(entry, "startDateTime", not_before, "KeyCredential")
    end = parse_date(entry, "endDateTime", not_after, "KeyCredential")
    if end > not_after or end <= start:
        raise bad_request("Key credential end date is invalid.")
    if start < not_before:
        raise bad_request("Key credential start date is invalid.")
    key_id = entry.get("keyId") or str(uuid.uuid4())
    if not is_guid(key_id):
        raise bad_request("Invalid value specified for property 'keyId' of resource "
                          "'KeyCredential'.")
    display_name = entry.get("displayName") or certificate.subject.rfc4514_string()
    if not isinstance(display_name, str):
        raise bad_request("Invalid value specified for property 'displayName' of resource "
                          "'KeyCredential'.")
    custom = entry.get("customKeyIdentifier") or certs.sha1_thumbprint(certificate)
    if not isinstance(custom, str):
        raise bad_request("Invalid value specified for property 'customKeyIdentifier' of resource "
                          "'KeyCredential'.")
    return stored_key_credential(certificate, key_id=key_id, display_name=display_name,
                                 start=start, end=end, custom_key_identifier=custom,
                                 key_type=key_type, usage=usage,
                                 key=entry["key"] if signing else None)


def stored_key_credential(certificate, *, key_id=None, display_name=None, start=None, end=None,
                          custom_key_identifier=None, key_type="AsymmetricX509Cert",
                          usage="Verify", key=None):
    """A keyCredential as tenant.json stores it (Graph's shape, ENTRA-FACTS 5.2), unchecked:
    dates default to the certificate's validity, ``customKeyIdentifier`` to the upper-hex SHA-1
    thumbprint, ``displayName`` to the subject, ``key`` to the base64 DER."""
    display_name = display_name if display_name is not None else (
        certificate.subject.rfc4514_string())
    return {
        "customKeyIdentifier": custom_key_identifier or certs.sha1_thumbprint(certificate),
        "displayName": display_name[:DISPLAY_NAME_MAX],
        "endDateTime": graph_time(end or certificate.not_valid_after_utc),
        "key": key or base64.b64encode(certs.der_of(certificate)).decode("ascii"),
        "keyId": (key_id or str(uuid.uuid4())).lower(),
        "startDateTime": graph_time(start or certificate.not_valid_before_utc),
        "type": key_type,
        "usage": usage,
    }


def merge_key_credentials(stored, sent):
    """The keyCredentials after a PATCH: ``sent`` replaces ``stored``, except that an entry naming
    a stored ``keyId`` with a null key keeps the stored entry as it is."""
    if not isinstance(sent, list):
        raise bad_request("The property 'keyCredentials' must be an array of keyCredential "
                          "objects.")
    by_id = {credential["keyId"].lower(): credential for credential in stored}
    merged, seen = [], set()
    for entry in sent:
        key_id = entry.get("keyId") if isinstance(entry, dict) else None
        known = by_id.get(key_id.lower()) if isinstance(key_id, str) else None
        if known is not None and entry.get("key") in (None, ""):
            credential = copy.deepcopy(known)
        else:
            credential = new_key_credential(entry)
        if credential["keyId"] in seen:  # duplicate keyIds: rejection UNVERIFIED, ambiguity ours
            raise bad_request(f"The keyId '{credential['keyId']}' appears more than once in "
                              "keyCredentials.")
        seen.add(credential["keyId"])
        merged.append(credential)
    return merged


def is_current(credential, now):
    """Whether ``now`` (aware datetime) lies within the credential's start and end dates."""
    try:
        start = parse_graph_time(credential["startDateTime"])
        end = parse_graph_time(credential["endDateTime"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return False
    return start <= now <= end


def _verify_keys(app):
    """The app's ``AsymmetricX509Cert``/``Verify`` credentials with their parsed keys
    (``state.parsed_key``: the same cached parse the token endpoint uses)."""
    for credential in app.get("keyCredentials", []):
        if (credential.get("type"), credential.get("usage")) != ("AsymmetricX509Cert", "Verify"):
            continue
        parsed = parsed_key(credential.get("key") or "")
        if parsed is not None:
            yield credential, parsed


def valid_certificates(app, now):
    """Credentials usable to sign a proof at ``now`` (inside their own and their certificate's
    dates), each with its parsed key."""
    return [(credential, parsed) for credential, parsed in _verify_keys(app)
            if is_current(credential, now) and parsed["certificate"].not_valid_before_utc <= now
            <= parsed["certificate"].not_valid_after_utc]


def _names(header, parsed):
    """Whether a JWT header's x5t#S256, x5t or kid (hex or base64url) names the parsed key."""
    wanted = {parsed["x5t#S256"], parsed["x5t"]}
    for field in ("x5t#S256", "x5t"):
        if isinstance(header.get(field), str) and certs.normalize_b64url(header[field]) in wanted:
            return True
    kid = header.get("kid")
    return isinstance(kid, str) and (kid.strip().upper() == parsed["hex"]
                                     or certs.normalize_b64url(kid) in wanted)


def verify_proof(proof, app, now):
    """Check an addKey/removeKey proof for ``app`` at ``now``; return the signing credential.

    A missing proof answers 403 Authorization_RequestDenied, as observed for addKey without one
    (msgraph-sdk-powershell#779); every other defect 401 Authentication_MissingOrMalformed.
    """
    import jwt

    if proof is None or proof == "":
        raise GraphError(403, "Authorization_RequestDenied", INSUFFICIENT)
    if not isinstance(proof, str):
        raise malformed_proof()
    parts = proof.split(".")
    if len(parts) != 3 or "=" in parts[0] or "=" in parts[1]:
        raise malformed_proof()
    try:
        header = jwt.get_unverified_header(proof)
    except jwt.InvalidTokenError:
        raise malformed_proof() from None
    algorithm = header.get("alg")
    if algorithm not in PROOF_ALGORITHMS:
        raise malformed_proof()
    signer = next(((credential, parsed) for credential, parsed
                   in valid_certificates(app, now) if _names(header, parsed)), None)
    if signer is None:
        raise malformed_proof()
    try:
        claims = jwt.decode(
            proof, signer[1]["public_key"], algorithms=[algorithm], audience=PROOF_AUDIENCE,
            issuer=app["id"],
            # Times are checked below against the emulator's clock, not PyJWT's.
            options={"require": ["aud", "iss", "nbf", "exp"], "verify_exp": False,
                     "verify_nbf": False, "verify_iat": False})
    except jwt.InvalidTokenError:
        raise malformed_proof() from None
    nbf, exp = claims["nbf"], claims["exp"]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (nbf, exp)):
        raise malformed_proof()
    moment = now.timestamp()
    if not 0 < exp - nbf <= PROOF_MAX_LIFETIME:
        raise malformed_proof()
    if moment + PROOF_CLOCK_SKEW < nbf or moment - PROOF_CLOCK_SKEW > exp:
        raise malformed_proof()
    return signer[0]


def utc_from_epoch(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
