"""The config's `services` files through the real daemon, and the other
config keys that act at its start: a service file (an ECS CreateService
request) is created at start with its tasks running; a restart leaves an
existing service's desired count as a rule or a person set it; a changed
file brings the service to its new task definition and deployment
configuration; a malformed or refused file stops the start with messages
naming it, and nothing of the other files is applied. A connection's env:
secret is never given to a task. Processes are counted from /proc (the
tasks' TEST_MARK)."""
import json

from tripline_test import DEADLINE, ApiError, Daemon, marked_pids, sleeper, wait_for


def write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def service_files(tmp_path, mark, services, **container):
    """Task definition `svc` (sleepers carrying mark, with container's
    fields) and the service files (file name -> object or text); the config
    keys that load them."""
    c = sleeper(mark)
    c.update(container)
    write(tmp_path / "taskdefs" / "svc.json", {"family": "svc", "containerDefinitions": [c]})
    for name, body in services.items():
        write(tmp_path / "services" / name, body)
    return {"task_definitions": [str(tmp_path / "taskdefs")], "services": [str(tmp_path / "services")]}


def running(d, name):
    arns = d.call("ListTasks", {"serviceName": name, "desiredStatus": "RUNNING"})["taskArns"]
    if not arns:
        return []
    return [t for t in d.call("DescribeTasks", {"tasks": arns})["tasks"] if t["lastStatus"] == "RUNNING"]


def steady(d, name, n, mark):
    wait_for(lambda: len(running(d, name)) == n and len(marked_pids(mark)) == n,
             "%d tasks of %s RUNNING, %d processes" % (n, name, n))


def test_service_file_created_at_start_and_count_kept_across_restarts(daemon, tmp_path, mark):
    cfg = service_files(tmp_path, mark, {"web.json": {
        "serviceName": "web", "taskDefinition": "svc", "desiredCount": 2,
        "deploymentConfiguration": {"minimumHealthyPercent": 50, "maximumPercent": 150}}})
    d = daemon(cfg)
    s = d.service("web")
    assert (s["status"], s["desiredCount"]) == ("ACTIVE", 2)
    assert s["taskDefinition"].endswith("task-definition/svc:1")
    assert s["deploymentConfiguration"]["minimumHealthyPercent"] == 50
    assert s["deploymentConfiguration"]["maximumPercent"] == 150
    assert "services/web.json: created arn:aws:ecs:local:000000000000:service/default/web" in d.log_text()
    steady(d, "web", 2, mark)
    dep = s["deployments"][0]["id"]

    # rescaled (as a rule would), then restarted: the count is kept, nothing is redeployed
    d.call("UpdateService", {"service": "web", "desiredCount": 3})
    steady(d, "web", 3, mark)
    assert d.stop() == 0
    d.start()
    s = d.service("web")
    assert s["desiredCount"] == 3
    assert [x["id"] for x in s["deployments"]] == [dep]
    assert "service/default/web is current (desired count 3)" in d.log_text()
    steady(d, "web", 3, mark)


def test_changed_file_updates_the_service(daemon, tmp_path, mark):
    cfg = service_files(tmp_path, mark, {"web.json": {"serviceName": "web", "taskDefinition": "svc", "desiredCount": 1}})
    d = daemon(cfg)
    steady(d, "web", 1, mark)
    d.call("UpdateService", {"service": "web", "desiredCount": 2})
    steady(d, "web", 2, mark)
    assert d.stop() == 0
    # a new revision of the family (its file changed) and a new deployment configuration
    c = sleeper(mark)
    c["environment"].append({"name": "REVISION", "value": "2"})
    write(tmp_path / "taskdefs" / "svc.json", {"family": "svc", "containerDefinitions": [c]})
    write(tmp_path / "services" / "web.json", {
        "serviceName": "web", "taskDefinition": "svc", "desiredCount": 1,
        "deploymentConfiguration": {"minimumHealthyPercent": 100, "maximumPercent": 200},
        "healthCheckGracePeriodSeconds": 5})
    d.start()
    s = d.service("web")
    assert s["taskDefinition"].endswith("task-definition/svc:2")
    assert s["desiredCount"] == 2                    # kept, not the file's 1
    assert s["deploymentConfiguration"]["maximumPercent"] == 200
    assert s["healthCheckGracePeriodSeconds"] == 5
    assert "services/web.json: updated arn:aws:ecs:local:000000000000:service/default/web to " \
           "arn:aws:ecs:local:000000000000:task-definition/svc:2 (its desired count 2 is kept)" in d.log_text()

    def rolled_out():
        s = d.service("web")
        tasks = running(d, "web")
        return (len(s["deployments"]) == 1 and len(tasks) == 2
                and all(t["taskDefinitionArn"].endswith("svc:2") for t in tasks))
    wait_for(rolled_out, "two tasks of svc:2")
    wait_for(lambda: len(marked_pids(mark)) == 2, "two processes")


def test_draining_service_is_left_alone(daemon, tmp_path, mark):
    """A service being deleted when the daemon starts is not created again
    over its draining tasks: a warning, and it stays DRAINING."""
    cfg = service_files(tmp_path, mark, {"web.json": {"serviceName": "web", "taskDefinition": "svc", "desiredCount": 1}},
                        command=["/bin/sh", "-c", "trap '' TERM; exec /bin/sleep 1000"], stopTimeout=100)
    d = daemon(cfg)
    steady(d, "web", 1, mark)
    d.call("DeleteService", {"service": "web", "force": True})
    assert d.service("web")["status"] == "DRAINING"
    assert d.stop() == 0
    d.start()
    assert d.service("web")["status"] == "DRAINING"
    assert ("services/web.json: service web is DRAINING (being deleted): left alone; a start after it is "
            "INACTIVE creates it again") in d.log_text()
    assert len(marked_pids(mark)) == 1


def refused(tripline_bin, tmp_path, cfg, name):
    """Starts a daemon that must refuse to: (exit status, log)."""
    d = Daemon(tripline_bin, tmp_path, cfg, name=name, wait=False)
    try:
        rc = d.proc.wait(timeout=DEADLINE)
    finally:
        d.kill()
    return rc, d.log_path.read_text()


def test_bad_files_stop_the_start_and_name_the_file(tripline_bin, tmp_path, mark):
    cfg = service_files(tmp_path, mark, {
        "a-good.json": {"serviceName": "good", "taskDefinition": "svc", "desiredCount": 1},
        "b-typo.json": {"serviceName": "b", "taskDefinition": "svc", "desiredCont": 1},
        "c-elb.json": {"serviceName": "c", "taskDefinition": "svc", "desiredCount": 1, "loadBalancers": [],
                       "deploymentConfiguration": {"maximumPercent": 200, "alarms": {}}},
        "d-type.json": {"serviceName": "d", "taskDefinition": "svc", "desiredCount": "1"},
        "e-syntax.json": '{"serviceName": "e",}',
        "f-array.json": [],
        "g-dup.json": {"serviceName": "good", "taskDefinition": "svc", "desiredCount": 2}})
    rc, log = refused(tripline_bin, tmp_path, cfg, "bad")
    assert rc == 2, log
    sv = str(tmp_path / "services") + "/"
    for msg in ("b-typo.json: /desiredCont: unknown field",
                "b-typo.json: /desiredCount: is required",
                "c-elb.json: /loadBalancers: not supported by tripline",
                "c-elb.json: /deploymentConfiguration/alarms: not supported by tripline",
                "d-type.json: desiredCount must be an integer",
                "e-syntax.json: invalid JSON at line 1, column 21",
                "f-array.json: must be a JSON object (an ECS CreateService request)",
                "g-dup.json: service good is already defined by " + sv + "a-good.json"):
        assert "error services: " + sv + msg in log, (msg, log)
    assert "not starting: the services files are invalid" in log
    # nothing was applied: no service was stored, no task started
    stored = tmp_path / "var" / "services"
    assert not stored.exists() or list(stored.iterdir()) == []
    assert marked_pids(mark) == []


def test_refused_by_the_orchestrator(daemon, tripline_bin, tmp_path, mark):
    cfg = service_files(tmp_path, mark, {"web.json": {"serviceName": "web", "taskDefinition": "nosuch", "desiredCount": 1}})
    rc, log = refused(tripline_bin, tmp_path, cfg, "nosuch")
    assert rc == 2, log
    assert "services/web.json: " in log and "not starting: the services files are invalid" in log, log
    # launchType cannot change on an existing service
    write(tmp_path / "services" / "web.json", {"serviceName": "web", "taskDefinition": "svc", "desiredCount": 1})
    d = daemon(cfg, name="second")
    steady(d, "web", 1, mark)
    assert d.stop() == 0
    write(tmp_path / "services" / "web.json",
          {"serviceName": "web", "taskDefinition": "svc", "desiredCount": 1, "launchType": "EXTERNAL"})
    rc, log = refused(tripline_bin, tmp_path, cfg, "launch")
    assert rc == 2, log
    assert ("services/web.json: launchType cannot change from EC2 to EXTERNAL (UpdateService cannot change it "
            "either): delete service web to create it anew") in log


def test_connection_env_secret_is_never_given_to_tasks(daemon, monkeypatch):
    """A connection's env: variable is one of the daemon's secrets, even under
    the always-allowed TRIPLINE_TASK_ prefix."""
    monkeypatch.setenv("TRIPLINE_TASK_HOOK_TOKEN", "hook-secret-4242")
    d = daemon({"connections": {"hook": {"auth": "bearer", "secret": "env:TRIPLINE_TASK_HOOK_TOKEN"}}})
    try:
        d.call("RegisterTaskDefinition", {"family": "leak", "containerDefinitions": [{
            "name": "app", "command": ["/bin/true"],
            "secrets": [{"name": "T", "valueFrom": "env:TRIPLINE_TASK_HOOK_TOKEN"}]}]})
        raise AssertionError("a connection's secret variable was accepted")
    except ApiError as e:
        assert (e.status, e.type) == (400, "ClientException")
        assert "TRIPLINE_TASK_HOOK_TOKEN holds one of the daemon's own secrets" in e.body["message"]
    assert "hook-secret-4242" not in d.log_text()
