"""The ``az entracert cert`` commands: translate az arguments into core calls, return plain dicts.

Each function checks what only the command line can know (which options were combined, whether a
terminal is attached to prompt on), calls the core, and returns JSON-able data so that
``-o json|yaml|table|tsv`` and ``--query`` work. Core errors are turned into azure-cli errors by
the command group's exception handler (``_errors``). The core imports cryptography lazily, so
importing this module stays cheap too.
"""
import sys

from knack.log import get_logger

logger = get_logger(__name__)

_SLOW_KEY_BITS = 4096


# --- Commands ---------------------------------------------------------------------------------

def cert_create(subject, out, san=None, key_size=2048, hash_name="sha256", days=365,
                password_env=None, password_file=None, no_password=False, force=False):
    """Create a self-signed certificate: PATH.pfx (0600) with PATH.cer and PATH.pem beside it."""
    from .core import certgen, certs

    key_size = int(key_size)
    certgen.check_bundle_writable(out, force=force)  # before the password prompt and the key
    password = _new_file_password(password_env, password_file, no_password, purpose="PFX password")
    if key_size >= _SLOW_KEY_BITS:
        logger.warning("Generating a %d-bit RSA key, this can take several seconds...", key_size)
    loaded = certgen.create_self_signed(subject, sans=tuple(san or ()), key_size=key_size,
                                        hash_name=hash_name, days=days)
    files = certgen.write_bundle(loaded, out, password=password, force=force)
    return {**certs.describe(loaded), "files": files}


def cert_csr(subject, key_out, out, san=None, key_size=2048, hash_name="sha256",
             password_env=None, password_file=None, force=False):
    """Create a private key and a PKCS#10 certificate signing request for a CA."""
    from .core import certgen, fileio

    key_size = int(key_size)
    _exclusive(("--password-env", password_env), ("--password-file", password_file))
    for path in (key_out, out):
        fileio.check_writable(path, overwrite=force)
    # The key is encrypted only when a source is named: no prompt, as with `openssl req -nodes`.
    password = _non_empty(_source(password_env, password_file), "key password",
                          instead="leave out the password options for an unencrypted key")
    if key_size >= _SLOW_KEY_BITS:
        logger.warning("Generating a %d-bit RSA key, this can take several seconds...", key_size)
    key, csr = certgen.create_csr(subject, sans=tuple(san or ()), key_size=key_size,
                                  hash_name=hash_name)
    files = certgen.write_csr(key, csr, key_out=key_out, out=out, password=password, force=force)
    return {"subject": csr.subject.rfc4514_string(), "keySize": csr.public_key().key_size,
            "keyEncrypted": password is not None, "files": files}


def cert_assemble(cert_path, key_path, out, chain_paths=None, key_password_env=None,
                  key_password_file=None, password_env=None, password_file=None,
                  no_password=False, force=False):
    """Join a CA-signed certificate, its key and CA chain into one PFX."""
    from .core import certgen, certs, fileio

    fileio.check_writable(out, overwrite=force)
    _exclusive(("--key-password-env", key_password_env),
               ("--key-password-file", key_password_file))
    # The new PFX's password first: a missing source fails before we touch the inputs.
    password = _new_file_password(password_env, password_file, no_password, purpose="PFX password")
    key_password = _source(key_password_env, key_password_file, prompt=_prompt())
    loaded = certgen.assemble(cert_path, key_path, tuple(chain_paths or ()),
                              key_password=key_password)
    result = certgen.convert(loaded, "pfx", out, password=password, force=force)
    return {**certs.describe(loaded), "files": {"pfx": result["path"]}}


def cert_show(file_path=None, pfx_base64_env=None, password_env=None, password_file=None,
              key_file=None, key_password_env=None, key_password_file=None):
    """Describe a certificate: identity, thumbprints, validity, key."""
    from .core import certs

    loaded = _load(file_path, pfx_base64_env, password_env, password_file,
                   key_file, key_password_env, key_password_file)
    warning = certs.expiry_warning(loaded)
    if warning:
        logger.warning(warning)
    return certs.describe(loaded)


def cert_validate(cmd, file_path=None, pfx_base64_env=None, password_env=None, password_file=None,
                  key_file=None, key_password_env=None, key_password_file=None, warn_days=30):
    """Check a certificate against what Entra ID accepts; exit non-zero when it is not valid."""
    from .core import certs

    loaded = _load(file_path, pfx_base64_env, password_env, password_file,
                   key_file, key_password_env, key_password_file)
    result = certs.validate(loaded, warn_days=warn_days, key_path=key_file)
    for check in result["checks"]:
        if check["severity"] == "warning" and not check["ok"]:
            logger.warning("%s: %s", check["name"], check["detail"])
    if not result["valid"]:
        failed = [c["name"] for c in result["checks"] if c["severity"] == "error" and not c["ok"]]
        _exit_after_output(cmd.cli_ctx, f"The certificate {loaded.thumbprint} is not valid: "
                                        f"failed {', '.join(failed)}.")
    return result


def cert_convert(to, out, file_path=None, pfx_base64_env=None, password_env=None,
                 password_file=None, key_file=None, key_password_env=None, key_password_file=None,
                 out_password_env=None, out_password_file=None, out_no_password=False, force=False):
    """Write a certificate (and its key and chain) in another format."""
    from .core import certgen, fileio

    fileio.check_writable(out, overwrite=force)
    out_flags = ("--out-password-env", "--out-password-file", "--out-no-password")
    _exclusive(*zip(out_flags, (out_password_env, out_password_file, out_no_password)))
    loaded = _load(file_path, pfx_base64_env, password_env, password_file,
                   key_file, key_password_env, key_password_file, require_key=to == "pfx")
    password = None
    if loaded.has_private_key and to in ("pfx", "pem"):
        password = _new_file_password(out_password_env, out_password_file, out_no_password,
                                      purpose="password for the output", flags=out_flags)
    return certgen.convert(loaded, to, out, password=password, force=force)


# --- Reading certificates and passwords --------------------------------------------------------

def _load(file_path, pfx_base64_env, password_env, password_file, key_file, key_password_env,
          key_password_file, *, require_key=False):
    from azure.cli.core.azclierror import (MutuallyExclusiveArgumentError,
                                           RequiredArgumentMissingError)

    from .core import certs

    if file_path and pfx_base64_env:
        raise MutuallyExclusiveArgumentError(
            "--file and --pfx-base64-env cannot be used together.",
            recommendation="Give the certificate once: a file, or an environment variable.")
    if not (file_path or pfx_base64_env):
        raise RequiredArgumentMissingError(
            "No certificate given.", recommendation="Use --file PATH or --pfx-base64-env VAR.")
    _exclusive(("--password-env", password_env), ("--password-file", password_file))
    _exclusive(("--key-password-env", key_password_env),
               ("--key-password-file", key_password_file))
    prompt = _prompt()
    return certs.load(file_path, password=_source(password_env, password_file, prompt=prompt),
                      key_path=key_file,
                      key_password=_source(key_password_env, key_password_file, prompt=prompt),
                      pfx_base64_env=pfx_base64_env, require_key=require_key)


def _source(env, file, *, prompt=None):
    """Where the password of a file we read comes from; the prompt only if the file needs one."""
    from .core import secrets

    return secrets.password_source(env=env, file=file, prompt=prompt)


def _new_file_password(env, file, no_password, *, purpose,
                       flags=("--password-env", "--password-file", "--no-password")):
    """The password protecting a file we are about to write, resolved before any slow work.

    With no option given we ask (twice, to catch typos) on a terminal; without a terminal there is
    nobody to ask, and silently writing an unprotected key would be a surprise, so we refuse.
    """
    from azure.cli.core.azclierror import RequiredArgumentMissingError

    from .core import secrets

    _exclusive(*zip(flags, (env, file, no_password)))
    prompt = _prompt(confirm=True)
    if not (env or file or no_password or prompt):
        raise RequiredArgumentMissingError(
            "No password source for the new private key, and no terminal to ask for one.",
            recommendation=f"Add {flags[0]} VAR, {flags[1]} PATH or {flags[2]}.")
    source = secrets.password_source(env=env, file=file, no_password=no_password, prompt=prompt)
    return _non_empty(source, purpose, instead=f"pass {flags[2]} to write the key without one")


def _non_empty(source, purpose, *, instead):
    """The password from ``source``; an empty one would silently leave a new key unprotected."""
    from azure.cli.core.azclierror import InvalidArgumentValueError

    password = source.get(purpose=purpose)
    if password == b"":
        raise InvalidArgumentValueError(f"The {purpose} from {source.describe()} is empty.",
                                        recommendation=f"Give a non-empty password, or {instead}.")
    return password


def _prompt(*, confirm=False):
    """A hidden-input prompt callback for the core when a terminal is attached, else None."""
    if not sys.stdin.isatty():
        return None
    from knack.prompting import prompt_pass

    return lambda text: prompt_pass(msg=text, confirm=confirm)


def _exclusive(*named):
    """Refuse when more than one of the ``(option, value)`` pairs is set."""
    given = [option for option, value in named if value]
    if len(given) > 1:
        from azure.cli.core.azclierror import MutuallyExclusiveArgumentError

        raise MutuallyExclusiveArgumentError(f"{' and '.join(given)} cannot be used together.",
                                             recommendation="Choose one of them.")


# --- Exit code -----------------------------------------------------------------------------------

def _exit_after_output(cli_ctx, summary, code=1):
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
