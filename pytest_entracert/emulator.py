"""The local emulator as the plugin runs it: one per run, shared by every xdist worker.

The process that owns the emulator (the xdist controller, or the only process) starts it in a
temporary folder, registers an application with a fresh certificate, and hands ``info`` (plain
JSON) to the workers. ``EntraEmulator`` is what the ``entra_emulator`` fixture returns: in the
owning process it calls the ``Emulator`` directly; in a worker it reaches the same emulator over
HTTPS (its ``/_emulator`` control endpoints, and Microsoft Graph with the emulator's admin
application for registrations), so every process sees one tenant and one request log.
"""
import datetime
import hashlib
import shutil
import tempfile
import time
from pathlib import Path

APP_NAME = "entracert pytest"
GRAPH_DEFAULT_SCOPE = "https://graph.microsoft.com/.default"


class SharedEmulator:
    """Owns a running ``Emulator``, its folder and the application tests sign in as."""

    def __init__(self, base_dir=None):
        from azext_entracert.emulator import Emulator

        self._owned_dir = base_dir is None
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="entracert-emulator-"))
        self.emulator = Emulator(self.base_dir / "state").start()
        try:
            certificate = self.base_dir / "app.pem"
            loaded = new_key_pair(certificate)
            app = self.emulator.create_application(APP_NAME, certificates=[loaded.certificate])
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


class AttachedEmulator:
    """An emulator already running from ``state_dir`` (``az entracert emulator start``), used
    instead of starting one (``--entra-emulator-state``). The run signs in as the application
    ``entracert pytest``, ensured with a key kept beside the state (``pytest-entracert/app.pem``),
    so runs after the first change nothing in the tenant; tokens are cached for this run only."""

    emulator = None  # it runs in another process: reached over HTTPS, as from an xdist worker

    def __init__(self, state_dir):
        from azext_entracert.core.errors import ConfigurationError
        from azext_entracert.emulator import service

        found = service.status(state_dir)
        if not found["running"] or "authority_host" not in found:
            raise ConfigurationError(
                f"No emulator is running on the state dir '{found['state_dir']}' "
                "(--entra-emulator-state / entra_emulator_state / ENTRACERT_EMULATOR_STATE).",
                hint=f"Start one with 'az entracert emulator start --state-dir="
                     f"{found['state_dir']}', point the setting at the folder it runs from, or "
                     "drop it to let --entra-mode=emulator start a private emulator.")
        authority, tenant = found["authority_host"], found["tenant_id"]
        self.cache_dir = tempfile.mkdtemp(prefix="entracert-tokens-")
        info = {"authority_host": authority, "tenant_id": tenant,
                "tenant_domain": found["tenant_domain"], "graph_endpoint": found["graph_endpoint"],
                "token_endpoint": f"{authority}/{tenant}/oauth2/v2.0/token",
                "ca_bundle": found["ca_bundle"],
                "jwks_url": f"{authority}/{tenant}/discovery/v2.0/keys",
                "state_dir": found["state_dir"], "cache_dir": self.cache_dir,
                "admin": dict(found["admin"]), "client_id": None, "certificate": None,
                "thumbprint": None}
        try:
            certificate, pem = _kept_certificate(
                Path(found["state_dir"]) / "pytest-entracert" / "app.pem")
            app = EntraEmulator(info).ensure_application(APP_NAME, certificates=[certificate])
        except BaseException:
            self.close()
            raise
        from azext_entracert.core.certs import sha1_thumbprint

        self.info = {**info, "client_id": app["appId"], "object_id": app["id"],
                     "certificate": str(pem), "thumbprint": sha1_thumbprint(certificate)}

    def close(self):
        shutil.rmtree(self.cache_dir, ignore_errors=True)


def _kept_certificate(pem):
    """The certificate of the key + certificate PEM ``pem``, made once (under a lock: runs and
    xdist workers may start together)."""
    from azext_entracert.core import certs
    from azext_entracert.core.fileio import file_lock

    pem.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with file_lock(pem):
        if not pem.exists():
            return new_key_pair(pem).certificate, pem
    return certs.load(pem).certificate, pem


def new_key_pair(path):
    """A fresh RSA key and self-signed certificate, written to ``path`` as one PEM (0600), the
    form a profile signs in with; returns the loaded pair."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from azext_entracert.core import certgen
    from azext_entracert.core.fileio import PRIVATE, atomic_write

    loaded = certgen.create_self_signed(f"CN={APP_NAME}", key_size=2048, days=365)
    atomic_write(path, certgen.key_pem(loaded.private_key)
                 + loaded.certificate.public_bytes(Encoding.PEM), mode=PRIVATE)
    return loaded


def profile_for(info, name="emulator"):
    """The core profile of the emulator's test application: the same road as a live identity."""
    from azext_entracert.core.profiles import new_profile

    # Live mode's default scope (public Graph), which the emulator also serves: a test that
    # checks ``aud`` passes in both modes.
    return new_profile(name, tenant=info["tenant_id"], client_id=info["client_id"],
                       certificate=info["certificate"], authority_host=info["authority_host"],
                       ca_bundle=info["ca_bundle"], scopes=(GRAPH_DEFAULT_SCOPE,),
                       check_name_rules=False)


class EmulatorApplication(dict):
    """A Graph application the emulator registered, as Graph returns it (``app["appId"]``),
    with ``client_id`` and, when made (or ensured) with ``with_certificate=True``,
    ``certificate`` (its key + certificate PEM) and ``profile``: hand it to
    ``entra_token_factory(profile=app)`` or ``entra_credential_factory(app)`` to sign in as it."""

    def __init__(self, graph_app, *, info, certificate=None):
        super().__init__(graph_app)
        self.client_id = graph_app["appId"]
        self.certificate = certificate
        self._info = info
        self._profile = None

    @property
    def profile(self):
        """The core profile that signs in as this application."""
        if self.certificate is None:
            raise TypeError(f"entracert: the application '{self['displayName']}' was created "
                            "without with_certificate=True, so no key is at hand to sign in "
                            "as it.")
        if self._profile is None:
            self._profile = profile_for({**self._info, "client_id": self.client_id,
                                         "certificate": self.certificate},
                                        name=self["displayName"])
        return self._profile


class EntraEmulator:
    """What ``entra_emulator`` gives a test.

    Attributes: ``authority_host``, ``tenant_id``, ``tenant_domain``, ``client_id`` (the test
    application), ``certificate`` (its key + certificate PEM, 0600), ``thumbprint``,
    ``ca_bundle`` (trust it in clients), ``jwks_url``, ``token_endpoint``, ``graph_endpoint``.
    Methods: ``create_application``, ``ensure_application``, ``application``,
    ``grant_app_role``, ``requests_log``, ``token_requests``, ``clear_log``, ``add_fault``,
    ``remove_fault``, ``verify_access_token``.

    Several processes share one emulator (xdist workers, runs against a long-lived one), so what
    a test changes is scoped to it, as pytest-httpserver resets its server after each test: the
    faults it adds that are still pending are removed when it ends, and its ``clear_log()`` hides
    earlier requests from its own view only.
    """

    def __init__(self, info, emulator=None):
        self.info = dict(info)
        self._emulator = emulator  # None in an xdist worker: reach it over HTTPS
        for name in ("authority_host", "tenant_id", "tenant_domain", "client_id", "certificate",
                     "thumbprint", "ca_bundle", "jwks_url", "token_endpoint", "graph_endpoint"):
            setattr(self, name, info[name])
        self._test_started = self._cleared_at = None  # epoch seconds
        self._test_faults = None  # ids of the faults the running test added; None between tests
        # The plugin's: told the client ids whose keys, roles or registration changed, so that
        # remembered failures and cached tokens that no longer hold are dropped.
        self.on_change = None

    # --- per-test scope: the plugin calls these around each test --------------------------

    def begin_test(self):
        self._test_started, self._cleared_at, self._test_faults = time.time(), None, []

    def end_test(self):
        """Remove the faults the test added that are still pending; forget its ``clear_log()``."""
        added, self._test_faults, self._cleared_at = self._test_faults or [], None, None
        for fault_id in added:
            self.remove_fault(fault_id)

    def __repr__(self):
        return (f"EntraEmulator(authority_host={self.authority_host!r}, "
                f"client_id={self.client_id!r})")

    # --- registrations ------------------------------------------------------------------------

    def create_application(self, display_name, *, certificates=(), identifier_uris=(),
                           app_roles=(), requested_token_version=None, with_certificate=False):
        """Register an application and create its service principal (separate objects, as in
        Entra); returns the Graph application, an ``EmulatorApplication``.

        ``certificates`` are ``cryptography`` ``x509.Certificate`` objects; ``app_roles`` role
        values (strings) or Graph appRole dicts. ``with_certificate=True`` also makes it a key
        and certificate, so a test can sign in as it: ``entra_token_factory(profile=app)``,
        ``entra_credential_factory(app)``."""
        pem = None
        if with_certificate:
            pem, certificate = self._key_pair()
            certificates = [*certificates, certificate]
        app = self._register(display_name, certificates, identifier_uris, app_roles,
                             requested_token_version)
        self._changed(app["appId"])
        return EmulatorApplication(app, info=self.info, certificate=pem)

    def _changed(self, *client_ids):
        if self.on_change is not None:
            self.on_change(client_ids)

    def _key_pair(self):
        """A key + certificate PEM kept with the emulator's state, which keeps the application
        (a long-lived emulator's too), and the certificate."""
        import uuid

        folder = Path(self.info["state_dir"]) / "pytest-entracert" / "applications"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = folder / f"{uuid.uuid4()}.pem"
        return str(path), new_key_pair(path).certificate

    def _register(self, display_name, certificates, identifier_uris, app_roles,
                  requested_token_version):
        if self._emulator is not None:
            return self._emulator.create_application(
                display_name, certificates=certificates, identifier_uris=identifier_uris,
                app_roles=app_roles, requested_token_version=requested_token_version)
        from azext_entracert.emulator.runner import key_credential

        app = self._graph("POST", "applications", {
            "displayName": display_name, "identifierUris": list(identifier_uris),
            "keyCredentials": [key_credential(c) for c in certificates],
            "appRoles": [_app_role(role) for role in app_roles],
            "api": {"requestedAccessTokenVersion": requested_token_version}})
        self._graph("POST", "servicePrincipals", {"appId": app["appId"]})
        return app

    def ensure_application(self, display_name, *, certificates=(), identifier_uris=(),
                           app_roles=(), with_certificate=False):
        """Get or create the application of this display name, with its service principal, and
        add what it lacks of ``certificates`` (by thumbprint), ``identifier_uris`` and
        ``app_roles`` (by value); returns it as ``create_application`` does.
        ``with_certificate=True`` gives it a key to sign in with, as ``create_application``
        does, but one key per display name, kept beside the emulator's state: every worker and
        every run against a long-lived emulator signs in with the same key.

        Idempotent, and safe from every xdist worker at once and in every run against a
        long-lived emulator (``--entra-emulator-state``): a lock beside the emulator's state makes
        the look-up and the creation one step, where ``create_application`` in a session fixture
        would register one application per worker (or fail on a taken identifier URI)."""
        from azext_entracert.core.fileio import file_lock

        with file_lock(Path(self.info["state_dir"]) / "pytest-entracert-applications"):
            pem = None
            if with_certificate:
                digest = hashlib.sha256(display_name.encode()).hexdigest()[:32]
                pem = (Path(self.info["state_dir"]) / "pytest-entracert" / "applications"
                       / f"ensured-{digest}.pem")
                certificates = [*certificates, _kept_certificate(pem)[0]]
                pem = str(pem)
            literal = "'" + display_name.replace("'", "''") + "'"
            found = self._graph("GET", "applications",
                                params={"$filter": f"displayName eq {literal}"})["value"]
            if not found:
                app = self.create_application(display_name, certificates=certificates,
                                              identifier_uris=identifier_uris,
                                              app_roles=app_roles)
                return EmulatorApplication(app, info=self.info, certificate=pem)
            app = found[0]
            changes = _missing(app, certificates, identifier_uris, app_roles)
            if changes:
                self._graph("PATCH", f"applications/{app['id']}", changes)
            if self._service_principal("appId", app["appId"]) is None:
                self._graph("POST", "servicePrincipals", {"appId": app["appId"]})
                changes = True
            if changes:
                self._changed(app["appId"])
            return EmulatorApplication(self.application(app["appId"]) if changes else app,
                                       info=self.info, certificate=pem)

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
        """Grant the client application a role of a resource (by appId or identifier URI);
        idempotent, and safe from every xdist worker at once, as ``ensure_application``."""
        if self._emulator is not None:
            granted = self._emulator.grant_app_role(client_app_id, resource_app_id_or_uri,
                                                    role_value)
            self._changed(client_app_id)
            return granted
        client = self._service_principal("appId", client_app_id)
        resource = (self._service_principal("appId", resource_app_id_or_uri)
                    or self._service_principal("servicePrincipalNames", resource_app_id_or_uri))
        if client is None or resource is None:
            raise KeyError(f"unknown application {client_app_id} or resource "
                           f"{resource_app_id_or_uri}")
        from azext_entracert.core.fileio import file_lock
        from azext_entracert.emulator.state import app_role

        role = app_role(resource, role_value)
        # Idempotent as in the owning process (Graph itself refuses a second grant): a setup
        # hook that grants runs again against a long-lived emulator, and a session fixture in
        # every worker at once, hence the look-up and the grant under ensure_application's lock.
        with file_lock(Path(self.info["state_dir"]) / "pytest-entracert-applications"):
            held = self._graph("GET",
                               f"servicePrincipals/{client['id']}/appRoleAssignments")["value"]
            for assignment in held:
                if ((assignment["resourceId"], assignment["appRoleId"])
                        == (resource["id"], role["id"])):
                    return assignment
            granted = self._graph(
                "POST", f"servicePrincipals/{resource['id']}/appRoleAssignedTo",
                {"principalId": client["id"], "resourceId": resource["id"],
                 "appRoleId": role["id"]})
        self._changed(client_app_id)
        return granted

    # --- observation and faults ------------------------------------------------------------

    def requests_log(self, *, this_test=False):
        """Requests served so far (never a secret): method, path, status, client_id, scope...;
        only those since the running test began with ``this_test=True``, and only those since
        its ``clear_log()`` if it called it. Under xdist the emulator serves every worker: filter
        by ``client_id`` or ``path`` to see one test's own."""
        if self._emulator is not None:
            entries = self._emulator.requests_log()
        else:
            entries = self._control("GET", "requests")["value"]
        since = max((t for t in (self._cleared_at, this_test and self._test_started) if t),
                    default=None)
        if since is None:
            return entries
        return [e for e in entries
                if datetime.datetime.fromisoformat(e["time"]).timestamp() >= since]

    def token_requests(self, client_id=None, *, this_test=False):
        """The token requests in the log, of one client id or all (``this_test`` as above)."""
        return [r for r in self.requests_log(this_test=this_test)
                if r["path"].endswith("/oauth2/v2.0/token")
                and (client_id is None or r.get("client_id") == client_id)]

    def clear_log(self):
        """Start this test's view of the log afresh, until it ends. The emulator's log itself is
        kept: emptying it would blank what other workers' tests are about to read."""
        self._cleared_at = time.time()

    def add_fault(self, path, *, method=None, count=1, status=None, delay=0, retry_after=None,
                  body=None, replication_delay=None):
        """Make the next ``count`` requests whose path matches ``path`` fail or stall; with
        ``replication_delay``, what those Graph writes create is refused at the token endpoint
        for that many seconds (Entra's replication lag)."""
        spec = {"path": path, "method": method, "count": count, "status": status, "delay": delay,
                "retry_after": retry_after, "body": body, "replication_delay": replication_delay}
        if self._emulator is not None:
            fault = self._emulator.add_fault(path,
                                             **{k: v for k, v in spec.items() if k != "path"})
        else:
            fault = self._control("POST", "faults", spec)
        if self._test_faults is not None:  # added by a test: it ends with the test
            self._test_faults.append(fault["id"])
        return fault

    def remove_fault(self, fault_id):
        """Remove a pending fault by the ``id`` ``add_fault`` returned (nothing if it is spent)."""
        if self._emulator is not None:
            self._emulator.remove_fault(fault_id)
        else:
            self._control("DELETE", f"faults/{fault_id}", missing_ok=True)

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

    def _control(self, method, what, body=None, missing_ok=False):
        http = self._http()
        try:
            response = http.request(method, f"{self.authority_host}/_emulator/{what}", json=body)
            if not (missing_ok and response.status_code == 404):
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


def _app_role(role):
    """A Graph appRole for a role value (a dict is taken as it is)."""
    import uuid

    return role if isinstance(role, dict) else {
        "id": str(uuid.uuid4()), "value": role, "displayName": role, "description": role,
        "allowedMemberTypes": ["Application"], "isEnabled": True}


def _missing(app, certificates, identifier_uris, app_roles):
    """The PATCH that adds to ``app`` the certificates, URIs and roles it lacks (or {})."""
    from azext_entracert.core.certs import sha1_thumbprint
    from azext_entracert.emulator.runner import key_credential

    keys = app.get("keyCredentials") or []
    known = {(k.get("customKeyIdentifier") or "").upper() for k in keys}
    new_keys = [key_credential(c) for c in certificates if sha1_thumbprint(c) not in known]
    uris = app.get("identifierUris") or []
    new_uris = [uri for uri in identifier_uris if uri not in uris]
    roles = app.get("appRoles") or []
    values = {r.get("value") for r in roles}
    new_roles = [_app_role(r) for r in app_roles
                 if (r.get("value") if isinstance(r, dict) else r) not in values]
    changes = {}
    if new_keys:  # a stored keyId with no key keeps that credential as it is
        changes["keyCredentials"] = [{"keyId": k["keyId"]} for k in keys] + new_keys
    if new_uris:
        changes["identifierUris"] = uris + new_uris
    if new_roles:
        changes["appRoles"] = roles + new_roles
    return changes
