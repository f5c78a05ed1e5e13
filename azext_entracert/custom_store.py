"""The ``az entracert store`` commands: the certificate store, by thumbprint (``core.store``)."""
from knack.log import get_logger

from ._support import exclusive, terminal_prompt

logger = get_logger(__name__)


def store_import(file_path, password_env=None, password_file=None):
    """Keep a certificate and its key in the store, as imported (still encrypted if it was)."""
    from .core.store import CertificateStore

    exclusive(("--password-env", password_env), ("--password-file", password_file))
    store = CertificateStore()
    entry, created = store.import_certificate(
        file_path, password_env=password_env, password_file=password_file,
        prompt=terminal_prompt())
    if not created:
        logger.warning("The certificate %s is already in the store; its entry was kept as it "
                       "was (to change it, remove it first).", entry.thumbprint)
    return _shown(store, entry)


def store_list():
    """Every stored certificate, soonest expiry first."""
    from .core.store import CertificateStore

    store = CertificateStore()
    return [_shown(store, entry) for entry in store.list()]


def store_show(thumbprint):
    """One stored certificate, found by any form of its SHA-1 or SHA-256 thumbprint."""
    from .core.store import CertificateStore

    store = CertificateStore()
    return _shown(store, store.get(thumbprint))


def store_remove(thumbprint):
    """Remove a certificate and its key from the store (az asks unless --yes)."""
    from .core.store import CertificateStore

    store = CertificateStore()
    return {"removed": _shown(store, store.remove(thumbprint))}


def _shown(store, entry):
    """An entry as az prints it: camelCase like every other command's output."""
    return {"thumbprint": entry.thumbprint, "thumbprintSha256": entry.thumbprint_sha256,
            "subject": entry.subject, "notBefore": entry.not_before, "notAfter": entry.not_after,
            "encrypted": entry.encrypted, "passwordEnv": entry.password_env,
            "passwordFile": entry.password_file, "importedFrom": entry.imported_from,
            "importedAt": entry.imported_at, "file": str(store.folder / entry.file)}
