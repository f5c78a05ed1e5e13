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
import hashlib
from pathlib import Path

from .errors import ConfigurationError


@dataclasses.dataclass(frozen=True, kw_only=True)
class CredentialSource:
    """What every kind shares: the source of the password of what it reads."""

    password_env: str = None
    password_file: str = None

    def password(self, prompt=None):
        """The ``PasswordSource`` of the certificate (the prompt only when none is named)."""
        from .secrets import password_source

        return password_source(env=self.password_env, file=self.password_file, prompt=prompt)

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


# The profile field that marks each kind, in the order they are recognised.
KINDS = {"certificate": CertificateFile, "pfx_base64_env": PfxBase64Env}
# Every profile field some kind records: what a profile holds besides its identity and cloud.
FIELDS = tuple(dict.fromkeys(f.name for kind in KINDS.values()
                             for f in dataclasses.fields(kind)))


def from_fields(values):
    """The source recorded in a profile's ``values`` (extra keys are ignored)."""
    marked = [field for field in KINDS if values.get(field)]
    if len(marked) != 1:
        raise ConfigurationError(
            "Give exactly one certificate source." if marked else "No certificate was given.",
            hint="Use --certificate PATH or --pfx-base64-env VAR.")
    kind = KINDS[marked[0]]
    names = {f.name for f in dataclasses.fields(kind)}
    extra = sorted(name for name in FIELDS if values.get(name) and name not in names)
    if extra:
        raise ConfigurationError(
            f"{', '.join('--' + name.replace('_', '-') for name in extra)} cannot be used with "
            f"--{marked[0].replace('_', '-')}.",
            hint="A separate key file goes with a certificate file (--certificate PATH).")
    return kind(**{name: values.get(name) for name in names})


def resolved(source):
    """``source`` with its file paths made absolute, as a profile records them."""
    paths = {name: str(Path(value).expanduser().resolve())
             for name, value in source.fields().items()
             if value and name in ("certificate", "key_file", "password_file",
                                   "key_password_file")}
    return dataclasses.replace(source, **paths)
