"""The docker driver through the daemon: a private dockerd (tests/docker/dockerd.sh)
with a busybox image imported from Debian's busybox-static; launchType FARGATE."""
import os
import subprocess
import tempfile

import pytest

from tripline_test import ROOT, wait_for

DOCKERD_SH = os.path.join(ROOT, "tests", "docker", "dockerd.sh")
IMAGE = "tripline-busybox:test"


@pytest.fixture(scope="module")
def dockerd():
    # short path: the sockets under it must fit a unix socket path
    d = tempfile.mkdtemp(prefix="tl-dk-", dir="/tmp")
    r = subprocess.run([DOCKERD_SH, "start", d, str(os.getpid())], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise AssertionError("cannot start dockerd for the docker tests:\n" + r.stderr)
    yield os.path.join(d, "docker.sock")
    subprocess.run([DOCKERD_SH, "stop", d], capture_output=True, text=True, timeout=120)


def container(**kw):
    c = {"name": "box", "image": IMAGE, "stopTimeout": 2}
    c.update(kw)
    return c


def test_docker_lifecycle(daemon, dockerd):
    d = daemon({"drivers": {"docker": {"socket": dockerd}}})
    assert "docker driver on" in d.log_text()
    d.register("ok", [container(command=["sh", "-c", "echo hello-from-$WHO; exit 3"],
                                environment=[{"name": "WHO", "value": "busybox"}])],
               requiresCompatibilities=["FARGATE"])
    t = d.call("RunTask", {"taskDefinition": "ok", "launchType": "FARGATE"})["tasks"][0]
    assert t["launchType"] == "FARGATE"
    t = d.wait_task(t["taskArn"], "STOPPED")
    assert t["stopCode"] == "EssentialContainerExited"
    assert t["containers"][0]["exitCode"] == 3
    assert len(t["containers"][0]["runtimeId"]) == 64   # a docker container id
    logs = d.call(None, {"task": t["taskArn"]}, target="Tripline.GetTaskLogs")["containers"][0]["log"]
    assert "hello-from-busybox" in logs

    # a memory limit that the program exceeds: the kernel's OOM killer, 137
    d.register("oom", [container(memory=16, command=["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"])])
    t = d.call("RunTask", {"taskDefinition": "oom", "launchType": "FARGATE"})["tasks"][0]
    t = d.wait_task(t["taskArn"], "STOPPED")
    assert t["containers"][0]["exitCode"] == 137, t
    assert "OutOfMemory" in t["containers"][0].get("reason", ""), t

    # StopTask on a container that ignores SIGTERM: killed after stopTimeout
    d.register("stubborn", [container(command=["sh", "-c", "trap '' TERM; while true; do sleep 1; done"])])
    t = d.call("RunTask", {"taskDefinition": "stubborn", "launchType": "FARGATE"})["tasks"][0]
    d.wait_task(t["taskArn"], "RUNNING")
    d.call("StopTask", {"task": t["taskArn"]})
    t = d.wait_task(t["taskArn"], "STOPPED")
    assert (t["stopCode"], t["containers"][0]["exitCode"]) == ("UserInitiated", 137)

    # a missing image: the task fails to start, with docker's reason
    d.register("noimage", [container(image="no-such-image:never", command=["true"])])
    t = d.call("RunTask", {"taskDefinition": "noimage", "launchType": "FARGATE"})["tasks"][0]
    t = d.wait_task(t["taskArn"], "STOPPED")
    assert t["stopCode"] == "TaskFailedToStart"
    assert "no-such-image" in t["stoppedReason"]


def test_docker_readopt_after_kill_9(daemon, dockerd):
    d = daemon({"drivers": {"docker": {"socket": dockerd}}})
    d.register("long", [container(command=["sleep", "1000"])])
    t = d.call("RunTask", {"taskDefinition": "long", "launchType": "FARGATE"})["tasks"][0]
    t = d.wait_task(t["taskArn"], "RUNNING")
    cid = t["containers"][0]["runtimeId"]
    d.proc.kill()
    d.proc.wait()
    d.log.close()
    d.start()
    again = d.task(t["taskArn"])
    assert again["lastStatus"] == "RUNNING" and again["containers"][0]["runtimeId"] == cid
    d.call("StopTask", {"task": t["taskArn"]})
    t = d.wait_task(t["taskArn"], "STOPPED")
    assert t["containers"][0]["exitCode"] in (137, 143)


def test_sigterm_waits_for_launches_in_flight(daemon, dockerd):
    d = daemon({"drivers": {"docker": {"socket": dockerd}}})
    d.register("quick", [container(command=["sleep", "1000"])])
    arn = d.call("RunTask", {"taskDefinition": "quick", "launchType": "FARGATE"})["tasks"][0]["taskArn"]
    # the container's create is still in flight at the docker daemon: a clean
    # stop waits for its outcome, so the next daemon knows the container
    assert d.stop() == 0
    d.start()
    t = d.wait_task(arn, "RUNNING")
    assert len(t["containers"][0]["runtimeId"]) == 64
    d.call("StopTask", {"task": arn})
    d.wait_task(arn, "STOPPED")


def test_docker_log_burst_stays_bounded(daemon, dockerd):
    # the sampler of tests/orch/test_logs.py: no file past the bound at any moment
    from test_logs import BOUND, END, Sampler, files, task_logs
    d = daemon({"drivers": {"docker": {"socket": dockerd}}})
    script = "head -c 30000000 /dev/zero | tr '\\0' a; echo; echo %s; exec sleep 1000" % END
    d.register("burst", [container(name="c", command=["sh", "-c", script])])
    arn = d.call("RunTask", {"taskDefinition": "burst", "launchType": "FARGATE"})["tasks"][0]["taskArn"]
    logdir = d.data_dir / "logs" / arn.rsplit("/", 1)[1]
    d.wait_task(arn, "RUNNING")
    s = Sampler(logdir, d)
    try:
        wait_for(lambda: END in task_logs(d, arn)["log"], "the end of the burst in the log")
    finally:
        s.stop()
    s.check()
    assert s.health and all(h == 200 for h in s.health), s.health[-5:]
    # 30 MB: at least three files (dockerd's follow may send a little twice
    # around its own json-file rotation), never more than the four kept
    assert files(logdir)[:3] == ["c.log", "c.log.1", "c.log.2"]
    assert set(files(logdir)) <= {"c.log", "c.log.1", "c.log.2", "c.log.3"}
    assert (logdir / "c.log.1").stat().st_size == BOUND
    d.call("StopTask", {"task": arn})
    d.wait_task(arn, "STOPPED")
