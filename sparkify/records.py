"""Pure functions that turn JSON input into staging rows the way Redshift's COPY ... JSON does.

* ``read_objects(stream, name)`` yields ``(line, object)`` for every top-level JSON object in a
  binary stream: one per line, several per line, or pretty-printed over many lines; a UTF-8 BOM is
  skipped. Numbers keep their source text (``JsonNumber``), so a number loading into a text column
  arrives as written, as on Redshift.
* ``parse_jsonpaths(data, name)`` reads a JSONPaths file into paths; ``value_at(obj, path)``
  follows one; ``auto_mapper(columns, ignorecase)`` maps object keys to columns by name.
* ``copy_chunks(stream, name, mapping)`` is the loader's hot loop: every object of a stream mapped
  to a row and rendered for COPY, a chunk of lines at a time; ``copy_files`` the same for a batch
  of one-line files.
* ``copy_line(values)`` and ``copy_lines(rows)`` render rows in the COPY CSV format of
  ``sql_queries.copy_from_stdin``: orjson writes rows as JSON arrays, which, without their
  brackets, are already CSV lines for rows of plain strings, numbers and nulls.
"""

from __future__ import annotations

import codecs
import itertools
import json
import operator
import re
from typing import BinaryIO, Callable, Iterator, NamedTuple, Sequence

import msgspec
import orjson

from . import compression
from .errors import LoadError

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
_decode_any = msgspec.json.Decoder().decode


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
    fast = _identity if needs_exact is None else (lambda obj: None if needs_exact(obj) else obj)
    for numbers, objects in _chunks(stream, name, chunk_size, None, fast, _identity):
        yield from zip(numbers, objects)


class RowMapping(NamedTuple):
    """How records become rows of one table, for one COPY JSON format (``loader.mapping_for``)."""

    row: Callable[[dict], Sequence]  # record -> row
    needs_exact: Callable[[dict], bool]  # record -> must the strict reader's record be used?
    exact_rows: Callable[[Sequence[Sequence]], Sequence[int]]  # the same question of rows: which need it
    decode: Callable[[bytes], Sequence] | None = None  # one line straight to a row (``row_decoder``)


def copy_chunks(stream: BinaryIO, name: str, mapping: RowMapping, chunk_size: int = CHUNK_SIZE,
                first_line: int = 1, first_byte: int = 0, require_object: bool = True,
                takeover: bool = True) -> Iterator[tuple[int, bytes]]:
    """``(rows, COPY lines)`` for each chunk of ``stream``: ``read_objects``, the mapping and
    ``copy_lines`` in one pass, the loader's hot loop. A chunk of plain one-object lines goes through
    C-level maps as a whole (``_fast_rows``); any other chunk line by line, as ``read_objects``
    reads it. A row that ``mapping.exact_rows`` names (a number in a text column) is mapped again
    from the strict reader's object, which keeps the number's source text. ``first_line`` and
    ``first_byte`` say where in its file ``stream`` starts (a part of a file); ``require_object``
    false: no object in it is not an error; ``takeover`` false: a line that is not whole objects
    raises LoadError instead of handing the rest to the strict reader (a part of a file cannot
    know where a pretty-printed object began)."""
    mapper, exact_rows = mapping.row, mapping.exact_rows

    def fast(obj: dict) -> Sequence | None:
        row = mapper(obj)
        return None if exact_rows((row,)) else row

    def fast_batch(lines: list[bytes]) -> list | None:
        return _fast_rows(lines, mapping)

    for numbers, rows in _chunks(stream, name, chunk_size, fast_batch, fast, mapper, first_line, first_byte,
                                 require_object, takeover):
        if rows:
            try:
                text = copy_lines(rows)
            except RecursionError:  # a value nested deeper than rendering goes: which line?
                raise LoadError(f"{name}, line {_too_deep(numbers, rows)}: {NESTED_TOO_DEEPLY}") from None
            yield len(rows), text


def _identity(value):
    return value


def _chunks(stream: BinaryIO, name: str, chunk_size: int, fast_batch: Callable | None, fast: Callable,
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
        if (fast_batch is not None and not (line_no == 0 and lines[0].startswith(_BOM))
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
            if line_no == 1 and raw.startswith(_BOM):
                raw, offset = without_bom(raw), len(_BOM)
            if type(raw) is Overlong:  # a line too long to hold: the strict reader streams the rest
                if not takeover:
                    raise LoadError(f"{name}, line {line_no}: a line longer than 4 MB")
                if items:
                    empty = False
                    yield numbers, items
                for line, obj in _strict_objects(itertools.chain([raw], raw.rest), name, line_no, offset):
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
                    found = _strict_line(text)
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
                    for line, obj in _strict_objects(rest, name, line_no, offset):
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
        raise LoadError(f"{name}, line 1: empty file: no JSON object in it")


def _fast_rows(lines: list[bytes], mapping: RowMapping) -> list | None:
    """The rows of a chunk in which every line is one plain object (``_fast_object``'s checks, made
    for all lines at once), or None: read this chunk line by line. Where the mapping has a
    decoder, each line goes straight to its row; else through msgspec's dict."""
    if mapping.decode is not None:
        try:
            rows = list(map(mapping.decode, lines))
        except (msgspec.DecodeError, RecursionError):  # a key missing or unknown, a number in a text column, bad JSON
            rows = None
        if rows is not None:
            # every key is there, and only those: as many colons as columns, no key twice
            return rows if _keys_once(lines, [len(rows[0])] * len(lines)) else None
    try:
        objects = list(map(_decode_any, lines))
    except (msgspec.DecodeError, RecursionError):
        return None
    if not objects or set(map(type, objects)) != {dict}:
        return None
    if not _keys_once(lines, list(map(len, objects))):
        return None
    mapper = mapping.row
    every = getattr(mapper, "every", None)  # all keys at once, where the mapper has that
    try:
        rows = list(map(every or mapper, objects))
    except KeyError:
        rows = list(map(mapper, objects))
    for i in mapping.exact_rows(rows):  # a number in a text column: the strict reader's object, as line by line
        try:
            found = _strict_line(lines[i].strip())
        except NestedTooDeeply:
            return None  # line by line, which says so
        if found is None:
            return None
        rows[i] = mapper(found[0])
    return rows


def _keys_once(lines: list[bytes], sizes: list[int]) -> bool:
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


def row_decoder(keys: Sequence[str], text: Sequence[bool]) -> Callable[[bytes], tuple] | None:
    """One line of JSON straight to a row, by msgspec, for a mapping whose every column is a
    distinct top-level key: every key must be there and no other (so a colon count can prove no
    key came twice), a text column takes only a string or null (anything else: the strict reader
    decides), other columns any value. None where the keys are not distinct."""
    if len(set(keys)) != len(keys):
        return None
    names = [f"c{i}" for i in range(len(keys))]
    record = msgspec.defstruct("Record", [(name, (str | None) if is_text else object)
                                          for name, is_text in zip(names, text)],
                               rename=dict(zip(names, keys)), forbid_unknown_fields=True)
    decode = msgspec.json.Decoder(record).decode
    as_row = msgspec.structs.astuple
    return lambda line: as_row(decode(line))


def copy_files(contents: Sequence[bytes], mapping: RowMapping) -> bytes | None:
    """COPY lines for small files that each hold one object on one line (song files), one row per
    file, read as one chunk of lines; None if any file is not like that: read each file alone."""
    lines = [data[:-1] if data.endswith(b"\n") else data for data in contents]
    if any(b"\n" in line or line.startswith(_BOM) for line in lines):
        return None
    rows = _fast_rows(lines, mapping)
    try:
        return None if rows is None else copy_lines(rows)
    except RecursionError:
        return None  # each file alone says which one


NESTED_TOO_DEEPLY = "invalid JSON: nested too deeply"


def _too_deep(numbers: Sequence[int], rows: Sequence[Sequence]) -> int:
    """The line of the first row that cannot be rendered for being nested too deeply."""
    for number, row in zip(numbers, rows):
        try:
            copy_lines((row,))
        except RecursionError:
            return number
    return numbers[0]


_BOM = codecs.BOM_UTF8


def _byte_lines(stream: BinaryIO, chunk_size: int) -> Iterator[bytes]:
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
        return line[len(_BOM):]
    stripped = Overlong(line[len(_BOM):])
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


def _fast_object(text: bytes) -> dict | None:
    """One whole object by msgspec, or None where the strict reader must decide (surrounding
    whitespace is fine; a blank line is None)."""
    try:
        obj = _decode_any(text)
    except (msgspec.DecodeError, RecursionError):  # RecursionError: nested deeper than it reads
        return None
    if type(obj) is not dict or not _keys_once([text], [len(obj)]):
        return None  # not an object, or a key twice or something nested: the strict reader decides
    return obj


class NestedTooDeeply(Exception):
    """A line whose JSON nests deeper than the strict reader goes (as deep as Python's stack)."""


def _strict_line(text: bytes) -> list[dict] | None:
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
    return _strict_line(text)


def line_problem(text: bytes) -> str:
    """Why one line is not whole JSON objects, in the words the strict reader uses."""
    try:
        for _ in _strict_objects(iter([text]), "", 1, 0):
            pass
    except LoadError as exc:
        return str(exc).split(": ", 1)[1]
    return "not whole JSON objects"


def _strict_objects(pieces: Iterator[bytes], name: str, line: int, consumed_bytes: int) -> Iterator[tuple[int, dict]]:
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
                raise LoadError(f"{name}, line {line + buffer.count(chr(10), pos, exc.pos)}: invalid JSON: {exc.msg}") from None
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


# --- JSONPaths ---------------------------------------------------------------------------------

_PATH_STEP = re.compile(r"""\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\]|\[\s*(\d+)\s*\]""")

Path = tuple  # of str (object key) and int (array index)


def parse_jsonpath(expression: str) -> Path:
    """``$['a']['b'][0]`` or ``$.a.b[0]`` to ``('a', 'b', 0)``; ValueError if malformed."""
    if not isinstance(expression, str) or not expression.startswith("$"):
        raise ValueError(f"{expression!r} does not start with $")
    steps, pos = [], 1
    while pos < len(expression):
        match = _PATH_STEP.match(expression, pos)
        if not match:
            raise ValueError(f"{expression!r} is not a JSONPath expression Redshift accepts")
        name, single, double, index = match.groups()
        steps.append(int(index) if index is not None else next(s for s in (name, single, double) if s is not None))
        pos = match.end()
    if not steps:
        raise ValueError(f"{expression!r} names no element")
    return tuple(steps)


def parse_jsonpaths(data: bytes, name: str, column_count: int) -> list[Path]:
    """The paths of a JSONPaths file; there must be exactly one per staging column."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
        expressions = document["jsonpaths"]
        if not isinstance(expressions, list):
            raise ValueError('"jsonpaths" is not an array')
        paths = [parse_jsonpath(expression) for expression in expressions]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        reason = 'no "jsonpaths" array' if isinstance(exc, (KeyError, TypeError)) else str(exc)
        raise LoadError(f"{name}: not a valid JSONPaths file: {reason}") from None
    if len(paths) != column_count:
        raise LoadError(f"{name}: has {len(paths)} JSONPath expressions but the table has {column_count} columns")
    return paths


def value_at(obj, path: Path):
    """The value at ``path``, or None where any step is missing."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(obj, list) or step >= len(obj):
                return None
            obj = obj[step]
        else:
            if not isinstance(obj, dict):
                return None
            obj = obj.get(step)
    return obj


def top_level_keys(paths: Sequence[Path]) -> list[str] | None:
    """The key of each path where every path is one top-level key (``$['artist']``), else None."""
    if all(len(path) == 1 and isinstance(path[0], str) for path in paths):
        return [path[0] for path in paths]
    return None


def jsonpaths_mapper(paths: Sequence[Path]) -> Callable[[dict], Sequence]:
    keys = top_level_keys(paths)
    if keys is not None:
        return _keys_mapper(keys)
    return lambda obj: [value_at(obj, path) for path in paths]


def _keys_mapper(keys: Sequence[str]) -> Callable[[dict], Sequence]:
    """The values of ``keys`` (None where one is missing): one C-level lookup when all are there."""
    keys = list(keys)
    if len(keys) < 2:
        return lambda obj: list(map(obj.get, keys))
    every = operator.itemgetter(*keys)

    def mapped(obj: dict) -> Sequence:
        try:
            return every(obj)
        except KeyError:
            return list(map(obj.get, keys))

    mapped.every = every  # for a whole chunk in one map(); KeyError if any key is missing
    return mapped


def auto_mapper(columns: Sequence[str], ignorecase: bool) -> Callable[[dict], Sequence]:
    """``'auto'``: keys equal to the column names; ``'auto ignorecase'``: equal ignoring case."""
    if not ignorecase:
        return _keys_mapper(columns)

    def mapped(obj: dict) -> list:
        lowered = {}
        for key, value in obj.items():
            lowered.setdefault(key.lower(), value)
        return [lowered.get(column) for column in columns]

    return mapped


# --- Values against column types (MAX_ERRORS mode) ------------------------------------------

_INT_LIMITS = {"SMALLINT": 2**15, "INTEGER": 2**31, "BIGINT": 2**63}


def _integer_problem(limit: int):
    def check(value):
        if isinstance(value, bool) or isinstance(value, float):
            return f"{value!r} is not a whole number"
        try:
            number = int(value) if isinstance(value, int) else int(str(value).strip())
        except ValueError:
            return f"{str(value)!r} is not a whole number"
        return None if -limit <= number < limit else f"{number} is out of range"
    return check


def _float_problem(value):
    if isinstance(value, bool):
        return f"{value!r} is not a number"
    if isinstance(value, (int, float)):
        return None
    try:
        float(str(value).replace("_", "x"))
    except ValueError:
        return f"{str(value)!r} is not a number"
    return None


def _text_problem(limit: int):
    def check(value):
        text = copy_text(value)
        if "\x00" in text:
            return "holds a NUL character"
        size = len(text.encode("utf-8", "surrogatepass"))
        return None if size <= limit else f"{size} bytes, longer than VARCHAR({limit})"
    return check


def row_validator(columns) -> Callable[[list], str | None]:
    """A function that says why a mapped row would not load into ``columns``, or None."""
    checks = []
    for column in columns:
        if column.type in _INT_LIMITS:
            check = _integer_problem(_INT_LIMITS[column.type])
        elif column.type == "DOUBLE PRECISION":
            check = _float_problem
        elif column.type.startswith("VARCHAR("):
            check = _text_problem(int(column.type[8:-1]))
        else:
            check = lambda value: None  # noqa: E731
        checks.append((column.name, column.not_null, check))

    def problem(values) -> str | None:
        for (name, not_null, check), value in zip(checks, values):
            if value is None:
                if not_null:
                    return f"column {name}: missing (the column is NOT NULL)"
                continue
            found = check(value)
            if found:
                return f"column {name}: {found}"
        return None

    return problem


# --- COPY CSV format -------------------------------------------------------------------------
# Strings are always quoted, with \" for a quote and \\ for a backslash in them (ESCAPE '\'), and
# NULL is an unquoted ``null`` (``sql_queries.copy_from_stdin``): a string "null" or "" stays a
# string. That is orjson's JSON array of a row without its brackets, for every row with nothing
# nested and no string that needed a JSON escape other than \".

_dumps = orjson.dumps


def _only_quote_escapes(out: bytes) -> bool:
    """True if every backslash in orjson's ``out`` escapes a double quote (none at all, mostly).
    As many backslashes as backslash-quotes proves it: a \\\\ escape counts two backslashes and at
    most one backslash-quote, any other escape one backslash and none."""
    return out.count(b"\\") == out.count(b'\\"')


def copy_line(values: Sequence) -> bytes:
    """One row in COPY CSV format."""
    return copy_lines((values,))


def copy_lines(rows: Sequence[Sequence]) -> bytes:
    """Rows in COPY CSV format: one JSON array of them all where it is plain -- no ``[`` in any
    string (so each ``],[`` is where a row ends and the next begins), nothing nested, no escape but
    \\" -- else row by row, and a row that is not plain value by value."""
    try:
        out = _dumps(rows)
    except TypeError:  # an integer beyond 64 bits (from the strict reader)
        out = b"[{"
    if out.count(b"[") == len(rows) + 1 and b"{" not in out and _only_quote_escapes(out):
        return out[2:-2].replace(b"],[", b"\n") + b"\n"
    if len(rows) > 1:
        return b"".join(copy_lines((row,)) for row in rows)
    return (",".join(map(csv_field, rows[0])) + "\n").encode("utf-8")


def csv_field(value) -> str:
    """One value in COPY CSV format: NULL as null; nested objects and arrays as their JSON text."""
    if value is None:
        return "null"
    kind = type(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return repr(value)
    text = value if isinstance(value, str) else _json_text(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def copy_text(value) -> str:
    """A value as the text a VARCHAR column receives (what ``csv_field`` quotes)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return _json_text(value)


def _json_text(value) -> str:
    if isinstance(value, JsonNumber):
        return str(value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + _json_text(v) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)
