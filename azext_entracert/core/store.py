"""The certificate store: certificates with their keys, found by thumbprint, as Windows and macOS
users keep them in their system stores.

It lives in ``store/`` of the entracert folder (0700). Each certificate is kept as the file it
was imported from (PFX or PEM, still encrypted when it was, 0600), named by its SHA-1 thumbprint;
``index.json`` records what can be known without the password (thumbprints, subject, validity)
and where the password comes from (a variable's name or a file's path, never the password).
Changes happen under a cross-process lock: the key file lands first, then the index, so an
interrupted import leaves at worst an unlisted file, never an entry without its key.

A thumbprint may be given as users paste it: SHA-1 or SHA-256, hex in either case, with colons
or spaces, or an unambiguous prefix of at least 8 hex digits.
"""
import dataclasses
import json
import re
import string
from pathlib import Path

from . import certs
from .errors import CertificateFormatError, ConfigurationError, PasswordError, StoreError
from .fileio import PRIVATE, atomic_write, locked_json_update, read_input
from .secrets import PasswordSource, password_source
from .times import iso_z, utc_now

MIN_PREFIX = 8
_SEPARATORS = re.compile(r"[\s:-]")
_HEX = set(string.hexdigits)
_INDEX_VERSION = 1


def normalize_thumbprint(text):
    """``text`` as upper-case hex without separators; a ConfigurationError if it is not hex or
    too short to pick one certificate."""
    value = _SEPARATORS.sub("", text or "").upper()
    if not value or not set(value) <= _HEX:
        raise ConfigurationError(
            f"'{text}' is not a thumbprint: it must be hexadecimal (0-9, A-F).",
            hint="Copy the SHA-1 or SHA-256 thumbprint from 'az entracert store list'; colons "
                 "and spaces are fine.")
    if len(value) < MIN_PREFIX:
        raise ConfigurationError(
            f"The thumbprint '{text}' is too short: give at least {MIN_PREFIX} hex digits.",
            hint="Copy the thumbprint from 'az entracert store list'.")
    if len(value) > 64:
        raise ConfigurationError(
            f"'{text}' is not a thumbprint: it has {len(value)} hex digits (SHA-1 has 40, "
            "SHA-256 64).", hint="Copy the thumbprint from 'az entracert store list'.")
    return value


@dataclasses.dataclass(frozen=True)
class StoredCertificate:
    """One entry of the store: what is known without opening the key."""

    thumbprint: str
    thumbprint_sha256: str
    subject: str
    not_before: str
    not_after: str
    file: str                    # the file name inside the store folder
    encrypted: bool
    password_env: str = None
    password_file: str = None
    imported_from: str = None
    imported_at: str = None

    def password_source(self, prompt=None):
        """Where the key's password comes from: the recorded source, else the prompt."""
        if not self.encrypted:
            return PasswordSource.none()
        if self.password_env:
            return PasswordSource.from_env(self.password_env)
        if self.password_file:
            return PasswordSource.from_file(self.password_file)
        return PasswordSource.from_prompt(prompt) if prompt else PasswordSource.none()

    def to_dict(self):
        return dataclasses.asdict(self)


class CertificateStore:
    """``store/`` in ``directory`` (default: the entracert folder)."""

    def __init__(self, directory=None):
        from .profiles import config_dir  # here: profiles will name stored certificates

        self.folder = (Path(directory) if directory else config_dir()) / "store"
        self.index_path = self.folder / "index.json"

    # --- Reading -----------------------------------------------------------------------------

    def list(self):
        """Every entry, soonest expiry first."""
        return sorted(self._entries().values(), key=lambda e: (e.not_after, e.thumbprint))

    def get(self, thumbprint):
        """The entry ``thumbprint`` (any pasted form, or a unique prefix) names."""
        return _match(self._entries(), thumbprint)

    def load(self, thumbprint, *, prompt=None):
        """The stored certificate with its key (``certs.LoadedCertificate``), decrypted with the
        recorded password source, or ``prompt(text)`` when none was recorded."""
        entry = self.get(thumbprint)
        path = self.folder / entry.file
        if not path.is_file():
            raise self._damaged(entry, f"its file '{path}' is missing")
        try:
            loaded = certs.load(path, password=entry.password_source(prompt), require_key=True)
        except CertificateFormatError as exc:
            raise self._damaged(entry, f"'{path}' is no longer a certificate file we can "
                                       "read") from exc
        if loaded.thumbprint != entry.thumbprint:  # replaced or corrupted behind our back
            raise self._damaged(entry, f"'{path}' holds the certificate {loaded.thumbprint}")
        return dataclasses.replace(loaded, source=f"store:{entry.thumbprint}")

    # --- Changing ----------------------------------------------------------------------------

    def import_certificate(self, path, *, password_env=None, password_file=None, prompt=None):
        """Store the certificate and key in ``path`` (PFX or PEM) as they are.

        The password comes from environment variable ``password_env``, file ``password_file``
        or ``prompt(text)``; the variable's name or the file's path is recorded only when the
        file needs one (a prompted password is asked again at each use). Returns
        ``(entry, created)``: importing a certificate already stored keeps the existing entry
        (``created`` False), so a repeated import is harmless.
        """
        password = password_source(env=password_env, file=password_file, prompt=prompt)
        data = read_input(path, what="certificate file")
        try:  # first without a password, to learn whether the file is encrypted
            loaded, encrypted = certs.load(path, require_key=True), False
        except PasswordError:  # with PasswordSource.none(), only "a password is needed"
            loaded, encrypted = certs.load(path, password=password, require_key=True), True
        certs.require_rsa(loaded)
        return self._put(loaded, data, "pem" if b"-----BEGIN" in data else "pfx",
                         encrypted=encrypted, password_env=password_env,
                         password_file=password_file, imported_from=loaded.source)

    def add(self, loaded, *, password=None, password_env=None, password_file=None):
        """Store ``loaded`` (a certificate with its key, e.g. one just created) as a PFX,
        encrypted with ``password``, whose source ``password_env``/``password_file`` is recorded
        as for an import. Returns ``(entry, created)`` like ``import_certificate``."""
        from .certgen import pfx_bytes

        return self._put(loaded, pfx_bytes(loaded, password), "pfx", encrypted=bool(password),
                         password_env=password_env, password_file=password_file,
                         imported_from="created by entracert")

    def _put(self, loaded, data, suffix, *, encrypted, password_env, password_file,
             imported_from):
        certificate = loaded.certificate
        recorded = {}
        if encrypted and password_env:
            recorded = {"password_env": password_env}
        elif encrypted and password_file:
            recorded = {"password_file": str(Path(password_file).expanduser().resolve())}
        entry = StoredCertificate(
            thumbprint=loaded.thumbprint, thumbprint_sha256=loaded.thumbprint_sha256,
            subject=certificate.subject.rfc4514_string(),
            not_before=iso_z(certificate.not_valid_before_utc),
            not_after=iso_z(certificate.not_valid_after_utc),
            file=f"{loaded.thumbprint}.{suffix}", encrypted=encrypted,
            imported_from=imported_from, imported_at=iso_z(utc_now()), **recorded)
        with self._change() as index:
            existing = index["certificates"].get(entry.thumbprint)
            if existing is not None:
                return _entry(existing, self.index_path), False
            self.folder.chmod(0o700)
            atomic_write(self.folder / entry.file, data, mode=PRIVATE, overwrite=True)
            index["certificates"][entry.thumbprint] = entry.to_dict()
        return entry, True

    def remove(self, thumbprint):
        """Remove the entry ``thumbprint`` names and its file; return the removed entry."""
        with self._change() as index:
            entry = _match(_entries(index, self.index_path), thumbprint)
            del index["certificates"][entry.thumbprint]
        # After the index no longer names it: a crash here leaves an unlisted file, not a
        # listed certificate without its key.
        (self.folder / entry.file).unlink(missing_ok=True)
        return entry

    # --- Inside --------------------------------------------------------------------------------

    def _entries(self):
        return _entries(self._read(), self.index_path)

    def _read(self):
        if not self.index_path.exists():
            return {"version": _INDEX_VERSION, "certificates": {}}
        try:
            data = json.loads(self.index_path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("certificates"), dict):
                raise ValueError("no 'certificates' object")
        except ValueError as exc:
            raise StoreError(
                f"The certificate store index '{self.index_path}' is damaged ({exc}); it was "
                "left untouched.",
                hint=f"Repair the JSON by hand, or move it away and import the certificates "
                     f"again (their files are in '{self.folder}').") from exc
        except OSError as exc:
            raise StoreError(
                f"The certificate store index '{self.index_path}' cannot be read: "
                f"{exc.strerror or exc}.", hint="It must belong to you; fix its owner or "
                                                "permissions.") from exc
        return data

    def _change(self):
        return locked_json_update(self.index_path, self._read)

    def _damaged(self, entry, why):
        return StoreError(
            f"The stored certificate {entry.thumbprint} ({entry.subject}) is damaged: {why}.",
            thumbprint=entry.thumbprint,
            hint=f"Remove it with 'az entracert store remove --thumbprint {entry.thumbprint}' "
                 "and import it again.")


def _match(entries, thumbprint):
    """The one entry whose SHA-1 or SHA-256 thumbprint starts with ``thumbprint``."""
    wanted = normalize_thumbprint(thumbprint)
    matches = [e for e in entries.values()
               if e.thumbprint.startswith(wanted) or e.thumbprint_sha256.startswith(wanted)]
    if not matches:
        raise StoreError(
            f"The certificate store holds no certificate with thumbprint {wanted}"
            f" ({len(entries)} stored).", thumbprint=wanted,
            hint="List the stored ones with 'az entracert store list', or add it with "
                 "'az entracert store import --file PFX'.")
    if len(matches) > 1:
        candidates = "; ".join(f"{e.thumbprint} ({e.subject})" for e in matches)
        raise StoreError(
            f"The thumbprint prefix {wanted} matches {len(matches)} stored certificates: "
            f"{candidates}.", thumbprint=wanted, hint="Give more digits, or the whole thumbprint.")
    return matches[0]


def _entries(index, index_path):
    return {t: _entry(e, index_path) for t, e in index["certificates"].items()}


def _entry(record, index_path):
    try:
        return StoredCertificate(**record)
    except TypeError as exc:
        raise StoreError(
            f"The certificate store index '{index_path}' is damaged (an entry has unexpected "
            f"fields: {exc}).", hint="Repair the JSON by hand, or move it away and import the "
                                     "certificates again.") from exc
