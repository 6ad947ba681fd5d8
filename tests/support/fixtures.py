"""Fixtures the CLI and the sources suites share (each suite's conftest.py
imports them): the real tripline binary, run as a user would (`run`,
`cli`), and the real daemon (`daemon`, tripline_test.Daemons)."""
import os
import subprocess

import pytest

from tripline_test import ROOT, Daemons, tripline_bin_path

# variables that would change which daemon or key the CLI uses
CLEARED = ("TRIPLINE_ENDPOINT", "TRIPLINE_ACCESS_KEY_ID", "TRIPLINE_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
           "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE")


@pytest.fixture(scope="session")
def tripline_bin():
    return tripline_bin_path()


@pytest.fixture
def run(tripline_bin):
    def _run(*args, stdin=None, timeout=60):
        return subprocess.run([tripline_bin, *args], input=stdin, capture_output=True,
                              timeout=timeout, text=True)
    return _run


@pytest.fixture
def cli(tripline_bin):
    """Runs tripline with a clean environment plus env; returns the CompletedProcess."""
    def _cli(*args, env=None, stdin=None, timeout=60):
        e = {k: v for k, v in os.environ.items() if k not in CLEARED}
        e.update(env or {})
        return subprocess.run([tripline_bin, *args], input=stdin, capture_output=True, text=True,
                              timeout=timeout, env=e)
    return _cli


@pytest.fixture
def daemon(tripline_bin, tmp_path):
    """start(config=None, rules=None): a started daemon (see tripline_test.Daemon),
    killed after the test if it still runs."""
    pool = Daemons(tripline_bin, tmp_path)
    yield pool.start
    pool.close()


@pytest.fixture
def root():
    return ROOT
