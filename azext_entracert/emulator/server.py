"""The emulator's HTTPS server: routing, the request log, fault injection, and ``Emulator``.

A ``ThreadingHTTPServer`` (one daemon thread per connection, HTTP/1.1 keep-alive) whose accepted
sockets are TLS-wrapped with the state dir's server certificate; the handshake happens in the
connection's own thread so a slow client cannot stall the accept loop. Every request becomes a
``wire.Request``; the router hands it to the STS, to Graph, or to the ``/_emulator`` control
endpoints, and writes the ``wire.Response`` back. A handler that raises yields a 500 with a JSON
body (the traceback goes to the ``azext_entracert.emulator`` logger, never to the client).

Control endpoints, for tests:

* ``GET /_emulator/requests`` -> ``{"value": [{time, method, path, query ($filter/$select only),
  status, client_id, error_code, credential, scope, duration_ms}, ...]}``; ``DELETE`` clears it.
  Control requests themselves are not logged. Nothing secret is recorded.
* ``POST /_emulator/faults`` with ``{"path": substring-or-regex, "method"?, "count"? (1),
  "status"?, "delay"? (s, <= 60), "retry_after"?, "body"? ("malformed" or raw text)}`` -> 201
  with the fault and its ``id``; the next ``count`` matching requests get it (no ``status``:
  served normally, then ``body`` / ``Retry-After`` applied). ``DELETE`` clears all faults;
  ``DELETE /_emulator/faults/{id}`` only that one (204; 404 once it is spent), so a test sharing
  the emulator with others removes just its own. Bad specs -> 400 with the reason.
  ``"replication_delay"? (s, <= 3600)`` makes the applications, service principals and key
  credentials a matching Graph write creates reach the token endpoint that late (Entra's
  replication lag; ``Emulator(replication_delay=...)`` sets it for every write).
* Bodies above 1 MiB -> 413 (drained up to 16 MiB so the client reads the answer, then closed).
* Memory stays bounded whatever clients send: the request log clips each field to 1 kB and keeps
  8 MB at most; at most 100 faults wait (path <= 1 kB, body <= 64 kB); JSON nesting deeper than
  64 levels is a 400 (``wire.parse_json``).
"""
import collections
import datetime
import ipaddress
import logging
import re
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .wire import Request, Response, clip, json_response, parse_json

LOG = logging.getLogger("azext_entracert.emulator")
MAX_BODY = 1024 * 1024
DRAIN_LIMIT = 16 * MAX_BODY
KEPT_QUERY = ("$filter", "$select")  # the only query parts the request log keeps (no secrets)


class RequestLog:
    """The last requests served: time, method, path (query kept only for $filter/$select),
    status, client id, error code, and for tokens the credential form and scope; never a secret,
    an assertion or a token.

    Bounded in bytes as well as entries: every string a client chose is clipped to 1 kB, and the
    oldest entries go once the whole log passes ``max_bytes``, so a flood of 60 kB paths or huge
    scopes costs a few MB, not hundreds."""

    ENTRY_OVERHEAD = 512  # the dict, its float and int values: roughly, in bytes

    def __init__(self, size=10000, max_bytes=8 * 1024 * 1024):
        self._entries = collections.deque()
        self._size, self._max_bytes, self._bytes = size, max_bytes, 0
        self._lock = threading.Lock()

    def record(self, request, response, started):
        kept = {k: clip(v) for k, v in request.query.items() if k in KEPT_QUERY}
        entry = {
            "time": started,  # epoch here; ISO 8601 when read (keeps the hot path light)
            "method": clip(request.method, 16),
            "path": clip(request.path),
            "query": kept,
            "status": response.status,
            "client_id": clip(response.log.get("client_id"), 100),
            "error_code": clip(response.log.get("error_code"), 100),
            "credential": clip(response.log.get("credential"), 100),  # "PS256 x5t#S256 x5c"
            "scope": clip(response.log.get("scope")),
            "duration_ms": round((time.time() - started) * 1000, 2),
        }
        cost = self.ENTRY_OVERHEAD + sum(len(v) for v in (*entry.values(), *kept.values())
                                         if isinstance(v, str))
        with self._lock:
            self._entries.append((entry, cost))
            self._bytes += cost
            while len(self._entries) > self._size or self._bytes > self._max_bytes:
                self._bytes -= self._entries.popleft()[1]

    def entries(self):
        with self._lock:
            entries = [entry for entry, _ in self._entries]
        return [{**entry, "time": datetime.datetime.fromtimestamp(
            entry["time"], datetime.timezone.utc).isoformat()} for entry in entries]

    def clear(self):
        with self._lock:
            self._entries.clear()
            self._bytes = 0


class Faults:
    """Faults to inject into the next N requests whose path matches (substring or regex)."""

    FIELDS = ("path", "method", "count", "status", "delay", "retry_after", "body",
              "replication_delay")

    MAX_PENDING = 100

    def __init__(self):
        self._lock = threading.Lock()
        self._faults = []

    def add(self, spec):
        """Validate and register a fault spec; ValueError says what is wrong."""
        if not isinstance(spec, dict) or not isinstance(spec.get("path"), str) or not spec["path"]:
            raise ValueError("a fault needs a non-empty 'path' (a substring or regex of the path)")
        unknown = set(spec) - set(self.FIELDS)
        if unknown:
            raise ValueError(
                f"unknown fault fields: {sorted(unknown)}; allowed: {list(self.FIELDS)}")
        fault = {"path": spec["path"], "method": (spec.get("method") or "").upper() or None,
                 "count": spec.get("count", 1), "status": spec.get("status"),
                 "delay": spec.get("delay") or 0, "retry_after": spec.get("retry_after"),
                 "body": spec.get("body"), "replication_delay": spec.get("replication_delay")}
        if not isinstance(fault["count"], int) or fault["count"] < 1:
            raise ValueError("'count' must be a positive integer")
        if fault["status"] is not None and not (isinstance(fault["status"], int)
                                                and 100 <= fault["status"] <= 599):
            raise ValueError("'status' must be an HTTP status code (100-599)")
        if not isinstance(fault["delay"], (int, float)) or not 0 <= fault["delay"] <= 60:
            raise ValueError("'delay' must be a number of seconds between 0 and 60")
        if fault["body"] is not None and not isinstance(fault["body"], str):
            raise ValueError("'body' must be \"malformed\" or a string")
        # Bounded like the request log: pending faults cannot pile up megabytes.
        if len(fault["path"]) > 1024 or len(fault["body"] or "") > 64 * 1024:
            raise ValueError("'path' is limited to 1024 characters and 'body' to 64 KiB")
        if fault["retry_after"] is not None and (isinstance(fault["retry_after"], bool) or not (
                isinstance(fault["retry_after"], int) and fault["retry_after"] >= 0)):
            # It becomes a header: a string could smuggle a CR/LF and forge other headers.
            raise ValueError("'retry_after' must be a whole number of seconds (0 or more)")
        lag = fault["replication_delay"]
        if lag is not None and (isinstance(lag, bool) or not isinstance(lag, (int, float))
                                or not 0 <= lag <= 3600):
            raise ValueError("'replication_delay' must be a number of seconds between 0 and 3600")
        fault["id"] = str(uuid.uuid4())
        try:
            fault["regex"] = re.compile(fault["path"])
        except re.error:
            fault["regex"] = None
        with self._lock:
            if len(self._faults) >= self.MAX_PENDING:
                raise ValueError(f"{self.MAX_PENDING} faults are pending already; clear them "
                                 "(DELETE /_emulator/faults) first")
            self._faults.append(fault)
        return {k: fault[k] for k in ("id", *self.FIELDS)}

    def remove(self, fault_id):
        """Drop the pending fault with this id; False when there is none (spent or unknown)."""
        with self._lock:
            kept = [fault for fault in self._faults if fault["id"] != fault_id]
            removed = len(kept) < len(self._faults)
            self._faults[:] = kept
        return removed

    def take(self, request):
        """The fault that applies to ``request`` (spending one of its count), or None."""
        with self._lock:
            for fault in self._faults:
                if fault["method"] not in (None, request.method):
                    continue
                if fault["path"] in request.path or (
                        fault["regex"] is not None and fault["regex"].search(request.path)):
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self):
        with self._lock:
            self._faults.clear()


def apply_fault(fault, handle, request):
    """Delay, replace status/body, add Retry-After, as ``fault`` asks."""
    if fault["delay"]:
        time.sleep(fault["delay"])
    if fault["replication_delay"] is not None:
        request.replication_delay = fault["replication_delay"]
    if fault["status"] is not None:
        response = json_response(fault["status"], {"error": "emulator_fault",
                                                   "error_description": "Injected by a test."},
                                 log={"error_code": "emulator_fault"})
    else:
        response = handle(request)
    if fault["body"] is not None:
        response.body = (b'{"error": "emulator_fault", "error_descr' if fault["body"] == "malformed"
                         else fault["body"].encode("utf-8"))
    if fault["retry_after"] is not None:
        response.headers["Retry-After"] = str(fault["retry_after"])
    return response


class Router:
    """Maps a ``Request`` to the STS, Graph or control endpoints."""

    def __init__(self, sts, graph, request_log, faults):
        self.sts = sts
        self.graph = graph
        self.log = request_log
        self.faults = faults

    def __call__(self, request):
        started = time.time()
        fault = None if request.path.startswith("/_emulator/") else self.faults.take(request)
        try:
            response = apply_fault(fault, self.route, request) if fault else self.route(request)
        except Exception:  # noqa: BLE001 - the client gets a JSON 500, the log gets the traceback
            LOG.exception("Unhandled error serving %s %s", request.method, request.path)
            response = json_response(500, {"error": "server_error",
                                           "error_description": "The emulator failed to handle "
                                           "the request; see its log."},
                                     log={"error_code": "server_error"})
        if not request.path.startswith("/_emulator/"):
            self.log.record(request, response, started)
        return response

    def route(self, request):
        path, method = request.path, request.method
        parts = [p for p in path.split("/") if p]
        if path.startswith(("/v1.0/", "/beta/")) or path in ("/v1.0", "/beta"):
            return self.graph.handle(request)
        if parts[:1] == ["_emulator"]:
            return self._control(request, parts)
        if method == "GET":
            if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
                return self.sts.openid_configuration(request, parts[0])
            if len(parts) == 3 and parts[1:] == [".well-known", "openid-configuration"]:
                return self.sts.openid_configuration_v1(request, parts[0])
            if len(parts) == 4 and parts[1:] == ["discovery", "v2.0", "keys"]:
                return self.sts.jwks(request, parts[0])
            if len(parts) == 3 and parts[1:] == ["discovery", "keys"]:
                return self.sts.jwks(request, parts[0])
            if parts == ["common", "discovery", "instance"]:
                return self.sts.instance_discovery(request)
            if parts == ["metadata", "endpoints"]:
                return self.sts.metadata_endpoints(request)
        if method == "POST" and len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
            return self.sts.token(request, parts[0])
        if method == "POST" and len(parts) == 3 and parts[1:] == ["oauth2", "token"]:
            return self.sts.token(request, parts[0], version=1)
        return json_response(404, {
            "error": "not_found",
            "error_description": f"No emulator endpoint for {method} {path}."})

    def _control(self, request, parts):
        if parts == ["_emulator", "requests"] and request.method in ("GET", "DELETE"):
            if request.method == "DELETE":
                self.log.clear()
                return Response(status=204)
            return json_response(200, {"value": self.log.entries()})
        if parts == ["_emulator", "faults"] and request.method in ("POST", "DELETE"):
            if request.method == "DELETE":
                self.faults.clear()
                return Response(status=204)
            try:
                return json_response(201, self.faults.add(parse_json(request.body or b"null")))
            except ValueError as exc:
                return json_response(400, {"error": "invalid_fault", "error_description": str(exc)})
        if parts[:2] == ["_emulator", "faults"] and len(parts) == 3 and request.method == "DELETE":
            if self.faults.remove(parts[2]):
                return Response(status=204)
            return json_response(404, {"error": "not_found", "error_description": f"No pending "
                                       f"fault has the id '{parts[2]}' (spent, or never added)."})
        return json_response(404, {"error": "not_found", "error_description": "Unknown control "
                                   "endpoint; use /_emulator/requests or /_emulator/faults."})


class Handler(BaseHTTPRequestHandler):
    """Turns HTTP into ``wire.Request`` and ``wire.Response`` back; keep-alive by default."""

    protocol_version = "HTTP/1.1"
    server_version = "entracert-emulator"
    sys_version = ""
    timeout = 120  # idle keep-alive connections (and stalled handshakes) end after this
    # Buffered writes: headers and body leave in one TLS record at the flush that ends each
    # request; written separately, Nagle + delayed ACK cost ~40 ms per keep-alive response.
    wbufsize = 64 * 1024

    def _dispatch(self):
        split = urlsplit(self.path)
        path = "/" + split.path.lstrip("/")  # az joins an origin ending in "/" with "/metadata/..."
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._send(json_response(411, {"error": "length_required"}), close=True)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return self._send(json_response(400, {"error": "invalid_request",
                                                  "error_description": "Bad Content-Length."}),
                              close=True)
        if length > MAX_BODY or length < 0:
            response = json_response(413, {"error": "invalid_request", "error_description":
                                           f"The request body exceeds {MAX_BODY} bytes."},
                                     log={"error_code": "body_too_large"})
            request = Request(self.command, path, query, self.headers, b"", self.client_address[0])
            self.server.router.log.record(request, response, time.time())
            self._discard(length)
            return self._send(response, close=True)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, path, query, self.headers, body, self.client_address[0])
        self._send(self.server.router(request))

    def _discard(self, length):
        """Read (and drop) a moderately oversized body, so the client sees our 413 rather than a
        reset connection; beyond DRAIN_LIMIT the connection is simply closed."""
        if length > DRAIN_LIMIT:
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                return
            length -= len(chunk)

    def _send(self, response, close=False):
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _dispatch

    def send_error(self, code, message=None, explain=None):
        """Protocol-level errors (bad request line, unknown method) as JSON, not stdlib HTML."""
        self.close_connection = True
        if not hasattr(self, "command") or self.command is None:
            self.command = "GET"
        self._send(json_response(code, {"error": "invalid_request",
                                        "error_description": message or explain or ""}),
                   close=True)

    def log_request(self, code="-", size="-"):
        """Method, path and status only: the stdlib logs the whole request line, whose query
        string may carry a secret (a client that puts ``client_secret`` in the URL)."""
        path = urlsplit(getattr(self, "path", "") or "").path
        LOG.debug("%s - %s %s %s", self.client_address[0], self.command or "-", path or "-",
                  getattr(code, "value", code))

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        LOG.debug("%s - " + format, self.client_address[0], *args)


class TLSServer(ThreadingHTTPServer):
    """Threaded HTTP server whose connections are TLS (handshake in the connection's thread)."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, context, router):
        self.context = context
        self.router = router
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._connections = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def finish_request(self, request, client_address):
        import ssl

        try:
            request.settimeout(Handler.timeout)
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            LOG.debug("TLS handshake with %s failed: %s", client_address[0], exc)
            return
        with self._connections_lock:
            self._connections.add(tls)
        try:
            super().finish_request(tls, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(tls)
            try:
                tls.close()
            except OSError:
                pass

    def server_close(self):
        """Stop listening and end every open connection: connection threads are daemons the
        stdlib never joins, so an idle keep-alive client would otherwise go on being served by a
        stopped emulator."""
        super().server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        LOG.debug("Connection from %s ended with an error", client_address[0], exc_info=True)


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
