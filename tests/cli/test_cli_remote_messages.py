"""The exact usage-error messages of `tripline task|service|taskdef`.

test_cli_remote.py checks that every usage error exits 2 with the command's
name and a pointer to the help; these check the words a person reads to fix
the command line: which values an option takes, which subcommands exist,
and the message before and after the subcommand is known. Nothing is sent:
the endpoint is a dead port, so an accepted command line would exit 3.
"""
import pytest

from tripline_test import dead_port, url

MESSAGES = [
    (["task", "list", "--desired-status", "DONE"],
     "tripline task list: --desired-status must be RUNNING, PENDING or STOPPED, not 'DONE'\n"
     "run 'tripline help task' for the options\n"),
    (["taskdef", "list", "--status="],
     "tripline taskdef list: --status must be ACTIVE, INACTIVE or ALL, not ''\n"
     "run 'tripline help taskdef' for the options\n"),
    (["service", "list", "--output", "yaml"],
     "tripline service list: --output must be table or json, not 'yaml'\n"
     "run 'tripline help service' for the options\n"),
    (["service"],
     "tripline service: a subcommand is needed: create, update, scale, describe, list, delete\n"
     "run 'tripline help service' for the options\n"),
    (["taskdef", "--status", "ALL", "list"],
     "tripline taskdef: unknown option '--status' before the subcommand\n"
     "run 'tripline help taskdef' for the options\n"),
    (["task", "run", "td", "--count", "0"],
     "tripline task run: --count must be a whole number from 1 to 2147483647, not '0'\n"
     "run 'tripline help task' for the options\n"),
    (["service", "scale", "web", "-1"],
     "tripline service scale: unknown option '-1'\n"
     "run 'tripline help service' for the options\n"),
    (["service", "scale", "web", "x"],
     "tripline service scale: N must be a whole number from 0 to 2147483647, not 'x'\n"
     "run 'tripline help service' for the options\n"),
]


@pytest.mark.parametrize("args,stderr", MESSAGES, ids=[" ".join(m[0]) for m in MESSAGES])
def test_usage_message(cli, args, stderr):
    r = cli(*args, env={"TRIPLINE_ENDPOINT": url(dead_port())})
    assert (r.returncode, r.stdout, r.stderr) == (2, "", stderr)


@pytest.mark.parametrize("args", [["task", "list", "--desired-status", "STOPPED"],
                                  ["taskdef", "list", "--status", "INACTIVE"],
                                  ["service", "list", "--output", "json"]])
def test_choice_accepted(cli, args):
    # every listed value is accepted: the command goes on to the (dead) endpoint
    r = cli(*args, env={"TRIPLINE_ENDPOINT": url(dead_port())})
    assert r.returncode == 3, r.stderr
    assert "cannot connect to" in r.stderr
