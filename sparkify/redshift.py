"""What a Redshift COPY rejected, fetched from the system tables so the user never has to go and look.

``STL_LOAD_ERRORS`` keeps the raw field value and is keyed by ``pg_last_copy_id()``; where it is
missing (Redshift Serverless has no STL tables) ``SYS_LOAD_ERROR_DETAIL`` gives this session's
latest load without the value.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2

import sql_queries as q

from .loader import Rejection

DETAIL_LIMIT = 10


@dataclass(frozen=True)
class LoadErrors:
    total: int
    first: tuple[Rejection, ...]
    view: str


def fetch(cursor, view: str = "stl_load_errors", limit: int = DETAIL_LIMIT) -> LoadErrors:
    """The last COPY's rejections from one system view; safe inside the ETL transaction."""
    cursor.execute(q.load_error_detail(view, limit))
    rows = cursor.fetchall()
    first = tuple(Rejection(file=row[0], line=row[1], column=row[2] or None, value=row[3], reason=row[4])
                  for row in rows)
    return LoadErrors(total=rows[0][5] if rows else 0, first=first, view=view)


def fetch_after_copy(conn, limit: int = DETAIL_LIMIT) -> LoadErrors | str:
    """After a COPY failed, or a NOLOAD check (the open transaction is rolled back here): the
    rejections, from the first view that exists, or why none could be read. Leaves no transaction
    open."""
    reasons = []
    conn.rollback()
    for view in q.LOAD_ERROR_DETAIL:
        try:
            with conn.cursor() as cur:
                return fetch(cur, view, limit)
        except psycopg2.Error as exc:
            reasons.append(f"{view}: {(exc.diag.message_primary or str(exc)).strip().splitlines()[0]}")
        finally:
            conn.rollback()
    return "; ".join(reasons)


def describe(errors: LoadErrors | str) -> list[str]:
    """Indented lines for an error message or a log: the first rejections and how many in all."""
    if isinstance(errors, str):
        return [f"  (the load errors could not be read: {errors})"]
    if not errors.total:
        return [f"  ({errors.view} has no rows for this load: the COPY failed before reading any record)"]
    lines = [f"  {rejection.describe()}" for rejection in errors.first]
    if errors.total > len(errors.first):
        lines.append(f"  ... {errors.total - len(errors.first)} more in {errors.view}")
    return lines
