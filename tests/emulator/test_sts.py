"""The token service over real HTTPS: discovery, JWKS, tokens, and every way to be refused.

Assertions are built with PyJWT exactly as MSAL builds them (ENTRA-FACTS 1.3), then tampered with.
Each refusal must carry Entra's envelope and AADSTS code (ENTRA-FACTS 2.2/2.3), never a 500.
"""
import base64
import datetime
import time
import uuid

import jwt
import pytest
import requests
from conftest import make_certificate

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRAPH = "https://graph.microsoft.com/.default"


def b64url(raw):
    return base64.urlsafe_b64encode(raw).decode("ascii")  # padded, as MSAL sends it


def sha1_x5t(cert):
    from azext_entracert.core.certs import x5t

    return x5t(cert)


def make_assertion(emulator, test_app, *, key=None, cert=None, alg="RS256", claims=None,
                   headers=None, drop=()):
    """A client assertion as MSAL makes it (float times, padded thumbprint, no nbf)."""
    from azext_entracert.core.certs import x5t, x5t_s256

    now = time.time()
    payload = {"aud": emulator.token_endpoint, "iss": test_app.app_id, "sub": test_app.app_id,
               "exp": now + 600, "iat": now, "jti": str(uuid.uuid4())}
    payload.update(claims or {})
    for name in drop:
        payload.pop(name)
    cert = cert or test_app.certificate
    header = {"x5t#S256": x5t_s256(cert)} if alg == "PS256" else {"x5t": x5t(cert)}
    header.update(headers or {})
    return jwt.encode(payload, key or test_app.private_key, algorithm=alg, headers=header)


def token_request(emulator, form, *, tenant=None, headers=None):
    url = f"{emulator.authority_host}/{tenant or emulator.tenant_id}/oauth2/v2.0/token"
    return requests.post(url, data=form, verify=emulator.ca_bundle, timeout=10, headers=headers)


def with_assertion(emulator, test_app, assertion, scope=GRAPH, **kwargs):
    return token_request(emulator, {
        "client_id": test_app.app_id, "grant_type": "client_credentials", "scope": scope,
        "client_assertion_type": JWT_BEARER, "client_assertion": assertion}, **kwargs)


def assert_aadsts(response, status, code, error=None):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert "Trace ID: " in body["error_description"]
    assert body["error_uri"].endswith(f"code={code}")
    for field in ("timestamp", "trace_id", "correlation_id"):
        assert body[field]
    if error:
        assert body["error"] == error
    assert response.headers["Cache-Control"] == "no-store, no-cache"
    return body


@pytest.fixture(scope="module")
def app(make_app):
    return make_app("sts-app", key_index=0)


# --- discovery and keys -------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["guid", "domain", "DOMAIN"])
def test_discovery_uses_guid_endpoints_for_guid_or_domain_tenant(emulator, form):
    tenant = {"guid": emulator.tenant_id, "domain": emulator.tenant_domain,
              "DOMAIN": emulator.tenant_domain.upper()}[form]
    url = f"{emulator.authority_host}/{tenant}/v2.0/.well-known/openid-configuration"
    doc = requests.get(url, verify=emulator.ca_bundle, timeout=10).json()
    assert doc["token_endpoint"] == emulator.token_endpoint
    assert doc["issuer"] == f"{emulator.authority_host}/{emulator.tenant_id}/v2.0"
    assert doc["issuer"].split("/")[3] == emulator.tenant_id  # how az resolves a domain tenant
    tenant_url = f"{emulator.authority_host}/{emulator.tenant_id}/"
    assert doc["authorization_endpoint"].startswith(tenant_url)
    assert doc["jwks_uri"] == f"{emulator.authority_host}/{emulator.tenant_id}/discovery/v2.0/keys"


@pytest.mark.parametrize("tenant, code", [("nosuch.onmicrosoft.com", 90002),
                                          ("3f1e2d4c-0000-4000-8000-00000000abcd", 90002),
                                          ("not_a_tenant!", 900023)])
def test_discovery_of_unknown_or_malformed_tenant_is_refused(emulator, tenant, code):
    url = f"{emulator.authority_host}/{tenant}/v2.0/.well-known/openid-configuration"
    assert_aadsts(requests.get(url, verify=emulator.ca_bundle, timeout=10), 400, code)


@pytest.mark.parametrize("segment", ["common", "organizations"])
def test_common_discovery_has_the_tenantid_placeholder_only_in_the_issuer(emulator, segment):
    """As the real ``common`` document: endpoints keep the segment MSAL takes the tenant from
    (ENTRA-FACTS 0.1), only the issuer carries the literal ``{tenantid}``."""
    doc = requests.get(f"{emulator.authority_host}/{segment}/v2.0/.well-known/openid-configuration",
                       verify=emulator.ca_bundle, timeout=10).json()
    assert doc["issuer"] == f"{emulator.authority_host}/{{tenantid}}/v2.0"
    assert doc["token_endpoint"] == f"{emulator.authority_host}/{segment}/oauth2/v2.0/token"
    assert doc["authorization_endpoint"] == (
        f"{emulator.authority_host}/{segment}/oauth2/v2.0/authorize")
    assert doc["jwks_uri"] == f"{emulator.authority_host}/{segment}/discovery/v2.0/keys"


def test_msal_on_common_is_told_to_name_a_tenant(emulator, app, trust_emulator):
    """Client credentials need a tenant: MSAL on ``/common`` posts to /common/... and gets 50059."""
    import msal

    from azext_entracert.core.certs import sha1_thumbprint

    client = msal.ConfidentialClientApplication(
        app.app_id, authority=f"{emulator.authority_host}/common", instance_discovery=False,
        client_credential={"private_key": app.pem, "thumbprint": sha1_thumbprint(app.certificate)})
    with pytest.warns(DeprecationWarning):  # MSAL itself says so
        result = client.acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert result.get("error_codes") == [50059], result


def test_instance_discovery_answers(emulator):
    instance = requests.get(
        f"{emulator.authority_host}/common/discovery/instance",
        params={"api-version": "1.1",
                "authorization_endpoint": f"https://127.0.0.1/{emulator.tenant_id}/oauth2/v2.0/authorize"},
        verify=emulator.ca_bundle, timeout=10).json()
    assert instance["tenant_discovery_endpoint"] == (
        f"{emulator.authority_host}/{emulator.tenant_id}/v2.0/.well-known/openid-configuration")
    assert instance["metadata"][0]["aliases"]


def test_arm_metadata_is_readable_by_azure_cli(emulator):
    from azure.cli.core.cloud import _arm_to_cli_mapper

    metadata = requests.get(f"{emulator.authority_host}/metadata/endpoints?api-version=2022-09-01",
                            verify=emulator.ca_bundle, timeout=10).json()
    cloud = _arm_to_cli_mapper(metadata)
    assert cloud.endpoints.active_directory == emulator.authority_host
    assert cloud.endpoints.active_directory_resource_id == "https://management.core.windows.net/"
    assert cloud.endpoints.microsoft_graph_resource_id == emulator.authority_host + "/"


def jwks_key(emulator):
    keys = requests.get(f"{emulator.authority_host}/{emulator.tenant_id}/discovery/v2.0/keys",
                        verify=emulator.ca_bundle, timeout=10).json()["keys"]
    assert len(keys) == 1 and keys[0]["kid"] == keys[0]["x5t"] and "=" not in keys[0]["kid"]
    return jwt.PyJWK(keys[0]).key


def test_tokens_verify_against_the_published_jwks(emulator, app):
    response = with_assertion(emulator, app, make_assertion(emulator, app))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.keys() == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    lifetime = (body["token_type"], body["expires_in"], body["ext_expires_in"])
    assert lifetime == ("Bearer", 3599, 3599)
    assert response.headers["Cache-Control"] == "no-store, no-cache"
    claims = jwt.decode(body["access_token"], jwks_key(emulator), algorithms=["RS256"],
                        audience="https://graph.microsoft.com",
                        issuer=f"https://sts.windows.net/{emulator.tenant_id}/")
    sp_oid = claims["oid"]
    assert claims["appid"] == app.app_id and claims["appidacr"] == "2"
    assert claims["sub"] == sp_oid and claims["tid"] == emulator.tenant_id
    assert claims["ver"] == "1.0" and claims["idtyp"] == "app" and "roles" not in claims
    # Entra back-dates iat/nbf by 5 minutes; expires_in stays 3599 (ENTRA-FACTS 8).
    assert claims["exp"] - claims["iat"] == 3899 and claims["nbf"] == claims["iat"]
    assert abs(claims["iat"] - (time.time() - 300)) < 10
    header = jwt.get_unverified_header(body["access_token"])
    assert header["kid"] == header["x5t"]


@pytest.mark.parametrize("scope, aud", [
    ("https://management.core.windows.net//.default", "https://management.core.windows.net/"),
    ("https://management.azure.com/.default", "https://management.azure.com"),
    ("00000003-0000-0000-c000-000000000000/.default", "00000003-0000-0000-c000-000000000000"),
])
def test_arm_and_graph_audiences_are_kept_as_requested(emulator, app, scope, aud):
    response = with_assertion(emulator, app, make_assertion(emulator, app), scope=scope)
    assert response.status_code == 200, response.text
    assert emulator.verify_access_token(response.json()["access_token"])["aud"] == aud


def test_the_emulator_origin_is_graph_as_az_asks_for_it(emulator, app):
    response = with_assertion(emulator, app, make_assertion(emulator, app),
                              scope=emulator.authority_host + "//.default")
    claims = emulator.verify_access_token(response.json()["access_token"])
    assert claims["aud"] == emulator.authority_host + "/"


def test_graph_takes_every_graph_token_the_sts_issues(emulator, trust_emulator):
    """ENTRA-FACTS 0.8 registers the cloud with ``https://localhost:PORT/`` as Graph: the token
    az then gets for ``https://localhost:PORT//.default`` must open Graph too."""
    from .test_graph import admin_token

    for resource in (f"https://localhost:{emulator.port}/", f"{emulator.authority_host}/",
                     "https://graph.microsoft.com"):
        token = admin_token(emulator, resource + "/.default")
        response = requests.get(f"{emulator.authority_host}/v1.0/applications", timeout=10,
                                headers={"Authorization": f"Bearer {token}"},
                                verify=emulator.ca_bundle)
        assert response.status_code == 200, (resource, response.text)


def test_app_resources_roles_and_v2_tokens(emulator, make_app, app):
    api = make_app("sts-api-v2", key_index=1, identifier_uris=["api://sts-api-v2"],
                   app_roles=["Data.Read"], requested_token_version=2)
    emulator.grant_app_role(app.app_id, "api://sts-api-v2", "Data.Read")
    for scope in ("api://sts-api-v2/.default", f"{api.app_id}/.default"):
        response = with_assertion(emulator, app, make_assertion(emulator, app), scope=scope)
        assert response.status_code == 200, response.text
        claims = jwt.decode(response.json()["access_token"], jwks_key(emulator),
                            algorithms=["RS256"], audience=api.app_id,
                            issuer=f"{emulator.authority_host}/{emulator.tenant_id}/v2.0")
        assert claims["azp"] == app.app_id and claims["azpacr"] == "2"
        assert claims["ver"] == "2.0" and claims["roles"] == ["Data.Read"]


def test_admin_app_gets_application_readwrite_all_on_graph(emulator):
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from azext_entracert.core.certs import x5t

    data = open(emulator.admin["certificate"], "rb").read()
    cert, key = x509.load_pem_x509_certificate(data), load_pem_private_key(data, None)
    now = time.time()
    assertion = jwt.encode({"aud": emulator.token_endpoint, "iss": emulator.admin["client_id"],
                            "sub": emulator.admin["client_id"], "exp": now + 600, "iat": now},
                           key, algorithm="RS256", headers={"x5t": x5t(cert)})
    response = token_request(emulator, {
        "client_id": emulator.admin["client_id"], "grant_type": "client_credentials",
        "scope": GRAPH, "client_assertion_type": JWT_BEARER, "client_assertion": assertion})
    assert emulator.verify_access_token(response.json()["access_token"])["roles"] == [
        "Application.ReadWrite.All"]


# --- lenient where Entra is lenient -------------------------------------------------------------

def test_lenient_forms_are_accepted(emulator, app):
    """Padded or unpadded thumbprints, float times, no nbf, the same assertion reused,
    the domain tenant in aud, and PS256 with x5t#S256."""
    reused = make_assertion(emulator, app)
    unpadded = make_assertion(emulator, app, headers={"x5t": sha1_x5t(app.certificate).rstrip("=")})
    domain_aud = make_assertion(emulator, app, claims={
        "aud": f"{emulator.authority_host}/{emulator.tenant_domain}/oauth2/v2.0/token"})
    pss = make_assertion(emulator, app, alg="PS256")
    slightly_expired = make_assertion(emulator, app, claims={"exp": time.time() - 60})
    for assertion in (reused, reused, unpadded, domain_aud, pss, slightly_expired):
        response = with_assertion(emulator, app, assertion)
        assert response.status_code == 200, response.text


# --- strict where Entra is strict ---------------------------------------------------------------

class LaxHMAC(jwt.algorithms.HMACAlgorithm):
    """HS256 that accepts a PEM public key as its secret: the classic key-confusion attack."""

    def prepare_key(self, key):
        return key


def hs256_with_public_key(emulator, test_app):
    from cryptography.hazmat.primitives import serialization

    public_pem = test_app.certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    jws = jwt.PyJWS(algorithms=[])
    jws.register_algorithm("HS256", LaxHMAC(LaxHMAC.SHA256))
    now = time.time()
    payload = jwt.utils.force_bytes(
        f'{{"aud":"{emulator.token_endpoint}","iss":"{test_app.app_id}",'
        f'"sub":"{test_app.app_id}","exp":{int(now + 600)}}}')
    return jws.encode(payload, public_pem, algorithm="HS256",
                      headers={"x5t": sha1_x5t(test_app.certificate)})


def flip_signature(assertion):
    head, payload, signature = assertion.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[10] ^= 0x01
    return f"{head}.{payload}.{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"


def test_tampered_assertions_are_refused(emulator, app, rsa_keys):
    other_key = rsa_keys[2]
    now = time.time()
    cases = {
        "unsigned": (jwt.encode({"aud": emulator.token_endpoint, "iss": app.app_id,
                                 "sub": app.app_id, "exp": now + 600}, None, algorithm="none",
                                headers={"x5t": sha1_x5t(app.certificate)}), 401, 50027),
        "hs256 keyed with the public key": (hs256_with_public_key(emulator, app), 401, 50027),
        "flipped signature": (flip_signature(make_assertion(emulator, app)), 401, 700027),
        "thumbprint of A, signed by key B": (make_assertion(emulator, app, key=other_key), 401,
                                             700027),
        "PS256 signed by key B": (make_assertion(emulator, app, key=other_key, alg="PS256"), 401,
                                  700027),
        "unregistered certificate": (make_assertion(emulator, app, key=other_key,
                                                    cert=make_certificate(other_key)), 401, 700027),
        "no thumbprint": (make_assertion(emulator, app, headers={"x5t": ""}), 401, 700027),
        "another tenant": (make_assertion(emulator, app, claims={
            "aud": f"{emulator.authority_host}/{uuid.uuid4()}/oauth2/v2.0/token"}), 401, 700023),
        "another host": (make_assertion(emulator, app, claims={
            "aud": f"https://login.microsoftonline.com/{emulator.tenant_id}/oauth2/v2.0/token"}),
            401, 700023),
        "another app as issuer": (make_assertion(emulator, app, claims={
            "iss": str(uuid.uuid4()), "sub": str(uuid.uuid4())}), 401, 700021),
        "sub is not iss": (make_assertion(emulator, app, claims={"sub": str(uuid.uuid4())}), 401,
                           50048),
        "expired": (make_assertion(emulator, app, claims={"exp": now - 400}), 401, 700024),
        "not yet valid": (make_assertion(emulator, app, claims={"nbf": now + 400}), 401, 700024),
        "no exp": (make_assertion(emulator, app, drop=("exp",)), 400, 90014),
        "string exp": (make_assertion(emulator, app, claims={"exp": "tomorrow"}), 401, 50027),
        "malformed": ("not-a-jwt", 401, 50027),
        "three garbage parts": ("a.b.c", 401, 50027),
    }
    for name, (assertion, status, code) in cases.items():
        response = with_assertion(emulator, app, assertion)
        assert response.status_code == status, (name, response.text)
        assert response.json()["error_codes"] == [code], (name, response.text)


def test_700027_names_the_thumbprint_in_upper_hex(emulator, app, rsa_keys):
    other = make_certificate(rsa_keys[2])
    response = with_assertion(emulator, app, make_assertion(emulator, app, key=rsa_keys[2],
                                                            cert=other))
    body = assert_aadsts(response, 401, 700027, "invalid_client")
    from azext_entracert.core.certs import sha1_thumbprint

    used = f"Thumbprint of key used by client: '{sha1_thumbprint(other)}'"
    assert used in body["error_description"]
    assert "The key was not found." in body["error_description"]


def test_removed_and_expired_credentials_are_refused(emulator, make_app):
    removed = make_app("sts-removed", key_index=3)
    emulator.remove_credential(removed.app_id, removed.app["keyCredentials"][0]["keyId"])
    assert_aadsts(with_assertion(emulator, removed, make_assertion(emulator, removed)), 401, 700027)

    expired = make_app("sts-expired", key_index=4)
    emulator.remove_credential(expired.app_id, expired.app["keyCredentials"][0]["keyId"])
    day = datetime.timedelta(days=1)
    past = datetime.datetime.now(datetime.timezone.utc) - 2 * day
    emulator.add_certificate(expired.app_id, expired.certificate, start=past, end=past + day)
    body = assert_aadsts(with_assertion(emulator, expired, make_assertion(emulator, expired)), 401,
                         700027)
    assert "outside its validity period" in body["error_description"]


def test_an_assertion_for_another_registered_app_is_refused(emulator, make_app, app):
    other = make_app("sts-other", key_index=5)
    # client_id of one app, assertion (iss/sub and key) of the other: its key is not registered
    response = token_request(emulator, {
        "client_id": app.app_id, "grant_type": "client_credentials", "scope": GRAPH,
        "client_assertion_type": JWT_BEARER, "client_assertion": make_assertion(emulator, other)})
    assert_aadsts(response, 401, 700027)


def test_request_errors(emulator, app):
    assertion = make_assertion(emulator, app)
    base = {"client_id": app.app_id, "grant_type": "client_credentials", "scope": GRAPH,
            "client_assertion_type": JWT_BEARER, "client_assertion": assertion}
    cases = [
        ({**base, "grant_type": ""}, None, 400, 900144),
        ({k: v for k, v in base.items() if k != "scope"}, None, 400, 900144),
        ({**base, "grant_type": "password"}, None, 400, 70003),
        ({**base, "client_id": str(uuid.uuid4())}, None, 400, 700016),
        ({**base, "client_id": "not-a-guid"}, None, 400, 700016),
        ({k: v for k, v in base.items() if not k.startswith("client_assertion")}, None, 401,
         7000218),
        ({**base, "client_assertion_type": "urn:other"}, None, 401, 7000218),
        ({**base, "scope": "https://graph.microsoft.com/User.Read"}, None, 400, 1002012),
        ({**base, "scope": f"{GRAPH} https://management.azure.com/.default"}, None, 400, 700022),
        ({**base, "scope": f"{GRAPH} https://graph.microsoft.com/User.Read"}, None, 400, 70011),
        ({**base, "scope": f"{GRAPH} {GRAPH}"}, None, 200, None),  # one resource, said twice
        ({**base, "scope": "https://nothing.example/.default"}, None, 400, 500011),
        (base, "nosuch.onmicrosoft.com", 400, 90002),
        (base, "bad_tenant!", 400, 900023),
        (base, "common", 400, 50059),
    ]
    for form, tenant, status, code in cases:
        response = token_request(emulator, form, tenant=tenant)
        assert response.status_code == status, (form, tenant, response.text)
        assert response.json().get("error_codes") == ([code] if code else None), (form, tenant)


def test_correlation_id_echoes_client_request_id(emulator):
    correlation = str(uuid.uuid4())
    response = token_request(emulator, {"grant_type": "client_credentials"},
                             headers={"client-request-id": correlation})
    assert assert_aadsts(response, 400, 900144)["correlation_id"] == correlation


def test_client_secrets(emulator, make_app):
    holder = make_app("sts-secret", key_index=6)
    secret = emulator.add_client_secret(holder.app_id)
    form = {"client_id": holder.app_id, "grant_type": "client_credentials", "scope": GRAPH}
    ok = token_request(emulator, {**form, "client_secret": secret})
    assert ok.status_code == 200, ok.text
    assert emulator.verify_access_token(ok.json()["access_token"])["appidacr"] == "1"
    assert_aadsts(token_request(emulator, {**form, "client_secret": secret + "x"}), 401, 7000215)
    assert secret not in str(emulator.application(holder.app_id))  # only a hash is stored

    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=3)
    old = emulator.add_client_secret(holder.app_id, start=past,
                                     end=past + datetime.timedelta(days=1))
    assert_aadsts(token_request(emulator, {**form, "client_secret": old}), 401, 7000222)


def test_oversized_body_is_refused_with_413(emulator, app):
    response = token_request(emulator,
                             {"client_id": app.app_id, "padding": "x" * (1024 * 1024 + 1)})
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"


def test_verify_access_token_rejects_what_the_emulator_did_not_issue(emulator, app, rsa_keys):
    good = with_assertion(emulator, app, make_assertion(emulator, app)).json()["access_token"]
    for bad in (flip_signature(good), "garbage",
                jwt.encode({"iss": "x", "aud": "y", "exp": time.time() + 60}, rsa_keys[2],
                           algorithm="RS256",
                           headers={"kid": jwt.get_unverified_header(good)["kid"]})):
        with pytest.raises(ValueError):
            emulator.verify_access_token(bad)


def test_refusals_after_the_client_is_known_are_logged_with_its_id(emulator, app, rsa_keys):
    """The request log must say whose assertion was refused (never the assertion itself)."""
    emulator.clear_log()
    stray = make_certificate(rsa_keys[2])
    with_assertion(emulator, app, make_assertion(emulator, app, key=rsa_keys[2], cert=stray))
    (entry,) = [e for e in emulator.requests_log() if e["path"].endswith("/token")]
    assert (entry["client_id"], entry["error_code"]) == (app.app_id, "AADSTS700027")


def test_client_id_in_upper_case_is_the_same_application(emulator, app):
    """GUIDs compare case-insensitively; the token names the registered (lower-case) appId."""
    upper = app.app_id.upper()
    assertion = make_assertion(emulator, app, claims={"iss": upper, "sub": upper})
    response = token_request(emulator, {
        "client_id": upper, "grant_type": "client_credentials", "scope": GRAPH,
        "client_assertion_type": JWT_BEARER, "client_assertion": assertion})
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["appid"] == app.app_id
