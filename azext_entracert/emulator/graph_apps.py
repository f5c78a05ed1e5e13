"""Application handlers of the emulated Graph: CRUD and the credential actions.

A mixin of ``graph._Call`` (which supplies ``body``, ``context``, ``manager``, ``view``,
``listing``, ``caller``, ``now``, ``address``); the rules and UNVERIFIED choices are listed in the
``graph`` module docstring.
"""
import copy

from . import state as st
from .graph_keys import (
    GraphError,
    bad_request,
    merge_key_credentials,
    new_key_credential,
    not_found,
    parse_date,
    utc_from_epoch,
    valid_certificates,
    verify_proof,
)
from .state import is_guid
from .wire import Response, json_response

SECRET_LIFETIME = 2 * 365 * 86400
SERVICE_ACTIONS = "New password credentials must be generated using service actions."
# What a passwordCredential sent on create may name; Graph itself chooses keyId, secretText, hint.
PASSWORD_FIELDS = {"displayName", "startDateTime", "endDateTime", "customKeyIdentifier", "hint",
                   "keyId", "secretText"}
# Application properties a client may write, with the JSON type each must have.
WRITABLE = {
    "displayName": str, "identifierUris": list, "appRoles": list, "api": dict,
    "signInAudience": str, "tags": list, "notes": (str, type(None)),
    "description": (str, type(None)),
    "requiredResourceAccess": list, "web": dict, "spa": dict, "publicClient": dict, "info": dict,
    "isFallbackPublicClient": (bool, type(None)), "optionalClaims": (dict, type(None)),
}
READ_ONLY = {"id", "appId", "createdDateTime", "deletedDateTime", "publisherDomain"}
# Graph's documented string limits (application and servicePrincipal resources); longer is a 400.
MAX_LENGTH = {"displayName": 256, "description": 1024, "notes": 1024}


def _too_long(name, value):
    return isinstance(value, str) and len(value) > MAX_LENGTH.get(name, len(value))


def check_settable(name, value, writable, *, odata_type, resource, covers_read_only=False):
    """Refuse, with Graph's 400, a property ``writable`` does not name (``covers_read_only``: the
    table also leaves out read-only ones, and the message allows for that) or a value of the wrong
    JSON type or over Graph's length limit."""
    if name not in writable:
        raise bad_request(f"Property '{name}' does not exist on type '{odata_type}'"
                          + (" or cannot be set." if covers_read_only else "."))
    if not isinstance(value, writable[name]) or _too_long(name, value):
        raise bad_request(f"Invalid value specified for property '{name}' of resource "
                          f"'{resource}'.")


def public_view(value):
    """A deep copy without private fields: ``_owner...`` and the secret hashes of
    ``state.SECRET_FIELDS``."""
    if isinstance(value, dict):
        return {k: public_view(v) for k, v in value.items()
                if not k.startswith("_") and k not in st.SECRET_FIELDS}
    if isinstance(value, list):
        return [public_view(v) for v in value]
    return value


class ApplicationHandlers:
    """Handlers for ``/applications`` (mixed into ``graph._Call``)."""

    def visible(self, app, owned_only):
        return not owned_only or self.caller in app.get("_ownerAppIds", [])

    def find_application(self, data, owned_only=False):
        prop, value = self.address
        if prop == "id" and not is_guid(value):
            raise bad_request(f"Invalid object identifier '{value}'.")
        wanted = value.lower()
        app = next((a for a in data["applications"].values() if a[prop].lower() == wanted), None)
        if app is None or not self.visible(app, owned_only):
            raise not_found(value)
        return app

    # --- applications ---

    def list_applications(self):
        owned_only = self.manager()
        with self.api.state.read() as data:
            apps = [copy.deepcopy(a) for a in data["applications"].values()
                    if self.visible(a, owned_only)]
        return self.listing(apps)

    def get_application(self):
        owned_only = self.manager()
        with self.api.state.read() as data:
            app = copy.deepcopy(self.find_application(data, owned_only))
        select = self.query_select()
        body = {"@odata.context": self.context("applications/$entity"),
                **self.view(app, select, with_keys="keycredentials" in select)}
        return json_response(200, body)

    def create_application(self):
        self.manager()
        fields = self.body()
        fields = {k: v for k, v in fields.items() if not k.startswith("@odata.")}
        if not isinstance(fields.get("displayName"), str) or not fields["displayName"].strip():
            raise bad_request("Invalid value specified for property 'displayName' of resource "
                              "'Application'.")
        passwords = self.passwords_on_create(fields.pop("passwordCredentials", None))
        with self.api.state.transaction() as data:
            app = st.create_application(data, {"displayName": fields["displayName"]})
            app["_ownerAppIds"] = [self.caller] if self.caller else []
            self.stamp(app)
            self.apply(data, app, fields)
            shown = [st.add_password_credential(app, display_name=name, start=start, end=end)[0]
                     for name, start, end in passwords]
            created = copy.deepcopy(app)
        body = {"@odata.context": self.context("applications/$entity"), **self.view(created, set())}
        if shown:  # each secret's text, this once (Graph keeps only a hash)
            body["passwordCredentials"] = shown
        return json_response(201, body, headers={
            "Location": f"{self.api.origin}/{self.version}/applications/{created['id']}"})

    def patch_application(self):
        owned_only = self.manager()
        fields = {k: v for k, v in self.body().items() if not k.startswith("@odata.")}
        with self.api.state.transaction() as data:
            app = self.find_application(data, owned_only)
            self.apply(data, app, fields)
            st.sync_service_principal(data, app)
        return Response(204)

    def stamp(self, entity):
        """Record a new directory object's creation, lagging at the token endpoint by this
        request's replication delay (a fault's) or the emulator's."""
        delay = self.request.replication_delay
        st.stamp_created(entity, self.api.clock(),
                         self.api.replication_delay if delay is None else delay)

    def apply(self, data, app, fields):
        """Validate and write client-settable properties (shared by POST and PATCH); key
        credentials new to the app are stamped as new objects."""
        known = {k["keyId"] for k in app.get("keyCredentials") or []}
        for name, value in fields.items():
            if name == "passwordCredentials":
                if value:
                    raise bad_request(SERVICE_ACTIONS)
            elif name == "keyCredentials":
                app["keyCredentials"] = merge_key_credentials(app.get("keyCredentials", []), value)
            elif name in READ_ONLY:
                if value != app.get(name):
                    raise bad_request(f"Property '{name}' is read-only and cannot be set.")
            else:
                check_settable(name, value, WRITABLE, odata_type="microsoft.graph.application",
                               resource="Application")
                app[name] = copy.deepcopy(value)
        _check_identifier_uris(data, app)
        _check_app_roles(app)
        for credential in app.get("keyCredentials") or []:
            if credential["keyId"] not in known:
                self.stamp(credential)

    def delete_application(self):
        owned_only = self.manager()
        with self.api.state.transaction() as data:
            st.delete_application(data, self.find_application(data, owned_only)["id"])
        return Response(204)

    # --- credential actions ---

    def add_key(self):
        body = self.body()
        with self.api.state.transaction() as data:
            app = self.self_or_manager(data)
            verify_proof(body.get("proof"), app, self.now)
            password = body.get("passwordCredential") or {}
            if not isinstance(password, dict):
                raise bad_request("Invalid value specified for property 'passwordCredential'.")
            entry = body.get("keyCredential")
            if entry is None:
                raise bad_request("The property 'keyCredential' is required.")
            if isinstance(entry, dict) and entry.get("type") == "X509CertAndPassword" and not (
                    password.get("secretText")):
                raise bad_request("A passwordCredential with secretText is required for a key "
                                  "credential of type X509CertAndPassword.")
            credential = new_key_credential(entry, password=password.get("secretText"))
            if any(k["keyId"] == credential["keyId"] for k in app["keyCredentials"]):
                raise bad_request(f"A key credential with keyId '{credential['keyId']}' exists.")
            self.stamp(credential)
            app["keyCredentials"].append(credential)
        return json_response(200, {"@odata.context": self.context("microsoft.graph.keyCredential"),
                                   **public_view(credential), "key": None})

    def remove_key(self):
        body = self.body()
        with self.api.state.transaction() as data:
            app = self.self_or_manager(data)
            verify_proof(body.get("proof"), app, self.now)
            key_id = str(body.get("keyId") or "").lower()
            remaining = [k for k in app["keyCredentials"] if k["keyId"] != key_id]
            if len(remaining) == len(app["keyCredentials"]):
                raise not_found(key_id)
            if not valid_certificates({"keyCredentials": remaining}, self.now):
                raise bad_request("The key credential is the application's last valid "
                                  "certificate and cannot be removed with removeKey; replace "
                                  "keyCredentials with PATCH instead.")
            app["keyCredentials"] = remaining
        return Response(204)

    def self_or_manager(self, data):
        """addKey/removeKey: the application itself needs no permission; others must manage it."""
        prop, value = self.address
        app = next((a for a in data["applications"].values()
                    if a[prop].lower() == value.lower()), None)
        if app is not None and self.caller and app["appId"] == self.caller:
            return app
        return self.find_application(data, self.manager())

    def passwords_on_create(self, value):
        """The ``(displayName, start, end)`` of each passwordCredential sent with
        POST /applications: Graph generates those secrets and shows them in its 201 answer.
        A client-chosen ``secretText`` or ``keyId`` is refused as Graph refuses it."""
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
            raise bad_request("Invalid value specified for property 'passwordCredentials' of "
                              "resource 'Application'.")
        for entry in value:
            unknown = sorted({k for k in entry if not k.startswith("@odata.")} - PASSWORD_FIELDS)
            if unknown:
                raise bad_request(f"The property '{unknown[0]}' does not exist on type "
                                  "'microsoft.graph.passwordCredential'. Make sure to only use "
                                  "property names that are defined by the type.")
            if entry.get("secretText") is not None or entry.get("keyId") is not None:
                raise bad_request(SERVICE_ACTIONS)
        return [self.password_request(entry) for entry in value]

    def password_request(self, requested):
        """``(displayName, start, end)`` of a requested passwordCredential, validated; the
        lifetime defaults to two years."""
        start = parse_date(requested, "startDateTime", self.now, "PasswordCredential")
        end = parse_date(requested, "endDateTime",
                         utc_from_epoch(start.timestamp() + SECRET_LIFETIME), "PasswordCredential")
        if end <= start:
            raise bad_request("Password credential end date must be after its start date.")
        name = requested.get("displayName")
        if name is not None and not isinstance(name, str):
            raise bad_request("Invalid value specified for property 'displayName' of resource "
                              "'PasswordCredential'.")
        return name, start, end

    def add_password(self):
        owned_only = self.manager()
        requested = self.body().get("passwordCredential") or {}
        if not isinstance(requested, dict):
            raise bad_request("Invalid value specified for property 'passwordCredential'.")
        name, start, end = self.password_request(requested)
        with self.api.state.transaction() as data:
            app = self.find_application(data, owned_only)
            credential, _ = st.add_password_credential(app, display_name=name, start=start, end=end)
        return json_response(200, {
            "@odata.context": self.context("microsoft.graph.passwordCredential"),
            **credential})

    def remove_password(self):
        owned_only = self.manager()
        key_id = str(self.body().get("keyId") or "").lower()
        with self.api.state.transaction() as data:
            app = self.find_application(data, owned_only)
            remaining = [p for p in app["passwordCredentials"] if p["keyId"] != key_id]
            if len(remaining) == len(app["passwordCredentials"]):
                raise not_found(key_id)
            app["passwordCredentials"] = remaining
        return Response(204)


def _check_identifier_uris(data, app):
    uris = app.get("identifierUris") or []
    if not all(isinstance(u, str) and u.strip() for u in uris):
        raise bad_request("Invalid value specified for property 'identifierUris' of resource "
                          "'Application'.")
    taken = {u.casefold() for other in data["applications"].values() if other["id"] != app["id"]
             for u in other.get("identifierUris") or []}
    if any(u.casefold() in taken for u in uris):
        raise GraphError(400, "Request_MultipleObjectsWithSameKeyValue",
                         "Another object with the same value for property identifierUris "
                         "already exists.")


def _check_app_roles(app):
    values = set()
    for role in app.get("appRoles") or []:
        if not isinstance(role, dict) or not is_guid(role.get("id")):
            raise bad_request("Each app role needs an 'id' that is a GUID.")
        role["id"] = role["id"].lower()
        value = role.get("value")
        if value is not None and (not isinstance(value, str) or value in values):
            raise bad_request("App role values must be unique strings.")
        values.add(value)
        role.setdefault("isEnabled", True)
        role.setdefault("allowedMemberTypes", ["Application"])
