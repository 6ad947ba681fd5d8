#!/usr/bin/env python3
"""events_bench.py — the event path through the real daemon, in figures.

Starts `tripline serve` (the release build by default) with SigV4 on, the
journal on (fsync'd, unless --no-fsync) and --rules rules (default 1,000:
rule i matches {"source": ["bench"], "detail": {"n": [i]}} and appends to one
of ten file targets), then measures:

  1. PutEvents → file target written: one entry at a time over a kept-alive
     connection; the time from sending the request to the line being in the
     file (polled), p50/p99, and the answer's own latency (journalled and
     fsync'd before it is sent).
  2. Throughput: wrk (Debian's) replays one signed PutEvents request of 10
     entries (each matching one rule) over --connections connections for
     --duration seconds; the daemon's own counters give what was accepted
     (tripline_events_total), matched (tripline_rule_matches_total) and the
     fsyncs that covered it (tripline_journal_fsyncs_total). SigV4 signatures
     hold for 15 minutes, so one request can be replayed; each replay gets
     new event ids. Then the time for the file targets to catch up.
  3. PutEvents → task process running: a rule runs `touch PATH` (the path
     from the event through an InputTransformer into the command), p50 of
     send → file exists, against a bare fork+exec of the same command from
     this script in the same run.
  4. This disk's fsync latency (4 KiB write + fsync in data_dir), p50/p99:
     what the group commit waits for.

Prints figures; exits 0 unless the daemon fails to start or answers
wrongly. The client shares the machine's two cores with the daemon.
"""
import argparse
import datetime
import hashlib
import hmac
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

AKID, SECRET = "AKIDBENCH", "bench-secret-key"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def signed(port, target, body, service="events"):
    """Headers for a SigV4-signed AWS JSON 1.1 request."""
    now = datetime.datetime.now(datetime.timezone.utc)
    amz = now.strftime("%Y%m%dT%H%M%SZ")
    host = "127.0.0.1:%d" % port
    hdrs = {"content-type": "application/x-amz-json-1.1", "host": host, "x-amz-date": amz,
            "x-amz-target": target}
    names = sorted(hdrs)
    canonical = "\n".join(["POST", "/", "", "".join("%s:%s\n" % (n, hdrs[n]) for n in names),
                           ";".join(names), hashlib.sha256(body).hexdigest()])
    scope = "%s/local/%s/aws4_request" % (amz[:8], service)
    to_sign = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (amz, scope, hashlib.sha256(canonical.encode()).hexdigest())
    key = ("AWS4" + SECRET).encode()
    for part in (amz[:8], "local", service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out = {"Content-Type": hdrs["content-type"], "X-Amz-Date": amz, "X-Amz-Target": target,
           "Authorization": "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
                            % (AKID, scope, ";".join(names), sig)}
    return out


def put_body(entries):
    return json.dumps({"Entries": [{"Source": s, "DetailType": "bench", "Detail": json.dumps(d)}
                                   for s, d in entries]}).encode()


def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name = line.split("{")[0].split(" ")[0]
            out[name] = out.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return out


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def ms(x):
    return "%.2f ms" % (x * 1000)


def count_lines(paths):
    n = 0
    for p in paths:
        try:
            with open(p, "rb") as f:
                n += f.read().count(b"\n")
        except FileNotFoundError:
            pass
    return n


def fsync_probe(directory):
    """This disk's fsync latency, as a line: 100 appends of 4 KiB, each fsync'd."""
    lat = []
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    for _ in range(100):
        os.write(fd, b"x" * 4096)
        t0 = time.perf_counter()
        os.fsync(fd)
        lat.append(time.perf_counter() - t0)
    os.close(fd)
    os.unlink(path)
    return "this disk's fsync (4 KiB appended): p50 %s  p99 %s" % (ms(pct(lat, 50)), ms(pct(lat, 99)))


def start_daemon(binary, tmp, cfg, port, who):
    """`tripline serve` with cfg (written to tmp/tripline.json), its output in
    tmp/daemon.log, once /healthz answers on port: (process, log file). Exits
    naming the log when the daemon exits first."""
    cfg_path = os.path.join(tmp, "tripline.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    log = open(os.path.join(tmp, "daemon.log"), "w")
    proc = subprocess.Popen([binary, "serve", "--config", cfg_path], stdout=log, stderr=subprocess.STDOUT)
    for _ in range(400):
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=1)
            return proc, log
        except OSError:
            if proc.poll() is not None:
                sys.exit("%s: the daemon exited: see %s/daemon.log" % (who, tmp))
            time.sleep(0.05)
    proc.kill()
    sys.exit("%s: the daemon did not answer /healthz: see %s/daemon.log" % (who, tmp))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("TRIPLINE_BIN", "build/release/engine/tripline"))
    ap.add_argument("--rules", type=int, default=1000)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--task-samples", type=int, default=30)
    ap.add_argument("--no-fsync", action="store_true")
    ap.add_argument("--dir", default="/tmp")
    a = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("events_bench: wrk is missing (apt-get install wrk; bench/run.sh installs it)")

    tmp = tempfile.mkdtemp(prefix="events_bench.", dir=a.dir)
    os.chmod(tmp, 0o1777)
    rules_dir = os.path.join(tmp, "rules")
    os.mkdir(rules_dir)
    outs = [os.path.join(tmp, "out-%d.jsonl" % i) for i in range(10)]
    lat_out = os.path.join(tmp, "lat.jsonl")
    rules = [{"Name": "r%d" % i, "EventPattern": {"source": ["bench"], "detail": {"n": [i]}},
              "Targets": [{"Id": "t", "Arn": "file:" + outs[i % 10]}]} for i in range(a.rules)]
    rules.append({"Name": "latency", "EventPattern": {"source": ["lat"]},
                  "Targets": [{"Id": "t", "Arn": "file:" + lat_out}]})
    rules.append({"Name": "task", "EventPattern": {"source": ["task"]}, "Targets": [{
        "Id": "t", "Arn": "cluster/default", "EcsParameters": {"TaskDefinitionArn": "touch"},
        "InputTransformer": {"InputPathsMap": {"p": "$.detail.path"},
                             "InputTemplate": '{"containerOverrides":[{"name":"main",'
                                              '"command":["/usr/bin/touch",<p>]}]}'}}]})
    with open(os.path.join(rules_dir, "bench.json"), "w") as f:
        json.dump({"Rules": rules}, f)
    port = free_port()
    cfg = {"listen": "127.0.0.1:%d" % port, "data_dir": os.path.join(tmp, "var"), "rules": [rules_dir],
           "task_definitions": [], "log_level": "warn", "auth": {"keys": {AKID: "value:" + SECRET}},
           "journal": {"fsync": not a.no_fsync},
           "limits": {"bus_queue": 100000, "max_connections": 1024, "max_connections_per_client": 1000}}
    proc, log = start_daemon(a.bin, tmp, cfg, port, "events_bench")
    try:
        print("events_bench: %d rules, journal %s, SigV4 on; the client shares %d cores with the daemon"
              % (a.rules + 2, "without fsync" if a.no_fsync else "fsync'd", os.cpu_count()))

        # 1. latency
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        total, answer = [], []
        for k in range(a.samples):
            body = put_body([("lat", {"k": k})])
            hdrs = signed(port, "AWSEvents.PutEvents", body)
            t0 = time.perf_counter()
            conn.request("POST", "/", body, hdrs)
            r = conn.getresponse()
            got = json.loads(r.read())
            t1 = time.perf_counter()
            if r.status != 200 or got.get("FailedEntryCount") != 0:
                sys.exit("events_bench: PutEvents answered %d %s" % (r.status, got))
            while count_lines([lat_out]) < k + 1:
                time.sleep(0.0001)
            t2 = time.perf_counter()
            answer.append(t1 - t0)
            total.append(t2 - t0)
        print("1. PutEvents -> file target written (%d events, one at a time):" % a.samples)
        print("   answered (journalled): p50 %s  p99 %s" % (ms(pct(answer, 50)), ms(pct(answer, 99))))
        print("   line in the file:      p50 %s  p99 %s" % (ms(pct(total, 50)), ms(pct(total, 99))))

        # 2. throughput
        body = put_body([("bench", {"n": random.randrange(a.rules)}) for _ in range(10)])
        hdrs = signed(port, "AWSEvents.PutEvents", body)
        lua = os.path.join(tmp, "put.lua")
        with open(lua, "w") as f:
            f.write('wrk.method = "POST"\nwrk.body = %s\n' % json.dumps(body.decode()))
            for k, v in hdrs.items():
                f.write("wrk.headers[%s] = %s\n" % (json.dumps(k), json.dumps(v)))
        before = metrics(port)
        t0 = time.monotonic()
        w = subprocess.run(["wrk", "-t1", "-c%d" % a.connections, "-d%ds" % a.duration, "--latency", "-s", lua,
                            "http://127.0.0.1:%d/" % port], capture_output=True, text=True)
        elapsed = time.monotonic() - t0
        after = metrics(port)
        accepted = after.get("tripline_events_total", 0) - before.get("tripline_events_total", 0)
        matched = after.get("tripline_rule_matches_total", 0) - before.get("tripline_rule_matches_total", 0)
        fsyncs = after.get("tripline_journal_fsyncs_total", 0) - before.get("tripline_journal_fsyncs_total", 0)
        print("2. throughput, %d connections, 10 entries per request, %d s:" % (a.connections, a.duration))
        for line in w.stdout.splitlines():
            if "Requests/sec" in line or "Non-2xx" in line or "50%" in line or "99%" in line:
                print("   wrk: " + line.strip())
        print("   accepted, journalled and matched: %.0f events/s (%.0f events, %.0f matches)"
              % (accepted / elapsed, accepted, matched))
        if fsyncs:
            print("   journal fsyncs: %.0f/s, %.1f events per fsync" % (fsyncs / elapsed, accepted / fsyncs))
        t0 = time.monotonic()
        while count_lines(outs) < accepted and time.monotonic() - t0 < 300:
            time.sleep(0.2)
        print("   file targets: %d of %.0f lines written %.1f s after the load ended"
              % (count_lines(outs), accepted, time.monotonic() - t0))

        # 3. task launches (a new connection: the first one idled through the load)
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        req = json.dumps({"family": "touch", "containerDefinitions": [
            {"name": "main", "image": "local", "command": ["/usr/bin/touch", "/dev/null"]}]}).encode()
        conn.request("POST", "/", req, signed(port, "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition",
                                              req, "ecs"))
        r = conn.getresponse()
        r.read()
        via, bare = [], []
        for k in range(a.task_samples):
            p1 = os.path.join(tmp, "via-%d" % k)
            body = put_body([("task", {"path": p1})])
            t0 = time.perf_counter()
            conn.request("POST", "/", body, signed(port, "AWSEvents.PutEvents", body))
            conn.getresponse().read()
            while not os.path.exists(p1):
                time.sleep(0.0002)
            via.append(time.perf_counter() - t0)
            p2 = os.path.join(tmp, "bare-%d" % k)
            t0 = time.perf_counter()
            child = subprocess.Popen(["/usr/bin/touch", p2])
            while not os.path.exists(p2):
                time.sleep(0.0002)
            bare.append(time.perf_counter() - t0)
            child.wait()
        print("3. PutEvents -> task process ran `touch`: p50 %s (p99 %s); bare fork+exec: p50 %s"
              % (ms(pct(via, 50)), ms(pct(via, 99)), ms(pct(bare, 50))))

        # 4. the disk
        print("4. " + fsync_probe(cfg["data_dir"]))
        rss = 0
        with open("/proc/%d/status" % proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    rss = int(line.split()[1])
        print("   the daemon's peak RSS: %.1f MiB" % (rss / 1024.0))
    finally:
        proc.terminate()
        proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
