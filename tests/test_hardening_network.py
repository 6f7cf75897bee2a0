"""Hardening, network: timeouts, retries while polling, garbage answers,
redirects, TLS verification, proxies, and server text on the terminal.

Every CLI run here stores with `--insecure-storage` and has no keyring tool
on PATH (`no_keyring_path`), so nothing but the fake servers is involved.
The TLS cases make a self-signed certificate with `openssl` and skip
without it.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import GOOD_KEY, ME, assert_error, login_key
from fakeapi import FakeAPI, Reply, _Handler, _Server

AUTHORIZE = "/v1/users/auth/device/authorize"
TOKEN = "/v1/users/auth/device/token"
ME_PATH = "/v1/users/me"
DEVICE_CODE = "dev-code-NET-5d1c"
TOKENS = {"access_token": "at-net-1", "refresh_token": "rt-net-1",
          "token_type": "Bearer", "expires_in": 3600}
PENDING = Reply(400, {"error": "authorization_pending"})
LOGGED_IN = "Logged in as alice@example.com (Acme) as profile ci\n"

# Proxy variables of the surrounding environment must not reach the CLI.
NO_PROXIES = {name: None for name in (
    "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
    "ALL_PROXY", "no_proxy", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "REQUEST_METHOD")}


@pytest.fixture(autouse=True)
def _isolated(no_keyring_path, cli_env):
    for name in NO_PROXIES:
        cli_env.pop(name, None)


def authorize_body(**changes):
    body = {"device_code": DEVICE_CODE, "user_code": "WXYZ-1234",
            "verification_uri": "https://app.baseten.co/device",
            "expires_in": 30, "interval": 0.02}
    body.update(changes)
    return body


def bearer_me(request):
    if request.headers.get("Authorization") == "Bearer " + TOKENS["access_token"]:
        return Reply(200, ME)
    return Reply(401, {"error": "invalid token"})


def web_login(run_cli, *args, timeout=30):
    return run_cli("auth", "login", "--web", "--profile", "ci",
                   "--insecure-storage", *args, timeout=timeout)


def assert_only_error_line(result, code, *fragments):
    """Exit `code`, empty stdout, stderr ending in one `error: ` line and
    holding nothing but `warning: ` / progress lines before it, no
    traceback."""
    assert result.rc == code, result
    assert result.out == "", result
    assert "Traceback" not in result.err, result.err
    last = result.err.splitlines()[-1]
    assert last.startswith("error: "), result.err
    for fragment in fragments:
        assert fragment in last, (fragment, result.err)
    return last


# Timeouts ------------------------------------------------------------------


@pytest.fixture
def silent_server():
    """A port that accepts connections (the kernel's backlog) and never
    answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield "http://127.0.0.1:%d" % sock.getsockname()[1]
    sock.close()


def test_a_server_that_never_answers_fails_after_the_http_timeout(
        silent_server, monkeypatch):
    import baseten_auth

    monkeypatch.setattr(baseten_auth, "HTTP_TIMEOUT", 0.5)
    started = time.monotonic()
    with pytest.raises(baseten_auth.NetworkError) as caught:
        baseten_auth.http_request("GET", silent_server + ME_PATH)
    assert time.monotonic() - started < 5
    assert "timed out" in str(caught.value)
    assert str(caught.value).startswith("cannot reach " + silent_server)


def test_the_http_timeout_can_be_set_with_baseten_http_timeout(
        run_cli, silent_server, auth_file):
    # Without the knob the CLI waits HTTP_TIMEOUT (30 s) on a dead server.
    try:
        result = run_cli(
            "auth", "login", "--with-api-key", "--profile", "ci",
            "--insecure-storage", input=GOOD_KEY + "\n", timeout=6, env={
                "BASETEN_MANAGEMENT_API_URL_OVERRIDE": silent_server,
                "BASETEN_HTTP_TIMEOUT": "0.5"})
    except subprocess.TimeoutExpired:  # pragma: no cover - the failure
        pytest.fail("BASETEN_HTTP_TIMEOUT=0.5 was ignored")
    assert_error(result, 1, "cannot reach", "timed out")
    assert not auth_file.exists()


@pytest.fixture
def trickling_server():
    """Answers 200 with a 40-byte body sent one byte every 0.1 s: each read
    is quick, the whole answer takes 4 s."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    stop = threading.Event()

    def serve():
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json"
                             b"\r\nContent-Length: 40\r\n\r\n")
                for byte in b'{"user_id": "u1", "email": "a@b.c"}    ':
                    if stop.wait(0.1):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % sock.getsockname()[1]
    stop.set()
    sock.close()
    thread.join(5)


def test_a_server_that_trickles_its_answer_cannot_outlast_the_timeout(
        trickling_server, monkeypatch):
    # Every byte arrives within the read timeout, so only a deadline for
    # the whole answer stops it.
    import baseten_auth

    monkeypatch.setattr(baseten_auth, "HTTP_TIMEOUT", 0.5)
    started = time.monotonic()
    with pytest.raises(baseten_auth.NetworkError):
        baseten_auth.http_request("GET", trickling_server + ME_PATH)
    assert time.monotonic() - started < 2.5


def test_the_http_timeout_applies_to_connect_and_read(monkeypatch):
    """urllib uses one socket timeout for connect and for every read: the
    value handed to opener.open is HTTP_TIMEOUT."""
    import baseten_auth

    seen = {}

    class Opener:
        def open(self, request, timeout=None):
            seen["timeout"] = timeout
            raise OSError("stop")

    monkeypatch.setattr(urllib.request, "build_opener", lambda *h: Opener())
    monkeypatch.setattr(baseten_auth, "HTTP_TIMEOUT", 7)
    with pytest.raises(baseten_auth.NetworkError):
        baseten_auth.http_request("GET", "http://127.0.0.1:9/x")
    assert seen["timeout"] == 7


# Retries while polling -----------------------------------------------------


def _drop_connection(request):
    raise ConnectionAbortedError("the fake server hangs up")


def test_polling_retries_5xx_429_and_dropped_connections_until_a_token(
        run_cli, fake_api, auth_file):
    fake_api.route("POST", AUTHORIZE, Reply(200, authorize_body()))
    fake_api.route("POST", TOKEN,
                   Reply(503, body="<html>busy</html>"),
                   Reply(429, {"error": "slow"}, headers={"Retry-After": "0"}),
                   _drop_connection,
                   Reply(502, body="Bad gateway"),
                   PENDING,
                   Reply(200, TOKENS))
    fake_api.route("GET", ME_PATH, bearer_me)
    result = web_login(run_cli)
    assert result.rc == 0, result
    assert result.out == LOGGED_IN
    assert "Traceback" not in result.err
    assert len(fake_api.requests_to("POST", TOKEN)) == 6
    assert auth_file.profiles()["ci"]["oauth_credential"]["access_token"] == "at-net-1"


def test_polling_a_failing_server_stops_when_the_device_code_expires(
        run_cli, fake_api, auth_file):
    fake_api.route("POST", AUTHORIZE,
                   Reply(200, authorize_body(expires_in=1, interval=0.05)))
    fake_api.route("POST", TOKEN, Reply(503, {"error": "down"}))
    started = time.monotonic()
    result = web_login(run_cli)
    assert time.monotonic() - started < 8
    assert_only_error_line(result, 3, "expired")
    assert len(fake_api.requests_to("POST", TOKEN)) >= 2
    assert not auth_file.exists()


class _Clock:
    """A fake monotonic clock that the fake sleep advances."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def _flow(replies, clock):
    import baseten_auth

    queue = list(replies)

    def request(method, url, authorization=None, form=None, secrets=()):
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(reply, Exception):
            raise reply
        return baseten_auth.HttpResponse(*reply)

    flow = baseten_auth.DeviceFlow("https://app.baseten.co", request=request,
                                   clock=clock, sleep=clock.sleep)
    return flow, baseten_auth.DeviceAuthorization


def test_retry_after_is_honoured_and_failures_back_off():
    import baseten_auth

    clock = _Clock()
    flow, Authorization = _flow([
        (429, None, {"Retry-After": "7"}),
        (500, None, {}),
        baseten_auth.NetworkError("cannot reach x: refused"),
        (200, TOKENS, {}),
    ], clock)
    auth = Authorization(authorize_body(expires_in=600, interval=1))
    assert flow.wait(auth) == TOKENS
    # interval, then Retry-After, then doubling from there.
    assert clock.sleeps == [1, 7, 14, 28]


def test_a_long_retry_after_does_not_outlive_the_device_code():
    import baseten_auth

    clock = _Clock()
    flow, Authorization = _flow([(503, None, {"Retry-After": "120"})], clock)
    auth = Authorization(authorize_body(expires_in=10, interval=1))
    with pytest.raises(baseten_auth.AuthRejectedError, match="expired"):
        flow.wait(auth)
    # The user is told the code expired when it does, not a minute later.
    assert sum(clock.sleeps) <= 10 + 1, clock.sleeps


# Garbage answers -------------------------------------------------------------


GARBAGE_ME = [
    pytest.param(Reply(200, body="<html><body>Welcome</body></html>"), 6,
                 "not a JSON object",
                 id="an HTML page instead of JSON is a clear error"),
    pytest.param(Reply(200, body='{"user_id": "u1", "email": "al'), 6,
                 "not a JSON object", id="truncated JSON is a clear error"),
    pytest.param(Reply(200, body=b"\xff\xfe{}"), 6, "not a JSON object",
                 id="bytes that are not UTF-8 are a clear error"),
    pytest.param(Reply(200, body=b"{" + b" " * (10 << 20) + b"}"), 6, "larger than",
                 id="a 10 MB body is refused at the size cap"),
    pytest.param(Reply(200, json=["user_id", "email"]), 6, "not a JSON object",
                 id="a JSON array is a clear error"),
    pytest.param(Reply(200, json={"unexpected": True}), 6, ME_PATH,
                 id="an object without any of the expected fields is a clear error"),
    pytest.param(Reply(500, body="<html>Internal Server Error</html>"), 6,
                 "HTTP 500", id="a 500 with an HTML body exits 6"),
    pytest.param(Reply(401, body="<html>no</html>"), 3, "HTTP 401",
                 id="a 401 with an HTML body exits 3"),
    pytest.param(Reply(502, body=b"x" * (10 << 20)), 6, "larger than",
                 id="a 10 MB error body is refused at the size cap"),
]


@pytest.mark.parametrize("reply, code, fragment", GARBAGE_ME)
def test_garbage_from_users_me_gives_one_error_line_and_stores_nothing(
        run_cli, fake_api, auth_file, reply, code, fragment):
    fake_api.route("GET", ME_PATH, reply)
    result = login_key(run_cli, "ci")
    assert_error(result, code, fragment)
    assert not auth_file.exists()


GARBAGE_DEVICE = [
    pytest.param([Reply(200, body="<html>login</html>")], None, 6, "device_code",
                 id="an HTML device authorization answer is a clear error"),
    pytest.param([Reply(200, {"device_code": 5})], None, 6, "device_code",
                 id="a device authorization answer without fields is a clear error"),
    pytest.param([Reply(200, authorize_body())], [Reply(200, {"token_type": "x"})],
                 6, "access token",
                 id="a token answer without an access token is a clear error"),
    pytest.param([Reply(200, authorize_body())], [Reply(200, body="{\"access_")],
                 6, "", id="a truncated token answer is a clear error"),
    pytest.param([Reply(200, authorize_body())],
                 [Reply(200, dict(TOKENS, expires_in=1e20))], 0, "",
                 id="an absurd expires_in is not a traceback"),
    pytest.param([Reply(200, authorize_body(interval=float("inf"),
                                            expires_in=1))],
                 [PENDING], 3, "expired",
                 id="an infinite interval is not a traceback"),
]


@pytest.mark.parametrize("authorize, token, code, fragment", GARBAGE_DEVICE)
def test_garbage_from_the_device_flow_is_never_a_traceback(
        run_cli, fake_api, auth_file, authorize, token, code, fragment):
    fake_api.route("POST", AUTHORIZE, *authorize)
    if token:
        fake_api.route("POST", TOKEN, *token)
    fake_api.route("GET", ME_PATH, bearer_me)
    result = web_login(run_cli, timeout=20)
    assert "Traceback" not in result.err, result.err
    if code == 0:
        assert result.rc == 0, result
        assert result.out == LOGGED_IN
        expiry = auth_file.profiles()["ci"]["oauth_credential"]["expiry"]
        assert expiry[:4].isdigit(), expiry
        return
    assert_only_error_line(result, code, fragment)
    assert not auth_file.exists()


# Redirects -------------------------------------------------------------------


def test_a_redirect_to_another_host_does_not_carry_the_api_key(
        run_cli, fake_api, auth_file):
    # 127.0.0.1 and localhost are different origins for the same server.
    with FakeAPI() as other:
        target = "http://localhost:%d%s" % (other.port, ME_PATH)
        fake_api.route("GET", ME_PATH, Reply(302, headers={"Location": target}))
        result = login_key(run_cli, "ci")
        arrived = other.requests_to("GET", ME_PATH)
    assert len(arrived) == 1
    assert arrived[0].headers.get("Authorization") is None
    assert_error(result, 3, "HTTP 401")
    assert not auth_file.exists()


def test_a_redirect_to_another_port_does_not_carry_the_api_key(
        run_cli, fake_api):
    with FakeAPI() as other:
        target = "%s%s" % (other.url, ME_PATH)
        fake_api.route("GET", ME_PATH, Reply(307, headers={"Location": target}))
        login_key(run_cli, "ci")
        arrived = other.requests_to("GET", ME_PATH)
    assert [r.headers.get("Authorization") for r in arrived] == [None]


def test_a_redirect_within_the_origin_keeps_the_api_key(run_cli, fake_api,
                                                        auth_file):
    from fakeapi import users_me

    fake_api.route("GET", ME_PATH,
                   Reply(301, headers={"Location": fake_api.url + "/v2/me"}))
    fake_api.route("GET", "/v2/me", users_me)
    result = login_key(run_cli, "ci")
    assert result == (0, LOGGED_IN, "")
    assert auth_file.profiles()["ci"]["api_key"] == GOOD_KEY


@pytest.mark.parametrize("old, new, kept", [
    pytest.param("https://api.example.com/a", "http://api.example.com/b", False,
                 id="https to http on the same host drops Authorization"),
    pytest.param("https://api.example.com/a", "https://evil.example.net/b", False,
                 id="https to another host drops Authorization"),
    pytest.param("https://api.example.com/a", "https://api.example.com:8443/b",
                 False, id="https to another port drops Authorization"),
    pytest.param("https://api.example.com/a", "https://api.example.com/b", True,
                 id="https within the origin keeps Authorization"),
    pytest.param("http://localhost:8/a", "https://localhost:8/b", True,
                 id="an upgrade from http to https keeps Authorization"),
])
def test_the_redirect_handler_drops_authorization_leaving_the_origin(
        old, new, kept):
    import baseten_auth

    handler = baseten_auth._safe_redirect_handler()
    request = urllib.request.Request(old, headers={"Authorization": "Api-Key k"})
    redirected = handler.redirect_request(request, None, 302, "Found", {}, new)
    assert redirected.has_header("Authorization") is kept
    assert (redirected.get_header("Authorization") == "Api-Key k") is kept


# TLS -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """(cert.pem, key.pem, a hashed cert directory) for 127.0.0.1."""
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.skip("openssl is not installed: no certificate to test TLS with")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    made = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        capture_output=True, timeout=60)
    if made.returncode != 0:
        pytest.skip("openssl cannot make a certificate: %s" % made.stderr[-200:])
    hashed = directory / "certs"
    hashed.mkdir()
    digest = subprocess.run([openssl, "x509", "-hash", "-noout", "-in", str(cert)],
                            capture_output=True, text=True, timeout=30)
    shutil.copy(cert, hashed / (digest.stdout.strip() + ".0"))
    return str(cert), str(key), str(hashed)


class TLSFakeAPI(FakeAPI):
    """FakeAPI served over TLS with the test's certificate."""

    def __init__(self, cert, key):
        super().__init__()
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self._server.server_address[1]

    def start(self):
        self._server = _Server(("127.0.0.1", 0), _TLSHandler)
        self._server.api = self
        self._server.context = self.context
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01})
        self._thread.daemon = True
        self._thread.start()
        return self


class _TLSHandler(_Handler):
    def setup(self):
        # The handshake happens in the handler's thread: a client that
        # refuses the certificate only ends this connection.
        try:
            self.request = self.server.context.wrap_socket(self.request,
                                                           server_side=True)
        except (ssl.SSLError, OSError):
            self.request.close()
            raise
        super().setup()

    def handle(self):
        try:
            super().handle()
        except (ssl.SSLError, OSError):
            pass

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.request.close()


@pytest.fixture
def tls_api(certificate):
    with TLSFakeAPI(certificate[0], certificate[1]) as api:
        yield api


def test_a_self_signed_certificate_is_refused_by_default(run_cli, tls_api,
                                                         auth_file):
    result = login_key(run_cli, "ci", env={
        "BASETEN_MANAGEMENT_API_URL_OVERRIDE": tls_api.url})
    assert_error(result, 1, "cannot reach", "certificate verify failed")
    assert tls_api.requests == []
    assert not auth_file.exists()


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "SSL_CERT_DIR"])
def test_a_certificate_trusted_through_the_environment_is_accepted(
        run_cli, tls_api, certificate, auth_file, variable):
    cert, _, hashed = certificate
    result = login_key(run_cli, "ci", env={
        "BASETEN_MANAGEMENT_API_URL_OVERRIDE": tls_api.url,
        variable: cert if variable == "SSL_CERT_FILE" else hashed})
    assert result == (0, LOGGED_IN, "")
    assert len(tls_api.requests_to("GET", ME_PATH)) == 1


# Proxies ---------------------------------------------------------------------


def test_http_proxy_carries_plain_http_requests(run_cli, fake_api, auth_file):
    # The "proxy" is a second fake API: it records the absolute-URI request
    # and answers it itself, so the real fake API sees nothing.
    with FakeAPI() as proxy:
        result = login_key(run_cli, "ci", env={"HTTP_PROXY": proxy.url})
        through = proxy.requests_to("GET", ME_PATH)
    assert result == (0, LOGGED_IN, "")
    assert len(through) == 1
    assert through[0].headers.get("Authorization") == "Api-Key " + GOOD_KEY
    assert fake_api.requests == []


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "*"])
def test_no_proxy_bypasses_the_proxy(run_cli, fake_api, auth_file, no_proxy):
    with FakeAPI() as proxy:
        result = login_key(run_cli, "ci", env={"HTTP_PROXY": proxy.url,
                                               "NO_PROXY": no_proxy})
        assert proxy.requests == []
    assert result == (0, LOGGED_IN, "")
    assert len(fake_api.requests_to("GET", ME_PATH)) == 1


class ConnectProxy:
    """A tiny HTTPS proxy: records each CONNECT target, then tunnels."""

    def __init__(self):
        self.targets = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,),
                             daemon=True).start()

    def _tunnel(self, client):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                return client.close()
            head += chunk
        method, target = head.split(b" ")[:2]
        self.targets.append((method.decode(), target.decode()))
        host, port = target.decode().rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self):
        self.sock.close()


def test_https_proxy_tunnels_https_requests_with_connect(
        run_cli, tls_api, certificate, auth_file):
    proxy = ConnectProxy()
    try:
        result = login_key(run_cli, "ci", env={
            "BASETEN_MANAGEMENT_API_URL_OVERRIDE": tls_api.url,
            "SSL_CERT_FILE": certificate[0], "HTTPS_PROXY": proxy.url})
    finally:
        proxy.close()
    assert result == (0, LOGGED_IN, "")
    assert proxy.targets == [("CONNECT", "127.0.0.1:%d" % tls_api.port)]


# Server text on the terminal -----------------------------------------------


ESCAPES = "\x1b[31m\x1b]0;owned\x07\x1b[2J\r\x08\x9b1m"


def _raw_controls(text):
    """Control characters left in text, other than the line feeds."""
    return [c for c in text if (ord(c) < 0x20 and c != "\n")
            or 0x7f <= ord(c) <= 0x9f]


def test_escape_sequences_in_email_and_workspace_are_neutralised(
        run_cli, fake_api):
    fake_api.route("GET", ME_PATH, Reply(200, dict(
        ME, email="eve" + ESCAPES + "@example.com", workspace_name="Acme" + ESCAPES)))
    result = login_key(run_cli, "ci")
    assert result.rc == 0, result
    assert _raw_controls(result.out) == []
    assert result.out.count("\n") == 1
    assert result.out.startswith("Logged in as eve\\x1b[31m")
    assert result.err == ""


def test_escape_sequences_in_server_error_text_are_neutralised(run_cli,
                                                               fake_api):
    fake_api.route("GET", ME_PATH, Reply(401, {"error": "bad key" + ESCAPES}))
    result = login_key(run_cli, "ci")
    line = assert_error(result, 3, "bad key\\x1b[31m")
    assert _raw_controls(result.err) == [], line


def test_escape_sequences_in_status_check_are_neutralised(run_cli, fake_api):
    fake_api.route("GET", ME_PATH, lambda r: Reply(200, dict(
        ME, email="eve" + ESCAPES, workspace_name="W" + ESCAPES)))
    result = run_cli("auth", "status", "--check",
                     env={"BASETEN_API_KEY": GOOD_KEY})
    assert result.rc == 0, result
    assert _raw_controls(result.out) == []
    assert "Logged in as eve\\x1b[31m" in result.out
    assert result.err == ""


def test_escape_sequences_in_the_user_code_and_page_are_neutralised(
        run_cli, fake_api):
    fake_api.route("POST", AUTHORIZE, Reply(200, authorize_body(
        user_code="AB" + ESCAPES, verification_uri="https://x/" + ESCAPES)))
    fake_api.route("POST", TOKEN, Reply(200, TOKENS))
    fake_api.route("GET", ME_PATH, bearer_me)
    result = web_login(run_cli)
    assert result.rc == 0, result
    assert _raw_controls(result.err) == [], result.err
    assert "AB\\x1b[31m" in result.err


@pytest.mark.parametrize("output", ["json", "jsonl"])
def test_json_output_carries_no_raw_control_characters(run_cli, fake_api,
                                                       output):
    fake_api.route("GET", ME_PATH, Reply(200, dict(
        ME, email="eve" + ESCAPES, workspace_name="W\u202eevil")))
    result = login_key(run_cli, "ci", "-o", output)
    assert result.rc == 0, result
    assert _raw_controls(result.out) == [], repr(result.out)
    assert "\u202e" not in result.out
    assert json.loads(result.out)["email"] == "eve" + ESCAPES
