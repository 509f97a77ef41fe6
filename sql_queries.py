"""Every SQL statement the Sparkify scripts send, in the order they send them.

The statements live in ``sparkify/queries`` by subject -- the tables (``schema``), what differs
between the engines (``dialect``), the DDL (``ddl``), loading staging (``copy``), Redshift's record
of its loads (``redshift_views``), the transform, the ledger of loaded files, the data-quality checks
and the analysts' questions -- and are re-exported here. Statements are ``psycopg2.sql``
compositions: names go through ``sql.Identifier``, validated config values (S3 URIs, role ARN,
region) through ``sql.Literal``; nothing is built with f-strings or ``%``.

The ordered lists the scripts loop over, by engine name:

* ``DROP_TABLE_QUERIES``, ``CREATE_TABLE_QUERIES[engine]``, ``CREATE_INDEX_QUERIES[engine]`` --
  create_tables.py, cleanup.py
* ``CLEAR_STAGING_QUERIES[engine]`` (a full rebuild: ``CLEAR_HISTORY_QUERIES``,
  ``CLEAR_STAR_QUERIES`` too), ``record_run(...)``, ``copy_from_s3(...)`` and the ledger's rows
  (Redshift) or ``copy_from_stdin(...)`` (PostgreSQL), ``TRANSFORM_QUERIES``, ``QUALITY_CHECKS`` --
  etl.py, all inside one transaction (``etl.py --incremental`` too).
"""

from __future__ import annotations

from psycopg2 import sql

from sparkify.queries.analytics import ANALYTICS_QUERIES, Question
from sparkify.queries.checks import KEYS, MATCHED_PLAYS, NOT_NULL_CHECKS, QUALITY_CHECKS, UNIQUE_KEY_CHECKS
from sparkify.queries.copy import (COPY_COMPRESSION, LAST_COPY_COUNT, REDSHIFT_MAX_TOLERATED, copy_from_s3,
                                   copy_from_stdin, validate_copy_queries)
from sparkify.queries.ddl import (SERVER_VERSION, SET_SEARCH_PATH, analyze, clear_table, create_indexes, create_table,
                                  drop_table, lock, serialize)
from sparkify.queries.dialect import DIALECTS, POSTGRES, REDSHIFT, Dialect
from sparkify.queries.ledger import (CURRENT_RUN, LEDGER_BATCH, LEDGER_COLUMNS, LEDGER_RUN, NEW_TIMES_BATCH,
                                     THIS_RUN, ledger_new_times, ledger_rows, read_ledger, record_run)
from sparkify.queries.redshift_views import (COPY_MARK, FILE_NAME_LIMIT, LOAD_ERROR_VIEW_PROBE, LOAD_ERROR_VIEWS,
                                             copy_record, ledger_from_copy, ledger_row_counts, load_error_detail,
                                             redshift_load_errors)
from sparkify.queries.schema import (ARTISTS, HISTORY_TABLES, LOAD_ERRORS, LOAD_LEDGER, LOAD_RUNS, LOADED_SONGS,
                                     PLAY_SONGS, PROJECT_TABLE_NAMES, RUN_CLOCK, SONGPLAYS, SONGS, STAGING_EVENTS,
                                     STAGING_SONGS, STAGING_TABLES, STAR_TABLES, TABLES, TIME, USER_LATEST, USERS,
                                     Column, Table, jsonpaths, names)
from sparkify.queries.transform import (EVENTS_TRANSFORM, KEEP_SONGS, LATE_MATCHES, REPEATED_EVENTS, SONGS_TRANSFORM,
                                        TRANSFORM_QUERIES, Transform)

ENGINES = tuple(dialect.name for dialect in DIALECTS)

DROP_TABLE_QUERIES = [drop_table(table.name) for table in TABLES]
CREATE_TABLE_QUERIES = {d.name: [create_table(table, d) for table in TABLES] for d in DIALECTS}
CREATE_INDEX_QUERIES = {d.name: [(table, statement) for table in TABLES for statement in create_indexes(table, d)]
                        for d in DIALECTS}
CLEAR_STAGING_QUERIES = {d.name: [clear_table(table, d) for table in STAGING_TABLES + (LOAD_ERRORS,)]
                         for d in DIALECTS}
CLEAR_STAR_QUERIES = {d.name: [clear_table(table, d) for table in STAR_TABLES] for d in DIALECTS}
CLEAR_HISTORY_QUERIES = {d.name: [clear_table(table, d) for table in HISTORY_TABLES] for d in DIALECTS}

__all__ = [
    "ANALYTICS_QUERIES", "ARTISTS", "CLEAR_HISTORY_QUERIES", "CLEAR_STAGING_QUERIES", "CLEAR_STAR_QUERIES",
    "COPY_COMPRESSION", "COPY_MARK", "CREATE_INDEX_QUERIES", "CREATE_TABLE_QUERIES", "CURRENT_RUN", "DIALECTS",
    "DROP_TABLE_QUERIES", "ENGINES", "EVENTS_TRANSFORM", "FILE_NAME_LIMIT", "HISTORY_TABLES", "KEEP_SONGS", "KEYS",
    "LAST_COPY_COUNT", "LATE_MATCHES", "LEDGER_BATCH", "LEDGER_COLUMNS", "LEDGER_RUN", "LOADED_SONGS",
    "LOAD_ERRORS", "LOAD_ERROR_VIEWS", "LOAD_ERROR_VIEW_PROBE", "LOAD_LEDGER", "LOAD_RUNS", "MATCHED_PLAYS",
    "NEW_TIMES_BATCH", "NOT_NULL_CHECKS", "PLAY_SONGS", "POSTGRES", "PROJECT_TABLE_NAMES", "QUALITY_CHECKS",
    "REDSHIFT", "REDSHIFT_MAX_TOLERATED", "REPEATED_EVENTS", "RUN_CLOCK", "SERVER_VERSION", "SET_SEARCH_PATH",
    "SONGPLAYS", "SONGS", "SONGS_TRANSFORM", "STAGING_EVENTS", "STAGING_SONGS", "STAGING_TABLES", "STAR_TABLES",
    "TABLES", "THIS_RUN", "TIME", "TRANSFORM_QUERIES", "UNIQUE_KEY_CHECKS", "USERS", "USER_LATEST", "Column",
    "Dialect", "Question", "Table", "Transform", "analyze", "clear_table", "copy_from_s3", "copy_from_stdin",
    "copy_record", "create_indexes", "create_table", "drop_table", "jsonpaths",
    "ledger_from_copy", "ledger_new_times", "ledger_row_counts", "ledger_rows", "load_error_detail", "lock",
    "names", "read_ledger", "record_run", "redshift_load_errors", "serialize", "sql", "validate_copy_queries",
]
