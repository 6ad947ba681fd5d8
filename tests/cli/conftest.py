"""Fixtures for the CLI tests: the real tripline binary, run as a user would."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def tripline_bin():
    path = os.environ.get("TRIPLINE_BIN")
    if not path or not os.access(path, os.X_OK):
        # fail loudly: a missing binary is a broken build, not a reason to skip
        raise RuntimeError("TRIPLINE_BIN must point at the built tripline binary (run through ctest)")
    return path


@pytest.fixture
def run(tripline_bin):
    def _run(*args, stdin=None, timeout=60):
        return subprocess.run([tripline_bin, *args], input=stdin, capture_output=True,
                              timeout=timeout, text=True)
    return _run


@pytest.fixture
def root():
    return ROOT
