"""The loader's hot loop: every object of a stream mapped to a row and rendered for COPY.

``copy_chunks(stream, name, mapping)`` a chunk of lines at a time; ``copy_files`` the same for a
batch of one-line files (song files).
"""

from __future__ import annotations

from typing import BinaryIO
from collections.abc import Iterator, Sequence

from ..errors import LoadError
from .fastpath import chunk_rows
from .mapping import RowMapping
from .reader import BOM, CHUNK_SIZE, NESTED_TOO_DEEPLY, chunks
from .render import copy_lines


def copy_chunks(stream: BinaryIO, name: str, mapping: RowMapping, chunk_size: int = CHUNK_SIZE,
                first_line: int = 1, first_byte: int = 0, require_object: bool = True,
                takeover: bool = True) -> Iterator[tuple[int, bytes]]:
    """``(rows, COPY lines)`` for each chunk of ``stream``: ``read_objects``, the mapping and
    ``copy_lines`` in one pass, the loader's hot loop. A chunk of plain one-object lines goes through
    C-level maps as a whole (``chunk_rows``); any other chunk line by line, as ``read_objects``
    reads it. A row that ``mapping.exact_rows`` names (a number in a text column) is mapped again
    from the strict reader's object, which keeps the number's source text. ``first_line`` and
    ``first_byte`` say where in its file ``stream`` starts (a part of a file); ``require_object``
    false: no object in it is not an error; ``takeover`` false: a line that is not whole objects
    raises LoadError instead of handing the rest to the strict reader (a part of a file cannot
    know where a pretty-printed object began)."""
    mapper, exact_rows = mapping.row, mapping.exact_rows

    def fast(obj: dict) -> Sequence | None:
        row = mapper(obj)
        return None if exact_rows((row,)) else row

    def fast_batch(lines: list[bytes]) -> list | None:
        return chunk_rows(lines, mapping)

    for numbers, rows in chunks(stream, name, chunk_size, fast_batch, fast, mapper, first_line, first_byte,
                                 require_object, takeover):
        if rows:
            try:
                text = copy_lines(rows)
            except RecursionError:  # a value nested deeper than rendering goes: which line?
                raise LoadError(f"{name}, line {_too_deep(numbers, rows)}: {NESTED_TOO_DEEPLY}") from None
            yield len(rows), text


def copy_files(contents: Sequence[bytes], mapping: RowMapping) -> bytes | None:
    """COPY lines for small files that each hold one object on one line (song files), one row per
    file, read as one chunk of lines; None if any file is not like that: read each file alone."""
    lines = [data[:-1] if data.endswith(b"\n") else data for data in contents]
    if any(b"\n" in line or line.startswith(BOM) for line in lines):
        return None
    rows = chunk_rows(lines, mapping)
    try:
        return None if rows is None else copy_lines(rows)
    except RecursionError:
        return None  # each file alone says which one


def _too_deep(numbers: Sequence[int], rows: Sequence[Sequence]) -> int:
    """The line of the first row that cannot be rendered for being nested too deeply."""
    for number, row in zip(numbers, rows):
        try:
            copy_lines((row,))
        except RecursionError:
            return number
    return numbers[0]
