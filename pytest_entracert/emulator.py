"""The local emulator as the plugin runs it: one per run, shared by every xdist worker.

The process that owns the emulator (the xdist controller, or the only process) starts it in a
temporary folder, registers an application with a fresh certificate, and hands ``info`` (plain
JSON) to the workers. ``EntraEmulator`` is what the ``entra_emulator`` fixture returns: in the
owning process it calls the ``Emulator`` directly; in a worker it reaches the same emulator over
HTTPS (its ``/_emulator`` control endpoints, and Microsoft Graph with the emulator's admin
application for registrations), so every process sees one tenant and one request log.
"""
import shutil
import tempfile
from pathlib import Path

APP_NAME = "entracert pytest"
GRAPH_DEFAULT_SCOPE = "https://graph.microsoft.com/.default"


class SharedEmulator:
    """Owns a running ``Emulator``, its folder and the application tests sign in as."""

    def __init__(self, base_dir=None):
        from cryptography.hazmat.primitives.serialization import Encoding

        from azext_entracert.core import certgen
        from azext_entracert.core.fileio import PRIVATE, atomic_write
        from azext_entracert.emulator import Emulator

        self._owned_dir = base_dir is None
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="entracert-emulator-"))
        self.emulator = Emulator(self.base_dir / "state").start()
        try:
            loaded = certgen.create_self_signed(f"CN={APP_NAME}", key_size=2048, days=365)
            app = self.emulator.create_application(APP_NAME, certificates=[loaded.certificate])
            certificate = self.base_dir / "app.pem"
            atomic_write(certificate, certgen.key_pem(loaded.private_key)
                         + loaded.certificate.public_bytes(Encoding.PEM), mode=PRIVATE)
        except BaseException:
            self.close()
            raise
        emu = self.emulator
        self.info = {
            "authority_host": emu.authority_host, "tenant_id": emu.tenant_id,
            "tenant_domain": emu.tenant_domain, "graph_endpoint": emu.graph_endpoint,
            "token_endpoint": emu.token_endpoint, "ca_bundle": emu.ca_bundle,
            "jwks_url": f"{emu.authority_host}/{emu.tenant_id}/discovery/v2.0/keys",
            "client_id": app["appId"], "object_id": app["id"], "certificate": str(certificate),
            "thumbprint": loaded.thumbprint, "state_dir": str(self.base_dir / "state"),
            "cache_dir": str(self.base_dir / "token-cache"), "admin": dict(emu.admin),
        }

    def close(self):
        self.emulator.stop()
        if self._owned_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)


def profile_for(info):
    """The core profile of the emulator's test application: the same road as a live identity."""
    from azext_entracert.core.profiles import new_profile

    # Live mode's default scope (public Graph), which the emulator also serves: a test that
    # checks ``aud`` passes in both modes.
    return new_profile("emulator", tenant=info["tenant_id"], client_id=info["client_id"],
                       certificate=info["certificate"], authority_host=info["authority_host"],
                       ca_bundle=info["ca_bundle"], scopes=(GRAPH_DEFAULT_SCOPE,),
                       check_name_rules=False)


class EntraEmulator:
    """What ``entra_emulator`` gives a test.

    Attributes: ``authority_host``, ``tenant_id``, ``tenant_domain``, ``client_id`` (the test
    application), ``certificate`` (its key + certificate PEM, 0600), ``thumbprint``,
    ``ca_bundle`` (trust it in clients), ``jwks_url``, ``token_endpoint``, ``graph_endpoint``.
    Methods: ``create_application``, ``application``, ``grant_app_role``, ``requests_log``,
    ``token_requests``, ``clear_log``, ``add_fault``, ``verify_access_token``.
    """

    def __init__(self, info, emulator=None):
        self.info = dict(info)
        self._emulator = emulator  # None in an xdist worker: reach it over HTTPS
        for name in ("authority_host", "tenant_id", "tenant_domain", "client_id", "certificate",
                     "thumbprint", "ca_bundle", "jwks_url", "token_endpoint", "graph_endpoint"):
            setattr(self, name, info[name])

    def __repr__(self):
        return (f"EntraEmulator(authority_host={self.authority_host!r}, "
                f"client_id={self.client_id!r})")

    # --- registrations ------------------------------------------------------------------------

    def create_application(self, display_name, *, certificates=(), identifier_uris=(),
                           app_roles=(), requested_token_version=None):
        """Register an application and create its service principal (separate objects, as in
        Entra); returns the Graph application.

        ``certificates`` are ``cryptography`` ``x509.Certificate`` objects; ``app_roles`` role
        values (strings) or Graph appRole dicts."""
        if self._emulator is not None:
            return self._emulator.create_application(
                display_name, certificates=certificates, identifier_uris=identifier_uris,
                app_roles=app_roles, requested_token_version=requested_token_version)
        import uuid

        from azext_entracert.emulator.runner import key_credential

        roles = [role if isinstance(role, dict) else {
            "id": str(uuid.uuid4()), "value": role, "displayName": role, "description": role,
            "allowedMemberTypes": ["Application"], "isEnabled": True} for role in app_roles]
        app = self._graph("POST", "applications", {
            "displayName": display_name, "identifierUris": list(identifier_uris),
            "keyCredentials": [key_credential(c) for c in certificates], "appRoles": roles,
            "api": {"requestedAccessTokenVersion": requested_token_version}})
        self._graph("POST", "servicePrincipals", {"appId": app["appId"]})
        return app

    def application(self, app_id):
        """The Graph application with this appId (KeyError if there is none)."""
        if self._emulator is not None:
            return self._emulator.application(app_id)
        found = self._graph("GET", "applications",
                            params={"$filter": f"appId eq '{app_id}'"})["value"]
        if not found:
            raise KeyError(f"no application with appId {app_id}")
        return found[0]

    def grant_app_role(self, client_app_id, resource_app_id_or_uri, role_value):
        """Grant the client application a role of a resource (by appId or identifier URI)."""
        if self._emulator is not None:
            return self._emulator.grant_app_role(client_app_id, resource_app_id_or_uri, role_value)
        client = self._service_principal("appId", client_app_id)
        resource = (self._service_principal("appId", resource_app_id_or_uri)
                    or self._service_principal("servicePrincipalNames", resource_app_id_or_uri))
        if client is None or resource is None:
            raise KeyError(f"unknown application {client_app_id} or resource "
                           f"{resource_app_id_or_uri}")
        from azext_entracert.emulator.state import app_role

        role = app_role(resource, role_value)
        return self._graph("POST", f"servicePrincipals/{resource['id']}/appRoleAssignedTo", {
            "principalId": client["id"], "resourceId": resource["id"], "appRoleId": role["id"]})

    # --- observation and faults ------------------------------------------------------------

    def requests_log(self):
        """Requests served so far (never a secret): method, path, status, client_id, scope..."""
        if self._emulator is not None:
            return self._emulator.requests_log()
        return self._control("GET", "requests")["value"]

    def token_requests(self, client_id=None):
        """The token requests in the log, of one client id or all."""
        return [r for r in self.requests_log() if r["path"].endswith("/oauth2/v2.0/token")
                and (client_id is None or r.get("client_id") == client_id)]

    def clear_log(self):
        if self._emulator is not None:
            return self._emulator.clear_log()
        self._control("DELETE", "requests")

    def add_fault(self, path, *, method=None, count=1, status=None, delay=0, retry_after=None,
                  body=None, replication_delay=None):
        """Make the next ``count`` requests whose path matches ``path`` fail or stall; with
        ``replication_delay``, what those Graph writes create is refused at the token endpoint
        for that many seconds (Entra's replication lag)."""
        spec = {"path": path, "method": method, "count": count, "status": status, "delay": delay,
                "retry_after": retry_after, "body": body, "replication_delay": replication_delay}
        if self._emulator is not None:
            return self._emulator.add_fault(path, **{k: v for k, v in spec.items() if k != "path"})
        return self._control("POST", "faults", spec)

    def verify_access_token(self, token):
        """The claims of a token this emulator issued (its signature checked against the
        emulator's JWKS); an error when it did not issue it."""
        if self._emulator is not None:
            return self._emulator.verify_access_token(token)
        import jwt

        from azext_entracert.core import inspect

        inspect.verify(token, jwks=self._get(self.jwks_url))
        return jwt.decode(token, options={"verify_signature": False})

    # --- HTTPS plumbing for workers -----------------------------------------------------------

    def _http(self):
        from azext_entracert.core.http import HttpClient

        return HttpClient(ca_bundle=self.ca_bundle)

    def _get(self, url):
        http = self._http()
        try:
            return http.get(url).json()
        finally:
            http.close()

    def _control(self, method, what, body=None):
        http = self._http()
        try:
            response = http.request(method, f"{self.authority_host}/_emulator/{what}", json=body)
            response.raise_for_status()
            return response.json() if response.content else None
        finally:
            http.close()

    def _graph(self, method, path, body=None, params=None):
        from azext_entracert.core import graph, tokens
        from azext_entracert.core.profiles import new_profile

        admin = new_profile("emulator-admin", tenant=self.tenant_id,
                            client_id=self.info["admin"]["client_id"],
                            certificate=self.info["admin"]["certificate"],
                            authority_host=self.authority_host, ca_bundle=self.ca_bundle,
                            check_name_rules=False)
        cache_dir = self.info["cache_dir"]
        http = self._http()
        try:
            client = graph.GraphClient(
                endpoint=self.graph_endpoint, http=http,
                token_provider=lambda: tokens.acquire(admin, directory=cache_dir).token)
            return client.call(method, path, params=params, body=body)
        finally:
            http.close()

    def _service_principal(self, prop, value):
        clause = (f"{prop} eq '{value}'" if prop == "appId"
                  else f"{prop}/any(n:n eq '{value}')")
        found = self._graph("GET", "servicePrincipals", params={"$filter": clause})["value"]
        return found[0] if found else None
