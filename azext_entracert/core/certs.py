"""Certificates as entracert sees them: one value object for every format, and thumbprints.

``LoadedCertificate`` is what flows between layers: the leaf certificate, its private key (or
None for public-only files), the CA chain that came with it, and where it came from. Its ``repr``
never shows the key.
"""
import base64
import dataclasses
import hashlib
from pathlib import Path

from .errors import CertificateError, CertificateFormatError, ConfigurationError, PasswordError
from .fileio import read_input
from .times import iso_z, utc_now


def _b64url(digest):
    # Padded, exactly as MSAL puts x5t/x5t#S256 in a JWT header (ENTRA-FACTS 0.5).
    return base64.urlsafe_b64encode(digest).decode("ascii")


def der_of(certificate):
    from cryptography.hazmat.primitives.serialization import Encoding

    return certificate.public_bytes(Encoding.DER)


def sha1_thumbprint(certificate):
    """Upper-case hex SHA-1 of the DER certificate: the thumbprint the Azure portal shows."""
    return hashlib.sha1(der_of(certificate)).hexdigest().upper()


def sha256_thumbprint(certificate):
    """Upper-case hex SHA-256 of the DER certificate."""
    return hashlib.sha256(der_of(certificate)).hexdigest().upper()


def x5t(certificate):
    """base64url SHA-1 of the DER certificate, as the ``x5t`` JWT header carries it."""
    return _b64url(hashlib.sha1(der_of(certificate)).digest())


def x5t_s256(certificate):
    """base64url SHA-256 of the DER certificate, as the ``x5t#S256`` JWT header carries it."""
    return _b64url(hashlib.sha256(der_of(certificate)).digest())


def normalize_b64url(value):
    """Canonical form of a base64url header value: no padding, no whitespace, ``+/`` as ``-_``."""
    return "".join(value.split()).rstrip("=").replace("+", "-").replace("/", "_")


@dataclasses.dataclass(frozen=True)
class LoadedCertificate:
    """A leaf certificate, its private key if we have one, and its CA chain (leaf excluded)."""

    certificate: object
    private_key: object = dataclasses.field(default=None, repr=False, compare=False)
    chain: tuple = ()
    source: str = ""

    @property
    def has_private_key(self):
        return self.private_key is not None

    @property
    def thumbprint(self):
        return sha1_thumbprint(self.certificate)

    @property
    def thumbprint_sha256(self):
        return sha256_thumbprint(self.certificate)

    @property
    def x5t(self):
        return x5t(self.certificate)

    @property
    def x5t_s256(self):
        return x5t_s256(self.certificate)

    @property
    def der(self):
        return der_of(self.certificate)

    @property
    def serial(self):
        """The serial number as upper-case hex, as ``cert show`` and the audit trail print it."""
        return format(self.certificate.serial_number, "X")

    def __repr__(self):
        return (f"LoadedCertificate(thumbprint={self.thumbprint!r}, "
                f"subject={self.certificate.subject.rfc4514_string()!r}, "
                f"has_private_key={self.has_private_key}, chain={len(self.chain)}, "
                f"source={self.source!r})")


# --- Loading ---------------------------------------------------------------------------------

_KEY_MARKERS = (b"PRIVATE KEY-----",)


def load(path=None, *, password=None, key_path=None, key_password=None, pfx_base64_env=None,
         require_key=False):
    """Load a certificate (and its key and chain, when present) from any supported form.

    ``path`` may hold PFX/PKCS#12 (any encryption openssl writes, legacy 3DES/RC2 included), PEM
    (certificate, optional key, optional chain, in any order) or a DER certificate (.cer).
    ``key_path`` names a separate PEM/DER key; ``pfx_base64_env`` an environment variable holding
    a base64 PFX instead of ``path``. ``password``/``key_password`` are ``PasswordSource``s, read
    only if the file turns out to be encrypted. ``require_key`` refuses a public-only result.
    """
    from .secrets import PasswordSource, read_pfx_base64_env

    password = password or PasswordSource.none()
    if (path is None) == (pfx_base64_env is None):
        raise ConfigurationError("Give exactly one certificate source.",
                                 hint="Use --file PATH or --pfx-base64-env VAR.")
    if pfx_base64_env is not None:
        source = f"env:{pfx_base64_env}"
        loaded = _load_pfx(read_pfx_base64_env(pfx_base64_env), source, password)
    else:
        source = str(Path(path).expanduser())
        data = read_input(source, what="certificate file")
        loaded = _load_any(data, source, password)
    if key_path is not None:
        if loaded.private_key is not None:  # which key would be meant is anyone's guess
            raise ConfigurationError(
                f"'{source}' already holds the private key of the certificate "
                f"{loaded.thumbprint}; a separate key file ('{key_path}') is only for a "
                "certificate given without its key.",
                hint="Leave out --key-file (a PFX, or a PEM with its key, needs none).")
        key = load_private_key(key_path, key_password or password)
        loaded = dataclasses.replace(loaded, private_key=key)
    if loaded.private_key is not None and not key_matches(loaded.private_key, loaded.certificate):
        raise CertificateError(
            f"The private key does not belong to the certificate {loaded.thumbprint} "
            f"({_subject(loaded.certificate)}).",
            path=key_path or source, thumbprint=loaded.thumbprint,
            hint="Use the key that was generated with this certificate's request.")
    if require_key and loaded.private_key is None:
        raise CertificateError(
            f"'{source}' holds the certificate {loaded.thumbprint} but no private key.",
            path=source, thumbprint=loaded.thumbprint,
            hint="Give the PFX or a PEM that includes the key. A separate key file goes with "
                 "--key-file KEY.pem.")
    return loaded


def _load_any(data, source, password):
    if b"-----BEGIN" in data:
        return _load_pem(data, source, password)
    from cryptography import x509

    try:
        return LoadedCertificate(x509.load_der_x509_certificate(data), source=source)
    except ValueError:
        return _load_pfx(data, source, password)


def _load_pfx(data, source, password):
    from cryptography.hazmat.primitives.serialization import pkcs12

    def attempt(secret):
        return pkcs12.load_key_and_certificates(data, secret)

    try:
        key, cert, extra = attempt(None)
    except ValueError as exc:
        if "deserialize" in str(exc):
            raise CertificateFormatError(
                f"'{source}' is not a certificate file we can read: it is neither PEM, DER nor a "
                "valid PFX (it may be truncated or corrupt).", path=source,
                hint="Export the certificate again (PFX/.p12, PEM or DER .cer).") from exc
        secret = _password_for(source, password)
        try:
            key, cert, extra = attempt(secret)
        except ValueError as exc2:
            raise PasswordError(
                f"The password from {password.describe()} does not open '{source}'.",
                path=source, hint="Check the password; PFX passwords are case-sensitive.") from exc2
    if cert is None:
        raise CertificateFormatError(f"The PFX '{source}' holds no certificate.", path=source,
                                     hint="Export it again including the certificate.")
    return LoadedCertificate(cert, key, tuple(extra or ()), source)


def _password_for(source, password):
    if not (password.given or password.can_prompt):
        raise PasswordError(
            f"'{source}' is protected by a password and none was given.", path=source,
            hint="Give it with --password-env VAR or --password-file FILE (or run in a terminal "
                 "to be prompted).")
    return password.get(purpose=f"password for {Path(source).name}")


def _load_pem(data, source, password):
    from cryptography import x509

    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    if not certificates:
        what = "only a private key" if _has_key(data) else "no certificate"
        raise CertificateFormatError(
            f"The PEM file '{source}' holds {what}.", path=source,
            hint="Give the certificate file (-----BEGIN CERTIFICATE-----). Where the key is "
                 "needed too, it can be inside that file or given with --key-file.")
    key = _parse_key(data, source, password) if _has_key(data) else None
    leaf = certificates[0]
    if key is not None:
        leaf = next((c for c in certificates if key_matches(key, c)), leaf)
    chain = tuple(c for c in certificates if c is not leaf)
    return LoadedCertificate(leaf, key, chain, source)


def _has_key(data):
    return any(marker in data for marker in _KEY_MARKERS)


def load_private_key(path, password=None):
    """Load a private key file (PEM PKCS#8, PKCS#1, encrypted or not; or DER)."""
    from .secrets import PasswordSource

    source = str(Path(path).expanduser())
    data = read_input(source, what="key file")
    return _parse_key(data, source, password or PasswordSource.none())


def _parse_key(data, source, password):
    from cryptography.hazmat.primitives import serialization

    loader = (serialization.load_pem_private_key if b"-----BEGIN" in data
              else serialization.load_der_private_key)
    try:
        return loader(data, None)
    except TypeError:  # encrypted: ask the source
        secret = _password_for(source, password)
        try:
            return loader(data, secret)
        except (ValueError, TypeError) as exc:  # TypeError: the password was empty
            raise PasswordError(
                f"The password from {password.describe()} does not decrypt the key in '{source}'.",
                path=source, hint="Check the password of the key.") from exc
    except ValueError as exc:
        raise CertificateFormatError(
            f"The private key in '{source}' cannot be read: it is corrupt or of an unsupported "
            "type.",
            path=source, hint="Export the key again as PEM (PKCS#8 or PKCS#1 RSA).") from exc
    except Exception as exc:  # cryptography raises UnsupportedAlgorithm for exotic keys
        raise CertificateFormatError(
            f"The private key in '{source}' uses an unsupported algorithm ({exc}).", path=source,
            hint="Entra ID certificate credentials need an RSA key.") from exc


def key_matches(private_key, certificate):
    """True when ``private_key`` is the key of ``certificate``."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    def spki(public_key):
        return public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)

    return spki(private_key.public_key()) == spki(certificate.public_key())


# --- Inspection and validation ------------------------------------------------------------------

def _subject(certificate):
    return certificate.subject.rfc4514_string()


def key_description(certificate):
    """``(keyType, keySize)`` of a certificate's public key, e.g. ``("RSA", 2048)``."""
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    key = certificate.public_key()
    kinds = ((rsa.RSAPublicKey, "RSA"), (ec.EllipticCurvePublicKey, "EC"),
             (dsa.DSAPublicKey, "DSA"), (ed25519.Ed25519PublicKey, "Ed25519"),
             (ed448.Ed448PublicKey, "Ed448"))
    kind = next((name for cls, name in kinds if isinstance(key, cls)), type(key).__name__)
    size = getattr(key, "key_size", None)
    if size is None and kind == "EC":
        size = key.curve.key_size
    return kind, size


def require_rsa(loaded, *, minimum=2048):
    """Refuse what Entra ID rejects as a certificate credential: a non-RSA key or a short one."""
    key_type, key_size = key_description(loaded.certificate)
    if key_type != "RSA" or (key_size or 0) < minimum:
        size = f"{key_size}-bit " if key_size else ""
        raise CertificateError(
            f"The certificate {loaded.thumbprint} in '{loaded.source}' has a {size}{key_type} key; "
            f"Entra ID certificate credentials need RSA of at least {minimum} bits.",
            path=loaded.source, thumbprint=loaded.thumbprint,
            hint="Create one with 'az entracert cert create', or request a CA certificate for an "
                 "RSA key made by 'az entracert cert csr'.")
    return loaded


def signature_hash(certificate):
    """The signature's hash name (``sha256``...), or None for hash-less schemes (Ed25519)."""
    algorithm = certificate.signature_hash_algorithm
    return algorithm.name if algorithm is not None else None


def subject_alt_names(certificate):
    from cryptography import x509

    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    prefixes = {x509.DNSName: "DNS", x509.IPAddress: "IP", x509.UniformResourceIdentifier: "URI",
                x509.RFC822Name: "EMAIL"}
    return [f"{prefixes.get(type(name), type(name).__name__)}:{name.value}"
            for name in extension.value]


def describe(loaded, *, now=None):
    """The summary ``cert show`` prints: identity, thumbprints in every form, validity, key."""
    certificate = loaded.certificate
    now = now or utc_now()
    not_after = certificate.not_valid_after_utc
    key_type, key_size = key_description(certificate)
    return {
        "subject": _subject(certificate),
        "issuer": certificate.issuer.rfc4514_string(),
        "serialNumber": loaded.serial,
        "thumbprint": loaded.thumbprint,
        "thumbprintSha256": loaded.thumbprint_sha256,
        "x5t": loaded.x5t,
        "x5tS256": loaded.x5t_s256,
        "notBefore": iso_z(certificate.not_valid_before_utc),
        "notAfter": iso_z(not_after),
        "daysLeft": (not_after - now).days,
        "expired": now >= not_after,
        "keyType": key_type,
        "keySize": key_size,
        "signatureAlgorithm": certificate.signature_algorithm_oid._name,
        "hasPrivateKey": loaded.has_private_key,
        "chainLength": len(loaded.chain),
        "subjectAltNames": subject_alt_names(certificate),
        "source": loaded.source,
    }


def expiry_warning(loaded, *, now=None, warn_days=30):
    """A sentence for the user when the certificate is expired, not yet valid, or nearly expired."""
    certificate = loaded.certificate
    now = now or utc_now()
    not_after, not_before = certificate.not_valid_after_utc, certificate.not_valid_before_utc
    if now >= not_after:
        return (f"The certificate {loaded.thumbprint} expired on {iso_z(not_after)}: Entra ID "
                "rejects it. Create a new one with 'az entracert cert create'.")
    if now < not_before:
        return f"The certificate {loaded.thumbprint} is not valid before {iso_z(not_before)}."
    days = (not_after - now).days
    if days < warn_days:
        return (f"The certificate {loaded.thumbprint} expires in {days} day(s), on "
                f"{iso_z(not_after)}. Plan its renewal.")
    return None


def validate(loaded, *, warn_days=30, key_path=None, now=None):
    """Check a certificate against what Entra ID accepts and good practice demands.

    Returns ``{"valid": bool, "checks": [{name, ok, severity, detail}]}``; ``valid`` is False when
    any check of severity ``error`` fails. Warnings (expiring soon) never make it invalid.
    """
    certificate = loaded.certificate
    now = now or utc_now()
    checks = []

    def check(name, ok, detail, severity="error"):
        checks.append({"name": name, "ok": bool(ok), "severity": severity, "detail": detail})

    key_type, key_size = key_description(certificate)
    check("keyType", key_type == "RSA",
          f"{key_type} key" + ("" if key_type == "RSA" else
                               ": Entra ID certificate credentials need an RSA key"))
    check("keySize", key_type == "RSA" and (key_size or 0) >= 2048,
          f"{key_size} bits" + ("" if (key_size or 0) >= 2048 else "; at least 2048 are needed"))
    digest = signature_hash(certificate)
    check("signatureHash", digest in ("sha256", "sha384", "sha512"),
          f"signed with {digest or certificate.signature_algorithm_oid._name}"
          + ("" if digest in ("sha256", "sha384", "sha512") else "; SHA-2 is required"))
    not_before, not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    in_window = not_before <= now < not_after
    check("validityPeriod", in_window,
          f"valid from {iso_z(not_before)} to {iso_z(not_after)}"
          + ("" if in_window else (" (expired)" if now >= not_after else " (not yet valid)")))
    days_left = (not_after - now).days
    if now >= not_after:
        check("expiresSoon", False, "already expired (see validityPeriod)", severity="warning")
    else:
        check("expiresSoon", days_left >= warn_days,
              f"{days_left} day(s) left (warning below {warn_days})", severity="warning")
    if loaded.private_key is not None:
        check("privateKeyMatches", key_matches(loaded.private_key, certificate),
              "the private key belongs to the certificate")
        key_file = key_path or loaded.source
        if key_file and Path(key_file).expanduser().is_file():  # not for env: or generated keys
            mode = Path(key_file).expanduser().stat().st_mode & 0o777
            check("privateKeyFilePermissions", not mode & 0o077,
                  f"'{key_file}' has mode {mode:04o}"
                  + ("" if not mode & 0o077 else f"; run chmod 600 '{key_file}'"))
    else:
        check("privateKeyMatches", True, "public certificate only: no private key to match",
              severity="info")
    valid = all(c["ok"] for c in checks if c["severity"] == "error")
    return {"valid": valid, "checks": checks}
