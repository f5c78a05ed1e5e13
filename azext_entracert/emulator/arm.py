"""A minimal Azure Resource Manager: the subscriptions and tenant ``az login`` and ``az rest`` read.

It listens on its own TLS port (same CA and server certificate as the STS and Graph) because az
tells Resource Manager and Graph apart by origin: ``az rest`` asks for an ARM token for any URL
on the cloud's ``--endpoint-resource-manager`` origin, and a Graph token only for other URLs.

* ``GET /subscriptions`` -> ``{"value": [...], "count": {"type": "Total", "value": n}}``: the
  subscriptions given at start-up (``--subscription ID[:NAME]``), none by default. So plain
  ``az login --service-principal`` (without ``--allow-no-subscriptions``) succeeds once one is
  configured, and fails with az's "No subscriptions found" otherwise, as against a real tenant.
* ``GET /subscriptions/{id}`` -> that subscription, or 404 SubscriptionNotFound.
* ``GET /tenants`` -> the emulator's tenant.
* Every request needs ``api-version`` (400 MissingApiVersionParameter) and a bearer token this
  emulator issued for Resource Manager (``aud`` https://management.core.windows.net/,
  https://management.azure.com/ or its appId; ``tid`` this tenant), else 401 in ARM's shape:
  AuthenticationFailed (no header), ExpiredAuthenticationToken, InvalidAuthenticationTokenAudience
  or InvalidAuthenticationToken, with a ``WWW-Authenticate: Bearer`` challenge.

Choice: every service principal of the tenant sees every configured subscription (real ARM lists
those where it holds an RBAC role; the emulator has no RBAC).
"""
import uuid

from ..core.errors import ConfigurationError
from . import state as st
from .server import Router
from .state import is_guid
from .wire import json_response

DEFAULT_NAME = "entracert emulator subscription"


def parse_subscription(text):
    """``ID[:NAME]`` -> ``(id, name)``; ConfigurationError when ID is not a GUID."""
    sub_id, _, name = str(text).partition(":")
    if not is_guid(sub_id.strip()):
        raise ConfigurationError(
            f"The subscription '{text}' does not start with a subscription id (a GUID).",
            hint="Give ID[:NAME], e.g. 00000000-0000-0000-0000-000000000001:My name.")
    return sub_id.strip().lower(), name.strip() or DEFAULT_NAME


class _ArmError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ResourceManager:
    """Answers ARM requests over a ``TenantState``; see the module docstring for its rules."""

    def __init__(self, *, state, verify_access_token, subscriptions, authority_host):
        self.state = state
        self.verify_access_token = verify_access_token
        self.subscriptions = list(subscriptions)  # (id, name) pairs
        self.authority_host = authority_host

    def handle(self, request):
        request_id = str(uuid.uuid4())
        headers = {"x-ms-request-id": request_id, "x-ms-correlation-request-id":
                   request.headers.get("x-ms-correlation-request-id") or request_id}
        claims = {}
        try:
            claims = self._authenticate(request)
            if not request.query.get("api-version"):
                raise _ArmError(400, "MissingApiVersionParameter", "The api-version query "
                                "parameter (?api-version=) is required for all requests.")
            status, body = self._route(request)
        except _ArmError as error:
            if error.status == 401:
                headers["WWW-Authenticate"] = (
                    f'Bearer authorization_uri="{self.authority_host}/{self.state.tenant_id}", '
                    f'error="invalid_token", error_description="{error.message}"')
            return json_response(error.status, {"error": {"code": error.code,
                                                          "message": error.message}},
                                 headers=headers, log={"error_code": error.code})
        return json_response(status, body, headers=headers,
                             log={"client_id": claims.get("appid") or claims.get("azp")})

    def _authenticate(self, request):
        scheme, _, token = (request.headers.get("Authorization") or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _ArmError(401, "AuthenticationFailed",
                            "Authentication failed. The 'Authorization' header is missing.")
        try:
            claims = self.verify_access_token(token.strip())
        except ValueError as exc:
            if "expire" in str(exc).lower():
                raise _ArmError(401, "ExpiredAuthenticationToken",
                                "The access token has expired.") from None
            raise _ArmError(401, "InvalidAuthenticationToken",
                            "The access token is invalid.") from None
        aud = claims.get("aud")
        with self.state.read() as data:
            resource = st.resource_for_audience(data, aud) if isinstance(aud, str) else None
        if (resource or {}).get("appId") != st.ARM_APP_ID:
            raise _ArmError(401, "InvalidAuthenticationTokenAudience",
                            "The access token has been obtained for wrong audience or resource "
                            f"'{str(aud)[:200]}'. It should exactly match with one of the allowed "
                            "audiences 'https://management.core.windows.net/','https://"
                            "management.core.windows.net','https://management.azure.com/',"
                            "'https://management.azure.com'.")
        if claims.get("tid") != self.state.tenant_id:
            raise _ArmError(401, "InvalidAuthenticationTokenTenant",
                            "The access token is from the wrong issuer. It must match the tenant "
                            f"'https://sts.windows.net/{self.state.tenant_id}/' associated with "
                            "this subscription.")
        return claims

    def _route(self, request):
        parts = [p for p in request.path.split("/") if p]
        if request.method != "GET" or not parts or parts[0].lower() not in (
                "subscriptions", "tenants") or len(parts) > 2 or (
                parts[0].lower() == "tenants" and len(parts) > 1):
            raise _ArmError(404, "NotFound", f"The emulated Resource Manager has no "
                            f"{request.method} {request.path[:200]}; it serves GET /subscriptions, "
                            "/subscriptions/{id} and /tenants.")
        if parts[0].lower() == "tenants":
            return 200, _listed([self._tenant()])
        subscriptions = [self._subscription(*s) for s in self.subscriptions]
        if len(parts) == 1:
            return 200, _listed(subscriptions)
        wanted = parts[1].lower()
        found = next((s for s in subscriptions if s["subscriptionId"] == wanted), None)
        if found is None:
            raise _ArmError(404, "SubscriptionNotFound",
                            f"The subscription '{parts[1][:100]}' could not be found.")
        return 200, found

    def _subscription(self, sub_id, name):
        return {"id": f"/subscriptions/{sub_id}", "authorizationSource": "RoleBased",
                "managedByTenants": [], "subscriptionId": sub_id,
                "tenantId": self.state.tenant_id, "displayName": name, "state": "Enabled",
                "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                         "quotaId": "PayAsYouGo_2014-09-01",
                                         "spendingLimit": "Off"}}

    def _tenant(self):
        tid, domain = self.state.tenant_id, self.state.tenant_domain
        return {"id": f"/tenants/{tid}", "tenantId": tid, "countryCode": "US",
                "displayName": "entracert emulator", "domains": [domain],
                "tenantCategory": "Home", "defaultDomain": domain, "tenantType": "AAD"}


def _listed(values):
    return {"value": values, "count": {"type": "Total", "value": len(values)}}


class ResourceManagerRouter(Router):
    """The router of the resource-manager listener: every request goes to ARM, through the
    emulator's shared request log and faults (so tests see and break ARM calls too)."""

    def __init__(self, resource_manager, request_log, faults):
        super().__init__(None, None, request_log, faults)
        self.resource_manager = resource_manager

    def route(self, request):
        return self.resource_manager.handle(request)
