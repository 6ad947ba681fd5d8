#!/usr/bin/env python3
"""webhook_bench.py — GitHub-style webhooks through the real daemon, in figures.

Starts `tripline serve` (the release build by default) with one webhook,
"github" (auth github: every request's X-Hub-Signature-256 is checked, an
HMAC-SHA256 of the body), the journal on (fsync'd, unless --no-fsync) and
one rule matching the hook's push events ({"tripline": {"webhook":
{"headers": {"x-github-event": ["push"]}}}}) that appends to a file target
(--no-rule: no rule, the events are journalled and matched against
nothing). Then, for each of --connections (default 8 and 64), Debian's wrk
replays one signed push delivery (a ~1 KiB body and the precomputed
signature, set by a Lua script; no X-GitHub-Delivery, so each replay gets a
random id) for --duration seconds, and prints:

  - requests/s and latency p50/p99 as wrk measured them, and non-2xx
    answers (there must be none: every answer is a 202 once the event is
    journalled);
  - what the daemon says it accepted (tripline_webhook_requests_total with
    code 202) and the journal's fsyncs that covered it
    (tripline_journal_fsyncs_total), so events per fsync;
  - with the rule, how long the file target took to catch up;
  - the same connections sending GET, answered 405 at once (no signature,
    no journal, no event): the ceiling of the listener and the loop thread
    on this machine, against which the figures above are read.

Also one request at a time over a kept-alive connection (--samples), the
answer's latency p50/p99, and this disk's fsync latency. Exits 0 unless the
daemon fails to start or answers anything but 202. The client shares the
machine's cores with the daemon.
"""
import argparse
import hashlib
import hmac
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from events_bench import count_lines, free_port, fsync_probe, ms, pct, start_daemon  # the same helpers (bench/ is on sys.path)

SECRET = "bench-webhook-secret"


def metrics(port):
    """Sum of each family's samples, and the samples themselves by full name."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            full, value = line.rsplit(" ", 1)
            out[full] = float(value)
            name = full.split("{")[0]
            if name != full:
                out[name] = out.get(name, 0.0) + float(value)
    return out


def push_body():
    """A push delivery of about 1 KiB, shaped like GitHub's."""
    return json.dumps({
        "ref": "refs/heads/main", "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": "59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5",
        "repository": {"id": 186853002, "name": "tripline", "full_name": "example/tripline",
                       "private": False, "owner": {"login": "example", "id": 1}},
        "pusher": {"name": "octocat", "email": "octocat@example.com"},
        "commits": [{"id": "59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5", "message": "Update README.md",
                     "timestamp": "2026-12-07T10:00:00Z", "url": "https://example.com/commit/59b20b8",
                     "author": {"name": "Octo Cat", "email": "octocat@example.com"},
                     "added": [], "removed": [], "modified": ["README.md"]}],
        "head_commit": {"id": "59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5", "message": "Update README.md"},
    })


def headers(body):
    sig = hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-GitHub-Event": "push",
            "X-Hub-Signature-256": "sha256=" + sig, "User-Agent": "GitHub-Hookshot/bench"}


def wrk_run(port, lua, connections, duration):
    script = ["-s", lua] if lua else []
    w = subprocess.run(["wrk", "-t1", "-c%d" % connections, "-d%ds" % duration, "--latency"] + script +
                       ["http://127.0.0.1:%d/hooks/github" % port], capture_output=True, text=True)
    rps, p50, p99, non2xx = None, None, None, 0
    for line in w.stdout.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec"):
            rps = float(parts[1])
        elif parts[:1] == ["50%"]:
            p50 = parts[1]
        elif parts[:1] == ["99%"]:
            p99 = parts[1]
        elif "Non-2xx" in line:
            non2xx = int(parts[-1])
    if rps is None:
        sys.exit("webhook_bench: wrk failed:\n%s%s" % (w.stdout, w.stderr))
    return rps, p50, p99, non2xx


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("TRIPLINE_BIN", "build/release/engine/tripline"))
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", default="8,64")
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--no-fsync", action="store_true")
    ap.add_argument("--no-rule", action="store_true")
    ap.add_argument("--dir", default="/tmp")
    a = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("webhook_bench: wrk is missing (apt-get install wrk; bench/run.sh installs it)")

    tmp = tempfile.mkdtemp(prefix="webhook_bench.", dir=a.dir)
    rules_dir = os.path.join(tmp, "rules")
    os.mkdir(rules_dir)
    out = os.path.join(tmp, "pushes.jsonl")
    rules = [] if a.no_rule else [{
        "Name": "pushes", "EventPattern": {"tripline": {"webhook": {"headers": {"x-github-event": ["push"]}}}},
        "Targets": [{"Id": "t", "Arn": "file:" + out}]}]
    with open(os.path.join(rules_dir, "bench.json"), "w") as f:
        json.dump({"Rules": rules}, f)
    port = free_port()
    cfg = {"listen": "127.0.0.1:%d" % port, "data_dir": os.path.join(tmp, "var"), "rules": [rules_dir],
           "task_definitions": [], "log_level": "warn", "journal": {"fsync": not a.no_fsync},
           "sources": {"webhooks": [{"name": "github", "auth": "github", "secret": "value:" + SECRET,
                                     "detail_type_header": "X-GitHub-Event", "id_header": "X-GitHub-Delivery"}]},
           "limits": {"bus_queue": 100000, "max_connections": 1024, "max_connections_per_client": 1000}}
    proc, log = start_daemon(a.bin, tmp, cfg, port, "webhook_bench")
    try:
        body = push_body()
        hdrs = headers(body)
        print("webhook_bench: POST /hooks/github, auth github (HMAC-SHA256 checked), %d-byte body, journal %s, %s; "
              "the client shares %d cores with the daemon"
              % (len(body), "without fsync" if a.no_fsync else "fsync'd",
                 "no rule" if a.no_rule else "one rule -> file target", os.cpu_count()))

        # one at a time
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        lat = []
        for _ in range(a.samples):
            t0 = time.perf_counter()
            conn.request("POST", "/hooks/github", body.encode(), hdrs)
            r = conn.getresponse()
            r.read()
            lat.append(time.perf_counter() - t0)
            if r.status != 202:
                sys.exit("webhook_bench: answered %d" % r.status)
        conn.close()
        print("one at a time (%d requests): answered 202 (journalled) p50 %s  p99 %s"
              % (a.samples, ms(pct(lat, 50)), ms(pct(lat, 99))))

        lua = os.path.join(tmp, "hook.lua")
        with open(lua, "w") as f:
            f.write('wrk.method = "POST"\nwrk.body = %s\n' % json.dumps(body))
            for k, v in hdrs.items():
                f.write("wrk.headers[%s] = %s\n" % (json.dumps(k), json.dumps(v)))
        print("%-12s %12s %10s %10s %8s %12s %12s" % ("connections", "requests/s", "p50", "p99", "non-2xx",
                                                     "202s", "events/fsync"))
        for c in [int(x) for x in a.connections.split(",")]:
            before = metrics(port)
            rps, p50, p99, non2xx = wrk_run(port, lua, c, a.duration)
            after = metrics(port)
            key = 'tripline_webhook_requests_total{name="github",code="202"}'
            accepted = after.get(key, 0) - before.get(key, 0)
            fsyncs = after.get("tripline_journal_fsyncs_total", 0) - before.get("tripline_journal_fsyncs_total", 0)
            print("%-12d %12.0f %10s %10s %8d %12.0f %12s" % (c, rps, p50, p99, non2xx, accepted,
                                                              "%.1f" % (accepted / fsyncs) if fsyncs else "-"))
            if non2xx:
                sys.exit("webhook_bench: %d answers were not 202" % non2xx)
        # the ceiling of the listener and the loop: GET answered 405 at once
        # (no signature, no journal, no event)
        for c in [int(x) for x in a.connections.split(",")]:
            rps, p50, p99, _ = wrk_run(port, None, c, a.duration)
            print("%-12d %12.0f %10s %10s   (GET -> 405 at once: the listener's ceiling)" % (c, rps, p50, p99))
        if not a.no_rule:
            total = metrics(port).get('tripline_webhook_requests_total{name="github",code="202"}', 0)
            t0 = time.monotonic()
            while count_lines([out]) < total and time.monotonic() - t0 < 300:
                time.sleep(0.2)
            print("file target: %d of %.0f lines written %.1f s after the load ended"
                  % (count_lines([out]), total, time.monotonic() - t0))

        print(fsync_probe(cfg["data_dir"]))
    finally:
        proc.terminate()
        proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
