"""The keyring backends: one contract, run against every backend.

- SecretToolBackend against a real Secret Service (gnome-keyring on a private
  D-Bus bus, see secret_service.py);
- PythonKeyringBackend: the real `keyring` command, in the same session;
- MacOSSecurityBackend against a stand-in `security` (fake_security.py), so
  the macOS path runs on Linux.

Interop with the official CLI's entries is tested at the end of the file.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess

import pytest

import baseten_auth
from baseten_auth import (
    KeyringUnavailable,
    MacOSSecurityBackend,
    PythonKeyringBackend,
    SecretToolBackend,
)
from keyring_helpers import fake_security, python_keyring_command, recorder
from secret_service import keyring_session, secret_service  # noqa: F401

SERVICE = "baseten-profile"

SECRETS = [
    pytest.param("sk-plain-0123456789", id="a plain API key"),
    pytest.param("ends with a newline\n", id="a trailing newline is kept"),
    pytest.param("two newlines\n\n", id="two trailing newlines are kept"),
    pytest.param("line1\nline2\nline3", id="a multi-line secret"),
    pytest.param("crlf\r\nend\r\n", id="carriage returns are kept"),
    pytest.param("pässwörd-🔑-秘密", id="unicode"),
    pytest.param("  blanks, \"double\", 'single', \\back\\slash\\ ",
                 id="quotes and backslashes"),
    pytest.param(
        json.dumps({"access_token": "at", "refresh_token": "rt",
                    "expiry": "2030-01-01T00:00:00Z"}),
        id="an OAuth credential as JSON",
    ),
]

PROFILES = [
    pytest.param("ci", id="a short name"),
    pytest.param("alice@example.com:staging.example.com",
                 id="an email and host"),
    pytest.param("jösé", id="a non-ASCII name"),
    pytest.param("o'brien", id="a single quote"),
    pytest.param('say "hi" \\ there',
                 id="double quotes, backslash and blanks"),
    pytest.param("-p", id="a leading dash is not an option"),
]


def pytest_generate_tests(metafunc):
    # Each backend class says which secrets and profile names it tries.
    for name, attribute in (("secret", "secrets"), ("profile", "profiles")):
        if name in metafunc.fixturenames and metafunc.cls is not None:
            metafunc.parametrize(name, getattr(metafunc.cls, attribute))


@pytest.fixture(autouse=True)
def _fresh_backend_cache(monkeypatch):
    monkeypatch.setattr(baseten_auth, "_keyring_backends", {})
    monkeypatch.delenv("BASETEN_KEYRING_TIMEOUT", raising=False)


class BackendContract:
    """What every keyring backend does. Subclasses provide `make_backend`
    (path of the tool -> backend) and `real_tool` (the tool's path)."""

    #: The longest secret, in bytes, that must be stored.
    longest_secret = 8191
    #: The secrets and profile names to try (parametrized below).
    secrets = SECRETS
    profiles = PROFILES

    @pytest.fixture
    def backend(self, real_tool):
        return self.make_backend(real_tool)

    def make_backend(self, path):
        raise NotImplementedError

    def test_a_profile_without_an_entry_reads_as_none(self, backend):
        assert backend.get("nobody") is None

    def test_a_secret_round_trips_exactly(self, backend, secret):
        backend.set("p", secret)
        assert backend.get("p") == secret

    def test_profile_names_are_used_as_they_are(self, backend, profile):
        backend.set(profile, "s-" + profile)
        assert backend.get(profile) == "s-" + profile
        assert backend.delete(profile) is True
        assert backend.get(profile) is None

    def test_set_replaces_the_previous_secret(self, backend):
        backend.set("p", "old")
        backend.set("p", "new")
        assert backend.get("p") == "new"

    def test_delete_says_whether_there_was_an_entry(self, backend):
        backend.set("p", "s")
        assert backend.delete("p") is True
        assert backend.get("p") is None
        assert backend.delete("p") is False

    def test_profiles_are_kept_apart(self, backend):
        backend.set("a", "secret-a")
        backend.set("b", "secret-b")
        backend.delete("a")
        assert backend.get("a") is None
        assert backend.get("b") == "secret-b"

    def test_the_longest_secret_is_stored_whole(self, backend):
        # An OAuth credential can be long; 8191 bytes is secret-tool's limit.
        secret = "é" + "x" * (self.longest_secret - 2)
        backend.set("p", secret)
        assert backend.get("p") == secret

    def test_the_secret_is_in_no_argv_environment_or_output(
        self, backend, real_tool, tmp_path, capfd, monkeypatch
    ):
        monkeypatch.setattr(baseten_auth, "_verbose", True, raising=False)
        log = tmp_path / "calls.log"
        wrapped = recorder(tmp_path, backend.name, real_tool, log)
        spy = self.make_backend(wrapped)
        secret = "sk-canary-7f3a9c"
        spy.set("p", secret)
        assert spy.get("p") == secret
        spy.delete("p")
        calls = log.read_text(encoding="utf-8")
        assert calls.count("argv:") >= 3
        assert secret not in calls
        out, err = capfd.readouterr()
        assert secret not in out + err
        assert "exited 0" in err  # each call is logged under -v
        assert secret not in repr(spy)

    def test_backend_has_its_name(self, backend):
        assert backend.name in ("secret-tool", "keyring", "security")
        assert type(backend).__name__ in repr(backend)


class LengthLimitContract:
    """For a backend whose tool would truncate a long secret: refuse it."""

    #: A length, in bytes, that the backend must refuse.
    too_long_secret = 0

    def test_a_secret_it_would_truncate_is_refused(self, backend):
        with pytest.raises(KeyringUnavailable, match="too long"):
            backend.set("q", "x" * self.too_long_secret)
        assert backend.get("q") is None


class TestSecretToolBackend(BackendContract, LengthLimitContract):
    too_long_secret = 8192  # secret-tool would keep the first 8192 bytes

    @pytest.fixture
    def real_tool(self, keyring_session):
        return shutil.which("secret-tool")

    def make_backend(self, path):
        return SecretToolBackend(path)

    def test_check_passes_inside_a_session(self, backend):
        backend.check()


class TestPythonKeyringBackend(BackendContract):
    # Each `keyring` call takes 0.2-0.5 s: try the cases that differ for it
    # (it strips one trailing newline on set and adds one on get).
    secrets = [p for p in SECRETS
               if p.id in ("two trailing newlines are kept", "unicode")]
    profiles = [p for p in PROFILES if p.id in (
        "a non-ASCII name", "a leading dash is not an option")]

    @pytest.fixture
    def real_tool(self, keyring_session, monkeypatch):
        # Naming the backend skips keyring's discovery of every installed
        # backend, a third of each call's time. The interop tests below and
        # the failure tests use discovery.
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND",
                           "keyring.backends.SecretService.Keyring")
        return python_keyring_command()

    def make_backend(self, path):
        return PythonKeyringBackend(path)

    def test_an_empty_secret_is_refused(self, backend):
        # `keyring set` would fall back to a password prompt.
        with pytest.raises(KeyringUnavailable, match="empty"):
            backend.set("p", "")


class TestMacOSSecurityBackend(BackendContract, LengthLimitContract):
    # One `security -i` line holds about 3000 bytes of secret in base64;
    # go-keyring refuses 3100 bytes too.
    longest_secret = 3000
    too_long_secret = 3100

    @pytest.fixture
    def real_tool(self, tmp_path, monkeypatch):
        state = tmp_path / "keychain.json"
        monkeypatch.setenv("FAKE_SECURITY_STATE", str(state))
        (tmp_path / "bin").mkdir()
        return fake_security(tmp_path / "bin")

    def make_backend(self, path):
        return MacOSSecurityBackend(path)

    def test_the_default_path_is_usr_bin_security(self):
        assert MacOSSecurityBackend().path == "/usr/bin/security"


# -- interop with the official CLI (go-keyring) -------------------------------


def official_label(profile):
    return "Password for '%s' on '%s'" % (profile, SERVICE)


def secret_tool_store(session, profile, secret: bytes):
    """Store an entry as the official CLI on Linux does (go-keyring)."""
    result = session.secret_tool(
        "store", "--label=" + official_label(profile),
        "service", SERVICE, "username", profile, input=secret,
    )
    assert result.returncode == 0, result.stderr


def secret_tool_lookup(session, profile):
    result = session.secret_tool("lookup", "service", SERVICE,
                                 "username", profile)
    return result.stdout if result.returncode == 0 else None


class TestSecretServiceInterop:
    """Entries are the official CLI's: both tools read each other's."""

    @pytest.mark.parametrize("cls", [SecretToolBackend, PythonKeyringBackend])
    def test_an_entry_made_by_secret_tool_store_is_read(self, keyring_session,
                                                        cls):
        secret_tool_store(keyring_session, "p", "from-go ✓".encode())
        keyring = cls is PythonKeyringBackend
        assert cls(python_keyring_command() if keyring else None).get("p") \
            == "from-go ✓"

    def test_secret_tool_backend_writes_the_official_entry(self,
                                                           keyring_session):
        SecretToolBackend().set("alice", "s3cret\n")
        assert secret_tool_lookup(keyring_session, "alice") == b"s3cret\n"
        [(label, attributes)] = keyring_session.items()
        assert label == official_label("alice")
        # gnome-keyring may add its schema attribute; matching ignores it.
        attributes.pop("xdg:schema", None)
        assert attributes == {"service": SERVICE, "username": "alice"}

    def test_python_keyring_entries_are_found_by_secret_tool(self,
                                                             keyring_session):
        PythonKeyringBackend(python_keyring_command()).set("bob", "pk-secret")
        assert secret_tool_lookup(keyring_session, "bob") == b"pk-secret"
        [(label, _)] = keyring_session.items()
        assert label == official_label("bob")

    def test_python_keyring_replaces_an_official_entry_instead_of_hiding_it(
        self, keyring_session
    ):
        # `keyring set` alone would add a second item that every reader
        # ignores in favour of the old one.
        secret_tool_store(keyring_session, "p", b"old")
        PythonKeyringBackend(python_keyring_command()).set("p", "new")
        assert secret_tool_lookup(keyring_session, "p") == b"new"
        assert len(keyring_session.items()) == 1

    def test_delete_removes_duplicate_items(self, keyring_session):
        secret_tool_store(keyring_session, "p", b"one")
        # A python-keyring item for the same profile: a second item.
        subprocess.run(
            [python_keyring_command(), "set", SERVICE, "p"], input=b"two\n",
            check=True, capture_output=True, env=dict(os.environ), timeout=30,
        )
        assert len(keyring_session.items()) == 2
        assert SecretToolBackend().delete("p") is True
        assert keyring_session.items() == []

    @pytest.mark.parametrize(
        "stored",
        [
            pytest.param("go-keyring-base64:" + base64.b64encode(
                "mac ✓\n".encode()).decode(), id="go-keyring-base64"),
            pytest.param("go-keyring-encoded:" + "mac ✓\n".encode().hex(),
                         id="go-keyring-encoded (hex)"),
        ],
    )
    def test_values_copied_from_a_mac_are_decoded(self, keyring_session,
                                                  stored):
        secret_tool_store(keyring_session, "p", stored.encode())
        assert SecretToolBackend().get("p") == "mac ✓\n"

    def test_an_entry_that_is_not_utf8_is_unavailable(self, keyring_session):
        secret_tool_store(keyring_session, "p", b"a\xff\xfeb")
        with pytest.raises(KeyringUnavailable, match="not UTF-8") as info:
            SecretToolBackend().get("p")
        assert "\\xff" not in str(info.value)


MAC = "pässwörd\nline2".encode()


class TestMacOSInterop:
    """go-keyring's macOS entries, through the stand-in `security`."""

    @pytest.fixture
    def security(self, tmp_path, monkeypatch):
        state = tmp_path / "keychain.json"
        monkeypatch.setenv("FAKE_SECURITY_STATE", str(state))
        return fake_security(tmp_path)

    def go_keyring_set(self, security, profile, value):
        # go-keyring: `security -i`, each word in POSIX single quotes.
        line = "add-generic-password -U -s '%s' -a '%s' -w '%s'\n" % (
            SERVICE, profile, value)
        subprocess.run([security, "-i"], input=line.encode(), check=True,
                       timeout=30)

    def go_keyring_get(self, security, profile):
        result = subprocess.run(
            [security, "find-generic-password", "-s", SERVICE, "-wa", profile],
            capture_output=True, timeout=30,
        )
        value = result.stdout.decode().strip()
        prefix = "go-keyring-base64:"
        assert value.startswith(prefix)
        return base64.b64decode(value[len(prefix):]).decode()

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("go-keyring-base64:" + base64.b64encode(MAC).decode(),
                         id="go-keyring-base64"),
            pytest.param("go-keyring-encoded:" + MAC.hex(),
                         id="go-keyring-encoded (hex, older go-keyring)"),
        ],
    )
    def test_an_entry_made_by_go_keyring_is_read(self, security, value):
        self.go_keyring_set(security, "p", value)
        assert MacOSSecurityBackend(security).get("p") == MAC.decode()

    def test_a_plain_value_is_read_as_it_is(self, security):
        # python-keyring's macOS backend stores values without a prefix.
        self.go_keyring_set(security, "p", "sk-plain")
        assert MacOSSecurityBackend(security).get("p") == "sk-plain"

    def test_entries_are_found_and_decoded_by_go_keyring(self, security):
        MacOSSecurityBackend(security).set("p", "pässwörd\n")
        assert self.go_keyring_get(security, "p") == "pässwörd\n"

    def test_the_add_command_goes_on_stdin_of_security_i(
        self, security, tmp_path, monkeypatch
    ):
        log = tmp_path / "fake.log"
        monkeypatch.setenv("FAKE_SECURITY_LOG", str(log))
        MacOSSecurityBackend(security).set("p", "sk-canary")
        [call] = [json.loads(line) for line in log.read_text().splitlines()]
        assert call["argv"] == ["-i"]
