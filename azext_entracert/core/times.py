"""Time as entracert writes and reads it: aware UTC datetimes and ISO 8601 text ending in ``Z``.

Certificates, Graph key credentials (ENTRA-FACTS 5.2), profiles and command output all speak
whole-second UTC (``2026-06-09T14:00:00Z``). One formatter and one tolerant parser keep them
identical, so a thumbprint's ``notAfter`` in ``cert show`` matches the one in ``app cert list``.
"""
import datetime

UTC = datetime.timezone.utc


def utc_now():
    """The current time as an aware UTC datetime."""
    return datetime.datetime.now(UTC)


def iso_z(moment):
    """``moment`` (aware) as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC; None stays None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text):
    """An aware UTC datetime from ISO text (``Z``, an offset, or none: then UTC, as Graph means).

    None for empty or unreadable text: the values come from Graph or a hand-editable file, and an
    unknown date is better reported as unknown than as a crash.
    """
    if not text or not isinstance(text, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
