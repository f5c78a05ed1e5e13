"""Certificates on an application registration: list, add, remove, and what expires soon.

Who calls Graph is the caller's choice: a ``GraphClient`` built over an administrative profile
(``admin_graph``) or over the signed-in Azure CLI account (the az adapter supplies that token
provider; the core never imports azure.cli). Rotation, which needs neither, is in ``rotation``.

Every change is audited (``app-cert-add``, ``app-cert-remove``) with who made it: the client's
``actor`` (``profile_actor``/``az_actor``), set where the client is built, so ``audit_change(...,
actor=graph.actor, app_id=...)`` is all a new command needs. Every application we read is
remembered in ``KnownKeys`` (object id and keyId per thumbprint: not secret), because an
application usually may not read itself, yet rotating with its own certificate needs both.
"""
import base64
import binascii
import datetime
import hashlib
import json
import logging
import re
import time
from pathlib import Path

from . import audit
from .errors import AuthenticationError, CertificateError, ConfigurationError, NetworkError
from .fileio import locked_json_update
from .times import parse_iso, utc_now

logger = logging.getLogger("entracert")
_HEX_SHA1 = re.compile(r"^[0-9A-Fa-f]{40}$")
KNOWN_KEYS = "known_keys.json"
# What Graph just wrote and Entra ID's token endpoint may not know yet (ENTRA-FACTS 8): AADSTS
# code -> what is missing.
NOT_REPLICATED = {700016: "the application", 7000229: "its service principal",
                  700027: "the certificate"}
VERIFY_TIMEOUT = 300     # seconds a new key may take to be accepted (ENTRA-FACTS 8: up to minutes)
MAX_PAUSE = 30.0         # the longest pause between two tries


def graph_scopes(endpoint):
    """The app-only scope of a Graph endpoint (``https://graph.microsoft.com/.default``)."""
    return [f"{endpoint.rstrip('/')}/.default"]


def graph_client(endpoint, token_provider, *, ca_bundle=None, timeout=None, actor=None):
    """A GraphClient for ``endpoint`` whose bearer tokens come from ``token_provider()``;
    ``timeout`` (seconds) replaces the HTTP layer's default wait for each answer; ``actor``
    (``profile_actor``/``az_actor``) names whose tokens they are, for the audit trail."""
    from .graph import GraphClient
    from .http import HttpClient

    http = HttpClient(ca_bundle=ca_bundle, **({"timeout": timeout} if timeout else {}))
    return GraphClient(endpoint=endpoint, token_provider=token_provider, http=http, actor=actor)


def profile_actor(profile):
    """The audit trail's ``actor`` of Graph calls made as an entracert profile."""
    return {"type": "profile", "name": profile.name, "clientId": profile.client_id,
            "tenant": profile.tenant}


def az_actor(name, *, user_type, tenant):
    """The audit trail's ``actor`` of Graph calls made as the account signed in to az
    (``name``: a user's sign-in name, or a service principal's client id; ``user_type``: az's
    "user" or "servicePrincipal")."""
    return {"type": "az", "name": name, "userType": user_type, "tenant": tenant}


def admin_graph(admin_profile, *, directory=None, prompt=None, timeout=None):
    """A GraphClient that calls as ``admin_profile`` with app-only Graph tokens.

    To manage other applications it needs Application.ReadWrite.All (or ...OwnedBy); rotation
    uses it with the application's own profile, which needs no permission for addKey/removeKey.
    """
    from . import tokens

    scopes = graph_scopes(admin_profile.graph_endpoint)
    return graph_client(admin_profile.graph_endpoint, lambda: tokens.acquire(
        admin_profile, scopes, directory=directory, prompt=prompt).token,
        ca_bundle=admin_profile.ca_bundle, timeout=timeout, actor=profile_actor(admin_profile))


def wait_for_token(profile, *, directory=None, prompt=None, timeout=VERIFY_TIMEOUT, delay=2.0,
                   waiting_for=tuple(NOT_REPLICATED)):
    """A fresh Graph token for ``profile``, tried again with growing pauses (from ``delay``,
    doubling up to ``MAX_PAUSE``) while Entra ID does not know yet what Graph just wrote (the
    AADSTS codes ``waiting_for``: a new application, service principal or key reaches every
    replica in seconds to minutes) or cannot be reached, for at most ``timeout`` seconds; then
    the last error. Progress is logged."""
    from . import tokens

    started, pause = time.monotonic(), delay
    while True:
        try:
            return tokens.acquire(profile, graph_scopes(profile.graph_endpoint), force=True,
                                  directory=directory, prompt=prompt)
        except (AuthenticationError, NetworkError) as exc:
            if isinstance(exc, AuthenticationError) and exc.code not in waiting_for:
                raise
            waited = time.monotonic() - started
            if waited + pause > timeout:
                raise
            why = (f"Entra ID does not know {NOT_REPLICATED[exc.code]} yet (AADSTS{exc.code})"
                   if isinstance(exc, AuthenticationError) else str(exc.message).rstrip("."))
            logger.warning("No token yet for the new certificate %s: %s. Trying again in %g s "
                           "(waited %.1f s of at most %g s).", profile.thumbprint, why, pause,
                           waited, timeout)
            time.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE)


# --- Reading credentials ----------------------------------------------------------------------

def entry_thumbprint(entry):
    """The SHA-1 thumbprint (upper hex) of a Graph keyCredential, whatever form Graph gives.

    ``customKeyIdentifier`` is upper hex in practice and base64 of the raw SHA-1 in the portal's
    manifest (ENTRA-FACTS 5.2); both are accepted. Otherwise the DER in ``key`` is hashed.
    """
    custom = entry.get("customKeyIdentifier")
    if isinstance(custom, str) and _HEX_SHA1.match(custom):
        return custom.upper()
    if isinstance(custom, str):
        try:
            raw = base64.b64decode(custom, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) == 20:
            return raw.hex().upper()
    if entry.get("key"):
        try:
            return hashlib.sha1(base64.b64decode(entry["key"])).hexdigest().upper()
        except (binascii.Error, ValueError):
            return None
    return None


def describe_entry(entry, *, local_thumbprint=None, now=None):
    """One registered certificate as the ``app cert list`` row shows it."""
    now = now or utc_now()
    end = parse_iso(entry.get("endDateTime"))
    thumbprint = entry_thumbprint(entry)
    return {
        "keyId": entry.get("keyId"),
        "thumbprint": thumbprint,
        "displayName": entry.get("displayName"),
        "startDateTime": entry.get("startDateTime"),
        "endDateTime": entry.get("endDateTime"),
        "daysLeft": (end - now).days if end else None,
        "expired": bool(end and now >= end),
        "isLocal": bool(thumbprint and local_thumbprint and thumbprint == local_thumbprint.upper()),
        "type": entry.get("type"),
        "usage": entry.get("usage"),
    }


def certificates_of(application, *, local_thumbprint=None, now=None):
    """The X.509 key credentials of ``application``, described, soonest expiry first."""
    rows = [describe_entry(e, local_thumbprint=local_thumbprint, now=now)
            for e in application.get("keyCredentials") or []
            if e.get("type") in (None, "AsymmetricX509Cert", "X509CertAndPassword")]
    return sorted(rows, key=lambda r: r["endDateTime"] or "")


def list_certificates(graph, profile, *, app_id=None, directory=None, now=None):
    """The certificates registered on the profile's application (or ``app_id``)."""
    application = graph.find_application(app_id or profile.client_id)
    KnownKeys(directory).remember(application)
    return certificates_of(application, local_thumbprint=profile.thumbprint, now=now)


# --- Changing credentials ---------------------------------------------------------------------

def add_certificate(graph, profile, path, *, password=None, display_name=None, app_id=None,
                    directory=None, now=None):
    """Register the public part of the certificate in ``path`` on the application, keeping every
    existing credential. Refuses a certificate ``certs.validate`` fails, and a duplicate."""
    from . import certs

    loaded = certs.load(path, password=password)
    public = certs.LoadedCertificate(loaded.certificate, None, (), loaded.source)  # never the key
    result = certs.validate(public, now=now)
    if not result["valid"]:
        failed = [f"{c['name']} ({c['detail']})" for c in result["checks"]
                  if c["severity"] == "error" and not c["ok"]]
        raise CertificateError(
            f"The certificate {public.thumbprint} in '{public.source}' is not fit to register: "
            f"{'; '.join(failed)}.", path=public.source, thumbprint=public.thumbprint,
            hint=f"Run 'az entracert cert validate --file {public.source}' for details, and "
                 "register a certificate that passes.")
    application = graph.find_application(app_id or profile.client_id)
    for entry in application.get("keyCredentials") or []:
        if entry_thumbprint(entry) == public.thumbprint:
            raise ConfigurationError(
                f"The certificate {public.thumbprint} is already registered on application "
                f"{application['appId']} (keyId {entry.get('keyId')}).",
                hint="Nothing to do; 'az entracert app cert list' shows the registered ones.")
    entry = graph.append_key_credential(application, public, display_name=display_name)
    known = KnownKeys(directory)
    known.remember(application)
    known.add(application["appId"], public.thumbprint, entry["keyId"])
    audit_change(directory, profile, "app-cert-add", public, actor=graph.actor,
                 app_id=application["appId"], detail=(
        f"registered {public.thumbprint} as keyId {entry['keyId']} on {application['appId']}"))
    return describe_entry(entry, local_thumbprint=profile.thumbprint, now=now)


def remove_certificate(graph, profile, *, thumbprint=None, key_id=None, force=False, app_id=None,
                       directory=None, now=None):
    """Remove exactly one certificate (by thumbprint or keyId) from the application.

    Without ``force`` it refuses to remove the profile's own certificate or the application's
    last valid one: either would lock the profile (or every addKey rotation) out.
    """
    if bool(thumbprint) == bool(key_id):
        raise ConfigurationError("Name the certificate to remove once: by thumbprint or keyId.",
                                 hint="Pass --thumbprint X or --key-id K.")
    now = now or utc_now()
    application = graph.find_application(app_id or profile.client_id)
    entries = application.get("keyCredentials") or []
    wanted = (thumbprint or "").replace(":", "").upper()
    matches = [e for e in entries if (key_id and str(e.get("keyId")).lower() == key_id.lower())
               or (wanted and entry_thumbprint(e) == wanted)]
    if len(matches) != 1:
        known = "; ".join(f"keyId {e.get('keyId')} thumbprint {entry_thumbprint(e)}"
                          f" ({e.get('displayName')})" for e in entries) or "none"
        what = f"thumbprint {thumbprint}" if thumbprint else f"keyId {key_id}"
        raise ConfigurationError(
            f"Application {application['appId']} has {len(matches) or 'no'} certificate(s) with "
            f"{what}. Registered: {known}.", hint="Pass one of the registered values.")
    doomed = matches[0]
    doomed_thumbprint = entry_thumbprint(doomed)
    others_valid = [e for e in entries if e is not doomed and _valid(e, now)]
    if not force and doomed_thumbprint and profile.thumbprint == doomed_thumbprint \
            and application["appId"].lower() == profile.client_id.lower():
        raise ConfigurationError(
            f"The certificate {doomed_thumbprint} is the one profile '{profile.name}' signs in "
            "with; removing it stops the profile from getting tokens.",
            hint="Rotate first ('az entracert cert rotate'), or pass --force if the certificate "
                 "is compromised and must go now.")
    if not force and _valid(doomed, now) and not others_valid:
        raise ConfigurationError(
            f"The certificate {doomed_thumbprint} is the last valid certificate of application "
            f"{application['appId']}; without it the application cannot sign in or roll its keys.",
            hint="Register a replacement first ('az entracert app cert add'), or pass --force.")
    kept = [e for e in entries if e is not doomed]
    graph.set_key_credentials(application, kept)
    KnownKeys(directory).forget(application["appId"], doomed_thumbprint)
    audit_change(directory, profile, "app-cert-remove", None, actor=graph.actor,
                 app_id=application["appId"], detail=(
        f"removed {doomed_thumbprint} (keyId {doomed.get('keyId')}) from {application['appId']}"))
    return {"removed": describe_entry(doomed, local_thumbprint=profile.thumbprint, now=now),
            "remaining": certificates_of({"keyCredentials": kept},
                                         local_thumbprint=profile.thumbprint, now=now)}


def expiring(profiles, *, days=30, graph=None, directory=None, now=None):
    """Certificates of ``profiles`` expiring within ``days``: each profile's local certificate
    and, when ``graph`` is given and reachable, those registered on its application.

    Returns ``{"days", "expiring": [...], "checked": [names], "warnings": [...]}``; a Graph
    failure for one profile is a warning, not the end of the scan.
    """
    from .errors import EntraCertError

    now = now or utc_now()
    horizon = now + datetime.timedelta(days=days)
    found, warnings = [], []
    for profile in profiles:
        if profile.expires and profile.expires <= horizon:
            found.append({"profile": profile.name, "where": "local",
                          "thumbprint": profile.thumbprint, "keyId": None,
                          "notAfter": profile.not_after,
                          "daysLeft": (profile.expires - now).days,
                          "expired": now >= profile.expires, "file": profile.certificate})
        if graph is None:
            continue
        try:
            registered = list_certificates(graph, profile, directory=directory, now=now)
        except EntraCertError as exc:
            warnings.append(f"profile '{profile.name}': registered certificates not checked: "
                            f"{exc.message}")
            continue
        for row in registered:
            end = parse_iso(row["endDateTime"])
            if end and end <= horizon:
                found.append({"profile": profile.name, "where": "registered",
                              "thumbprint": row["thumbprint"], "keyId": row["keyId"],
                              "notAfter": row["endDateTime"], "daysLeft": row["daysLeft"],
                              "expired": row["expired"], "file": None})
    return {"days": days, "expiring": sorted(found, key=lambda r: r["notAfter"] or ""),
            "checked": [p.name for p in profiles], "warnings": warnings}


# --- What we know about applications ----------------------------------------------------------

class KnownKeys:
    """``known_keys.json``: per appId, the object id, the keyId of each thumbprint we saw, and the
    rotation under way (``pending``: see ``rotation``), if any.

    An application signing in with its own certificate usually may not read its registration,
    but a proof for addKey names its object id and removeKey needs the old keyId. Nothing here is
    secret; the file is still private (0600) like the rest of the entracert folder.
    """

    def __init__(self, directory=None):
        from .profiles import config_dir

        self.path = Path(directory or config_dir()) / KNOWN_KEYS

    def get(self, app_id):
        """``{"objectId": ..., "keys": {THUMBPRINT: keyId}}`` or None."""
        return self._read().get(app_id.lower())

    def remember(self, application):
        """Record the full set of an application's certificates, as just read from Graph."""
        keys = {entry_thumbprint(e): e["keyId"] for e in application.get("keyCredentials") or []
                if entry_thumbprint(e) and e.get("keyId")}
        with self._change() as data:
            record = data.setdefault(application["appId"].lower(), {})
            record.update(objectId=application["id"], keys=keys)

    def add(self, app_id, thumbprint, key_id, *, object_id=None):
        with self._change() as data:
            record = data.setdefault(app_id.lower(), {"objectId": object_id, "keys": {}})
            record["objectId"] = object_id or record.get("objectId")
            record["keys"][thumbprint] = key_id

    def forget(self, app_id, thumbprint):
        with self._change() as data:
            data.get(app_id.lower(), {}).get("keys", {}).pop(thumbprint, None)

    def pending(self, app_id):
        """The record of the application's unfinished rotation, or None."""
        return (self.get(app_id) or {}).get("pending")

    def set_pending(self, app_id, record):
        """Replace the record of the unfinished rotation (None: there is none)."""
        with self._change() as data:
            entry = data.setdefault(app_id.lower(), {"objectId": None, "keys": {}})
            if record is None:
                entry.pop("pending", None)
            else:
                entry["pending"] = record

    def _read(self):
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}  # a cache of what Graph says: when damaged, Graph is asked again

    def _change(self):
        return locked_json_update(self.path, self._read)


# --- Helpers ------------------------------------------------------------------------------------

def _valid(entry, now):
    start, end = parse_iso(entry.get("startDateTime")), parse_iso(entry.get("endDateTime"))
    return (start is None or start <= now) and (end is None or now < end)


def audit_change(directory, profile, action, loaded, *, outcome="success", detail=None,
                 actor=None, app_id=None):
    """One audit line for a lifecycle step: ``profile`` the one concerned (None when there is
    none yet), ``loaded`` the certificate concerned (if any), ``actor`` who made the change
    (``graph.actor`` of the client that made it), ``app_id`` the application changed."""
    from .profiles import config_dir

    audit.record(directory or config_dir(), profile=getattr(profile, "name", None),
                 tenant=getattr(profile, "tenant", None),
                 client_id=getattr(profile, "client_id", None),
                 thumbprint_sha256=loaded.thumbprint_sha256 if loaded else None,
                 serial=loaded.serial if loaded else None, scopes=[],
                 outcome=outcome, source="graph", action=action, detail=detail, actor=actor,
                 app_id=app_id or getattr(profile, "client_id", None))
