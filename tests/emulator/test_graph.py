"""The emulator's Microsoft Graph subset (ENTRA-FACTS §5-§6).

Most tests drive ``GraphApi`` in process over a real ``TenantState``, with access tokens and addKey
proofs signed by real RSA keys through PyJWT (no mocks of our code), and a clock the test shifts.
The end-to-end tests at the bottom go over real HTTPS to the running emulator with tokens obtained
by real MSAL, to show that a key added with addKey signs in and a removed one no longer does.
"""
import base64
import datetime
import http.client
import json
import time
import uuid

import jwt
import pytest

from azext_entracert.core import certgen, certs
from azext_entracert.emulator import state as st
from azext_entracert.emulator.graph import GraphApi
from azext_entracert.emulator.wire import Request

ORIGIN = "https://127.0.0.1:8443"
PROOF_AUD = "00000002-0000-0000-c000-000000000000"
DAY = 86400


# --- keys and certificates (RSA generation is the slow part: once per session) ---

@pytest.fixture(scope="session")
def keys():
    """Four RSA keys: [0] signs access tokens, the others back app certificates."""
    return [certgen.new_rsa_key(2048) for _ in range(4)]


def make_cert(key, cn="graph-test", days=30, not_before=None):
    return certgen.build_certificate(subject=certgen.parse_subject(f"CN={cn}"),
                                     public_key=key.public_key(), signing_key=key, days=days,
                                     not_before=not_before)


def b64(cert):
    return base64.b64encode(certs.der_of(cert)).decode()


def unpadded(value):
    return certs.normalize_b64url(value)


# --- a GraphApi over a fresh tenant, with a clock the test controls ---

class Graph:
    """One GraphApi plus helpers to call it as a given caller."""

    def __init__(self, tmp_path, token_key):
        self.state = st.TenantState(tmp_path)
        self.now = time.time()
        self.token_key = token_key
        self.api = GraphApi(state=self.state, verify_access_token=self._verify, origin=ORIGIN,
                            clock=lambda: self.now)
        self.admin = str(uuid.uuid4())

    def _verify(self, token):
        try:
            return jwt.decode(token, self.token_key.public_key(), algorithms=["RS256"],
                              options={"verify_aud": False, "verify_exp": False,
                                       "verify_nbf": False, "verify_iat": False})
        except jwt.InvalidTokenError as exc:
            raise ValueError(str(exc)) from exc

    def token(self, appid=None, roles=("Application.ReadWrite.All",), aud=ORIGIN + "/", tid=None,
              lifetime=3600, key=None):
        claims = {"aud": aud, "iss": f"https://sts.windows.net/{self.state.tenant_id}/",
                  "iat": int(self.now), "nbf": int(self.now), "exp": int(self.now) + lifetime,
                  "appid": appid or self.admin, "tid": tid or self.state.tenant_id,
                  "ver": "1.0", "idtyp": "app"}
        if roles:
            claims["roles"] = list(roles)
        return jwt.encode(claims, key or self.token_key, algorithm="RS256")

    def call(self, method, path, body=None, *, query=None, token=None, raw=None, headers=None):
        message = http.client.HTTPMessage()
        if token is not False:
            message["Authorization"] = f"Bearer {token or self.token()}"
        for name, value in (headers or {}).items():
            message[name] = value
        payload = raw if raw is not None else json.dumps(body).encode() if body is not None else b""
        response = self.api.handle(Request(method, path, query or {}, message, payload))
        response.json = json.loads(response.body) if response.body else None
        return response

    def create(self, name="app", **fields):
        response = self.call("POST", "/v1.0/applications", {"displayName": name, **fields})
        assert response.status == 201, response.json
        return response.json

    def create_sp(self, app):
        response = self.call("POST", "/v1.0/servicePrincipals", {"appId": app["appId"]})
        assert response.status == 201, response.json
        return response.json

    def stored(self, object_id):
        with self.state.read() as data:
            return json.loads(json.dumps(data["applications"][object_id]))


@pytest.fixture
def graph(tmp_path, keys):
    return Graph(tmp_path, keys[0])


def key_credential(cert, **extra):
    return {"type": "AsymmetricX509Cert", "usage": "Verify", "key": b64(cert), **extra}


def proof(app, key, cert, *, alg="RS256", header="x5t", now=None, lifetime=600, aud=PROOF_AUD,
          iss=None):
    now = int(now or time.time())
    headers = {"x5t": {"x5t": unpadded(certs.x5t(cert))},
               "x5t#S256": {"x5t#S256": unpadded(certs.x5t_s256(cert))},
               "kid": {"kid": certs.sha1_thumbprint(cert)}}[header]
    claims = {"aud": aud, "iss": iss or app["id"], "nbf": now, "exp": now + lifetime}
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


def assert_error(response, status, code, message=None):
    assert response.status == status, response.json
    error = response.json["error"]
    assert error["code"] == code
    if message is not None:
        assert error["message"] == message
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    assert response.log["error_code"] == code


# --- authentication and authorization ---

def test_missing_token_is_401_with_graph_envelope(graph):
    response = graph.call("GET", "/v1.0/applications", token=False,
                          headers={"client-request-id": "abc-123"})
    assert_error(response, 401, "InvalidAuthenticationToken", "Access token is empty.")
    assert response.json["error"]["innerError"]["client-request-id"] == "abc-123"
    assert response.json["error"]["innerError"]["request-id"] == response.headers["request-id"]


@pytest.mark.parametrize("aud", ["https://management.core.windows.net/", "api://other",
                                 "https://localhost:9999/", "https://127.0.0.1:8443/v1.0"])
def test_token_for_another_audience_is_rejected(graph, aud):
    response = graph.call("GET", "/v1.0/applications", token=graph.token(aud=aud))
    assert_error(response, 401, "InvalidAuthenticationToken",
                 "Access token validation failure. Invalid audience.")


@pytest.mark.parametrize("aud", ["https://graph.microsoft.com", "https://graph.microsoft.com/",
                                 st.GRAPH_APP_ID, ORIGIN, ORIGIN + "/",
                                 "https://localhost:8443/", "https://[::1]:8443"])
def test_every_graph_audience_is_accepted(graph, aud):
    assert graph.call("GET", "/v1.0/applications", token=graph.token(aud=aud)).status == 200


def test_token_of_another_tenant_expired_or_forged_is_rejected(graph, keys):
    other_tenant = graph.call("GET", "/v1.0/applications", token=graph.token(tid=str(uuid.uuid4())))
    assert_error(other_tenant, 401, "InvalidAuthenticationToken")
    forged = graph.call("GET", "/v1.0/applications", token=graph.token(key=keys[1]))
    assert_error(forged, 401, "InvalidAuthenticationToken", "Access token validation failure.")
    garbage = graph.call("GET", "/v1.0/applications", token="not-a-jwt")
    assert_error(garbage, 401, "InvalidAuthenticationToken")
    token = graph.token(lifetime=60)
    graph.now += 120
    assert_error(graph.call("GET", "/v1.0/applications", token=token), 401,
                 "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")


def test_management_needs_an_application_role(graph):
    token = graph.token(roles=())
    for method, path in [("GET", "/v1.0/applications"), ("POST", "/v1.0/applications"),
                         ("GET", "/v1.0/servicePrincipals")]:
        response = graph.call(method, path, {"displayName": "x"}, token=token)
        assert_error(response, 403, "Authorization_RequestDenied",
                     "Insufficient privileges to complete the operation.")


def test_owned_by_caller_sees_only_the_applications_it_created(graph):
    owner = str(uuid.uuid4())
    token = graph.token(appid=owner, roles=("Application.ReadWrite.OwnedBy",))
    graph.create("admin's")
    mine = graph.call("POST", "/v1.0/applications", {"displayName": "mine"}, token=token).json
    listed = graph.call("GET", "/v1.0/applications", token=token).json["value"]
    assert [a["displayName"] for a in listed] == ["mine"]
    assert graph.call("DELETE", f"/v1.0/applications/{mine['id']}", token=token).status == 204
    assert "_ownerAppIds" not in mine


def test_request_log_names_the_caller_never_the_token(graph):
    token = graph.token()
    response = graph.call("GET", "/v1.0/applications", token=token)
    assert response.log == {"client_id": graph.admin, "error_code": None}
    assert token not in json.dumps(response.log)


# --- applications: create, list, filter, get, select ---

def test_create_returns_the_application_and_no_service_principal(graph, keys):
    cert = make_cert(keys[1], cn="created")
    app = graph.create("created", identifierUris=["api://created"],
                       keyCredentials=[key_credential(cert)])
    assert app["@odata.context"] == f"{ORIGIN}/v1.0/$metadata#applications/$entity"
    [credential] = app["keyCredentials"]
    assert credential["key"] is None
    assert credential["customKeyIdentifier"] == certs.sha1_thumbprint(cert)
    assert credential["displayName"] == "CN=created"
    assert credential["startDateTime"] == st.graph_time(cert.not_valid_before_utc)
    assert credential["endDateTime"] == st.graph_time(cert.not_valid_after_utc)
    def listed():
        return graph.call("GET", "/v1.0/servicePrincipals",
                          query={"$filter": f"appId eq '{app['appId']}'"}).json["value"]

    assert listed() == []  # as in Entra: the service principal is a separate object
    created = graph.create_sp(app)
    assert created["@odata.context"].endswith("servicePrincipals/$entity")
    assert created["accountEnabled"] is True and "api://created" in created[
        "servicePrincipalNames"]
    assert [sp["id"] for sp in listed()] == [created["id"]]
    assert not any(k.startswith("_") for k in created)  # creation stamps stay private


def test_create_needs_a_display_name(graph):
    response = graph.call("POST", "/v1.0/applications", {"identifierUris": ["api://x"]})
    assert_error(response, 400, "Request_BadRequest")


@pytest.mark.parametrize("template", ["appId eq '{}'", "  appId   eq '{}' ", "appid eq '{}'"])
def test_filter_by_app_id(graph, template):
    app, _ = graph.create("one"), graph.create("two")
    found = graph.call("GET", "/v1.0/applications",
                       query={"$filter": template.format(app["appId"].upper())}).json
    assert found["@odata.context"] == f"{ORIGIN}/v1.0/$metadata#applications"
    assert [a["id"] for a in found["value"]] == [app["id"]]


def test_filter_by_identifier_uri_and_no_match(graph):
    app = graph.create("uri", identifierUris=["api://it's-me"])
    graph.create("other", identifierUris=["api://other"])
    found = graph.call("GET", "/v1.0/applications",
                       query={"$filter": "identifierUris/any(x: x eq 'api://it''s-me')"}).json
    assert [a["id"] for a in found["value"]] == [app["id"]]
    nothing = graph.call("GET", "/v1.0/applications",
                         query={"$filter": f"appId eq '{uuid.uuid4()}'"}).json
    assert nothing["value"] == []
    assert len(graph.call("GET", "/v1.0/applications").json["value"]) == 2


@pytest.mark.parametrize("clause", ["contains(displayName,'a')", "appId eq", "foo eq 'x'"])
def test_unsupported_filter_is_a_400(graph, clause):
    response = graph.call("GET", "/v1.0/applications", query={"$filter": clause})
    assert response.status == 400
    assert response.json["error"]["code"] in ("BadRequest", "Request_UnsupportedQuery")


def test_key_is_returned_only_when_one_object_is_read_with_select(graph, keys):
    cert = make_cert(keys[1])
    app = graph.create(keyCredentials=[key_credential(cert)])
    listed = graph.call("GET", "/v1.0/applications",
                        query={"$select": "id,keyCredentials"}).json["value"]
    assert listed[0]["keyCredentials"][0]["key"] is None
    assert set(listed[0]) == {"id", "keyCredentials"}
    plain = graph.call("GET", f"/v1.0/applications/{app['id']}").json
    assert plain["keyCredentials"][0]["key"] is None
    by_app_id = graph.call("GET", f"/v1.0/applications(appId='{app['appId']}')",
                           query={"$select": "id,appId,keyCredentials"}).json
    assert by_app_id["keyCredentials"][0]["key"] == b64(cert)
    assert set(by_app_id) == {"@odata.context", "id", "appId", "keyCredentials"}


def test_unknown_and_malformed_ids(graph):
    missing = str(uuid.uuid4())
    assert_error(graph.call("GET", f"/v1.0/applications/{missing}"), 404,
                 "Request_ResourceNotFound",
                 f"Resource '{missing}' does not exist or one of its queried reference-property "
                 "objects are not present.")
    assert_error(graph.call("GET", f"/v1.0/applications(appId='{missing}')"), 404,
                 "Request_ResourceNotFound")
    assert_error(graph.call("GET", "/v1.0/applications/not-a-guid"), 400, "Request_BadRequest")


# --- PATCH and DELETE ---

def test_patch_append_keeps_entries_resent_with_a_null_key(graph, keys):
    old, new = make_cert(keys[1], cn="old"), make_cert(keys[2], cn="new")
    app = graph.create(keyCredentials=[key_credential(old)])
    echoed = graph.call("GET", f"/v1.0/applications/{app['id']}").json["keyCredentials"]
    assert echoed[0]["key"] is None
    # Exactly what az ad app credential reset --append sends (ENTRA-FACTS §1.6).
    added = {"@odata.type": "#microsoft.graph.keyCredential", "displayName": None,
             "keyId": str(uuid.uuid4()), "type": "AsymmetricX509Cert", "usage": "Verify",
             "key": b64(new), "startDateTime": st.graph_time(new.not_valid_before_utc),
             "endDateTime": st.graph_time(new.not_valid_after_utc)}
    response = graph.call("PATCH", f"/v1.0/applications/{app['id']}",
                          {"keyCredentials": echoed + [added]})
    assert response.status == 204 and response.body == b""
    stored = graph.stored(app["id"])["keyCredentials"]
    assert [k["key"] for k in stored] == [b64(old), b64(new)]
    assert stored[1]["keyId"] == added["keyId"] and stored[1]["displayName"] == "CN=new"


def test_patch_replaces_the_whole_collection(graph, keys):
    one, two = make_cert(keys[1]), make_cert(keys[2])
    app = graph.create(keyCredentials=[key_credential(one)])
    response = graph.call("PATCH", f"/v1.0/applications(appId='{app['appId']}')",
                          {"keyCredentials": [key_credential(two)]})
    assert response.status == 204
    assert [k["key"] for k in graph.stored(app["id"])["keyCredentials"]] == [b64(two)]
    assert graph.call("PATCH", f"/v1.0/applications/{app['id']}",
                      {"keyCredentials": []}).status == 204
    assert graph.stored(app["id"])["keyCredentials"] == []


def invalid_entries(cert, other):
    too_late = st.graph_time(cert.not_valid_after_utc + datetime.timedelta(days=1))
    return [
        ({"type": "AsymmetricX509Cert", "usage": "Verify", "keyId": str(uuid.uuid4()),
          "key": None}, "KeyCredentialsInvalidValue: KeyValue cannot be null or empty"),
        (key_credential(cert, usage="Encrypt"),
         'The value for the property "usage" in one of your credentials is invalid. '
         "Acceptable values are Sign, Verify."),
        (key_credential(cert, type="Symmetric"), None),
        (key_credential(cert, usage="Sign"), None),
        (key_credential(cert, endDateTime=too_late), "Key credential end date is invalid."),
        (key_credential(cert, key=base64.b64encode(b"not a certificate").decode()), None),
        (key_credential(cert, key="%%%not base64"), None),
        (key_credential(cert, keyId="12"), None),
        (key_credential(cert, startDateTime="yesterday"), None),
        ("a string", None),
    ]


def test_patch_rejects_invalid_key_credentials_and_changes_nothing(graph, keys):
    good, other = make_cert(keys[1]), make_cert(keys[2])
    app = graph.create(keyCredentials=[key_credential(good)])
    for entry, message in invalid_entries(other, good):
        response = graph.call("PATCH", f"/v1.0/applications/{app['id']}",
                              {"keyCredentials": [entry]})
        assert_error(response, 400, "Request_BadRequest", message)
    assert [k["key"] for k in graph.stored(app["id"])["keyCredentials"]] == [b64(good)]


def test_patch_rules_for_other_properties(graph, keys):
    app = graph.create("before", identifierUris=["api://taken"])
    other = graph.create("other")
    graph.create_sp(other)
    url = f"/v1.0/applications/{other['id']}"
    assert_error(graph.call("PATCH", url, {"passwordCredentials": [{"displayName": "x"}]}), 400,
                 "Request_BadRequest", "New password credentials must be generated using "
                 "service actions.")
    assert_error(graph.call("PATCH", url, {"identifierUris": ["API://TAKEN"]}), 400,
                 "Request_MultipleObjectsWithSameKeyValue")
    assert_error(graph.call("PATCH", url, {"unknownThing": 1}), 400, "Request_BadRequest")
    assert_error(graph.call("PATCH", url, {"appId": str(uuid.uuid4())}), 400, "Request_BadRequest")
    assert_error(graph.call("PATCH", url, {"displayName": 5}), 400, "Request_BadRequest")
    role = {"id": str(uuid.uuid4()), "value": "Data.Read", "allowedMemberTypes": ["Application"],
            "displayName": "Read", "description": "Read", "isEnabled": True}
    cert = make_cert(keys[1])
    long_name = "n" * 120
    assert graph.call("PATCH", url, {"displayName": "renamed", "appRoles": [role],
                                     "keyCredentials": [key_credential(cert,
                                                                       displayName=long_name)]}
                      ).status == 204
    stored = graph.stored(other["id"])
    assert stored["displayName"] == "renamed" and stored["appRoles"][0]["value"] == "Data.Read"
    assert stored["keyCredentials"][0]["displayName"] == "n" * 90
    with graph.state.read() as data:
        sp = st.service_principal_for(data, other["appId"])
        assert sp["displayName"] == "renamed" and sp["appRoles"][0]["value"] == "Data.Read"
    assert app["identifierUris"] == ["api://taken"]


def test_delete_removes_application_and_service_principal(graph):
    app = graph.create()
    graph.create_sp(app)
    response = graph.call("DELETE", f"/v1.0/applications/{app['id']}")
    assert response.status == 204
    assert_error(graph.call("GET", f"/v1.0/applications/{app['id']}"), 404,
                 "Request_ResourceNotFound")
    assert graph.call("GET", "/v1.0/servicePrincipals",
                      query={"$filter": f"appId eq '{app['appId']}'"}).json["value"] == []


# --- addKey / removeKey ---

@pytest.fixture
def rolling_app(graph, keys):
    """An application with one valid certificate (keys[1]), and a helper to call its actions."""
    cert = make_cert(keys[1], cn="current")
    app = graph.create("rolling", keyCredentials=[key_credential(cert)])

    def action(name, body):
        return graph.call("POST", f"/v1.0/applications/{app['id']}/{name}", body,
                          token=graph.token(appid=app["appId"], roles=()))
    return app, cert, action


@pytest.mark.parametrize("alg,header", [("RS256", "x5t"), ("PS256", "x5t#S256"), ("RS256", "kid")])
def test_add_key_with_a_valid_proof(graph, keys, rolling_app, alg, header):
    app, cert, action = rolling_app
    new = make_cert(keys[2], cn="next")
    response = action("addKey", {"keyCredential": key_credential(new, displayName="next"),
                                 "passwordCredential": None,
                                 "proof": proof(app, keys[1], cert, alg=alg, header=header,
                                                now=graph.now)})
    assert response.status == 200, response.json
    assert response.json["@odata.context"].endswith("#microsoft.graph.keyCredential")
    assert response.json["displayName"] == "next" and response.json["key"] is None
    assert response.json["customKeyIdentifier"] == certs.sha1_thumbprint(new)
    assert [k["key"] for k in graph.stored(app["id"])["keyCredentials"]] == [b64(cert), b64(new)]


def test_add_key_by_app_id_address(graph, keys, rolling_app):
    app, cert, _ = rolling_app
    response = graph.call("POST", f"/v1.0/applications(appId='{app['appId']}')/addKey",
                          {"keyCredential": key_credential(make_cert(keys[2])),
                           "proof": proof(app, keys[1], cert, now=graph.now)},
                          token=graph.token(appid=app["appId"], roles=()))
    assert response.status == 200, response.json


def bad_proofs(graph, keys, app, cert):
    now = graph.now
    stranger = make_cert(keys[3])
    good = proof(app, keys[1], cert, now=now)
    header, payload, signature = good.split(".")
    padded = ".".join([header + "=" * (-len(header) % 4 or 4), payload, signature])
    return {
        "signed by an unregistered key": proof(app, keys[3], stranger, now=now),
        "thumbprint of the registered cert, signature by another key": proof(app, keys[3], cert,
                                                                             now=now),
        "lifetime over ten minutes": proof(app, keys[1], cert, now=now, lifetime=601),
        "wrong audience": proof(app, keys[1], cert, now=now, aud="https://graph.microsoft.com"),
        "iss is the appId, not the object id": proof(app, keys[1], cert, now=now,
                                                     iss=app["appId"]),
        "expired": proof(app, keys[1], cert, now=now - 1300),
        "not yet valid": proof(app, keys[1], cert, now=now + 900),
        "padded header": padded,
        "HS256 keyed with the certificate": jwt.encode(
            {"aud": PROOF_AUD, "iss": app["id"], "nbf": int(now), "exp": int(now) + 600},
            base64.b64encode(certs.der_of(cert)).decode(), algorithm="HS256",
            headers={"x5t": unpadded(certs.x5t(cert))}),
        "unsigned": jwt.encode({"aud": PROOF_AUD, "iss": app["id"], "nbf": int(now),
                                "exp": int(now) + 600}, None, algorithm="none",
                               headers={"x5t": unpadded(certs.x5t(cert))}),
        "no nbf": jwt.encode({"aud": PROOF_AUD, "iss": app["id"], "exp": int(now) + 600},
                             keys[1], algorithm="RS256",
                             headers={"x5t": unpadded(certs.x5t(cert))}),
        "not a JWT": "abc.def",
        "not a string": 42,
    }


def test_add_key_rejects_bad_proofs(graph, keys, rolling_app):
    app, cert, action = rolling_app
    for reason, bad in bad_proofs(graph, keys, app, cert).items():
        response = action("addKey", {"keyCredential": key_credential(make_cert(keys[2])),
                                     "proof": bad})
        assert response.status == 401, reason
        assert_error(response, 401, "Authentication_MissingOrMalformed",
                     "Access Token missing or malformed.")
    assert len(graph.stored(app["id"])["keyCredentials"]) == 1


def test_add_key_without_proof_is_denied(graph, keys, rolling_app):
    _, _, action = rolling_app
    response = action("addKey", {"keyCredential": key_credential(make_cert(keys[2]))})
    assert_error(response, 403, "Authorization_RequestDenied")


def test_add_key_with_an_expired_registered_certificate(graph, keys, rolling_app):
    app, cert, action = rolling_app
    graph.now += 40 * DAY  # the certificate (30 days) and its credential have expired
    response = action("addKey", {"keyCredential": key_credential(make_cert(keys[2])),
                                 "proof": proof(app, keys[1], cert, now=graph.now)})
    assert_error(response, 401, "Authentication_MissingOrMalformed")


def test_add_key_needs_a_certificate_on_the_app(graph, keys):
    app = graph.create("no keys")
    token = graph.token(appid=app["appId"], roles=())
    stranger = make_cert(keys[3])
    response = graph.call("POST", f"/v1.0/applications/{app['id']}/addKey",
                          {"keyCredential": key_credential(stranger),
                           "proof": proof(app, keys[3], stranger, now=graph.now)}, token=token)
    assert_error(response, 401, "Authentication_MissingOrMalformed")


def test_another_app_cannot_roll_keys_without_permission(graph, keys, rolling_app):
    app, cert, _ = rolling_app
    intruder = graph.token(appid=str(uuid.uuid4()), roles=())
    response = graph.call("POST", f"/v1.0/applications/{app['id']}/addKey",
                          {"keyCredential": key_credential(make_cert(keys[2])),
                           "proof": proof(app, keys[1], cert, now=graph.now)}, token=intruder)
    assert_error(response, 403, "Authorization_RequestDenied")


def test_add_key_validates_the_new_key(graph, keys, rolling_app):
    app, cert, action = rolling_app
    response = action("addKey", {"keyCredential": key_credential(make_cert(keys[2]), usage="Sign"),
                                 "proof": proof(app, keys[1], cert, now=graph.now)})
    assert_error(response, 400, "Request_BadRequest")


def test_remove_key_rolls_over_and_keeps_the_last_certificate(graph, keys, rolling_app):
    app, cert, action = rolling_app
    new = make_cert(keys[2], cn="next")
    added = action("addKey", {"keyCredential": key_credential(new),
                              "proof": proof(app, keys[1], cert, now=graph.now)}).json
    old_id = graph.stored(app["id"])["keyCredentials"][0]["keyId"]
    # The new key proves possession to remove the old one.
    response = action("removeKey", {"keyId": old_id, "proof": proof(app, keys[2], new,
                                                                     now=graph.now)})
    assert response.status == 204
    assert [k["keyId"] for k in graph.stored(app["id"])["keyCredentials"]] == [added["keyId"]]
    # The old key is gone, so its proofs no longer count.
    stale = action("removeKey", {"keyId": added["keyId"],
                                 "proof": proof(app, keys[1], cert, now=graph.now)})
    assert_error(stale, 401, "Authentication_MissingOrMalformed")
    last = action("removeKey", {"keyId": added["keyId"],
                                "proof": proof(app, keys[2], new, now=graph.now)})
    assert_error(last, 400, "Request_BadRequest")
    unknown = action("removeKey", {"keyId": str(uuid.uuid4()),
                                   "proof": proof(app, keys[2], new, now=graph.now)})
    assert_error(unknown, 404, "Request_ResourceNotFound")


# --- passwords ---

def test_add_password_returns_the_secret_once_and_stores_a_hash(graph):
    app = graph.create()
    response = graph.call("POST", f"/v1.0/applications/{app['id']}/addPassword",
                          {"passwordCredential": {"displayName": "ci"}})
    assert response.status == 200
    created = response.json
    secret = created["secretText"]
    assert len(secret) >= 32 and created["hint"] == secret[:3] and created["displayName"] == "ci"
    assert not set(st.SECRET_FIELDS) & set(created)
    start, end = (st.parse_graph_time(created[k]) for k in ("startDateTime", "endDateTime"))
    assert 700 * DAY < (end - start).total_seconds() < 740 * DAY
    [stored] = graph.stored(app["id"])["passwordCredentials"]
    assert stored["secretText"] is None and secret not in json.dumps(stored)
    assert st.secret_matches(stored, secret) and not st.secret_matches(stored, secret + "x")
    shown = graph.call("GET", f"/v1.0/applications/{app['id']}",
                       query={"$select": "passwordCredentials,keyCredentials"}).json
    assert shown["passwordCredentials"][0]["secretText"] is None
    assert "secretHash" not in json.dumps(shown) and secret not in json.dumps(shown)

    removed = graph.call("POST", f"/v1.0/applications/{app['id']}/removePassword",
                         {"keyId": created["keyId"]})
    assert removed.status == 204
    assert graph.stored(app["id"])["passwordCredentials"] == []
    again = graph.call("POST", f"/v1.0/applications/{app['id']}/removePassword",
                       {"keyId": created["keyId"]})
    assert_error(again, 404, "Request_ResourceNotFound")


def test_add_password_validates_dates_and_permission(graph):
    app = graph.create()
    url = f"/v1.0/applications/{app['id']}/addPassword"
    past = st.graph_time(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1))
    assert_error(graph.call("POST", url, {"passwordCredential": {"endDateTime": past}}), 400,
                 "Request_BadRequest")
    own = graph.token(appid=app["appId"], roles=())
    assert_error(graph.call("POST", url, {"passwordCredential": {}}, token=own), 403,
                 "Authorization_RequestDenied")


# --- service principals and role assignments ---

def test_grant_an_app_role_on_graph(graph):
    app = graph.create("client")
    graph.create_sp(app)
    with graph.state.read() as data:
        graph_sp = st.service_principal_for(data, st.GRAPH_APP_ID)["id"]
        client_sp = st.service_principal_for(data, app["appId"])["id"]
    url = f"/v1.0/servicePrincipals/{graph_sp}/appRoleAssignedTo"
    body = {"principalId": client_sp, "resourceId": graph_sp,
            "appRoleId": st.APPLICATION_READWRITE_ALL}
    created = graph.call("POST", url, body)
    assert created.status == 201 and created.json["appRoleId"] == st.APPLICATION_READWRITE_ALL
    with graph.state.read() as data:
        assert st.roles_of(data, client_sp, graph_sp) == ["Application.ReadWrite.All"]
    assert_error(graph.call("POST", url, body), 400, "Request_BadRequest",
                 "Permission being assigned already exists on the object")
    unknown_role = dict(body, appRoleId=str(uuid.uuid4()))
    assert_error(graph.call("POST", url, unknown_role), 400, "Request_BadRequest",
                 "Permission being assigned was not found on application")
    missing = dict(body, principalId=str(uuid.uuid4()))
    assert_error(graph.call("POST", url, missing), 404, "Request_ResourceNotFound")
    listed = graph.call("GET", url).json["value"]
    assert [a["principalId"] for a in listed] == [client_sp]
    mine = graph.call("GET", f"/v1.0/servicePrincipals/{client_sp}/appRoleAssignments").json
    assert [a["id"] for a in mine["value"]] == [created.json["id"]]
    assert graph.call("DELETE", f"{url}/{created.json['id']}").status == 204
    with graph.state.read() as data:
        assert st.roles_of(data, client_sp, graph_sp) == []


def test_app_role_assignment_readwrite_all_may_grant_and_a_reader_may_not(graph):
    """Admin consent as Graph documents it: ``AppRoleAssignment.ReadWrite.All`` alone suffices to
    grant, list and withdraw, without any Application.* role; a read-only role is refused."""
    app = graph.create("consented")
    graph.create_sp(app)
    with graph.state.read() as data:
        graph_sp = st.service_principal_for(data, st.GRAPH_APP_ID)
        client_sp = st.service_principal_for(data, app["appId"])["id"]
    url = f"/v1.0/servicePrincipals/{graph_sp['id']}/appRoleAssignedTo"
    body = {"principalId": client_sp, "resourceId": graph_sp["id"],
            "appRoleId": st.app_role(graph_sp, "User.Read.All")["id"]}
    reader = graph.token(roles=("Application.Read.All",))
    assert_error(graph.call("POST", url, body, token=reader), 403, "Authorization_RequestDenied")
    consent = graph.token(roles=("AppRoleAssignment.ReadWrite.All",))
    created = graph.call("POST", url, body, token=consent)
    assert created.status == 201
    assert [a["id"] for a in graph.call("GET", url, token=consent).json["value"]] == [
        created.json["id"]]
    assert graph.call("DELETE", f"{url}/{created.json['id']}", token=consent).status == 204
    assert_error(graph.call("POST", "/v1.0/applications", {"displayName": "x"}, token=consent),
                 403, "Authorization_RequestDenied")


def test_service_principal_reads_and_duplicate_create(graph):
    app = graph.create("sp")
    graph.create_sp(app)
    sp = graph.call("GET", "/v1.0/servicePrincipals",
                    query={"$filter": f"appId eq '{app['appId']}'"}).json["value"][0]
    got = graph.call("GET", f"/v1.0/servicePrincipals/{sp['id']}").json
    assert got["appId"] == app["appId"] and got["@odata.context"].endswith("$entity")
    by_app_id = graph.call("GET", f"/v1.0/servicePrincipals(appId='{app['appId']}')").json
    assert by_app_id["id"] == sp["id"]
    assert_error(graph.call("POST", "/v1.0/servicePrincipals", {"appId": app["appId"]}), 409,
                 "Request_MultipleObjectsWithSameKeyValue")
    assert_error(graph.call("POST", "/v1.0/servicePrincipals", {"appId": str(uuid.uuid4())}), 400,
                 "Request_BadRequest")


def test_service_principal_patch_and_delete_by_id_or_app_id(graph):
    app = graph.create("sp-managed")
    sp = graph.create_sp(app)
    by_app_id = f"/v1.0/servicePrincipals(appId='{app['appId']}')"
    assert graph.call("PATCH", by_app_id, {"accountEnabled": False, "tags": ["x"]}).status == 204
    got = graph.call("GET", f"/v1.0/servicePrincipals/{sp['id']}").json
    assert got["accountEnabled"] is False and got["tags"] == ["x"]
    assert_error(graph.call("PATCH", by_app_id, {"accountEnabled": "no"}), 400,
                 "Request_BadRequest")
    assert_error(graph.call("PATCH", by_app_id, {"appId": str(uuid.uuid4())}), 400,
                 "Request_BadRequest")
    assert graph.call("DELETE", by_app_id).status == 204
    assert_error(graph.call("GET", by_app_id), 404, "Request_ResourceNotFound")
    assert_error(graph.call("DELETE", f"/v1.0/servicePrincipals/{sp['id']}"), 404,
                 "Request_ResourceNotFound")
    assert graph.create_sp(app)["id"] != sp["id"]  # a new object can take its place
    with graph.state.read() as data:
        graph_sp = st.service_principal_for(data, st.GRAPH_APP_ID)["id"]
    assert_error(graph.call("DELETE", f"/v1.0/servicePrincipals/{graph_sp}"), 403,
                 "Authorization_RequestDenied")


# --- defensive ---

@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b"null"])
def test_malformed_bodies_are_400(graph, raw):
    response = graph.call("POST", "/v1.0/applications", raw=raw)
    assert_error(response, 400, "Request_BadRequest")


@pytest.mark.parametrize("method,path", [("GET", "/v1.0/users"), ("GET", "/v2.0/applications"),
                                         ("GET", "/v1.0/applications/x/y/z"),
                                         ("PUT", "/v1.0/applications"), ("GET", "/beta/")])
def test_unknown_routes_and_methods_are_graph_errors(graph, method, path):
    response = graph.call(method, path)
    assert response.status in (400, 404, 405)
    assert response.json["error"]["code"]


@pytest.mark.parametrize("body", [
    {"displayName": "x", "keyCredentials": "nope"}, {"displayName": "x", "keyCredentials": [None]},
    {"displayName": "x", "identifierUris": [1]}, {"displayName": "x", "appRoles": [{"id": 1}]},
    {"displayName": "x", "passwordCredentials": [None]}, {"displayName": ["x"]},
])
def test_wrong_types_never_crash(graph, body):
    assert graph.call("POST", "/v1.0/applications", body).status == 400


# --- end to end: real HTTPS, real MSAL tokens from the emulator's STS ---

def msal_token(emulator, app_id, key, cert, scope=None):
    """A token from the emulator's token endpoint through real MSAL (PS256 + x5t#S256 + x5c)."""
    import msal
    from cryptography.hazmat.primitives import serialization

    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    client = msal.ConfidentialClientApplication(
        app_id, authority=f"{emulator.authority_host}/{emulator.tenant_id}",
        client_credential={"private_key": pem_key, "public_certificate": cert.public_bytes(
            serialization.Encoding.PEM).decode()},
        instance_discovery=False)
    return client.acquire_token_for_client([scope or f"{emulator.authority_host}/.default"])


def admin_token(emulator, scope="https://graph.microsoft.com/.default"):
    import msal
    from cryptography import x509

    pem = open(emulator.admin["certificate"], encoding="ascii").read()
    client = msal.ConfidentialClientApplication(
        emulator.admin["client_id"], authority=f"{emulator.authority_host}/{emulator.tenant_id}",
        client_credential={"private_key": pem, "thumbprint": certs.sha1_thumbprint(
            x509.load_pem_x509_certificate(pem.encode()))},
        instance_discovery=False)
    result = client.acquire_token_for_client([scope])
    assert "access_token" in result, result
    return result["access_token"]


def over_https(emulator, method, path, token, body=None, params=None):
    import requests

    response = requests.request(method, emulator.graph_endpoint + path, json=body, params=params,
                                headers={"Authorization": f"Bearer {token}"},
                                verify=emulator.ca_bundle, timeout=10)
    return response.status_code, (response.json() if response.content else None)


def test_e2e_admin_manages_an_application(emulator, trust_emulator, rsa_keys):
    token = admin_token(emulator)
    first, second = make_cert(rsa_keys[0], cn="e2e-first"), make_cert(rsa_keys[1], cn="e2e-second")
    status, app = over_https(emulator, "POST", "/v1.0/applications", token, {
        "displayName": "e2e managed", "keyCredentials": [key_credential(first)]})
    assert status == 201
    status, found = over_https(emulator, "GET", "/v1.0/applications", token,
                               params={"$filter": f"appId eq '{app['appId']}'"})
    assert status == 200 and [a["id"] for a in found["value"]] == [app["id"]]
    status, read = over_https(emulator, "GET", f"/v1.0/applications/{app['id']}", token)
    status = over_https(emulator, "PATCH", f"/v1.0/applications/{app['id']}", token, {
        "keyCredentials": read["keyCredentials"] + [key_credential(second)]})[0]
    assert status == 204
    status, selected = over_https(emulator, "GET", f"/v1.0/applications(appId='{app['appId']}')",
                                  token, params={"$select": "id,keyCredentials"})
    assert [k["key"] for k in selected["keyCredentials"]] == [b64(first), b64(second)]
    assert over_https(emulator, "DELETE", f"/v1.0/applications/{app['id']}", token)[0] == 204
    assert over_https(emulator, "GET", f"/v1.0/applications/{app['id']}", token)[0] == 404
    log = [e for e in emulator.requests_log() if e.get("path", "").startswith("/v1.0/")]
    assert log and all(token not in json.dumps(e) for e in log)


def test_e2e_an_app_rolls_its_own_key(emulator, trust_emulator, rsa_keys, make_app):
    """addKey with the app's own token, sign in with the new key, removeKey the old one: the old
    key's sign-in then fails with AADSTS700027."""
    app = make_app("e2e-roller", key_index=0)
    own = msal_token(emulator, app.app_id, app.private_key, app.certificate)
    assert "access_token" in own, own
    new_cert = make_cert(rsa_keys[1], cn="e2e-roller-next")
    base = f"/v1.0/applications/{app.object_id}"
    status, added = over_https(emulator, "POST", f"{base}/addKey", own["access_token"], {
        "keyCredential": key_credential(new_cert), "passwordCredential": None,
        "proof": proof(app.app, app.private_key, app.certificate)})
    assert status == 200, added

    with_new = msal_token(emulator, app.app_id, rsa_keys[1], new_cert)
    assert "access_token" in with_new, with_new
    old_key_id = next(k["keyId"] for k in emulator.application(app.app_id)["keyCredentials"]
                      if k["keyId"] != added["keyId"])
    status, _ = over_https(emulator, "POST", f"{base}/removeKey", with_new["access_token"], {
        "keyId": old_key_id, "proof": proof(app.app, rsa_keys[1], new_cert, alg="PS256",
                                            header="x5t#S256")})
    assert status == 204

    with_old = msal_token(emulator, app.app_id, app.private_key, app.certificate)
    assert with_old.get("error") == "invalid_client"
    assert 700027 in with_old["error_codes"], with_old
    status, error = over_https(emulator, "POST", f"{base}/addKey", with_new["access_token"], {
        "keyCredential": key_credential(make_cert(rsa_keys[0])),
        "proof": proof(app.app, app.private_key, app.certificate)})
    assert status == 401 and error["error"]["code"] == "Authentication_MissingOrMalformed"


def test_e2e_management_without_the_role_is_denied(emulator, trust_emulator, make_app):
    app = make_app("e2e-unprivileged", key_index=0)
    result = msal_token(emulator, app.app_id, app.private_key, app.certificate)
    status, error = over_https(emulator, "GET", "/v1.0/applications", result["access_token"])
    assert status == 403 and error["error"]["code"] == "Authorization_RequestDenied"
    status, error = over_https(emulator, "GET", "/v1.0/applications", "")
    assert status == 401 and error["error"]["message"] == "Access token is empty."
