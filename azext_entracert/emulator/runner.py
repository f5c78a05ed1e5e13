"""``Emulator``: the local Entra ID + Graph emulator as one object to start, use and stop.

    with Emulator(tmp_path) as emu:
        app = emu.create_application("my-app", certificates=[cert])
        ... MSAL / azure-identity / az against emu.authority_host, trusting emu.ca_bundle ...

The state dir keeps the PKI material and ``tenant.json``: a restarted emulator has the same CA,
tenant id and applications (the port is new unless given). On first start it registers a
bootstrap admin application (certificate in ``admin.pem``, 0600) holding Microsoft Graph's
``Application.ReadWrite.All`` application role.

Azure Resource Manager (``arm``) listens on a second port with the same CA:
``resource_manager_endpoint`` lists the ``subscriptions`` given as ``"ID[:NAME]"`` strings.

``replication_delay`` (seconds; ``set_replication_delay`` changes it while running) imitates
Entra's replication lag: applications, service principals and key credentials written through
Graph are refused at the token endpoint (AADSTS700016 / 7000229 / 700027) until that long after
their creation, while Graph shows them at once. The test helpers below (``create_application``,
``add_certificate``...) seed the directory as already replicated, whatever the delay.
"""
import copy
import os
import threading
import time
import uuid

from ..core.errors import ConfigurationError
from . import state as st
from .arm import ResourceManager, ResourceManagerRouter, parse_subscription
from .graph import GraphApi
from .pki import Pki, private_state_dir
from .server import Faults, RequestLog, Router, TLSServer, is_loopback
from .sts import SecurityTokenService

ADMIN_NAME = "entracert emulator admin"


def key_credential(certificate, *, display_name=None, start=None, end=None):
    """The Graph keyCredential registering ``certificate`` (dates default to its validity).

    Unlike Graph's upload rules, ``start``/``end`` may lie outside the certificate's validity, so
    tests can register credentials that are expired or not yet valid."""
    from .graph_keys import stored_key_credential

    return stored_key_credential(certificate, display_name=display_name, start=start, end=end)


def _replication_delay(seconds):
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not (
            0 <= seconds < float("inf")):
        raise ConfigurationError(f"The replication delay {seconds!r} is not a number of seconds.",
                                 hint="Use 0 (no lag, the default) or more seconds.")
    return seconds


class Emulator:
    """A running emulator: TLS server thread, STS, Graph, and helpers for tests."""

    def __init__(self, state_dir, *, host="127.0.0.1", port=0, clock_skew=300, allow_remote=False,
                 tenant_domain="entracert-emulator.onmicrosoft.com", clock=time.time,
                 replication_delay=0, subscriptions=(), resource_manager_port=0):
        if not allow_remote and not is_loopback(host):
            raise ConfigurationError(
                f"The emulator will not listen on '{host}': it is not a loopback address, so other "
                "machines could use its admin credentials.",
                hint="Use --host 127.0.0.1 (the default), or pass --allow-remote if you mean it.")
        for number in (port, resource_manager_port):
            if not isinstance(number, int) or not 0 <= number <= 65535:
                raise ConfigurationError(f"The port {number!r} is not a TCP port.",
                                         hint="Use 0-65535.")
        self.subscriptions = [parse_subscription(s) for s in subscriptions]
        self.resource_manager_port = resource_manager_port
        self.state_dir = os.fspath(state_dir)
        self.host, self.port = host, port
        self.clock_skew, self.clock = clock_skew, clock
        self.replication_delay = _replication_delay(replication_delay)
        self._tenant_domain = tenant_domain
        self._server = self._thread = self._state_lock = None
        self._resource_manager = self._resource_manager_thread = None

    # --- life cycle --------------------------------------------------------------------------

    def start(self):
        private_state_dir(self.state_dir)  # 0700 before the first file lands in it
        self._claim_state_dir()
        try:
            self.pki = Pki(self.state_dir, host=self.host)
            self.state = st.TenantState(self.state_dir, tenant_domain=self._tenant_domain)
            self.admin = self._ensure_admin()
            server = TLSServer((self.host, self.port), self.pki.server_context(), None)
        except OSError as exc:
            self._release_state_dir()
            raise ConfigurationError(f"The emulator cannot listen on {self.host}:{self.port}: "
                                     f"{exc.strerror or exc}.",
                                     hint="Choose another --port, or 0 for a free one.") from exc
        except BaseException:
            self._release_state_dir()
            raise
        try:  # Resource Manager has its own origin: az picks the token audience by origin
            resource_manager = TLSServer((self.host, self.resource_manager_port),
                                         self.pki.server_context(), None)
        except OSError as exc:
            server.server_close()
            self._release_state_dir()
            raise ConfigurationError(
                f"The emulator cannot listen on {self.host}:{self.resource_manager_port}: "
                f"{exc.strerror or exc}.",
                hint="Choose another --resource-manager-port, or 0 for a free one.") from exc
        self.port = server.server_address[1]
        self.resource_manager_port = resource_manager.server_address[1]
        url_host = f"[{self.host}]" if ":" in self.host else self.host
        self.authority_host = f"https://{url_host}:{self.port}"
        self.resource_manager_endpoint = f"https://{url_host}:{self.resource_manager_port}"
        self.sts = SecurityTokenService(self.state, self.pki, origin=self.authority_host,
                                        resource_manager=self.resource_manager_endpoint,
                                        clock=self.clock, clock_skew=self.clock_skew)
        graph = GraphApi(state=self.state, verify_access_token=self.sts.verify_access_token,
                         origin=self.authority_host, clock=self.clock)
        graph.replication_delay = self.replication_delay
        server.router = Router(self.sts, graph, RequestLog(), Faults())
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"entracert-emulator-{self.port}", daemon=True)
        self._thread.start()
        resource_manager.router = ResourceManagerRouter(ResourceManager(
            state=self.state, verify_access_token=self.sts.verify_access_token,
            subscriptions=self.subscriptions, authority_host=self.authority_host),
            server.router.log, server.router.faults)
        self._resource_manager = resource_manager
        self._resource_manager_thread = threading.Thread(
            target=resource_manager.serve_forever, kwargs={"poll_interval": 0.1},
            name=f"entracert-emulator-arm-{self.resource_manager_port}", daemon=True)
        self._resource_manager_thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None
        if self._resource_manager is not None:
            self._resource_manager.shutdown()
            self._resource_manager.server_close()
            self._resource_manager_thread.join(timeout=5)
            self._resource_manager = self._resource_manager_thread = None
        self._release_state_dir()

    def _claim_state_dir(self):
        """One emulator per state dir: two would overwrite each other's tenant.json."""
        import portalocker

        lock = portalocker.Lock(os.path.join(self.state_dir, "emulator.lock"), mode="a",
                                timeout=0, flags=portalocker.LOCK_EX | portalocker.LOCK_NB)
        try:
            lock.acquire()
        except portalocker.LockException:
            raise ConfigurationError(
                f"Another emulator is already running on the state dir '{self.state_dir}'.",
                hint="Stop it first, or give this one its own --state-dir.") from None
        self._state_lock = lock

    def _release_state_dir(self):
        if self._state_lock is not None:
            self._state_lock.release()
            self._state_lock = None

    def __enter__(self):
        return self.start() if self._server is None else self

    def __exit__(self, *exc_info):
        self.stop()

    # --- what clients need -------------------------------------------------------------------

    @property
    def tenant_id(self):
        return self.state.tenant_id

    @property
    def tenant_domain(self):
        return self.state.tenant_domain

    @property
    def graph_endpoint(self):
        return self.authority_host

    @property
    def ca_bundle(self):
        return str(self.pki.ca_path)

    @property
    def token_endpoint(self):
        return f"{self.authority_host}/{self.tenant_id}/oauth2/v2.0/token"

    @property
    def info(self):
        """What a client needs, as ``python -m azext_entracert.emulator`` prints it."""
        return {"authority_host": self.authority_host, "tenant_id": self.tenant_id,
                "tenant_domain": self.tenant_domain, "graph_endpoint": self.graph_endpoint,
                "ca_bundle": self.ca_bundle, "admin": dict(self.admin),
                "replication_delay": self.replication_delay,
                "resource_manager_endpoint": self.resource_manager_endpoint,
                "subscriptions": [{"id": sub_id, "name": name}
                                  for sub_id, name in self.subscriptions],
                "pid": os.getpid()}

    def set_replication_delay(self, seconds):
        """Make objects Graph creates from now on reach the token endpoint ``seconds`` late."""
        self.replication_delay = _replication_delay(seconds)
        if self._server is not None and self._server.router.graph is not None:
            self._server.router.graph.replication_delay = self.replication_delay

    def _ensure_admin(self):
        from ..core.certs import sha1_thumbprint

        thumbprint = sha1_thumbprint(self.pki.admin_cert)
        with self.state.transaction() as data:
            st.sync_first_party(data)
            app = data["applications"].get(data["tenant"].get("adminObjectId", ""))
            if app is None:
                app = st.create_application(data, {"displayName": ADMIN_NAME})
                data["tenant"]["adminObjectId"] = app["id"]
            if st.service_principal_for(data, app["appId"]) is None:
                st.add_service_principal(data, app)
            if not any(c.get("customKeyIdentifier") == thumbprint for c in app["keyCredentials"]):
                app["keyCredentials"].append(key_credential(self.pki.admin_cert,
                                                            display_name=ADMIN_NAME))
            graph_sp = st.service_principal_for(data, st.GRAPH_APP_ID)
            admin_sp = st.service_principal_for(data, app["appId"])
            st.assign_app_role(data, admin_sp["id"], graph_sp["id"], st.APPLICATION_READWRITE_ALL)
        return {"client_id": app["appId"], "object_id": app["id"],
                "certificate": str(self.pki.admin_path)}

    # --- test helpers ------------------------------------------------------------------------

    def create_application(self, display_name, *, certificates=(), identifier_uris=(),
                           app_roles=(), requested_token_version=None):
        """Register an application and create its service principal (two objects in Entra: see
        ``state``), as already replicated; returns a copy of the application.

        ``certificates`` are ``x509.Certificate`` objects registered as keyCredentials;
        ``app_roles`` are role values (strings) or Graph appRole dicts."""
        roles = [role if isinstance(role, dict) else {
            "id": str(uuid.uuid4()), "value": role, "displayName": role, "description": role,
            "allowedMemberTypes": ["Application"], "isEnabled": True, "origin": "Application"}
            for role in app_roles]
        with self.state.transaction() as data:
            app = st.create_application(data, {
                "displayName": display_name, "identifierUris": list(identifier_uris),
                "keyCredentials": [key_credential(c) for c in certificates], "appRoles": roles,
                "api": {"requestedAccessTokenVersion": requested_token_version}})
            st.add_service_principal(data, app)
            return copy.deepcopy(app)

    def application(self, app_id):
        """A copy of the application with this appId (KeyError if there is none)."""
        with self.state.read() as data:
            app = st.application_by_app_id(data, app_id)
            if app is None:
                raise KeyError(f"no application with appId {app_id}")
            return copy.deepcopy(app)

    def add_certificate(self, app_id, certificate, *, start=None, end=None):
        """Register one more certificate on an application; returns its keyId."""
        credential = key_credential(certificate, start=start, end=end)
        with self.state.transaction() as data:
            self._app(data, app_id)["keyCredentials"].append(credential)
        return credential["keyId"]

    def remove_credential(self, app_id, key_id):
        """Remove a key or password credential by keyId."""
        with self.state.transaction() as data:
            app = self._app(data, app_id)
            for kind in ("keyCredentials", "passwordCredentials"):
                app[kind] = [c for c in app.get(kind) or [] if c["keyId"] != key_id]

    def add_client_secret(self, app_id, *, start=None, end=None, display_name=None):
        """Add a client secret; returns its text (the only time it is available)."""
        with self.state.transaction() as data:
            _, secret = st.add_password_credential(self._app(data, app_id), start=start, end=end,
                                                   display_name=display_name)
        return secret

    def grant_app_role(self, client_app_id, resource_app_id_or_uri, role_value):
        """Grant the client application an application role of a resource (by appId or URI)."""
        with self.state.transaction() as data:
            client = st.service_principal_for(data, client_app_id)
            resource = (st.service_principal_for(data, resource_app_id_or_uri)
                        or st.resource_for_audience(data, resource_app_id_or_uri))
            if client is None or resource is None:
                raise KeyError(f"unknown application {client_app_id} or resource "
                               f"{resource_app_id_or_uri}")
            role = st.app_role(resource, role_value)
            return copy.deepcopy(st.assign_app_role(data, client["id"], resource["id"], role["id"]))

    def verify_access_token(self, token):
        """Claims of a token this emulator issued (ValueError if it did not)."""
        return self.sts.verify_access_token(token)

    def requests_log(self):
        return self._server.router.log.entries()

    def clear_log(self):
        self._server.router.log.clear()

    def add_fault(self, path, *, method=None, count=1, status=None, delay=0, retry_after=None,
                  body=None, replication_delay=None):
        """Inject a fault into the next ``count`` requests whose path matches ``path``
        (``replication_delay``: what those Graph writes create lags at the token endpoint)."""
        return self._server.router.faults.add({
            "path": path, "method": method, "count": count, "status": status, "delay": delay,
            "retry_after": retry_after, "body": body, "replication_delay": replication_delay})

    def remove_fault(self, fault_id):
        """Remove one pending fault by the ``id`` ``add_fault`` returned; False once it is spent."""
        return self._server.router.faults.remove(fault_id)

    def clear_faults(self):
        self._server.router.faults.clear()

    @staticmethod
    def _app(data, app_id):
        app = st.application_by_app_id(data, app_id)
        if app is None:
            raise KeyError(f"no application with appId {app_id}")
        return app
