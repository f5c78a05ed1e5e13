"""Arguments of the ``az entracert`` commands: long option names only, each with help.

Passwords are never taken as values: only the *name* of an environment variable or the path of a
file holding one (``--password-env``/``--password-file``), or an interactive prompt.
"""

# Strings: azure-cli's parser suggests close matches for a wrong choice with difflib, which
# needs string choices (int choices turn a typo into an internal error). custom.py converts.
_KEY_SIZES = ["2048", "3072", "4096"]
_HASHES = ["sha256", "sha384", "sha512"]


def load_arguments(loader, _command):
    from azure.cli.core.commands.parameters import get_enum_type

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
                        "its key.")
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
                        "output's private key.")
        c.argument("out_password_file", options_list=["--out-password-file"],
                   help="File whose content is the password that protects the output's private "
                        "key.")
        c.argument("out_no_password", options_list=["--out-no-password"], action="store_true",
                   help="Write the output's private key without a password (mode 0600).")
