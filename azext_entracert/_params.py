"""Arguments of the ``az entracert`` commands: long option names only, each with help.

Passwords are never taken as values: only the *name* of an environment variable or the path of a
file holding one (``--password-env``/``--password-file``), or an interactive prompt.
"""

# Strings: azure-cli's parser suggests close matches for a wrong choice with difflib, which
# needs string choices (int choices turn a typo into an internal error). custom.py converts.
_KEY_SIZES = ["2048", "3072", "4096"]
_HASHES = ["sha256", "sha384", "sha512"]
_CLOUDS = ["AzureCloud", "AzureUSGovernment", "AzureChinaCloud"]


def load_arguments(loader, command):
    from azure.cli.core.commands.parameters import get_enum_type

    def runs(*groups):
        # az loads the arguments of the one command it runs (those of all with skip_applicability,
        # or no command): the groups it is not in are skipped whole, not argument by argument by
        # azure-cli. tests/az/test_loader.py checks that each command still gets all of its own.
        return loader.skip_applicability or not command or command.startswith(groups)

    if runs("entracert cert"):
        _certificate_arguments(loader, get_enum_type)
    if runs("entracert profile"):
        _profile_arguments(loader, get_enum_type)
    if runs("entracert token", "entracert audit"):
        _token_arguments(loader)
    if runs("entracert app cert", "entracert cert rotate", "entracert cert check-revocation"):
        _lifecycle_arguments(loader)
    if runs("entracert app"):
        _app_arguments(loader, get_enum_type)
    if runs("entracert store"):
        _store_arguments(loader)
    if runs("entracert emulator"):
        _emulator_arguments(loader)
    _without_subscription(loader)


# The commands that never use an Azure subscription. azure-cli gives every command its global
# --subscription; the supported way to hide it is to ignore its '_subscription' argument (as
# azure-cli's own 'config' and 'role' modules do). Only the commands that may call Graph as the
# az account (--use-az-login: 'app ...' and 'cert rotate') keep it: it picks that account.
_NO_SUBSCRIPTION = tuple(f"entracert {scope}" for scope in (
    "cert create", "cert csr", "cert assemble", "cert show", "cert validate", "cert convert",
    "cert check-revocation", "profile", "token", "audit", "store", "emulator"))


def _without_subscription(loader):
    for scope in _NO_SUBSCRIPTION:
        with loader.argument_context(scope) as c:
            c.ignore("_subscription")


def _certificate_arguments(loader, get_enum_type):
    with loader.argument_context("entracert cert") as c:
        # Certificate to read (show, validate, convert).
        c.argument("file_path", options_list=["--file"],
                   help="Certificate file: PFX/PKCS#12, PEM (certificate, optionally with key and "
                        "chain) or DER (.cer). Give this or --pfx-base64-env.")
        c.argument("pfx_base64_env", options_list=["--pfx-base64-env"],
                   help="Name of an environment variable holding a base64-encoded PFX (the usual "
                        "CI secret), instead of --file.")
        c.argument("key_file", options_list=["--key-file"],
                   help="Separate private key file (PEM or DER) for a certificate given without "
                        "its key; refused with a PFX or a PEM that holds one.")
        c.argument("key_password_env", options_list=["--key-password-env"],
                   help="Name of an environment variable holding the password of the key file.")
        c.argument("key_password_file", options_list=["--key-password-file"],
                   help="File whose content (trailing newline dropped) is the password of the "
                        "key file.")
        # New certificates and keys (create, csr).
        c.argument("subject", options_list=["--subject"],
                   help='Subject distinguished name, e.g. "CN=my-app,O=Contoso".')
        c.argument("san", options_list=["--san"], nargs="+",
                   help="Subject alternative names, space-separated: DNS:host, IP:address, "
                        "URI:uri or EMAIL:address.")
        c.argument("key_size", options_list=["--key-size"], arg_type=get_enum_type(_KEY_SIZES),
                   help="RSA key size in bits. 4096 takes several seconds.")
        c.argument("hash_name", options_list=["--hash"], arg_type=get_enum_type(_HASHES),
                   help="Signature hash algorithm.")
        c.argument("out", options_list=["--out"], help="Output file.")
        c.argument("force", options_list=["--force"], action="store_true",
                   help="Replace output files that already exist.")
        # Password of what we read (show, validate, convert) or write (create, csr, assemble).
        c.argument("password_env", options_list=["--password-env"],
                   help="Name of an environment variable holding the password.")
        c.argument("password_file", options_list=["--password-file"],
                   help="File whose content (trailing newline dropped) is the password.")
        c.argument("no_password", options_list=["--no-password"], action="store_true",
                   help="Write the PFX without a password (its mode is still 0600).")

    with loader.argument_context("entracert cert create") as c:
        c.argument("out", options_list=["--out"],
                   help="Output PFX path, e.g. app.pfx (mode 0600). app.cer (public DER, the file "
                        "to upload to Entra ID) and app.pem (public PEM) are written beside it.")
        c.argument("days", options_list=["--days"], type=int,
                   help="Validity in days, starting now.")
        c.argument("password_env", options_list=["--password-env"],
                   help="Name of an environment variable holding the password for the new PFX.")
        c.argument("password_file", options_list=["--password-file"],
                   help="File whose content is the password for the new PFX.")
        c.argument("pkcs11_module", options_list=["--pkcs11-module"],
                   help="Path of a token's PKCS#11 library (SoftHSM2: "
                        "/usr/lib/softhsm/libsofthsm2.so): the key pair is generated inside the "
                        "token (sensitive, not extractable), the certificate signed there and "
                        "stored beside it; --out then names the public PATH.cer (PATH.pem beside "
                        "it) and no PFX is written.")
        c.argument("pkcs11_token", options_list=["--pkcs11-token"],
                   help="Label of the token to create the key on.")
        c.argument("pkcs11_key", options_list=["--pkcs11-key"],
                   help="Label for the new key pair and its certificate; it must not exist yet.")
        c.argument("pkcs11_uri", options_list=["--pkcs11-uri"],
                   help="The token and the new key named by a PKCS#11 URI (RFC 7512) instead of "
                        "--pkcs11-module/--pkcs11-token/--pkcs11-key, e.g. 'pkcs11:token="
                        "entracert;object=my-app?module-name=softhsm2': the key pair gets the "
                        "URI's object label (and id, when given).")
        c.argument("pin_env", options_list=["--pin-env"],
                   help="Name of an environment variable holding the token's user PIN.")
        c.argument("pin_file", options_list=["--pin-file"],
                   help="File whose content is the token's user PIN.")
        c.argument("store", options_list=["--store"], action="store_true",
                   help="Create the certificate straight into the certificate store (instead "
                        "of --out): only the store holds the PFX, and the source of its password "
                        "(--password-env/--password-file) is recorded as for 'store import'.")

    with loader.argument_context("entracert cert csr") as c:
        c.argument("key_out", options_list=["--key-out"],
                   help="Output path of the new private key (PEM, mode 0600; encrypted when a "
                        "password source is given).")
        c.argument("out", options_list=["--out"],
                   help="Output path of the PKCS#10 certificate signing request (PEM).")
        c.argument("password_env", options_list=["--password-env"],
                   help="Name of an environment variable holding the password that encrypts the "
                        "new key.")
        c.argument("password_file", options_list=["--password-file"],
                   help="File whose content is the password that encrypts the new key.")

    with loader.argument_context("entracert cert assemble") as c:
        c.argument("cert_path", options_list=["--cert"],
                   help="The certificate your CA signed (PEM or DER).")
        c.argument("key_path", options_list=["--key"],
                   help="The private key the signing request was made with (PEM or DER).")
        c.argument("chain_paths", options_list=["--chain"], nargs="+",
                   help="CA certificates (PEM or DER files) to include, space-separated.")
        c.argument("out", options_list=["--out"], help="Output PFX path (mode 0600).")
        c.argument("password_env", options_list=["--password-env"],
                   help="Name of an environment variable holding the password for the new PFX.")
        c.argument("password_file", options_list=["--password-file"],
                   help="File whose content is the password for the new PFX.")

    for command in ("show", "validate", "convert"):
        with loader.argument_context(f"entracert cert {command}") as c:
            c.argument("password_env", options_list=["--password-env"],
                       help="Name of an environment variable holding the password of the "
                            "certificate file.")
            c.argument("password_file", options_list=["--password-file"],
                       help="File whose content is the password of the certificate file.")

    with loader.argument_context("entracert cert validate") as c:
        c.argument("warn_days", options_list=["--warn-days"], type=int,
                   help="Warn when fewer than this many days of validity remain.")

    with loader.argument_context("entracert cert convert") as c:
        c.argument("to", options_list=["--to"], arg_type=get_enum_type(["pfx", "pem", "der"]),
                   help="Output format: pfx (certificate, key and chain), pem (certificate, and "
                        "the key when there is one) or der (certificate only).")
        c.argument("out", options_list=["--out"], help="Output file.")
        c.argument("out_password_env", options_list=["--out-password-env"],
                   help="Name of an environment variable holding the password that protects the "
                        "output's private key (pfx, or pem with a key; refused otherwise).")
        c.argument("out_password_file", options_list=["--out-password-file"],
                   help="File whose content is the password that protects the output's private "
                        "key.")
        c.argument("out_no_password", options_list=["--out-no-password"], action="store_true",
                   help="Write the output's private key without a password (mode 0600).")


def _profile_arguments(loader, get_enum_type):
    from azure.cli.core.commands.parameters import get_three_state_flag

    with loader.argument_context("entracert profile") as c:
        c.argument("name", options_list=["--name"], help="Name of the profile.")
        c.argument("tenant", options_list=["--tenant"],
                   help="Directory (tenant) ID GUID, or a domain such as contoso.onmicrosoft.com.")
        c.argument("client_id", options_list=["--client-id"],
                   help="Application (client) ID GUID of the app registration.")
        c.argument("certificate", options_list=["--certificate"],
                   help="Certificate with its private key: PFX/PKCS#12, or PEM holding key and "
                        "certificate. The profile keeps its absolute path and thumbprint.")
        c.argument("pfx_base64_env", options_list=["--pfx-base64-env"],
                   help="Name of an environment variable holding a base64-encoded PFX (a CI "
                        "secret), instead of --certificate.")
        c.argument("thumbprint", options_list=["--thumbprint"],
                   help="SHA-1 or SHA-256 thumbprint of a certificate in the store ('az "
                        "entracert store import'), as pasted (colons, spaces, either case) or an "
                        "unambiguous prefix, instead of --certificate; the store keeps its "
                        "password source.")
        c.argument("pkcs11_module", options_list=["--pkcs11-module"],
                   help="Path of the PKCS#11 library of a token (HSM, smart card; SoftHSM2: "
                        "/usr/lib/softhsm/libsofthsm2.so) holding the key, instead of "
                        "--certificate; the key signs inside the token and never leaves it.")
        c.argument("pkcs11_token", options_list=["--pkcs11-token"],
                   help="Label of the token holding the key (softhsm2-util --show-slots).")
        c.argument("pkcs11_key", options_list=["--pkcs11-key"],
                   help="Label of the RSA private key on the token; its certificate is stored on "
                        "the token under the same label (as 'az entracert cert create "
                        "--pkcs11-module ...' does).")
        c.argument("pkcs11_uri", options_list=["--pkcs11-uri"],
                   help="The key on a token named by a PKCS#11 URI (RFC 7512) instead of "
                        "--pkcs11-module/--pkcs11-token/--pkcs11-key, e.g. 'pkcs11:token="
                        "entracert;object=my-app?module-name=softhsm2&pin-source=file:/path/pin'"
                        ". Supported: token, object, id, serial, manufacturer, model, slot and "
                        "library attributes, type=private|cert; module-path or module-name "
                        "(p11-kit); pin-source (a file). pin-value is refused. The profile "
                        "records the URI.")
        c.argument("pin_env", options_list=["--pin-env"],
                   help="Name of the environment variable holding the token's user PIN (the "
                        "profile stores the name, never the value). Without --pin-env or "
                        "--pin-file you are asked on a terminal.")
        c.argument("pin_file", options_list=["--pin-file"],
                   help="File whose content is the token's user PIN (the profile stores the "
                        "path, never the value).")
        c.argument("client_secret_env", options_list=["--client-secret-env"],
                   help="For development and testing: name of the environment variable holding "
                        "a client secret, instead of a certificate (the profile stores the name, "
                        "never the value).")
        c.argument("client_secret_file", options_list=["--client-secret-file"],
                   help="For development and testing: file holding a client secret (trailing "
                        "newline dropped; refused when every user may read it), instead of a "
                        "certificate.")
        c.argument("password_env", options_list=["--password-env"],
                   help="Name of the environment variable holding the certificate password "
                        "(the profile stores the name, never the value).")
        c.argument("password_file", options_list=["--password-file"],
                   help="File whose content is the certificate password (the profile stores the "
                        "path, never the value).")
        c.argument("key_file", options_list=["--key-file"],
                   help="Separate private key (PEM or DER) of a --certificate given without its "
                        "key, e.g. a CA-issued certificate; refused with a file that holds one.")
        c.argument("key_password_env", options_list=["--key-password-env"],
                   help="Name of the environment variable holding the key file's password "
                        "(the profile stores the name, never the value).")
        c.argument("key_password_file", options_list=["--key-password-file"],
                   help="File whose content is the key file's password (the profile stores the "
                        "path, never the value).")
        c.argument("scopes", options_list=["--scope"], nargs="+",
                   help="Default scopes of 'token get', space-separated, e.g. "
                        "https://management.azure.com/.default. Default: Microsoft Graph's "
                        "/.default.")
        c.argument("cloud", options_list=["--cloud"], arg_type=get_enum_type(_CLOUDS),
                   help="Cloud whose authority and Graph endpoint to use. Default: the active "
                        "az cloud ('az cloud show').")
        c.argument("authority_host", options_list=["--authority-host"],
                   help="Authority origin (https://host[:port]) of a private authority such as "
                        "the local emulator; it also serves Graph unless --graph-endpoint says "
                        "otherwise.")
        c.argument("graph_endpoint", options_list=["--graph-endpoint"],
                   help="Microsoft Graph origin (https://host[:port]).")
        c.argument("ca_bundle", options_list=["--ca-bundle"],
                   help="PEM file of CA certificates trusted for this profile only (e.g. the "
                        "emulator's ca.pem), instead of the system's.")
        c.argument("send_chain", options_list=["--send-chain"], action="store_true",
                   help="Send the whole certificate chain (x5c) for subject name and issuer "
                        "authentication.")
        c.argument("legacy_sha1", options_list=["--legacy-sha1"], action="store_true",
                   help="Sign the client assertion with RS256 and a SHA-1 x5t, as older "
                        "clients do, instead of PS256 with x5t#S256.")
        c.argument("make_default", options_list=["--default"], action="store_true",
                   help="Make this the default profile.")
        c.argument("out", options_list=["--out"], help="Output JSON file.")
        c.argument("force", options_list=["--force"], action="store_true",
                   help="Replace the output file if it exists.")

    with loader.argument_context("entracert profile update") as c:
        c.argument("tenant", options_list=["--tenant"], help="New tenant ID or domain.")
        c.argument("client_id", options_list=["--client-id"], help="New application (client) ID.")
        c.argument("certificate", options_list=["--certificate"],
                   help="New certificate file: it is loaded and its thumbprint recorded.")
        c.argument("scopes", options_list=["--scope"], nargs="+",
                   help="New default scopes, space-separated (they replace the old ones).")
        c.argument("ca_bundle", options_list=["--ca-bundle"],
                   help='New CA bundle (PEM) for this profile; "" returns to the system\'s trust.')
        c.argument("send_chain", options_list=["--send-chain"], arg_type=get_three_state_flag(),
                   help="Send the whole certificate chain (x5c): true or false.")
        c.argument("legacy_sha1", options_list=["--legacy-sha1"], arg_type=get_three_state_flag(),
                   help="RS256 with a SHA-1 x5t instead of PS256 with x5t#S256: true or false.")

    with loader.argument_context("entracert profile import") as c:
        c.argument("file_path", options_list=["--file"],
                   help="A file written by 'az entracert profile export'.")
        c.argument("name", options_list=["--name"],
                   help="Import under this name instead of the exported one.")
        c.argument("force", options_list=["--force"], action="store_true",
                   help="Replace a profile of the same name, if there is one.")


def _token_arguments(loader):
    for group in ("entracert token", "entracert audit"):
        with loader.argument_context(group) as c:
            c.argument("profile", options_list=["--profile"],
                       help="Profile name. Default: the identity of the AZURE_TENANT_ID/"
                            "AZURE_CLIENT_ID/AZURE_CLIENT_CERTIFICATE_PATH variables when they "
                            "are set, else the default profile.")

    for command in ("get", "refresh"):
        with loader.argument_context(f"entracert token {command}") as c:
            c.argument("scopes", options_list=["--scope"], nargs="+",
                       help="Scopes to ask for, space-separated; for an application token, one "
                            "resource's /.default. Default: the profile's scopes.")
            c.argument("resource", options_list=["--resource"],
                       help="A resource (e.g. https://management.azure.com), the same as --scope "
                            "RESOURCE/.default.")

    with loader.argument_context("entracert token get") as c:
        c.argument("force_refresh", options_list=["--force-refresh"], action="store_true",
                   help="Ask Entra ID for a new token even when the cache holds a valid one.")

    with loader.argument_context("entracert token inspect") as c:
        c.argument("token", options_list=["--token"],
                   help="The token itself (or - for standard input). It then stays in your shell "
                        "history: prefer --file, --stdin or --profile.")
        c.argument("file_path", options_list=["--file"],
                   help="File holding the token (or the JSON of 'token get').")
        c.argument("stdin", options_list=["--stdin"], action="store_true",
                   help="Read the token (or the JSON of 'token get') from standard input.")
        c.argument("profile", options_list=["--profile"],
                   help="Inspect this profile's token (from the cache when possible); with "
                        "--verify, trust this profile's authority (over its CA bundle), also "
                        "for a token given otherwise.")
        c.argument("verify", options_list=["--verify"], action="store_true",
                   help="Say whether the token can be trusted: signature (keys from --profile's "
                        "authority, --issuer, --jwks-uri or Entra ID's own hosts, never a host "
                        "only the token names), issuer, audience and lifetime. Exits 1 if not.")
        c.argument("issuer", options_list=["--issuer"],
                   help="The issuer the token must name, e.g. "
                        "https://login.microsoftonline.com/TENANT-ID/v2.0; its keys come from "
                        "its OpenID configuration (or --jwks-uri, or --profile's). Implies "
                        "--verify.")
        c.argument("jwks_uri", options_list=["--jwks-uri"],
                   help="Verify the signature with the keys at this https address (a JWKS), "
                        "whatever the token names. Implies --verify.")
        c.argument("audience", options_list=["--audience"],
                   help="The audience (aud) the token must be for, e.g. "
                        "https://graph.microsoft.com or an API's client ID. Implies --verify.")

    with loader.argument_context("entracert token clear") as c:
        c.argument("profile", options_list=["--profile"],
                   help="Remove only this profile's tokens. Default: all cached tokens.")

    with loader.argument_context("entracert audit list") as c:
        c.argument("profile", options_list=["--profile"],
                   help="Only the entries of this profile. Default: every profile's entries "
                        "(the whole trail).")
        c.argument("since", options_list=["--since"],
                   help="Only newer entries: an age (30m, 1h, 2d, 1w) or a date/time "
                        "(2026-06-09, 2026-06-09T14:00:00Z; local time without a zone).")
        c.argument("limit", options_list=["--limit"], type=int,
                   help="Show at most the last N entries.")


def _lifecycle_arguments(loader):
    """app cert list|add|remove|expiring, cert rotate and cert check-revocation."""
    graph_help = {
        "admin_profile": "Call Microsoft Graph as this entracert profile (a service principal "
                         "with Application.ReadWrite.All or Application.ReadWrite.OwnedBy).",
        "use_az_login": "Call Microsoft Graph as the account signed in to az (az login), on the "
                        "active cloud's Graph endpoint; az's --subscription picks another of its "
                        "signed-in accounts.",
    }
    for group in ("entracert app cert", "entracert cert rotate"):
        with loader.argument_context(group) as c:
            c.argument("profile", options_list=["--profile"],
                       help="Profile whose application (and local certificate) is meant. "
                            "Default: the environment's identity, else the default profile.")
            c.argument("admin_profile", options_list=["--admin-profile"],
                       help=graph_help["admin_profile"])
            c.argument("use_az_login", options_list=["--use-az-login"], action="store_true",
                       help=graph_help["use_az_login"])
            c.argument("app_id", options_list=["--app-id"],
                       help="Application (client) ID to manage instead of the profile's.")

    with loader.argument_context("entracert app cert add") as c:
        c.argument("file_path", options_list=["--file"],
                   help="Certificate to register: .cer/.pem/.pfx. Only its public part is sent.")
        c.argument("display_name", options_list=["--display-name"],
                   help="Name shown in the portal, at most 90 characters (a longer one is "
                        "refused, not cut). Default: the subject.")
        c.argument("password_env", options_list=["--password-env"],
                   help="Name of an environment variable holding the PFX password.")
        c.argument("password_file", options_list=["--password-file"],
                   help="File whose content is the PFX password.")

    with loader.argument_context("entracert app cert remove") as c:
        c.argument("thumbprint", options_list=["--thumbprint"],
                   help="SHA-1 thumbprint (hex) of the certificate to remove.")
        c.argument("key_id", options_list=["--key-id"],
                   help="keyId (GUID) of the certificate to remove.")
        c.argument("force", options_list=["--force"], action="store_true",
                   help="Also remove the profile's own or the application's last valid "
                        "certificate (for a compromised certificate).")

    with loader.argument_context("entracert app cert expiring") as c:
        c.argument("days", options_list=["--days"], type=int,
                   help="Report certificates that expire within this many days.")
        c.argument("profile_names", options_list=["--profile"], nargs="+",
                   help="Profiles to check, space-separated. Default: every profile.")

    with loader.argument_context("entracert cert rotate") as c:
        c.argument("days", options_list=["--days"], type=int,
                   help="Validity of the new certificate. Default: that of the current one.")
        c.argument("subject", options_list=["--subject"],
                   help="Subject of the new certificate. Default: the current subject.")
        c.argument("san", options_list=["--san"], nargs="+",
                   help="Subject alternative names of the new certificate. Default: the "
                        "current ones.")
        c.argument("out", options_list=["--out"],
                   help="Path of the new PFX (.cer and .pem beside it). Default: next to the "
                        "current file, named STEM-YYYYMMDD.pfx.")
        c.argument("keep_old", options_list=["--keep-old"], action="store_true",
                   help="Leave the old certificate registered (no removeKey).")
        c.argument("dry_run", options_list=["--dry-run"], action="store_true",
                   help="Show the plan; change nothing.")
        c.argument("password_env", options_list=["--password-env"],
                   help="Environment variable holding the password of the new PFX. Default: "
                        "the profile's password source.")
        c.argument("password_file", options_list=["--password-file"],
                   help="File holding the password of the new PFX. Default: the profile's "
                        "password source.")
        c.argument("no_password", options_list=["--no-password"], action="store_true",
                   help="Write the new PFX without a password (mode 0600).")
        c.argument("admin_profile", options_list=["--admin-profile"],
                   help="Only to look up the application's object id and the current keyId the "
                        "first time (an application usually may not read itself). "
                        + graph_help["admin_profile"])
        c.argument("use_az_login", options_list=["--use-az-login"], action="store_true",
                   help="Look up the application's object id and current keyId as the az "
                        "account (first rotation only).")
        c.argument("csr", options_list=["--csr"], action="store_true",
                   help="CA-issued certificate: write a new key (.key, 0600) and a certificate "
                        "signing request (.csr) for your CA instead of a self-signed certificate.")
        c.argument("complete", options_list=["--complete"], action="store_true",
                   help="Finish a --csr rotation with the certificate your CA signed (--cert): "
                        "register it, prove it signs in, switch the profile, remove the old one.")
        c.argument("cert_path", options_list=["--cert"],
                   help="With --complete: the certificate the CA issued for the request "
                        "(PEM or DER, chain allowed).")
        c.argument("verify_timeout", options_list=["--verify-timeout"], type=float,
                   help="Seconds to wait for Entra ID to accept the new key (replication), "
                        "trying again with growing pauses. Default: 300.")

    with loader.argument_context("entracert cert check-revocation") as c:
        c.argument("issuer", options_list=["--issuer"],
                   help="The issuing CA certificate (PEM/DER). Default: the chain in the file, "
                        "else the certificate's CA Issuers URL.")
        c.argument("ca_bundle", options_list=["--ca-bundle"],
                   help="PEM bundle of CAs to trust for HTTPS OCSP/CRL URLs.")


def _app_arguments(loader, get_enum_type):
    """app create|show|list|delete, app permission add|list|remove and app secret
    add|list|remove."""
    commands = ("create", "show", "list", "delete", "permission add", "permission list",
                "permission remove", "secret add", "secret list", "secret remove")
    for command in commands:
        with loader.argument_context(f"entracert app {command}") as c:
            c.argument("admin_profile", options_list=["--admin-profile"],
                       help="Call Microsoft Graph as this entracert profile (a service principal "
                            "with Application.ReadWrite.All; granting roles also needs "
                            "AppRoleAssignment.ReadWrite.All in Entra ID).")
            c.argument("use_az_login", options_list=["--use-az-login"], action="store_true",
                       help="Call Microsoft Graph as the account signed in to az (az login), on "
                            "the active cloud's Graph endpoint.")
            if command not in ("create", "list"):
                c.argument("profile", options_list=["--profile"],
                           help="Profile whose application is meant. Default: the "
                                "environment's identity, else the default profile.")
                c.argument("app_id", options_list=["--app-id"],
                           help="Application (client) ID, instead of --profile.")
    for command in ("permission add", "permission remove"):
        with loader.argument_context(f"entracert app {command}") as c:
            c.argument("api", options_list=["--api"],
                       help="The API: graph (Microsoft Graph), arm (Azure Resource Manager), or "
                            "its appId or identifier URI.")
            c.argument("role", options_list=["--role"],
                       help="Application permission (app role) of the API, e.g. "
                            "User.Read.All. An unknown name lists the valid ones.")
    with loader.argument_context("entracert app permission add") as c:
        c.argument("grant", options_list=["--grant"], action="store_true",
                   help="Also give admin consent: assign the role to the application's service "
                        "principal, so its next token's roles claim carries it.")

    with loader.argument_context("entracert app secret add") as c:
        c.argument("display_name", options_list=["--display-name"],
                   help="Name of the secret, shown in the portal and by 'app secret list'.")
        c.argument("days", options_list=["--days"], type=int,
                   help="Validity in days, 1 to 730 (two years, Entra ID's limit). Default: "
                        "180.")
        c.argument("out", options_list=["--out"],
                   help="Write the secret to this new file (mode 0600, written atomically) "
                        "instead of printing it.")
        c.argument("force", options_list=["--force"], action="store_true",
                   help="Replace the --out file if it exists.")
    with loader.argument_context("entracert app secret remove") as c:
        c.argument("key_id", options_list=["--key-id"],
                   help="keyId (GUID) of the secret to remove, from 'app secret list'.")

    with loader.argument_context("entracert app create") as c:
        c.argument("display_name", options_list=["--display-name"],
                   help="Name of the new application (at most 256 characters). An existing "
                        "application of that name is refused unless --allow-duplicate.")
        c.argument("create_cert", options_list=["--create-cert"], action="store_true",
                   help="Create a self-signed certificate (CN = the display name) for it.")
        c.argument("file_path", options_list=["--file"],
                   help="Register this certificate instead: a PFX or PEM with its key (needed "
                        "for --profile and to prove it signs in), or a .cer.")
        c.argument("days", options_list=["--days"], type=int,
                   help="With --create-cert: validity in days. Default: 365.")
        c.argument("key_size", options_list=["--key-size"], arg_type=get_enum_type(_KEY_SIZES),
                   help="With --create-cert: RSA key size in bits. Default: 2048.")
        c.argument("out", options_list=["--out"],
                   help="With --create-cert: the new PFX (mode 0600; .cer and .pem beside "
                        "it). Default: DISPLAY-NAME.pfx in the current folder.")
        c.argument("password_env", options_list=["--password-env"],
                   help="Name of an environment variable holding the password of the new PFX "
                        "(or of --file). The profile keeps reading it from there.")
        c.argument("password_file", options_list=["--password-file"],
                   help="File holding the password of the new PFX (or of --file). The profile "
                        "keeps reading it from there.")
        c.argument("no_password", options_list=["--no-password"], action="store_true",
                   help="With --create-cert: write the PFX without a password (mode 0600).")
        c.argument("profile", options_list=["--profile"],
                   help="Create this profile for the new application, with the tenant, cloud, "
                        "authority, Graph endpoint and CA bundle of the identity that called "
                        "Graph.")
        c.argument("make_default", options_list=["--default"], action="store_true",
                   help="Make the new profile the default one.")
        c.argument("sign_in_audience", options_list=["--sign-in-audience"],
                   arg_type=get_enum_type(["AzureADMyOrg", "AzureADMultipleOrgs"]),
                   help="Who may use the application: AzureADMyOrg is this tenant only.")
        c.argument("allow_duplicate", options_list=["--allow-duplicate"], action="store_true",
                   help="Create it even if an application of that display name exists (Graph "
                        "allows it; it is refused by default).")
        c.argument("verify_timeout", options_list=["--verify-timeout"], type=float,
                   help="Seconds to wait for Entra ID to accept the new application "
                        "(replication), trying again with growing pauses. Default: 300.")


def _store_arguments(loader):
    with loader.argument_context("entracert store") as c:
        c.argument("thumbprint", options_list=["--thumbprint"],
                   help="SHA-1 or SHA-256 thumbprint of a stored certificate, hex in either case, "
                        "with or without colons or spaces; an unambiguous prefix of at least 8 "
                        "hex digits will do.")
    with loader.argument_context("entracert store import") as c:
        c.argument("file_path", options_list=["--file"],
                   help="PFX/PKCS#12, or PEM holding the certificate with its RSA private key. "
                        "It is stored as it is, so an encrypted file stays encrypted.")
        c.argument("password_env", options_list=["--password-env"],
                   help="Name of an environment variable holding the file's password. The name "
                        "is recorded, never the password: it must be set whenever the key is "
                        "used.")
        c.argument("password_file", options_list=["--password-file"],
                   help="File whose content (trailing newline dropped) is the file's password. "
                        "Its absolute path is recorded and read whenever the key is used.")


def _emulator_arguments(loader):
    with loader.argument_context("entracert emulator") as c:
        c.argument("state_dir", options_list=["--state-dir"],
                   help="Folder of the emulator's CA, keys, tenant, log and lock (made 0700). "
                        "Default: $AZURE_CONFIG_DIR/entracert/emulator (~/.azure/...).")
    with loader.argument_context("entracert emulator start") as c:
        c.argument("port", options_list=["--port"], type=int,
                   help="TCP port on 127.0.0.1. Default: 0, a free port (see authority_host).")
        c.argument("replication_delay", options_list=["--replication-delay"], type=float,
                   help="Seconds for which new applications, service principals and "
                        "certificates are refused at the token endpoint, as Entra's replication "
                        "lag does (default 0).")
        c.argument("arm_subscriptions", options_list=["--arm-subscriptions"], nargs="+",
                   help="Space-separated ID[:NAME] subscriptions its Resource Manager lists, so "
                        "plain 'az login --service-principal' works (without "
                        "--allow-no-subscriptions). Default: none.")
