"""The load and validate entry points: every object under a source, streamed into ``COPY ... FROM
STDIN`` with constant memory (or only parsed and checked, for ``--validate``)."""

from __future__ import annotations

import bisect
import collections
import io
import json
import logging
import math
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO
from collections.abc import Iterable, Iterator, Sequence

import psycopg2
from tqdm import tqdm

import sql_queries as q

from .. import sources
from ..errors import CompressedInput, DatabaseError, LoadError, Terminated, whole_message
from ..results import LoadResult, Rejection, Validation
from ..source import SourceObject, TableInput
from . import workers
from .mapping import MappingSpec, RowMapping
from .reader import NESTED_TOO_DEEPLY, read_objects
from .tolerant import tolerant_records
from .render import copy_line
from .rows import copy_chunks
from .values import row_validator

log = logging.getLogger(__name__)

COPY_BUFFER_BYTES = 1 << 18
PREFETCH_OBJECTS = 16
PREFETCH_MAX_BYTES = 1 << 20
_COPY_CONTEXT = re.compile(r"COPY \S+, line (\d+)(?:, column (\w+))?")


class Tolerance:
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


def read_paths_file(spec: TableInput) -> bytes | None:
    """The JSONPaths file the table's COPY JSON format names; None for ``auto``."""
    return None if spec.paths is None else sources.read_object(spec.paths)


class Origins:
    """Which file each COPY row came from: one entry per file, so memory stays small."""

    def __init__(self):
        self.first_rows: list[int] = []
        self.files: list[SourceObject] = []

    def add(self, first_row: int, obj: SourceObject) -> None:
        self.first_rows.append(first_row)
        self.files.append(obj)

    def rows_per_file(self, total: int) -> tuple[int, ...]:
        """The rows each file gave, in load order, of ``total`` rows in all."""
        ends = self.first_rows[1:] + [total + 1]
        return tuple(end - first for first, end in zip(self.first_rows, ends))

    def locate(self, row: int) -> tuple[str, int | None]:
        """(file, line) of COPY row ``row`` (1-based), re-reading that one file to find the line."""
        index = bisect.bisect_right(self.first_rows, row) - 1
        if index < 0:
            return "?", None
        obj, nth = self.files[index], row - self.first_rows[index]
        with obj.open() as stream:
            for position, (line, _) in enumerate(read_objects(stream, obj.uri)):
                if position == nth:
                    return obj.uri, line
        return obj.uri, None


class CopyStream:
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


def _read_whole(obj: SourceObject) -> bytes:
    """The stored bytes (compressed, where the object is: decompressed as they are read)."""
    with obj.open_raw() as stream:
        return stream.read()


def opened(objects: Iterable[SourceObject]) -> Iterator[tuple[SourceObject, BinaryIO]]:
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


def _serial_lines(objects: Iterable[SourceObject], mapping: RowMapping, origins: Origins,
                progress) -> Iterator[bytes]:
    row = 0
    for obj, stream in opened(objects):
        origins.add(row + 1, obj)
        for rows, text in copy_chunks(stream, obj.uri, mapping):
            row += rows
            yield text
        progress.set_postfix_str(f"{row:,} rows", refresh=False)
        progress.update(1)


def _tolerant_lines(objects, mapping: RowMapping, table: q.Table, tolerance: Tolerance, origins: Origins,
                         progress) -> Iterator[bytes]:
    mapper, needs_exact = mapping.row, mapping.needs_exact
    problem_in = row_validator(table.columns)
    row = 0
    for obj, stream in opened(objects):
        origins.add(row + 1, obj)
        parsed = rejected = 0
        for line, record, raw, reason in tolerant_records(stream, obj.uri, needs_exact):
            parsed += 1
            values = mapper(record) if record is not None else None
            try:
                reason = reason or problem_in(values)
                text = None if reason else copy_line(values)
            except RecursionError:  # a value nested deeper than checking and rendering go
                reason = NESTED_TOO_DEEPLY
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


def load_table(cursor, spec: TableInput, *, show_progress: bool = False, freeze: bool = False) -> LoadResult:
    """Load every object of ``spec.data`` into ``spec.table``; the caller owns the transaction.
    ``freeze``: COPY ... FREEZE, for a caller that emptied the table and ``load_errors`` with
    TRUNCATE in this transaction."""
    try:
        return _load_table(cursor, spec, show_progress, freeze)
    except CompressedInput as exc:
        raise _named(exc, spec) from None


def _load_table(cursor, spec: TableInput, show_progress: bool, freeze: bool) -> LoadResult:
    started = time.perf_counter()
    table, max_errors = spec.table, spec.max_errors
    mapping_spec = MappingSpec(table, spec.json_format, read_paths_file(spec))  # the workers get it too
    mapping = mapping_spec.build()
    objects = list(spec.files) if spec.files is not None else sources.list_objects(spec.data)
    origins = Origins()
    processes = workers.worker_count(objects) if not max_errors else 0
    with tqdm(total=len(objects), desc=f"loading {table.name}", unit="file", disable=not show_progress,
              leave=False) as progress:
        tolerance = Tolerance(table.name, max_errors) if max_errors else None
        if tolerance is not None:
            lines = _tolerant_lines(objects, mapping, table, tolerance, origins, progress)
        elif processes:
            lines = workers.pooled_lines(objects, mapping, mapping_spec, processes, origins, progress,
                                        spec.data.compression)
        else:
            lines = _serial_lines(objects, mapping, origins, progress)
        stream = CopyStream(lines)
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
        copy_rows(cursor, q.LOAD_ERRORS, tolerance.rejected, freeze)
        log.warning("skipped %d bad records in %s (MAX_ERRORS=%d); they are in load_errors",
                    len(tolerance.rejected), table.name, max_errors)
    seconds = time.perf_counter() - started
    log.info("loaded %s rows from %s files into %s in %.1fs%s", rows, len(objects), table.name, seconds,
             f" ({processes} worker processes)" if processes else "", extra={"in_the_summary": True})
    file_rows = origins.rows_per_file(rows)
    if tolerance is None:
        return LoadResult(table.name, len(objects), rows, seconds, parsed=rows, file_rows=file_rows)
    return LoadResult(table.name, len(objects), rows, seconds, parsed=tolerance.parsed,
                      rejected=len(tolerance.rejected), files_with_rejections=tuple(tolerance.files_with_rejections),
                      file_rows=file_rows)


def copy_rows(cursor, table: q.Table, rows: Iterable[Sequence], freeze: bool = False) -> None:
    """Rows of values (every column of ``table``, in order) into it with one ``COPY ... FROM STDIN``."""
    cursor.copy_expert(q.copy_from_stdin(table, freeze), CopyStream(iter(copy_line(row) for row in rows)),
                       size=COPY_BUFFER_BYTES)


def validate_table(spec: TableInput, *, show_progress: bool = False, keep: int = 100) -> Validation:
    """Parse and check every record as a load would, without a database: the loader's parse-only
    mode. Every problem is counted; the first ``keep`` are returned. A compressed file read as
    plain JSON stops the check (a setting to fix, not a bad record)."""
    table = spec.table
    mapping = MappingSpec(table, spec.json_format, read_paths_file(spec)).build()
    objects = sources.list_objects(spec.data)
    tolerance = Tolerance(table.name, math.inf, keep=keep)
    with tqdm(total=len(objects), desc=f"checking {table.name}", unit="file", disable=not show_progress,
              leave=False) as progress:
        try:
            for _ in _tolerant_lines(objects, mapping, table, tolerance, Origins(), progress):
                pass
        except CompressedInput as exc:
            raise _named(exc, spec) from None
    first = tuple(Rejection(uri, line, reason) for _, uri, line, reason, _ in tolerance.rejected)
    return Validation(table.name, len(objects), tolerance.parsed, tolerance.count, first)


def _named(exc: CompressedInput, spec: TableInput) -> CompressedInput:
    """A compressed file read as plain JSON, naming the setting that would load it."""
    return exc.with_key(spec.data.compression_key) if spec.data.compression_key else exc


def _explain_copy_error(exc: psycopg2.Error, table: q.Table, origins: Origins) -> LoadError | DatabaseError:
    """A server-side COPY error as one line naming the input file, line and column."""
    message = whole_message(exc)
    match = _COPY_CONTEXT.search(exc.diag.context or "")
    if not match:
        return DatabaseError(f"loading {table.name} failed: {message}")
    uri, line = origins.locate(int(match.group(1)))
    column = match.group(2)
    where = f"{uri}, line {line}" if line else uri
    field = f", column {column}" if column else ""
    return LoadError(f"{where}{field}: {message} (loading {table.name})")
