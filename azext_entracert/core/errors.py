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
    ├── HardwareKeyError          a PKCS#11 module, token or key cannot serve: module missing,
    │                             token or key label not found, ambiguous, not RSA, cannot sign
    ├── OutputError               an output file exists (no --force), its folder is missing, or the
    │                             write failed
    ├── ConfigurationError        arguments or settings that do not fit together
    ├── ProfileError              a profile name is unknown, or already taken
    ├── StoreError                a thumbprint is not in the certificate store or matches
    │                             several entries, or a store file is damaged
    ├── AuthenticationError       Entra refused the request (AADSTS code, correlation id, fix)
    ├── NetworkError              the authority or Graph cannot be reached (DNS, TLS, timeout)
    ├── TokenFormatError          a string given as a token is not a readable JWT, or its
    │                             signature does not verify
    ├── GraphError                Microsoft Graph refused a call (HTTP status, Graph error code)
    ├── RotationError             a certificate rotation stopped part-way (steps done, commands
    │                             that finish it); its cause is the error of the failed step
    └── OnboardingError           'app create' stopped part-way (what was created, the commands
                                  that finish or undo it); its cause is the failed step's error

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


class HardwareKeyError(EntraCertError):
    """A key on a PKCS#11 token cannot serve: ``module``, ``token`` and ``key`` (labels) name it."""

    def __init__(self, message, *, module=None, token=None, key=None, hint=None):
        super().__init__(message, hint=hint)
        self.module = module
        self.token = token
        self.key = key


class OutputError(EntraCertError):
    """An output file cannot be written where asked (``path`` names it)."""

    def __init__(self, message, *, path, hint=None):
        super().__init__(message, hint=hint)
        self.path = str(path)


class ConfigurationError(EntraCertError):
    """Arguments or settings that do not fit together, or a value of the wrong shape."""


class ProfileError(EntraCertError):
    """A profile ``name`` is unknown (show, use, delete) or already taken (create, import)."""

    def __init__(self, message, *, name, hint=None):
        super().__init__(message, hint=hint)
        self.name = name


class StoreError(EntraCertError):
    """The certificate store cannot answer for ``thumbprint``: unknown, ambiguous, or damaged."""

    def __init__(self, message, *, thumbprint=None, hint=None):
        super().__init__(message, hint=hint)
        self.thumbprint = thumbprint


class AuthenticationError(EntraCertError):
    """Entra ID refused a token request.

    ``code`` is the AADSTS number (int, or None when Entra sent none), ``error`` the OAuth error
    string (``invalid_client``...), ``description`` Entra's own ``error_description`` (it never
    holds a secret), and ``correlation_id``/``trace_id`` let Microsoft support find the request.
    """

    def __init__(self, message, *, code=None, error=None, correlation_id=None, trace_id=None,
                 description=None, hint=None):
        super().__init__(message, hint=hint)
        self.code = code
        self.error = error
        self.correlation_id = correlation_id
        self.trace_id = trace_id
        self.description = description


class NetworkError(EntraCertError):
    """``host`` cannot be reached: DNS, refused connection, TLS trust, timeout or garbage reply."""

    def __init__(self, message, *, host, hint=None):
        super().__init__(message, hint=hint)
        self.host = host


class TokenFormatError(EntraCertError):
    """A string given as a token is not a JWT we can read, or its signature does not verify.

    The message never contains the token itself (at most its length).
    """


class GraphError(EntraCertError):
    """Microsoft Graph refused a call: ``status`` (HTTP), ``code`` (``Authorization_RequestDenied``
    ...) and ``request_id`` from Graph's error envelope."""

    def __init__(self, message, *, status=None, code=None, request_id=None, hint=None):
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code
        self.request_id = request_id


class RotationError(EntraCertError):
    """A rotation stopped part-way: ``steps`` done so far, ``remaining`` commands to finish."""

    def __init__(self, message, *, steps, remaining, hint=None):
        super().__init__(message, hint=hint)
        self.steps = steps
        self.remaining = remaining


class OnboardingError(EntraCertError):
    """Creating an application stopped part-way: ``steps`` done so far, ``created`` what exists
    now, ``remaining`` the commands that finish the job and ``undo`` those that remove it."""

    def __init__(self, message, *, steps, created, remaining, undo, hint=None):
        super().__init__(message, hint=hint)
        self.steps = steps
        self.created = created
        self.remaining = remaining
        self.undo = undo
