"""The Redshift engine: staging loaded by Redshift's own ``COPY ... FROM 's3://...'``.

Nothing inside the ETL transaction commits implicitly: tables are cleared with DELETE, never
TRUNCATE or ALTER TABLE APPEND (``sql_queries.ENGINE_SQL``). What a COPY rejected is fetched from
the system tables, so the user never has to go and look: ``STL_LOAD_ERRORS`` keeps the raw field
value and is keyed by ``pg_last_copy_id()``; on Redshift Serverless (no STL views)
``SYS_LOAD_ERROR_DETAIL`` gives this session's last load into the table, without the value. Which
of the two a server has is asked of the server once, at connect time (``connected``).
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from typing import ClassVar

import psycopg2

import sql_queries as q

from .. import s3
from ..config import Config
from ..errors import ConfigError, DatabaseError, first_line
from ..ledger import Batch, TableBatch
from ..results import LoadErrors, Rejection, Validation
from ..source import S3Access, is_s3
from ..sqltext import one_line
from ..steps import VALIDATE_SHOW, LedgerRows, Statement
from .postgres import PostgresEngine

log = logging.getLogger(__name__)

DETAIL_LIMIT = 10
STL, SYS = q.LOAD_ERROR_VIEWS


@dataclass(frozen=True)
class RedshiftEngine(PostgresEngine):
    name: ClassVar[str] = "redshift"
    default_sslmode: ClassVar[str | None] = "require"
    errors_view: str = STL  # the system view that explains a COPY

    def connected(self, conn) -> RedshiftEngine:
        """STL_LOAD_ERRORS where the server lets this user read it (a provisioned cluster), else
        SYS_LOAD_ERROR_DETAIL (Redshift Serverless has no STL views, whatever its host is called: a
        custom domain or a VPC endpoint has no tell-tale suffix)."""
        try:
            with conn.cursor() as cur:
                cur.execute(q.LOAD_ERROR_VIEW_PROBE)
                cur.fetchall()
            return RedshiftEngine(STL)
        except psycopg2.Error:
            conn.rollback()
            return RedshiftEngine(SYS)

    def require(self, config: Config) -> None:
        _require_sources(config)
        if not config.sources.manifest_prefix:
            raise ConfigError(f"{config.path}: [S3] MANIFEST_PREFIX is missing: on Redshift each run's COPY names"
                              f" exactly the files it loads in a manifest written there (s3://bucket/prefix/, a"
                              f" place the role may read; provision.py --manifest-prefix grants it)")

    def load_steps(self, config: Config, batch: Batch, table_batch: TableBatch | None) -> list:
        """One COPY of a staging table over exactly the batch's files (a manifest written to [S3]
        MANIFEST_PREFIX, which ``require`` has checked), then those files in the ledger with the rows
        the COPY's log gives each."""
        steps: list = []
        if table_batch is not None and table_batch.loads:
            spec, table = table_batch.spec, table_batch.table
            manifest = Manifest(manifest_uri(config.sources.manifest_prefix, batch.started_at, table),
                                table_batch.files, config.sources.access)
            statement = q.copy_from_s3(table, manifest.uri, spec.json_format, config.iam_role_arn,
                                       config.sources.region, spec.max_errors, compression=spec.data.compression,
                                       manifest=True)
            steps.append(CopyFromS3(f"load {table.name}", statement, table, self.errors_view, manifest))
            if spec.max_errors:
                steps.append(KeepErrors(f"keep {table.name} load errors", q.redshift_load_errors(table, self.errors_view),
                                        table, self.errors_view))
            steps.append(LedgerRows(f"ledger: files of {table.name}", tuple(table_batch.entries(batch.started_at))))
            steps.append(Statement(f"ledger: rows per file of {table.name}",
                                   q.ledger_row_counts(table, self.errors_view)))
        return steps

    def after_loads(self) -> list:
        """Every ledger row of the run numbered with it (inserted before their COPY's counts were known)."""
        return [Statement("ledger: this run's files", q.LEDGER_RUN)]

    def validate_steps(self, config: Config) -> list:
        """``COPY ... NOLOAD``, one per staging table, each rolled back where it stands."""
        _require_sources(config)
        return [NoloadCheck(f"check {table.name}", statement, table, self.errors_view)
                for table, statement in zip(q.STAGING_TABLES, q.validate_copy_queries(config.sources,
                                                                                        config.iam_role_arn))]


def _require_sources(config: Config) -> None:
    """Redshift loads only from S3, with a role; say which key is not ready."""
    if not config.iam_role_arn:
        raise ConfigError(f"{config.path}: [IAM_ROLE] ARN is missing: Redshift COPY needs a role that can read the data")
    for key, value in (("LOG_DATA", config.sources.log_data), ("LOG_JSONPATH", config.sources.log_jsonpath),
                       ("SONG_DATA", config.sources.song_data)):
        if not is_s3(value):
            raise ConfigError(f"{config.path}: [S3] {key} must be an s3:// URI on Redshift, not {value!r}")
    if config.sources.max_errors > q.REDSHIFT_MAX_TOLERATED:
        raise ConfigError(f"{config.path}: [S3] MAX_ERRORS (or --max-errors) is at most {q.REDSHIFT_MAX_TOLERATED:,} on"
                          f" Redshift, not {config.sources.max_errors:,} (its MAXERROR stops at 100,000)")


# --- The manifest: exactly the files a COPY loads ------------------------------------------------------

def manifest_uri(prefix: str, started_at: str, table: q.Table) -> str:
    """Where a run writes its manifest for ``table``: one object per run and table, never reused."""
    stamp = started_at.replace("-", "").replace(":", "").replace(" ", "T").replace(".", "")
    return f"{prefix.rstrip('/')}/{stamp}-{secrets.token_hex(4)}/{table.name}.manifest"


@dataclass(frozen=True)
class Manifest:
    """A COPY manifest (Database Developer Guide, "Using a manifest to specify data files"): every
    file mandatory, so a file gone since it was listed fails the COPY instead of being skipped.
    ``files`` None: every file under the source, listed when the run starts (``--dry-run``)."""

    uri: str
    files: tuple | None
    access: S3Access = S3Access()

    def body(self) -> bytes:
        entries = [{"url": obj.uri, "mandatory": True, "meta": {"content_length": obj.size}} for obj in self.files]
        return json.dumps({"entries": entries}, indent=1).encode()

    def describe(self) -> str:
        count = f"{len(self.files):,} files" if self.files is not None else "every file, listed when the run starts"
        return f"-- written with boto3 first: {self.uri} ({count})"

    def write(self) -> None:
        s3.write_object(self.access, self.uri, self.body(), "[S3] MANIFEST_PREFIX")


# --- The steps ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CopyFromS3(Statement):
    """A Redshift COPY into a staging table; its rows are ``pg_last_copy_count()``. On failure the
    error shows what this COPY rejected. ``manifest``: written to S3 just before the COPY."""

    table: q.Table = None
    errors_view: str = STL
    manifest: Manifest | None = None

    stage: ClassVar[bool] = True
    log_level: ClassVar[int] = logging.INFO

    def describe(self) -> list[str]:
        written = [self.manifest.describe()] if self.manifest is not None else []
        return written + [one_line(q.LAST_COPY_ID) + ";", one_line(self.statement) + ";",
                          one_line(q.LAST_COPY_COUNT) + ";"]

    def before(self, cur) -> int:
        if self.manifest is not None:
            self.manifest.write()
        return last_copy_id(cur)

    def rows(self, cur, context) -> int:
        cur.execute(q.LAST_COPY_COUNT)
        return cur.fetchone()[0]

    def failure_details(self, cur, context) -> str:  # this rolls the run back
        return "\n" + "\n".join(describe(fetch_after_failure(cur.connection, self.errors_view, self.table, context)))


@dataclass(frozen=True)
class KeepErrors(Statement):
    """What a COPY skipped under MAXERROR, kept in load_errors (and the first few logged)."""

    table: q.Table = None
    errors_view: str = STL

    def rows(self, cur, context) -> int:
        rows = max(cur.rowcount, 0)
        if rows:
            log.warning("%s: %d records skipped under MAXERROR, kept in load_errors; the first:\n%s", self.label,
                        rows, "\n".join(describe(fetch(cur, self.errors_view, self.table))))
        return rows


@dataclass(frozen=True)
class NoloadCheck(Statement):
    """``--validate`` on Redshift: ``COPY ... NOLOAD`` reads and checks every record, loads none."""

    table: q.Table = None
    errors_view: str = STL

    validation: ClassVar[bool] = True

    def describe(self) -> list[str]:
        return [one_line(q.LAST_COPY_ID) + ";", one_line(self.statement) + ";",
                one_line(q.load_error_detail(self.errors_view, self.table, VALIDATE_SHOW)) + ";", "ROLLBACK;"]

    def validate(self, conn, show_progress: bool = False) -> Validation:
        # the NOLOAD COPY leaves its transaction healthy: its rejections are read there, before the
        # ROLLBACK (a rolled-back COPY's id is not kept)
        try:
            with conn.cursor() as cur:
                before = last_copy_id(cur)
                cur.execute(self.statement)
                errors = fetch(cur, self.errors_view, self.table, VALIDATE_SHOW)
        except psycopg2.Error as exc:
            details = "\n".join(describe(fetch_after_failure(conn, self.errors_view, self.table, before)))
            raise DatabaseError(f"{self.label} failed: {first_line(exc)}; no table was changed\n{details}") from None
        finally:
            conn.rollback()
        return Validation(self.table.name, None, None, errors.total, errors.first)


# --- What a COPY rejected ---------------------------------------------------------------------------

def last_copy_id(cur) -> int:
    """The session's last COPY id before a COPY: a COPY that fails before loading leaves it as it was."""
    cur.execute(q.LAST_COPY_ID)
    return cur.fetchone()[0]


def fetch(cursor, view: str, table: q.Table, limit: int = DETAIL_LIMIT,
          copy_id_before: int | None = None) -> LoadErrors:
    """This session's last COPY into ``table``: its rejections from ``view``. Safe inside the ETL
    transaction, and read there after a NOLOAD check (the COPY id of a rolled-back transaction is
    not kept: PG_LAST_COPY_ID, Database Developer Guide)."""
    cursor.execute(q.load_error_detail(view, table, limit, copy_id_before))
    rows = cursor.fetchall()
    first = tuple(Rejection(file=row[0], line=row[1], column=row[2] or None, value=row[3], reason=row[4])
                  for row in rows)
    return LoadErrors(total=rows[0][5] if rows else 0, first=first, view=view)


def fetch_after_failure(conn, view: str, table: q.Table, copy_id_before: int | None,
                        limit: int = DETAIL_LIMIT) -> LoadErrors | str:
    """After a COPY failed (the transaction is rolled back here): what that COPY rejected -- none if
    it failed before loading -- or why that could not be read. Leaves no transaction open."""
    conn.rollback()
    try:
        with conn.cursor() as cur:
            return fetch(cur, view, table, limit, copy_id_before)
    except psycopg2.Error as exc:
        return f"{view}: {first_line(exc)}"
    finally:
        conn.rollback()


def describe(errors: LoadErrors | str) -> list[str]:
    """Indented lines for an error message or a log: the first rejections and how many in all."""
    if isinstance(errors, str):
        return [f"  (the load errors could not be read: {errors})"]
    if not errors.total:
        return [f"  ({errors.view} has no rows for this COPY: it failed before reading any record)"]
    lines = [f"  {rejection.describe()}" for rejection in errors.first]
    if errors.total > len(errors.first):
        lines.append(f"  ... {errors.total - len(errors.first)} more in {errors.view}")
    return lines
