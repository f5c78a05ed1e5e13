"""An application's API permissions: application permissions (app roles) only, since the client
credentials flow has no delegated ones.

``requiredResourceAccess`` on the application is what it asks for (the portal's "API
permissions"); an app role assignment on the resource's service principal (``appRoleAssignedTo``)
is the admin consent that puts the role in the next token's ``roles`` claim. Each change is
audited (``app-permission-add``, ``-grant``, ``-remove``) with who made it (``graph.actor``).
"""
from urllib.parse import quote

from .errors import ConfigurationError
from .lifecycle import audit_change
from .profiles import GUID

# Short names of the APIs people grant most; anything else by appId or identifier URI.
APIS = {"graph": "00000003-0000-0000-c000-000000000000",
        "arm": "797f4846-ba00-4fd7-ba43-dac1f8f63013"}


def add(graph, app_id, api, role, *, grant=False, directory=None):
    """Request application role ``role`` of ``api`` on the application and, with ``grant``,
    give admin consent (assign the role to its service principal)."""
    application = graph.find_application(app_id, select="id,appId,displayName,"
                                                        "requiredResourceAccess")
    resource = resource_of(graph, api)
    wanted = role_of(resource, role)
    required = [dict(entry) for entry in application.get("requiredResourceAccess") or []]
    entry = next((e for e in required if e["resourceAppId"] == resource["appId"]), None)
    if entry is None:
        entry = {"resourceAppId": resource["appId"], "resourceAccess": []}
        required.append(entry)
    if not any(a["id"] == wanted["id"] for a in entry["resourceAccess"]):
        entry["resourceAccess"] = [*entry["resourceAccess"], {"id": wanted["id"], "type": "Role"}]
        graph.call("PATCH", f"applications/{quote(application['id'])}",
                   body={"requiredResourceAccess": required})
        _audit(graph, directory, "app-permission-add", application,
               f"requested {resource['displayName']} {wanted['value']} ({wanted['id']})")
    granted = False
    if grant:
        principal = graph.service_principal(application["appId"])
        if principal is None:
            raise ConfigurationError(
                f"Application {application['appId']} has no service principal, so no role can "
                "be granted to it.", hint=f"Create it with 'az ad sp create --id "
                                          f"{application['appId']}', then grant again.")
        if not _assignment(graph, principal, resource, wanted):
            graph.call("POST", f"servicePrincipals/{quote(resource['id'])}/appRoleAssignedTo",
                       body={"principalId": principal["id"], "resourceId": resource["id"],
                             "appRoleId": wanted["id"]})
            _audit(graph, directory, "app-permission-grant", application,
                   f"granted {resource['displayName']} {wanted['value']} ({wanted['id']})")
        granted = True
    return {"appId": application["appId"], "api": resource["displayName"],
            "resourceAppId": resource["appId"], "role": wanted["value"], "roleId": wanted["id"],
            "requested": True, "granted": granted or _granted(graph, application, resource,
                                                               wanted)}


def remove(graph, app_id, api, role, *, directory=None):
    """Stop requesting ``role`` of ``api`` and withdraw its grant, if any."""
    application = graph.find_application(app_id, select="id,appId,displayName,"
                                                        "requiredResourceAccess")
    resource = resource_of(graph, api)
    wanted = role_of(resource, role)
    required = []
    requested = False
    for entry in application.get("requiredResourceAccess") or []:
        if entry["resourceAppId"] == resource["appId"]:
            kept = [a for a in entry["resourceAccess"] if a["id"] != wanted["id"]]
            requested = len(kept) != len(entry["resourceAccess"])
            entry = {**entry, "resourceAccess": kept}
        if entry["resourceAccess"]:
            required.append(entry)
    principal = graph.service_principal(application["appId"])
    assignment = _assignment(graph, principal, resource, wanted) if principal else None
    if not (requested or assignment):
        raise ConfigurationError(
            f"Application {application['appId']} neither requests nor holds {wanted['value']} "
            f"of {resource['displayName']}.",
            hint=f"'az entracert app permission list --app-id {application['appId']}' shows "
                 "what it has.")
    if requested:
        graph.call("PATCH", f"applications/{quote(application['id'])}",
                   body={"requiredResourceAccess": required})
    if assignment:
        graph.call("DELETE", f"servicePrincipals/{quote(resource['id'])}/appRoleAssignedTo/"
                             f"{quote(assignment['id'])}")
    _audit(graph, directory, "app-permission-remove", application,
           f"removed {resource['displayName']} {wanted['value']} ({wanted['id']}): "
           f"request {'removed' if requested else 'absent'}, "
           f"grant {'withdrawn' if assignment else 'absent'}")
    return {"appId": application["appId"], "api": resource["displayName"],
            "resourceAppId": resource["appId"], "role": wanted["value"], "roleId": wanted["id"],
            "requested": False, "granted": False}


def listed(graph, app_id):
    """Every application role the application requests or holds: one row per role with
    ``requested`` (in requiredResourceAccess) and ``granted`` (assigned: in its tokens)."""
    application = graph.find_application(app_id, select="id,appId,displayName,"
                                                        "requiredResourceAccess")
    principal = graph.service_principal(application["appId"])
    assignments = graph.call("GET", f"servicePrincipals/{quote(principal['id'])}/"
                                    "appRoleAssignments")["value"] if principal else []
    resources = {}

    def resource(prop, value):
        key = (prop, value.lower())
        if key not in resources:
            path = (f"servicePrincipals/{quote(value)}" if prop == "id"
                    else f"servicePrincipals(appId='{quote(value)}')")
            resources[key] = graph.call("GET", path, params={
                "$select": "id,appId,displayName,appRoles"})
        return resources[key]

    rows = {}
    for entry in application.get("requiredResourceAccess") or []:
        for access in entry["resourceAccess"]:
            if access.get("type") == "Role":
                rows[(entry["resourceAppId"], access["id"])] = {"requested": True,
                                                                "granted": False}
    for assignment in assignments:
        app = resource("id", assignment["resourceId"])["appId"]
        rows.setdefault((app, assignment["appRoleId"]), {"requested": False})["granted"] = True
    listed = []
    for (resource_app_id, role_id), state in rows.items():
        found = resource("appId", resource_app_id)
        names = {r["id"]: r["value"] for r in found.get("appRoles") or []}
        listed.append({"api": found["displayName"], "resourceAppId": resource_app_id,
                       "role": names.get(role_id), "roleId": role_id, **state})
    return sorted(listed, key=lambda r: (r["api"], r["role"] or ""))


def resource_of(graph, api):
    """The service principal of the API ``api`` names: ``graph``, ``arm``, an appId, or an
    identifier URI (a ``servicePrincipalNames`` entry)."""
    wanted = APIS.get(api.lower(), api)
    literal = wanted.replace("'", "''")
    condition = (f"appId eq '{literal}'" if GUID.match(wanted)
                 else f"servicePrincipalNames/any(n:n eq '{literal}')")
    found = graph.call("GET", "servicePrincipals", params={
        "$filter": condition, "$select": "id,appId,displayName,appRoles"})["value"]
    if not found:
        raise ConfigurationError(
            f"No API '{api}' in this tenant: no service principal has that appId or identifier "
            "URI.", hint="Name the API 'graph', 'arm', or by its appId or identifier URI (as "
                         "'az ad sp list --display-name NAME' shows them).")
    return found[0]


def role_of(resource, value):
    """The application role ``value`` of ``resource`` (case as Graph spells it), or an error
    listing the ones it has."""
    roles = [r for r in resource.get("appRoles") or []
             if "Application" in (r.get("allowedMemberTypes") or []) and r.get("isEnabled", True)]
    match = next((r for r in roles if r["value"] == value), None) or next(
        (r for r in roles if str(r["value"]).lower() == value.lower()), None)
    if match is None:
        valid = sorted(str(r["value"]) for r in roles)
        listing = (f"Its application roles: {', '.join(valid)}." if valid else
                   "It defines no application roles" + (
                       " (Azure Resource Manager access is given by Azure RBAC: 'az role "
                       "assignment create')." if resource["appId"] == APIS["arm"] else "."))
        raise ConfigurationError(
            f"{resource['displayName']} has no application role '{value}'. {listing}",
            hint="Pass one of its application roles with --role (delegated permissions do not "
                 "apply: a certificate signs in without a user).")
    return match


def _assignment(graph, principal, resource, role):
    assigned = graph.call("GET", f"servicePrincipals/{quote(principal['id'])}/"
                                 "appRoleAssignments")["value"]
    return next((a for a in assigned if a["resourceId"] == resource["id"]
                 and a["appRoleId"].lower() == role["id"].lower()), None)


def _granted(graph, application, resource, role):
    principal = graph.service_principal(application["appId"])
    return bool(principal and _assignment(graph, principal, resource, role))


def _audit(graph, directory, action, application, detail):
    audit_change(directory, None, action, None, actor=getattr(graph, "actor", None),
                 app_id=application["appId"], detail=detail)
