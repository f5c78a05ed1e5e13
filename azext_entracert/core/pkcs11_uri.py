"""PKCS#11 URIs (RFC 7512, https://www.rfc-editor.org/rfc/rfc7512): a key on a token named in one
string, ``pkcs11:path-attributes?query-attributes``.

The path names the token (label, and optionally serial, manufacturer, model, slot or library
attributes, matched whenever the token is opened) and the key pair (its label, which its
certificate shares, and optionally its CKA_ID); the query names the module (``module-path``, or
``module-name`` resolved through p11-kit's module configs) and where the PIN is (``pin-source``).
A PIN inside the URI (``pin-value``) is refused: shell history and the profile would keep it.
This is URI syntax, not cryptography: the standard library reads it.
"""
import contextlib
import dataclasses
import os
import re
from pathlib import Path

from .errors import ConfigurationError

URI_EXAMPLE = ("pkcs11:token=entracert;object=my-app?module-name=softhsm2"
               "&pin-source=file:/path/pin")
# Path attributes that narrow the token, read the way python-pkcs11 exposes them.
TOKEN_ATTRIBUTES = {
    "serial": lambda token: token.serial.decode("ascii", "replace"),
    "manufacturer": lambda token: token.manufacturer_id,
    "model": lambda token: token.model,
    "slot-id": lambda token: str(token.slot.slot_id),
    "slot-description": lambda token: token.slot.slot_description,
    "slot-manufacturer": lambda token: token.slot.manufacturer_id,
}
LIBRARY_ATTRIBUTES = {
    "library-manufacturer": lambda library: library.manufacturer_id,
    "library-description": lambda library: library.library_description,
    "library-version": lambda library: "{}.{}".format(*library.library_version),
}
_PATH_ATTRIBUTES = {"token", "object", "type", "id", *TOKEN_ATTRIBUTES, *LIBRARY_ATTRIBUTES}
_QUERY_ATTRIBUTES = {"module-path", "module-name", "pin-source", "pin-value"}
# Where p11-kit finds module configs (NAME.module), the package's first, the user's last (and
# winning).
P11_KIT_CONFIGS = ("/usr/share/p11-kit/modules", "/etc/pkcs11/modules",
                   "~/.config/pkcs11/modules")


@dataclasses.dataclass(frozen=True)
class Pkcs11Uri:
    """A PKCS#11 URI, read: the module's path, the token's label, the key pair's label (its
    certificate shares it) and CKA_ID, the PIN file, and ``selectors``: (attribute, value) pairs
    that narrow the token, matched whenever it is opened. It never holds a PIN."""

    module: str = None
    token: str = None
    key: str = None
    key_id: bytes = None
    pin_file: str = None
    selectors: tuple = ()
    module_name: str = None    # the p11-kit name ``module`` was found by, kept for the record
    kind: str = None           # its ``type``, when given

    def text(self):
        """The URI rebuilt from what was read, as a profile records and shows it: attributes
        that were ignored (an unknown query one could hold a PIN) are not carried along."""
        from urllib.parse import quote, quote_from_bytes

        path = [("token", self.token), *self.selectors, ("object", self.key),
                ("type", self.kind)]
        attributes = [f"{name}={quote(value, safe='')}" for name, value in path if value]
        if self.key_id:
            attributes.insert(-1 if self.kind else len(attributes),
                              f"id={quote_from_bytes(self.key_id, safe='')}")
        query = [("module-name", self.module_name) if self.module_name else
                 ("module-path", self.module),
                 ("pin-source", self.pin_file and "file:" + self.pin_file)]
        return "pkcs11:" + ";".join(attributes) + "?" + "&".join(
            f"{name}={quote(value, safe='/:')}" for name, value in query if value)

    def with_object(self, label):
        """The same token's key pair labelled ``label``, with no ``id`` (a new pair has its own)."""
        return dataclasses.replace(self, key=label, key_id=None)


def parse_uri(text):
    """``text``, an RFC 7512 PKCS#11 URI (``pkcs11:path-attributes?query-attributes``), as a
    ``Pkcs11Uri``; refused with a ``ConfigurationError`` naming the attribute at fault. Errors
    never repeat the whole URI (a pin-value in it would be a PIN)."""
    from urllib.parse import unquote, unquote_to_bytes

    def refuse(what, hint=f"A valid one: {URI_EXAMPLE}"):
        raise ConfigurationError(f"The PKCS#11 URI {what}.", hint=hint)

    scheme, colon, rest = text.partition(":")
    if not colon or scheme.lower() != "pkcs11":
        refuse("does not start with 'pkcs11:'")
    path, _, query = rest.partition("?")
    found = {}
    for part, separator, known in ((path, ";", _PATH_ATTRIBUTES),
                                   (query, "&", _QUERY_ATTRIBUTES)):
        for attribute in filter(None, part.split(separator)):
            name, equals, value = attribute.partition("=")
            shown = "pin-value=..." if name == "pin-value" else attribute
            if not equals:
                refuse(f"has '{shown}', which is no name=value attribute")
            if re.search(r"%(?![0-9A-Fa-f]{2})", value):
                refuse(f"has a bad percent escape in '{shown}'",
                       hint="Write '%' followed by two hex digits (%20 for a space, %25 for '%').")
            if name not in known:
                # RFC 7512, section 2.5: an unrecognised path attribute, a vendor's "x-" one
                # included, SHOULD match no object; an unrecognised query attribute SHOULD be
                # ignored.
                if separator == "&":
                    continue
                refuse(f"has the attribute '{name}', which entracert does not know",
                       hint=f"Supported: {', '.join(sorted(_PATH_ATTRIBUTES))}. {URI_EXAMPLE}")
            if name in found:  # RFC 7512, section 2.3: each attribute at most once
                refuse(f"repeats the attribute '{name}'", hint="Give each attribute once.")
            try:  # pin-source is a URI of its own, decoded after it is split
                found[name] = unquote_to_bytes(value) if name == "id" else value \
                    if name == "pin-source" else unquote(value, errors="strict")
            except UnicodeDecodeError:
                refuse(f"has '{shown}', whose value is not UTF-8 once percent-decoded")
    return _uri_value(found, refuse)


def _uri_value(found, refuse):
    """The ``Pkcs11Uri`` of the decoded attributes ``found``, checked for what entracert needs."""
    if "pin-value" in found:
        refuse("holds the PIN (pin-value): shell history and the profile file would keep it",
               hint="Name a file holding the PIN instead (pin-source=file:/path/pin), or use "
                    "--pin-env VAR or --pin-file F.")
    kind = found.get("type", "private")
    if kind not in ("private", "cert"):
        refuse(f"names a '{kind}' object (type={kind})",
               hint="entracert signs with a private key and its certificate: use type=private "
                    "or type=cert, or leave type out.")
    if "module-path" in found and "module-name" in found:
        refuse("gives both module-path and module-name", hint="Give one of them.")
    if not (found.get("token") or found.get("serial")):
        refuse("names no token", hint=f"Add token=LABEL (or serial=...), e.g. {URI_EXAMPLE}")
    if not found.get("object"):
        refuse("names no key", hint=f"Add object=LABEL, the key's label, e.g. {URI_EXAMPLE}")
    if not re.fullmatch(r"\d*", found.get("slot-id", "")):
        refuse(f"has slot-id={found['slot-id']}, which is not a number")
    if "library-version" in found:
        version = re.fullmatch(r"(\d+)(?:\.(\d+))?", found["library-version"])
        if not version:
            refuse(f"has library-version={found['library-version']}, which is not M or M.N")
        found["library-version"] = f"{int(version[1])}.{int(version[2] or 0)}"
    module = None
    if "module-path" in found:
        module = _absolute("module-path", found["module-path"], refuse)
    elif "module-name" in found:
        module = _p11_kit_module(found["module-name"], refuse)
    return Pkcs11Uri(
        module=module, token=found.get("token"), key=found["object"], key_id=found.get("id"),
        pin_file=_pin_file(found["pin-source"], refuse) if "pin-source" in found else None,
        selectors=tuple((name, value) for name, value in found.items()
                        if name in TOKEN_ATTRIBUTES or name in LIBRARY_ATTRIBUTES),
        module_name=found.get("module-name"), kind=found.get("type"))


def _p11_kit_module(name, refuse):
    """The library of p11-kit's module ``name``: the 'module:' line of its NAME.module config
    (the user's over the system's), a relative one taken from p11-kit's module folder."""
    library = None
    for folder in P11_KIT_CONFIGS:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            for line in (Path(folder).expanduser() / f"{name}.module").read_text().splitlines():
                key, colon, value = line.partition(":")
                if colon and key.strip() == "module":
                    library = value.strip()
    if not library:
        known = sorted({p.stem for folder in P11_KIT_CONFIGS
                        for p in Path(folder).expanduser().glob("*.module")})
        refuse(f"names module-name={name}, which no p11-kit module config ({name}.module in "
               f"{', '.join(P11_KIT_CONFIGS)}) describes",
               hint=f"Modules known to p11-kit: {', '.join(known) or 'none'}; or give the "
                    "library's path with module-path=/path/to/module.so.")
    if os.path.isabs(library):
        return library
    candidates = [os.path.join(folder, library) for folder in p11_kit_module_dirs()]
    return next((path for path in candidates if os.path.isfile(path)), candidates[0])


def p11_kit_module_dirs():
    """The folders p11-kit resolves a relative 'module:' against (its P11_MODULE_PATH, which
    Debian puts under the multiarch library folder)."""
    import sysconfig

    arch = sysconfig.get_config_var("MULTIARCH")
    return [*([f"/usr/lib/{arch}/pkcs11"] if arch else []), "/usr/lib64/pkcs11", "/usr/lib/pkcs11"]


def _pin_file(source, refuse):
    """The PIN file a pin-source names: a file: URI (RFC 8089) or a plain path, still
    percent-encoded (so that an encoded '?' or '#' is part of the name, not a delimiter)."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(source)
    if parts.scheme == "file" and parts.netloc in ("", "localhost") and parts.path:
        return unquote(parts.path)
    if parts.scheme:
        refuse(f"has pin-source={unquote(source)}, which is neither a file: URI nor a path",
               hint="Use pin-source=file:/path/pin (a file holding the PIN).")
    return _absolute("pin-source", unquote(source), refuse)


def _absolute(name, path, refuse):
    """``path`` (``~`` expanded) if absolute: a profile keeps the URI and is used from any
    folder, where a relative path would lead elsewhere."""
    path = os.path.expanduser(path)
    if not os.path.isabs(path):
        refuse(f"has the relative path {name}={path}",
               hint=f"Give an absolute path: the URI is kept in the profile and used from any "
                    f"folder, e.g. {name}={os.path.abspath(path)}.")
    return path
