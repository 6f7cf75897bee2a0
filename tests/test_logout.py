"""`baseten auth logout` of API-key profiles (OAuth revocation is tested
elsewhere)."""

from __future__ import annotations

import json

import pytest

from conftest import (
    api_key_profile,
    assert_error,
    auth_data,
    only_warnings,
)

# No keyring tool on PATH: runs stay hermetic, and no test waits for one
# (logout asks the keyring to remove any copy there, even of a profile whose
# secret is in the auth file).
pytestmark = pytest.mark.usefixtures("no_keyring_path")


@pytest.fixture
def run_cli(run_main):
    """Every test here calls main() in-process (see conftest.run_main)."""
    return run_main


def profiles_ab(current="a"):
    return auth_data(
        {"a": api_key_profile(key="key-a"), "b": api_key_profile(key="key-b")},
        current=current,
    )


def test_logout_removes_the_current_profile_and_clears_current(
    run_cli, auth_file, fake_api
):
    auth_file.write(profiles_ab())
    assert run_cli("auth", "logout") == (0, "Logged out a\n", "")
    data = auth_file.read()
    assert data["current"] == ""
    assert data["profiles"] == {"b": api_key_profile(key="key-b")}
    assert fake_api.requests == []


def test_logout_of_another_profile_keeps_the_current_one(run_cli, auth_file):
    auth_file.write(profiles_ab())
    assert run_cli("auth", "logout", "--profile", "b") == (0, "Logged out b\n", "")
    assert auth_file.read() == auth_data(
        {"a": api_key_profile(key="key-a")}, current="a"
    )


def test_logout_uses_baseten_profile_before_the_current_one(run_cli, auth_file):
    auth_file.write(profiles_ab())
    result = run_cli("auth", "logout", env={"BASETEN_PROFILE": "b"})
    assert result == (0, "Logged out b\n", "")
    assert auth_file.read() == auth_data(
        {"a": api_key_profile(key="key-a")}, current="a"
    )


def test_logout_profile_flag_wins_over_baseten_profile(run_cli, auth_file):
    auth_file.write(profiles_ab(current=""))
    result = run_cli("auth", "logout", "--profile", "a", env={"BASETEN_PROFILE": "b"})
    assert result == (0, "Logged out a\n", "")
    assert set(auth_file.profiles()) == {"b"}


def test_logout_ignores_baseten_api_key(run_cli, auth_file):
    auth_file.write(profiles_ab())
    result = run_cli("auth", "logout", env={"BASETEN_API_KEY": "env-secret-key"})
    assert result == (0, "Logged out a\n", "")
    assert set(auth_file.profiles()) == {"b"}


def test_logout_of_the_last_profile_leaves_an_empty_file(run_cli, auth_file):
    auth_file.write(auth_data({"a": api_key_profile()}, current="a"))
    assert run_cli("auth", "logout") == (0, "Logged out a\n", "")
    assert auth_file.read() == auth_data({}, current="")
    assert run_cli("auth", "status").rc == 1


@pytest.mark.parametrize(
    "content, env",
    [
        pytest.param(None, None, id="with no auth file"),
        pytest.param(
            auth_data({"a": api_key_profile()}, current=""),
            None,
            id="with profiles but none current",
        ),
        pytest.param(
            None,
            {"BASETEN_API_KEY": "env-secret-key"},
            id="with only BASETEN_API_KEY, which is not a profile",
        ),
    ],
)
def test_logout_with_nothing_resolved_is_an_error_naming_the_profile_flag(
    run_cli, auth_file, content, env
):
    if content is not None:
        auth_file.write(content)
    before = auth_file.raw() if content is not None else None
    assert_error(run_cli("auth", "logout", env=env), 1, "--profile")
    assert (auth_file.raw() if content is not None else None) == before
    assert auth_file.exists() == (content is not None)


@pytest.mark.parametrize(
    "args, env, current",
    [
        pytest.param(["--profile", "ghost"], None, "a", id="an unknown --profile"),
        pytest.param(
            [], {"BASETEN_PROFILE": "ghost"}, "a", id="an unknown BASETEN_PROFILE"
        ),
        pytest.param([], None, "ghost", id="a current naming a missing profile"),
    ],
)
def test_logout_of_an_unknown_profile_is_an_error_naming_it(
    run_cli, auth_file, args, env, current
):
    auth_file.write(profiles_ab(current=current))
    before = auth_file.raw()
    assert_error(run_cli("auth", "logout", *args, env=env), 1, "ghost")
    assert auth_file.raw() == before


@pytest.mark.parametrize(
    "output, expected",
    [
        pytest.param("json", json.dumps({"profile": "a"}, indent=2) + "\n", id="json"),
        pytest.param("jsonl", '{"profile":"a"}\n', id="jsonl"),
        pytest.param("none", "", id="none prints nothing but still logs out"),
    ],
)
def test_logout_output_formats(run_cli, auth_file, output, expected):
    auth_file.write(profiles_ab())
    assert run_cli("auth", "logout", "-o", output) == (0, expected, "")
    assert set(auth_file.profiles()) == {"b"}


def test_logout_keeps_what_it_does_not_know(run_cli, auth_file):
    data = {
        "version": 1,
        "current": "a",
        "written_by": {"tool": "baseten", "version": "9.9"},
        "profiles": {
            "a": api_key_profile(key="key-a"),
            "b": api_key_profile(key="key-b", labels=["x", "y"]),
        },
    }
    auth_file.write(data)
    assert run_cli("auth", "logout").rc == 0
    del data["profiles"]["a"]
    data["current"] = ""
    assert auth_file.read() == data


def test_logout_of_a_keyring_profile_with_no_keyring_still_removes_it(
    run_cli, auth_file, no_keyring_path
):
    # The secret should be in the keyring, and there is no keyring tool:
    # at most warnings, and the profile is gone all the same.
    auth_file.write(
        auth_data({"a": api_key_profile(key=None), "b": api_key_profile()}, current="a")
    )
    result = run_cli("auth", "logout")
    assert result.rc == 0, result
    assert result.out == "Logged out a\n"
    assert only_warnings(result.err), result.err
    assert auth_file.read() == auth_data({"b": api_key_profile()}, current="")


def test_logout_then_logout_again_is_an_error(run_cli, auth_file):
    auth_file.write(profiles_ab())
    assert run_cli("auth", "logout", "--profile", "a").rc == 0
    assert_error(run_cli("auth", "logout", "--profile", "a"), 1, "a")


def test_logout_never_prints_the_secret_even_verbose(run_cli, auth_file):
    auth_file.write(profiles_ab())
    result = run_cli("auth", "logout", "-v")
    assert result.rc == 0, result
    assert "key-a" not in result.out + result.err
