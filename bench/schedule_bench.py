#!/usr/bin/env python3
"""schedule_bench.py — scheduled rules' fires through the real daemon, in figures.

Starts `tripline serve` (the release build by default; the journal fsync'd)
twice:

  1. Idle: --rules rules (default 10,000) whose next fire is years away
     (cron(0 0 1 1 ? 2199)); the daemon's CPU time (utime + stime from
     /proc) over --idle seconds (default 30) once it is up: what the rules
     cost between fires.
  2. Firing: --rules rate(1 minute) rules, each with an HTTP target on a
     local receiver (this script, a thread). Their anchors are written into
     the state file before the start, rule i at base + (i mod 60) s, so about
     rules/60 fire in every second (the state a daemon leaves after meeting
     the rules over a minute). Runs --duration seconds (default 150), then
     prints the lateness of the fires:
       - emitted − due, from the daemon's histogram
         tripline_schedule_lateness_seconds (upper bounds of its buckets);
       - received by the target − scheduled time (the event's "time", whole
         seconds), from the receiver's clock: p50/p99/max — end to end,
         through the journal, the bus, the dispatcher and HTTP;
     and the daemon's CPU time per second and per fire while firing.

Prints figures; exits 0 unless the daemon fails to start or a fire is lost
(every fire the daemon counted must reach the receiver).
"""
import argparse
import calendar
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from events_bench import free_port


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        return r.read().decode()


def sample(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def histogram_percentile(text, name, q):
    """The upper bound of the bucket holding quantile q (in seconds)."""
    buckets = []
    for line in text.splitlines():
        if line.startswith(name + "_bucket{"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
    total = buckets[-1][1] if buckets else 0
    for le, count in buckets:
        if total and count >= q * total:
            return le
    return None


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


class Daemon:
    def __init__(self, binary, work, rules, state=None):
        self.port = free_port()
        self.dir = work
        rules_dir = os.path.join(work, "rules")
        os.makedirs(rules_dir)
        with open(os.path.join(rules_dir, "bench.json"), "w") as f:
            json.dump({"Rules": rules}, f)
        if state:
            sdir = os.path.join(work, "var", "sources", "schedule")
            os.makedirs(sdir)
            with open(os.path.join(sdir, "state.json"), "w") as f:
                json.dump({"version": 1, "rules": state}, f)
        cfg = os.path.join(work, "tripline.json")
        with open(cfg, "w") as f:
            json.dump({"listen": "127.0.0.1:%d" % self.port, "data_dir": os.path.join(work, "var"),
                       "rules": [rules_dir], "task_definitions": [], "log_level": "warn"}, f)
        self.log = open(os.path.join(work, "daemon.log"), "w")
        self.proc = subprocess.Popen([binary, "serve", "--config", cfg], stdout=self.log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 120
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                sys.exit("schedule_bench: the daemon exited %d; log in %s" % (self.proc.returncode, work))
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % self.port, timeout=2) as r:
                    doc = json.loads(r.read())
                    if doc["components"].get("schedule", {}).get("rules") == len(rules):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        sys.exit("schedule_bench: the daemon did not come up; log in %s" % work)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)
        self.log.close()


class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen = []
    lock = threading.Lock()

    def do_POST(self):
        now = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        ev = json.loads(body)
        with self.lock:
            self.seen.append((now, ev["time"], ev["id"]))

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 4096   # socketserver's 5 would drop the daemon's connects
    daemon_threads = True


def idle(binary, n, seconds, work):
    rules = [{"Name": "idle-%05d" % i, "ScheduleExpression": "cron(0 0 1 1 ? 2199)",
              "Targets": [{"Id": "t", "Arn": "file:%s/never.jsonl" % work}]} for i in range(n)]
    d = Daemon(binary, os.path.join(work, "idle"), rules)
    time.sleep(2)   # the start's own work (the state file's first write) settles
    c0, t0 = cpu_seconds(d.proc.pid), time.monotonic()
    time.sleep(seconds)
    used, wall = cpu_seconds(d.proc.pid) - c0, time.monotonic() - t0
    d.stop()
    print("idle: %d rules, next fire in 2199: %.3f s CPU over %.0f s (%.2f ms/s)" % (n, used, wall, used / wall * 1000))


def firing(binary, n, seconds, work):
    server = Server(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/" % server.server_address[1]
    base = int(time.time()) - 60 + 15   # the first fires start ~15 s from now
    rules, state = [], {}
    for i in range(n):
        name = "rate-%05d" % i
        rules.append({"Name": name, "ScheduleExpression": "rate(1 minute)", "Targets": [{"Id": "t", "Arn": url}]})
        state[name] = {"expression": "rate(1 minute)", "anchor": rfc3339(base + i % 60)}
    d = Daemon(binary, os.path.join(work, "firing"), rules, state)
    c0, t0 = cpu_seconds(d.proc.pid), time.monotonic()
    time.sleep(seconds)
    used, wall = cpu_seconds(d.proc.pid) - c0, time.monotonic() - t0
    text = metrics(d.port)
    fires = sample(text, "tripline_schedule_fires_total") or 0
    missed = sum(float(x.split()[-1]) for x in text.splitlines() if x.startswith("tripline_schedule_missed_total{"))
    # every fire counted so far reaches the receiver (an HTTP target's retry
    # may deliver one twice: counted apart)
    end = time.monotonic() + 60
    while time.monotonic() < end and len({s[2] for s in Receiver.seen}) < fires:
        time.sleep(0.1)
    d.stop()
    server.shutdown()
    seen, first = list(Receiver.seen), {}
    for arrival, t, i in seen:
        first.setdefault(i, (arrival, t))
    late = [(arrival - calendar.timegm(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ"))) * 1000
            for arrival, t in first.values()]
    print("firing: %d rate(1 minute) rules over the minute's seconds (~%d per second), %.0f s" % (n, n // 60, wall))
    print("  fires emitted %d (when sampled), received %d distinct (%d deliveries), missed %d"
          % (fires, len(first), len(seen), missed))
    p50 = histogram_percentile(text, "tripline_schedule_lateness_seconds", 0.5)
    p99 = histogram_percentile(text, "tripline_schedule_lateness_seconds", 0.99)
    if p50 is None:
        sys.exit("schedule_bench: no fire in %.0f s (run longer than the first fires' 15 s)" % wall)
    print("  emitted - due (histogram buckets): p50 <= %g ms, p99 <= %g ms" % (p50 * 1000, p99 * 1000))
    print("  received by the target - scheduled: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
          % (pct(late, 0.5), pct(late, 0.99), max(late) if late else float("nan")))
    print("  daemon CPU: %.2f s over %.0f s (%.1f ms/s, %.0f us per fire)"
          % (used, wall, used / wall * 1000, used / fires * 1e6 if fires else float("nan")))
    if len(first) < fires:
        sys.exit("schedule_bench: fires lost")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/release/engine/tripline")
    ap.add_argument("--rules", type=int, default=10000)
    ap.add_argument("--duration", type=float, default=150)
    ap.add_argument("--idle", type=float, default=30)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="schedule_bench.")
    try:
        idle(args.bin, args.rules, args.idle, work)
        firing(args.bin, args.rules, args.duration, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
