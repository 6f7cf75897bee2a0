"""OAuth credentials after login: refresh before use (with rotation and
concurrent refreshes), revocation at logout, and the library API.

The CLI runs as a subprocess against the fake management API; the library
API runs in-process with BASETEN_CONFIG_DIR pointing at the test's temp dir.
Every profile keeps its secret in the auth file (the keyring cases are the
keyring tests' business), and PATH holds no keyring tool.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import datetime

import pytest

import baseten_auth
from conftest import (
    CLI_PATH,
    DEFAULT_REMOTE,
    ME,
    AuthFile,
    api_key_profile,
    auth_data,
    merged_env,
    oauth_profile,
    only_warnings,
)
from fakeapi import FakeAPI, Reply

TOKEN = "/v1/users/auth/device/token"
LOGOUT = "/v1/users/auth/logout"
OLD_ACCESS = "stored-access-token"
OLD_REFRESH = "stored-refresh-token"
ZERO_TIME = "0001-01-01T00:00:00Z"
SECRETS = (OLD_ACCESS, OLD_REFRESH, "at-1", "rt-1")


def rfc3339(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def parse_rfc3339(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def oauth(expiry="2099-01-01T00:00:00Z", access=OLD_ACCESS, refresh=OLD_REFRESH,
          remote=DEFAULT_REMOTE, **extra):
    entry = oauth_profile(remote=remote, expiry=expiry, **extra)
    credential = entry["oauth_credential"]
    for key, value in (("access_token", access), ("refresh_token", refresh),
                       ("expiry", expiry)):
        if value is None:
            del credential[key]
        else:
            credential[key] = value
    return entry


class RotatingServer:
    """The refresh grant of a server that accepts each refresh token once.

    Refresh N returns access token at-N and refresh token rt-N (and rt-N is
    then the only valid one); any other refresh token is `invalid_grant`.
    """

    def __init__(self, first=OLD_REFRESH, expires_in=3600, delay=0.0,
                 rotate=True):
        self.valid = first
        self.count = 0
        self.expires_in = expires_in
        self.delay = delay
        self.rotate = rotate
        self.lock = threading.Lock()

    def __call__(self, request):
        form = request.form()
        if form.get("grant_type") != "refresh_token":
            return Reply(400, {"error": "unsupported_grant_type"})
        with self.lock:
            if form.get("refresh_token") != self.valid:
                return Reply(400, {"error": "invalid_grant"})
            self.count += 1
            tokens = {"access_token": "at-%d" % self.count, "token_type": "Bearer",
                      "expires_in": self.expires_in}
            if self.rotate:
                self.valid = tokens["refresh_token"] = "rt-%d" % self.count
        return Reply(200, tokens, delay=self.delay)


def users_me(request):
    if request.headers.get("Authorization", "").startswith("Bearer at-"):
        return Reply(200, ME)
    return Reply(401, {"error": "invalid token"})


@pytest.fixture
def api(fake_api, no_keyring_path):
    fake_api.route("POST", TOKEN, RotatingServer())
    fake_api.route("GET", "/v1/users/me", users_me)
    fake_api.route("POST", LOGOUT, Reply(200, {}))
    return fake_api


def stored(auth_file, name="work"):
    return auth_file.profiles()[name]["oauth_credential"]


def refreshes(api):
    return api.requests_to("POST", TOKEN)


def error_line(err):
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


# Refresh before use --------------------------------------------------------------


@pytest.mark.parametrize(
    "credential",
    [
        pytest.param(lambda: oauth(expiry="2020-01-01T00:00:00Z"),
                     id="given an expired access token"),
        pytest.param(lambda: oauth(expiry=rfc3339(time.time() + 5)),
                     id="given an access token expiring within 10 s"),
        pytest.param(lambda: oauth(expiry="2020-01-01T02:00:00.123456789+02:00"),
                     id="given an expiry with nanoseconds and an offset in the past"),
        pytest.param(lambda: oauth(access=""), id="given an empty access token"),
        pytest.param(lambda: oauth(access=None), id="given no access token"),
        pytest.param(lambda: oauth(access=None, expiry=ZERO_TIME),
                     id="given no access token and an unknown expiry"),
    ],
)
def test_token_refreshes_the_access_token_first(run_cli, auth_file, api, credential):
    auth_file.write(auth_data({"work": credential()}, current="work"))
    started = time.time()
    result = run_cli("auth", "token")
    assert result == (0, "at-1\n", ""), result
    [request] = refreshes(api)
    assert request.form() == {"grant_type": "refresh_token",
                              "refresh_token": OLD_REFRESH, "client_id": "baseten-cli"}
    assert request.headers["User-Agent"].startswith("baseten_auth/")
    new = stored(auth_file)
    assert (new["access_token"], new["refresh_token"]) == ("at-1", "rt-1")
    assert started + 3600 - 2 <= parse_rfc3339(new["expiry"]) <= time.time() + 3602


@pytest.mark.parametrize(
    "expiry",
    [
        pytest.param("2099-01-01T00:00:00Z", id="given an expiry far away"),
        pytest.param(None, id="given a time 60 s away"),
        pytest.param("2099-01-01T00:00:00.5-07:00", id="given a future expiry "
                     "with an offset"),
        pytest.param(ZERO_TIME, id="given the zero time (unknown expiry)"),
        pytest.param("", id="given an empty expiry (unknown)"),
        pytest.param("absent", id="given no expiry (unknown)"),
    ],
)
def test_token_does_not_refresh_a_usable_access_token(run_cli, auth_file, api, expiry):
    if expiry is None:
        expiry = rfc3339(time.time() + 60)
    entry = oauth(expiry=None if expiry == "absent" else expiry)
    auth_file.write(auth_data({"work": entry}, current="work"))
    before = auth_file.raw()
    assert run_cli("auth", "token") == (0, OLD_ACCESS + "\n", "")
    assert api.requests == []
    assert auth_file.raw() == before


def test_refresh_without_a_new_refresh_token_keeps_the_old_one(run_cli, auth_file, api):
    api.route("POST", TOKEN, RotatingServer(rotate=False))
    auth_file.write(auth_data({"work": oauth(expiry="2020-01-01T00:00:00Z")},
                              current="work"))
    assert run_cli("auth", "token") == (0, "at-1\n", "")
    new = stored(auth_file)
    assert (new["access_token"], new["refresh_token"]) == ("at-1", OLD_REFRESH)


def test_refresh_with_an_empty_refresh_token_keeps_the_old_one(run_cli, auth_file, api):
    api.route("POST", TOKEN, Reply(200, {"access_token": "at-1", "refresh_token": "",
                                         "expires_in": 3600}))
    auth_file.write(auth_data({"work": oauth(expiry="2020-01-01T00:00:00Z")},
                              current="work"))
    assert run_cli("auth", "token") == (0, "at-1\n", "")
    assert stored(auth_file)["refresh_token"] == OLD_REFRESH


def test_refresh_without_expires_in_stores_an_unknown_expiry(run_cli, auth_file, api):
    api.route("POST", TOKEN,
              Reply(200, {"access_token": "at-1", "refresh_token": "rt-1"}))
    auth_file.write(auth_data({"work": oauth(expiry="2020-01-01T00:00:00Z")},
                              current="work"))
    assert run_cli("auth", "token") == (0, "at-1\n", "")
    assert stored(auth_file)["expiry"] == ZERO_TIME


def test_refresh_stores_the_pair_where_it_was_and_keeps_the_rest(
        run_cli, auth_file, api):
    data = auth_data({"work": oauth(expiry="2020-01-01T00:00:00Z", region="eu"),
                      "ci": api_key_profile()}, current="ci")
    data["telemetry"] = {"enabled": False}
    auth_file.write(data)
    assert run_cli("auth", "token", "--profile", "work") == (0, "at-1\n", "")
    after = auth_file.read()
    assert after["current"] == "ci"
    assert after["telemetry"] == {"enabled": False}
    assert after["profiles"]["ci"] == api_key_profile()
    work = after["profiles"]["work"]
    assert work["region"] == "eu"
    assert (work["remote_url"], work["auth_type"]) == (DEFAULT_REMOTE, "oauth")
    assert work["oauth_credential"]["access_token"] == "at-1"
    assert oct(auth_file.path.stat().st_mode & 0o777) == oct(0o600)


def test_the_refreshed_access_token_is_used_until_it_expires(run_cli, auth_file, api):
    auth_file.write(auth_data({"work": oauth(expiry="2020-01-01T00:00:00Z")},
                              current="work"))
    assert run_cli("auth", "token").out == "at-1\n"
    assert run_cli("auth", "token").out == "at-1\n"
    assert len(refreshes(api)) == 1


def test_token_json_after_a_refresh_has_the_bearer_header(run_cli, auth_file, api):
    auth_file.write(auth_data({"work": oauth(expiry="2020-01-01T00:00:00Z")},
                              current="work"))
    result = run_cli("auth", "token", "-o", "json")
    assert result.rc == 0, result
    assert json.loads(result.out) == {"profile": "work", "auth_type": "oauth",
                                      "token": "at-1", "authorization": "Bearer at-1"}


def test_status_check_refreshes_then_asks_with_the_new_access_token(
        run_cli, auth_file, api):
    auth_file.write(auth_data({"work": oauth(expiry="2020-01-01T00:00:00Z")},
                              current="work"))
    result = run_cli("auth", "status", "--check", "-o", "json")
    assert result.rc == 0, result
    assert json.loads(result.out)["valid"] is True
    [me] = api.requests_to("GET", "/v1/users/me")
    assert me.headers["Authorization"] == "Bearer at-1"
    assert [r.path for r in api.requests] == [TOKEN, "/v1/users/me"]
    assert stored(auth_file)["access_token"] == "at-1"


INVALID_GRANT = Reply(400, {"error": "invalid_grant"})


@pytest.mark.parametrize(
    "command, reply",
    [
        pytest.param(("auth", "token"), INVALID_GRANT,
                     id="auth token given invalid_grant"),
        pytest.param(("auth", "status", "--check"), INVALID_GRANT,
                     id="auth status --check given invalid_grant"),
        pytest.param(("auth", "token"),
                     Reply(400, {"error": "invalid_grant",
                                 "error_description": "token revoked"}),
                     id="auth token given invalid_grant with a reason"),
        pytest.param(("auth", "status", "--check"),
                     Reply(401, {"error": "invalid_client"}),
                     id="auth status --check given a 401"),
    ],
)
def test_a_rejected_refresh_exits_3_and_says_to_log_in_again(
        run_cli, auth_file, api, command, reply):
    api.route("POST", TOKEN, reply)
    auth_file.write(auth_data({"work": oauth(expiry="2020-01-01T00:00:00Z")},
                              current="work"))
    before = auth_file.raw()
    result = run_cli(*command)
    assert (result.rc, result.out) == (3, ""), result
    line = error_line(result.err)
    assert "'work'" in line or " work" in line
    assert "baseten auth login" in line
    assert auth_file.raw() == before
    assert api.requests_to("GET", "/v1/users/me") == []
    for secret in SECRETS:
        assert secret not in result.err


def test_an_expired_credential_without_a_refresh_token_exits_3(run_cli, auth_file, api):
    auth_file.write(auth_data({"work": oauth(expiry="2020-01-01T00:00:00Z",
                                             refresh="")}, current="work"))
    result = run_cli("auth", "token")
    assert result.rc == 3, result
    assert "baseten auth login" in error_line(result.err)
    assert api.requests == []


@pytest.mark.parametrize(
    "reply, code",
    [
        pytest.param(Reply(500, {"error": "boom"}), 6, id="given a 500, exits 6"),
        pytest.param(Reply(200, {"token_type": "Bearer"}), 6,
                     id="given an answer without an access token, exits 6"),
        pytest.param(Reply(200, body=b"<html></html>"), 6,
                     id="given an answer that is not JSON, exits 6"),
        pytest.param(Reply(400, {"error": "invalid_request", "error_description":
                                 "malformed refresh token " + OLD_REFRESH}), 5,
                     id="given a 400 that echoes the refresh token, exits 5 "
                        "without showing it"),
    ],
)
def test_a_failed_refresh_changes_nothing(run_cli, auth_file, api, reply, code):
    api.route("POST", TOKEN, reply)
    auth_file.write(auth_data({"work": oauth(expiry="2020-01-01T00:00:00Z")},
                              current="work"))
    before = auth_file.raw()
    result = run_cli("auth", "token")
    assert (result.rc, result.out) == (code, ""), result
    error_line(result.err)
    assert auth_file.raw() == before
    for secret in SECRETS:
        assert secret not in result.err


def test_a_refresh_that_cannot_reach_the_server_changes_nothing(
        run_cli, auth_file, no_keyring_path, closed_port):
    auth_file.write(auth_data({"work": oauth(expiry="2020-01-01T00:00:00Z")},
                              current="work"))
    before = auth_file.raw()
    result = run_cli("auth", "token", env={
        "BASETEN_MANAGEMENT_API_URL_OVERRIDE": "http://127.0.0.1:%d" % closed_port})
    assert result.rc not in (0, 2, 3), result
    error_line(result.err)
    assert auth_file.raw() == before


# Concurrent refresh --------------------------------------------------------------


def run_at_once(cli_env, n, *args):
    procs = [subprocess.Popen([sys.executable, CLI_PATH, *args],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=merged_env(cli_env, {}),
                              text=True) for _ in range(n)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=30)
        results.append((proc.returncode, out, err))
    return results


def test_concurrent_refreshes_spend_the_refresh_token_once(auth_file, api, cli_env):
    server = RotatingServer(delay=0.3)
    api.route("POST", TOKEN, server)
    auth_file.write(auth_data({"work": oauth(expiry="2020-01-01T00:00:00Z")},
                              current="work"))
    results = run_at_once(cli_env, 6, "auth", "token")
    assert results == [(0, "at-1\n", "")] * 6
    assert server.count == 1
    new = stored(auth_file)
    assert (new["access_token"], new["refresh_token"]) == ("at-1", "rt-1")


def test_concurrent_refreshes_that_each_rotate_store_the_newest_pair(
        auth_file, api, cli_env):
    # Each new access token expires within 10 s, so every process refreshes,
    # each with the refresh token the one before it stored.
    server = RotatingServer(expires_in=5, delay=0.05)
    api.route("POST", TOKEN, server)
    auth_file.write(auth_data({"work": oauth(expiry="2020-01-01T00:00:00Z")},
                              current="work"))
    results = run_at_once(cli_env, 5, "auth", "token")
    assert [(rc, err) for rc, _, err in results] == [(0, "")] * 5
    assert sorted(out for _, out, _ in results) == ["at-%d\n" % i for i in range(1, 6)]
    assert server.count == 5
    new = stored(auth_file)
    assert (new["access_token"], new["refresh_token"]) == ("at-5", "rt-5")


# Logout revokes the session ---------------------------------------------------------


def test_logout_revokes_the_session_with_the_access_token(run_cli, auth_file, api):
    auth_file.write(auth_data({"work": oauth(), "ci": api_key_profile()},
                              current="work"))
    assert run_cli("auth", "logout") == (0, "Logged out work\n", "")
    [revoke] = api.requests_to("POST", LOGOUT)
    assert revoke.headers["Authorization"] == "Bearer " + OLD_ACCESS
    assert revoke.headers["User-Agent"].startswith("baseten_auth/")
    assert refreshes(api) == []
    assert auth_file.read() == auth_data({"ci": api_key_profile()}, current="")


def test_logout_of_an_expired_session_refreshes_before_revoking(
        run_cli, auth_file, api):
    auth_file.write(auth_data({"work": oauth(expiry="2020-01-01T00:00:00Z")},
                              current="work"))
    result = run_cli("auth", "logout", "--profile", "work", "-o", "json")
    assert result.rc == 0, result
    assert (json.loads(result.out), result.err) == ({"profile": "work"}, "")
    assert [r.path for r in api.requests] == [TOKEN, LOGOUT]
    assert api.requests_to("POST", LOGOUT)[0].headers["Authorization"] == "Bearer at-1"
    assert auth_file.profiles() == {}


def test_logout_of_an_api_key_profile_revokes_nothing(run_cli, auth_file, api):
    auth_file.write(auth_data({"ci": api_key_profile()}, current="ci"))
    assert run_cli("auth", "logout") == (0, "Logged out ci\n", "")
    assert api.requests == []


@pytest.mark.parametrize(
    "setup",
    [
        pytest.param({LOGOUT: Reply(500, {"error": "boom"})},
                     id="given a revocation answering 500"),
        pytest.param({LOGOUT: Reply(401, {"error": "invalid token"})},
                     id="given a revocation answering 401"),
        pytest.param({LOGOUT: Reply(404, None)},
                     id="given a revocation answering 404"),
        pytest.param({TOKEN: Reply(400, {"error": "invalid_grant"}),
                      "expired": True},
                     id="given an expired session whose refresh is invalid_grant"),
        pytest.param({TOKEN: Reply(503, None), "expired": True},
                     id="given an expired session whose refresh answers 503"),
        pytest.param({"refresh": "", "expired": True},
                     id="given an expired session without a refresh token"),
        pytest.param({"unreachable": True}, id="given a server that is not there"),
    ],
)
def test_a_failed_revocation_is_a_warning_and_the_profile_is_removed(
        run_cli, auth_file, api, closed_port, setup):
    for path in (TOKEN, LOGOUT):
        if path in setup:
            api.route("POST", path, setup[path])
    expiry = ("2020-01-01T00:00:00Z" if setup.get("expired")
              else "2099-01-01T00:00:00Z")
    entry = oauth(expiry=expiry, refresh=setup.get("refresh", OLD_REFRESH))
    auth_file.write(auth_data({"work": entry, "ci": api_key_profile()}, current="work"))
    env = None
    if setup.get("unreachable"):
        env = {"BASETEN_MANAGEMENT_API_URL_OVERRIDE":
               "http://127.0.0.1:%d" % closed_port}
    result = run_cli("auth", "logout", env=env)
    assert (result.rc, result.out) == (0, "Logged out work\n"), result
    lines = result.err.splitlines()
    assert len(lines) == 1 and only_warnings(result.err), result.err
    assert "work" in lines[0]
    for secret in SECRETS:
        assert secret not in result.err
    assert auth_file.read() == auth_data({"ci": api_key_profile()}, current="")


# The library API -------------------------------------------------------------------


@pytest.fixture
def lib(monkeypatch, tmp_path):
    """The process environment of a program that imports baseten_auth."""
    for name in ("BASETEN_API_KEY", "BASETEN_PROFILE", "BASETEN_REMOTE_URL",
                 "BASETEN_MANAGEMENT_API_URL_OVERRIDE", "DBUS_SESSION_BUS_ADDRESS",
                 "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("BASETEN_CONFIG_DIR", str(tmp_path / "lib-config"))
    monkeypatch.setenv("BASETEN_KEYRING_TIMEOUT", "2")
    # Forget a keyring backend that an earlier in-process test chose.
    monkeypatch.setattr(baseten_auth, "_keyring_backends", {}, raising=False)
    return AuthFile(tmp_path / "lib-config")


@pytest.fixture
def lib_api(lib, monkeypatch):
    with FakeAPI() as server:
        server.route("POST", TOKEN, RotatingServer())
        monkeypatch.setenv("BASETEN_MANAGEMENT_API_URL_OVERRIDE", server.url)
        yield server


def three_profiles(lib, current="ci"):
    lib.write(auth_data({
        "ci": api_key_profile(key="ci-key-SECRET"),
        "work": oauth(),
        "other": api_key_profile(key="other-key", remote="https://app.example.com"),
    }, current=current))


def test_get_credential_of_the_current_api_key_profile(lib, capsys):
    three_profiles(lib)
    credential = baseten_auth.get_credential()
    assert (credential.profile, credential.remote_url, credential.auth_type) == (
        "ci", DEFAULT_REMOTE, "api_key")
    assert credential.token == "ci-key-SECRET"
    assert credential.authorization == "Api-Key ci-key-SECRET"
    assert credential.management_url == "https://api.baseten.co"
    assert credential.storage == "file"
    assert capsys.readouterr() == ("", "")


def test_get_credential_of_a_named_oauth_profile(lib):
    three_profiles(lib)
    credential = baseten_auth.get_credential("work")
    assert (credential.profile, credential.auth_type) == ("work", "oauth")
    assert credential.token == OLD_ACCESS
    assert credential.authorization == "Bearer " + OLD_ACCESS


def test_management_url_follows_the_remote_and_the_override(lib, monkeypatch):
    three_profiles(lib)
    other = baseten_auth.get_credential("other")
    assert other.management_url == "https://api.example.com"
    monkeypatch.setenv("BASETEN_MANAGEMENT_API_URL_OVERRIDE", "http://127.0.0.1:8123")
    other = baseten_auth.get_credential("other")
    assert other.management_url == "http://127.0.0.1:8123"


def test_authorization_header_is_the_resolved_credentials(lib, monkeypatch):
    three_profiles(lib)
    assert baseten_auth.authorization_header() == "Api-Key ci-key-SECRET"
    assert baseten_auth.authorization_header("work") == "Bearer " + OLD_ACCESS
    monkeypatch.setenv("BASETEN_PROFILE", "other")
    assert baseten_auth.authorization_header() == "Api-Key other-key"


def test_baseten_api_key_comes_before_the_stored_profiles(lib, monkeypatch):
    three_profiles(lib)
    monkeypatch.setenv("BASETEN_API_KEY", "env-key-SECRET")
    monkeypatch.setenv("BASETEN_PROFILE", "work")
    credential = baseten_auth.get_credential()
    assert credential.profile is None
    assert (credential.auth_type, credential.remote_url) == ("api_key", DEFAULT_REMOTE)
    assert credential.authorization == "Api-Key env-key-SECRET"
    assert baseten_auth.authorization_header("work") == "Bearer " + OLD_ACCESS


def test_baseten_api_key_uses_baseten_remote_url(lib, monkeypatch):
    monkeypatch.setenv("BASETEN_API_KEY", "env-key-SECRET")
    monkeypatch.setenv("BASETEN_REMOTE_URL", "https://app.example.com")
    credential = baseten_auth.get_credential()
    assert credential.remote_url == "https://app.example.com"
    assert credential.management_url == "https://api.example.com"


def test_baseten_api_key_needs_no_config_directory(lib, monkeypatch):
    monkeypatch.delenv("BASETEN_CONFIG_DIR")
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setenv("BASETEN_API_KEY", "env-key-SECRET")
    assert baseten_auth.authorization_header() == "Api-Key env-key-SECRET"


def test_get_credential_refreshes_an_expired_access_token(lib, lib_api):
    lib.write(auth_data({"work": oauth(expiry="2020-01-01T00:00:00Z")}, current="work"))
    assert baseten_auth.authorization_header() == "Bearer at-1"
    new = lib.profiles()["work"]["oauth_credential"]
    assert (new["access_token"], new["refresh_token"]) == ("at-1", "rt-1")
    assert baseten_auth.get_credential().token == "at-1"
    assert len(lib_api.requests_to("POST", TOKEN)) == 1


def test_get_credential_from_threads_refreshes_once(lib, lib_api):
    server = RotatingServer(delay=0.2)
    lib_api.route("POST", TOKEN, server)
    lib.write(auth_data({"work": oauth(expiry="2020-01-01T00:00:00Z")}, current="work"))
    headers, errors = [], []

    def use():
        try:
            headers.append(baseten_auth.authorization_header("work"))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == []
    assert headers == ["Bearer at-1"] * 4
    assert server.count == 1


def test_get_credential_with_a_rejected_refresh_raises_exit_code_3(lib, lib_api):
    lib_api.route("POST", TOKEN, Reply(400, {"error": "invalid_grant"}))
    lib.write(auth_data({"work": oauth(expiry="2020-01-01T00:00:00Z")}, current="work"))
    with pytest.raises(baseten_auth.AuthRejectedError) as info:
        baseten_auth.get_credential()
    assert info.value.exit_code == 3
    assert "work" in str(info.value) and "baseten auth login" in str(info.value)
    for secret in SECRETS:
        assert secret not in str(info.value)


def test_get_credential_when_not_logged_in_raises(lib):
    with pytest.raises(baseten_auth.BasetenAuthError) as info:
        baseten_auth.get_credential()
    assert info.value.exit_code == 1
    assert "not logged in" in str(info.value)


def test_get_credential_of_an_unknown_profile_raises(lib):
    three_profiles(lib)
    with pytest.raises(baseten_auth.BasetenAuthError) as info:
        baseten_auth.get_credential("nope")
    assert info.value.exit_code == 1
    assert "nope" in str(info.value)


def test_list_profiles_describes_every_profile_without_secrets(lib):
    three_profiles(lib, current="work")
    profiles = baseten_auth.list_profiles()
    assert profiles == [
        {"profile": "ci", "remote_url": DEFAULT_REMOTE, "auth_type": "api_key",
         "current": False, "storage": "file"},
        {"profile": "other", "remote_url": "https://app.example.com",
         "auth_type": "api_key", "current": False, "storage": "file"},
        {"profile": "work", "remote_url": DEFAULT_REMOTE, "auth_type": "oauth",
         "current": True, "storage": "file"},
    ]
    assert "SECRET" not in repr(profiles) and OLD_ACCESS not in repr(profiles)


def test_list_profiles_without_an_auth_file_is_empty(lib):
    assert baseten_auth.list_profiles() == []


def test_get_profile(lib):
    three_profiles(lib)
    assert baseten_auth.get_profile("work") == {
        "profile": "work", "remote_url": DEFAULT_REMOTE, "auth_type": "oauth",
        "current": False, "storage": "file"}
    with pytest.raises(baseten_auth.BasetenAuthError) as info:
        baseten_auth.get_profile("nope")
    assert info.value.exit_code == 1


def test_a_credential_repr_shows_no_secret(lib, monkeypatch):
    three_profiles(lib)
    monkeypatch.setenv("BASETEN_API_KEY", "env-key-SECRET")
    for credential in (baseten_auth.get_credential("ci"),
                       baseten_auth.get_credential("work"),
                       baseten_auth.get_credential()):
        for text in (repr(credential), str(credential), "%s" % (credential,)):
            assert "SECRET" not in text and OLD_ACCESS not in text
            assert OLD_REFRESH not in text
    assert "work" in repr(baseten_auth.get_credential("work"))


def test_the_public_names_have_docstrings():
    for name in ("get_credential", "authorization_header", "list_profiles",
                 "get_profile", "Credential", "BasetenAuthError"):
        assert getattr(baseten_auth, name).__doc__, name
    for name in ("token", "authorization", "management_url"):
        assert getattr(baseten_auth.Credential, name).__doc__, name
