"""`baseten auth status`: the resolved profile, remote and auth type."""

from __future__ import annotations

import json

import pytest

from conftest import (
    DEFAULT_REMOTE,
    NOT_LOGGED_IN,
    api_key_profile,
    assert_error,
    assert_no_secret,
    assert_usage_error,
    auth_data,
    oauth_profile,
)

# No keyring tool on PATH: runs stay hermetic, and no test waits for one
# (logout asks the keyring to remove any copy there, even of a profile whose
# secret is in the auth file).
pytestmark = pytest.mark.usefixtures("no_keyring_path")


@pytest.fixture
def run_cli(run_main):
    """Every test here calls main() in-process (see conftest.run_main)."""
    return run_main


def status_text(profile, remote=DEFAULT_REMOTE, auth_type="api_key"):
    return "%s\n  Remote: %s\n  Auth type: %s\n" % (profile, remote, auth_type)


def status_json(profile, remote=DEFAULT_REMOTE, auth_type="api_key"):
    obj = {"profile": profile, "remote_url": remote, "auth_type": auth_type}
    return json.dumps(obj, indent=2) + "\n"


ENV_KEY_TEXT = "Using API key from BASETEN_API_KEY\n  Remote: %s\n"


@pytest.mark.parametrize(
    "entry, remote, auth_type",
    [
        pytest.param(
            api_key_profile(),
            DEFAULT_REMOTE,
            "api_key",
            id="given an API-key profile, shows it",
        ),
        pytest.param(
            oauth_profile(),
            DEFAULT_REMOTE,
            "oauth",
            id="given an OAuth profile, shows it",
        ),
        pytest.param(
            api_key_profile(remote="https://app.example.com"),
            "https://app.example.com",
            "api_key",
            id="given a profile on another remote, shows that remote",
        ),
    ],
)
def test_status_shows_the_current_profile(run_cli, auth_file, entry, remote, auth_type):
    auth_file.write(auth_data({"work": entry}, current="work"))
    assert run_cli("auth", "status") == (0, status_text("work", remote, auth_type), "")


def test_status_json_lists_profile_remote_and_auth_type_in_order(run_cli, auth_file):
    auth_file.write(auth_data({"work": oauth_profile()}, current="work"))
    assert run_cli("auth", "status", "-o", "json") == (
        0,
        status_json("work", auth_type="oauth"),
        "",
    )


def test_status_makes_no_http_request(run_cli, auth_file, fake_api):
    auth_file.write(auth_data({"work": api_key_profile()}, current="work"))
    assert run_cli("auth", "status")[0] == 0
    assert fake_api.requests == []


def test_status_of_an_expired_oauth_profile_does_not_refresh(
    run_cli, auth_file, fake_api
):
    auth_file.write(
        auth_data(
            {"work": oauth_profile(expiry="2020-01-01T00:00:00Z")}, current="work"
        )
    )
    before = auth_file.raw()
    assert run_cli("auth", "status") == (0, status_text("work", auth_type="oauth"), "")
    assert fake_api.requests == []
    assert auth_file.raw() == before


def test_status_does_not_need_the_secret(run_cli, auth_file, no_keyring_path):
    # The secret is in the keyring, and no keyring tool is on PATH: status
    # shows the profile without reading it.
    auth_file.write(auth_data({"work": api_key_profile(key=None)}, current="work"))
    assert run_cli("auth", "status") == (0, status_text("work"), "")


def test_status_does_not_rewrite_the_auth_file(run_cli, auth_file):
    auth_file.write(auth_data({"work": api_key_profile()}, current="work"))
    before = auth_file.raw()
    inode = auth_file.path.stat().st_ino
    assert run_cli("auth", "status")[0] == 0
    assert auth_file.raw() == before
    assert auth_file.path.stat().st_ino == inode


# Selecting the profile -------------------------------------------------------


def test_profile_flag_shows_that_profile_instead_of_the_current_one(run_cli, auth_file):
    auth_file.write(
        auth_data({"a": api_key_profile(), "b": oauth_profile()}, current="a")
    )
    assert run_cli("auth", "status", "--profile", "b") == (
        0,
        status_text("b", auth_type="oauth"),
        "",
    )


def test_baseten_profile_shows_that_profile_instead_of_the_current_one(
    run_cli, auth_file
):
    auth_file.write(
        auth_data({"a": api_key_profile(), "b": oauth_profile()}, current="a")
    )
    result = run_cli("auth", "status", env={"BASETEN_PROFILE": "b"})
    assert result == (0, status_text("b", auth_type="oauth"), "")


def test_an_empty_baseten_profile_counts_as_unset(run_cli, auth_file):
    auth_file.write(auth_data({"a": api_key_profile()}, current="a"))
    result = run_cli("auth", "status", env={"BASETEN_PROFILE": ""})
    assert result == (0, status_text("a"), "")


@pytest.mark.parametrize(
    "how",
    [
        pytest.param("flag", id="an unknown --profile is an error naming it"),
        pytest.param("env", id="an unknown BASETEN_PROFILE is an error naming it"),
        pytest.param(
            "current", id="a current naming a missing profile is an error naming it"
        ),
    ],
)
def test_an_unknown_profile_is_an_error_naming_it(run_cli, auth_file, how):
    current = "ghost" if how == "current" else "a"
    auth_file.write(auth_data({"a": api_key_profile()}, current=current))
    before = auth_file.raw()
    args = ["--profile", "ghost"] if how == "flag" else []
    env = {"BASETEN_PROFILE": "ghost"} if how == "env" else None
    assert_error(run_cli("auth", "status", *args, env=env), 1, "ghost")
    assert auth_file.raw() == before


def test_an_unknown_profile_flag_with_no_auth_file_is_an_error_naming_it(run_cli):
    assert_error(run_cli("auth", "status", "--profile", "ghost"), 1, "ghost")


# Not logged in ---------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(None, id="with no auth file"),
        pytest.param(auth_data({}), id="with an empty auth file"),
        pytest.param(
            auth_data({"a": api_key_profile()}, current=""),
            id="with profiles but none current",
        ),
        pytest.param(
            {"version": 1, "profiles": {"a": api_key_profile()}},
            id="with profiles and no current key",
        ),
    ],
)
def test_status_when_not_logged_in_says_how_to_log_in(run_cli, auth_file, content):
    if content is not None:
        auth_file.write(content)
    result = run_cli("auth", "status")
    assert result == (1, "", NOT_LOGGED_IN)


def test_status_when_not_logged_in_creates_nothing(run_cli, config_dir):
    assert run_cli("auth", "status").rc == 1
    assert not config_dir.exists()


# BASETEN_API_KEY -------------------------------------------------------------


def test_baseten_api_key_is_shown_without_the_key(run_cli, auth_file):
    result = run_cli("auth", "status", env={"BASETEN_API_KEY": "env-secret-key"})
    assert result == (0, ENV_KEY_TEXT % DEFAULT_REMOTE, "")


def test_baseten_api_key_json_has_an_empty_profile(run_cli):
    result = run_cli(
        "auth", "status", "-o", "json", env={"BASETEN_API_KEY": "env-secret-key"}
    )
    assert result == (0, status_json(""), "")


def test_baseten_api_key_wins_over_the_current_profile(run_cli, auth_file):
    auth_file.write(auth_data({"a": oauth_profile()}, current="a"))
    result = run_cli("auth", "status", env={"BASETEN_API_KEY": "env-secret-key"})
    assert result == (0, ENV_KEY_TEXT % DEFAULT_REMOTE, "")


@pytest.mark.parametrize(
    "remote, shown",
    [
        pytest.param(
            "https://app.example.com",
            "https://app.example.com",
            id="uses BASETEN_REMOTE_URL as the remote",
        ),
        pytest.param(
            "https://app.example.com/",
            "https://app.example.com",
            id="drops a lone trailing slash of BASETEN_REMOTE_URL",
        ),
        pytest.param(
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080",
            id="accepts a plain http loopback BASETEN_REMOTE_URL",
        ),
    ],
)
def test_baseten_api_key_remote(run_cli, remote, shown):
    env = {"BASETEN_API_KEY": "env-secret-key", "BASETEN_REMOTE_URL": remote}
    assert run_cli("auth", "status", env=env) == (0, ENV_KEY_TEXT % shown, "")


def test_baseten_api_key_with_an_invalid_remote_url_is_a_usage_error(run_cli):
    env = {
        "BASETEN_API_KEY": "env-secret-key",
        "BASETEN_REMOTE_URL": "http://example.com",
    }
    assert_usage_error(run_cli("auth", "status", env=env), "http://example.com")


def test_baseten_remote_url_does_not_change_a_stored_profile_remote(run_cli, auth_file):
    auth_file.write(auth_data({"a": api_key_profile()}, current="a"))
    result = run_cli(
        "auth", "status", env={"BASETEN_REMOTE_URL": "https://app.example.com"}
    )
    assert result == (0, status_text("a"), "")


def test_baseten_api_key_makes_no_http_request_and_writes_nothing(
    run_cli, config_dir, fake_api
):
    result = run_cli("auth", "status", env={"BASETEN_API_KEY": "env-secret-key"})
    assert result.rc == 0, result
    assert fake_api.requests == []
    assert not config_dir.exists()


@pytest.mark.parametrize(
    "args, env",
    [
        pytest.param(["-o", "text"], None, id="of an API-key profile"),
        pytest.param(["-o", "json", "--profile", "o"], None, id="of an OAuth profile"),
        pytest.param(
            ["-o", "jsonl"],
            {"BASETEN_API_KEY": "env-secret-key"},
            id="of BASETEN_API_KEY",
        ),
    ],
)
def test_status_never_prints_secrets_even_verbose(run_cli, auth_file, args, env):
    auth_file.write(
        auth_data(
            {"a": api_key_profile(key="stored-key"), "o": oauth_profile()}, current="a"
        )
    )
    result = run_cli("auth", "status", "-v", *args, env=env)
    assert result.rc == 0, result
    assert_no_secret(
        result,
        "stored-key",
        "env-secret-key",
        "stored-access-token",
        "stored-refresh-token",
    )
