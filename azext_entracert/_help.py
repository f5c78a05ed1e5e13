"""Help texts of ``az entracert``: every group and command, each command with examples."""
from knack.help_files import helps

helps["entracert"] = """
type: group
short-summary: Authenticate Microsoft Entra ID service principals with X.509 certificates.
long-summary: Create, inspect, validate and convert the certificates that serve as Entra ID
    application credentials.
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
    certificate is not valid (0 when it is), so scripts can rely on the exit code.
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
