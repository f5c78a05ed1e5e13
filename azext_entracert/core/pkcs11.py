"""Keys that live on a PKCS#11 token (an HSM, a smart card, SoftHSM2), through ``python-pkcs11``.

The private key never enters the process: ``TokenPrivateKey`` is a ``cryptography``
``RSAPrivateKey`` whose ``sign`` runs inside the token, so the existing code paths use it
unchanged: PyJWT signs client assertions with it (PS256/RS256) and ``cryptography``'s
``CertificateBuilder`` signs a self-signed certificate with it. Exporting it
(``private_bytes``, ``private_numbers``) or decrypting with it is refused.

A session is opened with ``open_session(module, token, pin)`` (a context manager); keys found or
generated in it sign until it closes. The PIN comes from a ``secrets.PasswordSource`` (environment
variable, file or prompt) and is read only when the token is opened.

A token can be narrowed further by the attributes of a PKCS#11 URI (``pkcs11_uri``).
"""
import contextlib
import functools
import os
import threading

from .certgen import KEY_SIZES
from .errors import ConfigurationError, HardwareKeyError, PasswordError
from .pkcs11_uri import LIBRARY_ATTRIBUTES, TOKEN_ATTRIBUTES

# Debian/Ubuntu's softhsm2 package; other modules (a vendor's HSM library) are given by path.
SOFTHSM2_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
_HASHES = ("sha256", "sha384", "sha512")
# The logins this process holds, by (module, slot): [the session that logged in, how many of
# our sessions use it]. PKCS#11 shares a login among all of a process's sessions and ends it for
# all when the session that made it closes; so a session of its own logs in, kept while any of
# ours is open, and sessions opened meanwhile join without reading the PIN again: a PIN typed
# once (a rotation holds the current key's session while it makes the new key) is not kept.
# (Python cannot wipe the str typed; it is only dropped as soon as the login is made.)
_LOGINS = {}
_LOGINS_LOCK = threading.RLock()  # re-entered when a collected key closes its session


def _pkcs11():
    try:
        import pkcs11
    except ImportError as exc:
        raise HardwareKeyError(
            "PKCS#11 support needs the python-pkcs11 package, which is not installed.",
            hint="Install it next to entracert: pip install python-pkcs11.") from exc
    return pkcs11


@contextlib.contextmanager
def open_session(module, token, pin, *, write=False, selectors=()):
    """A logged-in session on the token labelled ``token`` of PKCS#11 library ``module``.

    ``pin`` is a ``PasswordSource``; ``write`` is needed to generate keys or store certificates;
    ``selectors`` are a URI's (attribute, value) pairs that narrow the token further (``token``
    may then be None, the token found by its serial).
    """
    pkcs11 = _pkcs11()
    from pkcs11 import exceptions

    if not os.path.isfile(module):
        raise HardwareKeyError(
            f"The PKCS#11 module '{module}' does not exist.", module=module, token=token,
            hint=f"Give the path of the token's PKCS#11 library (for SoftHSM2: {SOFTHSM2_MODULE}, "
                 "package softhsm2).")
    try:  # by its real path: python-pkcs11 loads a module once per spelling of its path, and
        # loading the same module again under another spelling fails ("already initialized")
        library = pkcs11.lib(os.path.realpath(module))
    except exceptions.PKCS11Error as exc:
        raise HardwareKeyError(
            f"The PKCS#11 module '{module}' cannot be loaded: {exc}.", module=module, token=token,
            hint="Give the path of a PKCS#11 shared library (.so) built for this machine.") from exc
    found = _find_token(library, module, token, selectors)
    token = found.label
    login = (os.path.realpath(module), found.slot.slot_id)  # two tokens may share a label
    try:
        with _LOGINS_LOCK:
            if login not in _LOGINS:
                _LOGINS[login] = [_log_in(found, pin), 0]
            _LOGINS[login][1] += 1  # before the session exists: nothing can log it out now
        try:
            session = found.open(rw=write)
        except exceptions.PKCS11Error:
            _release(login)
            raise
    except exceptions.PKCS11Error as exc:
        raise HardwareKeyError(f"The token '{token}' cannot be opened: {type(exc).__name__}.",
                               module=module, token=token,
                               hint="Check the token with its vendor's tool.") from exc
    finally:
        _forget_openssl_errors()
    try:
        yield session
    finally:
        _close(session)
        _release(login)


def _log_in(token, pin):
    """A session logging the process in to ``token``, the PIN read from ``pin`` now; None when
    the process is logged in already (by a library other than ours)."""
    from pkcs11 import exceptions

    secret = pin.get(purpose=f"PIN of token '{token.label}'")
    if not secret:
        raise PasswordError(f"No PIN was given for the token '{token.label}' ({pin.describe()}).",
                            hint="Give the token's user PIN from an environment variable or a "
                                 "file.")
    try:
        return token.open(user_pin=secret.decode("utf-8"))
    except exceptions.UserAlreadyLoggedIn:
        return None
    except (exceptions.PinIncorrect, exceptions.PinInvalid, exceptions.PinLenRange):
        raise PasswordError(
            f"The token '{token.label}' refused the PIN from {pin.describe()}.",
            hint="Check the user PIN (not the SO PIN); repeated wrong PINs can lock the token."
        ) from None
    except exceptions.PinLocked:
        raise PasswordError(
            f"The PIN of token '{token.label}' is locked after too many wrong tries.",
            hint="Have the security officer unlock it (softhsm2-util or the vendor's tool)."
        ) from None


def _release(login):
    """One of our sessions on ``login`` is closed: the last one out logs the process out."""
    with _LOGINS_LOCK:
        held = _LOGINS[login]
        held[1] -= 1
        if not held[1]:
            del _LOGINS[login]
            if held[0] is not None:
                _close(held[0])


def _close(session):
    """Close ``session``; a token already gone (unplugged: CKR_DEVICE_REMOVED) has nothing left
    to close, and its error must not hide the one that brought us here, nor print a traceback
    from a finaliser."""
    from pkcs11 import exceptions

    with contextlib.suppress(exceptions.PKCS11Error):
        session.close()


def _forget_openssl_errors():
    """Empty this thread's OpenSSL error queue. A module built on OpenSSL (SoftHSM2) leaves
    errors there as it initialises (a missing 'rdrand' engine); Python's ssl module shares that
    libcrypto and takes any queued error for the failure of its next TLS read, so a token
    request sent after the token was opened would fail with 'NO_SUCH_ENGINE'."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("crypto")
    if name:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(name).ERR_clear_error()


def _find_token(library, module, label, selectors):
    """The one token present in ``library`` labelled ``label`` (any label when None) whose
    attributes match ``selectors``; the library's own attributes are matched first."""
    for name, wanted in selectors:
        if name in LIBRARY_ATTRIBUTES and (present := LIBRARY_ATTRIBUTES[name](library)) != wanted:
            raise HardwareKeyError(
                f"The PKCS#11 module '{module}' has {name} '{present}', not '{wanted}' as the "
                "PKCS#11 URI asks.", module=module, token=label,
                hint=f"Correct the URI's {name} attribute, or leave it out.")
    tokens = [slot.get_token() for slot in library.get_slots(token_present=True)]
    found = [t for t in tokens if label is None or t.label == label]
    if not found:
        labels = sorted({t.label for t in tokens} - {""})  # an empty label: a free,
        # uninitialised token (SoftHSM2 keeps one)
        raise HardwareKeyError(
            f"No token labelled '{label}' is present in '{module}'.", module=module, token=label,
            hint=f"Tokens present: {', '.join(labels) or 'none'}. Check the label "
                 "(softhsm2-util --show-slots lists them) and that the token is plugged in.")
    for name, wanted in selectors:
        if name in TOKEN_ATTRIBUTES:
            matching = [t for t in found if TOKEN_ATTRIBUTES[name](t) == wanted]
            if not matching:
                present = sorted({f"'{TOKEN_ATTRIBUTES[name](t)}'" for t in found})
                which = f"labelled '{label}' " if label else ""
                raise HardwareKeyError(
                    f"No token {which}in '{module}' has the {name} '{wanted}' the PKCS#11 URI "
                    f"asks for.", module=module, token=label,
                    hint=f"Present: {name} {', '.join(present)}. Correct the URI's {name} "
                         "attribute (p11tool --list-tokens shows each token's), or leave it out.")
            found = matching
    if len(found) > 1:
        raise HardwareKeyError(
            f"Several tokens {f'labelled {label!r} ' if label else ''}in '{module}' match.",
            module=module, token=label,
            hint="Relabel one of them, narrow the PKCS#11 URI (serial=...), or unplug the token "
                 "you do not mean.")
    return found[0]


def find_key(session, label, *, key_id=None):
    """The RSA private key labelled ``label`` (and with CKA_ID ``key_id`` when given) on the
    session's token, checked to be able to sign."""
    from pkcs11 import Attribute, KeyType, ObjectClass

    where = _where(session, label)
    # Not ``session.get_key``: on "several" it leaves its object search open, and the search,
    # finished only when collected after the session closed, prints a traceback.
    found = list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                                      Attribute.LABEL: label,
                                      **({Attribute.ID: key_id} if key_id else {})}))
    if not found:
        ids = [o[Attribute.ID].hex() for o in session.get_objects(
            {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label})] if key_id else []
        if ids:
            raise HardwareKeyError(
                f"The private key labelled '{label}' on the token '{where['token']}' has the id "
                f"{', '.join(ids)}, not {key_id.hex()} as the PKCS#11 URI asks.", **where,
                hint="Check the URI's id attribute (pkcs11-tool --list-objects shows each "
                     "object's ID), or leave it out.")
        raise HardwareKeyError(
            f"No private key labelled '{label}' is on the token '{where['token']}'.", **where,
            hint="Check the label (pkcs11-tool --list-objects --type privkey lists them), or "
                 "generate a key pair under that label on the token.")
    if len(found) > 1:
        raise HardwareKeyError(
            f"Several private keys are labelled '{label}' on the token '{where['token']}'.",
            **where, hint="Give each key its own label, or delete the one you do not mean.")
    key = found[0]
    if key.key_type != KeyType.RSA:
        raise HardwareKeyError(
            f"The key '{label}' on the token '{where['token']}' is of type "
            f"{key.key_type.name}, not RSA.", **where,
            hint="Entra ID certificate credentials need an RSA key (2048 bits or more).")
    if not key[Attribute.SIGN]:
        raise HardwareKeyError(
            f"The key '{label}' on the token '{where['token']}' is not allowed to sign "
            "(CKA_SIGN is false).", **where,
            hint="Use a key pair generated with the sign permission (CKA_SIGN), under a new "
                 "label.")
    return _token_key_class()(key, where)


def generate_key(session, label, *, bits=2048, key_id=None):
    """A new RSA key pair generated inside the token: the private half sensitive, not
    extractable, allowed only to sign; both halves stored on the token under ``label`` and
    CKA_ID ``key_id`` (random when not given)."""
    from pkcs11 import Attribute, KeyType, MechanismFlag, ObjectClass

    where = _where(session, label)
    if bits not in KEY_SIZES:
        raise ConfigurationError(f"A key size of {bits} bits is not offered.",
                                 hint="Use --key-size 2048, 3072 or 4096.")
    if list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                                 Attribute.LABEL: label})):
        raise HardwareKeyError(
            f"The token '{where['token']}' already has a key labelled '{label}'.", **where,
            hint="Choose another label: a second key with the same label would make it "
                 "ambiguous.")
    _, private = session.generate_keypair(
        KeyType.RSA, bits, label=label, id=key_id or os.urandom(16), store=True,
        capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
        private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                          Attribute.PRIVATE: True})
    return _token_key_class()(private, where)


def store_certificate(session, key, certificate):
    """Store ``certificate`` on the token beside ``key`` (same label and CKA_ID), as
    certificate-aware tools (pkcs11-tool, browsers) expect to find it."""
    from cryptography.hazmat.primitives.serialization import Encoding
    from pkcs11 import Attribute, CertificateType, ObjectClass

    session.create_object({
        Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
        Attribute.TOKEN: True, Attribute.LABEL: key.label, Attribute.ID: key.key_id,
        Attribute.SUBJECT: certificate.subject.public_bytes(),
        Attribute.VALUE: certificate.public_bytes(Encoding.DER)})


def create_on_token(source, subject, *, sans=(), days=365, key_size=2048, hash_name="sha256",
                    prompt=None):
    """A new key pair generated on ``source``'s token under its key label, and a self-signed
    certificate for it, signed inside the token and stored beside it; returns the certificate."""
    from .certgen import build_certificate

    with source.open(prompt, write=True) as session:
        key = generate_key(session, source.pkcs11_key, bits=key_size, key_id=source.key_id)
        certificate = build_certificate(subject=subject, public_key=key.public_key(),
                                        signing_key=key, days=days, sans=sans,
                                        hash_name=hash_name)
        store_certificate(session, key, certificate)
    return certificate


def delete_key(source, *, prompt=None):
    """Delete the key pair labelled with ``source``'s key label and its certificate from the
    token; return how many objects went (0 when they were already gone)."""
    from pkcs11 import Attribute, ObjectClass

    with source.open(prompt, write=True) as session:
        found = [o for kind in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY,
                                ObjectClass.CERTIFICATE)
                 for o in session.get_objects({Attribute.CLASS: kind,
                                               Attribute.LABEL: source.pkcs11_key})]
        for obj in found:
            obj.destroy()
    return len(found)


def labels(source, *, prompt=None):
    """The labels of the objects on ``source``'s token (that the session can see)."""
    from pkcs11 import Attribute

    with source.open(prompt) as session:
        return {o[Attribute.LABEL] for o in session.get_objects({})}


def find_certificate(session, label, *, key_id=None):
    """The X.509 certificate labelled ``label`` (and with CKA_ID ``key_id`` when given) on the
    token."""
    from cryptography import x509
    from pkcs11 import Attribute, ObjectClass

    where = _where(session, label)
    wanted = {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: label}
    found = list(session.get_objects({**wanted, **({Attribute.ID: key_id} if key_id else {})}))
    if len(found) != 1:
        raise HardwareKeyError(
            f"{'Several certificates are' if found else 'No certificate is'} labelled '{label}' "
            f"on the token '{where['token']}'.", **where,
            hint="Store the key's certificate on the token under the same label, or give the "
                 "certificate file separately.")
    return x509.load_der_x509_certificate(found[0][Attribute.VALUE])


def _where(session, label):
    return {"token": session.token.label, "key": label}


@functools.cache
def _token_key_class():
    """``TokenPrivateKey``, defined on first use so that importing this module stays light."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    class TokenPrivateKey(rsa.RSAPrivateKey):
        """An RSA private key on a token: signs inside it, never leaves it."""

        def __init__(self, key, where):
            from pkcs11 import Attribute

            self._key = key
            self._where = where
            numbers = rsa.RSAPublicNumbers(int.from_bytes(key[Attribute.PUBLIC_EXPONENT], "big"),
                                           int.from_bytes(key[Attribute.MODULUS], "big"))
            self._public_key = numbers.public_key()

        @property
        def label(self):
            return self._where["key"]

        @property
        def key_id(self):
            """CKA_ID: what ties the key to its public half and certificate on the token."""
            from pkcs11 import Attribute

            return self._key[Attribute.ID]

        @property
        def key_size(self):
            return self._public_key.key_size

        def public_key(self):
            return self._public_key

        def sign(self, data, padding, algorithm):
            """Sign ``data`` in the token: PKCS#1 v1.5 (RS256) or PSS with MGF1 of the same hash
            (PS256), SHA-256/384/512. Prehashed input is not offered: the token hashes itself."""
            from cryptography.hazmat.primitives.asymmetric import padding as paddings
            from pkcs11 import MGF, Mechanism, exceptions

            name = getattr(algorithm, "name", None)
            if name not in _HASHES:
                raise ConfigurationError(
                    f"Signing with {name or type(algorithm).__name__} on a token is not offered.",
                    hint="Use SHA-256, SHA-384 or SHA-512.")
            bits = name[3:]
            if isinstance(padding, paddings.PKCS1v15):
                mechanism, parameter = getattr(Mechanism, f"SHA{bits}_RSA_PKCS"), None
            # PSS exposes its MGF hash and salt length only as private attributes.
            elif isinstance(padding, paddings.PSS) and padding.mgf._algorithm.name == name:
                salt = padding._salt_length
                if salt is paddings.PSS.DIGEST_LENGTH:
                    salt = algorithm.digest_size
                if not isinstance(salt, int):
                    raise ConfigurationError("A token signs PSS with an explicit salt length only.",
                                             hint="Use the digest length (32 for SHA-256).")
                mechanism = getattr(Mechanism, f"SHA{bits}_RSA_PKCS_PSS")
                parameter = (getattr(Mechanism, f"SHA{bits}"), getattr(MGF, f"SHA{bits}"), salt)
            else:
                raise ConfigurationError(f"The padding {padding.name} is not offered on a token.",
                                         hint="Use PKCS#1 v1.5 (RS256) or PSS (PS256).")
            try:
                return self._key.sign(bytes(data), mechanism=mechanism, mechanism_param=parameter)
            except exceptions.PKCS11Error as exc:
                raise HardwareKeyError(
                    f"The token '{self._where['token']}' refused to sign with key '{self.label}' "
                    f"({type(exc).__name__}).", **self._where,
                    hint="Check that the token is still plugged in and the key may sign.") from exc

        def _stays_inside(self, *_args, **_kwargs):
            raise HardwareKeyError(
                f"The private key '{self.label}' stays inside the token "
                f"'{self._where['token']}': it cannot be exported or used to decrypt.",
                **self._where,
                hint="Use the token's public certificate (.cer/.pem) where a file is needed.")

        decrypt = private_numbers = private_bytes = _stays_inside

        def __copy__(self):
            return self

        def __deepcopy__(self, memo):
            return self

        def __repr__(self):
            return f"TokenPrivateKey(token={self._where['token']!r}, key={self.label!r})"

    return TokenPrivateKey

