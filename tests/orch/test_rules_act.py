"""Rules act: events put through the real daemon's EventBridge API reach
rules, and the rules' targets run tasks, rescale services, call HTTP
endpoints and write files — real processes, real HTTP, real files.

Each test waits for conditions (wait_for), never for a fixed time; counts
of tasks come from the API and processes from /proc.
"""
import http.server
import json
import os
import signal
import subprocess
import threading

from tripline_test import ApiError, aws_cli, json_lines, marked_pids, wait_for

EVENTS = "AWSEvents."


def put(d, *entries):
    """PutEvents; entries are (source, detail-type, detail dict[, bus])."""
    body = {"Entries": [{"Source": e[0], "DetailType": e[1], "Detail": json.dumps(e[2]),
                         **({"EventBusName": e[3]} if len(e) > 3 else {})} for e in entries]}
    return d.call("PutEvents", body, target=EVENTS + "PutEvents")


def env_task(mark, family="show"):
    """A definition whose one container prints its environment and exits."""
    return family, [{"name": "main", "image": "local", "command": ["/usr/bin/env"],
                     "environment": [{"name": "TEST_MARK", "value": mark}]}]


def tasks_of(d, family, status="STOPPED"):
    arns = []
    token = None
    while True:
        body = {"family": family, "desiredStatus": status}
        if token:
            body["nextToken"] = token
        out = d.call("ListTasks", body)
        arns += out["taskArns"]
        token = out.get("nextToken")
        if not token:
            return arns


def all_tasks(d, family):
    """Every task of family, each once (one may stop between the two lists)."""
    return sorted(set(tasks_of(d, family, "RUNNING")) | set(tasks_of(d, family, "STOPPED")))


def logs(d, arn):
    out = d.call("GetTaskLogs", {"task": arn}, target="Tripline.GetTaskLogs")
    return "".join(c["log"] for c in out["containers"])


def labelled(d, name, **labels):
    want = ",".join('%s="%s"' % kv for kv in labels.items())
    return d.metric("%s{%s}" % (name, want)) or 0


def rule_task(name, pattern, family, **target):
    t = {"Id": "run", "Arn": "arn:aws:ecs:local:000000000000:cluster/default",
         "EcsParameters": {"TaskDefinitionArn": family}}
    t.update(target)
    return {"Name": name, "EventPattern": pattern, "Targets": [t]}


# ---------------------------------------------------------------- PutEvents → task

def test_put_events_runs_the_task_with_the_transformed_input(daemon, mark):
    override = ('{"containerOverrides":[{"name":"main","environment":'
                '[{"name":"ORDER","value":<order>},{"name":"WHO","value":"<who> ordered"}]}]}')
    rules = {"order.json": rule_task("on-order", {"source": ["shop"], "detail-type": ["Order Placed"]}, "show",
                                     InputTransformer={"InputPathsMap": {"order": "$.detail.id",
                                                                         "who": "$.detail.customer"},
                                                       "InputTemplate": override})}
    d = daemon(rules=rules)
    d.register(*env_task(mark))
    out = put(d, ("shop", "Order Placed", {"id": "A-17", "customer": 'Ann "the" Buyer'}),
              ("shop", "Order Cancelled", {"id": "A-18"}),
              ("", "Order Placed", {"id": "A-19"}))
    assert out["FailedEntryCount"] == 1, out
    assert "EventId" in out["Entries"][0] and "EventId" in out["Entries"][1]
    assert out["Entries"][2]["ErrorCode"] == "InvalidArgument"
    arns = wait_for(lambda: tasks_of(d, "show") or None, "the task to run and stop")
    text = wait_for(lambda: (lambda t: t if "ORDER=" in t else None)(logs(d, arns[0])), "the task's output")
    assert "ORDER=A-17\n" in text
    assert 'WHO=Ann "the" Buyer ordered\n' in text
    # the other entry matched nothing: one task in all, however long we look
    wait_for(lambda: labelled(d, "tripline_rule_matches_total", rule="on-order") == 1, "one match")
    assert len(all_tasks(d, "show")) == 1
    task = d.task(arns[0])
    assert task["startedBy"], task


def test_aws_cli_put_events_with_auth_runs_the_task_once(daemon, mark, tripline_bin):
    rules = {"upload.json": rule_task("thumb", {"source": ["aws.s3"], "detail-type": ["Object Created"]}, "show",
                                      InputTransformer={"InputPathsMap": {"key": "$.detail.object.key"},
                                                        "InputTemplate": '{"containerOverrides":[{"name":"main",'
                                                                         '"environment":[{"name":"OBJECT_KEY",'
                                                                         '"value":<key>}]}]}'})}
    d = daemon(config={"auth": {"keys": {"AKIDCLI": "value:cli-secret"}}}, rules=rules)

    def aws(*args, **kw):
        r = aws_cli(d.port, *args, **kw)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout) if r.stdout.strip() else {}

    def stopped():
        return aws("ecs", "list-tasks", "--family", "show", "--desired-status", "STOPPED")["taskArns"]

    family, containers = env_task(mark)
    aws("ecs", "register-task-definition", "--family", family, "--container-definitions", json.dumps(containers))
    entries = [{"Source": "aws.s3", "DetailType": "Object Created", "Detail": '{"object": {"key": "raw/a b.jpg"}}'},
               {"Source": "aws.s3", "DetailType": "Object Deleted", "Detail": '{"object": {"key": "raw/c.jpg"}}'},
               {"Source": "aws.s3", "DetailType": "Object Created", "Detail": "[1, 2]"}]
    out = aws("events", "put-events", "--entries", json.dumps(entries))
    assert out["FailedEntryCount"] == 1
    assert [("EventId" in e) for e in out["Entries"]] == [True, True, False]
    assert out["Entries"][2] == {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    arns = wait_for(lambda: stopped() or None, "the task to run and stop")
    env = dict(os.environ, TRIPLINE_ACCESS_KEY_ID="AKIDCLI", TRIPLINE_SECRET_ACCESS_KEY="cli-secret")

    def output():
        r = subprocess.run([tripline_bin, "task", "logs", arns[0], "--endpoint", d.url("")],
                           capture_output=True, text=True, env=env, timeout=60)
        return r.stdout if "OBJECT_KEY=" in r.stdout else None
    assert "OBJECT_KEY=raw/a b.jpg\n" in wait_for(output, "the task's output")
    wait_for(lambda: labelled(d, "tripline_target_invocations_total", rule="thumb", target="run",
                              result="success") == 1, "one invocation")
    running = aws("ecs", "list-tasks", "--family", "show")["taskArns"]
    assert len(stopped()) + len(running) == 1   # the deleted object's event matched nothing
    # a wrong secret is refused before anything is put
    bad = aws_cli(d.port, "events", "put-events", "--entries", json.dumps(entries[:1]), secret="wrong")
    assert bad.returncode != 0 and "InvalidSignatureException" in bad.stderr
    assert len(stopped()) == 1


# ---------------------------------------------------------------- a task's failure notifies

class Recorder(http.server.BaseHTTPRequestHandler):
    """Records each request's body; answers with the server's `status`."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.bodies.append(json.loads(body))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def recorder(status=200):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    srv.bodies = []
    srv.status = status
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_a_failed_task_notifies_an_http_endpoint(daemon, mark):
    srv = recorder()
    try:
        pattern = {"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"],
                   "detail": {"lastStatus": ["STOPPED"],
                              "containers": {"exitCode": [{"anything-but": 0}]}}}
        tpl = '{"task": <task>, "exit": <code>}'
        rules = {"notify.json": {"Name": "notify", "EventPattern": pattern, "Targets": [{
            "Id": "hook", "Arn": "http://127.0.0.1:%d/failed" % srv.server_address[1],
            "InputTransformer": {"InputPathsMap": {"task": "$.detail.taskArn",
                                                   "code": "$.detail.containers[0].exitCode"},
                                 "InputTemplate": tpl}}]}}
        d = daemon(rules=rules)
        d.register("fails", [{"name": "main", "image": "local", "command": ["/bin/false"],
                              "environment": [{"name": "TEST_MARK", "value": mark}]}])
        d.register("works", [{"name": "main", "image": "local", "command": ["/bin/true"],
                              "environment": [{"name": "TEST_MARK", "value": mark}]}])
        bad = d.call("RunTask", {"taskDefinition": "fails"})["tasks"][0]["taskArn"]
        good = d.call("RunTask", {"taskDefinition": "works"})["tasks"][0]["taskArn"]
        d.wait_task(good, "STOPPED")
        wait_for(lambda: srv.bodies, "the notification")
        assert srv.bodies[0] == {"task": bad, "exit": 1}
        # the successful task's STOPPED event was matched too, and refused by
        # the pattern: still exactly one delivery once both are final
        wait_for(lambda: labelled(d, "tripline_target_invocations_total", rule="notify", target="hook",
                                  result="success") == 1, "one delivery")
        assert len(srv.bodies) == 1
    finally:
        srv.shutdown()


# ---------------------------------------------------------------- loop protection

def test_a_rule_that_reacts_to_its_own_tasks_is_stopped(daemon, mark):
    start = rule_task("start", {"source": ["test"]}, "loop")
    again = rule_task("again", {"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"],
                                "detail": {"lastStatus": ["STOPPED"],
                                           "taskDefinitionArn": [{"suffix": ":task-definition/loop:1"}]}},
                      "loop")
    d = daemon(rules={"start.json": start, "again.json": again})
    d.register("loop", [{"name": "main", "image": "local", "command": ["/bin/true"],
                         "environment": [{"name": "TEST_MARK", "value": mark}]}])
    d.expect_drops("loop")
    put(d, ("test", "go", {}))
    # task k's events are at depth k; past limits.max_event_depth (8) they are refused
    wait_for(lambda: labelled(d, "tripline_events_dropped_total", reason="loop") >= 1, "the loop to be cut")
    wait_for(lambda: len(tasks_of(d, "loop")) == 9 or None, "nine tasks, all stopped")
    assert "causal depth 9 is past limits.max_event_depth (8)" in d.log_text()
    assert len(all_tasks(d, "loop")) == 9


# ---------------------------------------------------------------- kill -9 after the answer

def test_kill_after_the_answer_loses_nothing_and_runs_each_task_once(daemon, mark):
    rules = {"r.json": rule_task("each", {"source": ["batch"]}, "show", InputTransformer={
        "InputPathsMap": {"n": "$.detail.n"},
        "InputTemplate": '{"containerOverrides":[{"name":"main","environment":[{"name":"N","value":"<n>"}]}]}'})}
    d = daemon(rules=rules)
    d.register(*env_task(mark))
    out = put(d, *[("batch", "item", {"n": i}) for i in range(10)])
    assert out["FailedEntryCount"] == 0
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.start()
    arns = wait_for(lambda: (lambda a: a if len(a) >= 10 else None)(all_tasks(d, "show")), "ten tasks")
    # every event made exactly one task, with its value in the overrides;
    # a task caught by the kill between its clone and its exec is reported
    # stopped (TaskFailedToStart) after the restart, and is still that one
    seen = []
    for arn in arns:
        task = d.wait_task(arn, "STOPPED")
        env = task["overrides"]["containerOverrides"][0]["environment"]
        seen += [e["value"] for e in env if e["name"] == "N"]
        if task.get("stopCode") != "TaskFailedToStart":
            text = wait_for(lambda: (lambda t: t if "N=" in t else None)(logs(d, arn)), "output of " + arn)
            assert "N=%s\n" % seen[-1] in text
    assert sorted(seen, key=int) == [str(i) for i in range(10)]
    assert len(all_tasks(d, "show")) == 10


# ---------------------------------------------------------------- UpdateService from events

def test_events_rescale_a_service(daemon, mark):
    def scale(name, dtype, count, **extra):
        ecs = {"Action": "UpdateService", "Service": "worker", "DesiredCount": count,
               "MinCapacity": 1, "MaxCapacity": 4}
        ecs.update(extra)
        return {"Name": name, "EventPattern": {"source": ["queue"], "detail-type": [dtype]},
                "Targets": [{"Id": "scale", "Arn": "cluster/default", "EcsParameters": ecs}]}
    rules = {"abs.json": scale("set-two", "set", 2), "up.json": scale("up", "up", "+1"),
             "down.json": scale("down", "down", "-1"), "path.json": scale("depth", "depth", "$.detail.want")}
    d = daemon(rules=rules)
    d.register("work", [dict(image="local", name="main", command=["/bin/sleep", "1000"],
                             environment=[{"name": "TEST_MARK", "value": mark}])])
    d.call("CreateService", {"serviceName": "worker", "taskDefinition": "work", "desiredCount": 1})

    def settles(n):
        wait_for(lambda: d.service("worker")["desiredCount"] == n, "desired count %d" % n)
        wait_for(lambda: len(marked_pids(mark)) == n, "%d processes" % n)

    settles(1)
    put(d, ("queue", "set", {}))
    settles(2)
    put(d, ("queue", "up", {}))
    settles(3)
    put(d, ("queue", "up", {}), ("queue", "up", {}))   # 5, clamped to 4
    settles(4)
    put(d, ("queue", "depth", {"want": 0}))             # clamped to 1
    settles(1)
    put(d, ("queue", "down", {}))                        # stays at the minimum
    wait_for(lambda: labelled(d, "tripline_rule_matches_total", rule="down") == 1, "the match")
    wait_for(lambda: labelled(d, "tripline_target_invocations_total", rule="down", target="scale",
                              result="success") == 1, "the update")
    settles(1)
    put(d, ("queue", "depth", {"want": 3}))
    settles(3)


# ---------------------------------------------------------------- file targets, dedup, rate limits, reloads

def file_rule(name, path, pattern=None, **target):
    t = {"Id": "out", "Arn": "file:%s" % path}
    t.update(target)
    return {"Name": name, "EventPattern": pattern or {"source": ["app"]}, "Targets": [t]}


def lines(path):
    return json_lines(path)


def test_dedup_and_rate_limit_in_memory(daemon, tmp_path):
    dedup_out, rate_out = tmp_path / "dedup.jsonl", tmp_path / "rate.jsonl"
    rules = {"d.json": file_rule("dedup", dedup_out, {"source": ["d"]},
                                 Dedup={"Key": "$.detail.k", "WindowSeconds": 600}),
             "r.json": file_rule("rate", rate_out, {"source": ["r"]}, RateLimit={"PerSecond": 1, "Burst": 1},
                                 RetryPolicy={"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 3600})}
    d = daemon(rules=rules)
    put(d, ("d", "x", {"k": 1}), ("d", "x", {"k": 1}), ("d", "x", {"k": 2}), ("d", "x", {"k": 1}))
    wait_for(lambda: labelled(d, "tripline_target_invocations_total", rule="dedup", target="out",
                              result="dedup") == 2, "two duplicates")
    wait_for(lambda: len(lines(dedup_out)) == 2, "two lines")
    assert sorted(x["detail"]["k"] for x in lines(dedup_out)) == [1, 2]
    put(d, *[("r", "x", {"i": i}) for i in range(5)])
    wait_for(lambda: len(lines(rate_out)) == 5, "every rate-limited event, in time", deadline=120)
    assert sorted(x["detail"]["i"] for x in lines(rate_out)) == list(range(5))
    assert labelled(d, "tripline_target_invocations_total", rule="rate", target="out", result="throttled") >= 1
    assert "tripline_events_dropped_total" not in [ln.split("{")[0] for ln in d.metrics().splitlines()
                                                   if not ln.startswith("#") and not ln.endswith(" 0")]


def test_reload_under_load_loses_no_event(daemon, tmp_path):
    out = tmp_path / "out.jsonl"
    d = daemon(rules={"a.json": file_rule("version-a", out)})
    accepted = []
    stop = threading.Event()

    def producer():
        i = 0
        while not stop.is_set():
            r = put(d, *[("app", "tick", {"i": i + k}) for k in range(10)])
            accepted.extend(i + k for k, e in enumerate(r["Entries"]) if "EventId" in e)
            i += 10

    t = threading.Thread(target=producer)
    t.start()
    try:
        for n in range(6):
            name = "version-%s" % ("b" if n % 2 == 0 else "a")
            path = d.rules_dir / "a.json"
            tmp = d.rules_dir / ".a.json.tmp"
            tmp.write_text(json.dumps(file_rule(name, out)))
            os.rename(tmp, path)
            wait_for(lambda: d.metric('tripline_rule_reloads_total{result="ok"}') >= n + 1, "reload %d" % n)
    finally:
        stop.set()
        t.join()
    assert accepted
    wait_for(lambda: len(lines(out)) >= len(accepted), "every accepted event written", deadline=120)
    got = [x["detail"]["i"] for x in lines(out)]
    assert sorted(got) == sorted(accepted)   # each exactly once: one rule version matched it
    assert d.metric('tripline_rule_reloads_total{result="failed"}') == 0


def test_a_bad_reload_keeps_the_rules(daemon, tmp_path):
    out = tmp_path / "out.jsonl"
    d = daemon(rules={"a.json": file_rule("keep", out)})
    (d.rules_dir / "b.json").write_text('{"Name": "broken", "State": "MAYBE"}')
    wait_for(lambda: d.metric('tripline_rule_reloads_total{result="failed"}') == 1, "the failed reload")
    assert "b.json: /State:" in d.log_text()
    put(d, ("app", "x", {"still": True}))
    wait_for(lambda: lines(out), "the old rule still acting")
    try:
        d.call("DescribeRule", {"Name": "broken"}, target=EVENTS + "DescribeRule")
        raise AssertionError("the broken rule was loaded")
    except ApiError as e:
        assert e.status == 400 and e.type == "ResourceNotFoundException"
    os.kill(d.proc.pid, signal.SIGHUP)
    wait_for(lambda: d.metric('tripline_rule_reloads_total{result="failed"}') == 2, "SIGHUP's reload")
    d.wait_ready()   # still serving


def test_a_bus_target_forwards_the_event_to_the_other_bus(daemon, tmp_path):
    out = tmp_path / "orders.jsonl"
    fwd = {"Name": "forward", "EventPattern": {"source": ["shop"]},
           "Targets": [{"Id": "to-orders", "Arn": "arn:aws:events:local:000000000000:event-bus/orders"}]}
    there = dict(file_rule("on-orders", out, {"source": ["shop"]}), EventBusName="orders")
    d = daemon(config={"buses": ["orders"]}, rules={"f.json": fwd, "o.json": there})
    ids = [e["EventId"] for e in put(d, ("shop", "Order Placed", {"n": 1}))["Entries"]]
    wait_for(lambda: lines(out), "the forwarded event")
    got = lines(out)
    assert len(got) == 1 and got[0]["id"] == ids[0] and got[0]["detail"] == {"n": 1}
    # journalled like any accepted event: one for PutEvents, one for the forward
    wait_for(lambda: d.metric("tripline_journal_events") == 0, "both events complete")
    assert labelled(d, "tripline_journal_appends_total", result="ok") == 2
    assert labelled(d, "tripline_events_total", bus="orders", source="shop") == 1
