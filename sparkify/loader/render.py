"""Rows in the COPY CSV format of ``sql_queries.copy_from_stdin``.

Strings are always quoted, with \\" for a quote and \\\\ for a backslash in them (ESCAPE '\\'),
and NULL is an unquoted ``null``: a string "null" or "" stays a string. That is orjson's JSON array
of a row without its brackets, for every row with nothing nested and no string that needed a JSON
escape other than \\".
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import orjson

from .reader import JsonNumber

_dumps = orjson.dumps


def _only_quote_escapes(out: bytes) -> bool:
    """True if every backslash in orjson's ``out`` escapes a double quote (none at all, mostly).
    As many backslashes as backslash-quotes proves it: a \\\\ escape counts two backslashes and at
    most one backslash-quote, any other escape one backslash and none."""
    return out.count(b"\\") == out.count(b'\\"')


def copy_line(values: Sequence) -> bytes:
    """One row in COPY CSV format."""
    return copy_lines((values,))


def copy_lines(rows: Sequence[Sequence]) -> bytes:
    """Rows in COPY CSV format: one JSON array of them all where it is plain -- no ``[`` in any
    string (so each ``],[`` is where a row ends and the next begins), nothing nested, no escape but
    \\" -- else row by row, and a row that is not plain value by value."""
    try:
        out = _dumps(rows)
    except TypeError:  # an integer beyond 64 bits (from the strict reader)
        out = b"[{"
    if out.count(b"[") == len(rows) + 1 and b"{" not in out and _only_quote_escapes(out):
        return out[2:-2].replace(b"],[", b"\n") + b"\n"
    if len(rows) > 1:
        return b"".join(copy_lines((row,)) for row in rows)
    return (",".join(map(csv_field, rows[0])) + "\n").encode("utf-8")


def csv_field(value) -> str:
    """One value in COPY CSV format: NULL as null; nested objects and arrays as their JSON text."""
    if value is None:
        return "null"
    kind = type(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return repr(value)
    text = value if isinstance(value, str) else _json_text(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def copy_text(value) -> str:
    """A value as the text a VARCHAR column receives (what ``csv_field`` quotes)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return _json_text(value)


def _json_text(value) -> str:
    if isinstance(value, JsonNumber):
        return str(value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + _json_text(v) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)
