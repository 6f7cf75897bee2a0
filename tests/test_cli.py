"""The command line as a user meets it: entry points, --help, --version,
option parsing, and usage errors (exit 2, one `error: ` line, no side
effect)."""

from __future__ import annotations

import json
import re

import pytest

from conftest import (
    DEFAULT_REMOTE,
    GOOD_KEY,
    api_key_profile,
    assert_usage_error,
    auth_data,
)

# No keyring tool on PATH: runs stay hermetic, and no test waits for one
# (logout asks the keyring to remove any copy there, even of a profile whose
# secret is in the auth file).
pytestmark = pytest.mark.usefixtures("no_keyring_path")

# The reference page (baseten-auth-reference.txt), copied so that the tests
# need nothing outside the repository.
AUTH_DESCRIPTION = (
    "Log in, log out, and manage Baseten credentials. Each set of credentials"
    " is stored as a named profile. Select a profile per command with"
    " --profile or the BASETEN_PROFILE environment variable, or set the"
    " default with baseten auth switch. Credentials are stored in the system"
    " keyring when available, with a plaintext fallback in the config"
    " directory."
)
DESCRIPTIONS = {
    "login": (
        "Log in to Baseten through your browser (OAuth device flow) or API"
        " key, storing a named profile. By default, opens a browser for"
        " interactive login. Use --web to skip prompts (suitable for non-TTY"
        " environments). Use --with-api-key to provide an API key (reads from"
        " stdin, or prompts interactively if TTY). Browser logins name the"
        " profile after your email; API key logins require an explicit"
        " --profile name. The new profile becomes current unless --no-switch"
        " is given."
    ),
    "logout": (
        "Remove a stored profile and its credentials. Defaults to the current"
        " profile; pass --profile to choose another. For OAuth credentials,"
        " also revokes the session."
    ),
    "switch": (
        "Set the current profile used when no profile is selected with"
        " --profile or BASETEN_PROFILE."
    ),
    "status": (
        "Show the resolved authentication state, including the profile,"
        " remote, and auth type."
    ),
}
EXAMPLES = {
    "login": [
        ("Browser-based login (OAuth device flow)", "baseten auth login --web"),
        (
            "Provide an API key on stdin under a named profile",
            "echo $API_KEY | baseten auth login --with-api-key --profile <profile>",
        ),
        ("Print just the new profile name", "baseten auth login --web --jq '.profile'"),
    ],
    "logout": [
        ("Log out the current profile", "baseten auth logout"),
        ("Log out a specific profile", "baseten auth logout --profile <profile>"),
        (
            "Print just the logged-out profile name",
            "baseten auth logout --jq '.profile'",
        ),
    ],
    "switch": [
        (
            "Switch to a specific profile non-interactively",
            "baseten auth switch --profile <profile>",
        ),
        (
            "Print just the new current profile",
            "baseten auth switch --profile <profile> --jq '.profile'",
        ),
    ],
    "status": [
        ("Show the current auth status", "baseten auth status"),
        ("Print just the auth type", "baseten auth status --jq '.auth_type'"),
    ],
}
COMMON_OPTIONS = ["-o", "--output", "-q", "--jq", "--profile", "-v", "--verbose"]
LOGIN_OPTIONS = [
    "--web",
    "--with-api-key",
    "--no-switch",
    "--insecure-storage",
    "--remote-url",
]
COMMANDS = ["login", "logout", "switch", "status"]


def normalized(text):
    """Whitespace collapsed, and words that help wrapping split at a hyphen
    joined again."""
    return re.sub(r"- ", "-", re.sub(r"\s+", " ", text))


def status_env(**extra):
    env = {"BASETEN_API_KEY": "env-key"}
    env.update(extra)
    return env


EXPECTED_ENV_STATUS = (
    "Using API key from BASETEN_API_KEY\n  Remote: %s\n" % DEFAULT_REMOTE
)


# Entry points ----------------------------------------------------------------


def test_the_script_runs_as_python_baseten_auth_py(run_cli):
    # The plain interpreter here (site hooks and all), as users run it.
    result = run_cli("auth", "status", env=status_env(), python_args=())
    assert result == (0, EXPECTED_ENV_STATUS, "")


def test_the_module_runs_as_python_dash_m_baseten_auth(run_cli):
    result = run_cli("auth", "status", env=status_env(), module=True, python_args=())
    assert result == (0, EXPECTED_ENV_STATUS, "")


def test_version_prints_the_module_version_on_stdout(run_cli):
    import baseten_auth

    result = run_cli("--version")
    assert result.rc == 0, result
    assert baseten_auth.__version__ in result.out
    assert result.err == ""


# --help ----------------------------------------------------------------------


def test_auth_help_carries_the_reference_description_and_lists_the_commands(run_main):
    result = run_main("auth", "--help", env={"COLUMNS": "100"})
    assert result.rc == 0, result
    assert result.err == ""
    assert normalized(AUTH_DESCRIPTION) in normalized(result.out)
    for command in COMMANDS:
        assert command in result.out


def test_top_level_help_lists_the_auth_command(run_main):
    result = run_main("--help", env={"COLUMNS": "100"})
    assert result.rc == 0, result
    assert result.err == ""
    assert "auth" in result.out


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_help_carries_the_reference_description_examples_and_options(
    run_main, command
):
    result = run_main("auth", command, "--help", env={"COLUMNS": "100"})
    assert result.rc == 0, result
    assert result.err == ""
    out = normalized(result.out)
    assert normalized(DESCRIPTIONS[command]) in out, result.out
    for caption, example in EXAMPLES[command]:
        assert normalized(caption) in out, caption
        # Examples are command lines to copy: they are kept on one line.
        assert example in result.out, example
    for option in COMMON_OPTIONS + (LOGIN_OPTIONS if command == "login" else []):
        assert re.search(r"(^|[\s,\[])%s\b" % re.escape(option), result.out), option
    for choice in ("text", "json", "jsonl", "none"):
        assert choice in result.out


# Option spellings ------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["-o", "json"], id="short option and separate value"),
        pytest.param(["-ojson"], id="short option with attached value"),
        pytest.param(["--output", "json"], id="long option and separate value"),
        pytest.param(["--output=json"], id="long option with equals sign"),
    ],
)
def test_output_option_is_accepted_in_every_spelling(run_main, auth_file, args):
    auth_file.write(auth_data({"p": api_key_profile()}, current="p"))
    result = run_main("auth", "status", *args)
    expected = {"profile": "p", "remote_url": DEFAULT_REMOTE, "auth_type": "api_key"}
    assert result == (0, json.dumps(expected, indent=2) + "\n", "")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["-q", ".profile"], id="short jq option"),
        pytest.param(["--jq", ".profile"], id="long jq option"),
        pytest.param(["--jq=.profile"], id="long jq option with equals sign"),
    ],
)
def test_jq_option_is_accepted_in_every_spelling(run_main, auth_file, args):
    auth_file.write(auth_data({"p": api_key_profile()}, current="p"))
    assert run_main("auth", "status", *args) == (0, '"p"\n', "")


def test_profile_option_with_equals_sign_selects_the_profile(run_main, auth_file):
    auth_file.write(auth_data({"a": api_key_profile(), "b": api_key_profile()}, "a"))
    result = run_main("auth", "status", "--profile=b")
    assert result.rc == 0, result
    assert result.out.splitlines()[0] == "b"


@pytest.mark.parametrize(
    "command, flag",
    [(command, "-v") for command in COMMANDS] + [("status", "--verbose")],
)
def test_every_command_accepts_verbose(run_cli, auth_file, fake_api, command, flag):
    auth_file.write(auth_data({"p": api_key_profile(), "q": api_key_profile()}, "p"))
    args = {
        "login": ["--with-api-key", "--profile", "n", "--insecure-storage"],
        "logout": ["--profile", "q"],
        "switch": ["--profile", "q"],
        "status": [],
    }[command]
    result = run_cli("auth", command, flag, *args, input=GOOD_KEY + "\n")
    assert result.rc == 0, result
    assert result.out != ""
    assert "Traceback" not in result.err
    assert GOOD_KEY not in result.err and "stored-key" not in result.err


# Usage errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    "args, fragment",
    [
        pytest.param([], "", id="no command at all"),
        pytest.param(["auth"], "", id="auth without a command"),
        pytest.param(["auth", "status", "--bogus"], "--bogus", id="an unknown flag"),
        pytest.param(
            ["auth", "status", "--profile", ""], "profile", id="an empty profile name"
        ),
        pytest.param(
            ["auth", "status", "--jq"], "--jq", id="a jq flag without a value"
        ),
        pytest.param(
            ["auth", "status", "-o", "xml"], "xml", id="an unknown output format"
        ),
        pytest.param(
            ["auth", "status", "-o"], "-o", id="an output flag without a value"
        ),
        pytest.param(
            ["auth", "status", "--profile"],
            "--profile",
            id="a profile flag without a value",
        ),
        pytest.param(["auth", "frobnicate"], "frobnicate", id="an unknown command"),
        pytest.param(["auth", "status", "extra"], "extra", id="an extra argument"),
        pytest.param(
            ["auth", "status", "--web"], "--web", id="a login-only flag given to status"
        ),
        pytest.param(
            ["auth", "switch", "--no-switch", "--profile", "p"],
            "--no-switch",
            id="a login-only flag given to switch",
        ),
        pytest.param(
            ["auth", "logout", "--remote-url", "https://app.baseten.co"],
            "--remote-url",
            id="a login-only flag given to logout",
        ),
        pytest.param(
            ["auth", "status", "--jq", ".profile", "-o", "text"],
            "--jq",
            id="jq with text output",
        ),
        pytest.param(
            ["auth", "status", "--jq", ".profile", "-o", "none"],
            "--jq",
            id="jq with none output",
        ),
    ],
)
def test_a_usage_error_exits_2_with_one_error_line(run_main, auth_file, args, fragment):
    auth_file.write(auth_data({"p": api_key_profile()}, "p"))
    before = auth_file.raw()
    assert_usage_error(run_main(*args), fragment)
    assert auth_file.raw() == before


def assert_login_did_nothing(fake_api, auth_file):
    assert fake_api.requests == []
    assert not auth_file.exists()


@pytest.mark.parametrize(
    "args, stdin, fragment",
    [
        pytest.param(
            [], "", "--web", id="login with no method when stdin is not a terminal"
        ),
        pytest.param(
            [],
            GOOD_KEY + "\n",
            "--with-api-key",
            id="login with no method names --with-api-key too",
        ),
        pytest.param(
            ["--web", "--with-api-key", "--profile", "p"],
            GOOD_KEY + "\n",
            "--web",
            id="login with both --web and --with-api-key",
        ),
        pytest.param(
            ["--with-api-key"],
            GOOD_KEY + "\n",
            "--profile",
            id="API-key login without --profile when stdin is not a terminal",
        ),
        pytest.param(
            ["--with-api-key", "--profile", "p"],
            "",
            None,
            id="API-key login with empty stdin",
        ),
        pytest.param(
            ["--with-api-key", "--profile", "p"],
            "\n",
            None,
            id="API-key login with an empty first line",
        ),
        pytest.param(
            ["--with-api-key", "--profile", "p"],
            "   \t \nsecond-line\n",
            None,
            id="API-key login with a blank first line",
        ),
    ],
)
def test_login_usage_errors_store_nothing_and_send_nothing(
    run_main, auth_file, fake_api, args, stdin, fragment
):
    result = run_main("auth", "login", "--insecure-storage", *args, input=stdin)
    assert_usage_error(result, *([fragment] if fragment else []))
    assert_login_did_nothing(fake_api, auth_file)


def test_switch_without_profile_when_stdin_is_not_a_terminal_is_a_usage_error(
    run_main, auth_file
):
    auth_file.write(auth_data({"a": api_key_profile(), "b": api_key_profile()}, "a"))
    before = auth_file.raw()
    assert_usage_error(run_main("auth", "switch"), "--profile")
    assert auth_file.raw() == before


# Remote URL validation -------------------------------------------------------

BAD_URLS = [
    pytest.param("ftp://app.baseten.co", id="an ftp scheme"),
    pytest.param("app.baseten.co", id="no scheme"),
    pytest.param("https://", id="no host"),
    pytest.param("https://app.baseten.co/v1", id="a path"),
    pytest.param("https://app.baseten.co//", id="more than a lone trailing slash"),
    pytest.param("https://user@app.baseten.co", id="user info"),
    pytest.param("https://app.baseten.co?x=1", id="a query"),
    pytest.param("https://app.baseten.co#top", id="a fragment"),
    pytest.param("https://app.baseten.co:port", id="a port that is not a number"),
    pytest.param("http://app.baseten.co", id="plain http to a public host"),
    pytest.param(
        "http://10.1.2.3:8080", id="plain http to a private non-loopback address"
    ),
    pytest.param(
        "http://localhost.example.com", id="plain http to a host named like localhost"
    ),
]


def login_with_key(run_cli, *args, env=None):
    return run_cli(
        "auth",
        "login",
        "--with-api-key",
        "--profile",
        "p",
        "--insecure-storage",
        *args,
        input=GOOD_KEY + "\n",
        env=env,
    )


@pytest.mark.parametrize("url", BAD_URLS)
def test_an_invalid_remote_url_flag_is_a_usage_error_naming_it(
    run_main, auth_file, fake_api, url
):
    assert_usage_error(login_with_key(run_main, "--remote-url", url), url)
    assert_login_did_nothing(fake_api, auth_file)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("app.baseten.co", id="no scheme"),
        pytest.param("https://app.baseten.co/v1", id="a path"),
        pytest.param("http://app.baseten.co", id="plain http to a public host"),
    ],
)
def test_an_invalid_baseten_remote_url_is_a_usage_error_naming_it(
    run_main, auth_file, fake_api, url
):
    result = login_with_key(run_main, env={"BASETEN_REMOTE_URL": url})
    assert_usage_error(result, url)
    assert_login_did_nothing(fake_api, auth_file)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("127.0.0.1:8080", id="no scheme"),
        pytest.param("http://127.0.0.1:8080/api", id="a path"),
        pytest.param("http://api.baseten.co", id="plain http to a public host"),
    ],
)
def test_an_invalid_management_api_override_is_a_usage_error_naming_it(
    run_main, auth_file, fake_api, url
):
    result = login_with_key(run_main, env={"BASETEN_MANAGEMENT_API_URL_OVERRIDE": url})
    assert_usage_error(result, url)
    assert_login_did_nothing(fake_api, auth_file)


@pytest.mark.parametrize(
    "url, stored",
    [
        pytest.param(
            "https://app.example.com",
            "https://app.example.com",
            id="an https remote is stored as given",
        ),
        pytest.param(
            "https://app.example.com/",
            "https://app.example.com",
            id="a lone trailing slash is dropped",
        ),
        pytest.param(
            "https://app.example.com:8443",
            "https://app.example.com:8443",
            id="a port is kept",
        ),
        pytest.param(
            "http://localhost:8080",
            "http://localhost:8080",
            id="plain http to localhost is allowed",
        ),
        pytest.param(
            "http://127.0.0.2:9000",
            "http://127.0.0.2:9000",
            id="plain http to any 127/8 address is allowed",
        ),
        pytest.param(
            "http://[::1]:9000",
            "http://[::1]:9000",
            id="plain http to the IPv6 loopback is allowed",
        ),
    ],
)
def test_a_valid_remote_url_is_accepted_and_stored(
    run_cli, auth_file, fake_api, url, stored
):
    result = login_with_key(run_cli, "--remote-url", url)
    assert result.rc == 0, result
    assert auth_file.profiles()["p"]["remote_url"] == stored


def test_no_color_changes_nothing_and_no_output_has_escape_codes(run_main, auth_file):
    auth_file.write(auth_data({"p": api_key_profile()}, "p"))
    plain = run_main("auth", "status")
    assert plain.rc == 0, plain
    assert run_main("auth", "status", env={"NO_COLOR": "1"}) == plain
    failed = run_main("auth", "status", "--profile", "ghost")
    for text in (plain.out, plain.err, failed.out, failed.err):
        assert "\x1b" not in text
