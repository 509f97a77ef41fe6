"""The scripts' work as ordered steps: planned without a connection (so ``--dry-run`` prints exactly
what would run), then executed in one transaction that commits only when every step and every
data-quality check has passed.

On Redshift nothing inside the transaction commits implicitly: tables are cleared with DELETE, never
TRUNCATE or ALTER TABLE APPEND (``sql_queries.ENGINE_SQL``).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass, field

import psycopg2
from psycopg2 import sql

import sql_queries as q

from . import loader, redshift, sources
from .config import Config, S3Access
from .errors import ConfigError, DatabaseError, QualityCheckError, first_line, missing_tables
from .sqltext import one_line
from .tables import format_table

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadSpec:
    """A PostgreSQL staging load by the project's loader (what a Redshift COPY does there)."""

    table: q.Table
    location: str
    json_format: str
    what: str
    format_what: str
    access: S3Access
    max_errors: int = 0
    freeze: bool = True  # COPY ... FREEZE: the ETL's plan empties staging with TRUNCATE before loading
    stored_as: str = "none"  # how the files are compressed
    compression_what: str = ""


@dataclass(frozen=True)
class Step:
    label: str
    # "ddl", "clear", "copy" (Redshift COPY), "load" (loader), "insert", "check", "enforced" (a
    # check the engine's constraints make always 0, not run),
    # "keep-errors" (Redshift: what a COPY skipped under MAXERROR, into load_errors)
    kind: str
    statement: sql.Composable | None = None
    load: LoadSpec | None = None
    errors_view: str | None = None  # copy, keep-errors, validate (Redshift): the view that explains a COPY
    table: q.Table | None = None  # copy, validate (Redshift): the staging table the COPY loads or checks


@dataclass(frozen=True)
class StepResult:
    step: Step
    rows: int
    seconds: float
    load: loader.LoadResult | None = None


@dataclass
class Report:
    results: list[StepResult] = field(default_factory=list)
    plays: int = 0
    matched_plays: int = 0

    @property
    def checks(self) -> list[StepResult]:
        return [result for result in self.results if result.step.kind in ("check", "enforced")]

    @property
    def failed_checks(self) -> list[StepResult]:
        return [result for result in self.checks if result.rows != 0]


# --- Plans ----------------------------------------------------------------------------------------

def _serialize_steps(engine: str) -> list[Step]:
    """One run at a time changes the project's tables (PostgreSQL: an advisory lock)."""
    return [Step("wait for any other run", "ddl", statement) for statement in q.SERIALIZE_QUERIES[engine]]


def drop_table_steps(engine: str = "postgres") -> list[Step]:
    return _serialize_steps(engine) + [Step(f"drop {name}", "ddl", statement)
                                       for name, statement in zip(q.PROJECT_TABLE_NAMES, q.DROP_TABLE_QUERIES)]


def create_table_steps(engine: str) -> list[Step]:
    creates = [Step(f"create {table.name}", "ddl", statement)
               for table, statement in zip(q.TABLES, q.CREATE_TABLE_QUERIES[engine])]
    return drop_table_steps(engine) + creates


def etl_steps(engine: str, config: Config, errors_view: str = "stl_load_errors") -> list[Step]:
    """Lock the tables (where the engine needs it), clear staging, load it, rebuild the star schema,
    check it: all one transaction. ``errors_view``: the Redshift view that explains a COPY, as the
    server said at connect time (``db.Target.errors_view``)."""
    clear_staging = [Step(f"clear {table.name}", "clear", statement)
                     for table, statement in zip(q.STAGING_TABLES + (q.LOAD_ERRORS,), q.CLEAR_STAGING_QUERIES[engine],
                                                 strict=True)]
    clear_star = [Step(f"clear {table.name}", "clear", statement)
                  for table, statement in zip(q.STAR_TABLES, q.CLEAR_STAR_QUERIES[engine])]
    inserts = [Step(f"insert {name}", "insert", statement) for name, statement in q.INSERT_TABLE_QUERIES]
    after_load = [Step("analyze staging", "ddl", statement) for statement in q.AFTER_LOAD_QUERIES[engine]]
    session = [Step("settings", "ddl", statement) for statement in q.SESSION_QUERIES[engine]]
    lock = [Step("lock the project's tables", "ddl", statement) for statement in q.LOCK_QUERIES[engine]]
    enforced = {name for name, _ in q.UNIQUE_KEY_CHECKS} if q.ENGINE_SQL[engine]["enforces_primary_keys"] else set()
    checks = [Step(name, "enforced" if name in enforced else "check", statement)
              for name, statement in q.QUALITY_CHECKS]
    return (_serialize_steps(engine) + session + lock + clear_staging + _load_steps(engine, config, errors_view) + after_load + clear_star
            + inserts + checks)


def _load_steps(engine: str, config: Config, errors_view: str) -> list[Step]:
    src = config.sources
    if engine == "redshift":
        _require_redshift_sources(config)
        steps = []
        for table, statement in zip(q.STAGING_TABLES, q.copy_table_queries(src, config.iam_role_arn)):
            steps.append(Step(f"load {table.name}", "copy", statement, errors_view=errors_view, table=table))
            if src.max_errors:
                steps.append(Step(f"keep {table.name} load errors", "keep-errors",
                                  q.redshift_load_errors(table, errors_view), errors_view=errors_view, table=table))
        return steps
    return [
        Step("load staging_events", "load", load=LoadSpec(q.STAGING_EVENTS, src.log_data, src.log_jsonpath,
                                                          "[S3] LOG_DATA", "[S3] LOG_JSONPATH", src.access,
                                                          src.max_errors, stored_as=src.log_compression,
                                                          compression_what="[S3] LOG_COMPRESSION")),
        Step("load staging_songs", "load", load=LoadSpec(q.STAGING_SONGS, src.song_data, src.song_json,
                                                         "[S3] SONG_DATA", "[S3] SONG_JSON", src.access,
                                                         src.max_errors, stored_as=src.song_compression,
                                                         compression_what="[S3] SONG_COMPRESSION")),
    ]


def _require_redshift_sources(config: Config) -> None:
    """Redshift loads only from S3, with a role; say which key is not ready."""
    if not config.iam_role_arn:
        raise ConfigError(f"{config.path}: [IAM_ROLE] ARN is missing: Redshift COPY needs a role that can read the data")
    for key, value in (("LOG_DATA", config.sources.log_data), ("LOG_JSONPATH", config.sources.log_jsonpath),
                       ("SONG_DATA", config.sources.song_data)):
        if not sources.is_s3(value):
            raise ConfigError(f"{config.path}: [S3] {key} must be an s3:// URI on Redshift, not {value!r}")
    if config.sources.max_errors > q.REDSHIFT_MAX_TOLERATED:
        raise ConfigError(f"{config.path}: [S3] MAX_ERRORS (or --max-errors) is at most {q.REDSHIFT_MAX_TOLERATED:,} on"
                          f" Redshift, not {config.sources.max_errors:,} (its MAXERROR stops at 100,000)")


# --- Validation (etl.py --validate): every problem reported, no table changed -----------------------

def validate_steps(engine: str, config: Config, errors_view: str = "stl_load_errors") -> list[Step]:
    """Redshift: ``COPY ... NOLOAD``, one per staging table. PostgreSQL: the loader's parse-only
    mode, which sends nothing."""
    src = config.sources
    if engine == "redshift":
        _require_redshift_sources(config)
        return [Step(f"check {table.name}", "validate", statement, errors_view=errors_view, table=table)
                for table, statement in zip(q.STAGING_TABLES, q.validate_copy_queries(src, config.iam_role_arn))]
    return [Step(f"check {spec.table.name}", "validate", load=spec)
            for spec in (step.load for step in _load_steps(engine, config, errors_view))]


def validate(conn, steps: list[Step], *, show_progress: bool = False) -> list[loader.Validation]:
    """Check each table's input; ``conn`` is needed (and only used) for Redshift's NOLOAD COPYs,
    each rolled back, so no table changes on either engine."""
    results = []
    for step in steps:
        if step.load is not None:
            spec = step.load
            results.append(loader.validate_table(spec.table, spec.location, spec.json_format, what=spec.what,
                                                 format_what=spec.format_what, access=spec.access,
                                                 show_progress=show_progress, stored_as=spec.stored_as,
                                                 compression_what=spec.compression_what))
            continue
        # the NOLOAD COPY leaves its transaction healthy: its rejections are read there, before the
        # ROLLBACK (a rolled-back COPY's id is not kept)
        try:
            with conn.cursor() as cur:
                before = _last_copy_id(cur)
                cur.execute(step.statement)
                errors = redshift.fetch(cur, step.errors_view, step.table, VALIDATE_SHOW)
        except psycopg2.Error as exc:
            details = "\n".join(redshift.describe(redshift.fetch_after_failure(conn, step.errors_view, step.table,
                                                                             before)))
            raise DatabaseError(f"{step.label} failed: {first_line(exc)}; no table was changed\n{details}") from None
        finally:
            conn.rollback()
        results.append(loader.Validation(step.table.name, None, None, errors.total, errors.first))
    return results


VALIDATE_SHOW = 20


def format_validation(results: list[loader.Validation]) -> str:
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


def describe_steps(steps: list[Step]) -> list[str]:
    """Every statement the steps would send, one per line, inside BEGIN ... COMMIT (--dry-run).
    A validation commits nothing: each Redshift NOLOAD check is rolled back where it stands."""
    validation = bool(steps) and all(step.kind == "validate" for step in steps)
    lines = [] if validation else ["BEGIN;"]
    for step in steps:
        if step.load is not None and step.kind == "validate":
            lines.append(f"-- parse-only: every record of {spec_text(step.load)}, nothing sent")
        elif step.load is not None:
            lines.append(f"{one_line(q.copy_from_stdin(step.load.table, step.load.freeze))};"
                         f"  -- rows from {spec_text(step.load)}")
        elif step.kind == "enforced":
            lines.append(f"-- {step.label}: enforced by the PRIMARY KEY, not checked")
        else:
            if step.kind in ("copy", "validate"):
                lines.append(one_line(q.LAST_COPY_ID) + ";")
            lines.append(one_line(step.statement) + ";")
            if step.kind == "copy":
                lines.append(one_line(q.LAST_COPY_COUNT) + ";")
            elif step.kind == "validate":
                lines += [one_line(q.load_error_detail(step.errors_view, step.table, VALIDATE_SHOW)) + ";",
                          "ROLLBACK;"]
    if not validation:
        lines.append("COMMIT;")
    return lines


def spec_text(spec: LoadSpec) -> str:
    stored = f", {spec.stored_as}" if spec.stored_as != "none" else ""
    return f"{spec.location} ({spec.json_format}{stored})"


# --- Execution ------------------------------------------------------------------------------------

def execute(conn, steps: list[Step], *, show_progress: bool = False, report: Report | None = None) -> Report:
    """Run ``steps`` in one transaction; commit only if all succeed and every check finds 0 rows.

    On any failure, or Ctrl-C, the transaction is rolled back and the tables are as they were.
    """
    report = report or Report()
    kill_at = _kill_hook()
    try:
        with conn.cursor() as cur:
            for index, step in enumerate(steps):
                if index == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
                report.results.append(_run_step(cur, step, show_progress))
            if any(step.kind == "insert" for step in steps):
                cur.execute(q.MATCHED_PLAYS)
                report.plays, report.matched_plays = cur.fetchone()
        if report.failed_checks:
            failed = "; ".join(f"{r.step.label} ({r.rows} violations)" for r in report.failed_checks)
            raise QualityCheckError(f"data-quality check failed: {failed}; rolled back, the warehouse is unchanged")
        if kill_at == len(steps):
            os.kill(os.getpid(), signal.SIGKILL)  # everything done, not yet committed
        conn.commit()
    except BaseException:
        if not conn.closed:
            conn.rollback()
        raise
    return report


KILL_HOOK = "SPARKIFY_TEST_KILL_AT_STEP"


def _kill_hook() -> int | None:
    """Fault tests only (bench/kill_trials.py): SIGKILL this process before step N (N = the number
    of steps: just before COMMIT)."""
    value = os.environ.get(KILL_HOOK)
    return int(value) if value and value.isdigit() else None


def _run_step(cur, step: Step, show_progress: bool) -> StepResult:
    started = time.perf_counter()
    if step.kind == "enforced":
        return StepResult(step, 0, 0.0)
    if step.load is not None:
        spec = step.load
        result = loader.load_table(cur, spec.table, spec.location, spec.json_format, what=spec.what,
                                   format_what=spec.format_what, access=spec.access, show_progress=show_progress,
                                   max_errors=spec.max_errors, freeze=spec.freeze, stored_as=spec.stored_as,
                                   compression_what=spec.compression_what)
        return StepResult(step, result.rows, time.perf_counter() - started, load=result)
    copy_id_before = _last_copy_id(cur) if step.kind == "copy" else None
    try:
        cur.execute(step.statement)
        if step.kind == "copy":
            cur.execute(q.LAST_COPY_COUNT)
            rows = cur.fetchone()[0]
        elif step.kind == "check":
            rows = cur.fetchone()[0]
        else:
            rows = max(cur.rowcount, 0)
        if step.kind == "keep-errors" and rows:
            log.warning("%s: %d records skipped under MAXERROR, kept in load_errors; the first:\n%s", step.label,
                        rows, "\n".join(redshift.describe(redshift.fetch(cur, step.errors_view, step.table))))
    except psycopg2.Error as exc:
        details = ""
        if step.kind == "copy":  # Redshift: show what this COPY rejected (this rolls the run back)
            errors = redshift.fetch_after_failure(cur.connection, step.errors_view, step.table, copy_id_before)
            details = "\n" + "\n".join(redshift.describe(errors))
        raise DatabaseError(f"{step.label} failed: {first_line(exc)}{missing_tables(exc)}; rolled back, the warehouse"
                            f" is unchanged{details}") from None
    seconds = time.perf_counter() - started
    level = logging.INFO if step.kind in ("copy", "insert") else logging.DEBUG
    log.log(level, "%s: %s rows in %.2fs", step.label, rows, seconds)
    return StepResult(step, rows, seconds)


def _last_copy_id(cur) -> int:
    """The session's last COPY id before a COPY: a COPY that fails before loading leaves it as it was."""
    cur.execute(q.LAST_COPY_ID)
    return cur.fetchone()[0]


def _check_result(result: StepResult) -> str:
    if result.step.kind == "enforced":
        return "pass (PRIMARY KEY)"
    return "pass" if result.rows == 0 else "FAILED"


def format_report(report: Report, where: str) -> str:
    """The run summary: per stage rows, seconds and rate; matched share; checks."""
    rows = [(r.step.label, r.rows, round(r.seconds, 2), round(r.rows / r.seconds) if r.seconds > 0 else None)
            for r in report.results if r.step.kind in ("copy", "load", "insert")]
    lines = [format_table(("stage", "rows", "seconds", "rows/s"), rows)]
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
