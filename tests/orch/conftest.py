"""The orchestration core through the real daemon: real processes, real HTTP.

Every test starts `tripline serve` on a free loopback port with its own
data_dir, talks to its ECS API over HTTP, and polls with deadlines — never a
fixed sleep. Processes are counted from /proc (a marker variable in the
task's environment), not only from the API.
"""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest

DEADLINE = 40.0
ROOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ECS = "AmazonEC2ContainerServiceV20141113."


@pytest.fixture(scope="session")
def tripline_bin():
    path = os.environ.get("TRIPLINE_BIN")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("TRIPLINE_BIN must point at the built tripline binary (run through ctest)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, what, deadline=DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class ApiError(Exception):
    def __init__(self, status, body):
        super().__init__("%d %s" % (status, body))
        self.status = status
        self.body = body
        self.type = body.get("__type") if isinstance(body, dict) else None


def marked_pids(mark):
    """Pids of live (not zombie) processes whose environment holds TEST_MARK=mark."""
    want = ("TEST_MARK=" + mark).encode()
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                env = f.read().split(b"\0")
            with open("/proc/%s/stat" % name) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if want in env and state != "Z":
            pids.append(int(name))
    return sorted(pids)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Daemon:
    def __init__(self, binary, tmp_path, config=None, name="d"):
        self.binary = binary
        self.tmp = tmp_path
        self.port = free_port()
        self.data_dir = tmp_path / "var"
        cfg = {"listen": "127.0.0.1:%d" % self.port, "data_dir": str(self.data_dir),
               "rules": [], "task_definitions": [], "log_level": "debug"}
        cfg.update(config or {})
        self.config_path = tmp_path / ("tripline-%s.json" % name)
        self.config_path.write_text(json.dumps(cfg))
        self.log_path = tmp_path / ("daemon-%s.log" % name)
        self.proc = None
        self.start()

    def start(self):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen([self.binary, "serve", "--config", str(self.config_path)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready()

    def log_text(self):
        self.log.flush()
        return self.log_path.read_text()

    def wait_ready(self):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("daemon exited %d:\n%s" % (self.proc.returncode, self.log_text()))
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % self.port, timeout=2) as r:
                    return r.status == 200
            except (urllib.error.URLError, ConnectionError):
                return False
        wait_for(ready, "/healthz")

    def call(self, op, body=None, target=None):
        data = json.dumps(body or {}).encode()
        req = urllib.request.Request("http://127.0.0.1:%d/" % self.port, data=data, method="POST")
        req.add_header("Content-Type", "application/x-amz-json-1.1")
        req.add_header("X-Amz-Target", target or ECS + op)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw
            raise ApiError(e.code, parsed) from None

    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port, timeout=5) as r:
            return r.read().decode()

    # conveniences
    def register(self, family, containers, **extra):
        body = {"family": family, "containerDefinitions": containers}
        body.update(extra)
        return self.call("RegisterTaskDefinition", body)["taskDefinition"]

    def task(self, arn):
        out = self.call("DescribeTasks", {"tasks": [arn]})
        assert out["failures"] == [], out
        return out["tasks"][0]

    def wait_task(self, arn, status, deadline=DEADLINE):
        return wait_for(lambda: (lambda t: t if t["lastStatus"] == status else None)(self.task(arn)),
                        "task %s to be %s" % (arn, status), deadline)

    def service(self, name):
        out = self.call("DescribeServices", {"services": [name]})
        assert out["failures"] == [], out
        return out["services"][0]

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=DEADLINE)
        self.log.close()
        return rc


@pytest.fixture
def daemon(tripline_bin, tmp_path):
    started = []

    def start(config=None, name="d"):
        d = Daemon(tripline_bin, tmp_path, config, name)
        started.append(d)
        return d
    yield start
    for d in started:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
        # the daemon leaves tasks running by design: stop what the test left
        for mark_file in tmp_path.glob("mark-*"):
            for pid in marked_pids(mark_file.read_text()):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass


@pytest.fixture
def mark(tmp_path):
    """A unique TEST_MARK value; processes carrying it are killed after the test."""
    m = uuid.uuid4().hex
    (tmp_path / ("mark-" + m[:8])).write_text(m)
    return m


def sleeper(mark, name="app", stop_timeout=2, **extra):
    c = {"name": name, "image": "local", "command": ["/bin/sleep", "1000"], "stopTimeout": stop_timeout,
         "environment": [{"name": "TEST_MARK", "value": mark}]}
    c.update(extra)
    return c
