"""Creating certificates and keys: self-signed, CA-issued, CSRs, assembling and converting.

Everything goes through ``cryptography``'s X.509 builders; nothing here encodes ASN.1 by hand.
Files are written through ``fileio``: atomically, private material with mode 0600, and
several files of one result (PFX + .cer + .pem; key + CSR) as one unit.
"""
import datetime
import ipaddress
from pathlib import Path

from .errors import CertificateError, ConfigurationError
from .fileio import PRIVATE, PUBLIC, atomic_write, atomic_write_all, check_writable

KEY_SIZES = (2048, 3072, 4096)
# Entra ID accepts a certificate credential from its notBefore; a small backdate keeps a freshly
# made certificate usable on a machine whose clock runs a little behind the verifier's.
BACKDATE = datetime.timedelta(minutes=5)


def new_rsa_key(bits=2048):
    """A fresh RSA private key (public exponent 65537)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    if bits < 2048:
        raise ConfigurationError(f"An RSA key of {bits} bits is too weak.",
                                 hint="Entra ID needs at least 2048 bits: use --key-size 2048.")
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def parse_subject(text):
    """Parse ``"CN=app,O=Contoso,C=US"`` (RFC 4514 string form) into an ``x509.Name``."""
    from cryptography import x509

    try:
        name = x509.Name.from_rfc4514_string(text.strip())
    except ValueError as exc:
        reason = f": {exc}" if str(exc) else ""
        raise ConfigurationError(
            f"The subject '{text}' is not a distinguished name{reason}.",
            hint="Write it as attributes joined by commas, e.g. --subject \"CN=my-app,O=Contoso\".",
        ) from exc
    if not list(name):
        raise ConfigurationError("The subject is empty.",
                                 hint="Give at least a common name: --subject \"CN=my-app\".")
    return name


def parse_san(entry):
    """Parse one ``DNS:host``, ``IP:addr``, ``URI:uri`` or ``EMAIL:addr`` into a GeneralName."""
    from cryptography import x509

    kind, sep, value = entry.partition(":")
    kinds = {
        "dns": x509.DNSName,
        "uri": x509.UniformResourceIdentifier,
        "email": x509.RFC822Name,
        "ip": lambda v: x509.IPAddress(ipaddress.ip_address(v)),
    }
    maker = kinds.get(kind.strip().lower())
    if not sep or maker is None or not value.strip():
        raise ConfigurationError(
            f"The subject alternative name '{entry}' is not understood.",
            hint="Write it as DNS:host, IP:address, URI:uri or EMAIL:address.")
    try:
        return maker(value.strip())
    except ValueError as exc:
        raise ConfigurationError(f"The subject alternative name '{entry}' is invalid: {exc}.",
                                 hint="Write it as DNS:host, IP:address, URI:uri or EMAIL:address."
                                 ) from exc


def hash_algorithm(name):
    """The ``cryptography`` hash object for ``sha256``/``sha384``/``sha512``."""
    from cryptography.hazmat.primitives import hashes

    algorithms = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
    try:
        return algorithms[name.lower()]()
    except KeyError:
        raise ConfigurationError(f"The hash '{name}' is not supported.",
                                 hint="Use sha256, sha384 or sha512.") from None


def build_certificate(*, subject, public_key, signing_key, issuer=None, days=365, sans=(),
                      hash_name="sha256", purpose="client", not_before=None, serial=None,
                      ocsp_url=None, crl_url=None):
    """Build and sign an X.509 v3 certificate.

    ``issuer`` is the issuing CA's ``x509.Certificate`` (None: self-signed with ``signing_key``).
    ``purpose`` picks the extensions: ``"client"`` (digitalSignature + clientAuth: what Entra ID
    expects of a credential), ``"server"`` (TLS server) or ``"ca"`` (a CA that signs certificates
    and CRLs). ``sans`` are GeneralNames or ``"DNS:..."`` strings. ``ocsp_url``/``crl_url`` add
    AIA/CDP pointers for revocation checking.
    """
    from cryptography import x509
    from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

    if days < 1:
        raise ConfigurationError(f"A validity of {days} days is not possible.",
                                 hint="Use --days 1 or more.")
    start = not_before or datetime.datetime.now(datetime.timezone.utc) - BACKDATE
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(public_key)
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + BACKDATE + datetime.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    authority_key = issuer.public_key() if issuer is not None else public_key
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key), critical=False)
    is_ca = purpose == "ca"
    builder = builder.add_extension(x509.BasicConstraints(ca=is_ca, path_length=None),
                                    critical=True)
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=not is_ca, content_commitment=False,
            key_encipherment=purpose == "server", data_encipherment=False, key_agreement=False,
            key_cert_sign=is_ca, crl_sign=is_ca, encipher_only=False, decipher_only=False),
        critical=True)
    if not is_ca:
        usage = (ExtendedKeyUsageOID.SERVER_AUTH if purpose == "server"
                 else ExtendedKeyUsageOID.CLIENT_AUTH)
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    names = [parse_san(san) if isinstance(san, str) else san for san in sans]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if ocsp_url:
        builder = builder.add_extension(x509.AuthorityInformationAccess([
            x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                   x509.UniformResourceIdentifier(ocsp_url))]), critical=False)
    if crl_url:
        builder = builder.add_extension(x509.CRLDistributionPoints([
            x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)]),
            critical=False)
    return builder.sign(signing_key, hash_algorithm(hash_name))


# --- Self-signed certificates, requests, assembly, conversion -----------------------------------

def create_self_signed(subject, *, sans=(), key_size=2048, hash_name="sha256", days=365):
    """A new RSA key and a self-signed client certificate with the extensions Entra ID expects:
    digitalSignature key usage, clientAuth EKU and a subject key identifier."""
    from .certs import LoadedCertificate

    _check_key_size(key_size)
    name = parse_subject(subject) if isinstance(subject, str) else subject
    sans = [parse_san(s) for s in sans]  # parse before the (slow) key generation
    hash_algorithm(hash_name)
    key = new_rsa_key(key_size)
    certificate = build_certificate(subject=name, public_key=key.public_key(), signing_key=key,
                                    days=days, sans=sans, hash_name=hash_name)
    return LoadedCertificate(certificate, key, (), "generated")


def _check_key_size(key_size):
    if key_size not in KEY_SIZES:
        raise ConfigurationError(f"A key size of {key_size} bits is not offered.",
                                 hint="Use --key-size 2048, 3072 or 4096.")


def pfx_bytes(loaded, password):
    """PKCS#12 bytes of ``loaded`` (key, leaf, chain); AES-256 + SHA-256 MAC when ``password``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    if loaded.private_key is None:
        raise CertificateError(
            f"The certificate {loaded.thumbprint} has no private key to put in a PFX.",
            thumbprint=loaded.thumbprint,
            hint="Give the key with --key-file, or convert to pem/der instead.")
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    friendly = loaded.certificate.subject.rfc4514_string().encode("utf-8")[:64]
    return pkcs12.serialize_key_and_certificates(
        friendly, loaded.private_key, loaded.certificate, list(loaded.chain) or None, encryption)


def _pem(certificates):
    from cryptography.hazmat.primitives.serialization import Encoding

    return b"".join(c.public_bytes(Encoding.PEM) for c in certificates)


def key_pem(private_key, password=None):
    """The key as PKCS#8 PEM, encrypted (best available) when ``password`` is given."""
    from cryptography.hazmat.primitives import serialization

    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    return private_key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8, encryption)


def bundle_paths(out):
    """``PATH.pfx`` and its public siblings ``PATH.cer`` (DER) and ``PATH.pem``."""
    out = Path(out).expanduser()
    return {"pfx": out, "cer": out.with_suffix(".cer"), "pem": out.with_suffix(".pem")}


def check_bundle_writable(out, *, force=False):
    """Refuse, before any slow work, when a bundle file exists (without force) or has no folder."""
    for path in bundle_paths(out).values():
        check_writable(path, overwrite=force)


def write_bundle(loaded, out, *, password, force=False):
    """Write ``PATH.pfx`` (0600), ``PATH.cer`` and ``PATH.pem`` as one unit; return their paths."""
    from cryptography.hazmat.primitives.serialization import Encoding

    paths = bundle_paths(out)
    if paths["pfx"].suffix.lower() not in (".pfx", ".p12"):
        raise ConfigurationError(f"The output '{out}' should end in .pfx or .p12.",
                                 hint="Name the file e.g. --out my-app.pfx.")
    atomic_write_all([
        (paths["pfx"], pfx_bytes(loaded, password), PRIVATE),
        (paths["cer"], loaded.certificate.public_bytes(Encoding.DER), PUBLIC),
        (paths["pem"], _pem([loaded.certificate]), PUBLIC),
    ], overwrite=force)
    return {kind: str(path) for kind, path in paths.items()}


def create_csr(subject, *, sans=(), key_size=2048, hash_name="sha256"):
    """A new RSA key and a PKCS#10 certificate signing request for it."""
    from cryptography import x509

    _check_key_size(key_size)
    name = parse_subject(subject) if isinstance(subject, str) else subject
    names = [parse_san(s) for s in sans]
    digest = hash_algorithm(hash_name)
    key = new_rsa_key(key_size)
    builder = x509.CertificateSigningRequestBuilder().subject_name(name)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return key, builder.sign(key, digest)


def write_csr(key, csr, *, key_out, out, password=None, force=False):
    """Write the key (0600, encrypted when ``password``) and the request (PEM) as one unit."""
    from cryptography.hazmat.primitives.serialization import Encoding

    written = atomic_write_all([
        (key_out, key_pem(key, password), PRIVATE),
        (out, csr.public_bytes(Encoding.PEM), PUBLIC),
    ], overwrite=force)
    return {"key": str(written[0]), "csr": str(written[1])}


def assemble(cert_path, key_path, chain_paths=(), *, key_password=None):
    """Join a CA-signed certificate with its key and CA chain; refuse a key that does not match."""
    from .certs import LoadedCertificate, key_matches, load, load_private_key, require_rsa

    signed = load(cert_path)
    key = load_private_key(key_path, key_password)
    if not key_matches(key, signed.certificate):
        raise CertificateError(
            f"The key '{key_path}' does not belong to the certificate {signed.thumbprint} in "
            f"'{cert_path}'.", path=key_path, thumbprint=signed.thumbprint,
            hint="Use the key file that was written with the certificate request (cert csr).")
    require_rsa(signed)
    chain = list(signed.chain)
    for path in chain_paths:
        chain.extend([load(path).certificate, *load(path).chain])
    unique = []
    for certificate in chain:
        if certificate != signed.certificate and certificate not in unique:
            unique.append(certificate)
    return LoadedCertificate(signed.certificate, key, tuple(unique), str(cert_path))


def convert(loaded, to, out, *, password=None, force=False):
    """Write ``loaded`` as ``pfx`` (key, chain; 0600), ``pem`` (certificate, chain and key when
    present; 0600 then) or ``der`` (the certificate alone, public)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    to = to.lower()
    if to == "pfx":
        data, private = pfx_bytes(loaded, password), True
    elif to == "pem":
        private = loaded.private_key is not None
        data = _pem([loaded.certificate, *loaded.chain])
        if private:
            data += key_pem(loaded.private_key, password)
    elif to == "der":
        data, private = loaded.certificate.public_bytes(Encoding.DER), False
    else:
        raise ConfigurationError(f"Unknown target format '{to}'.", hint="Use pfx, pem or der.")
    atomic_write(out, data, mode=PRIVATE if private else PUBLIC, overwrite=force)
    return {"path": str(Path(out).expanduser()), "format": to, "includesPrivateKey": private}
