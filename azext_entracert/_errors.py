"""Core errors → azure-cli error types: the one place where the mapping lives.

Every ``EntraCertError`` leaves an ``az entracert`` command as one of azure-cli's specific error
types (``azure.cli.core.azclierror``), so az prints ``ERROR: <message>`` and then the core's
``hint`` as the recommendation, exits with 1, and never shows a traceback.

    core error                azure-cli error            why
    InputFileError            FileOperationError         a file to read is missing/unreadable/empty
    └ CertificateFormatError  FileOperationError         the file's *content* is the problem, not
                                                         the argument's spelling: same family
    PasswordError             InvalidArgumentValueError  wrong/missing password or unusable source
    CertificateError          ValidationError            loaded, but unfit (key mismatch, no key,
                                                         weak or non-RSA key, expired)
    HardwareKeyError          InvalidArgumentValueError  the PKCS#11 module, token or key label
                                                         given is missing, ambiguous or cannot sign
    OutputError               FileOperationError         output exists (no --force), folder missing
    ConfigurationError        InvalidArgumentValueError  a value of the wrong shape (subject, SAN,
                                                         days) or options that do not fit together
    ProfileError              InvalidArgumentValueError  the profile name given is unknown or taken
    StoreError                InvalidArgumentValueError  the thumbprint given is not in the store,
                                                         matches several entries, or its entry is
                                                         damaged
    AuthenticationError       AuthenticationError        Entra refused: az's own type for sign-in
    NetworkError              AzureConnectionError       authority/Graph unreachable, TLS, timeout
    TokenFormatError          InvalidArgumentValueError  the token given is not a readable JWT
    GraphError                by HTTP status, az's rule  400 BadRequest, 401 Unauthorized, 403
                                                         Forbidden, 404 ResourceNotFound (exit 3),
                                                         5xx AzureInternal; else AzureResponseError
    RotationError             as its cause               the failed step's own error decides; the
    OnboardingError                                      message adds what was done and what
                                                         remains (AzureResponseError without one)
    EntraCertError (other)    UnclassifiedUserFault

Anything that is not an ``EntraCertError`` is a bug of ours and is re-raised untouched, so that az
reports it as an internal error with its traceback.
"""
import re

from .core import errors as core


def _table():
    from azure.cli.core import azclierror as az

    # Most specific first: the first matching row wins.
    return (
        (core.InputFileError, az.FileOperationError),
        (core.PasswordError, az.InvalidArgumentValueError),
        (core.CertificateError, az.ValidationError),
        (core.HardwareKeyError, az.InvalidArgumentValueError),
        (core.OutputError, az.FileOperationError),
        (core.ConfigurationError, az.InvalidArgumentValueError),
        (core.ProfileError, az.InvalidArgumentValueError),
        (core.StoreError, az.InvalidArgumentValueError),
        (core.AuthenticationError, az.AuthenticationError),
        (core.NetworkError, az.AzureConnectionError),
        (core.TokenFormatError, az.InvalidArgumentValueError),
        (core.GraphError, _by_http_status),
        (core.RotationError, _by_cause),
        (core.OnboardingError, _by_cause),
        (core.EntraCertError, az.UnclassifiedUserFault),
    )


def _by_cause(error):
    """The type the error that stopped a rotation or onboarding step would have had on its own."""
    from azure.cli.core import azclierror as az

    cause = error.__cause__
    if isinstance(cause, core.EntraCertError) and not isinstance(
            cause, (core.RotationError, core.OnboardingError)):
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


def to_az_error(error, options=None):
    """The azure-cli error for core ``error``: its message, and its hint as recommendation
    (fitted to the command's ``options`` when they are known)."""
    for core_type, az_type in _table():
        if isinstance(error, core_type):
            if not isinstance(az_type, type):  # a rule that looks at the error's fields
                az_type = az_type(error)
            hint = error.hint if options is None else fit_hint(error, options)
            return az_type(error.message, recommendation=hint)
    raise TypeError(f"not an entracert error: {type(error).__name__}")


def raise_az_error(exc, command=None):
    """``exception_handler`` of our commands (``command`` bound by the loader): re-raise core
    errors as azure-cli errors, with hints that name only options ``command`` has."""
    options = command_options(command) if command is not None else None
    if isinstance(exc, core.EntraCertError):
        raise to_az_error(exc, options) from exc
    if options is not None and getattr(exc, "recommendations", None):
        exc.recommendations = [fit_hint(text, options) for text in exc.recommendations]
        exc.recommendations = [text for text in exc.recommendations if text]
    raise exc


# --- Hints name only options the command has ----------------------------------------------------
# The core writes one hint for every command that reaches it: "--password-env VAR" fits 'cert
# show', but on 'token get' the password source is the profile's. A sentence that names another
# command ('az entracert profile update --ca-bundle PEM', or a token tool such as 'softhsm2-util
# --show-slots') is kept whole: its options are that command's.

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")
_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
_NAMES_A_COMMAND = re.compile(r"['`]az |\b(?:softhsm2-util|pkcs11-tool) --")

# Where the core's hint names the options of a file or an authority, a command that works on a
# profile needs the profile's settings changed instead: the options named → the hint to give.
_PROFILE_HINTS = (
    ({"--password-env", "--password-file"},
     "Keep the password's source in the profile: 'az entracert profile update --name PROFILE "
     "--password-env VAR' (or --password-file FILE), or run in a terminal to be prompted."),
    ({"--ca-bundle"},
     "If it is a private authority (such as the local emulator), trust its CA for this profile: "
     "'az entracert profile update --name PROFILE --ca-bundle PEM'; otherwise check for a "
     "TLS-intercepting proxy."),
    ({"--authority-host", "--cloud"},
     "Check the profile's tenant and authority ('az entracert profile show --name PROFILE') and "
     "change them with 'az entracert profile update --name PROFILE --authority-host URL' (or "
     "--cloud NAME)."),
)


def command_options(command):
    """Every option spelling of an azure-cli command, e.g. {'--profile', '--scope', ...}."""
    return {option for argument in command.arguments.values()
            for option in argument.type.settings.get("options_list") or ()
            if isinstance(option, str)}


def foreign_options(text, options):
    """The options ``text`` names that are not in ``options``, leaving out sentences that name
    another command (whose options they are)."""
    return [option for sentence in _SENTENCE_END.split(text or "")
            if not _NAMES_A_COMMAND.search(sentence)
            for option in _OPTION.findall(sentence) if option not in options]


def fit_hint(error, options):
    """The hint of ``error`` (a core error, or a recommendation's text) for a command with
    ``options``: sentences naming options it lacks give way to the profile's way to set them,
    or are left out."""
    text = getattr(error, "hint", error)
    foreign = set(foreign_options(text, options))
    if not foreign:
        return text
    if "--profile" in options:
        for named, profile_hint in _PROFILE_HINTS:
            if foreign <= named:
                return profile_hint
    kept = [sentence for sentence in _SENTENCE_END.split(text)
            if not foreign_options(sentence, options)]
    return " ".join(kept) or None
