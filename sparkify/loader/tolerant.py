"""The reader's tolerant mode (MAX_ERRORS and ``--validate``): a bad line is one rejected record,
and reading goes on."""

from __future__ import annotations

import itertools

from .. import compression
from ..errors import LoadError
from .reader import (BOM, CHUNK_SIZE, EMPTY_FILE, NESTED_TOO_DEEPLY, NestedTooDeeply, Overlong, byte_lines,
                     line_problem, parse_line, strict_objects, without_bom)


def tolerant_records(stream, uri: str, needs_exact):
    """(line, record or None, raw, reason or None) for MAX_ERRORS mode. In a file of one object per
    line each line is a record, and a bad line is rejected alone; a file whose first line opens an
    object that goes on over more lines (pretty-printed) is read as one document, and a parse error
    there rejects the rest of that file as one record."""
    lines = byte_lines(stream, CHUNK_SIZE)
    number, any_record = 0, False
    for raw in lines:
        number += 1
        if number == 1:
            compression.refuse_if_compressed(raw, uri)
        if number == 1 and raw.startswith(BOM):
            raw = without_bom(raw)
        if type(raw) is Overlong:  # too long to hold: read on from it, as one document
            yield from strict_rest(itertools.chain([raw], raw.rest), uri, number)
            any_record = True
            break
        text = raw.strip()
        if not text:
            continue
        try:
            objects = parse_line(text, needs_exact)
        except NestedTooDeeply:
            any_record = True
            yield number, None, text, NESTED_TOO_DEEPLY
            continue
        if objects is None and not any_record and not text.endswith(b"}"):
            yield from strict_rest(itertools.chain([raw], (b"\n" + line for line in lines)), uri, number)
            any_record = True
            break
        any_record = True
        if objects is None:
            yield number, None, text, line_problem(text)
        else:
            for record in objects:
                yield number, record, text, None
    if not any_record:
        yield 1, None, "", EMPTY_FILE


def strict_rest(rest, uri: str, number: int):
    """The records of the rest of a file read as one document (pretty-printed, or a line too long to
    hold); a parse error there rejects what is left of the file as one record."""
    try:
        for line, record in strict_objects(rest, uri, number, 0):
            yield line, record, None, None
    except LoadError as exc:
        where, _, reason = str(exc).partition(": ")
        yield int(where.rsplit("line ", 1)[1]), None, "", reason
