"""Parse and render rows in worker processes while this process feeds COPY.

Per event, Python's parsing and rendering cost more than twice what the server's COPY costs, so on
one core the server waits for Python. For large local inputs the work is split into tasks -- byte
ranges of big files, cut at line ends, and batches of small files -- rendered by a pool of worker
processes; this process sends their COPY bytes on in input order, so the rows and their order are
exactly those of the one-process loader.

A worker never reports an error itself: a task that fails in any way (bad input, a pretty-printed
object cut by a range) comes back empty, and this process reads that part again with the
one-process loader, from the start of the failing range to the end of its file, so every error
message and line number is the one the one-process loader gives. Workers ignore Ctrl-C and SIGTERM;
the parent handles them (either, taken while the workers start, once they have), and shuts the
pool down on any failure; a worker whose parent was killed outright exits by itself within a
second.

A worker leaves its COPY lines in a file of the run's spill folder and sends the parent only their
file's name and how many rows they hold (``sparkify.loader.spill`` says why).
"""

from __future__ import annotations

import collections
import contextlib
import io
import logging
import multiprocessing
import multiprocessing.resource_tracker
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from collections.abc import Iterator

from .. import compression
from . import spill as spills
from ..errors import LoadError
from .mapping import MappingSpec
from .reader import EMPTY_FILE
from .rows import copy_chunks, copy_files

log = logging.getLogger(__name__)

WORKERS_ENV = "SPARKIFY_LOAD_WORKERS"  # a number: that many workers (0 or 1: none); unset: automatic

ALONE = f"set {WORKERS_ENV}=0 to load in this process alone"  # the way round any trouble with workers

# smaller inputs load faster in one process than the workers take to start
MIN_BYTES = 32 << 20

MIN_FILES = 20_000  # or this many files: opening and reading each costs more than its bytes

CHUNK_BYTES = 4 << 20  # big files are cut into ranges of about this size

BATCH_FILES = 1000  # small files go to a worker this many at a time

BATCH_BYTES = 4 << 20

# A compressed file cannot be cut into ranges: a worker decompresses it whole, and its rows come back
# in one piece. So that memory stays bounded, such a file counts as this many times its stored size,
# goes to a worker alone when that is over BATCH_BYTES, and is streamed by the parent instead when
# it is over COMPRESSED_WHOLE_BYTES (a 2 MB gzip file of events is about 16 MB of JSON).
COMPRESSED_EXPANSION = 8

COMPRESSED_WHOLE_BYTES = 16 << 20

# Ctrl-C, and the polite kill (cli.run turns it into Terminated): the parent's to handle, held
# while workers start
_HELD = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class Task:
    """Whole small files, or the byte range [start, end) of one big file (lines that start in it)."""

    paths: tuple[str, ...]
    start: int = 0
    end: int | None = None
    parent_reads: bool = False  # a big compressed file: streamed by the parent, not sent to a worker


@dataclass(frozen=True)
class Rendered:
    """A task's result as the worker sends it: about 3 kB at most, whatever the rows (one write to
    the pool's pipe, which the kernel makes whole or not at all)."""

    spilled: str | None  # the file in the spill folder holding its COPY lines ("": none); None: failed,
    #                      read this part again here
    rows: tuple[int, ...] = ()  # per file (whole files), or one entry (a range)
    lines: int = 0  # lines that start in the range
    begin: int = 0  # where the range's first line starts
    unwritable: str = ""  # failed because the spill file could not be written: why ("No space left on device")


def worker_count(objects) -> int:
    """How many workers: SPARKIFY_LOAD_WORKERS if set, else the machine's cores for large local
    input; 0 for remote or small input, or a one-core machine."""
    if not objects or any(obj.remote or obj.opener is not None for obj in objects):
        return 0
    setting = os.environ.get(WORKERS_ENV, "")
    if setting.isdigit():
        count = int(setting)
    elif sum(obj.size for obj in objects) < MIN_BYTES and len(objects) < MIN_FILES:
        return 0
    else:
        count = os.cpu_count() or 1
    return count if count >= 2 else 0


def plan(objects) -> list[tuple[Task, tuple]]:
    """Tasks in input order, each with the objects it covers."""
    tasks, batch, batch_bytes = [], [], 0

    def flush():
        nonlocal batch, batch_bytes
        if batch:
            tasks.append((Task(tuple(obj.uri for obj in batch)), tuple(batch)))
            batch, batch_bytes = [], 0

    for obj in objects:
        compressed = obj.compression != compression.NONE
        size = obj.size * COMPRESSED_EXPANSION if compressed else obj.size
        if compressed and size > BATCH_BYTES:
            flush()
            tasks.append((Task((obj.uri,), parent_reads=size > COMPRESSED_WHOLE_BYTES), (obj,)))
        elif not compressed and obj.size > CHUNK_BYTES:
            flush()
            for start in range(0, obj.size, CHUNK_BYTES):
                tasks.append((Task((obj.uri,), start, min(start + CHUNK_BYTES, obj.size)), (obj,)))
        else:
            batch.append(obj)
            batch_bytes += size
            if len(batch) >= BATCH_FILES or batch_bytes >= BATCH_BYTES:
                flush()
    flush()
    return tasks


_mapping = None

_stored_as = compression.NONE

_spill = ""  # the run's spill folder


def _start_worker(spec: MappingSpec, parent: int, stored_as: str = compression.NONE, spill: str = "") -> None:
    global _mapping, _stored_as, _spill
    _stored_as = stored_as
    _spill = spill
    # Ctrl-C and SIGTERM, which a terminal or a service manager sends the whole process group, are
    # the parent's to handle: a worker they killed would break the pool, and the run would end
    # with a broken worker's line instead of the signal's
    for signum in _HELD:
        signal.signal(signum, signal.SIG_IGN)
    # ``parent`` comes from the parent itself: if it died while this worker was starting, getppid()
    # already names another process, and the worker ends at once
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    _mapping = spec.build()


def _exit_with_parent(parent: int) -> None:
    """A parent killed outright (SIGKILL) cannot stop its pool: each worker ends itself then."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def read_range(path: str, start: int, end: int) -> tuple[bytes, int]:
    """The lines that start in [start, end) of a file, and where the first one starts."""
    with open(path, "rb") as handle:
        if start:
            handle.seek(start - 1)
            if handle.read(1) != b"\n":
                handle.readline()  # the line that began before ``start`` belongs to the range before
        begin = handle.tell()
        if begin >= end:
            return b"", begin
        data = handle.read(end - begin)
        if data and not data.endswith(b"\n"):
            data += handle.readline()  # the last line began in the range: finish it
    return data, begin


def render(task: Task) -> Rendered:
    begin = task.start
    if task.parent_reads:
        return Rendered(None)
    try:
        if task.end is not None:
            data, begin = read_range(task.paths[0], task.start, task.end)
            lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
            out = list(copy_chunks(io.BytesIO(data), task.paths[0], _mapping,
                                           first_line=1 if begin == 0 else 2, require_object=False, takeover=False))
            texts = [text for _, text in out]
            return Rendered(spills.write(_spill, texts), (sum(count for count, _ in out),), lines, begin)
        contents = []
        for path in task.paths:
            with open(path, "rb") as handle:
                contents.append(compression.decompress(handle.read(), _stored_as, path))
        text = copy_files(contents, _mapping)
        if text is not None:  # every file one object on one line: one row each
            return Rendered(spills.write(_spill, [text]), (1,) * len(contents))
        texts, rows = [], []
        for path, data in zip(task.paths, contents):
            out = list(copy_chunks(io.BytesIO(data), path, _mapping))
            texts += [text for _, text in out]
            rows.append(sum(count for count, _ in out))
        return Rendered(spills.write(_spill, texts), tuple(rows))
    except spills.Unwritable as exc:  # the parent reads this part itself, and says why once
        return Rendered(None, begin=begin, unwritable=str(exc))
    except Exception:  # noqa: BLE001 -- any failure: the parent reads this part itself and reports it
        return Rendered(None, begin=begin)


@contextlib.contextmanager
def _signals_held():
    """Ctrl-C and SIGTERM held back while worker processes start, then taken as usual (not lost).
    Raised in the middle of a start, either would leave a spawned worker that was never sent what
    to run (it dies on a cut pickle, with a traceback, and is never joined). So both are blocked in
    this thread, and the workers it starts inherit them blocked across exec (each then ignores
    them); one taken meanwhile by another thread of this process is noted, not raised. Each is
    raised again here once the workers have started. (Python's own
    multiprocessing.resource_tracker blocks signals the same way while it starts its process.)"""
    held = []
    handlers = {signum: signal.signal(signum, lambda signum, _frame: held.append(signum)) for signum in _HELD}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # one held here is taken now, and noted
        for signum, handler in handlers.items():  # (which first runs the handler of any signal taken)
            signal.signal(signum, handler)
    for signum in dict.fromkeys(held):
        signal.raise_signal(signum)


def pooled_lines(objects, mapping, spec: MappingSpec, workers: int, origins, progress,
               stored_as: str = compression.NONE) -> Iterator[bytes]:
    """COPY lines for every object, rendered by ``workers`` processes (each builds ``mapping`` from
    ``spec``), in input order; ``stored_as``:
    how the files are compressed."""
    tasks = iter(plan(objects))
    window: collections.deque = collections.deque()
    context = multiprocessing.get_context("spawn")  # the parent has threads: never fork it
    # Python starts its resource tracker process with its own signal mask, which it then unblocks:
    # started here, before the pool (which needs it), it cannot unblock the mask held below
    multiprocessing.resource_tracker.ensure_running()
    try:
        spill = spills.make_folder()
    except OSError as exc:
        raise LoadError(f"cannot make the loader's spill folder in {spills.root()}: {exc.strerror or exc};"
                        f" nothing was committed: free space there, point TMPDIR at another folder, or {ALONE}"
                        ) from None
    stitch = _Stitcher(mapping, origins, progress, spill)
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                               initargs=(spec, os.getpid(), stored_as, spill))

    def submit() -> None:
        task = next(tasks, None)
        if task is not None:
            window.append((task, pool.submit(render, task[0])))

    try:
        with _signals_held():  # the workers start here
            for _ in range(workers * 2):
                submit()
        while window:
            (task, covered), future = window.popleft()
            submit()
            if task.end is not None:
                yield from stitch.part_of_file(task, covered[0], future.result())
            else:
                yield from stitch.whole_files(covered, future.result())
    except BrokenProcessPool:  # a worker died: nothing of the others is used either
        for process in multiprocessing.active_children():  # the pool's workers, which ignore its SIGTERM
            process.kill()  # (and may wait for ever on a lock the dead one held)
        raise LoadError(f"a worker process of the loader ended abruptly (killed, perhaps for want of memory):"
                        f" nothing was committed; run again, or {ALONE}") from None
    finally:
        # The pool's own thread cancels the tasks not started: cancelled here, one could race with
        # that thread marking it failed when a worker died, and Python would print its traceback.
        pool.shutdown(wait=True, cancel_futures=True)
        spills.remove_folder(spill)  # with what a failed load left in flight


class _Stitcher:
    """Puts the workers' results back together in input order: row numbers for COPY errors
    (``origins``), line numbers across the ranges of a file, and the parent's own reading of any
    part that failed."""

    def __init__(self, mapping, origins, progress, spill: str):
        self.mapping, self.origins, self.progress, self.spill = mapping, origins, progress, spill
        self.said_unwritable = False  # said already that a worker could not write its spill file
        self.row = 0
        self.file_lines: dict[str, int] = {}  # lines so far of a file cut into ranges
        self.file_rows: dict[str, int] = {}
        self.redone: set[str] = set()  # files whose rest the parent read itself

    def part_of_file(self, task: Task, obj, result: Rendered) -> Iterator[bytes]:
        uri = obj.uri
        if uri in self.redone:  # the rest of this file was read here already
            spills.discard(self.spill, result.spilled)
            return
        if task.start == 0:
            self.origins.add(self.row + 1, obj)
            self.file_lines[uri] = self.file_rows[uri] = 0
        if result.spilled is None:  # read from this range's first line to the end of the file here
            self._say_unwritable(result)
            self.redone.add(uri)
            with obj.open() as handle:
                handle.seek(result.begin)
                yield from self._serial(handle, uri, self.file_lines[uri] + 1, result.begin,
                                        require_object=self.file_rows[uri] == 0)
            self.progress.update(1)
            return
        self.row += result.rows[0]
        self.file_lines[uri] += result.lines
        self.file_rows[uri] += result.rows[0]
        if text := spills.take(self.spill, result.spilled):
            yield text
        if task.end >= obj.size:
            if self.file_rows[uri] == 0:  # every range parsed, and not one object in the file
                raise LoadError(f"{uri}, line 1: {EMPTY_FILE}")
            self.progress.update(1)

    def whole_files(self, covered, result: Rendered) -> Iterator[bytes]:
        if result.spilled is None:  # read each of these files here
            self._say_unwritable(result)
            for obj in covered:
                self.origins.add(self.row + 1, obj)
                with obj.open() as handle:
                    yield from self._serial(handle, obj.uri, 1, 0, require_object=True)
                self.progress.update(1)
            return
        for obj, rows in zip(covered, result.rows):
            self.origins.add(self.row + 1, obj)
            self.row += rows
        if text := spills.take(self.spill, result.spilled):
            yield text
        self.progress.update(len(covered))
        self.progress.set_postfix_str(f"{self.row:,} rows", refresh=False)

    def _say_unwritable(self, result: Rendered) -> None:
        if result.unwritable and not self.said_unwritable:
            self.said_unwritable = True
            log.warning("the loader's workers cannot write to %s (%s): this process reads their parts instead,"
                        " more slowly; free space there, or point TMPDIR at another folder", self.spill,
                        result.unwritable)

    def _serial(self, stream, uri: str, first_line: int, first_byte: int, require_object: bool) -> Iterator[bytes]:
        for rows, text in copy_chunks(stream, uri, self.mapping, first_line=first_line,
                                              first_byte=first_byte, require_object=require_object):
            self.row += rows
            yield text
