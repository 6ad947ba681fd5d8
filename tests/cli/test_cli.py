"""The tripline CLI's contract: commands, output shapes and exit codes.

Every test runs the real binary. Exit codes: 0 ok / match, 1 no match,
2 bad input (with a message on stderr).
"""
import json
import os
import select
import subprocess

import pytest

from tripline_test import ROOT

EXAMPLES = os.path.join(ROOT, "deploy", "examples")


def test_version(run):
    r = run("--version")
    assert r.returncode == 0
    assert r.stdout.startswith("tripline ")
    assert run("version").stdout == r.stdout


def test_help_lists_commands(run):
    r = run("help")
    assert r.returncode == 0
    for cmd in ("test-pattern", "match", "validate"):
        assert cmd in r.stdout
    assert run("--help").stdout == r.stdout


@pytest.mark.parametrize("cmd", ["test-pattern", "match", "validate"])
def test_command_help(run, cmd):
    a = run("help", cmd)
    b = run(cmd, "--help")
    assert a.returncode == 0 and b.returncode == 0
    assert a.stdout == b.stdout
    assert a.stdout.startswith("usage: tripline " + cmd)


def test_unknown_command(run):
    r = run("frobnicate")
    assert r.returncode == 2
    assert "unknown command" in r.stderr


def test_no_command(run):
    r = run()
    assert r.returncode == 2
    assert "usage:" in r.stderr


# ---------------------------------------------------------------- test-pattern

def test_pattern_match(run):
    r = run("test-pattern", "--pattern", '{"source":["aws.s3"]}', "--event", '{"source":"aws.s3"}')
    assert (r.returncode, r.stdout) == (0, "true\n")


def test_pattern_no_match(run):
    r = run("test-pattern", "--pattern", '{"source":["aws.s3"]}', "--event", '{"source":"aws.ec2"}')
    assert (r.returncode, r.stdout) == (1, "false\n")


def test_pattern_from_files(run, tmp_path):
    p = tmp_path / "p.json"
    e = tmp_path / "e.json"
    p.write_text('{"detail": {"size": [{"numeric": [">", 1024]}]}}')
    e.write_text('{"detail": {"size": 3.0e3}}')
    r = run("test-pattern", "--pattern", "@" + str(p), "--event", "@" + str(e))
    assert (r.returncode, r.stdout) == (0, "true\n")


def test_pattern_from_stdin(run):
    r = run("test-pattern", "--pattern", "@-", "--event", '{"a":"x"}', stdin='{"a":["x"]}')
    assert (r.returncode, r.stdout) == (0, "true\n")


def test_invalid_pattern_names_pointer(run):
    r = run("test-pattern", "--pattern", '{"a":[{"numeric":[">",5,"<",1]}]}', "--event", "{}")
    assert r.returncode == 2
    assert r.stdout == ""
    assert "/a/0/numeric: Bottom must be less than top" in r.stderr


def test_invalid_pattern_json(run):
    r = run("test-pattern", "--pattern", '{"a":["x",]}', "--event", "{}")
    assert r.returncode == 2
    assert "invalid JSON" in r.stderr


def test_invalid_event(run):
    r = run("test-pattern", "--pattern", '{"a":["x"]}', "--event", '{"a":"x"')
    assert r.returncode == 2
    assert "invalid event" in r.stderr


def test_event_must_be_object(run):
    r = run("test-pattern", "--pattern", '{"a":["x"]}', "--event", '["x"]')
    assert r.returncode == 2
    assert "object" in r.stderr


def test_missing_file(run):
    r = run("test-pattern", "--pattern", "@/nonexistent/p.json", "--event", "{}")
    assert r.returncode == 2
    assert "/nonexistent/p.json" in r.stderr


@pytest.mark.parametrize("args", [
    ["--pattern", "{}"],
    ["--event", "{}"],
    ["--pattern", '{"a":["x"]}', "--event", "{}", "extra"],
    ["--pattern", '{"a":["x"]}', "--event", "{}", "--bogus"],
])
def test_usage_errors(run, args):
    r = run("test-pattern", *args)
    assert r.returncode == 2
    assert "usage:" in r.stderr


def test_regex_extension_and_eventbridge_dialect(run):
    args = ["--pattern", '{"k":[{"regex":"^raw/[0-9]{4}/"}]}', "--event", '{"k":"raw/2024/x.jpg"}']
    r = run("test-pattern", *args)
    assert (r.returncode, r.stdout) == (0, "true\n")
    r = run("test-pattern", "--eventbridge", *args)
    assert r.returncode == 2
    assert "Unrecognized match type regex" in r.stderr


def test_invalid_regex_reports_offset(run):
    r = run("test-pattern", "--pattern", '{"k":[{"regex":"a("}]}', "--event", "{}")
    assert r.returncode == 2
    assert "/k/0/regex: invalid regex:" in r.stderr
    assert "offset" in r.stderr


# ---------------------------------------------------------------- validate

def test_validate_examples(run):
    r = run("validate", os.path.join(EXAMPLES, "rules"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok: ")
    assert r.stdout.count("\n") == 1


def test_validate_reports_every_error(run, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({
        "Name": "has space",
        "State": "MAYBE",
        "EventPattern": {"source": "aws.s3"},
        "Targets": [{"Id": "t", "Arn": "cluster/default",
                     "EcsParameters": {"TaskDefinitionArn": "x", "TaskCount": 11}}],
    }))
    r = run("validate", str(bad))
    assert r.returncode == 2
    errs = r.stderr.strip().splitlines()
    assert len(errs) >= 4, r.stderr
    for e in errs:
        assert e.startswith(str(bad) + ": /"), e
    assert any("/Name:" in e for e in errs)
    assert any("/State:" in e for e in errs)
    assert any("/EventPattern/source:" in e for e in errs)
    assert any("/Targets/0/EcsParameters/TaskCount:" in e for e in errs)


def test_validate_missing_path(run):
    r = run("validate", "/nonexistent/rules")
    assert r.returncode == 2
    assert "/nonexistent/rules" in r.stderr


def test_validate_needs_paths(run):
    assert run("validate").returncode == 2


# ---------------------------------------------------------------- match

def write_rules(tmp_path, rules, name="rules.json"):
    f = tmp_path / name
    f.write_text(json.dumps({"Rules": rules}))
    return str(f)


def test_match_lines(run, tmp_path):
    rules = write_rules(tmp_path, [
        {"Name": "zeta", "EventPattern": {"source": ["a"]}},
        {"Name": "alpha", "EventPattern": {"source": [{"prefix": ""}]}},
        {"Name": "off", "State": "DISABLED", "EventPattern": {"source": ["a"]}},
        {"Name": "timer", "ScheduleExpression": "rate(5 minutes)"},
    ])
    events = '{"source":"a"}\n{"source":"b"}\nnot json\n{"other":1}\n[1]\n'
    r = run("match", "--rules", rules, stdin=events)
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["line"] for o in out] == [1, 2, 3, 4, 5]
    assert out[0] == {"line": 1, "matched": ["alpha", "zeta"]}   # sorted names
    assert out[1] == {"line": 2, "matched": ["alpha"]}
    assert "error" in out[2] and "matched" not in out[2]
    assert out[3] == {"line": 4, "matched": []}
    assert "error" in out[4]


def test_match_examples(run):
    with open(os.path.join(EXAMPLES, "events.jsonl")) as f:
        events = f.read()
    r = run("match", "--rules", os.path.join(EXAMPLES, "rules"), stdin=events)
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(out) == events.count("\n")
    assert any(o.get("matched") for o in out)


def test_match_invalid_rules(run, tmp_path):
    rules = write_rules(tmp_path, [{"Name": "x", "EventPattern": {"a": []}}])
    r = run("match", "--rules", rules, stdin='{"a":1}\n')
    assert r.returncode == 2
    assert "/Rules/0/EventPattern/a: " in r.stderr
    assert r.stdout == ""


def test_match_long_line_is_an_error_and_processing_continues(run, tmp_path):
    rules = write_rules(tmp_path, [{"Name": "r", "EventPattern": {"a": ["x"]}}])
    long_line = '{"a":"' + "y" * (2 << 20) + '"}'
    r = run("match", "--rules", rules, stdin=long_line + '\n{"a":"x"}\n')
    assert r.returncode == 0
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert "error" in out[0]
    assert out[1] == {"line": 2, "matched": ["r"]}


def test_match_needs_rules(run):
    r = run("match", stdin="")
    assert r.returncode == 2


def run_bytes(tripline_bin, args, data):
    return subprocess.run([tripline_bin, *args], input=data, capture_output=True, timeout=60)


def test_match_line_edges(tripline_bin, tmp_path):
    rules = write_rules(tmp_path, [{"Name": "r", "EventPattern": {"a": ["x"]}}])
    # CRLF, an empty line, a NUL inside a line, invalid UTF-8, and a last
    # line without a newline: one answer per line, in order
    data = (b'{"a":"x"}\r\n' b'\n' b'{"a":"x"}\x00\n' b'{"a":"\xff"}\n' b'{"a":"y"}\n'
            b'{"a":"x"}')
    r = run_bytes(tripline_bin, ["match", "--rules", rules], data)
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert [o["line"] for o in out] == [1, 2, 3, 4, 5, 6]
    assert out[0] == {"line": 1, "matched": ["r"]}
    assert "error" in out[1]
    assert "error" in out[2]
    assert "error" in out[3]
    assert out[4] == {"line": 5, "matched": []}
    assert out[5] == {"line": 6, "matched": ["r"]}
    # no input, no output
    r = run_bytes(tripline_bin, ["match", "--rules", rules], b"")
    assert r.returncode == 0 and r.stdout == b""


def test_match_line_limit_is_exact(tripline_bin, tmp_path):
    rules = write_rules(tmp_path, [{"Name": "r", "EventPattern": {"a": ["x"]}}])
    limit = 1 << 20

    def event(size):
        pad = size - len('{"a":"x","b":""}')
        return b'{"a":"x","b":"' + b"y" * pad + b'"}'

    data = event(limit) + b"\n" + event(limit + 1) + b"\n" + event(limit) + b"\r\n" + event(limit)
    r = run_bytes(tripline_bin, ["match", "--rules", rules], data)
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert out[0] == {"line": 1, "matched": ["r"]}           # exactly 1 MiB: read
    assert out[1] == {"line": 2, "error": "line longer than %d bytes" % limit}
    assert out[2]["line"] == 3 and "error" in out[2]          # the '\r' counts toward the limit
    assert out[3] == {"line": 4, "matched": ["r"]}            # last line, no newline
    assert len(out) == 4


def test_match_many_lines_in_order(tripline_bin, tmp_path):
    rules = write_rules(tmp_path, [{"Name": "even", "EventPattern": {"n": [{"numeric": ["<", 0]}, 0, 2, 4, 6, 8]}},
                                   {"Name": "big", "EventPattern": {"n": [{"numeric": [">=", 50000]}]}}])
    n = 100000   # several read blocks and output blocks
    data = "".join('{"n":%d,"pad":"%s"}\n' % (i % 10 if i % 7 else i, "p" * (i % 50)) for i in range(n))
    r = run_bytes(tripline_bin, ["match", "--rules", rules], data.encode())
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert len(lines) == n
    for i, line in enumerate(lines):
        v = i % 10 if i % 7 else i
        want = (["big"] if v >= 50000 else []) + (["even"] if v in (0, 2, 4, 6, 8) else [])
        assert json.loads(line) == {"line": i + 1, "matched": want}


def test_match_stops_on_an_output_error_while_stdin_stays_open(tripline_bin, tmp_path):
    # the answer cannot be written (/dev/full): exit 3 at once, not at the end of stdin
    rules = write_rules(tmp_path, [{"Name": "r", "EventPattern": {"a": ["x"]}}])
    with open("/dev/full", "wb") as full:
        p = subprocess.Popen([tripline_bin, "match", "--rules", rules], stdin=subprocess.PIPE,
                             stdout=full, stderr=subprocess.PIPE)
        try:
            p.stdin.write(b'{"a":"x"}\n')
            p.stdin.flush()
            assert p.wait(timeout=30) == 3
            assert b"writing the output" in p.stderr.read()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdin.close()


def test_match_answers_a_pipe_without_waiting_for_its_end(tripline_bin, tmp_path):
    # tail -f | tripline match: each answer comes out while stdin stays open
    rules = write_rules(tmp_path, [{"Name": "r", "EventPattern": {"a": ["x"]}}])
    p = subprocess.Popen([tripline_bin, "match", "--rules", rules], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for i in (1, 2):
            p.stdin.write(b'{"a":"x"}\n')
            p.stdin.flush()
            ready, _, _ = select.select([p.stdout], [], [], 30)
            assert ready, "no answer within 30 s while stdin stays open"
            assert json.loads(p.stdout.readline()) == {"line": i, "matched": ["r"]}
        p.stdin.close()
        assert p.wait(timeout=30) == 0
        assert p.stdout.read() == b""
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
