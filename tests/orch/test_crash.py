"""A daemon killed at any moment loses no acknowledged task and leaves no
process, cgroup or directory that no task owns; one daemon per data_dir;
clientTokens outlive a restart.

The probe: four client threads call RunTask while the daemon is killed
with SIGKILL after a different number of acknowledgements each round; after
each restart every acknowledged task must be known and RUNNING (taken back)
or STOPPED with a reason, every process carrying the test's mark must be the
runtimeId of a RUNNING task, and the state files, the log and scratch
directories and the cgroups must be exactly those of known tasks. A second
daemon with a data_dir of its own runs a task throughout: it is never
touched. bench/crash_probe.py runs the same probe longer, with figures.
"""
import ctypes
import json
import os
import re
import signal
import subprocess
import threading
import urllib.error

from tripline_test import ApiError, alive, free_port, marked_pids, sleeper, wait_for

ROUNDS = 10
CLIENTS = 4


def task_mark(pid):
    """TRIPLINE_TASK_MARK of a process ("<instance>/<task id>/<container>"), or None."""
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            env = f.read().split(b"\0")
    except OSError:
        return None
    for kv in env:
        if kv.startswith(b"TRIPLINE_TASK_MARK="):
            return kv.split(b"=", 1)[1].decode()
    return None


def cgroup_dir(d):
    """The directory the daemon makes its containers' memory cgroups in (its log says), or None."""
    m = re.findall(r"cgroups: v\d, (?:tasks|memory) under (\S+?)[ ,(]", d.log_text())
    return m[-1] if m else None


def all_tasks(d):
    """Every task the daemon knows, RUNNING and STOPPED alike, by id."""
    arns = []
    for status in ("RUNNING", "STOPPED"):
        token = None
        while True:
            body = {"desiredStatus": status, "maxResults": 100}
            if token:
                body["nextToken"] = token
            out = d.call("ListTasks", body)
            arns += out["taskArns"]
            token = out.get("nextToken")
            if not token:
                break
    tasks = {}
    for i in range(0, len(arns), 100):
        for t in d.call("DescribeTasks", {"tasks": arns[i:i + 100]})["tasks"]:
            tasks[t["taskArn"].rsplit("/", 1)[1]] = t
    return tasks


def burst(d, acked, stop):
    """Calls RunTask until the daemon stops answering; appends the acknowledged ARNs."""
    while not stop.is_set():
        try:
            out = d.call("RunTask", {"taskDefinition": "burst", "count": 2})
        except (OSError, urllib.error.URLError, ApiError):
            return
        acked.extend(t["taskArn"] for t in out["tasks"])


def kill_during_bursts(d, acked, clients, n):
    """Clients call RunTask until n more are acknowledged; then the daemon is SIGKILLed."""
    stop = threading.Event()
    threads = [threading.Thread(target=burst, args=(d, acked, stop)) for _ in range(clients)]
    target = len(acked) + n
    for th in threads:
        th.start()
    wait_for(lambda: len(acked) >= target, "acknowledgements")
    d.proc.kill()
    d.proc.wait()
    d.log.close()
    stop.set()
    for th in threads:
        th.join()


def settled(d):
    """All tasks once none is PROVISIONING/PENDING/DEPROVISIONING, else None."""
    tasks = all_tasks(d)
    if any(t["lastStatus"] not in ("RUNNING", "STOPPED") for t in tasks.values()):
        return None
    return tasks


def check_consistent(d, acked, mark):
    """The invariants after a restart (see the module's text)."""
    tasks = wait_for(lambda: settled(d), "every task RUNNING or STOPPED")
    for arn in acked:
        tid = arn.rsplit("/", 1)[1]
        assert tid in tasks, "acknowledged task %s is unknown after the restart" % tid
        t = tasks[tid]
        if t["lastStatus"] == "STOPPED":
            assert t.get("stopCode") and t.get("stoppedReason"), t
    running = {t["containers"][0]["runtimeId"]: tid for tid, t in tasks.items() if t["lastStatus"] == "RUNNING"}

    def processes_match():
        pids = {str(p): task_mark(p) for p in marked_pids(mark)}
        return (pids,) if set(pids) == set(running) else None   # (): none running is a match too
    pids, = wait_for(processes_match, "the marked processes to be exactly the RUNNING tasks' (%d)" % len(running))
    for pid, m in pids.items():
        assert m and m.split("/")[1] == running[pid], (pid, m)

    data = d.data_dir
    files = sorted(os.listdir(data / "tasks"))
    assert files == sorted(tid + ".json" for tid in tasks), "state files that no known task owns"
    for kind in ("logs", "work"):
        assert set(os.listdir(data / kind)) <= set(tasks), "%s directories of unknown tasks" % kind
    base = cgroup_dir(d)
    if base:
        want = {tid + "-app" for tid in running.values()}
        wait_for(lambda: {n for n in os.listdir(base) if os.path.isdir(os.path.join(base, n))} == want,
                 "the cgroups to be exactly the RUNNING tasks'")


def test_kill_9_during_run_task_bursts(daemon, tmp_path, mark):
    other_mark = mark[::-1]
    (tmp_path / ("mark-" + other_mark[:8])).write_text(other_mark)
    other_tmp = tmp_path / "other"
    other_tmp.mkdir()
    other = daemon({"data_dir": str(other_tmp / "var")}, name="other")
    other.register("keep", [sleeper(other_mark)])
    keep = other.call("RunTask", {"taskDefinition": "keep"})["tasks"][0]["taskArn"]
    keep_pid = int(other.wait_task(keep, "RUNNING")["containers"][0]["runtimeId"])
    other_cg = cgroup_dir(other)

    d = daemon({"cluster": {"cpu": 1000000, "memory": 1000000}, "limits": {"max_tasks": 100000}})
    d.register("burst", [sleeper(mark)])
    acked = []
    for rnd in range(ROUNDS):
        # a different moment each round: after 1, 3, 5 … acknowledgements
        kill_during_bursts(d, acked, CLIENTS, 1 + 2 * rnd)
        d.start()
        check_consistent(d, acked, mark)
        # keep the host light: what runs is stopped, through the API
        for tid, t in all_tasks(d).items():
            if t["lastStatus"] == "RUNNING" and rnd % 3 == 2:
                d.call("StopTask", {"task": tid})
    assert len(acked) > ROUNDS
    # the other daemon's task was never touched
    assert other.task(keep)["lastStatus"] == "RUNNING"
    assert alive(keep_pid)
    if other_cg:
        assert os.path.isdir(other_cg) and os.listdir(other_cg)


def test_crash_between_spawn_and_recording_readopts_by_mark(daemon, mark):
    """A task whose state names no pid (the daemon died between the spawn and
    the write) is found by its mark, not reported stopped."""
    d = daemon()
    d.register("one", [sleeper(mark)])
    arn = d.call("RunTask", {"taskDefinition": "one"})["tasks"][0]["taskArn"]
    pid = int(d.wait_task(arn, "RUNNING")["containers"][0]["runtimeId"])
    d.proc.kill()
    d.proc.wait()
    d.log.close()
    # what the file holds when the daemon dies before recording the start
    path = d.data_dir / "tasks" / (arn.rsplit("/", 1)[1] + ".json")
    st = json.loads(path.read_text())
    st["lastStatus"] = "PENDING"
    st["containers"][0]["lastStatus"] = "PENDING"
    st["containers"][0].pop("runtimeId", None)
    del st["tripline"]["containers"][0]["driver"]
    st["tripline"]["containers"][0]["everStarted"] = False
    path.write_text(json.dumps(st))
    d.start()
    t = d.wait_task(arn, "RUNNING")
    assert int(t["containers"][0]["runtimeId"]) == pid
    d.call("StopTask", {"task": arn})
    d.wait_task(arn, "STOPPED")
    assert not alive(pid)


def test_unknown_marked_processes_and_leftovers_are_swept(daemon, mark):
    """A process carrying this data_dir's mark whose task is not known is
    killed at start; its cgroup, log and scratch directories are removed."""
    d = daemon()
    d.register("one", [sleeper(mark)])
    arn = d.call("RunTask", {"taskDefinition": "one"})["tasks"][0]["taskArn"]
    tid = arn.rsplit("/", 1)[1]
    pid = int(d.wait_task(arn, "RUNNING")["containers"][0]["runtimeId"])
    base = cgroup_dir(d)
    d.proc.kill()
    d.proc.wait()
    d.log.close()
    os.unlink(d.data_dir / "tasks" / (tid + ".json"))   # its state is lost
    d.start()
    wait_for(lambda: not alive(pid), "the unknown task's process to be killed")
    assert "belongs to no" in d.log_text()
    assert not (d.data_dir / "logs" / tid).exists()
    assert not (d.data_dir / "work" / tid).exists()
    if base:
        wait_for(lambda: not os.path.exists(os.path.join(base, tid + "-app")), "its cgroup to be removed")


def test_task_stopping_when_killed_is_stopped_after_restart(daemon, tmp_path, mark):
    """Killed while a task was stopping (it ignores SIGTERM): the next daemon finishes the stop."""
    d = daemon()
    script = tmp_path / "stubborn.sh"
    script.write_text("#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 1; done\n")
    script.chmod(0o755)
    d.register("stubborn", [sleeper(mark, command=[str(script)], stop_timeout=3)])
    arn = d.call("RunTask", {"taskDefinition": "stubborn"})["tasks"][0]["taskArn"]
    pid = int(d.wait_task(arn, "RUNNING")["containers"][0]["runtimeId"])
    d.call("StopTask", {"task": arn})
    wait_for(lambda: d.task(arn)["desiredStatus"] == "STOPPED", "desired STOPPED")
    wait_for(lambda: json.loads((d.data_dir / "tasks" / (arn.rsplit("/", 1)[1] + ".json")).read_text())
             ["desiredStatus"] == "STOPPED", "the stop on disk")
    d.proc.kill()
    d.proc.wait()
    d.log.close()
    assert alive(pid)
    d.start()
    t = d.wait_task(arn, "STOPPED")
    assert t["stopCode"] == "UserInitiated"
    assert not alive(pid)


# ---------------------------------------------------------------- one daemon per data_dir

def second_daemon(d, tmp_path):
    """`tripline serve` with d's config on another port: (exit status, output)."""
    cfg = json.loads(d.config.read_text())
    cfg["listen"] = "127.0.0.1:%d" % free_port()
    path = tmp_path / "second.json"
    path.write_text(json.dumps(cfg))
    r = subprocess.run([d.binary, "serve", "--config", str(path)], capture_output=True, text=True,
                       timeout=60)
    return r.returncode, r.stdout + r.stderr


def grab_fd(pid, path):
    """A copy (pidfd_getfd(2): the same open file) of pid's fd open on path, as a
    task's process holds one between its clone and its exec."""
    for name in os.listdir("/proc/%d/fd" % pid):
        if os.readlink("/proc/%d/fd/%s" % (pid, name)) == path:
            pidfd = os.pidfd_open(pid)
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                fd = libc.syscall(438, pidfd, int(name), 0)   # SYS_pidfd_getfd
                assert fd >= 0, os.strerror(ctypes.get_errno())
                return fd
            finally:
                os.close(pidfd)
    raise AssertionError("%d has no fd on %s" % (pid, path))


def test_second_daemon_on_the_same_data_dir_exits_3(daemon, tmp_path, mark):
    d = daemon()
    rc, out = second_daemon(d, tmp_path)
    assert rc == 3, out
    assert "pid %d" % d.proc.pid in out, out
    assert (d.data_dir / "lock").read_text().strip() == str(d.proc.pid)
    # a task never holds the lock: with the daemon killed, the next one starts
    d.register("one", [sleeper(mark)])
    arn = d.call("RunTask", {"taskDefinition": "one"})["tasks"][0]["taskArn"]
    pid = int(d.wait_task(arn, "RUNNING")["containers"][0]["runtimeId"])
    lock = str(d.data_dir / "lock")
    fds = "/proc/%d/fd" % pid
    assert all(os.readlink(os.path.join(fds, n)) != lock for n in os.listdir(fds))
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.log.close()
    assert alive(pid)
    d.start()
    assert d.task(arn)["lastStatus"] == "RUNNING"
    rc, out = second_daemon(d, tmp_path)
    assert rc == 3 and "pid %d" % d.proc.pid in out, out
    # a process that still has the daemon's fd when it dies (a task caught
    # between its clone and its exec) does not keep the next daemon out
    held = grab_fd(d.proc.pid, lock)
    try:
        d.proc.kill()
        d.proc.wait()
        d.log.close()
        d.start()
    finally:
        os.close(held)
    assert d.task(arn)["lastStatus"] == "RUNNING"


# ---------------------------------------------------------------- clientToken

def test_client_token_survives_a_restart_and_refuses_other_parameters(daemon, mark):
    d = daemon()
    d.register("tok", [sleeper(mark)])
    req = {"taskDefinition": "tok", "count": 2, "clientToken": "retry-me", "startedBy": "pytest"}
    first = sorted(t["taskArn"] for t in d.call("RunTask", req)["tasks"])
    assert len(first) == 2
    try:
        d.call("RunTask", dict(req, count=1))
        raise AssertionError("the same token with other parameters was accepted")
    except ApiError as e:
        assert e.status == 400 and e.type == "ConflictException", e.body
        assert "clientToken" in e.body["message"]
    assert d.stop() == 0
    d.start()
    again = sorted(t["taskArn"] for t in d.call("RunTask", req)["tasks"])
    assert again == first
    try:
        d.call("RunTask", dict(req, startedBy="someone-else"))
        raise AssertionError("the same token with other parameters was accepted after a restart")
    except ApiError as e:
        assert e.type == "ConflictException", e.body
    assert len(marked_pids(mark)) == 2
    assert len(all_tasks(d)) == 2
    # across a restart the hour follows the wall clock: a token written two
    # hours ago is forgotten, and the same request starts new tasks
    assert d.stop() == 0
    (path,) = list((d.data_dir / "tokens").iterdir())
    tok = json.loads(path.read_text())
    assert tok["token"] == "retry-me" and sorted(tok["tasks"]) == sorted(a.rsplit("/", 1)[1] for a in first)
    tok["at"] -= 2 * 3600 * 1000
    path.write_text(json.dumps(tok))
    d.start()
    assert not path.exists()
    fresh = sorted(t["taskArn"] for t in d.call("RunTask", req)["tasks"])
    assert len(fresh) == 2 and not set(fresh) & set(first)


def test_run_task_answers_only_what_is_on_disk(daemon, mark):
    """A task that cannot be written is not acknowledged and nothing of it runs."""
    d = daemon()
    d.register("one", [sleeper(mark)])
    tasks = d.data_dir / "tasks"
    os.rmdir(tasks)
    tasks.write_text("not a directory: every state file write fails")
    try:
        d.call("RunTask", {"taskDefinition": "one"})
        raise AssertionError("RunTask answered a task that is not on disk")
    except ApiError as e:
        assert e.status == 500 and e.type == "ServerException", e.body
        assert "cannot be saved" in e.body["message"]
    assert marked_pids(mark) == []
    assert d.call("ListTasks", {})["taskArns"] == []
    os.unlink(tasks)
    os.mkdir(tasks)
    arn = d.call("RunTask", {"taskDefinition": "one"})["tasks"][0]["taskArn"]
    d.wait_task(arn, "RUNNING")
