"""Values against their column types, for the tolerant mode (MAX_ERRORS, ``--validate``): why a
mapped row would not load, in words a user can act on."""

from __future__ import annotations

import math
from collections.abc import Callable

from .render import copy_text

_INT_LIMITS = {"SMALLINT": 2**15, "INTEGER": 2**31, "BIGINT": 2**63}


def _integer_problem(limit: int):
    def check(value):
        if isinstance(value, bool) or isinstance(value, float):
            return f"{value!r} is not a whole number"
        try:
            number = int(value) if isinstance(value, int) else int(str(value).strip())
        except ValueError:
            return f"{str(value)!r} is not a whole number"
        return None if -limit <= number < limit else f"{number} is out of range"
    return check


def _float_problem(value):
    if isinstance(value, bool):
        return f"{value!r} is not a number"
    if isinstance(value, (int, float)):
        return None
    try:
        number = float(str(value).replace("_", "x"))
    except ValueError:
        return f"{str(value)!r} is not a number"
    return None if math.isfinite(number) else f"{str(value)!r} is not a finite number"


def _text_problem(limit: int):
    def check(value):
        text = copy_text(value)
        if "\x00" in text:
            return "holds a NUL character"
        size = len(text.encode("utf-8", "surrogatepass"))
        return None if size <= limit else f"{size} bytes, longer than VARCHAR({limit})"
    return check


def row_validator(columns) -> Callable[[list], str | None]:
    """A function that says why a mapped row would not load into ``columns``, or None."""
    checks = []
    for column in columns:
        if column.type in _INT_LIMITS:
            check = _integer_problem(_INT_LIMITS[column.type])
        elif column.type == "DOUBLE PRECISION":
            check = _float_problem
        elif column.type.startswith("VARCHAR("):
            check = _text_problem(int(column.type[8:-1]))
        else:
            check = lambda value: None  # noqa: E731
        checks.append((column.name, column.not_null, check))

    def problem(values) -> str | None:
        for (name, not_null, check), value in zip(checks, values):
            if value is None:
                if not_null:
                    return f"column {name}: missing (the column is NOT NULL)"
                continue
            found = check(value)
            if found:
                return f"column {name}: {found}"
        return None

    return problem
