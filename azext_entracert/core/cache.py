"""The persistent caches behind ``tokens.acquire``: one MSAL token cache per identity, and
MSAL's discovery (HTTP) cache, each file 0600 in the entracert folder under its own lock.

A cached token counts only for the identity that obtained it (``tokens.identity``: profile,
tenant, client id, authority, CA trust, certificate), so each identity has its own MSAL cache
file, ``tokens/<digest of the identity>.json``: changing a profile's certificate, authority or CA
bundle sends its next request to Entra, and clearing one profile's tokens leaves the others'
alone. The document is MSAL's own (its cross-language schema), and MSAL is its only writer.

A cache hit must cost no more than reading a profile, so ``TokenCache.cached`` reads the document
itself, without importing MSAL (nor requests or cryptography), and answers exactly what MSAL's
``acquire_token_for_client`` would answer from it (``msal_cache_hit``); anything else, including
a token MSAL would refresh first, is left to MSAL.

A cache file that cannot be parsed is set aside with a warning; what interrupted writes left
behind (temporary files, which can hold tokens, and old set-aside copies) is removed under the
file's lock, and ``clear`` removes all of it.
"""
import contextlib
import hashlib
import heapq
import json
import logging
import pickle
import time
from pathlib import Path

from .errors import InputFileError
from .fileio import PRIVATE, atomic_write, file_lock, leftovers, remove_files, set_aside

logger = logging.getLogger("entracert")

TOKEN_DIR = "tokens"  # one MSAL cache file per identity
LEGACY_TOKEN_CACHE = "msal_token_cache.json"  # the old cache shared by all identities: removed
HTTP_CACHE = "msal_http_cache.bin"
IDENTITY_KIND = "EntracertIdentity"  # our record in MSAL's document (MSAL ignores other kinds)
LOCK_TIMEOUT = 120


class TokenCache:
    """One identity's MSAL token cache, ``tokens/<digest>.json`` (0600), under its own lock.

    The document is MSAL's, plus one ``EntracertIdentity`` record naming the identity, the
    thumbprint of the certificate that obtained its tokens (``thumbprint``), which ``clear`` and a
    cache hit read, and the authority as MSAL resolved it (``authority``: the ``environment`` and
    ``realm`` it files tokens under; the realm comes from the tenant's discovery document), which
    a lookup without MSAL needs.
    """

    def __init__(self, directory, identity):
        self.identity = dict(identity)
        digest = hashlib.sha256(json.dumps(self.identity, sort_keys=True).encode()).hexdigest()
        self.path = Path(directory) / TOKEN_DIR / f"{digest[:32]}.json"
        self.thumbprint = None
        self.authority = None

    def cached(self, *, client_id, scopes, now):
        """The access token entry MSAL would answer from this cache for ``scopes`` (read without
        MSAL, no lock: writes replace the file atomically), or None where MSAL would ask Entra."""
        if leftovers(self.path):  # rare: a killed write's temporary file may hold a token
            with file_lock(self.path, timeout=LOCK_TIMEOUT):
                remove_files(leftovers(self.path))
        document = _read_document(self.path) or {}
        record = _record(document)
        authority = record.get("authority")
        if not authority:  # written before we recorded it: MSAL answers, and the record is added
            return None
        try:
            entry = msal_cache_hit(document, client_id=client_id, scopes=scopes, now=now,
                                   environment=authority["environment"], realm=authority["realm"])
        except (KeyError, TypeError, ValueError):  # an entry MSAL never wrote: MSAL decides
            return None
        if entry is not None:
            self.thumbprint = record.get("thumbprint")
        return entry

    @contextlib.contextmanager
    def open(self):
        """Lock, tidy, load (setting a corrupt file aside), yield the cache, save it if changed."""
        import msal

        remove_legacy_cache(self.path.parent.parent)
        with file_lock(self.path, timeout=LOCK_TIMEOUT):
            remove_files(leftovers(self.path))
            cache = msal.SerializableTokenCache()
            document = _read_document(self.path, set_damage_aside=True)
            before = None  # the record read, kept up to date even when MSAL changed nothing
            if document is not None:
                before = _record(document)
                self.thumbprint, self.authority = before.get("thumbprint"), before.get("authority")
                document.pop(IDENTITY_KIND, None)
                cache.deserialize(json.dumps(document))
            yield cache
            record = {**self.identity, "thumbprint": self.thumbprint, "authority": self.authority}
            if cache.has_state_changed or (before is not None and before != record):
                document = json.loads(cache.serialize())
                document[IDENTITY_KIND] = {"identity": record}
                atomic_write(self.path, json.dumps(document, indent=1).encode("utf-8"),
                             mode=PRIVATE, overwrite=True)


AT_MINIMUM_LIFETIME = 300  # MSAL treats an access token expiring within 5 minutes as expired


def msal_cache_hit(document, *, client_id, environment, realm, scopes, now):
    """The access token entry MSAL's ``acquire_token_for_client(scopes)`` answers from
    ``document`` without the network, or None when it would ask Entra (which includes an entry
    past its ``refresh_on``: MSAL refreshes it first, keeping it only as a fallback).

    This is MSAL Python's own lookup, rule for rule (``ClientApplication.
    _acquire_token_silent_from_cache_and_possibly_refresh_it`` over ``TokenCache.search`` in
    msal 1.39); tests/core/test_fast_path.py holds it to the installed MSAL's answers:
    - first the entry filed under the exact key (lowercased ``-environment-AccessToken-client-
      realm-sorted scopes``), then every other entry, in file order, whose target holds all
      ``scopes`` (exactly, case and all) and that has no extended cache key (MSAL's search also
      skips expired entries here, which the next rule drops anyway);
    - an entry counts only with ``home_account_id`` null and MSAL's ``client_id``, ``realm`` and
      ``environment`` (the authority's host, lowercase) exactly;
    - the first with at least ``AT_MINIMUM_LIFETIME`` seconds left is the answer, unless its
      ``refresh_on`` has passed.
    """
    entries = document.get("AccessToken") or {}
    query = {"home_account_id": None, "environment": environment, "client_id": client_id,
             "realm": realm}
    target = sorted(scopes)
    preferred = entries.get("-".join(["", environment, "AccessToken", client_id, realm,
                                      " ".join(target)]).lower()) if target else None
    candidates = [preferred] if preferred and _filed_under(preferred, query) else []
    candidates += [entry for entry in entries.values()
                   if entry != preferred and _filed_under(entry, query)
                   and set(target) <= set(entry.get("target", "").split())
                   and "ext_cache_key" not in entry]
    for entry in candidates:
        if int(entry["expires_on"]) - now < AT_MINIMUM_LIFETIME:
            continue
        if "refresh_on" in entry and int(entry["refresh_on"]) < now:
            return None
        return entry
    return None


def _filed_under(entry, query):
    """MSAL's ``is_subdict_of(query, entry)``: every field present, with the same value."""
    return all(key in entry and entry[key] == value for key, value in query.items())


def entry_of(cache, access_token):
    """The entry of ``access_token`` in an open MSAL cache (for its ``expires_on``), or None."""
    import msal

    return next(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN,
                             query={"secret": access_token}), None)


def _read_document(path, *, set_damage_aside=False):
    """The cache document at ``path``; None when there is none, or (unless ``set_damage_aside``,
    which moves it away with a warning) when it is damaged. Undecodable bytes are damage."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputFileError(
            f"The token cache '{path}' cannot be read: {exc.strerror or exc}.",
            path=path, hint="It must belong to you (mode 0600); fix its owner or "
                            "permissions, or run 'az entracert token clear'.") from exc
    if not data.strip():
        return None
    try:
        document = json.loads(data.decode("utf-8"))
        _check_cache_shape(document)
        return document
    except ValueError as exc:
        if set_damage_aside:
            aside = set_aside(path)
            logger.warning("The token cache '%s' could not be read (%s); it was moved to '%s' and "
                           "a new cache was started.", path, exc, aside)
        return None


def _record(document):
    """Our identity record inside a cache document ({} when absent)."""
    return (document.get(IDENTITY_KIND) or {}).get("identity") or {}


def forget_client(directory, client_id):
    """Remove the cached access tokens issued to ``client_id``, in every identity's cache, and
    return how many: its application's keys or role grants changed, so they no longer say what
    the authority would issue now."""
    folder = Path(directory) / TOKEN_DIR
    removed = 0
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        with file_lock(path, timeout=LOCK_TIMEOUT):
            document = _read_document(path) or {}
            tokens = document.get("AccessToken") or {}
            stale = [key for key, entry in tokens.items()
                     if entry.get("client_id", "").lower() == client_id.lower()]
            if stale:
                for key in stale:
                    del tokens[key]
                atomic_write(path, json.dumps(document, indent=1).encode("utf-8"), mode=PRIVATE,
                             overwrite=True)
            removed += len(stale)
    return removed


def clear(directory, profile=None):
    """Remove cached access tokens and return how many: every identity ``profile`` has had (its
    current and former certificates, authorities, trust), or with ``profile`` None everything:
    all identities, the discovery cache, the old shared cache, and what interrupted writes left."""
    directory = Path(directory)
    folder = directory / TOKEN_DIR
    names = sorted({_target_of(p.name) for p in folder.iterdir()}) if folder.is_dir() else []
    removed = 0
    for name in names:
        path = folder / name
        with file_lock(path, timeout=LOCK_TIMEOUT):
            document = _read_document(path) or {}
            if profile is not None and _record(document).get("profile") != profile:
                continue
            removed += len(document.get("AccessToken") or {})
            remove_files([path, *leftovers(path, kept=0)])
    if profile is None:
        removed += remove_legacy_cache(directory)
        http_cache = directory / HTTP_CACHE
        with file_lock(http_cache, timeout=LOCK_TIMEOUT):
            remove_files([http_cache, *leftovers(http_cache, kept=0)])
    return removed


def _target_of(name):
    """The file a cache file, its temporary file or its set-aside copy belongs to."""
    if name.startswith(".") and name.endswith(".tmp"):
        return name[1:].rsplit(".", 2)[0]  # ".<name>.<random>.tmp" from atomic_write
    return name.split(".corrupt-")[0].removesuffix(".lock")


def remove_legacy_cache(directory):
    """Remove the cache all identities once shared (it would serve one identity's token to
    another); return how many tokens it held."""
    legacy = Path(directory) / LEGACY_TOKEN_CACHE
    if not legacy.exists():
        return 0
    with file_lock(legacy, timeout=LOCK_TIMEOUT):
        held = len((_read_document(legacy) or {}).get("AccessToken") or {})
        remove_files([legacy, *leftovers(legacy, kept=0)])
    return held


def remove_access_tokens(cache, *, client_id=None, scopes=None):
    """Remove the access tokens of ``client_id`` (all clients: None) for exactly ``scopes``
    (any: None) from an open MSAL cache; return how many."""
    import msal

    wanted = {s.lower() for s in scopes} if scopes is not None else None
    doomed = [entry for entry in cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)
              if (client_id is None or entry.get("client_id") == client_id)
              and (wanted is None
                   or {s.lower() for s in entry.get("target", "").split()} == wanted)]
    for entry in doomed:
        cache.remove_at(entry)
    return len(doomed)


def _check_cache_shape(document):
    """Refuse JSON that MSAL would choke on later: it wants {kind: {key: {field: value}}}."""
    if not isinstance(document, dict) or not all(
            isinstance(entries, dict) and all(isinstance(e, dict) for e in entries.values())
            for entries in document.values()):
        raise ValueError("not an MSAL token cache document")


class HttpCache(dict):
    """MSAL's ``http_cache``, persisted (pickle, as MSAL's docs show) with only what a later
    process may safely reuse: successful GETs (tenant discovery) whose body is a JSON object.

    MSAL also records throttling in it (a POST answered 429/5xx, for as long as its Retry-After
    asks, up to an hour) and would keep any 2xx GET (a captive portal's HTML page) for a day:
    those stay in this process, so one bad answer never outlives the command that met it.
    Loading and saving take the file's own lock; ``acquire`` does both while it holds the
    identity's lock, so processes queued on one identity find the discovery the first one made.
    """

    def __init__(self, directory):
        super().__init__()
        self.path = Path(directory) / HTTP_CACHE
        with file_lock(self.path, timeout=LOCK_TIMEOUT):
            self.update(_kept(self._read(), _reusable))

    def _read(self):
        try:
            return pickle.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except Exception as exc:  # noqa: BLE001 - any damage means: start afresh
            logger.debug("Ignoring the unreadable HTTP cache %s: %s", self.path, exc)
            return {}

    def save(self):
        """Merge what this process learnt into the file (under its lock), if anything."""
        mine = _kept(self, _reusable)
        with file_lock(self.path, timeout=LOCK_TIMEOUT):
            remove_files(leftovers(self.path))
            stored = self._read()
            merged = _kept({**stored, **mine, _INDEX: ([], {**_stamps(stored), **_stamps(mine)})},
                           _reusable)
            if _stamps(merged) != _stamps(stored):
                atomic_write(self.path, pickle.dumps(merged), mode=PRIVATE, overwrite=True)

    def forget_throttling(self):
        """Drop MSAL's throttling entries, before an attempt our code decided to make."""
        kept = _kept(self, lambda key, response: key.startswith("GET "))
        self.clear()
        self.update(kept)


_INDEX = "_index_"  # msal.individual_cache._ExpiringMapping's index: (heap, {key: [exp, made]})


def _reusable(key, response):
    """A discovery answer worth keeping: a GET answered 2xx with a JSON object."""
    if not (key.startswith("GET ") and 200 <= response.status_code < 300):
        return False
    try:
        return isinstance(json.loads(response.text), dict)
    except (TypeError, ValueError):
        return False


def _stamps(mapping):
    return mapping.get(_INDEX, ([], {}))[1]


def _kept(mapping, keep):
    """The unexpired entries of MSAL's expiring mapping that ``keep(key, response)`` accepts, with
    the index rebuilt to match (a heap, as MSAL expects)."""
    now = time.time()
    entries = {key: mapping[key] for key, (expires_at, _) in _stamps(mapping).items()
               if key in mapping and expires_at > now and keep(key, mapping[key])}
    if not entries:
        return {}
    stamps = {key: list(_stamps(mapping)[key]) for key in entries}
    heap = [[expires_at, made, key] for key, (expires_at, made) in stamps.items()]
    heapq.heapify(heap)
    return {**entries, _INDEX: (heap, stamps)}
