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
