"""Which input files a run loads: every file (a full rebuild) or only those the ledger of loaded
files does not have yet (``etl.py --incremental``).

A file is known by its path and by what identifies its content: the S3 ETag, or for a local file
the MD5 of its bytes (computed only where the size or modification time differs from the ledger's,
so a daily run does not read every old file again). A file touched since it was loaded (the same
bytes, a new time) has its new time written to the ledger by the next run that loads something, so
it is read once, not every day. A file whose content changed after it was loaded is an error
naming it; a file that disappeared is reported, and its rows stay.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import NamedTuple
from collections.abc import Iterator

import sql_queries as q

from . import sources
from .config import Config
from .errors import DataSourceError
from .source import SourceObject, TableInput

log = logging.getLogger(__name__)

CHANGED_SHOWN = 5
HASH_CHUNK = 1 << 20


class Recorded(NamedTuple):
    """One row of load_ledger (a tuple: a daily run reads one per file loaded so far)."""

    table: str
    file: str
    bytes: int
    etag: str
    modified: dt.datetime | None
    loaded_at: dt.datetime


@dataclass(frozen=True)
class TableBatch:
    """One staging table's input for this run: the files to load and what was found besides."""

    spec: TableInput  # its ``files`` are the files to load, each with its ETag or MD5
    unchanged: int = 0  # files loaded before, as they were
    gone: tuple[Recorded, ...] = ()  # in the ledger, no longer under the source
    touched: tuple[SourceObject, ...] = ()  # of the unchanged, those with a new modification time (same bytes)
    copies: tuple[tuple[SourceObject, str], ...] = ()  # new files whose content is a loaded or loading file's

    @property
    def table(self) -> q.Table:
        return self.spec.table

    @property
    def files(self) -> tuple[SourceObject, ...] | None:
        """The files to load; None: every file under the source, listed when it loads (``--dry-run``)."""
        return self.spec.files

    @property
    def loads(self) -> bool:
        return self.files is None or bool(self.files)

    def entries(self, loaded_at: str, row_counts=None) -> Iterator[tuple]:
        """The ledger rows (``q.LEDGER_COLUMNS``) of the files to load, one at a time (100,000 song
        files are 40 MB of rows held at once); ``row_counts`` in file order, or None where the engine
        reads them from its COPY's log. None listed yet: none."""
        if self.files is None:
            return iter(())
        counts = row_counts if row_counts is not None else [None] * len(self.files)
        return ((self.table.name, obj.uri, obj.size, obj.etag, _iso(obj.modified), rows, loaded_at)
                for obj, rows in zip(self.files, counts, strict=True))

    def new_times(self) -> list[tuple[str, str | None]]:
        """Each touched file and its new modification time, for its row of the ledger
        (``q.ledger_new_times``): the next daily run takes it as unchanged without reading it."""
        return [(obj.uri, _iso(obj.modified)) for obj in self.touched]


@dataclass(frozen=True)
class Batch:
    """What one run loads, table by table."""

    incremental: bool
    started_at: str  # ISO, UTC: load_runs.started_at and load_ledger.loaded_at
    tables: tuple[TableBatch, ...]

    @property
    def nothing_new(self) -> bool:
        return not any(table.loads for table in self.tables)

    def of(self, table: q.Table) -> TableBatch | None:
        """The batch of one staging table (None: not planned yet)."""
        return next((batch for batch in self.tables if batch.table == table), None)

    def describe(self) -> list[str]:
        """A line per table: a daily run's new, unchanged and disappeared files; a full rebuild's
        files (it loads them all)."""
        lines = []
        for table in self.tables:
            if table.files is None:
                lines.append(f"{table.table.name}: every file under {table.spec.data.described()}")
            elif not self.incremental:
                lines.append(f"{table.table.name}: {_count(len(table.files), 'file')}, all loaded (a full rebuild)"
                             + _copies(table))
            else:
                touched = f" ({len(table.touched):,} of them touched: same bytes, a new time)" if table.touched else ""
                gone = f", {len(table.gone):,} gone from the source (their rows stay)" if table.gone else ""
                lines.append(f"{table.table.name}: {_count(len(table.files), 'new file')},"
                             f" {table.unchanged:,} loaded before{touched}{gone}" + _copies(table))
        return lines


def _copies(table: TableBatch) -> str:
    return f"; {_count(len(table.copies), 'copy')} of loaded content skipped" if table.copies else ""


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def now() -> str:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")


def unlisted(config: Config) -> Batch:
    """A full rebuild's batch as ``--dry-run`` shows it: every file, listed when the run starts."""
    return Batch(False, now(), tuple(TableBatch(spec) for spec in config.sources.inputs))


def plan(config: Config) -> Batch:
    """A full rebuild's batch: every input file, listed now."""
    with Planning(config) as planning:
        return planning.batch()


class NothingNew(Exception):
    """A daily run found no file it had not loaded: it stops, and its transaction is rolled back."""


class Planning:
    """A run's batch in the making. Each source is listed in a thread of its own from the moment it
    is made; ``batch(table)`` waits only for the sources up to that table's. So the ETL loads the
    event files (listed in an instant) while the song files are still being listed, which is most of
    a second for 100,000 of them (a full rebuild, which has no ledger to compare with, also hashes
    its local files there). A daily run compares each source with the ledger rows ``keep`` was
    given (by the run's ``pipeline.ledger_reads`` steps, after its lock). The threads never wait
    for this one, so an interrupted run ends. A context manager: leaving it waits for the listing
    to end. ``listed`` False (a full rebuild on Redshift, whose COPY reads the prefixes itself):
    nothing is listed, and each table's batch is every file under its source."""

    def __init__(self, config: Config, *, incremental: bool = False, listed: bool = True,
                 verify_content: bool = False):
        self.inputs = config.sources.inputs
        self.incremental = incremental
        self.verify_content = verify_content  # hash every local file the ledger has, whatever its size and time
        self._recorded: dict[str, dict[str, Recorded]] = {}  # table -> file -> its row of the ledger
        self.started_at = now()
        self._planner = ThreadPoolExecutor(len(self.inputs), thread_name_prefix="sparkify-list")
        self._planned: list[tuple[TableBatch, list]] = []
        if not listed:
            self._listings = []
            self._planned = [(TableBatch(spec), []) for spec in self.inputs]
        else:
            for spec in self.inputs:  # a wrong path is an error at once, not after the events have loaded
                sources.check_location(spec.data)
            self._listings = [self._planner.submit(self._list, spec) for spec in self.inputs]
        self._logged = 0  # the tables whose batch has been logged, in order

    def __enter__(self) -> Planning:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._planner.shutdown(cancel_futures=True)

    def keep(self, table: q.Table, rows: list) -> None:
        """``table``'s rows of the ledger (``q.read_ledger``), for a daily run to compare its files with."""
        self._recorded[table.name] = {entry.file: entry for entry in map(Recorded._make, rows)}

    def check(self) -> None:
        """Raises the error of a source whose listing has failed already (a DataSourceError), if
        any: the run stops at once instead of when it needs those files."""
        for listing in self._listings:
            if listing.done() and listing.exception() is not None:
                listing.result()

    def batch(self, upto: q.Table | None = None) -> Batch:
        """The batch of the sources up to ``upto``'s (every source: None), once they are listed.
        Raises DataSourceError naming every file that changed after it was loaded, in any source."""
        count = len(self.inputs) if upto is None else 1 + [spec.table for spec in self.inputs].index(upto)
        self._compare(count)
        if any(changed for _, changed in self._planned):
            self._compare(len(self.inputs))  # the error names every source's
            raise DataSourceError(_changed_message([c for _, changed in self._planned for c in changed]))
        batch = Batch(self.incremental, self.started_at, tuple(table for table, _ in self._planned[:count]))
        if count > self._logged:  # each table's files logged when they are known, before they load
            _log(Batch(self.incremental, self.started_at, batch.tables[self._logged:count]))
            self._logged = count
        return batch

    def _list(self, spec: TableInput) -> list[SourceObject]:
        """In a listing thread: the source's files. A full rebuild, which has no ledger to compare
        with, hashes its local files here too, while the events load; a daily run hashes only the
        files the ledger lacks, once the main thread has its rows (this thread never waits for it)."""
        started = time.perf_counter()
        listed = sources.list_objects(spec.data, allow_empty=self.incremental)
        if not listed:
            log.warning("no input files under %s yet", spec.data.described())
        log.debug("listed %s under %s in %.2fs", _count(len(listed), "file"), spec.data.described(),
                  time.perf_counter() - started)
        if self.incremental:
            return listed
        local = sum(obj.etag is None for obj in listed)
        listed = hashed(listed)
        if local:
            log.debug("hashed %s under %s", _count(local, "file"), spec.data.described())
        return listed

    def _compare(self, count: int) -> None:
        """The first ``count`` sources planned: each listing waited for and compared with the
        ledger's rows (a full rebuild's with none)."""
        for spec, listing in zip(self.inputs[len(self._planned):count], self._listings[len(self._planned):count]):
            recorded = self._recorded[spec.table.name] if self.incremental else {}
            self._planned.append(compare(spec, listing.result(), recorded, self.verify_content))


def _log(batch: Batch) -> None:
    for line in batch.describe():
        log.info("%s", line)
    for table in batch.tables:
        for copy, original in table.copies:
            log.warning("%s has the content of %s, loaded already: skipped, so its events count once", copy.uri,
                        original)
    for table in batch.tables:
        for gone in table.gone[:CHANGED_SHOWN]:
            log.warning("%s was loaded on %s and is no longer under %s; its rows stay (a full rebuild drops them)",
                        gone.file, gone.loaded_at, table.spec.data.described())


def compare(spec: TableInput, listed: list[SourceObject], recorded: dict,
            verify_content: bool = False) -> tuple[TableBatch, list]:
    """The files of ``listed`` that ``recorded`` (file -> Recorded) does not have, those whose
    content changed, those touched (same bytes, a new time) and those recorded that are no longer
    listed. A local file of the recorded size and time is taken as unchanged unless
    ``verify_content``: then its bytes are hashed too."""
    new, to_hash, changed, touched, unchanged = [], [], [], [], 0
    for obj in listed:
        before = recorded.get(obj.uri)
        if before is None:
            new.append(obj)
        elif obj.etag is not None:  # S3: the ETag says
            if obj.etag == before.etag and obj.size == before.bytes:
                unchanged += 1
            else:
                changed.append((obj, before))
        elif (not verify_content and obj.size == before.bytes and obj.modified is not None
              and obj.modified == before.modified):
            unchanged += 1
        else:
            to_hash.append((obj, before))
    hashes = content_hashes([obj for obj, _ in to_hash])
    for obj, before in to_hash:
        if hashes[obj.uri] == before.etag and obj.size == before.bytes:
            unchanged += 1
            if obj.modified != before.modified:  # touched: same bytes, a new time
                touched.append(obj)
        else:
            changed.append((obj, before))
    new, copies = _without_copies(hashed(new), recorded)
    listed_names = {obj.uri for obj in listed}
    gone = tuple(sorted((r for name, r in recorded.items() if name not in listed_names), key=lambda r: r.file))
    return TableBatch(replace(spec, files=tuple(new)), unchanged, gone, tuple(touched), tuple(copies)), changed


def _without_copies(new: list[SourceObject], recorded: dict) -> tuple[list[SourceObject], list]:
    """The new files whose content (ETag or MD5, and size) no loaded file and no earlier new file has,
    and the others, each with the file it copies: a day resent under another name, or copied twice,
    is loaded once."""
    seen = {(entry.etag, entry.bytes): entry.file for entry in recorded.values()}
    fresh, copies = [], []
    for obj in new:
        original = seen.setdefault((obj.etag, obj.size), obj.uri)
        if original == obj.uri:
            fresh.append(obj)
        else:
            copies.append((obj, original))
    return fresh, copies


def hashed(objects: list[SourceObject]) -> list[SourceObject]:
    """``objects``, each local file with the MD5 of its bytes as its ETag (an S3 object has its own)."""
    hashes = content_hashes([obj for obj in objects if obj.etag is None])
    return [obj if obj.etag is not None else replace(obj, etag=hashes[obj.uri]) for obj in objects]


def content_hashes(objects: list[SourceObject]) -> dict[str, str]:
    """The MD5 of each local file's stored bytes (what S3 gives as the ETag of a one-part upload),
    one file after another: 100,000 song files take about a second, where a thread per file took
    four times as long."""
    return {obj.uri: _md5(obj) for obj in objects}


def _md5(obj: SourceObject) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with obj.open_raw() as stream:
        while chunk := stream.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(sep=" ")


def _changed_message(changed: list[tuple[SourceObject, Recorded]]) -> str:
    shown = "; ".join(_changed(obj, before) for obj, before in changed[:CHANGED_SHOWN])
    more = f" and {len(changed) - CHANGED_SHOWN:,} more" if len(changed) > CHANGED_SHOWN else ""
    they = "it was" if len(changed) == 1 else "they were"
    # an S3 object of the same size is judged by its ETag alone, which an upload of the same bytes can change
    etag_only = any(obj.etag is not None and obj.size == before.bytes for obj, before in changed)
    why = (" An S3 ETag is the MD5 of the bytes only for a one-part upload without SSE-KMS or SSE-C: the same bytes"
           " uploaded again can have another.") if etag_only else ""
    return (f"{_count(len(changed), 'file')} changed after {they} loaded: {shown}{more}.{why} An incremental run"
            f" loads only new files; a full rebuild (python etl.py, without --incremental) takes changed files in."
            f" Nothing was changed")


def _changed(obj: SourceObject, before: Recorded) -> str:
    """One changed file, as the error names it: its sizes then and now, or what says it changed."""
    when = f"{before.loaded_at:%Y-%m-%d %H:%M}"
    if obj.size != before.bytes:
        return f"{obj.uri} ({before.bytes:,} bytes when loaded on {when}, now {obj.size:,})"
    return f"{obj.uri} (loaded on {when}; same size, {'another ETag' if obj.etag is not None else 'other content'})"
