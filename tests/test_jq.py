"""Conformance: the jq manual's examples (tests/jq/*.test) through --jq's engine.

Each block of a .test file is a program line, an input line and the expected
outputs, one JSON value a line (see tests/jq/README.md).  Outputs compare as
JSON values, as jq compares them: 1 equals 1.0, key order does not matter.

Run `python tests/test_jq.py` for the pass rate of each file.
"""

import json
import math
import os
import sys

import pytest

from baseten_auth import JqError, JqSyntaxError, jq_compile

HERE = os.path.dirname(os.path.abspath(__file__))
TEST_FILES = ["man.test", "manonig.test"]

# Programs that need a feature the bundled evaluator deliberately leaves
# out, with the reason.  Empty: every example of the manual is supported.
UNSUPPORTED = {}


class Case(object):
    """One example: program, input, expected outputs (or an expected error)."""

    def __init__(self, filename, line, program, input_text, expected, fails):
        self.filename = filename
        self.line = line
        self.program = program
        self.input_text = input_text
        self.expected = expected
        self.fails = fails

    @property
    def id(self):
        program = self.program if len(self.program) <= 50 else (
            self.program[:47] + "...")
        return "%s:%d: %s" % (self.filename, self.line, program)


def parse_test_file(filename):
    """Split a .test file into Cases (blank-line separated, # comments)."""
    with open(os.path.join(HERE, "jq", filename), encoding="utf-8") as f:
        lines = f.read().split("\n")
    cases, block, start = [], [], 0
    for number, line in enumerate(lines + [""], 1):
        if line.startswith("#"):
            continue
        if line.strip():
            if not block:
                start = number
            block.append(line)
            continue
        if block:
            cases.append(_make_case(filename, start, block))
            block = []
    return cases


def _make_case(filename, line, block):
    fails = block[0].startswith("%%FAIL")
    if fails:
        # %%FAIL blocks: the program, then the expected error message.
        return Case(filename, line, block[1], None, block[2:], True)
    return Case(filename, line, block[0], block[1], block[2:], False)


def same_json(a, b):
    """JSON equality as jq sees it: numbers by value, objects unordered."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, float) and math.isnan(a):
            return isinstance(b, float) and math.isnan(b)
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def run_case(case):
    """Return None if the case passes, else a description of the failure."""
    if case.fails:
        try:
            program = jq_compile(case.program)
            list(program.run(None))
        except (JqError, JqSyntaxError):
            return None
        return "expected an error"
    expected = [json.loads(text) for text in case.expected]
    outputs = []
    program = jq_compile(case.program)
    try:
        for output in program.run(json.loads(case.input_text)):
            outputs.append(output)
    except JqError as exc:
        if len(outputs) == len(expected) and all(
                same_json(a, b) for a, b in zip(outputs, expected)):
            return None
        return "error %r after %r" % (str(exc), outputs)
    if len(outputs) == len(expected) and all(
            same_json(a, b) for a, b in zip(outputs, expected)):
        return None
    return "expected %r, got %r" % (expected, outputs)


ALL_CASES = [case for name in TEST_FILES for case in parse_test_file(name)]


@pytest.fixture(autouse=True)
def pager_is_less(monkeypatch):
    """jq runs its tests with PAGER=less, which the env.PAGER case reads."""
    monkeypatch.setenv("PAGER", "less")


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_manual_example(case):
    if case.program in UNSUPPORTED:
        pytest.skip(UNSUPPORTED[case.program])
    failure = run_case(case)
    assert failure is None, failure


def test_every_test_file_has_cases():
    counts = {name: len(parse_test_file(name)) for name in TEST_FILES}
    assert all(counts.values()), counts


def test_pass_rate_of_each_file(record_property, capsys, monkeypatch):
    """The pass rate, as `python tests/test_jq.py` prints it (run -s or -rA
    to see it); every supported example passes."""
    monkeypatch.setenv("PAGER", "less")
    for name in TEST_FILES:
        cases = parse_test_file(name)
        passed = sum(run_case(c) is None for c in cases)
        record_property(name, "%d/%d" % (passed, len(cases)))
        with capsys.disabled():
            print("\n%s: %d/%d passed" % (name, passed, len(cases)), end="")
        unsupported = sum(c.program in UNSUPPORTED for c in cases)
        assert passed + unsupported == len(cases)


def main():
    """Print the pass rate of each .test file."""
    os.environ["PAGER"] = "less"
    for name in TEST_FILES:
        cases = parse_test_file(name)
        failed = []
        for case in cases:
            try:
                failure = run_case(case)
            except Exception as exc:  # report everything, pass or fail
                failure = "%s: %s" % (type(exc).__name__, exc)
            if failure is not None:
                failed.append((case, failure))
        print("%s: %d/%d passed" % (name, len(cases) - len(failed), len(cases)))
        for case, failure in failed:
            print("  FAIL %s\n       %s" % (case.id, failure[:300]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
