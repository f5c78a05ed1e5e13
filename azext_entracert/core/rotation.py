"""Rotating a profile's certificate with the application's own key: no Graph permission needed.

A rotation is the list ``STEPS``, walked by one loop (``_walk``). Each step does one thing, has
its undo, and says where things stand if it fails; each is audited as ``rotate-<step>``:

    write           the new PFX, .cer and .pem land next to the old one (for a profile using the
                    certificate store: the new certificate goes into the store; for a key on a
                    PKCS#11 token: a new key pair, labelled ``<label>-YYYYMMDD``, is generated on
                    the token with its certificate, signed there). Undo: delete them, when the
                    rotation ends with the new certificate known not to be registered
    addKey          Graph registers the new certificate, proof signed by the current one
                    (ENTRA-FACTS 5.1). When Graph's answer is lost (timeout, unreadable reply, a
                    gateway's 5xx) the outcome is unknown and a token signed by the new
                    certificate decides: it works, so the key is registered; AADSTS700027 until
                    the replication wait is over, so it is not
    verify-token    a token is acquired with the new certificate, forced past the cache and
                    retried with bounded back-off while Entra ID replicates the key (ENTRA-FACTS 8)
    switch-profile  the profile now points at the new certificate
    removeKey       the old certificate is unregistered, proof signed by the new one (left out
                    with ``keep_old``); a stored one then leaves the store, a token's old key
                    pair and certificate are deleted from the token (with ``keep_old`` they
                    stay, as the old certificate is still registered)

Before addKey is sent the rotation is recorded as pending in ``KnownKeys`` (the new file, its
password source, the old keyId, the last step done), and each later step advances the record.
A rotation that stopped (an error, a killed process) is picked up by the next ``rotate`` of the
profile: it finds out whether the new certificate is registered and finishes the job, or deletes
the unused files and starts afresh. No registered key is left behind unknown to the profile.

The profile is switched only after the new certificate has obtained a token, so at no moment does
it point at a certificate Entra ID does not accept. A failure raises ``RotationError`` saying what
was done, where things stand, and the command that finishes the job.

``rotation_plan`` owns what is settled before the first change (the new certificate's subject,
lifetime, file and password; the application's object id and current keyId) and the CA path, by
which a CA-issued certificate is renewed by its CA, never replaced by a self-signed one.
"""
import dataclasses
import logging
from pathlib import Path
from urllib.parse import quote

from .errors import (
    AuthenticationError,
    ConfigurationError,
    EntraCertError,
    GraphError,
    NetworkError,
    RotationError,
    StoreError,
)
from .lifecycle import (
    VERIFY_TIMEOUT,
    KnownKeys,
    admin_graph,
    audit_change,
    profile_actor,
    wait_for_token,
)
from .rotation_plan import assemble, plan_rotation, relabelled, write_request
from .times import iso_z, utc_now

logger = logging.getLogger("entracert")
NOT_REGISTERED = 700027  # AADSTS: the key is unknown to Entra ID (or not yet on every replica)


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of a rotation: ``run(r)`` does it and returns what it did; ``undo(r)`` reverts it
    when the new certificate is known not to be registered; ``state(r)`` says where things stand
    when it fails, and ``remaining(r)`` the commands that finish the job."""

    name: str
    run: object
    state: object = None
    remaining: object = None
    undo: object = None


@dataclasses.dataclass
class _Rotation:
    """One rotation as it goes: the profile, the new certificate and what Graph and Entra said."""

    store: object
    profile: object               # as stored when the rotation began
    new: object                   # the new LoadedCertificate, with its key
    source: object                # where it is: CertificateFile (new PFX, .cer and .pem beside
    object_id: str                # it; in the store: the stored PFX) or Pkcs11Key (new label)
    old_thumbprint: str
    old_key_id: str
    keep_old: bool
    directory: object
    password: bytes = dataclasses.field(default=None, repr=False)  # of the new PFX
    prompt: object = None
    current: object = None        # the current certificate with its key (signs the addKey proof)
    key_id: str = None            # the new keyId, once Graph gave it
    registered: object = False    # True, False, or None while Graph's answer is unknown
    lost: str = None              # why Graph's answer to addKey is unknown
    proven: bool = False          # a token signed by the new certificate was issued
    resumed: bool = False
    earlier: tuple = ()           # the steps an earlier, interrupted run did
    restore: dict = None          # the pending record to put back on cleanup (a CSR's)
    timeout: float = None
    verify_timeout: float = VERIFY_TIMEOUT
    verify_delay: float = 2.0
    steps: list = dataclasses.field(default_factory=list)
    stored: bool = False          # the new certificate went into the store (``source``: its PFX)
    old_token_key: str = None     # the current key's label on the token (deleted after removeKey)

    @property
    def token_key(self):
        """The new key's label on the profile's PKCS#11 token (None for a PFX)."""
        return self.source.pkcs11_key if self.source.on_device else None

    @property
    def out(self):
        return None if self.token_key else Path(self.source.certificate)

    @property
    def files(self):
        from .certgen import bundle_paths

        if self.token_key:
            return {}
        return {"pfx": self.out} if self.stored else bundle_paths(self.out)

    @property
    def listing(self):
        if self.stored:
            return f"stored certificate {self.new.thumbprint}"
        if self.token_key:
            return f"key '{self.token_key}' on token '{self.source.pkcs11_token}'"
        return _and([str(p) for p in self.files.values()])

    def switched(self):
        """The profile as it is once it uses the new certificate."""
        from .credentials import StoreThumbprint

        new = (StoreThumbprint(store_thumbprint=self.new.thumbprint) if self.stored
               else self.source)
        return dataclasses.replace(
            self.profile, **new.fields(), thumbprint=self.new.thumbprint,
            thumbprint_sha256=self.new.thumbprint_sha256, serial=self.new.serial,
            not_after=iso_z(self.new.certificate.not_valid_after_utc))

    @property
    def new_prompt(self):
        """What loads the new certificate: its PFX's password, known already, else the prompt
        (a token's sessions join the login the current key's holds, asking no PIN)."""
        return (lambda _text: self.password.decode("utf-8")) if self.password else self.prompt

    def graph(self, profile):
        return admin_graph(profile, directory=self.directory, timeout=self.timeout,
                           prompt=self.new_prompt)

    def record(self, stage, **extra):
        """Advance the pending record to ``stage`` (the last step done). Its keys are read by
        ``_resume`` and ``_pending_plan``, also from records written by earlier versions."""
        KnownKeys(self.directory).set_pending(self.profile.client_id, {
            "profile": self.profile.name, "stage": stage, "objectId": self.object_id,
            "certificate": self.out and str(self.out), "tokenKey": self.token_key,
            "oldTokenKey": self.old_token_key,
            "thumbprint": self.new.thumbprint,
            "keyId": self.key_id, "passwordEnv": self.source.password_env,
            "passwordFile": self.source.password_file, "oldThumbprint": self.old_thumbprint,
            "oldKeyId": self.old_key_id, "keepOld": self.keep_old, "stored": self.stored,
            "started": iso_z(utc_now()), **extra})

    def forget(self, *, cleanup=False):
        """Drop the pending record: the rotation is done, or (``cleanup``) it registered
        nothing, and the CSR it completed, if any, is waiting again."""
        KnownKeys(self.directory).set_pending(self.profile.client_id,
                                              self.restore if cleanup else None)

    def audit(self, step, *, ok, detail):
        loaded = self.current if step == "removeKey" and ok else self.new
        # addKey and removeKey are made as the application itself, proof signed by its key.
        audit_change(self.directory, self.profile, f"rotate-{step}", loaded,
                     outcome="success" if ok else "failure", detail=detail,
                     actor=profile_actor(self.profile), app_id=self.profile.client_id)


# --- The steps ------------------------------------------------------------------------------------

def _write(r):
    from . import certgen
    from .store import CertificateStore

    if r.stored:
        CertificateStore().add(r.new, password=r.password, password_env=r.source.password_env,
                               password_file=r.source.password_file)
    elif r.token_key is None:  # a token's key and certificate are on it already (``rotate``)
        certgen.write_bundle(r.new, r.out, password=r.password)
    try:
        r.record("write")  # before addKey: a rotation stopped from here on is found again
    except EntraCertError:
        _delete_files(r)
        raise
    return f"{'stored' if r.stored else 'generated' if r.token_key else 'wrote'} {r.listing}"


def _delete_files(r):
    from . import pkcs11
    from .store import CertificateStore

    if r.token_key:
        pkcs11.delete_key(r.source, prompt=r.prompt)
        return f"its {r.listing} was deleted"
    if r.stored:
        CertificateStore().remove(r.new.thumbprint)
        return "it was removed from the certificate store"
    for path in r.files.values():
        path.unlink(missing_ok=True)
    return f"its files {r.listing} were deleted"


def _add_key(r):
    if r.resumed:
        r.lost = "the earlier rotation stopped before Graph's answer to addKey was recorded"
    else:
        r.registered = None  # from the moment the request leaves
        try:
            added = r.graph(r.profile).call(
                "POST", f"applications/{quote(r.object_id)}/addKey", body={
                    "keyCredential": _add_key_entry(r.new), "passwordCredential": None,
                    "proof": _proof(r.current, r.object_id)})
        except EntraCertError as exc:
            if not _answer_lost(exc):
                r.registered = False
                raise
            r.lost = f"Graph's answer was lost: {_clause(exc.message)}"
        else:
            r.key_id = added.get("keyId") if isinstance(added, dict) else None
            if r.key_id:
                r.registered = True
                KnownKeys(r.directory).add(r.profile.client_id, r.new.thumbprint, r.key_id,
                                           object_id=r.object_id)
                r.record("addKey")
                return f"registered {r.new.thumbprint} as keyId {r.key_id}"
            r.lost = "Graph answered without the new keyId"
    logger.warning("Whether Graph registered the new certificate %s is not known: %s. A token "
                   "signed by it will tell.", r.new.thumbprint, r.lost)
    try:
        _prove(r)
    except AuthenticationError as exc:
        if exc.code == NOT_REGISTERED:
            r.registered = False
        raise
    r.registered = True
    r.record("addKey")
    return (f"registered {r.new.thumbprint} ({r.lost}; a token signed by it proved it is "
            "registered; its keyId is not known)")


def _verify(r):
    if not r.proven:
        _prove(r)
    r.record("verify-token")
    return f"a token was issued for {r.new.thumbprint}"


def _switch(r):
    switched = r.switched()
    r.store.update(r.profile.name, **switched.credential.fields(),
                   thumbprint=switched.thumbprint, thumbprint_sha256=switched.thumbprint_sha256,
                   serial=switched.serial, not_after=switched.not_after)
    r.record("switch-profile")
    return f"profile '{r.profile.name}' now uses {r.new.thumbprint}"


def _remove_old(r):
    try:
        r.graph(r.switched()).call("POST", f"applications/{quote(r.object_id)}/removeKey", body={
            "keyId": r.old_key_id, "proof": _proof(r.new, r.object_id)})
    except GraphError as exc:
        if not (r.resumed and exc.status == 404):  # an earlier try removed it, its answer lost
            raise
    KnownKeys(r.directory).forget(r.profile.client_id, r.old_thumbprint)
    if r.stored:  # unregistered, it can no longer sign in: keeping its key would only risk it
        _forget_stored(r.old_thumbprint)
        return (f"unregistered {r.old_thumbprint} (keyId {r.old_key_id}) and removed it from "
                "the certificate store")
    if r.token_key:
        from . import pkcs11

        old = relabelled(r.source, r.old_token_key)
        pkcs11.delete_key(old, prompt=r.prompt)
        return (f"unregistered {r.old_thumbprint} (keyId {r.old_key_id}) and deleted key "
                f"'{r.old_token_key}' and its certificate from token '{old.pkcs11_token}'")
    return f"unregistered {r.old_thumbprint} (keyId {r.old_key_id})"


def _forget_stored(thumbprint):
    from .store import CertificateStore

    try:
        CertificateStore().remove(thumbprint)
    except StoreError:  # already gone (an earlier try, or the user removed it)
        pass


def _kept(r):
    kept = (f"new {r.listing} is" if r.stored or r.token_key
            else f"new files {r.listing} are")
    return (f" The profile still uses {r.old_thumbprint}, which is registered and signs in. The "
            f"{kept} kept, and the rotation is recorded as unfinished.")


STEPS = (
    Step("write", _write, undo=_delete_files),  # fails or is undone with nothing registered
    Step("addKey", _add_key,
         state=lambda r: (f"Whether Graph registered the new certificate {r.new.thumbprint} is "
                          f"not known: {r.lost}, and no token signed by it could be obtained to "
                          "tell." + _kept(r)),
         remaining=lambda r: [_again(r)]),
    Step("verify-token", _verify,
         state=lambda r: (f"The new certificate {r.new.thumbprint} is registered"
                          + (f" as keyId {r.key_id}" if r.key_id else "")
                          + f", but Entra ID did not accept it within {r.verify_timeout:g} s."
                          + _kept(r)),
         remaining=lambda r: [_again(r)]),
    Step("switch-profile", _switch,
         state=lambda r: (f"The new certificate {r.new.thumbprint} is registered and signs in, "
                          "but the profile was not switched to it." + _kept(r)),
         remaining=lambda r: [_again(r)]),
    Step("removeKey", _remove_old,
         state=lambda r: (f"The profile uses the new certificate {r.new.thumbprint}, which signs "
                          f"in; the old one {r.old_thumbprint} is still registered."),
         remaining=lambda r: [_again(r), _remove_command(r.profile.name, r.old_thumbprint)]),
)
STEP_NAMES = tuple(step.name for step in STEPS)


def _walk(r, steps):
    """Run ``steps`` in order; on a failure, undo what a known-unregistered certificate leaves
    and raise ``RotationError`` with where things stand and what finishes the job."""
    for step in steps:
        try:
            detail = step.run(r)
        except (EntraCertError, OSError) as exc:
            raise _stopped(r, step, exc) from exc
        r.steps.append({"name": step.name, "ok": True, "detail": detail})
        r.audit(step.name, ok=True, detail=detail)
    r.forget()


def _stopped(r, step, exc):
    cause = _sentence(getattr(exc, "message", None) or str(exc))
    r.steps.append({"name": step.name, "ok": False, "detail": cause})
    r.audit(step.name, ok=False, detail=cause)
    done = [*r.earlier, *(s["name"] for s in r.steps if s["ok"])]
    if r.registered is False:
        undone = [s.undo(r) for s in reversed(STEPS) if s.name in done and s.undo]
        r.forget(cleanup=True)
        why = f" ({r.lost}, and Entra ID refused it for {r.verify_timeout:g} s)" if r.lost else ""
        state = (f"The new certificate {r.new.thumbprint} is not registered{why}; "
                 f"{_and(undone) if undone else 'no file was written'}. The profile still uses "
                 f"{r.old_thumbprint}, which is registered and signs in.")
        remaining = [_again(r)]
        hint = f"Run '{remaining[0]}' to rotate again."
    else:
        state, remaining = step.state(r), step.remaining(r)
        hint = (f"Run '{remaining[0]}': it picks this rotation up where it stopped and finishes "
                "it" + (" (Entra ID can take minutes to accept a new key)."
                        if step.name == "verify-token" else "."))
    return RotationError(
        f"Rotation of profile '{r.profile.name}' stopped at step '{step.name}'. {cause} {state} "
        + (f"Steps done: {_and(done)}." if done else "No step was completed."),
        steps=r.steps, remaining=remaining, hint=hint)


def _prove(r):
    """A fresh token signed by the new certificate, waited for while Entra ID replicates it."""
    wait_for_token(r.switched(), directory=r.directory, prompt=r.new_prompt,
                   timeout=r.verify_timeout, delay=r.verify_delay,
                   waiting_for=(NOT_REGISTERED,))  # the app exists
    r.proven = True


def _answer_lost(exc):
    """Whether Graph may have applied a request although its answer did not tell: no answer, an
    answer we cannot read, or a server or gateway failure. 4xx refusals, 429 and 503 (throttled,
    unavailable) mean it was not applied."""
    if isinstance(exc, NetworkError):
        return True
    return isinstance(exc, GraphError) and (
        exc.status is None or exc.status < 400 or (exc.status >= 500 and exc.status != 503))


# --- Starting and resuming ------------------------------------------------------------------------

def rotate(store, name, *, days=None, key_size=None, subject=None, sans=None, out=None,
           password_env=None, password_file=None, no_password=False, keep_old=False,
           dry_run=False, csr=False, complete=None, graph=None, directory=None, prompt=None,
           timeout=None, verify_timeout=VERIFY_TIMEOUT, verify_delay=2.0):
    """Rotate profile ``name``'s certificate; return ``{"steps": [{name, ok, detail}], ...}``.

    An unfinished rotation of the profile (see the module docstring) is finished first, and is
    then the result; one that never registered its certificate is cleaned up and a new rotation
    starts. The new certificate keeps the current subject, SANs and key size unless told
    otherwise, and its lifetime defaults to the current one's. Its PFX is protected like the
    current file: the profile's password source (or the password typed at the prompt) unless
    ``password_env``, ``password_file`` or ``no_password`` say otherwise. ``graph`` (an admin or
    az-login client) is only used to look up the application's object id and the old keyId when
    ``KnownKeys`` does not hold them. ``dry_run`` returns the plan and changes nothing.
    ``csr``/``complete``: the CA path (``rotation_plan``); a CA-issued certificate needs it.
    ``timeout`` bounds each Graph answer (seconds); ``verify_timeout`` the wait for Entra ID to
    accept the new key, with pauses from ``verify_delay`` doubling up to 30 s.
    """
    waits = {"timeout": timeout, "verify_timeout": verify_timeout, "verify_delay": verify_delay}
    profile = store.get(name)
    pending = _pending(profile, name, directory)
    if pending and pending.get("stage") != "csr":
        if dry_run:
            return _pending_plan(profile, pending)
        finished = _resume(store, profile, pending, directory=directory, prompt=prompt, **waits)
        if finished is not None:
            return finished
        pending = None
    if complete:  # the new PFX as the request's run decided it
        out, keep_old, password_env, password_file, no_password = _requested(name, pending)
    elif pending and not csr:
        raise ConfigurationError(
            f"Profile '{name}' is waiting for the CA to sign the request {pending['csr']}.",
            hint=f"When it is signed, run 'az entracert cert rotate --profile {name} --complete "
                 "--cert SIGNED.crt'; to start over with a new key, run it with --csr.")

    plan = plan_rotation(profile, days=days, key_size=key_size, subject=subject, sans=sans,
                         out=out, password_env=password_env, password_file=password_file,
                         no_password=no_password, keep_old=keep_old, graph=graph,
                         directory=directory, prompt=prompt, csr=csr, complete=complete)
    summary = plan.summary(dry_run=dry_run)
    names = ["csr"] if csr else [s for s in STEP_NAMES if not (keep_old and s == "removeKey")]
    if dry_run:
        return {**summary, "steps": [{"name": s, "ok": None, "detail": "planned"} for s in names]}
    if csr:
        return {**summary, **write_request(profile, plan, directory)}

    new, source = _made(plan, pending, prompt)
    if plan.stored:
        summary["new"]["files"] = {"store": new.thumbprint}
    summary["new"].update(thumbprint=new.thumbprint,
                          subject=new.certificate.subject.rfc4514_string(),
                          notAfter=iso_z(new.certificate.not_valid_after_utc))
    r = _Rotation(store, profile, new, source, plan.object_id, plan.current.thumbprint,
                  plan.old_key_id, keep_old, directory, password=plan.password, prompt=prompt,
                  current=plan.current, restore=pending, stored=plan.stored,
                  old_token_key=profile.credential.pkcs11_key if source.on_device else None,
                  **waits)
    _walk(r, [s for s in STEPS if s.name in names])
    summary["new"]["keyId"] = r.key_id
    summary["old"]["removed"] = not keep_old
    return {**summary, "steps": r.steps, "remaining": []}


def _pending(profile, name, directory):
    """The unfinished rotation (or waiting CSR) recorded for ``profile``'s application, if any;
    one started with another profile of the same application must be finished there first."""
    pending = KnownKeys(directory).pending(profile.client_id)
    if pending and pending.get("profile") != name:
        raise ConfigurationError(
            f"Application {profile.client_id} has an unfinished rotation, started with profile "
            f"'{pending.get('profile')}'.",
            hint=f"Finish it first: az entracert cert rotate --profile {pending.get('profile')}")
    return pending


def _requested(name, pending):
    """``--complete``: ``out``, ``keep_old``, ``password_env``, ``password_file`` and
    ``no_password`` as the ``--csr`` run recorded them with its request."""
    if not pending:
        raise ConfigurationError(
            f"Profile '{name}' has no certificate request waiting for its CA.",
            hint=f"Start with 'az entracert cert rotate --profile {name} --csr'.")
    password_env, password_file = pending.get("passwordEnv"), pending.get("passwordFile")
    no_password = not (password_env or password_file) and not pending.get("encrypted")
    return (pending["certificate"], pending.get("keepOld", False), password_env, password_file,
            no_password)


def _made(plan, pending, prompt):
    """The new certificate with its key, and its source: a key pair generated on the token (it
    never leaves it), the CA's certificate joined with the request's key, or a new self-signed
    one; a stored one's source is the PFX the store names by its thumbprint."""
    from . import certgen

    source = plan.new_source
    if source.on_device:
        from . import pkcs11

        # Both join the login of the current key's session (``plan.current``): no PIN again.
        pkcs11.create_on_token(source, plan.subject, days=plan.days, key_size=plan.key_size,
                               sans=[certgen.parse_san(s) for s in plan.sans], prompt=prompt)
        return source.load(prompt=prompt), source
    new = assemble(plan, pending) if plan.complete else certgen.create_self_signed(
        plan.subject, sans=plan.sans, key_size=plan.key_size, days=plan.days)
    if plan.stored:
        from .store import CertificateStore

        source = dataclasses.replace(
            source, certificate=str(CertificateStore().folder / f"{new.thumbprint}.pfx"))
    return new, source


def _resume(store, profile, pending, *, directory, prompt, **waits):
    """Finish the rotation ``pending`` records and return its result; or, when its certificate
    turns out not to be registered, delete its files and return None (a new rotation follows)."""
    source = _pending_source(profile, pending)
    typed = {}

    def remembering(text):  # the new certificate's password (or the token's PIN): asked once
        if "password" not in typed:
            typed["password"] = prompt(text)
        return typed["password"]

    asking = remembering if prompt else None
    if _gone(profile, pending, source, prompt=asking, directory=directory):
        return None
    new = source.load(prompt=asking)
    # A PIN typed is forgotten (``new`` keeps its session logged in); a PFX's password is not.
    password = typed.pop("password", None)
    if new.thumbprint != pending["thumbprint"]:
        where = f"The key '{source.pkcs11_key}'" if source.on_device else \
            f"The file {Path(source.certificate)}"
        raise ConfigurationError(
            f"{where} of the unfinished rotation of profile '{profile.name}' now holds "
            f"certificate {new.thumbprint}, not {pending['thumbprint']}.",
            hint="Put the rotation's certificate back, or remove the record of the unfinished "
                 f"rotation ('pending' in {KnownKeys(directory).path}).")
    logger.warning("Picking up the unfinished rotation of profile '%s' (to certificate %s, "
                   "stopped after step '%s', started %s).", profile.name, new.thumbprint,
                   pending["stage"], pending.get("started"))
    stage = pending["stage"]
    r = _Rotation(store, profile, new, source, pending["objectId"], pending["oldThumbprint"],
                  pending.get("oldKeyId"), pending.get("keepOld", False), directory,
                  password=password.encode("utf-8") if password and not source.on_device
                  else None, prompt=prompt, key_id=pending.get("keyId"), resumed=True,
                  earlier=STEP_NAMES[:STEP_NAMES.index(stage) + 1],
                  registered=None if stage == "write" else True,
                  stored=pending.get("stored", False),
                  old_token_key=pending.get("oldTokenKey"), **waits)
    steps = [s for s in STEPS[STEP_NAMES.index(stage) + 1:]
             if not (r.keep_old and s.name == "removeKey")]
    try:
        _walk(r, steps)
    except RotationError as exc:
        if r.registered is not False:
            raise
        logger.warning("%s A new rotation starts.", exc.message)
        return None
    return _resumed(r)


def _pending_source(profile, pending):
    """Where the unfinished rotation's new certificate is: a key on the profile's token, or a
    PFX (in the store: the stored PFX) with its password source."""
    from .credentials import CertificateFile

    if pending.get("tokenKey"):
        return relabelled(profile.credential, pending["tokenKey"])
    return CertificateFile(certificate=pending["certificate"],
                           password_env=pending.get("passwordEnv"),
                           password_file=pending.get("passwordFile"))


def _gone(profile, pending, source, *, prompt, directory):
    """Whether the unfinished rotation's key or file is gone; if so its record is dropped, and
    the user told how to remove its certificate should it be registered."""
    from . import pkcs11

    if source.on_device:
        what = f"key '{source.pkcs11_key}' on the token"
        gone = source.pkcs11_key not in pkcs11.labels(source, prompt=prompt)
    else:
        what = f"file {Path(source.certificate)}"
        gone = not Path(source.certificate).exists()
    if gone:
        KnownKeys(directory).set_pending(profile.client_id, None)
        logger.warning("The unfinished rotation of profile '%s' to certificate %s cannot be "
                       "picked up: its %s is gone. If that certificate is registered, remove it "
                       "with '%s'.", profile.name, pending["thumbprint"], what,
                       _remove_command(profile.name, pending["thumbprint"]))
    return gone


def _resumed(r):
    """The result of a rotation picked up and finished, shaped like ``rotate``'s."""
    return {"profile": r.profile.name, "appId": r.profile.client_id, "objectId": r.object_id,
            "old": {"thumbprint": r.old_thumbprint, "keyId": r.old_key_id,
                    "removed": not r.keep_old},
            "new": {"thumbprint": r.new.thumbprint, "keyId": r.key_id,
                    "subject": r.new.certificate.subject.rfc4514_string(),
                    "notAfter": iso_z(r.new.certificate.not_valid_after_utc),
                    "files": {k: str(v) for k, v in r.files.items()}},
            "keepOld": r.keep_old, "dryRun": False, "resumed": True, "steps": r.steps,
            "remaining": []}


def _pending_plan(profile, pending):
    """What ``rotate`` would do now: pick up the unfinished rotation."""
    stage = pending["stage"]
    names = [s for s in STEP_NAMES[STEP_NAMES.index(stage) + 1:]
             if not (pending.get("keepOld") and s == "removeKey")]
    return {"profile": profile.name, "appId": profile.client_id,
            "objectId": pending.get("objectId"),
            "old": {"thumbprint": pending.get("oldThumbprint"), "keyId": pending.get("oldKeyId"),
                    "removed": False},
            "new": {"thumbprint": pending.get("thumbprint"), "keyId": pending.get("keyId"),
                    "files": {"pfx": pending.get("certificate")}},
            "keepOld": pending.get("keepOld", False), "dryRun": True, "resumed": True,
            "steps": [{"name": s, "ok": None, "detail": "planned"} for s in names]}


# --- Small helpers --------------------------------------------------------------------------------

def _add_key_entry(loaded):
    from .graph import key_credential

    entry = key_credential(loaded)
    return {k: entry[k] for k in ("type", "usage", "key", "displayName", "startDateTime",
                                  "endDateTime")}


def _proof(loaded, object_id):
    from .assertion import proof_of_possession

    return proof_of_possession(loaded, object_id=object_id)


def _again(r):
    return f"az entracert cert rotate --profile {r.profile.name}"


def _remove_command(name, thumbprint):
    return (f"az entracert app cert remove --profile {name} --thumbprint {thumbprint} "
            "--admin-profile ADMIN (or --use-az-login)")


def _and(items):
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _sentence(text):
    text = str(text).strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _clause(text):
    return str(text).strip().rstrip(".")
