"""deploy/: the systemd unit is one systemd accepts, and it sets what tasks
that outlive the daemon and the cgroups of tasks need."""
import os
import subprocess

from tripline_test import ROOT


def unit_lines():
    with open(os.path.join(ROOT, "deploy", "tripline.service")) as f:
        return [l.strip() for l in f if l.strip() and not l.lstrip().startswith("#")]


def test_unit_passes_systemd_analyze_verify(tripline_bin, tmp_path):
    # the unit names /usr/local/bin/tripline, which a test run need not have
    # installed: verify a copy that names the binary under test
    text = open(os.path.join(ROOT, "deploy", "tripline.service")).read()
    assert "ExecStart=/usr/local/bin/tripline serve --config /etc/tripline/tripline.json" in text
    unit = tmp_path / "tripline.service"
    unit.write_text(text.replace("/usr/local/bin/tripline", os.path.abspath(tripline_bin)))
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "tripline.service" not in r.stderr, r.stderr     # no warning about the unit


def test_unit_keeps_tasks_and_delegates_cgroups():
    lines = unit_lines()
    assert "KillMode=process" in lines        # tasks survive a restart
    assert "Delegate=yes" in lines            # task cgroups below the unit's (v1 and v2)
    assert "Type=exec" in lines
    assert "NoNewPrivileges=yes" in lines
    assert "ExecReload=/bin/kill -HUP $MAINPID" in lines


# ---------------------------------------------------------------- the configuration's documentation

MAPS = {"clusters", "connections"}          # name -> object
LEAF_MAPS = {"auth.keys"}                   # name -> string: one row


def config_keys(obj, prefix=""):
    """The leaf keys of a config in CONFIG.md's spelling: a.b, clusters.*.x, sources.files[].y."""
    for k, v in obj.items():
        key = prefix + k
        if isinstance(v, dict) and key not in LEAF_MAPS:
            if key in MAPS:
                for item in v.values():
                    yield from config_keys(item, key + ".*.")
            else:
                yield from config_keys(v, key + ".")
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            yield key
            for item in v:
                yield from config_keys(item, key + "[].")
        else:
            yield key


def documented_keys():
    import re
    with open(os.path.join(ROOT, "deploy", "CONFIG.md")) as f:
        return {m.group(1) for m in re.finditer(r"^\| `([^`]+)` \|", f.read(), re.M)}


def test_every_config_key_is_documented():
    """Every key of the example config and of the optional sections has its
    row in deploy/CONFIG.md, and the optional sections there are the test
    data's text."""
    import json
    rows = documented_keys()
    with open(os.path.join(ROOT, "deploy", "tripline.example.json")) as f:
        example = json.load(f)
    with open(os.path.join(ROOT, "tests", "data", "config", "optional-sections.json")) as f:
        optional_text = f.read()
    keys = set(config_keys(example)) | set(config_keys(json.loads(optional_text)))
    assert keys - rows == set()
    for key in ("buses", "services", "journal.fsync", "journal.max_bytes", "delivery.max_concurrency",
                "delivery.http_timeout_s", "delivery.file_fsync", "delivery.max_client_tokens",
                "limits.bus_queue", "limits.max_event_depth", "connections.*.auth",
                "connections.*.username", "connections.*.header", "connections.*.secret"):
        assert key in keys, key
    with open(os.path.join(ROOT, "deploy", "CONFIG.md")) as f:
        md = f.read()
    assert "```json\n" + optional_text + "```" in md


def test_readme_install_rewrites_every_example_path(tmp_path):
    """deploy/README.md's systemd steps: its sed rewrites every path of the
    example config that points into deploy/examples, and copies each."""
    import re
    with open(os.path.join(ROOT, "deploy", "README.md")) as f:
        readme = f.read()
    m = re.search(r"sudo sed -i '([^']+)' \\\n\s+/etc/tripline/tripline.json", readme)
    assert m, "the README's sed command"
    cfg = tmp_path / "tripline.json"
    with open(os.path.join(ROOT, "deploy", "tripline.example.json")) as f:
        cfg.write_text(f.read())
    subprocess.run(["sed", "-i", m.group(1), str(cfg)], check=True, timeout=30)
    assert "deploy/examples" not in cfg.read_text()
    for folder in ("rules", "taskdefs", "services"):
        assert "sudo cp deploy/examples/%s/*.json /etc/tripline/%s/" % (folder, folder) in readme
