"""Services: desired count, replacement, backoff, rolling deployments within
minimumHealthyPercent / maximumPercent, the circuit breaker."""
import os
import signal
import threading
import time

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


def test_failing_definition_backs_off(daemon):
    d = daemon()
    d.register("crash", [{"name": "c", "command": ["/bin/false"]}])
    d.call("CreateService", {"serviceName": "crashy", "taskDefinition": "crash", "desiredCount": 1})
    t0 = time.monotonic()
    wait_for(lambda: any("unable to consistently start tasks" in e["message"]
                         for e in d.service("crashy")["events"]), "SERVICE_TASK_START_IMPAIRED")
    elapsed = time.monotonic() - t0
    # three failed launches with 1 s, 2 s of backoff between them: not a tight loop
    launched = d.call("ListTasks", {"serviceName": "crashy", "desiredStatus": "STOPPED"})["taskArns"]
    assert 3 <= len(launched) <= 4, launched
    assert elapsed >= 2.5, elapsed
    assert "SERVICE_TASK_START_IMPAIRED" in d.log_text()
    # over the next seconds the delay keeps growing
    time.sleep(0)   # (no fixed wait: the count below is bounded by the backoff arithmetic)
    wait_for(lambda: len(d.call("ListTasks", {"serviceName": "crashy", "desiredStatus": "STOPPED"})["taskArns"]) >= 4,
             "a fourth attempt")
    n = len(d.call("ListTasks", {"serviceName": "crashy", "desiredStatus": "STOPPED"})["taskArns"])
    assert n <= 5


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
