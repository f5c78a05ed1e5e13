"""A local Microsoft Entra ID + Microsoft Graph emulator: real TLS on loopback, real HTTP.

Run it with ``python -m azext_entracert.emulator --state-dir DIR``, in the background with
``az entracert emulator start`` (``service``), or in-process with ``Emulator(state_dir)`` (a
context manager). Modules: ``runner`` (``Emulator``), ``server``
(HTTPS server, routing, request log, faults), ``sts`` (discovery, JWKS, token endpoint),
``aadsts`` (Entra's error catalogue), ``pki`` (CA, TLS and signing keys), ``state`` (the persisted
tenant), ``graph`` (the Microsoft Graph subset), ``odata`` (Graph's query options), ``arm`` (the
Resource Manager subset, on its own port), ``wire`` (request/response values and input limits),
``service`` (start, status and stop of a detached emulator).

Importing this package is free: ``Emulator`` is loaded on first use.
"""

__all__ = ["Emulator"]


def __getattr__(name):
    if name == "Emulator":
        from .runner import Emulator

        return Emulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
