"""Entra ID's token-endpoint errors: the AADSTS catalogue and the JSON envelope they travel in.

Each entry is ``code: (http status, OAuth "error", message template)`` after ENTRA-FACTS 2.3. The
envelope (2.2) carries ``error_codes``, ``timestamp``, ``trace_id``, ``correlation_id`` (the
request's ``client-request-id`` when it sent one: the usual convention, UNVERIFIED) and
``error_uri``; the description ends with " Trace ID: … Correlation ID: … Timestamp: …" separated by
single spaces, as Entra has done since late 2023.

Choices where the real service is not documented (ENTRA-FACTS 2.3 and 7 say UNVERIFIED):

* 700016 (unknown application) is 400 ``unauthorized_client``; 700024 (assertion outside its time
  range) is 401 ``invalid_client``, like the other assertion errors.
* 90002 (unknown tenant) at the token endpoint is 400 ``invalid_request`` (the v1-era value).
* A registered certificate outside its startDateTime/endDateTime is reported as 700027 ("key was
  found, but ... outside its validity period"): Entra does not use an expired key, so to the client
  it is an unusable key; the real code may be 1000502 or 7000274.
* 50027 (assertion is not a parseable JWT, an unsupported ``alg`` or a non-numeric time claim) is
  401 ``invalid_client``.
* 90014 (a required claim such as ``exp`` missing from the assertion) is 400 ``invalid_request``.
* 700021 (assertion ``iss`` is not the ``client_id``) is 401 ``invalid_client``.
* A wrong ``client_assertion_type`` is reported as 7000218 (no usable credential presented).
* 70003 (grant type other than client_credentials) is 400 ``unsupported_grant_type``.
* 700022 (several ``/.default`` scopes, i.e. several resources) is 400 ``invalid_scope``; its
  text follows the error-code reference ("InvalidMultipleResourcesScope").
* 50059 (client credentials sent to ``common``/``organizations``) is 400 ``invalid_request``.
* 901002 (``resource`` sent to the v2 token endpoint) is 400 ``invalid_request``, as for the
  other request-parameter errors.
* 7000229 (the application has no service principal) is 401 ``invalid_client``: MSAL.NET reports
  it as an invalid_client error (Azure/Commercial-Marketplace-SaaS-Accelerator#830), and 401 keeps
  MSAL Python from caching it for 60 s, so a client retrying through replication lag gets an
  answer from the server each time. The message carries the "See instructions here" link seen
  there.
* 7000112 (service principal disabled, ``accountEnabled: false``) is 400
  ``unauthorized_client``, as quoted from a client-credentials call in Worklytics/psoxy#74.
"""
import datetime
import json
import uuid

from .wire import Response

_DOCS = ("Review the documentation at "
         "https://learn.microsoft.com/entra/identity-platform/certificate-credentials .")
_SEE_KEYS = ("Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see "
             "configured keys for app Id '{client_id}'. Review the documentation at "
             "https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding "
             "service endpoint and "
             "https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0"
             "&tabs=http to build a query request URL, such as "
             "'https://graph.microsoft.com/beta/applications/{client_id}'")

CATALOGUE = {
    90002: (400, "invalid_request",
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
            "are signing into the correct cloud. Check with your subscription administrator, "
            "this may happen if there are no active subscriptions for the tenant."),
    900023: (400, "invalid_request",
             "Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid "
             "external domain."),
    50059: (400, "invalid_request",
            "No tenant-identifying information found in either the request or implied by any "
            "provided credentials."),
    900144: (400, "invalid_request",
             "The request body must contain the following parameter: '{name}'."),
    901002: (400, "invalid_request", "The 'resource' request parameter is not supported."),
    70003: (400, "unsupported_grant_type",
            "The app requested an unsupported grant type '{grant_type}'."),
    700016: (400, "unauthorized_client",
             "Application with identifier '{client_id}' was not found in the directory "
             "'{tenant}'. This can happen if the application has not been installed by the "
             "administrator of the tenant or consented to by any user in the tenant. You may have "
             "sent your authentication request to the wrong tenant."),
    7000229: (401, "invalid_client",
              "The client application {client_id} is missing service principal in the tenant "
              "{tenant}. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119"),
    7000112: (400, "unauthorized_client", "Application '{client_id}'({name}) is disabled."),
    7000218: (401, "invalid_client",
              "The request body must contain the following parameter: 'client_assertion' or "
              "'client_secret'."),
    7000215: (401, "invalid_client",
              "Invalid client secret provided. Ensure the secret being sent in the request is the "
              "client secret value, not the client secret ID, for a secret added to app "
              "'{client_id}'."),
    7000222: (401, "invalid_client",
              "The provided client secret keys for app '{client_id}' are expired. Visit the Azure "
              "portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider "
              "using certificate credentials for added security: https://aka.ms/certCreds."),
    700027: (401, "invalid_client", "{text}"),
    50027: (401, "invalid_client", "JWT token is invalid or malformed. [Reason - {reason}]"),
    90014: (400, "invalid_request",
            "The required field '{field}' is missing from the credential. Ensure that you have all "
            "the necessary parameters for the login request."),
    700024: (401, "invalid_client",
             "Client assertion is not within its valid time range. Current time: {now}, assertion "
             "valid from {nbf}, expiry time of assertion {exp}. " + _DOCS),
    700023: (401, "invalid_client",
             "Client assertion audience claim does not match Realm issuer. Review the "
             "documentation at https://docs.microsoft.com/azure/active-directory/develop/"
             "active-directory-certificate-credentials ."),
    700021: (401, "invalid_client",
             "Client assertion application identifier doesn't match 'client_id' parameter. "
             + _DOCS),
    50048: (401, "invalid_client",
            "Subject must match the issuer claim in the client assertion."),
    1002012: (400, "invalid_scope",
              "The provided value for scope {scope} is not valid. Client credential flows must "
              "have a scope value with /.default suffixed to the resource identifier "
              "(application ID URI)."),
    70011: (400, "invalid_scope",
            "The provided value for the input parameter 'scope' is not valid. The scope {scope} is "
            "not valid."),
    700022: (400, "invalid_scope",
             "The provided value for the input parameter scope is not valid because it contains "
             "more than one resource. Scope {scope} is not valid."),
    500011: (400, "invalid_resource",
             "The resource principal named {resource} was not found in the tenant named {tenant}. "
             "This can happen if the application has not been installed by the administrator of "
             "the tenant or consented to by any user in the tenant. You might have sent your "
             "authentication request to the wrong tenant."),
}

# Headers the real token endpoint sends with every answer (ENTRA-FACTS 2.2); no Set-Cookie.
ENTRA_HEADERS = {
    "Cache-Control": "no-store, no-cache",
    "Pragma": "no-cache",
    "Expires": "-1",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "P3P": 'CP="DSP CUR OTPi IND OTRi ONL FIN"',
    "x-ms-ests-server": "2.1.entracert-emulator",
    "X-XSS-Protection": "0",
}


def key_not_found_text(client_id, thumbprint=None):
    """700027's current wording; the thumbprint part is left out when the header had none."""
    used = f"Thumbprint of key used by client: '{thumbprint}', " if thumbprint else ""
    return ("The certificate with identifier used to sign the client assertion is not registered "
            f"on application. [Reason - The key was not found., {used}"
            + _SEE_KEYS.format(client_id=client_id) + "].")


def key_unusable_text(client_id, thumbprint, reason, start, end):
    """700027 for a registered key that failed: bad signature, or outside its validity dates."""
    found = f"Found key 'Start={start:%m/%d/%Y %H:%M:%S}, End={end:%m/%d/%Y %H:%M:%S}'"
    return (f"Client assertion contains an invalid signature. [Reason - {reason}, Thumbprint of "
            f"key used by client: '{thumbprint}', {found}, " + _SEE_KEYS.format(client_id=client_id)
            + "].")


def entra_time(moment):
    """The 7-digit fractional form of 700024's message: ``2025-08-29T05:47:32.1501147Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def correlation_id_of(request):
    value = (request.headers.get("client-request-id") or "").strip()
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return str(uuid.uuid4())


def error_response(request, code, *, error=None, **fields):
    """The JSON error Entra sends for ``code``, with its status and headers; logged by code.
    ``error`` overrides the catalogue's OAuth error value (90002 is ``invalid_tenant`` at
    discovery but ``invalid_request`` at the token endpoint)."""
    status, default_error, template = CATALOGUE[code]
    error = error or default_error
    trace_id = str(uuid.uuid4())
    correlation_id = correlation_id_of(request)
    timestamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    message = template.format(**fields)
    body = {
        "error": error,
        "error_description": (f"AADSTS{code}: {message} Trace ID: {trace_id} "
                              f"Correlation ID: {correlation_id} Timestamp: {timestamp}"),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    headers = {"Content-Type": "application/json; charset=utf-8", **ENTRA_HEADERS,
               "x-ms-request-id": trace_id}
    return Response(status=status, body=json.dumps(body).encode("utf-8"), headers=headers,
                    log={"client_id": fields.get("client_id"), "error_code": f"AADSTS{code}"})
