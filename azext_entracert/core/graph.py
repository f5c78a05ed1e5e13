"""Microsoft Graph calls for applications and their credentials (certificates, client secrets).

Shapes follow Graph v1.0 (ENTRA-FACTS section 5): ``keyCredentials`` is replaced wholesale by a
PATCH, so adding a certificate re-sends every existing entry with its ``keyId`` and ``key: null``
(Graph keeps the stored key), which is what keeps other credentials alive.
"""
import base64
import datetime
import uuid
from urllib.parse import quote

from .errors import ConfigurationError, GraphError
from .times import iso_z, utc_now

# Graph keeps at most 90 characters of a keyCredential's displayName and silently shortens a
# longer one (ENTRA-FACTS 5.2): a name the user chose is refused instead of cut.
DISPLAY_NAME_MAX = 90


def key_credential(loaded, *, display_name=None, now=None):
    """A new keyCredential for ``loaded``'s certificate, dates clipped to its validity (as az does:
    start = max(now, notBefore + 1 s), end = notAfter - 1 s)."""
    certificate = loaded.certificate
    now = now or utc_now()
    start = max(now, certificate.not_valid_before_utc + datetime.timedelta(seconds=1))
    end = certificate.not_valid_after_utc - datetime.timedelta(seconds=1)
    if display_name and len(display_name) > DISPLAY_NAME_MAX:
        raise ConfigurationError(
            f"The display name '{display_name}' has {len(display_name)} characters; Microsoft "
            f"Graph keeps at most {DISPLAY_NAME_MAX} of a certificate credential's name and "
            "would cut the rest.",
            hint=f"Pass a --display-name of at most {DISPLAY_NAME_MAX} characters.")
    return {
        "@odata.type": "#microsoft.graph.keyCredential",
        "customKeyIdentifier": None,  # Graph derives the SHA-1 thumbprint
        # The default, the subject, is shortened: the user did not choose it.
        "displayName": display_name or certificate.subject.rfc4514_string()[:DISPLAY_NAME_MAX],
        "endDateTime": iso_z(end),
        "key": base64.b64encode(loaded.der).decode("ascii"),
        "keyId": str(uuid.uuid4()),
        "startDateTime": iso_z(start),
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
    }


class GraphClient:
    """Calls ``{endpoint}/v1.0/...`` with a bearer token from ``token_provider()``.

    ``actor`` says who those tokens belong to (``lifecycle.profile_actor``/``az_actor``), so
    that whoever changes something through this client can audit who did it.
    """

    def __init__(self, *, endpoint, token_provider, http, actor=None):
        self.endpoint = endpoint.rstrip("/")
        self._token_provider = token_provider
        self._http = http
        self.actor = actor

    def call(self, method, path, *, params=None, body=None):
        """One Graph call; the parsed JSON (or None for 204), GraphError on any refusal."""
        headers = {"Authorization": f"Bearer {self._token_provider()}",
                   "Accept": "application/json", "client-request-id": str(uuid.uuid4())}
        response = self._http.request(method, f"{self.endpoint}/v1.0/{path}", params=params,
                                      json=body, headers=headers)
        if response.status_code == 204 or not response.content:
            if response.status_code >= 400:
                raise GraphError(f"Microsoft Graph answered HTTP {response.status_code} to "
                                 f"{method} {path}.", status=response.status_code)
            return None
        try:
            payload = response.json()
        except ValueError as exc:
            raise GraphError(f"Microsoft Graph answered {method} {path} with something that is "
                             "not JSON.", status=response.status_code,
                             hint="Check the Graph endpoint of the profile.") from exc
        if response.status_code >= 400:
            raise _graph_error(method, path, response.status_code, payload)
        return payload

    def find_application(self, app_id, *, select="id,appId,displayName,keyCredentials"):
        """The application with ``appId`` (``select``ed properties; keys by default), or
        GraphError if there is none."""
        literal = str(app_id).replace("'", "''")  # an OData string literal: quotes doubled
        found = self.call("GET", "applications", params={
            "$filter": f"appId eq '{literal}'", "$select": "id,appId,displayName"}).get("value", [])
        if not found:
            raise GraphError(f"No application with appId '{app_id}' is visible in this tenant.",
                             status=404, code="Request_ResourceNotFound",
                             hint="Check the client id and that the signed-in identity may read "
                                  "applications (Application.ReadWrite.All).")
        return self.call("GET", f"applications/{quote(found[0]['id'])}",
                         params={"$select": select})

    def service_principal(self, app_id):
        """The service principal of application ``app_id``, or None when it has none."""
        try:
            return self.call("GET", f"servicePrincipals(appId='{quote(str(app_id))}')",
                             params={"$select": "id,appId,displayName"})
        except GraphError as exc:
            if exc.status == 404:
                return None
            raise

    def create_application(self, display_name, *, certificates=(), sign_in_audience=None):
        """A new application registering ``certificates``.

        As in Entra ID, this creates no service principal: the application cannot sign in
        (AADSTS7000229) until ``create_service_principal`` gives it one.
        """
        if not display_name:
            raise ConfigurationError("An application needs a display name.",
                                     hint="Pass --display-name NAME.")
        return self.call("POST", "applications", body={
            "displayName": display_name,
            "keyCredentials": [key_credential(c) for c in certificates],
            **({"signInAudience": sign_in_audience} if sign_in_audience else {})})

    def create_service_principal(self, app_id):
        """The service principal that lets application ``app_id`` sign in to this tenant."""
        return self.call("POST", "servicePrincipals", body={"appId": app_id})

    def append_key_credential(self, application, loaded, *, display_name=None):
        """PATCH ``application``'s keys to its existing ones plus ``loaded``; return the entry."""
        entry = key_credential(loaded, display_name=display_name)
        self.set_key_credentials(application, application.get("keyCredentials") or [], entry)
        return entry

    def set_key_credentials(self, application, kept, *new):
        """PATCH the whole key collection to the ``kept`` existing entries plus ``new`` ones.

        Existing entries go back with ``key: null``: Graph keeps the stored key of a keyId it
        knows, and re-sending every certificate's DER would only make the request larger.
        """
        body = {"keyCredentials": [*({**entry, "key": None} for entry in kept), *new]}
        self.call("PATCH", f"applications/{quote(application['id'])}", body=body)

    def add_password(self, application, *, display_name=None, end=None):
        """A new client secret generated by Graph (addPassword): the passwordCredential with its
        ``secretText``, which Graph shows this once only (ENTRA-FACTS 8, client secrets)."""
        requested = {"displayName": display_name, **({"endDateTime": iso_z(end)} if end else {})}
        return self.call("POST", f"applications/{quote(application['id'])}/addPassword",
                         body={"passwordCredential": requested})

    def remove_password(self, application, key_id):
        """Remove the client secret ``key_id`` (removePassword)."""
        self.call("POST", f"applications/{quote(application['id'])}/removePassword",
                  body={"keyId": key_id})


def _graph_error(method, path, status, payload):
    error = payload.get("error") if isinstance(payload, dict) else None
    error = error if isinstance(error, dict) else {}
    code, message = error.get("code"), error.get("message")
    request_id = (error.get("innerError") or {}).get("request-id")
    hints = {
        401: "The Graph token was refused; check the profile's Graph endpoint and cloud.",
        403: "The identity lacks a Graph permission: it needs the Application.ReadWrite.All (or "
             "Application.ReadWrite.OwnedBy) application role, granted with admin consent.",
        404: "Check the application id, and that it lives in this tenant.",
    }
    reason = f": {str(message).strip().rstrip('.')}." if message else " and gave no reason."
    return GraphError(f"Microsoft Graph refused {method} {path.split('?')[0]} with HTTP {status}"
                      + (f" ({code})" if code else "") + reason,
                      status=status, code=code, request_id=request_id,
                      hint=hints.get(status, "Check the request; Graph's message says why.")
                      + (f" Request ID: {request_id}." if request_id else ""))
