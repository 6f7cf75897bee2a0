"""A read-only config directory or `auth.json` (a mounted secret, a read-only
home): SPEC section 11.

`status`, `status --all` and `token` work; an OAuth access token refreshed
there is kept in memory for the run, printed, and one warning says so;
`login`, `logout` and `switch` fail with one `error: ` line naming the auth
file and change nothing (no request to the server either).

Two ways of making the files read-only, each run where it can:

- "bind mount": a read-only bind mount in a private mount namespace
  (`unshare -rm`, then `mount --bind -o ro`), of the config directory or of
  `auth.json` alone. The kernel refuses the writes (EROFS), for root too.
- "permissions": mode 0500 on the directory and 0400 on `auth.json`, with
  the CLI run as an unprivileged user: this user, or `nobody` (through
  `setpriv`) when the tests run as root, since root ignores mode bits. In
  that case the files live in a world-traversable temp directory owned by
  `nobody`.

A mode that cannot be set up here is skipped. `Store.check_writable` relies
on `os.access`, which answers False for both kinds (EROFS, EACCES); the last
test checks that directly, in process, so it runs everywhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import (
    CLI_PATH,
    DEFAULT_REMOTE,
    GOOD_KEY,
    AuthFile,
    Result,
    api_key_profile,
    assert_error,
    auth_data,
    merged_env,
    oauth_profile,
)
from fakeapi import Reply

# Found once, at import: a test that changes PATH must not change them.
UNSHARE = shutil.which("unshare")
SETPRIV = shutil.which("setpriv")
PYTHON3 = shutil.which("python3")
NOBODY = 65534
TOKEN_PATH = "/v1/users/auth/device/token"
EXPIRED = "2020-01-01T00:00:00Z"
NEW_TOKENS = {"access_token": "new-access-token",
              "refresh_token": "new-refresh-token",
              "token_type": "Bearer", "expires_in": 3600}

# Mount TARGET read-only in this mount namespace, check that it is, run argv.
MOUNT_RO = r"""
target=$1; shift
command_path=$PATH
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
mount --bind -o ro "$target" "$target" 2>/dev/null ||
    { mount --bind "$target" "$target" &&
      mount -o remount,bind,ro "$target" "$target"; } 2>/dev/null || exit 97
if [ -d "$target" ]; then
    ! touch "$target/.rw-probe" 2>/dev/null || exit 98
else
    ! (: >> "$target") 2>/dev/null || exit 98
fi
PATH=$command_path exec "$@"
"""

_probed = {}


def _probe(key, argv):
    """True when argv exits 0 (cached for the session)."""
    if key not in _probed:
        try:
            _probed[key] = subprocess.run(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, timeout=20).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            _probed[key] = False
    return _probed[key]


def _mount_available(tmp_path):
    if not UNSHARE:
        return False
    target = tmp_path / "probe-dir"
    target.mkdir()
    ok = _probe("mount", [UNSHARE, "-rm", "/bin/sh", "-c", MOUNT_RO, "sh",
                          str(target), "true"])
    target.rmdir()
    return ok


def _unprivileged_prefix():
    """(argv prefix, python) to run as an unprivileged user, or None."""
    if os.geteuid() != 0:
        return [], sys.executable
    if not SETPRIV:
        return None
    prefix = [SETPRIV, "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
              "--clear-groups"]
    for python in (sys.executable, PYTHON3, "/usr/bin/python3"):
        if python and _probe(("python", python), prefix + [python, "-c", "pass"]):
            return prefix, python
    return None


class ReadOnlyConfig:
    """A config directory whose `auth.json` (or whole directory) the CLI
    sees read-only; `run()` runs the CLI like `run_cli`."""

    def __init__(self, mode, what, tmp_path, cli_env):
        self.mode, self.what = mode, what
        self.env = dict(cli_env)
        self.cleanup = None
        if mode == "bind mount":
            if not _mount_available(tmp_path):
                pytest.skip("no private mount namespace (unshare -rm) here")
            self.dir = tmp_path / "config"
            self.prefix = [UNSHARE, "-rm", "/bin/sh", "-c", MOUNT_RO, "sh"]
            self.python = sys.executable
        else:
            found = _unprivileged_prefix()
            if found is None:
                pytest.skip("running as root without setpriv or a python "
                            "that nobody can run")
            self.prefix, self.python = found
            if os.geteuid() == 0:
                base = tempfile.mkdtemp(prefix="baseten-ro-")
                self.cleanup = base
                os.chmod(base, 0o755)
                for sub in ("home", "run"):
                    os.mkdir(os.path.join(base, sub), 0o700)
                    os.chown(os.path.join(base, sub), NOBODY, NOBODY)
                self.env.update(HOME=os.path.join(base, "home"),
                                XDG_RUNTIME_DIR=os.path.join(base, "run"))
                self.dir = type(tmp_path)(base) / "config"
            else:
                self.dir = tmp_path / "config"
        self.env["BASETEN_CONFIG_DIR"] = str(self.dir)
        self.auth_file = AuthFile(self.dir)

    def write(self, data):
        """Write auth.json (writable for now); remember its bytes."""
        self.auth_file.write(data)
        if self.mode == "permissions" and os.geteuid() == 0:
            os.chown(self.dir, NOBODY, NOBODY)
            os.chown(self.auth_file.path, NOBODY, NOBODY)
        self.before = self.snapshot()

    def snapshot(self):
        """auth.json's bytes and mode, and the directory listing."""
        st = self.auth_file.path.stat()
        return (self.auth_file.raw(), st.st_mode & 0o777, st.st_ino,
                sorted(p.name for p in self.dir.iterdir()))

    def unchanged(self):
        after = self.snapshot()
        if self.what == "auth.json" and after[:3] == self.before[:3]:
            # The directory itself is writable: a lock file may appear there.
            return sorted(set(after[3]) - {"auth.json.lock"}) == self.before[3]
        return after == self.before

    def run(self, *args, input=None, env=None):
        if self.mode == "permissions":
            os.chmod(self.auth_file.path, 0o400)
            if self.what == "directory":
                os.chmod(self.dir, 0o500)
        target = self.dir if self.what == "directory" else self.auth_file.path
        argv = list(self.prefix)
        if self.mode == "bind mount":
            argv.append(str(target))
        argv += [self.python, CLI_PATH, *args]
        try:
            proc = subprocess.run(
                argv, input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
                capture_output=True, text=True, timeout=30,
                env=merged_env(self.env, env))
        finally:
            if self.mode == "permissions":
                os.chmod(self.dir, 0o700)
                os.chmod(self.auth_file.path, 0o600)
        assert proc.returncode not in (97, 98), "read-only mount failed"
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def close(self):
        if self.cleanup:
            shutil.rmtree(self.cleanup, ignore_errors=True)


@pytest.fixture(params=[
    ("bind mount", "directory"), ("bind mount", "auth.json"),
    ("permissions", "directory"), ("permissions", "auth.json"),
], ids=lambda p: "%s of the %s" % p if p[1] == "directory" else "%s of %s" % p)
def ro(request, tmp_path, cli_env):
    config = ReadOnlyConfig(*request.param, tmp_path=tmp_path, cli_env=cli_env)
    yield config
    config.close()


def profiles():
    return auth_data({"ci": api_key_profile(key="stored-key"),
                      "o": oauth_profile(expiry=EXPIRED)}, current="ci")


# Reading works ---------------------------------------------------------------------


def test_status_works(ro):
    ro.write(profiles())
    assert ro.run("auth", "status") == (
        0, "ci\n  Remote: %s\n  Auth type: api_key\n" % DEFAULT_REMOTE, "")
    assert ro.unchanged()


def test_status_all_works(ro):
    ro.write(profiles())
    result = ro.run("auth", "status", "--all", "-o", "jsonl")
    assert result.rc == 0 and result.err == "", result
    assert [json.loads(line)["profile"] for line in result.out.splitlines()] == [
        "ci", "o"]
    assert ro.unchanged()


def test_token_of_an_api_key_profile_works(ro):
    ro.write(profiles())
    assert ro.run("auth", "token") == (0, "stored-key\n", "")
    assert ro.unchanged()


def test_token_refresh_keeps_the_new_token_in_memory_prints_it_and_warns_once(
        ro, fake_api):
    ro.env["BASETEN_MANAGEMENT_API_URL_OVERRIDE"] = fake_api.url
    ro.write(profiles())
    fake_api.route("POST", TOKEN_PATH, Reply(200, NEW_TOKENS))

    result = ro.run("auth", "token", "--profile", "o")

    assert (result.rc, result.out) == (0, "new-access-token\n"), result
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: "), result.err
    assert "'o'" in lines[0] and str(ro.auth_file.path) in lines[0], lines[0]
    assert "new-access-token" not in result.err
    assert len(fake_api.requests_to("POST", TOKEN_PATH)) == 1
    assert ro.unchanged()


def test_status_check_after_a_refresh_works_and_warns_once(ro, fake_api):
    ro.env["BASETEN_MANAGEMENT_API_URL_OVERRIDE"] = fake_api.url
    ro.write(profiles())
    fake_api.route("POST", TOKEN_PATH, Reply(200, NEW_TOKENS))
    fake_api.route("GET", "/v1/users/me", lambda request: Reply(
        200 if request.headers.get("Authorization") == "Bearer new-access-token"
        else 401, {"email": "alice@example.com", "workspace_name": "Acme"}))

    result = ro.run("auth", "status", "--check", "--profile", "o")

    assert result.rc == 0, result
    assert result.out.endswith("  Logged in as alice@example.com (Acme)\n")
    assert len(result.err.splitlines()) == 1 and result.err.startswith("warning: ")
    assert ro.unchanged()


# Writing fails cleanly -------------------------------------------------------------


@pytest.mark.parametrize(
    "args, stdin",
    [
        pytest.param(["auth", "login", "--with-api-key", "--profile", "new",
                      "--insecure-storage"], GOOD_KEY + "\n",
                     id="login fails naming the auth file"),
        pytest.param(["auth", "login", "--with-api-key", "--profile", "ci",
                      "--insecure-storage"], GOOD_KEY + "\n",
                     id="login again under a stored name fails naming the auth file"),
        pytest.param(["auth", "logout"], None,
                     id="logout fails naming the auth file"),
        pytest.param(["auth", "logout", "--profile", "o"], None,
                     id="logout of an OAuth profile fails without revoking it"),
        pytest.param(["auth", "switch", "--profile", "o"], None,
                     id="switch fails naming the auth file"),
    ],
)
def test_commands_that_write_fail_with_one_line_and_change_nothing(ro, fake_api, args,
                                                                   stdin):
    ro.env["BASETEN_MANAGEMENT_API_URL_OVERRIDE"] = fake_api.url
    ro.write(profiles())
    result = ro.run(*args, input=stdin)
    assert_error(result, 1, str(ro.auth_file.path), "read-only")
    assert fake_api.requests == []
    assert ro.unchanged()


@pytest.mark.parametrize("output", ["json", "none"])
def test_a_failed_write_prints_nothing_on_stdout_in_any_format(ro, output):
    ro.write(profiles())
    result = ro.run("auth", "switch", "--profile", "o", "-o", output)
    assert_error(result, 1, str(ro.auth_file.path))


def test_login_under_a_read_only_home_fails_and_creates_nothing(tmp_path, cli_env,
                                                                 fake_api):
    # A read-only home: the config directory does not exist and cannot be
    # created. Only a bind mount makes this read-only for root too.
    if not _mount_available(tmp_path):
        pytest.skip("no private mount namespace (unshare -rm) here")
    home = tmp_path / "ro-home"
    home.mkdir()
    config = home / ".config" / "baseten"
    env = merged_env(cli_env, {"BASETEN_CONFIG_DIR": str(config)})
    argv = [UNSHARE, "-rm", "/bin/sh", "-c", MOUNT_RO, "sh", str(home),
            sys.executable, CLI_PATH, "auth", "login", "--with-api-key",
            "--profile", "ci", "--insecure-storage"]
    proc = subprocess.run(argv, input=GOOD_KEY + "\n", capture_output=True,
                          text=True, timeout=30, env=env)
    assert_error(Result(proc.returncode, proc.stdout, proc.stderr), 1,
                 str(config / "auth.json"))
    assert fake_api.requests == []
    assert list(home.iterdir()) == []


# Store.check_writable and os.access, in process ---------------------------------------


@pytest.mark.parametrize(
    "unwritable",
    [
        pytest.param("auth.json", id="an unwritable auth.json fails the check"),
        pytest.param("directory", id="an unwritable directory fails the check"),
    ],
)
def test_check_writable_follows_os_access(tmp_path, monkeypatch, unwritable):
    import baseten_auth

    AuthFile(tmp_path).write(profiles())
    path = str(tmp_path / "auth.json")
    denied = path if unwritable == "auth.json" else str(tmp_path)
    real_access = os.access
    monkeypatch.setattr(baseten_auth.os, "access", lambda p, mode, **kw: (
        False if (str(p) == denied and mode & os.W_OK) else real_access(p, mode, **kw)))
    store = baseten_auth.Store(str(tmp_path))
    with pytest.raises(baseten_auth.AuthFileError) as caught:
        store.check_writable()
    assert path in str(caught.value)
    monkeypatch.undo()
    store.check_writable()  # writable again: no error
