"""Start-up benchmark of `baseten auth status` (not a test; run it by hand).

    python tests/bench_startup.py [-n RUNS]

Measures the whole-process wall time of each command, side by side (one run
of each per round, RUNS rounds, default 30), and prints the medians and their
ratio to the floor, `python -I -c pass`:

- `python -m baseten_auth auth status`         target 3x the floor
- `python baseten_auth.py auth status`         target 4x (compiled every run)
- `baseten auth status` (the console script)   target 3x, when a `baseten`
  script sits next to the interpreter (after `pip install .`)
- `python -m baseten_auth auth status` with 1,000 profiles in auth.json

Each runs against a temporary config directory holding one API-key profile
(the secret in the file, so no keyring tool is called) and no other BASETEN_*
variable. The interpreter is the one running this script, called by its full
path (a pyenv shim on PATH adds 80-100 ms).

A pyenv interpreter loads a site hook at every start (about 70 modules,
31 ms) that inflates every figure and hides the ratios: measure from a venv
made with `python3 -m venv` (see PERFORMANCE.md), for instance

    python3 -m venv /tmp/bench && /tmp/bench/bin/pip install . &&
    /tmp/bench/bin/python tests/bench_startup.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "baseten_auth.py")


def write_config(directory, count):
    """An auth.json with `count` API-key profiles, the first one current."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    profiles = {
        "profile-%04d"
        % n: {
            "remote_url": "https://app.baseten.co",
            "auth_type": "api_key",
            "api_key": "bench-key-%04d" % n,
        }
        for n in range(count)
    }
    data = {"version": 1, "current": "profile-0000", "profiles": profiles}
    path = os.path.join(directory, "auth.json")
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
    os.chmod(path, 0o600)


def clean_env(config_dir, home):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BASETEN_")
        and k
        not in (
            "DBUS_SESSION_BUS_ADDRESS",
            "PYTHONDONTWRITEBYTECODE",
            "PYTHONSTARTUP",
            "XDG_CONFIG_HOME",
        )
    }
    env["BASETEN_CONFIG_DIR"] = config_dir
    env["HOME"] = home
    return env


def time_once(argv, env):
    start = time.perf_counter()
    proc = subprocess.run(
        argv,
        env=env,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    elapsed = time.perf_counter() - start
    return elapsed, proc.returncode, proc.stderr.decode(errors="replace")


def check(name, argv, env):
    """Run once with output shown on failure; the bytecode cache gets warm."""
    proc = subprocess.run(
        argv,
        env=env,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if proc.returncode != 0:
        sys.exit(
            "%s failed (exit %d):\n%s%s"
            % (name, proc.returncode, proc.stdout, proc.stderr)
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-n", "--runs", type=int, default=30, help="rounds (default 30)"
    )
    args = parser.parse_args(argv)

    python = sys.executable
    console = os.path.join(os.path.dirname(python), "baseten")
    tmp = tempfile.mkdtemp(prefix="baseten-bench-")
    try:
        one, many, home = (os.path.join(tmp, d) for d in ("one", "many", "home"))
        os.mkdir(home)
        write_config(one, 1)
        write_config(many, 1000)
        env_one, env_many = clean_env(one, home), clean_env(many, home)

        # (name, argv, env, target ratio or None)
        cases = [
            ("python -I -c pass (floor)", [python, "-I", "-c", "pass"], env_one, None),
            (
                "python -m baseten_auth auth status",
                [python, "-m", "baseten_auth", "auth", "status"],
                env_one,
                3.0,
            ),
            (
                "python baseten_auth.py auth status",
                [python, SCRIPT, "auth", "status"],
                env_one,
                4.0,
            ),
        ]
        if os.path.exists(console):
            cases.append(
                (
                    "baseten auth status (console script)",
                    [console, "auth", "status"],
                    env_one,
                    3.0,
                )
            )
        cases.append(
            (
                "python -m baseten_auth auth status, 1,000 profiles",
                [python, "-m", "baseten_auth", "auth", "status"],
                env_many,
                None,
            )
        )

        for name, cmd, env, _ in cases:
            for _ in range(3):
                check(name, cmd, env)

        times = {name: [] for name, _, _, _ in cases}
        for _ in range(args.runs):
            for name, cmd, env, _ in cases:
                elapsed, rc, err = time_once(cmd, env)
                if rc != 0:
                    sys.exit("%s exited %d during the runs:\n%s" % (name, rc, err))
                times[name].append(elapsed)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("interpreter: %s (Python %s)" % (python, sys.version.split()[0]))
    if ".pyenv" in sys.prefix and sys.prefix == sys.base_prefix:
        print(
            "note: a pyenv interpreter outside a venv; its site hook inflates every "
            "figure (measure from a `python3 -m venv` venv)"
        )
    if not os.path.exists(console):
        print("note: no console script at %s (pip install . to measure it)" % console)
    print("medians of %d runs, whole-process wall time\n" % args.runs)
    floor = statistics.median(times[cases[0][0]])
    width = max(len(name) for name, _, _, _ in cases)
    print("%-*s  %8s  %6s  %s" % (width, "command", "median", "ratio", "target"))
    for name, _, _, target in cases:
        median = statistics.median(times[name])
        ratio = median / floor
        verdict = ""
        if target is not None:
            verdict = "%.0fx %s" % (target, "ok" if ratio <= target else "OVER")
        print(
            "%-*s  %6.1fms  %5.2fx  %s" % (width, name, median * 1000, ratio, verdict)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
