"""EventBridge's API on the real daemon, driven by Debian's AWS CLI v2
(`/usr/bin/aws events …` with --endpoint-url, unmodified) and by tripline's
own CLI, with SigV4 on (configured keys: the AWS CLI signs for "events") and
off (no keys: requests go unsigned).

PutEvents: a good entry is accepted (an EventId), a bad one fails alone
with AWS's code and message, the whole request fails past 10 entries.
TestEventPattern answers {"Result": …}. ListRules, DescribeRule,
ListTargetsByRule and ListEventBuses print the daemon's rule files as
`aws events` prints EventBridge's rules. An accepted event reaches its
rule's file target (the rule's InputPath applied).
"""
import json

import pytest

from tripline_test import aws_cli, table, url, wait_for

AUTH = {"auth": {"keys": {"AKIDCLI": "value:cli-secret"}}}


def rules(tmp_path):
    return {"orders.json": {"Rules": [
        {"Name": "order-placed", "Description": "orders to the audit file",
         "EventPattern": {"source": ["com.example.orders"], "detail-type": ["Order Placed"]},
         "Targets": [{"Id": "audit", "Arn": "file:%s" % (tmp_path / "audit.jsonl"), "InputPath": "$.detail"}]},
        {"Name": "shop-rule", "EventBusName": "shop", "EventPattern": {"source": ["shop"]},
         "Targets": [{"Id": "t", "Arn": "file:%s" % (tmp_path / "shop.jsonl")}]},
    ]}}


@pytest.fixture(params=["auth", "noauth"])
def events_daemon(request, daemon, tmp_path):
    d = daemon(config=AUTH if request.param == "auth" else {}, rules=rules(tmp_path))
    d.signed = request.param == "auth"
    d.audit = tmp_path / "audit.jsonl"
    d.shop = tmp_path / "shop.jsonl"
    yield d
    assert d.stop() == 0


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def aws(d, *args):
    extra = () if d.signed else ("--no-sign-request",)
    r = aws_cli(d.port, *extra, "events", *args)
    return r


def aws_json(d, *args):
    r = aws(d, *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout) if r.stdout.strip() else {}


def test_put_events(events_daemon):
    d = events_daemon
    entries = [{"Source": "com.example.orders", "DetailType": "Order Placed", "Detail": '{"id": 1}'},
               {"Source": "com.example.orders", "DetailType": "Order Placed", "Detail": "not json"},
               {"DetailType": "Order Placed", "Detail": "{}"},
               {"Source": "shop", "DetailType": "T", "Detail": "{}", "EventBusName": "shop",
                "Time": "2026-12-07T08:47:06Z", "Resources": ["arn:aws:s3:::bucket"]},
               {"Source": "x", "DetailType": "T", "Detail": "{}", "EventBusName": "nope"}]
    out = aws_json(d, "put-events", "--entries", json.dumps(entries))
    assert out["FailedEntryCount"] == 3
    e = out["Entries"]
    assert len(e) == 5
    assert len(e[0]["EventId"]) == 36 and "ErrorCode" not in e[0]
    assert e[1] == {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    assert e[2] == {"ErrorCode": "InvalidArgument",
                    "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument."}
    assert len(e[3]["EventId"]) == 36
    assert e[4] == {"ErrorCode": "ResourceNotFoundException", "ErrorMessage": "Event bus nope does not exist."}
    # the accepted ones reach their rules' targets: the detail (InputPath), the whole event
    wait_for(lambda: lines(d.audit) == [{"id": 1}], "the order in the audit file")
    wait_for(lambda: len(lines(d.shop)) == 1, "the shop event in its file")
    shop = lines(d.shop)[0]
    assert shop["id"] == e[3]["EventId"] and shop["time"] == "2026-12-07T08:47:06Z"
    assert shop["resources"] == ["arn:aws:s3:::bucket"] and shop["region"] == "local"

    eleven = [{"Source": "s", "DetailType": "t", "Detail": "{}"}] * 11
    r = aws(d, "put-events", "--entries", json.dumps(eleven))
    assert r.returncode != 0
    assert "ValidationException" in r.stderr and "Member must have length less than or equal to 10" in r.stderr


def test_test_event_pattern(events_daemon):
    d = events_daemon
    event = {"id": "1", "account": "000000000000", "source": "com.example.orders", "time": "2026-12-07T08:47:06Z",
             "region": "local", "detail-type": "Order Placed", "resources": [], "detail": {"total": 120}}
    pattern = {"source": ["com.example.orders"], "detail": {"total": [{"numeric": [">", 100]}]}}
    assert aws_json(d, "test-event-pattern", "--event-pattern", json.dumps(pattern),
                    "--event", json.dumps(event)) == {"Result": True}
    pattern["detail"]["total"] = [{"numeric": [">", 200]}]
    assert aws_json(d, "test-event-pattern", "--event-pattern", json.dumps(pattern),
                    "--event", json.dumps(event)) == {"Result": False}
    r = aws(d, "test-event-pattern", "--event-pattern", '{"source": "not-a-list"}', "--event", json.dumps(event))
    assert r.returncode != 0 and "InvalidEventPatternException" in r.stderr
    r = aws(d, "test-event-pattern", "--event-pattern", json.dumps(pattern), "--event", '{"source": "x"}')
    assert r.returncode != 0 and "Parameter Event is not valid." in r.stderr


def test_rules_as_aws_prints_them(events_daemon):
    d = events_daemon
    rules = aws_json(d, "list-rules")["Rules"]
    assert rules == [{"Name": "order-placed", "Arn": "arn:aws:events:local:000000000000:rule/order-placed",
                      "EventPattern": '{"source":["com.example.orders"],"detail-type":["Order Placed"]}',
                      "State": "ENABLED", "Description": "orders to the audit file", "EventBusName": "default"}]
    shop = aws_json(d, "list-rules", "--event-bus-name", "shop")["Rules"]
    assert [r["Arn"] for r in shop] == ["arn:aws:events:local:000000000000:rule/shop/shop-rule"]
    assert aws_json(d, "describe-rule", "--name", "order-placed")["Name"] == "order-placed"
    r = aws(d, "describe-rule", "--name", "nope")
    assert r.returncode != 0
    assert "ResourceNotFoundException" in r.stderr and "Rule nope does not exist on EventBus default." in r.stderr
    targets = aws_json(d, "list-targets-by-rule", "--rule", "order-placed")["Targets"]
    assert targets == [{"Id": "audit", "Arn": "file:%s" % d.audit, "InputPath": "$.detail"}]
    buses = aws_json(d, "list-event-buses")["EventBuses"]
    assert [b["Name"] for b in buses] == ["default", "shop"]
    assert buses[0]["Arn"] == "arn:aws:events:local:000000000000:event-bus/default"


def test_tripline_cli_on_the_daemon(events_daemon, cli):
    d = events_daemon
    env = {"TRIPLINE_ACCESS_KEY_ID": "AKIDCLI", "TRIPLINE_SECRET_ACCESS_KEY": "cli-secret"} if d.signed else {}
    ep = ["--endpoint", url(d.port)]
    r = cli("put-events", *ep, "--source", "com.example.orders", "--detail-type", "Order Placed",
            "--detail", '{"id": 2}', env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["FailedEntryCount"] == 0
    wait_for(lambda: lines(d.audit) == [{"id": 2}], "the order in the audit file")
    r = cli("put-events", *ep, "--source", "s", "--detail-type", "t", "--detail", "{}", "--bus", "nope", env=env)
    assert r.returncode == 1
    assert json.loads(r.stdout)["Entries"][0]["ErrorCode"] == "ResourceNotFoundException"
    r = cli("rules", "list", *ep, env=env)
    assert r.returncode == 0, r.stderr
    assert [row[0] for row in table(r.stdout)] == ["NAME", "order-placed"]
    r = cli("rules", "describe", "shop-rule", "--bus", "shop", *ep, env=env)
    assert r.returncode == 0, r.stderr
    assert "file:%s" % d.shop in r.stdout
    assert cli("rules", "describe", "nope", *ep, env=env).returncode == 1
