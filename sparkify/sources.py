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
    try:
        with open(source.location, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise DataSourceError(f"{source.described()} does not exist: check the path") from None
    except OSError as exc:
        raise DataSourceError(f"cannot read {source.described()}: {exc.strerror}") from None


def _list_local(prefix: str, what: str, stored_as: str) -> list[SourceObject]:
    prefix = os.path.abspath(prefix) + (os.sep if prefix.endswith(("/", os.sep)) else "")
    if os.path.isfile(prefix):
        info = os.stat(prefix)
        return [SourceObject(prefix, info.st_size, compression=stored_as, modified=_modified(info.st_mtime_ns))]
    base = prefix if prefix.endswith(os.sep) else os.path.dirname(prefix)
    if not os.path.isdir(base):
        raise DataSourceError(f"{prefix} ({what}) does not exist: check the path")
    found = sorted(_walk(base, prefix, what))
    return [SourceObject(path, size, compression=stored_as, modified=_modified(mtime)) for path, size, mtime in found]


def _modified(mtime_ns: int) -> dt.datetime:
    """A file's modification time as the ledger keeps it: UTC, to the microsecond."""
    return EPOCH + dt.timedelta(microseconds=mtime_ns // 1000)


EPOCH = dt.datetime(1970, 1, 1)


def _walk(directory: str, prefix: str, what: str) -> list[tuple[str, int, int]]:
    """(path, size, modification time in ns) of files under ``directory`` whose path starts with ``prefix``; one scandir per
    folder, descending only where a path can still match (a loop, not recursion: song_data is 40,000
    folders deep in places, and nested generators cost more than the listing). A folder linked to
    from inside itself (a symbolic link loop) or that cannot be read is one DataSourceError."""
    found, folders = [], [directory]
    seen = {_identity(directory)}
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_dir():
                        if _may_match(entry.path + os.sep, prefix):
                            info = entry.stat()
                            identity = (info.st_dev, info.st_ino)
                            if identity in seen:  # only a symbolic link can lead to a folder twice
                                raise DataSourceError(f"cannot list {prefix} ({what}): {entry.path} leads to a"
                                                      f" folder listed already (a symbolic link loop, or a second"
                                                      f" link to one folder): its files would load twice")
                            seen.add(identity)
                            folders.append(entry.path)
                    elif entry.path.startswith(prefix) and entry.is_file():
                        info = entry.stat()
                        found.append((entry.path, info.st_size, info.st_mtime_ns))
        except OSError as exc:
            raise DataSourceError(f"cannot list {folder} ({what}): {exc.strerror or exc}") from None
    return found


def _identity(path: str) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_dev, info.st_ino


def _may_match(directory: str, prefix: str) -> bool:
    return directory.startswith(prefix) or prefix.startswith(directory)
