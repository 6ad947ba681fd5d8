"""The task target on a remote cluster through the real daemons: the first
daemon's rules name a cluster of its `clusters` config, the second daemon
(auth on, cluster "faraway") runs, stops and rescales. Events go in with
PutEvents on the first daemon; what the second did is asked of it with
curl-signed ECS calls. Requests between the daemons are signed with SigV4
(targets/ecs.c); a wrong key is refused and dead-letters the event."""
import json
import subprocess
import uuid

from tripline_test import ECS, mark_file, sleeper, wait_for

KEY, SECRET = "AKIDREMOTE", "remote-s3cret"


def remote_call(port, op, body):
    """The parsed answer of ECS op on the daemon at port, signed by curl."""
    args = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", "5", "-X", "POST",
            "-H", "Content-Type: application/x-amz-json-1.1", "-H", "X-Amz-Target: " + ECS + op,
            "--data-binary", json.dumps(body), "--aws-sigv4", "aws:amz:local:ecs",
            "--user", "%s:%s" % (KEY, SECRET), "http://127.0.0.1:%d/" % port]
    r = subprocess.run(args, capture_output=True, text=True, timeout=15)
    assert r.returncode == 0, r.stderr
    text, _, code = r.stdout.rpartition("\n")
    assert code == "200", (code, text)
    return json.loads(text)


def put(d, detail_type, detail):
    out = d.call("PutEvents", {"Entries": [{"Source": "test.remote", "DetailType": detail_type,
                                            "Detail": json.dumps(detail)}]},
                 target="AWSEvents.PutEvents")
    assert out["FailedEntryCount"] == 0, out
    return out["Entries"][0]["EventId"]


def rule(name, detail_type, target):
    return {"Name": name, "EventPattern": {"source": ["test.remote"], "detail-type": [detail_type]},
            "Targets": [dict({"Id": "t", "Arn": "arn:aws:ecs:local:000000000000:cluster/faraway"}, **target)]}


def started_by(port, who):
    return remote_call(port, "ListTasks", {"cluster": "faraway", "startedBy": who})["taskArns"]


def test_run_stop_and_scale_on_a_remote_cluster(daemon, tmp_path, monkeypatch):
    mark = uuid.uuid4().hex
    mark_file(tmp_path, mark)
    taskdefs = tmp_path / "remote-taskdefs"
    taskdefs.mkdir()
    (taskdefs / "sleeper.json").write_text(json.dumps(
        {"family": "sleeper", "containerDefinitions": [sleeper(mark)]}))
    far = daemon(config={"data_dir": str(tmp_path / "var-far"), "rules": [], "task_definitions": [str(taskdefs)],
                         "cluster": {"name": "faraway"}, "auth": {"keys": {KEY: "value:" + SECRET}}},
                 name="far")
    remote_call(far.port, "CreateService", {"cluster": "faraway", "serviceName": "web",
                                            "taskDefinition": "sleeper", "desiredCount": 1})

    monkeypatch.setenv("FAR_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("FAR_SECRET_ACCESS_KEY", SECRET)
    template = '{"containerOverrides":[{"name":"app","environment":[{"name":"FROM_EVENT","value":<v>}]}]}'
    rules = {
        "run.json": rule("far.run", "run", {
            "EcsParameters": {"TaskDefinitionArn": "sleeper"},
            "InputTransformer": {"InputPathsMap": {"v": "$.detail.value"}, "InputTemplate": template}}),
        "stop.json": rule("far.stop", "stop", {
            "EcsParameters": {"Action": "StopTask", "StartedBy": "events-rule/far_run"}}),
        "scale.json": rule("far.scale", "scale", {
            "EcsParameters": {"Action": "UpdateService", "Service": "web", "DesiredCount": "+2",
                              "MaxCapacity": 2}}),
    }
    near = daemon(config={"clusters": {"faraway": {"endpoint": far.url(), "region": "local",
                                                   "credentials": "env:FAR"}}},
                  rules=rules, name="near")

    put(near, "run", {"value": "hello"})
    arns = wait_for(lambda: started_by(far.port, "events-rule/far_run"), "the remote task")
    assert len(arns) == 1
    task = remote_call(far.port, "DescribeTasks", {"cluster": "faraway", "tasks": arns})["tasks"][0]
    env = task["overrides"]["containerOverrides"][0]["environment"]
    assert {"name": "FROM_EVENT", "value": "hello"} in env
    wait_for(lambda: remote_call(far.port, "DescribeTasks", {"cluster": "faraway", "tasks": arns})
             ["tasks"][0]["lastStatus"] == "RUNNING", "the remote task running")

    put(near, "scale", {})
    wait_for(lambda: remote_call(far.port, "DescribeServices", {"cluster": "faraway", "services": ["web"]})
             ["services"][0]["desiredCount"] == 2, "the remote service at 2 (clamped from 3)")

    put(near, "stop", {})
    wait_for(lambda: not started_by(far.port, "events-rule/far_run"), "the remote task stopped")
    # nothing ran on the first daemon's own cluster
    assert near.call("ListTasks", {})["taskArns"] == []


def test_a_wrong_key_is_refused_and_dead_lettered(daemon, tmp_path, monkeypatch):
    far = daemon(config={"data_dir": str(tmp_path / "var-far"), "rules": [], "cluster": {"name": "faraway"},
                         "auth": {"keys": {KEY: "value:" + SECRET}}}, name="far")
    monkeypatch.setenv("FAR_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("FAR_SECRET_ACCESS_KEY", "not-the-secret")
    dlq = tmp_path / "dlq.jsonl"
    target = {"EcsParameters": {"TaskDefinitionArn": "sleeper"}, "DeadLetterConfig": {"Arn": "file:%s" % dlq}}
    near = daemon(config={"clusters": {"faraway": {"endpoint": far.url(), "region": "local",
                                                   "credentials": "env:FAR"}}},
                  rules={"run.json": rule("far.run", "run", target)}, name="near")
    event_id = put(near, "run", {})
    line = wait_for(lambda: dlq.exists() and dlq.read_text().splitlines(), "the dead letter")
    json.loads(line[0])
    assert "NO_PERMISSIONS" in line[0]
    assert event_id in line[0]
    assert "not-the-secret" not in near.log_text()
    assert started_by(far.port, "events-rule/far_run") == []
