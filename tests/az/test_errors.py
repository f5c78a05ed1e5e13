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
    (core.HardwareKeyError("No private key labelled 'k' is on the token 't'.", token="t", key="k",
                           hint="Check the label."), az.InvalidArgumentValueError),
    (core.OutputError("The output file 'b.pfx' exists.", path="b.pfx", hint="Use --force."),
     az.FileOperationError),
    (core.ConfigurationError("The subject 'x' is not a DN.", hint='Use "CN=app".'),
     az.InvalidArgumentValueError),
    (core.ProfileError("No profile named 'ci'.", name="ci", hint="List them."),
     az.InvalidArgumentValueError),
    (core.StoreError("No certificate 0123ABCD in the store.", thumbprint="0123ABCD",
                     hint="List them."), az.InvalidArgumentValueError),
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
    original = core.OutputError("The output folder 'x' does not exist.", path="x/y.pfx",
                                hint="mkdir")
    with pytest.raises(az.FileOperationError) as raised:
        raise_az_error(original)
    assert raised.value.__cause__ is original  # az logs the chain at --debug only


def test_the_handler_leaves_foreign_exceptions_alone():
    """A bug of ours must surface as az's internal error with its traceback, not be disguised."""
    bug = KeyError("oops")
    with pytest.raises(KeyError) as raised:
        raise_az_error(bug)
    assert raised.value is bug


# --- Hints name only options the command has (issue 9) -------------------------------------------

def command_table():
    """Every ``az entracert`` command as azure-cli loads it, with its arguments and the
    exception handler the loader binds to it."""
    import types

    from azure.cli.core.mock import DummyCli

    import azext_entracert

    cli = DummyCli()
    loader = azext_entracert.COMMAND_LOADER_CLS(cli_ctx=cli)
    loader.skip_applicability = True  # register every command's arguments, not one's
    cli.invocation = types.SimpleNamespace(commands_loader=loader)
    table = loader.load_command_table(None)
    for name, command in table.items():
        loader.command_name = name
        command.load_arguments()
        loader.load_arguments(name)
    loader._update_command_definitions()
    return table


def hints_in_the_code():
    """Every string literal of the core and of the command functions that names an option: the
    hints (and recommendations) a command can end up showing."""
    import ast
    from pathlib import Path

    from azext_entracert._errors import _OPTION

    package = Path(__file__).resolve().parents[2] / "azext_entracert"
    sources = [*package.glob("core/*.py"), *package.glob("custom*.py"), package / "_support.py"]
    found = set()
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.JoinedStr):  # an f-string: its fixed parts, values as X
                text = "".join(v.value if isinstance(v, ast.Constant) else "X" for v in node.values)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
            else:
                continue
            if _OPTION.search(text) and "\n" not in text:  # docstrings are not shown to users
                found.add(text)
    return sorted(found)


def test_every_hint_a_command_shows_names_only_its_own_options():
    from azext_entracert._errors import command_options, foreign_options

    table = command_table()
    hints = hints_in_the_code()
    assert len(table) > 20 and len(hints) > 50
    wrong = []
    for name, command in table.items():
        options = command_options(command)
        for hint in hints:
            for error in (core.EntraCertError("x", hint=hint), az.ValidationError("x", hint)):
                try:
                    command.exception_handler(error)
                except az.AzCLIError as shown:
                    for text in shown.recommendations:
                        wrong += [(name, option, text) for option in foreign_options(text, options)]
    assert not wrong, "\n".join(map(str, wrong[:20]))


def shown(table, command, error):
    """What az prints under the error when ``command`` raises ``error``."""
    with pytest.raises(az.AzCLIError) as raised:
        table[command].exception_handler(error)
    return " ".join(raised.value.recommendations)


def test_a_profile_commands_hint_points_at_the_profiles_settings(tmp_path, emulator):
    """The cases seen: 'token refresh' suggested --password-env and --ca-bundle, which only
    'profile update' has; 'app cert add' suggested --key-file, which it lacks ('profile create'
    has it since separate key files)."""
    from azext_entracert.core import certgen, certs
    from azext_entracert.core.http import HttpClient
    from azext_entracert.core.secrets import PasswordSource

    table = command_table()
    loaded = certgen.create_self_signed("CN=hints")
    (tmp_path / "app.pfx").write_bytes(certgen.pfx_bytes(loaded, b"pw"))
    (tmp_path / "key.pem").write_bytes(certgen.key_pem(loaded.private_key))
    with pytest.raises(core.PasswordError) as locked:
        certs.load(tmp_path / "app.pfx", password=PasswordSource.none())
    with pytest.raises(core.NetworkError) as untrusted:  # the system CA store
        HttpClient().get(f"{emulator.authority_host}/common/discovery/instance")
    with pytest.raises(core.CertificateFormatError) as key_only:
        certs.load(tmp_path / "key.pem")

    for command in ("token refresh", "token get", "token inspect", "app cert list"):
        assert "'az entracert profile update --name PROFILE --password-env VAR'" in shown(
            table, f"entracert {command}", locked.value)
        assert "'az entracert profile update --name PROFILE --ca-bundle PEM'" in shown(
            table, f"entracert {command}", untrusted.value)
    assert "--password-env VAR" in shown(table, "entracert cert show", locked.value)
    assert "--ca-bundle PEM" in shown(table, "entracert cert check-revocation", untrusted.value)
    hint = shown(table, "entracert app cert add", key_only.value)
    assert "BEGIN CERTIFICATE" in hint and "--key-file" not in hint
    for command in ("cert show", "profile create"):
        assert "--key-file" in shown(table, f"entracert {command}", key_only.value)


def test_every_exit_code_a_command_can_end_with_is_in_the_readme(capsys):
    """az turns each error type into an exit code (3 for ResourceNotFoundError, else 1); the
    parser's errors exit 2; ``exit_after_output`` picks its own. The README must list them all."""
    import ast
    import re
    from pathlib import Path

    from azure.cli.core.util import handle_exception

    from azext_entracert._errors import _table

    repo = Path(__file__).resolve().parents[2]
    statuses = (None, *range(400, 600))
    samples = [core.GraphError("Graph failed.", status=status) for status in statuses]
    samples.append(core.RotationError("Rotation failed.", steps=[], remaining=[]))
    samples.append(core.OnboardingError("App create failed.", steps=[], created=[], remaining=[],
                                        undo=[]))
    samples += [error for error, _ in EXPECTED]  # an instance of every other core error type
    assert {type(error) for error in samples} >= {core_type for core_type, _ in _table()}
    codes = {0, 2}  # success; az's parser refusing the command line
    codes |= {handle_exception(to_az_error(error)) for error in samples}
    capsys.readouterr()  # handle_exception printed each error
    for source in repo.glob("azext_entracert/custom*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "exit_after_output":
                given = [k.value.value for k in node.keywords if k.arg == "code"]
                codes |= set(given or [1])
    assert 3 in codes  # a Graph 404: az's ResourceNotFoundError
    section = (repo / "README.md").read_text().split("### Exit codes", 1)[1].split("\n#", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", section, re.MULTILINE)}
    assert codes <= documented, f"exit codes missing from the README: {codes - documented}"
