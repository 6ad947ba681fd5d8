"""The file source (sources/fs.c) through the real daemon and real inotify:
S3's EventBridge notifications for a watched tree, observed through a rule
whose file target writes each event as a line (the events' order there is
the dispatch order, so the tests compare sets and counts, never timings)."""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import uuid

import pytest

from tripline_test import curl, json_lines, wait_for

BUCKET = "uploads"


def watch_config(root, **extra):
    w = {"name": BUCKET, "path": str(root)}
    w.update(extra)
    return {"sources": {"files": [w]}}


def file_rule(out, name="all-s3", pattern=None):
    return {"Name": name, "EventPattern": pattern or {"source": ["aws.s3"]},
            "Targets": [{"Id": "out", "Arn": "file:" + str(out)}]}


def events(out):
    return json_lines(out)


def created(out):
    return [e["detail"]["object"]["key"] for e in events(out) if e["detail-type"] == "Object Created"]


def deleted(out):
    return [e["detail"]["object"]["key"] for e in events(out) if e["detail-type"] == "Object Deleted"]


def write(path, data=b"x"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def event_id(name, key, st, kind):
    """event_id_digest(): SHA-256 of the parts, each followed by a 0 byte, shaped as a UUID v5."""
    parts = [name, key, str(st.st_ino), str(st.st_size), str(st.st_mtime_ns), kind]
    h = bytearray(hashlib.sha256(b"".join(p.encode() + b"\0" for p in parts)).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x50
    h[8] = (h[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(h)))


def health(d):
    code, body = curl(d.port, "/healthz")
    return code, json.loads(body)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "bucket"
    root.mkdir()
    return root


@pytest.fixture
def watched(daemon, tree, tmp_path):
    """start(**watch keys): a daemon watching tree, every aws.s3 event into out."""
    out = tmp_path / "events.jsonl"

    def start(rules=None, **extra):
        d = daemon(watch_config(tree, **extra), rules=rules or {"all.json": file_rule(out)})
        return d, out
    return start


def test_write_then_close_is_one_s3_event(watched, tree):
    d, out = watched()
    data = b"hello, bucket\n"
    write(str(tree / "a.txt"), data)
    ev = wait_for(lambda: events(out), "the Created event")[0]
    st = os.stat(tree / "a.txt")
    assert ev["source"] == "aws.s3" and ev["detail-type"] == "Object Created"
    assert ev["resources"] == ["arn:aws:s3:::" + BUCKET]
    assert ev["id"] == event_id(BUCKET, "a.txt", st, "created")
    det = ev["detail"]
    assert det["version"] == "0" and det["bucket"] == {"name": BUCKET}
    assert det["object"]["key"] == "a.txt" and det["object"]["size"] == len(data)
    assert det["object"]["etag"] == hashlib.md5(data).hexdigest()
    assert len(det["object"]["sequencer"]) == 16 and int(det["object"]["sequencer"], 16) >= 0
    assert det["reason"] == "PutObject" and det["requester"] == "tripline"
    assert det["source-ip-address"] == "127.0.0.1"
    assert det["request-id"] == ev["id"].replace("-", "")[:16].upper()
    assert set(det) == {"version", "bucket", "object", "request-id", "requester", "source-ip-address", "reason"}
    # a bare create, and a file still open for writing, are nothing yet
    f = open(tree / "b.txt", "wb")
    f.write(b"partial")
    f.flush()
    write(str(tree / "marker"), b"m")
    wait_for(lambda: "marker" in created(out), "the marker")
    assert "b.txt" not in created(out)
    f.close()
    wait_for(lambda: "b.txt" in created(out), "b.txt once closed")
    assert sorted(created(out)) == ["a.txt", "b.txt", "marker"]


def test_atomic_save_through_tmp_name_and_delete(watched, tree):
    d, out = watched()
    write(str(tree / "doc.json.tmp"), b'{"v": 1}')
    os.rename(tree / "doc.json.tmp", tree / "doc.json")
    wait_for(lambda: "doc.json" in created(out), "doc.json")
    ev = [e for e in events(out) if e["detail"]["object"]["key"] == "doc.json"][0]
    assert ev["detail"]["reason"] == "CopyObject"
    assert ev["detail"]["object"]["etag"] == hashlib.md5(b'{"v": 1}').hexdigest()
    seq_created = int(ev["detail"]["object"]["sequencer"], 16)
    os.unlink(tree / "doc.json")
    wait_for(lambda: "doc.json" in deleted(out), "doc.json deleted")
    dl = [e for e in events(out) if e["detail-type"] == "Object Deleted"][0]
    assert dl["detail"]["reason"] == "DeleteObject"
    assert dl["detail"]["deletion-type"] == "Permanently Deleted"
    assert set(dl["detail"]["object"]) == {"key", "sequencer"}
    assert int(dl["detail"]["object"]["sequencer"], 16) > seq_created
    # the temp name was never reported
    assert created(out) == ["doc.json"] and deleted(out) == ["doc.json"]


def test_excluded_names_and_include_globs(watched, tree):
    d, out = watched(include=["*.jpg", "docs/*.md"])
    for name in (".hidden.jpg", "x.tmp", "y.part", "z.swp", "w.jpg~", "notes.txt", "deep/readme.md",
                 ".git/HEAD.jpg", "a.jpg", "docs/b.md", "docs/sub/c.md", "deep/d.jpg"):
        write(str(tree / name))
    wait_for(lambda: sorted(created(out)) == ["a.jpg", "deep/d.jpg", "docs/b.md"], "the included files")
    # the excluded directory is not watched
    code, doc = health(d)
    assert code == 200 and doc["components"]["fs/" + BUCKET]["status"] == "ok"
    assert doc["components"]["fs/" + BUCKET]["watches"] == 4   # root, deep, docs, docs/sub
    write(str(tree / "z.jpg"))
    wait_for(lambda: "z.jpg" in created(out), "z.jpg")
    assert sorted(created(out)) == ["a.jpg", "deep/d.jpg", "docs/b.md", "z.jpg"]


def test_nested_directories_created_with_files_at_once(watched, tree):
    d, out = watched()
    # mkdir -p and write at once: some files land before their directory's watch exists
    subprocess.run(["sh", "-c", "mkdir -p a/b/c && echo 1 > a/b/c/one && echo 2 > a/two && "
                    "mkdir -p a/b/c/d/e && echo 3 > a/b/c/d/e/three"], cwd=str(tree), check=True)
    want = ["a/b/c/d/e/three", "a/b/c/one", "a/two"]
    wait_for(lambda: sorted(created(out)) == want, "every file of the new directories")
    # the new directories are watched
    write(str(tree / "a/b/c/d/e/four"))
    wait_for(lambda: "a/b/c/d/e/four" in created(out), "a file in the deepest new directory")
    assert sorted(created(out)) == sorted(want + ["a/b/c/d/e/four"])


def test_directory_rename_deletes_old_keys_and_creates_new_ones(watched, tree):
    d, out = watched()
    write(str(tree / "old/x.txt"), b"x")
    write(str(tree / "old/sub/y.txt"), b"y")
    wait_for(lambda: sorted(created(out)) == ["old/sub/y.txt", "old/x.txt"], "the files")
    os.rename(tree / "old", tree / "new")
    wait_for(lambda: sorted(deleted(out)) == ["old/sub/y.txt", "old/x.txt"], "the old keys deleted")
    wait_for(lambda: sorted(created(out)) == ["new/sub/y.txt", "new/x.txt", "old/sub/y.txt", "old/x.txt"],
             "the new keys created")
    # watched under the new name, and not under the old one
    write(str(tree / "new/sub/z.txt"))
    wait_for(lambda: "new/sub/z.txt" in created(out), "a file in the renamed directory")
    # moved out of the tree: every key deleted; back in: created again
    outside = tree.parent / "outside"
    os.rename(tree / "new", outside)
    wait_for(lambda: sorted(deleted(out))[:3] == ["new/sub/y.txt", "new/sub/z.txt", "new/x.txt"],
             "the keys of the directory moved out")
    os.rename(outside, tree / "back")
    wait_for(lambda: {"back/x.txt", "back/sub/y.txt", "back/sub/z.txt"} <= set(created(out)),
             "the keys of the directory moved in")
    counts = {}
    for k in created(out):
        counts[k] = counts.get(k, 0) + 1
    assert max(counts.values()) == 1


def test_symlinks_are_not_followed(watched, tree, tmp_path):
    outside = tmp_path / "elsewhere"
    write(str(outside / "secret.txt"))
    os.symlink(outside, tree / "link-dir")
    os.symlink(outside / "secret.txt", tree / "link-file")
    d, out = watched()
    os.symlink(outside / "secret.txt", tree / "later-link")
    write(str(outside / "more.txt"))
    write(str(tree / "real.txt"))
    wait_for(lambda: "real.txt" in created(out), "real.txt")
    assert created(out) == ["real.txt"]
    assert health(d)[1]["components"]["fs/" + BUCKET]["watches"] == 1


def test_invalid_utf8_names_are_skipped_and_counted(watched, tree):
    d, out = watched()
    with open(os.path.join(str(tree).encode(), b"bad-\xff.txt"), "wb") as f:
        f.write(b"x")
    write(str(tree / "good.txt"))
    wait_for(lambda: "good.txt" in created(out), "good.txt")
    assert created(out) == ["good.txt"]
    wait_for(lambda: d.metric('tripline_source_errors_total{kind="fs",name="%s",reason="utf8"}' % BUCKET) == 1,
             "the utf8 error counted")
    assert "not valid UTF-8" in d.log_text()


def test_watch_limit_is_a_clear_error_in_healthz(watched, tree):
    d, out = watched(max_watches=2)
    os.makedirs(tree / "one")
    os.makedirs(tree / "two")
    code, doc = wait_for(lambda: (lambda h: h if h[0] == 503 else None)(health(d)), "/healthz down")
    comp = doc["components"]["fs/" + BUCKET]
    assert comp["status"] == "down"
    assert "max_watches" in comp["error"] and "fs.inotify.max_user_watches" in comp["error"]
    assert "fs.inotify.max_user_watches" in d.log_text()
    assert d.metric('tripline_source_errors_total{kind="fs",name="%s",reason="watch_limit"}' % BUCKET) >= 1


def counts(keys):
    c = {}
    for k in keys:
        c[k] = c.get(k, 0) + 1
    return c


def test_inotifywait_oracle_on_a_mixed_workload(watched, tree, tmp_path):
    """inotifywait (inotify-tools), watching the same tree, is the oracle:
    the paths it sees closed after writing or moved in (less the excluded
    names) are exactly our Created keys."""
    if not shutil.which("inotifywait"):
        raise AssertionError("inotifywait is missing: deploy/install-deps.sh installs inotify-tools")
    oracle_out = tmp_path / "oracle.txt"
    oracle = subprocess.Popen(["inotifywait", "-m", "-r", "-e", "close_write,moved_to", "--format", "%w%f",
                               "-o", str(oracle_out), str(tree)], stderr=subprocess.PIPE)
    try:
        # it says so on stderr once its watches are in place
        while b"Watches established" not in oracle.stderr.readline():
            assert oracle.poll() is None, "inotifywait exited %r" % oracle.returncode
        d, out = watched()
        # a mixed workload: writes, appends, atomic saves, renames, deletes,
        # excluded names, a directory made after the start
        root = str(tree)
        for i in range(20):
            write(os.path.join(root, "w%02d.dat" % i), b"%d" % i)
        # the watch looks at a file when it reads its close, and reports it
        # as it is then: a key is changed again only once its first state
        # was seen, as a daemon slower than the writer (under ASan) would
        # otherwise see the later state only (sources/README.md)
        wait_for(lambda: all("w%02d.dat" % i in created(out) for i in range(20)), "the 20 files reported")
        with open(os.path.join(root, "w00.dat"), "ab") as f:
            f.write(b" more")
        for i in range(5):
            write(os.path.join(root, "save%d.txt.tmp" % i), b"s")
            os.rename(os.path.join(root, "save%d.txt.tmp" % i), os.path.join(root, "save%d.txt" % i))
        os.rename(os.path.join(root, "w01.dat"), os.path.join(root, "w01-renamed.dat"))
        os.unlink(os.path.join(root, "w02.dat"))
        write(os.path.join(root, ".hidden"), b"h")
        write(os.path.join(root, "x.swp"), b"h")
        os.mkdir(os.path.join(root, "late"))
        write(os.path.join(root, "w03.dat"), b"rewritten")
        marker = os.path.join(root, "zz-marker")
        write(marker, b"end")

        def oracle_keys():
            if not oracle_out.exists():
                return []
            return [line[len(root) + 1:] for line in oracle_out.read_text().splitlines() if line]
        wait_for(lambda: "zz-marker" in created(out) and "zz-marker" in oracle_keys(), "the marker, both ways")
    finally:
        oracle.terminate()
        oracle.wait()
    excluded = {".hidden", "x.swp"} | {"save%d.txt.tmp" % i for i in range(5)}
    seen = [k for k in oracle_keys() if k not in excluded]
    # the same events: a file closed twice with different content is two Created
    assert counts(created(out)) == counts(seen)
    assert deleted(out) == ["w01.dat", "w02.dat"]


def test_storm_with_forced_overflow_reports_every_file_once(watched, tree):
    """10,000 files written while the daemon is stopped (SIGSTOP): the kernel
    queue (16384 events) overflows, the rescan finds what the lost events
    said, and each file is reported exactly once."""
    d, out = watched()
    n = 10000
    os.kill(d.proc.pid, signal.SIGSTOP)
    try:
        for i in range(n):
            with open(os.path.join(str(tree), "f%05d" % i), "wb") as f:
                f.write(b"%d" % i)
    finally:
        os.kill(d.proc.pid, signal.SIGCONT)
    wait_for(lambda: len(created(out)) >= n, "10,000 events", deadline=120)
    c = counts(created(out))
    assert len(c) == n and max(c.values()) == 1
    assert d.metric('tripline_fs_rescans_total{name="%s",reason="overflow"}' % BUCKET) >= 1
    assert d.metric('tripline_source_events_total{kind="fs",name="%s"}' % BUCKET) == n
    # a file written now is one more event, and nothing else comes with it
    write(os.path.join(str(tree), "after"))
    wait_for(lambda: "after" in created(out), "the file after the storm")
    c = counts(created(out))
    assert len(c) == n + 1 and max(c.values()) == 1


def probe(d, tree, out, name):
    """Writes a file while d is stopped and restarts d: the file is found by
    the start's reconcile, and reported once stable — after every other
    file that reconcile found, which were found in the same walk."""
    write(os.path.join(str(tree), name), name.encode())
    d.start()
    wait_for(lambda: name in created(out), "the probe " + name)


def test_files_added_while_stopped_are_reported_once(watched, tree):
    d, out = watched()
    write(str(tree / "kept.txt"), b"k")
    write(str(tree / "gone.txt"), b"g")
    write(str(tree / "changed.txt"), b"c1")
    wait_for(lambda: len(created(out)) == 3, "the first files")
    assert d.stop() == 0
    # while stopped: new files, a deleted one, a changed one
    write(str(tree / "new1.txt"), b"n1")
    write(str(tree / "sub/new2.txt"), b"n2")
    os.unlink(tree / "gone.txt")
    write(str(tree / "changed.txt"), b"c2, longer")
    probe(d, tree, out, "probe1")
    wait_for(lambda: "gone.txt" in deleted(out), "gone.txt deleted")
    # found by the same walk as the probe: reported in the same batch
    want = {"kept.txt": 1, "gone.txt": 1, "changed.txt": 2, "new1.txt": 1, "sub/new2.txt": 1, "probe1": 1}
    wait_for(lambda: counts(created(out)) == want, "what changed while stopped, once")
    assert d.metric('tripline_fs_rescans_total{name="%s",reason="start"}' % BUCKET) == 1
    # a second restart emits nothing again
    assert d.stop() == 0
    probe(d, tree, out, "probe2")
    assert counts(created(out)) == dict(want, probe2=1)
    assert deleted(out) == ["gone.txt"]


def test_on_start_ignore_takes_the_tree_as_baseline(watched, tree):
    write(str(tree / "old.txt"), b"o")
    d, out = watched(on_start="ignore")
    write(str(tree / "new.txt"), b"n")
    wait_for(lambda: "new.txt" in created(out), "new.txt")
    assert created(out) == ["new.txt"]
    # and it is the baseline of the next start too
    assert d.stop() == 0
    d.start()
    os.unlink(tree / "old.txt")
    wait_for(lambda: "old.txt" in deleted(out), "old.txt deleted (it was known)")


def test_kill_9_before_the_dispatch_is_final_re_emits_the_same_event(daemon, tree, tmp_path):
    """An event whose dispatch is not final (a target that keeps failing) is
    not checkpointed: after kill -9 it is emitted again with the same id,
    and once final, never again."""
    out = tmp_path / "events.jsonl"
    failing = {"Name": "slow", "EventPattern": {"source": ["aws.s3"]},
               "Targets": [{"Id": "down", "Arn": "http://127.0.0.1:9/never",
                            "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}}]}
    d = daemon(watch_config(tree), rules={"all.json": file_rule(out), "slow.json": failing})
    write(str(tree / "photo.jpg"), b"jpeg")
    first = wait_for(lambda: events(out), "the first delivery")[0]
    st = os.stat(tree / "photo.jpg")
    assert first["id"] == event_id(BUCKET, "photo.jpg", st, "created")
    d.proc.kill()
    d.proc.wait()
    d.log.close()
    # the failing target is gone when it comes back: the event can be final
    os.unlink(d.rules_dir / "slow.json")
    d.start()
    wait_for(lambda: len(events(out)) == 2, "the event emitted again")
    again = events(out)[1]
    assert again["id"] == first["id"] and again["detail"]["object"] == dict(
        first["detail"]["object"], sequencer=again["detail"]["object"]["sequencer"])
    assert again["detail"]["object"]["sequencer"] > first["detail"]["object"]["sequencer"]
    assert d.stop() == 0
    probe(d, tree, out, "probe")
    assert counts(created(out)) == {"photo.jpg": 2, "probe": 1}


def test_readme_story_upload_runs_the_thumbnailer(daemon, tree, root):
    """DESIGN.md §9 story 1 with the shipped example rule and task
    definition: a .jpg under raw/ runs the thumbnailer with the object key
    from the InputTransformer, a .png runs nothing, a restart does not run
    it again."""
    examples = os.path.join(root, "deploy", "examples")
    cfg = watch_config(tree)
    cfg["rules"] = [os.path.join(examples, "rules", "thumbnail-on-upload.json")]
    cfg["task_definitions"] = [os.path.join(examples, "taskdefs", "thumbnailer.json")]
    d = daemon(cfg)

    def tasks():
        arns = set()
        for status in ("RUNNING", "STOPPED"):
            arns |= set(d.call("ListTasks", {"family": "thumbnailer", "desiredStatus": status})["taskArns"])
        return sorted(arns)

    def logs(arn):
        out = d.call("GetTaskLogs", {"task": arn}, target="Tripline.GetTaskLogs")
        return "".join(c["log"] for c in out["containers"])

    write(str(tree / "raw/2026/cat.png"), b"png")
    write(str(tree / "raw/2026/cat.jpg"), b"jpeg")
    arn = wait_for(tasks, "the thumbnailer task")[0]
    t = d.wait_task(arn, "STOPPED")
    assert t["containers"][0]["exitCode"] == 0
    assert logs(arn) == "thumbnail for raw/2026/cat.jpg\n"
    assert d.stop() == 0
    d.start()
    write(str(tree / "raw/2026/dog.jpg"), b"dog")
    wait_for(lambda: len(tasks()) == 2, "the second thumbnailer task")
    for a in tasks():
        d.wait_task(a, "STOPPED")
    # the restart emitted nothing again: this run's one event is dog.jpg
    assert d.metric('tripline_source_events_total{kind="fs",name="%s"}' % BUCKET) == 1
    assert sorted(logs(a) for a in tasks()) == ["thumbnail for raw/2026/cat.jpg\n",
                                                "thumbnail for raw/2026/dog.jpg\n"]


def test_etag_past_etag_max_bytes_is_derived_and_events_filter(watched, tree):
    """A file over etag_max_bytes gets the documented derived etag (never
    an MD5's shape); events: ["created"] emits no Deleted, now or after a
    restart."""
    d, out = watched(etag_max_bytes=10, events=["created"])
    small, big = b"0123456789", b"0123456789!"
    write(str(tree / "small"), small)
    write(str(tree / "big"), big)
    wait_for(lambda: sorted(created(out)) == ["big", "small"], "both files")
    tags = {e["detail"]["object"]["key"]: e["detail"]["object"]["etag"] for e in events(out)}
    assert tags["small"] == hashlib.md5(small).hexdigest()
    st = os.stat(tree / "big")
    text = "%d:%d:%d" % (st.st_ino, st.st_size, st.st_mtime_ns)
    assert tags["big"] == hashlib.sha256(text.encode()).hexdigest()[:32] + "-1"
    os.unlink(tree / "small")
    write(str(tree / "after-delete"))
    wait_for(lambda: "after-delete" in created(out), "after-delete")
    assert d.stop() == 0
    probe(d, tree, out, "probe")
    assert deleted(out) == [] and sorted(created(out)) == ["after-delete", "big", "probe", "small"]


def test_a_long_index_is_compacted(daemon, tree, tmp_path):
    """An index that is mostly history (60,000 records of one key) is
    replaced by a snapshot at the first checkpoint after the start."""
    out = tmp_path / "events.jsonl"
    index = tmp_path / "var" / "sources" / "fs" / (BUCKET + ".index")
    index.parent.mkdir(parents=True)
    with open(index, "w") as f:
        f.write("tripline-fs-index 1\n")
        for i in range(60000):
            f.write("P %d 1 2 %d 5 a.txt\n" % (i, i))
    assert index.stat().st_size > 1 << 20
    d = daemon(watch_config(tree), rules={"all.json": file_rule(out)})
    # a.txt is not there: Deleted, checkpointed, and the index rewritten
    wait_for(lambda: deleted(out) == ["a.txt"], "a.txt deleted")
    wait_for(lambda: index.stat().st_size < 1000, "the index compacted")
    text = index.read_text()
    assert text.startswith("tripline-fs-index 1\nS ") and "a.txt" not in text
    assert d.stop() == 0
    probe(d, tree, out, "probe")
    assert deleted(out) == ["a.txt"]


def test_root_removed_is_down(watched, tree):
    d, out = watched()
    assert health(d)[0] == 200
    shutil.rmtree(tree)
    code, doc = wait_for(lambda: (lambda h: h if h[0] == 503 else None)(health(d)), "/healthz down")
    comp = doc["components"]["fs/" + BUCKET]
    assert comp["status"] == "down" and str(tree) in comp["error"]


def test_a_full_bus_delays_events_and_loses_none(watched, tree):
    """With room for 10 events on the bus, 500 files queued at once (the
    daemon paused while they are written; etags derived, so none waits for
    a hash) meet a full bus: the source keeps them and retries, and each is
    reported once."""
    d, out = watched(etag_max_bytes=1)
    cfg = json.loads(d.config.read_text())
    cfg["limits"] = {"bus_queue": 10}
    d.config.write_text(json.dumps(cfg))
    assert d.stop() == 0
    d.start()
    os.kill(d.proc.pid, signal.SIGSTOP)
    try:
        for i in range(500):
            write(os.path.join(str(tree), "q%03d" % i), b"xx%d" % i)
    finally:
        os.kill(d.proc.pid, signal.SIGCONT)
    wait_for(lambda: len(created(out)) >= 500, "500 events")
    c = counts(created(out))
    assert len(c) == 500 and max(c.values()) == 1
    assert "the bus default is full: its events wait and are retried" in d.log_text()
