"""Webhooks through the real daemon over real HTTP: POST /hooks/<name> with
GitHub, bearer and hmac (Stripe-form timestamp) authentication; every answer
(202 once journalled, 400, 401, 404, 405, 413, 415, 503); the event a rule
sees (detail = the body, detail-type and id from headers, the request headers
in the extension member "tripline"); X-Forwarded-For from a trusted and an
untrusted peer; the secret in no log line, answer or event; and kill -9 right
after a burst of 202s: every accepted event is dispatched after the restart."""
import hashlib
import hmac
import http.client
import json
import os
import socket
import threading
import time

from tripline_test import json_lines, wait_for

GH_SECRET = "gh-Secret-5c1e0a9f"
TOKEN = "tok-Secret-8d2b41"
STRIPE_SECRET = "whsec-Secret-77aa"
SECRETS = (GH_SECRET, TOKEN, STRIPE_SECRET)


def post(port, path, body, headers=None, method="POST", content_type="application/json"):
    """(status, headers as a dict of lower-case names, parsed JSON body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = dict(headers or {})
    if content_type:
        h["Content-Type"] = content_type
    data = body.encode() if isinstance(body, str) else body
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    raw = r.read()
    hd = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    try:
        doc = json.loads(raw) if raw else None
    except ValueError:
        doc = raw
    return r.status, hd, doc


def github_headers(body, delivery, event="push", secret=GH_SECRET):
    sig = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": "sha256=" + sig}


def stripe_headers(body, ts):
    sig = hmac.new(STRIPE_SECRET.encode(), ("%d.%s" % (ts, body)).encode(), hashlib.sha256).hexdigest()
    return {"X-Sig": "v1=" + sig, "X-Ts": str(ts)}


def burst_at_once(port, path, bodies):
    """POSTs each body on its own connection, every request written before
    any answer is read: [(status, headers, parsed body)]."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in bodies]
    for s, body in zip(socks, bodies):
        s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (path, len(body), body)).encode())
    out = []
    for s in socks:
        r = http.client.HTTPResponse(s)
        r.begin()
        raw = r.read()
        out.append((r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(raw)))
        s.close()
    return out


def lines(path):
    return json_lines(path)


def labelled(d, family, **labels):
    """The value of the series of family with exactly these labels (any order), or None."""
    want = {k: str(v) for k, v in labels.items()}
    for line in d.metrics().splitlines():
        if not line.startswith(family + "{"):
            continue
        inner = line[len(family) + 1:line.rindex("}")]
        got = dict(kv.split("=", 1) for kv in inner.split(","))
        if {k: v.strip('"') for k, v in got.items()} == want:
            return float(line.split()[-1])
    return None


def secret_file(tmp_path, name, value):
    p = tmp_path / name
    p.write_text(value + "\n")
    os.chmod(p, 0o600)
    return "file:" + str(p)


def hooks_config(tmp_path, **extra):
    cfg = {"log_level": "debug", "sources": {"webhooks": [
        {"name": "github", "auth": "github", "secret": secret_file(tmp_path, "gh.secret", GH_SECRET),
         "detail_type_header": "X-GitHub-Event", "id_header": "X-GitHub-Delivery"},
        {"name": "tok", "auth": "bearer", "secret": "value:" + TOKEN, "source": "ci", "detail_type": "Build"},
        {"name": "stripe", "auth": "hmac", "secret": "value:" + STRIPE_SECRET, "signature_header": "X-Sig",
         "signature_prefix": "v1=", "timestamp_header": "X-Ts", "tolerance_s": 60},
        {"name": "open"},
    ]}}
    cfg.update(extra)
    return cfg


def file_rule(name, out, pattern, **target):
    t = {"Id": "out", "Arn": "file:" + str(out)}
    t.update(target)
    return {"Rules": [{"Name": name, "EventPattern": pattern, "Targets": [t]}]}


def assert_no_secret(d, *paths):
    for text in [d.log_text()] + [p.read_text() for p in paths if p.exists()]:
        for s in SECRETS:
            assert s not in text


# ---------------------------------------------------------------- GitHub

def test_github_valid_invalid_missing(daemon, tmp_path):
    out = tmp_path / "push.jsonl"
    rules = {"gh.json": file_rule("pushes", out, {"tripline": {"webhook": {"headers": {"x-github-event": ["push"]}}}},
                                  Dedup={"Key": "$.id", "WindowSeconds": 600})}
    d = daemon(config=hooks_config(tmp_path), rules=rules)
    body = '{"ref": "refs/heads/main",\n "commits": [{"id": "abc"}]}'
    delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    h = github_headers(body, delivery)

    # invalid (signed with another secret, or for another body) and missing: 401, one message
    bad = github_headers(body, "bad-1", secret="not-the-secret")
    code, _, doc = post(d.port, "/hooks/github", body, bad)
    assert code == 401
    message = doc["message"]
    code, _, doc = post(d.port, "/hooks/github", body + " ", h)
    assert code == 401 and doc["message"] == message
    code, _, doc = post(d.port, "/hooks/github", body, {k: v for k, v in h.items() if k != "X-Hub-Signature-256"})
    assert code == 401 and doc["message"] == message

    # valid: 202 with the delivery id; the same delivery again: 202, dispatched once
    code, _, doc = post(d.port, "/hooks/github", body, dict(h, Authorization="Bearer " + GH_SECRET,
                                                             Cookie="s=1", **{"X-Trace": "t1"}),
                        content_type="application/json; charset=utf-8")
    assert (code, doc) == (202, {"EventId": delivery})
    code, _, doc = post(d.port, "/hooks/github", body, h)
    assert (code, doc) == (202, {"EventId": delivery})
    wait_for(lambda: labelled(d, "tripline_target_invocations_total", rule="pushes", target="out",
                              result="dedup") == 1, "the resend deduplicated")
    wait_for(lambda: len(lines(out)) == 1, "one line")
    assert labelled(d, "tripline_target_invocations_total", rule="pushes", target="out", result="success") == 1
    ev = lines(out)[0]
    assert ev["id"] == delivery
    assert ev["detail-type"] == "push"
    assert ev["source"] == "webhook.github"
    assert ev["detail"] == json.loads(body)
    w = ev["tripline"]["webhook"]
    assert w["name"] == "github" and w["query"] == "" and w["source_ip"] == "127.0.0.1"
    assert w["headers"]["x-github-event"] == "push"
    assert w["headers"]["x-github-delivery"] == delivery
    assert w["headers"]["x-trace"] == "t1"
    for hidden in ("authorization", "cookie", "x-hub-signature-256"):
        assert hidden not in w["headers"]

    # another event type does not match the rule: accepted, nothing dispatched
    other = github_headers(body, "d-2", event="issues")
    code, _, doc = post(d.port, "/hooks/github?x=1", body, other)
    assert (code, doc) == (202, {"EventId": "d-2"})

    wait_for(lambda: labelled(d, "tripline_webhook_requests_total", name="github", code="202") == 3, "3 counted")
    assert labelled(d, "tripline_webhook_requests_total", name="github", code="401") == 3
    assert labelled(d, "tripline_source_events_total", kind="webhook", name="github") == 3
    assert labelled(d, "tripline_source_errors_total", kind="webhook", name="github", reason="signature") == 3
    assert len(lines(out)) == 1
    assert "refused a request from 127.0.0.1" in d.log_text()
    code, _, doc = post(d.port, "/healthz", "", method="GET", content_type=None)
    assert doc["components"]["webhook/github"] == {"status": "ok", "auth": "github"}
    assert doc["components"]["webhook/stripe"] == {"status": "ok", "auth": "hmac"}
    assert d.stop() == 0
    assert_no_secret(d, out)


# ---------------------------------------------------------------- bearer, hmac, none

def test_bearer_hmac_and_none(daemon, tmp_path):
    out = tmp_path / "all.jsonl"
    rules = {"all.json": file_rule("hooks", out, {"tripline": {"webhook": {"name": [{"exists": True}]}}})}
    d = daemon(config=hooks_config(tmp_path), rules=rules)
    body = '{"n": 1}'

    assert post(d.port, "/hooks/tok", body, {"Authorization": "Bearer " + TOKEN})[0] == 202
    assert post(d.port, "/hooks/tok", body, {"Authorization": "bearer " + TOKEN})[0] == 202
    assert post(d.port, "/hooks/tok", body, {"Authorization": "Bearer " + TOKEN + "x"})[0] == 401
    assert post(d.port, "/hooks/tok", body, {"Authorization": "Bearer " + TOKEN[:-1]})[0] == 401
    assert post(d.port, "/hooks/tok", body)[0] == 401

    now = int(time.time())
    assert post(d.port, "/hooks/stripe", body, stripe_headers(body, now))[0] == 202
    # stale and from the future beyond tolerance_s (60 s): a replay fails
    assert post(d.port, "/hooks/stripe", body, stripe_headers(body, now - 3600))[0] == 401
    assert post(d.port, "/hooks/stripe", body, stripe_headers(body, now + 3600))[0] == 401
    stale = stripe_headers(body, now - 3600)
    assert post(d.port, "/hooks/stripe", body, dict(stale, **{"X-Ts": str(now)}))[0] == 401
    assert post(d.port, "/hooks/stripe", body, {"X-Ts": str(now)})[0] == 401

    assert post(d.port, "/hooks/open", body)[0] == 202

    wait_for(lambda: len(lines(out)) == 4, "four events")
    by_name = {}
    for ev in lines(out):
        by_name.setdefault(ev["tripline"]["webhook"]["name"], []).append(ev)
    assert sorted(by_name) == ["open", "stripe", "tok"]
    tok = by_name["tok"][0]
    assert (tok["source"], tok["detail-type"]) == ("ci", "Build")
    assert len(tok["id"]) == 36
    assert "authorization" not in tok["tripline"]["webhook"]["headers"]
    st = by_name["stripe"][0]
    assert (st["source"], st["detail-type"]) == ("webhook.stripe", "Webhook")
    assert "x-sig" not in st["tripline"]["webhook"]["headers"]
    assert st["tripline"]["webhook"]["headers"]["x-ts"] == str(now)
    assert labelled(d, "tripline_webhook_requests_total", name="stripe", code="401") == 4
    assert labelled(d, "tripline_webhook_requests_total", name="tok", code="401") == 3
    assert d.stop() == 0
    assert_no_secret(d, out)


# ---------------------------------------------------------------- every error status

def test_error_statuses(daemon, tmp_path):
    cfg = hooks_config(tmp_path, limits={"max_request_bytes": 4096})
    d = daemon(config=cfg)
    body = '{"a": 1}'
    h = github_headers(body, "e-1")

    code, hd, doc = post(d.port, "/hooks/github", "", method="GET", content_type=None)
    assert (code, hd.get("allow")) == (405, "POST") and doc["message"]
    code, hd, _ = post(d.port, "/hooks/nope", body, h, method="PUT")
    assert (code, hd.get("allow")) == (405, "POST")
    # an unknown name: 404 before anything is checked
    assert post(d.port, "/hooks/nope", body, h)[0] == 404
    assert post(d.port, "/hooks/", body, h)[0] == 404
    assert post(d.port, "/hooks/github/x", body, h)[0] == 404
    # the content type, before the signature
    assert post(d.port, "/hooks/github", body, {}, content_type="text/plain")[0] == 415
    assert post(d.port, "/hooks/github", body, h, content_type=None)[0] == 415
    assert post(d.port, "/hooks/github", body, h, content_type="application/vnd.github+json")[0] == 202
    # over limits.max_request_bytes: the listener's 413, before the hook
    big = '{"pad": "%s"}' % ("x" * 5000)
    code, _, _ = post(d.port, "/hooks/github", big, github_headers(big, "e-2"))
    assert code == 413
    # an envelope over limits.max_event_bytes (4096 here too): the hook's 413
    near = '{"pad": "%s"}' % ("x" * 3900)
    code, _, doc = post(d.port, "/hooks/github", near, github_headers(near, "e-3"))
    assert code == 413 and "max_event_bytes" in doc["message"]
    # the signature before the body; then the body
    assert post(d.port, "/hooks/github", "not json", github_headers(body, "e-4"))[0] == 401
    code, _, doc = post(d.port, "/hooks/github", "not json", github_headers("not json", "e-4"))
    assert code == 400 and "not valid JSON" in doc["message"]
    code, _, doc = post(d.port, "/hooks/github", "[1]", github_headers("[1]", "e-5"))
    assert code == 400 and "JSON object" in doc["message"]
    # an id header that is not an id
    code, _, doc = post(d.port, "/hooks/github", body, github_headers(body, "has space"))
    assert code == 400 and "X-GitHub-Delivery" in doc["message"]

    for c, n in (("405", 1), ("404", None), ("415", 2), ("413", 1), ("401", 1), ("400", 3), ("202", 1)):
        assert labelled(d, "tripline_webhook_requests_total", name="github", code=c) == n, c
    assert labelled(d, "tripline_webhook_requests_total", name="", code="404") == 3
    assert labelled(d, "tripline_source_errors_total", kind="webhook", name="github", reason="json") == 2
    assert d.stop() == 0


def test_503_bus_full_and_journal_full(daemon, tmp_path):
    # a target that cannot be written yet (its directory is a file): every
    # event stays live in the journal, retried
    blocker = tmp_path / "blocked"
    blocker.write_text("")
    out = blocker / "out.jsonl"
    cfg = hooks_config(tmp_path, journal={"max_bytes": 1 << 20},
                       limits={"bus_queue": 10, "max_connections": 256, "max_connections_per_client": 200})
    rules = {"all.json": file_rule("hooks", out, {"source": ["webhook.open"]})}
    d = daemon(config=cfg, rules=rules)
    d.expect_drops("full")

    # the bus: ten events in flight at most; 40 requests written at once on
    # connections opened beforehand, until one is refused
    full = None
    for burst in range(50):
        answers = burst_at_once(d.port, "/hooks/open", ['{"i": %d}' % (burst * 100 + i) for i in range(40)])
        full = next((a for a in answers if a[0] == 503), None)
        if full:
            break
    assert full, "no burst of 40 filled a bus of 10"
    code, hd, doc = full
    assert hd.get("retry-after") == "1" and "full" in doc["message"]
    assert labelled(d, "tripline_source_errors_total", kind="webhook", name="open", reason="bus_full") >= 1

    # the journal: 1 MiB of live events, 200 KiB each
    pad = "y" * (200 * 1024)
    statuses = []
    for i in range(10):
        code, hd, doc = post(d.port, "/hooks/open", '{"pad": "%s", "i": %d}' % (pad, i))
        statuses.append(code)
        if code == 503:
            assert "journal" in doc["message"] and "retry-after" not in hd
            break
    assert statuses[-1] == 503 and set(statuses[:-1]) <= {202}, statuses
    assert labelled(d, "tripline_source_errors_total", kind="webhook", name="open", reason="journal") == 1
    d.kill()


# ---------------------------------------------------------------- X-Forwarded-For

def test_forwarded_for_trusted_and_untrusted_peer(daemon, tmp_path):
    out = tmp_path / "ip.jsonl"
    rules = {"all.json": file_rule("hooks", out, {"source": ["webhook.open"]})}
    # the peer 127.0.0.1 is a trusted proxy: the right-most untrusted address
    d = daemon(config=hooks_config(tmp_path, trusted_proxies=["127.0.0.1", "10.0.0.0/8"]), rules=rules, name="a")
    xff = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9, 10.1.2.3"}
    assert post(d.port, "/hooks/open", '{"n": 1}', xff)[0] == 202
    wait_for(lambda: len(lines(out)) == 1, "the first event")
    assert lines(out)[0]["tripline"]["webhook"]["source_ip"] == "203.0.113.9"
    assert d.stop() == 0
    # the peer is not one: the header is not believed
    d = daemon(config=hooks_config(tmp_path, trusted_proxies=["127.0.0.2"]), rules=rules, name="b")
    assert post(d.port, "/hooks/open", '{"n": 2}', xff)[0] == 202
    wait_for(lambda: len(lines(out)) == 2, "the second event")
    assert lines(out)[1]["tripline"]["webhook"]["source_ip"] == "127.0.0.1"
    assert lines(out)[1]["tripline"]["webhook"]["headers"]["x-forwarded-for"] == xff["X-Forwarded-For"]
    assert d.stop() == 0


# ---------------------------------------------------------------- kill -9

def test_kill9_after_a_burst_every_accepted_event_dispatched(daemon, tmp_path):
    # the target cannot be written while the first daemon runs (its
    # directory is a file), so no event is delivered before the kill: what
    # the second daemon writes is exactly what the journal kept
    outdir = tmp_path / "out"
    outdir.write_text("")
    out = outdir / "hooks.jsonl"
    rules = {"gh.json": file_rule("pushes", out, {"source": ["webhook.github"]})}
    d = daemon(config=hooks_config(tmp_path), rules=rules)
    accepted = []
    lock = threading.Lock()

    def client(k):
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
        for i in range(50):
            body = '{"k": %d, "i": %d}' % (k, i)
            c.request("POST", "/hooks/github", body=body.encode(),
                      headers=dict(github_headers(body, "burst-%d-%d" % (k, i)), **{"Content-Type": "application/json"}))
            r = c.getresponse()
            doc = json.loads(r.read())
            if r.status == 202:
                with lock:
                    accepted.append(doc["EventId"])
        c.close()

    ts = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    d.proc.kill()
    d.proc.wait()
    d.log.close()
    assert len(accepted) == 400
    outdir.unlink()
    outdir.mkdir()
    d.start()
    wait_for(lambda: len(lines(out)) >= len(accepted), "every accepted event after the restart")
    ids = [ev["id"] for ev in lines(out)]
    assert sorted(ids) == sorted(accepted)
    assert len(set(ids)) == len(ids)
    assert d.stop() == 0
