"""The scripts' work as ordered steps: planned without a connection (so ``--dry-run`` prints exactly
what would run), then executed in one transaction (``sparkify.run.Run`` for etl.py) that commits only
when every step and every data-quality check has passed.

The engine (``sparkify.engines``) says what each plan is made of; the steps (``sparkify.steps``)
say how each runs, reads in ``--dry-run`` and shows in the summary.
"""

from __future__ import annotations

import contextlib

import sql_queries as q

from . import transaction
from .config import Config
from .engines import Engine
from .ledger import Batch
from .results import Report, StepResult, Validation
from .steps import VALIDATE_SHOW, Insert, LateMatches, PlayCounts, ReadLedger, RepeatedEvents, Statement
from .tables import format_table


# --- Plans ----------------------------------------------------------------------------------------

def drop_table_steps(engine: Engine) -> list:
    return engine.serialize() + [Statement(f"drop {name}", statement)
                                 for name, statement in zip(q.PROJECT_TABLE_NAMES, q.DROP_TABLE_QUERIES)]


def create_table_steps(engine: Engine) -> list:
    return drop_table_steps(engine) + engine.creates()


def etl_steps(engine: Engine, config: Config, batch: Batch) -> list:
    """Lock the tables (where the engine needs it), read the ledger (a daily run), clear staging (a
    full rebuild: every table), number the run, load the batch's files into staging with their rows
    in the ledger, bring the star schema up to date, check the whole warehouse: all one transaction."""
    reads = ledger_reads(config) if batch.incremental else []
    return (first_steps(engine) + reads + event_steps(engine, config, batch)
            + song_steps(engine, config, batch))


def first_steps(engine: Engine) -> list:
    """What the transaction starts with: it waits for any other run and holds the project's tables
    until it ends. A daily run then reads the ledger (``ledger_reads``): read after the lock, it
    includes what a run this one waited for loaded."""
    return engine.serialize() + engine.session() + engine.lock()


def ledger_reads(config: Config) -> list:
    """Each staging table's rows of the ledger, which plan a daily run's files."""
    return [ReadLedger(f"read the ledger of {spec.table.name}", q.read_ledger(spec.table), spec.table)
            for spec in config.sources.inputs]


def event_steps(engine: Engine, config: Config, batch: Batch) -> list:
    """The steps up to the transform of the events: they need of ``batch`` only the event files, so
    they can run while the song files are still being listed (``execute``'s ``then``)."""
    clears = engine.clear_staging() if batch.incremental else (
        engine.clear_staging() + engine.clear_history() + engine.clear_star())
    return (clears + [Statement("number this run", q.record_run(batch.incremental, batch.started_at))]
            + _table_steps(engine, config, batch, q.STAGING_EVENTS, q.EVENTS_TRANSFORM))


def song_steps(engine: Engine, config: Config, batch: Batch) -> list:
    """The rest: the song files loaded, the transform that reads them, the checks (with settings of
    their own, where the engine has them), the plays counted for the summary."""
    return (_table_steps(engine, config, batch, q.STAGING_SONGS, q.SONGS_TRANSFORM, loads_done=True)
            + engine.check_session() + engine.checks()
            + [RepeatedEvents("count the events played already", q.REPEATED_EVENTS),
               PlayCounts("count the plays and those matched to a song", q.MATCHED_PLAYS)])


def _table_steps(engine: Engine, config: Config, batch: Batch, staged: q.Table, transform: list,
                 loads_done: bool = False) -> list:
    """One staging table's load (with its files' ledger rows, and the new times of files touched
    since they were loaded) and statistics, then the transform statements that read it; a table
    each statement fills is analyzed after it, unless no file was loaded into its source.
    ``loads_done``: the engine's step after every load, if any."""
    table = batch.of(staged)
    loads = table is not None and table.loads
    return (engine.load_steps(config, batch, table) + engine.new_times(table)
            + (engine.after_loads() if loads_done else [])
            + engine.analyze(staged)
            + [step for t in transform
               for step in [(LateMatches if t.late_matches else Insert)(t.label, t.statement)]
               + (engine.analyze(t.fills) if t.fills and t.source == staged and loads else [])])


# --- Validation (etl.py --validate): every problem reported, no table changed -----------------------

def validate_steps(engine: Engine, config: Config) -> list:
    """Redshift: ``COPY ... NOLOAD``, one per staging table. PostgreSQL: the loader's parse-only
    mode, which sends nothing."""
    return engine.validate_steps(config)


def validate(conn, steps: list, *, show_progress: bool = False) -> list[Validation]:
    """Check each table's input; ``conn`` is needed (and only used) for Redshift's NOLOAD COPYs,
    each in a transaction of its own, rolled back, so no table changes on either engine."""
    results = []
    for step in steps:
        with transaction.rolled_back(conn) if conn is not None else contextlib.nullcontext():
            results.append(step.validate(conn, show_progress=show_progress))
    return results


def format_validation(results: list[Validation]) -> str:
    counts = format_table(("table", "files", "records", "problems"),
                          [(r.table, r.files if r.files is not None else "-",
                            r.records if r.records is not None else "-", r.problems) for r in results])
    lines = [counts]
    shown = [rejection for r in results for rejection in r.first][:VALIDATE_SHOW]
    if shown:
        total = sum(r.problems for r in results)
        lines.append(f"the first {len(shown)} of {total:,} problems:" if total > len(shown) else "problems:")
        lines.extend(f"  {rejection.describe()}" for rejection in shown)
    return "\n".join(lines)


def describe_steps(steps: list) -> list[str]:
    """Every statement the steps would send, one per line, inside BEGIN ... COMMIT (--dry-run).
    A validation commits nothing: each Redshift NOLOAD check is rolled back where it stands."""
    validation = bool(steps) and all(step.validation for step in steps)
    lines = [line for step in steps for line in step.describe()]
    return lines if validation else ["BEGIN;", *lines, "COMMIT;"]


# --- Execution (create_tables.py, cleanup.py; etl.py's run is sparkify.run.Run) ---------------------

def execute(conn, steps: list) -> Report:
    """Run ``steps`` in one transaction, committed only if every one succeeds."""
    report = Report()
    with transaction.committed(conn), conn.cursor() as cur:
        for step in steps:
            report.results.append(step.run(cur))
    return report


def _check_result(result: StepResult) -> str:
    if result.step.enforced:
        return f"pass ({result.step.constraint})"
    return "pass" if result.rows == 0 else "FAILED"


def format_report(report: Report, where: str) -> str:
    """The run summary: per stage rows, seconds and rate; matched share; checks."""
    rows = [(r.step.label, r.rows, round(r.seconds, 2), round(r.rows / r.seconds) if r.seconds > 0 else None)
            for r in report.results if r.step.stage]
    lines = [format_table(("stage", "rows", "seconds", "rows/s"), rows)]
    if report.batch is not None:
        lines.extend(report.batch.describe())
        late = sum(r.rows for r in report.results if r.step.late_matches)
        lines.append(f"earlier plays matched to songs that came in this run: {late:,}")
    if report.repeated_events:
        lines.append(f"NextSong events already played (copies in the files, or loaded before), counted once:"
                     f" {report.repeated_events:,}")
    share = 100.0 * report.matched_plays / report.plays if report.plays else 0.0
    lines.append(f"songplays matched to a song: {report.matched_plays:,} of {report.plays:,} ({share:.1f}%)")
    passed = len(report.checks) - len(report.failed_checks)
    lines.append(f"data-quality checks passed: {passed} of {len(report.checks)}")
    lines.append(format_table(("check", "violations", "result"),
                              [(r.step.label, r.rows, _check_result(r)) for r in report.checks]))
    tolerant = [r.load for r in report.results if r.load is not None and r.load.rejected]
    if tolerant:
        lines.append("records rejected under MAX_ERRORS (kept in load_errors):")
        lines.append(format_table(("file", "parsed", "loaded", "rejected"),
                                  [row for load in tolerant for row in load.files_with_rejections]
                                  + [(f"total {load.table}", load.parsed, load.rows, load.rejected)
                                     for load in tolerant]))
    lines.append(f"warehouse: {where}")
    return "\n".join(lines)
