"""A recording stand-in for a Redshift connection: no cluster is reachable from here.

It records every statement the scripts send (rendered as psycopg2 would send it) with the number of
the transaction it ran in, answers from a script of replies, and enforces the two rules that matter
for correctness: after an error nothing but ROLLBACK is accepted (as on the server), and a
statement that commits implicitly on Redshift (TRUNCATE, ALTER TABLE APPEND, VACUUM) inside an open
transaction is recorded as a violation. The PostgreSQL path is tested on real servers; this is
only for what cannot be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import psycopg2
import psycopg2.errors

from sparkify.sqltext import one_line

IMPLICIT_COMMIT = ("TRUNCATE", "ALTER TABLE", "VACUUM")
REDSHIFT_VERSION = "PostgreSQL 8.0.2 on i686-pc-linux-gnu, compiled by GCC 3.4.2, Redshift 1.0.77467"


@dataclass
class Reply:
    rows: list = field(default_factory=list)
    rowcount: int = -1
    error: Exception | None = None


def default_reply(text: str) -> Reply:
    """What a healthy cluster answers: a few rows per COPY, zero violations per check."""
    if text == "SELECT pg_last_copy_count()":
        return Reply([(42,)])
    if text == "SELECT version()":
        return Reply([(REDSHIFT_VERSION,)])
    if text == "SELECT COUNT(*), COUNT(song_id) FROM songplays":
        return Reply([(10, 7)])
    if text.startswith(("INSERT", "DELETE")):
        return Reply(rowcount=5)
    if text.startswith(("SELECT TRIM(", "SELECT table_name, file_name")):
        return Reply([])  # the load errors of the last COPY, the ledger: none
    if text.startswith("SELECT"):
        return Reply([(0,)])  # a data-quality check: no violations
    return Reply()


class RecordingConnection:
    def __init__(self, replies: Callable[[str], Reply | None] | None = None):
        self.replies = replies or (lambda text: None)
        self.log: list[tuple[int, str]] = []  # (transaction number, statement or COMMIT/ROLLBACK)
        self.violations: list[str] = []
        self.transaction = 0
        self.in_transaction = False
        self.failed = False
        self.closed = False
        self.autocommit = False

    # psycopg2's connection API, as far as the scripts use it
    def cursor(self):
        return RecordingCursor(self)

    def commit(self):
        if self.in_transaction:
            self.log.append((self.transaction, "ROLLBACK" if self.failed else "COMMIT"))
        self.in_transaction = self.failed = False

    def rollback(self):
        if self.in_transaction:
            self.log.append((self.transaction, "ROLLBACK"))
        self.in_transaction = self.failed = False

    def close(self):
        self.closed = True

    # for the tests
    def statements(self) -> list[str]:
        return [text for _, text in self.log]

    def _execute(self, text: str) -> Reply:
        if self.failed:
            raise psycopg2.errors.InFailedSqlTransaction(
                "current transaction is aborted, commands ignored until end of transaction block")
        if not self.in_transaction:
            self.transaction += 1
            self.in_transaction = True
        elif text.upper().startswith(IMPLICIT_COMMIT):
            self.violations.append(f"implicit commit inside transaction {self.transaction}: {text}")
        self.log.append((self.transaction, text))
        reply = self.replies(text) or default_reply(text)
        if reply.error is not None:
            self.failed = True
            raise reply.error
        return reply


class RecordingCursor:
    def __init__(self, conn: RecordingConnection):
        self.connection = conn
        self.rowcount = -1
        self._rows: list = []

    def execute(self, statement, params=None):
        text = statement if isinstance(statement, str) else one_line(statement)
        if params is not None:
            text = text % params
        reply = self.connection._execute(" ".join(text.split()))
        self._rows = list(reply.rows)
        self.rowcount = reply.rowcount if reply.rowcount != -1 else len(reply.rows)

    def fetchone(self):
        return self._rows.pop(0) if self._rows else None

    def fetchall(self):
        rows, self._rows = self._rows, []
        return rows

    def copy_expert(self, *args, **kwargs):
        raise AssertionError("COPY FROM STDIN sent to Redshift")

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
