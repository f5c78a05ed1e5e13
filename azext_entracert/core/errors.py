"""The one error hierarchy of entracert.

Every failure a user can cause or meet is one of these; library errors (cryptography, msal,
requests, OS errors) are wrapped at the boundary with ``raise ... from exc``. Each error carries a
``message`` (what went wrong and why) and a ``hint`` (how to fix it), plus structured fields the
adapters use: the az layer maps the classes onto azure-cli's error types in one place
(``azext_entracert/_errors.py``).

    EntraCertError
    ├── InputFileError            a file we must read is missing, a directory, unreadable or empty
    │   └── CertificateFormatError    its bytes are not a certificate/key in any format we read
    ├── PasswordError             a password is missing, wrong, or its source cannot be read
    ├── CertificateError          the certificate loaded but cannot serve: no key, key mismatch,
    │                             non-RSA or weak key, expired
    ├── OutputError               an output file exists (no --force), its folder is missing, or the
    │                             write failed
    └── ConfigurationError        arguments or settings that do not fit together

Messages never contain a password, a private key or a token.
"""


class EntraCertError(Exception):
    """Base of every entracert error: ``message`` says what and why, ``hint`` how to fix it."""

    def __init__(self, message, *, hint=None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self):
        return f"{self.message} {self.hint}" if self.hint else self.message


class InputFileError(EntraCertError):
    """A file we must read cannot be read: ``path`` names it."""

    def __init__(self, message, *, path, hint=None):
        super().__init__(message, hint=hint)
        self.path = str(path)


class CertificateFormatError(InputFileError):
    """The file was read but holds no certificate or key in a format we understand."""


class PasswordError(EntraCertError):
    """A password is needed and missing, is wrong, or its source (env var, file) is unusable."""

    def __init__(self, message, *, path=None, hint=None):
        super().__init__(message, hint=hint)
        self.path = str(path) if path is not None else None


class CertificateError(EntraCertError):
    """A certificate that loaded cannot be used for the job (``thumbprint`` names it)."""

    def __init__(self, message, *, path=None, thumbprint=None, hint=None):
        super().__init__(message, hint=hint)
        self.path = str(path) if path is not None else None
        self.thumbprint = thumbprint


class OutputError(EntraCertError):
    """An output file cannot be written where asked (``path`` names it)."""

    def __init__(self, message, *, path, hint=None):
        super().__init__(message, hint=hint)
        self.path = str(path)


class ConfigurationError(EntraCertError):
    """Arguments or settings that do not fit together, or a value of the wrong shape."""
