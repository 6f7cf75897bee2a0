"""`baseten completion bash|zsh|fish` and `baseten completion --list-profiles`.

SPEC section 11: a completion script for the shell, completing commands,
options, `-o` values and profile names for `--profile`.

The bash script is sourced in a real bash in two ways: `_baseten` called
with `COMP_WORDS` / `COMP_CWORD` set by hand (checks `COMPREPLY`), and an
interactive bash on a pseudo-terminal where the test types a command line,
TAB and Enter (checks the arguments the command then receives, so bash's
own word splitting at `@` and `:` and its insertion of the reply count).
`baseten` is a wrapper script on PATH: `baseten completion --list-profiles`
runs this CLI with the test's environment, any other `baseten ...` prints
its arguments as `ARGV<arg1><arg2>...`. zsh and fish are run when installed.
"""

from __future__ import annotations

import os
import select
import shlex
import shutil
import subprocess
import sys
import time

import pytest

from conftest import (
    CLI_PATH,
    api_key_profile,
    assert_usage_error,
    auth_data,
)

PROFILES = ["alice@example.com", "alice@example.com:staging", "ci",
            "my profile", "team$HOME", "it's"]
COMMAND_WORDS = ["auth", "completion", "--help", "--version"]
AUTH_WORDS = ["login", "logout", "switch", "status", "token", "--help"]
COMMON_OPTIONS = ["--help", "--jq", "--output", "--profile", "--verbose"]

# Found once, at import: a test that changes PATH must not change them.
BASH, ZSH, FISH = (shutil.which(name) for name in ("bash", "zsh", "fish"))
needs_bash = pytest.mark.skipif(BASH is None, reason="no bash")
needs_zsh = pytest.mark.skipif(ZSH is None, reason="no zsh")
needs_fish = pytest.mark.skipif(FISH is None, reason="no fish")
needs_pty = pytest.mark.skipif(sys.platform == "win32", reason="no pty")


@pytest.fixture
def shell_env(tmp_path, cli_env, auth_file):
    """cli_env with a `baseten` wrapper first on PATH and PROFILES stored."""
    auth_file.write(auth_data({name: api_key_profile() for name in PROFILES},
                              current="ci"))
    bindir = tmp_path / "wrapper-bin"
    bindir.mkdir()
    wrapper = bindir / "baseten"
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$1 $2" = "completion --list-profiles" ]; then\n'
        '    exec %s %s "$@"\n'
        'fi\n'
        "printf 'ARGV'; printf '<%%s>' \"$@\"; printf '\\n'\n"
        % (shlex.quote(sys.executable), shlex.quote(CLI_PATH)))
    wrapper.chmod(0o755)
    env = dict(cli_env)
    env["PATH"] = "%s%s%s" % (bindir, os.pathsep, cli_env.get("PATH", os.defpath))
    env.update(TERM="dumb", INPUTRC=os.devnull, PS1="$ ", PROMPT="$ ")
    return env


@pytest.fixture
def script(run_cli, tmp_path):
    """script(shell) -> path of the completion script this CLI prints."""

    def write(shell):
        result = run_cli("completion", shell)
        assert (result.rc, result.err) == (0, ""), result
        path = tmp_path / ("completion." + shell)
        path.write_text(result.out)
        return path

    return write


# The command itself ------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_a_script_for_the_shell(run_cli, shell):
    result = run_cli("completion", shell)
    assert result.rc == 0 and result.err == "", result
    assert result.out.startswith({"bash": "# bash completion for baseten",
                                  "zsh": "#compdef baseten",
                                  "fish": "# fish completion for baseten"}[shell])
    assert "completion --list-profiles" in result.out


@pytest.mark.parametrize(
    "args, fragment",
    [
        pytest.param([], "bash, zsh or fish",
                     id="without a shell, a usage error names the shells"),
        pytest.param(["powershell"], "powershell",
                     id="an unknown shell is a usage error naming it"),
    ],
)
def test_completion_usage_errors(run_cli, args, fragment):
    assert_usage_error(run_cli("completion", *args), fragment)


def test_list_profiles_prints_every_name_sorted_one_per_line(run_cli, auth_file):
    auth_file.write(auth_data({name: api_key_profile() for name in PROFILES}))
    result = run_cli("completion", "--list-profiles")
    assert result == (0, "".join(n + "\n" for n in sorted(PROFILES)), "")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(None, id="with no auth file, lists nothing and exits 0"),
        pytest.param("{corrupt", id="with a corrupt auth file, lists nothing quietly"),
    ],
)
def test_list_profiles_never_prints_an_error_into_a_prompt(run_cli, auth_file, content):
    if content is not None:
        auth_file.write(content)
    assert run_cli("completion", "--list-profiles") == (0, "", "")


def test_list_profiles_is_hidden_from_help(run_cli):
    result = run_cli("completion", "--help")
    assert result.rc == 0, result
    assert "--list-profiles" not in result.out


def test_list_profiles_needs_no_secret_and_no_keyring(run_cli, auth_file,
                                                      no_keyring_path):
    auth_file.write(auth_data({"kr": api_key_profile(key=None)}))
    assert run_cli("completion", "--list-profiles") == (0, "kr\n", "")


# bash: _baseten with COMP_WORDS set by hand ----------------------------------------


def comp_reply(env, script_path, words):
    """COMPREPLY of `_baseten` for COMP_WORDS = words (cursor on the last)."""
    line = " ".join(words)
    program = (
        "source %s || exit 9\n"
        "COMP_WORDS=(%s); COMP_CWORD=%d; COMP_LINE=%s; COMP_POINT=%d\n"
        "COMPREPLY=(); _baseten baseten %s %s\n"
        "printf '%%s\\0' \"${COMPREPLY[@]}\"\n"
        % (shlex.quote(str(script_path)), " ".join(map(shlex.quote, words)),
           len(words) - 1, shlex.quote(line), len(line),
           shlex.quote(words[-1]), shlex.quote(words[-2])))
    proc = subprocess.run([BASH, "--norc", "--noprofile", "-c", program],
                          env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0 and proc.stderr == "", proc
    return [r for r in proc.stdout.split("\0") if r]


@needs_bash
@pytest.mark.parametrize(
    "words, expected",
    [
        pytest.param(["baseten", ""], COMMAND_WORDS,
                     id="after baseten, offers auth, completion and the options"),
        pytest.param(["baseten", "auth", ""], AUTH_WORDS,
                     id="after auth, offers the five commands"),
        pytest.param(["baseten", "auth", "st"], ["status"],
                     id="completes a command from its prefix"),
        pytest.param(["baseten", "auth", "status", "--"],
                     ["--all", "--check"] + COMMON_OPTIONS,
                     id="offers status's options, --all and --check included"),
        pytest.param(["baseten", "auth", "login", "--w"], ["--web", "--with-api-key"],
                     id="completes login's options from a prefix"),
        pytest.param(["baseten", "auth", "token", "--"], COMMON_OPTIONS,
                     id="offers token's options"),
        pytest.param(["baseten", "auth", "token", "-o", ""],
                     ["text", "json", "jsonl", "none"],
                     id="after -o, offers the four output formats"),
        pytest.param(["baseten", "auth", "status", "--output", "js"], ["json", "jsonl"],
                     id="after --output, completes a format from its prefix"),
        pytest.param(["baseten", "auth", "status", "--jq", ""], [],
                     id="after --jq, offers nothing"),
        pytest.param(["baseten", "auth", "login", "--remote-url", ""], [],
                     id="after --remote-url, offers nothing"),
        pytest.param(["baseten", "completion", ""], ["bash", "zsh", "fish", "--help"],
                     id="after completion, offers the three shells"),
        pytest.param(["baseten", "auth", "status", "--profile", "ci", "--a"], ["--all"],
                     id="after a profile value, offers options again"),
    ],
)
def test_bash_completes_commands_options_and_formats(shell_env, script, words,
                                                     expected):
    assert comp_reply(shell_env, script("bash"), words) == expected


@needs_bash
@pytest.mark.parametrize(
    "prefix, names",
    [
        pytest.param("", PROFILES, id="an empty word offers every profile"),
        pytest.param("c", ["ci"], id="a plain name is offered from its prefix"),
        pytest.param("my", ["my profile"],
                     id="a name with a space is offered quoted as one word"),
        pytest.param("te", ["team$HOME"],
                     id="a name with a dollar sign is offered unexpanded"),
        pytest.param("it", ["it's"], id="a name with a quote is offered quoted"),
    ],
)
def test_bash_completes_profile_names_as_shell_words(shell_env, script, prefix, names):
    words = ["baseten", "auth", "switch", "--profile", prefix]
    replies = comp_reply(shell_env, script("bash"), words)
    # Bash inserts a reply as it is: read back by the shell, each must be
    # exactly one profile name.
    assert sorted(map(shell_words, replies)) == sorted((n,) for n in names), replies


def shell_words(text):
    """The words a POSIX shell reads from text (a marker if it cannot)."""
    try:
        return tuple(shlex.split(text))
    except ValueError:
        return ("<unbalanced quote in %r>" % text,)


@needs_bash
def test_bash_profile_names_follow_the_auth_file(shell_env, script, auth_file):
    path = script("bash")
    auth_file.write(auth_data({"fresh": api_key_profile()}))
    words = ["baseten", "auth", "status", "--profile", ""]
    assert comp_reply(shell_env, path, words) == ["fresh"]


# bash and zsh: typing TAB in a real interactive shell -------------------------------

TYPED = [
    pytest.param("baseten auth st", ["auth", "status"],
                 id="TAB completes a command"),
    pytest.param("baseten auth status --che", ["auth", "status", "--check"],
                 id="TAB completes an option"),
    pytest.param("baseten auth token -o no", ["auth", "token", "-o", "none"],
                 id="TAB completes an output format"),
    pytest.param("baseten completion fi", ["completion", "fish"],
                 id="TAB completes a shell name"),
    pytest.param("baseten auth switch --profile c",
                 ["auth", "switch", "--profile", "ci"],
                 id="TAB completes a plain profile name"),
    pytest.param("baseten auth switch --profile my",
                 ["auth", "switch", "--profile", "my profile"],
                 id="TAB completes a profile name with a space as one argument"),
    pytest.param("baseten auth token --profile alice@example.com:",
                 ["auth", "token", "--profile", "alice@example.com:staging"],
                 id="TAB completes a profile name after its colon"),
    pytest.param("baseten auth token --profile alice@example.com:st",
                 ["auth", "token", "--profile", "alice@example.com:staging"],
                 id="TAB completes an EMAIL:HOST profile name"),
    pytest.param("baseten auth token --profile alice@example.c",
                 ["auth", "token", "--profile", "alice@example.com"],
                 id="TAB completes an email profile name after its at sign"),
    pytest.param("baseten auth status --profile te",
                 ["auth", "status", "--profile", "team$HOME"],
                 id="TAB completes a profile name with a dollar sign, unexpanded"),
    pytest.param("baseten auth status --profile it",
                 ["auth", "status", "--profile", "it's"],
                 id="TAB completes a profile name with a quote"),
]


class InteractiveShell:
    """A shell on a pseudo-terminal: type a line, TAB, Enter; read ARGV."""

    def __init__(self, argv, env):
        import pty  # noqa: F401  (POSIX only)

        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     env=env, start_new_session=True)
        os.close(slave)
        self.buffer = b""

    def _read_until(self, done, timeout):
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    return
                if not chunk:
                    return
                self.buffer += chunk

    def run(self, line, timeout=15):
        """Send a command line; wait until `marker` shows; return the output."""
        start = len(self.buffer)
        os.write(self.master, line.encode() + b"\n")
        self._read_until(lambda: b"READY" + b"READY" in self.buffer[start:], timeout)
        return self.buffer[start:].decode(errors="replace")

    def complete(self, line, timeout=15):
        """Type line + TAB + Enter; the arguments `baseten` got, or None."""
        start = len(self.buffer)
        os.write(self.master, line.encode() + b"\t\n")

        def got_argv():
            text = self.buffer[start:]
            at = text.find(b"ARGV<")
            return at >= 0 and b"\n" in text[at:]

        self._read_until(got_argv, timeout)
        text = self.buffer[start:].decode(errors="replace")
        for row in text.splitlines():
            if row.startswith("ARGV<"):
                return row.strip()[len("ARGV<"):-1].split("><")
        return None

    def close(self):
        try:
            os.write(self.master, b"\x03\nexit\n")
        except OSError:
            pass
        try:
            self.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


def interactive(argv, setup, env):
    shell = InteractiveShell(argv, env)
    out = shell.run(setup + "; echo READY''READY")
    if "READYREADY" not in out:
        shell.close()
        pytest.fail("the shell did not start: %r" % out[-500:])
    return shell


@pytest.fixture(scope="module")
def typed_results():
    """Results typed in one bash (or zsh) session per module, by shell."""
    return {}


def _typed(shell_name, shell_env, script, typed_results):
    if shell_name not in typed_results:
        path = script(shell_name)
        if shell_name == "bash":
            argv = [BASH, "--norc", "--noprofile", "-i"]
            setup = "source %s" % shlex.quote(str(path))
        else:
            argv = [ZSH, "-f", "-i"]
            setup = ("autoload -U compinit && compinit -u -D; source %s"
                     % shlex.quote(str(path)))
        shell = interactive(argv, setup, shell_env)
        try:
            typed_results[shell_name] = {
                p.values[0]: shell.complete(p.values[0]) for p in TYPED}
        finally:
            shell.close()
    return typed_results[shell_name]


@needs_bash
@needs_pty
@pytest.mark.parametrize("line, argv", TYPED)
def test_tab_in_an_interactive_bash(shell_env, script, typed_results, line, argv):
    assert _typed("bash", shell_env, script, typed_results)[line] == argv


@needs_zsh
@needs_pty
@pytest.mark.parametrize("line, argv", TYPED)
def test_tab_in_an_interactive_zsh(shell_env, script, typed_results, line, argv):
    assert _typed("zsh", shell_env, script, typed_results)[line] == argv


# zsh and fish: syntax and content ---------------------------------------------------


@needs_bash
def test_bash_script_parses(script):
    proc = subprocess.run([BASH, "-n", str(script("bash"))], capture_output=True,
                          text=True, timeout=30)
    assert (proc.returncode, proc.stderr) == (0, "")


@needs_zsh
def test_zsh_script_parses(script):
    proc = subprocess.run([ZSH, "-n", str(script("zsh"))], capture_output=True,
                          text=True, timeout=30)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_zsh_script_uses_bashcompinit_and_registers_baseten(run_cli):
    out = run_cli("completion", "zsh").out
    assert out.startswith("#compdef baseten\n")
    assert "bashcompinit" in out
    assert "complete -F _baseten baseten" in out


def test_zsh_script_never_assigns_path_which_zsh_ties_to_PATH(run_cli):
    # In zsh `local path=...` empties $PATH inside the function, so the
    # `baseten completion --list-profiles` it runs is never found.
    import re

    out = run_cli("completion", "zsh").out
    assert not re.search(r"\blocal\b[^\n]*\bpath=", out), out
    assert not re.search(r"(^|[\s;(])path=", out), out


@needs_fish
def test_fish_script_parses(script):
    proc = subprocess.run([FISH, "--no-config", "-n", str(script("fish"))],
                          capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_fish_script_content(run_cli):
    out = run_cli("completion", "fish").out
    assert "complete -c baseten -n __fish_use_subcommand -a 'auth completion'" in out
    assert "-a 'login logout switch status token'" in out
    assert "(baseten completion --list-profiles 2>/dev/null)" in out
    assert "-a 'text json jsonl none'" in out


FISH_CASES = [
    pytest.param("baseten auth ", AUTH_WORDS[:-1], id="fish offers the five commands"),
    pytest.param("baseten auth status --", ["--all", "--check"] + COMMON_OPTIONS,
                 id="fish offers status's options"),
    pytest.param("baseten auth token --output ", ["json", "jsonl", "none", "text"],
                 id="fish offers only the formats after --output"),
    pytest.param("baseten auth token -o ", ["json", "jsonl", "none", "text"],
                 id="fish offers only the formats after -o"),
    pytest.param("baseten auth switch --profile ", sorted(PROFILES),
                 id="fish offers only the profile names after --profile"),
]


@needs_fish
@pytest.mark.parametrize("line, expected", FISH_CASES)
def test_fish_completes(shell_env, script, tmp_path, line, expected):
    (tmp_path / "some-file").write_text("")  # must not be offered as a value
    program = "source %s; complete -C %s" % (shlex.quote(str(script("fish"))),
                                              shlex.quote(line))
    proc = subprocess.run([FISH, "--no-config", "-c", program], env=shell_env,
                          cwd=str(tmp_path), capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0 and proc.stderr == "", proc
    offered = sorted(row.split("\t")[0] for row in proc.stdout.splitlines())
    assert offered == sorted(expected)
