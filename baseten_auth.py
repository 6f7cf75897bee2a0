"""baseten_auth: `baseten auth` (login, logout, switch, status) in one file.

A dependency-free Python implementation of the Baseten CLI's `auth` commands,
for minimal containers, vendoring and air-gapped machines. It reads and writes
the same `auth.json` and keyring entries as the official CLI, so the two can
be used side by side.

    python baseten_auth.py auth login --with-api-key --profile ci < key.txt
    python baseten_auth.py auth status -o json
    python baseten_auth.py auth token

Contents (each section uses only those above it, except that the store
reaches the keyring backends through an entry point of the cold code):
    Constants
    Errors
    Utilities
    Remote URLs
    Auth file
    Store
    Cold code (source text, compiled on first use):
        Keyring backends
        HTTP
        Device flow
        OAuth credentials: refresh and revocation
    jq (source text, compiled on first use)
    Output
    Commands
    Library API
    CLI

Design notes:
- Start-up matters (`auth status` runs in shell prompts and scripts), so only
  os, sys and json are imported at the top and argparse when the command
  line is parsed; urllib, subprocess, getpass and friends are imported by
  the code paths that need them. `python baseten_auth.py` compiles the whole
  file on every run (a script gets no bytecode cache), and compiling code
  costs about 20 times more than reading a string of the same size, so what
  `auth status` never runs is kept as source text and compiled on first use
  through a cache in __pycache__: the jq engine (most of the file) and the
  "cold code" (keyring backends, HTTP, device flow, OAuth refresh).
- Secrets (API keys, access and refresh tokens, device codes) never reach
  argv, a log line, an error message or a traceback. Keyring tools get them
  on stdin.
- Errors are raised as `BasetenAuthError` subclasses that carry the exit code
  and reported once, by `main()`, as one line on stderr.

The jq language (`--jq`, `jq_compile`) is the one the jq 1.8 manual
documents; every example of the manual passes. Deliberately unsupported, as
the engine's own notes explain: modules (import, include, modulemeta,
get_search_list, $__prog_args), the Oniguruma regular-expression features
that Python's re lacks (\\G, \\p{...}, \\g<name>, the absent operator, and
atomic groups before Python 3.11), %Z time zones other than UTC, GMT and the
local one, and input_filename/input_line_number (there are no input files).
"""

from __future__ import annotations

import _thread  # built in and already loaded: free
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
HTTP_TIMEOUT_ENV = "BASETEN_HTTP_TIMEOUT"
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


class KeyringUnavailable(Exception):
    """Raised when a keyring backend cannot be used."""


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
    """Replace every secret in text by `***` (secrets of fewer than four
    characters would only garble the message: no real credential is)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
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


def _compile_source_section(name, source, line):
    """Compile code kept in a string (the cold code, the jq engine), through
    a bytecode cache.

    The cache file sits in __pycache__ beside this file, as Python's own
    would, or, where that is not writable (a system-wide install), in the
    user's cache directory; it is keyed by the interpreter and a checksum
    of the source. Where neither works, the source is compiled each time.
    """
    import marshal
    import zlib

    key = b"%08x:%d:%x\n" % (zlib.crc32(source.encode("utf-8")), line,
                             sys.hexversion)
    here = os.path.abspath(__file__)
    file_name = "%s.%s.%s.pyc" % (os.path.splitext(os.path.basename(here))[0],
                                  name, sys.implementation.cache_tag)
    caches = [os.path.join(d, file_name) for d in _cache_dirs(here)]
    for cache in caches:
        try:
            with open(cache, "rb") as f:
                if f.readline() == key:
                    return marshal.loads(f.read())
        except (OSError, ValueError, EOFError, TypeError):
            pass
    # The leading newlines make tracebacks and linecache point at the
    # right lines of this file.
    code = compile("\n" * line + source, here, "exec")
    if not sys.dont_write_bytecode:
        content = key + marshal.dumps(code)
        any(_write_cache_file(cache, content) for cache in caches)
    return code


def _cache_dirs(here) -> list:
    """Where compiled source sections may be cached, in order."""
    dirs = [os.path.join(os.path.dirname(here), "__pycache__")]
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
    elif sys.platform == "darwin":
        base = _home_dir() and os.path.join(_home_dir(), "Library", "Caches")
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = xdg if os.path.isabs(xdg) else (
            _home_dir() and os.path.join(_home_dir(), ".cache"))
    if base:
        dirs.append(os.path.join(base, "baseten_auth"))
    return dirs


def _write_cache_file(path, content) -> bool:
    """Write a cache file atomically; False if it cannot be (a failure only
    costs speed)."""
    temp = "%s.%d.tmp" % (path, os.getpid())
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temp, "wb") as f:
            f.write(content)
        os.replace(temp, path)
        return True
    except OSError as e:
        _debug("no bytecode cache at %s: %s", path, e)
        try:
            os.unlink(temp)
        except OSError:
            pass
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
    import stat

    try:
        # O_NONBLOCK: opening a named pipe must not wait for a writer.
        with open(path, "rb", opener=_open_nonblocking) as f:
            status = os.fstat(f.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise AuthFileError("cannot read %s: it is not a regular file"
                                    % path)
            _warn_if_exposed(path, status)
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


def _open_nonblocking(path, flags):
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))


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
        # Was the old secret in the keyring? Then a copy in the file must
        # take it out of there (a new profile, or one kept in the file,
        # has none: no keyring tool is run for them).
        was_in_keyring = (name in self.profiles()
                          and self.storage(name) == "keyring")
        entry = {"remote_url": remote_url, "auth_type": auth_type}
        storage = "file" if insecure else self._keyring_set(name, secret)
        if storage == "file":
            entry.update(_secret_fields(auth_type, secret))

        def change(data):
            data["profiles"][name] = entry
            if make_current:
                data["current"] = name

        self.update(change)
        if storage == "file" and was_in_keyring:
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
        store.entry(_check_profile_name(env_profile))
        return env_profile, ENV_PROFILE
    current = store.current()
    if current:
        store.entry(current)
        return current, "the current profile"
    return None, None


##############################################################################
# Cold code
##############################################################################

# What `auth status` never runs (the keyring backends, HTTP, the device flow,
# OAuth refresh) is kept below as source text and compiled on first use,
# like the jq engine: `python baseten_auth.py` compiles the whole file on
# every run, and these thousand lines of code would cost more than the rest
# of `auth status` does. The text is ordinary code of this module: it runs
# in the module's namespace, so once loaded its names are plain globals.
# Until then, the functions that the code above and below calls are entry
# points that load it first, and attribute access from outside (tests,
# programs that import this file) loads it through the module __getattr__.

_cold_loaded = False
_cold_lock = _thread.allocate_lock()


def _load_cold_code():
    """Compile and run the cold code into this module, once."""
    global _cold_loaded
    with _cold_lock:
        if _cold_loaded:
            return
        namespace = globals()
        # Keep anything already set under a name the cold code defines
        # (a test's monkeypatch); replace only the entry points.
        kept = {name: value for name, value in namespace.items()
                if not getattr(value, "_loads_cold_code", False)}
        exec(_compile_source_section("cold", _COLD_SOURCE, _COLD_LINE),
             namespace)
        namespace.update(kept)
        _cold_loaded = True


def _cold_entry(name):
    """An entry point into the cold code: loads it, then calls `name`."""

    def entry(*args, **kwargs):
        _load_cold_code()
        return globals()[name](*args, **kwargs)

    entry.__name__ = entry.__qualname__ = name
    entry._loads_cold_code = True
    return entry


def __getattr__(name):
    """Load the cold code when one of its names is asked for from outside."""
    if not name.startswith("__") and not _cold_loaded:
        _load_cold_code()
        if name in globals():
            return globals()[name]
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


_keyring_backend = _cold_entry("_keyring_backend")
fetch_user = _cold_entry("fetch_user")
browser_login = _cold_entry("browser_login")
fresh_credential = _cold_entry("fresh_credential")
revoke_session = _cold_entry("revoke_session")
_revoke_quietly = _cold_entry("_revoke_quietly")

_COLD_LINE = sys._getframe().f_lineno
_COLD_SOURCE = r'''
##############################################################################
# Keyring backends
##############################################################################

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
        # UTF-8 on the tool's stdin and stdout, whatever the user's locale;
        # no Python warnings (cryptography warns about old Pythons on
        # stderr, and an empty stderr is what tells "no entry" apart).
        return dict(os.environ, PYTHONIOENCODING="utf-8",
                    PYTHONWARNINGS="ignore")

    def get(self, profile):
        rc, out, err = self._run(["get", "--", KEYRING_SERVICE, profile])
        if rc == 0:
            value = _keyring_text(out, "the keyring entry of " + repr(profile))
            # print() added exactly one newline.
            if value.endswith("\n"):
                value = value[:-1]
            return _decode_go_keyring(value)
        name = _keyring_exception_name(err)
        if rc == 1 and not name:
            return None  # no traceback: no entry (stderr may hold warnings)
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
    timeout = _http_timeout()
    try:
        with opener.open(request, timeout=timeout) as response:
            status, headers = response.status, response.headers
            raw = _read_body(response, timeout)
    except urllib.error.HTTPError as e:
        status, headers, raw = e.code, e.headers, _read_error_body(e, timeout)
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


def _http_timeout() -> float:
    """The connect and read timeout: BASETEN_HTTP_TIMEOUT, else HTTP_TIMEOUT."""
    value = os.environ.get(HTTP_TIMEOUT_ENV, "")
    try:
        seconds = float(value) if value else 0.0
    except ValueError:
        seconds = 0.0
    if 0 < seconds < float("inf"):  # also false for NaN
        return seconds
    if value:
        _debug("ignoring %s=%r: not a positive number of seconds",
               HTTP_TIMEOUT_ENV, value)
    return HTTP_TIMEOUT


def _read_body(response, timeout) -> bytes:
    """Read at most HTTP_MAX_BODY + 1 bytes, within `timeout` in all: the
    socket timeout bounds each read only, and a server that trickles one
    byte at a time would otherwise keep us forever."""
    import time

    deadline = time.monotonic() + timeout
    read = getattr(response, "read1", response.read)
    chunks, size = [], 0
    while size <= HTTP_MAX_BODY:
        chunk = read(min(65536, HTTP_MAX_BODY + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if time.monotonic() > deadline:
            raise TimeoutError("the answer took longer than %g s" % timeout)
    return b"".join(chunks)


def _read_error_body(error, timeout) -> bytes:
    import http.client

    try:
        return _read_body(error, timeout)
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
    if not any(isinstance(body.get(key), str) and body[key]
               for key in ("user_id", "email")):
        raise ServerError("%s answered without a user_id or email" % url)
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


# Ten years: no access token lives longer.
_MAX_TOKEN_LIFETIME = 10 * 365 * 86400


def _oauth_credential(tokens, old_refresh_token="") -> dict:
    """The stored form of a token response; expiry = now + expires_in."""
    expires_in = _positive_number(tokens.get("expires_in"), None)
    if expires_in and expires_in > _MAX_TOKEN_LIFETIME:
        expires_in = None  # garbled (1e20 s would overflow gmtime): unknown
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
'''  # end of _COLD_SOURCE


##############################################################################
# jq
##############################################################################

# === BEGIN JQ PUBLIC ===
class JqError(Exception):
    """Raised when a jq program fails at run time; value is the error value."""

    def __init__(self, message, *value):
        Exception.__init__(self, message)
        self.value = value[0] if value else message


class JqSyntaxError(ValueError):
    """Raised when a jq expression does not compile (column is 1-based)."""

    def __init__(self, message, expression, column):
        ValueError.__init__(self, "%s (at column %d)" % (message, column))
        self.message = message
        self.expression = expression
        self.column = column

    def caret(self):
        """Return the expression line and a caret line under the column."""
        start = self.expression.rfind("\n", 0, self.column - 1) + 1
        end = self.expression.find("\n", start)
        line = self.expression[start:] if end < 0 else self.expression[start:end]
        return line + "\n" + " " * (self.column - 1 - start) + "^"
# === END JQ PUBLIC ===

_JQ_LINE = sys._getframe().f_lineno
_JQ_SOURCE = r'''
r"""The jq engine: the jq 1.8 language, compiled from _JQ_SOURCE on first use.

Public names: jq_compile(expression, variables=()) -> program, whose
run(value, variables=None, inputs=None) iterates over the outputs;
jq_dumps(value, indent=None) prints one output as jq does; JqError and
JqSyntaxError come from the module around this source.

Design notes
------------
Lexing: jq_tokens() turns the expression into JqToken items (kind, value,
pos).  A string literal becomes one JqToken whose value is a list of parts:
plain text, or the JqToken list of an interpolated \( ... ) expression.

Parsing: JqParser is a recursive-descent parser with one method per
precedence level (pipe, comma, //, assignment, or, and, comparison, +, *,
unary minus, postfix).  Nodes are tuples (kind, pos, ...).  As in jq's own
grammar, `Term as $x | body` and `def` reach as far right as they can.

Compiling: _Compiler turns each node into a Python closure
run(input, env) -> iterable of outputs (by _eval_<kind>), so nothing walks
the tree at run time.  Nodes that always give exactly one output also carry
run.single(input, env) -> value, which pipes and operators use to skip
generators: `.a.b`, literals and arithmetic on them run as plain calls.
Path expressions (path(f), paths, the assignment operators) compile
separately, by _path_<kind>, into closures run(input, path, env) ->
iterable of (value, path) pairs.  Other expressions give their values
with the path None, which the next suffix or the consumer rejects with
jq's "Invalid path expression ..." messages.

Generators: outputs are produced lazily, so `limit`, `first` and `label`
stop a generator early and a program's outputs before an error are kept.
Errors are exceptions: try, `?`, `//` and `?//` catch JqError, but not
_JqBreak (break) or _JqHalt (halt).

Scopes: variables, filter parameters and labels live in `env`, a linked
list of (value, parent) tuples; the compiler resolves every name to a
distance from the head, so undefined names are compile errors and a lookup
is a few tuple steps.  Functions are bound statically: a call walks to the
environment the function was defined in and pushes its arguments
(_Closure: compiled code plus the caller's env).  The root of `env` holds
the run's _Context (further inputs, named variables).

Builtins: _jq_builtin_<name> are functions of values (one output; the
arity comes from the signature or a _<arity> suffix);
_jq_filter_<name>_<arity> take filter arguments and give any number of
outputs, with _jq_path_<name>_<arity> as their path-mode versions.  The
rest is written in jq, _JQ_PRELUDE; each of its definitions is parsed the
first time a program calls it.

Numbers: int or float.  Integers stay exact until arithmetic leaves
+-2**53, where they become doubles as in jq.  jq_dumps prints an integer
unchanged (jq 1.7 keeps number literals it did not compute with), while
tojson and comparisons use the double, as jq does without decNumber
(have_decnum is false, as in gojq).

Depth: comparison, equality, sorting, jq_dumps, `..`, recurse, tostream,
getpath/setpath and fromjson are iterative, so values nested 10,000 deep
work; so are long pipelines and comma lists in the expression.  Recursion
in a jq program runs on Python's stack: past Python's recursion limit it
ends in JqError("... recursion depth exceeded ..."), never a
RecursionError, and an expression nested too deeply to parse is a
JqSyntaxError.  Arrays stop at _MAX_ARRAY elements, so `[repeat(1)]` is an
error, not an exhausted machine; `limit` bounds any generator.

Deliberately unsupported
------------------------
- Modules (import, include, modulemeta, get_search_list): the CLI has no
  jq library path, and a single-file tool should not read code from disk.
  They fail to compile with "... is not supported by the bundled
  evaluator".  $__prog_args is not defined either.
- Oniguruma features that Python's re lacks: \G, \p{...} properties,
  subexpression calls \g<name>, the absent operator, and (before Python
  3.11) atomic groups and possessive quantifiers.  Using one is a jq
  error; the usual spellings ((?<name>...), \k<name>, \h, \z, POSIX
  classes such as [[:alpha:]]) are translated.
- Dates go through Python's time.strftime and datetime.strptime, so %Z
  parses only UTC, GMT and the local zone names, and platform-specific
  directives follow the C library as jq's do.
- input_filename is null and input_line_number is 0: the CLI gives the
  engine values, not files.
"""

import itertools
import json
import math
import re
import sys
import warnings

_MAX_EXACT = 2 ** 53


##############################################################################
# Lexer
##############################################################################

_KEYWORDS = frozenset(
    "def if then elif else end as reduce foreach try catch label import "
    "include and or __loc__".split()
)

# Longest first, so that "?//" wins over "?" and "//=" over "//".
_OPERATORS = sorted(
    "?// //= |= += -= *= /= %= == != <= >= // .. "
    "| , . [ ] { } ( ) : ; = < > + - * / % ?".split(),
    key=len,
    reverse=True,
)

_DIGITS = frozenset("0123456789")
_IDENT_START = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_IDENT_RE = re.compile(r"[a-zA-Z_][a-zA-Z_0-9]*(?:::[a-zA-Z_][a-zA-Z_0-9]*)*")
_FIELD_RE = re.compile(r"\.[a-zA-Z_][a-zA-Z_0-9]*")
_NUMBER_RE = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ESCAPES = {
    '"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n",
    "r": "\r", "t": "\t",
}


class JqToken(object):
    """One lexical item of a jq expression: kind, value, offset."""

    __slots__ = ("kind", "value", "pos")

    def __init__(self, kind, value, pos):
        self.kind = kind
        self.value = value
        self.pos = pos

    def __repr__(self):
        return "JqToken(%r, %r, %d)" % (self.kind, self.value, self.pos)


def _syntax_error(expression, pos, message):
    return JqSyntaxError(message, expression, pos + 1)


def jq_tokens(expression, pos=0, nested=False):
    """Split an expression into JqTokens; stop at an unmatched ')' if nested.

    Returns (jq_tokens, end offset).  Kinds: num, str, ident, keyword,
    field (.foo), var ($foo), format (@foo), op and eof.
    """
    out = []
    depth = 0
    n = len(expression)
    while True:
        # Skip blanks and comments.
        while pos < n:
            c = expression[pos]
            if c in " \t\r\n":
                pos += 1
            elif c == "#":
                pos = _comment_end(expression, pos)
            else:
                break
        if pos >= n:
            if nested:
                raise _syntax_error(expression, pos, "unterminated string")
            out.append(JqToken("eof", None, pos))
            return out, pos
        c = expression[pos]
        m = None
        if c == '"':
            parts, end = _lex_string(expression, pos)
            out.append(JqToken("str", parts, pos))
            pos = end
            continue
        if c in _DIGITS or (c == "." and expression[pos + 1:pos + 2] in _DIGITS):
            m = _NUMBER_RE.match(expression, pos)
            text = m.group()
            if "." in text or "e" in text or "E" in text:
                value = float(text)
            else:
                value = int(text)
            out.append(JqToken("num", value, pos))
        elif c == ".":
            m = _FIELD_RE.match(expression, pos)
            if m:
                out.append(JqToken("field", m.group()[1:], pos))
        elif c in "$@":
            m = _IDENT_RE.match(expression, pos + 1)
            if not m:
                raise _syntax_error(expression, pos, "syntax error: unexpected %r" % c)
            kind = "var" if c == "$" else "format"
            out.append(JqToken(kind, m.group(), pos))
        elif c in _IDENT_START:
            m = _IDENT_RE.match(expression, pos)
            word = m.group()
            kind = "keyword" if word in _KEYWORDS else "ident"
            out.append(JqToken(kind, word, pos))
        if m:
            pos = m.end()
            continue

        # Operators; a nested lexer ends at the ")" closing "\(".
        for op in _OPERATORS:
            if expression.startswith(op, pos):
                break
        else:
            raise _syntax_error(expression, pos, "syntax error: unexpected %r" % c)
        if op == "(":
            depth += 1
        elif op == ")":
            if nested and depth == 0:
                out.append(JqToken("eof", None, pos))
                return out, pos + 1
            depth -= 1
        out.append(JqToken("op", op, pos))
        pos += len(op)


def _comment_end(expression, pos):
    """The end of the comment at pos: jq 1.7 continues a comment onto the
    next line when the line ends with an odd number of backslashes."""
    while True:
        end = expression.find("\n", pos)
        if end < 0:
            return len(expression)
        backslashes = end - len(expression[:end].rstrip("\\"))
        if backslashes % 2 == 0:
            return end
        pos = end + 1


def _lex_string(expression, pos):
    """Lex the string literal at pos; return (parts, end offset)."""
    parts = []
    chunk = []
    start = pos
    pos += 1
    n = len(expression)
    while True:
        if pos >= n:
            raise _syntax_error(expression, start, "unterminated string")
        c = expression[pos]
        if c == '"':
            break
        if c != "\\":
            chunk.append(c)
            pos += 1
            continue
        e = expression[pos + 1:pos + 2]
        if e in _ESCAPES:
            chunk.append(_ESCAPES[e])
            pos += 2
        elif e == "u":
            code, pos = _lex_unicode_escape(expression, pos)
            chunk.append(code)
        elif e == "(":
            if chunk:
                parts.append("".join(chunk))
                chunk = []
            inner, pos = jq_tokens(expression, pos + 2, nested=True)
            parts.append(inner)
        else:
            raise _syntax_error(expression, pos, "invalid escape '\\%s'" % e)
    if chunk or not parts:
        parts.append("".join(chunk))
    return parts, pos + 1


def _lex_unicode_escape(expression, pos):
    """Decode a \\u escape and its four hex digits at pos (joining surrogate
    pairs); return (char, end)."""
    digits = expression[pos + 2:pos + 6]
    if not re.match(r"[0-9a-fA-F]{4}$", digits):
        raise _syntax_error(expression, pos, "invalid \\u escape")
    code = int(digits, 16)
    pos += 6
    low = expression[pos + 2:pos + 6]
    if (0xD800 <= code < 0xDC00 and expression.startswith("\\u", pos)
            and re.match(r"[dD][c-fC-F][0-9a-fA-F]{2}$", low)):
        code = 0x10000 + ((code - 0xD800) << 10) + (int(low, 16) - 0xDC00)
        pos += 6
    if 0xD800 <= code < 0xE000:
        code = 0xFFFD
    return chr(code), pos


##############################################################################
# Parser
##############################################################################

# Module system builtins, deliberately left out (see the notes on top).
_MODULE_BUILTINS = frozenset(
    ["modulemeta", "get_search_list", "get_prog_origin", "get_jq_origin"])
_CONSTANTS = {"null": None, "true": True, "false": False}
_ASSIGN_OPS = frozenset(["=", "|=", "+=", "-=", "*=", "/=", "%=", "//="])
_COMPARE_OPS = frozenset(["==", "!=", "<", "<=", ">", ">="])


class JqParser(object):
    """Parse jq_tokens into a tree of (kind, pos, ...) tuples."""

    def __init__(self, expression, jq_tokens_):
        self.expression = expression
        self.jq_tokens = jq_tokens_
        self.index = 0

    # -- helpers -------------------------------------------------------------

    def _peek(self):
        return self.jq_tokens[self.index]

    def _next(self):
        item = self.jq_tokens[self.index]
        self.index += 1
        return item

    def _at(self, kind, value=None):
        item = self.jq_tokens[self.index]
        return item.kind == kind and (value is None or item.value == value)

    def _accept(self, kind, value=None):
        if self._at(kind, value):
            return self._next()
        return None

    def _expect(self, kind, value=None):
        if not self._at(kind, value):
            self._unexpected()
        return self._next()

    def _unexpected(self):
        item = self._peek()
        if item.kind == "eof":
            what = "end of input"
        elif item.kind == "str":
            what = "string"
        elif item.kind in ("field", "var", "format"):
            what = "'%s%s'" % ({"field": ".", "var": "$", "format": "@"}[
                item.kind], item.value)
        else:
            what = "'%s'" % (item.value,)
        raise _syntax_error(
            self.expression, item.pos, "syntax error: unexpected " + what)

    # -- entry point ---------------------------------------------------------

    def parse(self):
        """Parse the whole expression."""
        if self._at("eof"):
            return ("identity", 0)
        node = self.parse_pipe()
        self._expect("eof")
        return node

    # -- precedence levels, loosest first ----------------------------------

    def parse_pipe(self, no_comma=False):
        """Pipe level: `a | b`, `def f: ...; rest`, bindings, labels."""
        if self._at("keyword", "def"):
            fdef = self._parse_def()
            return ("func_def", fdef[1], fdef, self.parse_pipe(no_comma))
        # A loop, not recursion, so that long pipelines parse.
        stages = []
        while True:
            stages.append(self._parse_alternative() if no_comma
                          else self._parse_comma())
            if not self._accept("op", "|"):
                break
            if self._at("keyword", "def"):
                stages.append(self.parse_pipe(no_comma))
                break
        node = stages.pop()
        while stages:
            left = stages.pop()
            node = ("pipe", left[1], left, node)
        return node

    def _parse_comma(self):
        left = self._parse_alternative()
        while self._at("op", ","):
            pos = self._next().pos
            left = ("comma", pos, left, self._parse_alternative())
        return left

    def _parse_alternative(self):
        left = self._parse_assignment()
        if self._at("op", "//"):
            pos = self._next().pos
            return ("alt", pos, left, self._parse_alternative())
        return left

    def _parse_assignment(self):
        left = self._parse_or()
        item = self._peek()
        if item.kind == "op" and item.value in _ASSIGN_OPS:
            self._next()
            return ("assign", item.pos, item.value, left, self._parse_or())
        return left

    def _parse_or(self):
        left = self._parse_and()
        while self._at("keyword", "or"):
            pos = self._next().pos
            left = ("or", pos, left, self._parse_and())
        return left

    def _parse_and(self):
        left = self._parse_comparison()
        while self._at("keyword", "and"):
            pos = self._next().pos
            left = ("and", pos, left, self._parse_comparison())
        return left

    def _parse_comparison(self):
        left = self._parse_additive()
        item = self._peek()
        if item.kind == "op" and item.value in _COMPARE_OPS:
            self._next()
            right = self._parse_additive()
            left = ("binop", item.pos, item.value, left, right)
            item = self._peek()
            if item.kind == "op" and item.value in _COMPARE_OPS:
                self._unexpected()  # comparisons do not chain in jq
        return left

    def _parse_additive(self):
        left = self._parse_multiplicative()
        while True:
            item = self._peek()
            if item.kind != "op" or item.value not in ("+", "-"):
                return left
            self._next()
            right = self._parse_multiplicative()
            left = ("binop", item.pos, item.value, left, right)

    def _parse_multiplicative(self):
        left = self._parse_unary()
        while True:
            item = self._peek()
            if item.kind != "op" or item.value not in ("*", "/", "%"):
                return left
            self._next()
            right = self._parse_unary()
            left = ("binop", item.pos, item.value, left, right)

    def _parse_unary(self):
        if self._at("op", "-"):
            pos = self._next().pos
            return ("neg", pos, self._parse_unary())
        return self.parse_postfix()

    def parse_postfix(self, allow_as=True):
        """A term with its suffixes: .a, [i], [i:j], [], ?, and `as`."""
        term = self._parse_primary()
        while True:
            item = self._peek()
            if item.kind == "field":
                self._next()
                term = ("field", item.pos, term, item.value)
            elif item.kind == "op" and item.value == "." and self._dot_suffix():
                self._next()
                term = self._parse_dot_suffix(term)
            elif item.kind == "op" and item.value == "[":
                term = self._parse_bracket(term)
            elif item.kind == "op" and item.value == "?":
                self._next()
                term = ("try", item.pos, term, None)
            elif item.kind == "op" and item.value == "?//":
                # Outside a pattern, `.a?//1` is `.a? // 1`: keep the "//".
                self.jq_tokens[self.index] = JqToken("op", "//", item.pos + 1)
                term = ("try", item.pos, term, None)
            elif item.kind == "keyword" and item.value == "as" and allow_as:
                return self._parse_binding(term)
            else:
                return term

    def _dot_suffix(self):
        following = self.jq_tokens[self.index + 1]
        return following.kind == "str" or (
            following.kind == "op" and following.value == "[")

    def _parse_dot_suffix(self, term):
        if self._at("op", "["):
            return self._parse_bracket(term)
        item = self._next()
        key = self._string_node(item, None)
        if key[0] == "literal":
            return ("field", item.pos, term, key[2])
        return ("index", item.pos, term, key)

    def _parse_bracket(self, term):
        pos = self._expect("op", "[").pos
        if self._accept("op", "]"):
            return ("iterate", pos, term)
        if self._accept("op", ":"):
            upper = self.parse_pipe()
            self._expect("op", "]")
            return ("slice", pos, term, None, upper)
        index = self.parse_pipe()
        if self._accept("op", ":"):
            upper = None if self._at("op", "]") else self.parse_pipe()
            self._expect("op", "]")
            return ("slice", pos, term, index, upper)
        self._expect("op", "]")
        return ("index", pos, term, index)

    def _parse_binding(self, source):
        pos = self._expect("keyword", "as").pos
        patterns = self._parse_patterns()
        self._expect("op", "|")
        return ("bind", pos, source, patterns, self.parse_pipe())

    # -- terms ------------------------------------------------------------

    def _parse_primary(self):
        """One term; dispatch on the JqToken's kind (a flat dispatcher)."""
        item = self._peek()
        kind, value = item.kind, item.value
        if kind == "num":
            self._next()
            return ("literal", item.pos, value)
        if kind == "str":
            self._next()
            return self._string_node(item, None)
        if kind == "format":
            self._next()
            if self._at("str"):
                return self._string_node(self._next(), value)
            return ("format", item.pos, value)
        if kind == "field":
            self._next()
            return ("field", item.pos, ("identity", item.pos), value)
        if kind == "var":
            self._next()
            if value == "__loc__":
                line = self.expression.count("\n", 0, item.pos) + 1
                return ("literal", item.pos, {"file": "<top-level>", "line": line})
            return ("var", item.pos, value)
        if kind == "keyword":
            method = getattr(self, "_parse_keyword_" + value, None)
            if method is None:
                self._unexpected()
            return method()
        if kind == "ident":
            return self._parse_call()
        if kind != "op":
            self._unexpected()
        if value == ".":
            self._next()
            if self._at("str"):
                return self._parse_dot_suffix(("identity", item.pos))
            return ("identity", item.pos)
        if value == "..":
            self._next()
            return ("call", item.pos, "recurse", [])
        if value == "(":
            self._next()
            node = self.parse_pipe()
            self._expect("op", ")")
            return ("paren", item.pos, node)
        if value == "[":
            self._next()
            if self._accept("op", "]"):
                return ("array", item.pos, None)
            node = self.parse_pipe()
            self._expect("op", "]")
            return ("array", item.pos, node)
        if value == "{":
            return self._parse_object()
        self._unexpected()

    def _parse_call(self):
        item = self._next()
        if item.value == "break":
            label = self._expect("var")
            return ("break", item.pos, label.value)
        if item.value in _CONSTANTS and not self._at("op", "("):
            return ("literal", item.pos, _CONSTANTS[item.value])
        args = []
        if self._accept("op", "("):
            args.append(self.parse_pipe())
            while self._accept("op", ";"):
                args.append(self.parse_pipe())
            self._expect("op", ")")
        return ("call", item.pos, item.value, args)

    def _string_node(self, item, fmt):
        parts = []
        for part in item.value:
            if isinstance(part, str):
                parts.append(part)
            else:
                sub = JqParser(self.expression, part)
                parts.append(sub.parse())
        if len(parts) == 1 and isinstance(parts[0], str) and fmt is None:
            return ("literal", item.pos, parts[0])
        return ("string", item.pos, parts, fmt)

    def _parse_keyword_def(self):
        fdef = self._parse_def()
        return ("func_def", fdef[1], fdef, self.parse_pipe())

    def _parse_def(self):
        """`def name(params): body;` -> ("def", pos, name, params, body)."""
        pos = self._expect("keyword", "def").pos
        name_item = self._next()
        if name_item.kind not in ("ident", "keyword"):
            self.index -= 1
            self._unexpected()
        params = []
        if self._accept("op", "("):
            while True:
                param = self._next()
                if param.kind == "var":
                    params.append("$" + param.value)
                elif param.kind in ("ident", "keyword"):
                    params.append(param.value)
                else:
                    self.index -= 1
                    self._unexpected()
                if not self._accept("op", ";"):
                    break
            self._expect("op", ")")
        self._expect("op", ":")
        body = self.parse_pipe()
        self._expect("op", ";")
        return ("def", pos, name_item.value, params, body)

    def _parse_keyword_if(self):
        pos = self._expect("keyword", "if").pos
        node = self._parse_if_branches(pos)
        self._expect("keyword", "end")
        return node

    def _parse_if_branches(self, pos):
        """`cond then a (elif ...)* (else b)?`, up to its single `end`."""
        cond = self.parse_pipe()
        self._expect("keyword", "then")
        then = self.parse_pipe()
        elif_item = self._accept("keyword", "elif")
        if elif_item is not None:
            other = self._parse_if_branches(elif_item.pos)
        elif self._accept("keyword", "else"):
            other = self.parse_pipe()
        else:
            other = ("identity", pos)  # jq 1.7: no else keeps the input
        return ("if", pos, cond, then, other)

    def _parse_keyword_try(self):
        pos = self._expect("keyword", "try").pos
        body = self._parse_try_operand()
        handler = None
        if self._accept("keyword", "catch"):
            handler = self._parse_try_operand()
        return ("try", pos, body, handler)

    def _parse_try_operand(self):
        # try and catch bind tighter than any binary operator.
        if self._at("op", "-"):
            pos = self._next().pos
            return ("neg", pos, self._parse_try_operand())
        return self.parse_postfix(allow_as=False)

    def _parse_keyword_reduce(self):
        pos = self._expect("keyword", "reduce").pos
        source = self.parse_postfix(allow_as=False)
        self._expect("keyword", "as")
        patterns = self._parse_patterns()
        self._expect("op", "(")
        init = self.parse_pipe()
        self._expect("op", ";")
        update = self.parse_pipe()
        self._expect("op", ")")
        return ("reduce", pos, source, patterns, init, update)

    def _parse_keyword_foreach(self):
        pos = self._expect("keyword", "foreach").pos
        source = self.parse_postfix(allow_as=False)
        self._expect("keyword", "as")
        patterns = self._parse_patterns()
        self._expect("op", "(")
        init = self.parse_pipe()
        self._expect("op", ";")
        update = self.parse_pipe()
        extract = None
        if self._accept("op", ";"):
            extract = self.parse_pipe()
        self._expect("op", ")")
        return ("foreach", pos, source, patterns, init, update, extract)

    def _parse_keyword_label(self):
        pos = self._expect("keyword", "label").pos
        name = self._expect("var").value
        self._expect("op", "|")
        return ("label", pos, name, self.parse_pipe())

    def _parse_keyword_import(self):
        raise _syntax_error(
            self.expression, self._peek().pos,
            "import is not supported by the bundled evaluator")

    _parse_keyword_include = _parse_keyword_import

    # -- object construction -----------------------------------------------

    def _parse_object(self):
        pos = self._expect("op", "{").pos
        entries = []
        while not self._accept("op", "}"):
            entries.append(self._parse_object_entry())
            if not self._accept("op", ","):
                self._expect("op", "}")
                break
        return ("object", pos, entries)

    def _parse_object_entry(self):
        """One `key: value` (or shorthand) of an object; value may be None."""
        item = self._next()
        kind, value = item.kind, item.value
        if kind == "var":
            if value == "__loc__":
                line = self.expression.count("\n", 0, item.pos) + 1
                loc = {"file": "<top-level>", "line": line}
                return (("literal", item.pos, "__loc__"),
                        ("literal", item.pos, loc))
            return (("literal", item.pos, value), ("var", item.pos, value))
        if kind in ("ident", "keyword"):
            key = ("literal", item.pos, value)
        elif kind == "num":
            key = ("literal", item.pos, value)  # rejected at run time, as jq
        elif kind == "str":
            key = self._string_node(item, None)
        elif kind == "format" and self._at("str"):
            key = self._string_node(self._next(), value)
        elif kind == "op" and value == "(":
            key = self.parse_pipe()
            self._expect("op", ")")
            self._expect("op", ":")
            return (key, self._parse_object_value())
        else:
            self.index -= 1
            self._unexpected()
        if self._accept("op", ":"):
            return (key, self._parse_object_value())
        return (key, None)

    def _parse_object_value(self):
        return self.parse_pipe(no_comma=True)

    # -- destructuring patterns ---------------------------------------------

    def _parse_patterns(self):
        patterns = [self._parse_pattern()]
        while self._accept("op", "?//"):
            patterns.append(self._parse_pattern())
        return patterns

    def _parse_pattern(self):
        item = self._next()
        if item.kind == "var":
            return ("pvar", item.pos, item.value)
        if item.kind == "op" and item.value == "[":
            elements = [self._parse_pattern()]
            while self._accept("op", ","):
                elements.append(self._parse_pattern())
            self._expect("op", "]")
            return ("parray", item.pos, elements)
        if item.kind == "op" and item.value == "{":
            entries = [self._parse_pattern_entry()]
            while self._accept("op", ","):
                entries.append(self._parse_pattern_entry())
            self._expect("op", "}")
            return ("pobject", item.pos, entries)
        self.index -= 1
        self._unexpected()

    def _parse_pattern_entry(self):
        """(key node, variable name or None, sub-pattern or None)."""
        item = self._next()
        kind, value = item.kind, item.value
        if kind == "var":
            sub = self._parse_pattern() if self._accept("op", ":") else None
            return (("literal", item.pos, value), value, sub)
        if kind in ("ident", "keyword"):
            key = ("literal", item.pos, value)
        elif kind == "str":
            key = self._string_node(item, None)
        elif kind == "op" and value == "(":
            key = self.parse_pipe()
            self._expect("op", ")")
        else:
            self.index -= 1
            self._unexpected()
        self._expect("op", ":")
        return (key, None, self._parse_pattern())


def _parse(expression):
    jq_tokens_, _ = jq_tokens(expression)
    return JqParser(expression, jq_tokens_).parse()


##############################################################################
# Values: types, errors, order, arithmetic
##############################################################################

_TYPE_NAMES = {
    type(None): "null", bool: "boolean", int: "number", float: "number",
    str: "string", list: "array", dict: "object",
}

# jq's order across types: null < false < true < numbers < strings
# < arrays < objects.
_TYPE_RANK = {type(None): 0, int: 3, float: 3, str: 4, list: 5, dict: 6}


class _JqBreak(JqError):
    """Raised by `break $label`; caught only by its own label."""

    def __init__(self, label):
        JqError.__init__(self, "break")
        self.label = label


class _JqHalt(JqError):
    """Raised by halt and halt_error; never caught by try.

    The CLI should exit with exit_code after writing str(error) to stderr
    as it is (no "jq: " prefix, no newline added): halt_error's text, or
    nothing for halt.
    """

    def __init__(self, exit_code, value, message):
        JqError.__init__(self, message, value)
        self.value = value
        self.exit_code = exit_code


def _type_name(value):
    return _TYPE_NAMES[type(value)]


def _rank(value):
    if value is True:
        return 2
    if value is False:
        return 1
    return _TYPE_RANK[type(value)]


def _brief(value, size=15):
    """jq's dump of a value in error messages, cut to fit a size-byte
    buffer as jq does (15 for most messages: 11 characters and ...)."""
    text = _dumps(value, None, False)
    if len(text) > size - 1:
        text = text[:size - 4] + "..."
    return text


def _typed(value):
    return "%s (%s)" % (_type_name(value), _brief(value))


def _error(message):
    return JqError(message)


def _error_from_value(value):
    """The JqError raised by error(value): jq's message for any value."""
    if isinstance(value, str):
        return JqError(value, value)
    return JqError(_dumps(value, None, False) + " (not a string)", value)


def _is_number(value):
    t = type(value)
    return t is int or t is float


def _as_double(value):
    """Numbers compare as doubles, as in jq: exact ints only up to 2**53."""
    if type(value) is int and not -_MAX_EXACT <= value <= _MAX_EXACT:
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return value


def _int_result(value):
    """Keep an integer result exact while it fits a double's mantissa."""
    if -_MAX_EXACT <= value <= _MAX_EXACT:
        return value
    return _as_double(value)


def _compare_numbers(a, b):
    a, b = _as_double(a), _as_double(b)
    if a != a:
        return -1  # nan sorts below every number, itself included
    if b != b:
        return 1
    return -1 if a < b else (0 if a == b else 1)


def _compare(a, b):
    """jq's total order: -1, 0 or 1.  Iterative, for deeply nested values."""
    pending = []  # (iterator over pairs of children, tie-break result)
    while True:
        ra, rb = _rank(a), _rank(b)
        if ra != rb:
            return -1 if ra < rb else 1
        result = 0
        if ra == 3:
            result = _compare_numbers(a, b)
        elif ra == 4:
            result = -1 if a < b else (0 if a == b else 1)
        elif ra == 5:
            tie = len(a) - len(b)
            pending.append((zip(a, b), -1 if tie < 0 else (1 if tie else 0)))
        elif ra == 6:
            ka, kb = sorted(a), sorted(b)
            if ka != kb:
                return -1 if ka < kb else 1
            pending.append((zip([a[k] for k in ka], [b[k] for k in ka]), 0))
        if result:
            return result

        # Move on to the next pair of children still to compare.
        while pending:
            pair = next(pending[-1][0], None)
            if pair is not None:
                a, b = pair
                break
            tie = pending.pop()[1]
            if tie:
                return tie
        else:
            return 0


def _equal(a, b):
    ta = type(a)
    if ta is type(b) and (ta is str or ta is bool or a is None):
        return a == b
    return _compare(a, b) == 0


def _sorted(values):
    """values in jq's order (a stable sort)."""
    return [values[i] for i in _sorted_indices(values)]


def _sorted_indices(keys):
    """The indices of keys in jq's order of the keys (stable)."""
    try:
        python_keys = [_order_key(key) for key in keys]
    except RecursionError:  # too deep for _order_key: compare iteratively
        python_keys = [_CompareKey(key) for key in keys]
    return sorted(range(len(keys)), key=python_keys.__getitem__)


def _order_key(value):
    """A Python value that sorts as value does in jq's order.

    Tuples compare element by element, shorter first, as jq's arrays do;
    objects compare by their sorted keys, then by the values in key order.
    """
    t = type(value)
    if t is str:
        return (4, value)
    if t is int or t is float:
        value = _as_double(value)
        return (3, 0, 0) if value != value else (3, 1, value)
    if t is list:
        return (5, tuple([_order_key(item) for item in value]))
    if t is dict:
        keys = sorted(value)
        return (6, tuple(keys), tuple([_order_key(value[k]) for k in keys]))
    return (_rank(value),)


class _CompareKey(object):
    """A sort key for sorted() that orders values as jq does."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __lt__(self, other):
        return _compare(self.value, other.value) < 0


def _truthy(value):
    return not (value is None or value is False)


def _add(a, b):
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return _int_result(a + b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return a + b
    if a is None:
        return b
    if b is None:
        return a
    if ta is tb:
        if ta is str or ta is list:
            return a + b
        if ta is dict:
            merged = dict(a)
            merged.update(b)
            return merged
    raise _error("%s and %s cannot be added" % (_typed(a), _typed(b)))


def _subtract(a, b):
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return _int_result(a - b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return a - b
    if ta is list and tb is list:
        return [x for x in a if not any(_equal(x, y) for y in b)]
    raise _error("%s and %s cannot be subtracted" % (_typed(a), _typed(b)))


def _multiply(a, b):
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return _int_result(a * b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return a * b
    if ta is str and (tb is int or tb is float):
        return _repeat_string(a, b)
    if tb is str and (ta is int or ta is float):
        return _repeat_string(b, a)
    if ta is dict and tb is dict:
        return _deep_merge(a, b)
    raise _error("%s and %s cannot be multiplied" % (_typed(a), _typed(b)))


def _repeat_string(text, times):
    if times != times or times <= 0:
        return None
    if times * len(text) > 1 << 28:
        raise _error("Repeat string result too long")
    if not text:
        return text
    return text * (1 if times < 1 else int(times))


def _deep_merge(a, b):
    merged = dict(a)
    for key, value in b.items():
        old = merged.get(key)
        if type(old) is dict and type(value) is dict:
            merged[key] = _deep_merge(old, value)
        else:
            merged[key] = value
    return merged


def _divide(a, b):
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        if b == 0:
            raise _error("%s and %s cannot be divided because the divisor "
                         "is zero" % (_typed(a), _typed(b)))
        try:
            result = a / b
        except OverflowError:
            result = _as_double(a) / _as_double(b)
        if result.is_integer() and abs(result) < _MAX_EXACT and result:
            return int(result)
        return result
    if ta is str and tb is str:
        return _split_string(a, b)
    raise _error("%s and %s cannot be divided" % (_typed(a), _typed(b)))


def _modulo(a, b):
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        ia, ib = _to_int(a), _to_int(b)
        if ib == 0:
            raise _error("%s and %s cannot be divided because the divisor "
                         "is zero" % (_typed(a), _typed(b)))
        # C's %: the result takes the sign of the dividend.
        result = abs(ia) % abs(ib)
        return -result if ia < 0 else result
    raise _error("%s and %s cannot be divided" % (_typed(a), _typed(b)))


def _to_int(value):
    """Truncate a number toward zero, clamping infinities and nan like C."""
    if type(value) is int:
        return value
    if value != value:
        return 0
    if value in (math.inf, -math.inf):
        return (1 << 63) - 1 if value > 0 else -(1 << 63)
    return int(value)


def _floor_int(number):
    """An array index from a number: floor, with nan and infinities clamped."""
    if type(number) is int:
        return number
    if number != number:
        return 0
    if number in (math.inf, -math.inf):
        return _to_int(number)
    return math.floor(number)


def _split_string(text, separator):
    if text == "":
        return []
    if separator == "":
        return list(text)
    return text.split(separator)


def _negate(value):
    if type(value) is int:
        return -value if value else -0.0  # jq's numbers are doubles: -0
    if type(value) is float:
        return -value
    raise _error("%s cannot be negated" % _typed(value))


_BINARY_OPS = {
    "+": _add, "-": _subtract, "*": _multiply, "/": _divide, "%": _modulo,
    "==": lambda a, b: _equal(a, b),
    "!=": lambda a, b: not _equal(a, b),
    "<": lambda a, b: _compare(a, b) < 0,
    "<=": lambda a, b: _compare(a, b) <= 0,
    ">": lambda a, b: _compare(a, b) > 0,
    ">=": lambda a, b: _compare(a, b) >= 0,
}


##############################################################################
# Values: indexing and paths
##############################################################################


def _index(value, key):
    """value[key] with jq's rules (null tolerant, negative indices...)."""
    tv, tk = type(value), type(key)
    if tk is str:
        if tv is dict:
            return value.get(key)
        if value is None:
            return None
        raise _error('Cannot index %s with "%s"' % (_type_name(value), key))
    if tk is int or tk is float:
        if tv is list:
            if tk is float:
                if key != key:
                    return None
                key = math.floor(key) if abs(key) < 1e18 else -1 << 62
            if key < 0:
                key += len(value)
                if key < 0:
                    return None
            return value[key] if key < len(value) else None
        if value is None:
            return None
    elif tk is dict and (tv is list or value is None):
        if value is None:
            return None
        start, end = _slice_bounds(len(value), key.get("start"), key.get("end"))
        return value[start:end]
    elif tk is list and tv is list:
        return _indices(value, key)
    elif key is None and tv is dict:
        pass
    raise _error("Cannot index %s with %s" % (_type_name(value), _type_name(key)))


def _slice_bounds(length, start, end):
    """Clamp slice bounds as jq does (floats round down, then up at end)."""
    if start is None:
        start = 0
    if end is None:
        end = length
    if not _is_number(start) or not _is_number(end):
        raise _error("Start and end indices of an array slice must be numbers")
    start = _clamp_index(start, length, math.floor)
    end = _clamp_index(end, length, math.ceil)
    return start, max(start, end)


def _clamp_index(index, length, rounding):
    if type(index) is float:
        if index != index:
            index = 0
        elif abs(index) > 1e18:
            index = -length if index < 0 else length
        else:
            index = rounding(index)
    if index < 0:
        index = max(0, length + index)
    return min(index, length)


def _slice(value, start, end):
    if value is None:
        return None
    if type(value) is str or type(value) is list:
        start, end = _slice_bounds(len(value), start, end)
        return value[start:end]
    raise _error("Cannot index %s with object" % _type_name(value))


def _indices(value, needle):
    """Offsets where needle occurs in value (string or array)."""
    if value is None:
        return None
    if type(value) is str and type(needle) is str:
        if not needle:
            return None
        found, at = [], value.find(needle)
        while at >= 0:
            found.append(at)
            at = value.find(needle, at + 1)
        return found
    if type(value) is list and type(needle) is list:
        if not needle:
            return None
        n = len(needle)
        return [i for i in range(len(value) - n + 1)
                if all(_equal(value[i + j], needle[j]) for j in range(n))]
    if type(value) is list:
        return [i for i, item in enumerate(value) if _equal(item, needle)]
    raise _error("Cannot determine indices of %s in %s"
                 % (_type_name(needle), _type_name(value)))


def _iterate(value):
    if type(value) is list:
        return value
    if type(value) is dict:
        return list(value.values())
    if value is None:
        raise _error("Cannot iterate over null")
    raise _error("Cannot iterate over %s" % _typed(value))


def _keys_of(value):
    """Keys (or indices) of a container, in iteration order."""
    if type(value) is dict:
        return list(value)
    if type(value) is list:
        return list(range(len(value)))
    if value is None:
        raise _error("Cannot iterate over null")
    raise _error("Cannot iterate over %s" % _typed(value))


def _getpath(value, path):
    if type(path) is not list:
        raise _error("Path must be specified as an array")
    for key in path:
        if value is None:
            return None
        value = _index(value, key)
    return value


def _setpath(value, path, new):
    """A copy of value with new stored at path (iterative, copy on write)."""
    if type(path) is not list:
        raise _error("Path must be specified as an array")
    parents = []
    for key in path:
        parents.append(value)
        value = None if value is None else _index(value, key)
    for key, parent in zip(reversed(path), reversed(parents)):
        new = _set_child(parent, key, new)
    return new


def _set_child(container, key, new):
    tc, tk = type(container), type(key)
    if tk is str:
        if container is None:
            return {key: new}
        if tc is dict:
            copy = dict(container)
            copy[key] = new
            return copy
        raise _error('Cannot index %s with "%s"' % (_type_name(container), key))
    if tk is int or tk is float:
        if container is None:
            container = []
        if type(container) is not list:
            raise _error("Cannot index %s with number" % _type_name(container))
        index = _floor_int(key)
        if index < 0:
            index += len(container)
            if index < 0:
                raise _error("Out of bounds negative array index")
        if index > 50000000:
            raise _error("Array index too large")
        copy = list(container)
        if index >= len(copy):
            copy.extend([None] * (index - len(copy) + 1))
        copy[index] = new
        return copy
    if tk is dict:
        if container is None:
            container = []
        if type(container) is not list:
            raise _error("Cannot update field at object index of %s"
                         % _type_name(container))
        if type(new) is not list:
            raise _error("A slice of an array can only be assigned another array")
        start, end = _slice_bounds(len(container), key.get("start"),
                                   key.get("end"))
        return container[:start] + new + container[end:]
    raise _error("Invalid path component")


def _delpaths(value, paths):
    """Delete paths as jq does: every index refers to the value as given,
    so del(.[1], .[-6], .[2:4]) deletes what those name before any shift."""
    if type(paths) is not list:
        raise _error("Paths must be specified as an array")
    for path in paths:
        if type(path) is not list:
            raise _error("Path must be specified as an array")
    if not paths:
        return value
    paths = _sorted(paths)
    if not paths[0]:
        return None  # deleting [] deletes the value itself
    return _delete_paths(value, paths)


def _delete_paths(value, paths):
    """Delete sorted, non-empty paths from value (children first)."""
    if value is None:
        return None
    direct, groups = [], []
    for path in paths:
        if len(path) == 1:
            direct.append(path[0])
        elif groups and _equal(groups[-1][0], path[0]):
            groups[-1][1].append(path[1:])
        else:
            groups.append((path[0], [path[1:]]))
    for key, rests in groups:
        child = _index(value, key)
        if child is not None:
            value = _set_child(value, key, _delete_paths(child, rests))
    return _delete_keys(value, direct) if direct else value


def _delete_keys(container, keys):
    if type(container) is dict:
        for key in keys:
            if type(key) is not str:
                raise _error("Cannot delete field at index of object")
        return {k: v for k, v in container.items() if k not in set(keys)}
    if type(container) is not list:
        kind = "object index" if type(keys[0]) is str else "index"
        raise _error("Cannot delete field at %s of %s"
                     % (kind, _type_name(container)))
    doomed = set()
    length = len(container)
    for key in keys:
        if type(key) is dict:
            start, end = _slice_bounds(length, key.get("start"), key.get("end"))
            doomed.update(range(start, end))
        elif _is_number(key):
            index = _floor_int(key)
            if index < 0:
                index += length
                if index < 0:
                    raise _error("Out of bounds negative array index")
            doomed.add(index)
        else:
            raise _error("Cannot delete field at object index of array")
    return [item for i, item in enumerate(container) if i not in doomed]


##############################################################################
# Formatting (jq_dumps) and parsing JSON text
##############################################################################

_encode_string = json.encoder.encode_basestring


def _format_number(value, exact_ints=True):
    """Print a number as jq does (shortest round trip, jq's exponent rule)."""
    if type(value) is int:
        if exact_ints or -_MAX_EXACT <= value <= _MAX_EXACT:
            return str(value)
        value = _as_double(value)
    if value != value:
        return "null"
    if value in (math.inf, -math.inf):
        value = sys.float_info.max if value > 0 else -sys.float_info.max
    if value.is_integer() and abs(value) < 1e16:
        if value == 0 and math.copysign(1.0, value) < 0:
            return "-0"
        return "%d" % value
    return _format_double(value)


def _format_double(value):
    # Shortest digits from repr, then jq's rule: fixed notation unless the
    # decimal exponent is below -4 or more than 15 past the digits.
    sign = "-" if value < 0 else ""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    point = len(whole) + int(exponent or 0) - (len(whole + fraction)
                                               - len(digits))
    if whole == "0":
        point = int(exponent or 0) - (len(fraction) - len(fraction.lstrip("0")))
    digits = digits.rstrip("0") or "0"
    if point <= -4 or point > len(digits) + 15:
        head = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        exp = point - 1
        return "%s%se%s%02d" % (sign, head, "-" if exp < 0 else "+", abs(exp))
    if point <= 0:
        return sign + "0." + "0" * -point + digits
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return sign + digits[:point] + "." + digits[point:]


def _format_string(text):
    encoded = _encode_string(text)
    if "\x7f" in encoded:
        encoded = encoded.replace("\x7f", "\\u007f")
    return encoded


def _dumps(value, indent, exact_ints):
    """Serialize a value as jq does; iterative, so depth is no limit."""
    out = []
    # The work stack holds values to print and literal text (_Text).
    stack = [value]
    while stack:
        item = stack.pop()
        t = type(item)
        if t is _Text:
            out.append(item.text)
        elif t is str:
            out.append(_format_string(item))
        elif item is None:
            out.append("null")
        elif item is True:
            out.append("true")
        elif item is False:
            out.append("false")
        elif t is int or t is float:
            out.append(_format_number(item, exact_ints))
        elif t is list or t is dict:
            _dump_container(item, 0, indent, stack, out)
        elif t is _Nested:
            _dump_container(item.value, item.depth, indent, stack, out)
        else:
            raise _error("%r is not a JSON value" % (item,))
    return "".join(out)


class _Text(object):
    """Literal output text on the _dumps work stack."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text


class _Nested(object):
    """A container on the _dumps work stack with its indentation depth."""

    __slots__ = ("value", "depth")

    def __init__(self, value, depth):
        self.value = value
        self.depth = depth


def _dump_container(item, depth, indent, stack, out):
    is_list = type(item) is list
    opening, closing = ("[", "]") if is_list else ("{", "}")
    if not item:
        out.append(opening + closing)
        return
    if indent is None:
        inner = closing_text = ""
        comma = ","
        colon = ":"
    else:
        inner = "\n" + " " * (indent * (depth + 1))
        closing_text = "\n" + " " * (indent * depth)
        comma = ","
        colon = ": "
    out.append(opening + inner)
    stack.append(_Text(closing_text + closing))
    entries = list(item) if is_list else list(item.items())
    for position in range(len(entries) - 1, -1, -1):
        entry = entries[position]
        child = entry if is_list else entry[1]
        if indent is not None and (type(child) is list or type(child) is dict):
            child = _Nested(child, depth + 1)
        stack.append(child)
        if not is_list:
            stack.append(_Text(_format_string(entry[0]) + colon))
        if position:
            stack.append(_Text(comma + inner))


def jq_dumps(value, indent=None):
    """Format one output as jq prints it (compact, or indented by indent)."""
    t = type(value)
    if t is str:
        return _format_string(value)
    if t is int or t is float:
        return _format_number(value)
    return _dumps(value, indent, True)


def _tojson(value):
    return _dumps(value, None, False)


def _tostring(value):
    return value if type(value) is str else _dumps(value, None, False)


def _fromjson(text):
    """Parse JSON text as jq's fromjson does (nan allowed, any depth)."""
    try:
        return json.loads(text, parse_constant=_json_constant)
    except RecursionError:
        return _loads_deep(text)
    except ValueError as exc:
        message = exc.msg if hasattr(exc, "msg") else str(exc)
        raise _error("%s (while parsing '%s')" % (message, text)) from None


def _json_constant(name):
    if name == "NaN":
        return math.nan
    raise ValueError("Invalid literal %s" % name)


_JSON_TOKEN_RE = re.compile(
    r'\s*(?:([\[{\]},:])|("(?:[^"\\]|\\.)*")|'
    r"(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)|"
    r"(true|false|null|NaN|nan))"
)


def _loads_deep(text):
    """An iterative JSON parser, for documents too deep for json.loads.

    It trusts the separators (json.loads has seen the text start well), but
    never fails other than with a jq error.
    """
    stack = []  # [container, pending object key] being built
    pos = 0
    while True:
        m = _JSON_TOKEN_RE.match(text, pos)
        if not m:
            raise _error("Invalid JSON text (while parsing '%s...')" % text[:20])
        pos = m.end()
        punct, string, number, word = m.groups()
        if punct in ("[", "{"):
            stack.append([[] if punct == "[" else {}, None])
            continue
        if punct in (",", ":"):
            continue
        if punct in ("]", "}"):
            if not stack:
                raise _error("Unmatched '%s' (while parsing '%s...')"
                             % (punct, text[:20]))
            value = stack.pop()[0]
        elif string is not None:
            value = json.loads(string)
            if stack and type(stack[-1][0]) is dict and stack[-1][1] is None:
                stack[-1][1] = value  # an object key
                continue
        elif number is not None:
            value = json.loads(number)
        else:
            value = {"true": True, "false": False, "null": None}.get(
                word, math.nan)
        if not stack:
            if text[pos:].strip():
                raise _error("Unexpected extra JSON values (while parsing "
                             "'%s...')" % text[:20])
            return value
        top = stack[-1]
        if type(top[0]) is list:
            top[0].append(value)
        else:
            top[0][top[1]] = value
            top[1] = None


##############################################################################
# Compiler: jq tree -> Python closures
##############################################################################

_MISSING = object()


class _Scope(object):
    """A compile-time scope entry; slots counts the run-time env entries.

    kind is "root", "var" (a value), "param" (a closure), "label" or
    "func" (no run-time slot: calls are bound statically).
    """

    __slots__ = ("kind", "name", "value", "parent", "slots")

    def __init__(self, kind, name, value, parent):
        self.kind = kind
        self.name = name
        self.value = value
        self.parent = parent
        slots = parent.slots if parent is not None else 0
        self.slots = slots if kind == "func" else slots + 1

    def find(self, kind, name, arity=None):
        """The nearest entry of this kind and name (and function arity)."""
        scope = self
        while scope is not None:
            if scope.kind == kind and scope.name == name and (
                    arity is None or scope.value.arity == arity):
                return scope
            scope = scope.parent
        return None


class _Context(object):
    """Per-run state at the root of env: further inputs, named variables."""

    __slots__ = ("inputs", "variables")

    def __init__(self, inputs, variables):
        self.inputs = inputs
        self.variables = variables


class _Code(object):
    """A compiled filter argument; its path-mode version is made on demand."""

    __slots__ = ("node", "scope", "compiler", "run", "_paths")

    def __init__(self, compiler, node, scope, run=None):
        self.compiler = compiler
        self.node = node
        self.scope = scope
        self.run = run if run is not None else compiler.compile(node, scope)
        self._paths = None

    def paths(self, value, path, env):
        """Run the argument in path mode: (value, path) pairs."""
        if self._paths is None:
            self._paths = self.compiler.compile_paths(self.node, self.scope)
        return self._paths(value, path, env)


class _Closure(object):
    """A filter argument bound to the environment of its call site."""

    __slots__ = ("code", "env")

    def __init__(self, code, env):
        self.code = code
        self.env = env


class _FuncDef(object):
    """A jq function; its body compiles on first call, in either mode."""

    __slots__ = ("name", "params", "body", "scope", "compiler", "arity",
                 "_run", "_paths")

    def __init__(self, compiler, name, params, body, scope):
        self.compiler = compiler
        self.name = name
        self.params = params
        self.body = body
        self.scope = scope  # the scope of the definition, itself included
        self.arity = len(params)
        self._run = None
        self._paths = None

    def body_scope(self):
        """The scope of the body: the definition's, then the parameters."""
        scope = self.scope
        for param in self.params:
            if param.startswith("$"):
                scope = _Scope("param", param[1:], None, scope)
                scope = _Scope("var", param[1:], None, scope)
            else:
                scope = _Scope("param", param, None, scope)
        return scope

    def compile_now(self):
        """Compile the body (once); undefined names raise JqSyntaxError."""
        if self._run is None:
            self._run = self.compiler.compile(self.body, self.body_scope())

    def run(self, value, env):
        """Call the function: env holds its arguments."""
        if self._run is None:
            self.compile_now()
        return self._run(value, env)

    def paths(self, value, path, env):
        """Call the function in path mode."""
        if self._paths is None:
            self._paths = self.compiler.compile_paths(
                self.body, self.body_scope())
        return self._paths(value, path, env)


def _walk(env, steps):
    for _ in range(steps):
        env = env[1]
    return env


def _single(run):
    return getattr(run, "single", None)


def _chain(node, kind):
    """The operands of a chain of one binary kind (a, b, c of a , b , c),
    found without recursion."""
    operands, stack = [], [node]
    while stack:
        item = stack.pop()
        if item[0] == kind:
            stack.append(item[3])
            stack.append(item[2])
        else:
            operands.append(item)
    return operands


def _pipe(left, right):
    """left | right, for a left side with any number of outputs."""
    def pipe(value, env):
        for item in left(value, env):
            yield from right(item, env)
    return pipe


def _pipe_singles(singles, right):
    """s1 | s2 | ... | right, where each s gives exactly one output."""
    if len(singles) == 1:
        first = singles[0]
        if _single(right) is not None:
            second = _single(right)
            return _with_single(lambda value, env: second(first(value, env),
                                                          env))
        return lambda value, env: right(first(value, env), env)

    def chained(value, env):
        for single in singles:
            value = single(value, env)
        return value
    if _single(right) is not None:
        last = _single(right)
        return _with_single(lambda value, env: last(chained(value, env), env))
    return lambda value, env: right(chained(value, env), env)


def _with_single(single):
    """A run function (one output, as a tuple) for a single-valued closure."""
    def run(value, env):
        return (single(value, env),)
    run.single = single
    return run


def _identity_single(value, env):
    return value


_identity_run = _with_single(_identity_single)


def _catchable(exc):
    return not isinstance(exc, (_JqBreak, _JqHalt))


def _product(runs, value, env):
    """Cartesian product of argument outputs, the first varying fastest."""
    pools = [list(run(value, env)) for run in runs]
    combos = [[]]
    for pool in reversed(pools):
        combos = [[item] + rest for rest in combos for item in pool]
    return combos


def _invalid_path(value):
    return _error("Invalid path expression with result %s"
                  % _brief(value, 30))


def _access_error(value, key):
    """jq's error for a suffix applied to a value that is not a path."""
    if key is _MISSING:
        return _error("Invalid path expression near attempt to iterate "
                      "through %s" % _brief(value, 30))
    return _error("Invalid path expression near attempt to access element "
                  "%s of %s" % (_tojson(key), _brief(value, 30)))


def _same_value(item, value):
    """jq's test that a non-path output is still the value at the path."""
    if item is value:
        return True
    if _is_number(item) and _is_number(value):
        return item == value
    return type(item) is str and type(value) is str and item == value


def _paths_only(pairs):
    """The paths of path-mode outputs, refusing values that are not paths."""
    for item, path in pairs:
        if path is None:
            raise _invalid_path(item)
        yield list(path)


class _Compiler(object):
    """Compiles trees into closures; _eval_<kind> and _path_<kind> per node."""

    def __init__(self, expression, prelude):
        self.expression = expression
        self.prelude = prelude  # (name, arity) -> _FuncDef

    def compile(self, node, scope):
        """The run(input, env) closure of a node."""
        return getattr(self, "_eval_" + node[0])(node, scope)

    def compile_paths(self, node, scope):
        """The run(input, path, env) closure of a node, for path mode."""
        method = getattr(self, "_path_" + node[0], None)
        if method is None:
            return self._path_default(node, scope)
        return method(node, scope)

    def fail(self, pos, message):
        """A JqSyntaxError at an offset of the expression, to raise."""
        return JqSyntaxError(message, self.expression, pos + 1)

    # -- simple terms ----------------------------------------------------------

    def _eval_identity(self, node, scope):
        return _identity_run

    def _eval_paren(self, node, scope):
        return self.compile(node[2], scope)

    def _eval_literal(self, node, scope):
        constant = node[2]
        return _with_single(lambda value, env: constant)

    def _eval_var(self, node, scope):
        name = node[2]
        entry = scope.find("var", name)
        if entry is None:
            return self._special_var(node, scope)
        steps = scope.slots - entry.slots
        if steps == 0:
            return _with_single(lambda value, env: env[0])
        if steps == 1:
            return _with_single(lambda value, env: env[1][0])
        return _with_single(lambda value, env: _walk(env, steps)[0])

    def _special_var(self, node, scope):
        name, root = node[2], scope.slots - 1
        if name == "ENV":
            return _with_single(lambda value, env: _environment())
        if name == "ARGS":
            def args(value, env):
                named = _walk(env, root)[0].variables or {}
                return {"positional": [], "named": dict(named)}
            return _with_single(args)
        raise self.fail(node[1], "$%s is not defined" % name)

    def _eval_format(self, node, scope):
        formatter = self._formatter(node)
        return _with_single(lambda value, env: formatter(value))

    def _formatter(self, node):
        formatter = _FORMATS.get(node[-1] if node[0] == "format" else node[3])
        if formatter is None:
            name = node[-1] if node[0] == "format" else node[3]
            raise self.fail(node[1], "@%s is not a valid format" % name)
        return formatter

    # -- indexing ----------------------------------------------------------

    def _eval_field(self, node, scope):
        target, name = node[2], node[3]
        if target[0] == "identity":
            def field(value, env):
                if type(value) is dict:
                    return value.get(name)
                return _index(value, name)
            return _with_single(field)
        run = self.compile(target, scope)
        single = _single(run)
        if single is not None:
            def chained(value, env):
                value = single(value, env)
                if type(value) is dict:
                    return value.get(name)
                return _index(value, name)
            return _with_single(chained)

        def fields(value, env):
            for item in run(value, env):
                yield _index(item, name)
        return fields

    def _eval_index(self, node, scope):
        run = self.compile(node[2], scope)
        key_run = self.compile(node[3], scope)
        single, key_single = _single(run), _single(key_run)
        if single is not None and key_single is not None:
            return _with_single(lambda value, env: _index(
                single(value, env), key_single(value, env)))

        def index(value, env):
            for key in key_run(value, env):
                for item in run(value, env):
                    yield _index(item, key)
        return index

    def _eval_slice(self, node, scope):
        run = self.compile(node[2], scope)
        bounds = [self.compile(n, scope) if n is not None else None
                  for n in node[3:5]]
        bounds = [b if b is not None else _with_single(lambda v, e: None)
                  for b in bounds]

        def slice_(value, env):
            for end in bounds[1](value, env):
                for start in bounds[0](value, env):
                    for item in run(value, env):
                        yield _slice(item, start, end)
        return slice_

    def _eval_iterate(self, node, scope):
        if node[2][0] == "identity":
            def iterate_input(value, env):
                if type(value) is list:
                    return value
                if type(value) is dict:
                    return value.values()
                return _iterate(value)
            return iterate_input
        run = self.compile(node[2], scope)

        def iterate(value, env):
            for item in run(value, env):
                if type(item) is list:
                    yield from item
                else:
                    yield from _iterate(item)
        return iterate

    # -- combinators -------------------------------------------------------

    def _eval_pipe(self, node, scope):
        # Compile the stages of a | b | c ... in a loop (long pipelines);
        # runs of single-valued stages become one loop of plain calls.
        stages = [self.compile(n, scope) for n in _chain(node, "pipe")]
        run = stages.pop()
        while stages:
            singles = []
            while stages and _single(stages[-1]) is not None:
                singles.insert(0, _single(stages.pop()))
            if singles:
                run = _pipe_singles(singles, run)
            if stages:
                run = _pipe(stages.pop(), run)
        return run

    def _eval_comma(self, node, scope):
        runs = [self.compile(n, scope) for n in _chain(node, "comma")]

        def comma(value, env):
            for run in runs:
                yield from run(value, env)
        return comma

    def _eval_neg(self, node, scope):
        if node[2][0] == "literal" and _is_number(node[2][2]):
            constant = _negate(node[2][2])
            return self._eval_literal(("literal", node[1], constant), scope)
        run = self.compile(node[2], scope)
        return lambda value, env: [_negate(v) for v in run(value, env)]

    def _eval_binop(self, node, scope):
        op = _BINARY_OPS[node[2]]
        left = self.compile(node[3], scope)
        right = self.compile(node[4], scope)
        left_single, right_single = _single(left), _single(right)
        if left_single is not None and right_single is not None:
            def binop_single(value, env):
                b = right_single(value, env)
                return op(left_single(value, env), b)
            return _with_single(binop_single)

        def binop(value, env):
            for b in right(value, env):
                for a in left(value, env):
                    yield op(a, b)
        return binop

    def _eval_and(self, node, scope):
        return self._logic(node, scope, False)

    def _eval_or(self, node, scope):
        return self._logic(node, scope, True)

    def _logic(self, node, scope, is_or):
        left = self.compile(node[2], scope)
        right = self.compile(node[3], scope)

        def logic(value, env):
            for a in left(value, env):
                if _truthy(a) == is_or:
                    yield is_or  # decided by the left side alone
                    continue
                for b in right(value, env):
                    yield _truthy(b)
        return logic

    def _eval_alt(self, node, scope):
        left = self.compile(node[2], scope)
        right = self.compile(node[3], scope)

        def alternative(value, env):
            found = False
            try:
                for item in left(value, env):
                    if item is not None and item is not False:
                        found = True
                        yield item
            except JqError as exc:
                if not _catchable(exc):
                    raise
            if not found:
                yield from right(value, env)
        return alternative

    def _eval_if(self, node, scope):
        cond = self.compile(node[2], scope)
        then = self.compile(node[3], scope)
        other = self.compile(node[4], scope)
        cond_single = _single(cond)
        if cond_single is not None:
            def if_single(value, env):
                test = cond_single(value, env)
                if test is None or test is False:
                    return other(value, env)
                return then(value, env)
            return if_single

        def if_(value, env):
            for test in cond(value, env):
                if test is None or test is False:
                    yield from other(value, env)
                else:
                    yield from then(value, env)
        return if_

    def _eval_try(self, node, scope):
        body = self.compile(node[2], scope)
        handler = self.compile(node[3], scope) if node[3] is not None else None

        def try_(value, env):
            try:
                for item in body(value, env):
                    yield item
                return
            except JqError as exc:
                if not _catchable(exc):
                    raise
                error = exc
            if handler is not None:
                yield from handler(error.value, env)
        return try_

    def _eval_array(self, node, scope):
        if node[2] is None:
            return _with_single(lambda value, env: [])
        run = self.compile(node[2], scope)
        return _with_single(lambda value, env: _collect(run(value, env)))

    def _eval_object(self, node, scope):
        entries = [self._object_entry(key, val, scope) for key, val in node[2]]
        if all(_single(k) and _single(v) for k, v in entries):
            singles = [(_single(k), _single(v)) for k, v in entries]
            return _with_single(lambda value, env: _build_object(
                [(k(value, env), v(value, env)) for k, v in singles]))

        def object_(value, env):
            results = [[]]
            for key_run, val_run in entries:
                results = [partial + [(k, v)] for partial in results
                           for k in key_run(value, env)
                           for v in val_run(value, env)]
            return [_build_object(pairs) for pairs in results]
        return object_

    def _object_entry(self, key, val, scope):
        if val is None:  # {a}, {"a"}, {"\(x)"}: the value is .[key]
            val = ("index", key[1], ("identity", key[1]), key)
        return self.compile(key, scope), self.compile(val, scope)

    def _eval_string(self, node, scope):
        parts, fmt = node[2], node[3]
        formatter = self._formatter(node) if fmt is not None else _tostring
        runs = []
        for part in parts:
            if isinstance(part, str):
                runs.append(part)
            else:
                runs.append(self.compile(part, scope))
        if all(isinstance(r, str) or _single(r) for r in runs):
            singles = [r if isinstance(r, str) else _single(r) for r in runs]
            return _with_single(lambda value, env: "".join(
                s if isinstance(s, str) else formatter(s(value, env))
                for s in singles))
        exprs = [r for r in runs if not isinstance(r, str)]

        def string(value, env):
            for combo in _product(exprs, value, env):
                pieces = iter(combo)
                yield "".join(r if isinstance(r, str) else formatter(next(pieces))
                              for r in runs)
        return string

    # -- variables, reduce, foreach, labels --------------------------------

    def _eval_bind(self, node, scope):
        source = self.compile(node[2], scope)
        patterns = node[3]
        if len(patterns) == 1 and patterns[0][0] == "pvar":
            body = self.compile(node[4], _Scope("var", patterns[0][2], None,
                                                scope))
            source_single = _single(source)
            if source_single is not None:
                return lambda value, env: body(
                    value, (source_single(value, env), env))

            def bind(value, env):
                for item in source(value, env):
                    yield from body(value, (item, env))
            return bind
        binder, inner = self._compile_patterns(patterns, scope)
        body = self.compile(node[4], inner)

        def bind_patterns(value, env):
            for item in source(value, env):
                yield from binder(item, value, env, body)
        return bind_patterns

    def _compile_patterns(self, patterns, scope):
        """Compile `as` patterns: (binder, scope with the variables).

        binder(item, input, env, body) runs body once per way the item
        destructures; with ?// alternatives, an error moves on to the next
        alternative, as jq does.
        """
        names = []
        for pattern in patterns:
            for name in _pattern_names(pattern):
                if name not in names:
                    names.append(name)
        inner = scope
        for name in names:
            inner = _Scope("var", name, None, inner)
        matchers = [self._pattern(p, scope) for p in patterns]

        def binder(item, value, env, body):
            for number, matcher in enumerate(matchers):
                last = number == len(matchers) - 1
                try:
                    for bound in matcher(item, value, env):
                        new_env = env
                        for name in names:
                            new_env = (bound.get(name), new_env)
                        yield from body(value, new_env)
                    return
                except JqError as exc:
                    if last or not _catchable(exc):
                        raise
        return binder, inner

    def _pattern(self, pattern, scope):
        """A matcher(item, input, env) -> iterator of {name: value} dicts."""
        kind = pattern[0]
        if kind == "pvar":
            name = pattern[2]
            return lambda item, value, env: ({name: item},)
        if kind == "parray":
            parts = [(_with_single(lambda v, e, i=i: i), self._pattern(p, scope))
                     for i, p in enumerate(pattern[2])]
        else:
            parts = []
            for key, name, sub in pattern[2]:
                key_run = self.compile(key, scope)
                matcher = self._pattern(sub, scope) if sub is not None else None
                parts.append((key_run, _entry_matcher(name, matcher)))

        def match(item, value, env):
            results = [{}]
            for key_run, matcher in parts:
                results = [dict(partial, **bound) for partial in results
                           for key in key_run(value, env)
                           for bound in matcher(
                               _pattern_index(item, key, kind), value, env)]
            return results
        return match

    def _eval_reduce(self, node, scope):
        source = self.compile(node[2], scope)
        binder, inner = self._compile_patterns(node[3], scope)
        init = self.compile(node[4], scope)
        update = self.compile(node[5], inner)
        simple = len(node[3]) == 1 and node[3][0][0] == "pvar"

        def reduce_(value, env):
            for state in init(value, env):
                box = [state]

                def step(_, new_env):
                    # The last output of the update is the new state; no
                    # output at all makes it null, as in jq 1.7.
                    last = None
                    for last in update(box[0], new_env):
                        pass
                    box[0] = last
                    return ()
                for item in source(value, env):
                    if simple:
                        step(None, (item, env))
                    else:
                        for _ in binder(item, value, env, step):
                            pass
                yield box[0]
        return reduce_

    def _eval_foreach(self, node, scope):
        source = self.compile(node[2], scope)
        binder, inner = self._compile_patterns(node[3], scope)
        init = self.compile(node[4], scope)
        update = self.compile(node[5], inner)
        extract = self.compile(node[6], inner) if node[6] is not None else None
        simple = len(node[3]) == 1 and node[3][0][0] == "pvar"

        def foreach(value, env):
            for state in init(value, env):
                box = [state]

                def step(_, new_env):
                    for new_state in update(box[0], new_env):
                        box[0] = new_state
                        if extract is None:
                            yield new_state
                        else:
                            yield from extract(new_state, new_env)
                for item in source(value, env):
                    if simple:
                        yield from step(None, (item, env))
                    else:
                        yield from binder(item, value, env, step)
        return foreach

    def _eval_label(self, node, scope):
        body = self.compile(node[3], _Scope("label", node[2], None, scope))

        def label(value, env):
            marker = object()
            try:
                yield from body(value, (marker, env))
            except _JqBreak as exc:
                if exc.label is not marker:
                    raise
        return label

    def _eval_break(self, node, scope):
        entry = scope.find("label", node[2])
        if entry is None:
            raise self.fail(node[1], "$*label-%s is not defined" % node[2])
        steps = scope.slots - entry.slots

        def break_(value, env):
            raise _JqBreak(_walk(env, steps)[0])
        return break_

    # -- assignment --------------------------------------------------------

    def _eval_assign(self, node, scope):
        op, lhs, rhs = node[2], node[3], node[4]
        paths = self.compile_paths(lhs, scope)
        rhs_run = self.compile(rhs, scope)
        if op == "|=":
            return lambda value, env: (_modify(value, paths, rhs_run, env),)
        if op == "=":
            def assign(value, env):
                for new in rhs_run(value, env):
                    yield _update_paths(value, paths, env, lambda old: new)
            return assign
        combine = _BINARY_OPS.get(op[:-1])
        if op == "//=":
            combine = lambda old, new: old if _truthy(old) else new

        def update(value, env):
            for new in rhs_run(value, env):
                yield _update_paths(value, paths, env,
                                    lambda old: combine(old, new))
        return update

    # -- definitions and calls ------------------------------------------------

    def _eval_func_def(self, node, scope):
        _, pos, name, params, body = node[2]
        fdef = _FuncDef(self, name, params, body, None)
        inner = _Scope("func", name, fdef, scope)
        fdef.scope = inner
        # Compile the body now, even if it is never called: an undefined
        # name in it is a compile error, as in jq.
        fdef.compile_now()
        return self.compile(node[3], inner)

    def _eval_call(self, node, scope):
        kind, target, steps = self._resolve(node, scope)
        args = node[3]
        if kind == "param":
            def call_param(value, env):
                closure = _walk(env, steps)[0]
                return closure.code.run(value, closure.env)
            return call_param
        if kind == "func":
            return self._call_function(target, args, steps, scope)
        if kind == "filter":
            return target(self, args, scope)
        return self._call_builtin(target, args, scope)

    def _resolve(self, node, scope):
        """Find what a call names: (kind, target, env steps)."""
        name, arity = node[2], len(node[3])
        entry = scope
        while entry is not None:
            if entry.name == name:
                if entry.kind == "func" and entry.value.arity == arity:
                    return "func", entry.value, scope.slots - entry.slots
                if entry.kind == "param" and arity == 0:
                    return "param", None, scope.slots - entry.slots
            entry = entry.parent
        fdef = self.prelude.get((name, arity))
        if fdef is not None:
            return "func", fdef, scope.slots - 1
        if name in _MODULE_BUILTINS:
            raise self.fail(node[1], "%s is not supported by the bundled "
                            "evaluator" % name)
        native = _FILTERS.get((name, arity))
        if native is not None:
            return "filter", native, 0
        builtin = _BUILTINS.get((name, arity))
        if builtin is not None:
            return "builtin", builtin, 0
        raise self.fail(node[1], "%s/%d is not defined" % (name, arity))

    def _call_function(self, fdef, args, steps, scope):
        codes = [_Code(self, arg, scope) for arg in args]
        if not codes:
            return lambda value, env: fdef.run(value, _walk(env, steps))
        value_params = [p.startswith("$") for p in fdef.params]
        if not any(value_params):
            def call(value, env):
                new_env = _walk(env, steps)
                for code in codes:
                    new_env = (_Closure(code, env), new_env)
                return fdef.run(value, new_env)
            return call

        def call_values(value, env):
            for new_env in self._argument_envs(fdef, codes, steps, value, env):
                yield from fdef.run(value, new_env)
        return call_values

    def _argument_envs(self, fdef, codes, steps, value, env):
        """The environments of a call with $name parameters: one for each
        combination of their values, the first parameter varying slowest.
        A $name parameter binds both $name and the filter name."""
        value_params = [p.startswith("$") for p in fdef.params]
        pools = [list(code.run(value, env)) if is_value else [None]
                 for code, is_value in zip(codes, value_params)]
        combos = [[]]
        for pool in pools:
            combos = [c + [item] for c in combos for item in pool]
        for combo in combos:
            new_env = _walk(env, steps)
            for code, is_value, item in zip(codes, value_params, combo):
                if is_value:
                    const = _Code(self, ("literal", 0, item), None,
                                  _with_single(lambda v, e, c=item: c))
                    new_env = (item, (_Closure(const, None), new_env))
                else:
                    new_env = (_Closure(code, env), new_env)
            yield new_env

    def _call_builtin(self, builtin, args, scope):
        runs = [self.compile(arg, scope) for arg in args]
        if not runs:
            return _with_single(lambda value, env: builtin(value))
        singles = [_single(run) for run in runs]
        if len(runs) == 1 and singles[0] is not None:
            arg = singles[0]
            return _with_single(lambda value, env: builtin(value, arg(value, env)))
        if len(runs) == 1:
            run = runs[0]
            return lambda value, env: [builtin(value, a) for a in run(value, env)]

        def call(value, env):
            for combo in _product(runs, value, env):
                yield builtin(value, *combo)
        return call

    # -- path mode ---------------------------------------------------------

    def _path_default(self, node, scope):
        # Not a path expression: its outputs carry the path None, which a
        # suffix (.a, .[], ...) or the consumer (path(), |=...) rejects with
        # jq's error.  As in jq, an output that is the input itself keeps
        # the path: {"a":1} | path(.a | 1) is ["a"].
        run = self.compile(node, scope)

        def not_a_path(value, path, env):
            for item in run(value, env):
                yield item, (path if _same_value(item, value) else None)
        return not_a_path

    def _path_identity(self, node, scope):
        return lambda value, path, env: ((value, path),)

    def _path_paren(self, node, scope):
        return self.compile_paths(node[2], scope)

    def _path_field(self, node, scope):
        target, name = self.compile_paths(node[2], scope), node[3]

        def field(value, path, env):
            for item, item_path in target(value, path, env):
                if item_path is None:
                    raise _access_error(item, name)
                yield _index(item, name), item_path + (name,)
        return field

    def _path_index(self, node, scope):
        target = self.compile_paths(node[2], scope)
        key_run = self.compile(node[3], scope)

        def index(value, path, env):
            for key in key_run(value, env):
                for item, item_path in target(value, path, env):
                    if item_path is None:
                        raise _access_error(item, key)
                    child = _index(item, key)
                    # .[array] gives indices, which are not a path.
                    yield child, (None if type(key) is list
                                  else item_path + (key,))
        return index

    def _path_slice(self, node, scope):
        target = self.compile_paths(node[2], scope)
        bounds = [self.compile(n, scope) if n is not None else None
                  for n in node[3:5]]
        bounds = [b if b is not None else _with_single(lambda v, e: None)
                  for b in bounds]

        def slice_(value, path, env):
            for end in bounds[1](value, env):
                for start in bounds[0](value, env):
                    key = {"start": start, "end": end}
                    for item, item_path in target(value, path, env):
                        if item_path is None:
                            raise _access_error(item, key)
                        yield _slice(item, start, end), item_path + (key,)
        return slice_

    def _path_iterate(self, node, scope):
        target = self.compile_paths(node[2], scope)

        def iterate(value, path, env):
            for item, item_path in target(value, path, env):
                if item_path is None:
                    raise _access_error(item, _MISSING)
                if type(item) is dict:
                    for key, child in item.items():
                        yield child, item_path + (key,)
                elif type(item) is list:
                    for key, child in enumerate(item):
                        yield child, item_path + (key,)
                else:
                    _iterate(item)  # raises jq's error
        return iterate

    def _path_pipe(self, node, scope):
        left = self.compile_paths(node[2], scope)
        right = self.compile_paths(node[3], scope)

        def pipe(value, path, env):
            for item, item_path in left(value, path, env):
                yield from right(item, item_path, env)
        return pipe

    def _path_comma(self, node, scope):
        left = self.compile_paths(node[2], scope)
        right = self.compile_paths(node[3], scope)

        def comma(value, path, env):
            yield from left(value, path, env)
            yield from right(value, path, env)
        return comma

    def _path_if(self, node, scope):
        cond = self.compile(node[2], scope)
        then = self.compile_paths(node[3], scope)
        other = self.compile_paths(node[4], scope)

        def if_(value, path, env):
            for test in cond(value, env):
                branch = then if _truthy(test) else other
                yield from branch(value, path, env)
        return if_

    def _path_alt(self, node, scope):
        left = self.compile_paths(node[2], scope)
        right = self.compile_paths(node[3], scope)

        def alternative(value, path, env):
            found = False
            try:
                for item, item_path in left(value, path, env):
                    if _truthy(item):
                        found = True
                        yield item, item_path
            except JqError as exc:
                if not _catchable(exc):
                    raise
            if not found:
                yield from right(value, path, env)
        return alternative

    def _path_try(self, node, scope):
        body = self.compile_paths(node[2], scope)
        handler = self.compile(node[3], scope) if node[3] is not None else None

        def try_(value, path, env):
            try:
                yield from body(value, path, env)
                return
            except JqError as exc:
                if not _catchable(exc):
                    raise
                error = exc
            if handler is not None:
                for item in handler(error.value, env):
                    yield item, None
        return try_

    def _path_bind(self, node, scope):
        source = self.compile(node[2], scope)
        binder, inner = self._compile_patterns(node[3], scope)
        body = self.compile_paths(node[4], inner)

        def bind(value, path, env):
            def body_run(value_, new_env):
                return body(value_, path, new_env)
            for item in source(value, env):
                yield from binder(item, value, env, body_run)
        return bind

    def _path_func_def(self, node, scope):
        _, pos, name, params, body = node[2]
        fdef = _FuncDef(self, name, params, body, None)
        inner = _Scope("func", name, fdef, scope)
        fdef.scope = inner
        fdef.compile_now()  # undefined names are compile errors here too
        return self.compile_paths(node[3], inner)

    def _path_label(self, node, scope):
        body = self.compile_paths(node[3], _Scope("label", node[2], None, scope))

        def label(value, path, env):
            marker = object()
            try:
                yield from body(value, path, (marker, env))
            except _JqBreak as exc:
                if exc.label is not marker:
                    raise
        return label

    def _path_reduce(self, node, scope):
        source = self.compile(node[2], scope)
        binder, inner = self._compile_patterns(node[3], scope)
        init = self.compile_paths(node[4], scope)
        update = self.compile_paths(node[5], inner)

        def reduce_(value, path, env):
            for state in init(value, path, env):
                box = [state]

                def step(_, new_env):
                    last = (None, ())
                    for last in update(box[0][0], box[0][1], new_env):
                        pass
                    box[0] = last
                    return ()
                for item in source(value, env):
                    for _ in binder(item, value, env, step):
                        pass
                yield box[0]
        return reduce_

    def _path_foreach(self, node, scope):
        source = self.compile(node[2], scope)
        binder, inner = self._compile_patterns(node[3], scope)
        init = self.compile_paths(node[4], scope)
        update = self.compile_paths(node[5], inner)
        extract = (self.compile_paths(node[6], inner)
                   if node[6] is not None else None)

        def foreach(value, path, env):
            for state in init(value, path, env):
                box = [state]

                def step(_, new_env):
                    for new_state in update(box[0][0], box[0][1], new_env):
                        box[0] = new_state
                        if extract is None:
                            yield new_state
                        else:
                            yield from extract(new_state[0], new_state[1],
                                               new_env)
                for item in source(value, env):
                    yield from binder(item, value, env, step)
        return foreach

    def _path_call(self, node, scope):
        kind, target, steps = self._resolve(node, scope)
        args = node[3]
        if kind == "param":
            def call_param(value, path, env):
                closure = _walk(env, steps)[0]
                return closure.code.paths(value, path, closure.env)
            return call_param
        if kind == "func":
            return self._path_function(target, args, steps, scope)
        native = _PATH_FILTERS.get((node[2], len(args)))
        if native is not None:
            return native(self, args, scope)
        return self._path_default(node, scope)

    def _path_function(self, fdef, args, steps, scope):
        codes = [_Code(self, arg, scope) for arg in args]

        def call(value, path, env):
            for new_env in self._argument_envs(fdef, codes, steps, value, env):
                yield from fdef.paths(value, path, new_env)
        return call


# Arrays are built in memory: a runaway generator ([range(1e10)],
# [repeat(1)]) must end in a jq error, not exhaust the machine.
_MAX_ARRAY = 1 << 24


def _collect(outputs):
    items = list(itertools.islice(outputs, _MAX_ARRAY + 1))
    if len(items) > _MAX_ARRAY:
        raise _error("Array too large: more than %d elements" % _MAX_ARRAY)
    return items


def _pattern_names(pattern):
    if pattern[0] == "pvar":
        return [pattern[2]]
    names = []
    if pattern[0] == "parray":
        for sub in pattern[2]:
            names.extend(_pattern_names(sub))
    else:
        for _, name, sub in pattern[2]:
            if name is not None:
                names.append(name)
            if sub is not None:
                names.extend(_pattern_names(sub))
    return names


def _entry_matcher(name, matcher):
    """Bind {$name: pattern} object entries: the variable and the pattern."""
    if matcher is None:
        return lambda item, value, env: ({name: item},)
    if name is None:
        return matcher

    def both(item, value, env):
        for bound in matcher(item, value, env):
            merged = {name: item}
            merged.update(bound)
            yield merged
    return both


def _pattern_index(item, key, kind):
    if kind == "pobject" and type(key) is not str:
        raise _error("Cannot index %s with %s" % (_type_name(item),
                                                   _type_name(key)))
    return _index(item, key)


def _build_object(pairs):
    result = {}
    for key, value in pairs:
        if type(key) is not str:
            raise _error("Object keys must be strings")
        result[key] = value
    return result


def _environment():
    import os
    return dict(os.environ)


def _collect_paths(paths, value, env):
    return list(_paths_only(paths(value, (), env)))


def _update_paths(value, paths, env, change):
    """setpath every path of the left side, in order (for =, +=, //=...)."""
    owned = {}
    for path in _collect_paths(paths, value, env):
        value = _setpath_owned(value, path, change(_getpath(value, path)),
                               owned)
    return value


def _modify(value, paths, update, env):
    """`paths |= update`: the first output replaces, no output deletes."""
    owned = {}
    deleted = []
    for path in _collect_paths(paths, value, env):
        for new in update(_getpath(value, path), env):
            value = _setpath_owned(value, path, new, owned)
            break
        else:
            deleted.append(path)
    if deleted:
        value = _delpaths(value, deleted)
    return value


def _setpath_owned(value, path, new, owned):
    """_setpath that updates in place the containers it created itself.

    Assignments over many paths (`.[] |= f`) would otherwise copy the
    whole container once per path.  owned maps id() to the container, which
    also keeps it alive so that its id cannot be reused.
    """
    if not path:
        return new
    parents = []
    for key in path:
        parents.append(value)
        value = None if value is None else _index(value, key)
    for key, parent in zip(reversed(path), reversed(parents)):
        if id(parent) in owned and type(key) is str and type(parent) is dict:
            parent[key] = new
            new = parent
            continue
        if (id(parent) in owned and type(key) is int and type(parent) is list
                and -len(parent) <= key < len(parent)):
            parent[key] = new
            new = parent
            continue
        new = _set_child(parent, key, new)
        owned[id(new)] = new
    return new


##############################################################################
# Builtins: filters with filter arguments
##############################################################################
# _jq_filter_<name>_<arity>(compiler, args, scope) returns a run function;
# _jq_path_<name>_<arity> is its path-mode version, where there is one.


def _jq_filter_empty_0(compiler, args, scope):
    return lambda value, env: ()


def _jq_filter_not_0(compiler, args, scope):
    return _with_single(lambda value, env: value is None or value is False)


def _jq_filter_path_1(compiler, args, scope):
    paths = compiler.compile_paths(args[0], scope)
    return lambda value, env: _paths_only(paths(value, (), env))


def _jq_filter_select_1(compiler, args, scope):
    cond = compiler.compile(args[0], scope)
    cond_single = _single(cond)
    if cond_single is not None:
        def select_single(value, env):
            test = cond_single(value, env)
            return () if test is None or test is False else (value,)
        return select_single
    return lambda value, env: [value for test in cond(value, env)
                               if test is not None and test is not False]


def _jq_path_select_1(compiler, args, scope):
    cond = compiler.compile(args[0], scope)
    return lambda value, path, env: [(value, path) for test in cond(value, env)
                                     if _truthy(test)]


def _recurse_children(value):
    if type(value) is list:
        return value
    if type(value) is dict:
        return value.values()
    return ()


def _jq_filter_recurse_0(compiler, args, scope):
    def recurse(value, env):
        # Depth-first, pre-order, with an explicit stack: any depth works.
        stack = [iter((value,))]
        while stack:
            for item in stack[-1]:
                yield item
                if type(item) is list or type(item) is dict:
                    stack.append(iter(_recurse_children(item)))
                break
            else:
                stack.pop()
    return recurse


def _jq_path_recurse_0(compiler, args, scope):
    def recurse(value, path, env):
        stack = [iter(((value, path),))]
        while stack:
            for item, item_path in stack[-1]:
                yield item, item_path
                if item_path is None and (type(item) in (list, dict)):
                    raise _access_error(item, _MISSING)
                if type(item) is list:
                    stack.append(iter([(child, item_path + (key,))
                                       for key, child in enumerate(item)]))
                elif type(item) is dict:
                    stack.append(iter([(child, item_path + (key,))
                                       for key, child in item.items()]))
                break
            else:
                stack.pop()
    return recurse


def _jq_filter_recurse_1(compiler, args, scope):
    step = compiler.compile(args[0], scope)

    def recurse(value, env):
        stack = [iter((value,))]
        while stack:
            for item in stack[-1]:
                yield item
                stack.append(iter(step(item, env)))
                break
            else:
                stack.pop()
    return recurse


def _jq_filter_recurse_2(compiler, args, scope):
    # recurse(f; cond) is recurse(f | select(cond)), iteratively.
    step_node = ("pipe", 0, args[0], ("call", 0, "select", [args[1]]))
    return _jq_filter_recurse_1(compiler, [step_node], scope)


def _jq_path_recurse_2(compiler, args, scope):
    step_node = ("pipe", 0, args[0], ("call", 0, "select", [args[1]]))
    return _jq_path_recurse_1(compiler, [step_node], scope)


def _jq_path_recurse_1(compiler, args, scope):
    step = compiler.compile_paths(args[0], scope)

    def recurse(value, path, env):
        stack = [iter(((value, path),))]
        while stack:
            for item, item_path in stack[-1]:
                yield item, item_path
                stack.append(iter(step(item, item_path, env)))
                break
            else:
                stack.pop()
    return recurse


def _jq_filter_map_1(compiler, args, scope):
    run = compiler.compile(args[0], scope)
    single = _single(run)
    if single is not None:
        return _with_single(lambda value, env: [
            single(item, env) for item in _iterate(value)])
    return _with_single(lambda value, env: [
        out for item in _iterate(value) for out in run(item, env)])


def _limited(count, outputs):
    """The first count outputs; all of them for a negative count, as in
    jq 1.7.  outputs() is called only when some output is wanted."""
    if not _is_number(count):
        raise _error("Invalid limit: must be a number")
    if count == 0:
        return
    for number, item in enumerate(outputs(), 1):
        yield item
        if number >= count > 0:
            return


def _skip_count(count):
    if not _is_number(count) or count < 0:
        raise _error("Invalid skip: must be a non-negative number")
    return count


def _jq_filter_limit_2(compiler, args, scope):
    counts, run = compiler.compile(args[0], scope), compiler.compile(args[1], scope)

    def limit(value, env):
        for count in counts(value, env):
            yield from _limited(count, lambda: run(value, env))
    return limit


def _jq_path_limit_2(compiler, args, scope):
    counts = compiler.compile(args[0], scope)
    paths = compiler.compile_paths(args[1], scope)

    def limit(value, path, env):
        for count in counts(value, env):
            yield from _limited(count, lambda: paths(value, path, env))
    return limit


def _jq_filter_skip_2(compiler, args, scope):
    counts, run = compiler.compile(args[0], scope), compiler.compile(args[1], scope)

    def skip(value, env):
        for count in counts(value, env):
            _skip_count(count)
            for number, item in enumerate(run(value, env)):
                if number >= count:
                    yield item
    return skip


def _jq_path_skip_2(compiler, args, scope):
    counts = compiler.compile(args[0], scope)
    paths = compiler.compile_paths(args[1], scope)

    def skip(value, path, env):
        for count in counts(value, env):
            _skip_count(count)
            for number, item in enumerate(paths(value, path, env)):
                if number >= count:
                    yield item
    return skip


def _jq_filter_first_1(compiler, args, scope):
    run = compiler.compile(args[0], scope)

    def first(value, env):
        for item in run(value, env):
            return (item,)
        return ()
    return first


def _jq_path_first_1(compiler, args, scope):
    paths = compiler.compile_paths(args[0], scope)

    def first(value, path, env):
        for item in paths(value, path, env):
            return (item,)
        return ()
    return first


def _jq_filter_last_1(compiler, args, scope):
    run = compiler.compile(args[0], scope)

    def last(value, env):
        found = _MISSING
        for found in run(value, env):
            pass
        return () if found is _MISSING else (found,)
    return last


def _jq_path_last_1(compiler, args, scope):
    paths = compiler.compile_paths(args[0], scope)

    def last(value, path, env):
        found = _MISSING
        for found in paths(value, path, env):
            pass
        return () if found is _MISSING else (found,)
    return last


def _jq_filter_isempty_1(compiler, args, scope):
    run = compiler.compile(args[0], scope)

    def isempty(value, env):
        for _ in run(value, env):
            return (False,)
        return (True,)
    return isempty


def _jq_filter_range_2(compiler, args, scope):
    return _range_filter(compiler, args + [("literal", 0, 1)], scope)


def _jq_filter_range_3(compiler, args, scope):
    return _range_filter(compiler, args, scope)


def _range_filter(compiler, args, scope):
    runs = [compiler.compile(arg, scope) for arg in args]

    def range_(value, env):
        # $from varies slowest, as jq's definition binds it first.
        for start in runs[0](value, env):
            for stop in runs[1](value, env):
                for step in runs[2](value, env):
                    yield from _range(start, stop, step)
    return range_


def _range(start, stop, step):
    if not (_is_number(start) and _is_number(stop) and _is_number(step)):
        raise _error("Range bounds must be numeric")
    if all(type(n) is int for n in (start, stop, step)):
        if step != 0:
            yield from range(start, stop, step)
        elif start < stop:
            while True:  # jq repeats $from forever when $by is 0
                yield start
        return
    current = start
    while (step > 0 and current < stop) or (step < 0 and current > stop):
        yield current
        current += step
    if step == 0 and start < stop:
        while True:
            yield start


def _jq_filter_repeat_1(compiler, args, scope):
    run = compiler.compile(args[0], scope)

    def repeat(value, env):
        # jq 1.8 applies f to the same input again and again, until an
        # error (or a limit) ends it: [repeat(.*2; error)?] is [2].
        while True:
            produced = False
            for item in run(value, env):
                produced = True
                yield item
            if not produced:
                return
    return repeat


def _jq_filter_while_2(compiler, args, scope):
    # def while(cond; update): if cond then ., (update | _while) else empty;
    return _stepping_filter(compiler, args, scope, until=False)


def _jq_filter_until_2(compiler, args, scope):
    # def until(cond; update): if cond then . else (update | _until) end;
    return _stepping_filter(compiler, args, scope, until=True)


def _stepping_filter(compiler, args, scope, until):
    """while and until, run as a loop over a stack of generators instead of
    recursion, so that long iterations cannot exhaust Python's stack."""
    cond, update = (compiler.compile(arg, scope) for arg in args)

    def step(value, env):
        stack = [iter((value,))]
        while stack:
            for item in stack[-1]:
                holds = any(_truthy(test) for test in cond(item, env))
                if holds:
                    yield item
                if holds != until:  # while goes on while it holds
                    stack.append(iter(update(item, env)))
                break
            else:
                stack.pop()
    return step


def _jq_filter_error_1(compiler, args, scope):
    run = compiler.compile(args[0], scope)

    def error(value, env):
        for message in run(value, env):
            raise _error_from_value(message)
        return ()
    return error


def _jq_filter_input_0(compiler, args, scope):
    root = scope.slots - 1

    def input_(value, env):
        inputs = _walk(env, root)[0].inputs
        for item in inputs if inputs is not None else ():
            return (item,)
        raise _error("No more inputs")
    return input_


def _jq_filter_inputs_0(compiler, args, scope):
    root = scope.slots - 1

    def inputs(value, env):
        source = _walk(env, root)[0].inputs
        return source if source is not None else ()
    return inputs


def _jq_filter_debug_0(compiler, args, scope):
    def debug(value, env):
        sys.stderr.write(_dumps(["DEBUG:", value], None, True) + "\n")
        return (value,)
    return debug


def _jq_filter_stderr_0(compiler, args, scope):
    def stderr(value, env):
        sys.stderr.write(_dumps(value, None, True))
        return (value,)
    return stderr


def _jq_filter_halt_0(compiler, args, scope):
    def halt(value, env):
        raise _JqHalt(0, None, "")  # exit 0, printing nothing
    return halt


def _jq_filter_halt_error_1(compiler, args, scope):
    run = compiler.compile(args[0], scope)

    def halt_error(value, env):
        for code in run(value, env):
            if type(code) is not int and type(code) is not float:
                raise _error("halt_error/1: number required")
            text = value if type(value) is str else jq_dumps(value) + "\n"
            raise _JqHalt(int(code), value, text)
        return ()
    return halt_error


def _jq_path_getpath_1(compiler, args, scope):
    run = compiler.compile(args[0], scope)

    def getpath(value, path, env):
        for target in run(value, env):
            if type(target) is not list:
                raise _error("Path must be specified as an array")
            item = _getpath(value, target)
            yield item, None if path is None else path + tuple(target)
    return getpath


def _jq_filter_tostream_0(compiler, args, scope):
    return lambda value, env: _tostream(value)


def _tostream(value):
    """[path, leaf] events, then [path] after each container's last child."""
    stack = [iter((((), value),))]
    closers = [None]
    while stack:
        for path, item in stack[-1]:
            if (type(item) is list or type(item) is dict) and item:
                keys = list(item) if type(item) is dict else range(len(item))
                children = [(path + (k,), item[k]) for k in keys]
                stack.append(iter(children))
                closers.append(children[-1][0])
            else:
                yield [list(path), item]
            break
        else:
            stack.pop()
            closer = closers.pop()
            if closer is not None:
                yield [list(closer)]


def _jq_filter_fromstream_1(compiler, args, scope):
    run = compiler.compile(args[0], scope)

    def fromstream(value, env):
        state, started, owned = None, False, {}
        for event in run(value, env):
            if type(event) is not list or not event or type(event[0]) is not list:
                raise _error("Invalid stream event: %s" % _brief(event))
            path = event[0]
            if len(event) == 2:
                if not path:
                    yield event[1]
                    continue
                state = _setpath_owned(state, path, event[1], owned)
                started = True
            elif len(path) == 1:
                if started:
                    yield state
                state, started, owned = None, False, {}
            elif len(path) == 0:
                raise _error("Invalid stream event: %s" % _brief(event))
    return fromstream


def _jq_filter_sub_2(compiler, args, scope):
    return _substitute(compiler, args + [("literal", 0, "")], scope)


def _jq_filter_sub_3(compiler, args, scope):
    return _substitute(compiler, args, scope)


def _jq_filter_gsub_2(compiler, args, scope):
    return _substitute(compiler, args + [("literal", 0, "")], scope, "g")


def _jq_filter_gsub_3(compiler, args, scope):
    return _substitute(compiler, args, scope, "g")


def _substitute(compiler, args, scope, extra_flags=""):
    regex_run = compiler.compile(args[0], scope)
    replacement = compiler.compile(args[1], scope)
    flags_run = compiler.compile(args[2], scope)

    def sub(value, env):
        for flags in flags_run(value, env):
            for regex in regex_run(value, env):
                regex_, flags_ = _regex_args(regex, flags)
                matches = list(_regex_matches(value, regex_,
                                              flags_ + extra_flags))
                yield from _substitutions(value, matches, replacement, env)
    return sub


def _substitutions(text, matches, replacement, env):
    """Every way to replace the matches (first match varying slowest)."""
    results = [("", 0)]
    for match in matches:
        captures = _capture_object(match)
        outputs = []
        for done, end in results:
            for new in replacement(captures, env):
                if type(new) is not str:
                    raise _error("%s and %s cannot be added" % (
                        _typed(done + text[end:match.start()]), _typed(new)))
                outputs.append((done + text[end:match.start()] + new,
                                match.end()))
        results = outputs
    return [done + text[end:] for done, end in results]


##############################################################################
# Builtins: functions of values
##############################################################################
# _jq_builtin_<name>(input, *arguments) returns the one output; the arity is
# the number of arguments.  Arguments with several outputs are combined by
# the caller, the first varying fastest, as jq does for its C builtins.


def _jq_builtin_length(value):
    t = type(value)
    if t is str or t is list or t is dict:
        return len(value)
    if value is None:
        return 0
    if t is int or t is float:
        return abs(value)
    raise _error("%s has no length" % _typed(value))


def _jq_builtin_utf8bytelength(value):
    if type(value) is not str:
        raise _error("%s only strings have UTF-8 byte length" % _typed(value))
    return len(value.encode("utf-8", "surrogatepass"))


def _jq_builtin_type(value):
    return _type_name(value)


def _jq_builtin_keys(value):
    if type(value) is dict:
        return sorted(value)
    if type(value) is list:
        return list(range(len(value)))
    raise _error("%s has no keys" % _typed(value))


def _jq_builtin_keys_unsorted(value):
    if type(value) is dict:
        return list(value)
    return _jq_builtin_keys(value)


def _jq_builtin_has(value, key):
    if type(value) is dict and type(key) is str:
        return key in value
    if type(value) is list and _is_number(key):
        return 0 <= key < len(value)
    raise _error("Cannot check whether %s has a %s key"
                 % (_type_name(value), _type_name(key)))


def _jq_builtin_contains(value, other):
    if _rank(value) != _rank(other):
        raise _error("%s and %s cannot have their containment checked"
                     % (_typed(value), _typed(other)))
    return _contains(value, other)


def _contains(a, b):
    """jq's containment; values of different kinds contain nothing."""
    ta, tb = type(a), type(b)
    if ta is dict and tb is dict:
        return all(k in a and _contains(a[k], v) for k, v in b.items())
    if ta is list and tb is list:
        return all(any(_contains(x, y) for x in a) for y in b)
    if ta is str and tb is str:
        return b in a
    return _rank(a) == _rank(b) and _equal(a, b)


def _jq_builtin_add(value):
    items = list(_iterate(value)) if value is not None else []
    if not items:
        return None
    if all(type(x) is str for x in items):
        return "".join(items)
    if all(type(x) is list for x in items):
        return [y for x in items for y in x]
    total = items[0]
    for item in items[1:]:
        total = _add(total, item)
    return total


def _jq_builtin_any(value):
    return any(_truthy(x) for x in _iterate(value))


def _jq_builtin_all(value):
    return all(_truthy(x) for x in _iterate(value))


def _jq_builtin_flatten(value, depth=1e18):
    if type(value) is not list:
        raise _error("Cannot iterate over %s" % _typed(value))
    if not _is_number(depth):
        raise _error("flatten depth must not be negative")
    if depth < 0:
        raise _error("flatten depth must not be negative")
    out = []
    stack = [(iter(value), depth)]
    while stack:
        for item in stack[-1][0]:
            if type(item) is list and stack[-1][1] > 0:
                stack.append((iter(item), stack[-1][1] - 1))
                break
            out.append(item)
        else:
            stack.pop()
    return out


def _jq_builtin_sort(value):
    if type(value) is not list:
        raise _error("%s cannot be sorted, as it is not an array" % _typed(value))
    return _sorted(value)


def _jq_builtin__sort_by_impl(value, keys):
    if type(value) is not list:
        raise _error("%s cannot be sorted, as it is not an array" % _typed(value))
    return [value[i] for i in _sorted_indices(keys)]


def _jq_builtin__group_by_impl(value, keys):
    if type(value) is not list:
        raise _error("Cannot index %s with number" % _type_name(value))
    groups, last = [], _MISSING
    for i in _sorted_indices(keys):
        if last is _MISSING or not _equal(keys[i], last):
            groups.append([])
            last = keys[i]
        groups[-1].append(value[i])
    return groups


def _jq_builtin__unique_by_impl(value, keys):
    return [group[0] for group in _jq_builtin__group_by_impl(value, keys)]


def _jq_builtin__min_by_impl(value, keys):
    return _extreme_by(value, keys, lambda c: c < 0)


def _jq_builtin__max_by_impl(value, keys):
    return _extreme_by(value, keys, lambda c: c >= 0)


def _extreme_by(value, keys, better):
    if type(value) is not list:
        raise _error("Cannot index %s with number" % _type_name(value))
    best = None
    for i in range(len(value)):
        if best is None or better(_compare(keys[i], keys[best])):
            best = i
    return None if best is None else value[best]


def _jq_builtin_min(value):
    return _jq_builtin__min_by_impl(value, value)


def _jq_builtin_max(value):
    return _jq_builtin__max_by_impl(value, value)


def _jq_builtin_unique(value):
    return _jq_builtin__unique_by_impl(value, value)


def _jq_builtin_reverse(value):
    if type(value) is str or type(value) is list:
        return value[::-1]
    if value is None:
        return []
    raise _error("Cannot reverse %s" % _typed(value))


def _jq_builtin_transpose(value):
    rows = [list(_iterate(row)) if row is not None else []
            for row in _iterate(value)]
    width = max((len(row) for row in rows), default=0)
    return [[row[i] if i < len(row) else None for row in rows]
            for i in range(width)]


def _jq_builtin_indices(value, needle):
    return _indices(value, needle)


def _jq_builtin_index(value, needle):
    found = _indices(value, needle)
    return found[0] if found else None


def _jq_builtin_rindex(value, needle):
    found = _indices(value, needle)
    return found[-1] if found else None


def _jq_builtin_bsearch(value, target):
    """Index of target in a sorted array, or -1 - the insertion point."""
    if type(value) is not list:
        raise _error("%s cannot be searched from" % _typed(value))
    low, high = 0, len(value) - 1
    while low <= high:
        middle = (low + high) // 2
        order = _compare(value[middle], target)
        if order == 0:
            return middle
        if order < 0:
            low = middle + 1
        else:
            high = middle - 1
    return -1 - low


def _jq_builtin_to_entries(value):
    if type(value) is dict:
        return [{"key": k, "value": v} for k, v in value.items()]
    if type(value) is list:
        return [{"key": k, "value": v} for k, v in enumerate(value)]
    raise _error("%s has no keys" % _typed(value))


def _jq_builtin_from_entries(value):
    result = {}
    for entry in _iterate(value):
        key, item = _entry_key_value(entry)
        result[key] = item
    return result


def _entry_key_value(entry):
    if type(entry) is not dict:
        raise _error("Cannot index %s with \"key\"" % _type_name(entry))
    for name in ("key", "k", "name", "Name", "K", "Key"):
        key = entry.get(name)
        if key is not None and key is not False:
            break
    else:
        key = entry.get("key")
    if type(key) is not str:
        if type(key) in (int, float, bool) or key is None:
            key = _tojson(key)
        else:
            raise _error("Cannot use %s as object key" % _typed(key))
    if "value" in entry:
        return key, entry["value"]
    for name in ("v", "Value", "V"):
        if name in entry:
            return key, entry[name]
    return key, None


def _jq_builtin_getpath(value, path):
    return _getpath(value, path)


def _jq_builtin_setpath(value, path, new):
    return _setpath(value, path, new)


def _jq_builtin_delpaths(value, paths):
    return _delpaths(value, paths)


def _jq_builtin_tojson(value):
    return _tojson(value)


def _jq_builtin_fromjson(value):
    if type(value) is not str:
        raise _error("%s cannot be parsed as JSON" % _typed(value))
    return _fromjson(value)


def _jq_builtin_tostring(value):
    return _tostring(value)


_NUMBER_TEXT_RE = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")


def _jq_builtin_tonumber(value):
    if _is_number(value):
        return value
    if type(value) is str:
        text = value  # jq 1.8 rejects surrounding white space
        if _NUMBER_TEXT_RE.match(text):
            if re.match(r"-?[0-9]+$", text):
                return int(text)
            return float(text)
        if text in ("nan", "-nan"):
            return math.nan
        raise _error("Cannot parse '%s' as JSON" % value)
    raise _error("%s cannot be parsed as a number" % _typed(value))


def _jq_builtin_toboolean(value):
    if value is True or value is False:
        return value
    if value == "true" and type(value) is str:
        return True
    if value == "false" and type(value) is str:
        return False
    raise _error("%s cannot be parsed as a boolean" % _typed(value))


def _jq_builtin_toarray(value):
    return value if type(value) is list else [value]


def _jq_builtin_abs(value):
    if _is_number(value):
        return -value if value < 0 else value
    raise _error("%s has no absolute value" % _typed(value))


def _jq_builtin_infinite(value):
    return math.inf


def _jq_builtin_nan(value):
    return math.nan


def _number_required(value):
    if not _is_number(value):
        raise _error("%s number required" % _typed(value))
    return _as_double(value)


def _jq_builtin_isinfinite(value):
    return math.isinf(_number_required(value))


def _jq_builtin_isnan(value):
    return math.isnan(_number_required(value))


def _jq_builtin_isnormal(value):
    number = abs(_number_required(value))
    return not (math.isnan(number) or math.isinf(number)) and (
        number >= sys.float_info.min)


def _jq_builtin_have_decnum(value):
    return False


def _jq_builtin_have_literal_numbers(value):
    return True


def _jq_builtin_startswith(value, prefix):
    if type(value) is not str or type(prefix) is not str:
        raise _error("startswith() requires string inputs")
    return value.startswith(prefix)


def _jq_builtin_endswith(value, suffix):
    if type(value) is not str or type(suffix) is not str:
        raise _error("endswith() requires string inputs")
    return value.endswith(suffix)


def _jq_builtin_ltrimstr(value, prefix):
    if type(value) is str and type(prefix) is str and value.startswith(prefix):
        return value[len(prefix):]
    return value


def _jq_builtin_rtrimstr(value, suffix):
    if (type(value) is str and type(suffix) is str and suffix
            and value.endswith(suffix)):
        return value[:-len(suffix)]
    return value


def _jq_builtin_trimstr(value, text):
    return _jq_builtin_rtrimstr(_jq_builtin_ltrimstr(value, text), text)


def _trim_input(value, name):
    if type(value) is not str:
        raise _error("%s input must be a string" % name)
    return value


# jq trims the ASCII whitespace characters only.
_WHITESPACE = " \t\n\r\f\v"


def _jq_builtin_trim(value):
    return _trim_input(value, "trim").strip(_WHITESPACE)


def _jq_builtin_ltrim(value):
    return _trim_input(value, "trim").lstrip(_WHITESPACE)


def _jq_builtin_rtrim(value):
    return _trim_input(value, "trim").rstrip(_WHITESPACE)


def _jq_builtin_explode(value):
    if type(value) is not str:
        raise _error("explode input must be a string")
    return [ord(c) for c in value]


def _jq_builtin_implode(value):
    if type(value) is not list:
        raise _error("implode input must be an array")
    chars = []
    for code in value:
        if not _is_number(code):
            raise _error("Unicode codepoint must be numeric")
        code = _to_int(code)
        if not 0 <= code <= 0x10FFFF or 0xD800 <= code < 0xE000:
            raise _error("Invalid codepoint literal")
        chars.append(chr(code))
    return "".join(chars)


def _jq_builtin_ascii(value):
    return _jq_builtin_implode([value])


def _jq_builtin_split(value, separator):
    if type(value) is not str or type(separator) is not str:
        raise _error("split input and separator must be strings")
    return _split_string(value, separator)


def _jq_builtin_join(value, separator):
    parts = []
    for item in _iterate(value):
        if item is None:
            parts.append("")
        elif type(item) is str:
            parts.append(item)
        elif type(item) in (int, float, bool):
            parts.append(_tojson(item))
        else:
            raise _error("Cannot join with %s" % _type_name(item))
    if parts and type(separator) is not str:
        raise _error("%s and %s cannot be added"
                     % (_typed(parts[0]), _typed(separator)))
    return separator.join(parts) if parts else ""


def _jq_builtin_ascii_downcase(value):
    if type(value) is not str:
        raise _error("ascii_downcase input must be a string")
    return value.translate(_DOWNCASE)


def _jq_builtin_ascii_upcase(value):
    if type(value) is not str:
        raise _error("ascii_upcase input must be a string")
    return value.translate(_UPCASE)


_DOWNCASE = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_UPCASE = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}


def _jq_builtin_env(value):
    return _environment()


def _jq_builtin_builtins(value):
    names = set("%s/%d" % key for key in _BUILTINS)
    names.update("%s/%d" % key for key in _FILTERS)
    names.update("%s/%d" % key for key in _prelude().keys())
    return sorted(n for n in names if not n.startswith("_"))


def _jq_builtin_input_filename(value):
    return None


def _jq_builtin_input_line_number(value):
    return 0


def _jq_builtin_now(value):
    import time
    return time.time()


##############################################################################
# Builtins: regular expressions
##############################################################################
# jq uses Oniguruma (Perl_NT syntax); Python's re spells a few things
# differently, and _translate_regex rewrites them.

_POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9", "alpha": "a-zA-Z", "blank": " \\t",
    "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "\\x21-\\x7e",
    "lower": "a-z", "print": "\\x20-\\x7e", "upper": "A-Z",
    "punct": "!-/:-@\\[-`{-~", "space": " \\t\\n\\r\\f\\v",
    "xdigit": "0-9a-fA-F", "word": "\\w",
}
_REGEX_FLAGS = {"g": 0, "n": 0, "l": 0, "s": 0, "i": re.IGNORECASE,
                "x": re.VERBOSE, "p": re.DOTALL}
_REGEX_CACHE = {}


def _translate_regex(pattern):
    """Rewrite Oniguruma-only syntax into Python's re syntax."""
    out = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            e = pattern[i + 1]
            if e == "h":
                out.append("[0-9a-fA-F]" if not in_class else "0-9a-fA-F")
            elif e == "H":
                out.append("[^0-9a-fA-F]")
            elif e == "z":
                out.append("\\Z")
            elif e == "k" and pattern[i + 2:i + 3] == "<":
                end = pattern.find(">", i + 3)
                if end > 0:  # \k<name>: a named backreference
                    out.append("(?P=" + pattern[i + 3:end] + ")")
                    i = end + 1
                    continue
                out.append(pattern[i:i + 2])
            elif e == "Z":
                out.append("(?=\\n?\\Z)")
            else:
                out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            m = re.match(r"\[:(\^?)([a-z]+):\]", pattern[i:])
            if m and m.group(2) in _POSIX_CLASSES:
                if m.group(1):
                    raise _error("negated POSIX classes are not supported")
                out.append(_POSIX_CLASSES[m.group(2)])
                i += m.end()
                continue
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            out.append(c)
            i += 1
            if pattern[i:i + 1] == "^":
                out.append("^")
                i += 1
            if pattern[i:i + 1] == "]":
                out.append("\\]")
                i += 1
            continue
        elif pattern.startswith("(?<", i) and pattern[i + 3:i + 4] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _compile_regex(regex, flags):
    if type(regex) is not str:
        raise _error("%s cannot be matched, as it is not a string"
                     % _typed(regex))
    key = (regex, flags)
    compiled = _REGEX_CACHE.get(key)
    if compiled is not None:
        return compiled
    bits = 0
    for flag in flags or "":
        if flag not in _REGEX_FLAGS:
            raise _error("%s is not a valid modifier string" % flags)
        bits |= _REGEX_FLAGS[flag]
    try:
        with warnings.catch_warnings():
            # re warns about syntax that may change (nested sets...);
            # the caller's warning filters must not turn that into errors.
            warnings.simplefilter("ignore")
            compiled = re.compile(_translate_regex(regex), bits)
    except (re.error, OverflowError, RecursionError) as exc:
        raise _error("%s (at offset %s) is not a valid regex: %s"
                     % (regex, getattr(exc, "pos", 0), exc)) from None
    if len(_REGEX_CACHE) > 256:
        _REGEX_CACHE.clear()
    _REGEX_CACHE[key] = compiled
    return compiled


def _regex_matches(value, regex, flags):
    """re.Match objects for match/test/sub..., honouring the g and n flags."""
    if type(value) is not str:
        raise _error("%s cannot be matched, as it is not a string"
                     % _typed(value))
    compiled = _compile_regex(regex, flags)
    skip_empty = "n" in flags
    if "g" not in flags:
        match = compiled.search(value)
        if match is not None and not (skip_empty and match.start() == match.end()):
            yield match
        return
    for match in compiled.finditer(value):
        if skip_empty and match.start() == match.end():
            continue
        yield match


def _match_object(match):
    names = {index: name for name, index in match.re.groupindex.items()}
    captures = []
    for group in range(1, match.re.groups + 1):
        start = match.start(group)
        captures.append({
            "offset": start,
            "length": match.end(group) - start if start >= 0 else 0,
            "string": match.group(group),
            "name": names.get(group),
        })
    return {"offset": match.start(), "length": match.end() - match.start(),
            "string": match.group(), "captures": captures}


def _capture_object(match):
    return {name: match.group(name) for name in match.re.groupindex}


def _regex_args(regex, flags):
    """Normalize (regex, flags): regex may be [regex, flags]; flags a string."""
    if type(regex) is list:
        if not 1 <= len(regex) <= 2:
            raise _error("%s is not a string" % _typed(regex))
        if len(regex) == 2 and regex[1] is not None:
            if type(regex[1]) is not str:
                raise _error("%s is not a string" % _typed(regex[1]))
            flags = regex[1] + _flag_string(flags)
        regex = regex[0]
    return regex, _flag_string(flags)


def _flag_string(flags):
    if flags is None:
        return ""
    if type(flags) is not str:
        raise _error("%s is not a string" % _typed(flags))
    return flags


def _jq_builtin_test(value, regex, flags=None):
    regex, flags = _regex_args(regex, flags)
    for _ in _regex_matches(value, regex, flags.replace("g", "")):
        return True
    return False


def _jq_filter_match_2(compiler, args, scope):
    return _regex_filter(compiler, args, scope, _match_object)


def _jq_filter_match_1(compiler, args, scope):
    return _regex_filter(compiler, args + [("literal", 0, None)], scope,
                         _match_object)


def _jq_filter_capture_2(compiler, args, scope):
    return _regex_filter(compiler, args, scope, _capture_object)


def _jq_filter_capture_1(compiler, args, scope):
    return _regex_filter(compiler, args + [("literal", 0, None)], scope,
                         _capture_object)


def _jq_filter_scan_2(compiler, args, scope):
    return _regex_filter(compiler, args, scope, _scan_result, "g")


def _jq_filter_scan_1(compiler, args, scope):
    return _regex_filter(compiler, args + [("literal", 0, None)], scope,
                         _scan_result, "g")


def _scan_result(match):
    if match.re.groups:
        return list(match.groups())
    return match.group()


def _regex_filter(compiler, args, scope, convert, extra_flags=""):
    regex_run = compiler.compile(args[0], scope)
    flags_run = compiler.compile(args[1], scope)

    def regex_filter(value, env):
        for flags in flags_run(value, env):
            for regex in regex_run(value, env):
                regex, flags_ = _regex_args(regex, flags)
                flags_ += extra_flags
                for match in _regex_matches(value, regex, flags_):
                    yield convert(match)
    return regex_filter


def _jq_builtin_split_2(value, regex, flags):
    regex, flags = _regex_args(regex, flags)
    pieces, end = [], 0
    for match in _regex_matches(value, regex, flags + "g"):
        pieces.append(value[end:match.start()])
        end = match.end()
    pieces.append(value[end:])
    return pieces


##############################################################################
# Builtins: math
##############################################################################
# The libm functions jq exposes, in jq's arities.  Results that overflow
# become infinities and domain errors give nan, as in C.


def _math(function):
    def apply(*args):
        try:
            return function(*args)
        except OverflowError:
            return math.inf
        except (ValueError, ZeroDivisionError):
            return math.nan
    return apply


def _frexp(x):
    mantissa, exponent = math.frexp(x)
    return [mantissa, exponent]


def _modf(x):
    if math.isinf(x):
        return [0.0, x]
    fraction, whole = math.modf(x)
    return [fraction, whole]


def _lgamma_r(x):
    value = math.lgamma(x)
    sign = 1.0 if x > 0 or math.isnan(x) or (
        math.floor(x) != x and math.floor(x) % 2 == 0) else -1.0
    return [value, sign]


def _significand(x):
    if x == 0 or math.isinf(x) or math.isnan(x):
        return x
    return math.frexp(x)[0] * 2


def _logb(x):
    if x == 0:
        return -math.inf
    if math.isinf(x):
        return math.inf
    return float(math.frexp(x)[1] - 1)


def _round_half_away(x):
    if math.isinf(x) or math.isnan(x):
        return x
    return float(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def _gamma(x):
    return math.lgamma(x)


def _drem(x, y):
    return math.remainder(x, y)


def _nextafter(x, y):
    if hasattr(math, "nextafter"):
        return math.nextafter(x, y)
    raise _error("nextafter is not available in this Python")


def _cbrt(x):
    return math.copysign(abs(x) ** (1.0 / 3), x)


def _exp10(x):
    return 10.0 ** x


def _fdim(x, y):
    return x - y if x > y else 0.0


def _bessel(order, x, kind):
    """J0/J1/Y0/Y1 by numerical integration (Python has no Bessel
    functions): good to about 1e-10 for moderate x."""
    steps = 2000
    total = 0.0
    for k in range(steps + 1):
        t = math.pi * k / steps
        weight = 1 if k in (0, steps) else (4 if k % 2 else 2)
        if kind == "j":
            total += weight * math.cos(order * t - x * math.sin(t))
        else:
            total += weight * math.sin(x * math.sin(t) - order * t)
    result = total * (math.pi / steps) / 3 / math.pi
    if kind == "y":
        if x <= 0:
            return -math.inf if x == 0 else math.nan
        # Second integral over [0, inf), truncated where it vanishes.
        upper, steps2 = 20.0, 4000
        tail = 0.0
        for k in range(steps2 + 1):
            t = upper * k / steps2
            weight = 1 if k in (0, steps2) else (4 if k % 2 else 2)
            sign = 1 if order % 2 == 0 else -1
            try:
                g = (math.exp(order * t) + sign * math.exp(-order * t)) * \
                    math.exp(-x * math.sinh(t))
            except OverflowError:
                g = 0.0
            tail += weight * g
        result -= tail * (upper / steps2) / 3 / math.pi
    return result


_MATH_1 = {
    "floor": math.floor, "ceil": math.ceil, "sqrt": math.sqrt,
    "fabs": math.fabs, "round": _round_half_away, "trunc": math.trunc,
    "acos": math.acos, "acosh": math.acosh, "asin": math.asin,
    "asinh": math.asinh, "atan": math.atan, "atanh": math.atanh,
    "cbrt": _cbrt, "cos": math.cos, "cosh": math.cosh, "exp": math.exp,
    "exp10": _exp10, "pow10": _exp10, "exp2": lambda x: 2.0 ** x,
    "expm1": math.expm1, "gamma": _gamma, "lgamma": math.lgamma,
    "tgamma": math.gamma, "log": math.log, "log10": math.log10,
    "log1p": math.log1p, "log2": math.log2, "logb": _logb,
    "nearbyint": lambda x: float(round(x)), "rint": lambda x: float(round(x)),
    "significand": _significand, "sin": math.sin, "sinh": math.sinh,
    "tan": math.tan, "tanh": math.tanh, "frexp": _frexp, "modf": _modf,
    "lgamma_r": _lgamma_r,
    "j0": lambda x: _bessel(0, x, "j"), "j1": lambda x: _bessel(1, x, "j"),
    "y0": lambda x: _bessel(0, x, "y"), "y1": lambda x: _bessel(1, x, "y"),
}
_MATH_2 = {
    "pow": math.pow, "atan2": math.atan2, "fmod": math.fmod,
    "hypot": math.hypot, "copysign": math.copysign, "drem": _drem,
    "fdim": _fdim, "fmax": lambda x, y: y if x != x else (x if y != y else max(x, y)),
    "fmin": lambda x, y: y if x != x else (x if y != y else min(x, y)),
    "ldexp": lambda x, e: math.ldexp(x, int(e)),
    "scalb": lambda x, e: x * 2.0 ** e,
    "scalbln": lambda x, e: math.ldexp(x, int(e)),
    "nextafter": _nextafter, "nexttoward": _nextafter,
}
_MATH_3 = {"fma": lambda x, y, z: x * y + z}


def _math_builtin(name, function, arity):
    """Wrap a libm function as a _jq_builtin_ (numbers in, number out)."""
    safe = _math(function)

    def builtin(value, *args):
        if arity == 1:
            numbers = [_number_required(value)]
        else:
            numbers = [_number_required(a) for a in args]
        result = safe(*numbers)
        if name in ("floor", "ceil", "trunc") and type(result) is int:
            return _int_result(result)
        return result
    return builtin


##############################################################################
# Builtins: dates
##############################################################################
# jq's "broken down time" is [year, month 0-11, day, hours, minutes,
# seconds (may be fractional), weekday 0-6 from Sunday, day of year 0-365].


def _broken_down(moment, seconds_fraction):
    return [moment.tm_year, moment.tm_mon - 1, moment.tm_mday, moment.tm_hour,
            moment.tm_min, moment.tm_sec + seconds_fraction,
            (moment.tm_wday + 1) % 7, moment.tm_yday - 1]


def _time_tuple(value, name):
    import time
    if _is_number(value):
        value = _jq_builtin_gmtime(value)
    if type(value) is not list or len(value) < 6 or not all(
            _is_number(x) for x in value):
        raise _error("%s requires parsed datetime inputs" % name)
    year, month, day, hour, minute, second = (int(x) for x in value[:6])
    wday = int(value[6]) if len(value) > 6 else 0
    yday = int(value[7]) if len(value) > 7 else 0
    return time.struct_time((year, month + 1, day, hour, minute, second,
                             (wday + 6) % 7, yday + 1, 0))


def _jq_builtin_gmtime(value):
    import time
    if not _is_number(value):
        raise _error("gmtime() requires a number")
    whole = math.floor(value)
    try:
        moment = time.gmtime(whole)
    except (OverflowError, ValueError, OSError):
        raise _error("gmtime() argument out of range") from None
    return _broken_down(moment, value - whole)


def _jq_builtin_localtime(value):
    import time
    if not _is_number(value):
        raise _error("localtime() requires a number")
    whole = math.floor(value)
    try:
        moment = time.localtime(whole)
    except (OverflowError, ValueError, OSError):
        raise _error("localtime() argument out of range") from None
    return _broken_down(moment, value - whole)


def _jq_builtin_mktime(value):
    import calendar
    if type(value) is not list or not all(_is_number(x) for x in value):
        raise _error("mktime requires array of 6 numbers")
    if len(value) < 6:
        raise _error("mktime requires array of 6 numbers")
    year, month, day, hour, minute, second = (int(math.floor(x))
                                              for x in value[:6])
    return calendar.timegm((year, month + 1, day, hour, minute, second))


def _jq_builtin_strftime(value, fmt):
    import time
    if type(fmt) is not str:
        raise _error("strftime/1 requires a string format")
    moment = _time_tuple(value, "strftime/1")
    # The broken-down time is UTC, whatever the local zone.
    fmt = fmt.replace("%Z", "UTC").replace("%z", "+0000")
    return time.strftime(fmt, moment)


def _jq_builtin_strflocaltime(value, fmt):
    import time
    if type(fmt) is not str:
        raise _error("strflocaltime/1 requires a string format")
    if _is_number(value):
        value = _jq_builtin_localtime(value)
    moment = _time_tuple(value, "strflocaltime/1")
    return time.strftime(fmt, moment)


def _jq_builtin_strptime(value, fmt):
    import datetime
    if type(value) is not str or type(fmt) is not str:
        raise _error("strptime/1 requires string inputs and arguments")
    try:
        parsed = datetime.datetime.strptime(value, fmt)
    except ValueError:
        raise _error('date "%s" does not match format "%s"'
                     % (value, fmt)) from None
    if parsed.tzinfo is not None:
        parsed = (parsed - parsed.utcoffset()).replace(tzinfo=None)
    return _broken_down(parsed.timetuple(), 0)


##############################################################################
# Builtins: @formats
##############################################################################


def _format_text(value):
    return _tostring(value)


def _format_json(value):
    return _tojson(value)


def _format_html(value):
    text = _tostring(value)
    return (text.replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace("'", "&#39;")
            .replace('"', "&quot;"))


def _format_uri(value):
    import urllib.parse
    return urllib.parse.quote(_tostring(value), safe="-_.~")


def _format_urid(value):
    import urllib.parse
    text = _tostring(value)
    try:
        return urllib.parse.unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise _error("%s is not a valid uri encoding" % _typed(value)) from None


def _csv_field(item, kind):
    if type(item) is str:
        if kind == "csv":
            return '"' + item.replace('"', '""') + '"'
        return (item.replace("\\", "\\\\").replace("\t", "\\t")
                .replace("\n", "\\n").replace("\r", "\\r"))
    if item is None:
        return ""
    if type(item) in (bool, int, float):
        return _tojson(item)
    raise _error("%s is not valid in a %s row" % (_typed(item), kind))


def _format_csv(value):
    if type(value) is not list:
        raise _error("%s cannot be csv-formatted, only an array can be"
                     % _typed(value))
    return ",".join(_csv_field(item, "csv") for item in value)


def _format_tsv(value):
    if type(value) is not list:
        raise _error("%s cannot be tsv-formatted, only an array can be"
                     % _typed(value))
    return "\t".join(_csv_field(item, "tsv") for item in value)


def _shell_quote(item):
    if type(item) is str:
        return "'" + item.replace("'", "'\\''") + "'"
    if type(item) in (list, dict):
        raise _error("%s can not be escaped for shell" % _typed(item))
    return _tojson(item)


def _format_sh(value):
    if type(value) is list:
        return " ".join(_shell_quote(item) for item in value)
    return _shell_quote(value)


def _format_base64(value):
    import base64
    return base64.b64encode(_tostring(value).encode("utf-8")).decode("ascii")


def _format_base64d(value):
    import base64
    import binascii
    text = _tostring(value).rstrip("=")
    data = text.encode("utf-8", "surrogatepass")
    if len(text) % 4 == 1:
        raise _error("%s trailing base64 byte found" % _typed(value))
    try:
        decoded = base64.b64decode(data + b"=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        raise _error("%s is not valid base64 data" % _typed(value)) from None
    return decoded.decode("utf-8", "replace")


def _format_base32(value):
    import base64
    return base64.b32encode(_tostring(value).encode("utf-8")).decode("ascii")


def _format_base32d(value):
    import base64
    import binascii
    text = _tostring(value).rstrip("=")
    data = text.encode("utf-8", "surrogatepass")
    try:
        decoded = base64.b32decode(data + b"=" * (-len(data) % 8))
    except (binascii.Error, ValueError):
        raise _error("%s is not valid base32 data" % _typed(value)) from None
    return decoded.decode("utf-8", "replace")


_FORMATS = {
    "text": _format_text, "json": _format_json, "html": _format_html,
    "uri": _format_uri, "urid": _format_urid, "csv": _format_csv,
    "tsv": _format_tsv, "sh": _format_sh, "base64": _format_base64,
    "base64d": _format_base64d, "base32": _format_base32,
    "base32d": _format_base32d,
}


##############################################################################
# Builtins defined in jq
##############################################################################
# Each definition is parsed when a program first calls it (_Prelude).

_JQ_PRELUDE = r"""
def error: error(.);
def values: select(. != null);
def nulls: select(. == null);
def booleans: select(type == "boolean");
def numbers: select(type == "number");
def strings: select(type == "string");
def arrays: select(type == "array");
def objects: select(type == "object");
def iterables: select(type | . == "array" or . == "object");
def scalars: select(type | . != "array" and . != "object");
def finites: select(isinfinite or isnan | not);
def normals: select(isnormal);
def map_values(f): .[] |= f;
def with_entries(f): to_entries | map(f) | from_entries;
def add(f): reduce f as $x (null; . + $x);
def any(f): reduce (.[] | f) as $x (false; . or $x);
def all(f): reduce (.[] | f) as $x (true; . and $x);
def any(g; cond): isempty(first(g | cond or empty)) | not;
def all(g; cond): isempty(first(g | cond and empty));
def range($x): range(0; $x);
def in(xs): . as $x | xs | has($x);
def inside(xs): . as $x | xs | contains($x);
def IN(s): any(s == .; .);
def IN(src; s): any(src == s; .);
def INDEX(stream; idx_expr):
  reduce stream as $row ({}; .[$row | idx_expr | tostring] |= $row);
def INDEX(idx_expr): INDEX(.[]; idx_expr);
def first: .[0];
def last: .[-1];
def nth($n): .[$n];
def nth($n; f):
  if $n < 0 then error("Out of bounds negative array index")
  else first(skip($n; f)) end;
def combinations:
  if length == 0 then []
  else .[0][] as $x | (.[1:] | combinations) as $w | [$x] + $w end;
def combinations(n): . as $dot | [range(n)] | map($dot) | combinations;
def walk(f):
  def w: if type == "object" then map_values(w)
         elif type == "array" then map(w) else . end | f;
  w;
def sort_by(f): _sort_by_impl(map([f]));
def group_by(f): _group_by_impl(map([f]));
def unique_by(f): _unique_by_impl(map([f]));
def min_by(f): _min_by_impl(map([f]));
def max_by(f): _max_by_impl(map([f]));
def paths: path(..) | select(length > 0);
def paths(node_filter):
  . as $dot | paths | select(. as $p | $dot | getpath($p) | node_filter);
def leaf_paths: paths(scalars);
def del(f): delpaths([path(f)]);
def pick(pathexps):
  . as $top
  | reduce path(pathexps) as $p (null; setpath($p; $top | getpath($p)));
def truncate_stream(stream):
  . as $n | null | stream | . as $input
  | if (.[0] | length) > $n then setpath([0]; .[0][$n:]) else empty end;
def JOIN($idx; idx_expr): [.[] | [., $idx[idx_expr]]];
def JOIN($idx; stream; idx_expr): stream | [., $idx[idx_expr]];
def JOIN($idx; stream; idx_expr; join_expr):
  stream | [., $idx[idx_expr]] | join_expr;
def debug(msg): (msg | debug | empty), .;
def halt_error: halt_error(5);
def todateiso8601: strftime("%Y-%m-%dT%H:%M:%SZ");
def fromdateiso8601: strptime("%Y-%m-%dT%H:%M:%SZ") | mktime;
def todate: todateiso8601;
def fromdate: fromdateiso8601;
def date: todate;
def dateadd(u; n): . + n;
def datesub(u; n): . - n;
def splits($re): splits($re; null);
def splits($re; flags): split($re; flags) | .[];
"""

class _Prelude(object):
    """The prelude's functions by (name, arity), each parsed on first use,
    so that a program pays only for the builtins it calls."""

    def __init__(self, text):
        self._sources = {}
        self._defs = {}
        self._root = _Scope("root", None, None, None)
        # Top-level definitions start a line; nested ones are indented.
        for chunk in re.split(r"\n(?=def )", text.strip()):
            m = re.match(r"def (\w+)(?:\(([^)]*)\))?:", chunk)
            arity = len(m.group(2).split(";")) if m.group(2) else 0
            self._sources[(m.group(1), arity)] = chunk

    def get(self, key):
        """The _FuncDef for (name, arity), or None."""
        fdef = self._defs.get(key)
        if fdef is None and key in self._sources:
            source = self._sources[key]
            node = _parse(source + " .")
            _, _, name, params, body = node[2]
            fdef = _FuncDef(_Compiler(source, self), name, params, body,
                            self._root)
            self._defs[key] = fdef
        return fdef

    def keys(self):
        """Every (name, arity) the prelude defines."""
        return self._sources.keys()


_prelude_defs = None


def _prelude():
    """The prelude (made once)."""
    global _prelude_defs
    if _prelude_defs is None:
        _prelude_defs = _Prelude(_JQ_PRELUDE)
    return _prelude_defs


def _registry(prefix):
    """Map (name, arity) to the module functions named prefix + name."""
    found = {}
    for attr, function in globals().items():
        if not attr.startswith(prefix):
            continue
        name = attr[len(prefix):]
        suffix = re.match(r"(.+)_(\d)$", name)
        if suffix:
            found[(suffix.group(1), int(suffix.group(2)))] = function
        elif prefix == "_jq_builtin_":
            arity = function.__code__.co_argcount - 1
            found[(name, arity)] = function
            if function.__defaults__:  # optional arguments: more arities
                for extra in range(len(function.__defaults__)):
                    found[(name, arity - extra - 1)] = function
    return found


_BUILTINS = _registry("_jq_builtin_")
for _name, _function in _MATH_1.items():
    _BUILTINS[(_name, 0)] = _math_builtin(_name, _function, 1)
for _name, _function in _MATH_2.items():
    _BUILTINS[(_name, 2)] = _math_builtin(_name, _function, 2)
for _name, _function in _MATH_3.items():
    _BUILTINS[(_name, 3)] = _math_builtin(_name, _function, 3)
_FILTERS = _registry("_jq_filter_")
_PATH_FILTERS = _registry("_jq_path_")


##############################################################################
# Programs: jq_compile
##############################################################################


class _Program(object):
    """A compiled jq expression: run(value) iterates over its outputs."""

    __slots__ = ("expression", "variables", "_run", "_simple")

    def __init__(self, expression, variables, run):
        self.expression = expression
        self.variables = variables
        self._run = run
        # One-output programs (.a.b, literals...) cannot recurse: no guard.
        self._simple = _single(run) is not None

    def run(self, value, variables=None, inputs=None):
        """Iterate over the outputs for one input; raises JqError.

        variables maps the names given to jq_compile to their values;
        inputs is an iterator of further inputs, for input and inputs.
        """
        env = (_Context(iter(inputs) if inputs is not None else None,
                        variables), None)
        for name in self.variables:
            if not variables or name not in variables:
                raise JqError("$%s has no value" % name)
            env = (variables[name], env)
        if self._simple:
            try:
                return iter(self._run(value, env))
            except RecursionError:
                raise JqError(_DEPTH_MESSAGE) from None
        return _guarded(self._run, value, env)

    def __repr__(self):
        return "<jq program %r>" % self.expression


_DEPTH_MESSAGE = "jq program recursion depth exceeded (value or recursion " \
                 "too deep)"


def _guarded(run, value, env):
    """Turn Python's recursion limit into a jq error."""
    try:
        yield from run(value, env)
    except RecursionError:
        raise JqError(_DEPTH_MESSAGE) from None


_cache = {}
_CACHE_SIZE = 512


def jq_compile(expression, variables=()):
    """Compile a jq expression into a program; raise JqSyntaxError.

    variables names the $variables the caller will give to run() (jq's
    --arg/--argjson): jq_compile(".a + $x", ("x",)).run(v, {"x": 1}).
    Compiled programs are cached per expression and variable names.
    """
    key = expression if not variables else (expression, tuple(variables))
    program = _cache.get(key)
    if program is not None:
        return program
    if not isinstance(expression, str):
        raise TypeError("a jq expression must be a string")
    try:
        program = _compile_program(expression, tuple(variables))
    except RecursionError:
        raise JqSyntaxError("expression nested too deeply", expression,
                            1) from None
    if len(_cache) >= _CACHE_SIZE:
        _cache.clear()
    _cache[key] = program
    return program


def _compile_program(expression, variables):
    node = _parse(expression)
    scope = _Scope("root", None, None, None)
    for name in variables:
        scope = _Scope("var", name, None, scope)
    compiler = _Compiler(expression, _prelude())
    return _Program(expression, variables, compiler.compile(node, scope))
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


def jq_compile(expression, variables=()):
    """Compile a jq expression into a program whose run(value) yields the
    outputs; raise JqSyntaxError if it does not compile.

    `variables` names the $variables that run(value, {name: value}) will
    give (jq's --arg): jq_compile(".a + $x", ("x",)).run(v, {"x": 1}).
    """
    return _jq_engine()["jq_compile"](expression, variables)


def jq_run(expression, value) -> list:
    """Run a jq expression on one input; return the list of its outputs."""
    return list(jq_compile(expression).run(value))


def jq_dumps(value, indent=None) -> str:
    """Format one jq output as jq prints it (compact, or indented)."""
    return _jq_engine()["jq_dumps"](value, indent)


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
        indent = 2 if self.format == "json" else None
        try:
            for value in self.program.run(result):
                _print(_terminal_safe_json(jq_dumps(value, indent)))
        except JqError as e:
            if getattr(e, "exit_code", None) is not None:
                raise _JqHalt(str(e), e.exit_code) from None
            if secret:
                raise BasetenAuthError(
                    "jq: the expression failed on a result that holds a "
                    "secret; its message is not shown") from None
            raise BasetenAuthError("jq: " + str(e)) from None


class _JqHalt(BasetenAuthError):
    """Raised when a jq program stops with halt or halt_error: its message
    goes to stderr as it is, and its exit code is the program's."""

    def __init__(self, message, exit_code):
        BasetenAuthError.__init__(self, message)
        self.exit_code = exit_code


def _compile_jq_for_cli(expression):
    try:
        return jq_compile(expression)
    except JqSyntaxError as e:
        raise UsageError("jq: %s\n%s" % (e, e.caret())) from None


def _dump_json(value, indented) -> str:
    if indented:
        text = json.dumps(value, indent=2, ensure_ascii=False)
    else:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return _terminal_safe_json(text)


def _terminal_safe_json(text) -> str:
    """Escape what json.dumps(ensure_ascii=False) leaves raw but a terminal
    acts on: DEL, the C1 controls (0x9b is CSI), bidi controls and line
    separators. Outside strings JSON text is ASCII: only strings change."""
    if text.isascii() and "\x7f" not in text:
        return text
    return "".join("\\u%04x" % ord(c) if _is_terminal_control(c) else c
                   for c in text)


def _is_terminal_control(char) -> bool:
    code = ord(char)
    return (0x7F <= code < 0xA0 or 0x202A <= code <= 0x202E
            or 0x2066 <= code <= 0x2069
            or code in (0x200E, 0x200F, 0x2028, 0x2029))


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
        text = "%s\n  Remote: %s\n  Auth type: %s" % tuple(
            _clean(v) for v in (name, result["remote_url"], result["auth_type"]))
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
        _clean(r["profile"]), " (current)" if r["current"] else "",
        _clean(r["remote_url"]), _clean(r["auth_type"]), r["storage"])
        for r in results]
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
    out.emit({"profile": name}, "Logged out %s" % _clean(name))


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
        if names:
            _print("\n".join(names))
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
            # Unknown options are found by the top parser: point at the
            # command's own help all the same.
            raise UsageError("%s (see: %s --help)" % (
                message, getattr(self, "command_prog", None) or self.prog))

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
    if wanted:
        parser.command_prog = "baseten auth " + wanted
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
    except _JqHalt as e:
        sys.stderr.write(str(e))
        return e.exit_code
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
    except Exception as e:  # a bug: still one line, and no secret in it
        if _verbose:
            import traceback

            traceback.print_exc()
        _write_stderr("error: internal error (%s); run with -v for details, "
                      "and please report it" % type(e).__name__)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
