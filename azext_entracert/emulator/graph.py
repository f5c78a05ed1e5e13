"""The Microsoft Graph subset of the emulator: applications, their credentials, service principals.

``GraphApi.handle`` answers every request under ``/v1.0/`` and ``/beta/`` (both versions behave
alike) with Graph's JSON shapes and error envelope
``{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}``.
Certificate rules (uploads, PATCH merges, addKey proofs) live in ``graph_keys``; the query options
of listings (``$filter``, ``$select``, ``$top`` paging, ``$count``) in ``odata``, over what
``TYPES`` lets a query name.

Choices where the real service is UNVERIFIED (ENTRA-FACTS §5-§7), made here on purpose:

* Tokens: the audience must name Graph by the STS's own rule (``state.resource_for_audience``:
  ``https://graph.microsoft.com[/]``, its appId, or the emulator's origin under any loopback alias,
  with or without ``/``) and ``tid`` this tenant, else 401
  InvalidAuthenticationToken "Access token validation failure. Invalid audience.". An empty token
  gives "Access token is empty.", an expired one "Lifetime validation failed, the token is
  expired.", a non-JWT "CompactToken parsing failed with error code: 80049217".
* Permissions: management needs the app role ``Application.ReadWrite.All`` or
  ``Application.ReadWrite.OwnedBy`` in ``roles``. OwnedBy is kept simple: an application created
  by a caller records the caller's appId as owner (private field ``_ownerAppIds``); an OwnedBy
  caller sees and manages only the applications it owns. Service principal reads need the same
  roles. Role assignments (``appRoleAssignedTo``, ``appRoleAssignments``: admin consent) take
  ``AppRoleAssignment.ReadWrite.All``, the role Graph documents for them; the emulator also
  accepts either management role, more lenient than Graph, so that its admin (and tests written
  before this role existed here) can grant.
* addKey/removeKey: allowed to the application itself (token ``appid`` = the app's ``appId``) with
  no Graph permission, and to managers; a valid proof is always needed. A missing proof answers
  403 Authorization_RequestDenied (as observed), every bad proof 401
  Authentication_MissingOrMalformed. removeKey may remove any key, including the one that signed
  the proof, but refuses (400) to remove the application's last valid certificate: the app could
  then never call addKey again (PATCH still can). Unknown keyId: 404 Request_ResourceNotFound.
* Creating applications: ``displayName`` is required; responses (201 and GETs) carry
  ``keyCredentials[].key`` null unless a single object is read with ``$select`` naming
  keyCredentials. ``passwordCredentials`` sent with POST create secrets Graph generates and
  shows (``secretText``) in the 201 answer only, as the terraform azuread provider relies on; a
  client-chosen ``secretText`` or ``keyId`` is 400 "New password credentials must be generated
  using service actions." (ansible-collections/azure#1372, #2250). PATCH cannot set them at all
  (the same 400, MicrosoftDocs/azure-docs#59275).
* Service principals are separate objects, as in Entra: ``POST /applications`` creates none;
  ``POST /servicePrincipals {"appId"}`` does (201; 409 Request_MultipleObjectsWithSameKeyValue
  when the app has one; 400 when no application has that appId). ``PATCH`` takes
  ``accountEnabled`` (false: the token endpoint answers AADSTS7000112) and a few descriptive
  properties; ``DELETE`` removes it and its role assignments; both address it by ``id`` or the
  ``(appId='...')`` alternate key. Deleting an application deletes its service principal.
  Assigning a role twice answers 400.
* Replication lag: applications, service principals and key credentials written here are
  stamped (``state.stamp_created``) with the emulator's ``replication_delay``, or a fault's
  (``Request.replication_delay``); Graph sees them at once, the token endpoint only after the
  delay.
* addPassword: ``secretText`` is 40 URL-safe characters shown once, ``hint`` its first three;
  the default lifetime is two years. The secret is stored only as a salted SHA-256 hash
  (``state.add_password_credential``: private fields ``state.SECRET_FIELDS``). Private fields
  (those, and names starting with ``_``) are never returned.
"""
import copy
import logging
import re
import urllib.parse
import uuid

from . import odata
from . import state as st
from .graph_apps import ApplicationHandlers, check_settable, public_view
from .graph_keys import GraphError, bad_request, denied, not_found, utc_from_epoch
from .state import is_guid
from .wire import Response, json_response, origin_netlocs, parse_json

LOG = logging.getLogger(__name__)

EXPIRED = "Lifetime validation failed, the token is expired."
ALL, OWNED_BY = "Application.ReadWrite.All", "Application.ReadWrite.OwnedBy"
ASSIGN = "AppRoleAssignment.ReadWrite.All"
_ENTITY = re.compile(r"^(applications|servicePrincipals)(?:\((.*)\))?$", re.IGNORECASE)
_ADDRESS = re.compile(r"^\s*(?:(appId)\s*=\s*)?'?([^']*)'?\s*$", re.IGNORECASE)
# What $filter and $select may name (Graph v1.0 application and servicePrincipal resources).
TYPES = {
    "applications": odata.EntityType(
        "Application", filterable=("id", "appId", "displayName", "publisherDomain",
                                   "signInAudience"),
        collections=("identifierUris", "tags"),
        properties=("id", "appId", "displayName", "addIns", "api", "applicationTemplateId",
                    "appRoles", "certification", "createdDateTime", "defaultRedirectUri",
                    "deletedDateTime", "description", "disabledByMicrosoftStatus",
                    "groupMembershipClaims", "identifierUris", "info", "isDeviceOnlyAuthSupported",
                    "isFallbackPublicClient", "keyCredentials", "logo", "notes",
                    "oauth2RequirePostResponse", "optionalClaims", "parentalControlSettings",
                    "passwordCredentials", "publicClient", "publisherDomain",
                    "requestSignatureVerification", "requiredResourceAccess", "samlMetadataUrl",
                    "serviceManagementReference", "servicePrincipalLockConfiguration",
                    "signInAudience", "spa", "tags", "tokenEncryptionKeyId", "uniqueName",
                    "verifiedPublisher", "web")),
    "servicePrincipals": odata.EntityType(
        "ServicePrincipal", filterable=("id", "appId", "displayName", "accountEnabled",
                                        "servicePrincipalType", "appOwnerOrganizationId"),
        collections=("servicePrincipalNames", "tags"),
        properties=("id", "appId", "displayName", "accountEnabled", "addIns", "alternativeNames",
                    "appDescription", "appDisplayName", "applicationTemplateId",
                    "appOwnerOrganizationId", "appRoleAssignmentRequired", "appRoles",
                    "deletedDateTime", "description", "disabledByMicrosoftStatus", "homepage",
                    "info", "keyCredentials", "loginUrl", "logoutUrl", "notes",
                    "notificationEmailAddresses", "oauth2PermissionScopes", "passwordCredentials",
                    "preferredSingleSignOnMode", "preferredTokenSigningKeyThumbprint", "replyUrls",
                    "resourceSpecificApplicationPermissions", "samlSingleSignOnSettings",
                    "servicePrincipalNames", "servicePrincipalType", "signInAudience", "tags",
                    "tokenEncryptionKeyId", "verifiedPublisher")),
}


def _unauthenticated(message):
    return GraphError(401, "InvalidAuthenticationToken", message)


class GraphApi:
    """Microsoft Graph over a ``TenantState``; see the module docstring for its rules."""

    def __init__(self, *, state, verify_access_token, origin, clock):
        self.state = state
        self.verify_access_token = verify_access_token
        self.origin = origin.rstrip("/")
        self._origin_netlocs = origin_netlocs(self.origin)
        self.clock = clock
        self.replication_delay = 0  # seconds new objects stay invisible to the token endpoint

    # --- entry point ---

    def handle(self, request):
        """Answer one request; errors become Graph envelopes, never a traceback."""
        request_id = str(uuid.uuid4())
        client_request_id = request.headers.get("client-request-id") or request_id
        claims = {}
        try:
            claims = self._authenticate(request)
            response = self._route(request, claims)
        except GraphError as error:
            response = self._error(error, request_id, client_request_id)
        except Exception:  # a bug of ours: log it here, answer a clean envelope
            LOG.exception("Graph emulator failed on %s %s", request.method, request.path)
            internal = GraphError(500, "generalException", "An internal error occurred.")
            response = self._error(internal, request_id, client_request_id)
        response.headers.update({"request-id": request_id, "client-request-id": client_request_id})
        code = None
        if response.status >= 400:
            code = response.log.get("error_code")
        response.log = {"client_id": claims.get("appid") or claims.get("azp"), "error_code": code}
        return response

    def _error(self, error, request_id, client_request_id):
        date = utc_from_epoch(self.clock()).strftime("%Y-%m-%dT%H:%M:%S")
        body = {"error": {"code": error.code, "message": error.message, "innerError": {
            "date": date, "request-id": request_id, "client-request-id": client_request_id}}}
        return json_response(error.status, body, log={"error_code": error.code})

    def _authenticate(self, request):
        scheme, _, token = (request.headers.get("Authorization") or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthenticated("Access token is empty.")
        if token.count(".") != 2:
            raise _unauthenticated("CompactToken parsing failed with error code: 80049217")
        try:
            claims = self.verify_access_token(token)
        except ValueError as exc:
            if "expire" in str(exc).lower():
                raise _unauthenticated(EXPIRED) from None
            raise _unauthenticated("Access token validation failure.") from None
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and exp < self.clock():
            raise _unauthenticated(EXPIRED)
        aud = claims.get("aud")
        with self.state.read() as data:
            resource = st.resource_for_audience(data, aud, self._origin_netlocs) if isinstance(
                aud, str) else None
        if (resource or {}).get("appId") != st.GRAPH_APP_ID or \
                claims.get("tid") != self.state.tenant_id:
            raise _unauthenticated("Access token validation failure. Invalid audience.")
        return claims

    # --- routing ---

    def _route(self, request, claims):
        segments = [urllib.parse.unquote(s) for s in request.path.strip("/").split("/")]
        version, entity, rest = segments[0], segments[1] if len(segments) > 1 else "", segments[2:]
        match = _ENTITY.match(entity)
        if version not in ("v1.0", "beta") or not match:
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{entity}'.")
        apps = match.group(1).lower() == "applications"
        collection = "applications" if apps else "servicePrincipals"
        address = None
        if match.group(2) is not None:
            parts = _ADDRESS.match(match.group(2))
            if not parts:
                raise bad_request(f"Invalid object identifier '{match.group(2)}'.")
            address = ("appId" if parts.group(1) else "id", parts.group(2))
        elif rest:
            address, rest = ("id", rest[0]), rest[1:]
        call = _Call(self, request, claims, version, collection)
        handler = call.handler(address, rest)
        return handler()


class _Call(ApplicationHandlers):
    """One authenticated request: its caller, its body, and the handler it routes to."""

    def __init__(self, api, request, claims, version, collection):
        self.api, self.request, self.claims = api, request, claims
        self.version, self.collection = version, collection
        self.caller = claims.get("appid") or claims.get("azp")
        self.roles = set(claims.get("roles") or [])
        self.now = utc_from_epoch(api.clock())

    def handler(self, address, rest):
        method = self.request.method.upper()
        apps = self.collection == "applications"
        self.count_only = address == ("id", "$count") and not rest
        if self.count_only:
            table = {"GET": self.list_applications if apps else self.list_service_principals}
        elif address is None and not rest:
            table = {"GET": self.list_applications, "POST": self.create_application} if apps else {
                "GET": self.list_service_principals, "POST": self.create_service_principal}
        elif not rest:
            table = {"GET": self.get_application, "PATCH": self.patch_application,
                     "DELETE": self.delete_application} if apps else {
                "GET": self.get_service_principal, "PATCH": self.patch_service_principal,
                "DELETE": self.delete_service_principal}
        elif apps and len(rest) == 1 and rest[0] in ACTIONS:
            table = {"POST": getattr(self, ACTIONS[rest[0]])}
        elif not apps and rest[0] in ("appRoleAssignedTo", "appRoleAssignments") and len(rest) <= 2:
            side = "resourceId" if rest[0] == "appRoleAssignedTo" else "principalId"
            if len(rest) == 1:
                table = {"GET": lambda: self.list_assignments(address, side),
                         "POST": lambda: self.assign_role(address, side)}
            else:
                table = {"DELETE": lambda: self.remove_assignment(address, side, rest[1])}
        else:
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{rest[0]}'.")
        if method not in table:
            raise GraphError(405, "Request_BadRequest",
                             "Specified HTTP method is not allowed for the request uri.")
        self.address = address
        return table[method]

    # --- helpers ---

    def body(self):
        if not self.request.body.strip():
            return {}
        try:
            payload = parse_json(self.request.body)
        except ValueError:  # not JSON, or nested too deep (wire.MAX_JSON_DEPTH)
            payload = None
        if not isinstance(payload, dict):
            raise bad_request("Unable to read JSON request payload. Please ensure Content-Type "
                              "header is set and payload is of valid JSON format.")
        return payload

    def context(self, fragment):
        return f"{self.api.origin}/{self.version}/$metadata#{fragment}"

    def manager(self):
        """Require a management role; return True when it is only the OwnedBy one."""
        if ALL in self.roles:
            return False
        if OWNED_BY in self.roles:
            return True
        raise denied()

    def assigner(self):
        """Require a role that may read and change app role assignments."""
        if ASSIGN not in self.roles:
            self.manager()

    def query_select(self):
        """The ``$select``ed property names, lower-cased (400 for a name the type lacks)."""
        return {n.lower() for n in odata.parse_select(self.request.query,
                                                      TYPES[self.collection])}

    def view(self, entity, select, with_keys=False):
        result = public_view(entity)
        if not with_keys:
            for credential in result.get("keyCredentials", []):
                credential["key"] = None
        if select:  # a selected property the emulator does not keep reads as null, as in Graph
            result = {name: result.get(name) for name in TYPES[self.collection].properties
                      if name.lower() in select}
        return result

    def listing(self, entities):
        """One page of ``entities`` under the request's OData options (``odata``), or their
        number for the ``/$count`` segment."""
        headers = self.request.headers
        if self.count_only and not odata.eventual(headers):
            raise bad_request("$count is not currently supported.")
        query = odata.parse_listing(self.request.query, headers, TYPES[self.collection],
                                    count_segment=self.count_only)
        total, entities, skiptoken = odata.page(entities, query)
        if self.count_only:
            return Response(200, str(total).encode("ascii"),
                            {"Content-Type": "text/plain; charset=utf-8"})
        fragment = self.collection
        if query.select:
            fragment += "(" + ",".join(query.select) + ")"
        body = {"@odata.context": self.context(fragment)}
        if query.count:
            body["@odata.count"] = total
        if skiptoken is not None:
            body["@odata.nextLink"] = odata.next_link(
                f"{self.api.origin}/{self.version}/{self.collection}", query, skiptoken)
        select = {name.lower() for name in query.select}
        body["value"] = [self.view(e, select) for e in entities]
        return json_response(200, body)

    # --- service principals and app role assignments ---

    def find_service_principal(self, data, address=None):
        prop, value = address or self.address
        if prop == "id" and not is_guid(value):
            raise bad_request(f"Invalid object identifier '{value}'.")
        sp = next((s for s in data["servicePrincipals"].values()
                   if s[prop].lower() == value.lower()), None)
        if sp is None:
            raise not_found(value)
        return sp

    def list_service_principals(self):
        self.manager()
        with self.api.state.read() as data:
            sps = copy.deepcopy(list(data["servicePrincipals"].values()))
        return self.listing(sps)

    def get_service_principal(self):
        self.manager()
        with self.api.state.read() as data:
            sp = copy.deepcopy(self.find_service_principal(data))
        return json_response(200, {"@odata.context": self.context("servicePrincipals/$entity"),
                                   **self.view(sp, self.query_select())})

    def create_service_principal(self):
        """``az ad sp create --id`` sends ``{"appId", "accountEnabled": true}``."""
        self.manager()
        fields = self.service_principal_fields(keep=("appId",))
        app_id = fields.pop("appId", None)
        with self.api.state.transaction() as data:
            app = st.application_by_app_id(data, app_id) if isinstance(app_id, str) else None
            if app is None:
                raise bad_request(f"The appId '{app_id}' of the service principal does not "
                                  "reference a valid application object.")
            if st.service_principal_for(data, app_id) is not None:
                raise GraphError(409, "Request_MultipleObjectsWithSameKeyValue",
                                 "The service principal cannot be created, updated, or restored "
                                 f"because the service principal name {app_id} is already in use.")
            sp = st.add_service_principal(data, app)
            sp.update(fields)
            self.stamp(sp)
        return json_response(201, {"@odata.context": self.context("servicePrincipals/$entity"),
                                   **public_view(sp)})

    def patch_service_principal(self):
        self.manager()
        fields = self.service_principal_fields()
        with self.api.state.transaction() as data:
            self.find_service_principal(data).update(fields)
        return Response(204)

    def service_principal_fields(self, keep=()):
        """The body's settable servicePrincipal properties (``SP_WRITABLE``), type-checked;
        ``keep`` names others passed through as they are."""
        fields = {k: v for k, v in self.body().items() if not k.startswith("@odata.")}
        for name, value in fields.items():
            if name in keep:
                continue
            check_settable(name, value, SP_WRITABLE, odata_type="microsoft.graph.servicePrincipal",
                           resource="ServicePrincipal", covers_read_only=True)
        return copy.deepcopy(fields)

    def delete_service_principal(self):
        self.manager()
        with self.api.state.transaction() as data:
            sp = self.find_service_principal(data)
            if sp["appId"] in st.FIRST_PARTY:  # the emulator's Graph and ARM must stay
                raise denied()
            st.delete_service_principal(data, sp["id"])
        return Response(204)

    def list_assignments(self, address, side):
        self.assigner()
        with self.api.state.read() as data:
            sp_id = self.find_service_principal(data, address)["id"]
            value = [copy.deepcopy(a) for a in data["appRoleAssignments"] if a[side] == sp_id]
        relation = "appRoleAssignedTo" if side == "resourceId" else "appRoleAssignments"
        return json_response(200, {
            "@odata.context": self.context(f"servicePrincipals('{sp_id}')/{relation}"),
            "value": value})

    def assign_role(self, address, side):
        self.assigner()
        body = self.body()
        for name in ("principalId", "resourceId", "appRoleId"):
            if not is_guid(body.get(name)):
                raise bad_request(f"Invalid value specified for property '{name}' of resource "
                                  "'AppRoleAssignment'.")
        with self.api.state.transaction() as data:
            sp = self.find_service_principal(data, address)
            if body[side].lower() != sp["id"]:
                raise bad_request(f"The {side} in the body does not match the service principal "
                                  "in the request URL.")
            principal = self.find_service_principal(data, ("id", body["principalId"]))
            resource = self.find_service_principal(data, ("id", body["resourceId"]))
            role_id = body["appRoleId"].lower()
            if role_id not in {r["id"].lower() for r in resource.get("appRoles", [])}:
                raise bad_request("Permission being assigned was not found on application")
            if any((a["principalId"], a["resourceId"], a["appRoleId"].lower())
                   == (principal["id"], resource["id"], role_id)
                   for a in data["appRoleAssignments"]):
                raise bad_request("Permission being assigned already exists on the object")
            assignment = copy.deepcopy(
                st.assign_app_role(data, principal["id"], resource["id"], role_id))
        relation = "appRoleAssignedTo" if side == "resourceId" else "appRoleAssignments"
        return json_response(201, {
            "@odata.context": self.context(f"servicePrincipals('{sp['id']}')/{relation}/$entity"),
            **assignment})

    def remove_assignment(self, address, side, assignment_id):
        self.assigner()
        with self.api.state.transaction() as data:
            sp_id = self.find_service_principal(data, address)["id"]
            kept = [a for a in data["appRoleAssignments"]
                    if not (a["id"] == assignment_id and a[side] == sp_id)]
            if len(kept) == len(data["appRoleAssignments"]):
                raise not_found(assignment_id)
            data["appRoleAssignments"] = kept
        return Response(204)


# Service principal properties a client may PATCH, with the JSON type each must have.
SP_WRITABLE = {"accountEnabled": bool, "appRoleAssignmentRequired": bool, "tags": list,
               "notes": (str, type(None)), "description": (str, type(None)),
               "notificationEmailAddresses": list, "preferredSingleSignOnMode": (str, type(None))}
ACTIONS = {"addKey": "add_key", "removeKey": "remove_key", "addPassword": "add_password",
           "removePassword": "remove_password"}

