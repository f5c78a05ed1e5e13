"""Where a profile's credential comes from: one frozen value per kind, instead of loose fields.

Every kind names its source without reading it, describes itself (never a secret: passwords are
only ever *named*, as the variable or file that holds them), loads itself, asking for a password
only when the file turns out to need one, and signs a client assertion with what it loaded.

A profile keeps its credential as flat fields in ``profiles.json`` (``fields()``), so records
written by earlier versions read unchanged: ``from_fields`` picks the kind from the field that
marks it (``KINDS``). A new kind (the thumbprint store, a PKCS#11 key, a client secret) is one
small class here and one entry in ``KINDS``; a kind whose key never leaves its device overrides
``assertion`` to sign there.
"""
import dataclasses
import functools
import hashlib
import os
from pathlib import Path

from .errors import ConfigurationError, PasswordError


@dataclasses.dataclass(frozen=True, kw_only=True)
class CredentialSource:
    """What every kind shares: the source of the password of what it reads."""

    kind = "certificate"  # what the audit trail records (not a field: never stored)
    on_device = False  # the key lives on a device (a token): a rotation makes the new key there
    password_env: str = None
    password_file: str = None

    def password(self, prompt=None):
        """The ``PasswordSource`` of the certificate (the prompt only when none is named)."""
        from .secrets import password_source

        return password_source(env=self.password_env, file=self.password_file, prompt=prompt)

    def unlocking(self, path):
        """What unlocks ``path`` (the file a password error names): its ``PasswordSource`` and
        the profile options that name that source, ``(env_option, file_option)``."""
        return self.password(), ("--password-env", "--password-file")

    def describe(self):
        """One line naming where the credential comes from (paths and variable names only)."""
        raise NotImplementedError

    def load(self, *, prompt=None):
        """The certificate with its key (or, for a device, its signer); read now, every time."""
        raise NotImplementedError

    def fingerprint(self):
        """``sha256:...`` of what the source holds: who a profile without a recorded thumbprint
        is, so a replaced certificate never meets the old one's cached tokens."""
        raise NotImplementedError

    def assertion(self, loaded, *, audience, client_id, legacy_sha1=False, send_chain=False):
        """A client assertion signed with ``loaded``'s key."""
        from .assertion import client_assertion

        return client_assertion(loaded, audience=audience, client_id=client_id,
                                legacy_sha1=legacy_sha1, send_chain=send_chain)

    def msal_credential(self, assertion):
        """MSAL's ``client_credential``: ``assertion()`` signs one whenever MSAL needs it."""
        return {"client_assertion": assertion}

    def fields(self):
        """The profile fields that record this source, every other kind's set to None (so a
        profile switching kinds keeps nothing of the old one)."""
        return {**dict.fromkeys(FIELDS), **dataclasses.asdict(self)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class CertificateFile(CredentialSource):
    """A PFX, PEM or DER file; a certificate without its key takes a separate ``key_file``."""

    certificate: str
    key_file: str = None
    key_password_env: str = None
    key_password_file: str = None

    def __post_init__(self):
        if not self.key_file and (self.key_password_env or self.key_password_file):
            raise ConfigurationError(
                "A key password source was given without a key file.",
                hint="Add --key-file KEY.pem, or give the certificate's password with "
                     "--password-env/--password-file.")

    def key_password(self, prompt=None):
        """The key file's own password source; None lets the certificate's serve the key too."""
        from .secrets import password_source

        if not (self.key_password_env or self.key_password_file):
            return None
        return password_source(env=self.key_password_env, file=self.key_password_file,
                               prompt=prompt)

    def unlocking(self, path):
        if self.key_file and path and Path(path) == Path(self.key_file):
            return self.key_password(), ("--key-password-env", "--key-password-file")
        return super().unlocking(path)

    def describe(self):
        if self.key_file:
            return f"certificate file '{self.certificate}' with key file '{self.key_file}'"
        return f"certificate file '{self.certificate}'"

    def load(self, *, prompt=None):
        from . import certs

        return certs.load(self.certificate, password=self.password(prompt),
                          key_path=self.key_file, key_password=self.key_password(prompt))

    def fingerprint(self):
        from .fileio import read_input

        return "sha256:" + hashlib.sha256(
            read_input(self.certificate, what="certificate file")).hexdigest()


@dataclasses.dataclass(frozen=True, kw_only=True)
class PfxBase64Env(CredentialSource):
    """A PFX held base64-encoded in an environment variable (the usual CI secret)."""

    pfx_base64_env: str

    def describe(self):
        return f"base64 PFX in environment variable {self.pfx_base64_env}"

    def load(self, *, prompt=None):
        from . import certs

        return certs.load(pfx_base64_env=self.pfx_base64_env, password=self.password(prompt))

    def fingerprint(self):
        from .secrets import read_pfx_base64_env

        return "sha256:" + hashlib.sha256(read_pfx_base64_env(self.pfx_base64_env)).hexdigest()


@dataclasses.dataclass(frozen=True, kw_only=True)
class StoreThumbprint(CredentialSource):
    """A certificate in entracert's store, named by thumbprint (any pasted form); the store
    keeps the password source it was imported with, so the profile names none."""

    kind = "stored-certificate"
    store_thumbprint: str

    def __post_init__(self):
        if self.password_env or self.password_file:
            raise ConfigurationError(
                "--password-env/--password-file cannot be used with --thumbprint: the store "
                "keeps the password source the certificate was imported with.",
                hint="Drop the password option; to change the source, remove the certificate "
                     "with 'az entracert store remove' and import it again with its new one.")

    def entry(self):
        """The store's entry (a ``store.StoredCertificate``): readable without the password."""
        from .store import CertificateStore

        return CertificateStore().get(self.store_thumbprint)

    def password(self, prompt=None):
        """The source the store recorded at import (the prompt when it recorded none)."""
        return self.entry().password_source(prompt)

    def describe(self):
        return f"stored certificate {self.store_thumbprint}"

    def load(self, *, prompt=None):
        from .store import CertificateStore

        return CertificateStore().load(self.store_thumbprint, prompt=prompt)

    def fingerprint(self):
        return "sha256:" + self.entry().thumbprint_sha256.lower()


@dataclasses.dataclass(frozen=True, kw_only=True)
class Pkcs11Key(CredentialSource):
    """An RSA key on a PKCS#11 token (an HSM, a smart card, SoftHSM2) with its certificate
    stored beside it under the same label; the PIN comes from ``pin_env``, ``pin_file`` or a
    prompt. The key never leaves the token: what ``load`` returns signs inside it.

    A ``pkcs11_uri`` (RFC 7512) is the source of truth when given: module, token and key labels
    (and the PIN file of its pin-source) are taken from it, and a profile records only the URI;
    a label or module given besides must agree with it."""

    kind = "pkcs11-key"
    on_device = True
    pkcs11_module: str = None
    pkcs11_token: str = None
    pkcs11_key: str = None
    pkcs11_uri: str = None
    pin_env: str = None
    pin_file: str = None

    def __post_init__(self):
        if self.password_env or self.password_file:
            raise ConfigurationError(
                "--password-env/--password-file cannot be used with a PKCS#11 key: the token "
                "is unlocked by its PIN.", hint="Give the PIN with --pin-env VAR or --pin-file F.")
        if self.pkcs11_uri:
            self._take_uri()
            return
        if not self.pkcs11_module:
            raise ConfigurationError("A PKCS#11 key needs --pkcs11-module (or --pkcs11-uri).",
                                     hint="Give the path of the token's PKCS#11 library.")
        missing = [f"--{name.replace('_', '-')}" for name in ("pkcs11_token", "pkcs11_key")
                   if not getattr(self, name)]
        if missing:
            raise ConfigurationError(
                f"A PKCS#11 key needs {' and '.join(missing)} besides --pkcs11-module.",
                hint="Name the token's label and the key's label, e.g. --pkcs11-token entracert "
                     "--pkcs11-key my-app (softhsm2-util --show-slots lists tokens).")

    def _take_uri(self):
        """Fill the module, labels and PIN file in from the URI (a frozen value: set once, here)."""
        from .pkcs11_uri import URI_EXAMPLE

        uri = self.uri
        if not uri.module:
            raise ConfigurationError(
                "The PKCS#11 URI names no module.",
                hint=f"Add module-path=/path/to/module.so or module-name=NAME (a p11-kit module) "
                     f"to its query, e.g. {URI_EXAMPLE}")
        if uri.pin_file and self.pin_env:
            raise ConfigurationError("--pin-env cannot be used with a PKCS#11 URI that has a "
                                     "pin-source.", hint="Drop one of the two.")
        # Labels as the URI has them (it may choose the token by serial alone); paths by where
        # they lead, so one made absolute for the record still agrees; a PIN file only when
        # the URI has no pin-source.
        derived = {"pkcs11_module": uri.module, "pkcs11_token": uri.token,
                   "pkcs11_key": uri.key, "pin_file": uri.pin_file}
        for name, value in derived.items():
            given = getattr(self, name)
            if given and (given != value if name in ("pkcs11_token", "pkcs11_key") else
                          value and os.path.realpath(given) != os.path.realpath(value)):
                raise ConfigurationError(
                    f"{option_name(name)} '{given}' does not agree with --pkcs11-uri, which "
                    f"names '{value}'." if value else f"{option_name(name)} cannot be used with a "
                    "PKCS#11 URI that names no token label.",
                    hint="Give the key by --pkcs11-uri alone (with --pin-env or --pin-file "
                         "when it has no pin-source).")
            object.__setattr__(self, name, value or given)
        object.__setattr__(self, "pkcs11_uri", uri.text())  # what was read, nothing else

    @functools.cached_property
    def uri(self):
        """The parsed ``pkcs11_uri`` (a ``pkcs11_uri.Pkcs11Uri``); None without one."""
        from .pkcs11_uri import parse_uri

        return parse_uri(self.pkcs11_uri) if self.pkcs11_uri else None

    @property
    def key_id(self):
        """The key pair's CKA_ID when the URI gives one (its ``id``)."""
        return self.uri.key_id if self.uri else None

    def pin(self, prompt=None):
        """The PIN's ``PasswordSource``, read only when the token is opened."""
        from .secrets import password_source

        return password_source(env=self.pin_env, file=self.pin_file, prompt=prompt)

    def unlocking(self, path):
        return self.pin(), ("--pin-env", "--pin-file")

    def open(self, prompt=None, *, write=False):
        """A logged-in session on the key's token (a context manager), the URI's token
        attributes matched every time."""
        from . import pkcs11

        return pkcs11.open_session(self.pkcs11_module, self.pkcs11_token, self.pin(prompt),
                                   write=write,
                                   selectors=self.uri.selectors if self.uri else ())

    def describe(self):
        if self.pkcs11_uri:
            return f"PKCS#11 key {self.pkcs11_uri}"
        return (f"PKCS#11 key '{self.pkcs11_key}' on token '{self.pkcs11_token}' "
                f"('{self.pkcs11_module}')")

    def load(self, *, prompt=None):
        """The token's certificate with a key that signs in a session opened now; the session
        stays open as long as that key is referenced (while MSAL asks for assertions), and
        closes when it is dropped."""
        import contextlib
        import weakref

        from . import pkcs11
        from .certs import LoadedCertificate

        with contextlib.ExitStack() as on_failure:
            session = on_failure.enter_context(self.open(prompt))
            key = pkcs11.find_key(session, self.pkcs11_key, key_id=self.key_id)
            certificate = pkcs11.find_certificate(session, self.pkcs11_key, key_id=self.key_id)
            weakref.finalize(key, on_failure.pop_all().close)
        return LoadedCertificate(certificate, key,
                                 source=f"pkcs11:{session.token.label}/{self.pkcs11_key}")

    def fingerprint(self):
        """Which key, without opening the token (a PIN only for a new token); a URI's token
        attributes and id are part of it, so keys told apart only by them never share tokens."""
        which = f"pkcs11:{self.pkcs11_module}:{self.pkcs11_token}:{self.pkcs11_key}"
        if not self.uri or not (self.uri.selectors or self.key_id):
            return which
        narrowed = [f"{name}={value}" for name, value in self.uri.selectors]
        return ";".join([which, *narrowed, *([f"id={self.key_id.hex()}"] if self.key_id else [])])

    def fields(self):
        """A URI is recorded alone: what it gives is not stored twice (nor could disagree)."""
        recorded = super().fields()
        if self.uri:
            recorded.update(pkcs11_module=None, pkcs11_token=None, pkcs11_key=None)
            if self.uri.pin_file:
                recorded["pin_file"] = None
        return recorded


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClientSecret(CredentialSource):
    """An application's client secret, for development and testing: from an environment
    variable or a file, never a command-line value (shell history keeps those). Nothing is
    signed: MSAL sends the secret itself. A file must not be readable by every user of the
    machine (as ssh refuses such keys); a group-readable file is allowed, for a CI group."""

    kind = "client-secret"
    client_secret_env: str = None
    client_secret_file: str = None

    def __post_init__(self):
        if self.password_env or self.password_file:
            raise ConfigurationError(
                "--password-env/--password-file cannot be used with a client secret: there is "
                "no certificate to unlock.", hint="Drop the password option.")

    @property
    def source(self):
        """Where the secret is: "environment variable S" or "file 'F'"."""
        if self.client_secret_env:
            return f"environment variable {self.client_secret_env}"
        return f"file '{self.client_secret_file}'"

    def describe(self):
        return f"client secret in {self.source}"

    def secret(self):
        """The secret's value, read now; a file's trailing newline is dropped."""
        if self.client_secret_env:
            value = os.environ.get(self.client_secret_env)
            state = "not set" if value is None else "empty" if not value.strip() else None
            if state:
                raise PasswordError(
                    f"The environment variable {self.client_secret_env} (the client secret) "
                    f"is {state}.", path=f"env:{self.client_secret_env}",
                    hint=f"Export the secret's value (shown once by 'az entracert app secret "
                         f"add'): export {self.client_secret_env}=...")
            return value
        path = Path(self.client_secret_file)
        try:
            if path.stat().st_mode & 0o004:
                raise PasswordError(
                    f"The client secret file '{path}' can be read by every user of this "
                    "machine.", path=path, hint=f"Make it private: chmod 600 '{path}'.")
            value = path.read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")
        except (OSError, UnicodeDecodeError) as exc:
            raise PasswordError(
                f"The client secret file '{path}' cannot be read: "
                f"{getattr(exc, 'strerror', None) or exc}.", path=path,
                hint="Check the path; 'az entracert app secret add --out FILE' writes one.") \
                from exc
        if not value.strip():
            raise PasswordError(f"The client secret file '{path}' is empty.", path=path,
                                hint="Write the secret's value into it (not its secret ID).")
        return value

    def load(self, *, prompt=None):
        raise ConfigurationError(
            f"This profile signs in with a {self.describe()}; it has no certificate.",
            hint="Create one ('az entracert cert create'), register it ('az entracert app cert "
                 "add'), then 'az entracert profile update --name NAME --certificate NEW.pfx'.")

    def fingerprint(self):
        """The secret's *source*, never a digest of its value: a cached token belongs to the
        application, whichever of its secrets obtained it, and a cache hit reads no secret (a
        digest in the cache file would also be a way to test guesses of the secret)."""
        return f"client-secret:{self.client_secret_env or self.client_secret_file}"

    def msal_credential(self, assertion):
        return self.secret()


# The profile field that marks each kind, in the order they are recognised.
KINDS = {"certificate": CertificateFile, "pfx_base64_env": PfxBase64Env,
         "store_thumbprint": StoreThumbprint, "pkcs11_module": Pkcs11Key,
         "pkcs11_uri": Pkcs11Key, "client_secret_env": ClientSecret,
         "client_secret_file": ClientSecret}
# Every profile field some kind records: what a profile holds besides its identity and cloud.
FIELDS = tuple(dict.fromkeys(f.name for kind in KINDS.values()
                             for f in dataclasses.fields(kind)))


def from_fields(values):
    """The source recorded in a profile's ``values`` (extra keys are ignored)."""
    marked = [field for field in KINDS if values.get(field)]
    if len(marked) != 1:
        raise ConfigurationError(
            "Give exactly one certificate source." if marked else "No certificate was given.",
            hint="Use --certificate PATH, --pfx-base64-env VAR, --thumbprint X (a stored "
                 "certificate) or --pkcs11-module PATH (a key on a token).")
    kind = KINDS[marked[0]]
    names = {f.name for f in dataclasses.fields(kind)}
    extra = sorted(name for name in FIELDS if values.get(name) and name not in names)
    if extra:
        raise ConfigurationError(
            f"{', '.join(map(option_name, extra))} cannot be used with {option_name(marked[0])}.",
            hint="A separate key file goes with a certificate file (--certificate PATH).")
    return kind(**{name: values.get(name) for name in names})


def option_name(field):
    """The command-line option that sets profile field ``field``."""
    return "--thumbprint" if field == "store_thumbprint" else "--" + field.replace("_", "-")


def resolved(source):
    """``source`` as a profile records it: file paths absolute, a stored certificate by its
    whole SHA-1 thumbprint (a prefix could turn ambiguous as the store grows). Symbolic links
    are kept, not followed: a renewal tool re-points them (certbot's ``live/cert.pem``, a
    versioned ``.so``), and errors should name the path the user gave."""
    paths = {name: os.path.abspath(os.path.expanduser(value))
             for name, value in source.fields().items()
             if value and name in ("certificate", "key_file", "password_file",
                                   "key_password_file", "client_secret_file",
                                   "pkcs11_module", "pin_file")}
    if isinstance(source, StoreThumbprint):
        paths["store_thumbprint"] = source.entry().thumbprint
    return dataclasses.replace(source, **paths)


NUDGE_FILE = "client-secret-nudge"  # holds the day the nudge was last shown


def nudge_toward_certificates(profile, directory, *, today=None):
    """Warn (logger ``entracert``), once a day at most across commands and processes, that
    ``profile`` signs in with a client secret, and how to move it to a certificate."""
    import datetime
    import logging

    from .errors import OutputError
    from .fileio import PRIVATE, atomic_write

    if profile.credential.kind != ClientSecret.kind:
        return
    today = (today or datetime.date.today()).isoformat()
    path = Path(directory) / NUDGE_FILE
    try:
        if path.read_text(encoding="utf-8").strip() == today:
            return
    except OSError:
        pass  # not shown yet
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write(path, today.encode(), mode=PRIVATE, overwrite=True)
    except (OSError, OutputError):
        pass  # a folder we cannot write costs a repeated nudge, not the command
    logging.getLogger("entracert").warning(
        "Profile '%s' signs in with a client secret, meant for development and testing; a "
        "certificate lives up to 3 years and can be rotated automatically: 'az entracert cert "
        "create --subject CN=%s --out %s.pfx', then 'az entracert app cert add --profile %s "
        "--file %s.cer --admin-profile ADMIN'.", profile.name, profile.name, profile.name,
        profile.name, profile.name)
