"""A short run of the benchmark, so it cannot rot (figures live in the benchmark, not in tests)."""

import collections
import re
import subprocess
import sys

import pytest
from psycopg2.extensions import make_dsn

import sql_queries as q
from conftest import ROOT

ONE_MORE_DAY = r"one more day incremental [\d.]+ s, that day alone [\d.]+ s, full rebuild [\d.]+ s"
FIGURES = r"incremental_over_day_alone=\d+\.\d\d incremental_over_full=\d+\.\d\d\d"
CPU = (r"machine CPU-seconds on \d+ cores: one more day incremental [\d.]+, that day alone [\d.]+, full rebuild"
       r" [\d.]+; the daily load's work cannot take less than [\d.]+ s on \d+ cores")
CPU_FLOOR = r"incremental_cpu_floor_over_day_alone=\d+\.\d\d"


def test_benchmark_runs_and_prints_its_figures(tmp_path, pg_params):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--events", "3000", "--songs", "300", "--insert-slice", "500",
         "--scales", "1000,2000", "--data-dir", str(tmp_path), "--dsn", make_dsn(**pg_params)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    labels = [line.split("  ")[0] for line in lines]
    for label in ("limit: COPY FROM STDIN, events pre-rendered", "project: events -> staging",
                  "project: end to end (create_tables + etl)", "peer: execute_values, events",
                  "peer: DuckDB end to end, same files and SQL", "loader: events -> staging, plain files",
                  "loader: events -> staging, the same files gzip'd"):
        assert label in labels
    assert any(re.fullmatch(r"gzip_events_over_plain=\d+\.\d\d", line) for line in lines)
    day = next(index for index, line in enumerate(lines) if line.startswith("one more day"))
    assert re.fullmatch(ONE_MORE_DAY, lines[day])
    assert re.fullmatch(FIGURES, lines[day + 1])
    assert re.fullmatch(CPU, lines[day + 2])
    assert re.fullmatch(CPU_FLOOR, lines[day + 3])
    assert re.fullmatch(r"end_to_end_over_copy_limit=\d+\.\d\d peak_rss_mb=\d+", lines[-1])
    assert re.match(r"\s*1,000\s+100\s+[\d.,]+\s+[\d.,]+\s+[\d,]+\s+[\d,]+$", lines[-3])


def test_daily_load_benchmark_prints_each_repetition_and_the_medians(tmp_path, pg_params):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "incremental.py"), "--events", "2000", "--songs", "200", "--repeat", "2",
         "--data-dir", str(tmp_path), "--dsn", make_dsn(**pg_params)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [bool(re.fullmatch(pattern, line)) for pattern, line in zip(
        [f"repetition 1: {ONE_MORE_DAY}", f"repetition 2: {ONE_MORE_DAY}", f"2,000 events, median of 2: {ONE_MORE_DAY}",
         FIGURES, CPU, CPU_FLOOR], lines, strict=True)] == [True] * 6


def test_daily_load_timeline_prints_each_step_as_it_ends(tmp_path, pg_params):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "incremental.py"), "--events", "2000", "--songs", "200", "--timeline",
         "--data-dir", str(tmp_path), "--dsn", make_dsn(**pg_params)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    parsed = [re.fullmatch(r" *(\d+\.\d\d) +(\d+\.\d\d)  (\S+) +(.+)", line) for line in lines]
    assert all(parsed), lines
    cpu = [float(match[2]) for match in parsed]
    assert cpu == sorted(cpu) and cpu[-1] > 0  # the machine's CPU-seconds since the start, never going back
    said = [(match[3], match[4]) for match in parsed]
    assert said[-1] == ("MainThread", "etl.py ended (exit 0)")
    [songs] = [what for thread, what in said if thread.startswith("sparkify-list") and "song_data" in what]
    assert re.fullmatch(r"listed 200 files under \S+/song_data \(\[S3\] SONG_DATA\) in \d+\.\d\ds", songs)
    assert ("MainThread", "staging_events: 1 new file, 29 loaded before") in said
    checks = [what.rsplit(" in ", 1)[0] for thread, what in said if " violations in " in what]
    enforced = {name for name, _ in q.UNIQUE_KEY_CHECKS + q.NOT_NULL_CHECKS}
    assert checks == [f"{name}: 0 violations" for name, _ in q.QUALITY_CHECKS if name not in enforced]


def test_daily_load_benchmark_refuses_no_repetitions(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "incremental.py"), "--repeat", "0",
                             "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith("error: --repeat must be at least 1, not 0")
    assert list(tmp_path.iterdir()) == []


def test_s3_read_benchmark_runs_against_moto_server():
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "s3_read.py"), "--objects", "60", "--pools", "1,16",
                             "--latency-ms", "0,10"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[:3] for line in lines[3:7]] == [["0", "ms", "1"], ["0", "ms", "16"], ["10", "ms", "1"],
                                                         ["10", "ms", "16"]]
    assert re.fullmatch(r"s3_read_speedup=\d+\.\d\d objects=60", lines[-1])  # the figure itself: README


def _bench_module(name):
    sys.path.insert(0, str(ROOT / "bench"))
    return __import__(name)


def test_daily_load_cpu_floor_is_its_cpu_seconds_over_the_cores(monkeypatch):
    incremental = _bench_module("incremental")
    monkeypatch.setattr(incremental.os, "cpu_count", lambda: 2)
    seconds = {"incremental": 3.0, "day_alone": 0.8, "full": 20.0}
    assert incremental.cpu_lines(seconds, {"incremental": 4.0, "day_alone": 0.9, "full": 27.0}) == [
        "machine CPU-seconds on 2 cores: one more day incremental 4.00, that day alone 0.90, full rebuild 27.00;"
        " the daily load's work cannot take less than 2.00 s on 2 cores",
        "incremental_cpu_floor_over_day_alone=2.50"]


def test_machine_cpu_seconds_count_every_busy_field_and_no_idle_one(monkeypatch):
    harness = _bench_module("harness")
    fields = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")
    # guest time is inside user time already
    times = collections.namedtuple("scputimes", fields)(1.0, 0.2, 0.3, 50.0, 0.4, 0.05, 0.06, 0.07, 1.0, 0.0)
    monkeypatch.setattr(harness.psutil, "cpu_times", lambda: times)
    assert harness.machine_cpu_seconds() == pytest.approx(1.0 + 0.2 + 0.3 + 0.05 + 0.06 + 0.07)
