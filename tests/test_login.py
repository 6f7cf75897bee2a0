"""`baseten auth login --with-api-key`: check the key, store the profile.

(The browser login is tested elsewhere.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from conftest import (
    cli_argv,
    DEFAULT_REMOTE,
    GOOD_KEY,
    ME,
    api_key_profile,
    assert_error,
    assert_no_secret,
    auth_data,
    login_key,
    merged_env,
    oauth_profile,
)
from fakeapi import Reply

# No keyring tool on PATH: runs stay hermetic, and no test waits for one
# (logout asks the keyring to remove any copy there, even of a profile whose
# secret is in the auth file).
pytestmark = pytest.mark.usefixtures("no_keyring_path")

LOGGED_IN = "Logged in as alice@example.com (Acme) as profile %s\n"


def test_login_with_a_good_key_stores_the_profile_and_makes_it_current(
    run_cli, auth_file, fake_api
):
    result = login_key(run_cli, "ci")
    assert result == (0, LOGGED_IN % "ci", "")
    assert auth_file.read() == {
        "version": 1,
        "current": "ci",
        "profiles": {
            "ci": {
                "remote_url": DEFAULT_REMOTE,
                "auth_type": "api_key",
                "api_key": GOOD_KEY,
            }
        },
    }


def test_login_checks_the_key_with_one_users_me_request(run_cli, auth_file, fake_api):
    assert login_key(run_cli, "ci").rc == 0
    [request] = fake_api.requests
    assert (request.method, request.path) == ("GET", "/v1/users/me")
    assert request.headers["Authorization"] == "Api-Key " + GOOD_KEY
    assert request.headers["User-Agent"].startswith("baseten_auth/")


def test_login_user_agent_carries_the_version(run_cli, auth_file, fake_api):
    import baseten_auth

    assert login_key(run_cli, "ci").rc == 0
    agent = fake_api.requests[0].headers["User-Agent"]
    assert agent.split()[0] == "baseten_auth/" + baseten_auth.__version__


@pytest.mark.parametrize(
    "stdin",
    [
        pytest.param("good-key\n", id="a key ending with a newline"),
        pytest.param("good-key", id="a key without a newline"),
        pytest.param("  good-key \t\n", id="a key with spaces around it"),
        pytest.param("good-key\r\n", id="a key ending with CRLF"),
        pytest.param("good-key\nsomething else\n", id="only the first line is the key"),
    ],
)
def test_the_key_is_the_first_line_of_stdin_trimmed(
    run_cli, auth_file, fake_api, stdin
):
    result = run_cli(
        "auth",
        "login",
        "--with-api-key",
        "--profile",
        "ci",
        "--insecure-storage",
        input=stdin,
    )
    assert result == (0, LOGGED_IN % "ci", "")
    assert auth_file.profiles()["ci"]["api_key"] == GOOD_KEY


def test_login_json_output_lists_the_fields_in_order(run_cli, auth_file, fake_api):
    result = login_key(run_cli, "ci", "-o", "json")
    expected = {"profile": "ci"}
    expected.update(ME)
    assert result == (0, json.dumps(expected, indent=2) + "\n", "")


def test_login_jsonl_output_is_one_compact_line(run_cli, auth_file, fake_api):
    result = login_key(run_cli, "ci", "-o", "jsonl")
    expected = {"profile": "ci"}
    expected.update(ME)
    assert result == (0, json.dumps(expected, separators=(",", ":")) + "\n", "")


def test_login_shows_what_the_server_says_about_the_account(
    run_cli, auth_file, fake_api
):
    me = {
        "user_id": "u9",
        "email": "bob@example.org",
        "name": "Bob",
        "workspace_name": "Bobco",
    }
    fake_api.route("GET", "/v1/users/me", Reply(200, me))
    result = login_key(run_cli, "bob")
    assert result == (0, "Logged in as bob@example.org (Bobco) as profile bob\n", "")


# Failures store nothing ------------------------------------------------------


@pytest.mark.parametrize(
    "status, code",
    [
        pytest.param(401, 3, id="a rejected key (401) exits 3"),
        pytest.param(403, 3, id="a forbidden key (403) exits 3"),
        pytest.param(404, 4, id="a 404 exits 4"),
        pytest.param(400, 5, id="a 400 exits 5"),
        pytest.param(429, 5, id="a 429 exits 5"),
        pytest.param(500, 6, id="a 500 exits 6"),
    ],
)
def test_a_failed_key_check_exits_with_its_code_and_stores_nothing(
    run_cli, auth_file, fake_api, status, code
):
    fake_api.route("GET", "/v1/users/me", Reply(status, {"error": "nope"}))
    result = login_key(run_cli, "ci")
    assert_error(result, code)
    assert_no_secret(result, GOOD_KEY)
    assert not auth_file.exists()


@pytest.mark.parametrize(
    "status, code",
    [
        pytest.param(
            401, 3, id="a 401 whose error echoes the key exits 3 without showing it"
        ),
        pytest.param(
            400, 5, id="a 400 whose error echoes the key exits 5 without showing it"
        ),
        pytest.param(
            500, 6, id="a 500 whose error echoes the key exits 6 without showing it"
        ),
    ],
)
def test_a_server_error_that_echoes_the_key_never_shows_it(
    run_cli, auth_file, fake_api, status, code
):
    fake_api.route(
        "GET",
        "/v1/users/me",
        Reply(
            status,
            {"error": "invalid_request", "error_description": "bad key " + GOOD_KEY},
        ),
    )
    result = login_key(run_cli, "ci", "-v")
    assert result.rc == code, result
    assert_no_secret(result, GOOD_KEY)
    assert result.err.splitlines()[-1].startswith("error: ")
    assert not auth_file.exists()


def test_a_wrong_key_exits_3_and_stores_nothing(run_cli, auth_file, fake_api):
    result = login_key(run_cli, "ci", key="wrong-key")
    assert_error(result, 3)
    assert_no_secret(result, "wrong-key")
    assert not auth_file.exists()


def test_a_failed_key_check_leaves_an_existing_auth_file_untouched(
    run_cli, auth_file, fake_api
):
    auth_file.write(
        auth_data({"ci": api_key_profile(), "b": oauth_profile()}, current="b")
    )
    before = auth_file.raw()
    assert_error(login_key(run_cli, "ci", key="wrong-key"), 3)
    assert auth_file.raw() == before


def test_a_server_answer_that_is_not_json_is_an_error_and_stores_nothing(
    run_cli, auth_file, fake_api
):
    fake_api.route("GET", "/v1/users/me", Reply(200, body=b"<html>oops</html>"))
    result = login_key(run_cli, "ci")
    assert result.rc != 0
    assert_error(result, result.rc)
    assert not auth_file.exists()


def test_a_connection_failure_exits_1_naming_the_url(run_cli, auth_file, closed_port):
    url = "http://127.0.0.1:%d" % closed_port
    result = login_key(run_cli, "ci", env={"BASETEN_MANAGEMENT_API_URL_OVERRIDE": url})
    assert_error(result, 1, url)
    assert_no_secret(result, GOOD_KEY)
    assert not auth_file.exists()


@pytest.mark.parametrize(
    "remote, api",
    [
        pytest.param(
            "https://app.example.invalid",
            "https://api.example.invalid",
            id="app.HOST uses api.HOST",
        ),
        pytest.param(
            "https://app.staging.example.invalid",
            "https://api.staging.example.invalid",
            id="app.staging.HOST uses api.staging.HOST",
        ),
        pytest.param(
            "https://example.invalid",
            "https://api.example.invalid",
            id="a host without app. gets api. in front",
        ),
        pytest.param(
            "https://app.example.invalid:8443",
            "https://api.example.invalid:8443",
            id="the remote's port is kept",
        ),
    ],
)
def test_the_management_api_base_is_derived_from_the_remote(
    run_cli, auth_file, remote, api
):
    # No network here: the connection fails, and the message names the URL
    # the CLI tried.
    result = login_key(run_cli, "ci", "--remote-url", remote)
    assert_error(result, 1, api)
    assert not auth_file.exists()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_loopback_remote_is_its_own_management_api(
    run_cli, auth_file, fake_api, cli_env, host
):
    del cli_env["BASETEN_MANAGEMENT_API_URL_OVERRIDE"]
    remote = "http://%s:%d" % (host, fake_api.port)
    result = login_key(run_cli, "ci", "--remote-url", remote)
    assert result == (0, LOGGED_IN % "ci", "")
    assert len(fake_api.requests_to("GET", "/v1/users/me")) == 1
    assert auth_file.profiles()["ci"]["remote_url"] == remote


def test_baseten_remote_url_is_the_new_profile_remote(run_cli, auth_file, fake_api):
    result = login_key(
        run_cli, "ci", env={"BASETEN_REMOTE_URL": "https://app.example.com"}
    )
    assert result.rc == 0, result
    assert auth_file.profiles()["ci"]["remote_url"] == "https://app.example.com"
    assert len(fake_api.requests) == 1


def test_remote_url_flag_wins_over_baseten_remote_url(run_cli, auth_file, fake_api):
    result = login_key(
        run_cli,
        "ci",
        "--remote-url",
        "https://app.one.example",
        env={"BASETEN_REMOTE_URL": "https://app.two.example"},
    )
    assert result.rc == 0, result
    assert auth_file.profiles()["ci"]["remote_url"] == "https://app.one.example"


# Current profile, --no-switch, replacing -------------------------------------


def test_a_new_login_becomes_current(run_cli, auth_file, fake_api):
    auth_file.write(auth_data({"old": api_key_profile()}, current="old"))
    assert login_key(run_cli, "new").rc == 0
    data = auth_file.read()
    assert data["current"] == "new"
    assert set(data["profiles"]) == {"old", "new"}


def test_no_switch_keeps_the_current_profile(run_cli, auth_file, fake_api):
    auth_file.write(auth_data({"old": api_key_profile()}, current="old"))
    assert login_key(run_cli, "new", "--no-switch") == (0, LOGGED_IN % "new", "")
    data = auth_file.read()
    assert data["current"] == "old"
    assert data["profiles"]["new"]["api_key"] == GOOD_KEY


def test_no_switch_with_no_current_profile_leaves_none_current(
    run_cli, auth_file, fake_api
):
    assert login_key(run_cli, "new", "--no-switch").rc == 0
    assert auth_file.read().get("current", "") == ""
    assert run_cli("auth", "status").rc == 1


def test_logging_in_again_replaces_the_profile_entry_whole(
    run_cli, auth_file, fake_api
):
    auth_file.write(
        auth_data(
            {
                "ci": oauth_profile(remote="https://app.example.com", note="old entry"),
                "other": api_key_profile(note="kept"),
            },
            current="other",
        )
    )
    assert login_key(run_cli, "ci").rc == 0
    data = auth_file.read()
    assert data["profiles"]["ci"] == api_key_profile(key=GOOD_KEY)
    assert data["profiles"]["other"] == api_key_profile(note="kept")
    assert data["current"] == "ci"


def test_login_ignores_baseten_api_key_and_baseten_profile(
    run_cli, auth_file, fake_api
):
    env = {"BASETEN_API_KEY": "env-secret-key", "BASETEN_PROFILE": "elsewhere"}
    assert login_key(run_cli, "ci", env=env) == (0, LOGGED_IN % "ci", "")
    assert fake_api.requests[0].headers["Authorization"] == "Api-Key " + GOOD_KEY
    assert auth_file.current() == "ci"


# Secrets ---------------------------------------------------------------------


@pytest.mark.parametrize("output", ["text", "json"])
def test_the_key_never_appears_on_stdout_or_stderr_even_verbose(
    run_cli, auth_file, fake_api, output
):
    result = login_key(run_cli, "ci", "-v", "-o", output)
    assert result.rc == 0, result
    assert_no_secret(result, GOOD_KEY)


def test_a_rejected_key_never_appears_even_verbose(run_cli, auth_file, fake_api):
    result = login_key(run_cli, "ci", "-v", key="wrong-key-1234")
    assert result.rc == 3, result
    assert_no_secret(result, "wrong-key-1234")
    assert result.err.splitlines()[-1].startswith("error: ")


def test_the_key_never_appears_in_a_connection_error_even_verbose(
    run_cli, auth_file, closed_port
):
    url = "http://127.0.0.1:%d" % closed_port
    result = login_key(
        run_cli, "ci", "-v", env={"BASETEN_MANAGEMENT_API_URL_OVERRIDE": url}
    )
    assert result.rc == 1, result
    assert_no_secret(result, GOOD_KEY)


def test_the_key_is_not_on_the_command_line_of_any_process_it_starts(
    run_cli, auth_file, fake_api, tmp_path, cli_env
):
    # Any helper the CLI might start (a keyring tool) is a logging stub here.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "argv.log"
    for name in ("secret-tool", "keyring", "security"):
        stub = bin_dir / name
        stub.write_text(
            '#!/bin/sh\necho "$0 $*" >> %s\n/bin/cat > /dev/null\nexit 1\n' % log
        )
        stub.chmod(0o755)
    cli_env["PATH"] = str(bin_dir)
    result = run_cli(
        "auth", "login", "--with-api-key", "--profile", "ci", input=GOOD_KEY + "\n"
    )
    assert result.rc == 0, result
    assert GOOD_KEY not in (log.read_text() if log.exists() else "")


# Ctrl-C ----------------------------------------------------------------------


def test_ctrl_c_during_the_key_check_exits_130_and_stores_nothing(
    auth_file, fake_api, cli_env, tmp_path
):
    fake_api.route("GET", "/v1/users/me", Reply(200, ME, delay=8))
    key_file = tmp_path / "key.txt"
    key_file.write_text(GOOD_KEY + "\n")
    with open(key_file) as stdin:
        proc = subprocess.Popen(
            cli_argv(
                "auth",
                "login",
                "--with-api-key",
                "--profile",
                "ci",
                "--insecure-storage",
            ),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=merged_env(cli_env, {}),
            text=True,
        )
    try:
        fake_api.wait_for("GET", "/v1/users/me", timeout=10)
        time.sleep(0.2)
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
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert not auth_file.exists()
    assert not any(
        name
        for name in (os.listdir(auth_file.dir) if auth_file.dir.exists() else [])
        if not name.endswith(".lock")
    )


# Profile names and redirects -------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("alice@example.com", id="a profile named after an email"),
        pytest.param(
            "alice@example.com:staging.example.com",
            id="a profile named EMAIL:HOST as browser logins name them",
        ),
        pytest.param("ci-prod_2", id="a profile with dashes, underscores and digits"),
    ],
)
def test_profile_names_like_the_official_cli_uses_are_accepted(
    run_cli, auth_file, fake_api, name
):
    assert login_key(run_cli, name) == (0, LOGGED_IN % name, "")
    assert auth_file.current() == name
    result = run_cli("auth", "status")
    assert result.rc == 0, result
    assert result.out.splitlines()[0] == name


def test_the_key_is_not_sent_on_to_another_origin_by_a_redirect(
    run_cli, auth_file, fake_api
):
    from fakeapi import FakeAPI

    with FakeAPI() as other:
        fake_api.route(
            "GET",
            "/v1/users/me",
            Reply(307, body=b"", headers={"Location": other.url + "/v1/users/me"}),
        )
        result = login_key(run_cli, "ci")
        leaked = [
            r
            for r in other.requests
            if GOOD_KEY in (r.headers.get("Authorization") or "")
        ]
    assert leaked == []
    assert result.rc != 0, result
    assert_error(result, result.rc)
    assert not auth_file.exists()


def test_a_management_api_override_with_a_trailing_slash_works(
    run_cli, auth_file, fake_api
):
    result = login_key(
        run_cli, "ci", env={"BASETEN_MANAGEMENT_API_URL_OVERRIDE": fake_api.url + "/"}
    )
    assert result == (0, LOGGED_IN % "ci", "")
    assert [r.path for r in fake_api.requests] == ["/v1/users/me"]
