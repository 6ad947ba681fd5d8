"""The CLI over the API, end to end: `tripline task` and `tripline service`
against the real daemon running real processes (the process driver).

These follow ECS's contract for RunTask, StopTask, ListTasks, DescribeTasks,
CreateService, UpdateService, DescribeServices, ListServices, DeleteService
and tripline's Tripline.GetTaskLogs. Every wait polls with a deadline.

Tasks run `/bin/sleep <TOKEN>` where TOKEN is a duration unique to the test
(e.g. 300.417329), so that whatever a test leaves running (the daemon is
killed at the end and leaves its tasks running, to re-adopt them) can be
found by that exact command line and killed by pid.
"""
import json
import os
import random
import signal

import pytest

from tripline_test import ARN, pids_with_arg, table, wait_for


@pytest.fixture
def token():
    """A unique sleep duration; processes still running it at the end are killed."""
    tok = "%d.%06d" % (300, random.randrange(1000000))
    yield tok
    for pid in pids_with_arg(tok):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@pytest.fixture
def daemon(token, daemon):
    """The conftest's daemon, set up after the token: at the end the daemons
    are killed first, then whatever still runs the token."""
    return daemon


@pytest.fixture
def api(daemon, cli):
    """A started daemon, and a function running the CLI against it."""
    d = daemon()

    def run(group, *args, **kw):
        # before the subcommand: after it, "-- COMMAND" would take it in
        return cli(group, "--endpoint", "http://127.0.0.1:%d" % d.port, *args, **kw)
    run.daemon = d
    return run


def register(api, family, containers):
    r = api("taskdef", "register", "-", stdin=json.dumps({"family": family, "containerDefinitions": containers}))
    assert r.returncode == 0, r.stderr


def sleeper(api, token, family="sleeper"):
    register(api, family, [{"name": "main", "command": ["/bin/sleep", token], "memory": 32}])


def describe(api, tid):
    r = api("task", "describe", tid, "--output", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["tasks"][0]


def task_id(arn):
    return arn.rsplit("/", 1)[1]


def wait_status(api, tid, status):
    return wait_for(lambda: (lambda t: t if t["lastStatus"] == status else None)(describe(api, tid)),
                "task %s to be %s" % (tid, status))


def listed(api, *args):
    r = api("task", "list", "--output", "json", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["taskArns"]


# ---------------------------------------------------------------- tasks

def test_task_run_list_describe_stop(api, token):
    sleeper(api, token)
    r = api("task", "run", "sleeper", "--started-by", "cli-test", "--group", "g1", "--output", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["failures"] == []
    (t1,) = out["tasks"]
    assert t1["taskDefinitionArn"] == ARN + "task-definition/sleeper:1"
    assert (t1["group"], t1["startedBy"]) == ("g1", "cli-test")
    id1 = task_id(t1["taskArn"])

    r = api("task", "run", "sleeper:1")                  # the table
    assert r.returncode == 0, r.stderr
    rows = table(r.stdout)
    assert rows[0] == ["TASK ID", "DEFINITION", "LAST", "DESIRED", "STOP CODE", "STARTED"]
    assert rows[1][1] == "sleeper:1" and rows[1][3] == "RUNNING"
    id2 = rows[1][0]

    wait_status(api, id1, "RUNNING")
    wait_status(api, id2, "RUNNING")
    r = api("task", "list")
    assert r.returncode == 0, r.stderr
    rows = table(r.stdout)
    assert rows[0] == ["TASK ID", "DEFINITION", "LAST", "DESIRED", "STOP CODE", "STARTED"]
    assert sorted(row[0] for row in rows[1:]) == sorted([id1, id2])
    assert all(row[2] == "RUNNING" and row[5] != "-" for row in rows[1:])
    assert listed(api, "--started-by", "cli-test") == [t1["taskArn"]]
    assert len(listed(api, "--family", "sleeper")) == 2

    r = api("task", "describe", id1)
    assert r.returncode == 0, r.stderr
    rows = table(r.stdout)
    assert rows[1][0] == id1
    assert ["TASK ID", "CONTAINER", "LAST", "EXIT CODE", "REASON"] in rows
    assert [id1, "main", "RUNNING", "-", "-"] in rows

    r = api("task", "stop", id1, "--reason", "test over")
    assert r.returncode == 0, r.stderr
    assert table(r.stdout)[1][0] == id1
    t = wait_status(api, id1, "STOPPED")
    assert t["stopCode"] == "UserInitiated"
    assert t["stoppedReason"] == "test over"
    assert t["containers"][0]["exitCode"] == 128 + signal.SIGTERM
    assert t1["taskArn"] in listed(api, "--desired-status", "STOPPED")
    assert t1["taskArn"] not in listed(api)

    r = api("task", "stop", t1["taskArn"].replace(id1, id2))   # by ARN
    assert r.returncode == 0, r.stderr
    wait_status(api, id2, "STOPPED")
    assert listed(api) == []


def test_task_run_overrides_and_logs(api, token):
    # main keeps running, so that the non-essential side container ends on its own
    register(api, "greeter", [
        {"name": "main", "command": ["/bin/sh", "-c", "echo main-$GREETING; exec /bin/sleep " + token],
         "memory": 32},
        {"name": "side", "command": ["/bin/sh", "-c", "echo side-out; echo side-err >&2"], "memory": 32,
         "essential": False}])
    # --env without --container: the definition's first container
    r = api("task", "run", "greeter", "--env", "GREETING=world", "--output", "json")
    assert r.returncode == 0, r.stderr
    tid = task_id(json.loads(r.stdout)["tasks"][0]["taskArn"])

    def logs(*args):
        r = api("task", "logs", tid, *args)
        assert r.returncode == 0, r.stderr
        return r.stdout
    wait_for(lambda: logs("--container", "main") == "main-world\n" and
         logs("--container", "side") == "side-out\nside-err\n", "both containers' output")
    assert logs("--container", "main", "--tail", "6") == "world\n"
    assert logs() == "==> main <==\nmain-world\n\n==> side <==\nside-out\nside-err\n"
    r = api("task", "logs", tid, "--output", "json")
    out = json.loads(r.stdout)
    assert [(c["name"], c["log"], c["truncated"]) for c in out["containers"]] == [
        ("main", "main-world\n", False), ("side", "side-out\nside-err\n", False)]
    wait_for(lambda: [c.get("exitCode") for c in describe(api, tid)["containers"]] == [None, 0],
         "the side container to exit 0")
    assert api("task", "stop", tid).returncode == 0
    t = wait_status(api, tid, "STOPPED")
    assert [c.get("exitCode") for c in t["containers"]] == [128 + signal.SIGTERM, 0]

    # a command and the environment for a named container
    r = api("task", "run", "greeter", "--container", "side", "--env", "WHO=x y",
            "--", "/bin/sh", "-c", "echo custom-$WHO")
    assert r.returncode == 0, r.stderr
    tid = table(r.stdout)[1][0]
    wait_for(lambda: logs("--container", "side") == "custom-x y\n", "the overridden command's output")
    assert logs("--container", "main") == "main-\n"
    assert api("task", "stop", tid).returncode == 0

    r = api("task", "logs", "0123456789abcdef0123456789abcdef")
    assert r.returncode == 2


def test_task_run_placement_failure_exits_1(daemon, cli, token):
    d = daemon(config={"cluster": {"memory": 128}})
    ep = ["--endpoint", "http://127.0.0.1:%d" % d.port]
    r = cli("taskdef", "register", "-", *ep, stdin=json.dumps({
        "family": "big", "containerDefinitions": [{"name": "main", "command": ["/bin/sleep", token],
                                                   "memory": 4096}]}))
    assert r.returncode == 0, r.stderr
    r = cli("task", "run", "big", *ep)
    assert r.returncode == 1, r.stderr
    assert "RESOURCE:MEMORY" in r.stdout
    r = cli("task", "run", "big", "--output", "json", *ep)
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["tasks"] == [] and out["failures"][0]["reason"] == "RESOURCE:MEMORY"


def test_task_describe_missing_exits_1(api):
    r = api("task", "describe", "0123456789abcdef0123456789abcdef")
    assert r.returncode == 1, r.stderr
    assert "MISSING" in r.stdout
    r = api("task", "stop", "0123456789abcdef0123456789abcdef")
    assert r.returncode == 2
    assert r.stderr.startswith("tripline task stop: ")
    r = api("task", "run", "no-such-definition")
    assert r.returncode == 2
    assert r.stderr.startswith("tripline task run: ")


# ---------------------------------------------------------------- services

def service(api, name):
    r = api("service", "describe", name, "--output", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["services"][0]


def test_service_lifecycle(api, token):
    sleeper(api, token, "svc")
    r = api("service", "create", "web", "--task-definition", "svc", "--desired-count", "2")
    assert r.returncode == 0, r.stderr
    rows = table(r.stdout)
    assert rows[0] == ["NAME", "STATUS", "DESIRED", "RUNNING", "PENDING", "DEFINITION"]
    assert rows[1][:3] == ["web", "ACTIVE", "2"] and rows[1][5] == "svc:1"

    wait_for(lambda: service(api, "web")["runningCount"] == 2, "2 running tasks")
    assert len(listed(api, "--service-name", "web")) == 2
    r = api("service", "describe", "web")
    assert r.returncode == 0, r.stderr
    rows = table(r.stdout)
    assert rows[1] == ["web", "ACTIVE", "2", "2", "0", "svc:1"]
    assert ["web: deployments"] in rows
    assert any(row[1:3] == ["PRIMARY", "svc:1"] for row in rows)

    r = api("service", "list")
    assert r.returncode == 0, r.stderr
    assert [row[0] for row in table(r.stdout)] == ["NAME", "web"]
    r = api("service", "list", "--output", "json")
    assert [a.rsplit("/", 1)[1] for a in json.loads(r.stdout)["serviceArns"]] == ["web"]

    r = api("service", "scale", "web", "1")
    assert r.returncode == 0, r.stderr
    assert table(r.stdout)[1][2] == "1"
    wait_for(lambda: service(api, "web")["runningCount"] == 1 and len(listed(api, "--service-name", "web")) == 1,
         "the service scaled to 1")

    r = api("service", "delete", "web")                  # still scaled above 0
    assert r.returncode == 2
    assert r.stderr.startswith("tripline service delete: ")
    r = api("service", "delete", "web", "--force")
    assert r.returncode == 0, r.stderr
    assert table(r.stdout)[1][0] == "web"
    wait_for(lambda: listed(api, "--service-name", "web") == [], "the service's tasks to stop")
    r = api("service", "describe", "web", "--output", "json")
    assert r.returncode in (0, 1), r.stderr
    out = json.loads(r.stdout)
    if r.returncode == 0:
        assert out["services"][0]["status"] in ("DRAINING", "INACTIVE")
    else:
        assert out["failures"][0]["reason"] == "MISSING"


def test_service_update_rolls_to_a_new_definition(api, token):
    sleeper(api, token, "svc")
    r = api("service", "create", "web2", "--task-definition", "svc:1", "--desired-count", "1",
            "--minimum-healthy-percent", "100", "--maximum-percent", "200", "--circuit-breaker", "--rollback")
    assert r.returncode == 0, r.stderr
    s = wait_for(lambda: (lambda s: s if s["runningCount"] == 1 else None)(service(api, "web2")), "1 running task")
    dc = s["deploymentConfiguration"]
    assert (dc["minimumHealthyPercent"], dc["maximumPercent"]) == (100, 200)
    assert dc["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}

    sleeper(api, token, "svc")                            # revision 2
    r = api("service", "update", "web2", "--task-definition", "svc:2")
    assert r.returncode == 0, r.stderr

    def rolled():
        s = service(api, "web2")
        deps = s["deployments"]
        return (len(deps) == 1 and deps[0]["status"] == "PRIMARY" and deps[0]["taskDefinition"].endswith(":2")
                and deps[0]["runningCount"] == 1 and s["runningCount"] == 1)
    wait_for(rolled, "the deployment of svc:2")
    r = api("service", "describe", "web2")
    assert table(r.stdout)[1][5] == "svc:2"
    running = listed(api, "--service-name", "web2")
    assert len(running) == 1
    assert describe(api, task_id(running[0]))["taskDefinitionArn"].endswith("svc:2")

    r = api("service", "update", "web2", "--force-new-deployment", "--output", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["service"]["serviceName"] == "web2"
    r = api("service", "delete", "web2", "--force")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: listed(api, "--service-name", "web2") == [], "the service's tasks to stop")


def test_service_errors(api):
    r = api("service", "describe", "nosuch")
    assert r.returncode == 1, r.stderr
    assert "MISSING" in r.stdout
    r = api("service", "create", "x", "--task-definition", "no-such-definition")
    assert r.returncode == 2
    assert r.stderr.startswith("tripline service create: ")
    r = api("service", "scale", "nosuch", "3")
    assert r.returncode == 2
    assert "ServiceNotFoundException" in r.stderr
