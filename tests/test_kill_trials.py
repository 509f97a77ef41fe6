"""A short version of bench/kill_trials.py: SIGKILL at every statement boundary and at a few
random moments leaves exactly the old or the new warehouse, and a rerun reaches the new one."""

import dataclasses
import re
import subprocess
import sys

from psycopg2.extensions import make_dsn

import sql_queries as q
from conftest import ROOT
from sparkify import engines, ledger, pipeline
from sparkify.config import load_config


def kill_trials(tmp_path, *flags: str) -> str:
    """bench/kill_trials.py's one line; it must exit 0 (no violation, every rerun reached the new state)."""
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "kill_trials.py"), *flags,
                             "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_kill_at_every_statement_boundary(tmp_path, pg_params):
    out = kill_trials(tmp_path, "--random", "3", "--dsn", make_dsn(**pg_params))
    match = re.fullmatch(r"trials=(\d+) violations=0 reached_new_after_rerun=(\d+)\n", out)
    assert match, out
    # a kill before each statement of the plan etl.py runs, one just before COMMIT, and 3 at random
    sample = load_config(tmp_path / "no.cfg")
    steps = len(pipeline.etl_steps(engines.PostgresEngine(), sample, ledger.unlisted(sample)))
    assert steps > len(q.QUALITY_CHECKS) + 10
    assert int(match.group(1)) == int(match.group(2)) == steps + 1 + 3


def test_kill_a_daily_load_at_every_statement_boundary(tmp_path, pg_params):
    """etl.py --incremental killed anywhere: the old or the new state, ledger included; a rerun
    reaches the new state, which is a full rebuild's star schema (the script checks that too)."""
    out = kill_trials(tmp_path, "--incremental", "--random", "1", "--dsn", make_dsn(**pg_params))
    match = re.fullmatch(r"incremental_trials=(\d+) violations=0 reached_new_after_rerun=(\d+)\n", out)
    assert match, out
    sample = load_config(tmp_path / "no.cfg")
    batch = dataclasses.replace(ledger.unlisted(sample), incremental=True)
    steps = len(pipeline.etl_steps(engines.PostgresEngine(), sample, batch))
    assert int(match.group(1)) == int(match.group(2)) == steps + 1 + 1


def test_embedded_server_survives_kills_and_sigterm(tmp_path):
    """Runs that own their embedded server: the postmaster SIGKILLed, or etl.py SIGTERMed, at random
    moments; the next start succeeds at once and the warehouse is the old or the new one."""
    assert kill_trials(tmp_path, "--embedded", "4", "--embedded-only") == (
        "embedded_trials=4 violations=0 reached_new_after_rerun=4 server_starts_failed=0\n")
