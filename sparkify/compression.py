"""Compressed input, read as Redshift's COPY reads it with ``GZIP``, ``BZIP2`` or ``ZSTD``.

``[S3] LOG_COMPRESSION`` and ``SONG_COMPRESSION`` say how the files under a prefix are compressed
(``none``, the default, ``gzip``, ``bzip2``, ``zstd``). On Redshift the word goes into that COPY; on
PostgreSQL the loader decompresses as it streams (``wrap``) or, for a file read whole,
at once (``decompress``). As with COPY, a compressed file under a prefix set to ``none`` is refused:
``sniff`` recognises the three formats by their first bytes, so the error can say which key to set.
"""

from __future__ import annotations

import bz2
import gzip
import io
import zlib
from typing import BinaryIO

from .errors import CompressedInput, LoadError

NONE = "none"
KINDS = ("gzip", "bzip2", "zstd")
SETTINGS = (NONE,) + KINDS
_MAGIC = {"gzip": b"\x1f\x8b", "bzip2": b"BZh", "zstd": b"\x28\xb5\x2f\xfd"}


def sniff(head: bytes) -> str | None:
    """The compression whose signature ``head`` (a file's first bytes) starts with, or None. No JSON
    text starts like any of them."""
    return next((kind for kind, magic in _MAGIC.items() if head.startswith(magic)), None)


class _Decompressing(io.RawIOBase):
    """A binary stream of the decompressed bytes; a corrupt or truncated file is one LoadError naming
    it, wherever in the file the damage is."""

    def __init__(self, inner: BinaryIO, raw: BinaryIO, kind: str, name: str):
        self._inner, self._raw, self._kind, self._name = inner, raw, kind, name

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._inner.read(size)
        except (OSError, EOFError, ValueError, zlib.error, _zstd_error()) as exc:
            raise _damaged(self._name, self._kind, exc) from None

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._raw.close()
            super().close()


def wrap(raw: BinaryIO, kind: str, name: str) -> BinaryIO:
    """``raw`` (a file or an S3 body) decompressed as it is read; ``raw`` itself for ``none``."""
    if kind == NONE:
        return raw
    if kind == "gzip":
        inner = gzip.GzipFile(fileobj=raw, mode="rb")
    elif kind == "bzip2":
        inner = bz2.BZ2File(raw, mode="rb")
    else:
        import zstandard

        inner = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    return _Decompressing(inner, raw, kind, name)


def decompress(data: bytes, kind: str, name: str) -> bytes:
    """The whole of a small file at once (a worker's batch of song files)."""
    if kind == NONE:
        return data
    with wrap(io.BytesIO(data), kind, name) as stream:
        return stream.read()


def refuse_if_compressed(head: bytes, name: str) -> None:
    """CompressedInput if a file read as plain JSON starts like a compressed one."""
    kind = sniff(head)
    if kind is not None:
        raise CompressedInput(name, kind)


def _damaged(name: str, kind: str, exc: BaseException) -> LoadError:
    reason = str(exc).strip() or type(exc).__name__
    return LoadError(f"{name}: cannot decompress as {kind}: {reason}")


def _zstd_error():
    try:
        import zstandard
    except ImportError:  # pragma: no cover - pinned in requirements.txt
        return OSError
    return zstandard.ZstdError
