"""A Redshift stand-in over the PostgreSQL test server: the statements the Redshift engine sends run
there as they are, and only what PostgreSQL lacks is emulated.

- ``COPY ... FROM 's3://...' IAM_ROLE ... [MANIFEST] FORMAT AS JSON ... [GZIP|BZIP2|ZSTD] [REGION]
  [MAXERROR n] [NOLOAD]``: the files (a prefix, or a manifest's entries) read from moto's S3 and
  parsed by the project's loader (JSONPaths or ``auto``, compression, MAXERROR: n errors fail the
  load), rows streamed into the table with ``COPY ... FROM STDIN``;
- ``pg_last_copy_id()``, ``pg_last_copy_count()`` and ``GETDATE()``, as functions in the schema
  (the COPY sets the first two for the session; a rolled-back COPY leaves them as they were);
- the load system views the plan reads, as tables in the schema filled by each COPY through a
  connection of their own (so, as on Redshift, they keep what a rolled-back COPY wrote):
  ``STL_LOAD_ERRORS`` and ``STL_LOAD_COMMITS`` (the provisioned flavour only: Serverless has no
  STL views), ``SYS_LOAD_HISTORY``, ``SYS_LOAD_DETAIL`` and ``SYS_LOAD_ERROR_DETAIL``. With
  ``sys_delay``, as Redshift's may, the SYS record comes a moment after the COPY: at first the
  history says ``running`` and the detail has no file;
- Redshift DDL (DISTSTYLE, DISTKEY, SORTKEY, ``IDENTITY(seed, step)``) turned into PostgreSQL's by
  sqlglot.

Every statement sent is kept in ``sent`` (COMMIT and ROLLBACK too), to compare with ``--dry-run``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import threading
from dataclasses import dataclass, field

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

import sql_queries as q
from sparkify import s3
from sparkify.loader.mapping import MappingSpec
from sparkify.loader.render import copy_line
from sparkify.loader.tolerant import tolerant_records
from sparkify.loader.values import row_validator
from sparkify.source import S3Access, Source, SourceObject

COPY_FROM_S3 = re.compile(
    r"COPY \"(?P<table>\w+)\" FROM '(?P<source>s3://[^']+)' IAM_ROLE '(?P<role>[^']+)'(?P<manifest> MANIFEST)?"
    r" FORMAT AS JSON '(?P<format>[^']+)'(?: (?P<compression>GZIP|BZIP2|ZSTD))?(?: REGION '(?P<region>[^']+)')?"
    r"(?: MAXERROR (?P<maxerror>\d+))?(?P<noload> NOLOAD)? COMPUPDATE OFF STATUPDATE OFF")
REDSHIFT_VERSION = "PostgreSQL 8.0.2 on i686-pc-linux-gnu, compiled by GCC 3.4.2, Redshift 1.0.77467"
CLUSTER_REGION = "us-west-2"  # the stand-in cluster's region: a bucket elsewhere needs REGION
COMPRESSIONS = {None: "none", "GZIP": "gzip", "BZIP2": "bzip2", "ZSTD": "zstd"}
STL_QUERY_START, SYS_QUERY_START = 1000, 500_000  # SYS query ids are their own, not STL's

SYSTEM_VIEWS = {
    "stl_load_errors": "userid INTEGER, slice INTEGER, tbl INTEGER, starttime TIMESTAMP, session INTEGER,"
                       " query INTEGER, filename CHAR(256), line_number BIGINT, colname CHAR(127), type CHAR(10),"
                       " col_length CHAR(10), position INTEGER, raw_line CHAR(1024), raw_field_value CHAR(1024),"
                       " err_code INTEGER, err_reason CHAR(100)",
    "stl_load_commits": "userid INTEGER, query INTEGER, slice INTEGER, name CHAR(256), filename CHAR(256),"
                        " byte_offset INTEGER, lines_scanned INTEGER, errors INTEGER, curtime TIMESTAMP,"
                        " status INTEGER",
    "sys_load_history": "user_id INTEGER, query_id BIGINT, transaction_id BIGINT, session_id INTEGER,"
                        " database_name TEXT, status TEXT, table_name TEXT, start_time TIMESTAMP, end_time TIMESTAMP,"
                        " duration BIGINT, data_source TEXT, file_format TEXT, loaded_rows BIGINT, loaded_bytes"
                        " BIGINT, source_file_count INTEGER, source_file_bytes BIGINT, file_count_scanned INTEGER,"
                        " file_bytes_scanned BIGINT, error_count BIGINT, copy_job_id BIGINT",
    "sys_load_detail": "user_id INTEGER, query_id BIGINT, file_name CHAR(256), bytes_scanned BIGINT,"
                       " lines_scanned BIGINT, splits_scanned INTEGER, record_time TIMESTAMP, start_time TIMESTAMP,"
                       " end_time TIMESTAMP, file_etag CHAR(256), file_last_modified TIMESTAMP",
    "sys_load_error_detail": "user_id INTEGER, query_id BIGINT, transaction_id BIGINT, session_id INTEGER,"
                             " database_name CHAR(128), table_id INTEGER, start_time TIMESTAMP, file_name CHAR(256),"
                             " line_number BIGINT, column_name CHAR(127), column_type CHAR(10), column_length"
                             " CHAR(10), position INTEGER, error_code INTEGER, error_message CHAR(512)",
}
FUNCTIONS = [
    "CREATE FUNCTION pg_last_copy_id() RETURNS INTEGER LANGUAGE sql AS"
    " $$ SELECT COALESCE(NULLIF(current_setting('standin.last_copy_id', true), ''), '-1')::INTEGER $$",
    "CREATE FUNCTION pg_last_copy_count() RETURNS BIGINT LANGUAGE sql AS"
    " $$ SELECT COALESCE(NULLIF(current_setting('standin.last_copy_count', true), ''), '-1')::BIGINT $$",
    "CREATE FUNCTION getdate() RETURNS TIMESTAMP LANGUAGE sql AS $$ SELECT statement_timestamp() AT TIME ZONE 'UTC' $$",
]


class CopyFailed(Exception):
    """What Redshift would answer to a COPY that fails (raised in the session as an SQL error)."""


@dataclass
class Rejected:
    uri: str
    line: int
    reason: str
    raw: str


@dataclass
class FileRead:
    obj: SourceObject
    lines: int = 0
    rows: list = field(default_factory=list)
    rejected: list = field(default_factory=list)


def install(params: dict, schema: str, *, serverless: bool = False) -> None:
    """The emulated functions and system views, in ``schema`` (the test's own)."""
    with psycopg2.connect(**params) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        for name, columns in SYSTEM_VIEWS.items():
            if serverless and name.startswith("stl_"):
                continue
            cur.execute(f"CREATE TABLE {name} ({columns})")
        cur.execute(f"CREATE SEQUENCE standin_stl_query START {STL_QUERY_START}")
        cur.execute(f"CREATE SEQUENCE standin_sys_query START {SYS_QUERY_START}")
        for statement in FUNCTIONS:
            cur.execute(statement)
    conn.close()


class StandIn:
    """One stand-in cluster: how to reach the test server, and what the COPYs read and recorded."""

    def __init__(self, params: dict, schema: str, *, serverless: bool = False, sys_delay: float = 0.0):
        self.params, self.schema, self.serverless, self.sys_delay = params, schema, serverless, sys_delay
        self.connections: list[StandInConnection] = []
        self.copies: list[dict] = []  # each COPY's options, as parsed
        self.emulating = False  # inside an emulated COPY (its S3 reads are the cluster's, not the client's)
        self._pending: list[threading.Timer] = []
        install(params, schema, serverless=serverless)

    def connect(self, **params) -> StandInConnection:
        """What ``psycopg2.connect`` gives the scripts: the test server, in the test's schema."""
        conn = psycopg2.connect(**self.params, connection_factory=StandInConnection,
                                options=f"-c search_path={self.schema}")
        conn.standin = self
        self.connections.append(conn)
        return conn

    def sent(self) -> list[str]:
        return [text for conn in self.connections for text in conn.sent]

    def settle(self) -> None:
        """Wait for SYS rows still to be written."""
        for timer in self._pending:
            timer.join()

    # --- the system views, written outside the session's transaction ---------------------------

    def record(self, statements: list[tuple[str, tuple]], *, sys: bool = False) -> None:
        def write():
            with psycopg2.connect(**self.params, options=f"-c search_path={self.schema}") as conn, \
                    conn.cursor() as cur:
                for statement, values in statements:
                    cur.execute(statement, values)
            conn.close()

        if sys and self.sys_delay:
            timer = threading.Timer(self.sys_delay, write)
            timer.start()
            self._pending.append(timer)
        else:
            write()

    def next_ids(self) -> tuple[int, int]:
        with psycopg2.connect(**self.params, options=f"-c search_path={self.schema}") as conn, conn.cursor() as cur:
            cur.execute("SELECT nextval('standin_stl_query'), nextval('standin_sys_query'),"
                        " clock_timestamp() AT TIME ZONE 'UTC'")
            stl, sys_, now = cur.fetchone()
        conn.close()
        return stl, sys_, now


class StandInConnection(psycopg2.extensions.connection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cursor_factory = StandInCursor
        self.sent: list[str] = []
        self.standin: StandIn | None = None

    def commit(self):
        self.sent.append("COMMIT")
        super().commit()

    def rollback(self):
        self.sent.append("ROLLBACK")
        super().rollback()


class StandInCursor(psycopg2.extensions.cursor):
    def execute(self, query, vars=None):
        text = query.as_string(self) if isinstance(query, sql.Composable) else query
        self.connection.sent.append(text)
        if text == "SELECT version()":  # Redshift's answer names Redshift
            return super().execute("SELECT %s", (REDSHIFT_VERSION,))
        match = COPY_FROM_S3.fullmatch(text)
        if match:
            self.connection.standin.emulating = True
            try:
                return copy_from_s3(self, match)
            finally:
                self.connection.standin.emulating = False
        if text.startswith("CREATE TABLE") and " DISTSTYLE " in text:
            text = to_postgres(text)
        return super().execute(text, vars)

    def raw_execute(self, query, vars=None):
        return super().execute(query, vars)


def to_postgres(text: str) -> str:
    """Redshift DDL as PostgreSQL's (sqlglot drops the physical design PostgreSQL has no words for)."""
    import sqlglot

    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # "Unsupported property diststyleproperty"
    return sqlglot.transpile(text, read="redshift", write="postgres")[0]


# --- COPY from S3 ---------------------------------------------------------------------------------

def copy_from_s3(cur: StandInCursor, match: re.Match) -> None:
    standin: StandIn = cur.connection.standin
    options = match.groupdict()
    standin.copies.append(options)
    table = next(t for t in q.TABLES if t.name == options["table"])
    maxerror = int(options["maxerror"]) if options["maxerror"] else 0
    compression = COMPRESSIONS[options["compression"]]
    access = S3Access(options["region"] or CLUSTER_REGION)
    stl_id, sys_id, started = standin.next_ids()
    session = cur.connection.get_backend_pid()
    try:
        files = _files(options, access, compression)
        mapping = MappingSpec(table, options["format"], _paths_file(options["format"], access)).build()
    except CopyFailed as exc:  # before any record was read: nothing recorded (PG_LAST_COPY_ID)
        return _fail(cur, str(exc))
    problem_in = row_validator(table.columns)
    read, errors = [], 0
    for obj in files:
        done = FileRead(obj)
        with obj.open() as stream:
            content = stream.read()
        done.lines = content.count(b"\n") + (0 if content.endswith(b"\n") or not content else 1)
        for line, record, raw, reason in tolerant_records(io.BytesIO(content), obj.uri, mapping.needs_exact):
            values = mapping.row(record) if record is not None else None
            reason = reason or problem_in(values)
            if reason:
                text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else (raw or "")
                done.rejected.append(Rejected(obj.uri, line, reason, text))
                errors += 1
            else:
                done.rows.append(values)
        read.append(done)
        if maxerror and errors >= maxerror or not maxerror and errors:
            break  # "If the load returns the error_count number of errors or greater, the load fails"
    failed = bool(maxerror and errors >= maxerror or not maxerror and errors)
    rows = [] if failed or options["noload"] else [values for done in read for values in done.rows]
    if not failed and rows:
        stream = _Lines(copy_line(values) for values in rows)
        cur.copy_expert(q.copy_from_stdin(table).as_string(cur), stream)
    _record(standin, cur, table, options, read, stl_id, sys_id, started, session, failed, len(rows))
    if failed:
        return _fail(cur, f"Load into table '{table.name}' failed.  Check 'stl_load_errors' system table for"
                          " details.")
    cur.raw_execute("SELECT set_config('standin.last_copy_id', %s, false),"
                    " set_config('standin.last_copy_count', %s, false)", (str(stl_id), str(len(rows))))
    return None


def _fail(cur: StandInCursor, message: str) -> None:
    """The COPY's error, raised by the server in the session's transaction (which it aborts)."""
    quoted = psycopg2.extensions.QuotedString(message).getquoted().decode()
    cur.raw_execute(f"DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = {quoted}; END $$")


class _Lines:
    def __init__(self, lines):
        self._lines = iter(lines)

    def read(self, size=-1):
        return b"".join(line for _, line in zip(range(1000), self._lines))


def _files(options: dict, access: S3Access, compression: str) -> list[SourceObject]:
    source = options["source"]
    if _bucket_region(source) != access.region:
        raise CopyFailed(f"S3ServiceException:The bucket you are attempting to access must be addressed using the"
                         f" specified endpoint ({source} is not in {access.region})")
    if options["manifest"]:
        body = json.loads(s3.read_object(Source(source, "manifest", access)))
        found = []
        for entry in body["entries"]:
            listed = s3.list_objects(Source(entry["url"], "manifest entry", access, compression))
            exact = [obj for obj in listed if obj.uri == entry["url"]]
            if not exact:
                if entry.get("mandatory"):
                    raise CopyFailed(f"Manifest file is invalid: mandatory file not found: {entry['url']}")
                continue
            found.extend(exact)
        return found
    listed = s3.list_objects(Source(source, "prefix", access, compression))
    if not listed:
        raise CopyFailed(f"The specified S3 prefix '{source.split('/', 3)[-1]}' does not exist")
    return listed


def _paths_file(json_format: str, access: S3Access) -> bytes | None:
    if not json_format.startswith("s3://"):
        return None
    return s3.read_object(Source(json_format, "jsonpaths", access))


def _bucket_region(uri: str) -> str:
    import boto3

    bucket = s3.split_uri(uri)[0]
    location = boto3.client("s3", region_name=CLUSTER_REGION).get_bucket_location(Bucket=bucket)
    return location.get("LocationConstraint") or "us-east-1"


def _record(standin: StandIn, cur, table, options, read, stl_id, sys_id, started, session, failed, loaded) -> None:
    """What Redshift's system views hold of this COPY."""
    now = started + dt.timedelta(milliseconds=5)
    rejected = [r for done in read for r in done.rejected]
    stl, sys_ = [], []
    for r in rejected:
        stl.append(("INSERT INTO stl_load_errors (userid, session, query, starttime, filename, line_number, colname,"
                    " raw_field_value, err_reason, raw_line, err_code) VALUES (100, %s, %s, %s, %s, %s, '', '', %s,"
                    " %s, 1200)", (session, stl_id, started, r.uri[:256], r.line, r.reason[:100], r.raw[:1024])))
        sys_.append(("INSERT INTO sys_load_error_detail (user_id, query_id, session_id, start_time, file_name,"
                     " line_number, column_name, error_code, error_message) VALUES (100, %s, %s, %s, %s, %s, '', 1200,"
                     " %s)", (sys_id, session, started, r.uri[:256], r.line, r.reason[:512])))
    if not failed:
        for done in read:
            stl.append(("INSERT INTO stl_load_commits (userid, query, slice, name, filename, lines_scanned, errors,"
                        " curtime, status) VALUES (100, %s, 0, %s, %s, %s, %s, %s, 1)",
                        (stl_id, options["table"], done.obj.uri[:256], done.lines, len(done.rejected), now)))
            sys_.append(("INSERT INTO sys_load_detail (user_id, query_id, file_name, bytes_scanned, lines_scanned,"
                         " splits_scanned, record_time, start_time, end_time, file_etag, file_last_modified) VALUES"
                         " (100, %s, %s, %s, %s, 1, %s, %s, %s, %s, %s)",
                         (sys_id, done.obj.uri[:256], done.obj.size, done.lines, now, started, now,
                          f'"{done.obj.etag}"', done.obj.modified)))
    history = ("INSERT INTO sys_load_history (user_id, query_id, session_id, status, table_name, start_time,"
               " end_time, data_source, file_format, loaded_rows, source_file_count, file_count_scanned,"
               " error_count) VALUES (100, %s, %s, %s, %s, %s, %s, %s, 'json', %s, %s, %s, %s)",
               (sys_id, session, "aborted" if failed else "completed", options["table"], started, now,
                options["source"], loaded, len(read), 0 if failed else len(read), len(rejected)))
    if standin.sys_delay:  # at once the COPY shows as running; the rest of its record comes later
        running = (history[0], history[1][:2] + ("running",) + history[1][3:])
        standin.record([running])
        sys_ = [("DELETE FROM sys_load_history WHERE query_id = %s", (sys_id,))] + sys_
    sys_.append(history)
    if not standin.serverless:
        standin.record(stl)
    standin.record(sys_, sys=True)
