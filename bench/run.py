"""Benchmark the PostgreSQL path against the machine's limit and the loaders people reach for.

Run:  python bench/run.py [--events 1000000] [--songs 100000] [--seed 1]
                          [--scales 100000,1000000,10000000] [--insert-slice 20000] [--no-duckdb]
                          [--data-dir bench/data] [--dsn DSN]

Generates the data with the project's own generator (cached under --data-dir), then measures, in
one run on the same data:
1. the limit: a plain ``COPY ... FROM STDIN`` into staging_events of the same event rows, already
   rendered in memory, in COPY's text format and in the CSV format the loader sends (the faster
   of the two is the limit);
2. the project's own run (create_tables.py + etl.py, in a child process whose peak RSS is taken),
   and each stage of it; after one warm-up run, so files are read warm from the page cache;
3. peers: a per-row INSERT loader (a slice, extrapolated, and said so), psycopg2's execute_values,
   and DuckDB reading the same files into the same star schema;
4. compressed input: staging_events loaded from the event files and from the same files gzip'd
   (``[S3] LOG_COMPRESSION = gzip``), in turn, printed as ``gzip_events_over_plain=<ratio>``;
5. one more day (bench/incremental.py): ``etl.py --incremental`` after the last day's file arrives,
   against that day alone into an empty warehouse and a full rebuild, printed as
   ``incremental_over_day_alone=<r> incremental_over_full=<f>``.
Prints a table, then one line: ``end_to_end_over_copy_limit=<ratio> peak_rss_mb=<n>``.
With --scales, also runs the project end to end at each number of events (songs = events / 10)
and prints seconds per row and peak RSS for each. The server is an embedded PostgreSQL in
--data-dir unless --dsn (or SPARKIFY_BENCH_DSN) names another.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import math
import re
import sys
import tempfile
import time
from pathlib import Path

import psycopg2
from psycopg2 import sql
from psycopg2.extras import execute_values

from harness import ROOT, connect, dataset, drop_schema, reset_schema, run_child, server_params, write_config

import incremental  # after harness, which puts the project's root on sys.path
import sql_queries as q
from sparkify import loader, sources
from sparkify.loader.load import read_paths_file
from sparkify.loader.mapping import MappingSpec
from sparkify.loader.reader import read_objects
from sparkify.loader.render import copy_lines
from sparkify.source import Source, TableInput

STAGE_LINE = re.compile(r"^([a-z][a-z_' ]*?)\s{2,}([\d,]+)\s+([\d.]+)\s")


def run_project(params, data: Path) -> dict:
    """create_tables.py + etl.py as a user runs them; stage figures parsed from etl's summary."""
    reset_schema(params)
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(tmp, params, data)
        create_seconds, create_rss, _ = run_child([str(ROOT / "create_tables.py"), "--config", config, "-q"])
        etl_seconds, etl_rss, out = run_child([str(ROOT / "etl.py"), "--config", config])
    stages = {}
    for line in out.splitlines():
        match = STAGE_LINE.match(line)
        if match:
            stages[match.group(1)] = (int(match.group(2).replace(",", "")), float(match.group(3)))
    return {"seconds": create_seconds + etl_seconds, "rss": max(create_rss[0], etl_rss[0]),
            "worker_rss": etl_rss[1], "stages": stages}


def events_input(log_data: Path, data: Path, stored_as: str = "none") -> TableInput:
    """staging_events from ``log_data``, with the JSONPaths file of ``data``."""
    paths = str(data / "log_json_path.json")
    return TableInput(q.STAGING_EVENTS, Source(str(log_data), "bench", compression=stored_as), paths,
                      Source(paths, "bench"))


def event_rows(data: Path):
    """The staging_events rows, mapped as the project's loader maps them."""
    spec = events_input(data / "log_data", data)
    mapping = MappingSpec(spec.table, spec.json_format, read_paths_file(spec)).build()
    for obj in sources.list_objects(spec.data):
        with obj.open() as stream:
            for _, record in read_objects(stream, obj.uri):
                yield mapping.row(record)


_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _text_line(values) -> str:
    """One row in COPY's text format (tab-separated, backslash escapes, NULL as \\N)."""
    return "\t".join("\\N" if value is None else str(value).translate(_TEXT_ESCAPES) for value in values) + "\n"


def rendered_events(data: Path) -> dict[str, tuple[sql.Composable, bytes]]:
    """The staging_events rows rendered for COPY in memory: in the text format, and in the CSV format
    the project's loader sends (statement, payload); FREEZE, as the project's load, after TRUNCATE."""
    text, csv, rows = [], [], event_rows(data)
    while batch := list(itertools.islice(rows, 1000)):  # never all the rows in memory at once
        text.append("".join(map(_text_line, batch)).encode())
        csv.append(copy_lines(batch))
    text, csv = b"".join(text), b"".join(csv)
    columns = sql.SQL(", ").join(map(sql.Identifier, q.STAGING_EVENTS.column_names))
    return {"text": (sql.SQL("COPY staging_events ({}) FROM STDIN WITH (FREEZE)").format(columns), text),
            "csv": (q.copy_from_stdin(q.STAGING_EVENTS, freeze=True), csv)}


def copy_limit(params, data: Path) -> tuple[int, dict[str, float]]:
    """Seconds of a plain COPY FROM STDIN of the pre-rendered event rows, the best of two runs, for
    each format: (rows, {format: seconds})."""
    best = {}
    with connect(params) as conn, conn.cursor() as cur:
        for name, (statement, payload) in rendered_events(data).items():
            rows = payload.count(b"\n")
            for _ in range(2):
                cur.execute("TRUNCATE staging_events")
                started = time.perf_counter()
                cur.copy_expert(statement, io.BytesIO(payload), size=1 << 18)
                best[name] = min(best.get(name, math.inf), time.perf_counter() - started)
        conn.rollback()
    conn.close()
    return rows, best


def event_tuples(data: Path):
    """Events as tuples in staging column order: what a typical hand-written loader builds."""
    keys = [p[3:-2] for p in json.loads((data / "log_json_path.json").read_text())["jsonpaths"]]
    for path in sorted((data / "log_data").rglob("*.json")):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    event = json.loads(line)
                    yield tuple(event.get(key) for key in keys)


def per_row_insert(params, data: Path, slice_rows: int, total_rows: int) -> float:
    """Seconds for all events by one INSERT per row, extrapolated from the first ``slice_rows``."""
    statement = sql.SQL("INSERT INTO staging_events ({}) VALUES ({})").format(
        sql.SQL(", ").join(map(sql.Identifier, q.STAGING_EVENTS.column_names)),
        sql.SQL(", ").join(sql.Placeholder() * len(q.STAGING_EVENTS.columns)))
    with connect(params) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE staging_events")
        started = time.perf_counter()
        done = 0
        for row in event_tuples(data):
            cur.execute(statement, row)
            done += 1
            if done == slice_rows:
                break
        conn.commit()
        seconds = time.perf_counter() - started
    conn.close()
    return seconds * total_rows / done


def with_execute_values(params, data: Path) -> float:
    statement = sql.SQL("INSERT INTO staging_events ({}) VALUES %s").format(
        sql.SQL(", ").join(map(sql.Identifier, q.STAGING_EVENTS.column_names)))
    with connect(params) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE staging_events")
        started = time.perf_counter()
        execute_values(cur, statement, event_tuples(data), page_size=1000)
        conn.commit()
        seconds = time.perf_counter() - started
    conn.close()
    return seconds


def duckdb_peer(data: Path) -> float:
    """DuckDB reads the same files into the same staging and star tables with the same inserts."""
    import duckdb

    from sparkify.sqltext import render

    con = duckdb.connect()
    started = time.perf_counter()
    for table in q.TABLES:
        columns = ", ".join(f'"{c.name}" {c.type}' for c in table.columns)
        con.execute(f'CREATE TABLE "{table.name}" ({columns})')
    keys = [p[3:-2] for p in json.loads((data / "log_json_path.json").read_text())["jsonpaths"]]
    event_columns = {key: column.type for key, column in zip(keys, q.STAGING_EVENTS.columns)}
    select = ", ".join(f'"{key}"' for key in keys)
    con.execute(f"INSERT INTO staging_events SELECT {select} FROM read_json(?, format='newline_delimited',"
                f" columns={event_columns!r})", [str(data / "log_data" / "**" / "*.json")])
    song_columns = {c.name: c.type for c in q.STAGING_SONGS.columns}
    con.execute(f"INSERT INTO staging_songs SELECT {', '.join(song_columns)} FROM read_json(?, format='auto',"
                f" columns={song_columns!r})", [str(data / "song_data" / "**" / "*.json")])
    for statement in [q.record_run(False, "2026-01-01 00:00:00")] + [t.statement for t in q.TRANSFORM_QUERIES]:
        con.execute(render(statement))
    seconds = time.perf_counter() - started
    con.close()
    return seconds


def table(rows: list[tuple]) -> str:
    from sparkify.tables import format_table

    return format_table(("measure", "rows", "seconds", "rows/s", "x limit", "peak RSS MB"), rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--songs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scales", default="", help="comma-separated event counts for the scaling table"
                        " (song files: a tenth of the events, at most 100,000)")
    parser.add_argument("--only-scales", action="store_true", help="run only the scaling table")
    parser.add_argument("--insert-slice", type=int, default=20_000, help="rows timed for the per-row INSERT peer")
    parser.add_argument("--no-duckdb", action="store_true", help="leave out the DuckDB peer")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "data")
    parser.add_argument("--dsn", help="a PostgreSQL server instead of the embedded one")
    args = parser.parse_args(argv)

    params = server_params(args)
    try:
        return measure_all(params, args)
    finally:
        drop_schema(params)


def measure_all(params, args) -> int:
    if args.only_scales:
        print(scaling_table(params, args))
        return 0
    data = dataset(args.data_dir, args.events, args.songs, args.seed)
    run_project(params, data)  # warm-up: the measured run reads files from the page cache, as a rerun does
    project = run_project(params, data)  # leaves the staging tables in the bench schema for the peers
    events, formats = copy_limit(params, data)
    limit = min(formats.values())
    stages = project["stages"]
    rss_mb = round(project["rss"] / 2**20)

    def measure(label, rows, seconds, rss=None):
        return (label, rows, round(seconds, 2), round(rows / seconds) if seconds else None,
                round(seconds / limit, 2), rss)

    event_rows, event_seconds = stages["load staging_events"]
    song_rows, song_seconds = stages["load staging_songs"]
    transform = sum(seconds for name, (_, seconds) in stages.items() if not name.startswith("load "))
    rows = [
        measure("limit: COPY FROM STDIN, events pre-rendered", events, limit),
        measure("project: events -> staging", event_rows, event_seconds),
        measure("project: song files -> staging (rows = files)", song_rows, song_seconds),
        measure("project: transform (every statement after the loads)", stages["insert songplays"][0], transform),
        measure("project: end to end (create_tables + etl)", events, project["seconds"], rss_mb),
        measure(f"peer: per-row INSERT, events (from {args.insert_slice:,})", events,
                per_row_insert(params, data, min(args.insert_slice, events), events)),
        measure("peer: execute_values, events", events, with_execute_values(params, data)),
    ]
    if not args.no_duckdb:
        rows.append(measure("peer: DuckDB end to end, same files and SQL", events, duckdb_peer(data)))
    plain_seconds, gzip_seconds = events_load_seconds(params, data, gzipped_events(data))
    rows.append(measure("loader: events -> staging, plain files", events, plain_seconds))
    rows.append(measure("loader: events -> staging, the same files gzip'd", events, gzip_seconds))
    print(f"{events:,} events, {song_rows:,} song files; PostgreSQL {server_version(params)}")
    print(table(rows))
    print(f"(the limit is the faster of COPY's text format, {formats['text']:.2f} s, and the CSV format the loader"
          f" sends, {formats['csv']:.2f} s; peak RSS of the largest loader worker process:"
          f" {round(project['worker_rss'] / 2**20)} MB)")
    print(f"gzip_events_over_plain={gzip_seconds / plain_seconds:.2f}")
    one_more_day, cpu = incremental.one_more_day(params, data)
    print(incremental.describe(one_more_day))
    print(incremental.figures_line(one_more_day))
    for line in incremental.cpu_lines(one_more_day, cpu):
        print(line)

    if args.scales:
        print()
        print(scaling_table(params, args))
    print(f"end_to_end_over_copy_limit={project['seconds'] / limit:.2f} peak_rss_mb={rss_mb}")
    return 0


def scaling_table(params, args) -> str:
    """The project end to end at each event count: seconds, time per event, peak RSS."""
    from sparkify.tables import format_table

    rows = []
    for count in [int(n) for n in args.scales.split(",") if n]:
        songs = min(max(count // 10, 10), 100_000)
        result = run_project(params, dataset(args.data_dir, count, songs, args.seed))
        rows.append((count, songs, round(result["seconds"], 2), round(result["seconds"] / count * 1e6, 2),
                     round(result["rss"] / 2**20), round(result["worker_rss"] / 2**20)))
    return format_table(("events", "song files", "seconds end to end", "us per event", "peak RSS MB",
                         "worker peak RSS MB"), rows)


def gzipped_events(data: Path) -> Path:
    """The data set's event files gzip'd, beside it (not under it: LOG_DATA is a prefix), made once."""
    import gzip

    target = data.parent / f"{data.name}-gzip"
    if not (target / ".complete").exists():
        for path in sorted((data / "log_data").rglob("*.json")):
            out = target / path.relative_to(data)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(gzip.compress(path.read_bytes(), compresslevel=6))
        (target / ".complete").write_text("")
    return target


def events_load_seconds(params, data: Path, gz: Path) -> tuple[float, float]:
    """Seconds to load staging_events from the plain files and from the same files gzip'd, in turn,
    each the best of two, each load rolled back (the loader as etl.py runs it, workers included)."""
    best = {"none": math.inf, "gzip": math.inf}
    with connect(params) as conn:
        for _ in range(2):
            for stored_as, folder in (("none", data), ("gzip", gz)):
                with conn.cursor() as cur:
                    started = time.perf_counter()
                    loader.load_table(cur, events_input(folder / "log_data", data, stored_as))
                    best[stored_as] = min(best[stored_as], time.perf_counter() - started)
                conn.rollback()
    conn.close()
    return best["none"], best["gzip"]


def server_version(params) -> str:
    with psycopg2.connect(**params) as conn, conn.cursor() as cur:
        cur.execute("SHOW server_version")
        version = cur.fetchone()[0]
    conn.close()
    return version


if __name__ == "__main__":
    sys.exit(main())
