"""A scriptable fake of the Baseten management API, for driving the CLI.

`FakeAPI` is a real HTTP server (`http.server.ThreadingHTTPServer`) on
127.0.0.1 with a port chosen by the kernel, served from a background
thread. Point the CLI at it with
`BASETEN_MANAGEMENT_API_URL_OVERRIDE=<api.url>` (plain http is allowed for
loopback hosts).

Routes are keyed by method and path (the query string is not part of the
key). Each route holds a queue of responses: every request takes the next
one and the last one repeats, so a device-flow poll can be scripted as
`authorization_pending`, `authorization_pending`, then a token::

    api.route("POST", "/v1/users/auth/device/token",
              Reply(400, {"error": "authorization_pending"}),
              Reply(400, {"error": "authorization_pending"}),
              Reply(200, {"access_token": "at", "refresh_token": "rt",
                          "token_type": "Bearer", "expires_in": 3600}))

A queue entry may also be a callable taking the `Request` and returning a
`Reply`. An unknown route answers 404 `{"error": "not found"}`.

Every request is recorded (`api.requests`, or `api.requests_to(method,
path)`) with its method, path, query, headers and body; `api.wait_for(...)`
blocks until a matching request has arrived (for instance to send SIGINT
while the server is holding a reply back with `Reply(delay=...)`).

By default `GET /v1/users/me` answers 200 with `ME` when the Authorization
header is `Api-Key good-key` (`GOOD_KEY`), else 401 `{"error": "invalid api
key"}`.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GOOD_KEY = "good-key"
ME = {
    "user_id": "u1",
    "email": "alice@example.com",
    "name": "Alice",
    "workspace_name": "Acme",
}


class Reply:
    """One scripted response: status, a JSON body or raw bytes, headers.

    `json` (any JSON value) is sent with `Content-Type: application/json`;
    `body` (bytes or str) is sent as it is. `delay` holds the response back
    for that many seconds (cut short when the server stops).
    """

    def __init__(self, status=200, json=None, body=None, headers=None, delay=0):
        self.status = status
        self.json = json
        self.body = body
        self.headers = dict(headers or {})
        self.delay = delay

    def encode(self):
        """Return (body bytes, headers) to send."""
        headers = dict(self.headers)
        if self.body is not None:
            body = self.body.encode() if isinstance(self.body, str) else self.body
        elif self.json is not None:
            body = json.dumps(self.json).encode()
            headers.setdefault("Content-Type", "application/json")
        else:
            body = b""
        return body, headers

    def __repr__(self):
        return "Reply(%r, json=%r, body=%r)" % (self.status, self.json, self.body)


class Request:
    """One request as the server received it."""

    def __init__(self, method, path, query, headers, body):
        self.method = method
        self.path = path
        #: the query string parsed into {name: [values]}
        self.query = query
        #: an http.client.HTTPMessage: case-insensitive `headers["X"]`,
        #: `headers.get("X")`
        self.headers = headers
        self.body = body

    def json(self):
        """The body parsed as JSON."""
        return json.loads(self.body.decode())

    def form(self):
        """The body parsed as application/x-www-form-urlencoded, one value each."""
        return dict(urllib.parse.parse_qsl(self.body.decode(), keep_blank_values=True))

    def __repr__(self):
        return "Request(%s %s)" % (self.method, self.path)


def users_me(request):
    """The default `GET /v1/users/me`: ME for `Api-Key good-key`, else 401."""
    if request.headers.get("Authorization") == "Api-Key " + GOOD_KEY:
        return Reply(200, ME)
    return Reply(401, {"error": "invalid api key"})


class FakeAPI:
    """The fake management API server; use as a context manager or start/stop."""

    def __init__(self):
        self.requests = []
        self._routes = {}
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server = None
        self._thread = None
        self.route("GET", "/v1/users/me", users_me)

    # Scripting ----------------------------------------------------------

    def route(self, method, path, *replies):
        """Replace the route's queue with `replies` (Reply or callable)."""
        if not replies:
            raise ValueError("a route needs at least one reply")
        with self._lock:
            self._routes[(method.upper(), path)] = list(replies)

    def then(self, method, path, *replies):
        """Append replies to the route's queue (after the ones still queued)."""
        with self._lock:
            self._routes.setdefault((method.upper(), path), []).extend(replies)

    def _next_reply(self, request):
        with self._lock:
            queue = self._routes.get((request.method, request.path))
            if not queue:
                return Reply(404, {"error": "not found"})
            reply = queue.pop(0) if len(queue) > 1 else queue[0]
        return reply(request) if callable(reply) else reply

    # Inspecting ---------------------------------------------------------

    def requests_to(self, method, path):
        """The recorded requests for one route, oldest first."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.method == method.upper() and r.path == path
            ]

    def wait_for(self, method, path, count=1, timeout=10):
        """Block until `count` requests for the route have arrived; return them."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                found = [
                    r
                    for r in self.requests
                    if r.method == method.upper() and r.path == path
                ]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        "no %d %s %s request(s) within %ss"
                        % (count, method, path, timeout)
                    )
                self._arrived.wait(left)

    def _record(self, request):
        with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()

    # Running ------------------------------------------------------------

    @property
    def url(self):
        """The base URL, `http://127.0.0.1:PORT` (no trailing slash)."""
        return "http://127.0.0.1:%d" % self._server.server_address[1]

    @property
    def port(self):
        return self._server.server_address[1]

    def start(self):
        """Bind 127.0.0.1:0 and serve from a daemon thread."""
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self):
        """Release delayed replies, stop serving and close the socket."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client that gives up (timeout, Ctrl-C) is expected in tests.
        pass


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeBaseten/1"

    def _handle(self):
        api = self.server.api
        split = urllib.parse.urlsplit(self.path)
        request = Request(
            self.command,
            split.path,
            urllib.parse.parse_qs(split.query, keep_blank_values=True),
            self.headers,
            self._read_body(),
        )
        api._record(request)
        reply = api._next_reply(request)
        if reply.delay:
            api._stopping.wait(reply.delay)
        body, headers = reply.encode()
        try:
            self.send_response(reply.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, format, *args):
        pass
