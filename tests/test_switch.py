"""`baseten auth switch --profile NAME`: change the current profile."""

from __future__ import annotations

import json

import pytest

from conftest import (
    api_key_profile,
    assert_error,
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


def two_profiles(current="a"):
    return auth_data({"a": api_key_profile(), "b": oauth_profile()}, current=current)


@pytest.mark.parametrize(
    "current",
    [
        pytest.param("a", id="given two profiles, switch picks the other"),
        pytest.param("b", id="given the profile is already current, switch keeps it"),
        pytest.param("", id="given no current profile, switch makes one current"),
    ],
)
def test_switch_makes_the_profile_current(run_cli, auth_file, current):
    data = two_profiles(current)
    auth_file.write(data)
    assert run_cli("auth", "switch", "--profile", "b") == (0, "Switched to b\n", "")
    data["current"] = "b"
    assert auth_file.read() == data


def test_switch_then_status_shows_the_new_profile(run_cli, auth_file):
    auth_file.write(two_profiles())
    assert run_cli("auth", "switch", "--profile", "b").rc == 0
    result = run_cli("auth", "status")
    assert result.rc == 0, result
    assert result.out.splitlines()[0] == "b"


@pytest.mark.parametrize(
    "output, expected",
    [
        pytest.param("json", json.dumps({"profile": "b"}, indent=2) + "\n", id="json"),
        pytest.param("jsonl", '{"profile":"b"}\n', id="jsonl"),
        pytest.param("none", "", id="none prints nothing but still switches"),
    ],
)
def test_switch_output_formats(run_cli, auth_file, output, expected):
    auth_file.write(two_profiles())
    assert run_cli("auth", "switch", "--profile", "b", "-o", output) == (
        0,
        expected,
        "",
    )
    assert auth_file.current() == "b"


def test_switch_to_a_missing_profile_is_an_error_naming_it(run_cli, auth_file):
    auth_file.write(two_profiles())
    before = auth_file.raw()
    assert_error(run_cli("auth", "switch", "--profile", "ghost"), 1, "ghost")
    assert auth_file.raw() == before


def test_switch_with_no_auth_file_is_an_error_naming_the_profile(run_cli, auth_file):
    assert_error(run_cli("auth", "switch", "--profile", "ghost"), 1, "ghost")
    assert not auth_file.exists()


def test_switch_without_profile_is_a_usage_error_even_with_baseten_profile(
    run_cli, auth_file
):
    auth_file.write(two_profiles())
    before = auth_file.raw()
    assert_usage_error(
        run_cli("auth", "switch", env={"BASETEN_PROFILE": "b"}), "--profile"
    )
    assert auth_file.raw() == before


@pytest.mark.parametrize(
    "env",
    [
        pytest.param(
            {"BASETEN_API_KEY": "env-secret-key"},
            id="switch works while BASETEN_API_KEY is set",
        ),
        pytest.param(
            {"BASETEN_PROFILE": "a"}, id="switch works while BASETEN_PROFILE is set"
        ),
    ],
)
def test_switch_ignores_the_environment(run_cli, auth_file, env):
    auth_file.write(two_profiles())
    assert run_cli("auth", "switch", "--profile", "b", env=env) == (
        0,
        "Switched to b\n",
        "",
    )
    assert auth_file.current() == "b"


def test_switch_needs_neither_the_network_nor_the_keyring(
    run_cli, auth_file, fake_api, no_keyring_path
):
    auth_file.write(
        auth_data(
            {
                "a": api_key_profile(key=None),
                "b": oauth_profile(expiry="2020-01-01T00:00:00Z"),
            },
            current="a",
        )
    )
    assert run_cli("auth", "switch", "--profile", "b") == (0, "Switched to b\n", "")
    assert fake_api.requests == []


def test_switch_changes_nothing_but_current(run_cli, auth_file):
    data = {
        "version": 1,
        "current": "a",
        "written_by": "another tool",
        "profiles": {
            "a": api_key_profile(color="blue"),
            "b": oauth_profile(expiry="2026-01-02T03:04:05.123456789Z", region="eu"),
        },
    }
    auth_file.write(data)
    assert run_cli("auth", "switch", "--profile", "b").rc == 0
    data["current"] = "b"
    assert auth_file.read() == data


def test_switch_never_prints_secrets_even_verbose(run_cli, auth_file):
    auth_file.write(two_profiles())
    result = run_cli("auth", "switch", "-v", "--profile", "b")
    assert result.rc == 0, result
    for secret in ("stored-key", "stored-access-token", "stored-refresh-token"):
        assert secret not in result.out + result.err
