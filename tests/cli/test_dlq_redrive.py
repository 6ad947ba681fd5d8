"""Dead letters end to end, on the real daemon with a real HTTP target: a
local HTTP server answering 500 makes the dispatch retry with backoff, then
write a dead-letter line with every attribute of EventBridge's; once the
server recovers, `tripline dlq redrive` delivers the event once (its own
rule and target only, its original id), and a second redrive sends
nothing. An unknown rule is refused with ResourceNotFoundException.
Dedup and RateLimit in the in-memory store, through PutEvents.

These need the dispatcher wired into `tripline serve` (serve.c).
"""
import http.server
import json
import threading

import pytest

from tripline_test import ApiError, wait_for

OP = "Tripline.RedriveDeadLetter"


class Hook:
    """An HTTP endpoint that records what it receives and answers `status`."""

    def __init__(self):
        self.received = []
        self.status = 500
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                hook.received.append((hook.status, self.rfile.read(n)))
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def put(d, detail):
    answer = d.call(None, {"Entries": [{"Source": "shop", "DetailType": "Order Placed",
                                        "Detail": json.dumps(detail)}]}, target="AWSEvents.PutEvents")
    assert answer["FailedEntryCount"] == 0, answer
    return answer["Entries"][0]["EventId"]


def file_lines(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_http_target_500_dead_letter_then_redrive_once(daemon, hook, cli, tmp_path):
    dlq = tmp_path / "dlq.jsonl"
    rules = {"orders.json": {"Rules": [
        {"Name": "orders", "EventPattern": {"source": ["shop"]},
         "Targets": [{"Id": "hook", "Arn": "http://127.0.0.1:%d/orders" % hook.port,
                      "RetryPolicy": {"MaximumRetryAttempts": 2},
                      "DeadLetterConfig": {"Arn": "file:" + str(dlq)}}]},
        {"Name": "other", "EventPattern": {"source": ["shop"]},
         "Targets": [{"Id": "audit", "Arn": "file:" + str(tmp_path / "audit.jsonl")}]},
    ]}}
    d = daemon(rules=rules)
    event_id = put(d, {"order": 7})

    (line,) = wait_for(lambda: file_lines(dlq), "the dead-letter line")
    assert len(hook.received) == 3   # the first attempt and 2 retries, each answered 500
    assert line["event"]["id"] == event_id
    assert line["event"]["detail"] == {"order": 7}
    assert line["RULE_ARN"] == "arn:aws:events:local:000000000000:rule/orders"
    assert line["TARGET_ARN"] == "http://127.0.0.1:%d/orders" % hook.port
    assert line["ERROR_CODE"] and line["ERROR_MESSAGE"]
    assert line["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert line["RETRY_ATTEMPTS"] == 2
    assert (line["rule"], line["target_id"], line["bus"]) == ("orders", "hook", "default")
    audit_before = (tmp_path / "audit.jsonl").read_text()
    assert wait_for(lambda: d.metric('tripline_target_invocations_total{rule="orders",target="hook",'
                                     'result="dead_letter"}') == 1, "the dead_letter count")
    assert d.metric('tripline_target_invocations_total{rule="orders",target="hook",result="retry"}') == 2

    hook.status = 200   # the endpoint recovers
    r = cli("dlq", "redrive", str(dlq), "--endpoint", d.url(""))
    assert r.returncode == 0, r.stderr
    assert "1 redriven, 0 already redriven, 0 refused" in r.stdout
    wait_for(lambda: len(hook.received) == 4, "the redriven delivery")
    status, body = hook.received[3]
    assert status == 200 and json.loads(body)["id"] == event_id   # its original id
    assert (tmp_path / "audit.jsonl").read_text() == audit_before   # the other rule saw nothing again

    r = cli("dlq", "redrive", str(dlq), "--endpoint", d.url(""))
    assert r.returncode == 0, r.stderr
    assert "0 redriven, 1 already redriven, 0 refused" in r.stdout
    assert wait_for(lambda: d.metric('tripline_target_invocations_total{rule="orders",target="hook",'
                                     'result="success"}') == 1, "the success count")
    assert len(hook.received) == 4
    r = cli("dlq", "list", str(dlq))
    assert r.returncode == 0 and " yes " in r.stdout
    assert d.stop() == 0


def test_redrive_unknown_rule_refused(daemon, tmp_path):
    d = daemon(rules={"r.json": {"Name": "r", "EventPattern": {"source": ["x"]},
                                 "Targets": [{"Id": "t", "Arn": "file:" + str(tmp_path / "out.jsonl")}]}})
    event = json.dumps({"version": "0", "id": "ev-1", "detail-type": "T", "source": "x",
                        "account": "000000000000", "time": "2026-12-07T08:47:06Z", "region": "local",
                        "resources": [], "detail": {}}, separators=(",", ":"))
    for rule, target, message in [("nope", "t", "Rule nope does not exist."),
                                  ("r", "nope", "Target nope does not exist on rule r.")]:
        with pytest.raises(ApiError) as e:
            d.call(None, {"Event": event, "RuleName": rule, "TargetId": target}, target=OP)
        assert e.value.status == 400
        assert e.value.type == "ResourceNotFoundException"
        assert e.value.body["message"] == message
    with pytest.raises(ApiError) as e:
        d.call(None, {"Event": "[1]", "RuleName": "r", "TargetId": "t"}, target=OP)
    assert e.value.type == "ValidationException"
    answer = d.call(None, {"Event": event, "RuleName": "r", "TargetId": "t"}, target=OP)
    assert answer == {"EventId": "ev-1", "RuleName": "r", "TargetId": "t"}
    wait_for(lambda: (tmp_path / "out.jsonl").exists() and "ev-1" in (tmp_path / "out.jsonl").read_text(),
             "the redriven event in the file target")
    assert d.stop() == 0



def test_dedup_and_rate_limit_in_memory(daemon, tmp_path):
    out, limited, dlq = tmp_path / "out.jsonl", tmp_path / "limited.jsonl", tmp_path / "dlq.jsonl"
    rules = {"r.json": {"Rules": [
        {"Name": "dedup", "EventPattern": {"source": ["shop"], "detail-type": ["Order Placed"]},
         "Targets": [{"Id": "once", "Arn": "file:" + str(out), "InputPath": "$.detail",
                      "Dedup": {"Key": "$.detail.order", "WindowSeconds": 600}}]},
        # one token per 1000 s: the first event passes, the next are THROTTLING with no retries left
        {"Name": "limited", "EventPattern": {"source": ["shop"], "detail-type": ["Tick"]},
         "Targets": [{"Id": "slow", "Arn": "file:" + str(limited), "InputPath": "$.detail",
                      "RateLimit": {"PerSecond": 0.001, "Burst": 1},
                      "RetryPolicy": {"MaximumRetryAttempts": 0},
                      "DeadLetterConfig": {"Arn": "file:" + str(dlq)}}]},
    ]}}
    d = daemon(rules=rules)
    for order in (1, 1, 2, 1):
        put(d, {"order": order})
    for n in range(3):
        d.call(None, {"Entries": [{"Source": "shop", "DetailType": "Tick", "Detail": json.dumps({"n": n})}]},
               target="AWSEvents.PutEvents")
    wait_for(lambda: d.metric('tripline_target_invocations_total{rule="dedup",target="once",result="dedup"}') == 2,
             "two duplicates")
    wait_for(lambda: len(file_lines(out)) == 2, "two deliveries")
    assert sorted(o["order"] for o in file_lines(out)) == [1, 2]
    wait_for(lambda: len(file_lines(dlq)) == 2, "two throttled dead letters")
    assert len(file_lines(limited)) == 1
    for line in file_lines(dlq):
        assert line["ERROR_CODE"] == "THROTTLING"
        assert line["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert d.metric('tripline_target_invocations_total{rule="limited",target="slow",result="throttled"}') == 2
    assert d.stop() == 0
