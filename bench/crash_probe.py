#!/usr/bin/env python3
"""crash_probe — tests/orch/test_crash.py's probe, longer, with figures.

Client threads call RunTask (count 2) on a real daemon while it is killed
with SIGKILL after a random number of acknowledgements; after each restart
the same accounting as the test runs (every acknowledged task known and
RUNNING or STOPPED with a reason; the processes carrying the mark exactly
the RUNNING tasks'; state files, log/scratch directories and cgroups exactly
the known tasks'). A broken invariant stops the run with an AssertionError;
the figures are what the restarts found and did, read from the daemon's log.

    bench/crash_probe.py --tripline build/release/engine/tripline [--rounds 50] [--clients 4] [--seed 1]

Needs root for cgroups (as the suite does); runs in a temporary directory it
removes, and kills every process it started.
"""
import argparse
import os
import pathlib
import random
import statistics
import sys
import tempfile
import time
import uuid

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "support"))
sys.path.insert(0, str(HERE.parent / "tests" / "orch"))

from tripline_test import Daemon, kill_group, marked_pids, sleeper, wait_for  # noqa: E402
from test_crash import all_tasks, check_consistent, kill_during_bursts  # noqa: E402


def count(text, what):
    return text.count(what)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tripline", required=True)
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    mark = uuid.uuid4().hex
    acked, restarts = [], []
    with tempfile.TemporaryDirectory(prefix="crash_probe.") as tmp:
        d = Daemon(os.path.abspath(a.tripline), pathlib.Path(tmp),
                   {"cluster": {"cpu": 1000000, "memory": 1000000}, "limits": {"max_tasks": 100000}})
        try:
            d.register("burst", [sleeper(mark)])
            for rnd in range(a.rounds):
                kill_during_bursts(d, acked, a.clients, rng.randint(1, 40))
                t0 = time.monotonic()
                d.start()
                restarts.append(time.monotonic() - t0)
                check_consistent(d, acked, mark)
                if rnd % 5 == 4:
                    for tid, t in all_tasks(d).items():
                        if t["lastStatus"] == "RUNNING":
                            d.call("StopTask", {"task": tid})
                    wait_for(lambda: not marked_pids(mark), "the tasks to stop")
            tasks = all_tasks(d)
            log = d.log_text()
        finally:
            d.kill()
            for pid in marked_pids(mark):
                kill_group(pid)
    lost = sum(1 for t in tasks.values() if "start was recorded" in (t.get("stoppedReason") or ""))
    print("rounds                                %d (kill -9 after 1-40 acknowledgements, %d clients)"
          % (a.rounds, a.clients))
    print("acknowledged tasks                    %d, all known after every restart" % len(acked))
    print("containers re-adopted                 %d" % count(log, "re-adopted ("))
    print("  of which found by their mark        %d" % count(log, "found by its mark"))
    print("stopped: start never recorded,")
    print("  no process found (TaskFailedToStart) %d" % lost)
    print("processes killed by the sweep         %d" % count(log, "belongs to no running container"))
    print("cgroups removed by the sweep          %d" % count(log, "belongs to no task: its processes"))
    print("log/scratch dirs of unknown tasks     %d" % count(log, "belongs to no known task"))
    print("restart to /healthz, median / max     %.3f s / %.3f s" % (statistics.median(restarts), max(restarts)))


if __name__ == "__main__":
    main()
