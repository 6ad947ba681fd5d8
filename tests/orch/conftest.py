"""The orchestration core through the real daemon: real processes, real HTTP.

Every test starts `tripline serve` on a free loopback port with its own
data_dir (tests/support/tripline_test.py), talks to its ECS API over HTTP,
and polls with deadlines — never a fixed sleep. Processes are counted from
/proc (a marker variable in the task's environment), not only from the API.
"""
import os
import sys
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))

from tripline_test import Daemons, mark_file, tripline_bin_path  # noqa: E402


@pytest.fixture(scope="session")
def tripline_bin():
    return tripline_bin_path()


@pytest.fixture
def daemon(tripline_bin, tmp_path):
    """start(config=None, name="d"): a started daemon logging at debug level;
    after the test, the daemons are killed and so is every process carrying
    a test's mark."""
    pool = Daemons(tripline_bin, tmp_path, base_config={"log_level": "debug"})
    yield pool.start
    pool.close()


@pytest.fixture
def mark(tmp_path):
    """A unique TEST_MARK value; processes carrying it are killed after the test."""
    m = uuid.uuid4().hex
    mark_file(tmp_path, m)
    return m
