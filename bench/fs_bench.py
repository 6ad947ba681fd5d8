#!/usr/bin/env python3
"""fs_bench.py — the file source (sources/fs.c) through the real daemon, in
figures.

Starts `tripline serve` (the release build by default) watching a fresh
directory (sources.files, name "bench"), with one rule whose file target
appends every aws.s3 event to a file, then measures:

  1. File closed → target invoked: --single files written one at a time
     (open, write 100 bytes, close); the time from close() returning to the
     event's line being in the target's file (polled every 0.2 ms), p50/p99.
  2. A burst of --burst files (default 10,000) written as fast as this
     script can: the time from the first open to the last line in the
     target's file, as events/s, how long the writes alone took and how
     long after the last close the last line came (the writer in Python is
     often the slower side). Then the same number of files written outside
     the tree first and renamed into it (IN_MOVED_TO) as fast as rename(2)
     goes, which loads the daemon harder than the writer can. The
     kernel's inotify queue (fs.inotify.max_queued_events) holds 16,384
     events by default and each file is two (IN_CREATE, IN_CLOSE_WRITE), so
     a daemon that falls behind sees an overflow and a rescan; how many
     rescans happened is printed (tripline_fs_rescans_total), since files
     found by a rescan wait a second to be known complete.

Every file must be reported exactly once: a missing or repeated key exits 1.
Prints figures otherwise; timings never fail it. The writer shares the
machine's cores with the daemon.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from events_bench import free_port  # noqa: E402


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


class Tail:
    """New lines of the target's file, as parsed events."""

    def __init__(self, path):
        self.path = path
        self.off = 0
        self.buf = b""

    def read(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read()
        except FileNotFoundError:
            return []
        self.off += len(data)
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
    return 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="build/release/engine/tripline")
    ap.add_argument("--single", type=int, default=500, help="files for the latency run")
    ap.add_argument("--burst", type=int, default=10000, help="files in the burst")
    ap.add_argument("--dir", default=None, help="where the watched tree and data_dir go")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="fs_bench.", dir=args.dir)
    tree = os.path.join(tmp, "tree")
    os.makedirs(tree)
    os.makedirs(os.path.join(tmp, "rules"))
    out = os.path.join(tmp, "events.jsonl")
    port = free_port()
    rule = {"Name": "all", "EventPattern": {"source": ["aws.s3"]},
            "Targets": [{"Id": "out", "Arn": "file:" + out}]}
    with open(os.path.join(tmp, "rules", "all.json"), "w") as f:
        json.dump(rule, f)
    cfg = {"listen": "127.0.0.1:%d" % port, "data_dir": os.path.join(tmp, "var"),
           "rules": [os.path.join(tmp, "rules")], "task_definitions": [], "log_level": "warn",
           "sources": {"files": [{"name": "bench", "path": tree}]}}
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(cfg, f)
    log = open(os.path.join(tmp, "daemon.log"), "w")
    proc = subprocess.Popen([args.bin, "serve", "--config", os.path.join(tmp, "config.json")],
                            stdout=log, stderr=subprocess.STDOUT)
    status = 0
    try:
        end = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > end:
                    print("fs_bench: the daemon did not start; see %s/daemon.log" % tmp, file=sys.stderr)
                    return 2
                time.sleep(0.05)
        tail = Tail(out)
        payload = b"x" * 100

        # 1. one file at a time
        lat = []
        for i in range(args.single):
            key = "single/%05d" % i if i else "single-first"
            if i == 1:
                os.makedirs(os.path.join(tree, "single"))
            path = os.path.join(tree, key)
            with open(path, "wb") as f:
                f.write(payload)
            t0 = time.monotonic()
            while True:
                got = [e["detail"]["object"]["key"] for e in tail.read()]
                if got:
                    if got != [key]:
                        print("fs_bench: expected %s, got %s" % (key, got), file=sys.stderr)
                        status = 1
                    break
                if time.monotonic() - t0 > 30:
                    print("fs_bench: %s never reported" % key, file=sys.stderr)
                    return 1
                time.sleep(0.0002)
            lat.append((time.monotonic() - t0) * 1000)
        print("fs_bench: file closed -> file target written, %d files one at a time:" % len(lat))
        print("  p50 %.2f ms   p99 %.2f ms   max %.2f ms" % (pct(lat, 50), pct(lat, 99), max(lat)))

        # 2. bursts: written in place, then renamed in
        for how in ("written", "renamed in"):
            sub = "burst" if how == "written" else "moved"
            os.makedirs(os.path.join(tree, sub))
            if how == "renamed in":
                staging = os.path.join(tmp, "staging")
                os.makedirs(staging)
                for i in range(args.burst):
                    with open(os.path.join(staging, "%05d" % i), "wb") as f:
                        f.write(payload)
            rescans0 = metric(port, 'tripline_fs_rescans_total{name="bench",reason="overflow"}')
            seen = {}
            t0 = time.monotonic()
            for i in range(args.burst):
                name = "%05d" % i
                if how == "written":
                    with open(os.path.join(tree, sub, name), "wb") as f:
                        f.write(payload)
                else:
                    os.rename(os.path.join(staging, name), os.path.join(tree, sub, name))
            t_written = time.monotonic()
            while len(seen) < args.burst:
                for e in tail.read():
                    k = e["detail"]["object"]["key"]
                    seen[k] = seen.get(k, 0) + 1
                if time.monotonic() - t0 > 300:
                    break
                time.sleep(0.001)
            t_done = time.monotonic()
            time.sleep(1.5)   # anything reported twice would come within the stability wait
            for e in tail.read():
                k = e["detail"]["object"]["key"]
                seen[k] = seen.get(k, 0) + 1
            rescans = metric(port, 'tripline_fs_rescans_total{name="bench",reason="overflow"}') - rescans0
            missing = args.burst - len(seen)
            twice = sum(1 for v in seen.values() if v > 1)
            print("fs_bench: a burst of %d files %s:" % (args.burst, how))
            print("  in %.2f s; all reported after %.2f s (%.0f ms after the last): %.0f events/s; "
                  "overflow rescans: %d" % (t_written - t0, t_done - t0, (t_done - t_written) * 1000,
                                            len(seen) / (t_done - t0), rescans))
            if missing or twice:
                print("fs_bench: %d files not reported, %d reported more than once" % (missing, twice),
                      file=sys.stderr)
                status = 1
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if status == 0:
            shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
