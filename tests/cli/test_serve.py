"""`tripline serve`: the daemon's lifecycle, through real HTTP with curl.

Each test starts the real binary on a free loopback port, polls with a
deadline (no fixed sleeps) and stops it with a signal.
"""
import http.client
import json
import os
import signal
import subprocess

from tripline_test import AWS, DEADLINE, ECS, Daemon, aws_cli, curl, free_port, wait_for


RULE = {"Name": "uploads", "EventPattern": {"source": ["aws.s3"]}}


def test_health_metrics_and_clean_stop(daemon):
    d = daemon(rules={"a.json": RULE})
    d.wait_ready()
    code, body = curl(d.port, "/healthz")
    doc = json.loads(body)
    assert (code, doc["status"]) == (200, "ok")
    assert doc["components"]["journal"]["status"] == "ok"
    assert doc["components"]["bus"] == {"status": "ok", "queued": 0, "room": doc["components"]["bus"]["room"]}
    assert doc["components"]["bus"]["room"] > 0
    assert d.metric("tripline_rules") == 1
    code, body = curl(d.port, "/metrics")
    assert 'tripline_build_info{version="' in body
    assert 'tripline_http_requests_total{code="2xx"}' in body
    assert curl(d.port, "/nope")[0] == 404
    assert curl(d.port, "/healthz", method="DELETE")[0] == 405
    assert d.stop(signal.SIGTERM) == 0
    assert "listening on 127.0.0.1:%d" % d.port in d.log_text()
    assert "stopping (SIGTERM)" in d.log_text()


def test_sigint_stops_too(daemon):
    d = daemon()
    d.wait_ready()
    assert d.stop(signal.SIGINT) == 0


def test_sighup_reload_is_all_or_nothing(daemon):
    d = daemon(rules={"a.json": RULE})
    d.wait_ready()
    (d.rules_dir / "b.json").write_text(json.dumps({"Name": "bad", "EventPattern": {"x": []}}))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: d.metric('tripline_rule_reloads_total{result="failed"}') >= 1, "a failed reload")
    assert "b.json: /EventPattern/x: Empty arrays are not allowed" in d.log_text()
    assert d.metric("tripline_rules") == 1          # the old set stays
    (d.rules_dir / "b.json").write_text(json.dumps({"Name": "good", "EventPattern": {"x": [1]}}))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: d.metric("tripline_rules") == 2, "the reloaded set")
    assert d.stop() == 0


def test_request_body_limit(daemon):
    d = daemon(config={"limits": {"max_request_bytes": 2048, "max_event_bytes": 1024}})
    d.wait_ready()
    code, body = curl(d.port, "/healthz", method="POST", data="x" * 4096)
    assert code == 413
    assert "2048" in json.loads(body)["message"]
    assert curl(d.port, "/healthz")[0] == 200        # still serving
    assert d.stop() == 0


def test_invalid_config_refuses_to_start(run, tmp_path):
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({"listen": "127.0.0.1:99999", "clustr": {}}))
    r = run("serve", "--config", str(cfg), timeout=30)
    assert r.returncode == 2
    assert "%s: /listen: " % cfg in r.stderr
    assert "%s: /clustr: unknown field" % cfg in r.stderr


def test_invalid_rules_refuse_to_start(tripline_bin, tmp_path):
    d = Daemon(tripline_bin, tmp_path, rules={"bad.json": {"Name": "x", "State": "MAYBE",
                                                          "EventPattern": {"a": ["1"]}}}, wait=False)
    assert d.proc.wait(timeout=DEADLINE) == 2
    assert "bad.json: /State:" in d.log_text()
    assert curl(d.port, "/healthz")[0] is None       # never listened
    d.log.close()


def test_a_connection_secret_that_cannot_be_read_refuses_to_start(tripline_bin, tmp_path):
    cfg = {"connections": {"hook": {"auth": "bearer", "secret": "env:TRIPLINE_TEST_NO_SUCH_VARIABLE"}}}
    d = Daemon(tripline_bin, tmp_path, config=cfg, wait=False)
    assert d.proc.wait(timeout=DEADLINE) == 2
    text = d.log_text()
    assert "connection hook: " in text and "TRIPLINE_TEST_NO_SUCH_VARIABLE" in text
    assert "not starting: a connection's secret cannot be read" in text
    d.log.close()


def test_rule_and_taskdef_paths(tripline_bin, tmp_path):
    """A path written in the config must exist; only the defaults may be
    missing (with a warning), and paths that give no files are named."""
    # written and missing: the daemon refuses to start, naming the path
    for key in ("rules", "task_definitions"):
        sub = tmp_path / ("written-" + key)
        sub.mkdir()
        d = Daemon(tripline_bin, sub, config={key: [str(sub / "nowhere")]}, wait=False)
        assert d.proc.wait(timeout=DEADLINE) == 2
        assert "%s: No such file or directory" % (sub / "nowhere") in d.log_text()
        d.log.close()
    # the defaults, missing, in a directory with neither: it starts, and says so
    home = tmp_path / "home"
    home.mkdir()
    cfg = home / "t.json"
    port = free_port()
    cfg.write_text(json.dumps({"listen": "127.0.0.1:%d" % port, "data_dir": str(home / "var")}))
    log = open(home / "log", "w")
    p = subprocess.Popen([os.path.abspath(tripline_bin), "serve", "--config", str(cfg)], cwd=str(home),
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: curl(port, "/healthz")[0] == 200, "the daemon answers /healthz")
        text = (home / "log").read_text()
        assert "./rules does not exist: none loaded (the default of `rules`" in text
        assert "./taskdefs does not exist: none loaded (the default of `task_definitions`" in text
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=DEADLINE)
        log.close()
    # an empty folder is named, not loaded quietly
    empty = tmp_path / "empty"
    empty.mkdir()
    d = Daemon(tripline_bin, empty, config={"task_definitions": [str(empty / "rules")]})
    wait_for(lambda: "no *.json files found" in d.log_text(), "the warning about empty folders")
    assert "rules: %s: no *.json files found" % (empty / "rules") in d.log_text()
    assert "taskdefs: %s: no *.json files found" % (empty / "rules") in d.log_text()
    d.stop()


def test_serve_usage(run):
    r = run("serve")
    assert r.returncode == 2
    assert "--config FILE is required" in r.stderr
    assert run("serve", "--config", "x", "--log-level", "loud").returncode == 2


# ---------------------------------------------------------------- the AWS JSON API

def aws_json(port, target, body, sigv4=None, user=None):
    """(status, parsed body) of POST / with an X-Amz-Target, optionally signed by curl."""
    args = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", "5", "-X", "POST",
            "-H", "Content-Type: application/x-amz-json-1.1", "--data-binary", "@-"]
    if target:
        args += ["-H", "X-Amz-Target: " + target]
    if sigv4:
        args += ["--aws-sigv4", sigv4, "--user", user]
    args.append("http://127.0.0.1:%d/" % port)
    r = subprocess.run(args, input=body, capture_output=True, text=True, timeout=15)
    assert r.returncode == 0, r.stderr
    text, _, code = r.stdout.rpartition("\n")
    return int(code), json.loads(text)


def test_api_clusters_and_errors(daemon):
    d = daemon()
    d.wait_ready()
    arn = "arn:aws:ecs:local:000000000000:cluster/default"
    assert aws_json(d.port, ECS + "ListClusters", "{}") == (200, {"clusterArns": [arn]})
    code, out = aws_json(d.port, ECS + "DescribeClusters", json.dumps({"clusters": ["default", "nope"]}))
    assert code == 200
    assert [c["clusterArn"] for c in out["clusters"]] == [arn]
    assert out["failures"] == [{"arn": "nope", "reason": "MISSING"}]
    code, out = aws_json(d.port, ECS + "FlyToTheMoon", "{}")
    assert (code, out["__type"]) == (400, "UnknownOperationException")
    code, out = aws_json(d.port, ECS + "ListClusters", "{not json")
    assert (code, out["__type"]) == (400, "SerializationException")
    assert "line 1" in out["message"]
    code, out = aws_json(d.port, None, "{}")
    assert (code, out["__type"]) == (400, "MissingTargetException")
    assert d.stop() == 0


def test_api_sigv4(daemon):
    d = daemon(config={"auth": {"keys": {"AKIDTEST": "value:s3cr3t-key"}}})
    d.wait_ready()
    ok = aws_json(d.port, ECS + "ListClusters", "{}", sigv4="aws:amz:local:ecs", user="AKIDTEST:s3cr3t-key")
    assert ok[0] == 200 and ok[1]["clusterArns"]
    code, out = aws_json(d.port, ECS + "ListClusters", "{}", sigv4="aws:amz:local:ecs", user="AKIDTEST:wrong")
    assert (code, out["__type"]) == (403, "InvalidSignatureException")
    code, out = aws_json(d.port, ECS + "ListClusters", "{}", sigv4="aws:amz:local:ecs", user="AKIDNOPE:x")
    assert (code, out["__type"]) == (403, "UnrecognizedClientException")
    code, out = aws_json(d.port, ECS + "ListClusters", "{}")
    assert code == 403
    assert d.stop() == 0


def raw_post(port, headers, body=b"{}"):
    """(status, parsed body) of POST / with header values sent as raw bytes."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.putrequest("POST", "/")
        for name, value in headers:
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def test_api_errors_quoting_bad_utf8(daemon):
    # a message that quotes what the client sent stays a JSON answer of the
    # right status: invalid UTF-8 becomes U+FFFD
    d = daemon()
    d.wait_ready()
    code, out = raw_post(d.port, [("X-Amz-Target", ECS.encode() + b"\xffMoon")])
    assert (code, out["__type"]) == (400, "UnknownOperationException")
    assert out["message"].endswith(ECS + "\ufffdMoon")
    # %.200s cuts a long target inside a character: still a JSON answer
    code, out = raw_post(d.port, [("X-Amz-Target", ECS.encode() + "é".encode() * 200)])
    assert (code, out["__type"]) == (400, "UnknownOperationException")
    d.stop()
    d = daemon(config={"auth": {"keys": {"AKIDTEST": "value:s3cr3t-key"}}})
    d.wait_ready()
    auth = (b"AWS4-HMAC-SHA256 Credential=AKIDTEST/20150830/local/ecs/aws4_request, "
            b"SignedHeaders=host;x-\xff, Signature=" + b"0" * 64)
    code, out = raw_post(d.port, [("X-Amz-Target", ECS + "ListClusters"), ("Authorization", auth),
                                  ("X-Amz-Date", "20150830T123600Z")])
    assert code == 403 and out["__type"] == "IncompleteSignatureException", out
    assert "\ufffd" in out["message"]
    assert d.stop() == 0


def test_task_definitions_directories_are_walked(daemon, tmp_path):
    # a task_definitions directory means what a rules directory means: every
    # *.json below it, hidden names skipped
    tds = tmp_path / "tds"
    (tds / "team-a").mkdir(parents=True)
    (tds / ".hidden").mkdir()
    for path, family in [(tds / "top.json", "top"), (tds / "team-a" / "nested.json", "nested"),
                         (tds / ".hidden" / "secret.json", "hidden"), (tds / ".dot.json", "dot")]:
        path.write_text(json.dumps({"family": family,
                                    "containerDefinitions": [{"name": "c", "command": ["/bin/true"]}]}))
    (tds / "notes.txt").write_text("not a definition")
    d = daemon(config={"task_definitions": [str(tds)]})
    d.wait_ready()
    code, out = aws_json(d.port, ECS + "ListTaskDefinitionFamilies", "{}")
    assert (code, out["families"]) == (200, ["nested", "top"])
    assert d.stop() == 0


def test_api_task_definitions_persist(daemon, tripline_bin, tmp_path):
    d = daemon()
    d.wait_ready()
    td = {"family": "thumbnailer",
          "containerDefinitions": [{"name": "main", "command": ["/bin/true"],
                                    "secrets": [{"name": "TOKEN", "valueFrom": "api-token"}]}]}
    code, out = aws_json(d.port, ECS + "RegisterTaskDefinition", json.dumps(td))
    assert code == 200, out
    assert out["taskDefinition"]["revision"] == 1
    assert out["taskDefinition"]["taskDefinitionArn"] == \
        "arn:aws:ecs:local:000000000000:task-definition/thumbnailer:1"
    assert aws_json(d.port, ECS + "RegisterTaskDefinition", json.dumps(td))[1]["taskDefinition"]["revision"] == 2
    code, out = aws_json(d.port, ECS + "DescribeTaskDefinition", json.dumps({"taskDefinition": "thumbnailer"}))
    assert (code, out["taskDefinition"]["revision"]) == (200, 2)
    assert out["taskDefinition"]["containerDefinitions"][0]["secrets"] == \
        [{"name": "TOKEN", "valueFrom": "api-token"}]
    code, out = aws_json(d.port, ECS + "DeregisterTaskDefinition", json.dumps({"taskDefinition": "thumbnailer:2"}))
    assert (code, out["taskDefinition"]["status"]) == (200, "INACTIVE")
    code, out = aws_json(d.port, ECS + "ListTaskDefinitions", "{}")
    assert out["taskDefinitionArns"] == ["arn:aws:ecs:local:000000000000:task-definition/thumbnailer:1"]
    code, out = aws_json(d.port, ECS + "ListTaskDefinitionFamilies", "{}")
    assert out["families"] == ["thumbnailer"]
    # every problem, with its pointer
    bad = {"family": "x y", "containerDefinitions": [{"name": "main", "memory": 1}]}
    code, out = aws_json(d.port, ECS + "RegisterTaskDefinition", json.dumps(bad))
    assert (code, out["__type"]) == (400, "ClientException")
    assert "request: /family: " in out["message"]
    assert "request: /containerDefinitions/0/memory: " in out["message"]
    code, out = aws_json(d.port, ECS + "DescribeTaskDefinition", json.dumps({"taskDefinition": "nope"}))
    assert (code, out["__type"]) == (400, "ClientException")
    assert d.stop() == 0

    # a restart keeps every revision and their status; the next one is 3
    d2 = Daemon(tripline_bin, tmp_path, wait=False)
    try:
        d2.wait_ready()
        code, out = aws_json(d2.port, ECS + "ListTaskDefinitions", json.dumps({"status": "ALL"}))
        assert [a.rsplit(":", 1)[1] for a in out["taskDefinitionArns"]] == ["1", "2"]
        code, out = aws_json(d2.port, ECS + "RegisterTaskDefinition", json.dumps(td))
        assert out["taskDefinition"]["revision"] == 3
        assert d2.stop() == 0
    finally:
        if d2.proc.poll() is None:
            d2.proc.kill()
        d2.log.close()


# ---------------------------------------------------------------- the real AWS CLI

def test_aws_cli_drives_the_api(daemon):
    if not os.access(AWS, os.X_OK):
        raise AssertionError("%s is missing: deploy/install-deps.sh installs Debian's awscli" % AWS)
    d = daemon(config={"auth": {"keys": {"AKIDCLI": "value:cli-secret"}}})
    d.wait_ready()
    r = aws_cli(d.port, "ecs", "list-clusters")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["clusterArns"] == ["arn:aws:ecs:local:000000000000:cluster/default"]
    r = aws_cli(d.port, "ecs", "register-task-definition", "--family", "demo", "--container-definitions",
                json.dumps([{"name": "main", "command": ["/bin/echo", "hi"], "memory": 64}]))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["taskDefinition"]["taskDefinitionArn"].endswith("task-definition/demo:1")
    r = aws_cli(d.port, "ecs", "describe-task-definition", "--task-definition", "demo:1")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["taskDefinition"]["containerDefinitions"][0]["command"] == ["/bin/echo", "hi"]
    r = aws_cli(d.port, "ecs", "list-clusters", secret="wrong")
    assert r.returncode != 0
    assert "InvalidSignatureException" in r.stderr
    assert d.stop() == 0
