"""`tripline put-events` and `tripline rules list|describe`: EventBridge's
operations through the CLI.

Against a recording fake endpoint (test_cli_remote.FakeEcs, a small HTTP
server in this process): the exact requests each command sends, signed for
the service "events"; the output and exit codes for every kind of answer
(0 accepted, 1 a failed entry or no such rule, 2 bad input or a 4xx, 3 no
answer). The same commands against the real daemon are in
test_events_api.py.
"""
import json

import pytest

from test_cli_remote import FakeEcs
from tripline_test import dead_port, table, url

EV = "AWSEvents."
KEYS = {"TRIPLINE_ACCESS_KEY_ID": "AKIDEV", "TRIPLINE_SECRET_ACCESS_KEY": "s3cr3t"}


@pytest.fixture
def fake():
    f = FakeEcs()
    yield f
    f.close()


def put(cli, port, *args, env=None):
    return cli("put-events", "--endpoint", url(port), *args, env=env)


def test_put_events_request_signed_for_events(cli, fake):
    answer = {"FailedEntryCount": 0, "Entries": [{"EventId": "11111111-2222-4333-8444-555555555555"}]}
    fake.answers[EV + "PutEvents"] = (200, answer)
    r = put(cli, fake.port, "--source", "com.example", "--detail-type", "Order Placed",
            "--detail", '{"id": 7}', "--bus", "orders", "--resources", "arn:a", "arn:b", env=KEYS)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == answer
    (req,) = fake.requests
    assert req["target"] == EV + "PutEvents"
    assert req["body"] == {"Entries": [{"Source": "com.example", "DetailType": "Order Placed",
                                        "Detail": '{"id": 7}', "EventBusName": "orders",
                                        "Resources": ["arn:a", "arn:b"]}]}
    auth = req["headers"]["Authorization"]
    assert "Credential=AKIDEV/" in auth and "/local/events/aws4_request" in auth


def test_put_events_detail_from_file_and_repeated_resources(cli, fake, tmp_path):
    fake.answers[EV + "PutEvents"] = (200, {"FailedEntryCount": 0, "Entries": [{"EventId": "x"}]})
    f = tmp_path / "detail.json"
    f.write_text('{"from": "file"}\n')
    r = put(cli, fake.port, "--source", "s", "--detail-type", "t", "--detail", "@" + str(f),
            "--resources", "a", "--resources", "b")
    assert r.returncode == 0, r.stderr
    entry = fake.bodies(EV + "PutEvents")[0]["Entries"][0]
    assert entry["Detail"] == '{"from": "file"}\n'
    assert entry["Resources"] == ["a", "b"]
    assert "EventBusName" not in entry
    assert "Authorization" not in fake.requests[0]["headers"]   # no credentials: unsigned


def test_put_events_failed_entry_exits_1(cli, fake):
    answer = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}]}
    fake.answers[EV + "PutEvents"] = (200, answer)
    r = put(cli, fake.port, "--source", "s", "--detail-type", "t", "--detail", "{}")
    assert r.returncode == 1
    assert json.loads(r.stdout) == answer


@pytest.mark.parametrize("args, message", [
    (["--detail-type", "t", "--detail", "{}"], "--source, --detail-type and --detail are needed"),
    (["--source", "s", "--detail-type", "t", "--detail", "[1]"], "--detail must be a JSON object"),
    (["--source", "s", "--detail-type", "t", "--detail", "{x"], "--detail: invalid JSON"),
    (["--source", "s", "--detail-type", "t", "--detail", "@/nonexistent/detail.json"], "--detail @/nonexistent"),
    (["--source", "s", "--detail-type", "t", "--detail", "{}", "stray"], "unexpected argument 'stray'"),
    (["--source", "s", "--detail-type", "t", "--detail", "{}", "--bogus"], "unknown option '--bogus'"),
])
def test_put_events_bad_input_exits_2_before_sending(cli, fake, args, message):
    r = put(cli, fake.port, *args)
    assert r.returncode == 2
    assert r.stderr.startswith("tripline put-events: ")
    assert message in r.stderr
    assert fake.requests == []


def test_put_events_refused_and_unanswered(cli, fake):
    fake.answers[EV + "PutEvents"] = (400, {"__type": "ValidationException", "message": "too big"})
    r = put(cli, fake.port, "--source", "s", "--detail-type", "t", "--detail", "{}")
    assert r.returncode == 2
    assert "ValidationException" in r.stderr and "too big" in r.stderr
    fake.answers[EV + "PutEvents"] = (503, {"__type": "ServerException", "message": "not running"})
    assert put(cli, fake.port, "--source", "s", "--detail-type", "t", "--detail", "{}").returncode == 3
    assert put(cli, dead_port(), "--source", "s", "--detail-type", "t", "--detail", "{}").returncode == 3


RULE_A = {"Name": "a", "Arn": "arn:aws:events:local:000000000000:rule/a", "State": "ENABLED",
          "EventPattern": '{"source":["app"]}', "EventBusName": "default", "Description": "first"}
RULE_B = {"Name": "b", "Arn": "arn:aws:events:local:000000000000:rule/b", "State": "DISABLED",
          "ScheduleExpression": "rate(5 minutes)", "EventBusName": "default"}


def test_rules_list_follows_pages(cli, fake):
    def list_rules(body):
        if body.get("NextToken") == "b":
            return 200, {"Rules": [RULE_B]}
        return 200, {"Rules": [RULE_A], "NextToken": "b"}
    fake.answers[EV + "ListRules"] = list_rules
    r = cli("rules", "list", "--endpoint", url(fake.port), "--bus", "default", "--name-prefix", "")
    assert r.returncode == 0, r.stderr
    rows = table(r.stdout)
    assert rows[0] == ["NAME", "STATE", "BUS", "PATTERN OR SCHEDULE", "DESCRIPTION"]
    assert [row[0] for row in rows[1:]] == ["a", "b"]
    assert rows[2][3] == "rate(5 minutes)"
    bodies = fake.bodies(EV + "ListRules")
    assert bodies == [{"EventBusName": "default", "NamePrefix": ""},
                      {"EventBusName": "default", "NamePrefix": "", "NextToken": "b"}]
    r = cli("rules", "list", "--endpoint", url(fake.port), "--output", "json")
    assert json.loads(r.stdout) == {"Rules": [RULE_A, RULE_B]}


def test_rules_describe(cli, fake):
    targets = [{"Id": "t1", "Arn": "file:/tmp/a.jsonl", "InputPath": "$.detail"},
               {"Id": "t2", "Arn": "https://example.com/h"}]
    fake.answers[EV + "DescribeRule"] = (200, RULE_A)
    fake.answers[EV + "ListTargetsByRule"] = (200, {"Targets": targets})
    r = cli("rules", "describe", "a", "--endpoint", url(fake.port), env=KEYS)
    assert r.returncode == 0, r.stderr
    assert "a" in r.stdout and '{"source":["app"]}' in r.stdout
    rows = table(r.stdout.split("\n\n")[1])
    assert rows == [["ID", "ARN", "INPUT"], ["t1", "file:/tmp/a.jsonl", "$.detail"],
                    ["t2", "https://example.com/h", "the event"]]
    assert fake.bodies(EV + "DescribeRule") == [{"Name": "a"}]
    assert fake.bodies(EV + "ListTargetsByRule") == [{"Rule": "a"}]
    assert all("/events/aws4_request" in q["headers"]["Authorization"] for q in fake.requests)
    r = cli("rules", "describe", "a", "--endpoint", url(fake.port), "--output", "json")
    assert json.loads(r.stdout) == dict(RULE_A, Targets=targets)


def test_rules_describe_unknown_exits_1(cli, fake):
    fake.answers[EV + "DescribeRule"] = (400, {"__type": "ResourceNotFoundException",
                                               "message": "Rule z does not exist on EventBus default."})
    r = cli("rules", "describe", "z", "--endpoint", url(fake.port))
    assert r.returncode == 1
    assert "Rule z does not exist on EventBus default." in r.stderr
    assert fake.bodies(EV + "ListTargetsByRule") == []


def test_help(cli):
    for cmd in ("put-events", "rules"):
        a = cli("help", cmd)
        b = cli(cmd, "--help")
        assert a.returncode == b.returncode == 0
        assert a.stdout == b.stdout
        assert a.stdout.startswith("usage: tripline " + cmd)
        assert '"events"' in a.stdout
        assert cmd in cli("help").stdout
