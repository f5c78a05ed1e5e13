"""The ``az entracert cert`` commands: translate az arguments into core calls, return plain dicts.

Each function checks what only the command line can know (which options were combined, whether a
terminal is attached to prompt on), calls the core, and returns JSON-able data so that
``-o json|yaml|table|tsv`` and ``--query`` work. Core errors are turned into azure-cli errors by
the exception handler the loader gives each command (``_errors``). The core imports cryptography
lazily, so importing this module stays cheap too.
"""
from knack.log import get_logger

from ._support import (
    exclusive,
    exit_after_output,
    key_password_hint,
    load_certificate,
    new_file_password,
    non_empty_password,
    password_from,
    terminal_prompt,
)

logger = get_logger(__name__)

_SLOW_KEY_BITS = 4096


# --- Commands ---------------------------------------------------------------------------------

def cert_create(subject, out=None, san=None, key_size=2048, hash_name="sha256", days=365,
                password_env=None, password_file=None, no_password=False, force=False,
                pkcs11_module=None, pkcs11_token=None, pkcs11_key=None, pkcs11_uri=None,
                pin_env=None, pin_file=None, store=False):
    """Create a self-signed certificate: PATH.pfx (0600) with PATH.cer and PATH.pem beside it;
    with --pkcs11-module or --pkcs11-uri, on the token, and only PATH.cer and PATH.pem are
    written; with --store, into the certificate store only."""
    from azure.cli.core.azclierror import RequiredArgumentMissingError

    from .core import certgen, certs

    key_size = int(key_size)
    exclusive(("--out", out), ("--store", store))
    exclusive(("--store", store), ("--pkcs11-module", pkcs11_module),
              ("--pkcs11-uri", pkcs11_uri))
    if not (out or store):
        raise RequiredArgumentMissingError(
            "Where should the new certificate go?",
            recommendation="Add --out PATH.pfx (files), or --store (the certificate store).")
    if store:
        return _cert_create_in_store(subject, sans=tuple(san or ()), key_size=key_size,
                                     hash_name=hash_name, days=days, password_env=password_env,
                                     password_file=password_file, no_password=no_password)
    if pkcs11_module or pkcs11_uri:
        return _cert_create_on_token(
            subject, out, sans=tuple(san or ()), key_size=key_size, hash_name=hash_name,
            days=days, force=force, pfx_options=(password_env, password_file, no_password),
            pkcs11_module=pkcs11_module, pkcs11_token=pkcs11_token, pkcs11_key=pkcs11_key,
            pkcs11_uri=pkcs11_uri, pin_env=pin_env, pin_file=pin_file)
    certgen.check_bundle_writable(out, force=force)  # before the password prompt and the key
    password = new_file_password(password_env, password_file, no_password, purpose="PFX password")
    if key_size >= _SLOW_KEY_BITS:
        logger.warning("Generating a %d-bit RSA key, this can take several seconds...", key_size)
    loaded = certgen.create_self_signed(subject, sans=tuple(san or ()), key_size=key_size,
                                        hash_name=hash_name, days=days)
    files = certgen.write_bundle(loaded, out, password=password, force=force)
    return {**certs.describe(loaded), "files": files}


def _cert_create_in_store(subject, *, sans, key_size, hash_name, days, password_env,
                          password_file, no_password):
    """The new PFX goes into the store only, its password source recorded as for an import (a
    password typed at the prompt is not: it is asked again at each use)."""
    from .core import certgen, certs
    from .core.store import CertificateStore

    password = new_file_password(password_env, password_file, no_password, purpose="PFX password")
    if key_size >= _SLOW_KEY_BITS:
        logger.warning("Generating a %d-bit RSA key, this can take several seconds...", key_size)
    loaded = certgen.create_self_signed(subject, sans=sans, key_size=key_size,
                                        hash_name=hash_name, days=days)
    store = CertificateStore()
    entry, _ = store.add(loaded, password=password, password_env=password_env,
                         password_file=password_file)
    return {**certs.describe(loaded), "files": {"store": str(store.folder / entry.file)}}


def _cert_create_on_token(subject, out, *, sans, key_size, hash_name, days, force, pfx_options,
                          **token):
    """The key pair generated inside the token (sensitive, not extractable), the certificate
    signed there and stored beside the key; only its public halves are written."""
    from pathlib import Path

    from azure.cli.core.azclierror import InvalidArgumentValueError, MutuallyExclusiveArgumentError
    from cryptography.hazmat.primitives.serialization import Encoding

    from .core import certgen, certs, credentials, fileio, pkcs11

    if any(pfx_options):
        raise MutuallyExclusiveArgumentError(
            "--password-env, --password-file and --no-password protect a PFX; with "
            "--pkcs11-module no PFX is written (the key stays on the token).",
            recommendation="Drop them; the token's PIN comes from --pin-env or --pin-file.")
    exclusive(("--pin-env", token["pin_env"]), ("--pin-file", token["pin_file"]))
    source = credentials.Pkcs11Key(**token)  # checks that the token and key labels are given
    out = Path(out).expanduser()
    if out.suffix.lower() not in (".cer", ".pem"):
        raise InvalidArgumentValueError(
            f"The output '{out}' should end in .cer or .pem: with --pkcs11-module only the "
            "public certificate is written.", recommendation="Name the file e.g. --out my-app.cer.")
    paths = {"cer": out.with_suffix(".cer"), "pem": out.with_suffix(".pem")}
    for path in paths.values():  # before the PIN prompt and the key
        fileio.check_writable(path, overwrite=force)
    name = certgen.parse_subject(subject)
    sans = [certgen.parse_san(entry) for entry in sans]
    certgen.hash_algorithm(hash_name)
    certificate = pkcs11.create_on_token(source, name, sans=sans, days=days, key_size=key_size,
                                         hash_name=hash_name, prompt=terminal_prompt())
    fileio.atomic_write_all([
        (paths["cer"], certificate.public_bytes(Encoding.DER), fileio.PUBLIC),
        (paths["pem"], certificate.public_bytes(Encoding.PEM), fileio.PUBLIC)], overwrite=force)
    return {**certs.describe(certs.LoadedCertificate(certificate, source=source.describe())),
            "pkcs11Token": source.pkcs11_token, "pkcs11Key": source.pkcs11_key,
            "pkcs11Uri": source.pkcs11_uri,
            "files": {kind: str(path) for kind, path in paths.items()}}


def cert_csr(subject, key_out, out, san=None, key_size=2048, hash_name="sha256",
             password_env=None, password_file=None, force=False):
    """Create a private key and a PKCS#10 certificate signing request for a CA."""
    from .core import certgen, fileio

    key_size = int(key_size)
    exclusive(("--password-env", password_env), ("--password-file", password_file))
    for path in (key_out, out):
        fileio.check_writable(path, overwrite=force)
    # The key is encrypted only when a source is named: no prompt, as with `openssl req -nodes`.
    password = non_empty_password(password_from(password_env, password_file), "key password",
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
    exclusive(("--key-password-env", key_password_env),
               ("--key-password-file", key_password_file))
    # The new PFX's password first: a missing source fails before we touch the inputs.
    password = new_file_password(password_env, password_file, no_password, purpose="PFX password")
    key_password = password_from(key_password_env, key_password_file, prompt=terminal_prompt())
    with key_password_hint(key_path, given=key_password_env or key_password_file):
        loaded = certgen.assemble(cert_path, key_path, tuple(chain_paths or ()),
                                  key_password=key_password)
    result = certgen.convert(loaded, "pfx", out, password=password, force=force)
    return {**certs.describe(loaded), "files": {"pfx": result["path"]}}


def cert_show(file_path=None, pfx_base64_env=None, password_env=None, password_file=None,
              key_file=None, key_password_env=None, key_password_file=None):
    """Describe a certificate: identity, thumbprints, validity, key."""
    from .core import certs

    loaded = load_certificate(file_path, pfx_base64_env, password_env, password_file,
                   key_file, key_password_env, key_password_file)
    warning = certs.expiry_warning(loaded)
    if warning:
        logger.warning(warning)
    return certs.describe(loaded)


def cert_validate(cmd, file_path=None, pfx_base64_env=None, password_env=None, password_file=None,
                  key_file=None, key_password_env=None, key_password_file=None, warn_days=30):
    """Check a certificate against what Entra ID accepts; exit non-zero when it is not valid."""
    from .core import certs

    loaded = load_certificate(file_path, pfx_base64_env, password_env, password_file,
                   key_file, key_password_env, key_password_file)
    result = certs.validate(loaded, warn_days=warn_days, key_path=key_file)
    for check in result["checks"]:
        if check["severity"] == "warning" and not check["ok"]:
            logger.warning("%s: %s", check["name"], check["detail"])
    if not result["valid"]:
        failed = [c["name"] for c in result["checks"] if c["severity"] == "error" and not c["ok"]]
        exit_after_output(cmd.cli_ctx, f"The certificate {loaded.thumbprint} is not valid: "
                                        f"failed {', '.join(failed)}.")
    return result


def cert_convert(to, out, file_path=None, pfx_base64_env=None, password_env=None,
                 password_file=None, key_file=None, key_password_env=None, key_password_file=None,
                 out_password_env=None, out_password_file=None, out_no_password=False, force=False):
    """Write a certificate (and its key and chain) in another format."""
    from .core import certgen, fileio

    fileio.check_writable(out, overwrite=force)
    out_flags = ("--out-password-env", "--out-password-file", "--out-no-password")
    out_options = tuple(zip(out_flags, (out_password_env, out_password_file, out_no_password),
                            strict=True))
    exclusive(*out_options)
    out_given = [flag for flag, value in out_options if value]
    if out_given and to == "der":
        _no_key_to_protect(out_given[0], "a DER file holds the certificate alone")
    loaded = load_certificate(file_path, pfx_base64_env, password_env, password_file,
                   key_file, key_password_env, key_password_file, require_key=to == "pfx")
    if out_given and not loaded.has_private_key:
        _no_key_to_protect(out_given[0], f"'{file_path or pfx_base64_env}' holds no private key")
    password = None
    if loaded.has_private_key and to in ("pfx", "pem"):
        password = new_file_password(out_password_env, out_password_file, out_no_password,
                                      purpose="password for the output", flags=out_flags)
    return certgen.convert(loaded, to, out, password=password, force=force)


def _no_key_to_protect(flag, why):
    """An output password option where the output has no key: refused rather than ignored."""
    from azure.cli.core.azclierror import InvalidArgumentValueError

    raise InvalidArgumentValueError(
        f"{flag} does not apply here: {why}, so the output has no private key to protect.",
        recommendation=f"Leave out {flag}; the password options of the output are for --to pfx "
                       "or pem with a key.")
