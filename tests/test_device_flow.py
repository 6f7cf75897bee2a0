"""The RFC 8628 device flow in-process: `DeviceAuthorization`, the polling
loop of `DeviceFlow.wait` and `browser_login`.

The token endpoint is a scripted list of answers, the clock is fake and the
sleep only records how long it was asked to wait (and moves the clock), so
no test here sleeps. The end-to-end login through the CLI is in
test_login_web.py.
"""

from __future__ import annotations

import io
import math

import pytest

import baseten_auth
from baseten_auth import (
    AuthRejectedError,
    BasetenAuthError,
    DeviceAuthorization,
    DeviceFlow,
    NetworkError,
    NotFoundError,
    RequestRejectedError,
    ServerError,
)

DEVICE_CODE = "dev-code-SECRET-3f9a"
USER_CODE = "WDJB-MJHT"
REMOTE = "https://app.baseten.co"
BASE = "https://api.baseten.co"
PAGE = "https://app.baseten.co/device"
PAGE_COMPLETE = PAGE + "?user_code=" + USER_CODE
TOKENS = {"access_token": "at-new", "refresh_token": "rt-new",
          "token_type": "Bearer", "expires_in": 3600}


def authorization_body(**changes):
    """A device authorization answer; a None value removes the field."""
    body = {"device_code": DEVICE_CODE, "user_code": USER_CODE,
            "verification_uri": PAGE, "verification_uri_complete": PAGE_COMPLETE,
            "expires_in": 900, "interval": 5}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


# Scripted token endpoint answers ---------------------------------------------


class Answer(tuple):
    """(status, body) with headers, like the module's HttpResponse."""

    def __new__(cls, status, body=None, headers=None):
        answer = tuple.__new__(cls, (status, body))
        answer.headers = dict(headers or {})
        return answer


PENDING = Answer(400, {"error": "authorization_pending"})
SLOW_DOWN = Answer(400, {"error": "slow_down"})
TOKEN = Answer(200, TOKENS)
DENIED = Answer(400, {"error": "access_denied"})
EXPIRED = Answer(400, {"error": "expired_token"})


def slow_down(interval):
    return Answer(400, {"error": "slow_down", "interval": interval})


def unreachable():
    return NetworkError("cannot reach %s/v1/users/auth/device/token: "
                        "connection refused" % BASE)


class FakeServer:
    """The `request` of a DeviceFlow: answers in order, the last repeats.

    An answer that is an exception is raised instead of returned. Each call
    is recorded with the fake clock's time.
    """

    def __init__(self, clock, answers, authorize=None):
        self.clock = clock
        self.answers = list(answers)
        self.authorize = authorize or Answer(200, authorization_body())
        self.calls = []

    def __call__(self, method, url, authorization=None, form=None, secrets=()):
        self.calls.append({"method": method, "url": url, "form": form,
                           "secrets": tuple(secrets), "at": self.clock.now,
                           "authorization": authorization})
        if url.endswith("/device/authorize"):
            answer = self.authorize
        else:
            answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    @property
    def polls(self):
        return [c for c in self.calls if c["url"].endswith("/device/token")]


class FakeClock:
    """A monotonic clock that only moves when `sleep` is called."""

    def __init__(self, now=1000.0, limit=10000):
        self.now = now
        self.sleeps = []
        self.limit = limit

    def clock(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0, seconds
        # What time.sleep can take (2**63 ns); more raises OverflowError.
        assert math.isfinite(seconds) and seconds < 9e9, "asked to sleep %r" % seconds
        self.sleeps.append(seconds)
        assert len(self.sleeps) < self.limit, "the loop does not end"
        self.now += seconds


def make_flow(answers, authorize=None):
    clock = FakeClock()
    server = FakeServer(clock, answers, authorize)
    flow = DeviceFlow(REMOTE, request=server, clock=clock.clock, sleep=clock.sleep)
    return flow, server, clock


# The polling loop as a table ---------------------------------------------------


def grows_after_each_failure(sleeps):
    """Backing off: the first wait is the interval, later ones never shrink
    below it and grow after a failure."""
    return sleeps[0] == 5 and all(s >= 5 for s in sleeps) and sleeps[1] > sleeps[0]


def never_below_interval(sleeps):
    return sleeps[0] == 5 and all(s >= 5 for s in sleeps)


Case = pytest.param
DONE = "done"

POLL_CASES = [
    # id, authorization changes, answers, outcome, sleeps, number of polls
    Case({"interval": None}, [PENDING, PENDING, TOKEN], DONE, [5, 5, 5], 3,
         id="given no interval, polls every 5 s until the token comes"),
    Case({}, [TOKEN], DONE, [5], 1,
         id="given an approval at once, waits one interval before the only poll"),
    Case({"interval": 2}, [PENDING, TOKEN], DONE, [2, 2], 2,
         id="given an interval of 2, polls every 2 s"),
    Case({"interval": 0.5}, [PENDING, TOKEN], DONE, [0.5, 0.5], 2,
         id="given a fractional interval, polls at it"),
    Case({"interval": 0}, [TOKEN], DONE, [5], 1,
         id="given an interval of 0, uses the default 5 s"),
    Case({"interval": "3"}, [TOKEN], DONE, [5], 1,
         id="given an interval that is a string, uses the default 5 s"),
    Case({}, [SLOW_DOWN, PENDING, PENDING, TOKEN], DONE, [5, 10, 10, 10], 4,
         id="given slow_down, adds 5 s for this and every later poll"),
    Case({}, [SLOW_DOWN, SLOW_DOWN, TOKEN], DONE, [5, 10, 15], 3,
         id="given slow_down twice, adds 5 s each time"),
    Case({}, [slow_down(12), PENDING, TOKEN], DONE, [5, 12, 12], 3,
         id="given slow_down with an interval, uses the server's interval"),
    Case({}, [slow_down("12"), TOKEN], DONE, [5, 10], 2,
         id="given slow_down with a string interval, adds 5 s"),
    Case({}, [slow_down(-3), TOKEN], DONE, [5, 10], 2,
         id="given slow_down with a negative interval, adds 5 s"),
    Case({}, [slow_down(float("inf")), TOKEN], DONE, [5, 10], 2,
         id="given slow_down with an infinite interval, adds 5 s"),
    Case({"interval": 1e12, "expires_in": 1e12}, [TOKEN],
         (AuthRejectedError, 3, "expired"), None, 0,
         id="given an interval too long to sleep, never asks time.sleep for it"),
    Case({}, [PENDING, DENIED], (AuthRejectedError, 3, "denied"), [5, 5], 2,
         id="given access_denied, exits 3 saying the login was denied"),
    Case({}, [EXPIRED], (AuthRejectedError, 3, "expired"), [5], 1,
         id="given expired_token, exits 3 saying the code expired"),
    Case({"expires_in": 20}, [PENDING], (AuthRejectedError, 3, "expired"),
         [5, 5, 5, 5], 3,
         id="given pending until expires_in, stops at the deadline without "
            "another poll"),
    Case({"expires_in": 12}, [SLOW_DOWN], (AuthRejectedError, 3, "expired"),
         None, 1,
         id="given slow_down until expires_in, stops at the deadline"),
    Case({}, [Answer(503), PENDING, TOKEN], DONE, never_below_interval, 3,
         id="given a 503, polls again"),
    Case({}, [Answer(500, None), Answer(502, None), TOKEN], DONE,
         grows_after_each_failure, 3,
         id="given 5xx answers in a row, backs off"),
    Case({}, [Answer(429, {"error": "too many requests"}), TOKEN], DONE,
         never_below_interval, 2,
         id="given a 429, polls again"),
    Case({}, [Answer(429, None, {"Retry-After": "30"}), TOKEN], DONE,
         lambda sleeps: sleeps[0] == 5 and sleeps[1] >= 30, 2,
         id="given a 429 with Retry-After 30, waits at least 30 s"),
    Case({}, [unreachable(), unreachable(), TOKEN], DONE,
         grows_after_each_failure, 3,
         id="given connection errors, backs off before polling again "
            "(RFC 8628 section 3.5)"),
    Case({}, [ServerError("the answer is larger than 1048576 bytes"), TOKEN],
         DONE, never_below_interval, 2,
         id="given an answer too large to read, polls again"),
    Case({}, [slow_down(90), Answer(503), TOKEN], DONE,
         lambda sleeps: sleeps[:2] == [5, 90] and sleeps[2] >= 90, 3,
         id="given a 5xx after slow_down to 90 s, never polls faster than 90 s"),
    Case({"expires_in": 60}, [Answer(502)], (AuthRejectedError, 3, "expired"),
         never_below_interval, None,
         id="given 5xx answers until expires_in, stops with the expired error"),
    Case({"expires_in": 60}, [Answer(503)], (AuthRejectedError, 3, "expired"),
         lambda sleeps: sum(sleeps) <= 60 + 5, None,
         id="given 5xx answers until expires_in, gives up at the deadline, not "
            "a backoff later"),
    Case({"expires_in": 60}, [unreachable()], (AuthRejectedError, 3, "expired"),
         never_below_interval, None,
         id="given connection errors until expires_in, stops with the expired "
            "error"),
    Case({}, [Answer(200, None)], (ServerError, 6, "access token"), [5], 1,
         id="given a 200 whose body is not JSON, exits 6"),
    Case({}, [Answer(200, ["at-new"])], (ServerError, 6, "access token"), [5], 1,
         id="given a 200 whose body is a JSON list, exits 6"),
    Case({}, [Answer(200, {"access_token": 42})], (ServerError, 6, "access token"),
         [5], 1, id="given a 200 whose access token is not a string, exits 6"),
    Case({}, [Answer(200, {"token_type": "Bearer"})],
         (ServerError, 6, "access token"), [5], 1,
         id="given a 200 without an access token, exits 6"),
    Case({}, [Answer(400, None)], (RequestRejectedError, 5, "HTTP 400"), [5], 1,
         id="given a 400 whose body is not JSON, exits 5 naming the status"),
    Case({}, [Answer(400, ["authorization_pending"])],
         (RequestRejectedError, 5, "HTTP 400"), [5], 1,
         id="given a 400 whose body is a JSON list, exits 5"),
    Case({}, [Answer(400, {"error": "unsupported_grant_type"})],
         (RequestRejectedError, 5, "unsupported_grant_type"), [5], 1,
         id="given another OAuth error, exits 5 naming it"),
    Case({}, [Answer(400, {"error": "invalid_grant"})],
         (AuthRejectedError, 3, "invalid_grant"), [5], 1,
         id="given invalid_grant, exits 3 as an invalid grant does"),
    Case({}, [Answer(401, {"error": "invalid_client"})],
         (AuthRejectedError, 3, "invalid_client"), [5], 1,
         id="given a 401 invalid_client, exits 3"),
    Case({}, [Answer(404, None)], (NotFoundError, 4, "HTTP 404"), [5], 1,
         id="given a 404, exits 4"),
    Case({}, [Answer(204, None)], (ServerError, 6, "HTTP 204"), [5], 1,
         id="given a 204 without a token, exits 6 naming the real status"),
    Case({}, [Answer(400, {"error": "invalid_request", "error_description":
                           "unknown device_code " + DEVICE_CODE})],
         (RequestRejectedError, 5, "HTTP 400"), [5], 1,
         id="given an error description that echoes the device code, the "
            "message hides it"),
    Case({}, [Answer(400, {"error": "invalid_request", "error_description":
                           "bad \x1b[2J\x07 input"})],
         (RequestRejectedError, 5, "bad "), [5], 1,
         id="given an error description with escape codes, the message "
            "neutralises them"),
]


@pytest.mark.parametrize("changes, answers, outcome, sleeps, polls", POLL_CASES)
def test_polling_loop(monkeypatch, capsys, changes, answers, outcome, sleeps, polls):
    monkeypatch.setattr(baseten_auth, "_verbose", True)  # debug lines, too
    flow, server, clock = make_flow(answers)
    authorization = DeviceAuthorization(authorization_body(**changes))
    deadline = clock.now + authorization.expires_in

    if outcome == DONE:
        assert flow.wait(authorization) == TOKENS
    else:
        error_class, exit_code, fragment = outcome
        with pytest.raises(BasetenAuthError) as info:
            flow.wait(authorization)
        error = info.value
        assert type(error) is error_class, error
        assert error.exit_code == exit_code
        message = str(error)
        assert fragment in message
        assert DEVICE_CODE not in message
        assert "\n" not in message and "\x1b" not in message and "\x07" not in message

    if callable(sleeps):
        assert sleeps(clock.sleeps), clock.sleeps
    elif sleeps is not None:
        assert clock.sleeps == sleeps
    if polls is not None:
        assert len(server.polls) == polls
    # Never a poll at or after the deadline, never one without a wait before.
    assert all(poll["at"] < deadline for poll in server.polls)
    assert len(clock.sleeps) >= len(server.polls)
    captured = capsys.readouterr()
    assert DEVICE_CODE not in captured.out + captured.err
    assert captured.out == ""


def test_each_poll_sends_the_device_code_grant_and_marks_the_code_secret():
    flow, server, _ = make_flow([PENDING, TOKEN])
    flow.wait(DeviceAuthorization(authorization_body()))
    assert len(server.polls) == 2
    for poll in server.polls:
        assert poll["method"] == "POST"
        assert poll["url"] == BASE + "/v1/users/auth/device/token"
        assert poll["form"] == {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": DEVICE_CODE, "client_id": "baseten-cli"}
        assert DEVICE_CODE in poll["secrets"]
        assert poll["authorization"] is None


def test_wait_uses_on_wait_instead_of_sleep_when_given():
    flow, server, clock = make_flow([PENDING, TOKEN])
    waited = []
    flow.wait(DeviceAuthorization(authorization_body()),
              on_wait=lambda s: (waited.append(s), clock.sleep(s)))
    assert waited == [5, 5]


def test_ctrl_c_while_waiting_stops_the_loop():
    flow, server, clock = make_flow([PENDING])

    def interrupted(seconds):
        if clock.sleeps:
            raise KeyboardInterrupt
        clock.sleep(seconds)

    flow.sleep = interrupted
    with pytest.raises(KeyboardInterrupt):
        flow.wait(DeviceAuthorization(authorization_body()))
    assert len(server.polls) == 1


def test_the_management_url_override_is_where_the_flow_goes(monkeypatch):
    monkeypatch.setenv("BASETEN_MANAGEMENT_API_URL_OVERRIDE", "http://127.0.0.1:9")
    flow = DeviceFlow("https://app.example.com")
    assert flow.base == "http://127.0.0.1:9"
    monkeypatch.delenv("BASETEN_MANAGEMENT_API_URL_OVERRIDE")
    assert DeviceFlow("https://app.example.com").base == "https://api.example.com"


# The device authorization request ----------------------------------------------


def test_start_sends_the_client_id_and_returns_the_authorization():
    flow, server, _ = make_flow([TOKEN])
    authorization = flow.start()
    [call] = server.calls
    assert call["method"] == "POST"
    assert call["url"] == BASE + "/v1/users/auth/device/authorize"
    assert call["form"] == {"client_id": "baseten-cli"}
    assert call["authorization"] is None
    assert authorization.device_code == DEVICE_CODE
    assert authorization.user_code == USER_CODE
    assert authorization.verification_uri == PAGE
    assert authorization.verification_uri_complete == PAGE_COMPLETE
    assert (authorization.expires_in, authorization.interval) == (900, 5)


@pytest.mark.parametrize(
    "answer, error_class, exit_code",
    [
        pytest.param(Answer(404, {"error": "not found"}), NotFoundError, 4,
                     id="given a 404, exits 4"),
        pytest.param(Answer(401, {"error": "invalid_client"}), AuthRejectedError, 3,
                     id="given a 401, exits 3"),
        pytest.param(Answer(400, {"error": "invalid_request"}), RequestRejectedError,
                     5, id="given a 400, exits 5"),
        pytest.param(Answer(503, None), ServerError, 6, id="given a 503, exits 6"),
        pytest.param(Answer(200, None), ServerError, 6,
                     id="given a body that is not JSON, exits 6"),
        pytest.param(Answer(200, {"user_code": "X"}), ServerError, 6,
                     id="given an answer without a device code, exits 6"),
    ],
)
def test_a_failed_device_authorization_request_is_an_error(answer, error_class,
                                                           exit_code):
    flow, _, _ = make_flow([TOKEN], authorize=answer)
    with pytest.raises(error_class) as info:
        flow.start()
    assert info.value.exit_code == exit_code


# DeviceAuthorization validation ------------------------------------------------


@pytest.mark.parametrize(
    "body, field",
    [
        pytest.param(authorization_body(device_code=None), "device_code",
                     id="without a device code"),
        pytest.param(authorization_body(user_code=None), "user_code",
                     id="without a user code"),
        pytest.param(authorization_body(verification_uri=None), "verification_uri",
                     id="without a verification URI"),
        pytest.param(authorization_body(device_code=""), "device_code",
                     id="with an empty device code"),
        pytest.param(authorization_body(user_code=1234), "user_code",
                     id="with a user code that is a number"),
        pytest.param(authorization_body(verification_uri=["x"]), "verification_uri",
                     id="with a verification URI that is a list"),
        pytest.param(None, "device_code", id="with no JSON body at all"),
        pytest.param(["device_code"], "device_code", id="with a JSON list"),
        pytest.param("device_code=x", "device_code", id="with a JSON string"),
    ],
)
def test_an_incomplete_device_authorization_is_a_server_error(body, field):
    with pytest.raises(ServerError) as info:
        DeviceAuthorization(body)
    assert info.value.exit_code == 6
    assert field in str(info.value)


@pytest.mark.parametrize(
    "value, expected",
    [
        pytest.param(None, 5, id="a missing interval is 5 s"),
        pytest.param(7, 7, id="an interval of 7 is kept"),
        pytest.param(2.5, 2.5, id="a fractional interval is kept"),
        pytest.param(0, 5, id="an interval of 0 is 5 s"),
        pytest.param(-1, 5, id="a negative interval is 5 s"),
        pytest.param("7", 5, id="a string interval is 5 s"),
        pytest.param(True, 5, id="a boolean interval is 5 s"),
        pytest.param(float("nan"), 5, id="a NaN interval is 5 s"),
        pytest.param(float("inf"), 5, id="an infinite interval is 5 s"),
    ],
)
def test_the_interval_defaults_to_5_seconds(value, expected):
    authorization = DeviceAuthorization(authorization_body(interval=value))
    assert authorization.interval == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="a missing expires_in"),
        pytest.param(0, id="expires_in 0"),
        pytest.param("600", id="a string expires_in"),
        pytest.param(float("inf"), id="an infinite expires_in"),
    ],
)
def test_an_unusable_expires_in_gets_a_finite_positive_default(value):
    authorization = DeviceAuthorization(authorization_body(expires_in=value))
    assert 0 < authorization.expires_in < float("inf")


def test_expires_in_is_kept():
    assert DeviceAuthorization(authorization_body(expires_in=600)).expires_in == 600


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param(42, id="a number"),
    ],
)
def test_an_unusable_verification_uri_complete_is_none(value):
    body = authorization_body(verification_uri_complete=value)
    assert DeviceAuthorization(body).verification_uri_complete is None


def test_escape_codes_in_the_codes_and_uris_are_neutralised():
    authorization = DeviceAuthorization(authorization_body(
        user_code="AB\x1b[2JCD", verification_uri=PAGE + "\x1b]0;x\x07",
        verification_uri_complete=PAGE_COMPLETE + "\r\n"))
    for text in (authorization.user_code, authorization.verification_uri,
                 authorization.verification_uri_complete):
        assert text is None or text.isprintable(), repr(text)


@pytest.mark.parametrize(
    "field, value",
    [
        pytest.param("verification_uri", "javascript:alert(1)",
                     id="a javascript: verification URI"),
        pytest.param("verification_uri", "file:///etc/passwd",
                     id="a file: verification URI"),
        pytest.param("verification_uri", "--help",
                     id="a verification URI that looks like an option"),
        pytest.param("verification_uri_complete", "file:///etc/passwd",
                     id="a file: verification URI complete"),
        pytest.param("verification_uri_complete", "-a evil",
                     id="a verification URI complete that looks like an option"),
    ],
)
def test_a_verification_uri_that_is_not_http_is_never_opened(field, value):
    """Hardening: the page handed to xdg-open/BROWSER is an http(s) URL."""
    changes = {field: value}
    if field == "verification_uri":
        changes["verification_uri_complete"] = None
    try:
        authorization = DeviceAuthorization(authorization_body(**changes))
    except ServerError:
        return  # refused outright: fine
    page = (authorization.verification_uri_complete
            or authorization.verification_uri)
    assert page.startswith(("https://", "http://")), page


def test_the_device_code_is_never_in_the_repr_or_str():
    authorization = DeviceAuthorization(authorization_body())
    assert DEVICE_CODE not in repr(authorization)
    assert DEVICE_CODE not in str(authorization)
    assert USER_CODE in repr(authorization)


# browser_login ------------------------------------------------------------------


class TerminalStream(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self):
        return True


@pytest.fixture
def fixed_now(monkeypatch):
    monkeypatch.setattr(baseten_auth, "_now", lambda: 1767225600.0)  # 2026-01-01
    return 1767225600.0


def test_browser_login_shows_the_page_and_code_opens_the_complete_uri(
        capsys, fixed_now):
    flow, server, clock = make_flow([PENDING, TOKEN])
    opened = []
    credential = baseten_auth.browser_login(
        REMOTE, flow=flow, browser=lambda url: opened.append(url) or True)
    assert credential == {"access_token": "at-new", "refresh_token": "rt-new",
                          "expiry": "2026-01-01T01:00:00Z"}
    assert opened == [PAGE_COMPLETE]
    captured = capsys.readouterr()
    assert captured.out == ""
    assert PAGE in captured.err and USER_CODE in captured.err
    assert DEVICE_CODE not in captured.err
    assert clock.sleeps == [5, 5]


def test_browser_login_without_a_complete_uri_opens_the_verification_uri(capsys):
    flow, server, _ = make_flow(
        [TOKEN], authorize=Answer(200, authorization_body(
            verification_uri_complete=None)))
    opened = []
    baseten_auth.browser_login(REMOTE, flow=flow,
                               browser=lambda url: opened.append(url) or True)
    assert opened == [PAGE]


def test_browser_login_when_no_browser_opens_prints_the_url_only(capsys):
    flow, _, _ = make_flow([TOKEN])
    baseten_auth.browser_login(REMOTE, flow=flow, browser=lambda url: False)
    err = capsys.readouterr().err
    assert PAGE in err and USER_CODE in err
    assert "Opened" not in err


def test_browser_login_when_stderr_is_not_a_terminal_writes_plain_lines(capsys):
    flow, _, _ = make_flow([PENDING] * 5 + [TOKEN])
    baseten_auth.browser_login(REMOTE, flow=flow, browser=lambda url: False)
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err and "\b" not in err
    assert err.endswith("\n")
    assert len(err.splitlines()) <= 3, err  # not one line per poll


def test_browser_login_expiry_is_zero_time_when_expires_in_is_missing(capsys):
    flow, _, _ = make_flow([Answer(200, {"access_token": "at", "refresh_token": "rt"})])
    credential = baseten_auth.browser_login(REMOTE, flow=flow, browser=lambda u: False)
    assert credential == {"access_token": "at", "refresh_token": "rt",
                          "expiry": "0001-01-01T00:00:00Z"}


def test_browser_login_on_a_terminal_spins_on_the_injected_clock(monkeypatch):
    stderr = TerminalStream()
    monkeypatch.setattr("sys.stderr", stderr)
    flow, _, clock = make_flow([PENDING, TOKEN])
    clock.limit = 500  # a spinner on the real clock would call sleep forever
    baseten_auth.browser_login(REMOTE, flow=flow, browser=lambda url: False)
    assert abs(sum(clock.sleeps) - 10) < 1e-6, clock.sleeps
    err = stderr.getvalue()
    assert "\r" in err  # the spinner redraws its line
    assert err.endswith("\r\x1b[K") or err.endswith("\n"), repr(err[-20:])


def test_browser_login_ctrl_c_on_a_terminal_clears_the_spinner(monkeypatch):
    stderr = TerminalStream()
    monkeypatch.setattr("sys.stderr", stderr)
    flow, _, clock = make_flow([PENDING])

    def interrupted(seconds):
        raise KeyboardInterrupt

    flow.sleep = interrupted
    with pytest.raises(KeyboardInterrupt):
        baseten_auth.browser_login(REMOTE, flow=flow, browser=lambda url: False)
    assert stderr.getvalue().endswith("\r\x1b[K")
