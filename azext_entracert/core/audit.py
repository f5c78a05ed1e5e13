"""The audit trail, ``audit.jsonl``: one JSON line per token acquisition, Graph change or failure.

Each line records who asked for what and how it went (time, profile, tenant, client id, the
certificate's SHA-256 thumbprint and serial, the credential kind ("certificate" for a file or
a base64 PFX, "stored-certificate", "pkcs11-key" or "client-secret", on token lines), scopes,
outcome, AADSTS code, correlation id), never a token, key or password.

A change made through Microsoft Graph (``source`` "graph") also records ``appId``, the application
changed, and ``actor``, the identity that called Graph: ``{"type": "profile", "name", "clientId",
"tenant"}`` for an entracert profile, or ``{"type": "az", "name", "userType", "tenant"}`` for the
account signed in to az (a user's sign-in name, or a service principal's client id). A command
that changes something through a ``GraphClient`` passes ``actor=graph.actor``, which
``lifecycle.admin_graph`` and the az adapter's client already carry; for a token line both are
null (the profile is the one who asked).

Appends are safe across processes: the file is opened with ``O_APPEND`` and each line goes out
in one ``os.write`` under the folder's lock, so concurrent writers never interleave or lose lines.
Reading is tolerant: a damaged line is skipped and counted, not fatal.
"""
import datetime
import json
import logging
import os
import re
from pathlib import Path

from .errors import ConfigurationError, OutputError
from .fileio import PRIVATE, file_lock

FILE_NAME = "audit.jsonl"
REDACTED = "[redacted]"

_log = logging.getLogger(__name__)
# Defence in depth: callers pass no secrets, but a JWT or a PEM block that slips into a field is
# dropped rather than persisted.
_SECRET = re.compile(r"eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*|-----BEGIN")
_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_OUTCOMES = ("success", "failure")


class AuditEntries(list):
    """The entries ``read`` returns, oldest first; ``skipped`` counts damaged lines left out."""

    skipped = 0


def record(directory, *, profile, tenant, client_id, thumbprint_sha256, serial, scopes, outcome,
           credential=None, source="network", code=None, correlation_id=None, detail=None,
           action="token", actor=None, app_id=None, now=None):
    """Append one line to ``directory``/audit.jsonl (created mode 0600) and return the entry.

    ``outcome`` is "success" or "failure"; ``code`` the AADSTS code of a failure; ``serial`` an
    int is written as upper-case hex like ``certificate show``; ``credential`` the kind that
    signed in ("certificate" or "client-secret") on a token line. Any value that looks like a JWT or
    a PEM block is written as "[redacted]".
    """
    if outcome not in _OUTCOMES:
        raise ConfigurationError(f"Audit outcome must be one of {_OUTCOMES}, not {outcome!r}.")
    if isinstance(serial, int):
        serial = format(serial, "X")
    entry = {
        "time": _iso(now or datetime.datetime.now(datetime.timezone.utc)),
        "action": action,
        "outcome": outcome,
        "source": source,
        "profile": profile,
        "tenant": tenant,
        "clientId": client_id,
        "thumbprintSha256": thumbprint_sha256,
        "serial": serial,
        "credential": credential,
        "scopes": list(scopes or []),
        "code": code,
        "correlationId": correlation_id,
        "detail": detail,
        "appId": app_id,
        "actor": actor,
    }
    entry = {key: _redact(value) for key, value in entry.items()}
    line = (json.dumps(entry, separators=(",", ":"), default=str) + "\n").encode("utf-8")
    path = Path(directory).expanduser() / FILE_NAME
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with file_lock(path):
            _append(path, line)
    except OSError as exc:
        raise OutputError(f"Cannot append to the audit trail '{path}': {exc.strerror or exc}.",
                          path=path, hint="Check free space and the folder's permissions.") from exc
    return entry


def _append(path, line):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE)
    try:
        if os.fstat(fd).st_mode & 0o077:  # made by someone else, or by an older version
            os.fchmod(fd, PRIVATE)
        written = os.write(fd, line)
        while written < len(line):  # only on a full disk or a signal; the lock keeps order
            written += os.write(fd, line[written:])
    finally:
        os.close(fd)


def _redact(value):
    if isinstance(value, str):
        return REDACTED if _SECRET.search(value) else value
    if isinstance(value, (list, tuple)):
        return [_redact(item) for item in value]
    if isinstance(value, dict):
        return {key: _redact(item) for key, item in value.items()}
    return value


def read(directory, *, profile=None, since=None, limit=None):
    """The entries of ``directory``/audit.jsonl, oldest first (newest last).

    ``profile`` keeps one profile's entries; ``since`` (a datetime, an ISO time or a relative age
    like "30m", "1h", "2d") keeps the newer ones; ``limit`` keeps the last N. A missing file is an
    empty trail; damaged lines are skipped and counted in the result's ``skipped``.
    """
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise ConfigurationError(f"The audit limit must be a whole number of 0 or more, "
                                 f"not {limit!r}.", hint="Use e.g. --limit 20.")
    cutoff = parse_since(since) if since is not None else None
    path = Path(directory).expanduser() / FILE_NAME
    entries = AuditEntries()
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return entries
    except OSError as exc:
        raise ConfigurationError(
            f"The audit trail '{path}' cannot be read: {exc.strerror or exc}.",
            hint="Check its permissions (it must be readable by you).") from exc
    for line in lines:
        if not line.strip():
            continue
        entry, moment = _parse_line(line)
        if entry is None:
            entries.skipped += 1
            continue
        if profile is not None and entry.get("profile") != profile:
            continue
        if cutoff is not None and moment < cutoff:
            continue
        entries.append((moment, entry))
    # Lines are in append order; sort (stably) so clocks of racing processes cannot misorder them.
    entries.sort(key=lambda pair: pair[0])
    entries[:] = [entry for _, entry in entries]
    if limit is not None:
        entries[:] = entries[-limit:] if limit else []
    if entries.skipped:
        _log.warning("Skipped %d damaged line(s) in the audit trail '%s'.", entries.skipped, path)
    return entries


def _parse_line(line):
    try:
        entry = json.loads(line)
        moment = _aware(datetime.datetime.fromisoformat(entry["time"]))
    except (ValueError, KeyError, TypeError):
        return None, None
    return entry, moment


def parse_since(text, *, now=None):
    """A timezone-aware UTC datetime from a datetime, an ISO time, or an age like "30m"/"2d".

    Ages count back from ``now`` (default: the current time); units are s, m, h, d and w. An ISO
    time without a zone is local time, as a user typing it means.
    """
    if isinstance(text, datetime.datetime):
        return _aware(text)
    value = str(text).strip()
    match = _RELATIVE.match(value)
    if match:
        amount, unit = int(match.group(1)), _UNITS[match.group(2).lower()]
        start = now or datetime.datetime.now(datetime.timezone.utc)
        return _aware(start) - datetime.timedelta(**{unit: amount})
    try:
        return _aware(datetime.datetime.fromisoformat(value))
    except ValueError:
        raise ConfigurationError(
            f"'{value}' is not a time: --since takes an age such as 30m, 1h, 2d or 1w, or a date "
            f"and time such as 2026-06-09 or 2026-06-09T14:00:00Z.",
            hint="Use one of those forms; a time without a zone is read as local time.") from None


def _aware(moment):
    """Naive datetimes are local time (Python's convention); the result is UTC."""
    return moment.astimezone(datetime.timezone.utc)


def _iso(moment):
    return _aware(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")
