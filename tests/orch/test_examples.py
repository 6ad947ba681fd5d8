"""The configuration deploy/run.sh starts: the example rules and task
definitions load, the example tasks run (hello exits, ticker keeps running
as a service); and deploy/tripline.example.json starts as shipped."""
import json
import os
import signal
import subprocess

from tripline_test import DEADLINE, ROOT, free_port, wait_for


def run_sh_config():
    """deploy/examples/tripline.json with absolute paths, without its port
    and data directory (the test daemon picks its own)."""
    with open(os.path.join(ROOT, "deploy", "examples", "tripline.json")) as f:
        cfg = json.load(f)
    cfg = {k: v for k, v in cfg.items() if k not in ("listen", "data_dir")}
    cfg["rules"] = [os.path.join(ROOT, p) for p in cfg["rules"]]
    cfg["task_definitions"] = [os.path.join(ROOT, p) for p in cfg["task_definitions"]]
    return cfg


def test_example_configuration_runs_hello(daemon):
    d = daemon(run_sh_config())
    fams = d.call("ListTaskDefinitionFamilies", {})["families"]
    assert fams == ["hello", "ticker"]
    t = d.call("RunTask", {"taskDefinition": "hello"})["tasks"][0]
    t = d.wait_task(t["taskArn"], "STOPPED")
    assert t["containers"][0]["exitCode"] == 0
    log = d.call(None, {"task": t["taskArn"]}, target="Tripline.GetTaskLogs")["containers"][0]["log"]
    assert log == "hello from a tripline task\n"
    # a restart does not register the unchanged file again
    assert d.stop() == 0
    d.start()
    assert d.call("ListTaskDefinitions", {})["taskDefinitionArns"] == [
        "arn:aws:ecs:local:000000000000:task-definition/hello:1",
        "arn:aws:ecs:local:000000000000:task-definition/ticker:1"]


def test_example_service_keeps_running(daemon):
    """The quick start's service: ticker stays RUNNING, scales, and logs."""
    d = daemon(run_sh_config())
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
            assert "task-definition/hello:1" in text and "task-definition/ticker:1" in text
            assert " warn " not in text and " error " not in text, text
        finally:
            p.send_signal(signal.SIGTERM)
            assert p.wait(timeout=DEADLINE) == 0
