"""The configuration deploy/run.sh starts: the example rules and task
definitions load, and the example task runs."""
import json
import os

from tripline_test import ROOT


def test_example_configuration_runs_hello(daemon):
    with open(os.path.join(ROOT, "deploy", "examples", "tripline.json")) as f:
        cfg = json.load(f)
    cfg = {k: v for k, v in cfg.items() if k not in ("listen", "data_dir")}
    cfg["rules"] = [os.path.join(ROOT, p) for p in cfg["rules"]]
    cfg["task_definitions"] = [os.path.join(ROOT, p) for p in cfg["task_definitions"]]
    d = daemon(cfg)
    fams = d.call("ListTaskDefinitionFamilies", {})["families"]
    assert fams == ["hello"]
    t = d.call("RunTask", {"taskDefinition": "hello"})["tasks"][0]
    t = d.wait_task(t["taskArn"], "STOPPED")
    assert t["containers"][0]["exitCode"] == 0
    log = d.call(None, {"task": t["taskArn"]}, target="Tripline.GetTaskLogs")["containers"][0]["log"]
    assert log == "hello from a tripline task\n"
    # a restart does not register the unchanged file again
    assert d.stop() == 0
    d.start()
    assert d.call("ListTaskDefinitions", {})["taskDefinitionArns"] == [
        "arn:aws:ecs:local:000000000000:task-definition/hello:1"]
