"""Where input comes from, as values: built where the config is read (``config.Sources``), so an
error names the setting that gave it without labels threaded through the loader.

``Source`` is one configured location (a local folder, file or prefix, or an ``s3://`` prefix),
the key that named it and how to reach it; ``TableInput`` is what one staging table is loaded from,
as the Redshift COPY would say it; ``SourceObject`` is one file found under a source.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import BinaryIO
from collections.abc import Callable

import sql_queries as q

from . import compression
from .errors import DataSourceError


@dataclass(frozen=True)
class S3Access:
    """How the client reaches S3 (the PostgreSQL engine's loader, a daily run's listing and manifests
    on Redshift): boto3's standard chain (profile, environment, ``AWS_ENDPOINT_URL``) in ``region``,
    the ``[AWS] KEY``/``SECRET`` pair where the config gives one, or unsigned requests for public
    buckets. The secret is never shown."""

    region: str | None = None
    unsigned: bool = False
    key: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)


def is_s3(location: str) -> bool:
    return location.startswith("s3://")


@dataclass(frozen=True)
class Source:
    """One configured location and the setting that named it (``[S3] LOG_DATA``), for errors."""

    location: str
    key: str
    access: S3Access = field(default_factory=S3Access)
    compression: str = compression.NONE  # how its files are stored: compression.SETTINGS
    compression_key: str = ""  # the setting that says so, for an error that suggests it

    @property
    def remote(self) -> bool:
        return is_s3(self.location)

    def described(self) -> str:
        return f"{self.location} ({self.key})"


@dataclass(frozen=True)
class TableInput:
    """What one staging table is loaded from. ``json_format`` is what the Redshift COPY would say:
    the location of a JSONPaths file (columns by position; ``paths`` is that file as a Source),
    ``auto`` (keys equal to the column names) or ``auto ignorecase`` (``paths`` None)."""

    table: q.Table
    data: Source
    json_format: str = "auto"
    paths: Source | None = None
    max_errors: int = 0
    files: tuple[SourceObject, ...] | None = None  # exactly these files (a run's batch), else all of ``data``

    def describe(self) -> str:
        stored = f", {self.data.compression}" if self.data.compression != compression.NONE else ""
        return f"{self.data.location} ({self.json_format}{stored})"


@dataclass(slots=True)
class SourceObject:
    """One input object. Kept small and quick to make (100k song files are 100k of these, listed
    by every daily run): a local file opens itself; anything else brings its own ``opener``. Never
    changed once made (not ``frozen``: that makes each one three times slower to build)."""

    uri: str
    size: int  # as stored (compressed, where it is)
    opener: Callable[[], BinaryIO] | None = None
    remote: bool = False  # a network round trip per open (S3): worth reading ahead concurrently
    compression: str = compression.NONE  # how it is stored: compression.SETTINGS
    etag: str | None = None  # S3's ETag (a local file's content is hashed where needed)
    modified: dt.datetime | None = None  # last modified, UTC without a zone, to the microsecond

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
