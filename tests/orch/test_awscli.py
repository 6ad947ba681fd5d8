"""Debian's AWS CLI v2, unmodified, runs tasks and services on the daemon."""
import json
import os

from tripline_test import AWS, aws_cli, marked_pids, sleeper, wait_for


def aws(port, *args, secret="cli-secret"):
    return aws_cli(port, *args, secret=secret, timeout=300)


def test_run_task_and_services_stable(daemon, mark):
    if not os.access(AWS, os.X_OK):
        raise AssertionError("%s is missing: deploy/install-deps.sh installs Debian's awscli" % AWS)
    d = daemon({"auth": {"keys": {"AKIDCLI": "value:cli-secret"}}})
    r = aws(d.port, "ecs", "register-task-definition", "--family", "cli",
            "--container-definitions", json.dumps([sleeper(mark)]))
    assert r.returncode == 0, r.stderr
    r = aws(d.port, "ecs", "run-task", "--task-definition", "cli", "--count", "2", "--started-by", "aws-cli")
    assert r.returncode == 0, r.stderr
    arns = [t["taskArn"] for t in json.loads(r.stdout)["tasks"]]
    assert len(arns) == 2

    def running():
        r = aws(d.port, "ecs", "describe-tasks", "--tasks", *arns)
        assert r.returncode == 0, r.stderr
        return all(t["lastStatus"] == "RUNNING" for t in json.loads(r.stdout)["tasks"])
    wait_for(running, "both tasks RUNNING", deadline=120)
    r = aws(d.port, "ecs", "stop-task", "--task", arns[0], "--reason", "cli says stop")
    assert r.returncode == 0, r.stderr
    r = aws(d.port, "ecs", "wait", "tasks-stopped", "--tasks", arns[0])
    assert r.returncode == 0, r.stderr

    r = aws(d.port, "ecs", "create-service", "--service-name", "svc", "--task-definition", "cli",
            "--desired-count", "1")
    assert r.returncode == 0, r.stderr
    r = aws(d.port, "ecs", "update-service", "--service", "svc", "--desired-count", "3")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["service"]["desiredCount"] == 3
    r = aws(d.port, "ecs", "wait", "services-stable", "--services", "svc")
    assert r.returncode == 0, r.stderr
    r = aws(d.port, "ecs", "describe-services", "--services", "svc")
    s = json.loads(r.stdout)["services"][0]
    assert (s["runningCount"], len(s["deployments"])) == (3, 1)
    assert len(marked_pids(mark)) == 4   # 3 service tasks + the one standalone task left
    r = aws(d.port, "ecs", "list-tasks", "--service-name", "svc")
    assert r.returncode == 0 and len(json.loads(r.stdout)["taskArns"]) == 3, r.stderr
    r = aws(d.port, "ecs", "delete-service", "--service", "svc", "--force")
    assert r.returncode == 0, r.stderr
    r = aws(d.port, "ecs", "describe-tasks", "--tasks", arns[0], secret="wrong")
    assert r.returncode != 0 and "InvalidSignatureException" in r.stderr
