"""The PostgreSQL engine: the embedded default, or any PostgreSQL server.

Staging is loaded by the project's loader (``COPY ... FROM STDIN``); tables are cleared with
TRUNCATE (transactional here, and it lets the loader's COPY use FREEZE); the primary keys are
enforced, so the uniqueness checks are not run (nor, on either engine, the NOT NULL ones); a second
run waits on an advisory lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import sql_queries as q

from ..config import Config
from ..ledger import Batch, TableBatch
from ..steps import Check, Enforced, LoaderCheck, LoaderLoad, Statement


@dataclass(frozen=True)
class PostgresEngine:
    dialect: ClassVar[q.Dialect] = q.POSTGRES  # what differs between the engines' SQL
    # the connection's sslmode when [CLUSTER] SSLMODE says nothing (None: libpq's default)
    default_sslmode: ClassVar[str | None] = None

    @property
    def name(self) -> str:
        return self.dialect.name

    def __str__(self) -> str:
        return self.name

    def connected(self, conn) -> PostgresEngine:
        """This engine as the server it is connected to answers (Redshift asks which views it has)."""
        return self

    # --- what every plan is made of ---------------------------------------------------------------

    def serialize(self) -> list[Statement]:
        """One run at a time changes the project's tables (PostgreSQL: an advisory lock)."""
        return [Statement("wait for any other run", statement) for statement in q.serialize(self.dialect)]

    def creates(self) -> list[Statement]:
        return ([Statement(f"create {table.name}", statement)
                 for table, statement in zip(q.TABLES, q.CREATE_TABLE_QUERIES[self.name])]
                + [Statement(f"index {table.name}", statement)
                   for table, statement in q.CREATE_INDEX_QUERIES[self.name]])

    def session(self) -> list[Statement]:
        return [Statement("settings", statement) for statement in self.dialect.session]

    def lock(self) -> list[Statement]:
        return [Statement("lock the project's tables", statement) for statement in q.lock(self.dialect)]

    def clear_staging(self) -> list[Statement]:
        return _clears(q.STAGING_TABLES + (q.LOAD_ERRORS,), q.CLEAR_STAGING_QUERIES[self.name])

    def clear_star(self) -> list[Statement]:
        return _clears(q.STAR_TABLES, q.CLEAR_STAR_QUERIES[self.name])

    def clear_history(self) -> list[Statement]:
        """A full rebuild starts the ledger and what the daily loads keep again."""
        return _clears(q.HISTORY_TABLES, q.CLEAR_HISTORY_QUERIES[self.name])

    def analyze(self, *tables: q.Table) -> list[Statement]:
        """Statistics for tables just filled, where the engine's plans need them."""
        return [Statement(f"analyze {table.name}", statement) for table in tables
                for statement in q.analyze(table, self.dialect)]

    def check_session(self) -> list[Statement]:
        """The settings the data-quality checks run with, where they differ from the transform's."""
        return [Statement("settings for the checks", statement) for statement in self.dialect.check_session]

    def checks(self) -> list[Check]:
        """The data-quality checks; those the engine's own constraints enforce are not run."""
        enforced = {}
        for enforces, checks, constraint in ((self.dialect.enforces_primary_keys, q.UNIQUE_KEY_CHECKS, "PRIMARY KEY"),
                                             (self.dialect.enforces_not_null, q.NOT_NULL_CHECKS, "NOT NULL")):
            if enforces:
                enforced.update((name, constraint) for name, _ in checks)
        return [Enforced(name, statement, enforced[name]) if name in enforced else Check(name, statement)
                for name, statement in q.QUALITY_CHECKS]

    # --- loading staging --------------------------------------------------------------------------

    def require(self, config: Config, incremental: bool = False) -> None:
        """ConfigError for a setting this engine cannot load with, before any file is listed."""

    def lists_sources(self, incremental: bool) -> bool:
        """Whether a run lists its input files on the client (the loader reads them all)."""
        return True

    def load_steps(self, config: Config, batch: Batch, table: TableBatch | None) -> list:
        """The loader into one staging table, if it has files to load; each file's row in the ledger."""
        if table is None or not table.loads:
            return []
        return [LoaderLoad(f"load {table.table.name}", table.spec, freeze=self.dialect.truncates, batch=table,
                           loaded_at=batch.started_at)]

    def new_times(self, table: TableBatch | None) -> list[Statement]:
        """The new modification times of the table's touched files (same bytes) in their ledger rows:
        a run that commits writes them, so the next one does not read those files again."""
        if table is None or not table.touched:
            return []
        return [Statement(f"note the new times of the touched files of {table.table.name}", statement)
                for statement in q.ledger_new_times(table.table, table.new_times())]

    def after_loads(self) -> list:
        """What follows the loads of every staging table (the loader numbers its ledger rows itself)."""
        return []

    def validate_steps(self, config: Config) -> list:
        return [LoaderCheck(f"check {spec.table.name}", spec) for spec in config.sources.inputs]


def _clears(tables, statements) -> list[Statement]:
    return [Statement(f"clear {table.name}", statement) for table, statement in zip(tables, statements, strict=True)]
