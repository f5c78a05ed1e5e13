"""Profiles: which service principal, which certificate, which cloud, and where they are kept.

A profile holds no secret: no password (only the name of the variable or file that holds it),
no key, no token. The store is one JSON document, ``profiles.json`` in the entracert folder
(``$AZURE_CONFIG_DIR/entracert``, default ``~/.azure/entracert``), changed only under a
cross-process lock and replaced atomically, so a failed or concurrent command never corrupts it.

Without any profile, azure-identity's environment variables configure one identity
(``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID``, ``AZURE_CLIENT_CERTIFICATE_PATH``, ...).
"""
import dataclasses
import json
import os
import re
from pathlib import Path

from . import clouds
from .errors import CertificateError, ConfigurationError, ProfileError
from .fileio import locked_json_update
from .times import iso_z, parse_iso

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DOMAIN = re.compile(
    r"^(?=.{4,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ENVIRONMENT_PROFILE = "environment"
EXPORT_MARKER = "entracert-profile/1"
_KEY_FIELDS = ("key_file", "key_password_env", "key_password_file")
_OPTIONAL_FIELDS = (*_KEY_FIELDS, "store_thumbprint", "client_secret_env", "client_secret_file",
                    "pkcs11_module", "pkcs11_token", "pkcs11_key", "pkcs11_uri", "pin_env",
                    "pin_file")
_RECREATE = ("Create the profile again with 'az entracert profile create' "
             "(or import a fresh export).")


def config_dir():
    """The entracert folder inside the Azure CLI configuration directory."""
    base = os.environ.get("AZURE_CONFIG_DIR") or Path.home() / ".azure"
    return Path(base).expanduser() / "entracert"


@dataclasses.dataclass(frozen=True)
class Profile:
    """One identity: tenant, client id, certificate and where to ask for tokens."""

    name: str
    tenant: str
    client_id: str
    certificate: str = None          # path of the PFX/PEM, or None with pfx_base64_env
    pfx_base64_env: str = None
    password_env: str = None
    password_file: str = None
    key_file: str = None             # a separate key of ``certificate`` (a CA-issued PEM/DER)
    key_password_env: str = None
    key_password_file: str = None
    store_thumbprint: str = None     # a certificate in the store, instead of a file
    pkcs11_module: str = None        # a key on a PKCS#11 token, its certificate beside it
    pkcs11_token: str = None
    pkcs11_key: str = None
    pkcs11_uri: str = None           # the same, named by an RFC 7512 URI (recorded alone)
    pin_env: str = None
    pin_file: str = None
    client_secret_env: str = None    # a client secret (development and testing), no certificate
    client_secret_file: str = None
    thumbprint: str = None           # SHA-1 recorded when the profile was made
    thumbprint_sha256: str = None
    serial: str = None
    not_after: str = None            # ISO UTC, so expiry is known without reading the key
    scopes: tuple = ()
    cloud: str = None
    authority_host: str = "https://login.microsoftonline.com"
    graph_endpoint: str = "https://graph.microsoft.com"
    ca_bundle: str = None
    send_chain: bool = False
    legacy_sha1: bool = False

    def to_dict(self):
        data = dataclasses.asdict(self)
        data["scopes"] = list(self.scopes)
        for name in _OPTIONAL_FIELDS:  # absent unless used: earlier versions read the record
            if data[name] is None:
                del data[name]
        return data

    @classmethod
    def from_dict(cls, data):
        if not isinstance(data, dict):
            raise ConfigurationError("A profile record is not a JSON object.", hint=_RECREATE)
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ConfigurationError(f"Unknown profile field(s): {', '.join(sorted(unknown))}.",
                                     hint="Export the profile again with this version.")
        missing = [name for name in ("name", "tenant", "client_id") if not data.get(name)]
        if missing:
            raise ConfigurationError(f"A profile record lacks {', '.join(missing)}.",
                                     hint=_RECREATE)
        values = dict(data)
        values["scopes"] = tuple(values.get("scopes") or ())
        return cls(**values)

    @property
    def credential(self):
        """Where the certificate comes from, as one ``credentials.CredentialSource``."""
        from . import credentials

        return credentials.from_fields(self.to_dict())

    @property
    def default_scopes(self):
        return list(self.scopes) or [f"{self.graph_endpoint}/.default"]

    @property
    def expires(self):
        """``not_after`` as an aware datetime; None when unknown (or hand-edited beyond reading)."""
        return parse_iso(self.not_after)


def check_tenant(tenant):
    tenant = (tenant or "").strip()
    if tenant.lower() in ("common", "organizations", "consumers"):
        raise ConfigurationError(
            f"The tenant '{tenant}' is a multi-tenant alias; a service principal signs in to one "
            "tenant.",
            hint="Give the directory (tenant) ID GUID or its domain, e.g. contoso.onmicrosoft.com.")
    if not (GUID.match(tenant) or DOMAIN.match(tenant)):
        raise ConfigurationError(
            f"The tenant '{tenant}' is neither a GUID nor a domain name.",
            hint="Copy the Directory (tenant) ID from the app registration's overview page.")
    return tenant.lower()


def check_client_id(client_id):
    client_id = (client_id or "").strip()
    if not GUID.match(client_id):
        raise ConfigurationError(
            f"The client id '{client_id}' is not a GUID.",
            hint="Copy the Application (client) ID from the app registration's overview page.")
    return client_id.lower()


def check_name(name):
    if not NAME.match(name or ""):
        raise ConfigurationError(
            f"The profile name '{name}' is not allowed.",
            hint="Use letters, digits, '.', '_' and '-' (up to 64), starting with a letter or "
                 "digit.")
    if name == ENVIRONMENT_PROFILE:
        raise ConfigurationError(
            f"'{ENVIRONMENT_PROFILE}' is reserved for the environment variables.",
            hint="Choose another profile name.")
    return name


def from_environment(environ=None):
    """The identity azure-identity's variables describe, or None when they are not all set."""
    environ = os.environ if environ is None else environ
    tenant, client_id = environ.get("AZURE_TENANT_ID"), environ.get("AZURE_CLIENT_ID")
    certificate = environ.get("AZURE_CLIENT_CERTIFICATE_PATH")
    if not (tenant and client_id and certificate):
        return None
    authority = environ.get("AZURE_AUTHORITY_HOST")
    if authority and "://" not in authority:
        authority = f"https://{authority}"
    if authority:  # checked here so that the error names the variable, not --authority-host
        authority = clouds.normalize_origin(authority, what="AZURE_AUTHORITY_HOST")
    host, graph = clouds.resolve(authority_host=authority)
    return Profile(
        name=ENVIRONMENT_PROFILE, tenant=_variable(check_tenant, "AZURE_TENANT_ID", tenant),
        client_id=_variable(check_client_id, "AZURE_CLIENT_ID", client_id),
        certificate=str(Path(certificate).expanduser().resolve()),
        # Always named, so an encrypted file without it says which variable to set; it is read
        # only when the file turns out to need a password.
        password_env="AZURE_CLIENT_CERTIFICATE_PASSWORD",
        send_chain=environ.get("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "").lower() in ("1", "true"),
        authority_host=host, graph_endpoint=graph,
        ca_bundle=environ.get("ENTRACERT_CA_BUNDLE"))


def _variable(check, variable, value):
    """``check(value)``, its error naming the environment ``variable`` the value came from."""
    try:
        return check(value)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{variable}: {exc.message}", hint=exc.hint) from None


class ProfileStore:
    """``profiles.json`` in ``directory``: ``{"default": name, "profiles": {name: {...}}}``."""

    def __init__(self, directory=None):
        self.directory = Path(directory) if directory else config_dir()
        self.path = self.directory / "profiles.json"

    def _read(self):
        if not self.path.exists():
            return {"default": None, "profiles": {}}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data.get("profiles"), dict):
                raise ValueError("no 'profiles' object")
        except (ValueError, AttributeError) as exc:
            raise ConfigurationError(
                f"The profile store '{self.path}' is damaged ({exc}); it was left untouched.",
                hint="Repair the JSON by hand or move the file away and re-create the profiles."
            ) from exc
        except OSError as exc:
            raise ConfigurationError(
                f"The profile store '{self.path}' cannot be read: {exc.strerror or exc}.",
                hint="It must belong to you; fix its owner or permissions.") from exc
        data.setdefault("default", None)  # written by hand or by an early version
        return data

    def _change(self):
        """Lock, read, let the caller mutate, write back atomically; an exception writes nothing."""
        return locked_json_update(self.path, self._read)

    def list(self):
        data = self._read()
        return [Profile.from_dict(p) for _, p in sorted(data["profiles"].items())], data["default"]

    def get(self, name):
        data = self._read()
        if name not in data["profiles"]:
            raise ProfileError(f"There is no profile named '{name}'.", name=name,
                               hint=_known(data)
                               + " Create one with 'az entracert profile create'.")
        return Profile.from_dict(data["profiles"][name])

    def default_name(self):
        return self._read()["default"]

    def check_free(self, name, *, hint=None):
        """Refuse a name that is taken, early (before a password prompt or a slow load)."""
        if name in self._read()["profiles"]:
            raise ProfileError(f"A profile named '{name}' already exists.", name=name,
                               hint=hint or "Choose another --name, or change it with "
                                            "'az entracert profile update'.")

    def add(self, profile, *, make_default=False, replace=False):
        with self._change() as data:
            if profile.name in data["profiles"] and not replace:
                raise ProfileError(f"A profile named '{profile.name}' already exists.",
                                   name=profile.name,
                                   hint="Choose another --name, or change it with 'az entracert "
                                        "profile update'.")
            # The first profile is the default; later ones only when asked (after the default
            # was deleted, choosing the next is the user's call, not ours).
            if make_default or not data["profiles"]:
                data["default"] = profile.name
            data["profiles"][profile.name] = profile.to_dict()
        return profile

    def update(self, name, **changes):
        with self._change() as data:
            if name not in data["profiles"]:
                raise ProfileError(f"There is no profile named '{name}'.", name=name,
                                   hint=_known(data))
            profile = dataclasses.replace(Profile.from_dict(data["profiles"][name]), **changes)
            data["profiles"][name] = profile.to_dict()
        return profile

    def replace(self, profile):
        """Store ``profile`` over the existing profile of the same name."""
        with self._change() as data:
            if profile.name not in data["profiles"]:
                raise ProfileError(f"There is no profile named '{profile.name}'.",
                                   name=profile.name, hint=_known(data))
            data["profiles"][profile.name] = profile.to_dict()
        return profile

    def delete(self, name):
        """Delete profile ``name``; return the default afterwards. Deleting the default leaves
        none: promoting another profile would silently change whose identity a bare
        ``token get`` uses."""
        with self._change() as data:
            if data["profiles"].pop(name, None) is None:
                raise ProfileError(f"There is no profile named '{name}'.", name=name,
                                   hint=_known(data))
            if data.get("default") == name:
                data["default"] = None
            return data["default"]

    def set_default(self, name):
        with self._change() as data:
            if name not in data["profiles"]:
                raise ProfileError(f"There is no profile named '{name}'.", name=name,
                                   hint=_known(data))
            data["default"] = name

    def resolve(self, name=None, environ=None):
        """The profile to use: the one named, else the environment's identity, else the default."""
        if name:
            return from_environment(environ) if name == ENVIRONMENT_PROFILE else self.get(name)
        environment = from_environment(environ)
        if environment is not None:
            return environment
        default = self.default_name()
        if not default:
            raise ProfileError(
                "No profile was given and there is no default profile.", name=None,
                hint="Pass --profile NAME, choose a default with 'az entracert profile "
                     "set-default --name NAME' (or create one with 'az entracert profile "
                     "create'), or set AZURE_TENANT_ID, AZURE_CLIENT_ID and "
                     "AZURE_CLIENT_CERTIFICATE_PATH.")
        return self.get(default)


def export_document(profile):
    """A portable, secret-free JSON document of ``profile``."""
    return {"kind": EXPORT_MARKER, "profile": profile.to_dict()}


def import_document(document, *, name=None):
    """The profile in an exported document (optionally renamed), validated like a new one."""
    if not isinstance(document, dict) or document.get("kind") != EXPORT_MARKER:
        raise ConfigurationError("The file is not an entracert profile export.",
                                 hint="Create it with 'az entracert profile export'.")
    profile = Profile.from_dict(document.get("profile"))
    # A shared file must not send token requests anywhere but https.
    host, graph = clouds.resolve(cloud=profile.cloud, authority_host=profile.authority_host,
                                 graph_endpoint=profile.graph_endpoint)
    return dataclasses.replace(profile, name=check_name(name or profile.name),
                               tenant=check_tenant(profile.tenant),
                               client_id=check_client_id(profile.client_id),
                               authority_host=host, graph_endpoint=graph)


def write_export(profile, out, *, force=False):
    """Write ``profile`` as a portable, secret-free JSON file (atomically, readable by others)."""
    from .fileio import PUBLIC, atomic_write

    text = json.dumps(export_document(profile), indent=2, sort_keys=True) + "\n"
    atomic_write(out, text.encode("utf-8"), mode=PUBLIC, overwrite=force)


def read_export(path, *, name=None):
    """The profile in the exported file ``path`` (optionally renamed), validated."""
    from .fileio import read_input

    try:
        document = json.loads(read_input(path, what="profile export"))
    except ValueError:
        raise ConfigurationError(f"The file '{path}' is not JSON.",
                                 hint="Create it with 'az entracert profile export'.") from None
    try:
        return import_document(document, name=name)
    except ConfigurationError as exc:
        raise ConfigurationError(f"'{path}': {exc.message}", hint=exc.hint) from exc


def _known(data):
    names = sorted(data["profiles"])
    return f"Known profiles: {', '.join(names)}." if names else "There are no profiles yet."


def check_ca_bundle(path):
    """Refuse a CA bundle that holds no PEM certificate (a typo'd path to some other file)."""
    from cryptography import x509

    from .fileio import read_input

    try:
        if x509.load_pem_x509_certificates(read_input(path, what="CA bundle")):
            return
    except ValueError:
        pass
    raise ConfigurationError(
        f"The CA bundle '{path}' holds no PEM certificate.",
        hint="Give the PEM file of the CA to trust, e.g. the emulator's ca.pem.")


def new_profile(name, *, tenant, client_id, credential=None, certificate=None,
                pfx_base64_env=None, password_env=None, password_file=None, prompt=None,
                scopes=(), cloud=None, authority_host=None, graph_endpoint=None, ca_bundle=None,
                send_chain=False, legacy_sha1=False, check_name_rules=True):
    """Validate everything and load the certificate once (so a wrong password or a missing key
    fails now, not at the first token), recording its thumbprints and expiry in the profile.

    ``credential`` is a ``credentials.CredentialSource``; the loose ``certificate``,
    ``pfx_base64_env``, ``password_env`` and ``password_file`` build one for callers that
    still pass them."""
    from . import credentials

    if check_name_rules:
        check_name(name)
    tenant, client_id = check_tenant(tenant), check_client_id(client_id)
    if credential is None:
        credential = credentials.from_fields(dict(
            certificate=certificate, pfx_base64_env=pfx_base64_env, password_env=password_env,
            password_file=password_file))
    credential = credentials.resolved(credential)
    credential.password()  # two password sources: the usual conflict error, before any work
    host, graph = clouds.resolve(cloud=cloud, authority_host=authority_host,
                                 graph_endpoint=graph_endpoint)
    if ca_bundle:
        ca_bundle = str(Path(ca_bundle).expanduser().resolve())
        check_ca_bundle(ca_bundle)
    if credential.kind == credentials.ClientSecret.kind:
        credential.secret()  # unset, empty or unreadable: said now, not at the first token
        recorded = {}  # no certificate: no thumbprint, no expiry
    else:
        recorded = _recorded_certificate(credential.load(prompt=prompt))
    return Profile(
        name=name, tenant=tenant, client_id=client_id, **credential.fields(), **recorded,
        scopes=tuple(scopes or ()), cloud=cloud, authority_host=host, graph_endpoint=graph,
        ca_bundle=ca_bundle, send_chain=bool(send_chain), legacy_sha1=bool(legacy_sha1))


def _recorded_certificate(loaded):
    """What a profile records of its certificate, once it is known to be able to sign in."""
    from . import certs

    if not loaded.has_private_key:
        raise CertificateError(
            f"'{loaded.source}' holds the certificate {loaded.thumbprint} but no private key, so "
            "a profile could not sign in with it.", path=loaded.source,
            thumbprint=loaded.thumbprint,
            hint="Give its separate key with --key-file KEY.pem, or the PFX, or a PEM holding "
                 "both the key and the certificate (join them with 'az entracert cert convert "
                 "--to pem').")
    certs.require_rsa(loaded)
    return dict(thumbprint=loaded.thumbprint, thumbprint_sha256=loaded.thumbprint_sha256,
                serial=loaded.serial, not_after=iso_z(loaded.certificate.not_valid_after_utc))


# Besides itself, a given field replaces these: the other half of its source pair (so a new
# password source replaces the old pair), and for a new key file its password source.
_REPLACES = {"password_env": ("password_file",), "password_file": ("password_env",),
             "key_password_env": ("key_password_file",),
             "key_password_file": ("key_password_env",),
             "key_file": ("key_password_env", "key_password_file"),
             "pin_env": ("pin_file",), "pin_file": ("pin_env",)}


def updated_credential(profile, given):
    """The ``CredentialSource`` of ``profile`` after an update giving ``given`` (credential
    fields; None or empty: not given), or None when none was given.

    A field that marks a kind (``credentials.KINDS``: a new certificate, stored certificate,
    token or client secret) starts a new source from only what was given: nothing of the old
    one carries over, except that a new certificate file or base64 PFX replacing another keeps
    its password source unless given one. Any other field changes the profile's own
    source and must belong to its kind (a PIN source means nothing to a certificate file).
    """
    from . import credentials

    given = {name: value for name, value in given.items() if value}
    if not given:
        return None
    old = profile.credential
    if given.keys() & credentials.KINDS.keys():
        new = credentials.from_fields(given)
        files = (credentials.CertificateFile, credentials.PfxBase64Env)
        if isinstance(old, files) and isinstance(new, files) and not (
                new.password_env or new.password_file):
            # A certificate renewed by hand is usually protected like the one it replaces.
            new = dataclasses.replace(new, password_env=old.password_env,
                                      password_file=old.password_file)
        return new
    own = {field.name for field in dataclasses.fields(old)}
    foreign = [name for name in given if name not in own]
    if foreign:
        raise ConfigurationError(
            f"{credentials.option_name(foreign[0])} cannot be used with profile '{profile.name}', "
            f"which signs in with {old.describe()}.",
            hint="To switch it to another kind, give the new source with its options: "
                 + ", ".join(map(credentials.option_name, credentials.KINDS)) + ".")
    replaced = {name: None for field in given for name in _REPLACES.get(field, ())}
    return dataclasses.replace(old, **{**replaced, **given})


def updated_profile(old, *, prompt=None, **given):
    """``old`` with the ``given`` fields changed (None: keep), validated like a new profile.

    A credential field changes the credential (by ``updated_credential``'s rule), which is then
    loaded again, recording its new thumbprints; otherwise only what changed is checked and the
    recorded thumbprints stay. ``ca_bundle=""`` returns to the system's trust store; a new cloud
    or authority host replaces both endpoints.
    """
    from . import credentials

    credential = updated_credential(old, {name: given.pop(name) for name in credentials.FIELDS
                                          if name in given})
    values = old.to_dict()
    if given.get("cloud") or given.get("authority_host"):
        values.update(cloud=given.get("cloud"), authority_host=given.get("authority_host"),
                      graph_endpoint=given.get("graph_endpoint"))
    for key in ("tenant", "client_id", "graph_endpoint", "send_chain", "legacy_sha1"):
        if given.get(key) is not None:
            values[key] = given[key]
    if given.get("scopes"):
        values["scopes"] = tuple(given["scopes"])
    if given.get("ca_bundle") is not None:
        values["ca_bundle"] = given["ca_bundle"] or None
    fields = {key: values.get(key) for key in (
        "tenant", "client_id", "scopes", "cloud", "authority_host", "graph_endpoint",
        "ca_bundle", "send_chain", "legacy_sha1")}
    if credential is not None:
        return new_profile(old.name, prompt=prompt, check_name_rules=False,
                           credential=credential, **fields)
    host, graph = clouds.resolve(cloud=fields["cloud"], authority_host=fields["authority_host"],
                                 graph_endpoint=fields["graph_endpoint"])
    if given.get("ca_bundle"):
        fields["ca_bundle"] = str(Path(given["ca_bundle"]).expanduser().resolve())
        check_ca_bundle(fields["ca_bundle"])
    return dataclasses.replace(
        old, tenant=check_tenant(fields["tenant"]), client_id=check_client_id(fields["client_id"]),
        cloud=fields["cloud"], authority_host=host, graph_endpoint=graph,
        ca_bundle=fields["ca_bundle"], scopes=tuple(fields["scopes"] or ()),
        send_chain=bool(fields["send_chain"]), legacy_sha1=bool(fields["legacy_sha1"]))
