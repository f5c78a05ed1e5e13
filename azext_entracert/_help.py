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
    required. With --pkcs11-module, --pkcs11-token and --pkcs11-key the key pair is generated on
    a PKCS#11 token instead and never leaves it: the token signs the certificate and keeps it
    beside the key, and --out names the public PATH.cer (PATH.pem beside it); the token's PIN
    comes from --pin-env, --pin-file or a prompt. --pkcs11-uri names the token and key by a
    PKCS#11 URI (RFC 7512) instead. With --store instead of --out the PFX goes
    into the certificate store only ('az entracert store list' shows it; a profile names it with
    --thumbprint).
examples:
  - name: Create a two-year certificate protected by a password from an environment variable.
    text: az entracert cert create --subject "CN=my-app" --days 730 --out my-app.pfx
      --password-env PFX_PASSWORD
  - name: Create a 4096-bit certificate with SHA-384 and DNS names, without a password.
    text: az entracert cert create --subject "CN=my-app,O=Contoso"
      --san DNS:app.contoso.com DNS:api.contoso.com --key-size 4096 --hash sha384 --out my-app.pfx
      --no-password
  - name: Create the key on an HSM (here SoftHSM2); only the public my-app.cer and .pem are written.
    text: az entracert cert create --subject "CN=my-app" --pkcs11-module
      /usr/lib/softhsm/libsofthsm2.so --pkcs11-token entracert --pkcs11-key my-app
      --pin-env HSM_PIN --out my-app.cer
  - name: The same, the token and key named by a PKCS#11 URI (module through p11-kit).
    text: az entracert cert create --subject "CN=my-app" --out my-app.cer --pin-env HSM_PIN
      --pkcs11-uri "pkcs11:token=entracert;object=my-app?module-name=softhsm2"
  - name: Create the certificate straight into the certificate store; no file is written.
    text: az entracert cert create --subject "CN=my-app" --store --password-env PFX_PASSWORD
"""

helps["entracert cert csr"] = """
type: command
short-summary: Create a private key and a certificate signing request (PKCS#10) for a CA.
long-summary: The key is written with mode 0600; it is encrypted when a password source is
    given. Send the request to your CA, then join its answer and the key with 'cert assemble'.
examples:
  - name: Create an encrypted key and a request.
    text: az entracert cert csr --subject "CN=my-app,O=Contoso" --key-out my-app.key
      --out my-app.csr --password-env KEY_PASSWORD
  - name: Create a 3072-bit key (unencrypted, mode 0600) and a request with a DNS name.
    text: az entracert cert csr --subject "CN=my-app" --san DNS:app.contoso.com --key-size 3072
      --key-out my-app.key --out my-app.csr
"""

helps["entracert cert assemble"] = """
type: command
short-summary: Join a CA-signed certificate, its private key and the CA chain into one PFX.
long-summary: Refuses a key that does not belong to the certificate.
examples:
  - name: Assemble the CA's answer to a request made with 'cert csr'.
    text: az entracert cert assemble --cert my-app.crt --key my-app.key
      --key-password-env KEY_PASSWORD --chain issuing-ca.pem root-ca.pem --out my-app-ca.pfx
      --password-env PFX_PASSWORD
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
    --out-no-password protect the output's key, and are refused when the output has none (der,
    or an input without a key). --key-file is for a certificate given without its key.
examples:
  - name: Turn a PFX into a PEM holding the certificate and an unencrypted key.
    text: az entracert cert convert --file my-app.pfx --password-env PFX_PASSWORD --to pem
      --out my-app.pem --out-no-password
  - name: Extract the public DER certificate to upload to Entra ID.
    text: az entracert cert convert --file my-app.pfx --password-env PFX_PASSWORD --to der
      --out my-app.cer
  - name: Join a PEM certificate and key into a password-protected PFX.
    text: az entracert cert convert --file my-app.crt --key-file my-app.key --to pfx
      --out my-app.pfx --out-password-env PFX_PASSWORD
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
    the certificate). --cloud with an --authority-host or --graph-endpoint of another cloud is
    refused. The first profile becomes the default; later ones only with --default.
    A certificate issued by a CA usually comes without its key: give the key with --key-file
    (its password from --key-password-env or --key-password-file), and both stay as they are.
    A certificate imported with 'az entracert store import' is named by --thumbprint instead; it
    takes no password option, as the store keeps the source it was imported with.
    A key on a PKCS#11 token (an HSM) is named by --pkcs11-module, --pkcs11-token and
    --pkcs11-key, its certificate stored on the token under the same label; the PIN comes from
    --pin-env, --pin-file or a prompt, and assertions are signed inside the token. Or name it
    by one PKCS#11 URI (RFC 7512) with --pkcs11-uri: token (or serial), object, optionally id,
    manufacturer, model, slot and library attributes, all checked whenever the token is opened;
    the module by module-path or module-name (a p11-kit module) and the PIN file by pin-source.
    A PIN inside the URI (pin-value) is refused. The profile records the URI alone.
    For development and testing, --client-secret-env or --client-secret-file name a client
    secret instead of a certificate (never its value on the command line); the profile records
    no thumbprint, and a command using it warns once a day that a certificate is safer.
examples:
  - name: Create the default profile for an application with a password-protected PFX.
    text: az entracert profile create --name ci --tenant contoso.onmicrosoft.com
      --client-id 00000000-0000-0000-0000-000000000001 --certificate ci.pfx
      --password-env CI_PFX_PASSWORD --default
  - name: Create a profile for the local emulator, trusting its CA for this profile only.
    text: az entracert profile create --name emu --tenant TENANT_ID --client-id APP_ID
      --certificate app.pem --authority-host https://127.0.0.1:8443 --ca-bundle .emulator/ca.pem
  - name: Create a US Government profile whose tokens are for Azure Resource Manager.
    text: az entracert profile create --name gov --tenant TENANT_ID --client-id APP_ID
      --certificate gov.pfx --password-file ~/.secrets/gov-pw --cloud AzureUSGovernment
      --scope https://management.usgovcloudapi.net/.default
  - name: Create a profile from a CA-issued certificate and its separate, encrypted key.
    text: az entracert profile create --name ca-issued --tenant TENANT_ID --client-id APP_ID
      --certificate my-app.crt --key-file my-app.key --key-password-env MY_APP_KEY_PASSWORD
  - name: Create a profile for a certificate kept in the store, by its pasted thumbprint.
    text: az entracert profile create --name stored --tenant TENANT_ID --client-id APP_ID
      --thumbprint "3B:7E:0F:11:92:5C:AA:01:44:D2:8E:6B:19:F0:C3:5A:77:21:9D:E4"
  - name: Create a profile whose key is on an HSM token (made by 'cert create --pkcs11-module').
    text: az entracert profile create --name hsm --tenant TENANT_ID --client-id APP_ID
      --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --pkcs11-token entracert
      --pkcs11-key my-app --pin-env HSM_PIN
  - name: Create a profile whose key on a token is named by a PKCS#11 URI.
    text: az entracert profile create --name hsm --tenant TENANT_ID --client-id APP_ID --pkcs11-uri
      "pkcs11:token=entracert;object=my-app?module-name=softhsm2&pin-source=file:/path/pin"
  - name: Create a development profile over a client secret kept in an environment variable.
    text: az entracert profile create --name dev --tenant TENANT_ID --client-id APP_ID
      --client-secret-env DEV_CLIENT_SECRET
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
long-summary: Only the options given change. A new source of any kind switches the profile to
    it and keeps nothing of the old one, its password source included (give the new one's). The
    sources are --certificate or --pfx-base64-env (a file), --thumbprint (a stored certificate),
    --pkcs11-module or --pkcs11-uri (a key on a token), --client-secret-env or
    --client-secret-file (a client secret, for development and testing). Other options change
    just that part of the profile's own source - a password source, --key-file (which drops the
    key's old password source), or on a PKCS#11 profile --pkcs11-token, --pkcs11-key, --pin-env
    or --pin-file - and one that does not belong to its kind is refused. A changed source is
    loaded again (a new thumbprint recorded) or a secret read again; the other changes keep the
    recorded certificate.
examples:
  - name: Switch a profile to a renewed certificate.
    text: az entracert profile update --name ci --certificate ci-2027.pfx
      --password-env CI_PFX_PASSWORD
  - name: Send the certificate chain and make the profile the default.
    text: az entracert profile update --name ci --send-chain true --default
  - name: Switch to a renewed CA-issued certificate and its new key.
    text: az entracert profile update --name ca-issued --certificate my-app-2027.crt
      --key-file my-app-2027.key --key-password-file ~/.secrets/my-app-key-pw
  - name: Switch a profile to a certificate imported into the store.
    text: az entracert profile update --name ci --thumbprint 3AF2910B7C44E518
  - name: Read a PKCS#11 profile's PIN from a file instead.
    text: az entracert profile update --name hsm --pin-file ~/.secrets/hsm-pin
  - name: Point a profile at a key on a token by its PKCS#11 URI (RFC 7512).
    text: az entracert profile update --name hsm --pkcs11-uri
      "pkcs11:token=entracert;object=my-app?module-name=softhsm2&pin-source=file:/path/pin"
  - name: Switch a development profile to a client secret held in an environment variable.
    text: az entracert profile update --name dev --client-secret-env DEV_CLIENT_SECRET
  - name: Move a client-secret profile to a certificate (registered with 'app cert add').
    text: az entracert profile update --name dev --certificate dev.pfx
      --password-env DEV_PFX_PASSWORD
"""

helps["entracert profile delete"] = """
type: command
short-summary: Delete a profile (its cached tokens stay until 'token clear').
long-summary: Asks for confirmation unless --yes is given (Ctrl-D cancels). Deleting the default
    profile leaves no default, with a warning; choose the next one with 'az entracert profile
    set-default'.
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
    refuses an expired one before calling Entra ID. When Entra ID asks to wait (Retry-After) up
    to 60 s, the wait is shown on stderr in one line; a longer one fails at once, saying how
    long. A failing server's answers are never cached: the next command after it recovers works.
"""

helps["entracert token get"] = """
type: command
short-summary: Get an access token for a profile, from the cache when possible.
long-summary: |
    Prints {accessToken, tokenType, expiresOn (local time), expires_on (epoch seconds), scopes,
    profile, tenant, clientId, thumbprint, source ("cache" or "network")}. A cached token is used
    only for the identity that obtained it (profile, tenant, client id, authority, CA bundle and
    certificate); 'thumbprint' is the certificate that obtained it. Each request to Entra ID, and
    each failure, is recorded in the audit trail ('az entracert audit list').
examples:
  - name: Print only the token of the default profile, for a script.
    text: az entracert token get --query accessToken -o tsv
  - name: Get an Azure Resource Manager token for the profile 'ci'.
    text: az entracert token get --profile ci --resource https://management.azure.com
  - name: Ask Entra ID for a new token even when one is cached.
    text: az entracert token get --profile ci --scope https://graph.microsoft.com/.default
      --force-refresh
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
short-summary: Decode an access token (header, claims, times) and optionally verify it.
long-summary: |
    A token is a secret: given with --token it stays in your shell history (and --debug prints
    az's raw arguments before any extension can mask them), so prefer --file, --stdin (e.g.
    piped from 'token get') or --profile (the profile's own token, from the cache when
    possible). Times are shown in local time and UTC.
    --verify adds 'verification': whether the token can be trusted (valid), why not (reasons),
    who vouches for its keys (trustedBy, jwksUri), the signature, the issuer and audience
    verdicts ({value, expected, valid}) and expired/notYetValid. The signing keys come only from
    an authority you chose: --jwks-uri, --issuer (its OpenID configuration), --profile (its
    authority over its CA bundle), or else Entra ID's own hosts (public and sovereign clouds).
    A token naming any other issuer is not valid: whoever made it could serve its keys. The
    token's iss must be the issuer the authority's discovery document names for its tenant
    (for v1 tokens, that cloud's sts host), unless --issuer says otherwise. A token that is not
    valid, including an expired one with a good signature, is printed and the command exits 1.
examples:
  - name: Inspect and verify the token of the profile 'ci' (from the cache when possible).
    text: az entracert token inspect --profile ci --verify
  - name: Verify a token from elsewhere against the authority of the profile 'ci'.
    text: az entracert token inspect --file token.txt --profile ci --verify
  - name: Check that a token is for Microsoft Graph (exits 1 if not, or if it cannot be trusted).
    text: az entracert token inspect --file token.txt --audience https://graph.microsoft.com
  - name: Verify against the issuer you name (its keys come from its OpenID configuration).
    text: az entracert token inspect --file token.txt --issuer https://login.microsoftonline.com/TENANT-ID/v2.0
  - name: Verify the signature with the keys you name.
    text: az entracert token inspect --file token.txt --jwks-uri https://login.microsoftonline.com/TENANT-ID/discovery/v2.0/keys
  - name: Inspect a token piped from another command.
    text: az entracert token get --profile ci | az entracert token inspect --stdin
  - name: Print only whether the token in t.txt can be trusted, and why not.
    text: az entracert token inspect --file t.txt --verify --query "verification.[valid,reasons]"
"""

helps["entracert token clear"] = """
type: command
short-summary: Remove cached access tokens.
long-summary: |
    With --profile, removes the tokens of every identity that profile has had (its current and
    former certificates, authorities and CA bundles) and leaves other profiles' tokens alone.
    Without it, removes everything cached: all tokens, the discovery cache, the old shared cache
    of earlier versions and what interrupted writes left behind.
examples:
  - name: Remove every cached token, printing how many there were.
    text: az entracert token clear --query removed
  - name: Remove the tokens of one profile.
    text: az entracert token clear --profile ci
"""

helps["entracert audit"] = """
type: group
short-summary: Read the audit trail of token requests and application changes.
long-summary: Each request to Entra ID, each change made through Microsoft Graph and each failure
    appends one line to $AZURE_CONFIG_DIR/entracert/audit.jsonl (time, profile, tenant, client
    ID, certificate SHA-256 thumbprint and serial, scopes, outcome, AADSTS code, correlation ID);
    never a token, key or password. A Graph change also records the application changed (appId)
    and who made it (actor) - an entracert profile (name, client ID, tenant) or the account
    signed in to az (name, user type, tenant). Cache hits are not recorded.
"""

helps["entracert audit list"] = """
type: command
short-summary: List audit entries, oldest first.
long-summary: Without --profile, lists every profile's entries (the default profile is not
    assumed); --profile, --since and --limit narrow the list.
examples:
  - name: Show the last day's entries of the profile 'ci' as a table.
    text: az entracert audit list --profile ci --since 1d -o table
  - name: Show the five most recent failures' AADSTS codes.
    text: az entracert audit list --limit 5 --query "[?outcome=='failure'].code"
  - name: Show who changed which application's certificates, over every profile.
    text: az entracert audit list --query "[?source=='graph'].[time,action,appId,actor.name]"
"""

helps["entracert app"] = """
type: group
short-summary: Create and manage the application registration behind a profile.
long-summary: |
    These commands call Microsoft Graph as an identity allowed to manage applications: an
    entracert profile of an administrative service principal (--admin-profile NAME, with
    Application.ReadWrite.All) or the account signed in to az (--use-az-login).
"""

helps["entracert app create"] = """
type: command
short-summary: Create an application that signs in with a certificate, from nothing to a profile.
long-summary: |
    In one go: a self-signed certificate (--create-cert) or yours (--file), the application with
    that certificate as its only credential (no client secret), its service principal, a wait
    until Entra ID issues a token for the certificate (it replicates new applications in seconds
    to minutes; progress is shown on stderr), and with --profile the profile, which takes its
    tenant, cloud, authority host, Graph endpoint and CA bundle from the identity that called
    Graph. A display name already in use is refused unless --allow-duplicate: Graph allows
    duplicates, but they are easy to confuse. Every step is audited ('az entracert audit
    list'); if a step fails, the error names what was created and the commands that finish or
    undo it.
examples:
  - name: Against the local emulator, as its admin profile, make the default profile 'ci'.
    text: az entracert app create --display-name ci-deploy --create-cert --out ci.pfx
      --no-password --profile ci --default --admin-profile emu-admin
  - name: Against Entra ID as the signed-in az account, the PFX password read from a variable.
    text: az entracert app create --display-name ci-deploy --create-cert --out ci.pfx
      --password-env CI_PFX_PASSWORD --profile ci --use-az-login
  - name: Register a certificate you already have.
    text: az entracert app create --display-name ci-deploy --file ci.pfx --password-file pw.txt
      --profile ci --use-az-login
"""

helps["entracert app show"] = """
type: command
short-summary: Show an application (of a profile, or by --app-id) with its certificates.
long-summary: Shows appId, object ids of the application and its service principal, sign-in
    audience, registered certificates and the local profiles that use it.
examples:
  - name: Show the application of the profile 'ci'.
    text: az entracert app show --profile ci --admin-profile admin
"""

helps["entracert app list"] = """
type: command
short-summary: List the applications the caller may see, with the local profiles of each.
examples:
  - name: List applications as a table, as the signed-in az account.
    text: az entracert app list --use-az-login -o table
"""

helps["entracert app delete"] = """
type: command
short-summary: Delete an application and its service principal.
long-summary: Asks for confirmation unless --yes is given. Local profiles of the application are
    kept and listed (they can no longer sign in); delete them with 'az entracert profile
    delete'.
examples:
  - name: Delete the application of the profile 'ci' without a prompt.
    text: az entracert app delete --profile ci --admin-profile admin --yes
"""

helps["entracert app permission"] = """
type: group
short-summary: Request and grant an application's API permissions (application permissions).
long-summary: |
    Only application permissions (app roles) apply: a certificate signs in without a user, so
    delegated permissions never reach its tokens. 'add' records the request on the application
    (the portal's "API permissions"); --grant also gives admin consent by assigning the role to
    the service principal, so the next token's roles claim carries it ('az entracert token get
    --force-refresh' fetches one now).
"""

helps["entracert app permission add"] = """
type: command
short-summary: Request an application permission of an API, and with --grant consent to it.
long-summary: An unknown --role is refused with the list of the API's application roles.
examples:
  - name: Let the profile 'ci' read users through Microsoft Graph, consent included.
    text: az entracert app permission add --profile ci --api graph --role User.Read.All --grant
      --admin-profile admin
"""

helps["entracert app permission list"] = """
type: command
short-summary: List the application permissions requested and granted.
examples:
  - name: Show the permissions of the profile 'ci' as a table.
    text: az entracert app permission list --profile ci --admin-profile admin -o table
"""

helps["entracert app permission remove"] = """
type: command
short-summary: Stop requesting an application permission and withdraw its grant.
long-summary: Tokens already issued keep the role until they expire.
examples:
  - name: Withdraw User.Read.All from the profile 'ci'.
    text: az entracert app permission remove --profile ci --api graph --role User.Read.All
      --admin-profile admin
"""

helps["entracert app secret"] = """
type: group
short-summary: Add, list and remove an application's client secrets (for development only).
long-summary: |
    A client secret lives at most two years and is rotated by hand; a certificate lives up to
    three years, never leaves your machine and is rotated by 'az entracert cert rotate'. Prefer
    certificates ('az entracert cert create', 'az entracert app cert add'). An application may
    not manage its own secrets: these commands call Microsoft Graph as an administrator
    (--admin-profile NAME, with Application.ReadWrite.All, or --use-az-login). Each change is
    audited ('az entracert audit list'), never with the secret.
"""

helps["entracert app secret add"] = """
type: command
short-summary: Add a client secret that Microsoft Graph generates; it is shown this once only.
long-summary: Prints the secret (secretText) once, or with --out writes it to a new file (mode
    0600) and prints no secret. Graph keeps only its first three characters (the hint).
examples:
  - name: Add a 30-day secret to the profile's application and keep it in a private file.
    text: az entracert app secret add --profile ci --display-name dev-laptop --days 30
      --out ci-secret.txt --admin-profile admin
  - name: Add a secret to an application by its appId and print only the secret.
    text: az entracert app secret add --app-id 00000000-0000-0000-0000-000000000000
      --use-az-login --query secretText -o tsv
"""

helps["entracert app secret list"] = """
type: command
short-summary: List the application's client secrets (keyId, name, hint, dates), never a secret.
examples:
  - name: List the secrets of the profile's application as a table.
    text: az entracert app secret list --profile ci --admin-profile admin -o table
"""

helps["entracert app secret remove"] = """
type: command
short-summary: Remove one client secret; sign-ins with it are refused from then on.
long-summary: Asks for confirmation unless --yes is given. Access tokens already issued with the
    secret stay valid until they expire.
examples:
  - name: Remove a secret by its keyId without a prompt.
    text: az entracert app secret remove --profile ci
      --key-id 11111111-2222-3333-4444-555555555555 --admin-profile admin --yes
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
    text: az entracert app cert list --profile ci --app-id 00000000-0000-0000-0000-000000000000
      --use-az-login
"""

helps["entracert app cert add"] = """
type: command
short-summary: Register a certificate on the application, keeping every existing credential.
long-summary: Uploads only the public certificate of a .cer, .pem or .pfx file, with its start
    and end clipped to the certificate's validity. Refuses a certificate that 'cert validate'
    rejects, and one that is already registered.
examples:
  - name: Register a new certificate next to the current one.
    text: az entracert app cert add --profile ci --file new-cert.cer --display-name "ci 2027"
      --admin-profile admin
"""

helps["entracert app cert remove"] = """
type: command
short-summary: Remove one certificate from the application (revocation in the Entra ID sense).
long-summary: Identify it by --thumbprint or --key-id. Refuses, without --force, to remove the
    profile's own certificate or the application's last valid one. Asks for confirmation unless
    --yes is given. Removal stops new sign-ins with the certificate, but access tokens already
    issued with it stay valid until they expire (up to about 60-90 minutes); a warning says so
    and names the 'az entracert token clear' command that drops those cached on this machine.
examples:
  - name: Remove an old certificate by thumbprint, without a confirmation prompt.
    text: az entracert app cert remove --profile ci
      --thumbprint 52ED9B5038A47B9E2E2190715CC238359D4F8F73 --admin-profile admin --yes
  - name: Remove a compromised certificate that the profile still uses.
    text: az entracert app cert remove --profile ci --key-id 11111111-2222-3333-4444-555555555555
      --force --use-az-login --yes
"""

helps["entracert app cert expiring"] = """
type: command
short-summary: Report certificates that expire soon, across profiles; exit 1 when any does.
long-summary: Checks each profile's local certificate and, with --admin-profile or
    --use-az-login, the certificates registered on its application. The JSON result is printed
    first, so a CI job can both read it and fail on it; the error line says when each expired
    certificate expired and how many more expire within --days.
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
    fails, the profile keeps a certificate that is registered and works, and the error says where
    things stand and lists every file written. A new key can take minutes to be accepted by every
    Entra ID server: the token is tried again with growing pauses, for at most --verify-timeout
    seconds, each wait shown on stderr. If Graph's answer to addKey is lost (timeout, unreadable
    reply), a token signed by the new certificate tells whether it was registered. A rotation
    that stopped (an error, a killed process) is recorded in known_keys.json, and the next
    'cert rotate' of the profile finishes it, or deletes its unused files if its certificate was
    never registered, before anything else. The application's object id and the current keyId
    are looked up once (with --admin-profile or --use-az-login when the application may not read
    itself) and remembered. A certificate issued by a CA is not replaced by a self-signed one:
    use --csr, then --complete --cert with what the CA signed. A profile on the certificate
    store gets the new certificate in the store (its old entry is removed after removeKey); a
    profile on a PKCS#11 token gets a new key generated on the token as '<label>-YYYYMMDD' (the
    old key signs the addKey proof there, and its key pair and certificate are deleted from the
    token after removeKey).
examples:
  - name: Preview a rotation.
    text: az entracert cert rotate --profile ci --dry-run
  - name: Rotate a profile whose key is on an HSM token (the PIN from the profile's source).
    text: az entracert cert rotate --profile hsm --admin-profile admin
  - name: Rotate a CA-issued certificate, step 1 (new key and a request for your CA).
    text: az entracert cert rotate --profile ci --csr
  - name: Rotate a CA-issued certificate, step 2 (register what the CA signed).
    text: az entracert cert rotate --profile ci --complete --cert ./ci-signed.crt
  - name: Allow Entra ID up to ten minutes to accept the new key.
    text: az entracert cert rotate --profile ci --verify-timeout 600
  - name: Rotate to a one-year certificate, keeping the PFX password source of the profile.
    text: az entracert cert rotate --profile ci --days 365
  - name: First rotation of a profile, looking the application up as an admin profile.
    text: az entracert cert rotate --profile ci --admin-profile admin --out ./ci-2027.pfx
      --password-env CI_PFX_PASSWORD
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
    text: az entracert cert check-revocation --file app.cer --issuer issuing-ca.pem
      --ca-bundle corp-roots.pem
"""

helps["entracert store"] = """
type: group
short-summary: Keep certificates with their keys in a store, and find them by thumbprint.
long-summary: |
    The store is the folder $AZURE_CONFIG_DIR/entracert/store (~/.azure/..., mode 0700). Each
    certificate is kept as the PFX or PEM file it was imported from (0600), so a file encrypted
    with a password stays encrypted; only where the password comes from (a variable's name or a
    file's path) is recorded. Thumbprints may be SHA-1 or SHA-256, pasted in any form (colons,
    spaces, either case) or shortened to an unambiguous prefix of at least 8 hex digits.
"""

helps["entracert store import"] = """
type: command
short-summary: Add a certificate and its private key to the store.
long-summary: |
    The file must hold an RSA private key (a store entry must be able to sign). An encrypted
    file is opened with --password-env or --password-file (that source is recorded and read
    again whenever the key is used), or with a prompt when a terminal is attached (asked again at
    each use). Importing a certificate that is already stored keeps its entry unchanged.
examples:
  - name: Import a PFX whose password is in an environment variable.
    text: az entracert store import --file my-app.pfx --password-env PFX_PASSWORD
  - name: Import a PEM holding the certificate and an unencrypted key.
    text: az entracert store import --file my-app.pem
"""

helps["entracert store list"] = """
type: command
short-summary: List the stored certificates, soonest expiry first.
examples:
  - name: List them as a table.
    text: az entracert store list -o table
  - name: The SHA-1 thumbprints of the stored certificates.
    text: az entracert store list --query "[].thumbprint" -o tsv
"""

helps["entracert store show"] = """
type: command
short-summary: Show a stored certificate, found by its thumbprint.
examples:
  - name: Show a certificate by its SHA-1 thumbprint as the Azure portal prints it.
    text: az entracert store show --thumbprint 3AF2910B7C44E51890ABCDEF0123456789ABCDEF
  - name: Paste the start of a fingerprint as openssl prints it (colons, lower or upper case).
    text: az entracert store show --thumbprint "3a:f2:91:0b:7c:44:e5:18"
  - name: Show it by a prefix of its SHA-256 thumbprint.
    text: az entracert store show --thumbprint 9f86d081884c
"""

helps["entracert store remove"] = """
type: command
short-summary: Remove a certificate and its key from the store.
long-summary: Asks for confirmation unless --yes is given. The file the certificate was imported
    from is not touched.
examples:
  - name: Remove a stored certificate without a confirmation prompt.
    text: az entracert store remove --thumbprint 3AF2910B --yes
"""

helps["entracert emulator"] = """
type: group
short-summary: Run the local Entra ID + Microsoft Graph emulator in the background, for tests.
long-summary: |
    The emulator serves Entra ID's token, discovery and JWKS endpoints and the Microsoft Graph
    application calls over TLS on 127.0.0.1, with its own CA. Its state dir (default
    $AZURE_CONFIG_DIR/entracert/emulator, mode 0700) keeps the CA, the tenant and its
    applications across restarts; one emulator at a time may use a state dir. Point any client
    at it (MSAL, azure-identity, az, Node): 'az entracert emulator show' says how. For the
    foreground, run 'python -m azext_entracert.emulator --state-dir DIR'.
"""

helps["entracert emulator start"] = """
type: command
short-summary: Start the emulator in the background and print its endpoints once it is ready.
long-summary: |
    Prints the ready document: authority_host, tenant_id, graph_endpoint,
    resource_manager_endpoint, ca_bundle (the CA to trust), admin (client id and certificate of
    an application allowed to manage applications), subscriptions and pid. The emulator's
    output goes to emulator.log in the state dir. Fails if an emulator already runs on the
    state dir.
examples:
  - name: Start the emulator on a free port, with the default state dir.
    text: az entracert emulator start
  - name: Start it on port 8443 with its own state dir, refusing new credentials for 30 s.
    text: az entracert emulator start --state-dir ./.emulator --port 8443 --replication-delay 30
  - name: Start it with a subscription, so a plain 'az login --service-principal' works.
    text: az entracert emulator start --arm-subscriptions 00000000-0000-0000-0000-000000000001:Dev
  - name: Start it and keep its authority host for a test run.
    text: export EMULATOR=$(az entracert emulator start --query authority_host -o tsv)
"""

helps["entracert emulator status"] = """
type: command
short-summary: Tell whether the emulator runs on a state dir (exit 0 either way).
long-summary: |
    "running" is true or false; when true, the ready document (endpoints, tenant, pid) follows.
    A stopped emulator is not an error: test "running" (--query running -o tsv) in scripts.
examples:
  - name: Is the emulator of the default state dir running?
    text: az entracert emulator status --query running -o tsv
  - name: Status of the emulator of a given state dir, as a table.
    text: az entracert emulator status --state-dir ./.emulator -o table
"""

helps["entracert emulator show"] = """
type: command
short-summary: Show the running emulator's endpoints, its admin identity and how to use it.
long-summary: |
    Besides the ready document, "clients" gives the environment variables
    (REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS, AZURE_AUTHORITY_HOST...) and the options MSAL
    Python (instance_discovery=False), azure-identity (disable_instance_discovery), msal-node
    (knownAuthorities), @azure/identity (disableInstanceDiscovery), az (cloud register, login)
    and 'az entracert profile create' need. Fails if no emulator runs on the state dir.
examples:
  - name: Show how to point clients at the emulator.
    text: az entracert emulator show
  - name: The CA bundle to trust, for a script.
    text: az entracert emulator show --state-dir ./.emulator --query ca_bundle -o tsv
"""

helps["entracert emulator stop"] = """
type: command
short-summary: Stop the emulator running on a state dir; its tenant and CA stay for next time.
long-summary: Sends SIGTERM, waits until it has stopped (SIGKILL after 15 s) and removes its
    emulator.json. Fails, saying so, if no emulator runs on the state dir.
examples:
  - name: Stop the emulator of the default state dir.
    text: az entracert emulator stop
  - name: Stop the emulator of a given state dir, ignoring one that is not running.
    text: az entracert emulator stop --state-dir ./.emulator || true
"""
