"""GET /metrics: the whole exposition read by a strict parser of the
Prometheus text format (0.0.4), after the daemon's parts have each counted
something: every family declared once (HELP, then TYPE) before its own
samples, every series once, label values well escaped, histograms
cumulative with +Inf equal to _count, and the registry's own count of
series it refused at 0."""
import math
import re

from tripline_test import ApiError, wait_for

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE = re.compile(r"(%s)(?:\{(.*)\})? (\S+)$" % NAME)
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
SUFFIXES = {"counter": [""], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"]}


def parse_labels(text):
    labels, pos = [], 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        assert m, "bad labels at %r" % text[pos:]
        labels.append((m.group(1), m.group(2)))
        pos = m.end()
        assert m.group(3) == "," or pos == len(text)
    assert len({k for k, _ in labels}) == len(labels), text
    return tuple(labels)


def parse(text):
    """{family: {"type", "help", "samples": {(name, labels): value}}}, asserting the format."""
    assert text.endswith("\n")
    families, current, pending_help = {}, None, None
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert name not in families and pending_help is None, line
            pending_help = (name, help_text)
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert name not in families, "family declared twice: " + name
            assert kind in SUFFIXES, line
            assert pending_help and pending_help[0] == name, "TYPE without its HELP: " + line
            current = families[name] = {"type": kind, "help": pending_help[1], "samples": {}}
            pending_help = None
        else:
            m = SAMPLE.match(line)
            assert m and current is not None, "not a sample: %r" % line
            name, labels, value = m.group(1), parse_labels(m.group(2) or ""), float(m.group(3))
            family = [f for f, v in families.items() if v is current][0]
            assert name in [family + s for s in SUFFIXES[current["type"]]], "%s under %s" % (name, family)
            key = (name, labels)
            assert key not in current["samples"], "series twice: " + line
            current["samples"][key] = value
    return families


def check_histogram(name, family):
    series = {}
    for (sample, labels), value in family["samples"].items():
        rest = tuple(kv for kv in labels if kv[0] != "le")
        series.setdefault(rest, {"buckets": []})
        if sample.endswith("_bucket"):
            le = dict(labels)["le"]
            series[rest]["buckets"].append((math.inf if le == "+Inf" else float(le), value))
        else:
            series[rest][sample[len(name):]] = value
    assert series, name
    for s in series.values():
        bounds = [b for b, _ in s["buckets"]]
        counts = [c for _, c in s["buckets"]]
        assert bounds == sorted(bounds) and bounds[-1] == math.inf
        assert counts == sorted(counts), s
        assert counts[-1] == s["_count"] and s["_sum"] >= 0


def test_exposition_is_well_formed(daemon):
    d = daemon(rules={"a.json": {"Name": "r", "EventPattern": {"source": ["x"]}}})
    d.register("done", [{"name": "c", "command": ["/bin/true"]}])
    t = d.call("RunTask", {"taskDefinition": "done"})["tasks"][0]
    d.wait_task(t["taskArn"], "STOPPED")
    d.call("CreateService", {"serviceName": "gone", "taskDefinition": "done", "desiredCount": 0})
    for bad in ({"tasks": 5}, None):
        try:
            d.call("DescribeTasks", bad, target=None if bad else "AmazonEC2ContainerServiceV20141113.Nope")
        except ApiError:
            pass
    families = parse(d.metrics())
    assert families["tripline_service_task_count"]["samples"][
        ("tripline_service_task_count", (("service", "gone"), ("kind", "desired")))] == 0
    assert families["tripline_metrics_series_dropped_total"]["samples"] == {
        ("tripline_metrics_series_dropped_total", ()): 0}
    assert families["tripline_rules"]["samples"] == {("tripline_rules", ()): 1}
    api = families["tripline_api_requests_total"]["samples"]
    assert api[("tripline_api_requests_total", (("operation", "RunTask"), ("code", "200")))] == 1
    assert api[("tripline_api_requests_total", (("operation", "DescribeTasks"), ("code", "400")))] == 1
    assert api[("tripline_api_requests_total", (("operation", "unknown"), ("code", "400")))] == 1
    for name, family in families.items():
        assert family["help"], name
        if family["type"] == "histogram":
            check_histogram(name, family)
    launch = families["tripline_task_launch_seconds"]["samples"]
    assert launch[("tripline_task_launch_seconds_count", ())] == 1

    # a deleted service's series go
    d.call("DeleteService", {"service": "gone"})
    wait_for(lambda: d.service("gone")["status"] == "INACTIVE", "INACTIVE")
    families = parse(d.metrics())
    assert families["tripline_service_task_count"]["samples"] == {}
