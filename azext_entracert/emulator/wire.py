"""The emulator's request and response values, shared by the router, the STS and Graph."""
import dataclasses
import json
from urllib.parse import urlsplit


@dataclasses.dataclass
class Request:
    """One parsed HTTP request: ``path`` without the query, ``query`` decoded (first value wins)."""

    method: str
    path: str
    query: dict
    headers: object  # case-insensitive mapping (http.client.HTTPMessage)
    body: bytes
    client_address: str = "127.0.0.1"


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
