"""Rotating a profile's certificate with the application's own key: no Graph permission needed.

The steps, each audited as ``rotate-<step>``, and what a failure at each leaves behind:

    write           the new PFX (+ .cer/.pem) lands next to the old one: nothing registered yet,
                    the profile keeps the old certificate
    addKey          Graph registers the new certificate, proof signed by the current one
                    (ENTRA-FACTS 5.1); on failure the new files are simply unused
    verify-token    a token is acquired with the new certificate (forced past the cache, retried
                    while Entra replicates the key); on failure the profile keeps the old one,
                    which is still registered
    switch-profile  the profile now points at the new certificate, thumbprint, serial and expiry
    removeKey       the old certificate is unregistered, proof signed by the new one (skipped with
                    ``keep_old``); on failure both stay registered and the profile works

The profile is switched only after the new certificate has proven it signs in, so at no moment
does it point at a certificate Entra ID does not accept. A failure raises ``RotationError``
listing the completed steps and the command that finishes the job.
"""
import dataclasses
import datetime
import re
import time
from pathlib import Path
from urllib.parse import quote

from .errors import ConfigurationError, EntraCertError, GraphError, RotationError
from .lifecycle import KnownKeys, admin_graph, audit_change, entry_thumbprint, graph_scopes
from .times import iso_z, utc_now

STEPS = ("write", "addKey", "verify-token", "switch-profile", "removeKey")
_DATED = re.compile(r"-\d{8}(-\d+)?$")


@dataclasses.dataclass
class _Plan:
    profile: object
    current: object            # LoadedCertificate with key
    object_id: str
    old_key_id: str            # None when keep_old and unknown
    subject: object
    sans: tuple
    days: int
    key_size: int
    out: Path
    password: bytes = dataclasses.field(default=None, repr=False)
    password_env: str = None
    password_file: str = None


def rotate(store, name, *, days=None, key_size=None, subject=None, sans=None, out=None,
           password_env=None, password_file=None, no_password=False, keep_old=False,
           dry_run=False, graph=None, directory=None, prompt=None, verify_attempts=4,
           verify_delay=6.0):
    """Rotate profile ``name``'s certificate; return ``{"steps": [{name, ok, detail}], ...}``.

    The new certificate keeps the current subject, SANs and key size unless told otherwise, and
    its lifetime defaults to the current one's. Its PFX is protected like the current file: the
    profile's password source (or the password typed at the prompt) unless ``password_env``,
    ``password_file`` or ``no_password`` say otherwise. ``graph`` (an admin or az-login client) is
    only used to look up the application's object id and the old keyId when ``KnownKeys`` does
    not hold them. ``dry_run`` returns the plan and changes nothing.
    """
    from . import certgen

    profile = store.get(name)
    plan = _plan(profile, days=days, key_size=key_size, subject=subject, sans=sans, out=out,
                 password_env=password_env, password_file=password_file,
                 no_password=no_password, keep_old=keep_old, graph=graph, directory=directory,
                 prompt=prompt)
    summary = {"profile": name, "appId": profile.client_id, "objectId": plan.object_id,
               "old": {"thumbprint": plan.current.thumbprint, "keyId": plan.old_key_id,
                       "removed": False},
               "new": {"subject": plan.subject.rfc4514_string(), "subjectAltNames": list(plan.sans),
                       "days": plan.days, "keySize": plan.key_size,
                       "files": {k: str(v) for k, v in certgen.bundle_paths(plan.out).items()}},
               "keepOld": keep_old, "dryRun": dry_run}
    if dry_run:
        planned = [s for s in STEPS if not (keep_old and s == "removeKey")]
        return {**summary, "steps": [{"name": s, "ok": None, "detail": "planned"} for s in planned]}

    steps, run = [], _Runner(profile, directory)
    new = certgen.create_self_signed(plan.subject, sans=plan.sans, key_size=plan.key_size,
                                     days=plan.days)
    summary["new"].update(thumbprint=new.thumbprint,
                          notAfter=iso_z(new.certificate.not_valid_after_utc))
    files = summary["new"]["files"]

    def fail(step, exc, remaining, state):
        steps.append({"name": step, "ok": False, "detail": getattr(exc, "message", str(exc))})
        run.audit(step, new, ok=False, detail=getattr(exc, "message", str(exc)))
        done = ", ".join(s["name"] for s in steps if s["ok"]) or "nothing"
        raise RotationError(
            f"Rotation of profile '{name}' stopped at step '{step}': "
            f"{getattr(exc, 'message', exc)} Done: {done}. {state} Remaining: "
            + " ; ".join(remaining), steps=steps, remaining=remaining,
            hint=remaining[0] if remaining else None) from exc

    def ok(step, detail, certificate):
        steps.append({"name": step, "ok": True, "detail": detail})
        run.audit(step, certificate, ok=True, detail=detail)

    still_old = (f"The profile still uses {plan.current.thumbprint}, which is registered and "
                 "signs in.")
    try:
        certgen.write_bundle(new, plan.out, password=plan.password)
    except EntraCertError as exc:
        fail("write", exc, [f"az entracert cert rotate --profile {name} --out NEW.pfx"], still_old)
    ok("write", f"wrote {files['pfx']}", new)

    app_graph = run.graph_as(profile)
    try:
        added = app_graph.call("POST", f"applications/{quote(plan.object_id)}/addKey", body={
            "keyCredential": _add_key_entry(new), "passwordCredential": None,
            "proof": _proof(plan.current, plan.object_id)})
    except EntraCertError as exc:
        fail("addKey", exc, [f"az entracert cert rotate --profile {name}"],
             still_old + f" The new files {files['pfx']} are not registered; delete them.")
    new_key_id = added.get("keyId")
    summary["new"]["keyId"] = new_key_id
    KnownKeys(directory).add(profile.client_id, new.thumbprint, new_key_id,
                             object_id=plan.object_id)
    ok("addKey", f"registered {new.thumbprint} as keyId {new_key_id}", new)

    switched = dataclasses.replace(
        profile, certificate=str(plan.out), pfx_base64_env=None, password_env=plan.password_env,
        password_file=plan.password_file, thumbprint=new.thumbprint,
        thumbprint_sha256=new.thumbprint_sha256, serial=new.serial,
        not_after=summary["new"]["notAfter"])
    new_prompt = (lambda _text: plan.password.decode("utf-8")) if plan.password else prompt
    try:
        run.prove(switched, attempts=verify_attempts, delay=verify_delay, prompt=new_prompt)
    except EntraCertError as exc:
        fail("verify-token", exc, [
            f"az entracert profile update --name {name} --certificate {files['pfx']} (once the "
            "new certificate signs in: Entra ID can take minutes to accept a new key)",
            _remove_command(name, plan.current.thumbprint)],
            still_old + f" The new certificate is registered as keyId {new_key_id}.")
    ok("verify-token", f"a token was issued for {new.thumbprint}", new)

    try:
        store.update(name, certificate=switched.certificate, pfx_base64_env=None,
                     password_env=switched.password_env, password_file=switched.password_file,
                     thumbprint=switched.thumbprint, thumbprint_sha256=switched.thumbprint_sha256,
                     serial=switched.serial, not_after=switched.not_after)
    except (EntraCertError, OSError) as exc:
        fail("switch-profile", exc, [
            f"az entracert profile update --name {name} --certificate {files['pfx']}",
            _remove_command(name, plan.current.thumbprint)],
            still_old + f" The new certificate (keyId {new_key_id}) is registered too.")
    ok("switch-profile", f"profile '{name}' now uses {new.thumbprint}", new)

    if keep_old:
        return {**summary, "steps": steps, "remaining": []}
    try:
        app_graph = run.graph_as(switched, prompt=new_prompt)
        app_graph.call("POST", f"applications/{quote(plan.object_id)}/removeKey", body={
            "keyId": plan.old_key_id, "proof": _proof(new, plan.object_id)})
    except EntraCertError as exc:
        fail("removeKey", exc, [_remove_command(name, plan.current.thumbprint)],
             f"The profile uses the new certificate {new.thumbprint}, which signs in; the old "
             f"one {plan.current.thumbprint} is still registered.")
    KnownKeys(directory).forget(profile.client_id, plan.current.thumbprint)
    summary["old"]["removed"] = True
    ok("removeKey", f"unregistered {plan.current.thumbprint} (keyId {plan.old_key_id})",
       plan.current)
    return {**summary, "steps": steps, "remaining": []}


def _plan(profile, *, days, key_size, subject, sans, out, password_env, password_file,
          no_password, keep_old, graph, directory, prompt):
    """Everything decided and checked before the first change; raises if anything is missing."""
    from . import certgen, certs, tokens
    from .secrets import password_source

    if profile.pfx_base64_env and not out:
        raise ConfigurationError(
            f"Profile '{profile.name}' reads its certificate from ${profile.pfx_base64_env}, so "
            "there is no folder to put the new one in.",
            hint="Pass --out NEW.pfx; the profile will then use that file.")
    typed = {}

    def remembering(text):  # the new PFX gets the password typed for the current one
        typed["password"] = prompt(text)
        return typed["password"]

    current = tokens.load_profile_certificate(profile, prompt=remembering if prompt else None)
    if not (password_env or password_file or no_password):  # protected like the current file
        password_env, password_file = profile.password_env, profile.password_file
    password = password_source(env=password_env, file=password_file, no_password=no_password
                               ).get(purpose="password for the new PFX")
    if password is None and not no_password and typed.get("password"):
        password = typed["password"].encode("utf-8")
    if password == b"":
        raise ConfigurationError("The password for the new PFX is empty.",
                                 hint="Give a non-empty password, or pass --no-password.")
    object_id, old_key_id = _application_facts(profile, current, graph=graph,
                                               directory=directory, need_key_id=not keep_old)
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
    out = Path(out).expanduser().resolve() if out else _next_to(profile.certificate)
    certgen.check_bundle_writable(out)
    if out.suffix.lower() not in (".pfx", ".p12"):
        raise ConfigurationError(f"The output '{out}' should end in .pfx or .p12.",
                                 hint="Name the file e.g. --out my-app.pfx.")
    return _Plan(profile, current, object_id, old_key_id, subject, sans, days, key_size, out,
                 password, password_env,
                 str(Path(password_file).expanduser().resolve()) if password_file else None)


def _application_facts(profile, current, *, graph, directory, need_key_id):
    """The application's object id and the current certificate's keyId: from what we already
    know, else from ``graph``, else by the application reading itself (if it may)."""
    record = KnownKeys(directory).get(profile.client_id) or {}
    object_id, key_id = record.get("objectId"), (record.get("keys") or {}).get(current.thumbprint)
    if object_id and (key_id or not need_key_id):
        return object_id, key_id
    readers = [graph] if graph is not None else []
    readers.append(_Runner(profile, directory).graph_as(profile))
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
    stem = _DATED.sub("", current.stem)
    day = utc_now().strftime("%Y%m%d")
    for index in range(1, 1000):
        candidate = current.with_name(f"{stem}-{day}{'' if index == 1 else f'-{index}'}.pfx")
        if not any(p.exists() for p in bundle_paths(candidate).values()):
            return candidate
    raise ConfigurationError(f"No free file name next to '{current}'.", hint="Pass --out PATH.")


def _add_key_entry(loaded):
    from .graph import key_credential

    entry = key_credential(loaded)
    return {k: entry[k] for k in ("type", "usage", "key", "displayName", "startDateTime",
                                  "endDateTime")}


def _proof(loaded, object_id):
    from .assertion import proof_of_possession

    return proof_of_possession(loaded, object_id=object_id)


def _remove_command(name, thumbprint):
    return (f"az entracert app cert remove --profile {name} --thumbprint {thumbprint} "
            "--admin-profile ADMIN (or --use-az-login)")


class _Runner:
    """Tokens and Graph calls as the application itself, and the audit of each step."""

    def __init__(self, profile, directory):
        self.profile, self.directory = profile, directory

    def graph_as(self, profile, *, prompt=None):
        return admin_graph(profile, directory=self.directory, prompt=prompt)

    def prove(self, profile, *, attempts, delay, prompt):
        """A fresh token signed by ``profile``'s certificate, retried while Entra catches up."""
        from . import tokens

        for attempt in range(1, attempts + 1):
            try:
                return tokens.acquire(profile, graph_scopes(profile.graph_endpoint), force=True,
                                      directory=self.directory, prompt=prompt)
            except EntraCertError:
                if attempt == attempts:
                    raise
                # Longer than MSAL's 5 s throttle after a 5xx, and time for a new key to reach
                # every Entra server (AADSTS700027 meanwhile).
                time.sleep(delay * attempt)

    def audit(self, step, loaded, *, ok, detail):
        audit_change(self.directory, self.profile, f"rotate-{step}", loaded,
                     outcome="success" if ok else "failure", detail=detail)
