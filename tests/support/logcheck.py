"""What the log tests share (tests/orch/test_logs.py and the docker
driver's burst in test_docker.py): the bound of a container's log files and
a sampler that watches them during a burst."""
import os
import threading
import urllib.request

BOUND = 10 << 20          # ORCH_LOG_MAX_BYTES
KEEP = 3                  # ORCH_LOG_KEEP
BUFFER = 64 << 10         # LOGMON_BUFFER: one write of the monitor
END = "END-OF-BURST"


class Sampler:
    """Stats every file of logdir in a loop (and GETs /healthz in another
    thread when a daemon is given) until stop(); keeps the largest file and
    the largest total it saw, and the /healthz answers."""

    def __init__(self, logdir, d=None):
        self.logdir = logdir
        self.d = d
        self.max_file = 0
        self.max_name = None
        self.max_total = 0
        self.samples = 0
        self.health = []
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self.sizes)]
        if d:
            self.threads.append(threading.Thread(target=self.healthz))
        for t in self.threads:
            t.start()

    def sizes(self):
        while not self.done.is_set():
            total = 0
            try:
                names = os.listdir(self.logdir)
            except FileNotFoundError:
                continue
            for n in names:
                try:
                    size = os.stat(os.path.join(self.logdir, n)).st_size
                except FileNotFoundError:
                    continue   # renamed meanwhile
                total += size
                if size > self.max_file:
                    self.max_file, self.max_name = size, n
            self.max_total = max(self.max_total, total)
            self.samples += 1

    def healthz(self):
        while not self.done.is_set():
            try:
                with urllib.request.urlopen(self.d.url("/healthz"), timeout=30) as r:
                    self.health.append(r.status)
            except OSError as e:
                self.health.append(repr(e))

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join()

    def check(self):
        assert self.samples > 10, self.samples
        assert self.max_file <= BOUND + BUFFER, (self.max_name, self.max_file)
        assert self.max_total <= (KEEP + 1) * BOUND + BUFFER, self.max_total


def task_logs(d, arn, tail=200):
    out = d.call(None, {"task": arn, "tailBytes": tail}, target="Tripline.GetTaskLogs")
    return out["containers"][0]


def files(logdir):
    return sorted(os.listdir(logdir))
