"""Core errors reach az users as azure-cli's specific error types, with the hint as recommendation.

In-process: the mapping is a pure function of the error, and az's printing of an ``AzCLIError``
is exercised end to end in test_cert_commands.py.
"""
import pytest
from azure.cli.core import azclierror as az

from azext_entracert._errors import raise_az_error, to_az_error
from azext_entracert.core import errors as core

EXPECTED = [
    (core.InputFileError("The file 'a.pfx' does not exist.", path="a.pfx", hint="Check it."),
     az.FileOperationError),
    (core.CertificateFormatError("'a.pfx' is not a certificate.", path="a.pfx", hint="Export."),
     az.FileOperationError),
    (core.PasswordError("The password does not open 'a.pfx'.", path="a.pfx", hint="Retry."),
     az.InvalidArgumentValueError),
    (core.CertificateError("The key does not match.", thumbprint="AB", hint="Use the right key."),
     az.ValidationError),
    (core.OutputError("The output file 'b.pfx' exists.", path="b.pfx", hint="Use --force."),
     az.FileOperationError),
    (core.ConfigurationError("The subject 'x' is not a DN.", hint='Use "CN=app".'),
     az.InvalidArgumentValueError),
    (core.ProfileError("No profile named 'ci'.", name="ci", hint="List them."),
     az.InvalidArgumentValueError),
    (core.AuthenticationError("Entra refused: AADSTS700027.", code=700027, hint="Upload it."),
     az.AuthenticationError),
    (core.NetworkError("login.example cannot be reached.", host="login.example", hint="Proxy?"),
     az.AzureConnectionError),
    (core.TokenFormatError("That is not a JWT (12 characters).", hint="Paste the whole token."),
     az.InvalidArgumentValueError),
    (core.GraphError("Graph: the application was not found.", status=404, hint="Check the id."),
     az.ResourceNotFoundError),
    (core.GraphError("Graph: insufficient privileges.", status=403, hint="Grant it."),
     az.ForbiddenError),
    (core.GraphError("Graph is unavailable.", status=503, hint="Retry later."),
     az.AzureInternalError),
    (core.GraphError("Graph answered garbage.", hint="Retry later."), az.AzureResponseError),
    (core.EntraCertError("Something of ours went wrong.", hint="Do this."),
     az.UnclassifiedUserFault),
]


@pytest.mark.parametrize("error, az_type", EXPECTED, ids=lambda v: type(v).__name__)
def test_each_core_error_becomes_its_azure_cli_type_with_the_hint(error, az_type):
    mapped = to_az_error(error)
    assert type(mapped) is az_type
    assert mapped.error_msg == error.message
    assert mapped.recommendations == [error.hint]


def test_no_hint_means_no_recommendation_line():
    mapped = to_az_error(core.ConfigurationError("Bad value."))
    assert mapped.recommendations == []


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


@pytest.mark.parametrize("error_type", sorted(set(_all_subclasses(core.EntraCertError)),
                                              key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_every_core_error_class_has_a_considered_mapping(error_type):
    """A new core error must get a deliberate row in _errors, not silently the fallback."""
    error = error_type.__new__(error_type)
    error.message, error.hint, error.status = "message", "hint", None
    assert not isinstance(to_az_error(error), az.UnclassifiedUserFault)


def test_the_handler_raises_the_mapped_error_chained_to_the_core_error():
    original = core.OutputError("The output folder 'x' does not exist.", path="x/y.pfx", hint="mkdir")
    with pytest.raises(az.FileOperationError) as raised:
        raise_az_error(original)
    assert raised.value.__cause__ is original  # az logs the chain at --debug only


def test_the_handler_leaves_foreign_exceptions_alone():
    """A bug of ours must surface as az's internal error with its traceback, not be disguised."""
    bug = KeyError("oops")
    with pytest.raises(KeyError) as raised:
        raise_az_error(bug)
    assert raised.value is bug
