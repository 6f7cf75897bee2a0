"""Hardening, files: an `auth.json` that is a symlink, has loose
permissions, is a directory, is empty, is a named pipe, sits on a read-only
file system, is huge or deeply nested, or holds 1,000 profiles. Each gives
a clear message (or just works) and loses nothing.

No keyring tool is on PATH (`no_keyring_path`): secrets go to the file.
The read-only file system case uses a private mount namespace
(`unshare -rm`, `mount --bind -o ro`) and skips where there is none; the
`os.access` check behind it runs everywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time

import pytest

from conftest import (
    CLI_PATH,
    GOOD_KEY,
    NOT_LOGGED_IN,
    Result,
    api_key_profile,
    assert_error,
    auth_data,
    login_key,
)

LOGGED_IN = "Logged in as alice@example.com (Acme) as profile %s\n"
STATUS = "%s\n  Remote: https://app.baseten.co\n  Auth type: api_key\n"


@pytest.fixture(autouse=True)
def _no_keyring(no_keyring_path):
    """Secrets go to the auth file."""


def two_profiles(**extra):
    data = auth_data({"keep": api_key_profile("k1", note="unknown key kept"),
                      "other": api_key_profile("k2")}, current="keep")
    data.update(extra)
    return data


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# Symlinks --------------------------------------------------------------------


def test_a_symlinked_auth_file_is_read_and_written_through_the_link(
        run_cli, fake_api, auth_file, tmp_path):
    real = tmp_path / "dotfiles" / "baseten-auth.json"
    real.parent.mkdir()
    real.write_text(json.dumps(two_profiles(extra_top="kept")))
    os.chmod(real, 0o600)
    auth_file.dir.mkdir(mode=0o700)
    os.symlink(real, auth_file.path)

    assert run_cli("auth", "status") == (0, STATUS % "keep", "")
    result = login_key(run_cli, "new")
    assert result == (0, LOGGED_IN % "new", "")

    assert os.path.islink(auth_file.path)
    data = json.loads(real.read_text())
    assert sorted(data["profiles"]) == ["keep", "new", "other"]
    assert data["profiles"]["keep"]["note"] == "unknown key kept"
    assert data["extra_top"] == "kept"
    assert data["current"] == "new"
    assert mode_of(real) == 0o600
    assert [p.name for p in real.parent.iterdir()] == ["baseten-auth.json"]


def test_a_symlink_loop_gives_a_clear_message(run_cli, fake_api, auth_file):
    auth_file.dir.mkdir(mode=0o700)
    os.symlink(auth_file.path, auth_file.path)
    assert_error(run_cli("auth", "status"), 1, str(auth_file.path))
    assert_error(login_key(run_cli, "x"), 1, str(auth_file.path))
    assert os.path.islink(auth_file.path)


# Loose permissions ---------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o666, 0o604])
def test_loose_permissions_warn_once_and_the_next_write_makes_0600(
        run_cli, fake_api, auth_file, mode):
    auth_file.write(two_profiles(), mode=mode)
    result = run_cli("auth", "status")
    assert result.rc == 0 and result.out == STATUS % "keep", result
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: "), result.err
    assert str(auth_file.path) in lines[0] and "%04o" % mode in lines[0]
    assert mode_of(auth_file.path) == mode  # reading changes nothing

    assert login_key(run_cli, "new", "--no-switch") == (0, LOGGED_IN % "new",
                                                        result.err)
    assert mode_of(auth_file.path) == 0o600
    assert sorted(auth_file.profiles()) == ["keep", "new", "other"]
    assert run_cli("auth", "status") == (0, STATUS % "keep", "")


def test_a_new_auth_file_is_0600_in_a_0700_directory(run_cli, fake_api,
                                                     auth_file):
    old = os.umask(0)
    try:
        assert login_key(run_cli, "ci") == (0, LOGGED_IN % "ci", "")
    finally:
        os.umask(old)
    assert mode_of(auth_file.path) == 0o600
    assert mode_of(auth_file.dir) == 0o700


# A directory, an empty file, a named pipe ----------------------------------


@pytest.mark.parametrize("args", [
    pytest.param(("auth", "status"), id="status"),
    pytest.param(("auth", "status", "--all"), id="status --all"),
    pytest.param(("auth", "switch", "--profile", "keep"), id="switch"),
    pytest.param(("auth", "logout", "--profile", "keep"), id="logout"),
    pytest.param(("auth", "token"), id="token"),
])
def test_an_auth_file_that_is_a_directory_gives_a_clear_message(
        run_cli, auth_file, args):
    auth_file.path.mkdir(parents=True)
    (auth_file.path / "keep-me").write_text("x")
    assert_error(run_cli(*args), 1, str(auth_file.path), "directory")
    assert sorted(os.listdir(auth_file.path)) == ["keep-me"]


def test_login_over_an_auth_file_that_is_a_directory_fails_and_changes_nothing(
        run_cli, fake_api, auth_file):
    auth_file.path.mkdir(parents=True)
    assert_error(login_key(run_cli, "ci"), 1, str(auth_file.path), "directory")
    assert os.listdir(auth_file.path) == []
    assert sorted(os.listdir(auth_file.dir)) in (["auth.json"],
                                                 ["auth.json", "auth.json.lock"])


@pytest.mark.parametrize("content", [b"", b"\n", b"  \n\t\n"],
                         ids=["an empty file", "a lone newline", "only blanks"])
def test_an_empty_auth_file_is_an_empty_store(run_cli, fake_api, auth_file,
                                              content):
    auth_file.write(content)
    assert run_cli("auth", "status") == (1, "", NOT_LOGGED_IN)
    assert run_cli("auth", "status", "--all", "-o", "json") == (
        0, "[]\n", "no stored profiles; run: baseten auth login\n")
    assert login_key(run_cli, "ci") == (0, LOGGED_IN % "ci", "")
    assert auth_file.current() == "ci"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_an_auth_file_that_is_a_named_pipe_gives_a_clear_message(run_cli,
                                                                 auth_file):
    auth_file.dir.mkdir(mode=0o700)
    os.mkfifo(auth_file.path, 0o600)
    try:
        result = run_cli("auth", "status", timeout=5)
    except subprocess.TimeoutExpired:
        pytest.fail("status hangs opening a named pipe")
    assert_error(result, 1, str(auth_file.path))
    assert stat.S_ISFIFO(os.lstat(auth_file.path).st_mode)


# A read-only file system ---------------------------------------------------

# The tools get a PATH of their own; the CLI keeps the test's (no keyring).
MOUNT_RO = r"""
target=$1; shift
tools=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PATH=$tools mount --bind -o ro "$target" "$target" 2>/dev/null ||
    { PATH=$tools mount --bind "$target" "$target" &&
      PATH=$tools mount -o remount,bind,ro "$target" "$target"; } 2>/dev/null ||
    exit 97
! PATH=$tools touch "$target/.rw-probe" 2>/dev/null || exit 98
exec "$@"
"""


def _run_read_only(directory, env, *args, input=None):
    """Run the CLI with `directory` mounted read-only; skip if impossible."""
    unshare, shell = shutil.which("unshare"), shutil.which("sh")
    if not unshare or not shell:
        pytest.skip("no unshare: cannot make a read-only file system")
    argv = [unshare, "-rm", shell, "-c", MOUNT_RO, "sh", str(directory),
            sys.executable, "-S", CLI_PATH, *args]
    proc = subprocess.run(argv, input=input, capture_output=True, text=True,
                          env=env, timeout=30,
                          stdin=None if input is not None else subprocess.DEVNULL)
    if proc.returncode in (97, 98) and not proc.stdout:
        pytest.skip("no private mount namespace (unshare -rm) with a read-only "
                    "bind mount here")
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.mark.parametrize("args, input", [
    pytest.param(("auth", "login", "--with-api-key", "--profile", "new",
                  "--insecure-storage"), GOOD_KEY + "\n", id="login"),
    pytest.param(("auth", "switch", "--profile", "other"), None, id="switch"),
    pytest.param(("auth", "logout", "--profile", "keep"), None, id="logout"),
])
def test_commands_that_write_on_a_read_only_file_system_fail_and_lose_nothing(
        cli_env, fake_api, auth_file, args, input):
    auth_file.write(two_profiles())
    before = auth_file.raw()
    result = _run_read_only(auth_file.dir, cli_env, *args, input=input)
    assert_error(result, 1, str(auth_file.path), "read-only")
    assert auth_file.raw() == before
    assert sorted(os.listdir(auth_file.dir)) == ["auth.json"]
    assert fake_api.requests == []


def test_status_on_a_read_only_file_system_works(cli_env, auth_file):
    auth_file.write(two_profiles())
    result = _run_read_only(auth_file.dir, cli_env, "auth", "status")
    assert result == (0, STATUS % "keep", "")


def test_a_read_only_directory_fails_the_writable_check(tmp_path, monkeypatch):
    """What the CLI checks before writing, in process: os.access on the
    auth file and its directory (EROFS and EACCES both answer False)."""
    import baseten_auth

    directory = tmp_path / "cfg"
    directory.mkdir()
    (directory / "auth.json").write_text(json.dumps(two_profiles()))
    real_access = os.access
    monkeypatch.setattr(baseten_auth.os, "access", lambda p, m, **kw: False
                        if str(p) == str(directory) and m & os.W_OK
                        else real_access(p, m, **kw))
    with pytest.raises(baseten_auth.AuthFileError, match="read-only"):
        baseten_auth.Store(str(directory)).check_writable()


# Limits ----------------------------------------------------------------------


def test_an_auth_file_over_16_mib_is_refused_quickly_and_kept(
        run_cli, fake_api, auth_file):
    data = two_profiles(padding="x" * (17 << 20))
    auth_file.write(data)
    digest = hashlib.sha256(auth_file.raw()).hexdigest()
    started = time.monotonic()
    assert_error(run_cli("auth", "status"), 1, str(auth_file.path), "16 MiB")
    assert time.monotonic() - started < 5
    assert_error(login_key(run_cli, "new"), 1, "16 MiB")
    assert hashlib.sha256(auth_file.raw()).hexdigest() == digest


def test_an_auth_file_just_under_the_cap_works(run_cli, fake_api, auth_file):
    auth_file.write(two_profiles(padding="x" * (15 << 20)))
    assert run_cli("auth", "status") == (0, STATUS % "keep", "")
    assert login_key(run_cli, "new") == (0, LOGGED_IN % "new", "")
    assert len(auth_file.read()["padding"]) == 15 << 20


@pytest.mark.parametrize("text", [
    pytest.param("[" * 200_000 + "]" * 200_000, id="a deeply nested array"),
    pytest.param('{"profiles": {"a": {"x": ' + "[" * 100_000 + "]" * 100_000
                 + "}}}", id="a deeply nested value inside a profile"),
    pytest.param('{"a":' * 50_000 + "1" + "}" * 50_000,
                 id="deeply nested objects"),
])
def test_a_deeply_nested_auth_file_gives_a_clear_message(run_cli, fake_api,
                                                         auth_file, text):
    auth_file.write(text)
    assert_error(run_cli("auth", "status"), 1, str(auth_file.path), "nested")
    assert_error(login_key(run_cli, "new"), 1, "nested")
    assert auth_file.raw() == text.encode()


def test_moderately_nested_unknown_keys_are_kept_on_rewrite(run_cli, fake_api,
                                                            auth_file):
    nested = 1
    for _ in range(400):
        nested = [nested]
    auth_file.write(two_profiles(nested=nested))
    assert login_key(run_cli, "new") == (0, LOGGED_IN % "new", "")
    assert auth_file.read()["nested"] == nested


@pytest.fixture
def thousand(auth_file):
    names = ["user-%04d@example.com" % i for i in range(1000)]
    auth_file.write(auth_data({n: api_key_profile("k-%d" % i)
                               for i, n in enumerate(names)}, current=names[500]))
    return names


def test_status_stays_fast_with_1000_profiles(run_main, thousand):
    # In process, so the measure is the CLI's work and not Python's start.
    run_main("auth", "status")  # warm imports
    started = time.perf_counter()
    result = run_main("auth", "status")
    elapsed = time.perf_counter() - started
    assert result == (0, STATUS % thousand[500], "")
    assert elapsed < 0.25, "status took %.3f s with 1000 profiles" % elapsed


def test_status_all_lists_1000_profiles_quickly(run_main, thousand):
    started = time.perf_counter()
    result = run_main("auth", "status", "--all", "-o", "json")
    elapsed = time.perf_counter() - started
    assert result.rc == 0 and result.err == "", result.err
    listed = json.loads(result.out)
    assert [p["profile"] for p in listed] == sorted(thousand)
    assert [p["profile"] for p in listed if p["current"]] == [thousand[500]]
    assert elapsed < 1.0, "status --all took %.3f s" % elapsed


def test_switch_login_and_logout_keep_all_1000_profiles(run_cli, fake_api,
                                                        auth_file, thousand):
    assert run_cli("auth", "switch", "--profile", thousand[999]) == (
        0, "Switched to %s\n" % thousand[999], "")
    assert login_key(run_cli, "one-more") == (0, LOGGED_IN % "one-more", "")
    assert run_cli("auth", "logout", "--profile", thousand[0]) == (
        0, "Logged out %s\n" % thousand[0], "")
    profiles = auth_file.profiles()
    assert len(profiles) == 1000
    assert profiles[thousand[1]]["api_key"] == "k-1"
    assert auth_file.current() == "one-more"


def test_a_login_that_cannot_write_the_auth_file_leaves_the_keyring_as_it_was(
        tmp_path, cli_env, fake_api, auth_file):
    # The keyring is written before the auth file: when the auth file then
    # fails (here: it is a directory), the keyring must not hold the new
    # secret in place of the old one, nor an orphan.
    from test_secrets import Harness

    h = Harness(tmp_path, cli_env, fake_api, "secret-tool")
    (h.dir / "store.json").write_text(json.dumps({"ci": "old-key"}))
    auth_file.path.mkdir(parents=True)
    result = h.run("auth", "login", "--with-api-key", "--profile", "ci",
                   input=GOOD_KEY + "\n")
    assert_error(result, 1, str(auth_file.path), "directory")
    assert h.store() == {"ci": "old-key"}
