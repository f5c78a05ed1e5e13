"""The emulator's persistent tenant: applications, service principals and role assignments.

Everything lives in one JSON document, ``tenant.json`` in the state dir, rewritten atomically on
every change so a restarted emulator still knows yesterday's registrations. Entities are stored in
Microsoft Graph's own shapes (``application``, ``servicePrincipal``, ``appRoleAssignment``) so that
Graph can return them nearly as stored.

All access goes through ``TenantState.read()`` (a consistent snapshot under the lock) or
``TenantState.transaction()`` (mutate, then persist on a clean exit; an exception discards the
change). Client secrets are stored as salted SHA-256 hashes, never in clear.

As in Entra, an application and its service principal are separate objects: ``create_application``
makes the application only, ``add_service_principal`` its service principal (Graph's ``POST
/servicePrincipals``), and only an application with a service principal can sign in or be a
token's resource. Private fields (names starting with ``_``) are never returned by Graph:
``_createdAt`` (epoch seconds of the emulator clock) and ``_replicationDelay`` on applications,
service principals and key credentials written through Graph let the token endpoint ignore
them until ``replicated`` (Entra's replication lag, on demand).
"""
import base64
import contextlib
import copy
import datetime
import functools
import hashlib
import json
import secrets
import threading
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from ..core import certs
from ..core.errors import ConfigurationError
from ..core.fileio import PRIVATE, atomic_write
from ..core.profiles import GUID
from ..core.times import iso_z as graph_time
from ..core.times import parse_iso
from ..core.times import utc_now as utcnow

# First-party resources every Entra tenant has. App role ids are Microsoft Graph's real ones, so a
# token's ``roles`` claim reads as it would against the real service.
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
ARM_APP_ID = "797f4846-ba00-4fd7-ba43-dac1f8f63013"
APPLICATION_READWRITE_ALL = "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9"
APPLICATION_READWRITE_OWNEDBY = "18a4783c-866b-4cc7-a460-3d5e5662c884"


def _graph_role(role_id, value, display_name):
    return {"id": role_id, "value": value, "displayName": display_name,
            "allowedMemberTypes": ["Application"],
            "description": f"Allows the app to {display_name[0].lower()}{display_name[1:]}, "
                           "without a signed-in user.",
            "isEnabled": True, "origin": "Application"}


# A realistic subset of Microsoft Graph's application permissions, under their real ids (the
# permissions reference, learn.microsoft.com/graph/permissions-reference), so that
# `app permission add --api graph --role User.Read.All` means the same here and in Entra ID.
GRAPH_APP_ROLES = [
    _graph_role("9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30", "Application.Read.All",
                "Read all applications"),
    _graph_role(APPLICATION_READWRITE_ALL, "Application.ReadWrite.All",
                "Read and write all applications"),
    _graph_role(APPLICATION_READWRITE_OWNEDBY, "Application.ReadWrite.OwnedBy",
                "Manage apps that this app creates or owns"),
    _graph_role("06b708a9-e830-4db3-a914-8e69da51d44f", "AppRoleAssignment.ReadWrite.All",
                "Manage app permission grants and app role assignments"),
    _graph_role("7ab1d382-f21e-4acd-a863-ba3e13f7da61", "Directory.Read.All",
                "Read directory data"),
    _graph_role("19dbc75e-c2e2-444c-a770-ec69d8559fc7", "Directory.ReadWrite.All",
                "Read and write directory data"),
    _graph_role("5b567255-7703-4780-807c-7be8301ae99b", "Group.Read.All", "Read all groups"),
    _graph_role("df021288-bdef-4463-88db-98f22de89214", "User.Read.All",
                "Read all users' full profiles"),
]
FIRST_PARTY = {
    GRAPH_APP_ID: {
        "displayName": "Microsoft Graph",
        "servicePrincipalNames": [GRAPH_APP_ID, "https://graph.microsoft.com",
                                  "https://graph.microsoft.com/"],
        "appRoles": GRAPH_APP_ROLES,
    },
    ARM_APP_ID: {
        "displayName": "Windows Azure Service Management API",
        "servicePrincipalNames": [ARM_APP_ID, "https://management.core.windows.net/",
                                  "https://management.azure.com/", "https://management.azure.com"],
        "appRoles": [],
    },
}


def sync_first_party(data):
    """Give Microsoft Graph's and ARM's service principals today's ``FIRST_PARTY`` app roles,
    keeping the rest: a state dir from an older emulator then offers every role this one does
    (role ids never change, so existing assignments stay valid)."""
    for app_id, resource in FIRST_PARTY.items():
        sp = service_principal_for(data, app_id)
        if sp is not None:
            known = {role["id"] for role in sp.get("appRoles") or []}
            sp["appRoles"] = [*(sp.get("appRoles") or []), *copy.deepcopy(
                [role for role in resource["appRoles"] if role["id"] not in known])]


def is_guid(value):
    return isinstance(value, str) and bool(GUID.match(value))


def parse_graph_time(text):
    """A Graph DateTimeOffset (``Z`` or an offset, with or without fractions) as aware UTC;
    ValueError when it is not one (``core.times.parse_iso`` answers None instead)."""
    moment = parse_iso(text)
    if moment is None:
        raise ValueError(f"not a date and time: {str(text)[:40]!r}")
    return moment


def hash_secret(secret, salt=None):
    salt = salt or secrets.token_hex(16)
    return salt, hashlib.sha256((salt + secret).encode("utf-8")).hexdigest()


class TenantState:
    """The tenant document under ``state_dir/tenant.json``, guarded by one re-entrant lock."""

    FILE = "tenant.json"
    TABLES = ("applications", "servicePrincipals")

    def __init__(self, state_dir, *, tenant_domain="entracert-emulator.onmicrosoft.com"):
        self.path = Path(state_dir) / self.FILE
        self._lock = threading.RLock()
        if self.path.exists():
            self._data = self._load()
        else:
            self._data = self._new_tenant(tenant_domain)
            self._save(self._data)

    @property
    def tenant_id(self):
        return self._data["tenant"]["id"]

    @property
    def tenant_domain(self):
        return self._data["tenant"]["domain"]

    @contextlib.contextmanager
    def read(self):
        """A consistent view of the document; do not mutate it."""
        with self._lock:
            yield self._data

    @contextlib.contextmanager
    def transaction(self):
        """Mutate a working copy; it replaces the document (and the file) only on a clean exit.

        The file is written first: if that fails, memory keeps the old document too, so what the
        emulator serves never runs ahead of what a restart would read. Readers holding the old
        document keep a consistent view, since it is never mutated in place."""
        with self._lock:
            working = copy.deepcopy(self._data)
            yield working
            self._save(working)
            self._data = working

    def _load(self):
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not (isinstance(data, dict) and isinstance(data.get("tenant"), dict)
                    and all(isinstance(data.get(k), dict) for k in self.TABLES)):
                raise ValueError("it is not an emulator tenant document")
        except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError included
            raise ConfigurationError(
                f"The emulator state file {self.path} cannot be read: {exc}.",
                hint="Restore it, or delete it (or use a fresh --state-dir) to start a new "
                     "tenant.") from exc
        return data

    def _save(self, data):
        atomic_write(self.path, json.dumps(data, indent=1).encode("utf-8"), mode=PRIVATE,
                     overwrite=True)

    def _new_tenant(self, domain):
        data = {
            "tenant": {"id": str(uuid.uuid4()), "domain": domain,
                       "displayName": "entracert emulator"},
            "applications": {},
            "servicePrincipals": {},
            "appRoleAssignments": [],
        }
        for app_id, resource in FIRST_PARTY.items():
            sp = new_service_principal(app_id, resource["displayName"], resource["appRoles"])
            sp["servicePrincipalNames"] = list(resource["servicePrincipalNames"])
            data["servicePrincipals"][sp["id"]] = sp
        return data


# --- Domain operations on a document (call them inside ``transaction()`` or ``read()``). ---

def new_service_principal(app_id, display_name, app_roles=(), identifier_uris=()):
    return {
        "id": str(uuid.uuid4()),
        "appId": app_id,
        "displayName": display_name,
        "servicePrincipalType": "Application",
        "accountEnabled": True,
        "appRoles": copy.deepcopy(list(app_roles)),
        "servicePrincipalNames": [app_id, *identifier_uris],
    }


def create_application(data, fields):
    """Add an application (Graph shape), without a service principal; return the application."""
    app = {
        "id": str(uuid.uuid4()),
        "appId": str(uuid.uuid4()),
        "displayName": fields.get("displayName") or "",
        "identifierUris": list(fields.get("identifierUris") or []),
        "keyCredentials": list(fields.get("keyCredentials") or []),
        "passwordCredentials": [],
        "appRoles": list(fields.get("appRoles") or []),
        "api": fields.get("api") or {"requestedAccessTokenVersion": None},
        "signInAudience": fields.get("signInAudience") or "AzureADMyOrg",
        "createdDateTime": graph_time(utcnow()),
    }
    data["applications"][app["id"]] = app
    return app


def add_service_principal(data, app):
    """Add the service principal of ``app`` (the caller checks there is none yet); return it."""
    sp = new_service_principal(app["appId"], app["displayName"], app.get("appRoles") or [],
                               app.get("identifierUris") or [])
    data["servicePrincipals"][sp["id"]] = sp
    return sp


def delete_service_principal(data, sp_id):
    """Remove a service principal and every role assignment touching it."""
    del data["servicePrincipals"][sp_id]
    data["appRoleAssignments"] = [a for a in data["appRoleAssignments"]
                                  if sp_id not in (a["principalId"], a["resourceId"])]


def delete_application(data, object_id):
    """Remove an application, its service principal and every role assignment touching it."""
    app = data["applications"].pop(object_id)
    sp = service_principal_for(data, app["appId"])
    if sp is not None:
        delete_service_principal(data, sp["id"])
    return app


def application_by_app_id(data, app_id):
    # GUIDs compare case-insensitively, as Entra does with a client id typed in upper case.
    wanted = app_id.lower()
    return next((a for a in data["applications"].values() if a["appId"].lower() == wanted), None)


def service_principal_for(data, app_id):
    wanted = app_id.lower()
    return next((s for s in data["servicePrincipals"].values() if s["appId"].lower() == wanted),
                None)


def stamp_created(entity, now, replication_delay=0):
    """Record when Graph wrote ``entity`` and, if it lags, how long the token endpoint must
    ignore it."""
    entity["_createdAt"] = now
    if replication_delay:
        entity["_replicationDelay"] = replication_delay


def replicated(entity, now):
    """Whether the token endpoint sees ``entity`` at ``now`` (objects without stamps: always)."""
    return now >= entity.get("_createdAt", 0) + entity.get("_replicationDelay", 0)


def sync_service_principal(data, app):
    """Keep the SP's roles and names in step after its application changed."""
    sp = service_principal_for(data, app["appId"])
    if sp is not None:
        sp["displayName"] = app["displayName"]
        sp["appRoles"] = copy.deepcopy(app.get("appRoles") or [])
        sp["servicePrincipalNames"] = [app["appId"], *app.get("identifierUris", [])]


def resource_for_audience(data, audience, origin_netlocs=()):
    """The service principal a token audience (its appId or one of its app's ``identifierUris``,
    i.e. a ``servicePrincipalNames`` entry) names, or None. ``api://{appId}`` is not implicit:
    as in Entra it resolves only when the app lists it in ``identifierUris``.

    The emulator's own origin (any of ``origin_netlocs``, with or without a trailing ``/``) is
    Microsoft Graph, as ``az cloud register --endpoint-microsoft-graph-resource-id`` points it
    there. One function for the STS (scope to resource) and Graph (is this token for me?), so
    both agree on every audience."""
    parts = urlsplit(audience)
    if (parts.scheme == "https" and parts.netloc.lower() in origin_netlocs
            and parts.path in ("", "/")):
        return service_principal_for(data, GRAPH_APP_ID)
    wanted = {audience, audience.rstrip("/"), audience.rstrip("/") + "/"}
    for sp in data["servicePrincipals"].values():
        if set(sp.get("servicePrincipalNames", [])) & wanted:
            return sp
    return None


def assign_app_role(data, principal_id, resource_id, app_role_id):
    """Grant an application role of ``resource_id`` (SP) to ``principal_id`` (SP); idempotent."""
    for existing in data["appRoleAssignments"]:
        if (existing["principalId"], existing["resourceId"], existing["appRoleId"]) == (
                principal_id, resource_id, app_role_id):
            return existing
    principal = data["servicePrincipals"][principal_id]
    resource = data["servicePrincipals"][resource_id]
    assignment = {
        "id": secrets.token_urlsafe(32),
        "principalId": principal_id,
        "principalType": "ServicePrincipal",
        "principalDisplayName": principal["displayName"],
        "resourceId": resource_id,
        "resourceDisplayName": resource["displayName"],
        "appRoleId": app_role_id,
        "createdDateTime": graph_time(utcnow()),
    }
    data["appRoleAssignments"].append(assignment)
    return assignment


def app_role(resource, value):
    """The application role named ``value`` on service principal ``resource`` (KeyError: none)."""
    role = next((r for r in resource.get("appRoles") or [] if r["value"] == value), None)
    if role is None:
        raise KeyError(f"{resource['displayName']} has no application role {value}")
    return role


def roles_of(data, principal_id, resource_id):
    """The role *values* ``principal_id`` holds on ``resource_id``, as a token's ``roles`` claim."""
    resource = data["servicePrincipals"].get(resource_id) or {}
    by_id = {role["id"]: role["value"] for role in resource.get("appRoles", [])}
    return sorted({by_id[a["appRoleId"]] for a in data["appRoleAssignments"]
                   if a["principalId"] == principal_id and a["resourceId"] == resource_id
                   and a["appRoleId"] in by_id})


# --- Credentials (shared by Graph's addPassword/PATCH and the STS). ---

# Stored beside a passwordCredential, never returned by Graph: strip them on the way out.
SECRET_FIELDS = ("secretSalt", "secretHash")


def add_password_credential(app, *, display_name=None, start=None, end=None):
    """Add a client secret to ``app`` (in a transaction); return ``(graph_view, secret_text)``.

    Only a salted hash is stored; ``graph_view`` is the passwordCredential as Graph's addPassword
    answers it (with ``secretText``, the one time the secret is shown)."""
    secret = secrets.token_urlsafe(30)
    salt, digest = hash_secret(secret)
    start = start or utcnow()
    stored = {
        "customKeyIdentifier": None,
        "displayName": display_name,
        "endDateTime": graph_time(end or start + datetime.timedelta(days=365 * 2)),
        "hint": secret[:3],
        "keyId": str(uuid.uuid4()),
        "secretText": None,
        "startDateTime": graph_time(start),
        "secretSalt": salt,
        "secretHash": digest,
    }
    app.setdefault("passwordCredentials", []).append(stored)
    view = {k: v for k, v in stored.items() if k not in SECRET_FIELDS}
    view["secretText"] = secret
    return view, secret


@functools.lru_cache(maxsize=4096)
def parsed_key(key_b64):
    """The certificate in a keyCredential's ``key`` (base64 DER) with its public key and the
    thumbprints a JWT header may name it by (``x5t``/``x5t#S256`` unpadded, upper hex SHA-1);
    None when it is not a DER certificate. Cached: the token endpoint and addKey proofs look keys
    up on every request, and a stored key never changes."""
    from cryptography import x509

    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode(key_b64))
    except (ValueError, TypeError):
        return None
    return {"certificate": certificate, "public_key": certificate.public_key(),
            "x5t": certs.normalize_b64url(certs.x5t(certificate)),
            "x5t#S256": certs.normalize_b64url(certs.x5t_s256(certificate)),
            "hex": certs.sha1_thumbprint(certificate)}


def secret_matches(credential, secret):
    """Whether ``secret`` is the one stored (hashed) in ``credential``; constant time."""
    salt, stored = credential.get("secretSalt"), credential.get("secretHash")
    if not salt or not stored:
        return False
    return secrets.compare_digest(hash_secret(secret, salt)[1], stored)
