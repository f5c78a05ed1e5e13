"""Help texts of ``az entracert``: every group and command, each command with examples."""
from knack.help_files import helps

helps["entracert"] = """
type: group
short-summary: Authenticate Microsoft Entra ID service principals with X.509 certificates.
long-summary: Create, inspect, validate and convert the certificates that serve as Entra ID
    application credentials; keep profiles of service principals that sign in with them, get
    their access tokens (cached), and read the audit trail of token requests.
"""

helps["entracert cert"] = """
type: group
short-summary: Create, inspect, validate and convert certificates for Entra ID credentials.
long-summary: |
    Passwords are never given on the command line. Name an environment variable
    (--password-env VAR) or a file (--password-file PATH) that holds one; otherwise you are
    prompted, with hidden input, when a terminal is attached.
"""

helps["entracert cert create"] = """
type: command
short-summary: Create a self-signed RSA certificate for an Entra ID application credential.
long-summary: |
    Writes PATH.pfx (certificate and private key, mode 0600), and beside it PATH.cer (public
    DER: the file to upload to the app registration) and PATH.pem (public PEM). The certificate
    carries digitalSignature key usage, the clientAuth extended key usage and a subject key
    identifier. Without a terminal, one of --password-env, --password-file or --no-password is
    required.
examples:
  - name: Create a two-year certificate protected by a password from an environment variable.
    text: az entracert cert create --subject "CN=my-app" --days 730 --out my-app.pfx --password-env PFX_PASSWORD
  - name: Create a 4096-bit certificate with SHA-384 and DNS names, without a password.
    text: az entracert cert create --subject "CN=my-app,O=Contoso" --san DNS:app.contoso.com DNS:api.contoso.com --key-size 4096 --hash sha384 --out my-app.pfx --no-password
"""

helps["entracert cert csr"] = """
type: command
short-summary: Create a private key and a certificate signing request (PKCS#10) for a CA.
long-summary: The key is written with mode 0600; it is encrypted when a password source is
    given. Send the request to your CA, then join its answer and the key with 'cert assemble'.
examples:
  - name: Create an encrypted key and a request.
    text: az entracert cert csr --subject "CN=my-app,O=Contoso" --key-out my-app.key --out my-app.csr --password-env KEY_PASSWORD
  - name: Create a 3072-bit key (unencrypted, mode 0600) and a request with a DNS name.
    text: az entracert cert csr --subject "CN=my-app" --san DNS:app.contoso.com --key-size 3072 --key-out my-app.key --out my-app.csr
"""

helps["entracert cert assemble"] = """
type: command
short-summary: Join a CA-signed certificate, its private key and the CA chain into one PFX.
long-summary: Refuses a key that does not belong to the certificate.
examples:
  - name: Assemble the CA's answer to a request made with 'cert csr'.
    text: az entracert cert assemble --cert my-app.crt --key my-app.key --key-password-env KEY_PASSWORD --chain issuing-ca.pem root-ca.pem --out my-app.pfx --password-env PFX_PASSWORD
"""

helps["entracert cert show"] = """
type: command
short-summary: Show a certificate's subject, thumbprints, validity and key.
long-summary: |
    thumbprint is the SHA-1 in upper-case hex, as the Azure portal shows it; x5t and x5tS256 are
    the base64url forms a JWT header carries. Reads PFX (with or without password, legacy
    encryption included), PEM and DER files, or a base64 PFX held in an environment variable.
    Warns when the certificate has expired.
examples:
  - name: Show a password-protected PFX.
    text: az entracert cert show --file my-app.pfx --password-env PFX_PASSWORD
  - name: Print only the thumbprint.
    text: az entracert cert show --file my-app.cer --query thumbprint -o tsv
  - name: Show a base64-encoded PFX kept in a CI secret.
    text: az entracert cert show --pfx-base64-env CERT_PFX_BASE64 --password-env CERT_PASSWORD
"""

helps["entracert cert validate"] = """
type: command
short-summary: Check a certificate against what Entra ID accepts for a credential.
long-summary: |
    Checks: RSA key of at least 2048 bits, SHA-2 signature, inside its validity period (a
    warning when fewer than --warn-days days remain), private key matching the certificate and
    its file not readable by group or others. Prints {valid, checks} and exits with 1 when the
    certificate is not valid (0 when it is), so scripts can rely on the exit code. A file that
    cannot be read, or a --key-file that does not belong to the certificate, is an error (exit
    1, no JSON).
examples:
  - name: Validate a PFX, warning when fewer than 60 days remain.
    text: az entracert cert validate --file my-app.pfx --password-env PFX_PASSWORD --warn-days 60
  - name: Validate a PEM certificate with its separate key, as a table.
    text: az entracert cert validate --file my-app.crt --key-file my-app.key -o table
"""

helps["entracert cert convert"] = """
type: command
short-summary: Write a certificate in another format (pfx, pem or der).
long-summary: |
    pfx holds certificate, key and chain (mode 0600); pem holds the certificate and chain, plus
    the key when there is one (mode 0600 then); der holds the certificate alone (public).
    --password-env/--password-file open the input; --out-password-env, --out-password-file or
    --out-no-password protect the output's key.
examples:
  - name: Turn a PFX into a PEM holding the certificate and an unencrypted key.
    text: az entracert cert convert --file my-app.pfx --password-env PFX_PASSWORD --to pem --out my-app.pem --out-no-password
  - name: Extract the public DER certificate to upload to Entra ID.
    text: az entracert cert convert --file my-app.pfx --password-env PFX_PASSWORD --to der --out my-app.cer
  - name: Join a PEM certificate and key into a password-protected PFX.
    text: az entracert cert convert --file my-app.crt --key-file my-app.key --to pfx --out my-app.pfx --out-password-env PFX_PASSWORD
"""

helps["entracert profile"] = """
type: group
short-summary: Manage profiles (which service principal, certificate and cloud to sign in with).
long-summary: |
    Profiles live in $AZURE_CONFIG_DIR/entracert/profiles.json (default ~/.azure/entracert).
    A profile holds no secret: the certificate's path and thumbprint, the tenant and client IDs,
    scopes, endpoints, and the *name* of the variable or file holding the certificate password.
    Without any profile, azure-identity's variables configure one identity, the profile named
    'environment': AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_CERTIFICATE_PATH,
    AZURE_CLIENT_CERTIFICATE_PASSWORD, AZURE_CLIENT_SEND_CERTIFICATE_CHAIN, AZURE_AUTHORITY_HOST
    (and ENTRACERT_CA_BUNDLE for a private CA).
"""

helps["entracert profile create"] = """
type: command
short-summary: Create a profile for a service principal that signs in with a certificate.
long-summary: |
    Checks the tenant (GUID or domain) and client ID (GUID), loads the certificate once (so a
    wrong password or a missing key fails now) and records its thumbprints and expiry. Without
    --cloud or --authority-host the active az cloud ('az cloud show') decides the authority and
    Graph endpoint. The password is read from --password-env or --password-file; with neither,
    you are asked on a terminal when the file needs one (and again whenever a new token needs
    the certificate). The first profile becomes the default.
examples:
  - name: Create the default profile for an application with a password-protected PFX.
    text: az entracert profile create --name ci --tenant contoso.onmicrosoft.com --client-id 00000000-0000-0000-0000-000000000001 --certificate ci.pfx --password-env CI_PFX_PASSWORD --default
  - name: Create a profile for the local emulator, trusting its CA for this profile only.
    text: az entracert profile create --name emu --tenant TENANT_ID --client-id APP_ID --certificate app.pem --authority-host https://127.0.0.1:8443 --ca-bundle .emulator/ca.pem
  - name: Create a US Government profile whose tokens are for Azure Resource Manager.
    text: az entracert profile create --name gov --tenant TENANT_ID --client-id APP_ID --certificate gov.pfx --password-file ~/.secrets/gov-pw --cloud AzureUSGovernment --scope https://management.usgovcloudapi.net/.default
"""

helps["entracert profile list"] = """
type: command
short-summary: List the profiles.
examples:
  - name: List the profiles as a table (name, tenant, client ID, thumbprint, default, expiry).
    text: az entracert profile list --output table
"""

helps["entracert profile show"] = """
type: command
short-summary: Show a profile.
examples:
  - name: Show the thumbprint a profile expects.
    text: az entracert profile show --name ci --query thumbprint -o tsv
"""

helps["entracert profile update"] = """
type: command
short-summary: Change a profile.
long-summary: Only the options given change. A new --certificate or password option loads the
    certificate again and records its new thumbprint; the other changes keep the recorded one.
examples:
  - name: Switch a profile to a renewed certificate.
    text: az entracert profile update --name ci --certificate ci-2027.pfx --password-env CI_PFX_PASSWORD
  - name: Send the certificate chain and make the profile the default.
    text: az entracert profile update --name ci --send-chain true --default
"""

helps["entracert profile delete"] = """
type: command
short-summary: Delete a profile (its cached tokens stay until 'token clear').
examples:
  - name: Delete a profile without being asked to confirm.
    text: az entracert profile delete --name old --yes
"""

helps["entracert profile set-default"] = """
type: command
short-summary: Make a profile the default, used when no --profile is given.
examples:
  - name: Use the profile 'ci' by default.
    text: az entracert profile set-default --name ci
"""

helps["entracert profile export"] = """
type: command
short-summary: Write a profile to a JSON file holding no secret, to import on another machine.
examples:
  - name: Export a profile.
    text: az entracert profile export --name ci --out ci-profile.json
"""

helps["entracert profile import"] = """
type: command
short-summary: Add a profile from a file written by 'profile export'.
long-summary: Tenant and client ID are checked again; you are warned when the certificate is not
    at the recorded path on this machine.
examples:
  - name: Import a profile under another name.
    text: az entracert profile import --file ci-profile.json --name ci-copy
"""

helps["entracert token"] = """
type: group
short-summary: Get, inspect and clear access tokens of a profile's service principal.
long-summary: |
    Tokens are cached in $AZURE_CONFIG_DIR/entracert (mode 0600, locked across processes): a
    valid cached token is returned without any network request, without reading the
    certificate. Every token command warns when the certificate expires within 30 days, and
    refuses an expired one before calling Entra ID.
"""

helps["entracert token get"] = """
type: command
short-summary: Get an access token for a profile, from the cache when possible.
long-summary: |
    Prints {accessToken, tokenType, expiresOn (local time), expires_on (epoch seconds), scopes,
    profile, tenant, clientId, thumbprint, source ("cache" or "network")}. Each request to Entra
    ID, and each failure, is recorded in the audit trail ('az entracert audit list').
examples:
  - name: Print only the token of the default profile, for a script.
    text: az entracert token get --query accessToken -o tsv
  - name: Get an Azure Resource Manager token for the profile 'ci'.
    text: az entracert token get --profile ci --resource https://management.azure.com
  - name: Ask Entra ID for a new token even when one is cached.
    text: az entracert token get --profile ci --scope https://graph.microsoft.com/.default --force-refresh
"""

helps["entracert token refresh"] = """
type: command
short-summary: Get a new access token from Entra ID, ignoring the cache ('get --force-refresh').
examples:
  - name: Renew the token of the profile 'ci'.
    text: az entracert token refresh --profile ci
"""

helps["entracert token inspect"] = """
type: command
short-summary: Decode an access token (header, claims, times) and optionally verify its signature.
long-summary: |
    A token is a secret: given with --token it stays in your shell history, so prefer --file,
    --stdin (e.g. piped from 'token get') or --profile (the profile's own token, from the cache
    when possible). Times are shown in local time and UTC. --verify fetches the issuer's signing
    keys (JWKS): with --profile, from that profile's authority over its CA bundle; otherwise from
    the default profile's authority when the token comes from it, else from the host in the
    token's issuer (Entra ID's public one for v1 tokens) with the system's trust store. A bad
    signature is shown as signature.valid false and the command exits with 1.
examples:
  - name: Inspect and verify the default profile's token.
    text: az entracert token inspect --profile ci --verify
  - name: Inspect a token piped from another command.
    text: az entracert token get --profile ci | az entracert token inspect --stdin
  - name: Inspect a token kept in a file.
    text: az entracert token inspect --file token.txt --query claims
"""

helps["entracert token clear"] = """
type: command
short-summary: Remove cached access tokens.
examples:
  - name: Remove every cached token, printing how many there were.
    text: az entracert token clear --query removed
  - name: Remove the tokens of one profile.
    text: az entracert token clear --profile ci
"""

helps["entracert audit"] = """
type: group
short-summary: Read the audit trail of token requests.
long-summary: Each request to Entra ID and each failure appends one line to
    $AZURE_CONFIG_DIR/entracert/audit.jsonl (time, profile, tenant, client ID, certificate
    SHA-256 thumbprint and serial, scopes, outcome, AADSTS code, correlation ID); never a token,
    key or password. Cache hits are not recorded.
"""

helps["entracert audit list"] = """
type: command
short-summary: List audit entries, oldest first.
examples:
  - name: Show the last day's entries of the profile 'ci' as a table.
    text: az entracert audit list --profile ci --since 1d -o table
  - name: Show the five most recent failures' AADSTS codes.
    text: az entracert audit list --limit 5 --query "[?outcome=='failure'].code"
"""

helps["entracert app"] = """
type: group
short-summary: Manage the application registration behind a profile.
"""

helps["entracert app cert"] = """
type: group
short-summary: List, add and remove the certificates registered on an application.
long-summary: |
    These commands call Microsoft Graph as an identity allowed to manage the application: an
    entracert profile of an administrative service principal (--admin-profile NAME, with
    Application.ReadWrite.All or Application.ReadWrite.OwnedBy) or the account signed in to az
    (--use-az-login). Removing a certificate here is revocation in the Entra ID sense: it stops
    signing in at once. For the CA's view of a certificate, see 'az entracert cert
    check-revocation'.
"""

helps["entracert app cert list"] = """
type: command
short-summary: List the application's certificates, marking the profile's own (isLocal).
long-summary: Shows keyId, SHA-1 thumbprint, display name, start and end, days left and whether
    each has expired.
examples:
  - name: List the certificates of the profile 'ci' as the admin profile 'admin'.
    text: az entracert app cert list --profile ci --admin-profile admin -o table
  - name: List another application's certificates as the signed-in az account.
    text: az entracert app cert list --profile ci --app-id 00000000-0000-0000-0000-000000000000 --use-az-login
"""

helps["entracert app cert add"] = """
type: command
short-summary: Register a certificate on the application, keeping every existing credential.
long-summary: Uploads only the public certificate of a .cer, .pem or .pfx file, with its start
    and end clipped to the certificate's validity. Refuses a certificate that 'cert validate'
    rejects, and one that is already registered.
examples:
  - name: Register a new certificate next to the current one.
    text: az entracert app cert add --profile ci --file new-cert.cer --display-name "ci 2027" --admin-profile admin
"""

helps["entracert app cert remove"] = """
type: command
short-summary: Remove one certificate from the application (revocation in the Entra ID sense).
long-summary: Identify it by --thumbprint or --key-id. Refuses, without --force, to remove the
    profile's own certificate or the application's last valid one. Asks for confirmation unless
    --yes is given.
examples:
  - name: Remove an old certificate by thumbprint, without a confirmation prompt.
    text: az entracert app cert remove --profile ci --thumbprint 52ED9B5038A47B9E2E2190715CC238359D4F8F73 --admin-profile admin --yes
  - name: Remove a compromised certificate that the profile still uses.
    text: az entracert app cert remove --profile ci --key-id 11111111-2222-3333-4444-555555555555 --force --use-az-login --yes
"""

helps["entracert app cert expiring"] = """
type: command
short-summary: Report certificates that expire soon, across profiles; exit 1 when any does.
long-summary: Checks each profile's local certificate and, with --admin-profile or
    --use-az-login, the certificates registered on its application. The JSON result is printed
    first, so a CI job can both read it and fail on it.
examples:
  - name: Fail a nightly job when a certificate expires within 30 days.
    text: az entracert app cert expiring --days 30
  - name: Check two profiles and their registrations.
    text: az entracert app cert expiring --days 60 --profile ci deploy --admin-profile admin
"""

helps["entracert cert rotate"] = """
type: command
short-summary: Replace a profile's certificate with a new one, with no Graph permission needed.
long-summary: |
    Creates a new certificate (same subject, SANs and key size unless told), writes it next to
    the current one (or to --out), registers it with Graph's addKey using a proof signed by the
    current certificate, proves a token can be obtained with it, switches the profile to it, and
    removes the old one with removeKey (unless --keep-old). Every step is audited. If a step
    fails, the profile keeps a certificate that is registered and works, and the error lists what
    was done and the command that finishes the job. The application's object id and the current
    keyId are looked up once (with --admin-profile or --use-az-login when the application may not
    read itself) and remembered.
examples:
  - name: Preview a rotation.
    text: az entracert cert rotate --profile ci --dry-run
  - name: Rotate to a one-year certificate, keeping the PFX password source of the profile.
    text: az entracert cert rotate --profile ci --days 365
  - name: First rotation of a profile, looking the application up as an admin profile.
    text: az entracert cert rotate --profile ci --admin-profile admin --out ./ci-2027.pfx --password-env CI_PFX_PASSWORD
"""

helps["entracert cert check-revocation"] = """
type: command
short-summary: Ask a certificate's CA whether it has revoked it (OCSP, then CRL); exit 1 if so.
long-summary: |
    For CA-issued certificates: queries the OCSP responder named in the Authority Information
    Access extension, then the CRL of the CRL Distribution Points, and trusts an answer only when
    its signature verifies against the issuer. Status is good, revoked (with date and reason) or
    unknown. Entra ID does not check OCSP or CRLs for application credentials: to stop a
    certificate signing in, remove it with 'az entracert app cert remove'.
examples:
  - name: Check a certificate whose PFX carries its chain.
    text: az entracert cert check-revocation --file app.pfx --password-env PFX_PASSWORD
  - name: Check a certificate against a given issuer, trusting a private CA for HTTPS.
    text: az entracert cert check-revocation --file app.cer --issuer issuing-ca.pem --ca-bundle corp-roots.pem
"""
