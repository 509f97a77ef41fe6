"""The ledger of loaded files and the runs that loaded them: how a run is numbered, how it reads
which files earlier runs loaded, and how it writes its own."""

from __future__ import annotations

from psycopg2 import sql

from .schema import LOAD_LEDGER, Table, names

# The run in progress: numbered first, after its lock (``record_run``), so the latest.
THIS_RUN = sql.SQL("(SELECT MAX(run_no) FROM load_runs)")


def record_run(incremental: bool, started_at: str) -> sql.Composed:
    """The run's row: numbered after the last run, with the songplay ids it starts after."""
    return sql.SQL(
        "INSERT INTO load_runs (run_no, incremental, started_at, songplays_before)"
        " SELECT (SELECT COALESCE(MAX(run_no), 0) + 1 FROM load_runs), {}, CAST({} AS TIMESTAMP),"
        " COALESCE(MAX(songplay_id), 0) FROM songplays"
    ).format(sql.Literal(bool(incremental)), sql.Literal(started_at))


LEDGER_COLUMNS = LOAD_LEDGER.column_names[:-1]  # run_no is filled in by LEDGER_RUN


def read_ledger(table: Table) -> sql.Composed:
    """One staging table's rows of the ledger. A run reads them inside its transaction, after its
    lock, so a run that waited for another sees the files that one loaded."""
    return sql.SQL("SELECT table_name, file_name, bytes, etag, modified, loaded_at FROM load_ledger"
                   " WHERE table_name = {}").format(sql.Literal(table.name))


LEDGER_BATCH = 1000  # rows per INSERT: a statement stays far below Redshift's 16 MB limit


def _values_lists(entries, size: int, row: sql.SQL) -> list[sql.Composed]:
    """The rows of a ``VALUES`` list, ``size`` entries to a list: each entry's values as literals in
    ``row`` (one ``{}`` per value)."""
    entries = list(entries)
    return [sql.SQL(", ").join(row.format(*(sql.Literal(value) for value in entry))
                               for entry in entries[start:start + size])
            for start in range(0, len(entries), size)]


def ledger_rows(entries) -> list[sql.Composed]:
    """``INSERT ... VALUES`` of ledger rows, ``LEDGER_BATCH`` at a time: each entry is the values of
    LEDGER_COLUMNS (``modified`` and ``loaded_at`` ISO text or None, ``row_count`` None where the
    engine fills it in after its COPY). ``run_no`` is filled in by ``LEDGER_RUN``."""
    row = sql.SQL("({}, {}, {}, {}, CAST({} AS TIMESTAMP), {}, CAST({} AS TIMESTAMP))")
    return [sql.SQL("INSERT INTO load_ledger ({}) VALUES {}").format(names(LEDGER_COLUMNS), rows)
            for rows in _values_lists(entries, LEDGER_BATCH, row)]


# Touched files per UPDATE of their new times: each UPDATE reads the table's rows of the ledger once,
# so fewer, larger UPDATEs cost less.
NEW_TIMES_BATCH = 10_000


def ledger_new_times(table: Table, entries) -> list[sql.Composed]:
    """``UPDATE`` of the modification time of ``table``'s files that were touched since they were
    loaded (same bytes, a new time), ``NEW_TIMES_BATCH`` at a time: each entry is a file's name and
    its new time (ISO text). A later daily run then takes them as unchanged without reading them
    again. A ``VALUES`` list: planned in an instant, where a ``UNION ALL`` of 1,000 ``SELECT``s is
    slow to plan."""
    update = sql.SQL("UPDATE load_ledger SET modified = t.modified FROM (VALUES {}) AS t (file_name, modified)"
                     " WHERE load_ledger.table_name = {} AND load_ledger.file_name = t.file_name")
    return [update.format(rows, sql.Literal(table.name))
            for rows in _values_lists(entries, NEW_TIMES_BATCH, sql.SQL("({}, CAST({} AS TIMESTAMP))"))]


# The run's number on its files' ledger rows: PostgreSQL's loader writes it with them (CURRENT_RUN);
# Redshift's rows are inserted before their counts are known, and numbered after (LEDGER_RUN).
LEDGER_RUN = sql.SQL("UPDATE load_ledger SET run_no = {} WHERE run_no IS NULL").format(THIS_RUN)
CURRENT_RUN = sql.SQL("SELECT {}").format(THIS_RUN)
