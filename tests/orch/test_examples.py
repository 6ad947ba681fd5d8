"""The configuration deploy/run.sh starts: the example rules, task
definitions and services load, the example tasks run (hello exits, ticker
keeps running as a service, the workers service starts with the daemon);
every task an example rule names has a task definition, every service it
rescales a service file, and no example names a destination that is not
implemented or that a non-root user cannot create; and
deploy/tripline.example.json starts as shipped."""
import contextlib
import glob
import hashlib
import hmac
import json
import os
import signal
import subprocess
import urllib.request

from tripline_test import DEADLINE, ECS, ROOT, curl, free_port, wait_for

SECRET = "example-webhook-secret"

EXAMPLES = os.path.join(ROOT, "deploy", "examples")
FAMILIES = ["deploy", "hello", "ingest", "report", "thumbnailer", "ticker", "worker"]


def run_sh_config(tmp):
    """deploy/examples/tripline.json with absolute paths, without its port
    and data directory (the test daemon picks its own); what deploy/run.sh
    makes for its sources (the watched directory, the webhook's secret
    file) made under tmp instead of ./var."""
    with open(os.path.join(ROOT, "deploy", "examples", "tripline.json")) as f:
        cfg = json.load(f)
    cfg = {k: v for k, v in cfg.items() if k not in ("listen", "data_dir")}
    cfg["rules"] = [os.path.join(ROOT, p) for p in cfg["rules"]]
    cfg["task_definitions"] = [os.path.join(ROOT, p) for p in cfg["task_definitions"]]
    cfg["services"] = [os.path.join(ROOT, p) for p in cfg["services"]]
    for w in cfg["sources"]["files"]:
        assert w["path"].startswith("./var/")
        w["path"] = str(tmp / w["path"][len("./var/"):])
        os.makedirs(w["path"], exist_ok=True)
    for h in cfg["sources"]["webhooks"]:
        assert h["secret"].startswith("file:./var/")
        path = tmp / h["secret"][len("file:./var/"):]
        path.write_text(SECRET)
        path.chmod(0o600)
        h["secret"] = "file:" + str(path)
    return cfg


def ecs(port, op, body):
    req = urllib.request.Request("http://127.0.0.1:%d/" % port, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/x-amz-json-1.1")
    req.add_header("X-Amz-Target", ECS + op)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def drop_workers(port):
    """Deletes the example workers service and waits until its tasks are
    STOPPED: the daemon leaves tasks running when it stops, by design."""
    arns = ecs(port, "ListTasks", {"serviceName": "workers"})["taskArns"]
    ecs(port, "DeleteService", {"service": "workers", "force": True})
    if arns:
        wait_for(lambda: all(t["lastStatus"] == "STOPPED" for t in ecs(port, "DescribeTasks", {"tasks": arns})["tasks"]),
                 "the workers' tasks STOPPED")


@contextlib.contextmanager
def example_daemon(daemon, tmp):
    d = daemon(run_sh_config(tmp))
    try:
        yield d
    finally:
        if d.proc.poll() is None:
            drop_workers(d.port)


def example_rules():
    rules = []
    for path in sorted(glob.glob(os.path.join(EXAMPLES, "rules", "*.json"))):
        with open(path) as f:
            doc = json.load(f)
        rules += doc["Rules"] if "Rules" in doc else [doc]
    return rules


def test_example_configuration_runs_hello(daemon, tmp_path):
    with example_daemon(daemon, tmp_path) as d:
        fams = d.call("ListTaskDefinitionFamilies", {})["families"]
        assert fams == FAMILIES
        t = d.call("RunTask", {"taskDefinition": "hello"})["tasks"][0]
        t = d.wait_task(t["taskArn"], "STOPPED")
        assert t["containers"][0]["exitCode"] == 0
        log = d.call(None, {"task": t["taskArn"]}, target="Tripline.GetTaskLogs")["containers"][0]["log"]
        assert log == "hello from a tripline task\n"
        # a restart does not register the unchanged files again
        assert d.stop() == 0
        d.start()
        assert d.call("ListTaskDefinitions", {})["taskDefinitionArns"] == [
            "arn:aws:ecs:local:000000000000:task-definition/%s:1" % f for f in FAMILIES]


def test_example_rules_name_what_exists(daemon, tmp_path):
    """Every task an example rule runs has an example task definition, every
    service it rescales an example service file (so the example workers
    service is there for scale-workers-on-backlog), and no target or dead
    letter is a kind that is not implemented (kafka:) or a path a non-root
    user cannot create."""
    runs, scales, arns = set(), set(), []
    for rule in example_rules():
        for t in rule["Targets"]:
            arns.append(t["Arn"])
            if "DeadLetterConfig" in t:
                arns.append(t["DeadLetterConfig"]["Arn"])
            ecs_params = t.get("EcsParameters")
            if ecs_params and ecs_params.get("Action", "RunTask") == "RunTask":
                runs.add(ecs_params["TaskDefinitionArn"])
            elif ecs_params and ecs_params["Action"] == "UpdateService":
                scales.add(ecs_params["Service"])
    assert runs == {"deploy", "ingest", "report", "thumbnailer"}
    assert scales == {"workers"}
    for arn in arns:
        assert not arn.startswith("kafka:"), arn
        if arn.startswith("file:"):
            assert not arn.startswith("file:/"), "%s: an absolute path a non-root user may not create" % arn
    with example_daemon(daemon, tmp_path) as d:
        families = set(d.call("ListTaskDefinitionFamilies", {})["families"])
        assert runs <= families
        for name in scales:
            s = d.service(name)
            assert (s["status"], s["desiredCount"]) == ("ACTIVE", 1)
        # the thumbnailer takes the object key the rule's transformer gives it
        over = {"containerOverrides": [{"name": "main", "environment": [{"name": "OBJECT_KEY", "value": "a/b.jpg"}]}]}
        t = d.call("RunTask", {"taskDefinition": "thumbnailer", "overrides": over})["tasks"][0]
        t = d.wait_task(t["taskArn"], "STOPPED")
        assert t["containers"][0]["exitCode"] == 0
        log = d.call(None, {"task": t["taskArn"]}, target="Tripline.GetTaskLogs")["containers"][0]["log"]
        assert log == "thumbnail for a/b.jpg\n"


def test_example_service_keeps_running(daemon, tmp_path):
    """The quick start's service: ticker stays RUNNING, scales, and logs."""
    with example_daemon(daemon, tmp_path) as d:
        d.call("CreateService", {"serviceName": "ticker", "taskDefinition": "ticker", "desiredCount": 2})

        def running():
            arns = d.call("ListTasks", {"serviceName": "ticker", "desiredStatus": "RUNNING"})["taskArns"]
            if not arns:
                return []
            return [t for t in d.call("DescribeTasks", {"tasks": arns})["tasks"] if t["lastStatus"] == "RUNNING"]

        wait_for(lambda: len(running()) == 2, "two ticker tasks RUNNING")
        arn = running()[0]["taskArn"]
        wait_for(lambda: "tick " in d.call(None, {"task": arn}, target="Tripline.GetTaskLogs")["containers"][0]["log"],
                 "a tick in the task's log")
        d.call("UpdateService", {"service": "ticker", "desiredCount": 1})
        wait_for(lambda: len(running()) == 1, "one ticker task RUNNING")
        d.call("DeleteService", {"service": "ticker", "force": True})
        wait_for(lambda: not running(), "no ticker task RUNNING")
        svc = d.call("DescribeServices", {"services": ["ticker"]})["services"]
        assert not svc or svc[0]["status"] in ("DRAINING", "INACTIVE")


def test_example_webhook_runs_the_deploy_task(daemon, tmp_path):
    """DESIGN.md §9 story 4 with the example config, as the README's quick
    start shows it: a GitHub-signed push to main runs the deploy task with
    the pushed commit from the rule's transformer; a bad signature gets 401
    and runs nothing."""
    body = json.dumps({"ref": "refs/heads/main", "after": "9fceb02d0ae598e95dc970b74767f19372d61af8"})
    sig = "sha256=" + hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
    with example_daemon(daemon, tmp_path) as d:
        bad = "sha256=" + hmac.new(b"wrong", body.encode(), hashlib.sha256).hexdigest()
        code, _ = curl(d.port, "/hooks/github", "POST", body, headers=["X-GitHub-Event: push", "X-Hub-Signature-256: " + bad])
        assert code == 401
        code, out = curl(d.port, "/hooks/github", "POST", body,
                         headers=["X-GitHub-Event: push", "X-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958",
                                  "X-Hub-Signature-256: " + sig])
        assert code == 202, out
        assert json.loads(out)["EventId"] == "72d3162e-cc78-11e3-81ab-4c9367dc0958"

        def deploys():
            return d.call("ListTasks", {"family": "deploy", "desiredStatus": "STOPPED"})["taskArns"]
        arn = wait_for(deploys, "the deploy task")[0]
        t = d.wait_task(arn, "STOPPED")
        assert t["containers"][0]["exitCode"] == 0
        log = d.call(None, {"task": arn}, target="Tripline.GetTaskLogs")["containers"][0]["log"]
        assert log == "deploying 9fceb02d0ae598e95dc970b74767f19372d61af8\n"
        # the refused request ran nothing: one deploy in all
        assert len(deploys()) == 1 and not d.call("ListTasks", {"family": "deploy"})["taskArns"]


def test_example_config_starts_as_shipped(tripline_bin, tmp_path):
    """deploy/tripline.example.json, from the repository root, with only the
    port and the data directory moved so that tests can run side by side."""
    with open(os.path.join(ROOT, "deploy", "tripline.example.json")) as f:
        cfg = json.load(f)
    port = free_port()
    cfg["listen"] = "127.0.0.1:%d" % port
    cfg["data_dir"] = str(tmp_path / "var")
    path = tmp_path / "tripline.json"
    path.write_text(json.dumps(cfg))
    log_path = tmp_path / "daemon.log"
    with open(log_path, "w") as log:
        p = subprocess.Popen([os.path.abspath(tripline_bin), "serve", "--config", str(path)], cwd=ROOT,
                             stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: p.poll() is not None or "listening on" in log_path.read_text(),
                     "the daemon listening (or exiting)")
            assert p.poll() is None, log_path.read_text()
            text = log_path.read_text()
            assert "loaded 7 rules" in text
            for family in FAMILIES:
                assert "task-definition/%s:1" % family in text
            assert "created arn:aws:ecs:local:000000000000:service/default/workers" in text
            assert " warn " not in text and " error " not in text, text
        finally:
            if p.poll() is None:
                drop_workers(port)
            p.send_signal(signal.SIGTERM)
            assert p.wait(timeout=DEADLINE) == 0
