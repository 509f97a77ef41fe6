"""Pure functions that turn JSON input into staging rows the way Redshift's COPY ... JSON does.

* ``read_objects(stream, name)`` yields ``(line, object)`` for every top-level JSON object in a
  binary stream: one per line, several per line, or pretty-printed over many lines; a UTF-8 BOM is
  skipped. Numbers keep their source text (``JsonNumber``), so a number loading into a text column
  arrives as written, as on Redshift.
* ``parse_jsonpaths(data, name)`` reads a JSONPaths file into paths; ``value_at(obj, path)``
  follows one; ``auto_mapper(columns, ignorecase)`` maps object keys to columns by name.
* ``copy_line(values)`` renders one row in PostgreSQL's COPY text format.
"""

from __future__ import annotations

import codecs
import itertools
import json
import re
from typing import BinaryIO, Callable, Iterator, Sequence

import orjson

from .errors import LoadError

CHUNK_SIZE = 1 << 20


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


def read_objects(stream: BinaryIO, name: str, chunk_size: int = CHUNK_SIZE,
                 needs_exact: Callable[[dict], bool] | None = None) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)`` for each top-level JSON object in ``stream``.

    Fast path: one object per line, parsed with orjson (numbers become int/float). A line that is
    not exactly one object, whose key count does not add up (a duplicated key), or for which
    ``needs_exact(obj)`` says a number's source text matters, is parsed again by the strict
    reader, which keeps numbers' text (``JsonNumber``); from a line that is not whole objects
    (pretty-printed JSON, or bad input) the strict reader takes over the rest of the file.

    Memory is bounded by the largest object plus one chunk, whatever the file's size. Raises
    LoadError naming ``name`` and the line for invalid UTF-8, invalid JSON or a non-object value.
    """
    fast = _identity if needs_exact is None else (lambda obj: None if needs_exact(obj) else obj)
    return _objects(stream, name, chunk_size, fast, _identity)


def read_rows(stream: BinaryIO, name: str, mapper: Callable[[dict], list], exact_needed: Callable[[list], bool],
              chunk_size: int = CHUNK_SIZE, first_line: int = 1, first_byte: int = 0,
              require_object: bool = True, takeover: bool = True) -> Iterator[tuple[int, list]]:
    """``(line_number, row)``: ``read_objects`` and ``mapper`` in one pass, the loader's hot loop.
    A row for which ``exact_needed(row)`` is true (a number in a text column) is mapped again from
    the strict reader's object, which keeps the number's source text. ``first_line`` and
    ``first_byte`` say where in its file ``stream`` starts (a part of a file); ``require_object``
    false: no object in it is not an error; ``takeover`` false: a line that is not whole objects
    raises LoadError instead of handing the rest to the strict reader (a part of a file cannot
    know where a pretty-printed object began)."""
    def fast(obj: dict) -> list | None:
        row = mapper(obj)
        return None if exact_needed(row) else row

    return _objects(stream, name, chunk_size, fast, mapper, first_line, first_byte, require_object, takeover)


def _identity(value):
    return value


def _objects(stream: BinaryIO, name: str, chunk_size: int, fast: Callable, exact: Callable, first_line: int = 1,
             first_byte: int = 0, require_object: bool = True, takeover: bool = True) -> Iterator[tuple[int, object]]:
    """``fast(obj)`` for objects of the fast path (None: take the strict reader's object instead),
    ``exact(obj)`` for the strict reader's. LoadError for a file without any object."""
    lines = _byte_lines(stream, chunk_size)
    line_no, offset, empty = first_line - 1, first_byte, True
    for raw in lines:
        line_no += 1
        if line_no == 1 and raw.startswith(_BOM):
            raw, offset = raw[len(_BOM):], len(_BOM)
        obj = _fast_object(raw)
        item = fast(obj) if obj is not None else None
        if item is not None:
            empty = False
            yield line_no, item
        else:
            text = raw.strip()
            if text:
                found = _strict_line(text)
                if found is None and not takeover:
                    raise LoadError(f"{name}, line {line_no}: not whole JSON objects")
                if found is None:
                    rest = itertools.chain([raw], (b"\n" + line for line in lines))
                    for line, obj in _strict_objects(rest, name, line_no, offset):
                        empty = False
                        yield line, exact(obj)
                    break
                for obj in found:
                    empty = False
                    yield line_no, exact(obj)
        offset += len(raw) + 1
    if empty and require_object:
        raise LoadError(f"{name}, line 1: empty file: no JSON object in it")


_BOM = codecs.BOM_UTF8


def _byte_lines(stream: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    """Lines of a binary stream without their ``\\n``; works for any object with read()."""
    pending = b""
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            if pending:
                yield pending
            return
        parts = (pending + chunk).split(b"\n")
        pending = parts.pop()
        yield from parts


_KEY_SPACE = re.compile(rb'"[ \t\r]+:')


def _fast_object(text: bytes) -> dict | None:
    """One whole object by orjson, or None where the strict reader must decide (surrounding
    whitespace is fine; a blank line is None)."""
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict:
        return None
    # every key ends '":' (a quote inside a string is escaped), so fewer keys than that means a
    # duplicated key or a nested object, and a key followed by blanks is not counted: let the
    # strict reader look at those
    if text.count(b'":') != len(obj) or _KEY_SPACE.search(text) is not None:
        return None
    return obj


def _strict_line(text: bytes) -> list[dict] | None:
    """The objects of one line by the strict decoder, or None if the line is not whole objects."""
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        return None
    objects, pos = [], 0
    while pos < len(decoded):
        try:
            obj, pos = _DECODER.raw_decode(decoded, pos)
        except ValueError:
            return None
        if not isinstance(obj, dict) or not _encodable(obj):
            return None
        objects.append(obj)
        pos = _WHITESPACE.match(decoded, pos).end()
    return objects


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
            except json.JSONDecodeError as exc:
                if not eof:  # perhaps only cut off by the chunk boundary: read on
                    buffer, pos, eof, consumed_bytes = _read_more(pieces, decoder, buffer, pos, name, line,
                                                                  consumed_bytes)
                    continue
                raise LoadError(f"{name}, line {line + buffer.count(chr(10), pos, exc.pos)}: invalid JSON: {exc.msg}") from None
            except ValueError as exc:
                raise LoadError(f"{name}, line {line}: invalid JSON: {exc}") from None
            if not isinstance(obj, dict):
                raise LoadError(f"{name}, line {line}: expected a JSON object, found {_json_type(obj)}")
            if not _encodable(obj):
                raise LoadError(f"{name}, line {line}: invalid JSON: a string holds a lone surrogate escape")
            yield line, obj
            line += buffer.count("\n", pos, end)
            pos = end
            continue
        if eof:
            return
        buffer, pos, eof, consumed_bytes = _read_more(pieces, decoder, buffer, pos, name, line, consumed_bytes)


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


def jsonpaths_mapper(paths: Sequence[Path]) -> Callable[[dict], list]:
    simple = [path[0] if len(path) == 1 and isinstance(path[0], str) else None for path in paths]
    if all(key is not None for key in simple):
        return lambda obj: list(map(obj.get, simple))
    return lambda obj: [value_at(obj, path) for path in paths]


def auto_mapper(columns: Sequence[str], ignorecase: bool) -> Callable[[dict], list]:
    """``'auto'``: keys equal to the column names; ``'auto ignorecase'``: equal ignoring case."""
    if not ignorecase:
        columns = list(columns)
        return lambda obj: list(map(obj.get, columns))

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
        text = value if isinstance(value, str) else copy_field(value)
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


# --- COPY text format -------------------------------------------------------------------------

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def copy_field(value) -> str:
    """One value in COPY text format: NULL as \\N; nested objects and arrays as their JSON text."""
    if value is None:
        return "\\N"
    kind = type(value)
    if kind is str or kind is JsonNumber:
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return value.translate(_COPY_ESCAPES)
        return value
    if kind is int:
        return str(value)
    if kind is float:
        return repr(value)
    if kind is bool:
        return "true" if value else "false"
    return _json_text(value).translate(_COPY_ESCAPES)


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


def copy_line(values: Sequence) -> str:
    """One row in COPY text format. Fast path: plain strings and numbers, checked once per line."""
    line = "\t".join([v if type(v) is str else "\\N" if v is None else str(v) if type(v) is int else _plain_text(v)
                      for v in values])
    if line.count("\t") == len(values) - 1 and "\\" not in line and "\n" not in line and "\r" not in line:
        return line + "\n"
    return "\t".join(map(copy_field, values)) + "\n"


def _plain_text(value) -> str:
    kind = type(value)
    if kind is int or kind is JsonNumber:
        return str(value)
    if kind is float:
        return repr(value)
    return copy_field(value)
