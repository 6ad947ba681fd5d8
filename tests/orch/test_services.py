"""Services: desired count, replacement, backoff, rolling deployments within
minimumHealthyPercent / maximumPercent, the circuit breaker."""
import os
import re
import signal
import threading

import pytest

from tripline_test import ApiError, marked_pids, sleeper, wait_for


def running_tasks(d, name):
    s = d.service(name)
    return s["runningCount"], s


def test_scale_0_5_2_and_replacement(daemon, mark):
    d = daemon()
    d.register("web", [sleeper(mark)])
    s = d.call("CreateService", {"serviceName": "web", "taskDefinition": "web", "desiredCount": 0})["service"]
    assert s["status"] == "ACTIVE" and s["desiredCount"] == 0
    assert s["serviceArn"] == "arn:aws:ecs:local:000000000000:service/default/web"
    d.call("UpdateService", {"service": "web", "desiredCount": 5})
    wait_for(lambda: len(marked_pids(mark)) == 5 and d.service("web")["runningCount"] == 5, "5 tasks")
    m = d.metrics()
    assert 'tripline_service_task_count{service="web",kind="desired"} 5' in m
    assert 'tripline_service_task_count{service="web",kind="running"} 5' in m
    assert 'tripline_service_tasks{kind="running"} 5' in m
    d.call("UpdateService", {"service": "web", "desiredCount": 2})
    wait_for(lambda: len(marked_pids(mark)) == 2 and d.service("web")["runningCount"] == 2, "2 tasks")
    stopped = d.call("ListTasks", {"serviceName": "web", "desiredStatus": "STOPPED"})["taskArns"]
    assert len(stopped) == 3
    for t in d.call("DescribeTasks", {"tasks": stopped})["tasks"]:
        assert t["stopCode"] == "ServiceSchedulerInitiated"
    # kill -9 one task's process: the scheduler replaces it
    before = marked_pids(mark)
    os.kill(before[0], signal.SIGKILL)
    wait_for(lambda: len(marked_pids(mark)) == 2 and before[0] not in marked_pids(mark), "a replacement")
    assert d.service("web")["desiredCount"] == 2
    wait_for(lambda: any("steady state" in e["message"] for e in d.service("web")["events"]), "steady state")
    # deleting needs scale 0 or force
    with pytest.raises(ApiError) as e:
        d.call("DeleteService", {"service": "web"})
    assert e.value.type == "InvalidParameterException"
    d.call("DeleteService", {"service": "web", "force": True})
    wait_for(lambda: marked_pids(mark) == [], "the service's tasks to stop")
    wait_for(lambda: d.service("web")["status"] == "INACTIVE", "INACTIVE")
    assert d.call("ListServices", {})["serviceArns"] == []
    m = d.metrics()
    assert "tripline_services 0" in m


BACKOFF = re.compile(r"\(service crashy\) backs off: the next launch waits (\d+) ms "
                     r"\((\d+) failed launches in a row\)\.")
FAILED_LAUNCH = re.compile(r"\(service crashy\) task ([0-9a-f]+) stopped before it was healthy: (.*)")
IMPAIRED = "(service crashy) is unable to consistently start tasks successfully."


def failure_events(service):
    """The service's failed-launch events, oldest first: ("stopped", task id,
    reason), ("backoff", delay ms, failures in a row), ("impaired",)."""
    out = []
    for e in reversed(service["events"]):
        m = FAILED_LAUNCH.fullmatch(e["message"])
        if m:
            out.append(("stopped", m.group(1), m.group(2)))
        m = BACKOFF.fullmatch(e["message"])
        if m:
            out.append(("backoff", int(m.group(1)), int(m.group(2))))
        if e["message"] == IMPAIRED:
            out.append(("impaired",))
    return out


def test_failing_definition_backs_off(daemon):
    d = daemon()
    d.register("crash", [{"name": "c", "command": ["/bin/false"]}])
    d.call("CreateService", {"serviceName": "crashy", "taskDefinition": "crash", "desiredCount": 1})
    wait_for(lambda: sum(e[0] == "backoff" for e in failure_events(d.service("crashy"))) >= 4,
             "four failed launches", deadline=60)

    def snapshot():
        # the service's events and its tasks as of one moment: the events did
        # not change while the tasks were read
        before = failure_events(d.service("crashy"))
        arns = (d.call("ListTasks", {"serviceName": "crashy", "desiredStatus": "STOPPED"})["taskArns"] +
                d.call("ListTasks", {"serviceName": "crashy"})["taskArns"])
        tasks = d.call("DescribeTasks", {"tasks": arns})["tasks"]
        return (before, tasks) if failure_events(d.service("crashy")) == before else None
    events, tasks = wait_for(snapshot, "a consistent view of the events and the tasks")

    # each failed launch: its task, then the backoff it causes; the delays
    # double from 1 s (at most 5 min), counted 1, 2, 3 …; "impaired" once,
    # right after the third
    stopped = [e for e in events if e[0] == "stopped"]
    delays = [e[1] for e in events if e[0] == "backoff"]
    expected = []
    for k, (_, tid, reason) in enumerate(stopped, 1):
        expected += [("stopped", tid, reason), ("backoff", min(1000 << (k - 1), 300000), k)]
        if k == 3:
            expected.append(("impaired",))
    assert events == expected, events
    assert delays[:4] == [1000, 2000, 4000, 8000]
    assert "SERVICE_TASK_START_IMPAIRED" in d.log_text()

    # the tasks in launch order are exactly the failed ones (and perhaps the
    # next launch), and none was launched before its delay was over: by the
    # daemon's own clock, each createdAt comes at least the reported delay
    # after the previous task's stoppedAt
    tasks.sort(key=lambda t: t["createdAt"])
    ids = [t["taskArn"].rsplit("/", 1)[1] for t in tasks]
    assert ids[:len(stopped)] == [e[1] for e in stopped], (ids, stopped)
    assert len(tasks) <= len(stopped) + 1, ids
    assert all(t["lastStatus"] == "STOPPED" for t in tasks[:len(stopped)])
    assert [t["stoppedReason"] for t in tasks[:len(stopped)]] == [e[2] for e in stopped]
    for prev, nxt, delay in zip(tasks, tasks[1:], delays):
        gap_ms = round(nxt["createdAt"] * 1000) - round(prev["stoppedAt"] * 1000)
        assert gap_ms >= delay, (prev["taskArn"], nxt["taskArn"], gap_ms, delay)


class Sampler(threading.Thread):
    """Counts the service's live processes from /proc as often as it can."""

    def __init__(self, mark):
        super().__init__(daemon=True)
        self.mark = mark
        self.samples = []
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            self.samples.append(len(marked_pids(self.mark)))


@pytest.mark.parametrize("min_pct,max_pct", [(50, 100), (100, 150)])
def test_rolling_deployment_bounds(daemon, mark, min_pct, max_pct):
    d = daemon()
    d.register("roll", [sleeper(mark, environment=[{"name": "TEST_MARK", "value": mark},
                                                   {"name": "REV", "value": "1"}])])
    d.register("roll", [sleeper(mark, environment=[{"name": "TEST_MARK", "value": mark},
                                                   {"name": "REV", "value": "2"}])])
    d.call("CreateService", {"serviceName": "roll", "taskDefinition": "roll:1", "desiredCount": 4,
                             "deploymentConfiguration": {"minimumHealthyPercent": min_pct,
                                                         "maximumPercent": max_pct},
                             "healthCheckGracePeriodSeconds": 1})
    wait_for(lambda: len(d.service("roll")["deployments"]) == 1 and d.service("roll")["runningCount"] == 4
             and d.service("roll")["deployments"][0]["rolloutState"] == "COMPLETED", "4 tasks of rev 1")
    sampler = Sampler(mark)
    sampler.start()
    d.call("UpdateService", {"service": "roll", "taskDefinition": "roll:2"})
    seen_two = []

    def done():
        s = d.service("roll")
        seen_two.append(len(s["deployments"]))
        return (len(s["deployments"]) == 1 and s["runningCount"] == 4
                and s["deployments"][0]["taskDefinition"].endswith("roll:2")
                and s["deployments"][0]["rolloutState"] == "COMPLETED")
    wait_for(done, "the deployment to complete", deadline=60)
    sampler.done.set()
    sampler.join()
    assert 2 in seen_two   # there was a rollout with two deployments
    low, high = min(sampler.samples), max(sampler.samples)
    # processes never above maximumPercent, never below minimumHealthyPercent
    assert high <= 4 * max_pct // 100, (high, len(sampler.samples))
    assert low >= -(-4 * min_pct // 100), (low, len(sampler.samples))
    assert len(sampler.samples) > 20
    assert max_pct == 100 or high > 4   # with room above 100% it was used


def test_circuit_breaker_rolls_back(daemon, mark):
    d = daemon()
    d.register("cb", [sleeper(mark)])
    d.register("cb", [{"name": "app", "command": ["/bin/false"]}])
    d.call("CreateService", {"serviceName": "cb", "taskDefinition": "cb:1", "desiredCount": 2,
                             "healthCheckGracePeriodSeconds": 1,
                             "deploymentConfiguration": {"minimumHealthyPercent": 50, "maximumPercent": 200,
                                                         "deploymentCircuitBreaker": {"enable": True,
                                                                                      "rollback": True}}})
    wait_for(lambda: d.service("cb")["deployments"][0]["rolloutState"] == "COMPLETED", "rev 1 steady")
    d.call("UpdateService", {"service": "cb", "taskDefinition": "cb:2"})

    def rolled_back():
        s = d.service("cb")
        failed = any("deployment failed" in e["message"] for e in s["events"])
        prim = s["deployments"][0]
        return failed and prim["taskDefinition"].endswith("cb:1") and prim["rolloutState"] == "COMPLETED" \
            and len(s["deployments"]) == 1 and s["runningCount"] == 2
    wait_for(rolled_back, "the circuit breaker to roll back", deadline=60)
    assert "SERVICE_DEPLOYMENT_FAILED" in d.log_text()
    assert len(marked_pids(mark)) == 2


def test_service_waits_for_capacity_and_says_why(daemon, mark):
    d = daemon({"cluster": {"memory": 1000}})
    d.register("big", [sleeper(mark, memory=400)])
    d.call("CreateService", {"serviceName": "big", "taskDefinition": "big", "desiredCount": 3})
    wait_for(lambda: any("RESOURCE:MEMORY" in e["message"] for e in d.service("big")["events"]),
             "a placement failure event")
    wait_for(lambda: d.service("big")["runningCount"] == 2, "the two tasks that fit")
    assert len(marked_pids(mark)) == 2
    assert "SERVICE_TASK_PLACEMENT_FAILURE" in d.log_text()
    # asking only for what fits: the service becomes steady
    d.call("UpdateService", {"service": "big", "desiredCount": 2})
    wait_for(lambda: any("steady state" in e["message"] for e in d.service("big")["events"]), "steady state")
