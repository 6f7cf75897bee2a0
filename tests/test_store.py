"""The auth file through the CLI: where it lives, its modes, atomic and
concurrent writes, keys kept, corrupt files, files the official CLI wrote,
and which credential a command resolves (SPEC sections 2 and 4)."""

from __future__ import annotations

import itertools
import json
import os
import stat
import subprocess
import tempfile

import pytest

from conftest import (
    cli_argv,
    CLI_PATH,
    DEFAULT_REMOTE,
    GOOD_KEY,
    NOT_LOGGED_IN,
    AuthFile,
    api_key_profile,
    assert_error,
    auth_data,
    login_key,
    merged_env,
    oauth_profile,
)

# No keyring tool on PATH: runs stay hermetic, and no test waits for one
# (logout asks the keyring to remove any copy there, even of a profile whose
# secret is in the auth file).
pytestmark = pytest.mark.usefixtures("no_keyring_path")

LOGGED_IN = "Logged in as alice@example.com (Acme) as profile %s\n"


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def leftovers(directory):
    """Files in the config directory other than auth.json (a lock file aside)."""
    return sorted(
        name
        for name in os.listdir(directory)
        if name != "auth.json" and not name.endswith(".lock")
    )


# Modes and creation ----------------------------------------------------------


def test_first_login_creates_the_directory_0700_and_the_file_0600(
    run_cli, fake_api, tmp_path, cli_env
):
    config = tmp_path / "deep" / "er" / "baseten"
    cli_env["BASETEN_CONFIG_DIR"] = str(config)
    assert login_key(run_cli, "ci") == (0, LOGGED_IN % "ci", "")
    assert mode(config) == 0o700
    assert mode(config / "auth.json") == 0o600
    assert leftovers(config) == []


def test_modes_hold_under_a_permissive_umask(run_cli, fake_api, auth_file):
    result = run_cli(
        "auth",
        "login",
        "--with-api-key",
        "--profile",
        "ci",
        "--insecure-storage",
        input=GOOD_KEY + "\n",
        preexec_fn=lambda: os.umask(0),
    )
    assert result.rc == 0, result
    assert mode(auth_file.dir) == 0o700
    assert mode(auth_file.path) == 0o600


def test_rewriting_a_world_readable_file_leaves_it_0600(run_cli, auth_file):
    auth_file.write(
        auth_data({"a": api_key_profile(), "b": api_key_profile()}, "a"), mode=0o644
    )
    assert run_cli("auth", "switch", "--profile", "b").rc == 0
    assert mode(auth_file.path) == 0o600


def test_a_rewrite_replaces_the_file_instead_of_writing_into_it(run_cli, auth_file):
    # Atomic replace: a new file renamed over the old one, so a reader (or a
    # crash) never sees half of it.
    auth_file.write(auth_data({"a": api_key_profile(), "b": api_key_profile()}, "a"))
    inode = auth_file.path.stat().st_ino
    assert run_cli("auth", "switch", "--profile", "b").rc == 0
    assert auth_file.path.stat().st_ino != inode
    assert leftovers(auth_file.dir) == []


def test_no_temporary_files_are_left_behind(run_cli, auth_file, fake_api):
    assert login_key(run_cli, "a").rc == 0
    assert login_key(run_cli, "b").rc == 0
    assert run_cli("auth", "switch", "--profile", "a").rc == 0
    assert run_cli("auth", "logout", "--profile", "b").rc == 0
    assert leftovers(auth_file.dir) == []
    assert auth_file.read() == auth_data(
        {"a": api_key_profile(key=GOOD_KEY)}, current="a"
    )


# Storage of the secret -------------------------------------------------------


def test_with_no_keyring_the_key_goes_to_the_file_with_one_warning(
    run_cli, auth_file, fake_api, no_keyring_path
):
    result = run_cli(
        "auth", "login", "--with-api-key", "--profile", "ci", input=GOOD_KEY + "\n"
    )
    assert result.rc == 0, result
    assert result.out == LOGGED_IN % "ci"
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: "), result.err
    assert GOOD_KEY not in result.err
    assert auth_file.profiles()["ci"]["api_key"] == GOOD_KEY
    assert mode(auth_file.path) == 0o600


def test_insecure_storage_puts_the_key_in_the_file_without_a_warning(
    run_cli, auth_file, fake_api, no_keyring_path
):
    assert login_key(run_cli, "ci") == (0, LOGGED_IN % "ci", "")
    assert auth_file.profiles()["ci"] == api_key_profile(key=GOOD_KEY)


# Keys this tool does not know ------------------------------------------------


def rich_file():
    return {
        "version": 1,
        "current": "a",
        "telemetry": {"enabled": False, "id": "abc"},
        "profiles": {
            "a": api_key_profile(key="key-a", label="Alice's key", tags=["x"]),
            "o": oauth_profile(expiry="2026-01-02T03:04:05.123456789Z", region="eu"),
            "gone": api_key_profile(key="key-gone", note="to be removed"),
        },
    }


def with_extra_in_credential(data):
    data["profiles"]["o"]["oauth_credential"]["id_token"] = "opaque"
    data["profiles"]["o"]["oauth_credential"]["scope"] = "openid"
    return data


@pytest.mark.parametrize(
    "command",
    [
        pytest.param("switch", id="switch keeps unknown keys at every level"),
        pytest.param(
            "login", id="login of another profile keeps unknown keys at every level"
        ),
        pytest.param(
            "logout", id="logout of another profile keeps unknown keys at every level"
        ),
    ],
)
def test_unknown_keys_are_kept(run_cli, auth_file, fake_api, command):
    data = with_extra_in_credential(rich_file())
    auth_file.write(data)
    if command == "switch":
        assert run_cli("auth", "switch", "--profile", "o").rc == 0
        data["current"] = "o"
    elif command == "login":
        assert login_key(run_cli, "new").rc == 0
        data["profiles"]["new"] = api_key_profile(key=GOOD_KEY)
        data["current"] = "new"
    else:
        assert run_cli("auth", "logout", "--profile", "gone").rc == 0
        del data["profiles"]["gone"]
    assert auth_file.read() == data


# Corrupt and unreadable files ------------------------------------------------

CORRUPT = [
    pytest.param("{not json", id="text that is not JSON"),
    pytest.param('{"version": 1, "profiles": {"a": ', id="a truncated file"),
    pytest.param("[]", id="JSON that is not an object"),
    pytest.param(
        '{"version": 1, "current": "a", "profiles": []}',
        id="profiles that are not an object",
    ),
    pytest.param(b"\xff\xfe\x00garbage", id="bytes that are not UTF-8"),
]
COMMANDS = [
    pytest.param(["status"], id="status"),
    pytest.param(["switch", "--profile", "a"], id="switch"),
    pytest.param(["logout"], id="logout"),
    pytest.param(["logout", "--profile", "a"], id="logout --profile"),
    pytest.param(
        ["login", "--with-api-key", "--profile", "a", "--insecure-storage"], id="login"
    ),
]


def assert_reported_and_untouched(result, auth_file, before):
    assert_error(result, 1, str(auth_file.path))
    assert auth_file.raw() == before
    assert leftovers(auth_file.dir) == []


@pytest.mark.parametrize("content", CORRUPT)
def test_a_corrupt_auth_file_is_reported_by_status_with_its_path(
    run_cli, auth_file, content
):
    before = auth_file.write(content)
    assert_reported_and_untouched(run_cli("auth", "status"), auth_file, before)


@pytest.mark.parametrize("args", COMMANDS[1:])
def test_a_corrupt_auth_file_is_reported_and_left_untouched_by_every_command(
    run_cli, auth_file, fake_api, args
):
    before = auth_file.write('{"version": 1, "current": "a", "profiles": {"a": ')
    result = run_cli("auth", *args, input=GOOD_KEY + "\n")
    assert_reported_and_untouched(result, auth_file, before)


@pytest.mark.parametrize("args", [COMMANDS[0], COMMANDS[-1]])
def test_an_unreadable_auth_file_is_reported_with_its_path(
    run_cli, auth_file, fake_api, args
):
    auth_file.path.mkdir(parents=True)  # a directory where the file should be
    result = run_cli("auth", *args, input=GOOD_KEY + "\n")
    assert_error(result, 1, str(auth_file.path))
    assert auth_file.path.is_dir()


def test_a_corrupt_auth_file_does_not_stop_baseten_api_key(run_cli, auth_file):
    auth_file.write("{not json")
    result = run_cli("auth", "status", env={"BASETEN_API_KEY": "env-secret-key"})
    assert result.rc == 0, result


# Files written by the official CLI -------------------------------------------


@pytest.mark.parametrize(
    "expiry",
    [
        pytest.param("2026-01-02T03:04:05.123456789Z", id="an expiry with nanoseconds"),
        pytest.param("2026-01-02T03:04:05+02:00", id="an expiry with an offset"),
        pytest.param(
            "2099-01-02T03:04:05.5-07:00", id="an expiry with a fraction and offset"
        ),
        pytest.param("0001-01-01T00:00:00Z", id="the zero expiry meaning unknown"),
        pytest.param(None, id="no expiry"),
    ],
)
def test_a_file_from_the_official_cli_loads_for_status_and_switch(
    run_cli, auth_file, fake_api, expiry
):
    entry = oauth_profile(expiry=expiry)
    if expiry is None:
        del entry["oauth_credential"]["expiry"]
    data = {
        "version": 1,
        "current": "alice@example.com",
        "profiles": {
            "alice@example.com": entry,
            "ci": {"remote_url": DEFAULT_REMOTE, "auth_type": "api_key"},
        },
    }
    auth_file.write(json.dumps(data, indent="\t"))
    result = run_cli("auth", "status")
    expected = "alice@example.com\n  Remote: %s\n  Auth type: oauth\n" % DEFAULT_REMOTE
    assert result == (0, expected, "")

    assert run_cli("auth", "switch", "--profile", "ci") == (0, "Switched to ci\n", "")
    data["current"] = "ci"
    assert auth_file.read() == data  # the credential is kept as it was written
    assert fake_api.requests == []


# Concurrent processes --------------------------------------------------------


def test_ten_parallel_logins_all_end_up_in_the_file(auth_file, fake_api, cli_env):
    env = merged_env(cli_env, {})
    procs = [
        subprocess.Popen(
            cli_argv(
                "auth",
                "login",
                "--with-api-key",
                "--insecure-storage",
                "--profile",
                "p%d" % n,
            ),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for n in range(10)
    ]
    results = [
        proc.communicate(GOOD_KEY + "\n", timeout=60) + (proc.returncode,)
        for proc in procs
    ]
    for n, (out, err, rc) in enumerate(results):
        assert (rc, out, err) == (0, LOGGED_IN % ("p%d" % n), "")
    data = auth_file.read()
    names = ["p%d" % n for n in range(10)]
    assert sorted(data["profiles"]) == sorted(names)
    assert data["current"] in names
    assert leftovers(auth_file.dir) == []
    assert mode(auth_file.path) == 0o600


def test_parallel_logins_and_logouts_keep_every_untouched_profile(
    auth_file, fake_api, cli_env
):
    auth_file.write(
        auth_data({"old%d" % n: api_key_profile() for n in range(5)}, "old0")
    )
    env = merged_env(cli_env, {})
    argvs = [
        ["login", "--with-api-key", "--insecure-storage", "--profile", "new%d" % n]
        for n in range(5)
    ]
    argvs += [["logout", "--profile", "old%d" % n] for n in range(1, 5)]
    procs = [
        subprocess.Popen(
            cli_argv("auth", *argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for argv in argvs
    ]
    for proc in procs:
        out, err = proc.communicate(GOOD_KEY + "\n", timeout=60)
        assert proc.returncode == 0, (out, err)
    assert sorted(auth_file.profiles()) == ["new%d" % n for n in range(5)] + ["old0"]


# Which credential a command uses (SPEC section 2) ----------------------------

RESOLUTION_PROFILES = {
    "flagp": oauth_profile(remote="https://app.flag.example"),
    "envp": api_key_profile(remote="https://app.env.example"),
    "curp": api_key_profile(remote="https://app.cur.example"),
}
EXPECTED = {
    "flag": {
        "profile": "flagp",
        "remote_url": "https://app.flag.example",
        "auth_type": "oauth",
    },
    "key": {"profile": "", "remote_url": DEFAULT_REMOTE, "auth_type": "api_key"},
    "env": {
        "profile": "envp",
        "remote_url": "https://app.env.example",
        "auth_type": "api_key",
    },
    "current": {
        "profile": "curp",
        "remote_url": "https://app.cur.example",
        "auth_type": "api_key",
    },
}
SOURCES = ["flag", "key", "env", "current"]
LABELS = {
    "flag": "--profile",
    "key": "BASETEN_API_KEY",
    "env": "BASETEN_PROFILE",
    "current": "a current profile",
}


def resolution_cases():
    for present in itertools.product([True, False], repeat=4):
        given = [source for source, on in zip(SOURCES, present) if on]
        winner = given[0] if given else None
        name = "given %s, %s" % (
            " and ".join(LABELS[s] for s in given) or "nothing",
            "%s wins" % LABELS[winner] if winner else "not logged in",
        )
        yield pytest.param(given, winner, id=name)


@pytest.mark.parametrize("given, winner", list(resolution_cases()))
def test_resolution_order(run_main, auth_file, given, winner):
    auth_file.write(
        auth_data(RESOLUTION_PROFILES, current="curp" if "current" in given else "")
    )
    args = ["--profile", "flagp"] if "flag" in given else []
    env = {}
    if "key" in given:
        env["BASETEN_API_KEY"] = "env-secret-key"
    if "env" in given:
        env["BASETEN_PROFILE"] = "envp"
    result = run_main("auth", "status", "-o", "jsonl", *args, env=env)
    if winner is None:
        assert result == (1, "", NOT_LOGGED_IN)
    else:
        expected = json.dumps(EXPECTED[winner], separators=(",", ":")) + "\n"
        assert result == (0, expected, "")


def test_an_empty_baseten_api_key_counts_as_unset(run_main, auth_file):
    auth_file.write(auth_data(RESOLUTION_PROFILES, current="curp"))
    result = run_main("auth", "status", "-o", "jsonl", env={"BASETEN_API_KEY": ""})
    assert result == (
        0,
        json.dumps(EXPECTED["current"], separators=(",", ":")) + "\n",
        "",
    )


# The config directory (SPEC section 4, Linux) --------------------------------


def test_xdg_config_home_is_used_when_baseten_config_dir_is_unset(
    run_cli, fake_api, tmp_path, cli_env
):
    del cli_env["BASETEN_CONFIG_DIR"]
    cli_env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    assert login_key(run_cli, "ci").rc == 0
    target = AuthFile(tmp_path / "xdg" / "baseten")
    assert target.profiles()["ci"]["api_key"] == GOOD_KEY
    assert mode(target.dir) == 0o700 and mode(target.path) == 0o600
    assert run_cli("auth", "status").out.startswith("ci\n")


@pytest.mark.parametrize(
    "xdg",
    [
        pytest.param(None, id="without XDG_CONFIG_HOME, HOME/.config is used"),
        pytest.param("", id="an empty XDG_CONFIG_HOME counts as unset"),
    ],
)
def test_home_dot_config_is_the_default(run_cli, fake_api, tmp_path, cli_env, xdg):
    del cli_env["BASETEN_CONFIG_DIR"]
    if xdg is not None:
        cli_env["XDG_CONFIG_HOME"] = xdg
    assert login_key(run_cli, "ci").rc == 0
    target = AuthFile(tmp_path / "home" / ".config" / "baseten")
    assert target.profiles()["ci"]["api_key"] == GOOD_KEY


def test_baseten_config_dir_wins_over_xdg_config_home(
    run_cli, fake_api, tmp_path, cli_env, auth_file
):
    cli_env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    assert login_key(run_cli, "ci").rc == 0
    assert auth_file.profiles()["ci"]["api_key"] == GOOD_KEY
    assert not (tmp_path / "xdg").exists()
    assert not (tmp_path / "home" / ".config").exists()


@pytest.fixture
def homeless(tmp_path, cli_env):
    """No HOME, XDG_CONFIG_HOME or BASETEN_CONFIG_DIR; an empty working dir."""
    for name in ("HOME", "XDG_CONFIG_HOME", "BASETEN_CONFIG_DIR"):
        cli_env.pop(name, None)
    work = tmp_path / "cwd"
    work.mkdir()
    return work


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["status"], id="status"),
        pytest.param(["switch", "--profile", "a"], id="switch"),
        pytest.param(["logout", "--profile", "a"], id="logout"),
    ],
)
def test_with_no_home_a_command_needing_the_directory_names_baseten_config_dir(
    run_cli, homeless, args
):
    result = run_cli("auth", *args, cwd=str(homeless))
    assert_error(result, 1, "BASETEN_CONFIG_DIR")
    assert os.listdir(homeless) == []


def test_with_no_home_login_names_baseten_config_dir_and_writes_nowhere(
    run_cli, homeless, fake_api
):
    # A wrong fallback to the passwd entry's home would write there: look,
    # and clean up after it.
    import pwd

    real = os.path.join(pwd.getpwuid(os.getuid()).pw_dir, ".config", "baseten")
    existed = os.path.exists(real)
    try:
        result = run_cli(
            "auth",
            "login",
            "--with-api-key",
            "--profile",
            "ci",
            "--insecure-storage",
            input=GOOD_KEY + "\n",
            cwd=str(homeless),
        )
        created = not existed and os.path.exists(real)
    finally:
        if not existed and os.path.exists(real):
            import shutil

            shutil.rmtree(real)
    assert not created, "wrote to the passwd home " + real
    assert_error(result, 1, "BASETEN_CONFIG_DIR")
    assert os.listdir(homeless) == []


def test_with_no_home_xdg_config_home_is_still_used(
    run_cli, homeless, fake_api, tmp_path, cli_env
):
    cli_env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    result = run_cli(
        "auth",
        "login",
        "--with-api-key",
        "--profile",
        "ci",
        "--insecure-storage",
        input=GOOD_KEY + "\n",
        cwd=str(homeless),
    )
    assert result == (0, LOGGED_IN % "ci", "")
    assert (
        AuthFile(tmp_path / "xdg" / "baseten").profiles()["ci"]["api_key"] == GOOD_KEY
    )


def test_with_no_home_baseten_api_key_still_works(run_cli, homeless):
    result = run_cli(
        "auth", "status", cwd=str(homeless), env={"BASETEN_API_KEY": "env-secret-key"}
    )
    assert result == (
        0,
        "Using API key from BASETEN_API_KEY\n  Remote: %s\n" % DEFAULT_REMOTE,
        "",
    )
    assert os.listdir(homeless) == []


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs root to run as a user with no passwd entry",
)
def test_a_user_with_no_passwd_entry_and_no_home_gets_no_tilde_directory(cli_env):
    # The container case: HOME unset and getpwuid() fails, where
    # os.path.expanduser("~") returns "~" itself.
    import pwd
    import shutil

    uid = 54321
    try:
        pwd.getpwuid(uid)
        pytest.skip("uid %d has a passwd entry" % uid)
    except KeyError:
        pass
    python = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
    if python is None:
        pytest.skip("no system python3 readable by another user")
    work = tempfile.mkdtemp(prefix="baseten-nohome-")
    try:
        os.chmod(work, 0o777)
        script = os.path.join(work, "baseten_auth.py")
        shutil.copyfile(CLI_PATH, script)
        os.chmod(script, 0o644)
        env = {
            k: v
            for k, v in cli_env.items()
            if k
            not in ("HOME", "XDG_CONFIG_HOME", "BASETEN_CONFIG_DIR", "XDG_RUNTIME_DIR")
        }
        env["PATH"] = "/usr/bin:/bin"
        proc = subprocess.run(
            [python, script, "auth", "switch", "--profile", "a"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=work,
            text=True,
            timeout=30,
            preexec_fn=lambda: (os.setgid(uid), os.setuid(uid)),
        )
        assert proc.returncode == 1, proc
        assert "BASETEN_CONFIG_DIR" in proc.stderr
        assert sorted(os.listdir(work)) == ["baseten_auth.py"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
