"""Hardening, concurrency: many CLI processes on one config directory, and
writers killed with SIGKILL in the middle of a write.

Every read of `auth.json` made while they run must parse, and after a kill
the file must be exactly the old or the new content. No keyring tool is on
PATH (`no_keyring_path`): secrets go to the auth file.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from conftest import (
    CLI_PATH,
    GOOD_KEY,
    api_key_profile,
    auth_data,
    cli_argv,
    merged_env,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32",
                                reason="SIGKILL and fork-heavy stress are POSIX")


@pytest.fixture(autouse=True)
def _no_keyring(no_keyring_path):
    """Secrets go to the auth file: the test is about the file."""


class Watcher:
    """Reads auth.json in a loop from a thread; records every read that
    does not parse."""

    def __init__(self, path):
        self.path = path
        self.reads = 0
        self.bad = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                continue
            self.reads += 1
            try:
                data = json.loads(raw)
                assert isinstance(data["profiles"], dict)
            except Exception as e:  # any failure is what we are looking for
                self.bad.append((repr(e), raw[:200]))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)


def _popen(cli_env, *args, input=None):
    proc = subprocess.Popen(
        cli_argv(*args), env=cli_env, text=True,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc, input


def test_twenty_processes_logging_in_switching_and_logging_out_lose_nothing(
        cli_env, fake_api, auth_file):
    keep = ["keep-%d" % i for i in range(5)]
    gone = ["gone-%d" % i for i in range(5)]
    new = ["new-%d" % i for i in range(10)]
    auth_file.write(auth_data({n: api_key_profile("k-" + n) for n in keep + gone},
                              current="keep-0"))
    jobs = ([("login", n, ("auth", "login", "--with-api-key", "--profile", n,
                           "--insecure-storage"), GOOD_KEY + "\n") for n in new]
            + [("logout", n, ("auth", "logout", "--profile", n), None)
               for n in gone]
            + [("switch", n, ("auth", "switch", "--profile", n), None)
               for n in keep])
    random.Random(5).shuffle(jobs)
    with Watcher(auth_file.path) as watcher:
        started = [(kind, name, _popen(cli_env, *args, input=stdin))
                   for kind, name, args, stdin in jobs]
        results = []
        for kind, name, (proc, stdin) in started:
            out, err = proc.communicate(stdin, timeout=60)
            results.append((kind, name, proc.returncode, out, err))
    expected_out = {"login": "Logged in as alice@example.com (Acme) as profile %s\n",
                    "logout": "Logged out %s\n", "switch": "Switched to %s\n"}
    for kind, name, rc, out, err in results:
        assert (rc, out, err) == (0, expected_out[kind] % name, ""), (kind, name)
    assert watcher.bad == []
    assert watcher.reads > 0
    data = auth_file.read()
    assert sorted(data["profiles"]) == sorted(keep + new)
    for name in new:
        assert data["profiles"][name]["api_key"] == GOOD_KEY
    for name in keep:
        assert data["profiles"][name]["api_key"] == "k-" + name
    assert data["current"] in keep + new
    assert oct(os.stat(auth_file.path).st_mode & 0o777) == oct(0o600)
    assert [p.name for p in auth_file.dir.iterdir() if p.name.endswith(".tmp")] == []


def test_a_login_killed_at_random_moments_leaves_the_old_or_the_new_auth_file(
        cli_env, fake_api, auth_file):
    rng = random.Random(30)
    auth_file.write(auth_data({"base": api_key_profile()}, current="base"))
    outcomes = {"old": 0, "new": 0}
    deadline = time.monotonic() + 15
    for i in range(30):
        if time.monotonic() > deadline:
            break
        old = auth_file.read()
        name = "p-%d" % i
        new = json.loads(json.dumps(old))
        new["profiles"][name] = {"remote_url": "https://app.baseten.co",
                                 "auth_type": "api_key", "api_key": GOOD_KEY}
        new["current"] = name
        proc = subprocess.Popen(
            cli_argv("auth", "login", "--with-api-key", "--profile", name,
                     "--insecure-storage"),
            env=cli_env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        proc.stdin.write((GOOD_KEY + "\n").encode())
        proc.stdin.close()
        kill_at = time.monotonic() + rng.uniform(0.0, 0.3)
        while time.monotonic() < kill_at:
            assert auth_file.read() in (old, new)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        seen = auth_file.read()
        assert seen in (old, new), i
        outcomes["old" if seen == old else "new"] += 1
    assert sum(outcomes.values()) >= 10, outcomes
    # The next writer removes the temp files that killed writers left.
    result = subprocess.run(
        cli_argv("auth", "login", "--with-api-key", "--profile", "last",
                 "--insecure-storage"), env=cli_env, input=GOOD_KEY + "\n",
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result
    assert [p.name for p in auth_file.dir.iterdir() if p.name.endswith(".tmp")] == []
    assert "last" in auth_file.profiles()


WRITER = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import baseten_auth
    path = sys.argv[2]
    with open(sys.argv[3]) as f:
        states = json.load(f)
    sys.stdout.write("ready\\n")
    sys.stdout.flush()
    i = 0
    while True:
        baseten_auth._write_auth_file(path, states[i % 2])
        i += 1
""")


def test_a_writer_killed_between_write_and_rename_never_leaves_a_mix(
        tmp_path, cli_env):
    """In a child process, `_write_auth_file` alternates between two large
    states; SIGKILL lands mid-write (temp files are left behind) and the
    file is always one state or the other, whole."""
    import baseten_auth

    directory = tmp_path / "cfg"
    directory.mkdir(mode=0o700)
    path = directory / "auth.json"
    big = "x" * 200_000
    states = [auth_data({"a-%d" % i: api_key_profile(big) for i in range(4)}, "a-0"),
              auth_data({"b-%d" % i: api_key_profile(big) for i in range(4)}, "b-0")]
    baseten_auth._write_auth_file(str(path), states[0])
    states_file = tmp_path / "states.json"
    states_file.write_text(json.dumps(states))
    rng = random.Random(7)
    env = merged_env(cli_env, {"PYTHONDONTWRITEBYTECODE": "1"})
    left_behind = 0
    started = time.monotonic()
    for _ in range(30):
        proc = subprocess.Popen(
            [sys.executable, "-S", "-c", WRITER, os.path.dirname(CLI_PATH),
             str(path), str(states_file)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0, 0.05))
        proc.kill()
        proc.wait(10)
        proc.stdout.close()
        assert json.loads(path.read_bytes()) in states
        left_behind += len([p for p in directory.iterdir()
                            if p.name.endswith(".tmp")])
        if time.monotonic() - started > 15:
            break
    assert left_behind > 0, "no kill landed mid-write; the test proved nothing"
    baseten_auth._write_auth_file(str(path), states[1])
    assert sorted(p.name for p in directory.iterdir()) == ["auth.json"]
    assert json.loads(path.read_bytes()) == states[1]
