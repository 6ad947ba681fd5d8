"""`tripline schedule next`: the exact contract — fire times strictly after
--after, one RFC 3339 UTC instant per line, --count of them; rate() fires at
anchor + k·period, k >= 1, the anchor defaulting to --after; nothing left
prints nothing and exits 1; an invalid expression, zone or time exits 2.
Expected times are written out by hand (and, where a zone is involved,
checked against Python's zoneinfo, an independent implementation)."""
import datetime
import zoneinfo


def lines(r):
    return r.stdout.splitlines()


def test_cron_in_utc(run):
    r = run("schedule", "next", "cron(0 12 * * ? *)", "--after", "2026-12-07T12:00:00Z", "--count", "3")
    assert r.returncode == 0, r.stderr
    assert lines(r) == ["2026-12-08T12:00:00Z", "2026-12-09T12:00:00Z", "2026-12-10T12:00:00Z"]
    assert r.stderr == ""


def test_cron_in_a_zone_across_dst(run):
    # 02:30 Berlin does not exist on 2027-03-28 (spring forward): skipped
    r = run("schedule", "next", "cron(30 2 * * ? *)", "--tz", "Europe/Berlin",
            "--after", "2027-03-26T00:00:00Z", "--count", "4")
    assert r.returncode == 0, r.stderr
    assert lines(r) == ["2027-03-26T01:30:00Z", "2027-03-27T01:30:00Z",
                        "2027-03-29T00:30:00Z", "2027-03-30T00:30:00Z"]
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    for text in lines(r):
        local = datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(berlin)
        assert (local.hour, local.minute) == (2, 30)


def test_rate_counts_from_the_anchor(run):
    # the anchor defaults to --after, and is not itself a fire
    r = run("schedule", "next", "rate(5 minutes)", "--after", "2026-12-07T09:00:00Z", "--count", "2")
    assert lines(r) == ["2026-12-07T09:05:00Z", "2026-12-07T09:10:00Z"]
    # an anchor in the past: anchor + k·period strictly after --after
    r = run("schedule", "next", "rate(1 hour)", "--after", "2026-12-07T09:00:00Z",
            "--anchor", "2026-12-07T08:10:00+00:00", "--count", "2")
    assert lines(r) == ["2026-12-07T09:10:00Z", "2026-12-07T10:10:00Z"]
    # an anchor in the future: the first fire is one period after it
    r = run("schedule", "next", "rate(1 day)", "--after", "2026-12-07T09:00:00Z",
            "--anchor", "2026-12-08T01:00:00+01:00", "--count", "1")
    assert lines(r) == ["2026-12-09T00:00:00Z"]


def test_default_count_and_now(run):
    r = run("schedule", "next", "rate(1 minute)")
    assert r.returncode == 0 and len(lines(r)) == 5
    first = datetime.datetime.fromisoformat(lines(r)[0].replace("Z", "+00:00"))
    now = datetime.datetime.now(datetime.timezone.utc)
    assert first > now - datetime.timedelta(seconds=5)


def test_nothing_left(run):
    r = run("schedule", "next", "at(2020-01-01T00:00:00)")
    assert r.returncode == 1 and r.stdout == "" and r.stderr == ""
    r = run("schedule", "next", "at(2027-01-01T09:00:00)", "--tz", "Europe/Berlin",
            "--after", "2026-12-07T00:00:00Z", "--count", "3")
    assert r.returncode == 0 and lines(r) == ["2027-01-01T08:00:00Z"]   # one, then none left


def test_bad_input(run):
    r = run("schedule", "next", "cron(99 * * * ? *)")
    assert r.returncode == 2
    assert "invalid expression 'cron(99 * * * ? *)': cron: minutes: value 99 out of range 0-59" in r.stderr
    r = run("schedule", "next", "rate(5 minutes)", "--tz", "Mars/Olympus")
    assert r.returncode == 2 and "invalid time zone 'Mars/Olympus'" in r.stderr
    r = run("schedule", "next", "rate(5 minutes)", "--after", "2026-12-07T09:00:00")
    assert r.returncode == 2 and "--after: not an RFC 3339 time with a zone" in r.stderr
    for count in ("0", "1001", "x"):
        r = run("schedule", "next", "rate(5 minutes)", "--count", count)
        assert r.returncode == 2 and "--count: must be a number from 1 to 1000" in r.stderr
    assert run("schedule", "next").returncode == 2
    assert run("schedule", "later", "rate(5 minutes)").returncode == 2
    r = run("schedule", "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: tripline schedule next EXPR")


def utc(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_last_day_weekday_and_nth_weekday(run):
    # (expression, --after, expected), each checked against Python's calendar below
    cases = [
        ("cron(0 10 L * ? *)", "2027-01-15T00:00:00Z",      # last day of the month
         ["2027-01-31T10:00:00Z", "2027-02-28T10:00:00Z", "2027-03-31T10:00:00Z", "2027-04-30T10:00:00Z"]),
        ("cron(0 10 L * ? *)", "2028-02-01T00:00:00Z", ["2028-02-29T10:00:00Z"]),   # a leap year
        ("cron(0 9 15W * ? *)", "2027-05-01T00:00:00Z",     # the weekday nearest the 15th
         ["2027-05-14T09:00:00Z", "2027-06-15T09:00:00Z", "2027-07-15T09:00:00Z", "2027-08-16T09:00:00Z"]),
        ("cron(0 9 1W * ? *)", "2027-04-15T00:00:00Z",      # Saturday the 1st: Monday the 3rd, not April
         ["2027-05-03T09:00:00Z", "2027-06-01T09:00:00Z"]),
        ("cron(0 9 LW * ? *)", "2027-01-01T00:00:00Z",      # the month's last weekday
         ["2027-01-29T09:00:00Z", "2027-02-26T09:00:00Z", "2027-03-31T09:00:00Z"]),
        ("cron(0 8 ? * 2#1 *)", "2027-01-01T00:00:00Z",     # the first Monday (1 is Sunday)
         ["2027-01-04T08:00:00Z", "2027-02-01T08:00:00Z", "2027-03-01T08:00:00Z"]),
        ("cron(0 8 ? * FRI#3 *)", "2027-01-01T00:00:00Z",   # the third Friday
         ["2027-01-15T08:00:00Z", "2027-02-19T08:00:00Z", "2027-03-19T08:00:00Z"]),
        ("cron(0 8 ? * 5L *)", "2027-01-01T00:00:00Z",      # the last Thursday
         ["2027-01-28T08:00:00Z", "2027-02-25T08:00:00Z", "2027-03-25T08:00:00Z"]),
        ("cron(0 8 ? * L *)", "2027-01-01T00:00:00Z",       # a lone L in day-of-week: Saturday
         ["2027-01-02T08:00:00Z", "2027-01-09T08:00:00Z"]),
    ]
    for expr, after, expected in cases:
        r = run("schedule", "next", expr, "--after", after, "--count", str(len(expected)))
        assert r.returncode == 0, (expr, r.stderr)
        assert lines(r) == expected, expr
    # the oracle: the same days from Python's calendar
    last = [utc(t) for t in cases[0][2]]
    assert all((d + datetime.timedelta(days=1)).day == 1 for d in last)
    assert all(utc(t).weekday() < 5 and abs(utc(t).day - 15) <= 1 for t in cases[2][2])
    assert all(utc(t).weekday() == 0 and utc(t).day <= 7 for t in cases[5][2])
    assert all(utc(t).weekday() == 4 and 15 <= utc(t).day <= 21 for t in cases[6][2])
    assert all(utc(t).weekday() == 3 and (utc(t) + datetime.timedelta(days=7)).month != utc(t).month
               for t in cases[7][2])


def test_dst_in_new_york_and_berlin(run):
    ny, berlin = "America/New_York", "Europe/Berlin"
    cases = [
        # spring forward 2027-03-14: 02:30 does not exist in New York, skipped
        ("cron(30 2 * * ? *)", ny, "2027-03-13T00:00:00Z",
         ["2027-03-13T07:30:00Z", "2027-03-15T06:30:00Z", "2027-03-16T06:30:00Z"]),
        # fall back 2027-11-07: 01:30 happens twice, fired once, at the first (EDT)
        ("cron(30 1 * * ? *)", ny, "2027-11-06T00:00:00Z",
         ["2027-11-06T05:30:00Z", "2027-11-07T05:30:00Z", "2027-11-08T06:30:00Z"]),
        # fall back 2027-10-31 in Berlin: 02:30 CEST first
        ("cron(30 2 * * ? *)", berlin, "2027-10-30T00:00:00Z",
         ["2027-10-30T00:30:00Z", "2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z"]),
        # weekdays at 09:00 across Berlin's spring forward (2027-03-28)
        ("cron(0 9 ? * MON-FRI *)", berlin, "2027-03-26T00:00:00Z",
         ["2027-03-26T08:00:00Z", "2027-03-29T07:00:00Z", "2027-03-30T07:00:00Z"]),
        # at() in a gap moves later by the gap's length; in an overlap, the first
        ("at(2027-03-28T02:30:00)", berlin, "2027-01-01T00:00:00Z", ["2027-03-28T01:30:00Z"]),
        ("at(2027-03-14T02:30:00)", ny, "2027-01-01T00:00:00Z", ["2027-03-14T07:30:00Z"]),
        ("at(2027-11-07T01:30:00)", ny, "2027-01-01T00:00:00Z", ["2027-11-07T05:30:00Z"]),
        # rate() counts elapsed time: a day is 86,400 s across the change
        ("rate(1 day)", berlin, "2027-03-27T12:00:00Z", ["2027-03-28T12:00:00Z", "2027-03-29T12:00:00Z"]),
    ]
    for expr, tz, after, expected in cases:
        r = run("schedule", "next", expr, "--tz", tz, "--after", after, "--count", str(len(expected) + 1))
        assert r.returncode == 0, (expr, r.stderr)
        assert lines(r)[:len(expected)] == expected, (expr, tz)
        if expr.startswith("at("):
            assert lines(r) == expected
    # the oracle: Python's zoneinfo shows the wall times asked for
    for expr, tz, _, expected in cases[:4]:
        wall = [utc(t).astimezone(zoneinfo.ZoneInfo(tz)) for t in expected]
        hour, minute = (2, 30) if "30 2" in expr else (1, 30) if "30 1" in expr else (9, 0)
        assert all((w.hour, w.minute) == (hour, minute) for w in wall), expr
    first = utc("2027-11-07T05:30:00Z").astimezone(zoneinfo.ZoneInfo(ny))
    assert first.fold == 0 and first.utcoffset() == datetime.timedelta(hours=-4)
