"""The emulator's own key material, kept in the state dir and reused across restarts.

* ``ca.pem`` / ``ca-key.pem``: a private CA that clients trust (``REQUESTS_CA_BUNDLE``);
* ``server.pem`` / ``server-key.pem``: the TLS certificate the CA issues for 127.0.0.1, ::1,
  localhost and the bound host (reissued when missing, expiring or not covering the host);
* ``signing.pem`` / ``signing-key.pem``: the token-signing key and its self-signed certificate,
  published in the JWKS (``kid`` = ``x5t`` = unpadded base64url SHA-1 of the DER, as Entra does);
* ``admin.pem``: key + certificate of the bootstrap admin application.

Every file is written 0600 through ``fileio.atomic_write`` (the certificates too: a swapped
``ca.pem`` would be trusted by every profile that names it) and the folder is 0700, whatever the
umask, and tightened when an older emulator left wider modes; a lock file keeps two emulators
starting on the same state dir from minting different CAs.
"""
import base64
import datetime
import ipaddress
import os
import stat
import warnings
from pathlib import Path

from ..core.certgen import build_certificate, new_rsa_key
from ..core.certgen import key_pem as pem_key
from ..core.certs import der_of, normalize_b64url, x5t
from ..core.fileio import PRIVATE, atomic_write, file_lock

LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")


def _pem_cert(cert):
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.public_bytes(Encoding.PEM)


def _name(common_name):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "entracert emulator")])


def _san(host):
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


# The emulator's own files; others in a state dir someone chose are not ours to change.
STATE_FILES = ("ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "signing.pem",
               "signing-key.pem", "admin.pem", "tenant.json", "emulator.json", "emulator.log")


def private_state_dir(path):
    """Create ``path`` 0700 if missing; make it 0700 and the emulator's files in it (lock files
    included) 0600 when they are wider."""
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    for entry in os.scandir(path):
        if ((entry.name in STATE_FILES or entry.name.endswith(".lock"))
                and entry.is_file(follow_symlinks=False)
                and stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode) & 0o177):
            os.chmod(entry.path, PRIVATE)


def _load_pair(cert_path, key_path):
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    if not (cert_path.exists() and key_path.exists()):
        return None, None
    return (x509.load_pem_x509_certificate(cert_path.read_bytes()),
            load_pem_private_key(key_path.read_bytes(), password=None))


def _fresh(cert, *, margin_days=7):
    soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=margin_days)
    return cert is not None and cert.not_valid_after_utc > soon


class Pki:
    """Loads (or creates once) the CA, TLS, signing and admin material under ``state_dir``."""

    def __init__(self, state_dir, *, host="127.0.0.1"):
        self.dir = Path(state_dir)
        self.ca_path = self.dir / "ca.pem"
        self.server_cert_path = self.dir / "server.pem"
        self.server_key_path = self.dir / "server-key.pem"
        self.admin_path = self.dir / "admin.pem"
        # portalocker warns that its timeout has no effect in blocking mode: not our concern here
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lock = file_lock(self.dir / "pki")
            lock.__enter__()
        try:
            self.ca_cert, self.ca_key = self._ca()
            self._server(host)
            self.signing_cert, self.signing_key = self._signing()
            self.admin_cert, self.admin_key = self._admin()
        finally:
            lock.__exit__(None, None, None)
        private_state_dir(self.dir)  # the lock files, which portalocker makes with the umask's mode
        self.kid = normalize_b64url(x5t(self.signing_cert))  # unpadded, as Entra's kid
        self.signing_public_key = self.signing_key.public_key()

    def _ca(self):
        cert, key = _load_pair(self.ca_path, self.dir / "ca-key.pem")
        if cert is None:
            key = new_rsa_key(2048)
            cert = build_certificate(subject=_name("entracert emulator CA"),
                                     public_key=key.public_key(), signing_key=key, days=3650,
                                     purpose="ca")
            atomic_write(self.dir / "ca-key.pem", pem_key(key), mode=PRIVATE, overwrite=True)
            atomic_write(self.ca_path, _pem_cert(cert), mode=PRIVATE, overwrite=True)
        return cert, key

    def _server(self, host):
        from cryptography import x509

        cert, _ = _load_pair(self.server_cert_path, self.server_key_path)
        wanted = {_san(name) for name in (*LOOPBACK_NAMES, host)}
        if cert is not None and _fresh(cert):
            sans = set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
            if wanted <= sans:
                return
        key = new_rsa_key(2048)
        cert = build_certificate(subject=_name(host), public_key=key.public_key(),
                                 signing_key=self.ca_key, issuer=self.ca_cert, days=825,
                                 sans=sorted(wanted, key=str), purpose="server")
        atomic_write(self.server_key_path, pem_key(key), mode=PRIVATE, overwrite=True)
        atomic_write(self.server_cert_path, _pem_cert(cert) + _pem_cert(self.ca_cert), mode=PRIVATE,
                     overwrite=True)

    def _signing(self):
        cert, key = _load_pair(self.dir / "signing.pem", self.dir / "signing-key.pem")
        if cert is None or not _fresh(cert):
            key = new_rsa_key(2048)
            cert = build_certificate(subject=_name("entracert emulator token signing"),
                                     public_key=key.public_key(), signing_key=key, days=3650)
            atomic_write(self.dir / "signing-key.pem", pem_key(key), mode=PRIVATE, overwrite=True)
            atomic_write(self.dir / "signing.pem", _pem_cert(cert), mode=PRIVATE, overwrite=True)
        return cert, key

    def _admin(self):
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        if self.admin_path.exists():
            data = self.admin_path.read_bytes()
            return x509.load_pem_x509_certificate(data), load_pem_private_key(data, password=None)
        key = new_rsa_key(2048)
        cert = build_certificate(subject=_name("entracert emulator admin"),
                                 public_key=key.public_key(), signing_key=key, days=3650)
        atomic_write(self.admin_path, pem_key(key) + _pem_cert(cert), mode=PRIVATE, overwrite=True)
        return cert, key

    def server_context(self):
        """The TLS context the server listens with (TLS 1.2+)."""
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.server_cert_path, self.server_key_path)
        return context

    def jwks(self, issuer):
        """The JWKS document publishing the token-signing key (ENTRA-FACTS 4)."""
        numbers = self.signing_public_key.public_numbers()
        return {"keys": [{
            "kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
            "n": _b64url_int(numbers.n), "e": _b64url_int(numbers.e),
            "x5c": [base64.b64encode(der_of(self.signing_cert)).decode("ascii")],
            "issuer": issuer,
        }]}


def _b64url_int(value):
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
