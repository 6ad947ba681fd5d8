"""Tasks on the process driver: lifecycle, stop, overrides, secrets,
idempotency, placement, logs, metrics, events."""
import json
import os

import pytest

from tripline_test import ApiError, alive, marked_pids, sleeper, wait_for


def test_exit_codes_and_failed_start(daemon, tmp_path):
    d = daemon()
    out = tmp_path / "written"
    d.register("writer", [{"name": "w", "command": ["/bin/sh", "-c", "echo done > \"$OUT\""],
                           "environment": [{"name": "OUT", "value": str(out)}]}])
    d.register("three", [{"name": "t", "command": ["/bin/sh", "-c", "exit 3"]}])
    d.register("missing", [{"name": "m", "command": ["/no/such/program", "x"]}])

    run = d.call("RunTask", {"taskDefinition": "writer"})
    assert run["failures"] == []
    t = run["tasks"][0]
    assert t["lastStatus"] in ("PROVISIONING", "PENDING", "RUNNING")
    assert t["desiredStatus"] == "RUNNING"
    assert t["taskArn"].startswith("arn:aws:ecs:local:000000000000:task/default/")
    t = d.wait_task(t["taskArn"], "STOPPED")
    assert t["stopCode"] == "EssentialContainerExited"
    assert t["containers"][0]["exitCode"] == 0
    assert t["containers"][0]["lastStatus"] == "STOPPED"
    assert out.read_text() == "done\n"
    for key in ("createdAt", "startedAt", "stoppingAt", "stoppedAt"):
        assert isinstance(t[key], (int, float)) and t[key] > 1.7e9, key

    t = d.call("RunTask", {"taskDefinition": "three"})["tasks"][0]
    t = d.wait_task(t["taskArn"], "STOPPED")
    assert (t["stopCode"], t["containers"][0]["exitCode"]) == ("EssentialContainerExited", 3)

    t = d.call("RunTask", {"taskDefinition": "missing"})["tasks"][0]
    t = d.wait_task(t["taskArn"], "STOPPED")
    assert t["stopCode"] == "TaskFailedToStart"
    assert "/no/such/program" in t["stoppedReason"], t["stoppedReason"]
    assert "No such file or directory" in t["stoppedReason"], t["stoppedReason"]
    assert "exitCode" not in t["containers"][0]
    m = d.metrics()
    assert "tripline_task_failures_total 1" in m
    assert 'tripline_tasks{state="STOPPED"} 3' in m
    assert "tripline_task_launch_seconds_count 2" in m


def test_stop_kills_the_process_group_after_stop_timeout(daemon, tmp_path, mark):
    d = daemon()
    child = tmp_path / "child.pid"
    script = 'trap "" TERM; sleep 1000 & echo $! > "$CHILD"; while true; do sleep 1; done'
    d.register("stubborn", [sleeper(mark, command=["/bin/sh", "-c", script], stopTimeout=2,
                                    environment=[{"name": "TEST_MARK", "value": mark},
                                                 {"name": "CHILD", "value": str(child)}])])
    t = d.call("RunTask", {"taskDefinition": "stubborn"})["tasks"][0]
    t = d.wait_task(t["taskArn"], "RUNNING")
    pid = int(t["containers"][0]["runtimeId"])
    wait_for(lambda: child.exists() and child.read_text().strip(), "the child pid")
    cpid = int(child.read_text())
    assert alive(pid) and alive(cpid)
    stopped = d.call("StopTask", {"task": t["taskArn"], "reason": "enough"})["task"]
    assert stopped["desiredStatus"] == "STOPPED"
    assert stopped["lastStatus"] in ("DEPROVISIONING", "STOPPED")
    t = d.wait_task(t["taskArn"], "STOPPED")
    # SIGTERM was ignored: SIGKILL after stopTimeout (2 s), never before
    assert t["stoppedAt"] - t["stoppingAt"] >= 1.9
    assert t["stopCode"] == "UserInitiated"
    assert t["stoppedReason"] == "enough"
    assert t["containers"][0]["exitCode"] == 137
    wait_for(lambda: not alive(cpid), "the background child to die with its group")
    assert marked_pids(mark) == []


def test_overrides_and_secrets(daemon, tmp_path):
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"db-password": "s3cr3t-value-42"}))
    os.chmod(secrets, 0o600)
    os.environ["TRIPLINE_TASK_TEST_TOKEN"] = "env-secret-77"
    d = daemon({"secrets": {"file": str(secrets)}})
    out = tmp_path / "env.out"
    d.register("envy", [{"name": "app", "command": ["/bin/sh", "-c", "echo never"],
                         "environment": [{"name": "A", "value": "from-definition"},
                                         {"name": "B", "value": "kept"}],
                         "secrets": [{"name": "PASSWORD",
                                      "valueFrom": "arn:aws:secretsmanager:local:000000000000:secret:db-password"},
                                     {"name": "TOKEN", "valueFrom": "env:TRIPLINE_TASK_TEST_TOKEN"}]}])
    cmd = ["/bin/sh", "-c", 'printf "%s|%s|%s|%s|%s" "$A" "$B" "$PASSWORD" "$TOKEN" "$1" > "$OUT"', "sh", "arg1"]
    t = d.call("RunTask", {"taskDefinition": "envy", "overrides": {"containerOverrides": [
        {"name": "app", "command": cmd,
         "environment": [{"name": "A", "value": "overridden"}, {"name": "OUT", "value": str(out)}]}]}})
    arn = t["tasks"][0]["taskArn"]
    t = d.wait_task(arn, "STOPPED")
    assert t["containers"][0]["exitCode"] == 0, t
    assert out.read_text() == "overridden|kept|s3cr3t-value-42|env-secret-77|arg1"
    assert t["overrides"]["containerOverrides"][0]["command"] == cmd
    # the secret values are nowhere but in the process's environment
    described = json.dumps(d.call("DescribeTasks", {"tasks": [arn]}))
    for secret in ("s3cr3t-value-42", "env-secret-77"):
        assert secret not in described
        assert secret not in d.log_text()
        for root, _, files in os.walk(d.data_dir):
            for f in files:
                with open(os.path.join(root, f), "rb") as fh:
                    assert secret.encode() not in fh.read(), os.path.join(root, f)
    # a missing secret: the task fails to start and says which reference
    d.register("nosecret", [{"name": "app", "command": ["/bin/true"],
                             "secrets": [{"name": "X", "valueFrom": "not-there"}]}])
    t = d.call("RunTask", {"taskDefinition": "nosecret"})["tasks"][0]
    t = d.wait_task(t["taskArn"], "STOPPED")
    assert t["stopCode"] == "TaskFailedToStart"
    assert "not-there" in t["stoppedReason"]


def test_client_token_count_and_capacity(daemon, mark):
    d = daemon({"cluster": {"memory": 1000, "cpu": 4096}})
    d.register("small", [sleeper(mark, memory=300)])
    first = d.call("RunTask", {"taskDefinition": "small", "count": 3, "clientToken": "tok-1",
                               "startedBy": "pytest", "group": "g1"})
    assert len(first["tasks"]) == 3 and first["failures"] == []
    arns = sorted(t["taskArn"] for t in first["tasks"])
    again = d.call("RunTask", {"taskDefinition": "small", "count": 3, "clientToken": "tok-1",
                               "startedBy": "pytest", "group": "g1"})
    assert sorted(t["taskArn"] for t in again["tasks"]) == arns
    for a in arns:
        d.wait_task(a, "RUNNING")
    wait_for(lambda: len(marked_pids(mark)) == 3, "3 processes")
    # 900 of 1000 MiB reserved: the fourth does not fit
    more = d.call("RunTask", {"taskDefinition": "small"})
    assert more["tasks"] == []
    assert more["failures"][0]["reason"] == "RESOURCE:MEMORY"
    listed = d.call("ListTasks", {"startedBy": "pytest"})["taskArns"]
    assert sorted(listed) == arns
    assert sorted(d.call("ListTasks", {"family": "small"})["taskArns"]) == arns
    assert d.call("ListTasks", {"desiredStatus": "STOPPED"})["taskArns"] == []
    assert all(t["group"] == "g1" for t in d.call("DescribeTasks", {"tasks": arns})["tasks"])
    with pytest.raises(ApiError) as e:
        d.call("RunTask", {"taskDefinition": "small", "count": 11})
    assert e.value.status == 400 and e.value.type == "InvalidParameterException"
    cl = d.call("DescribeClusters", {})["clusters"][0]
    assert cl["runningTasksCount"] == 3
    for a in arns:
        d.call("StopTask", {"task": a})
    for a in arns:
        d.wait_task(a, "STOPPED")
    assert d.call("RunTask", {"taskDefinition": "small"})["failures"] == []


def test_errors(daemon):
    d = daemon()
    with pytest.raises(ApiError) as e:
        d.call("RunTask", {"taskDefinition": "nope"})
    assert (e.value.status, e.value.type) == (400, "ClientException")
    with pytest.raises(ApiError) as e:
        d.call("RunTask", {"taskDefinition": "nope", "cluster": "other"})
    assert e.value.type == "ClusterNotFoundException"
    with pytest.raises(ApiError) as e:
        d.call("StopTask", {"task": "0" * 32})
    assert e.value.type == "InvalidParameterException"
    d.register("x", [{"name": "a", "command": ["/bin/true"]}])
    with pytest.raises(ApiError) as e:
        d.call("RunTask", {"taskDefinition": "x", "overrides": {"containerOverrides": [{"name": "zz"}]}})
    assert "zz" in e.value.body["message"]
    out = d.call("DescribeTasks", {"tasks": ["f" * 32]})
    assert out["tasks"] == [] and out["failures"][0]["reason"] == "MISSING"


def test_logs_and_events(daemon, tmp_path):
    d = daemon()
    d.register("talker", [{"name": "t", "command": ["/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2; printf '\\377\\n'"]}])
    t = d.call("RunTask", {"taskDefinition": "talker"})["tasks"][0]
    d.wait_task(t["taskArn"], "STOPPED")
    logs = d.call(None, {"task": t["taskArn"]}, target="Tripline.GetTaskLogs")["containers"]
    assert logs[0]["name"] == "t"
    assert "to-stdout\n" in logs[0]["log"] and "to-stderr\n" in logs[0]["log"]
    assert "\ufffd" in logs[0]["log"]   # invalid UTF-8 arrives replaced, not dropped
    tail = d.call(None, {"task": t["taskArn"], "tailBytes": 4}, target="Tripline.GetTaskLogs")
    assert tail["containers"][0]["truncated"] is True
    # the task's state changes went onto the bus as ECS events (debug log)
    text = d.log_text()
    assert '"detail-type":"ECS Task State Change"' in text
    versions = []
    for line in text.splitlines():
        if "ECS Task State Change" in line and t["taskArn"] in line:
            ev = json.loads(line[line.index("{"):])
            assert ev["source"] == "aws.ecs"
            versions.append(ev["detail"]["version"])
    assert len(versions) >= 4 and versions == sorted(versions) and len(set(versions)) == len(versions)


def test_cgroups_off_says_limits_are_not_applied(daemon):
    d = daemon({"drivers": {"process": {"cgroup_root": ""}}})
    d.register("limited", [{"name": "l", "command": ["/bin/true"], "memory": 64}])
    t = d.call("RunTask", {"taskDefinition": "limited"})["tasks"][0]
    t = d.wait_task(t["taskArn"], "STOPPED")
    assert t["containers"][0]["exitCode"] == 0
    assert "memory limit not applied" in d.log_text()


def test_log_rotation_keeps_the_file_bounded(daemon, mark):
    d = daemon()
    # 11 MB of output, then an end marker, then it stays up
    script = 'head -c 11000000 /dev/zero | tr "\\0" a; echo; echo END-OF-BULK; exec sleep 1000'
    d.register("chatty", [sleeper(mark, name="c", command=["/bin/sh", "-c", script])])
    t = d.call("RunTask", {"taskDefinition": "chatty"})["tasks"][0]
    tid = t["taskArn"].rsplit("/", 1)[1]
    logdir = d.data_dir / "logs" / tid
    def tail():
        out = d.call(None, {"task": t["taskArn"], "tailBytes": 100}, target="Tripline.GetTaskLogs")
        return out["containers"][0]
    wait_for(lambda: "END-OF-BULK" in tail()["log"], "the end of the output in the log")
    # no file passes the bound; .1 was filled up to it
    assert (logdir / "c.log").stat().st_size < 11000000
    assert (logdir / "c.log.1").stat().st_size == 10 << 20
    c = tail()
    assert c["truncated"] is True and len(c["log"]) <= 100
    assert "END-OF-BULK" in c["log"]
    d.call("StopTask", {"task": t["taskArn"]})
    d.wait_task(t["taskArn"], "STOPPED")
