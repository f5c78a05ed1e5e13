"""Applications: from nothing to a working profile in one call (``create``); show, list, delete.

``create`` is the list ``STEPS``, walked by one loop; each step is audited as
``app-create-<step>`` with the identity that called Graph (``graph.actor``):

    certificate        a new self-signed certificate is written (PFX 0600, .cer, .pem), or the
                       given file is loaded
    application        POST /applications with that certificate as its only credential (no
                       client secret)
    service-principal  POST /servicePrincipals: an application without one cannot sign in
                       (AADSTS7000229)
    verify-token       a token signed by the certificate, tried again with bounded back-off while
                       Entra ID replicates what Graph just wrote (``lifecycle.wait_for_token``)
    profile            the profile, which takes tenant, cloud, authority, Graph endpoint and CA
                       bundle from the identity that called Graph (``Caller``)

Before the first step, what can be checked is: the profile name is free, the output files can be
written, and no application has the display name yet (Graph allows duplicates, we refuse them
unless ``allow_duplicate``: two applications of one name are a classic source of granting the
wrong one). A failure after the application exists raises ``OnboardingError`` naming what was
created, the commands that finish the job and the one that undoes it. ``show``,
``list_applications`` and ``delete`` are the rest of an application's life; its API permissions
are in ``permissions``.
"""
import dataclasses
from pathlib import Path
from urllib.parse import quote

from .errors import ConfigurationError, EntraCertError, GraphError, OnboardingError
from .lifecycle import VERIFY_TIMEOUT, audit_change, certificates_of, wait_for_token

MAX_DISPLAY_NAME = 256   # Graph's limit for an application's displayName
SIGN_IN_AUDIENCES = ("AzureADMyOrg", "AzureADMultipleOrgs")
_APP_SELECT = "id,appId,displayName,signInAudience,createdDateTime,keyCredentials," \
              "requiredResourceAccess"


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who calls Graph (``option``: how a command line names it again, e.g. ``--admin-profile
    admin``) and the settings a profile made for the new application inherits from it."""

    option: str
    tenant: str
    cloud: str = None
    authority_host: str = None
    graph_endpoint: str = None
    ca_bundle: str = None

    @classmethod
    def of_profile(cls, profile):
        return cls(f"--admin-profile {profile.name}", profile.tenant, cloud=profile.cloud,
                   authority_host=profile.authority_host, graph_endpoint=profile.graph_endpoint,
                   ca_bundle=profile.ca_bundle)


@dataclasses.dataclass(frozen=True)
class NewCertificate:
    """The certificate of the new application: ``loaded`` (with its key, when there is one),
    ``source`` (a ``credentials.CertificateFile``: the file holding it and where its password
    comes from), ``out`` when ``create`` must write it there first, and ``password``: the new
    PFX's, used to sign in right away."""

    loaded: object
    source: object
    out: str = None
    password: bytes = dataclasses.field(default=None, repr=False)

    @classmethod
    def self_signed(cls, display_name, source, *, days=365, key_size=2048, password=None):
        """A new key and self-signed certificate, CN = the display name (cut to X.509's 64
        characters), to be written to ``source``'s file (a .pfx) by the first step."""
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        from . import certgen
        from .credentials import resolved

        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, display_name.strip()[:64])])
        loaded = certgen.create_self_signed(subject, key_size=key_size, days=days)
        return cls(loaded, resolved(source), out=source.certificate, password=password)


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of ``create``: ``run(o)`` does it and returns what it did; ``made(o)`` what it
    leaves behind; ``finish(o)`` the commands that do it and the steps after it by hand."""

    name: str
    run: object
    made: object = None
    finish: object = None


@dataclasses.dataclass
class _Onboarding:
    graph: object
    caller: Caller
    display_name: str
    certificate: NewCertificate
    sign_in_audience: str
    profile_name: str
    make_default: bool
    store: object
    directory: object
    prompt: object
    verify_timeout: float
    verify_delay: float
    application: dict = None
    service_principal: dict = None
    profile: object = None
    steps: list = dataclasses.field(default_factory=list)

    @property
    def app_id(self):
        return self.application["appId"] if self.application else None

    def new_profile(self):
        """The profile of the new application (validated; its certificate loaded once)."""
        from .profiles import new_profile

        c, cert = self.caller, self.certificate
        # Without --profile the token check still needs a name, for its audit line: one that
        # cannot be a profile's and says which application it was.
        return new_profile(
            self.profile_name or f"(app create {self.display_name})", tenant=c.tenant,
            client_id=self.app_id, credential=cert.source, prompt=self.sign_in_prompt,
            cloud=c.cloud, authority_host=c.authority_host, graph_endpoint=c.graph_endpoint,
            ca_bundle=c.ca_bundle,
            check_name_rules=bool(self.profile_name))

    def sign_in_prompt(self, text):
        if self.certificate.password is not None:
            return self.certificate.password.decode("utf-8")
        return self.prompt(text) if self.prompt else None

    def audit(self, step, *, ok, detail):
        audit_change(self.directory, self.profile, f"app-create-{step}",
                     self.certificate.loaded, outcome="success" if ok else "failure",
                     detail=detail, actor=getattr(self.graph, "actor", None), app_id=self.app_id)


# --- The steps ------------------------------------------------------------------------------------

def _certificate(o):
    from . import certgen

    cert = o.certificate
    if cert.out:
        files = certgen.write_bundle(cert.loaded, cert.out, password=cert.password)
        return f"wrote {', '.join(str(f) for f in files.values())}"
    return f"using {cert.loaded.thumbprint} from {cert.source.certificate}"


def _files(o):
    from .certgen import bundle_paths

    return [str(p) for p in bundle_paths(o.certificate.out).values()] if o.certificate.out else []


def _application(o):
    o.application = o.graph.create_application(o.display_name, certificates=[o.certificate.loaded],
                                               sign_in_audience=o.sign_in_audience)
    return (f"created application '{o.display_name}' (appId {o.app_id}, object id "
            f"{o.application['id']}) with certificate {o.certificate.loaded.thumbprint}")


def _service_principal(o):
    o.service_principal = o.graph.create_service_principal(o.app_id)
    return f"created service principal {o.service_principal['id']} for {o.app_id}"


def _verify(o):
    if not o.certificate.loaded.has_private_key:
        return (f"not verified: {o.certificate.source.certificate} holds no private key (give "
                "the PFX to sign in with it)")
    wait_for_token(o.new_profile(), directory=o.directory, prompt=o.sign_in_prompt,
                   timeout=o.verify_timeout, delay=o.verify_delay)
    return f"a token was issued for {o.certificate.loaded.thumbprint}"


def _profile(o):
    if not o.profile_name:
        return "no profile asked for"
    o.profile = o.new_profile()
    o.store.add(o.profile, make_default=o.make_default)
    return f"created profile '{o.profile_name}'" + (" (the default)" if o.make_default else "")


def _profile_commands(o):
    """Create the profile by hand, then see a token signed by the certificate."""
    c, source, name = o.caller, o.certificate.source, o.profile_name or "NAME"
    parts = [f"az entracert profile create --name {name}",
             f"--tenant {c.tenant}", f"--client-id {o.app_id}",
             f"--certificate {source.certificate}"]
    if source.password_env:
        parts.append(f"--password-env {source.password_env}")
    if source.password_file:
        parts.append(f"--password-file {source.password_file}")
    if c.cloud:
        parts.append(f"--cloud {c.cloud}")
    else:
        parts.append(f"--authority-host {c.authority_host} --graph-endpoint {c.graph_endpoint}")
    if c.ca_bundle:
        parts.append(f"--ca-bundle {c.ca_bundle}")
    return [" ".join(parts), f"az entracert token get --profile {name} --force-refresh"]


STEPS = (
    Step("certificate", _certificate,
         made=lambda o: (f"the certificate files {', '.join(_files(o))}" if _files(o) else None)),
    Step("application", _application,
         made=lambda o: (f"application '{o.display_name}' (appId {o.app_id}, object id "
                         f"{o.application['id']})"),
         # Graph's answer was lost (a refusal deletes the files and re-raises): look for it
         finish=lambda o: [f"az entracert app list {o.caller.option}"]),
    Step("service-principal", _service_principal,
         made=lambda o: f"its service principal {o.service_principal['id']}",
         finish=lambda o: [f"az ad sp create --id {o.app_id}",
                           *(_profile_commands(o) if o.profile_name else ())]),
    Step("verify-token", _verify, finish=_profile_commands),
    Step("profile", _profile, finish=lambda o: _profile_commands(o)[:1]),
)


def create(graph, caller, display_name, certificate, *, sign_in_audience="AzureADMyOrg",
           profile_name=None, make_default=False, store=None, allow_duplicate=False,
           directory=None, prompt=None, verify_timeout=VERIFY_TIMEOUT, verify_delay=2.0):
    """Create the application ``display_name`` with ``certificate`` (a ``NewCertificate``) as its
    only credential, its service principal, wait until a token signed by the certificate is
    issued, and with ``profile_name`` store a profile for it in ``store``. Returns the appId,
    object ids, thumbprint, profile and the steps done."""
    check_display_name(display_name)
    if sign_in_audience not in SIGN_IN_AUDIENCES:
        raise ConfigurationError(
            f"The sign-in audience '{sign_in_audience}' does not fit a service principal that "
            "signs in with a certificate.", hint=f"Use one of {', '.join(SIGN_IN_AUDIENCES)}.")
    if profile_name:
        store.check_free(profile_name)
        if not certificate.loaded.has_private_key:
            raise ConfigurationError(
                f"'{certificate.source.certificate}' holds the certificate "
                f"{certificate.loaded.thumbprint} but no private key, so a profile could not sign "
                "in with it.",
                hint="Give the PFX (or a PEM with the key), or leave out --profile.")
    if certificate.out:
        from .certgen import check_bundle_writable

        check_bundle_writable(certificate.out)
    if not allow_duplicate:
        try:
            _check_unused(graph, display_name)
        except GraphError as exc:
            raise _explained(exc, caller, graph) from exc
    o = _Onboarding(graph, caller, display_name, certificate, sign_in_audience, profile_name,
                    make_default, store, directory, prompt, verify_timeout, verify_delay)
    for step in STEPS:
        try:
            detail = step.run(o)
        except (EntraCertError, OSError) as exc:
            raise _stopped(o, step, exc) from exc
        o.steps.append({"name": step.name, "ok": True, "detail": detail})
        o.audit(step.name, ok=True, detail=detail)
    return {"appId": o.app_id, "objectId": o.application["id"],
            "servicePrincipalId": o.service_principal["id"], "displayName": o.display_name,
            "thumbprint": certificate.loaded.thumbprint,
            "certificate": certificate.source.certificate, "files": _files(o),
            "profile": profile_name, "tenant": caller.tenant, "steps": o.steps}


def _stopped(o, step, exc):
    """The error for a failure of ``step``: re-raised as it is while nothing was created (the
    files written are deleted when Graph refused the application), else an OnboardingError
    naming what exists and the commands that finish or undo it."""
    cause = str(getattr(exc, "message", None) or exc).strip()
    o.steps.append({"name": step.name, "ok": False, "detail": cause})
    o.audit(step.name, ok=False, detail=cause)
    refused = isinstance(exc, GraphError) and exc.status is not None and 400 <= exc.status < 500
    if step.name == "certificate" or (step.name == "application" and refused):
        for path in _files(o) if step.name == "application" else []:
            Path(path).unlink(missing_ok=True)
        raise _explained(exc, o.caller, o.graph)
    created = [text for s in STEPS[:STEPS.index(step)] if s.made and (text := s.made(o))]
    if step.name == "application":  # no answer: whether Graph created it is not known
        created.append(f"perhaps application '{o.display_name}' (Graph's answer was lost)")
    remaining = step.finish(o)
    undo = ([f"az entracert app delete --app-id {o.app_id} --yes {o.caller.option}"]
            if o.app_id else []) + ([f"rm {' '.join(_files(o))}"] if _files(o) else [])
    if step.name == "verify-token":
        cause += (f" Entra ID may take minutes to accept a new application; the wait was "
                  f"{o.verify_timeout:g} s.")
    message = (f"'app create' stopped at step '{step.name}'. {cause.rstrip('.')}. "
               f"Created: {'; '.join(created) or 'nothing'}. "
               f"To finish: {_commands(remaining)}. To undo: {_commands(undo) or 'nothing'}.")
    hint = (f"Run '{remaining[0]}'" + (", then the rest listed above" if remaining[1:] else "")
            + (f"; or undo with '{undo[0]}'." if undo else "."))
    return OnboardingError(message, steps=o.steps, created=created, remaining=remaining,
                           undo=undo, hint=hint)


def _explained(exc, caller, graph):
    """A 403 from Graph while creating an application, naming who was refused and how that
    identity gets the right; other errors as they are."""
    if not (isinstance(exc, GraphError) and exc.status == 403):
        return exc
    actor = getattr(graph, "actor", None) or {}
    who = actor.get("clientId") or actor.get("name")
    client_id = actor.get("clientId") or (who if actor.get("userType") == "servicePrincipal"
                                          else None)
    grant = (f"'az entracert app permission add --app-id {client_id} --api graph --role "
             "Application.ReadWrite.All --grant --admin-profile ADMIN' run by an administrator"
             if client_id else "an administrator assigning the Application Developer (or "
                               "Application Administrator) directory role to the account")
    return GraphError(
        f"{exc.message.rstrip('.')}. The identity of {caller.option}"
        + (f" ({who})" if who else "") + " may not create or read applications.",
        status=exc.status, code=exc.code, request_id=exc.request_id,
        hint=f"Give it Microsoft Graph's Application.ReadWrite.All application role with admin "
             f"consent ({grant}), or call as an identity that has it.")


def _commands(commands):
    return ", then ".join(f"'{command}'" for command in commands)


def check_display_name(display_name):
    if not display_name or not display_name.strip():
        raise ConfigurationError("An application needs a display name.",
                                 hint="Pass --display-name NAME.")
    if len(display_name) > MAX_DISPLAY_NAME:
        raise ConfigurationError(
            f"The display name is {len(display_name)} characters long; Microsoft Graph accepts "
            f"at most {MAX_DISPLAY_NAME}.", hint="Give a shorter --display-name.")


def _check_unused(graph, display_name):
    literal = display_name.replace("'", "''")  # an OData string literal: quotes doubled
    found = graph.call("GET", "applications", params={
        "$filter": f"displayName eq '{literal}'", "$select": "id,appId,displayName"})["value"]
    if found:
        ids = ", ".join(a["appId"] for a in found)
        raise ConfigurationError(
            f"An application named '{display_name}' already exists (appId {ids}). Microsoft "
            "Graph allows two applications with one name, but then the portal, scripts and "
            "permission grants easily pick the wrong one.",
            hint=f"Choose another --display-name, use the existing one ('az entracert app show "
                 f"--app-id {found[0]['appId']}'), or pass --allow-duplicate.")


# --- Show, list, delete ------------------------------------------------------------------------

def show(graph, app_id, *, profiles=()):
    """The application ``app_id``: ids, certificates, service principal and local profiles."""
    application = graph.find_application(app_id, select=_APP_SELECT)
    return _described(application, graph.service_principal(application["appId"]),
                      profiles)


def list_applications(graph, *, profiles=()):
    """The applications the caller may see (an OwnedBy caller: those it owns), by name."""
    found = graph.call("GET", "applications", params={
        "$select": "id,appId,displayName,signInAudience,createdDateTime", "$top": "999"})
    names = _profiles_by_app(profiles)
    return sorted(({"appId": a["appId"], "objectId": a["id"], "displayName": a["displayName"],
                    "signInAudience": a.get("signInAudience"),
                    "createdDateTime": a.get("createdDateTime"),
                    "profiles": names.get(a["appId"].lower(), [])}
                   for a in found.get("value", [])),
                  key=lambda a: ((a["displayName"] or "").lower(), a["appId"]))


def delete(graph, app_id, *, profiles=(), directory=None):
    """Delete the application (Graph deletes its service principal with it). Local profiles of
    the application are kept (their files too) and listed: they can no longer sign in."""
    application = graph.find_application(app_id, select="id,appId,displayName")
    graph.call("DELETE", f"applications/{quote(application['id'])}")
    orphans = _profiles_by_app(profiles).get(application["appId"].lower(), [])
    audit_change(directory, None, "app-delete", None, actor=getattr(graph, "actor", None),
                 app_id=application["appId"],
                 detail=f"deleted application '{application['displayName']}' "
                        f"({application['appId']}) and its service principal")
    return {"deleted": application["appId"], "objectId": application["id"],
            "displayName": application["displayName"], "profiles": orphans,
            "remaining": [f"az entracert profile delete --name {name} --yes"
                          for name in orphans]}


def _described(application, service_principal, profiles):
    return {"appId": application["appId"], "objectId": application["id"],
            "displayName": application.get("displayName"),
            "servicePrincipalId": (service_principal or {}).get("id"),
            "signInAudience": application.get("signInAudience"),
            "createdDateTime": application.get("createdDateTime"),
            "certificates": certificates_of(application),
            "profiles": _profiles_by_app(profiles).get(application["appId"].lower(), [])}


def _profiles_by_app(profiles):
    names = {}
    for profile in profiles:
        names.setdefault(profile.client_id.lower(), []).append(profile.name)
    return names
