"""Test support shared by the pytest suites (tests/cli, tests/orch).

Each suite's conftest.py puts this folder on sys.path; test modules import
from here and never from one another.

- tripline_bin_path(): the built binary named by TRIPLINE_BIN (ctest sets
  it); a missing binary raises — a broken build is never a reason to skip.
- Daemon: `tripline serve` on a free loopback port with its own data_dir
  and rules folder under the test's tmp_path, its log in a file there;
  start/stop/restart, the AWS JSON API (call(), ApiError) and a few ECS
  conveniences. Daemons: the fixtures' pool, which kills what a test left.
  A Daemon makes its tmp_path reachable by tasks (share_with_tasks()): as
  root it runs them under dynamic uids.
- wait_for(): poll a condition with a deadline (no fixed sleeps anywhere).
- free_port(), table(), aws_cli(): a free loopback port, the CLI's aligned
  tables as rows, Debian's AWS CLI v2 against a daemon.
- /proc helpers: processes found by a TEST_MARK variable in their
  environment or by an argument on their command line, liveness of a pid.
"""
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

DEADLINE = 40.0
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ECS = "AmazonEC2ContainerServiceV20141113."
ARN = "arn:aws:ecs:local:000000000000:"
AWS = "/usr/bin/aws"   # Debian's awscli (v2); another `aws` earlier on PATH may be an old v1


def tripline_bin_path():
    path = os.environ.get("TRIPLINE_BIN")
    if not path or not os.access(path, os.X_OK):
        # fail loudly: a missing binary is a broken build, not a reason to skip
        raise RuntimeError("TRIPLINE_BIN must point at the built tripline binary (run through ctest)")
    return path


def free_port():
    """A loopback port nothing listens on (at the time of the call)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def url(port):
    """The daemon's base URL on a loopback port."""
    return "http://127.0.0.1:%d" % port


def dead_port():
    """A loopback port nothing listens on."""
    return free_port()


def curl(port, path, method="GET", data=None, headers=(), content_type="application/json"):
    """(status, body) of a request made with the curl binary; headers: "Name: value" strings.
    (None, curl's error) when no answer came."""
    args = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, "--max-time", "5",
            "http://127.0.0.1:%d%s" % (port, path)]
    if data is not None:
        args += ["--data-binary", "@-"]
        if content_type:
            args += ["-H", "Content-Type: " + content_type]
    for h in headers:
        args += ["-H", h]
    r = subprocess.run(args, input=data, capture_output=True, text=True, timeout=15)
    if r.returncode != 0:
        return None, r.stderr
    body, _, code = r.stdout.rpartition("\n")
    return int(code), body


def json_lines(path):
    """The JSON objects of a JSON-lines file a daemon is writing (a file
    target, a dead-letter file): complete lines only, so a line being
    written is read next time; [] while the file does not exist."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return []
    return [json.loads(x) for x in text.split("\n")[:-1] if x.strip()]


def wait_for(cond, what, deadline=DEADLINE):
    """cond()'s first true value, polled every 50 ms; AssertionError after deadline seconds."""
    end = time.monotonic() + deadline
    last = None
    while time.monotonic() < end:
        last = cond()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def table(text):
    """Rows of an aligned table: cells split on runs of two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


# ---------------------------------------------------------------- /proc

def _state(pid):
    with open("/proc/%s/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


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
            state = _state(name)
        except OSError:
            continue
        if want in env and state != "Z":
            pids.append(int(name))
    return sorted(pids)


def pids_with_arg(arg):
    """Pids of processes with arg as one of the words of their command line."""
    want = arg.encode()
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if want in argv:
            pids.append(int(name))
    return sorted(pids)


def children(pid):
    """Pids whose parent is pid."""
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            kids.append(int(name))
    return kids


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        return _state(pid) != "Z"
    except OSError:
        return False


def kill_group(pid):
    """SIGKILL pid's process group, or pid alone when it leads none; gone already is fine."""
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
            return
        except OSError:
            pass


# ---------------------------------------------------------------- the daemon

class ApiError(Exception):
    """A non-2xx answer of the AWS JSON API: status, parsed body and its __type."""

    def __init__(self, status, body):
        super().__init__("%d %s" % (status, body))
        self.status = status
        self.body = body
        self.type = body.get("__type") if isinstance(body, dict) else None


class Daemon:
    """`tripline serve` with a config of its own: listen on a free loopback
    port, data_dir tmp_path/var, rules from tmp_path/rules (the `rules`
    argument: file name → rule object), no task definitions; `config` is
    merged over that. The log goes to tmp_path/daemon-NAME.log (appended to
    across restarts). Started at once; with wait, until /healthz answers."""

    def __init__(self, binary, tmp_path, config=None, rules=None, name="d", wait=True):
        self.binary = binary
        self.tmp = tmp_path
        share_with_tasks(tmp_path)
        self.port = free_port()
        self.data_dir = tmp_path / "var"
        self.rules_dir = tmp_path / "rules"
        self.rules_dir.mkdir(exist_ok=True)
        for fname, body in (rules or {}).items():
            (self.rules_dir / fname).write_text(json.dumps(body))
        cfg = {"listen": "127.0.0.1:%d" % self.port, "data_dir": str(self.data_dir),
               "rules": [str(self.rules_dir)], "task_definitions": []}
        cfg.update(config or {})
        self.config = tmp_path / ("tripline-%s.json" % name)
        self.config.write_text(json.dumps(cfg))
        self.config_path = self.config
        self.log_path = tmp_path / ("daemon-%s.log" % name)
        self.log = None
        self.proc = None
        self.start(wait)

    def start(self, wait=True):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen([self.binary, "serve", "--config", str(self.config)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def wait_ready(self, deadline=DEADLINE):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("daemon exited %d:\n%s" % (self.proc.returncode, self.log_text()))
            try:
                with urllib.request.urlopen(self.url("/healthz"), timeout=2) as r:
                    return r.status == 200
            except (urllib.error.URLError, ConnectionError):
                return False
        wait_for(ready, "/healthz", deadline)

    def call(self, op, body=None, target=None):
        """POST / with X-Amz-Target (ECS + op unless target): the parsed answer, or ApiError."""
        data = json.dumps(body or {}).encode()
        req = urllib.request.Request(self.url(), data=data, method="POST")
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
        with urllib.request.urlopen(self.url("/metrics"), timeout=5) as r:
            assert r.status == 200
            return r.read().decode()

    def metric(self, name):
        """The value of an unlabelled sample `name`, or of `name{labels}` written out in full; None if absent."""
        for line in self.metrics().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return None

    # ECS conveniences
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

    # counters that say an event was lost or refused: none is expected in a
    # test unless it names the reason with expect_drops()
    DROP_COUNTERS = ("tripline_events_dropped_total", "tripline_bus_refused_total",
                     "tripline_dead_letter_failures_total")

    def expect_drops(self, *reasons):
        self.expected_drops = set(getattr(self, "expected_drops", set())) | set(reasons)

    def unexpected_drops(self):
        try:
            text = self.metrics()
        except (urllib.error.URLError, ConnectionError, OSError):
            return []
        out = []
        for line in text.splitlines():
            name = line.split("{")[0].split(" ")[0]
            if name not in self.DROP_COUNTERS or line.endswith(" 0"):
                continue
            reason = line.split('"')[1] if '"' in line else ""
            if reason not in getattr(self, "expected_drops", set()):
                out.append(line)
        return out

    def stop(self, sig=signal.SIGTERM):
        """Sends sig, waits for the exit (deadline) and returns the exit status."""
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=DEADLINE)
        self.log.close()
        return rc

    def kill(self):
        """SIGKILL if still running, then close the log."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.log and not self.log.closed:
            self.log.close()


class Daemons:
    """The `daemon` fixtures' pool: start(config=None, rules=None, name="d")
    starts a Daemon; close() kills each one still running and its children.
    The daemon leaves tasks running by design (to re-adopt them): close()
    then kills every process carrying a TEST_MARK written by mark_file()."""

    def __init__(self, binary, tmp_path, base_config=None):
        self.binary = binary
        self.tmp = tmp_path
        self.base = base_config or {}
        self.started = []

    def start(self, config=None, rules=None, name="d"):
        cfg = dict(self.base)
        cfg.update(config or {})
        d = Daemon(self.binary, self.tmp, cfg, rules=rules, name=name)
        self.started.append(d)
        return d

    def close(self):
        # events lost or refused are bugs unless the test said it expects
        # them (Daemon.expect_drops): checked on every daemon still running
        lost = []
        for d in self.started:
            if d.proc.poll() is None:
                lost += ["%s: %s" % (d.log_path.name, x) for x in d.unexpected_drops()]
        self._close()
        if lost:
            raise AssertionError("events were dropped or refused:\n  " + "\n  ".join(lost))

    def _close(self):
        # a launch still in flight has not exec'd yet, so it carries no mark:
        # the running daemons' children are killed by parentage, and the
        # marks are looked for again for a moment, for a clone that was on
        # its way to its exec when its daemon died
        for d in self.started:
            kids = children(d.proc.pid) if d.proc.poll() is None else []
            d.kill()
            for pid in kids:
                kill_group(pid)
        marks = [f.read_text() for f in self.tmp.glob("mark-*")]
        end = time.monotonic() + 0.5
        while True:
            for mark in marks:
                for pid in marked_pids(mark):
                    kill_group(pid)
            if time.monotonic() >= end:
                break
            time.sleep(0.05)


def share_with_tasks(path):
    """Lets tasks reach path: a root daemon runs each task as a uid of its
    own (drivers.process.uid_range), which cannot enter pytest's 0700
    directories. path becomes world-writable with the sticky bit, as /tmp
    is (a task creates files there but cannot remove or rename the test's),
    and each directory above it searchable (o+x, not listable)."""
    path = os.path.abspath(str(path))
    os.chmod(path, 0o1777)
    up = os.path.dirname(path)
    while up != "/":
        mode = os.stat(up).st_mode
        if not mode & 0o001:
            os.chmod(up, (mode & 0o7777) | 0o001)
        up = os.path.dirname(up)


def mark_file(tmp_path, mark):
    """Records mark so that Daemons.close() kills the processes carrying it."""
    (tmp_path / ("mark-" + mark[:8])).write_text(mark)


def sleeper(mark, name="app", stop_timeout=2, **extra):
    """A container definition that sleeps, carrying TEST_MARK=mark."""
    c = {"name": name, "image": "local", "command": ["/bin/sleep", "1000"], "stopTimeout": stop_timeout,
         "environment": [{"name": "TEST_MARK", "value": mark}]}
    c.update(extra)
    return c


# ---------------------------------------------------------------- the AWS CLI

def aws_cli(port, *args, secret="cli-secret", timeout=120):
    """Debian's AWS CLI v2 against the daemon on port, as AKIDCLI/secret in region local."""
    if not os.access(AWS, os.X_OK):
        raise AssertionError("%s is missing: deploy/install-deps.sh installs Debian's awscli" % AWS)
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"),
           "AWS_ACCESS_KEY_ID": "AKIDCLI", "AWS_SECRET_ACCESS_KEY": secret,
           "AWS_DEFAULT_REGION": "local", "AWS_PAGER": "", "AWS_EC2_METADATA_DISABLED": "true"}
    return subprocess.run([AWS, "--endpoint-url", "http://127.0.0.1:%d" % port, "--output", "json", *args],
                          capture_output=True, text=True, timeout=timeout, env=env)
