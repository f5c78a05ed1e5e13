"""What a rotation will do, decided and checked before its first change; and the CA path.

``plan_rotation`` loads the current certificate, settles the new one's subject, SANs, key size,
lifetime and source (``new_source``: a new PFX and its password source, or a new key label on the
token), and finds the application's object id and the current keyId (from
``KnownKeys``, else by asking Graph). Anything missing or wrong raises here, before a file is
written or Graph is changed. The ``Plan`` it returns is what ``rotation.rotate`` reports for a dry
run and carries out otherwise.

A CA-issued certificate is never replaced by a self-signed one: ``csr=True`` writes a new key and
a certificate signing request (``write_request``, recorded as stage ``csr``), and
``complete=SIGNED`` joins the CA's certificate with that key (``assemble``); ``rotation`` then
walks its steps with the result.
"""
import dataclasses
import datetime
import re
from pathlib import Path

from .errors import CertificateError, ConfigurationError, GraphError
from .lifecycle import KnownKeys, admin_graph, audit_change, entry_thumbprint
from .times import iso_z, utc_now

# A rotation's date suffix (``-YYYYMMDD``, ``-N`` when taken); ``_undated`` checks the date.
_DATED = re.compile(r"-((?:19|20)\d{6})(-\d+)?$")


@dataclasses.dataclass
class Plan:
    """A rotation decided: the current certificate with its key and keyId, and the new one's
    subject, SANs, lifetime, key size and source.

    ``new_source`` is a ``credentials.CertificateFile`` naming the new PFX and its password
    source, or the profile's ``Pkcs11Key`` with the new key's label. A certificate that goes
    into the store (``stored``) is a PFX too, whose name the store gives it by thumbprint once
    it exists: its ``certificate`` is None until ``rotate`` has made it. ``password`` is the
    new PFX's (read or typed now); a PIN typed for a token is never kept here: the process stays
    logged in while ``current``'s session is open, and later sessions join (``pkcs11``)."""

    profile: object
    current: object            # LoadedCertificate with key
    object_id: str
    old_key_id: str            # None when keep_old and unknown
    subject: object
    sans: tuple
    days: int
    key_size: int
    keep_old: bool
    new_source: object         # credentials.CertificateFile or credentials.Pkcs11Key
    password: bytes = dataclasses.field(default=None, repr=False)
    stored: bool = False       # the new certificate goes into the store
    complete: str = None
    csr: bool = False

    @property
    def out(self):
        """The new PFX (None for a key on a token, or one the store will name)."""
        certificate = getattr(self.new_source, "certificate", None)
        return Path(certificate) if certificate else None

    def summary(self, *, dry_run):
        """The rotation as ``rotate`` reports it before its first step."""
        from .certgen import bundle_paths

        files = (_csr_paths(self.out) if self.csr else
                 {"pkcs11Key": self.new_source.pkcs11_key} if self.new_source.on_device
                 else {} if self.stored
                 else {k: str(v) for k, v in bundle_paths(self.out).items()})
        return {"profile": self.profile.name, "appId": self.profile.client_id,
                "objectId": self.object_id,
                "old": {"thumbprint": self.current.thumbprint, "keyId": self.old_key_id,
                        "removed": False},
                "new": {"subject": self.subject.rfc4514_string(),
                        "subjectAltNames": list(self.sans), "days": self.days,
                        "keySize": self.key_size, "files": files},
                "keepOld": self.keep_old, "dryRun": dry_run, "resumed": False}


def plan_rotation(profile, *, days, key_size, subject, sans, out, password_env, password_file,
                  no_password, keep_old, graph, directory, prompt, csr, complete):
    """Everything decided and checked before the first change; raises if anything is missing.

    The new certificate goes where the current one is: a new key on its token, a new PFX
    beside its file (or at ``out``), or into the store."""
    from . import certgen
    from .credentials import StoreThumbprint

    source = profile.credential
    _check_options(profile, out=out, csr=csr, complete=complete,
                   password_options=password_env or password_file or no_password)
    current, typed = _load_current(profile, prompt)
    if not (csr or complete):
        _check_self_signed(profile, current)
    # A store-backed profile's new certificate goes into the store too (unless --out says
    # where else); the CA path needs files the user hands to the CA, so it keeps using --out.
    in_store = isinstance(source, StoreThumbprint)
    if in_store and csr and not out:
        raise ConfigurationError(
            f"Profile '{profile.name}' uses a stored certificate, so there is no folder for the "
            "key and the request.", hint="Pass --out NEW.pfx.")
    stored = in_store and not (out or complete)
    password = None
    if not source.on_device:  # a PFX, protected like the current one unless told otherwise
        if not (password_env or password_file or no_password):
            like = source.entry() if in_store else source
            password_env, password_file = like.password_env, like.password_file
        password = _new_password(password_env, password_file, no_password=no_password,
                                 typed=typed)
    object_id, old_key_id = _application_facts(profile, current, graph=graph,
                                               directory=directory, need_key_id=not keep_old)
    subject, sans, days, key_size = _new_certificate(current, subject=subject, sans=sans,
                                                     days=days, key_size=key_size)
    if source.on_device:
        new_source = relabelled(source, _next_label(source, prompt))
    else:
        new_source = _new_file(source, out=out, stored=stored, password_env=password_env,
                               password_file=password_file)
    plan = Plan(profile, current, object_id, old_key_id, subject, sans, days, key_size, keep_old,
                new_source, password, stored=stored, complete=complete, csr=csr)
    if csr:
        for path in _csr_paths(plan.out).values():
            certgen.check_writable(path)
    return plan


def _check_options(profile, *, out, csr, complete, password_options):
    """What the command line combined, checked against each other and the profile's kind."""
    from .credentials import PfxBase64Env

    source = profile.credential
    if csr and complete:
        raise ConfigurationError("--csr and --complete are two separate runs.",
                                 hint="Run --csr first; --complete once the CA signed it.")
    if isinstance(source, PfxBase64Env) and not out:
        raise ConfigurationError(
            f"Profile '{profile.name}' reads its certificate from ${source.pfx_base64_env}, so "
            "there is no folder to put the new one in.",
            hint="Pass --out NEW.pfx; the profile will then use that file.")
    if source.on_device and (csr or complete or out or password_options):
        raise ConfigurationError(
            f"Profile '{profile.name}' uses a key on a PKCS#11 token: the new key is generated "
            "on that token, so --out, --csr, --complete and the PFX password options do not "
            "apply.", hint=f"Run 'az entracert cert rotate --profile {profile.name}' without "
                           "them.")


def _load_current(profile, prompt):
    """The current certificate with its key, and the password typed for it (None if none was):
    the new PFX gets that password. A PIN typed now is used once and not returned: ``current``
    keeps its session logged in for the rotation."""
    from . import tokens

    typed = {}

    def remembering(text):
        typed["password"] = prompt(text)
        return typed["password"]

    current = tokens.load_profile_certificate(
        profile, prompt=remembering if prompt and not profile.credential.on_device else prompt)
    return current, typed.get("password")


def _check_self_signed(profile, current):
    """A CA-issued certificate is renewed by its CA (``--csr``), never replaced here."""
    if not _self_signed(current.certificate):
        raise ConfigurationError(
            f"The certificate {current.thumbprint} of profile '{profile.name}' was issued by "
            f"'{current.certificate.issuer.rfc4514_string()}'; a rotation here would replace it "
            "with a self-signed one.",
            hint=f"Ask your CA for the new one: run 'az entracert cert rotate --profile "
                 f"{profile.name} --csr', have the request signed, then run 'az entracert cert "
                 f"rotate --profile {profile.name} --complete --cert SIGNED.crt'.")


def _new_password(password_env, password_file, *, no_password, typed):
    """The new PFX's password, read now from its source, else the one ``typed`` for the current
    certificate (None: no password)."""
    from .secrets import password_source

    password = password_source(env=password_env, file=password_file, no_password=no_password
                               ).get(purpose="password for the new PFX")
    if password is None and not no_password and typed:
        password = typed.encode("utf-8")
    if password == b"":
        raise ConfigurationError("The password for the new PFX is empty.",
                                 hint="Give a non-empty password, or pass --no-password.")
    return password


def _new_certificate(current, *, subject, sans, days, key_size):
    """The new certificate's subject, SANs, lifetime (days) and key size: those given, else
    the current certificate's (a key size we do not generate becomes 2048)."""
    from . import certgen, certs

    _, current_bits = certs.key_description(current.certificate)
    key_size = int(key_size or (current_bits if current_bits in certgen.KEY_SIZES else 2048))
    lifetime = current.certificate.not_valid_after_utc - current.certificate.not_valid_before_utc
    days = int(days or max(1, round(lifetime / datetime.timedelta(days=1))))
    if days < 1:
        raise ConfigurationError(f"A validity of {days} days is not possible.",
                                 hint="Use --days 1 or more.")
    subject = certgen.parse_subject(subject) if subject else current.certificate.subject
    sans = tuple(sans) if sans is not None else tuple(certs.subject_alt_names(current.certificate))
    for san in sans:
        certgen.parse_san(san)
    return subject, sans, days, key_size


def _new_file(source, *, out, stored, password_env, password_file):
    """The new PFX (``out``, else dated beside the current file; none yet for the store) with
    its password source, as a ``CertificateFile``."""
    from . import certgen
    from .credentials import CertificateFile

    out = (None if stored else Path(out).expanduser().resolve() if out
           else _next_to(source.certificate))
    if out and out.suffix.lower() not in (".pfx", ".p12"):
        raise ConfigurationError(f"The output '{out}' should end in .pfx or .p12.",
                                 hint="Name the file e.g. --out my-app.pfx.")
    if out:
        certgen.check_bundle_writable(out)
    return CertificateFile(
        certificate=out and str(out), password_env=password_env,
        password_file=str(Path(password_file).expanduser().resolve()) if password_file
        else None)


def _application_facts(profile, current, *, graph, directory, need_key_id):
    """The application's object id and the current certificate's keyId: from what we already
    know, else from ``graph``, else by the application reading itself (if it may)."""
    record = KnownKeys(directory).get(profile.client_id) or {}
    object_id, key_id = record.get("objectId"), (record.get("keys") or {}).get(current.thumbprint)
    if object_id and (key_id or not need_key_id):
        return object_id, key_id
    readers = [graph] if graph is not None else []
    readers.append(admin_graph(profile, directory=directory))
    refusals = []
    for reader in readers:
        try:
            application = reader.find_application(profile.client_id)
        except GraphError as exc:
            refusals.append(exc.message)
            continue
        KnownKeys(directory).remember(application)
        entry = next((e for e in application.get("keyCredentials") or []
                      if entry_thumbprint(e) == current.thumbprint), None)
        if entry is None:
            raise ConfigurationError(
                f"The certificate {current.thumbprint} of profile '{profile.name}' is not "
                f"registered on application {profile.client_id}, so it cannot sign the addKey "
                "proof.", hint="Register a certificate with 'az entracert app cert add', then "
                               "point the profile at it.")
        return application["id"], entry["keyId"]
    raise ConfigurationError(
        f"Rotation needs the object id of application {profile.client_id} and the keyId of its "
        "current certificate, and they are not known yet: " + " ".join(refusals),
        hint="Run the rotation once with --admin-profile NAME or --use-az-login (to look them "
             "up); they are remembered afterwards.")


def _next_to(certificate):
    """``<folder>/<stem>-YYYYMMDD.pfx`` beside the current file (``-2``, ``-3``... if taken)."""
    from .certgen import bundle_paths

    current = Path(certificate)
    stem = _undated(current.stem)
    day = utc_now().strftime("%Y%m%d")
    for index in range(1, 1000):
        candidate = current.with_name(f"{stem}-{day}{'' if index == 1 else f'-{index}'}.pfx")
        taken = [*bundle_paths(candidate).values(), *map(Path, _csr_paths(candidate).values())]
        if not any(p.exists() for p in taken):
            return candidate
    raise ConfigurationError(f"No free file name next to '{current}'.", hint="Pass --out PATH.")


def _next_label(source, prompt):
    """``<label>-YYYYMMDD`` (``-2``, ``-3``... if taken) on ``source``'s token: a label of its
    own, since the current key must sign the addKey proof while the new one exists."""
    from .pkcs11 import labels

    taken = labels(source, prompt=prompt)
    stem, day = _undated(source.pkcs11_key), utc_now().strftime("%Y%m%d")
    for index in range(1, 1000):
        candidate = f"{stem}-{day}{'' if index == 1 else f'-{index}'}"
        if candidate not in taken:
            return candidate
    raise ConfigurationError(f"No free key label on token '{source.pkcs11_token}'.",
                             hint="Delete the keys of earlier rotations from the token.")


def _undated(name):
    """``name`` without the ``-YYYYMMDD`` (and ``-N``) an earlier rotation gave it. Only a real
    date counts: a name of the user's own ending in eight digits (``app-12345678``) is kept."""
    dated = _DATED.search(name)
    try:
        datetime.datetime.strptime(dated[1], "%Y%m%d")
    except (TypeError, ValueError):  # no date suffix, or digits that are no date (20250230)
        return name
    return name[:dated.start()]


def relabelled(source, label):
    """The PKCS#11 key ``source`` with key label ``label``, on the same token (a URI names it
    as its ``object``, without the old pair's ``id``)."""
    uri = source.uri.with_object(label).text() if source.uri else None
    return dataclasses.replace(source, pkcs11_key=label, pkcs11_uri=uri)


def _csr_paths(out):
    return {"key": str(Path(out).with_suffix(".key")), "csr": str(Path(out).with_suffix(".csr"))}


def _self_signed(certificate):
    if certificate.issuer != certificate.subject:
        return False
    try:
        certificate.verify_directly_issued_by(certificate)
        return True
    except Exception:  # noqa: BLE001 - InvalidSignature, TypeError (key types), ValueError
        return False


def write_request(profile, plan, directory):
    """``--csr``: a new key (protected like the new PFX will be) and a request for the CA."""
    from . import certgen

    paths = _csr_paths(plan.out)
    key, request = certgen.create_csr(plan.subject, sans=plan.sans, key_size=plan.key_size)
    certgen.write_csr(key, request, key_out=paths["key"], out=paths["csr"],
                      password=plan.password)
    KnownKeys(directory).set_pending(profile.client_id, {
        "profile": profile.name, "stage": "csr", "certificate": str(plan.out),
        "key": paths["key"], "csr": paths["csr"], "passwordEnv": plan.new_source.password_env,
        "passwordFile": plan.new_source.password_file, "encrypted": plan.password is not None,
        "keepOld": plan.keep_old, "started": iso_z(utc_now())})
    detail = (f"wrote the key {paths['key']} and the request {paths['csr']}; once the CA has "
              f"signed it, run 'az entracert cert rotate --profile {profile.name} --complete "
              "--cert SIGNED.crt'")
    audit_change(directory, profile, "rotate-csr", None, detail=detail)
    return {"steps": [{"name": "csr", "ok": True, "detail": detail}], "remaining": [
        f"az entracert cert rotate --profile {profile.name} --complete --cert SIGNED.crt"]}


def assemble(plan, pending):
    """``--complete``: the CA's certificate with the key of the request, fit for Entra ID."""
    from . import certgen, certs
    from .secrets import PasswordSource

    key_password = (PasswordSource.from_prompt(lambda _text: plan.password.decode("utf-8"))
                    if plan.password else None)
    new = certgen.assemble(plan.complete, pending["key"], key_password=key_password)
    checks = certs.validate(certs.LoadedCertificate(new.certificate, None, (), new.source))
    failed = [f"{c['name']} ({c['detail']})" for c in checks["checks"]
              if c["severity"] == "error" and not c["ok"]]
    if failed or new.thumbprint == plan.current.thumbprint:
        raise CertificateError(
            f"The certificate {new.thumbprint} in '{plan.complete}' cannot replace the current "
            f"one: {'; '.join(failed) or 'it is the current certificate'}.",
            path=plan.complete, thumbprint=new.thumbprint,
            hint="Give the certificate the CA issued for the request of --csr.")
    return new
