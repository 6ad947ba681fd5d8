"""The conformance cases of tests/data/conformance through the real binary.

- every case through `tripline test-pattern` (exit 0 on match, 1 on no match);
- all 1,269 patterns loaded as rules into ONE ruleset, all events streamed
  through `tripline match`: each case's rule is matched exactly when expected;
- every invalid pattern is refused with exit 2 (in the EventBridge dialect;
  the tripline dialect accepts only the {"regex": …} one).

Patterns and events are passed as their exact source text: 129 cases depend
on number spellings and 7 on duplicate keys, which a json.loads round trip
would lose.
"""
import json
import os

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "conformance")

_decoder = json.JSONDecoder()


def raw_member(line, key):
    """The exact source text of a top-level member's value in a one-line object."""
    marker = '"%s":' % key
    i = line.index(marker) + len(marker)
    while line[i] == " ":
        i += 1
    _, end = _decoder.raw_decode(line, i)
    return line[i:end]


def load_cases():
    cases = []
    with open(os.path.join(DATA, "event-ruler-cases.jsonl"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            meta = json.loads(line)
            cases.append((meta["id"], raw_member(line, "pattern"), raw_member(line, "event"), meta["match"]))
    return cases


def test_every_case_through_test_pattern(run):
    cases = load_cases()
    assert len(cases) == 1269
    failures = []
    for cid, pattern, event, match in cases:
        r = run("test-pattern", "--pattern", pattern, "--event", event)
        want = (0, "true\n") if match else (1, "false\n")
        if (r.returncode, r.stdout) != want:
            failures.append("%s: exit %d, stdout %r, stderr %r" % (cid, r.returncode, r.stdout, r.stderr[:200]))
    assert not failures, "%d cases failed:\n%s" % (len(failures), "\n".join(failures[:50]))


def test_all_patterns_in_one_ruleset(run, tmp_path):
    cases = load_cases()
    rules = ",\n".join('{"Name": %s, "EventPattern": %s}' % (json.dumps(cid), pattern)
                       for cid, pattern, _, _ in cases)
    f = tmp_path / "conformance-rules.json"
    f.write_text('{"Rules": [\n' + rules + "\n]}\n", encoding="utf-8")
    events = "".join(event + "\n" for _, _, event, _ in cases)
    r = run("match", "--rules", str(f), stdin=events, timeout=300)
    assert r.returncode == 0, r.stderr[:2000]
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(out) == len(cases)
    failures = []
    for (cid, _, _, match), o in zip(cases, out):
        assert "matched" in o, o
        if (cid in o["matched"]) != match:
            failures.append(cid)
    assert not failures, "%d cases differ in the combined ruleset: %s" % (len(failures), failures[:50])


def test_invalid_patterns_are_refused(run):
    failures = []
    n = 0
    with open(os.path.join(DATA, "invalid-patterns.jsonl"), encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            case = json.loads(line)
            n += 1
            r = run("test-pattern", "--eventbridge", "--pattern", case["pattern"], "--event", "{}")
            if r.returncode != 2 or "invalid pattern" not in r.stderr:
                failures.append("%s (eventbridge): exit %d %r" % (case["id"], r.returncode, r.stderr[:200]))
            r = run("test-pattern", "--pattern", case["pattern"], "--event", "{}")
            regex_only = case["id"] == "sup-inv-match-expr-03"
            if regex_only:
                ok = r.returncode in (0, 1)
            else:
                ok = r.returncode == 2 and "invalid pattern" in r.stderr
            if not ok:
                failures.append("%s (tripline): exit %d %r" % (case["id"], r.returncode, r.stderr[:200]))
    assert n == 182
    assert not failures, "\n".join(failures)
