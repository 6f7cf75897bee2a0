"""`baseten auth login --web` end to end: the CLI as a subprocess against the
fake management API, with the device flow's routes scripted and a poll
interval of 0.02 s.

PATH holds only fake browsers (xdg-open, lynx, w3m, ...) that record being
called, so no real browser or keyring tool is ever started. The terminal
cases run the CLI on a pseudo-terminal.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from datetime import datetime

import pytest

from conftest import (
    CLI_PATH,
    DEFAULT_REMOTE,
    GOOD_KEY,
    ME,
    api_key_profile,
    auth_data,
    merged_env,
)
from fakeapi import Reply

DEVICE_CODE = "dev-code-SECRET-77e1"
USER_CODE = "BDWP-HQPK"
PAGE = "https://app.baseten.co/device"
PAGE_COMPLETE = PAGE + "?user_code=" + USER_CODE
ACCESS_TOKEN = "at-web-SECRET-1"
REFRESH_TOKEN = "rt-web-SECRET-1"
AUTHORIZE = "/v1/users/auth/device/authorize"
TOKEN = "/v1/users/auth/device/token"
PENDING = Reply(400, {"error": "authorization_pending"})
TOKENS = Reply(200, {"access_token": ACCESS_TOKEN, "refresh_token": REFRESH_TOKEN,
                     "token_type": "Bearer", "expires_in": 3600})
LOGGED_IN = "Logged in as alice@example.com (Acme) as profile %s\n"
SECRETS = (DEVICE_CODE, ACCESS_TOKEN, REFRESH_TOKEN)
BROWSERS = ("xdg-open", "gio", "x-www-browser", "sensible-browser", "www-browser",
            "lynx", "w3m", "links", "elinks", "open", "firefox")


def authorize_body(**changes):
    body = {"device_code": DEVICE_CODE, "user_code": USER_CODE,
            "verification_uri": PAGE, "verification_uri_complete": PAGE_COMPLETE,
            "expires_in": 30, "interval": 0.02}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def users_me(me=ME):
    def reply(request):
        if request.headers.get("Authorization") in (
                "Bearer " + ACCESS_TOKEN, "Api-Key " + GOOD_KEY):
            return Reply(200, me)
        return Reply(401, {"error": "invalid credential"})

    return reply


@pytest.fixture
def opened_log(tmp_path):
    return tmp_path / "opened.log"


@pytest.fixture
def fake_bin(tmp_path, cli_env, opened_log):
    """PATH with recording fake browsers only; no display, no BROWSER."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for name in BROWSERS:
        write_script(directory / name,
                     'printf "%%s\\n" "%s $*" >> "%s"\n' % (name, opened_log))
    cli_env["PATH"] = str(directory)
    cli_env["TERM"] = "xterm"  # webbrowser considers console browsers then
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER"):
        cli_env.pop(name, None)
    return directory


def write_script(path, body, status=0):
    path.write_text("#!/bin/sh\n%sexit %d\n" % (body, status))
    path.chmod(0o755)
    return path


@pytest.fixture
def device(fake_api, fake_bin):
    """The fake API scripted for a login that is approved on the third poll."""
    fake_api.route("POST", AUTHORIZE, Reply(200, authorize_body()))
    fake_api.route("POST", TOKEN, PENDING, PENDING, TOKENS)
    fake_api.route("GET", "/v1/users/me", users_me())
    return fake_api


def login(run_cli, *args, env=None):
    return run_cli("auth", "login", "--web", *args, env=env)


def browser_calls(log, wait=0.0):
    """The recorded browser starts; waits up to `wait` s for the first one."""
    deadline = time.monotonic() + wait
    while not log.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.05 if wait else 0)
    return log.read_text().splitlines() if log.exists() else []


def parse_rfc3339(value):
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
                        value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def assert_nothing_stored(auth_file):
    if auth_file.dir.exists():
        assert [n for n in os.listdir(auth_file.dir) if not n.endswith(".lock")] == []


def error_line(err):
    lines = err.splitlines()
    assert lines and lines[-1].startswith("error: "), err
    assert "Traceback" not in err
    return lines[-1]


# The happy path ------------------------------------------------------------------


def test_login_web_stores_an_oauth_profile_named_after_the_email(
        run_cli, auth_file, device):
    started = time.time()
    result = login(run_cli, "--insecure-storage")
    assert result.rc == 0, result
    assert result.out == LOGGED_IN % "alice@example.com"
    assert "warning" not in result.err
    # The page and the user code on stderr, never on stdout.
    assert PAGE in result.err and USER_CODE in result.err
    assert USER_CODE not in result.out and PAGE not in result.out
    for secret in SECRETS:
        assert secret not in result.err and secret not in result.out
    # Stored like an API key is: in a private auth file (--insecure-storage).
    assert oct(auth_file.path.stat().st_mode & 0o777) == oct(0o600)
    data = auth_file.read()
    assert data["current"] == "alice@example.com"
    entry = data["profiles"]["alice@example.com"]
    credential = entry.pop("oauth_credential")
    assert entry == {"remote_url": DEFAULT_REMOTE, "auth_type": "oauth"}
    assert (credential["access_token"], credential["refresh_token"]) == (
        ACCESS_TOKEN, REFRESH_TOKEN)
    expiry = parse_rfc3339(credential["expiry"])
    assert started + 3600 - 2 <= expiry <= time.time() + 3600 + 2


def test_login_web_sends_the_rfc_8628_requests(run_cli, auth_file, device):
    assert login(run_cli, "--insecure-storage").rc == 0
    [authorize] = device.requests_to("POST", AUTHORIZE)
    assert authorize.form() == {"client_id": "baseten-cli"}
    assert authorize.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert authorize.headers.get("Authorization") is None
    polls = device.requests_to("POST", TOKEN)
    assert len(polls) == 3
    for poll in polls:
        assert poll.form() == {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": DEVICE_CODE, "client_id": "baseten-cli"}
        assert poll.headers["User-Agent"].startswith("baseten_auth/")
    [me] = device.requests_to("GET", "/v1/users/me")
    assert me.headers["Authorization"] == "Bearer " + ACCESS_TOKEN


def test_login_web_when_stderr_is_not_a_terminal_writes_no_spinner(
        run_cli, auth_file, device):
    device.route("POST", TOKEN, *([PENDING] * 10 + [TOKENS]))
    result = login(run_cli, "--insecure-storage")
    assert result.rc == 0, result
    assert "\r" not in result.err and "\x1b" not in result.err
    assert "\b" not in result.err
    assert len(result.err.splitlines()) <= 3, result.err  # not a line per poll


def test_login_web_verbose_never_shows_the_device_code_or_tokens(
        run_cli, auth_file, device):
    result = login(run_cli, "--insecure-storage", "-v")
    assert result.rc == 0, result
    assert "debug:" in result.err
    for secret in SECRETS:
        assert secret not in result.err


@pytest.mark.parametrize(
    "args, env, profile, remote",
    [
        pytest.param(["--remote-url", "https://app.example.com"], None,
                     "alice@example.com:example.com", "https://app.example.com",
                     id="given another remote, the profile is EMAIL:HOST"),
        pytest.param(["--remote-url", "https://app.staging.baseten.co:8443/"], None,
                     "alice@example.com:staging.baseten.co",
                     "https://app.staging.baseten.co:8443",
                     id="given a remote with a port, HOST has neither app. nor "
                        "the port"),
        pytest.param([], {"BASETEN_REMOTE_URL": "https://app.example.com"},
                     "alice@example.com:example.com", "https://app.example.com",
                     id="given BASETEN_REMOTE_URL, the profile is EMAIL:HOST"),
        pytest.param(["--remote-url", "https://app.baseten.co/"], None,
                     "alice@example.com", DEFAULT_REMOTE,
                     id="given the default remote spelled with a slash, the "
                        "profile is EMAIL"),
        pytest.param(["--remote-url", "https://app.baseten.co:443"], None,
                     "alice@example.com", DEFAULT_REMOTE,
                     id="given the default remote with its default port, the "
                        "profile is EMAIL"),
        pytest.param(["--profile", "work"], None, "work", DEFAULT_REMOTE,
                     id="given --profile, it names the profile"),
        pytest.param(["--profile", "work", "--remote-url", "https://app.example.com"],
                     None, "work", "https://app.example.com",
                     id="given --profile and another remote, --profile wins"),
    ],
)
def test_login_web_profile_name(run_cli, auth_file, device, args, env, profile,
                                remote):
    result = login(run_cli, "--insecure-storage", *args, env=env)
    assert result.rc == 0, result
    assert result.out == LOGGED_IN % profile
    data = auth_file.read()
    assert list(data["profiles"]) == [profile]
    assert data["current"] == profile
    assert data["profiles"][profile]["remote_url"] == remote


@pytest.mark.parametrize("email", [
    pytest.param("", id="an empty email"),
    pytest.param(None, id="a null email"),
])
def test_login_web_without_an_email_and_no_profile_fails_naming_profile(
        run_cli, auth_file, device, email):
    device.route("GET", "/v1/users/me", users_me(dict(ME, email=email)))
    result = login(run_cli, "--insecure-storage")
    assert result.rc != 0
    assert result.out == ""
    assert "--profile" in error_line(result.err)
    assert_nothing_stored(auth_file)


def test_login_web_without_an_email_but_with_profile_works(run_cli, auth_file, device):
    device.route("GET", "/v1/users/me", users_me(dict(ME, email="")))
    result = login(run_cli, "--insecure-storage", "--profile", "work")
    assert result.rc == 0, result
    assert list(auth_file.profiles()) == ["work"]


@pytest.mark.parametrize("current", [
    pytest.param("ci", id="given a current profile, --no-switch keeps it"),
    pytest.param("", id="given no current profile, --no-switch leaves none"),
])
def test_login_web_no_switch(run_cli, auth_file, device, current):
    auth_file.write(auth_data({"ci": api_key_profile()}, current=current))
    result = login(run_cli, "--insecure-storage", "--no-switch")
    assert result.rc == 0, result
    data = auth_file.read()
    assert data["current"] == current
    assert set(data["profiles"]) == {"ci", "alice@example.com"}
    assert data["profiles"]["ci"] == api_key_profile()


def test_login_web_again_replaces_the_profile_whole(run_cli, auth_file, device):
    auth_file.write(auth_data({"alice@example.com": api_key_profile(note="old")},
                              current=""))
    assert login(run_cli, "--insecure-storage").rc == 0
    entry = auth_file.profiles()["alice@example.com"]
    assert set(entry) == {"remote_url", "auth_type", "oauth_credential"}
    assert entry["auth_type"] == "oauth"


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_login_web_json_output(run_cli, auth_file, device, fmt):
    result = login(run_cli, "--insecure-storage", "-o", fmt)
    assert result.rc == 0, result
    expected = dict({"profile": "alice@example.com"}, **ME)
    assert json.loads(result.out) == expected
    if fmt == "jsonl":
        assert result.out.count("\n") == 1
    for secret in SECRETS:
        assert secret not in result.out


def test_login_web_jq_prints_the_profile(run_cli, auth_file, device):
    result = login(run_cli, "--insecure-storage", "--jq", ".profile")
    assert result.rc == 0, result
    assert result.out == '"alice@example.com"\n'


def test_login_web_output_none_prints_nothing_on_stdout(run_cli, auth_file, device):
    result = login(run_cli, "--insecure-storage", "-o", "none")
    assert (result.rc, result.out) == (0, "")
    assert USER_CODE in result.err


def test_login_web_without_a_keyring_stores_in_the_file_with_a_warning(
        run_cli, auth_file, device):
    result = login(run_cli)
    assert result.rc == 0, result
    warnings = [l for l in result.err.splitlines() if l.startswith("warning: ")]
    assert len(warnings) == 1 and "plain text" in warnings[0], result.err
    entry = auth_file.profiles()["alice@example.com"]
    assert entry["oauth_credential"]["access_token"] == ACCESS_TOKEN


# Failures ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "token_replies, code, fragment",
    [
        pytest.param([PENDING, Reply(400, {"error": "access_denied"})], 3, "denied",
                     id="given access_denied, exits 3"),
        pytest.param([PENDING, Reply(400, {"error": "expired_token"})], 3, "expired",
                     id="given expired_token, exits 3"),
        pytest.param([Reply(200, body=b"<html>oops</html>")], 6, "access token",
                     id="given a 200 that is not JSON, exits 6"),
    ],
)
def test_login_web_that_does_not_complete_stores_nothing(
        run_cli, auth_file, device, token_replies, code, fragment):
    device.route("POST", TOKEN, *token_replies)
    result = login(run_cli, "--insecure-storage")
    assert result.rc == code, result
    assert result.out == ""
    assert fragment in error_line(result.err)
    assert_nothing_stored(auth_file)
    assert device.requests_to("GET", "/v1/users/me") == []


def test_login_web_expires_after_expires_in(run_cli, auth_file, device):
    device.route("POST", AUTHORIZE, Reply(200, authorize_body(expires_in=0.4)))
    device.route("POST", TOKEN, PENDING)
    started = time.monotonic()
    result = login(run_cli, "--insecure-storage")
    assert time.monotonic() - started < 5
    assert result.rc == 3, result
    assert "expired" in error_line(result.err)
    assert_nothing_stored(auth_file)


def test_login_web_polls_again_after_a_server_error(run_cli, auth_file, device):
    device.route("POST", TOKEN, Reply(503, {"error": "unavailable"}), PENDING, TOKENS)
    result = login(run_cli, "--insecure-storage")
    assert result.rc == 0, result
    assert len(device.requests_to("POST", TOKEN)) == 3


@pytest.mark.parametrize(
    "reply, code",
    [
        pytest.param(Reply(404, {"error": "not found"}), 4, id="given a 404, exits 4"),
        pytest.param(Reply(500, {"error": "boom"}), 6, id="given a 500, exits 6"),
    ],
)
def test_login_web_failed_device_authorization(run_cli, auth_file, device, reply, code):
    device.route("POST", AUTHORIZE, reply)
    result = login(run_cli, "--insecure-storage")
    assert result.rc == code, result
    error_line(result.err)
    assert device.requests_to("POST", TOKEN) == []
    assert_nothing_stored(auth_file)


def test_login_web_whose_token_the_server_then_rejects_stores_nothing(
        run_cli, auth_file, device):
    device.route("GET", "/v1/users/me", Reply(401, {"error": "bad token"}))
    result = login(run_cli, "--insecure-storage")
    assert result.rc == 3, result
    assert_nothing_stored(auth_file)
    for secret in SECRETS:
        assert secret not in result.err


def test_login_web_cannot_reach_the_server(run_cli, auth_file, fake_bin, closed_port):
    result = login(run_cli, "--insecure-storage", env={
        "BASETEN_MANAGEMENT_API_URL_OVERRIDE": "http://127.0.0.1:%d" % closed_port})
    assert result.rc not in (0, 2), result
    error_line(result.err)
    assert_nothing_stored(auth_file)


def test_ctrl_c_while_polling_exits_130_and_stores_nothing(
        auth_file, device, cli_env):
    device.route("POST", TOKEN, PENDING)
    proc = subprocess.Popen(
        [sys.executable, CLI_PATH, "auth", "login", "--web", "--insecure-storage"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=merged_env(cli_env, {}), text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        device.wait_for("POST", TOKEN, count=3, timeout=10)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert time.monotonic() - started < 3, "did not stop promptly on SIGINT"
    assert proc.returncode == 130, (out, err)
    assert out == ""
    error_line(err)
    assert_nothing_stored(auth_file)


# Opening the browser --------------------------------------------------------------


def test_without_a_display_or_browser_nothing_is_started(
        run_cli, auth_file, device, opened_log):
    result = login(run_cli, "--insecure-storage")
    assert result.rc == 0, result
    assert browser_calls(opened_log, wait=0.3) == []
    assert PAGE in result.err and USER_CODE in result.err


def test_with_a_display_xdg_open_gets_the_complete_verification_uri(
        run_cli, auth_file, device, opened_log):
    result = login(run_cli, "--insecure-storage", env={"DISPLAY": ":99"})
    assert result.rc == 0, result
    assert browser_calls(opened_log, wait=5) == ["xdg-open " + PAGE_COMPLETE]


def test_with_a_display_and_no_complete_uri_xdg_open_gets_the_verification_uri(
        run_cli, auth_file, device, opened_log):
    device.route("POST", AUTHORIZE,
                 Reply(200, authorize_body(verification_uri_complete=None)))
    result = login(run_cli, "--insecure-storage", env={"WAYLAND_DISPLAY": "wayland-0"})
    assert result.rc == 0, result
    assert browser_calls(opened_log, wait=5) == ["xdg-open " + PAGE]


def test_browser_is_honoured(run_cli, auth_file, device, tmp_path):
    log = tmp_path / "browser.log"
    script = write_script(tmp_path / "my-browser",
                          'printf "%%s\\n" "$*" >> "%s"\n' % log)
    result = login(run_cli, "--insecure-storage", env={"BROWSER": str(script)})
    assert result.rc == 0, result
    assert browser_calls(log, wait=5) == [PAGE_COMPLETE]


def test_a_failing_browser_never_falls_back_to_a_text_mode_browser(
        run_cli, auth_file, device, tmp_path, opened_log):
    script = write_script(tmp_path / "broken-browser", "", status=1)
    result = login(run_cli, "--insecure-storage", env={"BROWSER": str(script)})
    assert result.rc == 0, result
    assert browser_calls(opened_log, wait=0.3) == []
    assert PAGE in result.err and USER_CODE in result.err


def test_with_a_display_and_no_opener_the_printed_url_is_enough(
        run_cli, auth_file, device, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = login(run_cli, "--insecure-storage",
                   env={"DISPLAY": ":99", "PATH": str(empty)})
    assert result.rc == 0, result
    assert "Traceback" not in result.err
    assert PAGE in result.err and USER_CODE in result.err


# On a terminal ------------------------------------------------------------------


class Terminal:
    """The CLI on a pseudo-terminal (stdin, stdout and stderr, and the
    controlling terminal that getpass opens)."""

    def __init__(self, argv, env):
        import pty

        self.master, slave = pty.openpty()
        self.output = b""
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env,
            start_new_session=True, preexec_fn=_take_terminal)
        os.close(slave)

    def read_until(self, text, timeout=10):
        deadline = time.monotonic() + timeout
        while text.encode() not in self.output:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                raise AssertionError("no %r in %r" % (text, self.output))

    def write(self, text):
        os.write(self.master, text.encode())

    def finish(self, timeout=10):
        deadline = time.monotonic() + timeout
        while self._read(max(deadline - time.monotonic(), 0)):
            pass
        try:
            self.proc.wait(max(deadline - time.monotonic(), 0.1))
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            os.close(self.master)
        return self.proc.returncode, self.output.decode(errors="replace")

    def _read(self, timeout):
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.output += chunk
        return bool(chunk)


def _take_terminal():
    import fcntl
    import termios

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@pytest.fixture
def terminal(cli_env):
    opened = []

    def start(*args):
        term = Terminal([sys.executable, CLI_PATH, *args], merged_env(cli_env, {}))
        opened.append(term)
        return term

    yield start
    for term in opened:
        if term.proc.poll() is None:
            term.proc.kill()
            term.proc.wait()


def test_login_on_a_terminal_asks_and_1_runs_the_browser_login_with_a_spinner(
        terminal, auth_file, device):
    device.route("POST", TOKEN, *([PENDING] * 6 + [TOKENS]))
    term = terminal("auth", "login", "--insecure-storage")
    term.read_until("[1-2]")
    term.write("1\n")
    code, output = term.finish()
    assert code == 0, output
    assert USER_CODE in output and PAGE in output
    assert "\r" in output.replace("\r\n", "")  # a spinner redraws its line
    assert (LOGGED_IN % "alice@example.com").strip() in output
    assert auth_file.current() == "alice@example.com"
    assert auth_file.profiles()["alice@example.com"]["auth_type"] == "oauth"


def test_login_on_a_terminal_asks_and_2_takes_an_api_key(terminal, auth_file, device):
    term = terminal("auth", "login", "--insecure-storage")
    term.read_until("[1-2]")
    term.write("2\n")
    term.read_until("Profile name: ")
    term.write("ci\n")
    term.read_until("API key: ")
    term.write(GOOD_KEY + "\n")
    code, output = term.finish()
    assert code == 0, output
    assert GOOD_KEY not in output  # the key is not echoed
    assert (LOGGED_IN % "ci").strip() in output
    assert auth_file.profiles()["ci"] == {
        "remote_url": DEFAULT_REMOTE, "auth_type": "api_key", "api_key": GOOD_KEY}
    assert device.requests_to("POST", AUTHORIZE) == []


def test_ctrl_c_at_the_login_method_question_exits_130(terminal, auth_file, device):
    term = terminal("auth", "login", "--insecure-storage")
    term.read_until("[1-2]")
    term.write("\x03")
    code, output = term.finish()
    assert code == 130, output
    assert "Traceback" not in output
    assert_nothing_stored(auth_file)


def test_ctrl_c_on_a_terminal_while_polling_exits_130(terminal, auth_file, device):
    device.route("POST", TOKEN, PENDING)
    term = terminal("auth", "login", "--web", "--insecure-storage")
    device.wait_for("POST", TOKEN, count=2, timeout=10)
    term.write("\x03")
    code, output = term.finish()
    assert code == 130, output
    assert "Traceback" not in output
    assert_nothing_stored(auth_file)
