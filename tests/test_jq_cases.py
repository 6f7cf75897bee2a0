"""The bundled jq evaluator beyond the manual's examples: exact messages,
numbers, unicode, key order, paths and assignments, and jq_dumps."""

import json

import pytest

import baseten_auth
from baseten_auth import JqError, JqSyntaxError, jq_compile

ENGINE = baseten_auth._jq_engine()
jq_dumps = ENGINE["jq_dumps"]


def outputs(expression, value=None, **kwargs):
    return list(jq_compile(expression).run(value, **kwargs))


def one(expression, value=None):
    results = outputs(expression, value)
    assert len(results) == 1, results
    return results[0]


def dumped(expression, value=None):
    """The outputs as jq prints them with -c, one per line."""
    return "\n".join(jq_dumps(v) for v in outputs(expression, value))


def runtime_error(expression, value=None):
    with pytest.raises(JqError) as info:
        outputs(expression, value)
    return info.value


def syntax_error(expression):
    with pytest.raises(JqSyntaxError) as info:
        jq_compile(expression)
    return info.value


def nested(depth, leaf=None):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


# Exact messages ---------------------------------------------------------------


@pytest.mark.parametrize(
    "expression, message",
    [
        pytest.param(".a | )", "syntax error: unexpected ')' (at column 6)",
                     id="an unexpected parenthesis names itself and its column"),
        pytest.param(".[1", "syntax error: unexpected end of input "
                     "(at column 4)", id="a missing bracket reports the end"),
        pytest.param("foo", "foo/0 is not defined (at column 1)",
                     id="an undefined function is a compile error"),
        pytest.param("map", "map/0 is not defined (at column 1)",
                     id="a builtin called with the wrong arity is undefined"),
        pytest.param("1 + $x", "$x is not defined (at column 5)",
                     id="an undefined variable is a compile error"),
        pytest.param("break $out", "$*label-out is not defined (at column 1)",
                     id="an undefined label is a compile error"),
        pytest.param('"abc', "unterminated string (at column 1)",
                     id="an unterminated string points at its quote"),
        pytest.param("@nope", "@nope is not a valid format (at column 1)",
                     id="an unknown format is a compile error"),
        pytest.param("def f(x): x; f", "f/0 is not defined (at column 14)",
                     id="functions are known by name and arity"),
        pytest.param("def f: foo; 1", "foo/0 is not defined (at column 8)",
                     id="a function that is never called is still checked"),
        pytest.param("import \"a\" as a; .", "import is not supported by the "
                     "bundled evaluator (at column 1)",
                     id="modules are not supported"),
        pytest.param("1 == 2 == 3", "syntax error: unexpected '==' "
                     "(at column 8)", id="comparisons do not chain"),
    ],
)
def test_syntax_errors_give_the_message_and_column(expression, message):
    error = syntax_error(expression)
    assert str(error) == message
    assert error.expression == expression
    assert isinstance(error, ValueError)


def test_the_caret_line_sits_under_the_column():
    error = syntax_error(".a | )")
    assert error.column == 6
    assert error.caret() == ".a | )\n     ^"


def test_the_caret_of_a_multi_line_expression_shows_the_offending_line():
    error = syntax_error(".a |\n  foo")
    assert error.caret() == "  foo\n  ^"


@pytest.mark.parametrize(
    "expression, value, message",
    [
        pytest.param(".foo", 1, 'Cannot index number with "foo"',
                     id="indexing a number with a key"),
        pytest.param(".[0]", {}, "Cannot index object with number",
                     id="indexing an object with a number"),
        pytest.param("{} + 1", None,
                     "object ({}) and number (1) cannot be added",
                     id="adding an object and a number"),
        pytest.param(". - 1", "a",
                     'string ("a") and number (1) cannot be subtracted',
                     id="subtracting a number from a string"),
        pytest.param("1 / 0", None, "number (1) and number (0) cannot be "
                     "divided because the divisor is zero",
                     id="dividing by zero"),
        pytest.param(".[]", None, "Cannot iterate over null",
                     id="iterating over null"),
        pytest.param(".[]", 5, "Cannot iterate over number (5)",
                     id="iterating over a number"),
        pytest.param("keys", 1, "number (1) has no keys",
                     id="keys of a number"),
        pytest.param("length", True, "boolean (true) has no length",
                     id="length of a boolean"),
        pytest.param(". + 1", {"aaaaaaaaaaaaaaa": 1},
                     'object ({"aaaaaaaaa...) and number (1) cannot be added',
                     id="long values are cut short in messages"),
        pytest.param("error", "boom", "boom", id="error/0 raises its input"),
        pytest.param('error("x: \\(.)")', 3, "x: 3",
                     id="error/1 raises its argument"),
        pytest.param("input", None, "No more inputs",
                     id="input with nothing left to read"),
        pytest.param(".[-2] = 1", [1], "Out of bounds negative array index",
                     id="assigning before the start of an array"),
        pytest.param("path(1)", None, "Invalid path expression with result 1",
                     id="a value that is not a path"),
        pytest.param("to_entries[0] |= .", {"a": 1},
                     'Invalid path expression near attempt to access element '
                     '0 of [{"key":"a","value":1}]',
                     id="a suffix on a value that is not a path"),
        pytest.param("path(to_entries[])", {"a": 1},
                     "Invalid path expression near attempt to iterate through "
                     '[{"key":"a","value":1}]',
                     id="iterating a value that is not a path"),
        pytest.param("test(1)", "a", "number (1) cannot be matched, as it is "
                     "not a string", id="a regex that is not a string"),
        pytest.param("tonumber", "abc", "Cannot parse 'abc' as JSON",
                     id="tonumber of a word"),
        pytest.param("implode", 1, "implode input must be an array",
                     id="implode of a number"),
    ],
)
def test_run_time_errors_use_jqs_wording(expression, value, message):
    assert str(runtime_error(expression, value)) == message


def test_error_of_an_object_is_caught_with_its_value():
    assert outputs('try error({"a":1}) catch .') == [{"a": 1}]
    error = runtime_error('error({"a":1})')
    assert error.value == {"a": 1}
    assert str(error) == '{"a":1} (not a string)'


def test_error_of_null_is_not_a_string():
    assert outputs("try error(null) catch .") == [None]
    assert str(runtime_error("error(null)")) == "null (not a string)"


def test_outputs_before_an_error_are_delivered():
    program = jq_compile('1, 2, error("late")')
    results = []
    with pytest.raises(JqError):
        for value in program.run(None):
            results.append(value)
    assert results == [1, 2]


def test_try_stops_at_the_first_error_and_keeps_earlier_outputs():
    assert outputs('[.[] | try (1, error("x"), 3) catch "c"]', [0]) == [
        [1, "c"]]


def test_break_is_not_caught_by_try():
    assert outputs("label $f | try (1, break $f, 2) catch 9") == [1]


def test_halt_error_carries_its_exit_code():
    error = runtime_error('"bye\\n" | halt_error(3)')
    assert error.exit_code == 3
    assert str(error) == "bye\n"


# Numbers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression, printed",
    [
        pytest.param("1.5 * 2", "3", id="an integral result prints as an integer"),
        pytest.param("1 == 1.0", "true", id="one equals one point zero"),
        pytest.param("[1, 1.0] | unique", "[1]", id="unique treats 1 and 1.0 alike"),
        pytest.param("nan", "null", id="nan prints as null"),
        pytest.param("[nan] | tojson", '"[null]"', id="tojson prints nan as null"),
        pytest.param("infinite", "1.7976931348623157e+308",
                     id="infinity prints as the largest double"),
        pytest.param("-infinite", "-1.7976931348623157e+308",
                     id="minus infinity prints as the smallest double"),
        pytest.param("-0", "-0", id="minus zero keeps its sign"),
        pytest.param("0.1 + 0.2", "0.30000000000000004",
                     id="doubles print with the shortest round trip"),
        pytest.param("1e17", "1e+17", id="large round numbers use an exponent"),
        pytest.param("1.5e16", "15000000000000000",
                     id="numbers with digits print in full up to 17 digits"),
        pytest.param("0.00001", "1e-05", id="small numbers use an exponent"),
        pytest.param("nan < 1", "true", id="nan sorts below every number"),
        pytest.param("[nan] | sort", "[null]", id="nan can be sorted"),
        pytest.param("10 / 4", "2.5", id="division gives a double"),
        pytest.param("-7 % 3", "-1", id="modulo keeps the sign of the dividend"),
        pytest.param("5.9 % 2", "1", id="modulo truncates its operands"),
        pytest.param("[limit(3; range(0; 1; 0.5))]", "[0,0.5]",
                     id="ranges may step by fractions"),
    ],
)
def test_numbers_print_as_jq_prints_them(expression, printed):
    assert dumped(expression) == printed


def test_large_input_integers_print_unchanged():
    big = json.loads("123456789012345678901234567890")
    assert dumped(".", big) == "123456789012345678901234567890"
    assert dumped(".a", {"a": big}) == "123456789012345678901234567890"


def test_arithmetic_on_large_integers_uses_doubles():
    big = 10000000000000000000000000000001
    assert dumped(". + 1", big) == "1e+31"
    assert one(". == 10000000000000000000000000000000", big) is True


def test_tojson_of_a_large_integer_gives_the_double():
    assert one("tojson", 1234567890987654321) == "1234567890987654400"


def test_booleans_are_not_numbers():
    assert one("true == 1") is False
    assert one("[true, 1, false, 0, null] | sort") == [None, False, True, 0, 1]


# Unicode and strings ----------------------------------------------------------


def test_strings_are_indexed_by_code_point():
    assert one("length", "héllo😀") == 6
    assert one(".[1:3]", "héllo") == "él"
    assert one('index("l")', "héllo") == 2
    assert one("utf8bytelength", "é😀") == 6
    assert one("explode", "😀") == [128512]
    assert one("implode", [233, 128512]) == "é😀"


def test_regex_offsets_count_code_points():
    assert one('[match("l"; "g").offset]', "héllo") == [2, 3]


def test_unicode_is_printed_raw_and_controls_escaped():
    assert jq_dumps("é😀\u007f\u0001\n\"") == '"é😀\\u007f\\u0001\\n\\""'


def test_unicode_escapes_in_the_expression_are_decoded():
    assert one('"\\u00e9\\ud83d\\ude00"') == "é😀"


def test_string_interpolation_formats_each_part():
    assert one('@base64 "x\\(.)y"', "hi") == "xaGk=y"
    assert one('@json "v=\\(.)"', [1, "a"]) == 'v=[1,"a"]'
    assert outputs('"\\(1,2)-\\(3,4)"') == ["1-3", "2-3", "1-4", "2-4"]


@pytest.mark.parametrize(
    "expression, value, result",
    [
        pytest.param("@csv", [1, 'a"b', None, True], '1,"a""b",,true',
                     id="csv quotes strings and doubles quotes"),
        pytest.param("@tsv", ["a\tb", 1, None], "a\\tb\t1\t",
                     id="tsv escapes tabs"),
        pytest.param("@sh", ["a b", "it's", 1], "'a b' 'it'\\''s' 1",
                     id="sh quotes each word"),
        pytest.param("@html", "<&>'\"", "&lt;&amp;&gt;&#39;&quot;",
                     id="html escapes the five characters"),
        pytest.param("@uri", "a b&é~", "a%20b%26%C3%A9~",
                     id="uri percent-encodes reserved characters"),
        pytest.param("@base32", "hello", "NBSWY3DP", id="base32 encodes"),
        pytest.param("@base32d", "NBSWY3DP", "hello", id="base32d decodes"),
        pytest.param("@base64d", "w6k=", "é", id="base64d decodes utf-8"),
        pytest.param("@text", [1, "a"], '[1,"a"]', id="text is tostring"),
        pytest.param("@urid", "a%20b%C3%A9", "a bé", id="urid decodes"),
    ],
)
def test_formats(expression, value, result):
    assert one(expression, value) == result


# Key order and comparison -----------------------------------------------------


def test_objects_keep_insertion_order_when_printed():
    assert dumped("{b: 1, a: 2}") == '{"b":1,"a":2}'
    assert dumped("{b: 1} + {a: 2}") == '{"b":1,"a":2}'


def test_keys_are_sorted_and_keys_unsorted_are_not():
    assert one("[keys, keys_unsorted]", {"b": 1, "a": 2}) == [
        ["a", "b"], ["b", "a"]]


def test_objects_compare_by_sorted_keys_then_values():
    assert one('{"b":1,"a":2} == {"a":2,"b":1}') is True
    assert one('[{"b":1}, {"a":2}, {"a":1,"b":0}] | sort') == [
        {"a": 2}, {"a": 1, "b": 0}, {"b": 1}]


def test_values_of_different_types_follow_jqs_order():
    value = [{}, [], "a", 1, True, False, None]
    assert one("sort", value) == [None, False, True, 1, "a", [], {}]


# Paths and assignments --------------------------------------------------------


@pytest.mark.parametrize(
    "expression, value, result",
    [
        pytest.param(".a.b.c = 1", None, {"a": {"b": {"c": 1}}},
                     id="assignment creates missing objects"),
        pytest.param(".[2] = 1", None, [None, None, 1],
                     id="assignment pads arrays with null"),
        pytest.param(".[] += 1", [1, 2], [2, 3], id="update every element"),
        pytest.param(".a //= 3", {"a": None}, {"a": 3},
                     id="alternative assignment fills null"),
        pytest.param(".a |= empty", {"a": 1, "b": 2}, {"b": 2},
                     id="updating to empty deletes the path"),
        pytest.param("(.[] | select(. > 1)) |= empty", [1, 2, 3], [1],
                     id="updating several elements to empty deletes them all"),
        pytest.param(".[1:] = [9]", [1, 2, 3], [1, 9],
                     id="assigning a slice"),
        pytest.param("del(.[0, 2])", [1, 2, 3], [2], id="deleting indices"),
        pytest.param("del(.a, .b)", {"a": 1, "b": 2, "c": 3}, {"c": 3},
                     id="deleting keys"),
        pytest.param("del(.[1], .[-6], .[2], .[-3:9])", list(range(10)),
                     [0, 3, 5, 6, 9],
                     id="deleting indices that name the array before any shift"),
        pytest.param("del(.[1][0], .[0])", [1, [2, 3], 4], [[3], 4],
                     id="deleting inside and beside an element"),
        pytest.param("to_entries", {"b": 1, "a": 2},
                     [{"key": "b", "value": 1}, {"key": "a", "value": 2}],
                     id="to_entries keeps the key order"),
        pytest.param("[paths]", {"a": [1]}, [["a"], ["a", 0]],
                     id="paths lists every path"),
        pytest.param("[paths(type == \"number\")]", {"a": [1]}, [["a", 0]],
                     id="paths with a filter"),
        pytest.param("getpath([\"a\", 0, \"b\"])", None, None,
                     id="getpath through nulls gives null"),
        pytest.param("[path(..)]", [[1]], [[], [0], [0, 0]],
                     id="path of recursion"),
        pytest.param("[path(.a[].b?)]", {"a": [{"b": 1}, 2]}, [["a", 0, "b"]],
                     id="path with error suppression"),
        pytest.param("path(if .a then .b else .c end)", {"a": 1}, ["b"],
                     id="path through a conditional"),
        pytest.param("path(first(.a, .b))", None, ["a"],
                     id="path through first"),
        pytest.param("path(.a | 1)", {"a": 1}, ["a"],
                     id="a value equal to the input keeps its path"),
        pytest.param("path(null)", None, [],
                     id="null is the path of a null input"),
        pytest.param("pick(.a.b)", {"a": {"b": 1, "c": 2}}, {"a": {"b": 1}},
                     id="pick keeps one path"),
        pytest.param("[tostream] | fromstream(.[])", {"a": [1, {"b": 2}]},
                     {"a": [1, {"b": 2}]}, id="tostream and fromstream round trip"),
        pytest.param("(.a, .b) = (1, 2)", {}, {"a": 1, "b": 1},
                     id="assignment runs once per right-hand output"),
        pytest.param("reduce .[] as [$k, $v] ({}; .[$k] = $v)",
                     [["a", 1], ["b", 2]], {"a": 1, "b": 2},
                     id="reduce with destructuring"),
    ],
)
def test_paths_and_assignments(expression, value, result):
    assert outputs(expression, value)[0] == result


def test_assignment_does_not_change_the_input():
    value = {"a": [1, 2]}
    outputs(".a[0] = 9 | .a |= map(. + 1)", value)
    assert value == {"a": [1, 2]}


# Language -----------------------------------------------------------------


@pytest.mark.parametrize(
    "expression, value, result",
    [
        pytest.param("def f(g): [g, g]; f(.a)", {"a": 1}, [[1, 1]],
                     id="function arguments are filters"),
        pytest.param("def f($x): $x + x; f(1)", None, [2],
                     id="dollar parameters are also filters"),
        pytest.param("def fac: if . <= 1 then 1 else . * (. - 1 | fac) end; "
                     "fac", 10, [3628800], id="recursion"),
        pytest.param("1 as $x | def f: $x; 2 as $x | f", None, [1],
                     id="closures see the variables where they were defined"),
        pytest.param("def f: def g: 3; g * 2; f", None, [6],
                     id="nested definitions"),
        pytest.param("[.[] as [$a] ?// $a | $a]", [[1], 2], [[1, 2]],
                     id="destructuring alternatives"),
        pytest.param("[label $f | range(10) | ., (select(. == 2) | "
                     "break $f)]", None, [[0, 1, 2]], id="label and break"),
        pytest.param("[limit(3; repeat(1))]", None, [[1, 1, 1]],
                     id="limit bounds an endless generator"),
        pytest.param("[limit(0; error)], [limit(-1; 1, 2)]", None,
                     [[], [1, 2]], id="limit of zero runs nothing, "
                     "a negative limit keeps everything"),
        pytest.param("[.[] | (1 / .)?]", [1, 0], [[1]],
                     id="the optional operator drops errors"),
        pytest.param("[foreach .[] as $x (0; . + $x; [$x, .])]", [1, 2],
                     [[[1, 1], [2, 3]]], id="foreach with an extract"),
        pytest.param("$__loc__", None, [{"file": "<top-level>", "line": 1}],
                     id="the location of the program"),
        pytest.param("[splits(\", *\")]", "a, b,c", [["a", "b", "c"]],
                     id="splits with a regex"),
        pytest.param('sub("(?<x>[a-z]+)"; "<\\(.x)>"; "g")', "ab 12 cd",
                     ["<ab> 12 <cd>"], id="sub with a named capture"),
        pytest.param('[scan("\\\\h+")]', "ff zz 0a", [["ff", "0a"]],
                     id="oniguruma's hex digit class"),
        pytest.param('test("A B"; "xi")', "ab", [True],
                     id="extended and case-insensitive flags"),
        pytest.param('"2015-03-05T23:51:47Z" | fromdate | todate', None,
                     ["2015-03-05T23:51:47Z"], id="dates round trip"),
        pytest.param("[getpath([\"a\"], [\"b\"])]", {"a": 1, "b": 2},
                     [[1, 2]], id="getpath of several paths"),
        pytest.param("[.[] | tostring]", [1, "1", [1]], [["1", "1", "[1]"]],
                     id="tostring leaves strings alone"),
        pytest.param("{a: 1} | .a as $x | {$x, b: $x}", None,
                     [{"x": 1, "b": 1}], id="variables in object shorthand"),
        pytest.param("[.[] | {a: .}] | map(.a)", [1, 2], [[1, 2]],
                     id="object construction in map"),
        pytest.param("if . then 1 end", False, [False],
                     id="if without else keeps the input"),
        pytest.param("[abs, toarray, (\" x \" | trim)]", -1, [[1, [-1], "x"]],
                     id="jq 1.8 builtins abs, toarray and trim"),
        pytest.param("have_decnum", None, [False], id="no decimal numbers"),
    ],
)
def test_language(expression, value, result):
    assert outputs(expression, value) == result


def test_regex_warnings_do_not_escape_as_exceptions():
    # re warns (FutureWarning) about "[[" and the test suite turns warnings
    # into errors: the engine must keep them to itself.
    assert one('test("[[a]")', "[a") is True


def test_oniguruma_syntax_is_translated():
    assert one(r'[match("(?<w>a)\\k<w>").string]', "xaay") == ["aa"]
    assert one('test("^[[:alpha:]]+$")', "abc") is True
    assert one(r'[scan("\\h")] | join("")', "x1fz") == "1f"


def test_a_comment_ending_in_a_backslash_continues_on_the_next_line():
    assert one("1 # one \\\n + 100\n + 2") == 3
    assert one("1 # two \\\\\n + 2") == 3


def test_named_variables_are_given_to_run():
    program = ENGINE["jq_compile"](".a + $x", ("x",))
    assert list(program.run({"a": 1}, variables={"x": 2})) == [3]
    assert list(program.run({"a": 1}, {"x": 2})) == [3]


def test_input_and_inputs_read_further_inputs():
    program = jq_compile("[., input, [inputs]]")
    assert list(program.run(1, inputs=iter([2, 3, 4]))) == [[1, 2, [3, 4]]]


def test_env_reads_the_environment(monkeypatch):
    monkeypatch.setenv("JQ_TEST_VALUE", "x")
    assert one("$ENV.JQ_TEST_VALUE") == "x"
    assert one("env.JQ_TEST_VALUE") == "x"


def test_compiled_programs_are_cached():
    assert jq_compile(".cached.program") is jq_compile(".cached.program")


# jq_dumps -----------------------------------------------------------------


def test_jq_dumps_is_compact_without_indent():
    assert jq_dumps({"a": [1, 2.5, None, True], "b": {}}) == (
        '{"a":[1,2.5,null,true],"b":{}}')


def test_jq_dumps_indents_like_jq():
    value = {"a": [1, {"b": []}], "c": {}}
    assert jq_dumps(value, 2) == (
        '{\n  "a": [\n    1,\n    {\n      "b": []\n    }\n  ],\n  "c": {}\n}')


def test_jq_dumps_prints_integral_doubles_as_integers():
    assert jq_dumps([3.0, -0.0, 1e100, float("nan"), float("inf")]) == (
        "[3,-0,1e+100,null,1.7976931348623157e+308]")


# Deep values and runaway programs ---------------------------------------------


def test_values_nested_ten_thousand_deep_can_be_used():
    deep = nested(10000, 1)
    text = jq_dumps(deep)
    assert text == "[" * 10000 + "1" + "]" * 10000
    assert one("tojson | fromjson | . == $deep".replace("$deep", "."),
               deep) is True
    assert one(".[0][0][0] | length", deep) == 1
    assert one("[.. | numbers]", deep) == [1]
    assert one("[., .] | sort | length", deep) == 2
    assert jq_dumps(nested(1000), 2).count("\n") == 2000


def test_a_deep_json_text_can_be_read():
    text = "[" * 10000 + "]" * 10000
    assert one("fromjson | [..] | length", text) == 10000


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("def f: f; f", id="a function that calls itself"),
        pytest.param("def f: 1 + f; f", id="a function that recurses in an "
                     "expression"),
        pytest.param("def f(x): f(x + 1); f(0)", id="recursion with arguments"),
    ],
)
def test_runaway_recursion_is_a_jq_error(expression):
    error = runtime_error(expression)
    assert "recursion depth exceeded" in str(error)


def test_long_pipelines_and_comma_lists_compile():
    assert one("[%s] | length" % ",".join(["1"] * 3000)) == 3000
    assert one(" | ".join([". + 1"] * 3000), 0) == 3000


def test_a_deeply_nested_expression_is_a_syntax_error():
    error = syntax_error("[" * 3000 + "]" * 3000)
    assert "nested too deeply" in str(error)


def test_huge_ranges_are_lazy_under_limit():
    assert one("[limit(3; range(1e18))]") == [0, 1, 2]
    assert one("first(range(1e18; 0; -1))") == 1e18


def test_an_endless_array_is_a_jq_error(monkeypatch):
    monkeypatch.setitem(ENGINE, "_MAX_ARRAY", 1000)
    assert "Array too large" in str(runtime_error("[repeat(1)]"))
