"""Where the loader's worker processes leave their COPY lines (``sparkify.loader.workers``).

A worker writes a task's lines to a file of the run's spill folder and sends the parent only the
file's name: a message small enough for one atomic write to the pool's pipe. Through the pipe,
megabytes of rows from a worker killed outright (the out-of-memory killer) while it sent them left
Python's pool waiting for the rest of the message for ever.

The folder is in the temporary folder (``TMPDIR``), named after the process that made it: a run
removes its own at the end of the load, and those of runs whose process is gone (killed outright,
rows in flight) when it makes its own.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile

PREFIX = "sparkify-load-"

_written = itertools.count()  # this process's files


class Unwritable(Exception):
    """A spill file could not be written (a full disk, say); the message says why."""


def root() -> str:
    """Where the spill folders are: the temporary folder."""
    return tempfile.gettempdir()


def make_folder() -> str:
    """A new spill folder, after removing those of processes that are gone. OSError if it cannot be made."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(root()):
            owner = entry.name[len(PREFIX):].split("-", 1)[0]
            if entry.name.startswith(PREFIX) and owner.isdigit() and not _alive(int(owner)):
                shutil.rmtree(entry.path, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=root())


def remove_folder(folder: str) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def write(folder: str, texts) -> str:
    """The name of a new file in ``folder`` holding ``texts``, one after another ("": none to write)."""
    texts = [text for text in texts if text]
    if not texts:
        return ""
    name = f"{os.getpid()}-{next(_written)}"
    path = os.path.join(folder, name)
    try:
        with open(path, "wb") as handle:
            handle.writelines(texts)
    except OSError as exc:
        with contextlib.suppress(OSError):  # what a full disk let in goes at once
            os.unlink(path)
        raise Unwritable(exc.strerror or type(exc).__name__) from None
    return name


def take(folder: str, name: str) -> bytes:
    """The lines in the file ``name`` ("": none), which is then removed."""
    if not name:
        return b""
    with open(os.path.join(folder, name), "rb") as handle:
        text = handle.read()
    discard(folder, name)
    return text


def discard(folder: str, name: str) -> None:
    if name:
        os.unlink(os.path.join(folder, name))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        pass
    return True
