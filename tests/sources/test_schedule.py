"""The schedule source through the real daemon and real clocks: an at() rule
fires once (and not again after a restart), rate() keeps its anchor across a
restart, CatchUp after downtime, reloads that add and remove scheduled
rules, and a rule with both a pattern and a schedule.

Nothing here asserts a timing: each test waits for a condition (a line in a
file target, a metric, the state file). Catch-up tests write the state file a
long downtime leaves (an old anchor) before starting the daemon, instead of
waiting minutes."""
import calendar
import datetime
import hashlib
import json
import signal
import time
import uuid

from tripline_test import curl, json_lines, wait_for

REGION, ACCOUNT = "local", "000000000000"   # the config's defaults


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(text):
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def at_expr(t):
    return "at(%s)" % rfc3339(t)[:-1]


def fire_id(rule, t):
    """event_id_digest(rule name, decimal seconds): SHA-256 of the parts, each
    followed by a 0 byte, shaped as a UUID with version nibble 5."""
    b = bytearray(hashlib.sha256(rule.encode() + b"\0" + str(t).encode() + b"\0").digest()[:16])
    b[6] = (b[6] & 0x0F) | 0x50
    b[8] = (b[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(b)))


def lines(path):
    return json_lines(path)


def rule(name, expr, out, **extra):
    r = {"Name": name, "ScheduleExpression": expr, "Targets": [{"Id": "out", "Arn": "file:%s" % out}]}
    r.update(extra)
    return r


def state_path(d):
    return d.data_dir / "sources" / "schedule" / "state.json"


def state(d):
    try:
        return json.loads(state_path(d).read_text())["rules"]
    except (FileNotFoundError, ValueError):
        return {}


def health(d):
    code, body = curl(d.port, "/healthz")
    assert code == 200, body
    return json.loads(body)["components"]["schedule"]


def write_state(tmp_path, rules):
    path = tmp_path / "var" / "sources" / "schedule" / "state.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "rules": rules}))


def test_at_fires_once_and_not_again_after_a_restart(daemon, tmp_path):
    out = tmp_path / "at.jsonl"
    t = int(time.time()) + 3
    d = daemon(rules={"at.json": rule("once", at_expr(t), out)})
    ev = wait_for(lambda: (lines(out) or [None])[0], "the fire")
    assert ev["source"] == "aws.events" and ev["detail-type"] == "Scheduled Event"
    assert ev["time"] == rfc3339(t)                     # the scheduled time, not when it was emitted
    assert ev["resources"] == ["arn:aws:events:%s:%s:rule/once" % (REGION, ACCOUNT)]
    assert ev["detail"] == {} and ev["account"] == ACCOUNT and ev["region"] == REGION
    assert ev["id"] == fire_id("once", t)
    assert d.metric("tripline_schedule_fires_total") == 1
    assert d.metric('tripline_source_events_total{kind="schedule",name="schedule"}') == 1
    assert d.metric("tripline_schedule_lateness_seconds_count") == 1
    wait_for(lambda: state(d).get("once", {}).get("last_fire") == rfc3339(t), "the fire recorded")
    assert health(d) == {"status": "ok", "rules": 1, "next_fire": None}
    assert d.stop() == 0

    # after a restart the past at() is not fired again; a probe due later
    # than it shows the daemon has been through that time
    probe = tmp_path / "probe.jsonl"
    t2 = int(time.time()) + 2
    (d.rules_dir / "probe.json").write_text(json.dumps(rule("probe", at_expr(t2), probe)))
    d.start()
    wait_for(lambda: lines(probe), "the probe's fire")
    assert len(lines(out)) == 1
    assert d.metric('tripline_schedule_missed_total{reason="catch_up_none"}') == 0


def test_rate_keeps_its_anchor_across_a_restart(daemon, tmp_path):
    out = tmp_path / "rate.jsonl"
    # LATEST: a restart slower than a minute still fires anchor + 60
    d = daemon(rules={"rate.json": rule("every-minute", "rate(1 minute)", out, CatchUp="LATEST")})
    saved = wait_for(lambda: state(d).get("every-minute"), "the anchor saved")
    anchor = epoch(saved["anchor"])
    assert saved["expression"] == "rate(1 minute)"
    assert health(d)["next_fire"] == rfc3339(anchor + 60)
    # restart at least two seconds later: anchored anew, it would fire later
    wait_for(lambda: time.time() >= anchor + 2, "two seconds after the anchor")
    assert d.stop() == 0
    d.start()
    assert health(d)["next_fire"] == rfc3339(anchor + 60)
    ev = wait_for(lambda: (lines(out) or [None])[0], "the first fire", deadline=90)
    assert ev["time"] == rfc3339(anchor + 60) and ev["id"] == fire_id("every-minute", anchor + 60)
    assert state(d)["every-minute"]["anchor"] == rfc3339(anchor)
    assert health(d)["next_fire"] == rfc3339(anchor + 120)


def test_catch_up_after_downtime(daemon, tmp_path):
    now = int(time.time())
    anchor = now - (10 * 300 + 150)       # rate(5 minutes): 10 fire times missed, the next in 150 s
    long_ago = now - (1450 * 300 + 150)   # 1,450 missed: ALL fires the latest 1,440
    names = {"none": ("NONE", anchor), "latest": ("LATEST", anchor), "all": ("ALL", anchor),
             "bounded": ("ALL", long_ago)}
    saved = {n: {"expression": "rate(5 minutes)", "anchor": rfc3339(a)} for n, (_, a) in names.items()}
    saved["all"]["last_fire"] = rfc3339(anchor + 4 * 300)   # fired up to the fourth before the stop
    write_state(tmp_path, saved)
    rules = {"%s.json" % n: rule(n, "rate(5 minutes)", tmp_path / ("%s.jsonl" % n), CatchUp=mode)
             for n, (mode, _) in names.items()}
    # a rule the state does not know: first seen now, it has missed nothing
    rules["new.json"] = rule("new", "rate(5 minutes)", tmp_path / "new.jsonl", CatchUp="ALL")
    d = daemon(rules=rules)

    every = [anchor + 300 * k for k in range(1, 11)]
    wait_for(lambda: len(lines(tmp_path / "all.jsonl")) == 6, "ALL's six fires after its last")
    assert [e["time"] for e in lines(tmp_path / "all.jsonl")] == [rfc3339(t) for t in every[4:]]
    assert [e["id"] for e in lines(tmp_path / "all.jsonl")] == [fire_id("all", t) for t in every[4:]]
    wait_for(lambda: len(lines(tmp_path / "bounded.jsonl")) == 1440, "the bounded ALL's fires")
    expected = [long_ago + 300 * k for k in range(11, 1451)]   # the latest 1,440 of 1,450
    assert [e["time"] for e in lines(tmp_path / "bounded.jsonl")] == [rfc3339(t) for t in expected]
    wait_for(lambda: lines(tmp_path / "latest.jsonl"), "LATEST's fire")
    assert [e["time"] for e in lines(tmp_path / "latest.jsonl")] == [rfc3339(every[-1])]
    assert lines(tmp_path / "none.jsonl") == [] and lines(tmp_path / "new.jsonl") == []
    assert d.metric('tripline_schedule_missed_total{reason="catch_up_none"}') == 10
    assert d.metric('tripline_schedule_missed_total{reason="catch_up_latest"}') == 9
    assert d.metric('tripline_schedule_missed_total{reason="catch_up_bound"}') == 10
    assert "rule none: 10 fire times missed (catch_up_none)" in d.log_text()
    # the anchors stay: the next fire is anchor + k·300
    assert health(d)["next_fire"] == rfc3339(anchor + 11 * 300)
    wait_for(lambda: state(d).get("all", {}).get("last_fire") == rfc3339(every[-1]), "ALL's fires recorded")
    assert state(d)["none"]["anchor"] == rfc3339(anchor)
    assert state(d)["none"]["handled"] >= rfc3339(every[-1])


def test_reload_adds_changes_and_removes_scheduled_rules(daemon, tmp_path):
    d = daemon(rules={"other.json": {"Name": "pattern-only", "EventPattern": {"source": ["x"]},
                                     "Targets": [{"Id": "t", "Arn": "file:%s" % (tmp_path / "x.jsonl")}]}})
    assert health(d) == {"status": "ok", "rules": 0, "next_fire": None}
    added = tmp_path / "added.jsonl"
    t = int(time.time()) + 3
    (d.rules_dir / "added.json").write_text(json.dumps(rule("added", at_expr(t), added)))
    (d.rules_dir / "rate.json").write_text(json.dumps(rule("rate", "rate(5 minutes)", tmp_path / "r.jsonl")))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: health(d)["rules"] == 2, "the added rules scheduled")
    ev = wait_for(lambda: (lines(added) or [None])[0], "the added rule's fire")
    assert ev["time"] == rfc3339(t)
    anchor = wait_for(lambda: state(d).get("rate", {}).get("anchor"), "rate's anchor")

    # removed: its state goes; a changed expression is anchored anew
    removed = tmp_path / "removed.jsonl"
    t_removed = int(time.time()) + 8
    (d.rules_dir / "removed.json").write_text(json.dumps(rule("removed", at_expr(t_removed), removed)))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "removed" in state(d), "the rule to remove scheduled")
    wait_for(lambda: time.time() >= epoch(anchor) + 1, "a second after rate's anchor")
    (d.rules_dir / "removed.json").unlink()
    (d.rules_dir / "rate.json").write_text(json.dumps(rule("rate", "rate(10 minutes)", tmp_path / "r.jsonl")))
    probe = tmp_path / "probe.jsonl"
    (d.rules_dir / "probe.json").write_text(json.dumps(rule("probe", at_expr(t_removed + 1), probe)))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "removed" not in state(d) and "probe" in state(d), "the removed rule's state dropped")
    assert state(d)["rate"]["expression"] == "rate(10 minutes)"
    assert state(d)["rate"]["anchor"] > anchor
    wait_for(lambda: lines(probe), "the probe, due after the removed rule")
    assert lines(removed) == []
    assert d.metric("tripline_schedule_rules") == 3   # added (fired, kept), rate, probe

    # other changes keep the anchor
    anchor = state(d)["rate"]["anchor"]
    saved = state_path(d).stat().st_ino   # a reload saves the state: a new file
    (d.rules_dir / "rate.json").write_text(json.dumps(rule("rate", "rate(10 minutes)", tmp_path / "r.jsonl",
                                                           ScheduleExpressionTimezone="Europe/Berlin",
                                                           CatchUp="ALL")))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: state_path(d).stat().st_ino != saved, "the state saved after the reload")
    assert state(d)["rate"]["anchor"] == anchor
    assert health(d)["rules"] == 3


def test_a_rule_with_a_pattern_and_a_schedule_fires_on_both(daemon, tmp_path):
    both, watcher = tmp_path / "both.jsonl", tmp_path / "watcher.jsonl"
    t = int(time.time()) + 3
    d = daemon(rules={
        "both.json": rule("both", at_expr(t), both, EventPattern={"source": ["shop"]}),
        # matches what a scheduled event looks like: it must still not get one
        "watcher.json": {"Name": "watcher", "EventPattern": {"detail-type": ["Scheduled Event"]},
                         "Targets": [{"Id": "w", "Arn": "file:%s" % watcher}]}})
    wait_for(lambda: lines(both), "the scheduled fire")
    answer = d.call(None, {"Entries": [{"Source": "shop", "DetailType": "Scheduled Event", "Detail": "{}"}]},
                    target="AWSEvents.PutEvents")
    assert answer["FailedEntryCount"] == 0, answer
    wait_for(lambda: len(lines(both)) == 2, "the matching event")
    assert [e["source"] for e in lines(both)] == ["aws.events", "shop"]
    wait_for(lambda: lines(watcher), "the watcher's event")
    assert [e["source"] for e in lines(watcher)] == ["shop"]


def test_state_file_that_does_not_read_is_moved_aside(daemon, tmp_path):
    path = tmp_path / "var" / "sources" / "schedule" / "state.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"version": 1, "rules": {"r": {"expression": "rate(1 minute)", "anchor": "yesterday"}}}')
    d = daemon(rules={"r.json": rule("r", "rate(1 minute)", tmp_path / "r.jsonl")})
    assert health(d)["rules"] == 1
    assert "anchored anew" in d.log_text()
    assert len(list((tmp_path / "var" / "corrupt").iterdir())) == 1
    wait_for(lambda: state(d).get("r"), "a new state")


def test_a_full_bus_delays_fires_and_loses_none(daemon, tmp_path):
    # 200 fires due in the same second on a bus that holds 10: the ingest
    # answers -EAGAIN to most, and each is retried with the same event
    out = tmp_path / "many.jsonl"
    t = int(time.time()) + 4
    rules = {"many.json": {"Rules": [rule("r%03d" % i, at_expr(t), out) for i in range(200)]}}
    d = daemon(config={"limits": {"bus_queue": 10}}, rules=rules)
    d.expect_drops("full")
    wait_for(lambda: len(lines(out)) >= 200, "200 fires")
    evs = lines(out)
    assert sorted(e["id"] for e in evs) == sorted(fire_id("r%03d" % i, t) for i in range(200))
    assert {e["time"] for e in evs} == {rfc3339(t)}
    assert d.metric("tripline_schedule_fires_total") == 200
    for reason in ("catch_up_none", "catch_up_latest", "catch_up_bound", "refused"):
        assert d.metric('tripline_schedule_missed_total{reason="%s"}' % reason) == 0


def test_kill_9_after_a_fire_does_not_fire_it_again(daemon, tmp_path):
    out = tmp_path / "at.jsonl"
    t = int(time.time()) + 3
    d = daemon(rules={"at.json": rule("once", at_expr(t), out)})
    wait_for(lambda: lines(out), "the fire")
    d.kill()        # the state may not have recorded the fire yet: the journal has it
    probe = tmp_path / "probe.jsonl"
    (d.rules_dir / "probe.json").write_text(json.dumps(rule("probe", at_expr(int(time.time()) + 3), probe)))
    d.start()
    wait_for(lambda: lines(probe), "the probe's fire")
    # the schedule did not fire it again (only the probe); the journal may
    # deliver it again if its dispatch was not recorded final: the same event
    assert d.metric("tripline_schedule_fires_total") == 1
    assert {e["id"] for e in lines(out)} == {fire_id("once", t)}
    assert {e["id"] for e in lines(probe)} == {e["id"] for e in lines(probe)[:1]}


def flex_offset(name, window_min):
    """sched_flex_offset(): FNV-1a 64 of the name, modulo the window's seconds."""
    h = 1469598103934665603
    for c in name.encode():
        h = ((h ^ c) * 1099511628211) % 2 ** 64
    return h % (window_min * 60)


def test_a_flexible_window_delays_the_fire_not_its_time(daemon, tmp_path):
    out = tmp_path / "flex.jsonl"
    assert flex_offset("flex-65", 1) == 2
    t = int(time.time()) + 3
    d = daemon(rules={"flex.json": rule("flex-65", at_expr(t), out,
                                        FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 1})})
    ev = wait_for(lambda: (lines(out) or [None])[0], "the fire")
    assert ev["time"] == rfc3339(t) and ev["id"] == fire_id("flex-65", t)
    # emitted at t + 2 s or later: the wall clock when the line was there
    assert time.time() >= t + 2


def test_a_stalled_daemon_treats_its_late_fires_as_missed(daemon, tmp_path):
    # the daemon stopped (SIGSTOP) over two fire times, for more than a minute:
    # when it runs again they are misses, and CatchUp decides
    first = int(time.time()) + 8
    anchor = first - 60
    write_state(tmp_path, {n: {"expression": "rate(1 minute)", "anchor": rfc3339(anchor)}
                           for n in ("none", "latest")})
    d = daemon(rules={"none.json": rule("none", "rate(1 minute)", tmp_path / "none.jsonl"),
                      "latest.json": rule("latest", "rate(1 minute)", tmp_path / "latest.jsonl", CatchUp="LATEST")})
    assert health(d)["next_fire"] == rfc3339(first)
    d.proc.send_signal(signal.SIGSTOP)
    try:
        wait_for(lambda: time.time() >= first + 62, "two fire times and a minute", deadline=90)
    finally:
        d.proc.send_signal(signal.SIGCONT)
    wait_for(lambda: lines(tmp_path / "latest.jsonl"), "LATEST's fire")
    assert [e["time"] for e in lines(tmp_path / "latest.jsonl")] == [rfc3339(first + 60)]
    assert d.metric('tripline_schedule_missed_total{reason="catch_up_none"}') == 2
    assert d.metric('tripline_schedule_missed_total{reason="catch_up_latest"}') == 1
    assert lines(tmp_path / "none.jsonl") == []
    assert health(d)["next_fire"] == rfc3339(first + 120)
