"""Hardening, profile names: what is refused (empty, control characters,
what no keyring tool can round-trip) with one clear line and no change,
and what works everywhere (unicode, spaces, `@`, `:`, quotes), through the
auth file and through a real Secret Service (`keyring_session`, skipped
where gnome-keyring is missing).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import (
    CLI_PATH,
    GOOD_KEY,
    PYTHON_FLAGS,
    api_key_profile,
    assert_error,
    auth_data,
    login_key,
    merged_env,
)
from secret_service import keyring_session, secret_service  # noqa: F401

BAD_NAMES = [
    pytest.param("", "empty", id="an empty name"),
    pytest.param("   ", "empty", id="a name of spaces only"),
    pytest.param("a\tb", "control", id="a tab"),
    pytest.param("a\nb", "control", id="a line break"),
    pytest.param("\x1b[31mred", "control", id="an escape sequence"),
    pytest.param("a\x7fb", "control", id="a DEL character"),
    pytest.param("a\x9bb", "control", id="a C1 control character"),
    pytest.param("\u202eevil", "control", id="a bidi override"),
    pytest.param("a\u2028b", "control", id="a unicode line separator"),
    pytest.param("x" * 300, "longer", id="a name of 300 characters"),
]

GOOD_NAMES = [
    pytest.param("Jöse Ünïcode", id="unicode and a space"),
    pytest.param("日本語のプロファイル", id="CJK characters"),
    pytest.param("party 🎉", id="an emoji"),
    pytest.param("alice@example.com", id="an email"),
    pytest.param("alice@example.com:staging.example.com", id="an email and a host"),
    pytest.param("it's \"quoted\" \\ back", id="quotes and a backslash"),
    pytest.param("semi;colon $HOME *", id="shell metacharacters"),
]


def _raw_controls(text):
    return [c for c in text if (ord(c) < 0x20 and c != "\n")
            or 0x7f <= ord(c) <= 0x9f or c in "\u202e\u2028"]


@pytest.fixture(autouse=True)
def _no_keyring(no_keyring_path):
    """No keyring tool unless a test brings the Secret Service."""


@pytest.mark.parametrize("name, fragment", BAD_NAMES)
@pytest.mark.parametrize("command", ["login", "switch", "status", "logout", "token"])
def test_a_bad_profile_name_is_refused_with_one_clear_line(
        run_main, fake_api, auth_file, name, fragment, command):
    # In process (run_main): the name must be refused before any I/O.
    auth_file.write(auth_data({"keep": api_key_profile()}, current="keep"))
    before = auth_file.raw()
    if command == "login":
        result = login_key(run_main, name)
    else:
        result = run_main("auth", command, "--profile", name)
    line = assert_error(result, 2, fragment)
    assert _raw_controls(result.err) == [], repr(result.err)
    assert len(line) < 400
    assert auth_file.raw() == before
    assert fake_api.requests == []


def test_a_name_that_is_not_utf8_is_refused(run_cli, cli_env, auth_file, fake_api):
    # argv bytes that do not decode arrive as lone surrogates; no keyring
    # tool and no UTF-8 auth file can hold them.
    argv = [os.fsencode(sys.executable), *[a.encode() for a in PYTHON_FLAGS],
            os.fsencode(CLI_PATH), b"auth", b"login", b"--with-api-key",
            b"--profile", b"bad\xffname", b"--insecure-storage"]
    proc = subprocess.run(argv, input=GOOD_KEY + "\n", capture_output=True,
                          text=True, env=cli_env, timeout=30,
                          errors="backslashreplace")
    assert proc.returncode == 2, proc
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr
    assert not auth_file.exists()
    assert fake_api.requests == []


def test_a_profile_named_after_an_email_with_control_characters_is_refused(
        run_cli, fake_api, auth_file):
    from fakeapi import Reply

    fake_api.route("POST", "/v1/users/auth/device/authorize", Reply(200, {
        "device_code": "dc", "user_code": "UC", "interval": 0.02,
        "verification_uri": "https://app.baseten.co/device"}))
    fake_api.route("POST", "/v1/users/auth/device/token", Reply(200, {
        "access_token": "at", "refresh_token": "rt", "expires_in": 3600}))
    fake_api.route("GET", "/v1/users/me", Reply(200, {
        "user_id": "u", "email": "eve\x1b]0;x\x07@example.com"}))
    result = run_cli("auth", "login", "--web", "--insecure-storage")
    assert result.rc == 2, result
    assert result.out == ""
    assert result.err.splitlines()[-1].startswith("error: ")
    assert "control" in result.err
    assert _raw_controls(result.err) == [], repr(result.err)
    assert not auth_file.exists()


@pytest.mark.parametrize("variable", ["BASETEN_PROFILE"])
def test_a_profile_from_the_environment_with_control_characters_is_refused(
        run_cli, auth_file, variable):
    auth_file.write(auth_data({"keep": api_key_profile()}, current="keep"))
    result = run_cli("auth", "status", env={variable: "\x1b[2J\x1b]0;x\x07"})
    assert result.rc in (1, 2), result
    assert result.out == ""
    assert result.err.count("\n") == 1 and result.err.startswith("error: ")
    assert _raw_controls(result.err) == [], repr(result.err)


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_a_name_with_unicode_spaces_at_and_colon_round_trips_through_the_file(
        run_main, fake_api, auth_file, name):
    # In process: the same code paths as the CLI, without the start-up.
    auth_file.write(auth_data({"other": api_key_profile()}, current="other"))
    assert login_key(run_main, name, "--no-switch").rc == 0
    assert auth_file.profiles()[name]["api_key"] == GOOD_KEY

    result = run_main("auth", "switch", "--profile", name)
    assert result == (0, "Switched to %s\n" % name, "")
    assert auth_file.current() == name

    result = run_main("auth", "status")
    assert result == (0, "%s\n  Remote: https://app.baseten.co\n"
                         "  Auth type: api_key\n" % name, "")
    assert run_main("auth", "token", "--profile", name) == (0, GOOD_KEY + "\n", "")
    result = run_main("auth", "status", "-o", "json",
                     env={"BASETEN_PROFILE": name})
    assert result.rc == 0 and result.err == "", result
    assert json.loads(result.out)["profile"] == name

    result = run_main("auth", "logout", "--profile", name)
    assert result == (0, "Logged out %s\n" % name, "")
    assert name not in auth_file.profiles()


@pytest.mark.parametrize("name", GOOD_NAMES[:2] + GOOD_NAMES[4:6])
def test_a_name_with_unicode_spaces_at_and_colon_round_trips_through_secret_tool(
        run_cli, fake_api, auth_file, keyring_session, cli_env, name):
    env = merged_env({"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                     keyring_session.env({}))
    env["LC_ALL"] = "C"  # the CLI must give secret-tool a UTF-8 locale itself
    result = run_cli("auth", "login", "--with-api-key", "--profile", name,
                     input=GOOD_KEY + "\n", env=env)
    assert result.rc == 0, result
    assert result.err == ""
    assert "api_key" not in auth_file.profiles()[name]
    found = keyring_session.secret_tool("lookup", "service", "baseten-profile",
                                        "username", name)
    assert found.stdout == GOOD_KEY.encode()

    assert run_cli("auth", "token", env=env) == (0, GOOD_KEY + "\n", "")
    result = run_cli("auth", "logout", env=env)
    assert result == (0, "Logged out %s\n" % name, "")
    found = keyring_session.secret_tool("lookup", "service", "baseten-profile",
                                        "username", name)
    assert found.returncode == 1 and found.stdout == b""


def test_names_that_differ_only_in_surrounding_spaces_stay_apart(
        run_cli, fake_api, auth_file):
    assert login_key(run_cli, "ci").rc == 0
    assert login_key(run_cli, " ci ", key=GOOD_KEY).rc == 0
    assert sorted(auth_file.profiles()) == [" ci ", "ci"]
    assert run_cli("auth", "logout", "--profile", " ci ").rc == 0
    assert sorted(auth_file.profiles()) == ["ci"]
