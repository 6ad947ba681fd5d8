#!/usr/bin/env python3
"""log_burst_bench.py — a container that writes a burst of output (100 MB
and 400 MB by default, each in writes of up to 100 MB) through a real
`tripline serve`: how long /healthz can take meanwhile, how large the log
files get, and how fast the output reaches them.

Each round starts a daemon of its own (data_dir under --dir), registers a
process-driver task whose Python writer sends the burst to stdout and then
an end marker, runs it, and until the marker is at the end of the current
log file: one thread GETs /healthz over one keep-alive connection as fast
as it answers (the time of each answer, monotonic clock; a process of its
own, so that Python's GIL is not in the figure), another stats
every file of the task's log directory in a loop (the largest file and the
largest total seen). Then the same probes for as long again after the
burst (the baseline of this host — or, with a daemon that rotates on a
tick, when it does), StopTask and a clean daemon stop.

Printed per size: /healthz answers during the bursts (count), their p50,
p99 and worst time over all rounds, the worst of each round, p99 and worst
after the bursts; the largest
file and total seen against the bound (10 MiB, 3 kept: 40 MiB); MB/s from
RunTask to the marker. Figures only, never judged; exit 1 when a wait
passes its deadline, 2 on a usage error.

    bench/log_burst_bench.py [--bin build/release/engine/tripline] [--sizes 100,400] [--rounds 3] [--dir /tmp]
"""
import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))
sys.path.insert(0, str(ROOT / "tests" / "orch"))

from tripline_test import Daemon, wait_for  # noqa: E402
from test_logs import END, burst  # noqa: E402

MARK = "log-burst-bench"


def health(port, stop, out):
    """In a process of its own (no GIL shared with the sampler): GET /healthz
    over one keep-alive connection until stop is set; the times to out."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times, bad = [], 0
    while not stop.is_set():
        t0 = time.monotonic()
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        r.read()
        times.append(time.monotonic() - t0)
        bad += r.status != 200
    conn.close()
    out.send((times, bad))


class Probe:
    def __init__(self, port, logdir):
        self.logdir = logdir
        self.max_file, self.max_total = 0, 0
        self.done = threading.Event()
        self.stop_health = multiprocessing.Event()
        self.rx, tx = multiprocessing.Pipe(False)
        self.prober = multiprocessing.Process(target=health, args=(port, self.stop_health, tx))
        self.prober.start()
        self.sampler = threading.Thread(target=self.sizes)
        self.sampler.start()

    def sizes(self):
        while not self.done.is_set():
            total = 0
            for n in os.listdir(self.logdir) if self.logdir.is_dir() else []:
                try:
                    size = os.stat(self.logdir / n).st_size
                except FileNotFoundError:
                    continue
                total += size
                self.max_file = max(self.max_file, size)
            self.max_total = max(self.max_total, total)

    def stop(self):
        self.done.set()
        self.stop_health.set()
        self.times, bad = self.rx.recv()
        self.prober.join()
        self.sampler.join()
        if bad:
            raise SystemExit("log_burst_bench: /healthz answered other than 200 %d time(s)" % bad)


def tail_has_end(path):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 64))
            return f.read().endswith(b"\n" + END.encode() + b"\n")
    except FileNotFoundError:
        return False


def one_round(binary, base, size):
    tmp = Path(tempfile.mkdtemp(prefix="log-burst-", dir=base))
    d = Daemon(binary, tmp)
    try:
        d.register("burst", [burst(MARK, size)])
        t0 = time.monotonic()
        arn = d.call("RunTask", {"taskDefinition": "burst"})["tasks"][0]["taskArn"]
        logdir = d.data_dir / "logs" / arn.rsplit("/", 1)[1]
        p = Probe(d.port, logdir)
        try:
            wait_for(lambda: tail_has_end(logdir / "c.log"), "the end marker", 300)
            took = time.monotonic() - t0
        finally:
            p.stop()
        # the same daemon after the burst, as long again: what /healthz takes then
        q = Probe(d.port, logdir)
        time.sleep(took)
        q.stop()
        d.call("StopTask", {"task": arn})
        d.wait_task(arn, "STOPPED")
        d.stop()
        return {"times": p.times, "idle": q.times, "max_file": p.max_file, "max_total": p.max_total,
                "took": took}
    finally:
        d.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def rank(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(q * len(xs) + 0.999999) - 1))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=str(ROOT / "build" / "release" / "engine" / "tripline"))
    ap.add_argument("--sizes", default="100,400", help="MB per burst, comma-separated")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default="/tmp", help="where the data directories go")
    a = ap.parse_args()
    if not os.access(a.bin, os.X_OK):
        ap.error("no tripline at %s (build the release preset, or --bin)" % a.bin)
    try:
        sizes = [int(s) * 1_000_000 for s in a.sizes.split(",")]
    except ValueError:
        ap.error("--sizes: MB, comma-separated")
    print("log_burst_bench: %s, %d round(s) per size, data_dir under %s" % (a.bin, a.rounds, a.dir))
    for size in sizes:
        rounds = [one_round(a.bin, a.dir, size) for _ in range(a.rounds)]
        times = [x for r in rounds for x in r["times"]]
        print(json.dumps({
            "burst_mb": size // 1_000_000,
            "healthz_answers": len(times),
            "healthz_ms_p50": round(rank(times, 0.5) * 1e3, 2),
            "healthz_ms_p99": round(rank(times, 0.99) * 1e3, 2),
            "healthz_ms_max": round(max(times) * 1e3, 2),
            "healthz_ms_max_per_round": [round(max(r["times"]) * 1e3, 2) for r in rounds],
            "after_healthz_ms_p99": round(rank([x for r in rounds for x in r["idle"]], 0.99) * 1e3, 2),
            "after_healthz_ms_max": round(max(x for r in rounds for x in r["idle"]) * 1e3, 2),
            "largest_file_bytes": max(r["max_file"] for r in rounds),
            "largest_total_bytes": max(r["max_total"] for r in rounds),
            "mb_per_s": [round(size / 1e6 / r["took"]) for r in rounds],
        }))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print("log_burst_bench: %s" % e, file=sys.stderr)
        sys.exit(1)
