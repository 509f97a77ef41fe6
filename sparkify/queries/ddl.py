"""The DDL and the per-transaction statements, rendered for one engine's ``Dialect`` from the one
table definition (``schema``)."""

from __future__ import annotations

from psycopg2 import sql

from .dialect import Dialect
from .schema import PROJECT_TABLE_NAMES, STAGING_TABLES, Table, names


def create_table(table: Table, dialect: Dialect) -> sql.Composed:
    """``CREATE TABLE`` for one engine from the one definition."""
    parts = []
    for column in table.columns:
        part = [sql.Identifier(column.name), sql.SQL(column.type)]
        if column.type.startswith("VARCHAR"):
            part[-1] = part[-1] + dialect.text_collation
        if column.identity:
            part.append(dialect.identity)
        if column.not_null:
            part.append(sql.SQL("NOT NULL"))
        parts.append(sql.SQL(" ").join(part))
    if dialect.finite_checks and table in STAGING_TABLES:
        parts.extend(sql.SQL("CONSTRAINT {} CHECK ({} NOT IN ('NaN', 'Infinity', '-Infinity'))").format(
            sql.Identifier(f"{column.name} must be a finite number"), sql.Identifier(column.name))
            for column in table.columns if column.type == "DOUBLE PRECISION")
    if table.primary_key and dialect.declares_primary_keys:
        parts.append(sql.SQL("PRIMARY KEY ({})").format(names(table.primary_key)))
    statement = sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(table.name), sql.SQL(", ").join(parts))
    if dialect.table_attributes:
        statement += sql.SQL(" DISTSTYLE {}").format(sql.SQL(table.diststyle))
        if table.distkey:
            statement += sql.SQL(" DISTKEY ({})").format(sql.Identifier(table.distkey))
        if table.sortkey:
            statement += sql.SQL(" SORTKEY ({})").format(names(table.sortkey))
    return statement


def create_indexes(table: Table, dialect: Dialect) -> list[sql.Composed]:
    """``CREATE INDEX`` for each of the table's ``indexes``, where the engine has indexes."""
    if not dialect.indexes:
        return []
    return [sql.SQL("CREATE INDEX {} ON {} ({})").format(
        sql.Identifier("_".join((table.name, *columns, "idx"))), sql.Identifier(table.name), names(columns))
        for columns in table.indexes]


def drop_table(table_name: str) -> sql.Composed:
    return sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table_name))


def clear_table(table: Table, dialect: Dialect) -> sql.Composed:
    return dialect.clear(table.name)


def analyze(table: Table, dialect: Dialect) -> list[sql.Composed]:
    """The statistics a statement reading ``table`` right after it was filled needs, where the engine
    wants them."""
    return [sql.SQL("ANALYZE {}").format(sql.Identifier(table.name))] if dialect.analyzes else []


def serialize(dialect: Dialect) -> list[sql.SQL]:
    """The first statement of every transaction that changes the project's tables, where the engine
    has one."""
    return [dialect.serialize] if dialect.serialize is not None else []


def lock(dialect: Dialect) -> list[sql.Composed]:
    """The ETL transaction's next statement where the engine needs one: every project table locked."""
    return [sql.SQL("LOCK {}").format(names(PROJECT_TABLE_NAMES))] if dialect.locks_tables else []


SET_SEARCH_PATH = sql.SQL("SET search_path TO {}")
SERVER_VERSION = sql.SQL("SELECT version()")
