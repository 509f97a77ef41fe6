"""The cost of one more day: a daily load (etl.py --incremental) against the same day loaded alone
and against a full rebuild, on one data set, in one run.

Run:  python bench/incremental.py [--events 1000000] [--songs 100000] [--seed 1] [--data-dir bench/data]
                                  [--dsn DSN] [--repeat 3] [--timeline]

With every day but the last loaded, the last day's file arrives and ``etl.py --incremental`` loads
it (the measured run); the same file is then loaded alone into an empty warehouse, and every file is
rebuilt from scratch (``etl.py``). Each is a whole etl.py process, as a user runs it. The input
folders hold links to the data set's files, so nothing is copied.

Each measured run starts after a ``CHECKPOINT``, so none pays for writing out what the run before
it left in memory. The daily load runs straight after the rebuild of every day but the last, with
no VACUUM between (CI's server has autovacuum off): its first reads of the rows just committed mark
them committed (hint bits), which a day of autovacuum would have done. Measured both ways, the
difference was within the run-to-run noise (docs/performance.md), so the harder case is the one
timed.

Repeats the whole measurement ``--repeat`` times (each from an empty schema) and prints each
repetition's times, then the medians and ``incremental_over_day_alone=<r> incremental_over_full=<f>``
of the medians (bench/run.py, which measures once, prints the same line).

It also counts the CPU time the whole machine spent during each run (the etl.py process, its
loader's workers and the server's processes alike, so nothing else should run),
and prints the least time the daily load's work could take on this machine's cores, however well it
ran in parallel: its CPU-seconds over the number of cores, against that day alone
(``incremental_cpu_floor_over_day_alone=<x>``). A ratio r below that floor needs less work, not more
overlap.

``--timeline`` instead runs the daily load once through ``bench/timeline.py`` and prints where its
time goes: each step, listing and check as it ends, in seconds from the start of the process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2

import harness


def link_inbox(root: Path, data: Path, logs: list[Path], songs: bool) -> Path:
    """An input folder of links: ``logs`` and, if ``songs``, the whole song_data folder."""
    (root / "log_data").mkdir(parents=True)
    for path in logs:
        target = root / path.relative_to(data)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(path, target)
    if songs:
        os.symlink(data / "song_data", root / "song_data", target_is_directory=True)
    else:
        (root / "song_data").mkdir()
    return root


def timed_etl(config: str, *flags: str) -> tuple[float, float]:
    """Seconds of one whole etl.py process, and the machine's CPU-seconds meanwhile."""
    busy = harness.machine_cpu_seconds()
    started = time.perf_counter()
    harness.run_child([str(harness.ROOT / "etl.py"), "--config", config, "-q", *flags])
    return time.perf_counter() - started, harness.machine_cpu_seconds() - busy


def checkpoint(params) -> None:
    """Everything the runs before left in memory written out, so the next run does not pay for it."""
    conn = psycopg2.connect(**params)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CHECKPOINT")
    finally:
        conn.close()


def days_but_the_last(params, data: Path, tmp: str) -> tuple[str, Path]:
    """Every day but the last loaded (a full rebuild), then the last day's file arrived: the daily
    load's config, and that file."""
    logs = sorted((data / "log_data").rglob("*.json"))
    daily = link_inbox(Path(tmp) / "daily", data, logs[:-1], songs=True)
    os.symlink(data / "log_json_path.json", daily / "log_json_path.json")
    daily_cfg = harness.write_config(tmp, params, daily, name="daily.cfg")
    harness.reset_schema(params)
    harness.run_child([str(harness.ROOT / "create_tables.py"), "--config", daily_cfg, "-q"])
    timed_etl(daily_cfg)  # every day but the last (and the files warm in the page cache)
    os.symlink(logs[-1], daily / logs[-1].relative_to(data))
    checkpoint(params)
    return daily_cfg, logs[-1]


def one_more_day(params, data: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds of the daily load of the last day, of that day alone, and of a full rebuild; and the
    machine's CPU-seconds during each."""
    create = str(harness.ROOT / "create_tables.py")
    with tempfile.TemporaryDirectory() as tmp:
        daily_cfg, last = days_but_the_last(params, data, tmp)
        alone = link_inbox(Path(tmp) / "alone", data, [last], songs=False)
        os.symlink(data / "log_json_path.json", alone / "log_json_path.json")
        alone_cfg = harness.write_config(tmp, params, alone, name="alone.cfg")
        measured = {"incremental": timed_etl(daily_cfg, "--incremental")}
        checkpoint(params)
        measured["full"] = timed_etl(daily_cfg)
        harness.reset_schema(params)
        harness.run_child([create, "--config", alone_cfg, "-q"])
        checkpoint(params)
        measured["day_alone"] = timed_etl(alone_cfg, "--incremental")  # an empty ledger: the day, and no songs yet
    names = ("incremental", "day_alone", "full")
    return {name: measured[name][0] for name in names}, {name: measured[name][1] for name in names}


def figures_line(seconds: dict[str, float]) -> str:
    return (f"incremental_over_day_alone={seconds['incremental'] / seconds['day_alone']:.2f}"
            f" incremental_over_full={seconds['incremental'] / seconds['full']:.3f}")


def cpu_lines(seconds: dict[str, float], cpu: dict[str, float]) -> list[str]:
    """The machine's CPU-seconds of each run, and the daily load's floor on this machine's cores."""
    cores = os.cpu_count() or 1
    floor = cpu["incremental"] / cores
    return [f"machine CPU-seconds on {cores} cores: one more day incremental {cpu['incremental']:.2f},"
            f" that day alone {cpu['day_alone']:.2f}, full rebuild {cpu['full']:.2f}; the daily load's work"
            f" cannot take less than {floor:.2f} s on {cores} cores",
            f"incremental_cpu_floor_over_day_alone={floor / seconds['day_alone']:.2f}"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--songs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=harness.ROOT / "bench" / "data")
    parser.add_argument("--dsn", help="a PostgreSQL server instead of the embedded one")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions; the figures are their medians")
    parser.add_argument("--timeline", action="store_true",
                        help="instead: the daily load once, each step printed as it ends (bench/timeline.py)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, not {args.repeat}")
    params = harness.server_params(args)
    data = harness.dataset(args.data_dir, args.events, args.songs, args.seed)
    if args.timeline:
        return timeline(params, data)
    runs, cpus = [], []
    try:
        for repetition in range(1, args.repeat + 1):
            seconds, cpu = one_more_day(params, data)
            runs.append(seconds)
            cpus.append(cpu)
            print(f"repetition {repetition}: {describe(seconds)}", flush=True)
    finally:
        harness.drop_schema(params)
    medians = {name: statistics.median(run[name] for run in runs) for name in runs[0]}
    print(f"{args.events:,} events, median of {len(runs)}: {describe(medians)}")
    print(figures_line(medians))
    cpu_medians = {name: statistics.median(cpu[name] for cpu in cpus) for name in cpus[0]}
    for line in cpu_lines(medians, cpu_medians):
        print(line)
    return 0


def timeline(params, data: Path) -> int:
    """The daily load of the last day, run once by bench/timeline.py: each step as it ends."""
    try:
        with tempfile.TemporaryDirectory() as tmp:
            daily_cfg, _ = days_but_the_last(params, data, tmp)
            started_at = time.time()
            result = subprocess.run([sys.executable, str(harness.ROOT / "bench" / "timeline.py"), "--config",
                                     daily_cfg, "--incremental"], cwd=harness.ROOT, text=True, capture_output=True,
                                    env={**os.environ, "TIMELINE_STARTED": repr(started_at)})
    finally:
        harness.drop_schema(params)
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        raise SystemExit(f"the daily load failed ({result.returncode}): {result.stderr.strip()}")
    return 0


def describe(seconds: dict[str, float]) -> str:
    return (f"one more day incremental {seconds['incremental']:.2f} s, that day alone {seconds['day_alone']:.2f} s,"
            f" full rebuild {seconds['full']:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
