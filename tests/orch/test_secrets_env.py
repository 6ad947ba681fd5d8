"""valueFrom "env:NAME" through the real daemon: only names the config
allows (secrets.env_allow prefixes, TRIPLINE_TASK_ always), never a
variable that holds one of the daemon's own secrets. RegisterTaskDefinition
refuses what can never resolve; a definition that reaches a launch anyway
(a task_definitions file) fails to start as ECS fails a secret it cannot
fetch. No message ever carries a value."""
import json
import subprocess

from tripline_test import ECS, ApiError

VALUE = "daemon-only-value-5150"   # every variable below holds it: it must never show


def td(family, secrets, command=None):
    return {"family": family, "containerDefinitions": [{
        "name": "app", "command": command or ["/bin/true"],
        "secrets": [{"name": "S%d" % i, "valueFrom": ref} for i, ref in enumerate(secrets)]}]}


def register_error(d, body):
    try:
        d.call("RegisterTaskDefinition", body)
    except ApiError as e:
        return e
    raise AssertionError("RegisterTaskDefinition accepted %s" % json.dumps(body))


def signed(d, op, body):
    """(status, parsed body) of an ECS operation signed by curl as AKIDTEST."""
    r = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", "5", "-X", "POST",
                        "-H", "Content-Type: application/x-amz-json-1.1", "-H", "X-Amz-Target: " + ECS + op,
                        "--data-binary", json.dumps(body), "--aws-sigv4", "aws:amz:local:ecs",
                        "--user", "AKIDTEST:" + VALUE, d.url()], capture_output=True, text=True, timeout=15)
    assert r.returncode == 0, r.stderr
    text, _, code = r.stdout.rpartition("\n")
    return int(code), json.loads(text)


def test_env_name_not_allowed_is_refused(daemon, monkeypatch):
    monkeypatch.setenv("SOME_DAEMON_VAR", VALUE)
    d = daemon()
    e = register_error(d, td("nope", ["env:SOME_DAEMON_VAR"]))
    assert (e.status, e.type) == (400, "ClientException")
    assert e.body["message"] == (
        "request: /containerDefinitions/0/secrets/0/valueFrom: env:SOME_DAEMON_VAR: the daemon's environment "
        "variable SOME_DAEMON_VAR is not allowed: only names starting with TRIPLINE_TASK_ or a prefix listed "
        "in the config's secrets.env_allow may be read")
    assert d.call("ListTaskDefinitionFamilies")["families"] == []
    # every refusal is listed, with its pointer; other references are not judged here
    e = register_error(d, td("two", ["env:HOME", "db-password", "env:PATH"]))
    lines = e.body["message"].split("\n")
    assert [ln.split(": ")[1] for ln in lines] == ["/containerDefinitions/0/secrets/0/valueFrom",
                                                   "/containerDefinitions/0/secrets/2/valueFrom"]
    assert VALUE not in d.log_text()
    assert d.stop() == 0


def test_daemon_secrets_are_refused_whatever_the_prefixes(daemon, monkeypatch):
    # an auth key, a webhook secret and cluster credentials, all in variables
    # that the prefixes (TRIPLINE_TASK_ always, MYAPP_ configured) would allow
    for name in ("TRIPLINE_TASK_APIKEY", "MYAPP_HOOK", "MYAPP_ACCESS_KEY_ID", "MYAPP_SECRET_ACCESS_KEY",
                 "MYAPP_SESSION_TOKEN", "MYAPP_OTHER"):
        monkeypatch.setenv(name, VALUE)
    d = daemon({"auth": {"keys": {"AKIDTEST": "env:TRIPLINE_TASK_APIKEY"}},
                "secrets": {"env_allow": ["MYAPP_"]},
                "sources": {"webhooks": [{"name": "gh", "auth": "bearer", "secret": "env:MYAPP_HOOK"}]},
                "clusters": {"prod": {"endpoint": "http://127.0.0.1:9", "region": "eu-west-1",
                                      "credentials": "env:MYAPP"}}})
    for name in ("TRIPLINE_TASK_APIKEY", "MYAPP_HOOK", "MYAPP_ACCESS_KEY_ID", "MYAPP_SECRET_ACCESS_KEY",
                 "MYAPP_SESSION_TOKEN"):
        code, out = signed(d, "RegisterTaskDefinition", td("deny", ["env:" + name]))
        assert (code, out["__type"]) == (400, "ClientException"), (name, out)
        assert out["message"] == (
            "request: /containerDefinitions/0/secrets/0/valueFrom: env:%s: %s holds one of the daemon's own "
            "secrets (an auth key, a webhook secret or cluster credentials) and is never given to a task"
            % (name, name))
    # the same prefix for a variable that is not one of them: allowed
    code, out = signed(d, "RegisterTaskDefinition", td("allow", ["env:MYAPP_OTHER"]))
    assert code == 200, out
    assert VALUE not in d.log_text()
    assert d.stop() == 0


def test_allowed_names_reach_the_task(daemon, monkeypatch):
    monkeypatch.setenv("TRIPLINE_TASK_GREETING", "hello-from-the-daemon")
    monkeypatch.setenv("APP_COLOUR", "blue")
    d = daemon({"secrets": {"env_allow": ["APP_"]}})
    d.register("greet", td("greet", ["env:TRIPLINE_TASK_GREETING", "env:APP_COLOUR"],
                           ["/bin/sh", "-c", 'echo "got $S0 $S1"'])["containerDefinitions"])
    arn = d.call("RunTask", {"taskDefinition": "greet"})["tasks"][0]["taskArn"]
    t = d.wait_task(arn, "STOPPED")
    assert t["containers"][0]["exitCode"] == 0, t
    log = d.call(None, {"task": arn}, target="Tripline.GetTaskLogs")["containers"][0]["log"]
    assert log == "got hello-from-the-daemon blue\n"
    assert d.stop() == 0


def test_a_definition_file_naming_a_forbidden_variable_fails_at_launch(daemon, monkeypatch, tmp_path):
    # definitions from task_definitions files do not go through
    # RegisterTaskDefinition: the launch refuses the secret, as ECS fails a
    # task whose secret cannot be fetched
    monkeypatch.setenv("SOME_DAEMON_VAR", VALUE)
    path = tmp_path / "leak.json"
    path.write_text(json.dumps(td("leak", ["env:SOME_DAEMON_VAR"], ["/usr/bin/env"])))
    d = daemon({"task_definitions": [str(path)]})
    out = d.call("RunTask", {"taskDefinition": "leak"})
    assert out["failures"] == []
    t = d.wait_task(out["tasks"][0]["taskArn"], "STOPPED")
    assert t["stopCode"] == "TaskFailedToStart"
    assert t["stoppedReason"].startswith(
        "ResourceInitializationError: unable to retrieve secret for S0: env:SOME_DAEMON_VAR: the daemon's "
        "environment variable SOME_DAEMON_VAR is not allowed"), t["stoppedReason"]
    assert VALUE not in json.dumps(t) and VALUE not in d.log_text()
    assert d.stop() == 0
