"""Render ``psycopg2.sql`` compositions to text without a connection.

psycopg2 needs a live connection to quote (``Composed.as_string(conn)``); ``--dry-run`` connects to
nothing and the Redshift statements are checked offline, so this renders them the way psycopg2 does
on a server with ``standard_conforming_strings`` on (PostgreSQL's default, and Redshift's). A test
compares this with ``as_string`` on a real server for every statement the project has. (Config
values that reach SQL never hold quotes or backslashes: sparkify.config rejects them.)
"""

from __future__ import annotations

from psycopg2 import sql


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def render(statement: sql.Composable) -> str:
    """The text psycopg2 would send for ``statement``."""
    if isinstance(statement, sql.Composed):
        return "".join(render(part) for part in statement.seq)
    if isinstance(statement, sql.SQL):
        return statement.string
    if isinstance(statement, sql.Identifier):
        return ".".join(_quote_identifier(name) for name in statement.strings)
    if isinstance(statement, sql.Literal):
        return _quote_literal(statement.wrapped)
    if isinstance(statement, sql.Placeholder):
        return "%s" if statement.name is None else "%(" + statement.name + ")s"
    raise TypeError(f"cannot render {type(statement).__name__}")


def one_line(statement: sql.Composable) -> str:
    """The rendered statement with its whitespace folded, for logs and --dry-run."""
    return " ".join(render(statement).split())
