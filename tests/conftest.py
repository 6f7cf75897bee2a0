"""Shared fixtures: an isolated environment, the CLI as a subprocess, the
auth file, and a fake management API.

Every CLI run gets an environment without `DBUS_SESSION_BUS_ADDRESS`, with
`HOME` and `XDG_RUNTIME_DIR` inside the test's temp dir, `BASETEN_CONFIG_DIR`
set to a temp dir, `BASETEN_KEYRING_TIMEOUT=2`, and no other `BASETEN_*`
variable unless the test sets one. stdin is never a terminal.
"""

from __future__ import annotations

import collections
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fakeapi import GOOD_KEY, ME, FakeAPI  # noqa: F401  (re-exported for tests)

# Found through the import system (pytest's pythonpath is the repo root),
# without executing the module in the test process.
CLI_PATH = os.path.abspath(importlib.util.find_spec("baseten_auth").origin)
REPO_ROOT = os.path.dirname(CLI_PATH)
DEFAULT_REMOTE = "https://app.baseten.co"
NOT_LOGGED_IN = (
    "error: not logged in; run `baseten auth login` or set BASETEN_API_KEY\n"
)

Result = collections.namedtuple("Result", "rc out err")

# The CLI runs with `python -S` (no site module) unless a test asks for the
# plain interpreter: the module is stdlib-only at run time, so this changes
# nothing for it (and a stray third-party import would fail), while a .pth
# hook in site-packages can cost more than the CLI itself on every start
# (pyenv or sandbox hooks: 40-50 ms here, most of a test's time).
PYTHON_FLAGS = ("-S",)


def cli_argv(*args):
    """The argv of `python -S baseten_auth.py ARGS`, for Popen."""
    return [sys.executable, *PYTHON_FLAGS, CLI_PATH, *args]


def _run(argv, env, input=None, cwd=None, timeout=30, preexec_fn=None):
    proc = subprocess.run(
        argv,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        timeout=timeout,
        text=True,
        preexec_fn=preexec_fn,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def merged_env(base, overrides):
    """`base` updated by `overrides`; a None value removes the variable."""
    env = dict(base)
    for name, value in (overrides or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


@pytest.fixture
def config_dir(tmp_path):
    """The BASETEN_CONFIG_DIR of the test (not created beforehand)."""
    return tmp_path / "config"


@pytest.fixture
def cli_env(tmp_path, config_dir):
    """The environment every CLI subprocess gets; tests may change it."""
    home = tmp_path / "home"
    runtime = tmp_path / "run"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("BASETEN_")
        and name
        not in (
            "DBUS_SESSION_BUS_ADDRESS",
            "XDG_CONFIG_HOME",
            "NO_COLOR",
            "PYTHONSTARTUP",
            "PYTHONINSPECT",
            "PYTHONDONTWRITEBYTECODE",
        )
    }
    env.update(
        HOME=str(home),
        XDG_RUNTIME_DIR=str(runtime),
        BASETEN_CONFIG_DIR=str(config_dir),
        BASETEN_KEYRING_TIMEOUT="2",
    )
    return env


@pytest.fixture
def no_keyring_path(tmp_path, cli_env):
    """PATH holding no keyring tool at all (the CLI is run by full path)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    cli_env["PATH"] = str(empty)
    return empty


def _subprocess_runner(cli_env):
    def run(
        *args,
        input=None,
        env=None,
        cwd=None,
        timeout=30,
        module=False,
        python_args=PYTHON_FLAGS,
        preexec_fn=None,
    ):
        target = ["-m", "baseten_auth"] if module else [CLI_PATH]
        argv = [sys.executable, *python_args, *target, *args]
        return _run(
            argv,
            merged_env(cli_env, env),
            input=input,
            cwd=cwd if cwd is not None else (REPO_ROOT if module else None),
            timeout=timeout,
            preexec_fn=preexec_fn,
        )

    return run


@pytest.fixture
def run_cli(cli_env):
    """run_cli(*args, input=None, env=None) -> Result(rc, out, err).

    Runs `python baseten_auth.py ARGS` with the isolated environment; `env`
    overrides it (a None value removes a variable). `python_args` go before
    the script (default `-S`, see PYTHON_FLAGS), and `module=True` runs
    `python -m baseten_auth` instead.
    """
    return _subprocess_runner(cli_env)


# Module state that main() leaves behind, reset before each in-process run.
_MODULE_STATE = {"_verbose": False, "_warned": set, "_keyring_backends": dict}


@pytest.fixture
def run_main(cli_env, monkeypatch, capsys):
    """Like run_cli, but calls baseten_auth.main(argv) in this process.

    For commands that touch neither the network nor a keyring tool nor
    signals (parsing, usage errors, status, switch, output formatting):
    there it is equivalent to a subprocess and ten times cheaper. os.environ
    becomes exactly the isolated environment, stdin a StringIO (never a
    terminal), stdout and stderr are captured. Set TESTS_SUBPROCESS_ONLY=1
    to run these through run_cli as well.
    """
    if os.environ.get("TESTS_SUBPROCESS_ONLY"):
        return _subprocess_runner(cli_env)
    import io
    import traceback

    import baseten_auth

    def run(*args, input=None, env=None, cwd=None):
        wanted = merged_env(cli_env, env)
        for name in list(os.environ):
            if name not in wanted:
                monkeypatch.delenv(name)
        for name, value in wanted.items():
            monkeypatch.setenv(name, value)
        for name, fresh in _MODULE_STATE.items():
            if hasattr(baseten_auth, name):
                monkeypatch.setattr(
                    baseten_auth, name, fresh() if callable(fresh) else fresh
                )
        monkeypatch.setattr(sys, "stdin", io.StringIO(input or ""))
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        try:
            code = baseten_auth.main(list(args))
        except SystemExit as e:  # argparse's --help and --version
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except KeyboardInterrupt:
            raise
        except BaseException:  # a bug: what a user would see, a traceback
            sys.stderr.write(traceback.format_exc())
            code = 1
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


class AuthFile:
    """The auth file `auth.json` in the test's config directory."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.path = self.dir / "auth.json"

    def exists(self):
        return self.path.exists()

    def write(self, data, mode=0o600):
        """Write a dict as JSON (or str/bytes as they are); create the dir."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if isinstance(data, (dict, list)):
            data = json.dumps(data, indent=2)
        if isinstance(data, str):
            data = data.encode()
        self.path.write_bytes(data)
        os.chmod(self.path, mode)
        return data

    def read(self):
        """The file parsed as JSON."""
        return json.loads(self.path.read_text())

    def raw(self):
        return self.path.read_bytes()

    def profiles(self):
        return self.read().get("profiles", {})

    def current(self):
        return self.read().get("current", "")


@pytest.fixture
def auth_file(config_dir):
    return AuthFile(config_dir)


@pytest.fixture
def fake_api(cli_env):
    """A running FakeAPI; the CLI's management API base points at it."""
    with FakeAPI() as api:
        cli_env["BASETEN_MANAGEMENT_API_URL_OVERRIDE"] = api.url
        yield api


@pytest.fixture
def closed_port():
    """A loopback port with nothing listening on it."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Builders and assertions shared by the test files ----------------------------


def api_key_profile(key="stored-key", remote=DEFAULT_REMOTE, **extra):
    """A plain-text API-key profile entry as the auth file holds it."""
    entry = {"remote_url": remote, "auth_type": "api_key"}
    if key is not None:
        entry["api_key"] = key
    entry.update(extra)
    return entry


def oauth_profile(remote=DEFAULT_REMOTE, expiry="2099-01-01T00:00:00Z", **extra):
    """A plain-text OAuth profile entry with an access token valid until expiry."""
    entry = {
        "remote_url": remote,
        "auth_type": "oauth",
        "oauth_credential": {
            "access_token": "stored-access-token",
            "refresh_token": "stored-refresh-token",
            "expiry": expiry,
        },
    }
    entry.update(extra)
    return entry


def auth_data(profiles, current=""):
    """A whole auth file: version 1, `current`, `profiles`."""
    return {"version": 1, "current": current, "profiles": dict(profiles)}


def login_key(run_cli, profile, *args, key=GOOD_KEY, env=None):
    """`echo KEY | login --with-api-key --profile PROFILE --insecure-storage`."""
    return run_cli(
        "auth",
        "login",
        "--with-api-key",
        "--profile",
        profile,
        "--insecure-storage",
        *args,
        input=key + "\n",
        env=env,
    )


def assert_error(result, code, *fragments, stdout=""):
    """Exit `code`, one `error: ` line on stderr holding every fragment."""
    assert result.rc == code, result
    assert result.out == stdout, result
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: "), result.err
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, result.err)
    return lines[0]


def assert_usage_error(result, *fragments):
    """Exit 2, one `error: ` line, and no argparse usage block."""
    line = assert_error(result, 2, *fragments)
    assert "usage:" not in result.err.lower()
    return line


def assert_no_secret(result, *secrets):
    """No secret appears on stderr or stdout."""
    for secret in secrets:
        assert secret not in result.err, result.err
        assert secret not in result.out, result.out


def only_warnings(stderr):
    """True when every stderr line is a `warning: ` line."""
    return all(line.startswith("warning: ") for line in stderr.splitlines())
