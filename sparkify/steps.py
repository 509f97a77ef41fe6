"""The steps a plan is made of. Each kind of step knows how to run itself, how it reads in
``--dry-run`` and where it shows in the run summary, so the runner (``sparkify.pipeline``) asks the
step and never looks at what kind it is. The engines (``sparkify.engines``) choose the steps.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import ClassVar

import psycopg2
from psycopg2 import sql

import sql_queries as q

from . import loader
from .errors import DatabaseError, StepFailed, first_line, missing_tables
from .ledger import TableBatch
from .results import StepResult, Validation
from .source import TableInput
from .sqltext import one_line

log = logging.getLogger(__name__)
# marks a log line that the run summary repeats (sparkify.cli leaves those out on a terminal)
IN_THE_SUMMARY = {"in_the_summary": True}


class Step:
    """What the runner and the summary ask of every kind of step; by default, none of these."""

    is_check: ClassVar[bool] = False  # a data-quality check: counts its violations
    enforced: ClassVar[bool] = False  # a check the engine's constraints make always pass: not run
    stage: ClassVar[bool] = False  # a stage of the run summary (rows, seconds, rows/s)
    validation: ClassVar[bool] = False  # a step of --validate, which changes no table
    late_matches: ClassVar[bool] = False  # its rows are earlier plays matched to songs that came in this run
    counts_plays: ClassVar[bool] = False  # gives the summary's plays and how many matched a song
    counts_repeats: ClassVar[bool] = False  # its rows are events of the run that were not new plays


@dataclass(frozen=True)
class Statement(Step):
    """One statement; its rows are the server's row count."""

    label: str
    statement: sql.Composable

    log_level: ClassVar[int] = logging.DEBUG
    log_format: ClassVar[str] = "%s: %s rows in %.2fs"  # its label, rows and seconds

    def describe(self) -> list[str]:
        """What ``--dry-run`` prints for it: every statement it sends."""
        return [one_line(self.statement) + ";"]

    def run(self, cur, show_progress: bool = False) -> StepResult:
        started = time.perf_counter()
        context = self.before(cur)
        try:
            cur.execute(self.statement)
            result = self.result(cur, context)
        except psycopg2.Error as exc:
            raise StepFailed(f"{self.label} failed: {first_line(exc)}{missing_tables(exc)}; rolled back, the"
                             f" warehouse is unchanged", lambda conn: self.failure_details(conn, context)) from None
        result = replace(result, seconds=time.perf_counter() - started)
        log.log(self.log_level, self.log_format, self.label, result.rows, result.seconds, extra=IN_THE_SUMMARY)
        return result

    def result(self, cur, context) -> StepResult:
        """What the statement gave (its seconds are added by ``run``): by default, its ``rows``."""
        return StepResult(self, self.rows(cur, context), 0.0)

    def before(self, cur):
        """Anything to read before the statement runs, handed to ``rows`` and ``failure_details``."""
        return None

    def rows(self, cur, context) -> int:
        return max(cur.rowcount, 0)

    def failure_details(self, conn, context) -> str:
        """More lines for the error of a failed statement ("" for none), asked once its transaction
        has been rolled back; what it reads is read in a transaction the caller ends."""
        return ""


@dataclass(frozen=True)
class Insert(Statement):
    """An INSERT of the transform: a stage of the summary."""

    stage: ClassVar[bool] = True
    log_level: ClassVar[int] = logging.INFO


@dataclass(frozen=True)
class LateMatches(Insert):
    """The UPDATE that matches earlier plays to the songs that came in this run (the summary says how many)."""

    late_matches: ClassVar[bool] = True


@dataclass(frozen=True)
class PlayCounts(Statement):
    """The plays in songplays (its rows) and how many of them matched a song, for the summary."""

    counts_plays: ClassVar[bool] = True

    def result(self, cur, context) -> StepResult:
        plays, matched = cur.fetchone()
        return StepResult(self, plays, 0.0, matched=matched)


@dataclass(frozen=True)
class RepeatedEvents(Statement):
    """The run's NextSong events that were not new plays (its rows), for the summary."""

    counts_repeats: ClassVar[bool] = True

    def rows(self, cur, context) -> int:
        return cur.fetchone()[0]


@dataclass(frozen=True)
class ReadLedger(Statement):
    """A daily run's read of one staging table's rows of the ledger, inside its transaction after
    its lock (so a run that waited for another sees what that one loaded). Its result holds the
    rows (``fetched``), which the run hands to its ``sparkify.ledger.Planning`` to plan the files."""

    table: q.Table

    def result(self, cur, context) -> StepResult:
        rows = cur.fetchall()
        return StepResult(self, len(rows), 0.0, fetched=tuple(rows))


@dataclass(frozen=True)
class Check(Statement):
    """A data-quality check: the number of violations, which must be 0. Each is logged as it ends:
    over the whole warehouse they take seconds at 10M events (docs/performance.md)."""

    is_check: ClassVar[bool] = True
    log_level: ClassVar[int] = logging.INFO
    log_format: ClassVar[str] = "%s: %s violations in %.2fs"

    def rows(self, cur, context) -> int:
        return cur.fetchone()[0]


@dataclass(frozen=True)
class Enforced(Check):
    """A check the engine's own constraints enforce: a violation cannot exist, so it is not run."""

    constraint: str  # the constraint that enforces it: "PRIMARY KEY", "NOT NULL"

    enforced: ClassVar[bool] = True

    def describe(self) -> list[str]:
        return [f"-- {self.label}: enforced by its {self.constraint} constraint, not checked"]

    def run(self, cur, show_progress: bool = False) -> StepResult:
        return StepResult(self, 0, 0.0)


@dataclass(frozen=True)
class LoaderLoad(Step):
    """A staging table loaded by the project's loader (what a Redshift COPY does, on PostgreSQL).
    ``freeze``: COPY ... FREEZE, right where the engine emptied the table with TRUNCATE in this
    transaction."""

    label: str
    spec: TableInput
    freeze: bool = False
    batch: TableBatch | None = None  # the files to load, for their rows in the ledger
    loaded_at: str | None = None

    stage: ClassVar[bool] = True

    def describe(self) -> list[str]:
        files = f"{len(self.spec.files):,} files of " if self.spec.files is not None else ""
        copy = one_line(q.copy_from_stdin(self.spec.table, self.freeze))
        lines = [f"{copy};  -- rows from {files}{self.spec.describe()}"]
        if self.batch is not None:
            files = f" ({len(self.batch.files):,})" if self.batch.files is not None else ""
            ledger = one_line(q.copy_from_stdin(q.LOAD_LEDGER))
            lines.append(f"{ledger};  -- one row per file{files}, with the rows it gave")
        return lines

    def run(self, cur, show_progress: bool = False) -> StepResult:
        started = time.perf_counter()
        result = loader.load_table(cur, self.spec, show_progress=show_progress, freeze=self.freeze)
        if self.batch is not None:  # its files in the ledger, with this run's number
            try:
                cur.execute(q.CURRENT_RUN)
                run_no = cur.fetchone()[0]
                loader.copy_rows(cur, q.LOAD_LEDGER, (entry + (run_no,) for entry in
                                                      self.batch.entries(self.loaded_at, result.file_rows)))
            except psycopg2.Error as exc:
                raise DatabaseError(f"recording the files of {self.spec.table.name} in the ledger failed:"
                                    f" {first_line(exc)}{missing_tables(exc)}; rolled back, the warehouse is"
                                    f" unchanged") from None
        return StepResult(self, result.rows, time.perf_counter() - started, load=result)


def ledger_line(entries: list) -> str:
    """``--dry-run``'s line for a table's ledger rows: the statement with its first row, and how many."""
    if not entries:
        return "-- INSERT INTO load_ledger: one row per file loaded (the files are listed when the run starts)"
    first = one_line(q.ledger_rows(entries[:1])[0])
    return f"{first};  -- and so on: {len(entries):,} rows, one per file" if len(entries) > 1 else first + ";"


@dataclass(frozen=True)
class LoaderCheck(Step):
    """``--validate`` on PostgreSQL: the loader's parse-only mode, which sends nothing."""

    label: str
    spec: TableInput

    validation: ClassVar[bool] = True

    def describe(self) -> list[str]:
        return [f"-- parse-only: every record of {self.spec.describe()}, nothing sent"]

    def validate(self, conn, show_progress: bool = False) -> Validation:
        return loader.validate_table(self.spec, show_progress=show_progress)


VALIDATE_SHOW = 20  # rejections --validate shows (all are counted)
