"""Plain-text tables for the terminal: the ETL summary and the analytics answers."""

from __future__ import annotations

from decimal import Decimal
from collections.abc import Sequence


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def format_table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    """Columns padded to their widest cell; numbers right-aligned, text left-aligned."""
    text = [[cell(v) for v in row] for row in rows]
    numeric = [all(isinstance(row[i], (int, float, Decimal)) or row[i] is None for row in rows) and bool(rows)
               for i in range(len(headers))]
    widths = [max([len(h)] + [len(row[i]) for row in text]) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths)] + [line(row) for row in text])
