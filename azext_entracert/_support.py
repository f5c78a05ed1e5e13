"""What the command modules share: reading certificates and passwords from the options the
user gave, prompting only when a terminal is attached, refusing combined options, showing the
core's log records through az's own logging, and exiting non-zero after printing a result
(``cert validate``, ``app cert expiring``...)."""
import contextlib
import logging
import sys
from pathlib import Path

from knack.log import get_logger

logger = get_logger(__name__)


# --- Reading certificates and passwords --------------------------------------------------------

def load_certificate(file_path, pfx_base64_env, password_env, password_file, key_file,
                     key_password_env, key_password_file, *, require_key=False):
    from azure.cli.core.azclierror import (
        MutuallyExclusiveArgumentError,
        RequiredArgumentMissingError,
    )

    from .core import certs

    if file_path and pfx_base64_env:
        raise MutuallyExclusiveArgumentError(
            "--file and --pfx-base64-env cannot be used together.",
            recommendation="Give the certificate once: a file, or an environment variable.")
    if not (file_path or pfx_base64_env):
        raise RequiredArgumentMissingError(
            "No certificate given.", recommendation="Use --file PATH or --pfx-base64-env VAR.")
    exclusive(("--password-env", password_env), ("--password-file", password_file))
    exclusive(("--key-password-env", key_password_env),
               ("--key-password-file", key_password_file))
    prompt = terminal_prompt()
    password = password_from(password_env, password_file, prompt=prompt)
    key_password = password_from(key_password_env, key_password_file, prompt=prompt)
    with key_password_hint(key_file, given=key_password_env or key_password_file):
        return certs.load(file_path, password=password, key_path=key_file,
                          key_password=key_password, pfx_base64_env=pfx_base64_env,
                          require_key=require_key)


@contextlib.contextmanager
def key_password_hint(key_path, *, given):
    """Point a missing key-file password at the key's own options.

    The core's hint names --password-env/--password-file, which on these commands mean the
    certificate file's password (or the new PFX's, for assemble): following it would not help.
    """
    from .core.errors import PasswordError

    try:
        yield
    except PasswordError as exc:
        about_key = key_path and exc.path and Path(exc.path) == Path(key_path).expanduser()
        if given or not about_key:
            raise
        raise PasswordError(exc.message, path=exc.path,
                            hint="Give the key's password with --key-password-env VAR or "
                                 "--key-password-file FILE (or run in a terminal to be "
                                 "prompted).") from exc


def password_from(env, file, *, prompt=None):
    """Where the password of a file we read comes from; the prompt only if the file needs one."""
    from .core import secrets

    return secrets.password_source(env=env, file=file, prompt=prompt)


def new_file_password(env, file, no_password, *, purpose,
                       flags=("--password-env", "--password-file", "--no-password")):
    """The password protecting a file we are about to write, resolved before any slow work.

    With no option given we ask (twice, to catch typos) on a terminal; without a terminal there is
    nobody to ask, and silently writing an unprotected key would be a surprise, so we refuse.
    """
    from azure.cli.core.azclierror import RequiredArgumentMissingError

    from .core import secrets

    exclusive(*zip(flags, (env, file, no_password), strict=True))
    prompt = terminal_prompt(confirm=True)
    if not (env or file or no_password or prompt):
        raise RequiredArgumentMissingError(
            "No password source for the new private key, and no terminal to ask for one.",
            recommendation=f"Add {flags[0]} VAR, {flags[1]} PATH or {flags[2]}.")
    source = secrets.password_source(env=env, file=file, no_password=no_password, prompt=prompt)
    return non_empty_password(source, purpose,
                              instead=f"pass {flags[2]} to write the key without one")


def non_empty_password(source, purpose, *, instead):
    """The password from ``source``; an empty one would silently leave a new key unprotected."""
    from azure.cli.core.azclierror import InvalidArgumentValueError

    password = source.get(purpose=purpose)
    if password == b"":
        raise InvalidArgumentValueError(f"The {purpose} from {source.describe()} is empty.",
                                        recommendation=f"Give a non-empty password, or {instead}.")
    return password


def terminal_prompt(*, confirm=False):
    """A hidden-input prompt callback for the core when a terminal is attached, else None."""
    if not sys.stdin.isatty():
        return None
    from knack.prompting import prompt_pass

    return lambda text: _answer(prompt_pass, msg=text, confirm=confirm, hidden=True)


def confirm_on_terminal(_command_args):
    """``confirmation=`` of the commands that delete: az's own y/n question (skipped by --yes),
    where Ctrl-D cancels like every other prompt of ours."""
    from knack.prompting import NoTTYException, prompt_y_n

    try:
        return _answer(prompt_y_n, "Are you sure you want to perform this operation?")
    except NoTTYException:
        from azure.cli.core.azclierror import RequiredArgumentMissingError

        raise RequiredArgumentMissingError(
            "This command asks for confirmation, and there is no terminal to ask on.",
            recommendation="Add --yes to confirm without a prompt.") from None


def _answer(ask, *args, hidden=False, **kwargs):
    """Every question we ask on the terminal: Ctrl-D (end of input) means the user gave up, so
    the command ends with "Cancelled." and a non-zero exit, not a traceback."""
    try:
        return ask(*args, **kwargs)
    except EOFError:
        from azure.cli.core.azclierror import ManualInterrupt

        if hidden:  # hidden input echoed no newline: end the prompt's line
            print(file=sys.stderr)
        raise ManualInterrupt("Cancelled.") from None


def exclusive(*named):
    """Refuse when more than one of the ``(option, value)`` pairs is set."""
    given = [option for option, value in named if value]
    if len(given) > 1:
        from azure.cli.core.azclierror import MutuallyExclusiveArgumentError

        raise MutuallyExclusiveArgumentError(f"{' and '.join(given)} cannot be used together.",
                                             recommendation="Choose one of them.")


# --- Who calls Microsoft Graph ----------------------------------------------------------------

def graph_client(cmd, admin_profile, use_az_login, *, required=True):
    """A GraphClient as ``--admin-profile`` or the signed-in az account (``--use-az-login``, whose
    token azure-cli-core's ``Profile`` gives); None when neither is given and ``required`` is
    False."""
    from .core import lifecycle, profiles

    exclusive(("--admin-profile", admin_profile), ("--use-az-login", use_az_login))
    if admin_profile:
        return lifecycle.admin_graph(profiles.ProfileStore().get(admin_profile),
                                     prompt=terminal_prompt())
    if use_az_login:
        from azure.cli.core._profile import Profile

        resource = cmd.cli_ctx.cloud.endpoints.microsoft_graph_resource_id
        account = Profile(cli_ctx=cmd.cli_ctx)
        # az's global --subscription picks the signed-in account (default: the active one).
        subscription = cmd.cli_ctx.data.get("subscription_id")
        signed_in = account.get_subscription(subscription)  # az's error if nobody signed in

        def token():
            credentials, _, _ = account.get_raw_token(resource=resource,
                                                      subscription=subscription)
            return credentials[1]

        actor = lifecycle.az_actor(signed_in["user"]["name"], user_type=signed_in["user"]["type"],
                                   tenant=signed_in["tenantId"])
        # No CA bundle: like az itself, the az-login path trusts REQUESTS_CA_BUNDLE or the system.
        return lifecycle.graph_client(resource, token, actor=actor)
    if required:
        from azure.cli.core.azclierror import RequiredArgumentMissingError

        raise RequiredArgumentMissingError(
            "This command calls Microsoft Graph and needs an identity allowed to manage the "
            "application.", recommendation="Add --admin-profile NAME (a profile with "
                                           "Application.ReadWrite.All) or --use-az-login.")
    return None


# --- Logging -------------------------------------------------------------------------------------

class _ToAzLog(logging.Handler):
    """Re-emits core log records through az's ``cli`` logger (its console and file handlers)."""

    def emit(self, record):
        target = logging.getLogger(f"cli.{record.name}")
        if target.isEnabledFor(record.levelno):
            target.handle(record)


def route_core_logs_to_az():
    """Route the core's loggers to az's handlers, once per process, when az set them up."""
    if not logging.getLogger("cli").handlers:  # not inside az (e.g. called from a test)
        return
    for name in ("entracert", "azext_entracert.core"):
        core_logger = logging.getLogger(name)
        if not any(isinstance(h, _ToAzLog) for h in core_logger.handlers):
            core_logger.addHandler(_ToAzLog())
            core_logger.propagate = False  # az's root handler would repeat it under --debug


# --- Exit code -----------------------------------------------------------------------------------

def exit_after_output(cli_ctx, summary, code=1):
    """Make az exit with ``code`` once it has printed the command's result.

    az prints a result only for a command that returns, and its exit code is then 0; an error
    would suppress the output. So the command returns its result and registers a one-shot handler
    on knack's "successful execute" event, which az raises *after* formatting the output (with -o
    and --query applied): it logs ``summary`` and leaves with SystemExit, which az's entry point
    turns into the process exit code. (azure-cli's own AAZ pager uses the same event to print the
    next-page token after the output.)
    """
    from knack.events import EVENT_CLI_SUCCESSFUL_EXECUTE

    def leave(_cli_ctx, **_kwargs):
        logger.error(summary)
        raise SystemExit(code)

    cli_ctx.register_event(EVENT_CLI_SUCCESSFUL_EXECUTE, leave)
