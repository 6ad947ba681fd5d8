"""The docker driver through the daemon: a private dockerd (tests/docker/dockerd.sh)
with a busybox image imported from Debian's busybox-static; launchType FARGATE.
Bind mounts only below drivers.docker.allowed_host_paths, no-new-privileges."""
import http.client
import json
import os
import socket
import subprocess
import tempfile

import pytest

from logcheck import BOUND, END, Sampler, files, task_logs
from tripline_test import ROOT, ApiError, wait_for

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
    # (after a second: on cgroup v1 an OOM before containerd watches for it
    # is not reported; engine/orch/README.md, known limits)
    d.register("oom", [container(memory=16, command=["sh", "-c",
                                                     "sleep 1; exec dd if=/dev/zero of=/dev/null bs=64M count=1"])])
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
    # no file past the bound at any moment (tests/support/logcheck.py)
    d = daemon({"drivers": {"docker": {"socket": dockerd}}})
    # 15 MB: past our bound once, within dockerd's own json-file capacity
    # (max-size 10m, max-file 2), which drops what a slow reader has not read
    # yet (engine/orch/README.md, known limits)
    script = "head -c 15000000 /dev/zero | tr '\\0' a; echo; echo %s; exec sleep 1000" % END
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
    # rotated once at the bound, and nothing lost: every byte is in the two
    # files (dockerd's follow may send a little twice around its own
    # json-file rotation, so a third file may start)
    assert files(logdir)[:2] == ["c.log", "c.log.1"]
    assert set(files(logdir)) <= {"c.log", "c.log.1", "c.log.2"}
    assert (logdir / "c.log.1").stat().st_size == BOUND
    assert sum((logdir / n).stat().st_size for n in files(logdir)) >= 15000000
    d.call("StopTask", {"task": arn})
    d.wait_task(arn, "STOPPED")


def docker_inspect(sock, cid):
    """GET /containers/CID/json from the Engine API on the unix socket sock."""
    conn = http.client.HTTPConnection("localhost", timeout=30)
    conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.sock.connect(sock)
    conn.request("GET", "/v1.41/containers/%s/json" % cid)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    assert r.status == 200, body
    return json.loads(body)


def with_volumes(d, family, mounts, **kw):
    """Registers family: one container mounting each (host path, container path, readOnly)."""
    vols = [{"name": "v%d" % i, "host": {"sourcePath": str(m[0])}} for i, m in enumerate(mounts)]
    points = [{"sourceVolume": "v%d" % i, "containerPath": m[1], "readOnly": m[2]} for i, m in enumerate(mounts)]
    return d.register(family, [container(mountPoints=points, **kw)], volumes=vols,
                      requiresCompatibilities=["FARGATE"])


def refused(d, family, *words):
    with pytest.raises(ApiError) as e:
        d.call("RunTask", {"taskDefinition": family, "launchType": "FARGATE"})
    assert e.value.status == 400 and e.value.type == "ClientException", e.value.body
    for w in words:
        assert w in e.value.body["message"], e.value.body


def test_docker_host_paths_only_below_allowed_roots(daemon, dockerd, tmp_path):
    allowed = tmp_path / "allowed"
    (allowed / "rw").mkdir(parents=True)
    (allowed / "ro").mkdir()
    (tmp_path / "allowed-not").mkdir()
    os.symlink("/etc", allowed / "etc")

    # by default no host path may be mounted, and the message says how to allow one
    d = daemon({"drivers": {"docker": {"socket": dockerd}}})
    with_volumes(d, "etc", [("/etc", "/host-etc", False)], command=["true"])
    refused(d, "etc", "/etc", "drivers.docker.allowed_host_paths")
    with pytest.raises(ApiError) as e:
        d.call("CreateService", {"serviceName": "etc", "taskDefinition": "etc", "desiredCount": 1,
                                 "launchType": "FARGATE"})
    assert e.value.type == "ClientException" and "allowed_host_paths" in e.value.body["message"]
    assert d.call("ListTasks", {})["taskArns"] == []
    assert d.stop() == 0

    data_dir = tmp_path / "var-allowed"
    sock_dir = os.path.dirname(dockerd)
    d = daemon({"data_dir": str(data_dir), "drivers": {"docker": {
        "socket": dockerd, "allowed_host_paths": [str(allowed), sock_dir, str(data_dir)]}}}, name="a")
    # never the Docker socket (root on the host) nor the daemon's data_dir, even when allowed
    with_volumes(d, "sock", [(sock_dir, "/run/docker", False)], command=["true"])
    refused(d, "sock", dockerd, "only the daemon may use")
    with_volumes(d, "state", [(data_dir, "/state", True)], command=["true"])
    refused(d, "state", str(data_dir), "only the daemon may use")
    with_volumes(d, "etc", [("/etc", "/host-etc", False)], command=["true"])
    refused(d, "etc", "drivers.docker.allowed_host_paths")
    with_volumes(d, "escape", [(allowed / "etc", "/host-etc", False)], command=["true"])
    refused(d, "escape", "/etc", "not below an allowed host path")       # a symlink out of the root
    with_volumes(d, "sibling", [(tmp_path / "allowed-not", "/x", False)], command=["true"])
    refused(d, "sibling", "allowed-not")                                   # a prefix is not a parent
    assert d.call("ListTasks", {})["taskArns"] == []

    script = ("echo hi > /rw/f && echo RW-OK; if echo x > /ro/f; then echo RO-WRITTEN; else echo RO-REFUSED; fi; "
              "exec sleep 1000")
    with_volumes(d, "ok", [(allowed / "rw", "/rw", False), (allowed / "ro", "/ro", True)],
                 command=["sh", "-c", script])
    t = d.call("RunTask", {"taskDefinition": "ok", "launchType": "FARGATE"})["tasks"][0]
    t = d.wait_task(t["taskArn"], "RUNNING")
    info = docker_inspect(dockerd, t["containers"][0]["runtimeId"])
    host = info["HostConfig"]
    assert "no-new-privileges" in host["SecurityOpt"], host["SecurityOpt"]
    assert host["Privileged"] is False and not host.get("CapAdd") and not host.get("Devices")
    assert sorted(host["Binds"]) == sorted(["%s/ro:/ro:ro" % allowed, "%s/rw:/rw" % allowed]), host["Binds"]
    ro = [m for m in info["Mounts"] if m["Destination"] == "/ro"][0]
    assert ro["RW"] is False
    wait_for(lambda: "RO-" in d.call(None, {"task": t["taskArn"]}, target="Tripline.GetTaskLogs")
             ["containers"][0]["log"], "the container's writes")
    log = d.call(None, {"task": t["taskArn"]}, target="Tripline.GetTaskLogs")["containers"][0]["log"]
    assert "RW-OK" in log and "RO-REFUSED" in log and "RO-WRITTEN" not in log, log
    assert (allowed / "rw" / "f").read_text() == "hi\n"
    assert not (allowed / "ro" / "f").exists()
    d.call("StopTask", {"task": t["taskArn"]})
    d.wait_task(t["taskArn"], "STOPPED")
