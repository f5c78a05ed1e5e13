"""The ``az entracert emulator`` commands: the local Entra ID emulator as a background service.

Thin over ``emulator.service``, which owns starting, watching and stopping the process; errors are
core errors, mapped to az's types by ``_errors`` like every other command's. ``status`` reports a
stopped emulator as data (``"running": false``, exit 0), since asking is not a failure; ``show``
and ``stop`` need a running one and fail clearly without it.
"""


def emulator_start(state_dir=None, port=0, replication_delay=None, arm_subscriptions=None):
    """Start the emulator detached; its ready document (endpoints, tenant, CA, admin, pid)."""
    from .emulator import service

    return service.start(state_dir, port=port, replication_delay=replication_delay,
                         subscriptions=arm_subscriptions or ())


def emulator_status(state_dir=None):
    """Whether an emulator runs on the state dir, and its ready document when it does."""
    from .emulator import service

    return service.status(state_dir)


def emulator_show(state_dir=None):
    """The running emulator's endpoints and admin identity, and how to point clients at it."""
    from .core.errors import ConfigurationError
    from .emulator import service

    found = service.status(state_dir)
    if not found["running"] or "authority_host" not in found:
        raise ConfigurationError(f"No emulator is running on the state dir '{found['state_dir']}'.",
                                 hint="Start one with 'az entracert emulator start' (give the "
                                      "same --state-dir), then show it.")
    return {**found, "clients": service.client_settings(found)}


def emulator_stop(state_dir=None):
    """Stop the emulator running on the state dir (its tenant and CA stay for the next start)."""
    from .emulator import service

    return service.stop(state_dir)
