"""The emulator's security token service: discovery documents, JWKS and the token endpoint.

Client credentials only, authenticated by a client assertion (RS256 + ``x5t`` or PS256 +
``x5t#S256``, with or without ``x5c``) or a client secret, validated the way ENTRA-FACTS 2.1
describes: lenient where Entra is (padded thumbprints, float ``exp``/``iat``, no ``nbf``, one
assertion reused for its lifetime: no ``jti`` replay check) and strict where it is (``alg`` only
RS256/PS256, signature by the registered certificate the thumbprint names, ``aud`` the tenant's
token endpoint, ``iss`` = ``sub`` = client id, time window with ``clock_skew``, registered
credential within its dates, exactly one ``<resource>/.default`` scope of a known resource:
several ``.default`` scopes are 700022, ``.default`` mixed with other scopes 70011, ENTRA-FACTS
3.4).

Both endpoint versions are served (ENTRA-FACTS 8): ``/{tenant}/oauth2/v2.0/token`` takes
``scope`` and refuses ``resource`` (901002); ``/{tenant}/oauth2/token`` takes ``resource`` (no
``scope``; 900144 without it) and answers in the v1 shape (``expires_in``, ``ext_expires_in``,
``expires_on``, ``not_before`` as strings, and ``resource``). The token's own version follows the
resource (``requestedAccessTokenVersion``), not the endpoint, as in Entra. Discovery: the v2
document, the v1 document (issuer ``https://sts.windows.net/{tid}/``), JWKS and instance
discovery, all with Entra's ``Cache-Control: max-age=86400, private``. A secret comes in the body
(``client_secret_post``) or as HTTP Basic (``client_secret_basic``, RFC 6749 2.3.1).

Choices for UNVERIFIED facts (see also ``aadsts``):

* ``aud`` is compared by host (any loopback alias of our port, or the Host the client used) and
  tenant (GUID or our domain); the path may be the v2 ``/oauth2/v2.0/token`` or the v1
  ``/oauth2/token`` form. Anything else is 700023.
* ``iat`` is not checked; ``nbf`` only when present. ``exp`` is required (90014 when missing).
* ``x5c`` is ignored (no SNI): the key is found by thumbprint among the app's
  AsymmetricX509Cert/Verify keyCredentials only.
* If both a client assertion and a client secret are sent, the assertion is used; a secret in
  the body wins over HTTP Basic. With Basic, the body's ``client_id`` (when sent) names the
  client, so Basic credentials of another app fail as a wrong secret (7000215); a malformed
  Basic header is 7000218 (no usable credential).
* ``client-request-id`` is echoed as a response header when ``return-client-request-id: true``
  asks for it, on success and refusal alike (MSAL's convention; Entra's exact rule is
  undocumented).
* The JWKS carries the discovery documents' ``Cache-Control`` (seen on those, assumed for keys);
  the v1 document points at ``/common/discovery/keys`` as the real one does.
* The client must be an application with an enabled service principal (else 700016, 7000229,
  7000112, checked in that order before its credential); objects and key credentials Graph
  created within their replication delay (``state.replicated``) do not exist here yet.
* Resources resolve by their service principal's names only (``state.resource_for_audience``):
  ``api://{appId}`` only when the app lists it in ``identifierUris``; a resource without a
  service principal is 500011.
* Tokens (ENTRA-FACTS 3.3, 8): ``sub`` = ``oid`` = the client's service principal object id;
  ``iat`` = ``nbf`` = issue time less 5 minutes, as Entra back-dates them, and ``exp`` = issue
  time + 3599 (``expires_in``), so ``exp - iat`` = 3899; ``idtyp: app`` only for first-party
  resources (Graph, ARM) or when the resource app's ``optionalClaims.accessToken`` names
  ``idtyp``; v1 header ``kid`` + ``x5t``, v2 ``kid`` only; no ``refresh_in``.
"""
import base64
import datetime
import secrets
import time
import uuid
from urllib.parse import parse_qs, unquote_plus, urlsplit

from ..core.certs import normalize_b64url
from ..core.profiles import DOMAIN
from . import aadsts
from . import state as st
from .wire import json_response, origin_netlocs, small_input_cache

MULTI_TENANT = ("common", "organizations", "consumers")
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME = 3599
BACKDATE = 300  # Entra's iat/nbf lie 5 minutes before issue (ENTRA-FACTS 8)
ALGORITHMS = ("RS256", "PS256")
# How Entra serves its discovery documents: cacheable for a day, readable cross-origin (recorded
# answers of /common/discovery/instance and /{tenant}/v2.0/.well-known/openid-configuration).
AUTH_METHODS = ["client_secret_post", "private_key_jwt", "client_secret_basic"]
DISCOVERY_HEADERS = {
    **{k: v for k, v in aadsts.ENTRA_HEADERS.items() if k not in ("Pragma", "Expires")},
    "Cache-Control": "max-age=86400, private",
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, OPTIONS",
}


@small_input_cache(256)  # 256 x 16 kB at most: an oversized assertion runs uncached
def unverified_header(assertion):
    """The assertion's JOSE header (PyJWT); cached since MSAL reuses one assertion for 540 s."""
    import jwt

    return jwt.get_unverified_header(assertion)


@small_input_cache(256)
def verified_claims(assertion, key_b64, alg):
    """The assertion's claims once PyJWT verified its signature with that registered key.

    Cached per (assertion, key, alg): the result of a signature check cannot change, and a
    reused assertion (ENTRA-FACTS 0.5) then costs no second parse. Failures are not cached.
    Time, audience and issuer checks run on every request regardless."""
    import jwt

    return jwt.decode(assertion, st.parsed_key(key_b64)["public_key"], algorithms=[alg],
                      options={"verify_signature": True, "verify_aud": False, "verify_exp": False,
                               "verify_nbf": False, "verify_iat": False, "verify_iss": False,
                               "verify_sub": False, "verify_jti": False})


def _b64url(raw):
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


class TokenError(Exception):
    """A validation failure: the AADSTS ``code`` and the fields of its message."""

    def __init__(self, code, **fields):
        super().__init__(code)
        self.code = code
        self.fields = fields


class SecurityTokenService:
    """Answers the identity endpoints for one tenant held in ``state``, signing with ``pki``."""

    def __init__(self, state, pki, *, origin, resource_manager=None, clock=time.time,
                 clock_skew=300):
        self.state = state
        self.pki = pki
        self.origin = origin.rstrip("/")
        self.resource_manager = (resource_manager or origin).rstrip("/") + "/"
        self.clock = clock
        self.clock_skew = clock_skew
        self._own_netlocs = origin_netlocs(self.origin)

    # --- tenants -----------------------------------------------------------------------------

    def _tenant_error(self, segment):
        """None when ``segment`` names our tenant, else the AADSTS code that rejects it."""
        if segment.lower() in (self.state.tenant_id.lower(), self.state.tenant_domain.lower()):
            return None
        if st.is_guid(segment) or DOMAIN.match(segment):
            return 90002
        return 900023

    def _issuer_v2(self, tenant_id=None):
        return f"{self.origin}/{tenant_id or self.state.tenant_id}/v2.0"

    # --- discovery ---------------------------------------------------------------------------

    def _discovery(self, request, tenant, document):
        """``document(base, tid)`` with Entra's discovery headers for a known tenant (GUID or
        domain: GUID-based ``base`` and ``tid``) or ``common``/``organizations`` (which keep
        their segment in ``base``, and ``tid`` = the literal ``{tenantid}`` the real documents
        carry in their issuer); an unknown tenant gets Entra's error (ENTRA-FACTS 4)."""
        if tenant.lower() in MULTI_TENANT:
            segment, tid = tenant.lower(), "{tenantid}"
        elif (code := self._tenant_error(tenant)) is not None:
            return aadsts.error_response(request, code, tenant=tenant,
                                         error="invalid_tenant" if code == 90002 else None)
        else:
            segment = tid = self.state.tenant_id
        return json_response(200, document(f"{self.origin}/{segment}", tid),
                             headers=DISCOVERY_HEADERS)

    def openid_configuration(self, request, tenant):
        """The v2 document, ``/{tenant}/v2.0/.well-known/openid-configuration``."""
        return self._discovery(request, tenant, lambda base, tid: {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": self._issuer_v2(tid),
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self.origin}/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "ver"],
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": urlsplit(self.origin).netloc,
            "rbac_url": "https://pas.windows.net",
        })

    def openid_configuration_v1(self, request, tenant):
        """The v1 document, ``/{tenant}/.well-known/openid-configuration``: v1 endpoints, issuer
        ``https://sts.windows.net/{tid}/`` (the ``iss`` of v1 tokens) and, as the real one, the
        keys at ``/common/discovery/keys``."""
        return self._discovery(request, tenant, lambda base, tid: {
            "authorization_endpoint": f"{base}/oauth2/authorize",
            "token_endpoint": f"{base}/oauth2/token",
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "jwks_uri": f"{self.origin}/common/discovery/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/logout",
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token",
                                         "token"],
            "scopes_supported": ["openid"],
            "issuer": f"https://sts.windows.net/{tid}/",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "ver"],
            "microsoft_multi_refresh_token": True,
            "check_session_iframe": f"{base}/oauth2/checksession",
            "userinfo_endpoint": f"{base}/openid/userinfo",
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": urlsplit(self.origin).netloc,
            "rbac_url": "https://pas.windows.net",
        })

    def jwks(self, request, tenant):
        return self._discovery(request, tenant,
                               lambda base, tid: self.pki.jwks(self._issuer_v2(tid)))

    def instance_discovery(self, request):
        """Instance discovery for clients that ask us rather than login.microsoftonline.com.

        ``preferred_network`` is our ``host:port`` and ``aliases`` name every loopback form
        with and without the port: msal-node looks its authority's ``host:port`` up in the
        aliases (of an offline ``cloudDiscoveryMetadata`` too) and then calls
        ``preferred_network``; MSAL Python looks the host up without its port."""
        endpoint = request.query.get("authorization_endpoint", "")
        segments = [s for s in urlsplit(endpoint).path.split("/") if s]
        tenant = segments[0] if segments else "common"
        netloc = urlsplit(self.origin).netloc
        aliases = self._own_netlocs | {urlsplit(f"//{n}").hostname for n in self._own_netlocs}
        return json_response(200, {
            "tenant_discovery_endpoint":
                f"{self.origin}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": netloc, "preferred_cache": netloc,
                          "aliases": sorted(aliases)}],
        }, headers=DISCOVERY_HEADERS)

    def metadata_endpoints(self, request):
        """ARM cloud metadata (``az cloud register --endpoint-resource-manager`` discovery)."""
        origin = self.origin + "/"
        return json_response(200, {
            "name": "EntracertEmulator",
            "portal": origin,
            "resourceManager": self.resource_manager,
            "authentication": {"loginEndpoint": self.origin,
                               "audiences": ["https://management.core.windows.net/",
                                             "https://management.azure.com/"],
                               "tenant": "common", "identityProvider": "AAD"},
            "graph": origin,
            "graphAudience": origin,
            "microsoftGraphResourceId": origin,
            "media": origin,
            "activeDirectoryDataLake": origin,
            "batch": origin,
            "gallery": origin,
            "sqlManagement": origin,
            "vmImageAliasDoc": origin,
            "suffixes": {"keyVaultDns": "vault.emulator.invalid", "storage": "emulator.invalid",
                         "sqlServerHostname": "database.emulator.invalid",
                         "acrLoginServer": "azurecr.emulator.invalid"},
        })

    # --- the token endpoint ------------------------------------------------------------------

    def token(self, request, tenant, version=2):
        """``POST /{tenant}/oauth2/v2.0/token`` (``version`` 2: ``scope``) or
        ``/{tenant}/oauth2/token`` (1: ``resource``, answered in the v1 shape)."""
        try:
            body = self._issue(request, tenant, version)
        except TokenError as exc:
            response = aadsts.error_response(request, exc.code, **exc.fields)
        else:
            headers = {**aadsts.ENTRA_HEADERS, "x-ms-request-id": str(uuid.uuid4())}
            response = json_response(200, body, headers=headers, log=body.pop("_log"))
        asked = (request.headers.get("return-client-request-id") or "").strip().lower() == "true"
        echoed = (request.headers.get("client-request-id") or "").strip()[:100]
        if asked and echoed and echoed.isprintable():  # a folded header's CR/LF must not split ours
            response.headers["client-request-id"] = echoed
        return response

    def _issue(self, request, tenant, version):
        if tenant.lower() in MULTI_TENANT:
            raise TokenError(50059)
        if (code := self._tenant_error(tenant)) is not None:
            raise TokenError(code, tenant=tenant)
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace"),
                                             keep_blank_values=True).items()}
        if version == 2 and "resource" in form:
            raise TokenError(901002)
        basic = basic_credentials(request)
        if basic and not form.get("client_id", "").strip():
            form["client_id"] = basic[0]
        for name in ("grant_type", "client_id", "scope" if version == 2 else "resource"):
            if not form.get(name, "").strip():
                raise TokenError(900144, name=name)
        if version == 1:  # v1 names the resource; as a v2 scope it is "<resource>/.default"
            form["scope"] = form["resource"] + "/.default"
        if form["grant_type"] != "client_credentials":
            raise TokenError(70003, grant_type=form["grant_type"][:100])
        client_id = form["client_id"].strip()
        fields = {"client_id": client_id[:100], "tenant": self.state.tenant_id}
        try:
            body = self._authenticate(request, tenant, form, client_id, fields)
        except TokenError as exc:  # every refusal from here on is logged with the client id
            exc.fields.setdefault("client_id", fields["client_id"])
            raise
        return body if version == 2 else _v1_body(body, form["resource"])

    def _authenticate(self, request, tenant, form, client_id, fields):
        now = self.clock()
        with self.state.read() as data:
            app = st.application_by_app_id(data, client_id)
            client_sp = st.service_principal_for(data, app["appId"]) if app else None
        if app is None or not st.replicated(app, now):
            raise TokenError(700016, **fields)
        if client_sp is None or not st.replicated(client_sp, now):
            raise TokenError(7000229, **fields)
        if client_sp.get("accountEnabled") is False:
            raise TokenError(7000112, name=client_sp["displayName"][:256], **fields)
        if form.get("client_assertion"):
            if form.get("client_assertion_type") != JWT_BEARER:
                raise TokenError(7000218, **fields)
            used = self._check_assertion(request, form["client_assertion"], app, tenant, fields)
            acr = "2"
        elif form.get("client_secret") or (basic := basic_credentials(request)):
            secret, used = ((form["client_secret"], "client_secret") if form.get("client_secret")
                            else (basic[1], "client_secret_basic"))
            self._check_secret(secret, app, fields)
            acr = "1"
        else:
            raise TokenError(7000218, **fields)
        resource_sp, audience, version, idtyp = self._resource(form["scope"], fields)
        with self.state.read() as data:
            roles = st.roles_of(data, client_sp["id"], resource_sp["id"])
        token = self._access_token(app["appId"], client_sp["id"], acr, audience, version, roles,
                                   resource_sp, idtyp=idtyp)
        return {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME,
                "ext_expires_in": TOKEN_LIFETIME, "access_token": token,
                "_log": {"client_id": client_id, "credential": used, "scope": form["scope"]}}

    def _check_assertion(self, request, assertion, app, tenant, fields):
        import jwt

        try:
            header = unverified_header(assertion)
        except jwt.PyJWTError as exc:
            raise TokenError(50027, reason=f"the client assertion is not a JWT: {exc}") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise TokenError(50027, reason=f"the algorithm {str(alg)[:20]!r} is not supported; "
                                           "use PS256 or RS256")
        kind = "x5t#S256" if header.get("x5t#S256") else "x5t"
        value = header.get(kind)
        wanted = normalize_b64url(value) if isinstance(value, str) else ""
        shown = _hex_thumbprint(wanted) if wanted else None
        credential, parsed = self._find_key(app, kind, wanted, self.clock())
        if credential is None:
            raise TokenError(700027, text=aadsts.key_not_found_text(fields["client_id"], shown))
        start = st.parse_graph_time(credential["startDateTime"])
        end = st.parse_graph_time(credential["endDateTime"])
        try:
            claims = verified_claims(assertion, credential["key"], alg)
        except jwt.InvalidSignatureError:
            raise TokenError(700027, text=aadsts.key_unusable_text(
                fields["client_id"], shown, "Key was found, but use of the key to verify the "
                "signature failed.", start, end)) from None
        except jwt.PyJWTError as exc:
            raise TokenError(50027, reason=str(exc)) from None
        now = self.clock()
        moment = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        if not start <= moment <= end:
            raise TokenError(700027, text=aadsts.key_unusable_text(
                fields["client_id"], shown, "Key was found, but it is outside its validity "
                "period (startDateTime/endDateTime).", start, end))
        for name in ("aud", "iss", "sub", "exp"):
            if claims.get(name) in (None, ""):
                raise TokenError(90014, field=name)
        if not self._audience_ok(claims["aud"], request):
            raise TokenError(700023)
        if str(claims["iss"]).lower() != app["appId"].lower():
            raise TokenError(700021)
        if str(claims["sub"]).lower() != str(claims["iss"]).lower():
            raise TokenError(50048)
        self._check_window(claims, now)
        # For the request log: how the client signed (never the assertion itself).
        return " ".join([alg, kind] + (["x5c"] if header.get("x5c") else []))

    def _find_key(self, app, kind, wanted, now):
        if not wanted:
            return None, None
        for credential in app.get("keyCredentials") or []:
            if (credential.get("type") != "AsymmetricX509Cert"
                    or credential.get("usage") != "Verify" or not st.replicated(credential, now)):
                continue
            parsed = st.parsed_key(credential.get("key") or "")
            if parsed is not None and parsed[kind] == wanted:
                return credential, parsed
        return None, None

    def _audience_ok(self, aud, request):
        if not isinstance(aud, str):
            return False
        parts = urlsplit(aud)
        host = (request.headers.get("Host") or "").lower()
        if parts.scheme != "https" or parts.netloc.lower() not in self._own_netlocs | {host}:
            return False
        segments = [s for s in parts.path.split("/") if s]
        return (len(segments) >= 3 and self._tenant_error(segments[0]) is None
                and segments[1:] in (["oauth2", "v2.0", "token"], ["oauth2", "token"]))

    def _check_window(self, claims, now):
        exp, nbf = claims["exp"], claims.get("nbf")
        for value in (exp, nbf):
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, (int, float))):
                raise TokenError(50027, reason="'exp' and 'nbf' must be numeric dates")
        if now > exp + self.clock_skew or (nbf is not None and now < nbf - self.clock_skew):
            def show(epoch):
                moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
                return aadsts.entra_time(moment)
            raise TokenError(700024, now=show(now), nbf=show(nbf or 0), exp=show(exp))

    def _check_secret(self, secret, app, fields):
        matched = [c for c in app.get("passwordCredentials") or [] if st.secret_matches(c, secret)]
        if not matched:
            raise TokenError(7000215, **fields)
        moment = datetime.datetime.fromtimestamp(self.clock(), datetime.timezone.utc)
        if not any(st.parse_graph_time(c["startDateTime"]) <= moment
                   <= st.parse_graph_time(c["endDateTime"]) for c in matched):
            raise TokenError(7000222, **fields)

    def _resource(self, scope, fields):
        """The resource SP, the token ``aud`` and the token version the scope asks for."""
        scopes = list(dict.fromkeys(scope.split()))  # a repeated scope is one scope
        if len(scopes) != 1:
            if all(s.endswith("/.default") for s in scopes):
                raise TokenError(700022, scope=scope[:200])  # one resource per request
            raise TokenError(70011, scope=scope[:200])  # .default mixed with other scopes
        if not scopes[0].endswith("/.default"):
            raise TokenError(1002012, scope=scopes[0][:200])
        audience = scopes[0][:-len("/.default")]
        if not audience:
            raise TokenError(70011, scope=scopes[0][:200])
        with self.state.read() as data:
            resource = st.resource_for_audience(data, audience, self._own_netlocs)
            app = st.application_by_app_id(data, resource["appId"]) if resource else None
        if resource is None or not st.replicated(resource, self.clock()):
            raise TokenError(500011, resource=audience[:200], tenant=self.state.tenant_id)
        version = 2 if ((app or {}).get("api") or {}).get("requestedAccessTokenVersion") == 2 else 1
        return resource, audience, version, _wants_idtyp(resource, app)

    def _access_token(self, client_id, client_oid, acr, audience, version, roles, resource, *,
                      idtyp):
        import jwt

        now = int(self.clock())
        tid = self.state.tenant_id
        noise = secrets.token_bytes(76)  # one system call for aio, rh and uti
        claims = {"aud": audience if version == 1 else resource["appId"],
                  "iss": f"https://sts.windows.net/{tid}/" if version == 1 else self._issuer_v2(),
                  "iat": now - BACKDATE, "nbf": now - BACKDATE, "exp": now + TOKEN_LIFETIME,
                  "aio": _b64url(noise[:36])}
        if version == 1:
            claims.update({"appid": client_id, "appidacr": acr, "idp": claims["iss"]})
        else:
            claims.update({"azp": client_id, "azpacr": acr})
        if idtyp:
            claims["idtyp"] = "app"
        claims.update({"oid": client_oid, "rh": _b64url(noise[36:60]),
                       "sub": client_oid, "tid": tid, "uti": _b64url(noise[60:]),
                       "ver": "1.0" if version == 1 else "2.0"})
        if roles:
            claims["roles"] = roles
        headers = {"typ": "JWT", "kid": self.pki.kid}
        if version == 1:
            headers["x5t"] = self.pki.kid
        return jwt.encode(claims, self.pki.signing_key, algorithm="RS256", headers=headers)

    # --- for Graph and tests -----------------------------------------------------------------

    def verify_access_token(self, token):
        """Claims of an access token this emulator issued; ValueError says why it is not one.

        Checks the signature (RS256, our ``kid``), ``exp``/``nbf`` against the emulator clock
        with the configured skew, and the issuer (v1 or v2 form of our tenant). The audience is
        the caller's to check."""
        import jwt

        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != self.pki.kid or header.get("alg") != "RS256":
                raise ValueError("the token is not signed by this emulator's key")
            claims = jwt.decode(token, self.pki.signing_public_key, algorithms=["RS256"],
                                options={"verify_aud": False, "verify_exp": False,
                                         "verify_nbf": False, "verify_iat": False,
                                         "require": ["exp", "iss", "aud"]})
        except jwt.InvalidSignatureError:
            raise ValueError("the token's signature is invalid") from None
        except jwt.PyJWTError as exc:
            raise ValueError(f"the token is malformed: {exc}") from None
        now = self.clock()
        if now > claims["exp"] + self.clock_skew:
            raise ValueError("the token has expired")
        if now < claims.get("nbf", 0) - self.clock_skew:
            raise ValueError("the token is not valid yet")
        v1_issuer = f"https://sts.windows.net/{self.state.tenant_id}/"
        if claims["iss"] not in (v1_issuer, self._issuer_v2()):
            raise ValueError("the token was issued for another tenant")
        return claims


def _wants_idtyp(resource, app):
    """Entra adds ``idtyp`` to app-only tokens of first-party resources (Graph, ARM), and of
    other resources only when their app's ``optionalClaims.accessToken`` asks for it."""
    if resource["appId"] in st.FIRST_PARTY:
        return True
    optional = ((app or {}).get("optionalClaims") or {}).get("accessToken") or []
    return any(isinstance(c, dict) and c.get("name") == "idtyp" for c in optional)


def basic_credentials(request):
    """``(client_id, client_secret)`` of an ``Authorization: Basic`` header (RFC 6749 2.3.1:
    both form-urlencoded, then base64), None without one; a malformed one is 7000218."""
    scheme, _, value = (request.headers.get("Authorization") or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, colon, secret = base64.b64decode(value.strip(), validate=True).decode(
            "utf-8").partition(":")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise TokenError(7000218) from None
    if not colon:
        raise TokenError(7000218)
    return unquote_plus(client_id), unquote_plus(secret)


def _v1_body(body, resource):
    """The v1 endpoint's answer: numbers as strings, the token's ``exp``/``nbf`` as
    ``expires_on``/``not_before``, and the ``resource`` as requested."""
    import jwt

    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    return {"token_type": "Bearer", "expires_in": str(body["expires_in"]),
            "ext_expires_in": str(body["ext_expires_in"]), "expires_on": str(claims["exp"]),
            "not_before": str(claims["nbf"]), "resource": resource,
            "access_token": body["access_token"], "_log": {**body["_log"], "scope": resource}}


def _hex_thumbprint(b64url_value):
    """Entra shows the thumbprint in upper hex; a header value that is not base64 shows as is."""
    try:
        raw = base64.urlsafe_b64decode(b64url_value + "=" * (-len(b64url_value) % 4))
    except (ValueError, TypeError):
        return b64url_value[:100]
    return raw.hex().upper() if raw else b64url_value[:100]

