"""Core errors → azure-cli error types: the one place where the mapping lives.

Every ``EntraCertError`` leaves an ``az entracert`` command as one of azure-cli's specific error
types (``azure.cli.core.azclierror``), so az prints ``ERROR: <message>`` and then the core's
``hint`` as the recommendation, exits with 1, and never shows a traceback.

    core error                  azure-cli error            why
    InputFileError              FileOperationError         a file to read is missing/unreadable/empty
    └ CertificateFormatError    FileOperationError         the file's *content* is the problem, not
                                                           the argument's spelling: same family
    PasswordError               InvalidArgumentValueError  wrong/missing password or unusable source
    CertificateError            ValidationError            loaded, but unfit (key mismatch, no key,
                                                           weak or non-RSA key, expired)
    OutputError                 FileOperationError         output exists (no --force), folder missing
    ConfigurationError          InvalidArgumentValueError  a value of the wrong shape (subject, SAN,
                                                           days) or options that do not fit together
    ProfileError                InvalidArgumentValueError  the profile name given is unknown or taken
    AuthenticationError         AuthenticationError        Entra refused: az's own type for sign-in
    NetworkError                AzureConnectionError       authority/Graph unreachable, TLS, timeout
    TokenFormatError            InvalidArgumentValueError  the token given is not a readable JWT
    GraphError                  by HTTP status, az's rule  400 BadRequest, 401 Unauthorized, 403
                                                           Forbidden, 404 ResourceNotFound (exit 3),
                                                           5xx AzureInternal; else AzureResponseError
    RotationError               as its cause               the failed step's own error decides; the
                                                           message adds what was done and what
                                                           remains (AzureResponseError without one)
    EntraCertError (any other)  UnclassifiedUserFault

Anything that is not an ``EntraCertError`` is a bug of ours and is re-raised untouched, so that az
reports it as an internal error with its traceback.
"""
from .core import errors as core


def _table():
    from azure.cli.core import azclierror as az

    # Most specific first: the first matching row wins.
    return (
        (core.InputFileError, az.FileOperationError),
        (core.PasswordError, az.InvalidArgumentValueError),
        (core.CertificateError, az.ValidationError),
        (core.OutputError, az.FileOperationError),
        (core.ConfigurationError, az.InvalidArgumentValueError),
        (core.ProfileError, az.InvalidArgumentValueError),
        (core.AuthenticationError, az.AuthenticationError),
        (core.NetworkError, az.AzureConnectionError),
        (core.TokenFormatError, az.InvalidArgumentValueError),
        (core.GraphError, _by_http_status),
        (core.RotationError, _by_cause),
        (core.EntraCertError, az.UnclassifiedUserFault),
    )


def _by_cause(error):
    """The type the error that stopped a rotation step would have had on its own."""
    from azure.cli.core import azclierror as az

    cause = error.__cause__
    if isinstance(cause, core.EntraCertError) and not isinstance(cause, core.RotationError):
        return type(to_az_error(cause))
    return az.AzureResponseError


def _by_http_status(error):
    """The type azure-cli itself gives an HTTP error of this status."""
    from azure.cli.core import azclierror as az
    from azure.cli.core.util import get_error_type_by_status_code

    if error.status is None:
        return az.AzureResponseError
    az_type = get_error_type_by_status_code(str(error.status))
    return az.AzureResponseError if az_type is az.UnknownError else az_type


def to_az_error(error):
    """The azure-cli error for core ``error``: its message, and its hint as recommendation."""
    for core_type, az_type in _table():
        if isinstance(error, core_type):
            if not isinstance(az_type, type):  # a rule that looks at the error's fields
                az_type = az_type(error)
            return az_type(error.message, recommendation=error.hint)
    raise TypeError(f"not an entracert error: {type(error).__name__}")


def raise_az_error(exc):
    """``exception_handler`` of our command groups: re-raise core errors as azure-cli errors."""
    if isinstance(exc, core.EntraCertError):
        raise to_az_error(exc) from exc
    raise exc
