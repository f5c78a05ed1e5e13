"""Where a password (or a base64 PFX) comes from: an environment variable, a file, or a prompt.

A ``PasswordSource`` names a source without reading it; ``get()`` reads it only when a password
is actually needed, so a PFX without a password never triggers a prompt. The value never appears
in a ``repr``, an error message or a log line: errors name the *source* (``environment variable
CERT_PASSWORD``), never what it held.
"""
import base64
import binascii
import os
from pathlib import Path

from .errors import ConfigurationError, InputFileError, PasswordError


class PasswordSource:
    """One place a password may come from. Build it with the ``from_*`` constructors."""

    def __init__(self, kind, detail=None, callback=None):
        self._kind = kind
        self._detail = detail
        self._callback = callback

    @classmethod
    def none(cls):
        return cls("none")

    @classmethod
    def from_env(cls, var):
        return cls("env", var)

    @classmethod
    def from_file(cls, path):
        return cls("file", str(path))

    @classmethod
    def from_prompt(cls, callback):
        """``callback(prompt_text) -> str`` asks the user, with hidden input."""
        return cls("prompt", callback=callback)

    @property
    def given(self):
        """True when the user named a source (so an unneeded password is worth a remark)."""
        return self._kind in ("env", "file")

    @property
    def can_prompt(self):
        return self._kind == "prompt"

    def describe(self):
        return {
            "none": "no password source",
            "env": f"environment variable {self._detail}",
            "file": f"password file '{self._detail}'",
            "prompt": "the interactive prompt",
        }[self._kind]

    def get(self, *, purpose="the password"):
        """The password as bytes, or None when this source is ``none``.

        A file's trailing newline is dropped (``echo secret > pw.txt`` is the common way to write
        one). An unset variable or unreadable file is a PasswordError naming the source.
        """
        if self._kind == "none":
            return None
        if self._kind == "env":
            value = os.environ.get(self._detail)
            if value is None:
                raise PasswordError(
                    f"The environment variable {self._detail} is not set.",
                    hint=f"Export it first (export {self._detail}=...), or choose another "
                         "password source.")
            return value.encode("utf-8")
        if self._kind == "file":
            path = Path(self._detail).expanduser()
            try:
                text = path.read_bytes()
            except OSError as exc:
                raise PasswordError(
                    f"The password file '{path}' cannot be read: {exc.strerror or exc}.",
                    path=path, hint="Check the path and its permissions.") from exc
            return text.rstrip(b"\r\n")
        value = self._callback(f"{purpose[:1].upper()}{purpose[1:]}: ")
        return (value or "").encode("utf-8")

    def __repr__(self):
        return f"PasswordSource({self.describe()})"


def password_source(*, env=None, file=None, no_password=False, prompt=None):
    """The one source the user chose; with none chosen, the prompt if there is a terminal."""
    chosen = [flag for flag, value in (("--password-env", env), ("--password-file", file),
                                       ("--no-password", no_password)) if value]
    if len(chosen) > 1:
        raise ConfigurationError(
            f"{' and '.join(chosen)} cannot be used together.",
            hint="Choose one source for the password.")
    if env:
        return PasswordSource.from_env(env)
    if file:
        return PasswordSource.from_file(file)
    if no_password or prompt is None:
        return PasswordSource.none()
    return PasswordSource.from_prompt(prompt)


def read_pfx_base64_env(var):
    """The PFX bytes held base64-encoded in environment variable ``var`` (the common CI secret)."""
    value = os.environ.get(var)
    if value is None or not value.strip():
        raise InputFileError(
            f"The environment variable {var} is {'empty' if value is not None else 'not set'}.",
            path=f"env:{var}",
            hint=f"Set it to the base64 of the PFX file, "
                 f"e.g. export {var}=\"$(base64 -w0 cert.pfx)\".")
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputFileError(
            f"The environment variable {var} does not hold valid base64.",
            path=f"env:{var}",
            hint=f"Encode the PFX without line breaks: export {var}=\"$(base64 -w0 cert.pfx)\".",
        ) from exc
