"""Fixtures for the event sources' tests (files, schedules, webhooks): the real
tripline binary and the real daemon (tests/support/fixtures.py)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))

from fixtures import cli, daemon, root, run, tripline_bin  # noqa: E402,F401
