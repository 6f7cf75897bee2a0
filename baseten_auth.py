"""baseten_auth: `baseten auth` (login, logout, switch, status) in one file.

A dependency-free Python implementation of the Baseten CLI's `auth` commands,
for minimal containers, vendoring and air-gapped machines. It reads and writes
the same `auth.json` and keyring entries as the official CLI, so the two can
be used side by side.

    python baseten_auth.py auth login --with-api-key --profile ci < key.txt
    python baseten_auth.py auth status -o json
    python baseten_auth.py auth token

Contents (each section uses only those above it):
    Constants
    Errors
    Utilities
    Remote URLs
    Auth file
    Keyring
    Store
    HTTP
    Device flow
    jq
    Output
    Commands
    Library API
    CLI

Design notes:
- Start-up matters (`auth status` runs in shell prompts and scripts), so only
  os, sys, json and argparse are imported at the top; urllib, subprocess,
  getpass and friends are imported by the code paths that need them. The jq
  engine, the largest part of the file, is kept as source text in a string
  and compiled on first use: `python baseten_auth.py` compiles the whole file
  on every run, and compiling code costs about 20 times more than reading a
  string of the same size.
- Secrets (API keys, access and refresh tokens, device codes) never reach
  argv, a log line, an error message or a traceback. Keyring tools get them
  on stdin.
- Errors are raised as `BasetenAuthError` subclasses that carry the exit code
  and reported once, by `main()`, as one line on stderr.
"""

from __future__ import annotations

import json
import os
import sys

__version__ = "0.1.0"


##############################################################################
# Constants
##############################################################################

DEFAULT_REMOTE_URL = "https://app.baseten.co"
CLIENT_ID = "baseten-cli"
KEYRING_SERVICE = "baseten-profile"
AUTH_FILE_NAME = "auth.json"
AUTH_FILE_VERSION = 1
AUTH_TYPES = ("api_key", "oauth")
OUTPUT_FORMATS = ("text", "json", "jsonl", "none")

#: Seconds before expiry at which an access token is refreshed anyway.
REFRESH_MARGIN = 10
#: Connect and read timeout of every HTTP request, in seconds.
HTTP_TIMEOUT = 30
#: Largest response body read from the server, in bytes.
HTTP_MAX_BODY = 1 << 20
#: Largest auth file read; a larger one is reported, not parsed.
AUTH_FILE_MAX_BYTES = 16 << 20
#: Go's zero time, written by the official CLI for "expiry unknown".
ZERO_TIME = "0001-01-01T00:00:00Z"

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_REJECTED = 5
EXIT_SERVER = 6
EXIT_INTERRUPTED = 130

ENV_PROFILE = "BASETEN_PROFILE"
ENV_API_KEY = "BASETEN_API_KEY"
ENV_REMOTE_URL = "BASETEN_REMOTE_URL"
ENV_CONFIG_DIR = "BASETEN_CONFIG_DIR"
ENV_MANAGEMENT_URL = "BASETEN_MANAGEMENT_API_URL_OVERRIDE"


##############################################################################
# Errors
##############################################################################


class BasetenAuthError(Exception):
    """Raised for any failure reported to the user; carries the exit code."""

    exit_code = EXIT_FAILURE


class UsageError(BasetenAuthError):
    """Raised when flags, arguments or input are wrong or missing."""

    exit_code = EXIT_USAGE


class ProfileError(BasetenAuthError):
    """Raised when a profile is missing or nothing is logged in."""


class AuthFileError(BasetenAuthError):
    """Raised when the auth file or config directory cannot be used."""


class AuthRejectedError(BasetenAuthError):
    """Raised when the server rejects a credential (401, 403, invalid grant)."""

    exit_code = EXIT_AUTH


class NotFoundError(BasetenAuthError):
    """Raised when the server answers 404."""

    exit_code = EXIT_NOT_FOUND


class RequestRejectedError(BasetenAuthError):
    """Raised when the server rejects a request with another 4xx status."""

    exit_code = EXIT_REJECTED


class ServerError(BasetenAuthError):
    """Raised when the server fails (5xx) or answers something unreadable."""

    exit_code = EXIT_SERVER


class NetworkError(BasetenAuthError):
    """Raised when the server cannot be reached or does not answer in time."""


##############################################################################
# Utilities
##############################################################################

_verbose = False


def _debug(message, *args):
    """Write a debug line to stderr under --verbose; never give it a secret."""
    if _verbose:
        _write_stderr("debug: " + (message % args if args else message))


def _warn(message):
    """Write one `warning: ` line to stderr."""
    _write_stderr("warning: " + message)


def _write_stderr(line):
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # a closed stderr must not turn a result into a traceback


def _clean(text) -> str:
    """Neutralise control characters and escape sequences in server text."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else "\\x%02x" % ord(c)
                   if ord(c) < 0x100 else "\\u%04x" % ord(c) for c in text)


def _redact(text, secrets) -> str:
    """Replace every secret in text by `***`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _now() -> float:
    """The current time; tests replace it through the module global."""
    import time

    return time.time()


def _parse_time(value):
    """Parse an RFC 3339 time (nanoseconds and offsets allowed) to epoch
    seconds; None for a missing value or Go's zero time ("unknown")."""
    import re
    from datetime import datetime, timedelta, timezone

    if not value or not isinstance(value, str) or value.startswith("0001-01-01"):
        return None
    match = re.match(
        r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?"
        r"(?:([Zz])|([+-])(\d\d):(\d\d))$", value)
    if not match:
        return None
    y, mo, d, h, mi, s, frac, zulu, sign, oh, om = match.groups()
    offset = timedelta(0)
    if not zulu:
        offset = timedelta(hours=int(oh), minutes=int(om))
        offset = -offset if sign == "-" else offset
    try:
        moment = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s),
                          tzinfo=timezone(offset))
    except ValueError:
        return None
    return moment.timestamp() + (float("0." + frac) if frac else 0.0)


def _format_time(epoch) -> str:
    """Format epoch seconds as RFC 3339 in UTC, as the official CLI does."""
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (OSError, ValueError):
        return False


def _check_profile_name(name) -> str:
    """Refuse profile names that cannot round-trip through files and keyrings."""
    if not name or not name.strip():
        raise UsageError("a profile name cannot be empty")
    if not name.isprintable():
        raise UsageError("profile name %r has control characters" % name)
    if name.startswith("-"):
        # Keyring tools would read it as an option.
        raise UsageError("profile name %r starts with '-'" % name)
    if len(name) > 256:
        raise UsageError("profile name is longer than 256 characters")
    return name


##############################################################################
# Remote URLs
##############################################################################


def _parse_base_url(value, what):
    """Check a `scheme://host[:port]` URL; return (scheme, host, port).

    Anything with user info, a path, a query or a fragment is a usage error
    naming the value; a lone trailing slash is dropped.
    """
    import re

    match = re.match(
        r"(https?)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%-]+)(?::(\d{1,5}))?/?$",
        value or "")
    if not match or (match.group(3) and not 0 < int(match.group(3)) < 65536):
        raise UsageError(
            "invalid %s %r: expected http(s)://host[:port] with no path, "
            "query or user info" % (what, _clean(value)))
    scheme, host, port = match.group(1), match.group(2).lower(), match.group(3)
    if scheme == "http" and not _is_loopback(host):
        raise UsageError(
            "invalid %s %r: plain http is allowed only for localhost; "
            "use https" % (what, _clean(value)))
    return scheme, host, port


def _is_loopback(host) -> bool:
    host = host.strip("[]").lower()
    if host in ("localhost", "::1") or host.endswith(".localhost"):
        return True
    parts = host.split(".")
    return (len(parts) == 4 and parts[0] == "127"
            and all(p.isdigit() and int(p) < 256 for p in parts))


def _is_ip_or_localhost(host) -> bool:
    host = host.strip("[]")
    return (":" in host or host == "localhost"
            or all(p.isdigit() for p in host.split(".")))


def normalize_remote_url(value, what="remote URL") -> str:
    """Validate a remote URL and return it without a trailing slash."""
    scheme, host, port = _parse_base_url(value, what)
    if port and int(port) == (443 if scheme == "https" else 80):
        port = None  # https://app.baseten.co:443 is the default remote
    return "%s://%s%s" % (scheme, host, ":" + port if port else "")


def management_url(remote_url) -> str:
    """The management API base for a remote URL (SPEC section 3)."""
    override = os.environ.get(ENV_MANAGEMENT_URL)
    if override:
        return normalize_remote_url(override, ENV_MANAGEMENT_URL)
    scheme, host, port = _parse_base_url(remote_url, "remote URL")
    if not _is_ip_or_localhost(host):
        host = "api." + (host[4:] if host.startswith("app.") else host)
    return "%s://%s%s" % (scheme, host, ":" + port if port else "")


def _remote_host(remote_url) -> str:
    """The remote's host without `app.` and port, for profile names."""
    host = _parse_base_url(remote_url, "remote URL")[1]
    return host[4:] if host.startswith("app.") else host


##############################################################################
# Auth file
##############################################################################


def config_dir():
    """The config directory, or None where there is none (no home)."""
    explicit = os.environ.get(ENV_CONFIG_DIR)
    if explicit:
        return os.path.abspath(explicit)
    if sys.platform == "win32":
        base = os.environ.get("APPDATA")
        return os.path.join(base, "baseten") if base else None
    home = _home_dir()
    if sys.platform == "darwin":
        return home and os.path.join(home, "Library", "Application Support",
                                     "baseten")
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    if os.path.isabs(xdg):
        return os.path.join(xdg, "baseten")
    return home and os.path.join(home, ".config", "baseten")


def _home_dir():
    """$HOME, or None. Like Go's os.UserConfigDir (the official CLI), the
    passwd entry is not consulted: with HOME unset both tools agree that
    there is no config directory unless BASETEN_CONFIG_DIR names one."""
    home = os.environ.get("HOME")
    return home if home and os.path.isabs(home) else None


def _require_config_dir() -> str:
    path = config_dir()
    if not path:
        raise AuthFileError(
            "no config directory: there is no home directory; set %s to a "
            "writable directory (or use %s for a single command)"
            % (ENV_CONFIG_DIR, ENV_API_KEY))
    return path


def auth_file_path():
    """The path of auth.json, or None where there is no config directory."""
    directory = config_dir()
    return directory and os.path.join(directory, AUTH_FILE_NAME)


def _empty_auth_data() -> dict:
    return {"version": AUTH_FILE_VERSION, "current": "", "profiles": {}}


def _load_auth_file(path) -> dict:
    """Read auth.json; a missing or empty file is an empty store."""
    try:
        with open(path, "rb") as f:
            _warn_if_exposed(path, os.fstat(f.fileno()))
            raw = f.read(AUTH_FILE_MAX_BYTES + 1)
    except FileNotFoundError:
        return _empty_auth_data()
    except IsADirectoryError:
        raise AuthFileError("cannot read %s: it is a directory" % path) from None
    except OSError as e:
        raise AuthFileError("cannot read %s: %s" % (path, e.strerror)) from None
    if len(raw) > AUTH_FILE_MAX_BYTES:
        raise AuthFileError("%s is larger than %d MiB; it cannot be an auth "
                            "file" % (path, AUTH_FILE_MAX_BYTES >> 20))
    if not raw.strip():
        return _empty_auth_data()
    return _decode_auth_data(raw, path)


def _warn_if_exposed(path, status):
    """Warn once when others may read the auth file (like netrc, but a
    warning: the next write makes it 0600 again)."""
    if sys.platform != "win32" and status.st_mode & 0o077 and path not in _warned:
        _warned.add(path)
        _warn("%s is readable by other users (mode %04o); it is made 0600 "
              "on the next change" % (path, status.st_mode & 0o777))


_warned = set()


def _decode_auth_data(raw, path) -> dict:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise AuthFileError(
            "%s is not valid JSON (%s); fix or remove it"
            % (path, str(e).split(":")[0])) from None
    except RecursionError:
        raise AuthFileError("%s is nested too deeply to be an auth file; fix "
                            "or remove it" % path) from None
    if not isinstance(data, dict):
        raise AuthFileError("%s is not a JSON object; fix or remove it" % path)
    profiles = data.setdefault("profiles", {})
    if not isinstance(profiles, dict) or not all(
            isinstance(p, dict) for p in profiles.values()):
        raise AuthFileError("%s: \"profiles\" is not an object of objects; "
                            "fix or remove it" % path)
    if not isinstance(data.get("current", ""), str):
        raise AuthFileError("%s: \"current\" is not a string" % path)
    return data


def _write_auth_file(path, data):
    """Replace auth.json atomically: a 0600 temp file, fsync, rename.

    A symbolic link is followed: the file it points to is replaced, and
    the link stays.
    """
    path = os.path.realpath(path)
    directory = os.path.dirname(path)
    _make_private_dir(directory)
    content = (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()
    temp = "%s.%d.%s.tmp" % (path, os.getpid(), os.urandom(4).hex())
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _write_all(fd, content)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
        _debug("wrote %s (via %s)", path, os.path.basename(temp))
    except OSError as e:
        raise AuthFileError("cannot write %s: %s" % (path, e.strerror)) from None
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    _fsync_dir(directory)
    _remove_stale_temp_files(path)


def _remove_stale_temp_files(path):
    """Remove temp files of writers that were killed mid-write."""
    if sys.platform == "win32":
        return  # os.kill(pid, 0) would terminate the process there
    directory, prefix = os.path.split(path)
    try:
        names = [n for n in os.listdir(directory)
                 if n.startswith(prefix + ".") and n.endswith(".tmp")]
    except OSError:
        return
    for name in names:
        pid = name[len(prefix) + 1:].split(".")[0]
        if pid.isdigit() and not _process_exists(int(pid)):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def _process_exists(pid) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError, OverflowError):
        return True  # not ours to judge (another user's, or Windows)
    return True


def _write_all(fd, content):
    view = memoryview(content)
    while view:
        view = view[os.write(fd, view):]


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # Windows cannot open directories; the rename is enough there
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _make_private_dir(directory):
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as e:
        raise AuthFileError("cannot create %s: %s" % (directory, e.strerror)) from None


class _AuthFileLock:
    """An exclusive lock around a read-modify-write of auth.json.

    The lock is a separate file (`auth.json.lock`), so that readers never
    wait and the atomic rename of auth.json does not drop it. It is
    reentrant: a refresh holds it while it saves the new token pair. With
    `optional`, a lock file that cannot be created (a read-only config
    directory) is skipped: nothing can be written there anyway.
    """

    def __init__(self, path):
        self.path = path + ".lock"
        self.fd = None
        self.depth = 0
        self.optional = False

    def __enter__(self):
        self.depth += 1
        if self.depth == 1:
            self._acquire()
        return self

    def __exit__(self, *exc_info):
        self.depth -= 1
        if self.depth == 0 and self.fd is not None:
            os.close(self.fd)  # closing releases the lock on every platform
            self.fd = None

    def _acquire(self):
        try:
            _make_private_dir(os.path.dirname(self.path))
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except (OSError, AuthFileError) as e:
            if self.optional:
                _debug("no lock (%s): the config directory is read-only", e)
                return
            self.depth -= 1
            raise AuthFileError("cannot lock %s: %s" % (
                self.path, getattr(e, "strerror", None) or e)) from None
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(self.fd, msvcrt.LK_LOCK, 1)
        else:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_EX)


##############################################################################
# Keyring
##############################################################################

# === BEGIN KEYRING ===
# Secrets go to the system keyring by running a tool that is already there,
# so the module needs no third-party package:
#
#   SecretToolBackend     `secret-tool` (libsecret; Linux and BSD)
#   PythonKeyringBackend  the `keyring` command of the Python keyring package
#   MacOSSecurityBackend  `/usr/bin/security` (macOS)
#
# The entries are the official CLI's (go-keyring): service "baseten-profile",
# account = profile name; on the Secret Service the attributes `service` and
# `username` and the label "Password for 'PROFILE' on 'baseten-profile'"; on
# macOS the value "go-keyring-base64:" + base64. Either tool reads the
# other's entries.
#
# Rules for every call: the secret travels on stdin, never in argv (readable
# by every user in /proc) or the environment; stdin is always given, so no
# tool can prompt on an inherited terminal; the child runs in a new session
# (no controlling tty, and its whole process group is killed on timeout);
# and every call has a timeout, because a keyring waiting on an unlock
# dialog, a wedged daemon or a D-Bus activation that never answers blocks
# the tools for 25 s, 50 s, 120 s or forever.

KEYRING_TIMEOUT_ENV = "BASETEN_KEYRING_TIMEOUT"
_KEYRING_DEFAULT_TIMEOUT = 10.0

# secret-tool silently stores only the first 8192 bytes of a longer secret
# (and exits 0), so longer ones are refused before the call.
_SECRET_TOOL_MAX_BYTES = 8191

# `security -i` cuts input lines at 4095 bytes and runs the rest as another
# command: the whole add command, newline included, must fit.
_SECURITY_MAX_LINE = 4095

# Where macOS keeps the tool; go-keyring runs it by this absolute path too.
_SECURITY_PATH = "/usr/bin/security"

# Exit statuses of macOS `security` (the OSStatus & 0xFF).
_SECURITY_NOT_FOUND = 44  # errSecItemNotFound
_SECURITY_STATUS = {
    36: "the keychain is locked and cannot ask for the password here",
    45: "a duplicate item exists",
    2: "usage error",
}


class KeyringUnavailable(Exception):
    """Raised when a keyring backend cannot be used."""


def _keyring_timeout() -> float:
    """Return the per-call timeout: BASETEN_KEYRING_TIMEOUT, else 10 s."""
    value = os.environ.get(KEYRING_TIMEOUT_ENV, "")
    if value:
        try:
            seconds = float(value)
        except ValueError:
            seconds = 0.0
        if 0 < seconds < float("inf"):  # also false for NaN
            return seconds
        _debug("ignoring %s=%r: not a positive number of seconds",
               KEYRING_TIMEOUT_ENV, value)
    return _KEYRING_DEFAULT_TIMEOUT


def _keyring_bytes(secret: str) -> bytes:
    if not isinstance(secret, str):
        raise TypeError("a secret must be a str")
    try:
        return secret.encode("utf-8")
    except UnicodeEncodeError:
        raise KeyringUnavailable("the secret is not valid text") from None


def _keyring_text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyringUnavailable(what + " is not UTF-8 text") from None


def _decode_go_keyring(value: str) -> str:
    """Undo go-keyring's macOS encodings; other values are returned as is."""
    if value.startswith("go-keyring-base64:"):
        import base64

        data = value[len("go-keyring-base64:"):]
        try:
            return base64.b64decode(data, validate=True).decode("utf-8")
        except ValueError:  # binascii.Error, UnicodeDecodeError
            pass
    elif value.startswith("go-keyring-encoded:"):
        data = value[len("go-keyring-encoded:"):]
        try:
            return bytes.fromhex(data).decode("utf-8")
        except ValueError:
            pass
    else:
        return value
    _debug("keyring: a value with a go-keyring prefix does not decode; "
           "using it as it is")
    return value


def _keyring_kill(proc):
    """Kill a timed-out tool and everything it started, then reap it."""
    import signal

    try:
        # start_new_session made the tool a process-group leader; its
        # children (a pyenv shim's python, a shell's sleep) die with it and
        # release the pipes. Windows has no process groups to kill.
        os.killpg(proc.pid, signal.SIGKILL)
    except (AttributeError, OSError):
        proc.kill()
    proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe:
            pipe.close()


def _run_keyring_tool(argv, stdin=b"", env=None):
    """Run a keyring tool; return (exit status, stdout, stderr) as bytes.

    Raise KeyringUnavailable when it cannot be started or does not finish
    within the timeout. `stdin` may hold the secret: it is never logged.
    """
    import subprocess
    import time

    timeout = _keyring_timeout()
    name = os.path.basename(argv[0])
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env, start_new_session=True,
        )
    except (OSError, ValueError) as e:
        _debug("keyring: cannot run %s: %s", argv, e)
        reason = getattr(e, "strerror", None) or "invalid argument"
        raise KeyringUnavailable("cannot run %s: %s"
                                 % (name, reason)) from None
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _keyring_kill(proc)
        _debug("keyring: %s timed out after %.3f s", argv,
               time.monotonic() - start)
        raise KeyringUnavailable(
            "%s did not answer within %g s (a locked keyring waiting for a "
            "password, or no keyring daemon?); set %s to wait longer"
            % (name, timeout, KEYRING_TIMEOUT_ENV)
        ) from None
    except BaseException:
        _keyring_kill(proc)  # Ctrl-C: do not leave the tool behind
        raise
    _debug("keyring: %s exited %d in %.3f s", argv, proc.returncode,
           time.monotonic() - start)
    return proc.returncode, out, err


def _keyring_first_line(data: bytes) -> str:
    """The first line of a tool's stderr, for messages (not for the secret)."""
    text = data.decode("utf-8", "replace").strip()
    return text.splitlines()[0][:200] if text else ""


class KeyringBackend:
    """A system keyring reached through a command-line tool.

    get() returns None when the profile has no entry; delete() returns
    whether something was deleted. All three raise KeyringUnavailable when
    the keyring cannot be used (missing tool, no bus, locked, timed out,
    failed); the message says why and never holds the secret.
    """

    name = ""
    program = ""

    def __init__(self, path: str | None = None):
        self.path = path
        # Why the keyring stopped working in this process, if it did: later
        # calls fail at once instead of waiting for another timeout.
        self._broken = None

    def __repr__(self):
        return "<%s path=%r>" % (type(self).__name__, self.path)

    def check(self):
        """Raise KeyringUnavailable, cheaply, if the backend cannot work."""
        self._tool()

    def _tool(self) -> str:
        """The tool's absolute path; a relative PATH entry must not matter."""
        if self.path is None:
            import shutil

            found = shutil.which(self.program)
            if not found:
                raise KeyringUnavailable(self.program + " is not on PATH")
            self.path = os.path.abspath(found)
        elif not os.access(self.path, os.X_OK) or os.path.isdir(self.path):
            raise KeyringUnavailable(self.path + " is not an executable file")
        return self.path

    def get(self, profile: str) -> str | None:
        """Return the secret of a profile, or None when there is none."""
        raise NotImplementedError

    def set(self, profile: str, secret: str) -> None:
        """Store the secret of a profile, replacing any previous one."""
        raise NotImplementedError

    def delete(self, profile: str) -> bool:
        """Remove the secret of a profile; tell whether there was one."""
        raise NotImplementedError

    def _env(self) -> dict | None:
        """The tool's environment; None means os.environ as it is."""
        return None

    def _run(self, args, stdin=b""):
        """Run the tool with `args`; see _run_keyring_tool."""
        if self._broken:
            raise KeyringUnavailable(self._broken)
        try:
            return _run_keyring_tool([self._tool()] + args, stdin, self._env())
        except KeyringUnavailable as e:
            raise self._give_up(str(e)) from None

    def _give_up(self, message) -> KeyringUnavailable:
        """Remember that the keyring does not work here; return the error."""
        self._broken = message
        return KeyringUnavailable(message)

    def _failure(self, action, rc, err=b"", detail=None) -> KeyringUnavailable:
        reason = detail if detail is not None else _keyring_first_line(err)
        message = "%s %s failed (exit status %d)" % (self.name, action, rc)
        return self._give_up(message + (": " + reason if reason else ""))


class SecretToolBackend(KeyringBackend):
    """The Secret Service (GNOME Keyring, KWallet...) through secret-tool."""

    name = "secret-tool"
    program = "secret-tool"

    def check(self):
        """Fail when secret-tool is missing or there is no D-Bus session."""
        super().check()
        reason = _no_session_bus()
        if reason:
            raise KeyringUnavailable(reason)

    def _env(self):
        # A UTF-8 locale: under C/POSIX secret-tool rejects any non-ASCII
        # argument (a profile named "jösé"), and its messages are English.
        return dict(os.environ, LC_ALL="C.UTF-8")

    def _attributes(self, profile):
        # "--": a profile name may start with "-" (it is not an option).
        return ["--", "service", KEYRING_SERVICE, "username", profile]

    def get(self, profile):
        rc, out, err = self._run(["lookup"] + self._attributes(profile))
        if rc == 0:
            # The exact bytes: secret-tool adds a newline only on a tty.
            value = _keyring_text(out, "the keyring entry of " + repr(profile))
            return _decode_go_keyring(value)
        if rc == 1 and not err.strip():
            self._raise_if_locked(profile, "lookup")
            return None
        raise self._failure("lookup", rc, err)

    def set(self, profile, secret):
        data = _keyring_bytes(secret)
        if len(data) > _SECRET_TOOL_MAX_BYTES:
            raise KeyringUnavailable(
                "the secret is too long for secret-tool (%d bytes, at most %d)"
                % (len(data), _SECRET_TOOL_MAX_BYTES))
        label = "Password for '%s' on '%s'" % (profile, KEYRING_SERVICE)
        args = ["store", "--label=" + label] + self._attributes(profile)
        rc, _, err = self._run(args, data)
        if rc != 0:
            raise self._failure("store", rc, err)
        if b"too long" in err:
            # It stored a truncated secret and still exited 0: undo that.
            self._run(["clear"] + self._attributes(profile))
            raise KeyringUnavailable("secret-tool store failed: "
                                     + _keyring_first_line(err))

    def delete(self, profile):
        # `clear` removes every matching item, duplicates included.
        rc, _, err = self._run(["clear"] + self._attributes(profile))
        if rc == 0:
            return True
        if rc == 1 and not err.strip():
            self._raise_if_locked(profile, "clear")
            return False
        raise self._failure("clear", rc, err)

    def _raise_if_locked(self, profile, action):
        # lookup and clear exit 1 silently both when nothing matches and when
        # the collection is locked (the unlock prompt was dismissed).
        # `search` lists a locked item without its secret, so it tells them
        # apart. Its output may hold a secret, so it is only tested, never
        # shown.
        rc, out, _ = self._run(["search"] + self._attributes(profile))
        if rc == 0 and out.lstrip().startswith(b"[/"):
            raise self._give_up(
                "secret-tool %s failed: the keyring is locked" % action)


def _no_session_bus() -> str | None:
    """Say why there is no D-Bus session bus, or None if there may be one.

    Only looks at the environment and the file system: starting a tool to
    ask costs more than the call it would save.
    """
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
    if not address:
        # GDBus (secret-tool) also finds a bus at $XDG_RUNTIME_DIR/bus.
        runtime_dir = os.environ.get("XDG_RUNTIME_DIR", "")
        if runtime_dir and _keyring_is_socket(runtime_dir + "/bus"):
            return None
        return ("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset and "
                "there is no $XDG_RUNTIME_DIR/bus)")
    # An address is a ;-separated list of alternatives. When every one is a
    # unix:path= socket that does not exist, no tool can connect.
    paths = []
    for alternative in address.split(";"):
        transport, _, params = alternative.partition(":")
        options = dict(p.partition("=")[::2] for p in params.split(","))
        if transport != "unix" or "path" not in options:
            return None
        paths.append(_dbus_unescape(options["path"]))
    if any(_keyring_is_socket(path) for path in paths):
        return None
    return "no D-Bus session bus (no socket at %s)" % ", ".join(paths)


def _dbus_unescape(value: str) -> str:
    """Undo the %XX escapes of a D-Bus address value."""
    if "%" not in value:
        return value
    import urllib.parse  # small: does not load urllib.request

    return urllib.parse.unquote(value)


def _keyring_is_socket(path: str) -> bool:
    import stat

    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


class PythonKeyringBackend(KeyringBackend):
    """Whatever backend the Python `keyring` command is configured to use."""

    name = "keyring"
    program = "keyring"

    # A `keyring set` over an item without its `application` attribute
    # (written by secret-tool or go-keyring) adds a second item, and readers
    # keep seeing the old one; deleting first avoids that. Bounded, in case
    # a backend reports success without deleting.
    _MAX_DELETES = 10

    def _env(self):
        # UTF-8 on the tool's stdin and stdout, whatever the user's locale.
        return dict(os.environ, PYTHONIOENCODING="utf-8")

    def get(self, profile):
        rc, out, err = self._run(["get", "--", KEYRING_SERVICE, profile])
        if rc == 0:
            value = _keyring_text(out, "the keyring entry of " + repr(profile))
            # print() added exactly one newline.
            if value.endswith("\n"):
                value = value[:-1]
            return _decode_go_keyring(value)
        if rc == 1 and not err.strip():
            return None
        name = _keyring_exception_name(err)
        if name == "UnicodeDecodeError":
            # A problem of this entry, not of the keyring: other calls work.
            raise KeyringUnavailable("the keyring entry of %r is not UTF-8 "
                                     "text" % profile)
        raise self._failure("get", rc, detail=name)

    def set(self, profile, secret):
        data = _keyring_bytes(secret)
        if not data:
            # With nothing to read, `keyring set` falls back to a password
            # prompt, which fails without a terminal.
            raise KeyringUnavailable("keyring cannot store an empty secret")
        for _ in range(self._MAX_DELETES):
            if not self.delete(profile):
                break
        # `keyring set` strips one trailing newline: add one, so a secret
        # that ends with a newline keeps it.
        rc, _, err = self._run(["set", "--", KEYRING_SERVICE, profile],
                                data + b"\n")
        if rc != 0:
            raise self._failure("set", rc, detail=_keyring_exception_name(err))

    def delete(self, profile):
        rc, _, err = self._run(["del", "--", KEYRING_SERVICE, profile])
        if rc == 0:
            return True
        name = _keyring_exception_name(err)
        if rc == 1 and name.endswith("PasswordDeleteError"):
            return False
        raise self._failure("del", rc, detail=name)


def _keyring_exception_name(err: bytes) -> str:
    """The exception class that ended a Python traceback, or "".

    Only the name: an exception's message may quote the secret (a
    UnicodeDecodeError shows the bytes it could not decode).
    """
    lines = err.decode("utf-8", "replace").strip().splitlines()
    if not lines:
        return ""
    head = lines[-1].split(":", 1)[0].strip()
    if head and all(part.isidentifier() for part in head.split(".")):
        return head
    return ""


class MacOSSecurityBackend(KeyringBackend):
    """The macOS login keychain through /usr/bin/security, as go-keyring."""

    name = "security"
    program = "security"

    def __init__(self, path: str | None = None):
        super().__init__(path or _SECURITY_PATH)

    def get(self, profile):
        args = ["find-generic-password", "-s", KEYRING_SERVICE, "-wa", profile]
        rc, out, err = self._run(args)
        if rc == 0:
            value = _keyring_text(out, "the keychain item of " + repr(profile))
            # -w always adds a newline.
            if value.endswith("\n"):
                value = value[:-1]
            return _decode_go_keyring(value)
        if rc == _SECURITY_NOT_FOUND:
            return None
        raise self._failure("find-generic-password", rc, err,
                            _SECURITY_STATUS.get(rc))

    def set(self, profile, secret):
        import base64

        # `-w VALUE` on the command line would expose the secret in argv, so
        # the command goes on stdin of `security -i`, as go-keyring does.
        # The base64 form keeps `-w` output printable (security prints any
        # other value as hex) and is what go-keyring writes and reads.
        value = "go-keyring-base64:" + base64.b64encode(
            _keyring_bytes(secret)).decode("ascii")
        words = ["add-generic-password", "-U", "-s", KEYRING_SERVICE,
                 "-a", profile, "-w", value]
        line = (" ".join(_security_quote(w) for w in words) + "\n").encode()
        if len(line) > _SECURITY_MAX_LINE:
            raise KeyringUnavailable(
                "the secret is too long for the macOS keychain via security "
                "(at most about 3000 bytes)")
        rc, _, _ = self._run(["-i"], line)
        # stderr of `security -i` is not shown: it echoes parts of a command
        # line it cannot parse, and this one holds the secret.
        if rc != 0:
            raise self._failure("add-generic-password", rc,
                                detail=_SECURITY_STATUS.get(rc, ""))

    def delete(self, profile):
        rc, _, err = self._run(["delete-generic-password",
                                "-s", KEYRING_SERVICE, "-a", profile])
        if rc == 0:
            return True
        if rc == _SECURITY_NOT_FOUND:
            return False
        raise self._failure("delete-generic-password", rc, err,
                            _SECURITY_STATUS.get(rc))


def _security_quote(word: str) -> str:
    """Quote one word for `security -i`: double quotes, \\ and " escaped."""
    if any(c in word for c in "\n\r\0"):
        # A line break would end the command early; NUL ends the string.
        raise KeyringUnavailable("a profile name for the macOS keychain "
                                 "cannot contain line breaks")
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


# Candidates, in order of preference, per platform.
_KEYRING_CANDIDATES = {
    "darwin": (MacOSSecurityBackend, PythonKeyringBackend),
    "other": (SecretToolBackend, PythonKeyringBackend),
}
_KEYRING_ALL = (SecretToolBackend, PythonKeyringBackend, MacOSSecurityBackend)

# Backend chosen per platform, for the life of the process.
_keyring_backends = {}


def _keyring_backend(platform: str | None = None) -> KeyringBackend | None:
    """Return the keyring backend to use on this platform, or None.

    Cheap: looks for the tools on PATH and for a D-Bus session, and runs
    nothing. Whether the keyring answers is only known at the first call,
    which raises KeyringUnavailable if it does not. Cached for the process.
    """
    if platform is None:
        platform = sys.platform
    if platform in _keyring_backends:
        return _keyring_backends[platform]
    kind = "darwin" if platform == "darwin" else "other"
    chosen = None
    for cls in _KEYRING_CANDIDATES[kind]:
        backend = cls()
        if chosen is not None:
            _debug("keyring: not using %s: %s comes first",
                   cls.name, chosen.name)
            continue
        try:
            backend.check()
        except KeyringUnavailable as e:
            _debug("keyring: not using %s: %s", cls.name, e)
            continue
        chosen = backend
        _debug("keyring: using %s (%s)", cls.name, backend.path)
    for cls in _KEYRING_ALL:
        if cls not in _KEYRING_CANDIDATES[kind]:
            _debug("keyring: not using %s: not used on %s", cls.name, platform)
    if chosen is None:
        _debug("keyring: no keyring backend; secrets go to the auth file")
    _keyring_backends[platform] = chosen
    return chosen
# === END KEYRING ===


##############################################################################
# Store
##############################################################################


class Credential:
    """A resolved credential: the secret and where it came from.

    `secret` is an API key (auth type api_key) or a dict with the keys
    access_token, refresh_token and expiry (auth type oauth).
    """

    __slots__ = ("profile", "remote_url", "auth_type", "secret", "storage")

    def __init__(self, profile, remote_url, auth_type, secret, storage):
        self.profile = profile
        self.remote_url = remote_url
        self.auth_type = auth_type
        self.secret = secret
        self.storage = storage

    @property
    def token(self) -> str:
        """The API key, or the OAuth access token."""
        if isinstance(self.secret, dict):
            return self.secret.get("access_token") or ""
        return self.secret

    @property
    def authorization(self) -> str:
        """The value of the Authorization header for this credential."""
        scheme = "Bearer " if self.auth_type == "oauth" else "Api-Key "
        return scheme + self.token

    @property
    def management_url(self) -> str:
        """The management API base URL of the credential's remote."""
        return management_url(self.remote_url)

    def __repr__(self):
        return "Credential(profile=%r, remote_url=%r, auth_type=%r, secret=***)" % (
            self.profile, self.remote_url, self.auth_type)


class Store:
    """Profiles in auth.json, their secrets in the keyring or the file.

    A profile's secret lives in exactly one place: the auth file when its
    entry has `api_key` or `oauth_credential` (insecure storage), else the
    keyring under service `baseten-profile`, account = profile name. Every
    change is a read-modify-write of auth.json under `_AuthFileLock`, and
    auth.json is replaced atomically, so concurrent processes never lose
    each other's profiles and readers never see half a file.
    """

    def __init__(self, directory=None):
        self.directory = directory
        self.path = directory and os.path.join(directory, AUTH_FILE_NAME)
        self._data = None
        self._lock = None

    @classmethod
    def default(cls):
        """The store in the config directory of this user."""
        return cls(config_dir())

    # Reading ---------------------------------------------------------------

    def data(self) -> dict:
        """The auth file's content (read once, then cached)."""
        if self._data is None:
            if not self.path:
                _require_config_dir()
            self._data = _load_auth_file(self.path)
            _debug("read %s", self.path)
        return self._data

    def reload(self):
        """Forget the cached content: the next read sees other processes'
        changes."""
        self._data = None

    def profiles(self) -> dict:
        """Profile name -> entry, as in the auth file."""
        return self.data()["profiles"]

    def current(self) -> str:
        """The current profile's name, or ""."""
        return self.data().get("current") or ""

    def entry(self, name) -> dict:
        """The entry of an existing profile; ProfileError if there is none."""
        entry = self.profiles().get(name)
        if entry is None:
            raise ProfileError("no profile named %r; run: baseten auth login "
                               "--profile %s" % (name, _shell_word(name)))
        return entry

    def storage(self, name) -> str:
        """Where the profile's secret is kept: `file` or `keyring`."""
        entry = self.entry(name)
        return "file" if ("api_key" in entry or "oauth_credential" in entry) \
            else "keyring"

    def read_secret(self, name):
        """The secret of a profile: the auth file's copy, else the keyring's."""
        entry = self.entry(name)
        auth_type = entry.get("auth_type")
        if auth_type == "api_key" and entry.get("api_key"):
            return entry["api_key"]
        if auth_type == "oauth" and isinstance(entry.get("oauth_credential"), dict):
            return _oauth_secret(entry["oauth_credential"])
        if auth_type not in AUTH_TYPES:
            raise AuthFileError("profile %r in %s has unknown auth type %r"
                                % (name, self.path, auth_type))
        secret = self._keyring_get(name)
        if auth_type == "oauth":
            return _decode_oauth_secret(secret, name)
        return secret

    def _keyring_get(self, name):
        backend = _keyring_backend()
        if backend is None:
            raise ProfileError(
                "no credential for profile %r: it is not in %s and no system "
                "keyring is available; run: baseten auth login --profile %s"
                % (name, self.path, _shell_word(name)))
        try:
            secret = backend.get(name)
        except KeyringUnavailable as e:
            raise ProfileError("cannot read the credential of profile %r from "
                               "the keyring: %s" % (name, e)) from None
        if not secret:
            raise ProfileError(
                "no credential for profile %r in the keyring (%s); run: "
                "baseten auth login --profile %s"
                % (name, backend.name, _shell_word(name)))
        return secret

    # Writing ---------------------------------------------------------------

    def lock(self, optional=False):
        """The auth file lock (reentrant within this store)."""
        if not self.path:
            _require_config_dir()
        if self._lock is None:
            self._lock = _AuthFileLock(self.path)
        if self._lock.depth == 0:
            self._lock.optional = optional
        return self._lock

    def update(self, change):
        """Apply change(data) to the auth file under the lock and save it."""
        with self.lock():
            data = _load_auth_file(self.path)
            data.setdefault("version", AUTH_FILE_VERSION)
            result = change(data)
            _write_auth_file(self.path, data)
        self._data = data
        return result

    def save_profile(self, name, remote_url, auth_type, secret,
                     insecure=False, make_current=True) -> str:
        """Store a profile whole, replacing any entry of that name.

        Returns where the secret went: `keyring` or `file`.
        """
        self.check_writable()
        entry = {"remote_url": remote_url, "auth_type": auth_type}
        storage = "file" if insecure else self._keyring_set(name, secret)
        if storage == "file":
            entry.update(_secret_fields(auth_type, secret))

        def change(data):
            data["profiles"][name] = entry
            if make_current:
                data["current"] = name

        self.update(change)
        if storage == "file":
            self._keyring_forget(name, quiet=True)
        return storage

    def save_secret(self, name, secret):
        """Replace a profile's secret where it lives (after a refresh)."""
        in_keyring = self.storage(name) == "keyring"
        if in_keyring and self._keyring_set(name, secret) == "keyring":
            return
        auth_type = self.entry(name)["auth_type"]
        # os.replace would swap a read-only auth.json (chmod 0400 in a
        # writable directory) for a new writable one: refuse, like login.
        self.check_writable()

        def change(data):
            entry = data["profiles"].get(name)
            if entry is not None:  # gone meanwhile: logged out by another run
                entry.pop("api_key", None)
                entry.pop("oauth_credential", None)
                entry.update(_secret_fields(auth_type, secret))

        self.update(change)
        if in_keyring:  # the keyring failed: its stale copy must go
            self._keyring_forget(name, quiet=False)

    def remove_profile(self, name) -> bool:
        """Remove a profile and its secret; True if it was current."""
        self.check_writable()
        in_keyring = self.storage(name) == "keyring"

        def change(data):
            data["profiles"].pop(name, None)
            if data.get("current") == name:
                data["current"] = ""
                return True
            return False

        was_current = self.update(change)
        self._keyring_forget(name, quiet=not in_keyring)
        return was_current

    def set_current(self, name):
        """Make an existing profile the current one."""
        self.entry(name)

        def change(data):
            if name not in data["profiles"]:
                raise ProfileError("no profile named %r" % name)
            data["current"] = name

        self.update(change)

    def check_writable(self):
        """Fail early, changing nothing, when the auth file cannot be written."""
        directory = _require_config_dir() if not self.directory else self.directory
        probe = self.path if os.path.exists(self.path) else directory
        while not os.path.exists(probe):
            probe = os.path.dirname(probe)
        if not os.access(probe, os.W_OK) or (
                probe == self.path and not os.access(directory, os.W_OK)):
            raise AuthFileError("cannot write %s: read-only (permission "
                                "denied or read-only file system)" % self.path)

    def _keyring_set(self, name, secret) -> str:
        backend = _keyring_backend()
        if backend is None:
            _warn("no system keyring found; the credential of profile %r is "
                  "stored in plain text in %s" % (name, self.path))
            return "file"
        try:
            backend.set(name, _encode_secret(secret))
        except KeyringUnavailable as e:
            _warn("the system keyring (%s) could not be used: %s; the "
                  "credential of profile %r is stored in plain text in %s"
                  % (backend.name, e, name, self.path))
            return "file"
        _debug("stored the credential of profile %r in the keyring (%s)",
               name, backend.name)
        return "keyring"

    def _keyring_forget(self, name, quiet):
        """Remove a keyring copy; a failure is a warning unless `quiet` (the
        copy in the auth file, read first, makes it harmless)."""
        backend = _keyring_backend()
        if backend is None:
            return
        try:
            backend.delete(name)
        except KeyringUnavailable as e:
            report = _debug if quiet else _warn
            report("could not remove the credential of profile %r from the "
                   "keyring (%s): %s" % (name, backend.name, e))


def _secret_fields(auth_type, secret) -> dict:
    if auth_type == "api_key":
        return {"api_key": secret}
    return {"oauth_credential": dict(secret)}


def _encode_secret(secret) -> str:
    """The keyring value: the API key, or the OAuth credential as JSON."""
    if isinstance(secret, dict):
        return json.dumps(secret, separators=(",", ":"))
    return secret


def _oauth_secret(credential) -> dict:
    return {"access_token": credential.get("access_token") or "",
            "refresh_token": credential.get("refresh_token") or "",
            "expiry": credential.get("expiry") or ZERO_TIME}


def _decode_oauth_secret(text, name) -> dict:
    try:
        credential = json.loads(text)
    except ValueError:
        credential = None
    if not isinstance(credential, dict):
        raise ProfileError("the keyring entry of profile %r is not an OAuth "
                           "credential; run: baseten auth login --profile %s"
                           % (name, _shell_word(name)))
    return _oauth_secret(credential)


def _shell_word(word) -> str:
    """Quote a word for a command line shown to the user."""
    if word and all(c.isalnum() or c in "@%+=:,./-_" for c in word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


def resolve_profile(store, flag_profile=None, use_api_key_env=True):
    """Which credential a command uses (SPEC section 2).

    Returns (profile name or None for BASETEN_API_KEY, where it came from).
    """
    if flag_profile is not None:
        store.entry(_check_profile_name(flag_profile))
        return flag_profile, "--profile"
    if use_api_key_env and os.environ.get(ENV_API_KEY):
        return None, ENV_API_KEY
    env_profile = os.environ.get(ENV_PROFILE)
    if env_profile:
        store.entry(env_profile)
        return env_profile, ENV_PROFILE
    current = store.current()
    if current:
        store.entry(current)
        return current, "the current profile"
    return None, None


##############################################################################
# HTTP
##############################################################################


def _user_agent() -> str:
    return "baseten_auth/%s (python %d.%d)" % ((__version__,) + sys.version_info[:2])


class HttpResponse(tuple):
    """(status, decoded JSON body or None), plus the `headers`."""

    def __new__(cls, status, body, headers=None):
        response = tuple.__new__(cls, (status, body))
        response.headers = headers or {}
        return response


def http_request(method, url, authorization=None, form=None, secrets=()):
    """Send one request; return an HttpResponse (status, JSON body or None).

    4xx and 5xx answers are returned, not raised; the caller maps them (the
    device flow needs the 400 bodies). Network failures raise NetworkError.
    `secrets` are redacted from anything that reaches an error message.
    """
    import http.client
    import time
    import urllib.error
    import urllib.request

    body = None
    headers = {"User-Agent": _user_agent(), "Accept": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    if form is not None:
        import urllib.parse

        body = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, data=body, headers=headers,
                                     method=method)
    opener = urllib.request.build_opener(_safe_redirect_handler())
    started = time.monotonic()
    try:
        with opener.open(request, timeout=HTTP_TIMEOUT) as response:
            status, headers = response.status, response.headers
            raw = response.read(HTTP_MAX_BODY + 1)
    except urllib.error.HTTPError as e:
        status, headers, raw = e.code, e.headers, _read_error_body(e)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", None) or e or type(e).__name__
        raise NetworkError("cannot reach %s: %s" % (
            url, _redact(_clean(reason), secrets))) from None
    _debug("%s %s -> %d (%.0f ms)", method, url, status,
           (time.monotonic() - started) * 1000)
    if len(raw) > HTTP_MAX_BODY:
        raise ServerError("the answer of %s is larger than %d bytes"
                          % (url, HTTP_MAX_BODY))
    return HttpResponse(status, _decode_json_body(raw), headers)


def _read_error_body(error) -> bytes:
    import http.client

    try:
        return error.read(HTTP_MAX_BODY + 1)
    except (OSError, ValueError, http.client.HTTPException):
        return b""
    finally:
        error.close()


def _decode_json_body(raw):
    try:
        return json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, ValueError):
        return None


def _safe_redirect_handler():
    import urllib.request

    class SafeRedirectHandler(urllib.request.HTTPRedirectHandler):
        """Drop the Authorization header when a redirect leaves the origin
        or goes from https to http: urllib would send it anywhere."""

        def redirect_request(self, req, fp, code, msg, headers, newurl):
            new = super().redirect_request(req, fp, code, msg, headers, newurl)
            if new is not None and not _same_origin(req.full_url, newurl):
                new.remove_header("Authorization")
                _debug("redirect to another origin: Authorization dropped")
            return new

    return SafeRedirectHandler()


def _same_origin(old_url, new_url) -> bool:
    import urllib.parse

    old, new = urllib.parse.urlsplit(old_url), urllib.parse.urlsplit(new_url)
    return (old.scheme, old.netloc) == (new.scheme, new.netloc) or (
        old.netloc == new.netloc and (old.scheme, new.scheme) == ("http", "https"))


def _raise_for_status(status, body, what, secrets=()):
    """Map an HTTP error status to the error class of SPEC section 7.

    `secrets` are redacted from the server's error text: a server may echo
    the device code, refresh token or API key it was sent.
    """
    if status < 400:
        return
    detail = _error_detail(body, secrets)
    message = "%s failed: HTTP %d%s" % (what, status, detail and ": " + detail)
    if status in (401, 403):
        raise AuthRejectedError(message)
    if status == 404:
        raise NotFoundError(message)
    if status < 500:
        raise RequestRejectedError(message)
    raise ServerError(message)


def _error_detail(body, secrets=()) -> str:
    """The server's own error text, cleaned for the terminal, if it has one."""
    if not isinstance(body, dict):
        return ""
    for key in ("error_description", "error", "detail", "message"):
        if isinstance(body.get(key), str) and body[key]:
            return _redact(_clean(body[key]), secrets)[:300]
    return ""


def fetch_user(remote_url, authorization, secrets=()) -> dict:
    """GET /v1/users/me with a credential; the account, or an error."""
    url = management_url(remote_url) + "/v1/users/me"
    status, body = http_request("GET", url, authorization, secrets=secrets)
    _raise_for_status(status, body, "checking the credential", secrets)
    if not isinstance(body, dict):
        raise ServerError("%s answered something that is not a JSON object"
                          % url)
    return {key: body.get(key) if isinstance(body.get(key), str) else ""
            for key in ("user_id", "email", "name", "workspace_name")}


##############################################################################
# Device flow
##############################################################################


class DeviceAuthorization:
    """The answer to an RFC 8628 device authorization request (section 3.2).

    device_code: the secret the client polls with; never shown or logged.
    user_code: what the user types on the verification page.
    verification_uri / verification_uri_complete: the page, without and
        with the user code filled in.
    expires_in: seconds until both codes expire.
    interval: seconds to wait between polls (default 5).
    """

    __slots__ = ("device_code", "user_code", "verification_uri",
                 "verification_uri_complete", "expires_in", "interval")

    def __init__(self, body):
        if not isinstance(body, dict):
            body = {}
        for name in ("device_code", "user_code", "verification_uri"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise ServerError("the device authorization answer has no %s"
                                  % name)
        self.device_code = body["device_code"]
        self.user_code = _clean(body["user_code"])
        self.verification_uri = _clean(body["verification_uri"])
        if not _is_web_url(self.verification_uri):
            raise ServerError("the device authorization answer has a "
                              "verification_uri that is not an http(s) URL")
        complete = body.get("verification_uri_complete")
        complete = _clean(complete) if isinstance(complete, str) else ""
        self.verification_uri_complete = (
            complete if _is_web_url(complete) else None)
        # A device code lives minutes; a day bounds every wait below.
        self.expires_in = min(_positive_number(body.get("expires_in"), 900),
                              86400)
        self.interval = _positive_number(body.get("interval"), 5)

    def __repr__(self):
        return "DeviceAuthorization(user_code=%r, device_code=***)" % (
            self.user_code)


def _is_web_url(text) -> bool:
    """True for an http(s) URL with a host: the only pages shown or opened
    (never file:, javascript: or an option-like word given to xdg-open)."""
    import re

    return bool(re.match(r"https?://[^\s/?#@]+([/?#]\S*)?$", text))


def _positive_number(value, default):
    """A positive, finite JSON number from a server, else default (RFC 8628
    and RFC 6749 define these fields as numbers, not strings)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return value if 0 < value < float("inf") else default  # NaN: default


class DeviceFlow:
    """The OAuth 2.0 device authorization grant (RFC 8628) against Baseten.

    `start()` asks for a device code; `wait()` polls the token endpoint until
    the user approves in the browser, refuses, or the code expires, and
    returns the token response. The clock, the sleep and the request
    function are attributes so that tests run the loop without waiting.
    """

    def __init__(self, remote_url, request=None, clock=None, sleep=None):
        self.base = management_url(remote_url)
        self.request = request or http_request
        self.clock = clock or _monotonic
        self.sleep = sleep or _sleep

    def start(self) -> DeviceAuthorization:
        """Send the device authorization request (RFC 8628 section 3.1)."""
        status, body = self.request(
            "POST", self.base + "/v1/users/auth/device/authorize",
            form={"client_id": CLIENT_ID})
        _raise_for_status(status, body, "starting the browser login")
        return DeviceAuthorization(body)

    def wait(self, authorization, on_wait=None) -> dict:
        """Poll until the login completes; return the token response.

        on_wait(seconds) does the waiting (a spinner); default: sleep.
        """
        wait = on_wait or self.sleep
        deadline = self.clock() + authorization.expires_in
        interval = delay = authorization.interval
        while True:
            # RFC 8628 section 3.5: wait the interval before every poll.
            # Never sleep past the deadline: report the expiry when it comes.
            wait(min(delay, max(deadline - self.clock(), 0)))
            if self.clock() >= deadline:
                raise _expired_error()
            outcome, value = self._poll(authorization)
            _debug("device flow poll: %s", outcome)
            if outcome == "done":
                return value
            if outcome == "slow_down":
                # Section 3.5: add 5 seconds, or take the server's interval.
                interval = delay = value or interval + 5
                _debug("device flow: interval now %s s", interval)
            elif outcome == "retry":
                # A struggling server: back off, doubling up to 60 s and at
                # least what Retry-After asks, until the device code expires.
                # Never below the interval slow_down set (section 3.5).
                delay = max(min(delay * 2, 60), value or 0, interval)
            else:
                delay = interval

    def _poll(self, authorization):
        """One token request: ("done", tokens), ("pending", None),
        ("slow_down", new interval or None) or ("retry", delay)."""
        form = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "device_code": authorization.device_code,
                "client_id": CLIENT_ID}
        try:
            response = self.request(
                "POST", self.base + "/v1/users/auth/device/token", form=form,
                secrets=(authorization.device_code,))
        except (NetworkError, ServerError) as e:
            _debug("device flow: %s; trying again", e)
            return "retry", None
        status, body = response
        if status == 200:
            return "done", _token_response(body)
        if status == 429 or status >= 500:
            return "retry", _retry_after(getattr(response, "headers", None))
        return _poll_error(status, body, authorization.device_code)


def _poll_error(status, body, device_code=""):
    error = body.get("error") if isinstance(body, dict) else None
    if error == "authorization_pending":
        return "pending", None
    if error == "slow_down":
        interval = body.get("interval")
        return "slow_down", _positive_number(interval, None)
    if error == "access_denied":
        raise AuthRejectedError("the login was denied in the browser")
    if error == "expired_token":
        raise _expired_error()
    if error == "invalid_grant":
        # RFC 6749 section 5.2: the device code is invalid or was used.
        raise AuthRejectedError("the login code was rejected (invalid_grant); "
                                "run: baseten auth login")
    if status < 400:
        raise ServerError("completing the browser login failed: HTTP %d "
                          "without an access token" % status)
    _raise_for_status(status, body, "completing the browser login",
                      (device_code,))
    raise ServerError("the token endpoint answered HTTP %d without a token"
                      % status)


def _retry_after(headers):
    """Seconds from a Retry-After header in the delay form, or None."""
    value = headers.get("Retry-After") if headers else None
    try:
        return min(max(int(value), 0), 300) if value else None
    except ValueError:
        return None  # an HTTP date: the doubling backoff will do


def _expired_error():
    return AuthRejectedError("the login code expired before it was approved; "
                             "run: baseten auth login")


def _token_response(body) -> dict:
    """Check a token endpoint answer (RFC 6749 section 5.1)."""
    if not isinstance(body, dict) or not isinstance(
            body.get("access_token"), str) or not body["access_token"]:
        raise ServerError("the token endpoint answered without an access token")
    return body


def _oauth_credential(tokens, old_refresh_token="") -> dict:
    """The stored form of a token response; expiry = now + expires_in."""
    expires_in = _positive_number(tokens.get("expires_in"), None)
    refresh = tokens.get("refresh_token")
    return {"access_token": tokens["access_token"],
            "refresh_token": refresh if isinstance(refresh, str) and refresh
            else old_refresh_token,
            "expiry": _format_time(_now() + expires_in) if expires_in
            else ZERO_TIME}


def _monotonic() -> float:
    import time

    return time.monotonic()


def _sleep(seconds):
    import time

    time.sleep(seconds)


class _Spinner:
    """Shows that the login is waiting: a spinner on a terminal, else one
    plain line, so that logs stay readable."""

    FRAMES = "|/-\\"

    def __init__(self, sleep=None, clock=None):
        self.sleep = sleep or _sleep
        self.clock = clock or _monotonic
        self.frame = 0
        self.tty = (_is_terminal(sys.stderr)
                    and os.environ.get("TERM") != "dumb")
        if not self.tty:
            _write_stderr("Waiting for the login to be approved in the browser...")

    def __call__(self, seconds):
        """Wait the given seconds, turning the spinner meanwhile."""
        if not self.tty:
            return self.sleep(seconds)
        end = self.clock() + seconds
        while True:
            left = end - self.clock()
            if left <= 0:
                return None
            sys.stderr.write("\r%s Waiting for the login to be approved in "
                             "the browser..." % self.FRAMES[self.frame % 4])
            sys.stderr.flush()
            self.frame += 1
            self.sleep(min(left, 0.2))

    def done(self):
        if self.tty:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _is_terminal(stream) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (OSError, ValueError):
        return False


def open_browser(url) -> bool:
    """Try to open url in a graphical browser; True if one was started.

    Python's webbrowser may pick a text-mode browser (lynx, w3m) that takes
    over the terminal, so it is used only when BROWSER says which browser
    the user wants. Without a display nothing is started: the printed URL
    is enough.
    """
    if os.environ.get("BROWSER"):
        # Only the browsers BROWSER names: webbrowser.open() falls back to
        # every browser it knows when they fail, text-mode ones included.
        import webbrowser

        for choice in os.environ["BROWSER"].split(os.pathsep):
            try:
                browser = webbrowser.get(choice) if choice else None
            except webbrowser.Error:
                browser = None
            if browser is not None and _quietly(browser.open, url):
                return True
        return False
    if sys.platform == "darwin":
        return _start_detached(["open", url])
    if sys.platform == "win32":
        return _quietly(os.startfile, url)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        _debug("no display: not opening a browser")
        return False
    for opener in ("xdg-open", "gio", "x-www-browser", "sensible-browser"):
        argv = [opener, "open", url] if opener == "gio" else [opener, url]
        if _start_detached(argv):
            return True
    return False


def _quietly(function, url) -> bool:
    """Call an opener; True unless it fails or says False (os.startfile
    returns None on success, webbrowser.open a bool)."""
    try:
        return function(url) is not False
    except Exception as e:  # any browser failure: the URL is printed anyway
        _debug("opening a browser failed: %s", e)
        return False


def _start_detached(argv) -> bool:
    import shutil
    import subprocess

    path = shutil.which(argv[0])
    if not path:
        return False
    try:
        subprocess.Popen([path] + argv[1:], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    except OSError as e:
        _debug("%s failed: %s", argv[0], e)
        return False
    _debug("started %s", argv[0])
    return True


def browser_login(remote_url, flow=None, browser=None) -> dict:
    """Run the device flow to the end; return the OAuth credential."""
    flow = flow or DeviceFlow(remote_url)
    authorization = flow.start()
    page = authorization.verification_uri_complete or authorization.verification_uri
    _write_stderr("To log in, open %s and enter the code: %s"
                  % (authorization.verification_uri, authorization.user_code))
    if (browser or open_browser)(page):
        _write_stderr("Opened the page in your browser.")
    spinner = _Spinner(flow.sleep, flow.clock)
    try:
        tokens = flow.wait(authorization, on_wait=spinner)
    finally:
        spinner.done()
    return _oauth_credential(tokens)


##############################################################################
# OAuth credentials: refresh and revocation
##############################################################################


def _needs_refresh(credential) -> bool:
    if not credential.get("access_token"):
        return True
    expiry = _parse_time(credential.get("expiry"))
    return expiry is not None and expiry - _now() <= REFRESH_MARGIN


def refresh_oauth(remote_url, credential, request=None) -> dict:
    """Use the refresh grant (RFC 6749 section 6); the new credential."""
    refresh_token = credential.get("refresh_token")
    if not refresh_token:
        raise AuthRejectedError("no refresh token")
    url = management_url(remote_url) + "/v1/users/auth/device/token"
    status, body = (request or http_request)(
        "POST", url, form={"grant_type": "refresh_token",
                           "refresh_token": refresh_token,
                           "client_id": CLIENT_ID},
        secrets=(refresh_token, credential.get("access_token") or ""))
    error = body.get("error") if isinstance(body, dict) else None
    if error == "invalid_grant" or (status == 400 and error in (
            "invalid_client", "unauthorized_client")):
        raise AuthRejectedError("the refresh token was rejected (%s)" % error)
    _raise_for_status(status, body, "refreshing the access token",
                      (refresh_token, credential.get("access_token") or ""))
    return _oauth_credential(_token_response(body), refresh_token)


def fresh_credential(store, name) -> Credential:
    """The profile's credential, with an OAuth access token refreshed first
    when it is missing, expired or about to expire.

    The refresh happens under the auth file lock, after reading the secret
    again: a second process waiting on the lock then finds the new pair
    instead of spending a refresh token that was already rotated.
    """
    entry = store.entry(name)
    credential = Credential(name, entry.get("remote_url") or DEFAULT_REMOTE_URL,
                            entry.get("auth_type"), store.read_secret(name),
                            store.storage(name))
    if credential.auth_type != "oauth" or not _needs_refresh(credential.secret):
        return credential
    with store.lock(optional=True):
        store.reload()
        credential.secret = store.read_secret(name)
        if _needs_refresh(credential.secret):
            credential.secret = _refresh_for_profile(store, credential)
    return credential


def _refresh_for_profile(store, credential) -> dict:
    name = credential.profile
    _debug("refreshing the access token of profile %r", name)
    try:
        new = refresh_oauth(credential.remote_url, credential.secret)
    except AuthRejectedError as e:
        raise AuthRejectedError(
            "the session of profile %r has expired or was revoked (%s); run: "
            "baseten auth login --profile %s" % (name, e, _shell_word(name))
        ) from None
    try:
        store.save_secret(name, new)
    except AuthFileError as e:
        _warn("the refreshed access token of profile %r is used for this run "
              "only: %s" % (name, e))
    return new


def _revoke_quietly(store, name):
    """Revoke an OAuth session; any failure is a warning (logout goes on)."""
    try:
        credential = fresh_credential(store, name)
        revoke_session(credential.remote_url, credential.secret["access_token"])
    except BasetenAuthError as e:
        _warn("could not revoke the session of profile %r: %s" % (name, e))


def revoke_session(remote_url, access_token):
    """POST /v1/users/auth/logout: end the OAuth session of an access token."""
    url = management_url(remote_url) + "/v1/users/auth/logout"
    status, body = http_request("POST", url, "Bearer " + access_token,
                                form={}, secrets=(access_token,))
    _raise_for_status(status, body, "revoking the session", (access_token,))


##############################################################################
# jq
##############################################################################

# === BEGIN JQ PUBLIC ===
class JqError(Exception):
    """Raised when a jq program fails at run time."""


class JqSyntaxError(ValueError):
    """Raised when a jq expression does not compile."""
# === END JQ PUBLIC ===

_JQ_LINE = sys._getframe().f_lineno
_JQ_SOURCE = r'''
'''  # end of _JQ_SOURCE

_jq_namespace = None


def _jq_engine():
    """Compile and run the jq engine's source once; return its namespace."""
    global _jq_namespace
    if _jq_namespace is None:
        code = _compile_source_section("jq", _JQ_SOURCE, _JQ_LINE)
        namespace = {"__name__": __name__ + "._jq"}
        namespace.update((name, value) for name, value in globals().items()
                         if name.startswith("Jq") and isinstance(value, type))
        exec(code, namespace)
        _jq_namespace = namespace
    return _jq_namespace


def _compile_source_section(name, source, line):
    """Compile code kept in a string, through a bytecode cache.

    The cache file sits in __pycache__ beside this file, as Python's own
    would, keyed by the interpreter and a checksum of the source; where it
    cannot be read or written, the source is compiled each time.
    """
    import marshal
    import zlib

    key = b"%08x:%d:%x\n" % (zlib.crc32(source.encode("utf-8")), line,
                             sys.hexversion)
    here = os.path.abspath(__file__)
    cache = os.path.join(os.path.dirname(here), "__pycache__", "%s.%s.%s.pyc" % (
        os.path.splitext(os.path.basename(here))[0], name,
        sys.implementation.cache_tag))
    try:
        with open(cache, "rb") as f:
            if f.readline() == key:
                return marshal.loads(f.read())
    except (OSError, ValueError, EOFError, TypeError):
        pass
    # The leading newlines make tracebacks and linecache point at the
    # right lines of this file.
    code = compile("\n" * line + source, os.path.abspath(__file__), "exec")
    if not sys.dont_write_bytecode:
        _write_cache_file(cache, key + marshal.dumps(code))
    return code


def _write_cache_file(path, content):
    """Write a cache file atomically; a failure only costs speed."""
    temp = "%s.%d.tmp" % (path, os.getpid())
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temp, "wb") as f:
            f.write(content)
        os.replace(temp, path)
    except OSError as e:
        _debug("no bytecode cache for the jq engine: %s", e)
        try:
            os.unlink(temp)
        except OSError:
            pass


def jq_compile(expression):
    """Compile a jq expression; raise JqSyntaxError if it does not compile."""
    return _jq_engine()["jq_compile"](expression)


def jq_run(expression, value) -> list:
    """Run a jq expression on one input; return the list of its outputs."""
    return list(jq_compile(expression).run(value))


##############################################################################
# Output
##############################################################################


class Output:
    """Where results go: the output format, an optional jq program, stdout."""

    def __init__(self, output_format=None, jq_expression=None, streamed=False):
        if jq_expression is not None and output_format in ("text", "none"):
            raise UsageError("--jq filters JSON output; it cannot be used with "
                             "--output %s" % output_format)
        jq_format = "jsonl" if streamed else "json"
        self.format = output_format or (jq_format if jq_expression else "text")
        self.jq_expression = jq_expression
        self.program = None
        if jq_expression is not None:
            self.program = _compile_jq_for_cli(jq_expression)

    def emit(self, result, text, secret=False):
        """Print one result: text lines, or the JSON object (filtered).

        With `secret`, a jq run-time error does not show jq's message: it
        quotes (or abbreviates) the value it failed on.
        """
        if self.format == "none":
            return
        if self.format == "text":
            _print(text)
        elif self.program is None:
            _print(_dump_json(result, self.format == "json"))
        else:
            self._emit_filtered(result, secret)

    def emit_all(self, results, texts):
        """Print the results of a streamed command: a JSON array, or one
        line (and one jq run) per result for jsonl."""
        if self.format == "json":
            return self.emit(results, "")
        for result, text in zip(results, texts):
            self.emit(result, text)

    def _emit_filtered(self, result, secret=False):
        dumps = _jq_engine().get("jq_dumps")
        indent = 2 if self.format == "json" else None
        try:
            for value in self.program.run(result):
                _print(dumps(value, indent) if dumps else
                       _dump_json(value, indent is not None))
        except JqError as e:
            if secret:
                raise BasetenAuthError(
                    "jq: the expression failed on a result that holds a "
                    "secret; its message is not shown") from None
            raise BasetenAuthError("jq: " + str(e)) from None


def _compile_jq_for_cli(expression):
    try:
        return jq_compile(expression)
    except JqSyntaxError as e:
        caret = e.caret() if hasattr(e, "caret") else ""
        raise UsageError("jq: %s%s" % (e, caret and "\n" + caret)) from None


def _dump_json(value, indented) -> str:
    if indented:
        return json.dumps(value, indent=2, ensure_ascii=False)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _print(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


##############################################################################
# Commands
##############################################################################


def cmd_status(args, out):
    """auth status: the resolved profile, remote and auth type."""
    if args.all:
        return _status_all(args, out)
    store = Store.default()
    name, source = _resolve_or_fail(store, args.profile)
    if source == ENV_API_KEY:
        remote = _env_remote_url()
        result = {"profile": "", "remote_url": remote, "auth_type": "api_key"}
        text = "Using API key from %s\n  Remote: %s" % (ENV_API_KEY, remote)
    else:
        entry = store.entry(name)
        result = {"profile": name, "remote_url": entry.get("remote_url", ""),
                  "auth_type": entry.get("auth_type", "")}
        text = "%s\n  Remote: %s\n  Auth type: %s" % (
            name, result["remote_url"], result["auth_type"])
    if args.check:
        user = _check_credential(_credential_for(store, name, source))
        result.update(email=user["email"], workspace_name=user["workspace_name"],
                      valid=True)
        text += "\n  Logged in as %s (%s)" % (
            _clean(user["email"]), _clean(user["workspace_name"]))
    out.emit(result, text)


def _resolve_or_fail(store, flag_profile):
    """resolve_profile, with `not logged in` when nothing resolves."""
    name, source = resolve_profile(store, flag_profile)
    if source is None:
        raise ProfileError("not logged in; run `baseten auth login` or set "
                           + ENV_API_KEY)
    _debug("profile %r from %s", name, source)
    return name, source


def _credential_for(store, name, source) -> Credential:
    """The credential to use: BASETEN_API_KEY's, or the profile's (fresh)."""
    if source == ENV_API_KEY:
        return Credential(None, _env_remote_url(), "api_key",
                          os.environ[ENV_API_KEY], "environment")
    return fresh_credential(store, name)


def _check_credential(credential) -> dict:
    """Ask GET /v1/users/me whether the credential works."""
    try:
        return fetch_user(credential.remote_url, credential.authorization,
                          secrets=(credential.token,))
    except AuthRejectedError as e:
        if credential.profile is None:
            raise AuthRejectedError(
                "the API key in %s was rejected (%s); set a valid key, or "
                "unset it and run: baseten auth login" % (ENV_API_KEY, e)
            ) from None
        raise AuthRejectedError(
            "the credential of profile %r was rejected (%s); run: baseten "
            "auth login --profile %s" % (credential.profile, e,
                                         _shell_word(credential.profile))
        ) from None


def _status_all(args, out):
    """auth status --all: every stored profile, one result each."""
    if args.check or args.profile is not None:
        raise UsageError("--all cannot be combined with --check or --profile")
    results = _profile_summaries(Store.default())
    if not results:
        _write_stderr("no stored profiles; run: baseten auth login")
    texts = ["%s%s\n  Remote: %s\n  Auth type: %s\n  Storage: %s" % (
        r["profile"], " (current)" if r["current"] else "", r["remote_url"],
        r["auth_type"], r["storage"]) for r in results]
    out.emit_all(results, texts)


def _profile_summaries(store) -> list:
    current = store.current()
    return [{"profile": name, "remote_url": entry.get("remote_url", ""),
             "auth_type": entry.get("auth_type", ""),
             "current": name == current, "storage": store.storage(name)}
            for name, entry in sorted(store.profiles().items())]


def cmd_token(args, out):
    """auth token: print the resolved credential's secret for scripts."""
    store = Store.default()
    name, source = _resolve_or_fail(store, args.profile)
    credential = _credential_for(store, name, source)
    result = {"profile": name or "", "auth_type": credential.auth_type,
              "token": credential.token,
              "authorization": credential.authorization}
    out.emit(result, credential.token, secret=True)


def _env_remote_url() -> str:
    value = os.environ.get(ENV_REMOTE_URL)
    return normalize_remote_url(value, ENV_REMOTE_URL) if value else DEFAULT_REMOTE_URL


def cmd_switch(args, out):
    """auth switch: make a profile the current one."""
    store = Store.default()
    name = args.profile
    if name is None:
        if not _stdin_is_terminal():
            raise UsageError("no profile given; pass --profile NAME "
                             "(the picker needs a terminal)")
        name = _pick_profile(store)
    store.entry(_check_profile_name(name))
    store.check_writable()
    store.set_current(name)
    out.emit({"profile": name}, "Switched to %s" % name)


def _pick_profile(store) -> str:
    names = sorted(store.profiles())
    if not names:
        raise ProfileError("no profiles; run: baseten auth login")
    current = store.current()
    for number, name in enumerate(names, 1):
        mark = " (current)" if name == current else ""
        _write_stderr("  %d. %s%s" % (number, name, mark))
    answer = _prompt("Switch to which profile? [1-%d] " % len(names))
    if answer.isdigit() and 1 <= int(answer) <= len(names):
        return names[int(answer) - 1]
    if answer in names:
        return answer
    raise UsageError("no such choice: %r" % answer)


def _prompt(question) -> str:
    sys.stderr.write(question)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise UsageError("no answer (end of input)")
    return line.strip()


def cmd_logout(args, out):
    """auth logout: remove a profile and its credential."""
    store = Store.default()
    name, _ = resolve_profile(store, args.profile, use_api_key_env=False)
    if name is None:
        raise ProfileError("no profile to log out; pass --profile NAME")
    store.check_writable()
    if store.entry(name).get("auth_type") == "oauth":
        _revoke_quietly(store, name)
    store.remove_profile(name)
    out.emit({"profile": name}, "Logged out %s" % name)


def cmd_login(args, out):
    """auth login: check a credential with the server, then store it."""
    if args.web and args.with_api_key:
        raise UsageError("--web and --with-api-key cannot be used together")
    interactive = _stdin_is_terminal()
    if not args.web and not args.with_api_key:
        if not interactive:
            raise UsageError("choose a login method: --web (browser) or "
                             "--with-api-key (reads the key from stdin)")
        args.with_api_key = _ask_login_method() == "api_key"
        args.web = not args.with_api_key
    remote = (normalize_remote_url(args.remote_url, "--remote-url")
              if args.remote_url else _env_remote_url())
    management_url(remote)  # a bad override is a usage error before any I/O
    if args.profile is not None:
        _check_profile_name(args.profile)
    store = Store.default()
    store.check_writable()
    if args.with_api_key:
        result = _login_with_api_key(args, store, remote, interactive)
    else:
        result = _login_with_browser(args, store, remote)
    out.emit(result, "Logged in as %s (%s) as profile %s" % (
        _clean(result["email"]), _clean(result["workspace_name"]),
        result["profile"]))


def _ask_login_method() -> str:
    _write_stderr("How would you like to log in?\n"
                  "  1. In a browser (recommended)\n"
                  "  2. With an API key")
    answer = _prompt("Choose [1-2]: ")
    if answer in ("1", ""):
        return "web"
    if answer == "2":
        return "api_key"
    raise UsageError("no such choice: %r" % answer)


def _login_with_api_key(args, store, remote, interactive) -> dict:
    name = args.profile
    if name is None:
        if not interactive:
            raise UsageError("--profile is required with --with-api-key when "
                             "stdin is not a terminal")
        name = _check_profile_name(_prompt("Profile name: "))
    key = _read_api_key(interactive)
    user = fetch_user(remote, "Api-Key " + key, secrets=(key,))
    store.save_profile(name, remote, "api_key", key,
                       insecure=args.insecure_storage,
                       make_current=not args.no_switch)
    return dict({"profile": name}, **user)


def _read_api_key(interactive) -> str:
    if interactive:
        import getpass

        key = getpass.getpass("API key: ")
    else:
        key = sys.stdin.readline()
    key = key.strip()
    if not key:
        raise UsageError("no API key given on stdin")
    return key


def _login_with_browser(args, store, remote) -> dict:
    credential = browser_login(remote)
    secrets = (credential["access_token"], credential["refresh_token"])
    try:
        user = fetch_user(remote, "Bearer " + credential["access_token"],
                          secrets)
        name = args.profile or _profile_name_for(user, remote)
        store.save_profile(name, remote, "oauth", credential,
                           insecure=args.insecure_storage,
                           make_current=not args.no_switch)
    except BaseException:
        # Nothing was stored: do not leave a live session behind either.
        try:
            revoke_session(remote, credential["access_token"])
        except BasetenAuthError as e:
            _debug("could not revoke the unused session: %s", e)
        raise
    return dict({"profile": name}, **user)


def _profile_name_for(user, remote) -> str:
    """EMAIL, or EMAIL:HOST for a remote other than the default."""
    email = user.get("email")
    if not email:
        raise UsageError("the account has no email address to name the "
                         "profile after; pass --profile NAME")
    if remote != DEFAULT_REMOTE_URL:
        email = "%s:%s" % (email, _remote_host(remote))
    return _check_profile_name(email)


def cmd_completion(args) -> int:
    """completion: print a shell completion script."""
    if args.list_profiles:
        try:
            names = sorted(Store.default().profiles())
        except BasetenAuthError:
            names = []  # completion must never print an error into a prompt
        _print("\n".join(names)) if names else None
        return EXIT_OK
    if not args.shell:
        raise UsageError("name a shell: bash, zsh or fish")
    _print(_COMPLETION_SCRIPTS[args.shell](_cli_tree()))
    return EXIT_OK


def _cli_tree() -> dict:
    """{command path: [its options]} from the parser, for completion."""
    import argparse

    tree = {}

    def walk(parser, path):
        options = [o for a in parser._actions for o in a.option_strings
                   if a.help != argparse.SUPPRESS and o.startswith("--")]
        choices = [c for a in parser._actions if not a.option_strings
                   and a.choices and not isinstance(a.choices, dict)
                   for c in a.choices]
        tree[path] = choices + sorted(options)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, (path + " " + name).strip())

    walk(build_parser(), "")
    return tree


def _bash_completion(tree) -> str:
    cases = "\n".join(
        '        "%s") words="%s" ;;' % (path, " ".join(
            [p.split()[-1] for p in tree if p.startswith(path) and p != path
             and len(p.split()) == len(path.split()) + 1] + tree[path]))
        for path in tree)
    return _BASH_TEMPLATE.replace("@CASES@", cases)


_BASH_TEMPLATE = """# bash completion for baseten (baseten_auth)
_baseten_profiles() {
    # Profile names may hold spaces, quotes, '$', '@' and ':'. compgen -W
    # would expand and re-split them, so match the prefix here and quote
    # each reply. Readline replaces only the text after the last
    # COMP_WORDBREAKS character (from an '@' on: bash keeps it in the
    # word), so a reply leaves out what comes before.
    local cur=$1 name keep=""
    if [[ -n $_baseten_breaks && $cur == *[$_baseten_breaks]* ]]; then
        keep=${cur%"${cur##*[$_baseten_breaks]}"}
        [[ $keep == *@ ]] && keep=${keep%@}
    fi
    while IFS= read -r name; do
        [[ $name == "$cur"* ]] && printf '%q\\n' "${name#"$keep"}"
    done < <(baseten completion --list-profiles 2>/dev/null)
}
_baseten_is_break() {
    [[ -n $_baseten_breaks && -n $1 && -z ${1//[$_baseten_breaks]/} ]]
}
_baseten() {
    # Not "path": zsh ties that name to $PATH, even for a local.
    local IFS=$'\\n' cmd="" word words i n=$COMP_CWORD
    local cur=${COMP_WORDS[COMP_CWORD]}
    local _baseten_breaks=${COMP_WORDBREAKS//[[:space:]\\"\\']/}
    # Bash splits alice@example.com:host at '@' and ':' into five words;
    # join them back.
    while ((n > 1)) && { _baseten_is_break "${COMP_WORDS[n]}" ||
            _baseten_is_break "${COMP_WORDS[n-1]}"; }; do
        n=$((n - 1))
        cur=${COMP_WORDS[n]}$cur
    done
    local prev=${COMP_WORDS[n-1]}
    case "$prev" in
        --profile) COMPREPLY=($(_baseten_profiles "$cur"))
            return ;;
        -o|--output) COMPREPLY=($(compgen -W $'text\\njson\\njsonl\\nnone' -- "$cur"))
            return ;;
        -q|--jq|--remote-url) COMPREPLY=()
            return ;;
    esac
    for ((i = 1; i < n; i++)); do
        word=${COMP_WORDS[i]}
        case "$word" in -*) continue ;; esac
        case "$cmd" in
            "") [[ $word == auth || $word == completion ]] && cmd=$word ;;
            auth) cmd="auth $word" ;;
        esac
    done
    case "$cmd" in
@CASES@
    esac
    COMPREPLY=($(IFS=' '; compgen -W "$words" -- "$cur"))
}
complete -F _baseten baseten
"""


def _zsh_completion(tree) -> str:
    return ("#compdef baseten\n"
            "# zsh completion for baseten (baseten_auth), through bash's\n"
            "(( $+functions[compdef] )) || { autoload -U +X compinit && "
            "compinit; }\n"
            "autoload -U +X bashcompinit && bashcompinit\n"
            + _bash_completion(tree))


def _fish_completion(tree) -> str:
    lines = ["# fish completion for baseten (baseten_auth)",
             "complete -c baseten -f",
             "complete -c baseten -n __fish_use_subcommand -a 'auth completion'",
             "complete -c baseten -n '__fish_seen_subcommand_from auth; and not "
             "__fish_seen_subcommand_from login logout switch status token' "
             "-a 'login logout switch status token'",
             "complete -c baseten -n '__fish_seen_subcommand_from completion' "
             "-a 'bash zsh fish'"]
    for path, options in tree.items():
        if path.startswith("auth "):
            for option in options:
                lines.append(
                    "complete -c baseten -n '__fish_seen_subcommand_from %s' "
                    "-l %s%s%s" % (path.split()[1], option[2:],
                                   _FISH_SHORT.get(option, ""),
                                   _fish_argument(option)))
    return "\n".join(lines)


_FISH_SHORT = {"--output": " -s o", "--jq": " -s q", "--verbose": " -s v",
               "--help": " -s h"}


def _fish_argument(option) -> str:
    # -x (not -r): the value is never a file name.
    if option == "--profile":
        return " -x -a '(baseten completion --list-profiles 2>/dev/null)'"
    if option == "--output":
        return " -x -a 'text json jsonl none'"
    return " -x" if option in ("--jq", "--remote-url") else ""


_COMPLETION_SCRIPTS = {"bash": _bash_completion, "zsh": _zsh_completion,
                       "fish": _fish_completion}


##############################################################################
# Library API
##############################################################################

# A small API for programs that vendor this file. Everything else in the
# module is private (its names start with `_`) or may change.


def get_credential(profile=None) -> Credential:
    """The credential a command would use (SPEC section 2), refreshed.

    `profile` plays the part of --profile. Raises BasetenAuthError (with an
    `exit_code`) when nothing resolves or the credential cannot be used.
    """
    store = Store.default()
    name, source = _resolve_or_fail(store, profile)
    return _credential_for(store, name, source)


def authorization_header(profile=None) -> str:
    """The `Authorization` header value of the resolved credential."""
    return get_credential(profile).authorization


def list_profiles() -> list:
    """Every stored profile: dicts with profile, remote_url, auth_type,
    current and storage (never the secret)."""
    return _profile_summaries(Store.default())


def get_profile(name) -> dict:
    """One stored profile, as list_profiles() describes it."""
    for profile in list_profiles():
        if profile["profile"] == name:
            return profile
    raise ProfileError("no profile named %r" % name)



##############################################################################
# CLI
##############################################################################

_DESCRIPTIONS = {
    "auth": "Log in, log out, and manage Baseten credentials. Each set of "
            "credentials is stored as a named profile. Select a profile per "
            "command with --profile or the BASETEN_PROFILE environment "
            "variable, or set the default with baseten auth switch. "
            "Credentials are stored in the system keyring when available, "
            "with a plaintext fallback in the config directory.",
    "login": "Log in to Baseten through your browser (OAuth device flow) or "
             "API key, storing a named profile. By default, opens a browser "
             "for interactive login. Use --web to skip prompts (suitable for "
             "non-TTY environments). Use --with-api-key to provide an API key "
             "(reads from stdin, or prompts interactively if TTY). Browser "
             "logins name the profile after your email; API key logins "
             "require an explicit --profile name. The new profile becomes "
             "current unless --no-switch is given.",
    "logout": "Remove a stored profile and its credentials. Defaults to the "
              "current profile; pass --profile to choose another. For OAuth "
              "credentials, also revokes the session.",
    "switch": "Set the current profile used when no profile is selected "
              "with --profile or BASETEN_PROFILE.",
    "status": "Show the resolved authentication state, including the "
              "profile, remote, and auth type. With --all, list every stored "
              "profile; with --check, also ask the server whether the "
              "credential works (exit 3 when it is rejected).",
    "token": "Print the resolved credential (an API key, or an OAuth access "
             "token refreshed as needed) for use in scripts. This is the one "
             "command that prints a secret, and only on stdout.",
    "completion": "Print a completion script for bash, zsh or fish.",
}

_EXAMPLES = {
    "login": [
        ("Browser-based login (OAuth device flow)", "baseten auth login --web"),
        ("Provide an API key on stdin under a named profile",
         "echo $API_KEY | baseten auth login --with-api-key --profile <profile>"),
        ("Print just the new profile name",
         "baseten auth login --web --jq '.profile'"),
    ],
    "logout": [
        ("Log out the current profile", "baseten auth logout"),
        ("Log out a specific profile", "baseten auth logout --profile <profile>"),
        ("Print just the logged-out profile name",
         "baseten auth logout --jq '.profile'"),
    ],
    "switch": [
        ("Switch to a specific profile non-interactively",
         "baseten auth switch --profile <profile>"),
        ("Print just the new current profile",
         "baseten auth switch --profile <profile> --jq '.profile'"),
    ],
    "status": [
        ("Show the current auth status", "baseten auth status"),
        ("Print just the auth type", "baseten auth status --jq '.auth_type'"),
        ("List every stored profile", "baseten auth status --all"),
        ("Check that the credential still works", "baseten auth status --check"),
    ],
    "token": [
        ("Call the API with the resolved credential",
         'curl -H "Authorization: Api-Key $(baseten auth token)" ...'),
        ("Print the whole Authorization header value",
         "baseten auth token --jq '.authorization'"),
    ],
    "completion": [
        ("Enable completion in the current bash", "source <(baseten completion bash)"),
        ("Install it for fish",
         "baseten completion fish > ~/.config/fish/completions/baseten.fish"),
    ],
}

def _argparse_classes():
    """The parser and help formatter classes (argparse is imported here)."""
    import argparse

    class HelpFormatter(argparse.HelpFormatter):
        """Wrap descriptions, but keep the examples' lines as written."""

        def __init__(self, prog):
            # argparse would import shutil (4 ms) for the terminal width on
            # every run, even without --help: it checks each new option with
            # a formatter.
            try:
                width = os.get_terminal_size(sys.stderr.fileno()).columns
            except (OSError, ValueError, AttributeError):
                width = int(os.environ.get("COLUMNS", "80") or 80)
            super().__init__(prog, width=max(width, 40) - 2)

        def _fill_text(self, text, width, indent):
            if text.startswith("examples:"):
                return text
            return super()._fill_text(text, width, indent)

    class Parser(argparse.ArgumentParser):
        """An ArgumentParser whose errors are UsageError (one line, exit 2)."""

        def __init__(self, *args, **kwargs):
            kwargs.setdefault("formatter_class", HelpFormatter)
            super().__init__(*args, **kwargs)

        def error(self, message):
            raise UsageError("%s (see: %s --help)" % (message, self.prog))

    return Parser, HelpFormatter


def build_parser(argv=None):
    """The argparse parser of the whole CLI.

    Given the command line, only the command it names gets its options:
    building every command's options costs more than running `status`.
    """
    parser_class = _argparse_classes()[0]
    parser = parser_class(prog="baseten", description="Baseten command line "
                          "(authentication commands).")
    parser.add_argument("--version", action="version",
                        version="baseten_auth %s" % __version__)
    groups = parser.add_subparsers(dest="group", metavar="COMMAND")
    groups.required = True
    auth = groups.add_parser("auth", help="manage Baseten credentials",
                             description=_DESCRIPTIONS["auth"])
    commands = auth.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    wanted = _named_command(argv)
    common = _common_options(parser_class)
    for name in ("login", "logout", "switch", "status", "token"):
        full = wanted in (None, name)
        sub = commands.add_parser(
            name, help=_DESCRIPTIONS[name].split(". ")[0].rstrip("."),
            description=_DESCRIPTIONS[name], parents=[common] if full else [],
            epilog=_examples_text(name))
        if full:
            _COMMAND_OPTIONS.get(name, lambda sub: None)(sub)
    _completion_parser(groups)
    return parser


def _named_command(argv):
    """The auth command that argv names, if it names one plainly."""
    if argv and len(argv) > 1 and argv[0] == "auth" and argv[1] in _COMMANDS:
        return argv[1]
    return None


def _completion_parser(groups):
    completion = groups.add_parser(
        "completion", help=_DESCRIPTIONS["completion"].rstrip("."),
        description=_DESCRIPTIONS["completion"],
        epilog=_examples_text("completion"))
    completion.add_argument("shell", choices=("bash", "zsh", "fish"), nargs="?")
    # Used by the completion scripts to offer profile names; not in --help.
    # argparse tests `help is SUPPRESS`, so an equal string is not enough.
    import argparse

    completion.add_argument("--list-profiles", action="store_true",
                            help=argparse.SUPPRESS)


def _common_options(parser_class):
    common = parser_class(add_help=False)
    common.add_argument("-o", "--output", choices=OUTPUT_FORMATS, default=None,
                        help="output format (default text)")
    common.add_argument("-q", "--jq", metavar="EXPR", default=None,
                        help="filter JSON output with a jq expression; "
                             "implies --output json (jsonl for status --all)")
    common.add_argument("--profile", metavar="NAME", default=None,
                        help="use a specific stored profile for this command, "
                             "overriding BASETEN_PROFILE and the current "
                             "profile")
    common.add_argument("-v", "--verbose", action="store_true",
                        help="enable verbose logging (never shows secrets)")
    return common


def _login_options(sub):
    sub.add_argument("--web", action="store_true",
                     help="use browser login without interactive prompts")
    sub.add_argument("--with-api-key", action="store_true",
                     help="read an API key from stdin")
    sub.add_argument("--no-switch", action="store_true",
                     help="store the profile without making it the current "
                          "profile")
    sub.add_argument("--insecure-storage", action="store_true",
                     help="store credentials in plain text instead of the "
                          "system keyring")
    sub.add_argument("--remote-url", metavar="URL", default=None,
                     help="Baseten remote URL for this profile (default %s)"
                          % DEFAULT_REMOTE_URL)


def _status_options(sub):
    sub.add_argument("--all", action="store_true",
                     help="list every stored profile, the current one marked")
    sub.add_argument("--check", action="store_true",
                     help="also ask the server whether the credential works")


_COMMAND_OPTIONS = {"login": _login_options, "status": _status_options}


def _examples_text(name) -> str:
    lines = ["examples:"]
    for title, command in _EXAMPLES[name]:
        lines += ["  # " + title, "  " + command, ""]
    return "\n".join(lines).rstrip()


_COMMANDS = {"login": cmd_login, "logout": cmd_logout, "switch": cmd_switch,
             "status": cmd_status, "token": cmd_token}


def main(argv=None) -> int:
    """Run the CLI; return the exit code."""
    global _verbose
    try:
        if argv is None:
            argv = sys.argv[1:]
        args = build_parser(argv).parse_args(argv)
        if args.group == "completion":
            return cmd_completion(args)
        _verbose = args.verbose
        out = Output(args.output, args.jq, streamed=getattr(args, "all", False))
        _COMMANDS[args.command](args, out)
        return EXIT_OK
    except BasetenAuthError as e:
        _write_stderr("error: %s" % e)
        return e.exit_code
    except KeyboardInterrupt:
        _write_stderr("error: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): nothing more to say to it.
        sys.stdout = open(os.devnull, "w")
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
