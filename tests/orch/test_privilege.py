"""What a task may be on the host (engine/orch/privilege.h): a root daemon
runs each process-driver task without `user` as a dynamic uid of its own
(drivers.process.uid_range), or as drivers.process.default_user; root only
with `"user": "root"` and drivers.process.allow_root. Privileged containers,
added capabilities and devices are refused at registration.

These tests need the daemon to run as root (the suite does): as any other
user it cannot change a task's uid at all."""
import grp
import json
import os
import pwd

import pytest

from tripline_test import ApiError, Daemons, sleeper

UID_MIN, UID_MAX = 61184, 65519


@pytest.fixture(autouse=True)
def need_root():
    assert os.geteuid() == 0, "these tests run the daemon as root (tests/run.sh does)"


def ids(pid):
    """(uids, gids, groups) of a live process, from /proc/PID/status."""
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return [int(x) for x in fields["Uid"]], [int(x) for x in fields["Gid"]], [int(x) for x in fields["Groups"]]


def running_pid(d, arn):
    return int(d.wait_task(arn, "RUNNING")["containers"][0]["runtimeId"])


def run(d, family, **kw):
    out = d.call("RunTask", dict({"taskDefinition": family}, **kw))
    assert out["failures"] == [], out
    return out["tasks"][0]["taskArn"]


def logs(d, arn):
    return d.call(None, {"task": arn}, target="Tripline.GetTaskLogs")["containers"][0]["log"]


def task_id(arn):
    return arn.rsplit("/", 1)[1]


def unknown_uid(uid):
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return True
    return False


def test_tasks_run_as_dynamic_uids_of_their_own(daemon, mark):
    d = daemon()
    d.register("solo", [sleeper(mark)])
    a, b = run(d, "solo"), run(d, "solo")
    pa, pb = running_pid(d, a), running_pid(d, b)
    (ua, ga, groups_a), (ub, gb, _) = ids(pa), ids(pb)
    assert len(set(ua)) == 1 and len(set(ga)) == 1, (ua, ga)   # real, effective, saved, fs alike
    assert UID_MIN <= ua[0] <= UID_MAX and ga[0] == ua[0]
    assert groups_a == []                                      # no supplementary groups
    assert unknown_uid(ua[0])
    assert UID_MIN <= ub[0] <= UID_MAX and gb[0] == ub[0]
    assert ua[0] != ub[0]                                      # each task its own

    # the scratch directory is the task's, and no one else's
    work = d.data_dir / "work" / task_id(a)
    st = work.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (ua[0], ua[0], 0o700)

    # another task cannot read the first one's environment; it can use its own directory
    probe = ('if cat /proc/$TARGET/environ > /dev/null 2>&1; then echo ENVIRON-READ; '
             'else echo ENVIRON-DENIED; fi; echo x > mine && echo WROTE-SCRATCH; id -u')
    d.register("probe", [{"name": "p", "command": ["/bin/sh", "-c", probe]}])
    c = run(d, "probe", overrides={"containerOverrides": [
        {"name": "p", "environment": [{"name": "TARGET", "value": str(pa)}]}]})
    t = d.wait_task(c, "STOPPED")
    assert t["containers"][0]["exitCode"] == 0, t
    out = logs(d, c)
    assert "ENVIRON-DENIED" in out and "ENVIRON-READ" not in out, out
    assert "WROTE-SCRATCH" in out, out
    uid_c = int(out.split()[-1])
    assert UID_MIN <= uid_c <= UID_MAX and uid_c not in (ua[0], ub[0])


def test_a_dynamic_uid_is_kept_across_a_restart_and_released_at_stop(daemon, mark):
    only = 63210
    assert unknown_uid(only), "uid %d must be unknown to this host for this test" % only
    d = daemon({"drivers": {"process": {"uid_range": "%d-%d" % (only, only)}}})
    d.register("solo", [sleeper(mark)])
    a = run(d, "solo")
    pid = running_pid(d, a)
    assert ids(pid)[0] == [only] * 4
    full = d.call("RunTask", {"taskDefinition": "solo"})
    assert full["tasks"] == [] and full["failures"][0]["reason"] == "RESOURCE:UIDS", full
    state = json.loads((d.data_dir / "tasks" / (task_id(a) + ".json")).read_text())
    assert state["tripline"]["uid"] == only

    d.proc.kill()
    d.proc.wait()
    d.log.close()
    d.start()
    assert int(d.task(a)["containers"][0]["runtimeId"]) == pid
    full = d.call("RunTask", {"taskDefinition": "solo"})   # the re-adopted task still holds it
    assert full["tasks"] == [] and full["failures"][0]["reason"] == "RESOURCE:UIDS", full

    d.call("StopTask", {"task": a})
    d.wait_task(a, "STOPPED")
    b = run(d, "solo")
    assert ids(running_pid(d, b))[0] == [only] * 4


ROOTS = ["root", "0", "0:0", "root:root", "00", "nobody:root", "nobody:0"]


def test_root_needs_the_user_and_allow_root(daemon, mark, tmp_path):
    d = daemon()
    for i, user in enumerate(ROOTS):
        d.register("r%d" % i, [sleeper(mark, user=user)])
        with pytest.raises(ApiError) as e:
            d.call("RunTask", {"taskDefinition": "r%d" % i})
        assert e.value.status == 400 and e.value.type == "ClientException", e.value.body
        assert "drivers.process.allow_root" in e.value.body["message"], e.value.body
        with pytest.raises(ApiError) as e:
            d.call("CreateService", {"serviceName": "s%d" % i, "taskDefinition": "r%d" % i, "desiredCount": 1})
        assert e.value.type == "ClientException" and "allow_root" in e.value.body["message"]
    d.register("plain", [sleeper(mark)])
    d.call("CreateService", {"serviceName": "plain", "taskDefinition": "plain", "desiredCount": 0})
    with pytest.raises(ApiError) as e:
        d.call("UpdateService", {"service": "plain", "taskDefinition": "r0"})
    assert e.value.type == "ClientException" and "allow_root" in e.value.body["message"]
    assert d.call("ListTasks", {})["taskArns"] == []
    assert d.stop() == 0

    r = daemon({"data_dir": str(tmp_path / "var-root"), "drivers": {"process": {"allow_root": True}}}, name="r")
    r.register("root", [sleeper(mark, user="root")])
    r.register("zero", [sleeper(mark, user="0:0")])
    r.register("plain", [sleeper(mark)])
    assert ids(running_pid(r, run(r, "root")))[:2] == ([0] * 4, [0] * 4)
    assert ids(running_pid(r, run(r, "zero")))[:2] == ([0] * 4, [0] * 4)
    uids = ids(running_pid(r, run(r, "plain")))[0]   # allow_root changes nothing for the others
    assert UID_MIN <= uids[0] <= UID_MAX


def test_default_user_and_named_users(daemon, mark):
    nobody = pwd.getpwnam("nobody")
    d = daemon({"drivers": {"process": {"default_user": "nobody"}}})
    d.register("plain", [sleeper(mark)])
    a = run(d, "plain")
    uids, gids, groups = ids(running_pid(d, a))
    assert uids == [nobody.pw_uid] * 4 and gids == [nobody.pw_gid] * 4
    assert sorted(groups) == sorted(set(os.getgrouplist("nobody", nobody.pw_gid)))   # initgroups
    st = (d.data_dir / "work" / task_id(a)).stat()
    assert (st.st_uid, st.st_mode & 0o777) == (nobody.pw_uid, 0o700)

    # a named user without workingDirectory can use its scratch directory
    daemon_user = pwd.getpwnam("daemon")
    d.register("named", [{"name": "n", "user": "daemon", "command": ["/bin/sh", "-c", "echo x > f && echo WROTE; id -u"]}])
    n = run(d, "named")
    t = d.wait_task(n, "STOPPED")
    assert t["containers"][0]["exitCode"] == 0, t
    out = logs(d, n)
    assert "WROTE" in out and int(out.split()[-1]) == daemon_user.pw_uid, out
    assert grp.getgrgid(nobody.pw_gid)   # the group exists: the ids above were real ones


@pytest.mark.parametrize("extra, words", [
    ({"privileged": True}, ["/containerDefinitions/0/privileged", "never run privileged"]),
    ({"linuxParameters": {"capabilities": {"add": ["SYS_ADMIN"]}}}, ["linuxParameters", "capabilities"]),
    ({"linuxParameters": {"devices": [{"hostPath": "/dev/sda"}]}}, ["linuxParameters", "devices"]),
    ({"devices": [{"hostPath": "/dev/sda"}]}, ["/containerDefinitions/0/devices"]),
])
def test_privileged_capabilities_and_devices_are_refused(daemon, extra, words):
    d = daemon()
    c = {"name": "c", "image": "busybox", "command": ["true"]}
    c.update(extra)
    with pytest.raises(ApiError) as e:
        d.register("priv", [c], requiresCompatibilities=["FARGATE"])
    assert e.value.status == 400 and e.value.type == "ClientException", e.value.body
    for w in words:
        assert w in e.value.body["message"], e.value.body
    assert d.call("ListTaskDefinitions", {})["taskDefinitionArns"] == []
    # what ECS exports for an ordinary container stays accepted
    d.register("plain", [{"name": "c", "image": "busybox", "privileged": False}])


def test_a_daemon_that_is_not_root_runs_tasks_as_itself(tripline_bin, tmp_path, mark):
    nobody = pwd.getpwnam("nobody")
    wrapper = tmp_path / "as-nobody"
    wrapper.write_text('#!/bin/sh\nexec /usr/bin/setpriv --reuid=%d --regid=%d --clear-groups %s "$@"\n'
                       % (nobody.pw_uid, nobody.pw_gid, tripline_bin))
    wrapper.chmod(0o755)
    pool = Daemons(str(wrapper), tmp_path)
    try:
        d = pool.start()
        d.register("plain", [sleeper(mark)])
        d.register("root", [sleeper(mark, name="r", user="root")])
        uids, gids, _ = ids(running_pid(d, run(d, "plain")))
        assert uids == [nobody.pw_uid] * 4 and gids == [nobody.pw_gid] * 4
        # not refused at RunTask (this daemon cannot make anyone root); the launch says why
        t = d.wait_task(run(d, "root"), "STOPPED")
        assert t["stopCode"] == "TaskFailedToStart" and "needs root" in t["stoppedReason"], t
    finally:
        pool.close()


def test_a_working_directory_is_entered_as_the_task_user(daemon, tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)                # root's: a task user cannot enter it
    (private / "note").write_text("root's note\n")
    (private / "note").chmod(0o644)
    d = daemon()
    d.register("peek", [{"name": "p", "workingDirectory": str(private), "command": ["/bin/cat", "note"]}])
    t = d.wait_task(run(d, "peek"), "STOPPED")
    assert t["stopCode"] == "TaskFailedToStart", t
    assert "chdir %s: Permission denied" % private in t["stoppedReason"], t
    # a directory the user may enter works as before
    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o755)
    (open_dir / "note").write_text("hello\n")
    d.register("read", [{"name": "r", "workingDirectory": str(open_dir), "command": ["/bin/cat", "note"]}])
    a = run(d, "read")
    t = d.wait_task(a, "STOPPED")
    assert t["containers"][0]["exitCode"] == 0 and logs(d, a) == "hello\n", t
