"""Find and open the raw input: local files or S3 objects, with S3 COPY's prefix semantics.

``list_objects(location)`` returns every object whose path *starts with* ``location`` (so
``data/log_data`` also matches ``data/log_data_2019/...``, exactly as a Redshift COPY from
``s3://bucket/data/log_data`` would); ``obj.open()`` gives a binary stream, so local files and S3
bodies go through one reader.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import BinaryIO, Callable

from . import compression
from .config import S3Access
from .errors import DataSourceError


@dataclass(frozen=True, slots=True)
class SourceObject:
    """One input object. Kept small (100k song files are 100k of these): a local file opens itself;
    anything else brings its own ``opener``."""

    uri: str
    size: int  # as stored (compressed, where it is)
    opener: Callable[[], BinaryIO] | None = None
    remote: bool = False  # a network round trip per open (S3): worth reading ahead concurrently
    compression: str = compression.NONE  # how it is stored: compression.SETTINGS

    def open_raw(self) -> BinaryIO:
        """The stored bytes."""
        if self.opener is not None:
            return self.opener()
        try:
            return open(self.uri, "rb")
        except OSError as exc:  # gone since it was listed, unreadable, ...
            raise DataSourceError(f"cannot read {self.uri}: {exc.strerror or exc}") from None

    def open(self) -> BinaryIO:
        """The content: decompressed as it is read, where the object is compressed."""
        return self.decompressing(self.open_raw())

    def decompressing(self, raw: BinaryIO) -> BinaryIO:
        return compression.wrap(raw, self.compression, self.uri)


def is_s3(location: str) -> bool:
    return location.startswith("s3://")


def list_objects(location: str, what: str, access: S3Access | None = None,
                 stored_as: str = compression.NONE) -> list[SourceObject]:
    """All objects under the prefix, sorted by path. ``what`` names the setting in errors;
    ``stored_as``: how the objects are compressed (``compression.SETTINGS``)."""
    if is_s3(location):
        from . import s3

        objects = s3.list_objects(location, what, access or S3Access(), stored_as)
    else:
        objects = _list_local(location, what, stored_as)
    if not objects:
        raise DataSourceError(f"no input files under {location} ({what}): check the path")
    return objects


def read_object(location: str, what: str, access: S3Access | None = None) -> bytes:
    """The bytes of exactly one object (a JSONPaths file)."""
    if is_s3(location):
        from . import s3

        return s3.read_object(location, what, access or S3Access())
    try:
        with open(location, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise DataSourceError(f"{location} ({what}) does not exist: check the path") from None
    except OSError as exc:
        raise DataSourceError(f"cannot read {location} ({what}): {exc.strerror}") from None


def _list_local(prefix: str, what: str, stored_as: str) -> list[SourceObject]:
    prefix = os.path.abspath(prefix) + (os.sep if prefix.endswith(("/", os.sep)) else "")
    if os.path.isfile(prefix):
        return [SourceObject(prefix, os.path.getsize(prefix), compression=stored_as)]
    base = prefix if prefix.endswith(os.sep) else os.path.dirname(prefix)
    if not os.path.isdir(base):
        raise DataSourceError(f"{prefix} ({what}) does not exist: check the path")
    found = sorted(_walk(base, prefix, what))
    return [SourceObject(path, size, compression=stored_as) for path, size in found]


def _walk(directory: str, prefix: str, what: str) -> list[tuple[str, int]]:
    """(path, size) of files under ``directory`` whose path starts with ``prefix``; one scandir per
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
                        found.append((entry.path, entry.stat().st_size))
        except OSError as exc:
            raise DataSourceError(f"cannot list {folder} ({what}): {exc.strerror or exc}") from None
    return found


def _identity(path: str) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_dev, info.st_ino


def _may_match(directory: str, prefix: str) -> bool:
    return directory.startswith(prefix) or prefix.startswith(directory)
