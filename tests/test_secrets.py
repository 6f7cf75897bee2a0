"""Hardening, secrets: every command path run with `-v`, and stdout, stderr
and the argv of every child process scanned for the API key, the access
and refresh tokens and the device code.

The CLI runs under a small wrapper that installs an audit hook
(`subprocess.Popen`, `os.exec`, `os.posix_spawn`, `os.system`), so the argv
of every process it starts is logged, whatever the program. PATH holds
recording stand-ins only: `secret-tool` and `keyring` that also work as a
keyring (a JSON file), and browsers (`xdg-open`, `gio`, ...) that just log.
`auth token` prints the secret on stdout by design: only there, and only
the one it resolves.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import textwrap

import pytest

from conftest import CLI_PATH, Result, auth_data, merged_env, oauth_profile
from fakeapi import ME, Reply

API_KEY = "sk-live-APIKEY-9f3e1c"
ACCESS = "at-SECRET-ACCESS-71b2"
REFRESH = "rt-SECRET-REFRESH-0c4d"
NEW_ACCESS = "at-SECRET-NEWACCESS-5e6f"
NEW_REFRESH = "rt-SECRET-NEWREFRESH-8a9b"
DEVICE_CODE = "dc-SECRET-DEVICE-3344"
SECRETS = (API_KEY, ACCESS, REFRESH, NEW_ACCESS, NEW_REFRESH, DEVICE_CODE)
BOB = dict(ME, user_id="u2", email="bob@example.com", workspace_name="Bobs")
AUTHORIZE = "/v1/users/auth/device/authorize"
TOKEN = "/v1/users/auth/device/token"
LOGOUT = "/v1/users/auth/logout"

WRAPPER = textwrap.dedent("""
    import json, runpy, sys
    log_path, cli = sys.argv[1], sys.argv[2]
    EVENTS = ("subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn",
              "os.system", "os.startfile")
    def hook(event, args):
        if event in EVENTS:
            with open(log_path, "a") as log:
                log.write(json.dumps([event, repr(args)]) + "\\n")
    sys.addaudithook(hook)
    sys.argv = [cli] + sys.argv[3:]
    runpy.run_path(cli, run_name="__main__")
""")

# Stand-ins: each logs its argv; secret-tool and keyring keep secrets in a
# JSON file so that the keyring paths run to the end.
STAND_IN = textwrap.dedent("""
    import json, os, sys
    d = os.environ["STAND_IN_DIR"]
    name = os.path.basename(sys.argv[0])
    with open(os.path.join(d, "argv.log"), "a") as log:
        log.write(json.dumps(sys.argv) + "\\n")
    store_path = os.path.join(d, "store.json")
    try:
        with open(store_path) as f:
            store = json.load(f)
    except OSError:
        store = {}
    def save():
        with open(store_path, "w") as f:
            json.dump(store, f)
    words = [w for w in sys.argv[1:] if w != "--" and not w.startswith("--label")]
    if name == "secret-tool":
        command, attributes = words[0], dict(zip(words[1::2], words[2::2]))
        account = attributes.get("username")
        if command == "store":
            store[account] = sys.stdin.buffer.read().decode()
            save()
        elif command == "lookup":
            if account not in store:
                sys.exit(1)
            sys.stdout.write(store[account])
        elif command == "clear":
            if store.pop(account, None) is None:
                sys.exit(1)
            save()
        else:
            sys.exit(1)
    elif name == "keyring":
        command, account = words[0], words[2]
        if command == "set":
            store[account] = sys.stdin.buffer.read().decode()[:-1]
            save()
        elif command == "get":
            if account not in store:
                sys.exit(1)
            print(store[account])
        elif command == "del":
            if store.pop(account, None) is None:
                sys.stderr.write("keyring.errors.PasswordDeleteError: not found\\n")
                sys.exit(1)
            save()
""")
BROWSERS = ("xdg-open", "gio", "x-www-browser", "sensible-browser", "www-browser")


class Harness:
    """The stand-ins, the wrapper and the environment of one test."""

    def __init__(self, tmp_path, cli_env, fake_api, backend):
        self.dir = tmp_path / "stand-ins"
        self.dir.mkdir()
        self.audit_log = tmp_path / "audit.log"
        self.wrapper = tmp_path / "wrapper.py"
        self.wrapper.write_text(WRAPPER)
        for name in ("secret-tool", "keyring") + BROWSERS:
            if name in ("secret-tool", "keyring") and name != backend:
                continue
            path = self.dir / name
            path.write_text("#!%s -S\n%s" % (sys.executable, STAND_IN))
            path.chmod(path.stat().st_mode | stat.S_IXUSR)
        self.env = merged_env(cli_env, {
            "PATH": str(self.dir), "STAND_IN_DIR": str(self.dir),
            # Any unix address that is not a missing path: secret-tool is
            # then considered usable (the stand-in needs no bus).
            "DBUS_SESSION_BUS_ADDRESS": "unix:abstract=/tmp/baseten-test-bus",
            "DISPLAY": ":0", "WAYLAND_DISPLAY": None, "BROWSER": None,
        })
        self.api = fake_api

    def run(self, *args, input=None, env=None):
        argv = [sys.executable, "-S", str(self.wrapper), str(self.audit_log),
                CLI_PATH, *args]
        proc = subprocess.run(
            argv, input=input, capture_output=True, text=True, timeout=30,
            env=merged_env(self.env, env),
            stdin=None if input is not None else subprocess.DEVNULL)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def child_argvs(self) -> str:
        parts = []
        for log in (self.audit_log, self.dir / "argv.log"):
            if log.exists():
                parts.append(log.read_text())
        return "\n".join(parts)

    def store(self) -> dict:
        path = self.dir / "store.json"
        return json.loads(path.read_text()) if path.exists() else {}


def users_me(request):
    auth = request.headers.get("Authorization")
    if auth == "Api-Key " + API_KEY:
        return Reply(200, ME)
    if auth in ("Bearer " + ACCESS, "Bearer " + NEW_ACCESS):
        return Reply(200, BOB)
    return Reply(401, {"error": "invalid credential"})


def token_endpoint(request):
    form = request.form()
    if form.get("grant_type") == "refresh_token":
        if form.get("refresh_token") in (REFRESH, NEW_REFRESH):
            return Reply(200, {"access_token": NEW_ACCESS,
                               "refresh_token": NEW_REFRESH, "expires_in": 3600})
        return Reply(400, {"error": "invalid_grant"})
    if form.get("device_code") == DEVICE_CODE:
        # expires_in 1: the next use of the profile refreshes it.
        return Reply(200, {"access_token": ACCESS, "refresh_token": REFRESH,
                           "token_type": "Bearer", "expires_in": 1})
    return Reply(400, {"error": "invalid_grant"})


def script(api):
    api.route("GET", "/v1/users/me", users_me)
    api.route("POST", AUTHORIZE, Reply(200, {
        "device_code": DEVICE_CODE, "user_code": "SECR-ETNO",
        "verification_uri": "https://app.baseten.co/device",
        "verification_uri_complete": "https://app.baseten.co/device?code=SECR-ETNO",
        "expires_in": 60, "interval": 0.02}))
    api.route("POST", TOKEN, Reply(400, {"error": "authorization_pending"}),
              token_endpoint)
    api.route("POST", LOGOUT, Reply(200, {}))


def assert_clean(result, label, stdout_secret=None):
    """Exit 0 and no secret anywhere, except `stdout_secret` on stdout."""
    assert result.rc == 0, (label, result)
    assert "Traceback" not in result.err, (label, result.err)
    for secret in SECRETS:
        assert secret not in result.err, (label, secret, result.err)
        if secret != stdout_secret:
            assert secret not in result.out, (label, secret, result.out)


@pytest.fixture(params=["secret-tool", "keyring", "insecure storage"])
def harness(request, tmp_path, cli_env, fake_api):
    script(fake_api)
    backend = request.param
    h = Harness(tmp_path, cli_env, fake_api,
                backend if backend != "insecure storage" else "secret-tool")
    h.store_flag = ("--insecure-storage",) if backend == "insecure storage" else ()
    h.backend = backend
    return h


def test_every_command_path_with_verbose_keeps_every_secret_out_of_sight(
        harness, auth_file):
    h, flag = harness, harness.store_flag
    steps = [
        ("login with an API key", ("auth", "login", "--with-api-key", "--profile",
                                   "ci", "-v") + flag, API_KEY + "\n", None),
        ("login in the browser", ("auth", "login", "--web", "-v") + flag, None, None),
        ("status", ("auth", "status", "-v"), None, None),
        ("status --check, refreshing", ("auth", "status", "--check", "-v"), None,
         None),
        ("status --all", ("auth", "status", "--all", "-v"), None, None),
        ("status --all as json", ("auth", "status", "--all", "-v", "-o", "json"),
         None, None),
        ("token of the oauth profile", ("auth", "token", "-v"), None, NEW_ACCESS),
        ("token as json", ("auth", "token", "-v", "-o", "json"), None, NEW_ACCESS),
        ("token of the api key", ("auth", "token", "-v", "--profile", "ci"), None,
         API_KEY),
        ("switch", ("auth", "switch", "--profile", "ci", "-v"), None, None),
        ("status --check of the api key", ("auth", "status", "--check", "-v"),
         None, None),
        ("status --check with BASETEN_API_KEY", ("auth", "status", "--check",
                                                 "-v"), None, None),
        ("logout of the oauth profile", ("auth", "logout", "--profile",
                                         "bob@example.com", "-v"), None, None),
        ("login in the browser again", ("auth", "login", "--web", "--profile",
                                        "web2", "--no-switch", "-v") + flag,
         None, None),
        ("logout refreshing an expired token", ("auth", "logout", "--profile",
                                                "web2", "-v"), None, None),
        ("logout of the api key", ("auth", "logout", "-v"), None, None),
    ]
    for label, args, stdin, printed in steps:
        env = {"BASETEN_API_KEY": API_KEY} if "BASETEN_API_KEY" in label else None
        result = h.run(*args, input=stdin, env=env)
        assert_clean(result, label, printed)
        if printed and "json" not in label:
            assert result.out == printed + "\n", (label, result.out)
        elif printed:
            assert json.loads(result.out)["token"] == printed
        if label == "login in the browser" and not flag:
            # The keyring path really ran: the secret is in the stand-in.
            assert json.loads(h.store()["bob@example.com"])["access_token"] == ACCESS

    # Every path ran: a refresh, a revocation with the new access token.
    refreshes = [r for r in h.api.requests_to("POST", TOKEN)
                 if r.form().get("grant_type") == "refresh_token"]
    assert len(refreshes) >= 2
    assert [r.headers["Authorization"] for r in h.api.requests_to("POST", LOGOUT)] \
        == ["Bearer " + NEW_ACCESS] * 2
    assert auth_file.profiles() == {}
    assert h.store() == {}

    argvs = h.child_argvs()
    assert "app.baseten.co/device" in argvs  # the browser stand-in was run
    if h.backend != "insecure storage":
        assert h.backend in argvs  # and the keyring tool
    for secret in SECRETS:
        assert secret not in argvs, secret


def _expired_oauth(auth_file):
    profile = oauth_profile(expiry="2020-01-01T00:00:00Z")
    profile["oauth_credential"].update(access_token=ACCESS, refresh_token=REFRESH)
    auth_file.write(auth_data({"o": profile}, current="o"))


@pytest.mark.parametrize("case", [
    "a rejected API key that the server echoes",
    "a refresh error that echoes the refresh token",
    "a poll error that echoes the device code",
    "a revocation error that echoes the access token",
])
def test_secrets_echoed_by_the_server_in_error_text_are_not_printed(
        tmp_path, cli_env, fake_api, auth_file, case):
    script(fake_api)
    h = Harness(tmp_path, cli_env, fake_api, "secret-tool")
    if case.startswith("a rejected API key"):
        fake_api.route("GET", "/v1/users/me", Reply(401, {
            "error": "invalid api key " + API_KEY}))
        result = h.run("auth", "login", "--with-api-key", "--profile", "ci",
                       "--insecure-storage", "-v", input=API_KEY + "\n")
        code = 3
    elif case.startswith("a refresh error"):
        _expired_oauth(auth_file)
        fake_api.route("POST", TOKEN, Reply(500, {
            "error": "cannot refresh " + REFRESH + " for " + ACCESS}))
        result = h.run("auth", "token", "-v")
        code = 6
    elif case.startswith("a poll error"):
        fake_api.route("POST", TOKEN, Reply(400, {
            "error": "invalid_request",
            "error_description": "unknown device_code " + DEVICE_CODE}))
        result = h.run("auth", "login", "--web", "--insecure-storage", "-v")
        code = 5
    else:
        profile = oauth_profile()
        profile["oauth_credential"].update(access_token=ACCESS,
                                           refresh_token=REFRESH)
        auth_file.write(auth_data({"o": profile}, current="o"))
        fake_api.route("POST", LOGOUT, Reply(500, {
            "detail": "token " + ACCESS + " not revoked"}))
        result = h.run("auth", "logout", "-v")
        code = 0
    assert result.rc == code, result
    assert "Traceback" not in result.err
    for secret in SECRETS:
        assert secret not in result.err, (secret, result.err)
        assert secret not in result.out, (secret, result.out)
