"""Find and open the raw input: local files or S3 objects, with S3 COPY's prefix semantics.

``list_objects(source)`` returns every object whose path *starts with* the source's location (so
``data/log_data`` also matches ``data/log_data_2019/...``, exactly as a Redshift COPY from
``s3://bucket/data/log_data`` would); ``obj.open()`` gives a binary stream, so local files and S3
bodies go through one reader.
"""

from __future__ import annotations

import datetime as dt
import os

from . import s3
from .errors import DataSourceError
from .source import Source, SourceObject


def list_objects(source: Source, *, allow_empty: bool = False) -> list[SourceObject]:
    """All objects under the source's prefix, sorted by path; none is an error unless ``allow_empty``
    (a daily load before a table's first file has come)."""
    if source.remote:
        objects = s3.list_objects(source)
    else:
        objects = _list_local(source.location, source.key, source.compression)
    if not objects and not allow_empty:
        raise DataSourceError(f"no input files under {source.described()}: check the path")
    return objects


def read_object(source: Source) -> bytes:
    """The bytes of exactly one object (a JSONPaths file)."""
    if source.remote:
        return s3.read_object(source)
    if os.path.exists(source.location) and not os.path.isfile(source.location):
        # a FIFO would wait for a writer forever; a folder cannot be read as one file
        raise DataSourceError(f"{source.described()} is not a regular file (a folder, a FIFO or a device): name"
                              " the file itself")
    try:
        with open(source.location, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise DataSourceError(f"{source.described()} does not exist: check the path") from None
    except OSError as exc:
        raise DataSourceError(f"cannot read {source.described()}: {exc.strerror}") from None


def check_location(source: Source) -> None:
    """A DataSourceError now, before any listing, if a local source's folder does not exist (an S3
    prefix is checked by its listing)."""
    if not source.remote:
        _local_base(source.location, source.key)


def _local_base(location: str, what: str) -> tuple[str, str | None]:
    """The prefix a local location stands for, and the folder to walk for it (None: it is one file)."""
    prefix = os.path.abspath(location) + (os.sep if location.endswith(("/", os.sep)) else "")
    if os.path.isfile(prefix):
        return prefix, None
    base = prefix if prefix.endswith(os.sep) else os.path.dirname(prefix)
    if not os.path.isdir(base):
        raise DataSourceError(f"{prefix} ({what}) does not exist: check the path")
    return prefix, base


def _list_local(location: str, what: str, stored_as: str) -> list[SourceObject]:
    prefix, base = _local_base(location, what)
    if base is None:
        info = os.stat(prefix)
        return [SourceObject(prefix, info.st_size, compression=stored_as, modified=_modified(info.st_mtime_ns))]
    found = sorted(_walk(base, prefix, what))
    return [SourceObject(path, size, compression=stored_as, modified=_modified(mtime)) for path, size, mtime in found]


def _modified(mtime_ns: int) -> dt.datetime:
    """A file's modification time as the ledger keeps it: UTC, to the microsecond."""
    return EPOCH + MICROSECOND * (mtime_ns // 1000)  # exact, and three times quicker than timedelta(microseconds=)


EPOCH = dt.datetime(1970, 1, 1)
MICROSECOND = dt.timedelta(microseconds=1)


def _walk(directory: str, prefix: str, what: str) -> list[tuple[str, int, int]]:
    """(path, size, modification time in ns) of files under ``directory`` whose path starts with
    ``prefix``; one scandir per folder, descending only where a path can still match (a loop, not
    recursion: song_data is 40,000 folders deep in places, and nested generators cost more than the
    listing). Only a symbolic link can lead to a folder twice (into a folder listed already, or to
    itself: a loop), so only those are followed to where they lead, and that is compared with the
    folder listed and the other links (each folder's own ``stat`` was a third of the listing). A
    folder that cannot be read is one DataSourceError."""
    found, folders = [], [directory]
    every = prefix == os.path.join(directory, "")  # every path under ``directory`` matches
    # where the folders listed lead: ``directory`` (or, where only some of its folders match, each of
    # those), and every link followed
    listed = [os.path.realpath(directory)] if every else []
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_dir():
                        if every or _may_match(entry.path + os.sep, prefix):
                            if entry.is_symlink() or (not every and folder == directory):
                                listed.append(_followed(entry.path, listed, prefix, what))
                            folders.append(entry.path)
                    elif (every or entry.path.startswith(prefix)) and entry.is_file():
                        info = entry.stat()
                        found.append((entry.path, info.st_size, info.st_mtime_ns))
        except OSError as exc:
            raise DataSourceError(f"cannot list {folder} ({what}): {exc.strerror or exc}") from None
    return found


def _followed(link: str, listed: list[str], prefix: str, what: str) -> str:
    """Where the folder (or link to one) ``link`` leads; a DataSourceError if that is in, or holds,
    a folder listed already (or to be listed): its files would load twice."""
    target = os.path.realpath(link)
    if any(_within(target, other) or _within(other, target) for other in listed):
        raise DataSourceError(f"cannot list {prefix} ({what}): {link} leads to a folder listed already (a symbolic"
                              f" link loop, or a second link to one folder): its files would load twice")
    return target


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(os.path.join(folder, ""))


def _may_match(directory: str, prefix: str) -> bool:
    return directory.startswith(prefix) or prefix.startswith(directory)
