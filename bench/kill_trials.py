"""Fault trials: SIGKILL etl.py at every statement boundary and at random moments; afterwards the
warehouse must be exactly the old or the new state, and a normal rerun must reach the new state.

Run:  python bench/kill_trials.py [--random 200] [--seed 7] [--dsn DSN] [--data-dir bench/data]

State "old" is the shipped sample; state "new" is a generated data set. Each trial starts from the
old state, runs etl.py on the new data and kills it (at step N through the test hook
SPARKIFY_TEST_KILL_AT_STEP, or after a random delay), then compares a digest of every table's
full contents. Prints one line: ``trials=<n> violations=<n> reached_new_after_rerun=<n>``.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg2  # noqa: E402
from psycopg2 import sql  # noqa: E402
from psycopg2.extensions import parse_dsn  # noqa: E402

import sql_queries as q  # noqa: E402
from sparkify import SAMPLE_DIR, pipeline  # noqa: E402
from sparkify.config import load_config  # noqa: E402
from sparkify.generate import generate  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench_run  # noqa: E402  (bench/run.py: the same dwh.cfg writer)

SCHEMA = "sparkify_kill_trials"


def digest(params) -> tuple:
    """md5 of each project table's full contents, rows in a fixed order."""
    with psycopg2.connect(**params, options=f"-c search_path={SCHEMA}") as conn, conn.cursor() as cur:
        result = []
        for name in q.PROJECT_TABLE_NAMES:
            cur.execute(sql.SQL("SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} AS t")
                        .format(sql.Identifier(name)))
            result.append(cur.fetchone()[0])
    conn.close()
    return tuple(result)


def write_config(directory: str, params: dict, data: Path, name: str) -> str:
    return bench_run.write_config(directory, params, data, name=name, schema=SCHEMA)


def etl(config: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "etl.py"), "--config", config, "-q"], cwd=ROOT,
                            env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_trials(params, data_dir: Path, random_trials: int, seed: int) -> dict:
    with psycopg2.connect(**params) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}").format(sql.Identifier(SCHEMA)))
    conn.close()
    new_data = data_dir / "kill-trials-new"
    if not (new_data / ".complete").exists():
        generate(str(new_data), events=3000, songs=200, days=5, seed=99)
        (new_data / ".complete").write_text("")
    with tempfile.TemporaryDirectory() as tmp:
        old_cfg = write_config(tmp, params, SAMPLE_DIR, "old.cfg")
        new_cfg = write_config(tmp, params, new_data, "new.cfg")
        subprocess.run([sys.executable, str(ROOT / "create_tables.py"), "--config", old_cfg, "-q"], cwd=ROOT,
                       check=True)
        assert etl(new_cfg).wait() == 0
        new_state = digest(params)
        assert etl(old_cfg).wait() == 0
        old_state = digest(params)
        steps = len(pipeline.etl_steps("postgres", load_config(new_cfg)))
        plans = [("step", n) for n in range(steps + 1)] + [("random", None)] * random_trials
        rng = random.Random(seed)
        counts = {"trials": 0, "violations": 0, "reached_new_after_rerun": 0}
        for kind, step in plans:
            if digest(params) != old_state:
                assert etl(old_cfg).wait() == 0
            if kind == "step":
                child = etl(new_cfg, {pipeline.KILL_HOOK: str(step)})
                child.wait()
            else:
                child = etl(new_cfg)
                time.sleep(rng.uniform(0.0, 1.5))
                if child.poll() is None:
                    child.send_signal(signal.SIGKILL)
                child.wait()
            counts["trials"] += 1
            if digest(params) not in (old_state, new_state):
                counts["violations"] += 1
            if etl(new_cfg).wait() == 0 and digest(params) == new_state:
                counts["reached_new_after_rerun"] += 1
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--random", type=int, default=200, help="kills at random moments (default 200)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dsn", help="a PostgreSQL server instead of the embedded one")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "data")
    args = parser.parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    if args.dsn or os.environ.get("SPARKIFY_BENCH_DSN"):
        params = parse_dsn(args.dsn or os.environ["SPARKIFY_BENCH_DSN"])
    else:
        from sparkify.db import embedded_connect_params

        params = embedded_connect_params(args.data_dir.resolve() / "pgdata")
    counts = run_trials(params, args.data_dir, args.random, args.seed)
    print(" ".join(f"{key}={value}" for key, value in counts.items()))
    return 1 if counts["violations"] or counts["reached_new_after_rerun"] != counts["trials"] else 0


if __name__ == "__main__":
    sys.exit(main())
