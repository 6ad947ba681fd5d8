"""Fixtures for the event sources' tests (files, schedules, webhooks): the real
tripline binary and the real daemon (tests/support/tripline_test.py)."""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))

from tripline_test import ROOT, Daemons, tripline_bin_path  # noqa: E402

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
