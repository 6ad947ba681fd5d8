#!/usr/bin/env python3
"""Counts the test cases of one ctest run, for tests/run.sh.

Usage: count_results.py BUILD_DIR

Reads what the run left in BUILD_DIR:
- ctest-junit.xml (ctest --output-junit, with each entry's whole output):
  which entries ran and whether each one passed, and for the cmocka entries
  (label "cmocka") the cases from their output: "[==========] Running N
  test(s)." announces N cases, "[       OK ] name" is a case that passed;
- test-results/<entry>.xml for the pytest entries (label "pytest"): pytest's
  JUnit XML, one <testcase> per case;
and asks `ctest --show-only=json-v1` which entries exist and their labels.

A case passed only when it was seen to pass: every announced cmocka case
without an OK line, every pytest case with a failure, an error or a skip,
counts as failed. An entry that failed (exit status, crash, sanitizer
report at exit, timeout) with no failed case to show for it counts one
failure more; an entry that did not run, or left no results, counts as one
failed case, never as zero cases.

Prints one line per entry with something failed, then the last line
"cmocka P F pytest P F" (passed and failed cases of each kind).
"""
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

RUNNING = re.compile(r"^\[==========\] Running (\d+) test\(s\)\.$", re.M)
OK = re.compile(r"^\[       OK \] (\S+)$", re.M)


def ctest_entries(build_dir):
    """{entry name: kind} from ctest's own list; kind is its cmocka/pytest label."""
    out = subprocess.run(["ctest", "--test-dir", build_dir, "--show-only=json-v1"], capture_output=True,
                         text=True, check=True).stdout
    entries = {}
    for t in json.loads(out)["tests"]:
        labels = []
        for p in t.get("properties", []):
            if p["name"] == "LABELS":
                labels = p["value"]
        kinds = [k for k in ("cmocka", "pytest") if k in labels]
        if len(kinds) != 1:
            raise SystemExit("count_results: ctest entry %s has no cmocka or pytest label" % t["name"])
        entries[t["name"]] = kinds[0]
    return entries


def ctest_results(path):
    """{entry name: (ran and passed, output or None when it did not run)} from ctest's JUnit file."""
    results = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        out = case.findtext("system-out") or ""
        results[case.get("name")] = (case.get("status") == "run", out if case.get("status") != "notrun" else None)
    return results


def count_cmocka(output):
    """(passed, failed) cases from a cmocka binary's standard output."""
    announced = sum(int(n) for n in RUNNING.findall(output))
    passed = len(set(OK.findall(output)))
    return passed, max(announced - passed, 0)


def count_pytest(path):
    """(passed, failed) cases from pytest's JUnit XML; None when unreadable."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    passed = failed = 0
    for case in root.iter("testcase"):
        if any(child.tag in ("failure", "error", "skipped") for child in case):
            failed += 1
        else:
            passed += 1
    return passed, failed


def main(build_dir):
    entries = ctest_entries(build_dir)
    junit = os.path.join(build_dir, "ctest-junit.xml")
    try:
        results = ctest_results(junit)
    except (OSError, ET.ParseError) as e:
        print("count_results: %s: %s" % (junit, e))
        results = {}
    totals = {"cmocka": [0, 0], "pytest": [0, 0]}
    for name, kind in sorted(entries.items()):
        ok, output = results.get(name, (False, None))
        note = ""
        if output is None:
            passed, failed, note = 0, 1, "did not run"
        elif kind == "cmocka":
            passed, failed = count_cmocka(output)
        else:
            counted = count_pytest(os.path.join(build_dir, "test-results", name + ".xml"))
            passed, failed = counted if counted else (0, 0)
            if counted is None:
                note = "left no pytest results"
        if passed + failed == 0:
            failed, note = 1, note or "ran no test case"
        elif not ok and failed == 0:
            failed, note = 1, "failed after its cases passed (crash, leak, timeout)"
        if failed:
            print("%s (%s): %d passed, %d failed%s" % (name, kind, passed, failed, "; " + note if note else ""))
        totals[kind][0] += passed
        totals[kind][1] += failed
    print("cmocka %d %d pytest %d %d" % (*totals["cmocka"], *totals["pytest"]))


if __name__ == "__main__":
    main(sys.argv[1])
