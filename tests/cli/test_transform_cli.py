"""`tripline transform`: what a rule target receives for an event, printed
exactly (plus one newline), through the real binary. Exit codes: 0 with the
output, 2 with a message for a usage error, an invalid transformer or event.
"""
import datetime
import json
import re

EVENT = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2015-11-11T21:29:54Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-0123456789", "state": "RUNNING", "n": 3, "tags": ["a", "b"]},
}
EVENT_TEXT = json.dumps(EVENT, indent=2)
COMPACT = json.dumps(EVENT, separators=(",", ":"))
MAP = '{"instance": "$.detail.instance-id", "status": "$.detail.state", "n": "$.detail.n", "tags": "$.detail.tags"}'


def test_help(run):
    a, b = run("help", "transform"), run("transform", "--help")
    assert a.returncode == 0 and a.stdout == b.stdout
    assert a.stdout.startswith("usage: tripline transform --event EVENT")
    assert 'default "transform-preview"' in a.stdout
    assert "transform" in run("help").stdout


def test_plain_text_template(run):
    r = run("transform", "--event", EVENT_TEXT, "--input-paths-map", MAP,
            "--input-template", "<instance> is in state <status>")
    assert (r.returncode, r.stdout, r.stderr) == (0, "i-0123456789 is in state RUNNING\n", "")


def test_json_template(run):
    tpl = '{\n  "instance": <instance>, "n": <n>, "tags": <tags>,\n  "msg": "<instance> has tags <tags> and \\"<status>\\"",\n  "none": <missing>, "in": "[<missing>]"\n}'
    r = run("transform", "--event", EVENT_TEXT,
            "--input-paths-map", MAP[:-1] + ', "missing": "$.detail.nope"}', "--input-template", tpl)
    assert r.returncode == 0, r.stderr
    want = ('{"instance":"i-0123456789","n":3,"tags":["a","b"],'
            '"msg":"i-0123456789 has tags [\\"a\\",\\"b\\"] and \\"RUNNING\\"","none":"","in":"[]"}\n')
    assert r.stdout == want
    json.loads(r.stdout)


def test_reserved_variables_and_defaults(run):
    tpl = ('{"name": <aws.events.rule-name>, "arn": <aws.events.rule-arn>, '
           '"at": <aws.events.event.ingestion-time>, "event": <aws.events.event>, "json": <aws.events.event.json>}')
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    r = run("transform", "--event", EVENT_TEXT, "--input-template", tpl)
    after = datetime.datetime.now(datetime.timezone.utc)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["name"] == "transform-preview"
    assert out["arn"] == "arn:aws:events:local:000000000000:rule/transform-preview"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", out["at"])
    at = datetime.datetime.strptime(out["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    assert before <= at <= after
    assert out["json"] == EVENT
    assert out["event"] == {k: v for k, v in EVENT.items() if k != "detail"}

    r = run("transform", "--event", "{}", "--rule-name", "orders.created",
            "--input-template", '"<aws.events.rule-name> via <aws.events.rule-arn>"')
    assert r.stdout == '"orders.created via arn:aws:events:local:000000000000:rule/orders.created"\n'
    r = run("transform", "--event", "{}", "--rule-name", "n", "--rule-arn", "arn:x",
            "--input-template", "<aws.events.rule-arn>")
    assert (r.returncode, r.stdout) == (0, '"arn:x"\n')


def test_event_input_and_input_path(run):
    r = run("transform", "--event", EVENT_TEXT)
    assert (r.returncode, r.stdout) == (0, COMPACT + "\n")
    r = run("transform", "--event", EVENT_TEXT, "--input", '{ "containerOverrides": [] }')
    assert (r.returncode, r.stdout) == (0, '{"containerOverrides":[]}\n')
    r = run("transform", "--event", EVENT_TEXT, "--input-path", "$.detail.tags[1]")
    assert (r.returncode, r.stdout) == (0, '"b"\n')
    r = run("transform", "--event", EVENT_TEXT, "--input-path", "$.detail.none")
    assert (r.returncode, r.stdout) == (0, '""\n')


def test_at_file_and_stdin(run, tmp_path):
    ev, mp, inp = tmp_path / "event.json", tmp_path / "map.json", tmp_path / "input.json"
    ev.write_text(EVENT_TEXT)
    mp.write_text(MAP)
    inp.write_text('[1, 2]\n')
    r = run("transform", "--event", "@" + str(ev), "--input-paths-map", "@" + str(mp),
            "--input-template", '"<status>"')
    assert (r.returncode, r.stdout) == (0, '"RUNNING"\n')
    r = run("transform", "--event", "@" + str(ev), "--input", "@" + str(inp))
    assert (r.returncode, r.stdout) == (0, "[1,2]\n")
    r = run("transform", "--event", "@-", "--input-path", "$.source", stdin=EVENT_TEXT)
    assert (r.returncode, r.stdout) == (0, '"aws.ec2"\n')
    r = run("transform", "--event", "@" + str(tmp_path / "absent.json"))
    assert r.returncode == 2
    assert "absent.json" in r.stderr and r.stdout == ""


def test_invalid_transformer(run):
    cases = [
        (["--input-paths-map", MAP, "--input-template", "{<instance>: 1}"],
         "invalid transformer: InputTemplate: starts with '{' but is not JSON: a placeholder cannot be used as an object key at offset 1"),
        (["--input-paths-map", MAP, "--input-template", "<nope>"],
         "invalid transformer: InputTemplate: placeholder <nope> is not defined in InputPathsMap"),
        (["--input-paths-map", '{"a": "$.detail.*"}', "--input-template", "<a>"],
         "invalid transformer: InputPathsMap: a: invalid JSONPath: wildcards (*) are not supported"),
        (["--input-paths-map", '{"aws.x": "$.a"}', "--input-template", "x"],
         "invalid transformer: InputPathsMap: aws.x: names starting with \"aws.\" are reserved"),
        (["--input-paths-map", '{"a": 1}', "--input-template", "x"],
         "invalid transformer: InputPathsMap: a: must be a string"),
        (["--input-paths-map", '["a"]', "--input-template", "x"],
         "invalid --input-paths-map: must be a JSON object"),
        (["--input-paths-map", '{"a":', "--input-template", "x"],
         "invalid --input-paths-map: invalid JSON at line 1, column 6"),
        (["--input", "{nope}"], "invalid transformer: Input is not valid JSON"),
        (["--input-path", "detail"], "invalid transformer: InputPath: invalid JSONPath: must start with \"$\""),
    ]
    for args, msg in cases:
        r = run("transform", "--event", EVENT_TEXT, *args)
        assert r.returncode == 2, args
        assert r.stdout == ""
        assert msg in r.stderr, (args, r.stderr)


def test_invalid_event(run):
    for ev in ('{"detail":', "", "{} {}", '{"a": "\\x"}'):
        r = run("transform", "--event", ev, "--input-path", "$.a")
        assert r.returncode == 2, ev
        assert "invalid event" in r.stderr and r.stdout == ""
    r = run("transform", "--event", '{"a":\n 01}')
    assert r.returncode == 2
    assert "invalid event: invalid JSON at line 2, column 3" in r.stderr


def test_usage_errors(run):
    for args in (
        [],
        ["--event", "{}", "--input", "{}", "--input-path", "$"],
        ["--event", "{}", "--input-path", "$", "--input-template", "x"],
        ["--event", "{}", "--input-paths-map", "{}"],
        ["--event", "{}", "extra"],
        ["--event", "{}", "--bogus"],
        ["--event"],
    ):
        r = run("transform", *args)
        assert r.returncode == 2, args
        assert "usage: tripline transform" in r.stderr and r.stdout == ""
