"""The worker-process loader gives exactly what the one-process loader gives: the same staging rows,
and for bad input the same one-line error with the same line number. Ranges are made tiny here so
that every sample file is cut into many of them."""

import io
import json
import multiprocessing
import multiprocessing.resource_tracker
import multiprocessing.util
import os
import pickle
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import create_tables
import etl
import sql_queries as q
from conftest import ROOT, SAMPLE, UDACITY, ctrl_c_as_at_a_terminal, full_state, without_target
from sparkify.generate import generate
from sparkify.loader import spill
from sparkify.loader import workers as parallel
from sparkify.loader.mapping import MappingSpec
from sparkify.loader.rows import copy_chunks

SOURCE = UDACITY if UDACITY.exists() else SAMPLE

WORKER_KILLED = ("error: a worker process of the loader ended abruptly (killed, perhaps for want of memory): nothing"
                 f" was committed; run again, or set {parallel.WORKERS_ENV}=0 to load in this process alone\n")


@pytest.fixture
def tiny_tasks(monkeypatch):
    """Ranges of ~2 kB and batches of 7 files (planned in this process, so the patch holds)."""
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 2048)
    monkeypatch.setattr(parallel, "BATCH_FILES", 7)


def run(config, monkeypatch, workers: int, capsys=None) -> int:
    monkeypatch.setenv(parallel.WORKERS_ENV, str(workers))
    return etl.main(["--config", str(config), "-q"])


@pytest.fixture
def spill_root(tmp_path, monkeypatch):
    """The temporary folder the loader makes its spill folder in, this test's own."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.fixture
def data(tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(SOURCE, copy)
    return copy


@pytest.fixture
def config(data, write_config, conn):
    cfg = write_config(log_data=data / "log_data", song_data=data / "song_data",
                       log_jsonpath=data / "log_json_path.json")
    assert create_tables.main(["--config", str(cfg), "-q"]) == 0
    return cfg


def test_workers_load_exactly_what_one_process_loads(config, conn, monkeypatch, capsys, tiny_tasks):
    assert run(config, monkeypatch, 0) == 0
    serial = full_state(conn)
    monkeypatch.setenv(parallel.WORKERS_ENV, "2")
    assert etl.main(["--config", str(config)]) == 0
    log = without_target(capsys.readouterr().err)
    assert "into staging_events in " in log and log.count("(2 worker processes)") == 2
    assert full_state(conn) == serial
    assert len(serial["staging_events"]) > 1000 and len(serial["songplays"]) > 900


def test_a_pretty_printed_object_inside_a_cut_file(data, config, conn, monkeypatch, tiny_tasks):
    events = sorted((data / "log_data").rglob("*.json"))[0]
    lines = events.read_text().splitlines()
    middle = len(lines) // 2
    lines[middle] = json.dumps(json.loads(lines[middle]), indent=4)  # one object over many lines
    events.write_text("\n".join(lines))
    assert run(config, monkeypatch, 0) == 0
    serial = full_state(conn)
    assert run(config, monkeypatch, 2) == 0
    assert full_state(conn) == serial


@pytest.mark.parametrize("bad_line, where", [
    ('{"ts": 1541105830796, "page": "Home"', "middle"),
    ('{"ts": "soon"}', "middle"),
    ('{"ts": 1541105830796, "page": "Home", "ts": 1}', "end"),
    ('{"page": "Home"}', "start"),
], ids=["truncated", "non-numeric ts", "duplicated key", "missing ts"])
def test_bad_input_gives_the_same_error_with_workers(data, config, conn, monkeypatch, capsys, tiny_tasks,
                                                     bad_line, where):
    assert run(config, monkeypatch, 0) == 0
    before = full_state(conn)
    events = sorted((data / "log_data").rglob("*.json"))[-1]
    lines = events.read_text().splitlines()
    lines.insert({"start": 0, "middle": len(lines) // 2, "end": len(lines)}[where], bad_line)
    events.write_text("\n".join(lines))
    capsys.readouterr()
    assert run(config, monkeypatch, 0) == 1
    serial_error = without_target(capsys.readouterr().err)
    assert run(config, monkeypatch, 2) == 1
    assert without_target(capsys.readouterr().err) == serial_error
    assert serial_error.startswith(f"error: {events}, line ")
    assert full_state(conn) == before


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30),
       trailing=st.booleans(), chunk=st.integers(1, 64))
def test_ranges_cover_every_line_once(tmp_path_factory, lines, trailing, chunk):
    data = b"\n".join(lines) + (b"\n" if trailing and lines else b"")
    path = tmp_path_factory.mktemp("ranges") / "f"
    path.write_bytes(data)
    pieces = [parallel.read_range(str(path), start, min(start + chunk, len(data)))
              for start in range(0, len(data), chunk)]
    assert b"".join(piece for piece, _ in pieces) == data
    for piece, begin in pieces:
        if piece:
            assert begin == 0 or data[begin - 1:begin] == b"\n"  # every piece starts at a line start
            assert data[begin:begin + len(piece)] == piece


def test_small_or_remote_input_stays_in_one_process(monkeypatch):
    from sparkify.source import SourceObject

    monkeypatch.delenv(parallel.WORKERS_ENV, raising=False)
    small = [SourceObject(f"/d/{i}.json", 300) for i in range(100)]
    assert parallel.worker_count(small) == 0
    many = [SourceObject(f"/d/{i}.json", 300) for i in range(parallel.MIN_FILES)]
    remote = [SourceObject(f"s3://b/{i}.json", 300, opener=lambda: None, remote=True) for i in range(parallel.MIN_FILES)]
    assert parallel.worker_count(remote) == 0
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert parallel.worker_count(many) == 2
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert parallel.worker_count(many) == 0


WORKER_PIDS_THEN_SIGKILL = """
import os, signal, sys
sys.path.insert(0, sys.argv[1])
from concurrent.futures import ProcessPoolExecutor
import multiprocessing
import sql_queries as q
from sparkify.loader import workers
from sparkify.loader.mapping import MappingSpec
if __name__ == "__main__":
    pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"),
                               initializer=workers._start_worker, initargs=(MappingSpec(q.STAGING_SONGS, "auto"), os.getpid()))
    if sys.argv[2] == "running":  # the workers have started and run tasks
        print(" ".join(str(pid) for pid in {pool.submit(os.getpid).result() for _ in range(6)}), flush=True)
    else:  # the workers are still starting (importing) when the parent dies
        pool.submit(os.getpid)
        pool.submit(os.getpid)
        print(" ".join(str(pid) for pid in pool._processes), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("moment", ["running", "starting"])
def test_workers_end_when_their_parent_is_killed(tmp_path, moment):
    script = tmp_path / "kill_parent.py"
    script.write_text(WORKER_PIDS_THEN_SIGKILL)
    result = subprocess.run([sys.executable, str(script), str(ROOT), moment], capture_output=True, text=True,
                            timeout=60)
    pids = [int(pid) for pid in result.stdout.split()]
    assert pids

    def alive(pid):
        status = Path(f"/proc/{pid}/status")
        try:
            return "\nState:\tZ" not in status.read_text()
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(pid) for pid in pids)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_file_gone_since_listing_is_one_line(data, config, conn, monkeypatch, capsys, tiny_tasks, workers):
    from sparkify import sources
    from sparkify.source import SourceObject

    listed = sources.list_objects
    gone = data / "log_data" / "2018" / "11" / "2018-11-31-vanished.json"

    def list_with_a_vanished_file(source, **options):
        found = listed(source, **options)
        return found + [SourceObject(str(gone), 5000)] if "log_data" in source.location else found

    monkeypatch.setattr(sources, "list_objects", list_with_a_vanished_file)
    assert run(config, monkeypatch, workers) == 1
    assert without_target(capsys.readouterr().err) == f"error: cannot read {gone}: No such file or directory\n"


def test_a_ctrl_c_while_the_workers_start_is_taken_once_they_have(config, conn, monkeypatch, capsys, tiny_tasks):
    """Ctrl-C pressed while the worker processes start is held back, not ignored: the run stops,
    nothing is committed, and no worker is left."""
    planned = parallel.plan

    def ctrl_c_at_the_first_task(objects):  # a generator: runs as the first worker is given its task
        signal.raise_signal(signal.SIGINT)
        yield from planned(objects)

    assert run(config, monkeypatch, 0) == 0
    before = full_state(conn)
    monkeypatch.setattr(parallel, "plan", ctrl_c_at_the_first_task)
    with ctrl_c_as_at_a_terminal():
        assert run(config, monkeypatch, 2) == 130
    assert without_target(capsys.readouterr().err).splitlines()[-1] == (
        "interrupted: nothing was committed, the warehouse is as it was")
    assert full_state(conn) == before
    assert multiprocessing.active_children() == []


def test_a_sigterm_while_a_worker_is_spawned_is_taken_once_the_workers_have_started(
        config, conn, monkeypatch, capfd, tiny_tasks):
    """SIGTERM raised in the middle of a worker's start (spawned, not yet sent what to run) is held
    until the workers have started: the run stops with the one line, nothing is committed, and no
    process is left (an interrupted start left a child that died on a cut pickle, with a traceback)."""
    spawned, fired = multiprocessing.util.spawnv_passfds, []

    def sigterm_right_after_the_first_spawn(*args):
        pid = spawned(*args)
        if "--multiprocessing-fork" in args[1] and not fired:  # a worker, not the resource tracker
            fired.append(pid)
            signal.raise_signal(signal.SIGTERM)
        return pid

    assert run(config, monkeypatch, 0) == 0
    before = full_state(conn)
    capfd.readouterr()
    monkeypatch.setattr(multiprocessing.util, "spawnv_passfds", sigterm_right_after_the_first_spawn)
    assert run(config, monkeypatch, 2) == 128 + signal.SIGTERM
    assert fired
    assert full_state(conn) == before
    tracker = multiprocessing.resource_tracker._resource_tracker._pid  # lives as long as this process
    # every worker started was joined: none left, none a zombie
    assert [child for child in psutil.Process().children() if child.pid != tracker] == []
    err = without_target(capfd.readouterr().err)
    assert err == "terminated: nothing was committed, the warehouse is as it was\n"


def test_a_worker_killed_midway_is_one_line(config, conn, monkeypatch, capfd, tiny_tasks, spill_root):
    """A worker killed outright (the kernel's out-of-memory killer, say): one line, exit 1, nothing
    committed, and the other worker ends too (it used to be a traceback of BrokenProcessPool)."""
    stitched, killed = parallel._Stitcher.part_of_file, []

    def kill_a_worker_first(self, *args):
        if not killed:
            victim = multiprocessing.active_children()[0]
            killed.append(victim.pid)
            victim.kill()
            victim.join()
        return stitched(self, *args)

    assert run(config, monkeypatch, 0) == 0
    before = full_state(conn)
    capfd.readouterr()
    monkeypatch.setattr(parallel._Stitcher, "part_of_file", kill_a_worker_first)
    assert run(config, monkeypatch, 2) == 1
    assert killed
    assert without_target(capfd.readouterr().err) == WORKER_KILLED
    assert full_state(conn) == before
    assert multiprocessing.active_children() == []
    assert list(spill_root.iterdir()) == []  # the rows in flight went with the spill folder


def test_a_worker_sends_its_rows_through_a_file_and_the_pipe_only_a_few_bytes(tmp_path, monkeypatch):
    """A worker leaves its COPY lines in the spill folder: the parent takes them from there (and the
    file goes), and what goes through the pool's pipe fits one atomic write (PIPE_BUF), whatever the
    rows, so a worker killed while it sends cannot leave the pool reading half a message for ever."""
    files = sorted((SOURCE / "song_data").rglob("*.json"))[:parallel.BATCH_FILES]
    mapping = MappingSpec(q.STAGING_SONGS, "auto").build()
    monkeypatch.setattr(parallel, "_mapping", mapping)
    monkeypatch.setattr(parallel, "_spill", str(tmp_path))
    result = parallel.render(parallel.Task(tuple(map(str, files))))
    assert result.rows == (1,) * len(files) and [path.name for path in tmp_path.iterdir()] == [result.spilled]
    assert spill.take(str(tmp_path), result.spilled) == b"".join(  # what the one-process loader renders
        text for path in files for _, text in copy_chunks(io.BytesIO(path.read_bytes()), str(path), mapping))
    assert list(tmp_path.iterdir()) == []
    # the largest result a task can give: a batch of BATCH_FILES files, as many rows each as fit in
    # two bytes (a batch holds at most BATCH_BYTES, so only a few files could have more), as the
    # pool sends it: (work id, exception, result) pickled, after a 4-byte length
    largest = parallel.Rendered(f"{2**22}-{2**40}", (2**16 - 1,) * parallel.BATCH_FILES, 2**40, 2**40)
    assert 4 + len(pickle.dumps((2**40, None, largest))) + 100 <= select.PIPE_BUF


def test_a_run_leaves_no_spill_folder_and_removes_those_of_killed_runs(config, conn, monkeypatch, spill_root):
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = spill_root / f"{spill.PREFIX}{gone.pid}-x1y2"  # a run killed outright, rows in flight
    stale.mkdir()
    (stale / "77-3").write_bytes(b"rows")
    running = spill_root / f"{spill.PREFIX}1-a3b4"  # a run whose process is still there
    running.mkdir()
    assert run(config, monkeypatch, 2) == 0
    assert sorted(path.name for path in spill_root.iterdir()) == [running.name]


def test_workers_killed_while_the_parent_is_stopped_end_the_run_with_one_line(tmp_path, write_config, conn):
    """The parent stopped (SIGSTOP) while the workers render megabytes of rows: each finishes a task
    and sends it, and blocks; then every worker is SIGKILLed, and the parent continued. Through the
    pool's pipe, a worker killed in the middle of its message left the pool reading the rest of it
    for ever (5 runs of 5 hung); now the run ends with the one line, and nothing is committed."""
    data = tmp_path / "big"
    generate(str(data), events=150_000, songs=300, days=2, seed=3)  # two 35 MB files: 4 MB tasks
    config = write_config(log_data=data / "log_data", song_data=data / "song_data",
                          log_jsonpath=data / "log_json_path.json")
    assert create_tables.main(["--config", str(config), "-q"]) == 0
    run = subprocess.Popen([sys.executable, str(ROOT / "etl.py"), "--config", str(config), "-q"],
                           env={**os.environ, parallel.WORKERS_ENV: "2"}, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(run.pid)
    deadline = time.monotonic() + 60
    while len(workers := [child for child in parent.children() if "resource_tracker" not in " ".join(
            child.cmdline())]) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(workers) == 2
    time.sleep(0.3)  # the workers have their first tasks
    parent.suspend()
    time.sleep(1)  # each has rendered a task and is sending it, or waiting to
    for worker in workers:
        worker.kill()
    parent.resume()
    try:
        err = run.communicate(timeout=60)[1]
    finally:
        run.kill()
    assert run.returncode == 1
    assert without_target(err) == WORKER_KILLED
    with conn.cursor() as cur:
        cur.execute("SELECT (SELECT COUNT(*) FROM staging_events), (SELECT COUNT(*) FROM songplays),"
                    " (SELECT COUNT(*) FROM load_ledger)")
        assert cur.fetchone() == (0, 0, 0)
    conn.rollback()


def test_a_spill_folder_that_cannot_be_made_is_one_line(config, conn, monkeypatch, capsys, tmp_path):
    assert run(config, monkeypatch, 0) == 0
    before = full_state(conn)
    capsys.readouterr()
    missing = tmp_path / "no-such-folder"
    monkeypatch.setattr(tempfile, "tempdir", str(missing))
    assert run(config, monkeypatch, 2) == 1
    assert without_target(capsys.readouterr().err) == (
        f"error: cannot make the loader's spill folder in {missing}: No such file or directory; nothing was"
        f" committed: free space there, point TMPDIR at another folder, or set {parallel.WORKERS_ENV}=0 to load"
        " in this process alone\n")
    assert full_state(conn) == before


def test_workers_that_cannot_write_their_rows_leave_them_to_this_process_and_say_so_once(
        config, conn, monkeypatch, capsys, tiny_tasks, tmp_path):
    """A full disk under the spill folder: every part is read by this process instead (the same
    rows), and one warning says why."""
    assert run(config, monkeypatch, 0) == 0
    serial = full_state(conn)
    unwritable = tmp_path / "gone"  # the workers' files cannot be made there
    monkeypatch.setattr(spill, "make_folder", lambda: str(unwritable))
    monkeypatch.setenv(parallel.WORKERS_ENV, "2")
    assert etl.main(["--config", str(config)]) == 0
    assert full_state(conn) == serial
    warnings = [line for line in capsys.readouterr().err.splitlines() if "cannot write" in line]
    assert warnings == [
        f"the loader's workers cannot write to {unwritable} (No such file or directory): this process reads their"
        " parts instead, more slowly; free space there, or point TMPDIR at another folder"] * 2  # one per table
