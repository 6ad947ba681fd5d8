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
