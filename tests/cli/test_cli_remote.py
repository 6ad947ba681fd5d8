"""The CLI over the API: `tripline taskdef|task|service` against a daemon.

Two kinds of peer:
- the real daemon (the `daemon` fixture: the real binary on a free port), for
  task definitions, signing with a configured key, endpoint precedence;
- a recording fake ECS endpoint (a small HTTP server in this process), for
  the exact requests every subcommand sends (shapes, headers, signing scope),
  the tables it prints from ECS-shaped answers, and how it treats 5xx,
  non-JSON and oversized answers.

Exit codes: 0 ok, 1 failures in the answer, 2 usage error or 4xx, 3 no
answer or 5xx. Nothing here sleeps for a fixed time; daemons are polled.
"""
import http.server
import json
import os
import re
import socket
import subprocess
import threading

import pytest

from tripline_test import ARN, ECS, dead_port, table, url

SECRET = "s3cr3t-key-value"

TD = {"family": "demo",
      "containerDefinitions": [{"name": "main", "command": ["/bin/echo", "hello world"], "memory": 64},
                               {"name": "side", "command": ["/bin/true"], "essential": False}]}


# ---------------------------------------------------------------- task definitions, real daemon

def test_taskdef_register_list_describe(daemon, cli, tmp_path):
    d = daemon()
    ep = ["--endpoint", url(d.port)]
    f = tmp_path / "td.json"
    f.write_text(json.dumps(TD))

    r = cli("taskdef", "register", str(f), *ep)
    assert r.returncode == 0, r.stderr
    rows = table(r.stdout)
    assert rows[0] == ["DEFINITION", "STATUS", "CPU", "MEMORY", "REGISTERED", "ARN"]
    assert rows[1][0] == "demo:1" and rows[1][1] == "ACTIVE"
    assert rows[1][-1] == ARN + "task-definition/demo:1"
    assert rows[2] == ["CONTAINER", "IMAGE", "CPU", "MEMORY", "ESSENTIAL", "COMMAND"]
    assert rows[3][0] == "main" and rows[3][-1] == "/bin/echo 'hello world'"
    assert rows[4][0] == "side" and rows[4][4] == "no"

    # from stdin, JSON output: the daemon's answer as it is
    r = cli("taskdef", "register", "-", "--output", "json", *ep, stdin=json.dumps(TD))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["taskDefinition"]["revision"] == 2
    assert out["taskDefinition"]["containerDefinitions"][0]["command"] == ["/bin/echo", "hello world"]
    assert r.stdout.startswith("{\n  \"")          # indented

    r = cli("taskdef", "list", *ep)
    assert r.returncode == 0, r.stderr
    assert table(r.stdout) == [["FAMILY", "REVISION", "ARN"],
                               ["demo", "1", ARN + "task-definition/demo:1"],
                               ["demo", "2", ARN + "task-definition/demo:2"]]
    r = cli("taskdef", "list", "--output", "json", *ep)
    assert json.loads(r.stdout) == {"taskDefinitionArns": [ARN + "task-definition/demo:1",
                                                           ARN + "task-definition/demo:2"]}
    r = cli("taskdef", "list", "--family-prefix", "nomatch", "--output", "json", *ep)
    assert (r.returncode, json.loads(r.stdout)) == (0, {"taskDefinitionArns": []})
    r = cli("taskdef", "list", "--status", "INACTIVE", *ep)
    assert (r.returncode, table(r.stdout)) == (0, [["FAMILY", "REVISION", "ARN"]])

    r = cli("taskdef", "describe", "demo", *ep)
    assert r.returncode == 0, r.stderr
    assert table(r.stdout)[1][0] == "demo:2"
    r = cli("taskdef", "describe", "demo:1", "--output", "json", *ep)
    assert json.loads(r.stdout)["taskDefinition"]["revision"] == 1

    # the daemon refuses: 4xx → exit 2 with its error type and message
    r = cli("taskdef", "describe", "nope", *ep)
    assert r.returncode == 2
    assert "ClientException" in r.stderr and r.stdout == ""


def test_taskdef_register_bad_input(daemon, cli, tmp_path):
    d = daemon()
    ep = ["--endpoint", url(d.port)]
    bad = tmp_path / "bad.json"
    bad.write_text('{"family": "x",\n "containerDefinitions": [}')
    r = cli("taskdef", "register", str(bad), *ep)
    assert r.returncode == 2
    assert "bad.json: invalid JSON at line 2" in r.stderr
    bad.write_text("[1, 2]")
    r = cli("taskdef", "register", str(bad), *ep)
    assert r.returncode == 2 and "must be a JSON object" in r.stderr
    r = cli("taskdef", "register", str(tmp_path / "missing.json"), *ep)
    assert r.returncode == 2 and "missing.json" in r.stderr
    # the daemon's validation: every error with its pointer, exit 2
    r = cli("taskdef", "register", "-", *ep,
            stdin=json.dumps({"family": "x y", "containerDefinitions": [{"name": "main", "memory": 1}]}))
    assert r.returncode == 2
    assert "ClientException" in r.stderr
    assert "/family: " in r.stderr and "/containerDefinitions/0/memory: " in r.stderr


# ---------------------------------------------------------------- signing, real daemon

def test_signing_with_configured_key(daemon, cli):
    d = daemon(config={"auth": {"keys": {"AKIDTEST": "value:" + SECRET}}})
    ep = ["--endpoint", url(d.port)]
    right = {"TRIPLINE_ACCESS_KEY_ID": "AKIDTEST", "TRIPLINE_SECRET_ACCESS_KEY": SECRET}

    r = cli("taskdef", "list", *ep, env=right)
    assert r.returncode == 0, r.stderr
    assert table(r.stdout) == [["FAMILY", "REVISION", "ARN"]]

    r = cli("taskdef", "list", *ep, env={"TRIPLINE_ACCESS_KEY_ID": "AKIDTEST",
                                         "TRIPLINE_SECRET_ACCESS_KEY": "wrong-secret"})
    assert r.returncode == 2
    assert "InvalidSignatureException" in r.stderr

    r = cli("taskdef", "list", *ep)                     # unsigned
    assert r.returncode == 2
    assert "MissingAuthenticationTokenException" in r.stderr

    r = cli("taskdef", "list", *ep, env={"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": SECRET})
    assert r.returncode == 0, r.stderr

    # TRIPLINE_* comes before AWS_*: a wrong TRIPLINE_ key is used, and refused
    r = cli("taskdef", "list", *ep, env={"TRIPLINE_ACCESS_KEY_ID": "AKIDTEST",
                                         "TRIPLINE_SECRET_ACCESS_KEY": "wrong-secret",
                                         "AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": SECRET})
    assert r.returncode == 2 and "InvalidSignatureException" in r.stderr

    # --config: endpoint from listen and the key from auth.keys
    r = cli("taskdef", "register", "-", "--config", str(d.config), stdin=json.dumps(TD))
    assert r.returncode == 0, r.stderr
    r = cli("--config", str(d.config), "taskdef", "list")   # the command comes first
    assert r.returncode == 2
    r = cli("taskdef", "--config", str(d.config), "list")   # common options before the subcommand
    assert r.returncode == 0, r.stderr
    assert table(r.stdout)[1][0] == "demo"

    # the secret is never printed, whatever happens
    for env in (right, {"TRIPLINE_ACCESS_KEY_ID": "AKIDTEST", "TRIPLINE_SECRET_ACCESS_KEY": SECRET + "x"}):
        r = cli("taskdef", "describe", "nope", *ep, env=env)
        assert r.returncode == 2
        assert SECRET not in r.stdout + r.stderr


def test_half_a_key_pair_is_a_usage_error(cli):
    ep = ["--endpoint", url(dead_port())]
    r = cli("taskdef", "list", *ep, env={"TRIPLINE_ACCESS_KEY_ID": "AKID"})
    assert r.returncode == 2
    assert "TRIPLINE_SECRET_ACCESS_KEY" in r.stderr
    r = cli("taskdef", "list", *ep, env={"AWS_SECRET_ACCESS_KEY": "x"})
    assert r.returncode == 2
    assert "AWS_ACCESS_KEY_ID" in r.stderr


# ---------------------------------------------------------------- endpoints

def test_endpoint_precedence(daemon, cli):
    d = daemon()
    good, dead = url(d.port), url(dead_port())

    r = cli("taskdef", "list", env={"TRIPLINE_ENDPOINT": good})
    assert r.returncode == 0, r.stderr
    # --endpoint beats TRIPLINE_ENDPOINT, either way round
    r = cli("taskdef", "list", "--endpoint", dead, env={"TRIPLINE_ENDPOINT": good})
    assert r.returncode == 3 and dead in r.stderr
    r = cli("taskdef", "list", "--endpoint", good, env={"TRIPLINE_ENDPOINT": dead})
    assert r.returncode == 0, r.stderr
    r = cli("taskdef", "list", "--endpoint=" + good)
    assert r.returncode == 0, r.stderr
    # TRIPLINE_ENDPOINT beats the config's listen address
    r = cli("taskdef", "list", "--config", str(d.config), env={"TRIPLINE_ENDPOINT": dead})
    assert r.returncode == 3 and dead in r.stderr
    r = cli("taskdef", "list", "--config", str(d.config))
    assert r.returncode == 0, r.stderr


def test_default_endpoint(cli):
    r = cli("taskdef", "list")
    with socket.socket() as s:
        s.settimeout(2)
        listening = s.connect_ex(("127.0.0.1", 8088)) == 0
    if listening:
        # something answers on the default port: the CLI reached it
        assert r.returncode != 3, r.stderr
    else:
        assert r.returncode == 3
        assert "http://127.0.0.1:8088" in r.stderr


def test_connection_refused(cli):
    port = dead_port()
    r = cli("task", "list", "--endpoint", url(port))
    assert r.returncode == 3
    assert "cannot connect to %s" % url(port) in r.stderr
    assert "tripline serve" in r.stderr
    assert r.stdout == ""


def test_bad_config_is_bad_input(cli, tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"listen": "127.0.0.1:0"}))
    r = cli("taskdef", "list", "--config", str(cfg))
    assert r.returncode == 2
    assert "/listen" in r.stderr
    r = cli("taskdef", "list", "--config", str(tmp_path / "none.json"))
    assert r.returncode == 2 and "none.json" in r.stderr


# ---------------------------------------------------------------- usage

USAGE_ERRORS = [
    ["task"],
    ["task", "launch"],
    ["task", "run"],
    ["task", "run", "td", "extra"],
    ["task", "run", "td", "--count", "abc"],
    ["task", "run", "td", "--count", "0"],
    ["task", "run", "td", "--count"],
    ["task", "run", "td", "--env", "NOEQUALS"],
    ["task", "run", "td", "--env", "=x"],
    ["task", "run", "td", "--container", "main"],
    ["task", "run", "td", "--"],
    ["task", "run", "td", "--bogus"],
    ["task", "--count", "1", "run", "td"],
    ["task", "stop"],
    ["task", "list", "--desired-status", "DONE"],
    ["task", "list", "--output", "yaml"],
    ["task", "list", "--output", "json", "--output", "table"],
    ["task", "describe"],
    ["task", "logs", "t", "--tail", "-5"],
    ["service", "create", "web"],
    ["service", "create", "web", "--task-definition", "td", "--rollback"],
    ["service", "create", "web", "--task-definition", "td", "--desired-count", "x"],
    ["service", "update", "web", "--circuit-breaker=yes"],
    ["service", "scale", "web"],
    ["service", "scale", "web", "two"],
    ["service", "list", "extra"],
    ["service", "delete"],
    ["taskdef", "register"],
    ["taskdef", "list", "--status", "GONE"],
    ["taskdef", "describe", "a", "b"],
    ["taskdef", "list", "--cluster", ""],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=lambda a: " ".join(a))
def test_usage_errors(cli, args):
    # a dead endpoint: had the arguments been accepted, the exit would be 3
    r = cli(*args, env={"TRIPLINE_ENDPOINT": url(dead_port())})
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("tripline %s" % args[0])
    assert "tripline help %s" % args[0] in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("endpoint", ["ftp://127.0.0.1:1", "127.0.0.1:8088", "http://127.0.0.1:1/?a=b",
                                      "http://user:pw@127.0.0.1:1", "http://"])
def test_bad_endpoint(cli, endpoint):
    r = cli("taskdef", "list", "--endpoint", endpoint)
    assert r.returncode == 2, r.stderr
    assert "endpoint" in r.stderr


@pytest.mark.parametrize("group", ["task", "service", "taskdef"])
def test_help(cli, group):
    a = cli("help", group)
    b = cli(group, "--help")
    c = cli(group, "list", "--help")
    assert a.returncode == b.returncode == c.returncode == 0
    assert a.stdout == b.stdout == c.stdout
    assert a.stdout.startswith("usage: tripline " + group)
    for flag in ("--endpoint URL", "--config FILE", "--output table|json", "--cluster NAME",
                 "TRIPLINE_ENDPOINT", "TRIPLINE_ACCESS_KEY_ID", "AWS_REGION", "Exit codes"):
        assert flag in a.stdout
    assert group in cli("help").stdout


# ---------------------------------------------------------------- a recording fake ECS endpoint

class FakeEcs:
    """An HTTP server that records each request and answers from `answers`:
    target → (status, body) or a function(request_body) → (status, body).
    A body that is not a str is sent as JSON."""

    def __init__(self):
        self.requests = []
        self.answers = {}
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(n)
                target = self.headers.get("X-Amz-Target")
                body = json.loads(raw) if raw else None
                fake.requests.append({"target": target, "headers": dict(self.headers), "body": body,
                                      "path": self.path})
                answer = fake.answers.get(target, (400, {"__type": "UnknownOperationException",
                                                         "message": "no answer for %s" % target}))
                if callable(answer):
                    answer = answer(body)
                status, out = answer
                data = out if isinstance(out, (bytes, str)) else json.dumps(out)
                data = data.encode() if isinstance(data, str) else data
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self, op):
        return [r["body"] for r in self.requests if r["target"] == op]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    f = FakeEcs()
    yield f
    f.close()


def task(tid, status="RUNNING", **kw):
    t = {"taskArn": ARN + "task/default/" + tid, "taskDefinitionArn": ARN + "task-definition/demo:3",
         "lastStatus": status, "desiredStatus": "RUNNING" if status != "STOPPED" else "STOPPED",
         "startedAt": 1700000000, "containers": [{"name": "main", "lastStatus": status}]}
    t.update(kw)
    return t


def test_task_run_request(fake, cli):
    fake.answers[ECS + "DescribeTaskDefinition"] = (200, {"taskDefinition": {
        "containerDefinitions": [{"name": "first"}, {"name": "second"}]}})
    fake.answers[ECS + "RunTask"] = (200, {"tasks": [task("t1"), task("t2")], "failures": []})
    r = cli("task", "run", "demo", "--count", "2", "--group", "g1", "--started-by", "me",
            "--client-token", "tok", "--env", "A=1", "--env", "B=x=y", "--cluster", "prod",
            "--endpoint", url(fake.port), "--", "/bin/echo", "--count", "a b")
    assert r.returncode == 0, r.stderr
    assert fake.bodies(ECS + "DescribeTaskDefinition") == [{"taskDefinition": "demo"}]
    assert fake.bodies(ECS + "RunTask") == [{
        "cluster": "prod", "taskDefinition": "demo", "count": 2, "group": "g1", "startedBy": "me",
        "clientToken": "tok",
        "overrides": {"containerOverrides": [{"name": "first", "command": ["/bin/echo", "--count", "a b"],
                                              "environment": [{"name": "A", "value": "1"},
                                                              {"name": "B", "value": "x=y"}]}]}}]
    rows = table(r.stdout)
    assert rows[0] == ["TASK ID", "DEFINITION", "LAST", "DESIRED", "STOP CODE", "STARTED"]
    assert rows[1] == ["t1", "demo:3", "RUNNING", "RUNNING", "-", "2023-11-14T22:13:20Z"]
    assert rows[2][0] == "t2"

    # --container names the override itself; no overrides without --env or a command
    fake.requests.clear()
    r = cli("task", "run", "demo", "--container", "second", "--env", "X=", "--endpoint", url(fake.port))
    assert r.returncode == 0, r.stderr
    assert fake.bodies(ECS + "DescribeTaskDefinition") == []
    assert fake.bodies(ECS + "RunTask")[0]["overrides"] == {
        "containerOverrides": [{"name": "second", "environment": [{"name": "X", "value": ""}]}]}
    fake.requests.clear()
    r = cli("task", "run", "demo:3", "--endpoint", url(fake.port), "--output", "json")
    assert r.returncode == 0, r.stderr
    assert fake.bodies(ECS + "RunTask") == [{"taskDefinition": "demo:3", "count": 1}]
    assert json.loads(r.stdout) == {"tasks": [task("t1"), task("t2")], "failures": []}


def test_task_run_failures_exit_1(fake, cli):
    fake.answers[ECS + "RunTask"] = (200, {"tasks": [task("t1")], "failures": [
        {"arn": ARN + "container-instance/local", "reason": "RESOURCE:MEMORY"}]})
    r = cli("task", "run", "demo", "--count", "2", "--endpoint", url(fake.port))
    assert r.returncode == 1
    rows = table(r.stdout)
    assert rows[1][0] == "t1"
    assert ["FAILED", "REASON", "DETAIL"] in rows
    assert [ARN + "container-instance/local", "RESOURCE:MEMORY", "-"] in rows
    r = cli("task", "run", "demo", "--endpoint", url(fake.port), "--output", "json")
    assert r.returncode == 1
    assert json.loads(r.stdout)["failures"][0]["reason"] == "RESOURCE:MEMORY"


def test_task_stop_list_describe_requests(fake, cli):
    stopped = task("t1", "STOPPED", stopCode="UserInitiated", stoppedReason="bye\x1b[31m now")
    fake.answers[ECS + "StopTask"] = (200, {"task": stopped})
    r = cli("task", "stop", "t1", "--reason", "bye", "--endpoint", url(fake.port))
    assert r.returncode == 0, r.stderr
    assert fake.bodies(ECS + "StopTask") == [{"task": "t1", "reason": "bye"}]
    assert table(r.stdout)[1][:5] == ["t1", "demo:3", "STOPPED", "STOPPED", "UserInitiated"]

    # ListTasks page by page; the table describes what it lists
    pages = {None: {"taskArns": [ARN + "task/default/t1"], "nextToken": "p2"},
             "p2": {"taskArns": [ARN + "task/default/t2"]}}
    fake.answers[ECS + "ListTasks"] = lambda b: (200, pages[b.get("nextToken")])
    fake.answers[ECS + "DescribeTasks"] = lambda b: (200, {
        "tasks": [task(a.rsplit("/", 1)[1]) for a in b["tasks"]], "failures": []})
    r = cli("task", "list", "--family", "demo", "--service-name", "web", "--started-by", "me",
            "--desired-status", "STOPPED", "--cluster", "c1", "--endpoint", url(fake.port), "--output", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"taskArns": [ARN + "task/default/t1", ARN + "task/default/t2"]}
    first = fake.bodies(ECS + "ListTasks")[0]
    assert first == {"cluster": "c1", "family": "demo", "serviceName": "web", "startedBy": "me",
                     "desiredStatus": "STOPPED"}
    fake.requests.clear()
    r = cli("task", "list", "--endpoint", url(fake.port))
    assert r.returncode == 0, r.stderr
    assert [row[0] for row in table(r.stdout)] == ["TASK ID", "t1", "t2"]
    assert fake.bodies(ECS + "DescribeTasks") == [{"tasks": [ARN + "task/default/t1", ARN + "task/default/t2"]}]

    # describe: tasks and containers; a missing one is a failure, exit 1
    fake.answers[ECS + "DescribeTasks"] = (200, {"tasks": [stopped], "failures": [
        {"arn": "nope", "reason": "MISSING"}]})
    r = cli("task", "describe", "t1", "nope", "--endpoint", url(fake.port))
    assert r.returncode == 1
    rows = table(r.stdout)
    assert rows[0][-1] == "STOPPED REASON"
    assert rows[1][-1] == "bye [31m now"            # no escape byte reaches the terminal
    assert "\x1b" not in r.stdout
    assert ["TASK ID", "CONTAINER", "LAST", "EXIT CODE", "REASON"] in rows
    assert ["nope", "MISSING", "-"] in rows
    assert fake.bodies(ECS + "DescribeTasks")[-1] == {"tasks": ["t1", "nope"]}


def test_task_describe_batches_of_100(fake, cli):
    fake.answers[ECS + "DescribeTasks"] = lambda b: (200, {"tasks": [task(t) for t in b["tasks"]],
                                                           "failures": []})
    ids = ["t%03d" % i for i in range(150)]
    r = cli("task", "describe", *ids, "--endpoint", url(fake.port), "--output", "json")
    assert r.returncode == 0, r.stderr
    assert [len(b["tasks"]) for b in fake.bodies(ECS + "DescribeTasks")] == [100, 50]
    assert len(json.loads(r.stdout)["tasks"]) == 150


def test_task_logs_request_and_output(fake, cli):
    fake.answers["Tripline.GetTaskLogs"] = (200, {"containers": [
        {"name": "main", "log": "line 1\nline 2 \x1b[1mbold\x1b[0m\n", "truncated": False}]})
    r = cli("task", "logs", "t1", "--endpoint", url(fake.port))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "line 1\nline 2 \x1b[1mbold\x1b[0m\n"    # as it is
    assert fake.bodies("Tripline.GetTaskLogs") == [{"task": "t1"}]
    fake.requests.clear()
    fake.answers["Tripline.GetTaskLogs"] = (200, {"containers": [
        {"name": "main", "log": "a\n", "truncated": True}, {"name": "side", "log": "no newline", "truncated": False}]})
    r = cli("task", "logs", "t1", "--container", "main", "--tail", "100", "--cluster", "x",
            "--endpoint", url(fake.port))
    assert r.returncode == 0, r.stderr
    assert fake.bodies("Tripline.GetTaskLogs") == [{"task": "t1", "container": "main", "tailBytes": 100}]
    assert r.stdout == "==> main <==\na\n\n==> side <==\nno newline\n"
    assert "main" in r.stderr                      # truncated: said on stderr
    r = cli("task", "logs", "t1", "--endpoint", url(fake.port), "--output", "json")
    assert json.loads(r.stdout)["containers"][1]["name"] == "side"


SERVICE = {"serviceName": "web", "serviceArn": ARN + "service/default/web", "status": "ACTIVE",
           "desiredCount": 2, "runningCount": 1, "pendingCount": 1,
           "taskDefinition": ARN + "task-definition/web:4",
           "deployments": [{"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": ARN + "task-definition/web:4",
                            "desiredCount": 2, "runningCount": 1, "pendingCount": 1, "failedTasks": 0,
                            "rolloutState": "IN_PROGRESS", "updatedAt": 1700000000},
                           {"id": "ecs-svc/1", "status": "ACTIVE", "taskDefinition": ARN + "task-definition/web:3",
                            "desiredCount": 0, "runningCount": 1, "pendingCount": 0, "failedTasks": 0,
                            "rolloutState": "COMPLETED", "updatedAt": 1699999000}],
           "events": [{"id": str(i), "createdAt": 1700000000 - i, "message": "event %d" % i} for i in range(8)]}


def test_service_requests(fake, cli):
    for op in ("CreateService", "UpdateService", "DeleteService"):
        fake.answers[ECS + op] = (200, {"service": SERVICE})
    ep = ["--endpoint", url(fake.port)]
    r = cli("service", "create", "web", "--task-definition", "web:4", "--desired-count", "2",
            "--minimum-healthy-percent", "50", "--maximum-percent", "200", "--circuit-breaker", "--rollback",
            "--health-check-grace-period", "30", "--cluster", "c1", *ep)
    assert r.returncode == 0, r.stderr
    assert fake.bodies(ECS + "CreateService") == [{
        "cluster": "c1", "serviceName": "web", "taskDefinition": "web:4", "desiredCount": 2,
        "deploymentConfiguration": {"minimumHealthyPercent": 50, "maximumPercent": 200,
                                    "deploymentCircuitBreaker": {"enable": True, "rollback": True}},
        "healthCheckGracePeriodSeconds": 30}]
    rows = table(r.stdout)
    assert rows[0] == ["NAME", "STATUS", "DESIRED", "RUNNING", "PENDING", "DEFINITION"]
    assert rows[1] == ["web", "ACTIVE", "2", "1", "1", "web:4"]
    assert ["web: deployments"] in rows
    assert ["ecs-svc/2", "PRIMARY", "web:4", "2", "1", "1", "0", "IN_PROGRESS", "2023-11-14T22:13:20Z"] in rows
    assert ["web: latest events"] in rows
    messages = [row[1] for row in rows if len(row) == 2 and row[1].startswith("event ")]
    assert messages == ["event 0", "event 1", "event 2", "event 3", "event 4"]

    r = cli("service", "create", "api", "--task-definition", "api", *ep)
    assert r.returncode == 0, r.stderr
    assert fake.bodies(ECS + "CreateService")[1] == {"serviceName": "api", "taskDefinition": "api",
                                                     "desiredCount": 1}

    r = cli("service", "update", "web", "--task-definition", "web:5", "--desired-count", "3",
            "--force-new-deployment", "--circuit-breaker", *ep)
    assert r.returncode == 0, r.stderr
    assert fake.bodies(ECS + "UpdateService") == [{
        "service": "web", "taskDefinition": "web:5", "desiredCount": 3, "forceNewDeployment": True,
        "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True, "rollback": False}}}]

    r = cli("service", "scale", "web", "0", *ep)
    assert r.returncode == 0, r.stderr
    assert fake.bodies(ECS + "UpdateService")[1] == {"service": "web", "desiredCount": 0}

    r = cli("service", "delete", "web", "--force", *ep, "--output", "json")
    assert r.returncode == 0, r.stderr
    assert fake.bodies(ECS + "DeleteService") == [{"service": "web", "force": True}]
    assert json.loads(r.stdout) == {"service": SERVICE}
    r = cli("service", "delete", "web", *ep)
    assert fake.bodies(ECS + "DeleteService")[1] == {"service": "web"}


def test_service_describe_and_list(fake, cli):
    fake.answers[ECS + "DescribeServices"] = lambda b: (200, {
        "services": [dict(SERVICE, serviceName=n.rsplit("/", 1)[-1]) for n in b["services"] if n != "gone"],
        "failures": [{"arn": ARN + "service/default/gone", "reason": "MISSING"}] if "gone" in b["services"] else []})
    fake.answers[ECS + "ListServices"] = (200, {"serviceArns": [ARN + "service/default/web",
                                                                ARN + "service/default/api"]})
    ep = ["--endpoint", url(fake.port)]
    r = cli("service", "describe", "web", *ep)
    assert r.returncode == 0, r.stderr
    assert table(r.stdout)[1] == ["web", "ACTIVE", "2", "1", "1", "web:4"]
    r = cli("service", "describe", "web", "gone", *ep)
    assert r.returncode == 1
    assert [ARN + "service/default/gone", "MISSING", "-"] in table(r.stdout)
    r = cli("service", "describe", "web", "gone", "--output", "json", *ep)
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert [s["serviceName"] for s in out["services"]] == ["web"]
    assert out["failures"][0]["reason"] == "MISSING"
    names = ["s%02d" % i for i in range(12)]
    r = cli("service", "describe", *names, *ep, "--output", "json")
    assert [len(b["services"]) for b in fake.bodies(ECS + "DescribeServices")][-2:] == [10, 2]

    r = cli("service", "list", *ep, "--output", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"serviceArns": [ARN + "service/default/web", ARN + "service/default/api"]}
    r = cli("service", "list", *ep)
    assert r.returncode == 0, r.stderr
    assert [row[0] for row in table(r.stdout)] == ["NAME", "web", "api"]
    assert "deployments" not in r.stdout


def test_headers_and_signing_scope(fake, cli, tmp_path):
    fake.answers[ECS + "ListTaskDefinitions"] = (200, {"taskDefinitionArns": []})
    ep = ["--endpoint", url(fake.port)]
    r = cli("taskdef", "list", *ep)
    assert r.returncode == 0, r.stderr
    h = fake.requests[-1]["headers"]
    assert fake.requests[-1]["path"] == "/"
    assert h["Host"] == "127.0.0.1:%d" % fake.port
    assert h["Content-Type"] == "application/x-amz-json-1.1"
    assert h["X-Amz-Target"] == ECS + "ListTaskDefinitions"
    assert "Authorization" not in h                         # no credentials: unsigned

    r = cli("taskdef", "list", *ep, env={"AWS_ACCESS_KEY_ID": "AKIDX", "AWS_SECRET_ACCESS_KEY": "sec",
                                         "AWS_REGION": "eu-test-1", "AWS_SESSION_TOKEN": "tok123"})
    assert r.returncode == 0, r.stderr
    h = fake.requests[-1]["headers"]
    assert re.fullmatch(r"\d{8}T\d{6}Z", h["X-Amz-Date"])
    assert h["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDX/%s/eu-test-1/ecs/aws4_request, "
                                         "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;"
                                         "x-amz-target, Signature=" % h["X-Amz-Date"][:8])
    assert h["X-Amz-Security-Token"] == "tok123"

    # the config's region and first key; "local" without either
    key = tmp_path / "key"
    key.write_text("from-a-file\n")
    key.chmod(0o600)
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"region": "cfg-region-1", "listen": "127.0.0.1:%d" % dead_port(),
                               "auth": {"keys": {"AKIDCFG": "file:" + str(key)}}}))
    r = cli("taskdef", "list", "--config", str(cfg), *ep)
    assert r.returncode == 0, r.stderr
    assert "Credential=AKIDCFG/" in fake.requests[-1]["headers"]["Authorization"]
    assert "/cfg-region-1/ecs/aws4_request" in fake.requests[-1]["headers"]["Authorization"]
    r = cli("taskdef", "list", *ep, env={"TRIPLINE_ACCESS_KEY_ID": "AKIDT", "TRIPLINE_SECRET_ACCESS_KEY": "s"})
    assert "Credential=AKIDT/" in fake.requests[-1]["headers"]["Authorization"]
    assert "/local/ecs/aws4_request" in fake.requests[-1]["headers"]["Authorization"]
    assert "X-Amz-Security-Token" not in fake.requests[-1]["headers"]
    r = cli("taskdef", "list", *ep, env={"AWS_ACCESS_KEY_ID": "AKIDX", "AWS_SECRET_ACCESS_KEY": "sec",
                                         "AWS_REGION": "Not A Region"})
    assert r.returncode == 2
    assert "region" in r.stderr


def test_server_errors_and_bad_answers(fake, cli):
    ep = ["--endpoint", url(fake.port)]
    fake.answers[ECS + "ListServices"] = (500, {"__type": "ServerException", "message": "disk on fire"})
    r = cli("service", "list", *ep)
    assert r.returncode == 3
    assert "ServerException: disk on fire" in r.stderr and "500" in r.stderr
    fake.answers[ECS + "ListServices"] = (502, "<html>bad gateway</html>")
    r = cli("service", "list", *ep)
    assert r.returncode == 3
    assert "HTTP 502" in r.stderr and "bad gateway" in r.stderr
    fake.answers[ECS + "ListServices"] = (404, "not here")
    r = cli("service", "list", *ep)
    assert r.returncode == 2
    assert "HTTP 404" in r.stderr
    fake.answers[ECS + "ListServices"] = (400, {"__type": "com.amazonaws.ecs#ClusterNotFoundException",
                                                "message": "Cluster not found."})
    r = cli("service", "list", "--cluster", "nope", *ep)
    assert r.returncode == 2
    assert "tripline service list: ClusterNotFoundException: Cluster not found." in r.stderr
    fake.answers[ECS + "ListServices"] = (302, "moved elsewhere")         # redirects are not followed
    r = cli("service", "list", *ep)
    assert r.returncode == 3
    assert "HTTP 302" in r.stderr and "moved elsewhere" in r.stderr
    fake.answers[ECS + "ListServices"] = (200, "this is not json")
    r = cli("service", "list", *ep)
    assert r.returncode == 3
    assert "this is not json" in r.stderr
    fake.answers[ECS + "ListServices"] = (200, b"[" + b"1," * (9 << 20) + b"1]")   # 18 MiB
    r = cli("service", "list", *ep)
    assert r.returncode == 3
    assert "larger than" in r.stderr


def test_closed_stdout_is_an_error(fake, tripline_bin):
    # with fd 1 closed, the connection's socket would become "stdout"
    fake.answers[ECS + "ListTaskDefinitions"] = (200, {"taskDefinitionArns": []})
    r = subprocess.run([tripline_bin, "taskdef", "list", "--endpoint", url(fake.port)], stderr=subprocess.PIPE,
                       text=True, timeout=60, preexec_fn=lambda: os.close(1))
    assert r.returncode == 3
    assert "stdout is closed" in r.stderr
    assert fake.requests == []
