"""A daemon killed with SIGKILL leaves its tasks running; the next one takes
them back."""
import os
import signal

from tripline_test import alive, marked_pids, sleeper, wait_for


def test_kill_9_and_readopt(daemon, tmp_path, mark):
    d = daemon()
    d.register("svc", [sleeper(mark)])
    d.register("solo", [sleeper(mark, name="solo")])
    d.call("CreateService", {"serviceName": "svc", "taskDefinition": "svc", "desiredCount": 2})
    solo = [d.call("RunTask", {"taskDefinition": "solo"})["tasks"][0]["taskArn"] for _ in range(2)]
    for a in solo:
        d.wait_task(a, "RUNNING")
    wait_for(lambda: d.service("svc")["runningCount"] == 2, "the service at 2")
    pids = {a: int(d.task(a)["containers"][0]["runtimeId"]) for a in solo}
    svc_tasks = d.call("ListTasks", {"serviceName": "svc"})["taskArns"]
    svc_pids = sorted(int(d.task(a)["containers"][0]["runtimeId"]) for a in svc_tasks)
    assert len(marked_pids(mark)) == 4

    d.proc.kill()          # SIGKILL: no chance to clean up
    d.proc.wait()
    d.log.close()
    assert sorted(marked_pids(mark)) == sorted(list(pids.values()) + svc_pids)   # all still running
    # one standalone task ends while no daemon is watching
    gone = solo[1]
    os.kill(pids[gone], signal.SIGKILL)
    wait_for(lambda: not alive(pids[gone]), "the process to die")

    d.start()
    kept = d.task(solo[0])
    assert kept["lastStatus"] == "RUNNING"
    assert int(kept["containers"][0]["runtimeId"]) == pids[solo[0]]   # the same process
    lost = d.wait_task(gone, "STOPPED")
    assert lost["stopCode"] == "EssentialContainerExited"
    assert "exitCode" not in lost["containers"][0]   # not knowable for a process we did not start
    s = d.service("svc")
    assert s["desiredCount"] == 2
    wait_for(lambda: d.service("svc")["runningCount"] == 2, "the service at 2 again")
    now = sorted(int(d.task(a)["containers"][0]["runtimeId"])
                 for a in d.call("ListTasks", {"serviceName": "svc"})["taskArns"])
    assert now == svc_pids   # re-adopted, not replaced
    # the re-adopted task can still be stopped through the API, process group and all
    d.call("StopTask", {"task": solo[0]})
    t = d.wait_task(solo[0], "STOPPED")
    assert t["stopCode"] == "UserInitiated"
    assert not alive(pids[solo[0]])
    assert d.stop() == 0
    # a clean stop also leaves tasks running
    assert sorted(marked_pids(mark)) == svc_pids
