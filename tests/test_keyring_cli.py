"""Where `baseten auth` keeps a secret, seen through the CLI (SPEC.md 5, 8).

Each test runs the CLI as a subprocess, with its own config directory, a
small local API on 127.0.0.1, and either the private Secret Service of
secret_service.py or no D-Bus session at all. PATH holds only the keyring
tools a test means to offer, so the machine's own tools do not leak in.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import stat
import subprocess
import sys
import threading

import pytest

import baseten_auth
from keyring_helpers import python_keyring_command, recorder, write_tool
from secret_service import keyring_session, secret_service  # noqa: F401

SERVICE = "baseten-profile"
KEY = "sk-cli-3b8e1f"
OTHER_KEY = "sk-cli-second-77aa"
USER = {"user_id": "u1", "email": "a@example.com", "name": "A",
        "workspace_name": "W"}


class _UsersMe(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path == "/v1/users/me" and \
            self.headers.get("Authorization", "").startswith("Api-Key ")
        body = json.dumps(USER if ok else {"error": "nope"}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def api_url():
    """GET /v1/users/me on 127.0.0.1, answering for any API key."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _UsersMe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class Cli:
    """Runs `baseten_auth.py auth ...` in a controlled environment."""

    def __init__(self, tmp_path, api_url):
        self.config_dir = tmp_path / "config"
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.env = {
            "HOME": str(tmp_path),
            "PATH": str(self.bin),
            "BASETEN_CONFIG_DIR": str(self.config_dir),
            "BASETEN_MANAGEMENT_API_URL_OVERRIDE": api_url,
            # No session bus unless a test asks for one.
            "XDG_RUNTIME_DIR": str(tmp_path),
            "LANG": "C.UTF-8",
        }

    def offer(self, name, path):
        """Put a tool on the CLI's PATH."""
        os.symlink(path, str(self.bin / name))

    def use_session(self, session):
        self.env.update(session.env({}))

    def __call__(self, *args, input=None, env=None):
        argv = [sys.executable, baseten_auth.__file__, "auth"] + list(args)
        result = subprocess.run(
            argv, input=(input or "").encode(), capture_output=True,
            env=dict(self.env, **(env or {})), timeout=60,
        )
        out, err = result.stdout.decode(), result.stderr.decode()
        return result.returncode, out, err

    def login(self, profile="p", key=KEY, *extra, env=None):
        return self("login", "--with-api-key", "--profile", profile, *extra,
                    input=key + "\n", env=env)

    def auth_file(self) -> dict:
        path = self.config_dir / "auth.json"
        if not path.exists():
            return {}
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        return json.loads(path.read_text(encoding="utf-8"))

    def file_secret(self, profile="p"):
        entry = self.auth_file().get("profiles", {}).get(profile, {})
        return entry.get("api_key")


def keyring_secret(session, profile="p"):
    """What the official CLI would read: `secret-tool lookup` on the bus."""
    result = session.secret_tool("lookup", "service", SERVICE,
                                 "username", profile)
    return result.stdout.decode() if result.returncode == 0 else None


def warnings(err):
    return [line for line in err.splitlines() if line.startswith("warning: ")]


@pytest.fixture
def cli(tmp_path, api_url):
    return Cli(tmp_path, api_url)


@pytest.fixture
def cli_in_session(cli, keyring_session):
    """The CLI inside the private Secret Service, with secret-tool only."""
    cli.use_session(keyring_session)
    cli.offer("secret-tool", shutil.which("secret-tool"))
    return cli


# -- storing ------------------------------------------------------------------


def test_login_in_a_session_stores_the_key_in_the_keyring(cli_in_session,
                                                          keyring_session):
    rc, out, err = cli_in_session.login()
    assert (rc, out) == (0, "Logged in as a@example.com (W) as profile p\n")
    assert warnings(err) == []
    assert keyring_secret(keyring_session) == KEY
    assert cli_in_session.file_secret() is None
    entry = cli_in_session.auth_file()["profiles"]["p"]
    assert entry["auth_type"] == "api_key"


def test_the_stored_key_is_read_back_from_the_keyring(cli_in_session):
    cli_in_session.login()
    rc, out, err = cli_in_session("token", "--profile", "p")
    assert (rc, out) == (0, KEY + "\n"), err


def test_an_entry_made_by_the_official_cli_is_used(cli_in_session,
                                                   keyring_session):
    cli_in_session.login()
    # The official CLI replaces the entry (same attributes and label).
    keyring_session.secret_tool(
        "store", "--label=Password for 'p' on 'baseten-profile'",
        "service", SERVICE, "username", "p", input=b"sk-from-go")
    rc, out, _ = cli_in_session("token", "--profile", "p")
    assert (rc, out) == (0, "sk-from-go\n")


@pytest.mark.parametrize("with_python_keyring", [False, True],
                         ids=["no keyring tool works",
                              "the keyring command fails too"])
def test_without_a_session_bus_login_falls_back_to_the_file(
    cli, with_python_keyring
):
    cli.offer("secret-tool", shutil.which("secret-tool") or "/bin/false")
    if with_python_keyring:
        cli.offer("keyring", python_keyring_command())
    rc, out, err = cli.login()
    assert rc == 0, err
    assert len(warnings(err)) == 1, err
    assert err.count("\n") == 1, err  # that warning is all it says
    assert KEY not in err
    assert cli.file_secret() == KEY


def test_a_hanging_keyring_times_out_and_falls_back(cli, keyring_session):
    cli.use_session(keyring_session)
    write_tool(cli.bin, "secret-tool", "sleep 30 &\nwait")
    rc, _, err = cli.login(env={"BASETEN_KEYRING_TIMEOUT": "0.5"})
    assert rc == 0, err
    [warning] = warnings(err)
    assert "did not answer within 0.5 s" in warning
    assert cli.file_secret() == KEY


def test_insecure_storage_goes_to_the_file_and_drops_the_keyring_copy(
    cli_in_session, keyring_session
):
    cli_in_session.login()
    assert keyring_secret(keyring_session) == KEY
    rc, _, err = cli_in_session.login("p", OTHER_KEY, "--insecure-storage")
    assert rc == 0, err
    assert cli_in_session.file_secret() == OTHER_KEY
    assert keyring_secret(keyring_session) is None
    assert keyring_session.items() == []


def test_insecure_storage_with_no_keyring_at_all_says_nothing(cli):
    rc, _, err = cli.login("p", KEY, "--insecure-storage")
    assert (rc, err) == (0, "")
    assert cli.file_secret() == KEY


def test_logging_in_again_without_insecure_storage_drops_the_file_copy(
    cli_in_session, keyring_session
):
    cli_in_session.login("p", KEY, "--insecure-storage")
    assert cli_in_session.file_secret() == KEY
    rc, _, err = cli_in_session.login("p", OTHER_KEY)
    assert rc == 0, err
    assert cli_in_session.file_secret() is None
    assert keyring_secret(keyring_session) == OTHER_KEY


def test_the_file_copy_wins_and_the_keyring_is_not_asked(cli, keyring_session,
                                                         tmp_path):
    # A file copy and a (stale) keyring copy: reading uses the file's and
    # makes no keyring call at all.
    cli.use_session(keyring_session)
    cli.login("p", KEY, "--insecure-storage")
    keyring_session.secret_tool(
        "store", "--label=x", "service", SERVICE, "username", "p",
        input=b"stale")
    log = tmp_path / "calls.log"
    recorder(cli.bin, "secret-tool", shutil.which("secret-tool"), log)
    rc, out, _ = cli("token", "--profile", "p")
    assert (rc, out) == (0, KEY + "\n")
    assert not log.exists()


# -- logout -------------------------------------------------------------------


def test_logout_removes_the_keyring_entry(cli_in_session, keyring_session):
    cli_in_session.login()
    rc, out, err = cli_in_session("logout", "--profile", "p")
    assert (rc, out) == (0, "Logged out p\n")
    assert warnings(err) == []
    assert keyring_secret(keyring_session) is None
    assert "p" not in cli_in_session.auth_file()["profiles"]


def test_logout_removes_both_copies(cli_in_session, keyring_session):
    cli_in_session.login("p", KEY, "--insecure-storage")
    # A copy left in the keyring by some other run.
    keyring_session.secret_tool(
        "store", "--label=x", "service", SERVICE, "username", "p",
        input=b"stale")
    rc, _, err = cli_in_session("logout", "--profile", "p")
    assert rc == 0, err
    assert keyring_secret(keyring_session) is None
    assert cli_in_session.file_secret() is None


def test_logout_without_a_session_bus_removes_the_file_copy(cli):
    cli.offer("secret-tool", shutil.which("secret-tool") or "/bin/false")
    cli.login()
    rc, _, err = cli("logout", "--profile", "p")
    assert (rc, warnings(err)) == (0, [])
    assert "p" not in cli.auth_file()["profiles"]


# -- what the user sees -------------------------------------------------------


def test_verbose_names_the_backend_and_never_the_key(cli_in_session):
    rc, out, err = cli_in_session.login("p", KEY, "-v")
    assert rc == 0, err
    assert "keyring: using secret-tool" in err
    assert "not using keyring: " in err  # says why the others were not used
    assert KEY not in out + err


def test_verbose_says_why_there_is_no_keyring(cli):
    rc, _, err = cli.login("p", KEY, "-v")
    assert rc == 0, err
    assert "not using secret-tool: secret-tool is not on PATH" in err
    assert "not using keyring: keyring is not on PATH" in err
    assert len(warnings(err)) == 1
    assert KEY not in err


def test_the_key_is_never_in_a_tool_argv(cli, keyring_session, tmp_path):
    cli.use_session(keyring_session)
    log = tmp_path / "calls.log"
    recorder(cli.bin, "secret-tool", shutil.which("secret-tool"), log)
    cli.login()
    cli("token", "--profile", "p")
    cli("logout", "--profile", "p")
    calls = log.read_text(encoding="utf-8")
    assert calls.count("argv:") >= 3
    assert KEY not in calls


def test_status_does_not_touch_the_keyring(cli, keyring_session, tmp_path):
    cli.use_session(keyring_session)
    cli.offer("secret-tool", shutil.which("secret-tool"))
    cli.login()
    log = tmp_path / "calls.log"
    os.remove(str(cli.bin / "secret-tool"))
    recorder(cli.bin, "secret-tool", shutil.which("secret-tool"), log)
    rc, out, err = cli("status", "--profile", "p")
    assert rc == 0, err
    assert out.startswith("p\n")
    assert not log.exists()


def test_a_keyring_secret_read_without_a_session_is_one_clear_error(
    cli_in_session, keyring_session
):
    cli_in_session.login()
    del cli_in_session.env["DBUS_SESSION_BUS_ADDRESS"]
    rc, out, err = cli_in_session("token", "--profile", "p")
    assert (rc, out) == (1, "")
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "keyring" in err
    assert keyring_secret(keyring_session) == KEY  # still there for later
