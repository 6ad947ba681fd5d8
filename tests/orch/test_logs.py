"""Container logs on the process driver: every file stays within its bound
(10 MiB, 3 rotated files kept) at every moment of a burst, the daemon keeps
answering meanwhile, and the bound holds while the daemon is down — the
log monitor (engine/orch/logmon.h) owns the output, not the daemon.

A sampler thread stats the log directory as fast as it can while the burst
runs; the assertions are on the sizes it saw, never on timings."""
import os
import shutil

import pytest

from logcheck import BOUND, END, Sampler, files, task_logs
from tripline_test import Daemons, alive, pids_with_arg, sleeper, wait_for


# Writes `total` bytes of 'a' in writes of up to 100 MB each (a 100 MB
# burst is one write(2) call), then a newline and the end marker. With a
# gate file: after the first 20 MB, waits until that file exists.
WRITER = r"""
import os, sys, time
total, gate = int(sys.argv[1]), sys.argv[3] if len(sys.argv) > 3 else None
chunk = memoryview(b"a" * min(total, 100_000_000, 20_000_000 if gate else total))
left = total
while left:
    v = chunk[:min(left, len(chunk))]
    while v:
        n = os.write(1, v)
        v = v[n:]
        left -= n
    while gate and not os.path.exists(gate):
        time.sleep(0.01)
    gate = None
os.write(1, b"\n%s\n" % sys.argv[2].encode())
"""


def burst(mark, total, then="exec sleep 1000", name="c", gate=""):
    script = '/usr/bin/python3 -c "$WRITER" %d %s %s; %s' % (total, END, gate, then)
    return sleeper(mark, name=name, command=["/bin/sh", "-c", script],
                   environment=[{"name": "TEST_MARK", "value": mark},
                                {"name": "WRITER", "value": WRITER}])


def run_burst(d, mark, total):
    """Runs a task writing total bytes and samples its log meanwhile:
    bounded at every moment, /healthz answering throughout, the four files
    kept, the end marker last. The task (still running) and its log dir."""
    d.register("burst", [burst(mark, total)])
    t = d.call("RunTask", {"taskDefinition": "burst"})["tasks"][0]
    logdir = d.data_dir / "logs" / t["taskArn"].rsplit("/", 1)[1]
    wait_for(lambda: logdir.is_dir(), "the log directory")
    s = Sampler(logdir, d)
    try:
        wait_for(lambda: END in task_logs(d, t["taskArn"])["log"], "the end of the burst in the log")
    finally:
        s.stop()
    s.check()
    assert s.health and all(h == 200 for h in s.health), s.health[-5:]
    assert files(logdir) == ["c.log", "c.log.1", "c.log.2", "c.log.3"]
    c = task_logs(d, t["taskArn"])
    assert c["truncated"] is True
    assert c["log"].endswith("a\n" + END + "\n")
    return t, logdir


def test_100mb_in_one_write_stays_bounded(daemon, mark):
    d = daemon()
    t, logdir = run_burst(d, mark, 100_000_000)
    for n in ("c.log.1", "c.log.2", "c.log.3"):
        assert (logdir / n).stat().st_size == BOUND   # filled up to the bound, not past it
    # the newest output is at the end of .log: all of 100 MB less what the
    # rotated files hold, less what was dropped with the fourth one
    assert (logdir / "c.log").stat().st_size == (100_000_000 + len(END) + 2) % BOUND
    d.call("StopTask", {"task": t["taskArn"]})
    d.wait_task(t["taskArn"], "STOPPED")


def test_400mb_burst_stays_bounded_and_the_daemon_answers(daemon, mark):
    d = daemon()
    t, _ = run_burst(d, mark, 400_000_000)
    d.call("StopTask", {"task": t["taskArn"]})
    d.wait_task(t["taskArn"], "STOPPED")


def monitor_pid(logdir):
    pids = pids_with_arg(str(logdir / "c.log"))
    assert len(pids) == 1, pids
    return pids[0]


@pytest.mark.parametrize("where", ["beside", "alone"])
def test_the_monitor_is_detached_and_holds_only_its_pipe(tripline_bin, tmp_path, mark, where):
    # beside: tripline-logmon next to tripline (the build, an install) runs;
    # alone: a tripline copied without it runs itself in its hidden mode
    binary = tripline_bin
    if where == "alone":
        (tmp_path / "bin").mkdir()
        binary = str(tmp_path / "bin" / "tripline")
        shutil.copy(tripline_bin, binary)
    want_exe = os.path.realpath(os.path.join(os.path.dirname(tripline_bin), "tripline-logmon")
                                if where == "beside" else binary)
    pool = Daemons(binary, tmp_path)
    try:
        monitor_checks(pool.start(), mark, want_exe)
    finally:
        pool.close()


def monitor_checks(d, mark, want_exe):
    d.register("quiet", [burst(mark, 10)])
    t = d.call("RunTask", {"taskDefinition": "quiet"})["tasks"][0]
    t = d.wait_task(t["taskArn"], "RUNNING")
    logdir = d.data_dir / "logs" / t["taskArn"].rsplit("/", 1)[1]
    wait_for(lambda: END in task_logs(d, t["taskArn"])["log"], "the output in the log")
    pid = monitor_pid(logdir)
    assert os.readlink("/proc/%d/exe" % pid) == want_exe
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ppid, sid = int(fields[1]), int(fields[3])
    assert ppid != d.proc.pid                       # never a child the daemon must reap
    assert sid != os.getsid(d.proc.pid)             # a session of its own (its parent's,
    assert sid != os.getsid(int(t["containers"][0]["runtimeId"]))   # which exited)
    with open("/proc/%d/environ" % pid, "rb") as f:
        assert f.read() == b""                      # no secret, no marker of a task
    fds = sorted(int(n) for n in os.listdir("/proc/%d/fd" % pid))
    assert fds == [0, 1, 2, 3, 4], fds              # pipe, /dev/null ×2, done pipe, the log file
    assert os.readlink("/proc/%d/fd/4" % pid) == str(logdir / "c.log")
    assert os.readlink("/proc/%d/fd/1" % pid) == "/dev/null"
    assert os.readlink("/proc/%d/fd/0" % pid).startswith("pipe:")
    # it ends with the task
    d.call("StopTask", {"task": t["taskArn"]})
    d.wait_task(t["taskArn"], "STOPPED")
    wait_for(lambda: not alive(pid), "the monitor to exit")


def test_output_is_complete_when_the_task_is_reported_stopped(daemon, mark):
    d = daemon()
    d.register("short", [burst(mark, 5_000_000, then="exit 7")])
    t = d.call("RunTask", {"taskDefinition": "short"})["tasks"][0]
    t = d.wait_task(t["taskArn"], "STOPPED")
    assert t["containers"][0]["exitCode"] == 7
    # no wait: the driver waited for the monitor before it reported the exit
    assert task_logs(d, t["taskArn"])["log"].endswith("a\n" + END + "\n")
    logdir = d.data_dir / "logs" / t["taskArn"].rsplit("/", 1)[1]
    assert pids_with_arg(str(logdir / "c.log")) == []


def test_kill_9_during_a_burst_the_log_stays_bounded(daemon, mark, tmp_path):
    d = daemon()
    # 20 MB; the daemon is killed; 380 MB more, then the marker, then it stays up
    gate = tmp_path / "go"
    d.register("burst", [burst(mark, 400_000_000, gate=str(gate))])
    t = d.call("RunTask", {"taskDefinition": "burst"})["tasks"][0]
    arn = t["taskArn"]
    pid = int(d.wait_task(arn, "RUNNING")["containers"][0]["runtimeId"])
    logdir = d.data_dir / "logs" / arn.rsplit("/", 1)[1]
    s = Sampler(logdir)
    try:
        wait_for(lambda: (logdir / "c.log.1").exists(), "a first rotation")
        d.proc.kill()          # SIGKILL during the burst
        d.proc.wait()
        d.log.close()
        assert not (logdir / "c.log.2").exists()
        gate.write_text("")
        # the task goes on writing, and its log is rotated, with no daemon
        mon = monitor_pid(logdir)
        wait_for(lambda: (logdir / "c.log.3").exists(), "rotations while the daemon is down")
        wait_for(lambda: END.encode() in (logdir / "c.log").read_bytes()[-100:],
                 "the end of the burst, written while the daemon is down")
    finally:
        s.stop()
    s.check()
    assert alive(pid) and alive(mon)
    d.start()
    kept = d.task(arn)
    assert kept["lastStatus"] == "RUNNING"
    assert int(kept["containers"][0]["runtimeId"]) == pid    # re-adopted
    assert task_logs(d, arn)["log"].endswith("a\n" + END + "\n")
    assert monitor_pid(logdir) == mon                          # the same monitor
    d.call("StopTask", {"task": arn})
    d.wait_task(arn, "STOPPED")
    wait_for(lambda: not alive(mon), "the monitor to exit with the task")
    assert files(logdir) == ["c.log", "c.log.1", "c.log.2", "c.log.3"]
