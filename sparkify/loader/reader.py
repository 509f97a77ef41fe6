"""Reading JSON the way Redshift's COPY ... JSON does: every top-level object of a stream.

* ``read_objects(stream, name)`` yields ``(line, object)`` for every top-level JSON object in a
  binary stream: one per line, several per line, or pretty-printed over many lines; a UTF-8 BOM is
  skipped. Numbers keep their source text (``JsonNumber``), so a number loading into a text column
  arrives as written, as on Redshift.
* ``chunks`` is the strict mode's reader under the loader's hot loop (``rows.copy_chunks``): a
  chunk of lines at a time, the whole-chunk fast path (``fastpath``) where it can.
* ``tolerant_records`` is the tolerant mode (MAX_ERRORS and ``--validate``): a bad line is one
  rejected record, and reading goes on.
"""

from __future__ import annotations

import codecs
import itertools
import json
import operator
import re
from typing import BinaryIO
from collections.abc import Callable, Iterator, Sequence

import msgspec

from .. import compression
from ..errors import LoadError

CHUNK_SIZE = 128 << 10  # a chunk's lines, objects and rows stay in the CPU's cache


class JsonNumber(str):
    """A JSON number kept as its source text."""

    __slots__ = ()


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _object_without_duplicates(pairs):
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"duplicated key {duplicate!r}")
    return obj


_DECODER = json.JSONDecoder(
    parse_float=JsonNumber,
    parse_int=JsonNumber,
    parse_constant=_reject_constant,
    object_pairs_hook=_object_without_duplicates,
)

_WHITESPACE = re.compile(r"[ \t\n\r]*")

# Any JSON value, as msgspec reads it: an integer of any size stays an int (orjson reads one beyond
# 64 bits as a float, so -9223372036854775809 would reach a column as -9.223372036854776e+18), the
# same as the whole-chunk decoder (``row_decoder``) reads it.
decode_any = msgspec.json.Decoder().decode


def read_objects(stream: BinaryIO, name: str, chunk_size: int = CHUNK_SIZE,
                 needs_exact: Callable[[dict], bool] | None = None) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)`` for each top-level JSON object in ``stream``.

    Fast path: one object per line, parsed by msgspec (numbers become int/float). A line that is
    not exactly one object, whose key count does not add up (a duplicated key), or for which
    ``needs_exact(obj)`` says a number's source text matters, is parsed again by the strict
    reader, which keeps numbers' text (``JsonNumber``); from a line that is not whole objects
    (pretty-printed JSON, or bad input) the strict reader takes over the rest of the file.

    Memory is bounded by the largest object plus one chunk, whatever the file's size. Raises
    LoadError naming ``name`` and the line for invalid UTF-8, invalid JSON or a non-object value.
    """
    fast = identity if needs_exact is None else (lambda obj: None if needs_exact(obj) else obj)
    for numbers, objects in chunks(stream, name, chunk_size, None, fast, identity):
        yield from zip(numbers, objects)


def identity(value):
    return value


def chunks(stream: BinaryIO, name: str, chunk_size: int, fast_batch: Callable | None, fast: Callable,
            exact: Callable, first_line: int = 1, first_byte: int = 0, require_object: bool = True,
            takeover: bool = True) -> Iterator[tuple[Sequence[int], list]]:
    """``(line numbers, items)`` per chunk of lines: ``fast_batch(lines)`` for a whole chunk where it
    can (None: line by line instead); line by line, ``fast(obj)`` for objects of the fast path
    (None: take the strict reader's object instead), ``exact(obj)`` for the strict reader's.
    LoadError for a file without any object."""
    chunks = _line_chunks(stream, chunk_size)
    line_no, offset, empty = first_line - 1, first_byte, True
    for lines in chunks:
        if line_no == 0 and offset == 0:  # a file's first bytes: compressed input read as plain JSON?
            compression.refuse_if_compressed(lines[0], name)
        batch = None
        if (fast_batch is not None and not (line_no == 0 and lines[0].startswith(BOM))
                and type(lines[-1]) is not Overlong):
            batch = fast_batch(lines)
        if batch is not None:
            yield range(line_no + 1, line_no + 1 + len(lines)), batch
            line_no += len(lines)
            offset += sum(map(len, lines)) + len(lines)
            empty = empty and not batch
            continue
        numbers: list[int] = []
        items: list = []
        pending = iter(lines)
        for raw in pending:
            line_no += 1
            if line_no == 1 and raw.startswith(BOM):
                raw, offset = without_bom(raw), len(BOM)
            if type(raw) is Overlong:  # a line too long to hold: the strict reader streams the rest
                if not takeover:
                    raise LoadError(f"{name}, line {line_no}: a line longer than 4 MB")
                if items:
                    empty = False
                    yield numbers, items
                for line, obj in strict_objects(itertools.chain([raw], raw.rest), name, line_no, offset):
                    empty = False
                    yield (line,), [exact(obj)]
                numbers, items = [], []
                break
            obj = _fast_object(raw)
            item = fast(obj) if obj is not None else None
            if item is not None:
                numbers.append(line_no)
                items.append(item)
            elif text := raw.strip():
                try:
                    found = strict_line(text)
                except NestedTooDeeply:
                    raise LoadError(f"{name}, line {line_no}: {NESTED_TOO_DEEPLY}") from None
                if found is None and not takeover:
                    raise LoadError(f"{name}, line {line_no}: not whole JSON objects")
                if found is None:  # the strict reader reads the rest of the file
                    if items:
                        empty = False
                        yield numbers, items
                    later = itertools.chain(pending, itertools.chain.from_iterable(chunks))
                    rest = itertools.chain([raw], (b"\n" + line for line in later))
                    for line, obj in strict_objects(rest, name, line_no, offset):
                        empty = False
                        yield (line,), [exact(obj)]
                    numbers, items = [], []
                    break  # ``chunks`` is spent: the outer loop ends too
                numbers.extend(line_no for _ in found)
                items.extend(exact(obj) for obj in found)
            offset += len(raw) + 1
        if items:
            empty = False
            yield numbers, items
    if empty and require_object:
        raise LoadError(f"{name}, line 1: {EMPTY_FILE}")


NESTED_TOO_DEEPLY = "invalid JSON: nested too deeply"
# a file without any JSON object: an error on load, a rejected record in the tolerant mode
EMPTY_FILE = "empty file: no JSON object in it"

BOM = codecs.BOM_UTF8


def byte_lines(stream: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    """Lines of a binary stream without their ``\\n``; works for any object with read()."""
    return itertools.chain.from_iterable(_line_chunks(stream, chunk_size))


# Redshift's COPY takes a JSON object of at most 4 MB. A line longer than that is never held whole:
# the strict streaming reader reads on from where it starts (a long line of many objects loads, in
# time linear in its length and memory bounded by the largest object), and an object larger than
# that is an error naming its line.
MAX_OBJECT_BYTES = 4 << 20

TOO_LARGE = "a JSON object larger than 4 MB (Redshift's COPY takes at most 4 MB)"


class Overlong(bytes):
    """The first MAX_OBJECT_BYTES or so of a line that goes on; ``rest`` reads the stream on."""

    rest: Iterator[bytes]


def without_bom(line: bytes) -> bytes:
    """A first line without its UTF-8 BOM (an Overlong one stays one, reading on as before)."""
    if type(line) is not Overlong:
        return line[len(BOM):]
    stripped = Overlong(line[len(BOM):])
    stripped.rest = line.rest
    return stripped


def _line_chunks(stream: BinaryIO, chunk_size: int) -> Iterator[list[bytes]]:
    """The lines of a binary stream without their ``\\n``, a list per chunk read (never empty). A
    line longer than MAX_OBJECT_BYTES ends the lists with ``[Overlong]``, from which the stream
    reads on."""
    max_line = MAX_OBJECT_BYTES
    pending: list[bytes] = []  # the parts of a line not ended yet (no quadratic joining for long ones)
    size = 0
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            if pending:
                yield [b"".join(pending)]
            return
        if b"\n" not in chunk:
            pending.append(chunk)
            size += len(chunk)
            if size > max_line:
                head = Overlong(b"".join(pending))
                head.rest = iter(lambda: stream.read(chunk_size), b"")
                yield [head]
                return
            continue
        parts = chunk.split(b"\n")
        if pending:
            parts[0] = b"".join(pending) + parts[0]
            if len(parts[0]) > max_line:  # a long line ends in this chunk: the strict reader takes it
                head = Overlong(parts[0])
                head.rest = itertools.chain([b"\n" + b"\n".join(parts[1:])], iter(lambda: stream.read(chunk_size), b""))
                yield [head]
                return
        last = parts.pop()
        pending, size = ([last], len(last)) if last else ([], 0)
        yield parts


_KEY_SPACE = re.compile(rb'"[ \t\r]+:')


def keys_once(lines: list[bytes], sizes: list[int]) -> bool:
    """True if each line has as many keys as its object (``sizes``): no key twice, nothing nested.
    Every key is followed by a colon, so as many colons as keys proves it. Where there are more (a
    colon inside a string, or a nested object): every key ends '":' (a quote inside a string is
    escaped), so as many '":' as keys, and no key followed by blanks (which that count misses)."""
    colons = list(map(bytes.count, lines, itertools.repeat(b":")))
    if colons == sizes:
        return True
    others = list(itertools.compress(range(len(lines)), map(operator.ne, colons, sizes)))
    suspect = [lines[i] for i in others]
    return (list(map(bytes.count, suspect, itertools.repeat(b'":'))) == [sizes[i] for i in others]
            and not any(map(_KEY_SPACE.search, suspect)))


def _fast_object(text: bytes) -> dict | None:
    """One whole object by msgspec, or None where the strict reader must decide (surrounding
    whitespace is fine; a blank line is None)."""
    try:
        obj = decode_any(text)
    except (msgspec.DecodeError, RecursionError):  # RecursionError: nested deeper than it reads
        return None
    if type(obj) is not dict or not keys_once([text], [len(obj)]):
        return None  # not an object, or a key twice or something nested: the strict reader decides
    return obj


class NestedTooDeeply(Exception):
    """A line whose JSON nests deeper than the strict reader goes (as deep as Python's stack)."""


def strict_line(text: bytes) -> list[dict] | None:
    """The objects of one line by the strict decoder, or None if the line is not whole objects;
    NestedTooDeeply where it nests too deeply to tell."""
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        return None
    objects, pos = [], 0
    while pos < len(decoded):
        try:
            obj, pos = _DECODER.raw_decode(decoded, pos)
            if not isinstance(obj, dict) or not _encodable(obj):
                return None
        except ValueError:
            return None
        except RecursionError:
            raise NestedTooDeeply from None
        objects.append(obj)
        pos = _WHITESPACE.match(decoded, pos).end()
    return objects


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # only such an escape can decode to a lone surrogate


def _encodable(value) -> bool:
    """False for strings holding a lone surrogate (``"\\ud800"``), which UTF-8 cannot carry."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_encodable(k) and _encodable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_encodable(v) for v in value)
    return True


def parse_line(text: bytes, needs_exact=None) -> list[dict] | None:
    """The objects of one whole line (fast path, then the strict reader), or None if it is not."""
    obj = _fast_object(text)
    if obj is not None and (needs_exact is None or not needs_exact(obj)):
        return [obj]
    return strict_line(text)


def line_problem(text: bytes) -> str:
    """Why one line is not whole JSON objects, in the words the strict reader uses."""
    try:
        for _ in strict_objects(iter([text]), "", 1, 0):
            pass
    except LoadError as exc:
        return str(exc).split(": ", 1)[1]
    return "not whole JSON objects"


def strict_objects(pieces: Iterator[bytes], name: str, line: int, consumed_bytes: int) -> Iterator[tuple[int, dict]]:
    """The strict streaming reader: any layout of objects, numbers as their source text."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    scan = _DECODER.raw_decode
    buffer, pos, eof = "", 0, False
    while True:
        end = _WHITESPACE.match(buffer, pos).end()
        line += buffer.count("\n", pos, end)
        pos = end
        if pos < len(buffer):
            try:
                obj, end = scan(buffer, pos)
                encodable = _encodable(obj) if _SURROGATE_ESCAPE.search(buffer, pos, end) else True
            except RecursionError:
                raise LoadError(f"{name}, line {line}: {NESTED_TOO_DEEPLY}") from None
            except json.JSONDecodeError as exc:
                if not eof and _cut_off(exc, buffer):  # the object goes on in the next piece: read on
                    if len(buffer) - pos > MAX_OBJECT_BYTES:
                        raise LoadError(f"{name}, line {line}: {TOO_LARGE}") from None
                    buffer, pos, eof, consumed_bytes = _read_more(pieces, decoder, buffer, pos, name, line,
                                                                  consumed_bytes)
                    continue
                at = line + buffer.count(chr(10), pos, exc.pos)
                raise LoadError(f"{name}, line {at}: invalid JSON: {exc.msg}") from None
            except ValueError as exc:
                raise LoadError(f"{name}, line {line}: invalid JSON: {exc}") from None
            if not isinstance(obj, dict):
                raise LoadError(f"{name}, line {line}: expected a JSON object, found {_json_type(obj)}")
            if end - pos > MAX_OBJECT_BYTES:
                raise LoadError(f"{name}, line {line}: {TOO_LARGE}")
            if not encodable:
                raise LoadError(f"{name}, line {line}: invalid JSON: a string holds a lone surrogate escape")
            yield line, obj
            line += buffer.count("\n", pos, end)
            pos = end
            continue
        if eof:
            return
        buffer, pos, eof, consumed_bytes = _read_more(pieces, decoder, buffer, pos, name, line, consumed_bytes)


def _cut_off(exc: json.JSONDecodeError, buffer: str) -> bool:
    """Whether the decoder failed only because the text ends (more may follow), not at a character
    that no continuation can mend: within the last few characters (a cut ``nul``, ``1.5e+``), or
    inside a string or escape that the end cut."""
    return exc.pos >= len(buffer) - 8 or exc.msg.startswith(("Unterminated string", "Invalid \\uXXXX escape"))


def _read_more(pieces, decoder, buffer, pos, name, line, consumed_bytes):
    chunk = next(pieces, b"")
    try:
        text = decoder.decode(chunk, final=not chunk)
    except UnicodeDecodeError as exc:
        bad_line = line + buffer.count("\n", pos) + chunk[: exc.start].count(b"\n")
        raise LoadError(f"{name}, line {bad_line}: invalid UTF-8 (byte offset {consumed_bytes + exc.start})") from None
    return buffer[pos:] + text, 0, not chunk, consumed_bytes + len(chunk)


def _json_type(value) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, JsonNumber):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "true/false/null"
