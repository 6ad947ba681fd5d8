"""Bounded state and truthful errors, through the real daemon: the limits of
the task-definition registry, DeleteTaskDefinitions, paging of every List
operation, a full disk (a real tmpfs as data_dir) answered as the server's
fault, names of any allowed length, and one policy for state files that
cannot be loaded (an error line, the file moved to data_dir/corrupt/, the
daemon starts anyway)."""
import errno
import json
import os
import subprocess
import uuid

import pytest

from tripline_test import ApiError, aws_cli, free_port, sleeper


def small(name="c"):
    return [{"name": name, "image": "local", "command": ["/bin/true"]}]


def padded(size, name="c"):
    """Containers whose RegisterTaskDefinition request is about size bytes."""
    return [{"name": name, "image": "local", "command": ["/bin/true"],
             "environment": [{"name": "PAD", "value": "x" * size}]}]


def refused(call, *args):
    with pytest.raises(ApiError) as e:
        call(*args)
    return e.value


# ---------------------------------------------------------------- limits

def test_task_definition_size_limit(daemon, tmp_path):
    d = daemon()
    d.register("fits", padded(60000))                         # under ECS's 64 KiB
    e = refused(d.register, "big", padded(70000))
    assert e.status == 400 and e.type == "ClientException"
    assert "limits.max_task_definition_bytes" in e.body["message"]
    assert "65536" in e.body["message"]
    assert "big" not in d.call("ListTaskDefinitionFamilies", {"status": "ALL"})["families"]
    # configurable
    d2 = daemon({"limits": {"max_task_definition_bytes": 2048}, "data_dir": str(tmp_path / "var-small")},
                name="small")
    e = refused(d2.register, "mid", padded(3000))
    assert "more than the 2048 allowed" in e.body["message"]


def test_family_and_revision_limits(daemon):
    d = daemon({"limits": {"max_task_definition_families": 2, "max_task_definition_revisions": 3}})
    for _ in range(3):
        d.register("a", small())
    e = refused(d.register, "a", small())
    assert e.status == 400 and e.type == "ClientException"
    assert "a already has 3 revisions (limits.max_task_definition_revisions)" in e.body["message"]
    d.register("b", small())
    e = refused(d.register, "c", small())
    assert e.status == 400 and "limits.max_task_definition_families" in e.body["message"]
    assert d.call("ListTaskDefinitionFamilies", {"status": "ALL"})["families"] == ["a", "b"]
    # deleting an old revision makes room, and the numbers go on
    d.call("DeregisterTaskDefinition", {"taskDefinition": "a:1"})
    d.call("DeleteTaskDefinitions", {"taskDefinitions": ["a:1"]})
    assert d.register("a", small())["revision"] == 4
    # the limits hold across a restart (what is on disk counts)
    d.stop()
    d.start()
    e = refused(d.register, "a", small())
    assert "3 revisions" in e.body["message"]


# ---------------------------------------------------------------- DeleteTaskDefinitions

def test_delete_task_definitions(daemon, tmp_path, mark):
    d = daemon()
    d.register("gone", small())
    d.register("gone", small())
    d.register("held", [sleeper(mark)])
    d.call("DeregisterTaskDefinition", {"taskDefinition": "gone:1"})
    out = d.call("DeleteTaskDefinitions", {"taskDefinitions": [
        "gone:1", "gone:2", "gone:9", "gone", "arn:aws:ecs:local:000000000000:task-definition/nope:1"]})
    assert [t["taskDefinitionArn"] for t in out["taskDefinitions"]] == \
        ["arn:aws:ecs:local:000000000000:task-definition/gone:1"]
    assert out["taskDefinitions"][0]["status"] == "DELETE_IN_PROGRESS"
    reasons = {f["arn"]: f["reason"] for f in out["failures"]}
    assert set(reasons) == {"gone:2", "gone:9", "gone",
                            "arn:aws:ecs:local:000000000000:task-definition/nope:1"}
    assert "still in ACTIVE status" in reasons["gone:2"]
    assert "does not exist" in reasons["gone:9"]
    # nothing held it: gone from the API and from the disk, for good
    e = refused(d.call, "DescribeTaskDefinition", {"taskDefinition": "gone:1"})
    assert e.status == 400
    files = sorted(os.listdir(d.data_dir / "taskdefs"))
    assert "gone.1.json" not in files and "gone.2.json" in files

    # a revision a task runs on stays DELETE_IN_PROGRESS and cannot start new tasks
    arn = d.call("RunTask", {"taskDefinition": "held:1"})["tasks"][0]["taskArn"]
    d.wait_task(arn, "RUNNING")
    d.call("DeregisterTaskDefinition", {"taskDefinition": "held:1"})
    out = d.call("DeleteTaskDefinitions", {"taskDefinitions": ["held:1"]})
    assert out["failures"] == [] and out["taskDefinitions"][0]["status"] == "DELETE_IN_PROGRESS"
    td = d.call("DescribeTaskDefinition", {"taskDefinition": "held:1"})["taskDefinition"]
    assert td["status"] == "DELETE_IN_PROGRESS"
    listed = d.call("ListTaskDefinitions", {"status": "DELETE_IN_PROGRESS"})["taskDefinitionArns"]
    assert listed == ["arn:aws:ecs:local:000000000000:task-definition/held:1"]
    e = refused(d.call, "RunTask", {"taskDefinition": "held:1"})
    assert e.status == 400
    assert d.task(arn)["lastStatus"] == "RUNNING"
    # and so across a restart, with its task taken back
    d.stop()
    d.start()
    td = d.call("DescribeTaskDefinition", {"taskDefinition": "held:1"})["taskDefinition"]
    assert td["status"] == "DELETE_IN_PROGRESS"
    assert d.task(arn)["lastStatus"] == "RUNNING"
    d.call("StopTask", {"task": arn})
    d.wait_task(arn, "STOPPED")

    for bad in ({}, {"taskDefinitions": []}, {"taskDefinitions": ["a:1"] * 11}, {"taskDefinitions": [1]}):
        e = refused(d.call, "DeleteTaskDefinitions", bad)
        assert e.status == 400 and e.type == "ClientException"


# ---------------------------------------------------------------- paging

def pages(d, op, member, body, max_results=None):
    got, token, n = [], None, 0
    while True:
        req = dict(body)
        if max_results:
            req["maxResults"] = max_results
        if token:
            req["nextToken"] = token
        out = d.call(op, req)
        assert len(out[member]) <= (max_results or 100)
        got += out[member]
        n += 1
        token = out.get("nextToken")
        if not token:
            return got, n


def test_list_operations_page(daemon, mark):
    d = daemon()
    for i in range(105):
        d.register("f%03d" % (i % 35), small())           # 35 families of 3 revisions
    out = d.call("ListTaskDefinitions", {})
    assert len(out["taskDefinitionArns"]) == 100 and out["nextToken"]   # ECS's default page
    everything, n = pages(d, "ListTaskDefinitions", "taskDefinitionArns", {})
    assert n == 2 and len(everything) == 105 == len(set(everything))
    by7, n = pages(d, "ListTaskDefinitions", "taskDefinitionArns", {}, 7)
    assert by7 == everything and n == 15
    desc, n = pages(d, "ListTaskDefinitions", "taskDefinitionArns", {"sort": "DESC"}, 8)
    assert desc == everything[::-1] and n == 14
    fams, n = pages(d, "ListTaskDefinitionFamilies", "families", {}, 10)
    assert fams == ["f%03d" % i for i in range(35)] and n == 4
    pre, _ = pages(d, "ListTaskDefinitions", "taskDefinitionArns", {"familyPrefix": "f01"}, 4)
    assert len(pre) == 30
    # tasks and services page too
    d.register("s", [sleeper(mark)])
    arns = [d.call("RunTask", {"taskDefinition": "s"})["tasks"][0]["taskArn"] for _ in range(5)]
    got, n = pages(d, "ListTasks", "taskArns", {}, 2)
    assert sorted(got) == sorted(arns) and n == 3
    for i in range(3):
        d.call("CreateService", {"serviceName": "svc%d" % i, "taskDefinition": "s", "desiredCount": 0})
    got, n = pages(d, "ListServices", "serviceArns", {}, 2)
    assert len(got) == 3 and n == 2
    got, n = pages(d, "ListClusters", "clusterArns", {}, 1)
    assert len(got) == 1 and n == 1
    for op in ("ListTaskDefinitions", "ListTaskDefinitionFamilies", "ListClusters", "ListTasks", "ListServices"):
        for bad in ({"maxResults": 0}, {"maxResults": 101}, {"nextToken": "not:a:token"}):
            e = refused(d.call, op, bad)
            assert e.status == 400, (op, bad)
    for a in arns:
        d.call("StopTask", {"task": a})


# ---------------------------------------------------------------- a full disk

@pytest.fixture
def tiny_fs(tmp_path):
    """A real 256 KiB tmpfs, unmounted after the test."""
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs needs root")
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def test_full_disk_is_a_server_error(daemon, tiny_fs):
    ballast = tiny_fs / "ballast"
    ballast.write_bytes(b"x" * 100000)
    d = daemon({"data_dir": str(tiny_fs)})
    status = None
    for i in range(20):
        try:
            d.register("fill%d" % i, padded(50000))
        except ApiError as e:
            status = e
            break
    assert status is not None, "a 256 KiB disk took 20 definitions of 50 KB"
    assert status.status == 500 and status.type == "ServerException", status
    assert "No space left on device" in status.body["message"]
    full = "fill%d" % i
    log = d.log_text()
    assert "error api: RegisterTaskDefinition: cannot store the task definition: No space left on device" in log
    # no empty family left listed, nothing half-written
    assert full not in d.call("ListTaskDefinitionFamilies", {"status": "ALL"})["families"]
    assert not [f for f in os.listdir(tiny_fs / "taskdefs") if f.startswith(full) or f.startswith(".")]
    # a status change that cannot be written is the server's fault too, and changes nothing
    e = refused(d.call, "DeregisterTaskDefinition", {"taskDefinition": "fill0:1"})
    assert e.status == 500 and e.type == "ServerException"
    assert d.call("DescribeTaskDefinition", {"taskDefinition": "fill0:1"})["taskDefinition"]["status"] == "ACTIVE"
    # a service that cannot be stored is not created (a restart would not know it)
    filler = tiny_fs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"x" * 4096)
    except OSError as err:
        assert err.errno == errno.ENOSPC, err
    finally:
        os.close(fd)
    e = refused(d.call, "CreateService", {"serviceName": "nospace", "taskDefinition": "fill0:1",
                                          "desiredCount": 0})
    assert e.status == 500 and e.type == "ServerException", e.body
    assert "cannot store the service: No space left on device" in e.body["message"]
    assert d.call("DescribeServices", {"services": ["nospace"]})["failures"][0]["reason"] == "MISSING"
    # once there is room again, the same requests work
    filler.unlink()
    ballast.unlink()
    d.call("DeregisterTaskDefinition", {"taskDefinition": "fill0:1"})
    assert d.register(full, padded(50000))["revision"] == 1
    assert d.call("CreateService", {"serviceName": "nospace", "taskDefinition": full,
                                    "desiredCount": 0})["service"]["status"] == "ACTIVE"


# ---------------------------------------------------------------- long names

def test_names_of_every_allowed_length(daemon, mark):
    d = daemon()
    fams = ["f" * n for n in (200, 201, 240, 241, 250, 255)]
    for f in fams:
        d.register(f, [sleeper(mark)])
    svcs = ["s" * n for n in (250, 251, 255)]
    for s in svcs:
        d.call("CreateService", {"serviceName": s, "taskDefinition": fams[-1], "desiredCount": 0})
    assert "File name too long" not in d.log_text()
    d.stop()
    d.start()
    for f in fams:
        assert d.call("DescribeTaskDefinition", {"taskDefinition": f})["taskDefinition"]["family"] == f
    for s in svcs:
        assert d.service(s)["serviceName"] == s
    assert all(len(n) <= 255 for n in os.listdir(d.data_dir / "services"))


# ---------------------------------------------------------------- corrupt state files

def test_corrupt_state_files_are_moved_aside(daemon, mark):
    d = daemon()
    d.register("keep", [sleeper(mark)])
    d.register("broken", small())
    d.register("badsvc", small())
    d.call("CreateService", {"serviceName": "svc", "taskDefinition": "keep", "desiredCount": 0})
    d.call("CreateService", {"serviceName": "bad", "taskDefinition": "badsvc", "desiredCount": 0})
    arn = d.call("RunTask", {"taskDefinition": "keep"})["tasks"][0]["taskArn"]
    d.wait_task(arn, "RUNNING")
    d.stop()

    var = d.data_dir
    (var / "taskdefs" / "broken.1.json").write_text('{"family": "broken", ')
    (var / "services" / "bad.json").write_text("not json")
    task_id = uuid.uuid4().hex
    (var / "tasks" / (task_id + ".json")).write_text('{"taskArn": 1}')
    os.mkfifo(var / "tasks" / ("%s.json" % uuid.uuid4().hex))
    (var / "tasks" / "stray.json").write_text("{}")
    (var / "tokens" / "6161.json").write_text('{"token": "aa"')          # a client token's file
    os.mkfifo(var / "tokens" / "6262.json")
    for sub in ("services", "taskdefs"):             # writes a crash cut short
        (var / sub / ".x.json.Ab12Cd").write_text("{")
    d.start()
    for sub in ("services", "taskdefs"):
        assert not (var / sub / ".x.json.Ab12Cd").exists()

    log = d.log_text()
    for rel in ("taskdefs/broken.1.json", "services/bad.json", "tasks/%s.json" % task_id, "tasks/stray.json",
                "tokens/6161.json", "tokens/6262.json"):
        assert "%s/%s" % (var, rel) in log, rel
    errors = [l for l in log.splitlines() if " error " in l and "moved to %s/corrupt/" % var in l]
    assert len(errors) == 7, errors
    moved = sorted(os.listdir(var / "corrupt"))
    assert len(moved) == 7
    assert any(m.startswith("broken.1.json.") for m in moved)
    assert any(m.startswith("bad.json.") for m in moved)
    # the rest is there and works
    assert d.task(arn)["lastStatus"] == "RUNNING"
    assert d.service("svc")["status"] == "ACTIVE"
    e = refused(d.call, "DescribeTaskDefinition", {"taskDefinition": "broken:1"})
    assert e.status == 400
    assert d.call("DescribeServices", {"services": ["bad"]})["failures"][0]["reason"] == "MISSING"
    # what was moved aside stays out of the next start
    d.stop()
    d.start()
    assert len(os.listdir(var / "corrupt")) == 7
    assert "moved to" not in d.log_text().split("listening on")[-1]
    d.call("StopTask", {"task": arn})
    d.wait_task(arn, "STOPPED")


# ---------------------------------------------------------------- directory scans and @files

def test_special_files_in_scanned_directories(daemon, tripline_bin, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    os.mkfifo(rules / "fifo.json")
    os.symlink("/dev/null", rules / "null.json")
    os.symlink(str(tmp_path / "nowhere"), rules / "dangling.json")
    out = subprocess.run([tripline_bin, "validate", str(rules)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out
    assert "%s: not a regular file (a FIFO)" % (rules / "fifo.json") in out.stderr
    assert "%s: not a regular file (a device)" % (rules / "null.json") in out.stderr
    assert "%s: a symbolic link to nothing (dangling)" % (rules / "dangling.json") in out.stderr
    tds = tmp_path / "tds"
    tds.mkdir()
    os.mkfifo(tds / "t.json")
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({"listen": "127.0.0.1:%d" % free_port(), "data_dir": str(tmp_path / "v"),
                               "rules": [], "task_definitions": [str(tds)]}))
    out = subprocess.run([tripline_bin, "serve", "--config", str(cfg)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2, out
    assert "%s: not a regular file (a FIFO)" % (tds / "t.json") in out.stdout + out.stderr


def test_at_file_arguments_say_what_is_wrong(tripline_bin, tmp_path):
    def run(*args):
        return subprocess.run([tripline_bin, *args], capture_output=True, text=True, timeout=60)
    out = run("test-pattern", "--pattern", "@/dev/zero", "--event", "{}")
    assert out.returncode == 2
    assert out.stderr.strip() == "tripline: pattern: /dev/zero: not a regular file"
    out = run("test-pattern", "--pattern", "@" + str(tmp_path), "--event", "{}")
    assert out.returncode == 2 and out.stderr.strip().endswith(": not a regular file")
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate((16 << 20) + 1)
    out = run("test-pattern", "--pattern", "{}", "--event", "@" + str(big))
    assert out.returncode == 2 and out.stderr.strip().endswith(": larger than 16 MiB")
    out = run("taskdef", "register", "/dev/zero", "--endpoint", "http://127.0.0.1:9")
    assert out.returncode == 2 and "/dev/zero: not a regular file" in out.stderr


def test_cli_taskdef_delete(daemon, tripline_bin):
    d = daemon()
    d.register("old", small())
    d.register("old", small())
    d.call("DeregisterTaskDefinition", {"taskDefinition": "old:1"})

    def cli(*args):
        return subprocess.run([tripline_bin, "taskdef", *args, "--endpoint", "http://127.0.0.1:%d" % d.port],
                              capture_output=True, text=True, timeout=60)
    out = cli("delete", "old:1", "old:2")
    assert out.returncode == 1, out                     # one could not be deleted
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["DEFINITION", "STATUS", "ARN"]
    assert lines[1].split()[:2] == ["old:1", "DELETE_IN_PROGRESS"]
    assert "old:2" in out.stdout and "still in ACTIVE status" in out.stdout
    out = cli("list", "--status", "ALL")
    assert "/old:1" not in out.stdout and "/old:2" in out.stdout


def test_aws_cli_pages(daemon):
    d = daemon({"auth": {"keys": {"AKIDCLI": "value:cli-secret"}}})
    for i in range(12):
        r = aws_cli(d.port, "ecs", "register-task-definition", "--family", "p%d" % (i % 4),
                    "--container-definitions", json.dumps(small()))
        assert r.returncode == 0, r.stderr
    # the CLI follows nextToken itself: small pages, the same whole list
    r = aws_cli(d.port, "ecs", "list-task-definitions", "--page-size", "5")
    assert r.returncode == 0, r.stderr
    arns = json.loads(r.stdout)["taskDefinitionArns"]
    assert len(arns) == 12 == len(set(arns)) and arns == sorted(arns, key=lambda a: (a.split("/")[1].split(":")[0],
                                                                                    int(a.rsplit(":", 1)[1])))
    r = aws_cli(d.port, "ecs", "list-task-definitions", "--sort", "DESC", "--max-items", "1")
    assert json.loads(r.stdout)["taskDefinitionArns"] == [arns[-1]]
    r = aws_cli(d.port, "ecs", "list-task-definition-families", "--page-size", "3")
    assert json.loads(r.stdout)["families"] == ["p0", "p1", "p2", "p3"]
    # (Debian's AWS CLI 2.9 predates DeleteTaskDefinitions: that one is tested over HTTP above)


def test_full_disk_at_start_is_not_bad_input(tripline_bin, tmp_path, tiny_fs):
    tds = tmp_path / "tds"
    tds.mkdir()
    (tds / "t.json").write_text(json.dumps({"family": "t", "containerDefinitions": padded(1000)}))
    fd = os.open(tiny_fs / "ballast", os.O_WRONLY | os.O_CREAT)   # every byte of the disk
    try:
        while os.write(fd, b"x" * 4096):
            pass
    except OSError:
        pass
    os.close(fd)
    cfg = tmp_path / "full.json"
    cfg.write_text(json.dumps({"listen": "127.0.0.1:%d" % free_port(), "data_dir": str(tiny_fs),
                               "rules": [], "task_definitions": [str(tds)]}))
    out = subprocess.run([tripline_bin, "serve", "--config", str(cfg)], capture_output=True, text=True,
                         timeout=60)
    text = out.stdout + out.stderr
    assert out.returncode == 3, text
    assert "%s: cannot be stored in data_dir: No space left on device" % (tds / "t.json") in text
    assert "the task_definitions files cannot be stored" in text
