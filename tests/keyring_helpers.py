"""Shared helpers for the keyring tests: stand-in tools and tool lookup."""

from __future__ import annotations

import os
import shutil
import stat
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE_SECURITY = os.path.join(HERE, "fake_security.py")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


def unavailable(reason):
    """Skip a test whose tool is missing, or fail it under CI=true."""
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def python_keyring_command() -> str:
    """The `keyring` command of the test interpreter's environment."""
    found = shutil.which("keyring", path=os.path.dirname(sys.executable))
    found = found or shutil.which("keyring")
    if not found:
        unavailable("the Python keyring command is missing; "
                    "install with: python -m pip install keyring")
    return found


def write_tool(directory, name, body) -> str:
    """Write an executable sh script into `directory`; return its path."""
    path = os.path.join(str(directory), name)
    with open(path, "w", encoding="utf-8") as f:
        # Tests may set PATH to nothing but stand-ins: find sh's helpers.
        f.write("#!/bin/sh\nPATH=/usr/bin:/bin:$PATH\n" + body + "\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP)
    return path


def fake_security(directory) -> str:
    """A `security` stand-in run by the test interpreter; returns its path."""
    return write_tool(
        directory, "security",
        'exec "%s" "%s" "$@"' % (sys.executable, FAKE_SECURITY),
    )


def recorder(directory, name, real, log) -> str:
    """A stand-in that appends its argv and environment to `log`, then runs
    the real tool with the same arguments and stdin."""
    body = (
        '{ printf "argv:"; printf " %%s" "$0" "$@"; printf "\\n"; env; }'
        ' >> "%s"\nexec "%s" "$@"' % (log, real)
    )
    return write_tool(directory, name, body)
