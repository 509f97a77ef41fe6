"""The COPY stand-in for PostgreSQL: what Redshift's ``COPY ... FORMAT AS JSON`` would load, from the
same files, streamed into ``COPY ... FROM STDIN`` with constant memory.

``json_format`` is what the Redshift COPY would say: the location of a JSONPaths file (columns by
position), ``auto`` (keys equal to the column names) or ``auto ignorecase``.
"""

from __future__ import annotations

import collections
import io
import itertools
import json
import logging
import math
import operator
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator, Sequence

import psycopg2
from tqdm import tqdm

import sql_queries as q

from . import compression, parallel, records, sources
from .config import S3Access
from .errors import CompressedInput, DatabaseError, LoadError, Terminated
from .records import RowMapping

log = logging.getLogger(__name__)

COPY_BUFFER_BYTES = 1 << 18
AUTO_FORMATS = ("auto", "auto ignorecase")
PREFETCH_OBJECTS = 16
PREFETCH_MAX_BYTES = 1 << 20
_COPY_CONTEXT = re.compile(r"COPY \S+, line (\d+)(?:, column (\w+))?")


@dataclass(frozen=True)
class LoadResult:
    table: str
    files: int
    rows: int
    seconds: float
    parsed: int = 0
    rejected: int = 0
    # (file, parsed, loaded, rejected) of every file that had a rejected record
    files_with_rejections: tuple = ()


class _Tolerance:
    """MAX_ERRORS for one table: bad records skipped and kept, up to the limit; one more fails.
    ``keep`` bounds how many are held in memory (validation counts every one, keeps the first)."""

    def __init__(self, table: str, limit: float, keep: float = math.inf):
        self.table, self.limit, self.keep = table, limit, keep
        self.rejected: list[tuple] = []
        self.count = 0
        self.parsed = 0
        self.files_with_rejections: list[tuple] = []

    def reject(self, uri: str, line: int, reason: str, raw: bytes | str) -> None:
        self.count += 1
        if len(self.rejected) < self.keep:
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            self.rejected.append((self.table, uri, line, reason[:65535], text[:65535]))  # the columns' widths
        if self.count > self.limit:
            raise LoadError(f"{uri}, line {line}: {reason} ({self.count} bad records in {self.table},"
                            f" more than MAX_ERRORS={self.limit}; nothing was committed)")


def make_mapper(table: q.Table, json_format: str, what: str, access: S3Access | None = None) -> RowMapping:
    """The record-to-row function for a table and a COPY JSON format, and the test that tells when a
    record needs the strict reader: a number, object or array arriving in a text column, where
    Redshift loads the source text as written."""
    return mapping_for(table, json_format, read_paths_file(json_format, what, access))


def read_paths_file(json_format: str, what: str, access: S3Access | None = None) -> bytes | None:
    """The JSONPaths file a COPY JSON format names; None for ``auto``."""
    return None if json_format in AUTO_FORMATS else sources.read_object(json_format, what, access)


def mapping_for(table: q.Table, json_format: str, paths_file: bytes | None) -> RowMapping:
    """``make_mapper`` with the JSONPaths file already read (``paths_file``; None for auto)."""
    text = [i for i, column in enumerate(table.columns) if column.type.startswith("VARCHAR")]
    keys = None  # the top-level key of each column, where every column has one
    if paths_file is None:
        ignorecase = json_format == "auto ignorecase"
        mapper = records.auto_mapper(table.column_names, ignorecase=ignorecase)
        text_values = records.auto_mapper([table.column_names[i] for i in text], ignorecase=ignorecase)
        keys = None if ignorecase else table.column_names
    else:
        paths = records.parse_jsonpaths(paths_file, json_format, len(table.columns))
        mapper = records.jsonpaths_mapper(paths)
        text_values = records.jsonpaths_mapper([paths[i] for i in text])
        keys = records.top_level_keys(paths)
    inexact = {int, float, list, dict}
    text_of_row = operator.itemgetter(*text) if len(text) > 1 else (lambda row: [row[i] for i in text])

    def needs_exact(obj: dict) -> bool:
        return not inexact.isdisjoint(map(type, text_values(obj)))

    def exact_rows(rows: Sequence[Sequence]) -> Sequence[int]:
        if inexact.isdisjoint(map(type, itertools.chain.from_iterable(map(text_of_row, rows)))):
            return ()  # one C-level pass over every row's text values, the usual answer
        return [i for i, row in enumerate(rows) if not inexact.isdisjoint(map(type, text_of_row(row)))]

    decode = records.row_decoder(keys, [i in text for i in range(len(table.columns))]) if keys else None
    return RowMapping(mapper, needs_exact, exact_rows, decode)


class _Origins:
    """Which file each COPY row came from: one entry per file, so memory stays small."""

    def __init__(self):
        self.first_rows: list[int] = []
        self.files: list[sources.SourceObject] = []

    def add(self, first_row: int, obj: sources.SourceObject) -> None:
        self.first_rows.append(first_row)
        self.files.append(obj)

    def locate(self, row: int) -> tuple[str, int | None]:
        """(file, line) of COPY row ``row`` (1-based), re-reading that one file to find the line."""
        import bisect

        index = bisect.bisect_right(self.first_rows, row) - 1
        if index < 0:
            return "?", None
        obj, nth = self.files[index], row - self.first_rows[index]
        with obj.open() as stream:
            for position, (line, _) in enumerate(records.read_objects(stream, obj.uri)):
                if position == nth:
                    return obj.uri, line
        return obj.uri, None


class _CopyStream:
    """A read()-able file over an iterator of COPY lines (bytes), for ``cursor.copy_expert``."""

    def __init__(self, lines: Iterator[bytes]):
        self._lines = lines
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            chunk, length = [], 0
            for line in self._lines:
                chunk.append(line)
                length += len(line)
                if length >= COPY_BUFFER_BYTES:
                    break
            return b"".join(chunk)
        except BaseException as exc:  # kept to re-raise as itself once psycopg2 has aborted the COPY
            self.error = exc  # (Ctrl-C included, wherever in here it lands)
            raise


def _read_whole(obj: sources.SourceObject) -> bytes:
    """The stored bytes (compressed, where the object is: decompressed as they are read)."""
    with obj.open_raw() as stream:
        return stream.read()


def _opened(objects: Iterable[sources.SourceObject]) -> Iterator[tuple[sources.SourceObject, BinaryIO]]:
    """Each object with an open binary stream, in order.

    Small remote objects (song files are ~250 bytes; S3 makes each a round trip) are read ahead by
    a bounded thread pool, at most PREFETCH_OBJECTS at a time; local files and large objects are
    streamed as they are read (for local files a pool costs more than it saves).
    """
    pending = iter(objects)
    window: collections.deque = collections.deque()
    with ThreadPoolExecutor(max_workers=PREFETCH_OBJECTS, thread_name_prefix="sparkify-read") as pool:

        def read_ahead() -> None:
            obj = next(pending, None)
            if obj is not None:
                prefetch = obj.remote and obj.size <= PREFETCH_MAX_BYTES
                window.append((obj, pool.submit(_read_whole, obj) if prefetch else None))

        for _ in range(PREFETCH_OBJECTS):
            read_ahead()
        while window:
            obj, future = window.popleft()
            read_ahead()
            if future is not None:
                yield obj, obj.decompressing(io.BytesIO(future.result()))
            elif obj.size <= PREFETCH_MAX_BYTES:  # one read() of a small file, no chunk buffer
                yield obj, obj.decompressing(io.BytesIO(_read_whole(obj)))
            else:
                with obj.open() as stream:
                    yield obj, stream


def _copy_lines(objects: Iterable[sources.SourceObject], mapping: RowMapping, origins: _Origins,
                progress) -> Iterator[bytes]:
    row = 0
    for obj, stream in _opened(objects):
        origins.add(row + 1, obj)
        for rows, text in records.copy_chunks(stream, obj.uri, mapping):
            row += rows
            yield text
        progress.set_postfix_str(f"{row:,} rows", refresh=False)
        progress.update(1)


def _tolerant_records(stream, uri: str, needs_exact):
    """(line, record or None, raw, reason or None) for MAX_ERRORS mode. In a file of one object per
    line each line is a record, and a bad line is rejected alone; a file whose first line opens an
    object that goes on over more lines (pretty-printed) is read as one document, and a parse error
    there rejects the rest of that file as one record."""
    lines = records._byte_lines(stream, records.CHUNK_SIZE)
    number, any_record = 0, False
    for raw in lines:
        number += 1
        if number == 1:
            compression.refuse_if_compressed(raw, uri)
        if number == 1 and raw.startswith(records._BOM):
            raw = records.without_bom(raw)
        if type(raw) is records.Overlong:  # too long to hold: read on from it, as one document
            yield from _strict_rest(itertools.chain([raw], raw.rest), uri, number)
            any_record = True
            break
        text = raw.strip()
        if not text:
            continue
        try:
            objects = records.parse_line(text, needs_exact)
        except records.NestedTooDeeply:
            any_record = True
            yield number, None, text, records.NESTED_TOO_DEEPLY
            continue
        if objects is None and not any_record and not text.endswith(b"}"):
            yield from _strict_rest(itertools.chain([raw], (b"\n" + line for line in lines)), uri, number)
            any_record = True
            break
        any_record = True
        if objects is None:
            yield number, None, text, records.line_problem(text)
        else:
            for record in objects:
                yield number, record, text, None
    if not any_record:
        yield 1, None, "", "empty file: no JSON object in it"


def _strict_rest(rest, uri: str, number: int):
    """The records of the rest of a file read as one document (pretty-printed, or a line too long to
    hold); a parse error there rejects what is left of the file as one record."""
    try:
        for line, record in records._strict_objects(rest, uri, number, 0):
            yield line, record, None, None
    except LoadError as exc:
        where, _, reason = str(exc).partition(": ")
        yield int(where.rsplit("line ", 1)[1]), None, "", reason


def _tolerant_copy_lines(objects, mapping: RowMapping, table: q.Table, tolerance: _Tolerance, origins: _Origins,
                         progress) -> Iterator[bytes]:
    mapper, needs_exact = mapping.row, mapping.needs_exact
    problem_in = records.row_validator(table.columns)
    row = 0
    for obj, stream in _opened(objects):
        origins.add(row + 1, obj)
        parsed = rejected = 0
        for line, record, raw, reason in _tolerant_records(stream, obj.uri, needs_exact):
            parsed += 1
            values = mapper(record) if record is not None else None
            try:
                reason = reason or problem_in(values)
                text = None if reason else records.copy_line(values)
            except RecursionError:  # a value nested deeper than checking and rendering go
                reason = records.NESTED_TOO_DEEPLY
            if reason:
                rejected += 1
                tolerance.reject(obj.uri, line, reason, raw if raw is not None else json.dumps(record))
                continue
            row += 1
            yield text
        tolerance.parsed += parsed
        if rejected:
            tolerance.files_with_rejections.append((obj.uri, parsed, parsed - rejected, rejected))
        progress.update(1)


def load_table(cursor, table: q.Table, location: str, json_format: str, *, what: str, format_what: str = "",
               access: S3Access | None = None, show_progress: bool = False, max_errors: int = 0,
               freeze: bool = False, stored_as: str = compression.NONE, compression_what: str = "") -> LoadResult:
    """Load every object under ``location`` into ``table``; the caller owns the transaction.

    ``what``, ``format_what`` and ``compression_what`` name the settings that gave ``location``,
    ``json_format`` and ``stored_as`` (how the files are compressed), for error messages.
    ``freeze``: COPY ... FREEZE, for a caller that emptied ``table`` and ``load_errors`` with
    TRUNCATE in this transaction.
    """
    try:
        return _load_table(cursor, table, location, json_format, what, format_what, access, show_progress,
                           max_errors, freeze, stored_as)
    except CompressedInput as exc:
        raise exc.with_key(compression_what) if compression_what else exc from None


def _load_table(cursor, table, location, json_format, what, format_what, access, show_progress, max_errors, freeze,
                stored_as) -> LoadResult:
    started = time.perf_counter()
    paths_file = read_paths_file(json_format, format_what or what, access)  # the workers get it too
    mapping = mapping_for(table, json_format, paths_file)
    objects = sources.list_objects(location, what, access, stored_as)
    origins = _Origins()
    workers = parallel.worker_count(objects) if not max_errors else 0
    with tqdm(total=len(objects), desc=f"loading {table.name}", unit="file", disable=not show_progress,
              leave=False) as progress:
        tolerance = _Tolerance(table.name, max_errors) if max_errors else None
        if tolerance is not None:
            lines = _tolerant_copy_lines(objects, mapping, table, tolerance, origins, progress)
        elif workers:
            lines = parallel.copy_lines(objects, mapping, table, json_format, paths_file, workers, origins, progress,
                                        stored_as)
        else:
            lines = _copy_lines(objects, mapping, origins, progress)
        stream = _CopyStream(lines)
        try:
            cursor.copy_expert(q.copy_from_stdin(table, freeze), stream, size=COPY_BUFFER_BYTES)
        except psycopg2.Error as exc:
            if stream.error is not None:
                raise stream.error from None
            if "error in .read() call" in str(exc):
                # read() raised before its first line ran: only a signal does that -- SIGTERM (its
                # handler's exception is named in the message) or else Ctrl-C (psycopg2 then cannot
                # name it: the exception is not yet built)
                raise (Terminated if "Terminated" in str(exc) else KeyboardInterrupt) from None
            raise _explain_copy_error(exc, table, origins) from None
        except BaseException:
            if stream.error is not None:
                raise stream.error from None
            raise
    rows = cursor.rowcount
    if tolerance is not None and tolerance.rejected:
        rejected = iter(records.copy_line(row) for row in tolerance.rejected)
        cursor.copy_expert(q.copy_from_stdin(q.LOAD_ERRORS, freeze), _CopyStream(rejected),
                           size=COPY_BUFFER_BYTES)
        log.warning("skipped %d bad records in %s (MAX_ERRORS=%d); they are in load_errors",
                    len(tolerance.rejected), table.name, max_errors)
    seconds = time.perf_counter() - started
    log.info("loaded %s rows from %s files into %s in %.1fs%s", rows, len(objects), table.name, seconds,
             f" ({workers} worker processes)" if workers else "")
    if tolerance is None:
        return LoadResult(table.name, len(objects), rows, seconds, parsed=rows)
    return LoadResult(table.name, len(objects), rows, seconds, parsed=tolerance.parsed,
                      rejected=len(tolerance.rejected), files_with_rejections=tuple(tolerance.files_with_rejections))


@dataclass(frozen=True)
class Rejection:
    """One record a load refused, on either engine."""

    file: str
    line: int | None
    reason: str
    column: str | None = None
    value: str | None = None

    def describe(self) -> str:
        where = f"{self.file}, line {self.line}" if self.line is not None else self.file
        column = f", column {self.column}" if self.column else ""
        value = f", value {self.value!r}" if self.value is not None else ""
        return f"{where}{column}{value}: {self.reason}"


@dataclass(frozen=True)
class Validation:
    """What ``etl.py --validate`` found in one table's input: nothing is loaded."""

    table: str
    files: int | None  # None: not known (Redshift checked the files)
    records: int | None
    problems: int
    first: tuple[Rejection, ...]


def validate_table(table: q.Table, location: str, json_format: str, *, what: str, format_what: str = "",
                   access: S3Access | None = None, show_progress: bool = False, keep: int = 100,
                   stored_as: str = compression.NONE, compression_what: str = "") -> Validation:
    """Parse and check every record as a load would, without a database: the loader's parse-only
    mode. Every problem is counted; the first ``keep`` are returned. A compressed file read as
    plain JSON stops the check (a setting to fix, not a bad record)."""
    mapping = make_mapper(table, json_format, format_what or what, access)
    objects = sources.list_objects(location, what, access, stored_as)
    tolerance = _Tolerance(table.name, math.inf, keep=keep)
    with tqdm(total=len(objects), desc=f"checking {table.name}", unit="file", disable=not show_progress,
              leave=False) as progress:
        try:
            for _ in _tolerant_copy_lines(objects, mapping, table, tolerance, _Origins(), progress):
                pass
        except CompressedInput as exc:
            raise exc.with_key(compression_what) if compression_what else exc from None
    first = tuple(Rejection(uri, line, reason) for _, uri, line, reason, _ in tolerance.rejected)
    return Validation(table.name, len(objects), tolerance.parsed, tolerance.count, first)


def _explain_copy_error(exc: psycopg2.Error, table: q.Table, origins: _Origins) -> LoadError | DatabaseError:
    """A server-side COPY error as one line naming the input file, line and column."""
    message = " ".join((exc.diag.message_primary or str(exc)).split())  # one line, whatever libpq wrote
    match = _COPY_CONTEXT.search(exc.diag.context or "")
    if not match:
        return DatabaseError(f"loading {table.name} failed: {message}")
    uri, line = origins.locate(int(match.group(1)))
    column = match.group(2)
    where = f"{uri}, line {line}" if line else uri
    field = f", column {column}" if column else ""
    return LoadError(f"{where}{field}: {message} (loading {table.name})")
