"""Fault trials: SIGKILL etl.py at every statement boundary and at random moments; afterwards the
warehouse must be exactly the old or the new state, and a normal rerun must reach the new state.

Run:  python bench/kill_trials.py [--random 200] [--seed 7] [--dsn DSN] [--data-dir bench/data]
                                 [--embedded 40 [--embedded-only]] [--incremental]

State "old" is the shipped sample; state "new" is a generated data set. Each trial starts from the
old state, runs etl.py on the new data and kills it (just before step N, through bench/etl_killed.py,
or after a random delay), then compares a digest of every table's
full contents. Prints one line: ``trials=<n> violations=<n> reached_new_after_rerun=<n>``.

``--incremental`` kills daily loads instead: state "old" is four days and half the songs loaded by
``etl.py --incremental``, "new" the same after the last day and the other songs arrive; the ledger
is part of the digest (the run clock is not), and the new state's star schema must be a full
rebuild's. Prints ``incremental_trials=<n> violations=<n> reached_new_after_rerun=<n>``.

``--embedded N`` adds N trials on the embedded default itself, where each run starts and stops its
own server: at a random moment either the server's postmaster is SIGKILLed or etl.py gets SIGTERM.
The next process to start the server (the one that reads the digest) must succeed by itself, the
warehouse must be the old or the new state, and a rerun must reach the new one. Prints
``embedded_trials=<n> violations=<n> reached_new_after_rerun=<n> server_starts_failed=<n>``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from collections.abc import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg2  # noqa: E402
from psycopg2 import sql  # noqa: E402
from psycopg2.extensions import parse_dsn  # noqa: E402

import sql_queries as q  # noqa: E402
from sparkify import SAMPLE_DIR, engines, ledger, pipeline  # noqa: E402
from sparkify.config import load_config  # noqa: E402
from sparkify.generate import generate  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402  (bench/harness.py: the same dwh.cfg writer)

# a schema of this process's own: two trial runs on one server (two CI jobs) never share tables
SCHEMA = f"sparkify_kill_trials_{os.getpid()}"


def digest(params, tables=q.TABLES, leave_out=q.RUN_CLOCK) -> tuple:
    """md5 of each table's full contents, rows in a fixed order, without the columns ``leave_out``
    (by default when the runs happened: the ledger is compared, the clock is not)."""
    with psycopg2.connect(**params, options=f"-c search_path={SCHEMA}") as conn, conn.cursor() as cur:
        result = []
        for table in tables:
            columns = [sql.Identifier(name) for name in table.column_names if name not in leave_out]
            cur.execute(sql.SQL("SELECT md5(COALESCE(string_agg(r, '|' ORDER BY r), ''))"
                                " FROM (SELECT CAST(ROW({}) AS TEXT) AS r FROM {}) AS t")
                        .format(sql.SQL(", ").join(columns), sql.Identifier(table.name)))
            result.append(cur.fetchone()[0])
    conn.close()
    return tuple(result)


def star_digest(params) -> tuple:
    """The star schema's digest, songplay_id aside: what a daily load must share with a full rebuild."""
    return digest(params, q.STAR_TABLES, q.RUN_CLOCK + ("songplay_id",))


def write_config(directory: str, params: dict, data: Path, name: str) -> str:
    return harness.write_config(directory, params, data, name=name, schema=SCHEMA)


def etl(config: str, kill_at: int | None = None, *flags: str) -> subprocess.Popen:
    """etl.py on ``config``; with ``kill_at``, killed by itself just before that step (bench/etl_killed.py)."""
    command = [str(ROOT / "etl.py")] if kill_at is None else [str(ROOT / "bench" / "etl_killed.py"), str(kill_at)]
    return subprocess.Popen([sys.executable, *command, "--config", config, "-q", *flags], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def generated(data_dir: Path) -> Path:
    new_data = data_dir / "kill-trials-new"
    if not (new_data / ".complete").exists():
        generate(str(new_data), events=3000, songs=200, days=5, seed=99)
        (new_data / ".complete").write_text("")
    return new_data


def schema_statement(params, statement: str) -> None:
    with psycopg2.connect(**params) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL(statement).format(sql.Identifier(SCHEMA)))
    conn.close()


def run_trials(params, data_dir: Path, random_trials: int, seed: int) -> dict:
    new_data = generated(data_dir)
    with tempfile.TemporaryDirectory() as tmp:
        old_cfg = write_config(tmp, params, SAMPLE_DIR, "old.cfg")
        new_cfg = write_config(tmp, params, new_data, "new.cfg")
        subprocess.run([sys.executable, str(ROOT / "create_tables.py"), "--config", old_cfg, "-q"], cwd=ROOT,
                       check=True)
        assert etl(new_cfg).wait() == 0
        new_state = digest(params)
        assert etl(old_cfg).wait() == 0
        old_state = digest(params)
        new_config = load_config(new_cfg)
        steps = len(pipeline.etl_steps(engines.PostgresEngine(), new_config, ledger.unlisted(new_config)))

        def back_to_old() -> None:
            if digest(params) != old_state:
                assert etl(old_cfg).wait() == 0

        return kill_each(params, "trials", steps, random_trials, seed, old_state, new_state, back_to_old,
                         lambda kill_at: etl(new_cfg, kill_at))


def run_incremental_trials(params, data_dir: Path, random_trials: int, seed: int) -> dict:
    """Daily loads: state "old" has the first four days and half the songs, loaded by etl.py
    --incremental; the last day and the other songs arrive (songs after their plays), and etl.py
    --incremental is killed just before each step and at random moments. Afterwards the warehouse,
    ledger included, must be the old or the new state; a rerun must reach the new one, whose star
    schema is a full rebuild's of the same files (songplay_id aside)."""
    new_data = generated(data_dir)
    logs = sorted((new_data / "log_data").rglob("*.json"))
    songs = sorted((new_data / "song_data").rglob("*.json"))
    later = logs[-1:] + songs[len(songs) // 2:]
    with tempfile.TemporaryDirectory() as tmp:
        inbox = Path(tmp) / "inbox"
        (inbox / "log_data").mkdir(parents=True)
        shutil.copyfile(new_data / "log_json_path.json", inbox / "log_json_path.json")
        cfg = write_config(tmp, params, inbox, "daily.cfg")

        def deliver(files) -> None:
            for path in files:
                target = inbox / path.relative_to(new_data)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)  # its time too: the ledger keeps it

        def back_to_old() -> None:
            for path in later:
                (inbox / path.relative_to(new_data)).unlink(missing_ok=True)
            subprocess.run([sys.executable, str(ROOT / "create_tables.py"), "--config", cfg, "-q"], cwd=ROOT,
                           check=True, stderr=subprocess.DEVNULL)
            assert etl(cfg, None, "--incremental").wait() == 0

        deliver(logs[:-1] + songs[:len(songs) // 2])
        back_to_old()
        old_state = digest(params)
        deliver(later)
        assert etl(cfg, None, "--incremental").wait() == 0
        new_state, new_star = digest(params), star_digest(params)
        assert etl(cfg).wait() == 0  # a full rebuild of the same files
        if star_digest(params) != new_star:
            raise SystemExit("the daily loads' star schema is not the full rebuild's")
        back_to_old()
        config = load_config(cfg)
        batch = ledger.unlisted(config)
        steps = len(pipeline.etl_steps(engines.PostgresEngine(), config, dataclasses.replace(batch, incremental=True)))

        def old_and_later_delivered() -> None:
            if digest(params) != old_state:
                back_to_old()
            deliver(later)

        return kill_each(params, "incremental_trials", steps, random_trials, seed, old_state, new_state,
                         old_and_later_delivered, lambda kill_at: etl(cfg, kill_at, "--incremental"))


def kill_each(params, name: str, steps: int, random_trials: int, seed: int, old_state: tuple, new_state: tuple,
              reset: Callable[[], None], start: Callable[[int | None], subprocess.Popen]) -> dict:
    """From the old state (``reset``), a run (``start(kill_at)``) killed just before each of its
    ``steps`` and its COMMIT, then at ``random_trials`` random moments; after each, the warehouse must
    be the old or the new state, and a rerun that is not killed must reach the new one."""
    plans = [("step", n) for n in range(steps + 1)] + [("random", None)] * random_trials
    rng = random.Random(seed)
    counts = {name: 0, "violations": 0, "reached_new_after_rerun": 0}
    for kind, step in plans:
        reset()
        if kind == "step":
            start(step).wait()
        else:
            child = start(None)
            time.sleep(rng.uniform(0.0, 1.5))
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
            child.wait()
        counts[name] += 1
        if digest(params) not in (old_state, new_state):
            counts["violations"] += 1
        if start(None).wait() == 0 and digest(params) == new_state:
            counts["reached_new_after_rerun"] += 1
    return counts


def embedded_digest(pgdata: Path) -> tuple | None:
    """The digest, read by a process of its own that starts (and at exit stops) the embedded server,
    as the next run would; None if the server cannot be started."""
    result = subprocess.run([sys.executable, __file__, "--digest-embedded", str(pgdata)], cwd=ROOT,
                            capture_output=True, text=True)
    return tuple(result.stdout.split()) if result.returncode == 0 else None


def embedded_etl(pgdata: Path, config: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "etl.py"), "--config", config, "-q"], cwd=ROOT,
                            env={**os.environ, "SPARKIFY_EMBEDDED_DIR": str(pgdata)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_embedded_trials(data_dir: Path, trials: int, seed: int) -> dict:
    """SIGKILL to the postmaster, or SIGTERM to etl.py, at random moments of runs that own their server."""
    new_data = data_dir / "kill-trials-new-embedded"
    if not (new_data / ".complete").exists():
        generate(str(new_data), events=60_000, songs=2_000, days=3, seed=98)
        (new_data / ".complete").write_text("")
    counts = {"embedded_trials": 0, "violations": 0, "reached_new_after_rerun": 0, "server_starts_failed": 0}
    with tempfile.TemporaryDirectory() as tmp:
        pgdata = Path(tmp) / "pgdata"
        old_cfg = os.path.join(tmp, "sample.cfg")  # no [CLUSTER]: the embedded default and the shipped sample
        Path(old_cfg).write_text("[S3]\nMAX_ERRORS=0\n")
        new_cfg = os.path.join(tmp, "new.cfg")
        Path(new_cfg).write_text(f"[S3]\nLOG_DATA={new_data / 'log_data'}\nSONG_DATA={new_data / 'song_data'}\n"
                                 f"LOG_JSONPATH={new_data / 'log_json_path.json'}\n")
        env = {**os.environ, "SPARKIFY_EMBEDDED_DIR": str(pgdata)}
        subprocess.run([sys.executable, str(ROOT / "create_tables.py"), "--config", old_cfg, "-q"], cwd=ROOT,
                       env=env, check=True)
        assert embedded_etl(pgdata, new_cfg).wait() == 0
        new_state = embedded_digest(pgdata)
        assert embedded_etl(pgdata, old_cfg).wait() == 0
        old_state = embedded_digest(pgdata)
        rng = random.Random(seed)
        for number in range(trials):
            child = embedded_etl(pgdata, new_cfg)
            time.sleep(rng.uniform(0.3, 2.5))
            if number % 2 == 0:  # the server dies under the run
                try:
                    os.kill(int((pgdata / "postmaster.pid").read_text().split()[0]), signal.SIGKILL)
                except (OSError, ValueError, IndexError):
                    pass  # not up yet, or already gone
            elif child.poll() is None:
                child.send_signal(signal.SIGTERM)
            child.wait()
            counts["embedded_trials"] += 1
            state = embedded_digest(pgdata)  # at once: a killed postmaster may still be a zombie
            if state is None:
                counts["server_starts_failed"] += 1
            elif state not in (old_state, new_state):
                counts["violations"] += 1
            if embedded_etl(pgdata, new_cfg).wait() == 0 and embedded_digest(pgdata) == new_state:
                counts["reached_new_after_rerun"] += 1
            assert embedded_etl(pgdata, old_cfg).wait() == 0
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--random", type=int, default=200, help="kills at random moments (default 200)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dsn", help="a PostgreSQL server instead of the embedded one")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "data")
    parser.add_argument("--embedded", type=int, default=0, metavar="N",
                        help="also N trials on the embedded default (postmaster SIGKILL, etl.py SIGTERM)")
    parser.add_argument("--embedded-only", action="store_true", help="run only the --embedded trials")
    parser.add_argument("--incremental", action="store_true",
                        help="kill daily loads (etl.py --incremental) instead of full rebuilds")
    parser.add_argument("--digest-embedded", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.digest_embedded:
        from sparkify.db import embedded_connect_params

        global SCHEMA
        SCHEMA = "public"
        print(" ".join(digest(embedded_connect_params(args.digest_embedded))))
        return 0
    args.data_dir.mkdir(parents=True, exist_ok=True)
    if args.embedded:
        embedded = run_embedded_trials(args.data_dir, args.embedded, args.seed)
        print(" ".join(f"{key}={value}" for key, value in embedded.items()))
        if embedded["violations"] or embedded["server_starts_failed"] or \
                embedded["reached_new_after_rerun"] != embedded["embedded_trials"]:
            return 1
        if args.embedded_only:
            return 0
    if args.dsn or os.environ.get("SPARKIFY_BENCH_DSN"):
        params = parse_dsn(args.dsn or os.environ["SPARKIFY_BENCH_DSN"])
    else:
        from sparkify.db import embedded_connect_params

        params = embedded_connect_params(args.data_dir.resolve() / "pgdata")
    trials = run_incremental_trials if args.incremental else run_trials
    schema_statement(params, "DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}")
    try:
        counts = trials(params, args.data_dir, args.random, args.seed)
    finally:
        schema_statement(params, "DROP SCHEMA IF EXISTS {0} CASCADE")
    print(" ".join(f"{key}={value}" for key, value in counts.items()))
    runs = counts.get("trials", counts.get("incremental_trials"))
    return 1 if counts["violations"] or counts["reached_new_after_rerun"] != runs else 0


if __name__ == "__main__":
    sys.exit(main())
