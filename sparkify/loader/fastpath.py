"""The whole-chunk fast path: a chunk of plain one-object lines to rows in C-level passes.

Measured to be the loader's largest single saving (msgspec decodes each line straight to a row where
every column is a top-level key); guarded by the test that a whole chunk gives exactly the rows, or
the error, of reading it line by line (``tests/test_loader.py``). Anything it cannot prove plain it
hands back (None), and the reader goes line by line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from .reader import NestedTooDeeply, decode_any, keys_once, strict_line


def chunk_rows(lines: list[bytes], mapping) -> list | None:
    """The rows of a chunk in which every line is one plain object (``_fast_object``'s checks, made
    for all lines at once), or None: read this chunk line by line. Where the mapping has a
    decoder, each line goes straight to its row; else through msgspec's dict."""
    if mapping.decode is not None:
        try:
            rows = list(map(mapping.decode, lines))
        except (msgspec.DecodeError, RecursionError):  # a key missing or unknown, a number in a text column, bad JSON
            rows = None
        if rows is not None:
            # every key is there, and only those: as many colons as columns, no key twice
            return rows if keys_once(lines, [len(rows[0])] * len(lines)) else None
    try:
        objects = list(map(decode_any, lines))
    except (msgspec.DecodeError, RecursionError):
        return None
    if not objects or set(map(type, objects)) != {dict}:
        return None
    if not keys_once(lines, list(map(len, objects))):
        return None
    mapper = mapping.row
    every = getattr(mapper, "every", None)  # all keys at once, where the mapper has that
    try:
        rows = list(map(every or mapper, objects))
    except KeyError:
        rows = list(map(mapper, objects))
    for i in mapping.exact_rows(rows):  # a number in a text column: the strict reader's object, as line by line
        try:
            found = strict_line(lines[i].strip())
        except NestedTooDeeply:
            return None  # line by line, which says so
        if found is None:
            return None
        rows[i] = mapper(found[0])
    return rows


def row_decoder(keys: Sequence[str], text: Sequence[bool]) -> Callable[[bytes], tuple] | None:
    """One line of JSON straight to a row, by msgspec, for a mapping whose every column is a
    distinct top-level key: every key must be there and no other (so a colon count can prove no
    key came twice), a text column takes only a string or null (anything else: the strict reader
    decides), other columns any value. None where the keys are not distinct."""
    if len(set(keys)) != len(keys):
        return None
    names = [f"c{i}" for i in range(len(keys))]
    record = msgspec.defstruct("Record", [(name, (str | None) if is_text else object)
                                          for name, is_text in zip(names, text)],
                               rename=dict(zip(names, keys)), forbid_unknown_fields=True)
    decode = msgspec.json.Decoder(record).decode
    as_row = msgspec.structs.astuple
    return lambda line: as_row(decode(line))
