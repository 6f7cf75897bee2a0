"""`baseten auth token`: the resolved credential's secret, for scripts.

SPEC section 11: the secret and a newline on stdout (an API key, or an OAuth
access token refreshed as needed, or `BASETEN_API_KEY`); `-o json` gives
`{"profile", "auth_type", "token", "authorization"}`. It is the one command
that prints a secret, and only on stdout.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import shutil
import urllib.request

import pytest

from conftest import (
    CLI_PATH,
    GOOD_KEY,
    ME,
    NOT_LOGGED_IN,
    api_key_profile,
    assert_error,
    auth_data,
    merged_env,
    oauth_profile,
)
from fakeapi import Reply

SH = shutil.which("sh") or "/bin/sh"
TOKEN_PATH = "/v1/users/auth/device/token"
EXPIRED = "2020-01-01T00:00:00Z"
NEW_TOKENS = {"access_token": "new-access-token",
              "refresh_token": "new-refresh-token",
              "token_type": "Bearer", "expires_in": 3600}


def token_json(profile, auth_type, token):
    scheme = "Bearer " if auth_type == "oauth" else "Api-Key "
    return json.dumps({"profile": profile, "auth_type": auth_type,
                       "token": token, "authorization": scheme + token},
                      indent=2) + "\n"


# What it prints ----------------------------------------------------------------


@pytest.mark.parametrize(
    "entry, expected",
    [
        pytest.param(api_key_profile(key="stored-key"), "stored-key",
                     id="given an API-key profile, prints the API key"),
        pytest.param(oauth_profile(), "stored-access-token",
                     id="given an OAuth profile with a valid access token, prints it"),
    ],
)
def test_token_prints_the_secret_and_a_newline(run_cli, auth_file, fake_api, entry,
                                               expected):
    auth_file.write(auth_data({"work": entry}, current="work"))
    assert run_cli("auth", "token") == (0, expected + "\n", "")
    assert fake_api.requests == []


@pytest.mark.parametrize(
    "entry, auth_type, token",
    [
        pytest.param(api_key_profile(key="stored-key"), "api_key", "stored-key",
                     id="given an API-key profile, json has an Api-Key header"),
        pytest.param(oauth_profile(), "oauth", "stored-access-token",
                     id="given an OAuth profile, json has a Bearer header"),
    ],
)
def test_token_json_has_profile_auth_type_token_and_authorization(
        run_cli, auth_file, entry, auth_type, token):
    auth_file.write(auth_data({"work": entry}, current="work"))
    assert run_cli("auth", "token", "-o", "json") == (
        0, token_json("work", auth_type, token), "")


def test_token_jsonl_is_one_compact_line(run_cli, auth_file):
    auth_file.write(auth_data({"work": api_key_profile(key="k1")}, current="work"))
    expected = ('{"profile":"work","auth_type":"api_key","token":"k1",'
                '"authorization":"Api-Key k1"}\n')
    assert run_cli("auth", "token", "-o", "jsonl") == (0, expected, "")


def test_token_output_none_prints_nothing(run_cli, auth_file):
    auth_file.write(auth_data({"work": api_key_profile()}, current="work"))
    assert run_cli("auth", "token", "-o", "none") == (0, "", "")


def test_token_jq_picks_the_authorization_header(run_cli, auth_file):
    auth_file.write(auth_data({"work": api_key_profile(key="k1")}, current="work"))
    assert run_cli("auth", "token", "--jq", ".authorization") == (
        0, '"Api-Key k1"\n', "")


# Which credential ----------------------------------------------------------------


def test_token_with_baseten_api_key_prints_that_key(run_cli, auth_file):
    auth_file.write(auth_data({"work": api_key_profile()}, current="work"))
    env = {"BASETEN_API_KEY": "env-key"}
    assert run_cli("auth", "token", env=env) == (0, "env-key\n", "")
    assert run_cli("auth", "token", "-o", "json", env=env) == (
        0, token_json("", "api_key", "env-key"), "")


def test_token_profile_flag_wins_over_baseten_api_key(run_cli, auth_file):
    auth_file.write(auth_data({"a": api_key_profile(key="ka"),
                               "b": api_key_profile(key="kb")}, current="a"))
    result = run_cli("auth", "token", "--profile", "b",
                     env={"BASETEN_API_KEY": "env-key"})
    assert result == (0, "kb\n", "")


def test_token_baseten_profile_wins_over_the_current_profile(run_cli, auth_file):
    auth_file.write(auth_data({"a": api_key_profile(key="ka"),
                               "b": api_key_profile(key="kb")}, current="a"))
    assert run_cli("auth", "token", env={"BASETEN_PROFILE": "b"}) == (0, "kb\n", "")


def test_token_when_not_logged_in_says_how_to_log_in(run_cli, config_dir):
    assert run_cli("auth", "token") == (1, "", NOT_LOGGED_IN)
    assert not config_dir.exists()


def test_token_of_an_unknown_profile_is_an_error_naming_it(run_cli, auth_file):
    auth_file.write(auth_data({"a": api_key_profile()}, current="a"))
    assert_error(run_cli("auth", "token", "--profile", "ghost"), 1,
                 "'ghost'", "baseten auth login --profile ghost")


def test_token_of_a_keyring_profile_with_no_keyring_is_an_error(
        run_cli, auth_file, no_keyring_path):
    auth_file.write(auth_data({"work": api_key_profile(key=None)}, current="work"))
    assert_error(run_cli("auth", "token"), 1, "'work'",
                 "baseten auth login --profile work")


# OAuth refresh -------------------------------------------------------------------


def test_token_refreshes_an_expired_access_token_and_stores_the_new_pair(
        run_cli, auth_file, fake_api):
    auth_file.write(auth_data({"work": oauth_profile(expiry=EXPIRED)}, current="work"))
    fake_api.route("POST", TOKEN_PATH, Reply(200, NEW_TOKENS))

    assert run_cli("auth", "token") == (0, "new-access-token\n", "")

    (request,) = fake_api.requests_to("POST", TOKEN_PATH)
    assert request.form() == {"grant_type": "refresh_token",
                              "refresh_token": "stored-refresh-token",
                              "client_id": "baseten-cli"}
    stored = auth_file.profiles()["work"]["oauth_credential"]
    assert stored["access_token"] == "new-access-token"
    assert stored["refresh_token"] == "new-refresh-token"
    assert stored["expiry"] > "2026"
    assert oct(auth_file.path.stat().st_mode & 0o777) == oct(0o600)


def test_token_refreshes_an_access_token_that_expires_within_ten_seconds(
        run_cli, auth_file, fake_api):
    import datetime

    soon = (datetime.datetime.now(datetime.timezone.utc)
            + datetime.timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    auth_file.write(auth_data({"work": oauth_profile(expiry=soon)}, current="work"))
    fake_api.route("POST", TOKEN_PATH, Reply(200, NEW_TOKENS))
    assert run_cli("auth", "token") == (0, "new-access-token\n", "")


def test_token_json_after_a_refresh_has_the_new_bearer_header(run_cli, auth_file,
                                                               fake_api):
    auth_file.write(auth_data({"work": oauth_profile(expiry=EXPIRED)}, current="work"))
    fake_api.route("POST", TOKEN_PATH, Reply(200, NEW_TOKENS))
    assert run_cli("auth", "token", "-o", "json") == (
        0, token_json("work", "oauth", "new-access-token"), "")


def test_token_keeps_the_refresh_token_when_the_server_sends_none(
        run_cli, auth_file, fake_api):
    auth_file.write(auth_data({"work": oauth_profile(expiry=EXPIRED)}, current="work"))
    fake_api.route("POST", TOKEN_PATH, Reply(200, {
        "access_token": "new-access-token", "token_type": "Bearer",
        "expires_in": 3600}))
    assert run_cli("auth", "token") == (0, "new-access-token\n", "")
    stored = auth_file.profiles()["work"]["oauth_credential"]
    assert stored["refresh_token"] == "stored-refresh-token"


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply(400, {"error": "invalid_grant"}),
                     id="given invalid_grant, exits 3 and says to log in again"),
        pytest.param(Reply(401, {"error": "unauthorized"}),
                     id="given a 401 answer, exits 3 and says to log in again"),
    ],
)
def test_token_with_a_rejected_refresh_exits_3(run_cli, auth_file, fake_api, reply):
    auth_file.write(auth_data({"work": oauth_profile(expiry=EXPIRED)}, current="work"))
    before = auth_file.raw()
    fake_api.route("POST", TOKEN_PATH, reply)
    result = run_cli("auth", "token")
    assert_error(result, 3, "'work'", "baseten auth login --profile work")
    assert "stored-refresh-token" not in result.err
    assert auth_file.raw() == before


def test_token_with_a_server_error_on_refresh_exits_6(run_cli, auth_file, fake_api):
    auth_file.write(auth_data({"work": oauth_profile(expiry=EXPIRED)}, current="work"))
    fake_api.route("POST", TOKEN_PATH, Reply(503, {"error": "down"}))
    assert_error(run_cli("auth", "token"), 6, "503")


# Secrets go to stdout only ---------------------------------------------------------


@pytest.mark.parametrize("output", ["text", "json", "jsonl", "none"])
def test_token_never_prints_a_secret_on_stderr_even_verbose(run_cli, auth_file,
                                                            fake_api, output):
    auth_file.write(auth_data({"k": api_key_profile(key="stored-key"),
                               "o": oauth_profile(expiry=EXPIRED)}, current="k"))
    fake_api.route("POST", TOKEN_PATH, Reply(200, NEW_TOKENS))
    for args in ([], ["--profile", "o"]):
        result = run_cli("auth", "token", "-v", "-o", output, *args)
        assert result.rc == 0, result
        for secret in ("stored-key", "stored-access-token", "stored-refresh-token",
                       "new-access-token", "new-refresh-token"):
            assert secret not in result.err, (secret, result.err)


def test_token_jq_run_time_error_never_shows_the_secret(run_cli, auth_file):
    # The one place where a secret could reach stderr: jq's own error message
    # quotes the value it failed on.
    auth_file.write(auth_data({"work": api_key_profile(key="stored-key")},
                              current="work"))
    result = run_cli("auth", "token", "--jq", ".token | error")
    assert (result.rc, result.out) == (1, ""), result
    assert result.err.startswith("error: jq: "), result.err
    assert "stored-key" not in result.err


# Used in a real HTTP request -------------------------------------------------------


def shell_output(script, env):
    """Run `sh -c SCRIPT` where `baseten` is this CLI; return its stdout."""
    wrapper = "baseten() { %s %s \"$@\"; }\n" % (
        shlex.quote(sys.executable), shlex.quote(CLI_PATH))
    proc = subprocess.run([SH, "-c", wrapper + script], env=env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


def get_me(api, authorization):
    request = urllib.request.Request(api.url + "/v1/users/me",
                                     headers={"Authorization": authorization})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_token_output_builds_a_header_the_server_accepts(run_cli, cli_env, auth_file,
                                                         fake_api):
    assert run_cli("auth", "login", "--with-api-key", "--profile", "ci",
                   "--insecure-storage", input=GOOD_KEY + "\n").rc == 0
    header = shell_output('printf "Api-Key %s" "$(baseten auth token)"', cli_env)
    assert header == "Api-Key " + GOOD_KEY
    assert get_me(fake_api, header) == (200, ME)
    assert fake_api.requests[-1].headers["Authorization"] == "Api-Key " + GOOD_KEY


def test_token_json_authorization_of_a_refreshed_oauth_profile_is_accepted(
        cli_env, auth_file, fake_api):
    auth_file.write(auth_data({"o": oauth_profile(expiry=EXPIRED)}, current="o"))
    fake_api.route("POST", TOKEN_PATH, Reply(200, NEW_TOKENS))
    fake_api.route("GET", "/v1/users/me", lambda request: (
        Reply(200, ME)
        if request.headers.get("Authorization") == "Bearer new-access-token"
        else Reply(401, {"error": "invalid token"})))
    header = shell_output("baseten auth token --jq .authorization", cli_env)
    assert get_me(fake_api, json.loads(header)) == (200, ME)


def test_token_from_baseten_api_key_works_without_a_config_directory(fake_api, cli_env):
    env = merged_env(cli_env, {"BASETEN_API_KEY": GOOD_KEY,
                               "BASETEN_CONFIG_DIR": None, "HOME": None})
    header = shell_output('printf "Api-Key %s" "$(baseten auth token)"', env)
    assert get_me(fake_api, header) == (200, ME)
    assert os.environ.get("BASETEN_API_KEY") != GOOD_KEY  # test env untouched
