"""Client secrets on an application registration: add, list, remove (Graph addPassword and
removePassword), for development and testing; certificates are the production credential.

Graph generates each secret and shows it once, in addPassword's answer; afterwards only its
``hint`` (first three characters) is readable. So ``add`` hands the secret back to the caller
once, or writes it to a private file (0600, atomic) and returns no secret at all. An application
may not add or remove its own secrets: the caller's ``GraphClient`` is an administrator's (an
admin profile or the az account), named as ``actor`` in each audit line, which never holds the
secret (not even its hint).
"""
import contextlib
import datetime

from .errors import ConfigurationError, EntraCertError, GraphError, OutputError
from .fileio import PRIVATE, atomic_write, check_writable
from .lifecycle import audit_change
from .times import parse_iso, utc_now

MAX_DAYS = 730       # Entra ID's longest client secret lifetime: two years
DEFAULT_DAYS = 180   # what the Entra admin center recommends
_SELECT = "id,appId,displayName,passwordCredentials"


def add(graph, app_id, *, profile=None, display_name=None, days=None, out=None, force=False,
        directory=None, now=None):
    """A new client secret on application ``app_id`` valid ``days`` (at most ``MAX_DAYS``).

    Returns its description, with ``secretText`` when ``out`` is None; else the secret goes only
    into the file ``out`` (checked writable before Graph is called; if writing still fails, the
    new secret is removed again, since nobody could ever read it). ``profile`` is the profile
    concerned, for the audit trail.
    """
    days = DEFAULT_DAYS if days is None else days
    if not 1 <= days <= MAX_DAYS:
        raise ConfigurationError(
            f"--days {days} is not a client secret lifetime: Entra ID allows 1 to {MAX_DAYS} "
            "days (two years), and a secret must then be rotated by hand.",
            hint=f"Pass --days {MAX_DAYS} or less, or use a certificate (up to three years, "
                 "rotated with 'az entracert cert rotate').")
    if out:
        check_writable(out, overwrite=force)
    now = now or utc_now()
    with _explaining(graph, app_id):
        application = graph.find_application(app_id, select=_SELECT)
        created = graph.add_password(application, display_name=display_name,
                                     end=now + datetime.timedelta(days=days))
    secret = created.pop("secretText", None)
    row = describe(created, now=now)
    if out:
        try:
            atomic_write(out, (secret + "\n").encode("utf-8"), mode=PRIVATE, overwrite=force)
        except OutputError as exc:
            _withdraw(graph, application, created["keyId"], exc, profile, directory)
            raise
    audit_change(directory, profile, "app-secret-add", None, actor=graph.actor,
                 app_id=application["appId"], detail=(
        f"added client secret keyId {created['keyId']} ending {created.get('endDateTime')} on "
        f"{application['appId']}" + (f", written to {out}" if out else "")))
    return {"appId": application["appId"], **row,
            **({"file": str(out)} if out else {"secretText": secret})}


def _withdraw(graph, application, key_id, failure, profile, directory):
    """Remove a new secret that could not be written (nobody could ever read it), and audit
    both steps; if even that fails, the error names the keyId to remove by hand."""
    detail = (f"added client secret keyId {key_id} on {application['appId']}, could not write "
              f"it ({failure.message})")
    try:
        graph.remove_password(application, key_id)
    except EntraCertError as exc:  # Graph refused, or could not be reached
        audit_change(directory, profile, "app-secret-add", None, outcome="failure",
                     actor=graph.actor, app_id=application["appId"], detail=detail
                     + "; removing it failed too")
        raise OutputError(f"{failure.message.rstrip('.')}; and the new client secret (keyId "
                          f"{key_id}) could not be removed again: {exc.message}",
                          path=failure.path,
                          hint=f"Remove it with 'az entracert app secret remove --app-id "
                               f"{application['appId']} --key-id {key_id}', then fix the "
                               "output path and try again.") from failure
    audit_change(directory, profile, "app-secret-add", None, outcome="failure",
                 actor=graph.actor, app_id=application["appId"],
                 detail=detail + "; removed it again")


def listed(graph, app_id, *, now=None):
    """The client secrets of ``app_id``, described (never a secret), soonest expiry first."""
    with _explaining(graph, app_id):
        application = graph.find_application(app_id, select=_SELECT)
    return secrets_of(application, now=now)


def remove(graph, app_id, key_id, *, profile=None, directory=None, now=None):
    """Remove the client secret ``key_id`` from ``app_id``; the removed one and those left."""
    with _explaining(graph, app_id):
        application = graph.find_application(app_id, select=_SELECT)
    rows = secrets_of(application, now=now)
    doomed = [r for r in rows if str(r["keyId"]).lower() == str(key_id).lower()]
    if not doomed:
        known = "; ".join(f"keyId {r['keyId']} ({r['displayName']}, {r['hint']}...)"
                          for r in rows) or "none"
        raise ConfigurationError(
            f"Application {application['appId']} has no client secret with keyId {key_id}. "
            f"Registered: {known}.", hint="Pass one of the registered keyIds "
                                          "('az entracert app secret list').")
    with _explaining(graph, app_id):
        graph.remove_password(application, doomed[0]["keyId"])
    audit_change(directory, profile, "app-secret-remove", None, actor=graph.actor,
                 app_id=application["appId"],
                 detail=f"removed client secret keyId {doomed[0]['keyId']} from "
                        f"{application['appId']}")
    return {"removed": doomed[0], "remaining": [r for r in rows if r is not doomed[0]]}


def secrets_of(application, *, now=None):
    return sorted((describe(e, now=now) for e in application.get("passwordCredentials") or []),
                  key=lambda r: r["endDateTime"] or "")


def describe(entry, *, now=None):
    """One passwordCredential as ``app secret list`` shows it: named fields only, so a
    ``secretText`` is never passed on."""
    now = now or utc_now()
    end = parse_iso(entry.get("endDateTime"))
    return {"keyId": entry.get("keyId"), "displayName": entry.get("displayName"),
            "hint": entry.get("hint"), "startDateTime": entry.get("startDateTime"),
            "endDateTime": entry.get("endDateTime"),
            "daysLeft": (end - now).days if end else None, "expired": bool(end and now >= end)}


@contextlib.contextmanager
def _explaining(graph, app_id):
    """A 403 names who was refused, and that an application cannot manage its own secrets."""
    try:
        yield
    except GraphError as exc:
        if exc.status != 403:
            raise
        raise _refused(exc, graph, app_id) from exc


def _refused(exc, graph, app_id):
    actor = graph.actor or {}
    who = actor.get("clientId") or actor.get("name")
    return GraphError(
        f"{exc.message.rstrip('.')}. The identity calling Graph" + (f" ({who})" if who else "")
        + f" may not manage the client secrets of application {app_id}; an application may not "
          "add or remove its own.", status=exc.status, code=exc.code,
        request_id=exc.request_id,
        hint="Call as an administrator: --admin-profile NAME (a service principal with "
             "Microsoft Graph's Application.ReadWrite.All, granted with 'az entracert app "
             "permission add --api graph --role Application.ReadWrite.All --grant') or "
             "--use-az-login.")
