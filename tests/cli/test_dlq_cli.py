"""`tripline dlq list|redrive`: a dead-letter file (the line format of
engine/README.md, "Dispatch and dead letters") read locally, and its dead letters
redriven through Tripline.RedriveDeadLetter.

`list` reads the file alone (no daemon). `redrive` runs against a
recording fake endpoint (test_cli_remote.FakeEcs): the exact request for
each dead letter (the envelope's own bytes, its rule and target only), the
FILE.redriven record that makes a second run skip what was done, --rule,
and the exit codes (0 all accepted, 1 some refused, 2 bad input, 3 no
answer). The whole loop through the real daemon (an HTTP target failing,
its dead letter, a redrive delivering once) is test_dlq_redrive.py.
"""
import hashlib
import json

import pytest

from test_cli_remote import FakeEcs
from tripline_test import dead_port, table, url

OP = "Tripline.RedriveDeadLetter"

EVENT_1 = ('{"version":"0","id":"ev-1","detail-type":"Order Placed","source":"shop","account":"000000000000",'
           '"time":"2026-12-07T08:47:06Z","region":"local","resources":[],"detail":{"n":1.50e2}}')
EVENT_2 = ('{"version":"0","id":"ev-2","detail-type":"Order Placed","source":"shop","account":"000000000000",'
           '"time":"2026-12-07T08:47:07Z","region":"local","resources":[],"detail":{}}')


def line(event, rule, target, code, message, exhausted, retries, when):
    attrs = {"RULE_ARN": "arn:aws:events:local:000000000000:rule/" + rule,
             "TARGET_ARN": "http://127.0.0.1:9/hook", "ERROR_CODE": code, "ERROR_MESSAGE": message}
    if exhausted:
        attrs["EXHAUSTED_RETRY_CONDITION"] = exhausted
    attrs.update({"RETRY_ATTEMPTS": retries, "rule": rule, "target_id": target, "bus": "default", "time": when})
    # as the daemon writes it: the envelope's bytes spliced in verbatim
    return '{"event":' + event + "," + json.dumps(attrs, separators=(",", ":"))[1:]


LINE_1 = line(EVENT_1, "orders", "hook", "SDK_CLIENT_ERROR", "HTTP status 500", "MaximumRetryAttempts", 3,
              "2026-12-07T08:50:00.123Z")
LINE_2 = line(EVENT_2, "audit", "log", "INVALID_PARAMETER", "no such task definition", None, 0,
              "2026-12-07T08:51:00.000Z")


def key(text):
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def dlq(tmp_path):
    f = tmp_path / "dlq.jsonl"
    # the last line torn by a crash in the middle of a write
    f.write_text(LINE_1 + "\n" + LINE_2 + "\n" + '{"event":{"version":"0","id":"ev-3"')
    return f


@pytest.fixture
def fake():
    f = FakeEcs()
    yield f
    f.close()


def test_list_table(cli, dlq):
    r = cli("dlq", "list", str(dlq))
    assert r.returncode == 0, r.stderr
    rows = table(r.stdout)
    assert rows[0] == ["TIME", "RULE", "TARGET", "EVENT ID", "ERROR CODE", "RETRIES", "EXHAUSTED", "REDRIVEN",
                       "MESSAGE"]
    assert rows[1] == ["2026-12-07T08:50:00.123Z", "orders", "hook", "ev-1", "SDK_CLIENT_ERROR", "3",
                       "MaximumRetryAttempts", "no", "HTTP status 500"]
    assert rows[2] == ["2026-12-07T08:51:00.000Z", "audit", "log", "ev-2", "INVALID_PARAMETER", "0", "-", "no",
                       "no such task definition"]
    assert len(rows) == 3
    assert "dlq.jsonl:3: not a dead-letter line, skipped" in r.stderr


def test_list_json_and_redriven_mark(cli, dlq):
    (dlq.parent / "dlq.jsonl.redriven").write_text(key(LINE_2) + "\n")
    r = cli("dlq", "list", str(dlq), "--output", "json")
    assert r.returncode == 0, r.stderr
    letters = json.loads(r.stdout)["DeadLetters"]
    assert [d["event"]["id"] for d in letters] == ["ev-1", "ev-2"]
    assert [d["redriven"] for d in letters] == [False, True]
    first = letters[0]
    assert first["RULE_ARN"] == "arn:aws:events:local:000000000000:rule/orders"
    assert first["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert first["RETRY_ATTEMPTS"] == 3
    assert "EXHAUSTED_RETRY_CONDITION" not in letters[1]
    r = cli("dlq", "list", str(dlq))
    assert [row[7] for row in table(r.stdout)[1:]] == ["no", "yes"]


def test_list_missing_file_exits_2(cli, tmp_path):
    r = cli("dlq", "list", str(tmp_path / "nope.jsonl"))
    assert r.returncode == 2
    assert "tripline dlq list: " in r.stderr and "nope.jsonl: No such file or directory" in r.stderr


def test_list_empty_file(cli, tmp_path):
    f = tmp_path / "dlq.jsonl"
    f.write_text("")
    r = cli("dlq", "list", str(f))
    assert r.returncode == 0, r.stderr
    assert table(r.stdout) == [["TIME", "RULE", "TARGET", "EVENT ID", "ERROR CODE", "RETRIES", "EXHAUSTED",
                                "REDRIVEN", "MESSAGE"]]


def test_usage_errors(cli, dlq):
    r = cli("dlq", "list")
    assert r.returncode == 2
    r = cli("dlq", "list", str(dlq), "--rule", "x")
    assert r.returncode == 2 and "--rule" in r.stderr
    r = cli("dlq", "bogus", str(dlq))
    assert r.returncode == 2


def answer_ok(body):
    ev = json.loads(body["Event"])
    return 200, {"EventId": ev["id"], "RuleName": body["RuleName"], "TargetId": body["TargetId"]}


def test_redrive_requests_and_record(cli, dlq, fake):
    fake.answers[OP] = answer_ok
    r = cli("dlq", "redrive", str(dlq), "--endpoint", url(fake.port))
    assert r.returncode == 0, r.stderr
    bodies = fake.bodies(OP)
    # each to its own rule and target, the envelope's own bytes (1.50e2 kept)
    assert bodies == [{"Event": EVENT_1, "RuleName": "orders", "TargetId": "hook", "EventBusName": "default"},
                      {"Event": EVENT_2, "RuleName": "audit", "TargetId": "log", "EventBusName": "default"}]
    assert "redriven: event ev-1 to rule orders target hook" in r.stdout
    assert "2 redriven, 0 already redriven, 0 refused" in r.stdout
    assert (dlq.parent / "dlq.jsonl.redriven").read_text() == key(LINE_1) + "\n" + key(LINE_2) + "\n"
    # a second run redrives nothing
    r = cli("dlq", "redrive", str(dlq), "--endpoint", url(fake.port))
    assert r.returncode == 0, r.stderr
    assert len(fake.bodies(OP)) == 2
    assert "0 redriven, 2 already redriven, 0 refused" in r.stdout


def test_redrive_one_rule(cli, dlq, fake):
    fake.answers[OP] = answer_ok
    r = cli("dlq", "redrive", str(dlq), "--rule", "audit", "--endpoint", url(fake.port))
    assert r.returncode == 0, r.stderr
    assert [b["RuleName"] for b in fake.bodies(OP)] == ["audit"]
    assert (dlq.parent / "dlq.jsonl.redriven").read_text() == key(LINE_2) + "\n"
    # the rest later
    r = cli("dlq", "redrive", str(dlq), "--endpoint", url(fake.port))
    assert [b["RuleName"] for b in fake.bodies(OP)] == ["audit", "orders"]
    assert "1 redriven, 1 already redriven, 0 refused" in r.stdout


def test_redrive_refused_one_goes_on_and_exits_1(cli, dlq, fake):
    def answer(body):
        if body["RuleName"] == "orders":
            return 400, {"__type": "ResourceNotFoundException", "message": "Rule orders does not exist."}
        return answer_ok(body)
    fake.answers[OP] = answer
    r = cli("dlq", "redrive", str(dlq), "--endpoint", url(fake.port))
    assert r.returncode == 1
    assert "ResourceNotFoundException" in r.stderr and "Rule orders does not exist." in r.stderr
    assert "1 redriven, 0 already redriven, 1 refused" in r.stdout
    # only the accepted one is recorded: the refused one is tried again next time
    assert (dlq.parent / "dlq.jsonl.redriven").read_text() == key(LINE_2) + "\n"


def test_redrive_no_answer_exits_3(cli, dlq, tmp_path):
    r = cli("dlq", "redrive", str(dlq), "--endpoint", url(dead_port()))
    assert r.returncode == 3
    assert not (tmp_path / "dlq.jsonl.redriven").exists()


def test_redrive_signed_for_ecs(cli, dlq, fake):
    fake.answers[OP] = answer_ok
    r = cli("dlq", "redrive", str(dlq), "--endpoint", url(fake.port),
            env={"TRIPLINE_ACCESS_KEY_ID": "AKIDEV", "TRIPLINE_SECRET_ACCESS_KEY": "s3cr3t"})
    assert r.returncode == 0, r.stderr
    auth = fake.requests[0]["headers"]["Authorization"]
    assert "Credential=AKIDEV/" in auth and "/local/ecs/aws4_request" in auth
