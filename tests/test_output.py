"""Output formats (text, json, jsonl, none) and `--jq` on every command.

Only the jq features the CLI's own examples need are used here: `.`,
`.field`, `.a.b`, `.[N]` and `|` (the language is tested elsewhere)."""

from __future__ import annotations

import json

import pytest

from conftest import (
    DEFAULT_REMOTE,
    GOOD_KEY,
    ME,
    api_key_profile,
    assert_error,
    assert_usage_error,
    auth_data,
    login_key,
)

# No keyring tool on PATH: runs stay hermetic, and no test waits for one
# (logout asks the keyring to remove any copy there, even of a profile whose
# secret is in the auth file).
pytestmark = pytest.mark.usefixtures("no_keyring_path")

STATUS = {"profile": "p", "remote_url": DEFAULT_REMOTE, "auth_type": "api_key"}
LOGIN = dict({"profile": "n"}, **ME)


def indented(obj):
    return json.dumps(obj, indent=2) + "\n"


def compact(obj):
    return json.dumps(obj, separators=(",", ":")) + "\n"


@pytest.fixture
def stored(auth_file):
    """One current API-key profile `p`, and a second one `q`."""
    auth_file.write(
        auth_data({"p": api_key_profile(), "q": api_key_profile()}, current="p")
    )
    return auth_file


@pytest.fixture
def run_command(run_cli, run_main):
    """Run one of the four commands in a way that succeeds: login in a
    subprocess, the others in-process (see conftest.run_main)."""

    def run(command, *args):
        if command == "login":
            return login_key(run_cli, "n", *args)
        extra = {
            "logout": ["--profile", "q"],
            "switch": ["--profile", "q"],
            "status": [],
        }
        return run_main("auth", command, *extra[command], *args)

    return run


RESULTS = {
    "login": (LOGIN, "Logged in as alice@example.com (Acme) as profile n\n"),
    "logout": ({"profile": "q"}, "Logged out q\n"),
    "switch": ({"profile": "q"}, "Switched to q\n"),
    "status": (STATUS, "p\n  Remote: %s\n  Auth type: api_key\n" % DEFAULT_REMOTE),
}
COMMANDS = list(RESULTS)


# Formats ---------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    "args, shape",
    [
        pytest.param([], "text", id="the default is text"),
        pytest.param(["-o", "json"], "json", id="json is indented by 2 spaces"),
        pytest.param(["-o", "jsonl"], "jsonl", id="jsonl is one compact line"),
        pytest.param(["-o", "none"], "none", id="none prints nothing"),
    ],
)
def test_each_command_prints_its_result_in_each_format(
    run_command, stored, fake_api, command, args, shape
):
    obj, text = RESULTS[command]
    expected = {"text": text, "json": indented(obj), "jsonl": compact(obj), "none": ""}
    assert run_command(command, *args) == (0, expected[shape], "")
    # and the work is done whatever the format
    data = stored.read()
    if command == "login":
        assert data["profiles"]["n"]["api_key"] == GOOD_KEY
    elif command == "logout":
        assert "q" not in data["profiles"]
    elif command == "switch":
        assert data["current"] == "q"


def test_errors_go_to_stderr_whatever_the_format(run_main, stored):
    for output in ("text", "json", "jsonl", "none"):
        assert_error(
            run_main("auth", "status", "--profile", "ghost", "-o", output), 1, "ghost"
        )


# --jq ------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_jq_profile_prints_the_profile_as_a_json_string(
    run_command, stored, fake_api, command
):
    obj, _ = RESULTS[command]
    expected = json.dumps(obj["profile"]) + "\n"
    assert run_command(command, "--jq", ".profile") == (0, expected, "")


@pytest.mark.parametrize(
    "args, expected",
    [
        pytest.param(["--jq", "."], indented(STATUS), id="dot implies indented json"),
        pytest.param(["--jq", ".", "-o", "json"], indented(STATUS), id="dot with json"),
        pytest.param(
            ["--jq", ".", "-o", "jsonl"], compact(STATUS), id="dot with jsonl"
        ),
        pytest.param(
            ["--jq", ".auth_type"], '"api_key"\n', id="a field keeps its quotes"
        ),
        pytest.param(
            ["--jq", ".remote_url", "-o", "jsonl"],
            '"%s"\n' % DEFAULT_REMOTE,
            id="a field with jsonl",
        ),
        pytest.param(["--jq", ".missing"], "null\n", id="a missing field is null"),
        pytest.param(
            ["--jq", ".missing.deeper"],
            "null\n",
            id="a path through a missing field is null",
        ),
        pytest.param(["--jq", ". | .profile"], '"p"\n', id="a pipe"),
        pytest.param(["--jq", ".profile | ."], '"p"\n', id="a pipe into dot"),
    ],
)
def test_jq_filters_the_status_result(run_main, stored, args, expected):
    assert run_main("auth", "status", *args) == (0, expected, "")


def test_jq_index_on_null_gives_null(run_main, stored):
    assert run_main("auth", "status", "--jq", ".missing | .[0]") == (0, "null\n", "")


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param(".[0]", id="indexing an object with a number"),
        pytest.param(".profile.name", id="a field of a string"),
        pytest.param(".profile | .[0]", id="a number index of a string"),
    ],
)
def test_a_jq_runtime_error_exits_1_with_one_error_line(run_main, stored, expression):
    assert_error(run_main("auth", "status", "--jq", expression), 1)


def test_a_jq_runtime_error_after_login_still_stores_the_profile(
    run_cli, stored, fake_api
):
    result = login_key(run_cli, "n", "--jq", ".[0]")
    assert_error(result, 1)
    assert stored.profiles()["n"]["api_key"] == GOOD_KEY


@pytest.mark.parametrize("output", ["text", "none"])
def test_jq_with_text_or_none_output_is_a_usage_error(run_main, stored, output):
    assert_usage_error(run_main("auth", "status", "--jq", ".", "-o", output), "--jq")


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param(".[", id="an unclosed bracket"),
        pytest.param(".profile |", id="a pipe with nothing after it"),
    ],
)
def test_a_jq_syntax_error_shows_the_expression_and_a_caret(
    run_main, stored, expression
):
    result = run_main("auth", "status", "--jq", expression)
    assert result.rc == 2, result
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 3, result.err
    assert lines[0].startswith("error: "), result.err
    assert expression in lines[1]
    caret = lines[2].strip()
    assert caret and set(caret) <= set("^~"), result.err
    assert "Traceback" not in result.err


def test_the_caret_points_into_the_expression(run_main, stored):
    expression = ".profile | .["
    lines = run_main("auth", "status", "--jq", expression).err.splitlines()
    offset = lines[1].index(expression)
    column = lines[2].index("^") - offset
    assert 0 <= column <= len(expression), lines


def test_a_jq_syntax_error_prevents_the_login(run_cli, auth_file, fake_api):
    result = login_key(run_cli, "n", "--jq", ".[")
    assert result.rc == 2, result
    assert fake_api.requests == []
    assert not auth_file.exists()


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["switch", "--profile", "q"], id="prevents the switch"),
        pytest.param(["logout", "--profile", "q"], id="prevents the logout"),
        pytest.param(["logout"], id="prevents the logout of the current profile"),
    ],
)
def test_a_jq_syntax_error_changes_nothing(run_main, stored, args):
    before = stored.raw()
    result = run_main("auth", *args, "--jq", ".[")
    assert result.rc == 2, result
    assert stored.raw() == before


def test_a_jq_syntax_error_is_reported_before_resolving_the_profile(
    run_main, auth_file
):
    # Nothing is logged in, yet the bad expression is the error shown.
    result = run_main("auth", "status", "--jq", ".[")
    assert result.rc == 2, result
    assert "not logged in" not in result.err
