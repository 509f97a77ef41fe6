"""How records become rows: JSONPaths (columns by position) or ``auto`` (keys equal to the column
names), and the test that tells when a record needs the strict reader's numbers.

A mapping is built from a small picklable ``MappingSpec`` (the table, the COPY JSON format and the
JSONPaths file's bytes), so worker processes build the same one from the spec alone.
"""

from __future__ import annotations

import itertools
import json
import operator
import re
from dataclasses import dataclass
from typing import NamedTuple
from collections.abc import Callable, Sequence

import sql_queries as q

from ..errors import LoadError
from .fastpath import row_decoder


class RowMapping(NamedTuple):
    """How records become rows of one table, for one COPY JSON format (``MappingSpec.build``)."""

    row: Callable[[dict], Sequence]  # record -> row
    needs_exact: Callable[[dict], bool]  # record -> must the strict reader's record be used?
    exact_rows: Callable[[Sequence[Sequence]], Sequence[int]]  # the same question of rows: which need it
    decode: Callable[[bytes], Sequence] | None = None  # one line straight to a row (``row_decoder``)


@dataclass(frozen=True)
class MappingSpec:
    """All a mapping is built from: small and picklable, for the worker processes. ``json_format``
    is what the Redshift COPY would say (a JSONPaths file's location, ``auto`` or ``auto
    ignorecase``); ``paths_file`` that file's bytes (None for auto)."""

    table: q.Table
    json_format: str
    paths_file: bytes | None = None

    def build(self) -> RowMapping:
        return _mapping(self.table, self.json_format, self.paths_file)


def _mapping(table: q.Table, json_format: str, paths_file: bytes | None) -> RowMapping:
    text = [i for i, column in enumerate(table.columns) if column.type.startswith("VARCHAR")]
    keys = None  # the top-level key of each column, where every column has one
    if paths_file is None:
        ignorecase = json_format == "auto ignorecase"
        mapper = auto_mapper(table.column_names, ignorecase=ignorecase)
        text_values = auto_mapper([table.column_names[i] for i in text], ignorecase=ignorecase)
        keys = None if ignorecase else table.column_names
    else:
        paths = parse_jsonpaths(paths_file, json_format, len(table.columns))
        mapper = jsonpaths_mapper(paths)
        text_values = jsonpaths_mapper([paths[i] for i in text])
        keys = top_level_keys(paths)
    inexact = {int, float, list, dict}
    text_of_row = operator.itemgetter(*text) if len(text) > 1 else (lambda row: [row[i] for i in text])

    def needs_exact(obj: dict) -> bool:
        return not inexact.isdisjoint(map(type, text_values(obj)))

    def exact_rows(rows: Sequence[Sequence]) -> Sequence[int]:
        if inexact.isdisjoint(map(type, itertools.chain.from_iterable(map(text_of_row, rows)))):
            return ()  # one C-level pass over every row's text values, the usual answer
        return [i for i, row in enumerate(rows) if not inexact.isdisjoint(map(type, text_of_row(row)))]

    decode = row_decoder(keys, [i in text for i in range(len(table.columns))]) if keys else None
    return RowMapping(mapper, needs_exact, exact_rows, decode)


_PATH_STEP = re.compile(r"""\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\]|\[\s*(\d+)\s*\]""")

Path = tuple  # of str (object key) and int (array index)


def parse_jsonpath(expression: str) -> Path:
    """``$['a']['b'][0]`` or ``$.a.b[0]`` to ``('a', 'b', 0)``; ValueError if malformed."""
    if not isinstance(expression, str) or not expression.startswith("$"):
        raise ValueError(f"{expression!r} does not start with $")
    steps, pos = [], 1
    while pos < len(expression):
        match = _PATH_STEP.match(expression, pos)
        if not match:
            raise ValueError(f"{expression!r} is not a JSONPath expression Redshift accepts")
        name, single, double, index = match.groups()
        steps.append(int(index) if index is not None else next(s for s in (name, single, double) if s is not None))
        pos = match.end()
    if not steps:
        raise ValueError(f"{expression!r} names no element")
    return tuple(steps)


def parse_jsonpaths(data: bytes, name: str, column_count: int) -> list[Path]:
    """The paths of a JSONPaths file; there must be exactly one per staging column."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
        expressions = document["jsonpaths"]
        if not isinstance(expressions, list):
            raise ValueError('"jsonpaths" is not an array')
        paths = [parse_jsonpath(expression) for expression in expressions]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        reason = 'no "jsonpaths" array' if isinstance(exc, (KeyError, TypeError)) else str(exc)
        raise LoadError(f"{name}: not a valid JSONPaths file: {reason}") from None
    if len(paths) != column_count:
        raise LoadError(f"{name}: has {len(paths)} JSONPath expressions but the table has {column_count} columns")
    return paths


def value_at(obj, path: Path):
    """The value at ``path``, or None where any step is missing."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(obj, list) or step >= len(obj):
                return None
            obj = obj[step]
        else:
            if not isinstance(obj, dict):
                return None
            obj = obj.get(step)
    return obj


def top_level_keys(paths: Sequence[Path]) -> list[str] | None:
    """The key of each path where every path is one top-level key (``$['artist']``), else None."""
    if all(len(path) == 1 and isinstance(path[0], str) for path in paths):
        return [path[0] for path in paths]
    return None


def jsonpaths_mapper(paths: Sequence[Path]) -> Callable[[dict], Sequence]:
    keys = top_level_keys(paths)
    if keys is not None:
        return _keys_mapper(keys)
    return lambda obj: [value_at(obj, path) for path in paths]


def _keys_mapper(keys: Sequence[str]) -> Callable[[dict], Sequence]:
    """The values of ``keys`` (None where one is missing): one C-level lookup when all are there."""
    keys = list(keys)
    if len(keys) < 2:
        return lambda obj: list(map(obj.get, keys))
    every = operator.itemgetter(*keys)

    def mapped(obj: dict) -> Sequence:
        try:
            return every(obj)
        except KeyError:
            return list(map(obj.get, keys))

    mapped.every = every  # for a whole chunk in one map(); KeyError if any key is missing
    return mapped


def auto_mapper(columns: Sequence[str], ignorecase: bool) -> Callable[[dict], Sequence]:
    """``'auto'``: keys equal to the column names; ``'auto ignorecase'``: equal ignoring case."""
    if not ignorecase:
        return _keys_mapper(columns)

    def mapped(obj: dict) -> list:
        lowered = {}
        for key, value in obj.items():
            lowered.setdefault(key.lower(), value)
        return [lowered.get(column) for column in columns]

    return mapped
