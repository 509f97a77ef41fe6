"""What a Redshift COPY rejected, fetched from the system tables so the user never has to go and look.

``STL_LOAD_ERRORS`` keeps the raw field value and is keyed by ``pg_last_copy_id()``; on Redshift
Serverless (no STL views) ``SYS_LOAD_ERROR_DETAIL`` gives this session's last load into the table,
without the value. Which of the two a server has is decided once, at connect time (``sparkify.db``).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2

import sql_queries as q

from .errors import first_line
from .loader import Rejection

DETAIL_LIMIT = 10


@dataclass(frozen=True)
class LoadErrors:
    total: int
    first: tuple[Rejection, ...]
    view: str


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
