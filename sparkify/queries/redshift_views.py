"""Redshift's own record of its loads: what a COPY rejected (STL_LOAD_ERRORS on a provisioned
cluster, SYS_LOAD_ERROR_DETAIL on Serverless), and which files it read (SYS_LOAD_HISTORY,
SYS_LOAD_DETAIL), from which the ledger of loaded files is filled."""

from __future__ import annotations

from psycopg2 import sql

from .ledger import THIS_RUN
from .schema import LOAD_LEDGER, Table, names

# The system view that explains a COPY: STL_LOAD_ERRORS on a provisioned cluster (it keeps the raw
# field value), SYS_LOAD_ERROR_DETAIL on Redshift Serverless, which has no STL views. Which one a
# server has is asked of the server once, at connect time (``sparkify.db``): LOAD_ERROR_VIEW_PROBE
# fails where STL is not readable.
LOAD_ERROR_VIEWS = ("stl_load_errors", "sys_load_error_detail")
LOAD_ERROR_VIEW_PROBE = sql.SQL("SELECT COUNT(*) FROM stl_load_errors WHERE 1 = 0")


def _this_copy(view: str, table: Table, since=None) -> sql.Composed:
    """The rows of ``view`` that belong to the connection's last COPY into ``table``.

    ``since`` None (a COPY that succeeded, in its transaction): STL_LOAD_ERRORS by
    ``pg_last_copy_id()``. After a COPY failed, its transaction is rolled back and
    ``pg_last_copy_id()`` is not updated (PG_LAST_COPY_ID), so the COPY is found by the connection's session
    and the server's clock read just before it (``since``): none found means it failed before
    reading a record. SYS_LOAD_ERROR_DETAIL has query ids of its own: the COPY is the session's
    last load into the table in SYS_LOAD_HISTORY (since ``since``, where given)."""
    if view == "stl_load_errors":
        if since is None:
            return sql.SQL("query = pg_last_copy_id()")
        return sql.SQL("query = (SELECT MAX(query) FROM stl_load_errors WHERE session = pg_backend_pid()"
                       " AND starttime >= CAST({} AS TIMESTAMP))").format(
            since if isinstance(since, sql.Composable) else sql.Literal(since))
    if since is None:
        return sql.SQL("query_id = (SELECT MAX(query_id) FROM sys_load_history WHERE session_id = pg_backend_pid()"
                       " AND TRIM(table_name) = {})").format(sql.Literal(table.name))
    return sql.SQL("query_id = ({})").format(_sys_copy(table, since))


# What the last COPY rejected: file, line, column, value and reason, and how many in all.
LOAD_ERROR_DETAIL = {
    "stl_load_errors": sql.SQL(
        "SELECT TRIM(filename), line_number, TRIM(colname), TRIM(raw_field_value), TRIM(err_reason),"
        " COUNT(*) OVER () FROM stl_load_errors WHERE {} ORDER BY filename, line_number LIMIT {}"),
    "sys_load_error_detail": sql.SQL(
        "SELECT TRIM(file_name), line_number, TRIM(column_name), NULL, TRIM(error_message), COUNT(*) OVER ()"
        " FROM sys_load_error_detail WHERE {} ORDER BY file_name, line_number LIMIT {}"),
}


def load_error_detail(view: str, table: Table, limit: int, since=None) -> sql.Composed:
    return LOAD_ERROR_DETAIL[view].format(_this_copy(view, table, since), sql.Literal(int(limit)))


# load_errors.reason is VARCHAR(65535): STL's colname (127) + err_reason (100) + raw_field_value
# (1024) and the words between them fit, whatever the value.
_KEEP_LOAD_ERRORS = {
    "stl_load_errors": sql.SQL(
        "INSERT INTO load_errors (table_name, file_name, line_number, reason, raw_line)"
        " SELECT {}, TRIM(filename), line_number,"
        " TRIM(colname) || ': ' || TRIM(err_reason) || ' (value: ' || TRIM(raw_field_value) || ')', TRIM(raw_line)"
        " FROM stl_load_errors WHERE {}"),
    "sys_load_error_detail": sql.SQL(
        "INSERT INTO load_errors (table_name, file_name, line_number, reason, raw_line)"
        " SELECT {}, TRIM(file_name), line_number, TRIM(column_name) || ': ' || TRIM(error_message), NULL"
        " FROM sys_load_error_detail WHERE {}"),
}


def redshift_load_errors(table: Table, view: str = "stl_load_errors") -> sql.Composed:
    """Keep what the last COPY skipped under MAXERROR, from Redshift's own log of it: STL_LOAD_ERRORS
    on a provisioned cluster, SYS_LOAD_ERROR_DETAIL on Serverless (which has no STL tables)."""
    return _KEEP_LOAD_ERRORS[view].format(sql.Literal(table.name), _this_copy(view, table))


# Redshift's record of a COPY, in the SYS views that provisioned clusters and Serverless both have
# (STL_LOAD_COMMITS misses COPYs run on a concurrency-scaling cluster). SYS query ids are their own,
# not pg_last_copy_id()'s: a COPY is found as the connection's last load into the table that started
# at or after the server's clock read just before it (a session id alone may be a reused pid).
# Names in the SYS views are CHAR(256): FILE_NAME_LIMIT bytes at most.
FILE_NAME_LIMIT = 256
COPY_MARK = sql.SQL("SELECT pg_last_copy_id(), GETDATE()")


def _sys_copy(table: Table, since) -> sql.Composed:
    """The SYS query id of the connection's last COPY into ``table`` that started at or after ``since``
    (a server timestamp, or a placeholder for ``--dry-run``)."""
    since = since if isinstance(since, sql.Composable) else sql.Literal(since)
    return sql.SQL("SELECT MAX(query_id) FROM sys_load_history WHERE session_id = pg_backend_pid()"
                   " AND TRIM(table_name) = {} AND start_time >= CAST({} AS TIMESTAMP)").format(
        sql.Literal(table.name), since)


def copy_record(table: Table, since) -> sql.Composed:
    """Whether Redshift has recorded the COPY yet: its query id, status, the files it scanned and the
    files SYS_LOAD_DETAIL has so far, and the longest name there (in bytes)."""
    return sql.SQL("SELECT h.query_id, TRIM(h.status), h.file_count_scanned, COUNT(DISTINCT d.file_name),"
                   " MAX(OCTET_LENGTH(TRIM(d.file_name))) FROM sys_load_history AS h LEFT JOIN sys_load_detail AS d"
                   " ON d.query_id = h.query_id WHERE h.query_id = ({}) GROUP BY h.query_id, h.status,"
                   " h.file_count_scanned").format(_sys_copy(table, since))


_FILES_LOADED = sql.SQL("SELECT TRIM(file_name) AS file_name, SUM(bytes_scanned) AS bytes,"
                        " MAX(TRIM(BOTH '\"' FROM TRIM(file_etag))) AS etag, MAX(file_last_modified) AS modified,"
                        " SUM(lines_scanned) AS lines FROM sys_load_detail WHERE query_id = {}"
                        " GROUP BY TRIM(file_name)")


def ledger_from_copy(table: Table, query_id, loaded_at: str) -> sql.Composed:
    """A full rebuild's ledger rows for ``table``: every file its COPY read, as Redshift recorded
    it (name, bytes, ETag, modification time, lines scanned), numbered with this run."""
    query_id = query_id if isinstance(query_id, sql.Composable) else sql.Literal(int(query_id))
    return sql.SQL("INSERT INTO load_ledger ({}) SELECT {}, f.file_name, f.bytes, f.etag, f.modified, f.lines,"
                   " CAST({} AS TIMESTAMP), {} FROM ({}) AS f").format(
        names(LOAD_LEDGER.column_names), sql.Literal(table.name), sql.Literal(loaded_at), THIS_RUN,
        _FILES_LOADED.format(query_id))


def ledger_row_counts(table: Table, query_id) -> sql.Composed:
    """A daily run's: the lines its COPY scanned in each of ``table``'s files just inserted in the
    ledger (from the listing), matched on the first FILE_NAME_LIMIT characters of the name."""
    query_id = query_id if isinstance(query_id, sql.Composable) else sql.Literal(int(query_id))
    return sql.SQL("UPDATE load_ledger SET row_count = c.lines FROM ({}) AS c"
                   " WHERE load_ledger.table_name = {} AND load_ledger.row_count IS NULL"
                   " AND LEFT(load_ledger.file_name, {}) = c.file_name").format(
        _FILES_LOADED.format(query_id), sql.Literal(table.name), sql.Literal(FILE_NAME_LIMIT))
