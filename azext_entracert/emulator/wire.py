"""The emulator's request and response values, shared by the router, the STS and Graph, and the
limits that keep what arrives over the wire bounded: JSON depth, clipped log fields, caches that
never keep an oversized input."""
import dataclasses
import functools
import json
from urllib.parse import urlsplit

MAX_JSON_DEPTH = 64  # Graph's own documents nest a handful of levels; 64 leaves room, not stack
MAX_CACHED_CHARS = 16 * 1024  # a real client assertion, x5c chain included, is a few kB


@dataclasses.dataclass
class Request:
    """One parsed HTTP request: ``path`` without the query, ``query`` decoded (first value wins)."""

    method: str
    path: str
    query: dict
    headers: object  # case-insensitive mapping (http.client.HTTPMessage)
    body: bytes
    client_address: str = "127.0.0.1"
    # Set by a fault: objects this request writes reach the token endpoint that many seconds late.
    replication_delay: float = None


@dataclasses.dataclass
class Response:
    """One HTTP response. ``log`` carries non-secret fields for the request log
    (``client_id``, ``error_code``), never a token or a secret."""

    status: int
    body: bytes = b""
    headers: dict = dataclasses.field(default_factory=dict)
    log: dict = dataclasses.field(default_factory=dict)


def json_response(status, payload, *, headers=None, log=None):
    """A JSON response with the content type Entra and Graph use."""
    return Response(
        status=status,
        body=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        log=log or {},
    )


def origin_netlocs(origin):
    """The ``host:port`` forms that name the emulator at ``origin``: its own and the loopback
    aliases of its port (a client may say ``localhost`` where the emulator says 127.0.0.1)."""
    port = urlsplit(origin).port
    return frozenset({urlsplit(origin).netloc.lower(), f"127.0.0.1:{port}", f"localhost:{port}",
                      f"[::1]:{port}"})


def parse_json(body):
    """The JSON document in ``body``; ValueError when it is not JSON or nests deeper than
    MAX_JSON_DEPTH (json's recursion would otherwise end in a RecursionError, a 500, or leave a
    document too deep to copy and save)."""
    try:
        document = json.loads(body)
    except RecursionError:
        raise ValueError(f"the JSON nests deeper than {MAX_JSON_DEPTH} levels") from None
    # UnicodeDecodeError and JSONDecodeError are ValueErrors already.
    pending = [(document, 1)] if isinstance(document, (dict, list)) else []
    while pending:
        value, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"the JSON nests deeper than {MAX_JSON_DEPTH} levels")
        children = value.values() if isinstance(value, dict) else value
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return document


def clip(value, limit=1024):
    """``value`` cut to ``limit`` characters (marked with an ellipsis) when it is a longer string:
    what the request log keeps of paths, filters and scopes a client chose."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "..."
    return value


def small_input_cache(maxsize):
    """``functools.lru_cache(maxsize)`` for functions of strings, except that a call with a string
    over MAX_CACHED_CHARS runs uncached: the cache then holds at most ``maxsize`` x 16 kB, however
    large the inputs clients send (each may be up to the 1 MiB body limit)."""
    def decorate(function):
        cached = functools.lru_cache(maxsize=maxsize)(function)

        @functools.wraps(function)
        def call(*args):
            if any(isinstance(a, str) and len(a) > MAX_CACHED_CHARS for a in args):
                return function(*args)
            return cached(*args)

        return call

    return decorate
