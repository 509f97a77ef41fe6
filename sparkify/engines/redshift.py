"""The Redshift engine: staging loaded by Redshift's own ``COPY ... FROM 's3://...'``.

Nothing inside the ETL transaction commits implicitly: tables are cleared with DELETE, never
TRUNCATE or ALTER TABLE APPEND (``sparkify.queries.dialect.REDSHIFT``). What a COPY rejected is fetched from
the system tables, so the user never has to go and look: ``STL_LOAD_ERRORS`` keeps the raw field
value and is keyed by ``pg_last_copy_id()``; on Redshift Serverless (no STL views)
``SYS_LOAD_ERROR_DETAIL`` gives the connection's last load into the table, without the value. Which
of the two a server has is asked of the server once, at connect time (``connected``).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import ClassVar

import psycopg2

import sql_queries as q

from .. import s3, transaction
from ..config import Config
from ..errors import ConfigError, DatabaseError, StepFailed, first_line
from ..ledger import Batch, TableBatch
from ..results import LoadErrors, Rejection, Validation
from ..source import S3Access, is_s3
from ..sqltext import one_line
from ..steps import VALIDATE_SHOW, Statement, ledger_line
from .postgres import PostgresEngine

log = logging.getLogger(__name__)

DETAIL_LIMIT = 10
STL, SYS = q.LOAD_ERROR_VIEWS


@dataclass(frozen=True)
class RedshiftEngine(PostgresEngine):
    dialect: ClassVar[q.Dialect] = q.REDSHIFT
    default_sslmode: ClassVar[str | None] = "require"
    errors_view: str = STL  # the system view that explains a COPY

    def connected(self, conn) -> RedshiftEngine:
        """STL_LOAD_ERRORS where the server lets this user read it (a provisioned cluster), else
        SYS_LOAD_ERROR_DETAIL (Redshift Serverless has no STL views, whatever its host is called: a
        custom domain or a VPC endpoint has no tell-tale suffix)."""
        return RedshiftEngine(STL if transaction.answers(conn, q.LOAD_ERROR_VIEW_PROBE) else SYS)

    def require(self, config: Config, incremental: bool = False) -> None:
        """The seed's config is enough for a full rebuild: COPY reads the prefixes itself and the ledger
        is filled from Redshift's record of it. A daily run names its new files in a manifest, which
        the client lists and writes with boto3 under [S3] MANIFEST_PREFIX."""
        _require_sources(config)
        if incremental and not config.sources.manifest_prefix:
            raise ConfigError(f"{config.path}: [S3] MANIFEST_PREFIX is missing: etl.py --incremental on Redshift"
                              f" copies only the new files, named in a manifest written under that prefix"
                              f" (s3://bucket/prefix/, a place the IAM role may read). This machine then needs"
                              f" AWS credentials (boto3's usual chain, or [AWS] KEY and SECRET) that may list"
                              f" {config.sources.log_data} and {config.sources.song_data} and write to the prefix;"
                              f" provision.py --manifest-prefix grants the role its part. A full rebuild (python"
                              f" etl.py) needs none of this")
        if incremental:
            _check_manifest_region(config)

    def lists_sources(self, incremental: bool) -> bool:
        """A full rebuild's COPY reads the prefixes itself: the client lists nothing."""
        return incremental

    def load_steps(self, config: Config, batch: Batch, table_batch: TableBatch | None) -> list:
        """One COPY of a staging table: a full rebuild's straight from the configured prefix, its
        files then in the ledger as Redshift recorded them; a daily run's over exactly its new files
        (a manifest written to [S3] MANIFEST_PREFIX), those files in the ledger with the lines
        Redshift recorded for each."""
        if table_batch is None or not table_batch.loads:
            return []
        spec, table = table_batch.spec, table_batch.table
        manifest = None
        if table_batch.files is not None:
            manifest = Manifest(manifest_uri(config.sources.manifest_prefix, batch.started_at, table),
                                table_batch.files, config.sources.access)
        statement = q.copy_from_s3(table, manifest.uri if manifest else spec.data.location, spec.json_format,
                                   config.iam_role_arn, config.sources.region, spec.max_errors,
                                   compression=spec.data.compression, manifest=manifest is not None)
        entries = tuple(table_batch.entries(batch.started_at)) if manifest else None
        steps: list = [CopyFromS3(f"load {table.name}", statement, table, self.errors_view, manifest,
                                  batch.started_at, entries)]
        if spec.max_errors:
            steps.append(KeepErrors(f"keep {table.name} load errors", q.redshift_load_errors(table, self.errors_view),
                                    table, self.errors_view))
        return steps

    def after_loads(self) -> list:
        """Every ledger row of the run numbered with it (a daily run's are inserted before their COPY's
        counts are known)."""
        return [Statement("ledger: this run's files", q.LEDGER_RUN)]

    def new_times(self, table: TableBatch | None) -> list:
        """Never on Redshift: its files are S3 objects, whose ETag says they are unchanged, so none is
        ever "touched"; and the statement PostgreSQL uses (UPDATE ... FROM (VALUES ...)) is not
        Redshift SQL."""
        if table is not None and table.touched:
            raise ValueError("touched files come only from local folders, which Redshift cannot load")
        return []

    def validate_steps(self, config: Config) -> list:
        """``COPY ... NOLOAD``, one per staging table, each rolled back where it stands."""
        _require_sources(config)
        return [NoloadCheck(f"check {table.name}", statement, table, self.errors_view)
                for table, statement in zip(q.STAGING_TABLES, q.validate_copy_queries(config.sources,
                                                                                        config.iam_role_arn))]


def _require_sources(config: Config) -> None:
    """Redshift loads only from S3, with a role; say which key is not ready."""
    if not config.iam_role_arn:
        raise ConfigError(f"{config.path}: [IAM_ROLE] ARN is missing:"
                          " Redshift COPY needs a role that can read the data")
    for key, value in (("LOG_DATA", config.sources.log_data), ("LOG_JSONPATH", config.sources.log_jsonpath),
                       ("SONG_DATA", config.sources.song_data)):
        if not is_s3(value):
            raise ConfigError(f"{config.path}: [S3] {key} must be an s3:// URI on Redshift, not {value!r}")
    if config.sources.max_errors > q.REDSHIFT_MAX_TOLERATED:
        raise ConfigError(f"{config.path}: [S3] MAX_ERRORS (or --max-errors) is at most {q.REDSHIFT_MAX_TOLERATED:,} on"
                          f" Redshift, not {config.sources.max_errors:,} (its MAXERROR stops at 100,000)")


def cluster_region(host: str) -> str | None:
    """The region in a Redshift endpoint's name (provisioned or Serverless), if it has one."""
    match = re.search(r"\.([a-z]{2}(?:-[a-z]+)+-\d)\.redshift(?:-serverless)?\.amazonaws\.com$", host)
    return match.group(1) if match else None


def _check_manifest_region(config: Config) -> None:
    """A COPY reads its manifest in the region it reads the data in ([S3] REGION, else the
    cluster's): a manifest bucket elsewhere would fail every daily COPY."""
    region = config.sources.region or (cluster_region(config.cluster.host) if config.cluster else None)
    if region is None:
        return
    found = s3.bucket_region(config.sources.access, config.sources.manifest_prefix, "[S3] MANIFEST_PREFIX")
    if found != region:
        said = "[S3] REGION" if config.sources.region else "the cluster's region"
        raise ConfigError(f"{config.path}: [S3] MANIFEST_PREFIX is in a bucket in {found}, and the COPY reads in"
                          f" {region} ({said}): every file a COPY names, its manifest too, must be in that region;"
                          f" use a bucket in {region}")


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
        return f"-- a manifest written with boto3 first: {self.uri} ({count})"

    def write(self) -> None:
        s3.write_object(self.access, self.uri, self.body(), "[S3] MANIFEST_PREFIX")


# --- The steps ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CopyFromS3(Statement):
    """A Redshift COPY into a staging table, its rows ``pg_last_copy_count()``, and its files in the
    ledger from Redshift's record of it (SYS_LOAD_HISTORY and SYS_LOAD_DETAIL, waited for: SYS rows
    may come a moment after the COPY). ``manifest``: written to S3 just before the COPY, and
    ``entries`` its files' ledger rows (a daily run); None: a full rebuild, whose ledger rows are
    what Redshift recorded. On failure the error shows what this COPY rejected."""

    table: q.Table = None
    errors_view: str = STL
    manifest: Manifest | None = None
    loaded_at: str = ""
    entries: tuple | None = None

    stage: ClassVar[bool] = True
    log_level: ClassVar[int] = logging.INFO

    def describe(self) -> list[str]:
        written = [self.manifest.describe()] if self.manifest is not None else []
        since, query_id = q.sql.SQL("<the time above>"), q.sql.SQL("<the query_id found>")
        if self.entries is None:
            ledger = [one_line(q.ledger_from_copy(self.table, query_id, self.loaded_at)) + ";"]
        else:
            ledger = [ledger_line(list(self.entries)), one_line(q.ledger_row_counts(self.table, query_id)) + ";"]
        return written + [one_line(q.COPY_MARK) + ";", one_line(self.statement) + ";",
                          one_line(q.LAST_COPY_COUNT) + ";",
                          f"-- repeated until Redshift has recorded every file (at most {RECORD_WAIT_SECONDS:g} s):",
                          one_line(q.copy_record(self.table, since)) + ";", *ledger]

    def before(self, cur) -> tuple[int, object]:
        if self.manifest is not None:
            self.manifest.write()
        cur.execute(q.COPY_MARK)
        return cur.fetchone()

    def rows(self, cur, context) -> int:
        cur.execute(q.LAST_COPY_COUNT)
        rows = cur.fetchone()[0]
        query_id = wait_for_record(cur, self.table, context[1], names_from_record=self.entries is None)
        if self.entries is None:
            cur.execute(q.ledger_from_copy(self.table, query_id, self.loaded_at))
        else:
            for statement in q.ledger_rows(self.entries):
                cur.execute(statement)
            cur.execute(q.ledger_row_counts(self.table, query_id))
        return rows

    def failure_details(self, conn, context) -> str:
        """What this COPY rejected (read after the rollback the failure forces on Redshift)."""
        since = context[1] if context is not None else None
        return "\n" + "\n".join(describe(fetch_failed(conn, self.errors_view, self.table, since)))


RECORD_WAIT_SECONDS = 60.0


def wait_for_record(cur, table: q.Table, since, limit: float | None = None, names_from_record: bool = True) -> int:
    """The SYS query id of the COPY into ``table`` that this connection started at or after ``since``,
    once SYS_LOAD_HISTORY says it completed and SYS_LOAD_DETAIL has each file it scanned. A
    DatabaseError after ``limit`` seconds; and, where the ledger takes the files' names from the
    record (``names_from_record``: a full rebuild), one for a name the record cuts short."""
    limit = RECORD_WAIT_SECONDS if limit is None else limit
    deadline, pause = time.monotonic() + limit, 0.05
    while True:
        cur.execute(q.copy_record(table, since))
        found = cur.fetchone()
        if found is not None and found[1] == "completed" and found[3] >= (found[2] or 0):
            query_id, longest = found[0], found[4] or 0
            break
        if time.monotonic() >= deadline:
            state = "no row" if found is None else f"status {found[1]!r}, {found[3]} of {found[2]} files"
            raise DatabaseError(f"load {table.name}: Redshift had not recorded the COPY after {limit:g} s"
                                f" (SYS_LOAD_HISTORY and SYS_LOAD_DETAIL: {state}), so its files cannot be put in"
                                f" the ledger; rolled back, the warehouse is unchanged: run it again")
        time.sleep(pause)
        pause = min(pause * 2, 2.0)
    if names_from_record and longest >= q.FILE_NAME_LIMIT:
        raise DatabaseError(f"load {table.name}: an input file's name is {q.FILE_NAME_LIMIT} bytes or longer, which"
                            f" Redshift's record of a COPY (SYS_LOAD_DETAIL.file_name, CHAR(256)) cuts short, so the"
                            f" ledger could not name it; rolled back, the warehouse is unchanged: shorten the keys")
    return query_id


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
        since = q.sql.SQL("<the time above>")
        return [one_line(q.COPY_MARK) + ";", one_line(self.statement) + ";",
                one_line(q.load_error_detail(self.errors_view, self.table, VALIDATE_SHOW, since)) + ";", "ROLLBACK;"]

    def validate(self, conn, show_progress: bool = False) -> Validation:
        """In a transaction its caller rolls back. The NOLOAD COPY leaves its transaction healthy: its
        rejections are read there, found by the connection's session and the server's clock read just
        before it. A COPY that failed: StepFailed, whose details are read after the rollback."""
        since = None
        try:
            with conn.cursor() as cur:
                cur.execute(q.COPY_MARK)
                since = cur.fetchone()[1]
                cur.execute(self.statement)
                errors = fetch(cur, self.errors_view, self.table, VALIDATE_SHOW, since)
        except psycopg2.Error as exc:
            def rejected(conn) -> str:
                return "\n" + "\n".join(describe(fetch_failed(conn, self.errors_view, self.table, since)))

            raise StepFailed(f"{self.label} failed: {first_line(exc)}; no table was changed", rejected) from None
        return Validation(self.table.name, None, None, errors.total, errors.first)


# --- What a COPY rejected ---------------------------------------------------------------------------

def fetch(cursor, view: str, table: q.Table, limit: int = DETAIL_LIMIT, since=None) -> LoadErrors:
    """This session's last COPY into ``table`` (started at or after ``since``, the server's clock read
    just before it, where given): its rejections from ``view``."""
    cursor.execute(q.load_error_detail(view, table, limit, since))
    rows = cursor.fetchall()
    first = tuple(Rejection(file=row[0], line=row[1], column=row[2] or None, value=row[3], reason=row[4])
                  for row in rows)
    return LoadErrors(total=rows[0][5] if rows else 0, first=first, view=view)


def fetch_failed(conn, view: str, table: q.Table, since, limit: int = DETAIL_LIMIT) -> LoadErrors | str:
    """After a COPY failed and its transaction was rolled back: what that COPY rejected -- none if it
    failed before loading -- or why that could not be read, read in a transaction the caller ends.
    ``since`` None: the failure came before the server's clock was read, so no COPY ran."""
    if since is None:
        return LoadErrors(total=0, first=(), view=view)
    try:
        with conn.cursor() as cur:
            return fetch(cur, view, table, limit, since)
    except psycopg2.Error as exc:
        return f"{view}: {first_line(exc)}"


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
