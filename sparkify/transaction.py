"""How a transaction ends. Each transaction the scripts open has one owner, which ends it here:
``committed`` (commit when the work is done; roll back on any failure, Ctrl-C or SIGTERM) or
``rolled_back`` (read-only work, a validation, a probe: always rolled back). The ETL's transaction
is owned by ``sparkify.run.Run``, which ends it with ``commit`` and ``roll_back``.
"""

from __future__ import annotations

import contextlib

import psycopg2

from . import outcome
from .errors import DatabaseError, StepFailed


def commit(conn, work: bool = True) -> None:
    """``work``: the transaction is the script's work, so a signal from here on finds it committed
    (``sparkify.cli.run``); False for a connection's own settings."""
    conn.commit()
    if work:
        outcome.committed = True


def roll_back(conn, exc: BaseException) -> BaseException:
    """Roll back after ``exc``; what to raise: for a failed step, its error with what the step has to
    add (read after the rollback, in a transaction of its own, rolled back too)."""
    if not conn.closed:
        conn.rollback()
    if isinstance(exc, StepFailed) and not conn.closed:
        try:
            details = exc.details(conn)
        finally:
            conn.rollback()
        return DatabaseError(f"{exc}{details}")
    return exc


def answers(conn, statement) -> bool:
    """Whether the server runs ``statement`` (a probe) without an error; after one, the transaction
    it aborted is rolled back, and the owner goes on in a new one."""
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
            cur.fetchall()
        return True
    except psycopg2.Error:
        conn.rollback()
        return False


@contextlib.contextmanager
def rolled_back_on_failure(conn):
    """Roll back if anything is raised in the block, and raise what ``roll_back`` says."""
    try:
        yield
    except BaseException as exc:
        raised = roll_back(conn, exc)
        if raised is exc:
            raise
        raise raised from None


@contextlib.contextmanager
def committed(conn, work: bool = True):
    """Commit when the block ends (``work``: as ``commit``'s); roll back if anything is raised in it."""
    with rolled_back_on_failure(conn):
        yield
    commit(conn, work)


@contextlib.contextmanager
def rolled_back(conn):
    """Roll back when the block ends, however it ends (a failed step's error as ``roll_back`` says)."""
    with rolled_back_on_failure(conn):
        yield
    if not conn.closed:
        conn.rollback()
