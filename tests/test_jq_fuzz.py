"""Fuzzing the bundled jq evaluator: random programs over random JSON.

Whatever the program, compiling it and running it may only raise
JqSyntaxError or JqError, never another Python exception.  The programs
come from a small grammar of jq (seeded, so a failure can be replayed) and
from random edits of the manual's examples.  Each part stops after a fixed
count or about a second and a half, whichever comes first.
"""

import itertools
import os
import random
import time

import pytest

import baseten_auth
from baseten_auth import JqError, JqSyntaxError, jq_compile

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20260703
TIME_BUDGET = 1.5  # seconds for each fuzz test
MAX_OUTPUTS = 50

# Builtins by arity.  Generators that may never end (repeat, while, until,
# recurse/1, inputs) are left out: the fuzz looks for crashes, not hangs.
FUNCTIONS = {
    0: "length utf8bytelength not keys keys_unsorted values add any all "
       "flatten floor sqrt tostring tonumber type infinite nan isinfinite "
       "isnan isnormal sort min max unique reverse tojson fromjson "
       "to_entries from_entries paths leaf_paths tostream ascii_downcase "
       "ascii_upcase explode implode trim ltrim rtrim abs toarray first last "
       "transpose combinations env builtins empty error todate fromdate "
       "gmtime mktime @base64 @base64d @csv @tsv @sh @uri @html @json "
       "@text @base32 @base32d splits recurse arrays objects scalars "
       "numbers strings nulls iterables significand logb gamma frexp modf "
       "tojson input_line_number halt_error getpath".split(),
    1: "map select has in inside contains indices index rindex startswith "
       "endswith ltrimstr rtrimstr trimstr split join test match capture "
       "scan splits sort_by group_by unique_by min_by max_by path del "
       "to_entries with_entries map_values getpath delpaths any all "
       "flatten isempty first last nth error add walk pick paths "
       "limit strftime strptime tostream fromstream truncate_stream "
       "ltrimstr IN INDEX range combinations".split(),
    2: "limit skip nth range setpath sub gsub test match split any all "
       "IN INDEX pow atan2 ldexp".split(),
    3: "sub gsub range".split(),
}
BINARY = "| , // + - * / % == != < <= > >= and or = |= += -= *= //=".split()
FIELDS = ["a", "b", "c", "foo"]


def random_json(rng, depth=0):
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, 1, -1, 2, 3.5, -0.5, 1e20, 12345678901234567890])
    if kind == 3:
        return rng.choice(["", "a", "foo", "a,b", "é😀", "1",
                           "2015-03-05T23:51:47Z"])
    if kind == 4:
        return rng.choice([[], {}, [1, 2], {"a": 1}])
    if kind == 5:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(FIELDS): random_json(rng, depth + 1)
            for _ in range(rng.randrange(4))}


def random_term(rng, depth, variables):
    """A random jq term; deeper terms are simpler."""
    if depth > 3:
        choice = rng.randrange(5)
    else:
        choice = rng.randrange(24)
    if choice == 0:
        return "."
    if choice == 1:
        return "." + rng.choice(FIELDS)
    if choice == 2:
        return rng.choice(["0", "1", "-1", "2.5", '"a"', '"b,c"', "null",
                           "true", "[]", "{}", '"\\(.)"', "infinite", "nan",
                           "-infinite", "1e300", "[1,[2]]", '{"a":{"b":1}}'])
    if choice == 3 and variables:
        return "$" + rng.choice(variables)
    if choice == 4:
        return rng.choice([".[0]", ".[-1]", ".[]", ".[]?", ".[1:]", "..",
                           '.["a"]', ".a?", ".[:2]", ".[nan]", ".[infinite]",
                           ".[-infinite:]", ".[1.5]"])
    sub = lambda: random_expression(rng, depth + 1, variables)  # noqa: E731
    if choice in (5, 6, 7):
        arity = rng.choice([0, 0, 1, 1, 2, 3])
        name = rng.choice(FUNCTIONS[arity])
        if arity == 0:
            return name
        return "%s(%s)" % (name, "; ".join(sub() for _ in range(arity)))
    if choice == 8:
        return "[%s]" % sub()
    if choice == 9:
        return "{%s: %s}" % (rng.choice(FIELDS + ["(%s)" % sub()]), sub())
    if choice == 10:
        return "(%s)" % sub()
    if choice == 11:
        return "if %s then %s else %s end" % (sub(), sub(), sub())
    if choice == 12:
        return "try %s catch %s" % (random_term(rng, depth + 1, variables),
                                    random_term(rng, depth + 1, variables))
    if choice == 13:
        name = "v%d" % depth
        body = random_expression(rng, depth + 1, variables + [name])
        return "(%s as $%s | %s)" % (random_term(rng, depth + 1, variables),
                                     name, body)
    if choice == 14:
        name = "r%d" % depth
        update = random_expression(rng, depth + 1, variables + [name])
        return "reduce %s as $%s (%s; %s)" % (
            random_term(rng, depth + 1, variables), name, sub(), update)
    if choice == 15:
        name = "e%d" % depth
        update = random_expression(rng, depth + 1, variables + [name])
        return "foreach %s as $%s (%s; %s)" % (
            random_term(rng, depth + 1, variables), name, sub(), update)
    if choice == 16:
        return "def f%d(g): %s; f%d(%s)" % (depth, "g | " + sub(), depth, sub())
    if choice == 17:
        return "%s?" % random_term(rng, depth + 1, variables)
    if choice == 18:
        return '"x\\(%s)y"' % sub()
    if choice == 19:
        return "label $out | %s, break $out" % sub()
    if choice == 20:
        return "-%s" % random_term(rng, depth + 1, variables)
    if choice == 21:
        return ". as [$p%d, {a: $q%d}] | %s" % (depth, depth, sub())
    if choice == 22:
        return "@base64 \"%s\\(%s)\"" % ("z", sub())
    return "%s.%s" % (random_term(rng, depth + 1, variables), rng.choice(FIELDS))


def random_expression(rng, depth, variables):
    term = random_term(rng, depth, variables)
    if depth > 3 or rng.random() < 0.5:
        return term
    op = rng.choice(BINARY)
    return "%s %s %s" % (term, op, random_expression(rng, depth + 1, variables))


def check(program_text, value):
    """Compile and run; return a failure description, or None."""
    try:
        program = jq_compile(program_text)
        list(itertools.islice(program.run(value), MAX_OUTPUTS))
    except (JqError, JqSyntaxError):
        return None
    except Exception as exc:  # the point of the test: nothing else escapes
        return "%r on %r: %s: %s" % (program_text, value, type(exc).__name__,
                                     exc)
    return None


def manual_programs():
    programs = []
    for name in ("man.test", "manonig.test"):
        with open(os.path.join(HERE, "jq", name), encoding="utf-8") as f:
            blocks = f.read().split("\n\n")
        for block in blocks:
            lines = [ln for ln in block.split("\n")
                     if ln.strip() and not ln.startswith("#")]
            if lines:
                programs.append(lines[0])
    return programs


# Edits that could make a finite example endless are skipped.
ENDLESS = ("repeat", "while", "until", "recurse", "range", "limit", "input")


def mutate(rng, text, pieces):
    position = rng.randrange(len(text) + 1)
    choice = rng.randrange(3)
    if choice == 0:
        return text[:position] + text[position + 1:]
    if choice == 1:
        return text[:position] + rng.choice(pieces) + text[position:]
    end = min(len(text), position + rng.randrange(1, 6))
    return text[:position] + text[end:]


@pytest.fixture(autouse=True)
def small_arrays(monkeypatch):
    """Keep runaway arrays ([range(infinite)]) quick to reach the limit."""
    engine = baseten_auth._jq_engine()
    monkeypatch.setitem(engine, "_MAX_ARRAY", 100000)


def run_fuzz(generate, count):
    rng = random.Random(SEED)
    failures = []
    deadline = time.monotonic() + TIME_BUDGET
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        program_text, value = generate(rng)
        failure = check(program_text, value)
        if failure:
            failures.append(failure)
    return failures


def test_random_programs_raise_only_jq_errors():
    def generate(rng):
        return random_expression(rng, 0, []), random_json(rng)
    failures = run_fuzz(generate, 3000)
    assert not failures, "\n".join(failures[:10])


def test_edited_manual_examples_raise_only_jq_errors():
    programs = [p for p in manual_programs()
                if not any(word in p for word in ENDLESS)]
    pieces = ["(", ")", "[", "]", "{", "}", "|", ",", ".", "$x", "\"", "\\(",
              "?", "//", "as", "def", ";", ":", "-", "@", "..", " reduce ",
              " if ", " end", "$__loc__", "#", "?//", "=", "|="]

    def generate(rng):
        text = rng.choice(programs)
        for _ in range(rng.randrange(1, 4)):
            text = mutate(rng, text, pieces)
        return text, random_json(rng)
    failures = run_fuzz(generate, 3000)
    assert not failures, "\n".join(failures[:10])


@pytest.mark.parametrize("seed", range(3))
def test_random_jq_token_soup_is_a_syntax_error_or_runs(seed):
    rng = random.Random(SEED + seed)
    alphabet = list("()[]{}|,.:;$@\"\\?-+*/%=<>! \n#abc0129é٣\x00") + [
        "if", "then", "else", "end", "as", "def", "reduce", "foreach",
        "try", "catch", "label", "and", "or", "not", "\\(", "?//"]
    failures = []
    for _ in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
        failure = check(text, {"a": [1, "x"]})
        if failure:
            failures.append(failure)
    assert not failures, "\n".join(failures[:10])
