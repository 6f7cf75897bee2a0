"""Benchmark of the bundled jq evaluator, side by side with jq where it exists.

    python tests/bench_jq.py [--size MB] [--quick]

Prints figures and ratios; it is not a test (nothing is asserted):
  1. the one-time cost of loading the engine (compiling _JQ_SOURCE),
  2. compile-and-run of `.profile` on a status object (cached programs),
  3. throughput on a generated JSON input for a few typical filters.
"""

import argparse
import json
import marshal
import os
import random
import shutil
import subprocess
import sys
import time
import timeit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import baseten_auth  # noqa: E402

STATUS = {"profile": "alice@example.com", "remote_url": "https://app.baseten.co",
          "auth_type": "oauth"}
FILTERS = [
    ("select", "[.[] | select(.active and .score > 50)] | length"),
    ("map", "map({id, name, email})"),
    ("group_by", "group_by(.group) | map({group: .[0].group, n: length})"),
    ("interpolation", '.[] | "\\(.name) <\\(.email)> \\(.score)"'),
    ("reduce", "reduce .[] as $u ({}; .[$u.group | tostring] += $u.score)"),
]
JQ = shutil.which("jq")


def best(function, repeat=5, number=1):
    """Best time of one call, in seconds."""
    return min(timeit.repeat(function, repeat=repeat, number=number)) / number


def engine_load():
    """Compile and exec the engine source, as the first --jq does."""
    source = baseten_auth._JQ_SOURCE
    line = baseten_auth._JQ_LINE
    compile_time = best(lambda: compile("\n" * line + source, "bench", "exec"))
    code = compile("\n" * line + source, "bench", "exec")
    cached = marshal.dumps(code)
    load_time = best(lambda: marshal.loads(cached))

    def run_code():
        namespace = {"__name__": "bench_jq_engine",
                     "JqError": baseten_auth.JqError,
                     "JqSyntaxError": baseten_auth.JqSyntaxError}
        exec(code, namespace)
        return namespace
    exec_time = best(run_code)

    def first_compile():
        namespace = run_code()
        namespace["jq_compile"](".profile")
    prelude_time = best(first_compile) - exec_time
    lines = source.count("\n")
    print("engine: %d lines of source" % lines)
    print("  compile _JQ_SOURCE      %7.2f ms (once per process, or read "
          "from the module's bytecode cache)" % (compile_time * 1e3))
    print("  load it from bytecode   %7.2f ms (marshal, %d kB)"
          % (load_time * 1e3, len(cached) // 1024))
    print("  exec the module body    %7.2f ms" % (exec_time * 1e3))
    print("  first jq_compile        %7.2f ms (.profile, in a fresh engine)"
          % (prelude_time * 1e3))


def profile_lookup():
    engine = baseten_auth._jq_engine()
    jq_compile = engine["jq_compile"]
    jq_compile(".profile")
    number = 200000
    run = best(lambda: list(jq_compile(".profile").run(STATUS)), number=number)
    dumps = engine["jq_dumps"]
    printed = best(lambda: [dumps(v) for v in
                            jq_compile(".profile").run(STATUS)], number=number)

    def uncached():
        engine["_cache"].clear()
        list(jq_compile(".profile").run(STATUS))
    fresh = best(uncached, number=2000)
    print("\n.profile on a status object")
    print("  cached compile + run    %7.2f us (aim: under 5 us)" % (run * 1e6))
    print("  ... and jq_dumps        %7.2f us" % (printed * 1e6))
    print("  uncached compile + run  %7.2f us" % (fresh * 1e6))
    if JQ:
        text = json.dumps(STATUS)
        process = best(lambda: subprocess.run(
            [JQ, ".profile"], input=text, capture_output=True, text=True),
            repeat=5, number=10)
        print("  %s process         %7.2f ms per run (%.0fx the cached engine "
              "call, a process start included)" % (
                  os.path.basename(JQ), process * 1e3, process / run))


def generate_input(megabytes):
    rng = random.Random(1)
    records, size = [], 2
    while size < megabytes * 1e6:
        i = len(records)
        record = {
            "id": i, "name": "user%d" % i, "email": "user%d@example.com" % i,
            "group": rng.randrange(20), "active": rng.random() < 0.6,
            "score": round(rng.random() * 100, 2),
            "tags": rng.sample(["a", "b", "c", "d", "e"], 2),
            "profile": {"remote_url": "https://app.baseten.co",
                        "auth_type": rng.choice(["oauth", "api_key"])},
        }
        records.append(record)
        size += len(json.dumps(record, separators=(",", ":"))) + 1
    return records, json.dumps(records, separators=(",", ":"))


def throughput(megabytes, repeat):
    engine = baseten_auth._jq_engine()
    jq_compile, dumps = engine["jq_compile"], engine["jq_dumps"]
    records, text = generate_input(megabytes)
    size = len(text) / 1e6
    print("\nthroughput on %.1f MB (%d records); MB/s, higher is better"
          % (size, len(records)))
    print("  %-14s %10s %12s %10s %9s" % ("filter", "engine", "with I/O",
                                          "jq", "time/jq"))
    parse = best(lambda: json.loads(text), repeat=repeat)
    path = None
    if JQ:
        import tempfile
        handle, path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(handle, "w") as f:
            f.write(text)
    try:
        for name, expression in FILTERS:
            program = jq_compile(expression)
            run = best(lambda: list(program.run(records)), repeat=repeat)
            outputs = list(program.run(records))
            printing = best(lambda: [dumps(v) for v in outputs], repeat=repeat)
            total = parse + run + printing
            jq_time = None
            if path:
                jq_time = best(lambda: subprocess.run(
                    [JQ, "-c", expression, path], stdout=subprocess.DEVNULL),
                    repeat=repeat)
            print("  %-14s %10.1f %12.1f %10s %9s" % (
                name, size / run, size / total,
                "%.1f" % (size / jq_time) if jq_time else "-",
                "%.1fx" % (total / jq_time) if jq_time else "-"))
    finally:
        if path:
            os.unlink(path)
    print("  (engine: the filter alone on parsed input; with I/O: json.loads"
          " + filter + jq_dumps,\n   as jq's own figure includes parsing and"
          " printing; time/jq: with-I/O time over jq's, below 1 is faster)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=float, default=5.0,
                        help="size of the generated input in MB (default 5)")
    parser.add_argument("--quick", action="store_true",
                        help="fewer repetitions")
    args = parser.parse_args(argv)
    print("python %s, jq: %s" % (sys.version.split()[0], JQ or "not found"))
    engine_load()
    profile_lookup()
    throughput(args.size, 1 if args.quick else 3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
