"""Keyring backends when things go wrong, and how a backend is chosen.

Every failure is a KeyringUnavailable with a one-line reason (the store then
falls back to auth.json): a missing tool, no D-Bus session, a bus without a
keyring daemon, a locked collection, a tool that hangs, a tool that fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest

import baseten_auth
from baseten_auth import (
    KeyringUnavailable,
    MacOSSecurityBackend,
    PythonKeyringBackend,
    SecretToolBackend,
)
from keyring_helpers import fake_security, python_keyring_command, write_tool
from secret_service import (  # noqa: F401
    SecretService,
    keyring_session,
    missing_reason,
    secret_service,
)

SECRET = "sk-do-not-show-4e1d"


@pytest.fixture(autouse=True)
def _fresh_backend_cache(monkeypatch):
    monkeypatch.setattr(baseten_auth, "_keyring_backends", {})
    monkeypatch.delenv("BASETEN_KEYRING_TIMEOUT", raising=False)


@pytest.fixture
def verbose(monkeypatch):
    monkeypatch.setattr(baseten_auth, "_verbose", True, raising=False)


@pytest.fixture
def no_bus(monkeypatch, tmp_path):
    """No D-Bus session: no address, and no $XDG_RUNTIME_DIR/bus either."""
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


@pytest.fixture
def tools(tmp_path, monkeypatch):
    """An empty directory that is the whole PATH; write stand-ins into it."""
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", str(directory))
    return directory


def all_calls(backend):
    return [lambda: backend.get("p"), lambda: backend.set("p", SECRET),
            lambda: backend.delete("p")]


def assert_unavailable(call, *fragments):
    with pytest.raises(KeyringUnavailable) as info:
        call()
    message = str(info.value)
    assert SECRET not in message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    return message


# -- a missing tool -----------------------------------------------------------


@pytest.mark.parametrize("cls", [SecretToolBackend, PythonKeyringBackend])
def test_a_tool_not_on_path_is_unavailable(tools, cls):
    backend = cls()
    assert_unavailable(backend.check, cls.program, "not on PATH")
    for call in all_calls(backend):
        assert_unavailable(call, "not on PATH")


def test_a_missing_security_binary_is_unavailable(tmp_path):
    backend = MacOSSecurityBackend(str(tmp_path / "security"))
    assert_unavailable(backend.check, "not an executable file")
    for call in all_calls(backend):
        assert_unavailable(call, "security")


def test_a_tool_that_vanished_after_the_check_is_unavailable(tools):
    path = write_tool(tools, "secret-tool", "exit 0")
    backend = SecretToolBackend(path)
    os.remove(path)
    assert_unavailable(lambda: backend.get("p"), "secret-tool")


# -- no D-Bus session, no keyring daemon, a locked keyring --------------------


def test_secret_tool_is_not_viable_without_a_session_bus(no_bus, tools):
    path = write_tool(tools, "secret-tool", "exit 0")
    assert_unavailable(SecretToolBackend(path).check, "no D-Bus session bus")


def test_a_stale_bus_address_is_not_viable(monkeypatch, tmp_path, tools):
    path = write_tool(tools, "secret-tool", "exit 0")
    gone = str(tmp_path / "gone")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=" + gone)
    assert_unavailable(SecretToolBackend(path).check, gone)


def test_an_escaped_bus_address_is_unescaped(monkeypatch, secret_service):
    escaped = secret_service.address.replace("/", "%2f")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", escaped)
    assert baseten_auth._no_session_bus() is None


def test_an_abstract_socket_address_is_assumed_to_work(monkeypatch):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS",
                       "unix:abstract=/tmp/x,guid=1")
    if shutil.which("secret-tool"):
        SecretToolBackend().check()
    assert baseten_auth._no_session_bus() is None


def test_the_runtime_dir_bus_socket_counts_as_a_session(secret_service,
                                                          monkeypatch):
    # GDBus looks for $XDG_RUNTIME_DIR/bus when the address is unset.
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", secret_service.directory)
    assert baseten_auth._no_session_bus() is None


@pytest.mark.parametrize("cls", [SecretToolBackend, PythonKeyringBackend])
def test_without_a_session_bus_every_call_is_unavailable(no_bus, cls):
    if missing_reason():
        pytest.skip(missing_reason())
    path = python_keyring_command() if cls is PythonKeyringBackend else None
    backend = cls(path)
    for call in all_calls(backend):
        assert_unavailable(call, cls.name)


@pytest.fixture
def bus_without_keyring(monkeypatch):
    if missing_reason():
        pytest.skip(missing_reason())
    with SecretService(keyring=False) as bus:
        for key, value in bus.env({}).items():
            monkeypatch.setenv(key, value)
        yield bus


@pytest.mark.parametrize("cls", [SecretToolBackend, PythonKeyringBackend])
def test_a_bus_without_a_keyring_daemon_is_unavailable(bus_without_keyring,
                                                       cls):
    path = python_keyring_command() if cls is PythonKeyringBackend else None
    backend = cls(path)
    backend.check()  # the bus is there: only a call can tell
    start = time.monotonic()
    for call in all_calls(backend):
        assert_unavailable(call, cls.name)
    assert time.monotonic() - start < 10


@pytest.fixture
def locked_keyring(monkeypatch):
    """A Secret Service of its own, holding one entry, then locked."""
    if missing_reason():
        pytest.skip(missing_reason())
    with SecretService() as service:
        for key, value in service.env({}).items():
            monkeypatch.setenv(key, value)
        SecretToolBackend().set("p", "before the lock")
        service.lock()
        assert not service.is_unlocked()
        yield service


def test_a_locked_keyring_is_unavailable_not_empty(locked_keyring):
    # secret-tool says "not found" for a locked item: the backend must not.
    assert_unavailable(lambda: SecretToolBackend().get("p"), "locked")
    assert_unavailable(lambda: SecretToolBackend().delete("p"), "locked")
    assert_unavailable(lambda: SecretToolBackend().set("p", SECRET),
                       "store failed", "locked collection")


def test_a_locked_keyring_still_reads_missing_profiles_as_none(locked_keyring):
    assert SecretToolBackend().get("nobody") is None


def test_python_keyring_on_a_locked_keyring_is_unavailable(locked_keyring):
    backend = PythonKeyringBackend(python_keyring_command())
    assert_unavailable(lambda: backend.get("p"), "KeyringLocked")


# -- a tool that hangs --------------------------------------------------------


# The stand-in's child does the hanging: the whole group must be killed.
HANG = 'sleep 30 &\necho $! > "$0.pid"\nwait\n'


def assert_child_is_gone(tool_path):
    with open(tool_path + ".pid") as f:
        pid = int(f.read())
    # SIGKILL is delivered asynchronously: allow it a moment to land.
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state == "Z":  # dead; reaping it is init's business
            return
        time.sleep(0.02)
    raise AssertionError("the tool's child %d is still running" % pid)


@pytest.mark.parametrize("name, cls", [("secret-tool", SecretToolBackend),
                                       ("keyring", PythonKeyringBackend)])
def test_a_tool_that_hangs_times_out(tools, monkeypatch, name, cls):
    monkeypatch.setenv("BASETEN_KEYRING_TIMEOUT", "0.5")
    path = write_tool(tools, name, HANG)
    start = time.monotonic()
    message = assert_unavailable(lambda: cls(path).set("p", SECRET),
                                 "did not answer within 0.5 s",
                                 "BASETEN_KEYRING_TIMEOUT")
    assert time.monotonic() - start < 4, message
    assert_child_is_gone(path)


def test_a_security_that_hangs_times_out(tmp_path, monkeypatch):
    monkeypatch.setenv("BASETEN_KEYRING_TIMEOUT", "0.5")
    monkeypatch.setenv("FAKE_SECURITY_STATE", str(tmp_path / "state.json"))
    monkeypatch.setenv("FAKE_SECURITY_MODE", "hang")
    backend = MacOSSecurityBackend(fake_security(tmp_path))
    start = time.monotonic()
    assert_unavailable(lambda: backend.get("p"), "did not answer")
    assert time.monotonic() - start < 3


def test_after_a_timeout_later_calls_fail_at_once(tools, monkeypatch):
    # The store deletes the keyring copy after falling back to the file:
    # that must not wait for a second timeout.
    monkeypatch.setenv("BASETEN_KEYRING_TIMEOUT", "0.5")
    path = write_tool(tools, "secret-tool", HANG)
    backend = SecretToolBackend(path)
    first = assert_unavailable(lambda: backend.set("p", SECRET),
                               "did not answer")
    os.remove(path + ".pid")
    start = time.monotonic()
    assert assert_unavailable(lambda: backend.delete("p")) == first
    assert time.monotonic() - start < 0.2
    assert not os.path.exists(path + ".pid")  # the tool did not run again


@pytest.mark.parametrize(
    "value, expected",
    [("", 10.0), ("2.5", 2.5), ("0", 10.0), ("-1", 10.0), ("soon", 10.0),
     ("nan", 10.0), ("inf", 10.0)],
)
def test_the_timeout_comes_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("BASETEN_KEYRING_TIMEOUT", value)
    assert baseten_auth._keyring_timeout() == expected


def test_ctrl_c_during_a_call_leaves_no_tool_behind(tools, monkeypatch):
    path = write_tool(tools, "secret-tool", HANG)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with pytest.raises(KeyboardInterrupt):
            SecretToolBackend(path).get("p")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert_child_is_gone(path)


# -- a tool that fails --------------------------------------------------------


def test_a_secret_tool_error_is_reported_in_one_line(tools):
    path = write_tool(tools, "secret-tool",
                      'echo "secret-tool: Cannot autolaunch D-Bus" >&2\n'
                      'echo "usage: ..." >&2\nexit 1')
    assert_unavailable(lambda: SecretToolBackend(path).get("p"),
                       "secret-tool lookup failed (exit status 1)",
                       "Cannot autolaunch D-Bus")


def test_a_truncating_store_is_a_failure_and_is_undone(tools):
    # secret-tool stores the first 8192 bytes of a longer secret, exits 0.
    log = tools / "calls"
    path = write_tool(tools, "secret-tool",
                      'echo "$1" >> "%s"\n'
                      'cat > /dev/null\n'
                      '[ "$1" = store ] &&\n'
                      '  echo "secret-tool: password is too long" >&2\n'
                      'exit 0' % log)
    assert_unavailable(lambda: SecretToolBackend(path).set("p", SECRET),
                       "too long")
    assert log.read_text().split() == ["store", "clear"]


def test_python_keyring_errors_name_the_exception_only(tools):
    # An exception's message may quote the secret: show only its name.
    path = write_tool(tools, "keyring",
                      'echo "Traceback (most recent call last):" >&2\n'
                      'echo "keyring.errors.KeyringError: oops %s" >&2\n'
                      'exit 1' % SECRET)
    message = assert_unavailable(lambda: PythonKeyringBackend(path).get("p"),
                                 "keyring get failed (exit status 1): "
                                 "keyring.errors.KeyringError")
    assert "oops" not in message


def test_an_entry_python_keyring_cannot_decode_spoils_only_itself(tools):
    # keyring's UnicodeDecodeError quotes the bytes it could not decode.
    path = write_tool(tools, "keyring",
                      '[ "$1" = get ] || exit 0\n'
                      'echo "Traceback (most recent call last):" >&2\n'
                      'echo "UnicodeDecodeError: cannot decode %s" >&2\n'
                      'exit 1' % SECRET)
    backend = PythonKeyringBackend(path)
    message = assert_unavailable(lambda: backend.get("p"), "not UTF-8")
    assert "cannot decode" not in message
    assert backend.delete("p") is True  # the backend still works


def test_python_keyring_delete_of_a_missing_entry_is_false(tools):
    path = write_tool(tools, "keyring",
                      'echo "Traceback (most recent call last):" >&2\n'
                      'echo "keyring.errors.PasswordDeleteError: No such '
                      'password!" >&2\nexit 1')
    assert PythonKeyringBackend(path).delete("p") is False


def test_a_locked_macos_keychain_is_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_SECURITY_STATE", str(tmp_path / "state.json"))
    monkeypatch.setenv("FAKE_SECURITY_MODE", "locked")
    backend = MacOSSecurityBackend(fake_security(tmp_path))
    for call in all_calls(backend):
        assert_unavailable(call, "exit status 36", "locked")


def test_a_profile_name_with_a_line_break_is_refused_on_macos(tmp_path,
                                                               monkeypatch):
    monkeypatch.setenv("FAKE_SECURITY_STATE", str(tmp_path / "state.json"))
    backend = MacOSSecurityBackend(fake_security(tmp_path))
    assert_unavailable(lambda: backend.set("a\nb", SECRET), "line breaks")


# -- choosing a backend -------------------------------------------------------


def test_linux_prefers_secret_tool_inside_a_session(keyring_session, verbose,
                                                     capsys):
    backend = baseten_auth._keyring_backend("linux")
    assert isinstance(backend, SecretToolBackend)
    assert backend.path == shutil.which("secret-tool")
    err = capsys.readouterr().err
    assert "keyring: using secret-tool" in err
    assert "not using keyring: secret-tool comes first" in err
    assert "not using security: not used on linux" in err


def test_without_a_bus_linux_falls_back_to_python_keyring(no_bus, tools,
                                                          verbose, capsys):
    write_tool(tools, "secret-tool", "exit 0")
    write_tool(tools, "keyring", "exit 0")
    backend = baseten_auth._keyring_backend("linux")
    assert isinstance(backend, PythonKeyringBackend)
    err = capsys.readouterr().err
    assert "not using secret-tool: no D-Bus session bus" in err


def test_with_no_tool_there_is_no_backend(tools, verbose, capsys):
    assert baseten_auth._keyring_backend("linux") is None
    err = capsys.readouterr().err
    assert "not using secret-tool: secret-tool is not on PATH" in err
    assert "not using keyring: keyring is not on PATH" in err
    assert "no keyring backend" in err


def test_macos_prefers_security(tools, tmp_path, monkeypatch, verbose, capsys):
    write_tool(tools, "keyring", "exit 0")
    write_tool(tools, "secret-tool", "exit 0")
    security = write_tool(tmp_path, "security", "exit 0")
    monkeypatch.setattr(baseten_auth, "_SECURITY_PATH", security)
    backend = baseten_auth._keyring_backend("darwin")
    assert isinstance(backend, MacOSSecurityBackend)
    assert backend.path == security
    err = capsys.readouterr().err
    assert "not using secret-tool: not used on darwin" in err


def test_macos_without_security_uses_python_keyring(tools, tmp_path,
                                                     monkeypatch):
    write_tool(tools, "keyring", "exit 0")
    monkeypatch.setattr(baseten_auth, "_SECURITY_PATH", str(tmp_path / "none"))
    assert isinstance(baseten_auth._keyring_backend("darwin"),
                      PythonKeyringBackend)


def test_choosing_runs_nothing_and_is_cached(keyring_session, monkeypatch):
    import subprocess

    def no_subprocess(*args, **kwargs):
        raise AssertionError("a subprocess was started to choose a backend")

    with monkeypatch.context() as patch:
        patch.setattr(subprocess, "Popen", no_subprocess)
        first = baseten_auth._keyring_backend()
        assert first is not None
        patch.setenv("PATH", "")
        assert baseten_auth._keyring_backend() is first


def test_a_relative_path_entry_gives_an_absolute_tool_path(tmp_path,
                                                            monkeypatch):
    (tmp_path / "bin").mkdir()
    write_tool(tmp_path / "bin", "keyring", "exit 0")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "bin")
    backend = PythonKeyringBackend()
    backend.check()
    assert backend.path == str(tmp_path / "bin" / "keyring")
