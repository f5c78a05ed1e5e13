"""Entra ID's AADSTS error codes, explained in plain words with the fix.

Entra answers a refused token request with a JSON error (ENTRA-FACTS 2.2): an OAuth ``error``, an
``error_description`` that starts with ``AADSTS<code>:``, ``error_codes`` and the ``trace_id`` and
``correlation_id`` Microsoft support asks for. ``from_response`` turns that dict (as MSAL returns
it) into an ``AuthenticationError`` whose message says what happened, quotes Entra's first
sentence, and whose hint says how to fix it, with the commands to run. The wording of each code
follows the catalogue in ENTRA-FACTS 2.3.
"""
import re

from .errors import AuthenticationError

_CODE = re.compile(r"AADSTS(\d+)")
# Entra ends every description with " Trace ID: ... Correlation ID: ... Timestamp: ...", separated
# by single spaces since late 2023 and by "\r\n" before.
_TRAILER = re.compile(r"\s*Trace ID:.*$", re.DOTALL)
_FIRST_SENTENCE = re.compile(r"^(.*?[.!?])(?=\s|$)", re.DOTALL)

_REGISTER = ("Register it on the application as an identity that may manage it: `az entracert "
             "app cert add --profile {profile} --file {public_cert} --admin-profile ADMIN` (or "
             "--use-az-login), or `az ad app credential reset --id {client_id} "
             "--cert @{public_cert} --append`.")
_NEW_SECRET = ("`az entracert app secret add --profile {profile} --admin-profile ADMIN` (or "
               "--use-az-login)")
_SCOPE_EXAMPLE = "for example --scope https://graph.microsoft.com/.default"

# code: (what happened, how to fix it). Placeholders are filled by ``explain``: ``{app}``,
# ``{Tenant}``, ``{Scope}`` and friends read well in prose whether or not the value is known;
# ``{client_id}``, ``{tenant}``, ``{profile}``, ``{certificate}`` go into commands (an upper-case
# placeholder when unknown).
_CATALOGUE = {
    700027: (
        "Entra ID does not accept the certificate that signed the client assertion: {the_cert} is "
        "not registered on {app}, or a registered key failed to verify the signature.",
        "Check that the profile uses the certificate you registered. " + _REGISTER +
        " A newly added certificate can take a few minutes to reach every Entra server."),
    700024: (
        "The client assertion was outside its valid time range when Entra ID checked it: this "
        "machine's clock is probably wrong (an assertion is valid for only a few minutes).",
        "Check the system clock, time zone and NTP synchronisation (`timedatectl status` on "
        "Linux, `w32tm /resync` on Windows, `sntp -sS time.apple.com` on macOS), then try again."),
    700023: (
        "The client assertion's audience does not match the token endpoint that received it: the "
        "authority host or tenant the assertion was made for is not the one the request reached.",
        "Check the profile's tenant ({tenant}) and cloud or authority host (`az entracert profile "
        "show --name {profile}`); fix them with `az entracert profile update`."),
    50048: (
        "The client assertion's subject (sub) differs from its issuer (iss); both must be the "
        "client id{of_client}.",
        "This is a client defect, not a setting: report it with the correlation ID."),
    700016: (
        "{App} was not found in {tenant_name}: the client id or the tenant "
        "is wrong, or the application is not registered in that tenant.",
        "Check the client id (the application's appId, not its object id) and the tenant "
        "(`az ad sp show --id {client_id}` in that tenant); if the app lives in another tenant, "
        "use that tenant's id in the profile."),
    90002: (
        "{Tenant} was not found in this cloud.",
        "Check the tenant id or domain, and that the profile points at the right cloud (--cloud "
        "AzureCloud | AzureUSGovernment | AzureChinaCloud, or --authority-host); `az account show "
        "--query tenantId` prints the tenant you use with az."),
    900023: (
        "{Tenant_identifier} is neither a tenant id (GUID) nor a valid domain name.",
        "Use the directory (tenant) id GUID or a verified domain such as contoso.onmicrosoft.com "
        "(`az account show --query tenantId`)."),
    7000215: (
        "Entra ID refused the client secret{from_secret} of {app}: it is not valid.",
        "Check that {secret_holder} the secret's value, not its secret ID; a new secret comes "
        "from " + _NEW_SECRET + ". If you meant a certificate, check that nothing sends a secret "
        "instead (for example AZURE_CLIENT_SECRET in the environment)."),
    7000222: (
        "The client secret{from_secret} of {app} has expired.",
        "Create a new secret with " + _NEW_SECRET + "{into_secret}; or better, switch to a "
        "certificate, which lives up to 3 years and can be rotated automatically: `az entracert "
        "cert create --subject CN={profile} --out {profile}.pfx`, register it with `az entracert "
        "app cert add --profile {profile} --file {profile}.cer --admin-profile ADMIN` (or "
        "--use-az-login), then sign in with it: `az entracert profile update --name {profile} "
        "--certificate {profile}.pfx`."),
    7000218: (
        "The token request carried no credential: neither a client assertion nor a client secret.",
        "Check that the profile names a certificate (`az entracert profile show --name "
        "{profile}`); a proxy that rewrites request bodies can also cause this."),
    1002012: (
        "{Scope} is not valid for an application token: the client credentials "
        "flow needs the resource's '/.default' scope.",
        "Ask for the resource's /.default scope, " + _SCOPE_EXAMPLE +
        " (or --resource https://graph.microsoft.com)."),
    70011: (
        "{Scope} is not valid.",
        "Ask for exactly one resource's /.default scope, " + _SCOPE_EXAMPLE + "; do not mix "
        "/.default with other scopes or ask for several resources at once."),
    500011: (
        "{Resource} was not found in {tenant_name}: no service principal for "
        "it exists there.",
        "Check the scope or resource spelling (an application ID URI such as api://APP-ID/.default "
        "or https://graph.microsoft.com/.default), and that the API is registered or consented in "
        "this tenant."),
    900144: (
        "The token request lacked a parameter Entra ID requires.",
        "This is a client defect or a proxy that rewrote the request: retry, and report it with "
        "the correlation ID if it persists."),
    50027: (
        "Entra ID could not read the client assertion: it is not a valid JWT, uses an algorithm "
        "Entra does not accept, or has a malformed claim.",
        "Check that the certificate has an RSA key; try the profile with --legacy-sha1 (RS256), "
        "and report it with the correlation ID if it persists."),
    700025: (
        "{App} is registered as a public client, which may not present a certificate or secret.",
        "Turn public client flows off for the application: `az ad app update --id {client_id} "
        "--is-fallback-public-client false`."),
}

_GENERIC = (
    "Entra ID refused the token request{with_code}.",
    "Look the code up at https://login.microsoftonline.com/error?code={code} and check the "
    "profile's tenant, client id, certificate and scope.")


def explain(code, *, client_id=None, tenant=None, thumbprint=None, resource=None,
            profile=None, certificate=None, secret=None):
    """Return ``(what happened, how to fix it)`` for AADSTS ``code``, in plain words.

    The context makes the text concrete: ``client_id``, ``tenant``, the local certificate's
    ``thumbprint``, the ``resource`` or scope asked for, the ``profile`` name and the
    ``certificate`` path, and where a client ``secret`` comes from ("environment variable S",
    "file 'F'") go into the sentences and commands. Unknown codes (and ``None``) get a
    generic explanation pointing at Entra's error page.
    """
    what, fix = _CATALOGUE.get(code, _GENERIC)
    app = f"application '{client_id}'" if client_id else "the application"
    values = {
        "code": code if code is not None else "",
        "with_code": f" with AADSTS{code}" if code is not None else "",
        "app": app,
        "App": app[0].upper() + app[1:],
        "client_id": client_id or "CLIENT_ID",
        "of_client": f" '{client_id}'" if client_id else "",
        "tenant": tenant or "TENANT",
        "Tenant": f"Tenant '{tenant}'" if tenant else "The tenant",
        "Tenant_identifier": (f"Tenant identifier '{tenant}'" if tenant
                              else "The tenant identifier"),
        "tenant_name": f"tenant '{tenant}'" if tenant else "the tenant",
        "Scope": f"Scope '{resource}'" if resource else "The scope",
        "Resource": f"Resource '{resource}'" if resource else "The resource",
        "the_cert": (f"the certificate with thumbprint {thumbprint}" if thumbprint
                     else "the certificate"),
        "profile": profile or "NAME",
        "certificate": certificate or "CERT",
        "public_cert": _public_cert(certificate),
        "from_secret": f" in {secret}" if secret else "",
        "secret_holder": f"{secret} holds" if secret else "you send",
        "into_secret": f" and put it in {secret}" if secret else "",
    }
    return what.format(**values), fix.format(**values)


def _public_cert(certificate):
    """The public file to upload: both commands read a PEM or DER certificate, never a PFX."""
    text = str(certificate) if certificate else ""
    if text.lower().endswith((".pem", ".crt", ".cer")):
        return text
    if text.lower().endswith((".pfx", ".p12")):  # 'cert create' writes the public .cer beside it
        return text[:-4] + ".cer"
    return "cert.pem"


def parse_code(description):
    """The first ``AADSTS<digits>`` code in ``description`` as an int, or None."""
    match = _CODE.search(description or "")
    return int(match.group(1)) if match else None


def first_sentence(description):
    """Entra's first sentence (``AADSTS<code>: ...``), without the trace trailer."""
    text = _TRAILER.sub("", (description or "").strip())
    match = _FIRST_SENTENCE.match(text)
    return (match.group(1) if match else text).strip()


def from_response(result, **context):
    """Build an ``AuthenticationError`` from an MSAL/Entra error dict.

    ``result`` holds ``error``, ``error_description``, ``error_codes``, ``correlation_id`` and
    ``trace_id`` (any may be missing); ``context`` is passed to ``explain``. The message is the
    explanation plus Entra's own first sentence; the hint is the fix, then the correlation
    and trace IDs support asks for.
    """
    description = result.get("error_description") or ""
    codes = result.get("error_codes") or []
    code = codes[0] if codes and isinstance(codes[0], int) else parse_code(description)
    what, fix = explain(code, **context)
    parts = [what]
    quoted = first_sentence(description)
    if quoted:
        if code is not None and not quoted.startswith(f"AADSTS{code}"):
            quoted = f"AADSTS{code}: {quoted}"
        parts.append(f"Entra ID said: {quoted}")
    elif result.get("error"):
        parts.append(f"Entra ID said: {result['error']}.")
    correlation_id = result.get("correlation_id")
    trace_id = result.get("trace_id")
    if correlation_id:  # last, so it is the line a user copies into a support request
        trace = f", Trace ID: {trace_id}." if trace_id else "."
        fix += f" Correlation ID: {correlation_id}{trace}"
    return AuthenticationError(
        " ".join(parts), code=code, error=result.get("error"), correlation_id=correlation_id,
        trace_id=trace_id, description=description or None, hint=fix)
