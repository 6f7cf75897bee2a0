"""A private, unlocked Secret Service for the keyring tests.

Starts a dbus-daemon on a socket in a temp dir (its own configuration, no
service activation, so nothing else is ever spawned on it) and
`gnome-keyring-daemon --foreground --unlock --components=secrets` on that bus,
with a throwaway password and its XDG directories in the same temp dir. The
daemon creates a fresh "login" collection (the "default" alias), unlocked.
Nothing touches ~/.local/share/keyrings or a desktop session bus.

Use it as a context manager:

    with SecretService() as service:
        subprocess.run(["secret-tool", "lookup", ...], env=service.env())

or through the pytest fixtures below, imported into a test module:

    from secret_service import secret_service, keyring_session

`secret_service` is session-scoped (one daemon pair for the whole run);
`keyring_session` points the environment at it for one test and removes
every `baseten-profile` entry before and after the test.

Or run a command inside one: `python tests/secret_service.py CMD ARG...`.

Debian packages: gnome-keyring, libsecret-tools, dbus-daemon, dbus-bin. When
one is missing the fixtures skip with the reason, or fail under CI=true.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

try:
    import pytest
except ImportError:  # used as a plain script or context manager
    pytest = None

SERVICE = "baseten-profile"

# program -> the Debian package that provides it
PROGRAMS = {
    "dbus-daemon": "dbus-daemon",
    "dbus-send": "dbus-bin",
    "gnome-keyring-daemon": "gnome-keyring",
    "secret-tool": "libsecret-tools",
}

# A session bus that lets everyone send, receive (without the receive rule no
# reply is ever delivered) and own names, and has no <servicedir>: nothing
# is activated on it.
_BUS_CONFIG = """\
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class SecretServiceError(RuntimeError):
    """Raised when the private Secret Service cannot be started."""


def missing_packages() -> list:
    """Return the Debian packages whose programs are not on PATH."""
    return sorted({package for program, package in PROGRAMS.items()
                   if not shutil.which(program)})


def missing_reason() -> str | None:
    """Say what to install when the Secret Service cannot run here."""
    missing = missing_packages()
    if not missing:
        return None
    names = " ".join(missing)
    return (
        "the Secret Service tests need the Debian package(s) " + names
        + "; install with: apt-get install -y --no-install-recommends " + names
    )


class SecretService:
    """dbus-daemon + gnome-keyring-daemon in a temp dir, stopped on exit."""

    def __init__(self, timeout: float = 10.0, keyring: bool = True):
        self.timeout = timeout
        # keyring=False: only the bus, with nobody owning the Secret Service
        # name (and no activation), for the "no keyring daemon" case.
        self.keyring = keyring
        self.directory = None
        self.address = None
        self._procs = []
        self._watchdog = None

    def __repr__(self):
        return "<SecretService address=%r>" % (self.address,)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def env(self, base=None) -> dict:
        """Return an environment (default: os.environ) that uses this bus."""
        env = dict(os.environ if base is None else base)
        env["DBUS_SESSION_BUS_ADDRESS"] = self.address
        # secret-tool falls back to $XDG_RUNTIME_DIR/bus: keep it private too.
        env["XDG_RUNTIME_DIR"] = os.path.join(self.directory, "run")
        return env

    # -- start and stop -----------------------------------------------------

    def start(self) -> SecretService:
        """Start both daemons; return when the login collection is unlocked."""
        reason = missing_reason()
        if reason:
            raise SecretServiceError(reason)
        self.directory = _make_temp_dir()
        try:
            self._start_bus()
            if self.keyring:
                self._start_keyring()
            self._start_watchdog()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Stop the daemons (TERM, then KILL) and remove the temp dir."""
        if self._watchdog is not None:
            _terminate(self._watchdog)
            self._watchdog = None
        for proc in reversed(self._procs):
            _terminate(proc)
        self._procs = []
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def _start_bus(self):
        socket_path = os.path.join(self.directory, "bus")
        config = os.path.join(self.directory, "bus.conf")
        with open(config, "w", encoding="utf-8") as f:
            f.write(_BUS_CONFIG.format(socket=socket_path))
        self._spawn(
            ["dbus-daemon", "--config-file=" + config, "--nofork",
             "--nopidfile"],
            "dbus.log", env=dict(os.environ),
        )
        self.address = "unix:path=" + socket_path
        self._wait("dbus-daemon", lambda: os.path.exists(socket_path))

    def _start_keyring(self):
        env = self.env()
        env["XDG_DATA_HOME"] = os.path.join(self.directory, "data")
        env["XDG_CONFIG_HOME"] = os.path.join(self.directory, "config")
        # --unlock reads the new login keyring's password from stdin.
        password = ("throwaway-%d" % os.getpid()).encode()
        self._spawn(
            ["gnome-keyring-daemon", "--foreground", "--unlock",
             "--components=secrets"],
            "keyring.log", env=env, stdin=password,
        )
        self._wait("gnome-keyring-daemon", self.is_unlocked)

    def _start_watchdog(self):
        # If this process dies without cleaning up (SIGKILL), the watchdog
        # sees EOF on its stdin and stops the daemons and removes the dir.
        pids = " ".join(str(p.pid) for p in self._procs)
        script = 'read -r _; kill -TERM %s 2>/dev/null; rm -rf "$1"' % pids
        self._watchdog = subprocess.Popen(
            ["sh", "-c", script, "sh", self.directory],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )

    def _spawn(self, argv, log_name, env=None, stdin=None):
        log_path = os.path.join(self.directory, log_name)
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=log, stderr=log,
                env=env, start_new_session=True,
            )
        self._procs.append(proc)
        if stdin is not None:
            proc.stdin.write(stdin)
        proc.stdin.close()

    def _wait(self, what, ready):
        deadline = time.monotonic() + self.timeout
        while not ready():
            if self._procs[-1].poll() is not None:
                raise SecretServiceError(what + " exited at start"
                                         + self._logs())
            if time.monotonic() > deadline:
                raise SecretServiceError(what + " did not come up"
                                         + self._logs())
            time.sleep(0.01)

    def _logs(self):
        text = ""
        for name in ("dbus.log", "keyring.log"):
            path = os.path.join(self.directory, name)
            if os.path.exists(path):
                with open(path, encoding="utf-8", errors="replace") as f:
                    text += "\n%s:\n%s" % (name, f.read())
        return text

    # -- queries over D-Bus --------------------------------------------------

    def _dbus_send(self, dest, path, method, *args):
        argv = ["dbus-send", "--session", "--print-reply",
                "--reply-timeout=2000", "--dest=" + dest, path, method]
        result = subprocess.run(
            argv + list(args), stdin=subprocess.DEVNULL, capture_output=True,
            env=self.env(), timeout=5,
        )
        return result.stdout.decode() if result.returncode == 0 else ""

    def _default_collection(self):
        reply = self._dbus_send(
            "org.freedesktop.secrets", "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.ReadAlias", "string:default",
        )
        # The reply line is: object path "/org/freedesktop/secrets/..."
        _, _, rest = reply.partition('object path "')
        path = rest.partition('"')[0]
        return path if path not in ("", "/") else None

    def is_unlocked(self) -> bool:
        """Tell whether the default collection exists and is unlocked."""
        collection = self._default_collection()
        if collection is None:
            return False
        reply = self._dbus_send(
            "org.freedesktop.secrets", collection,
            "org.freedesktop.DBus.Properties.Get",
            "string:org.freedesktop.Secret.Collection", "string:Locked",
        )
        return "boolean false" in reply

    def lock(self):
        """Lock the default collection; nothing can unlock it headless."""
        collection = self._default_collection()
        self._dbus_send(
            "org.freedesktop.secrets", "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            "array:objpath:" + collection,
        )

    # -- entries -------------------------------------------------------------

    def secret_tool(self, *args, input=b"") -> subprocess.CompletedProcess:
        """Run secret-tool on this bus (UTF-8 locale); return the result."""
        env = self.env()
        env["LC_ALL"] = "C.UTF-8"
        return subprocess.run(
            ["secret-tool"] + list(args), input=input, capture_output=True,
            env=env, timeout=30,
        )

    def clear(self, service=SERVICE):
        """Remove every item whose `service` attribute is `service`."""
        self.secret_tool("clear", "service", service)

    def items(self, service=SERVICE) -> list:
        """Return [(label, {attribute: value})] of the items of `service`."""
        result = self.secret_tool("search", "--all", "service", service)
        return _parse_search(result.stdout.decode(), result.stderr.decode())


def _parse_search(stdout, stderr):
    # `secret-tool search` prints "[/path]" and "label = ..." on stdout and
    # the "attribute.K = V" lines on stderr, each item's in the same order.
    labels = [line.split(" = ", 1)[1] for line in stdout.splitlines()
              if line.startswith("label = ")]
    attributes = []
    for line in stderr.splitlines():
        if not line.startswith("attribute."):
            continue
        key, _, value = line[len("attribute."):].partition(" = ")
        if key == "service" or not attributes or key in attributes[-1]:
            attributes.append({})
        attributes[-1][key] = value
    return list(zip(labels, attributes))


def _make_temp_dir():
    # A unix socket path must stay under about 100 bytes.
    base = tempfile.gettempdir()
    if len(base) > 60:
        base = "/tmp"
    path = tempfile.mkdtemp(prefix="secret-service-", dir=base)
    for sub in ("run", "data", "config"):
        os.mkdir(os.path.join(path, sub), 0o700)
    return path


def _terminate(proc):
    """Stop a process we started: TERM, up to 2 s, then KILL; reap it."""
    if proc.stdin:
        proc.stdin.close()
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- pytest fixtures ---------------------------------------------------------

_shared = {"service": None, "users": 0}


def _unavailable(reason):
    # Under CI a missing Secret Service is a broken setup, not a skip.
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


if pytest is not None:

    @pytest.fixture(scope="session")
    def secret_service():
        """One private Secret Service for the whole run (shared by modules)."""
        reason = missing_reason()
        if reason:
            _unavailable(reason)
        if _shared["service"] is None:
            _shared["service"] = SecretService().start()
        _shared["users"] += 1
        try:
            yield _shared["service"]
        finally:
            _shared["users"] -= 1
            if _shared["users"] == 0:
                _shared["service"].stop()
                _shared["service"] = None

    @pytest.fixture
    def keyring_session(secret_service, monkeypatch):
        """Point os.environ at the private service; clear entries around."""
        for key, value in secret_service.env({}).items():
            monkeypatch.setenv(key, value)
        secret_service.clear()
        yield secret_service
        secret_service.clear()


def main(argv):
    """Run a command inside a private Secret Service; exit with its status."""
    if not argv:
        sys.exit("usage: secret_service.py COMMAND [ARG...]")
    try:
        with SecretService() as service:
            return subprocess.call(argv, env=service.env())
    except SecretServiceError as e:
        sys.stderr.write("secret_service.py: %s\n" % e)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
