"""Bad input: every must-reject case stops etl.py with one line naming file, line and reason, and
leaves every table exactly as it was; every awkward-but-valid case loads byte for byte."""

import codecs
import json
import os
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import create_tables
import etl
import sql_queries as q
from conftest import SAMPLE, fetch_all, full_state, table_input, without_target
from sparkify import loader, pipeline

EVENTS = "log_data/2018/11/2018-11-29-events.json"
SONG = "song_data/Z/Z/Z/TRZZZZZ12345678901.json"
TS = 1541105830796

# (case, file under the data copy, content, the error after "error: <file>, ")
MUST_REJECT = [
    ("truncated JSON", EVENTS, f'{{"ts": {TS}, "page": "Home"', "line 1: invalid JSON: Expecting ',' delimiter"),
    ("invalid syntax", EVENTS, f'{{"ts": {TS}}}\n{{"ts": {TS}, page: "Home"}}',
     "line 2: invalid JSON: Expecting property name enclosed in double quotes"),
    ("binary garbage", EVENTS, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "line 1: invalid UTF-8 (byte offset 0)"),
    ("invalid UTF-8", EVENTS, f'{{"ts": {TS}}}\n{{"ts": {TS}, "song": "caf'.encode() + b'\xe9"}',
     "line 2: invalid UTF-8 (byte offset 56)"),
    ("lone surrogate escape", EVENTS, f'{{"ts": {TS}, "song": "\\ud800"}}',
     "line 1: invalid JSON: a string holds a lone surrogate escape"),
    ("NUL in a string", EVENTS, f'{{"ts": {TS}, "song": "a\\u0000b"}}',
     "line 1: invalid byte sequence for encoding \"UTF8\": 0x00 (loading staging_events)"),
    ("NaN", EVENTS, f'{{"ts": {TS}, "length": NaN}}', "line 1: invalid JSON: NaN is not valid JSON"),
    ("Infinity", EVENTS, f'{{"ts": {TS}, "length": -Infinity}}', "line 1: invalid JSON: -Infinity is not valid JSON"),
    # the same non-numbers as JSON strings, in any spelling PostgreSQL would take for a float
    ("NaN as a string", EVENTS, f'{{"ts": {TS}, "length": "NaN"}}',
     "line 1: new row for relation \"staging_events\" violates check constraint \"length must be a finite number\""
     " (loading staging_events)"),
    ("-infinity as a string", SONG, '{"song_id": "SOZZ", "duration": "-infinity"}',
     "line 1: new row for relation \"staging_songs\" violates check constraint \"duration must be a finite"
     " number\" (loading staging_songs)"),
    ("inf as a string", SONG, '{"song_id": "SOZZ", "artist_latitude": " +Inf"}',
     "line 1: new row for relation \"staging_songs\" violates check constraint \"artist_latitude must be a finite"
     " number\" (loading staging_songs)"),
    ("non-numeric ts", EVENTS, '{"ts": "yesterday"}',
     "line 1, column ts: invalid input syntax for type bigint: \"yesterday\" (loading staging_events)"),
    ("non-numeric duration", SONG, '{"song_id": "SOZZ", "duration": "long"}',
     "line 1, column duration: invalid input syntax for type double precision: \"long\" (loading staging_songs)"),
    ("non-numeric year", SONG, '{"song_id": "SOZZ", "year": "MMXX"}',
     "line 1, column year: invalid input syntax for type smallint: \"MMXX\" (loading staging_songs)"),
    ("number too large for its column", EVENTS, f'{{"ts": {TS}, "status": 99999}}',
     "line 1, column status: value \"99999\" is out of range for type smallint (loading staging_events)"),
    ("missing ts", EVENTS, f'{{"ts": {TS}}}\n\n{{"page": "Home"}}',
     "line 3: null value in column \"ts\" of relation \"staging_events\" violates not-null constraint"
     " (loading staging_events)"),
    ("missing song_id", SONG, '{"title": "No id"}',
     "line 1: null value in column \"song_id\" of relation \"staging_songs\" violates not-null"
     " constraint (loading staging_songs)"),
    ("string longer than its column", EVENTS, json.dumps({"ts": TS, "gender": "x" * 17}),
     "line 1, column gender: value too long for type character varying(16) (loading staging_events)"),
    ("top-level array", EVENTS, f'[{{"ts": {TS}}}]', "line 1: expected a JSON object, found an array"),
    ("duplicated key", EVENTS, f'{{"ts": {TS}, "page": "Home", "ts": {TS + 1}}}',
     "line 1: invalid JSON: duplicated key 'ts'"),
    ("empty file", EVENTS, "  \n", "line 1: empty file: no JSON object in it"),
    # the offset counts the BOM's 3 bytes: byte 56 of the text after it
    ("invalid UTF-8 after a BOM", EVENTS, codecs.BOM_UTF8 + f'{{"ts": {TS}}}\n{{"ts": {TS}, "song": "caf'.encode()
     + b'\xe9"}', "line 2: invalid UTF-8 (byte offset 59)"),
    ("a BOM on a later line", EVENTS, f'{{"ts": {TS}}}\n'.encode() + codecs.BOM_UTF8 + f'{{"ts": {TS}}}'.encode(),
     "line 2: invalid JSON: Expecting value"),
    ("nested too deeply", EVENTS, f'{{"ts": {TS}, "song": ' + "[" * 5000 + "]" * 5000 + "}",
     "line 1: invalid JSON: nested too deeply"),
    ("an integer beyond 64 bits", SONG, '{"song_id": "SOZZ", "year": -9223372036854775809}',
     "line 1, column year: value \"-9223372036854775809\" is out of range for type smallint (loading staging_songs)"),
]


@pytest.fixture
def warehouse(tmp_path, write_config, conn):
    """A loaded warehouse over a private copy of the sample; returns (data dir, config, full state)."""
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    config = write_config(log_data=data / "log_data", song_data=data / "song_data",
                          log_jsonpath=data / "log_json_path.json")
    assert create_tables.main(["--config", str(config), "-q"]) == 0
    assert etl.main(["--config", str(config), "-q"]) == 0
    return data, config, full_state(conn)


@pytest.mark.parametrize("case, relative, content, message", MUST_REJECT, ids=[c[0] for c in MUST_REJECT])
def test_must_reject(warehouse, conn, capsys, case, relative, content, message):
    data, config, before = warehouse
    bad = data / relative
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert etl.main(["--config", str(config), "-q"]) == 1
    assert without_target(capsys.readouterr().err) == f"error: {bad}, {message}\n"
    assert full_state(conn) == before


@pytest.mark.parametrize("paths, message", [
    ('{"jsonpaths": ["$.artist",', "not a valid JSONPaths file: Expecting value: line 1 column 27 (char 26)"),
    (json.dumps({"jsonpaths": ["$['x']"] * 17}), "has 17 JSONPath expressions but the table has 18 columns"),
    (json.dumps({"paths": []}), 'not a valid JSONPaths file: no "jsonpaths" array'),
], ids=["malformed", "path count differs", "no jsonpaths key"])
def test_bad_jsonpaths_file_rejected(warehouse, conn, capsys, paths, message):
    data, config, before = warehouse
    (data / "log_json_path.json").write_text(paths)
    assert etl.main(["--config", str(config), "-q"]) == 1
    assert without_target(capsys.readouterr().err) == f"error: {data / 'log_json_path.json'}: {message}\n"
    assert full_state(conn) == before


# --- Awkward but valid: loads byte for byte ---------------------------------------------------

AWKWARD = [
    ("tabs, newlines, backslashes and \\.", {"song": "a\tb\nc\\d\r\n\\.\n\\N end"}),
    ("quotes of both kinds", {"song": "He said \"hi\" and 'bye'", "userAgent": "\"Mozilla/5.0\""}),
    ("backslashes before a quote, doubled and at the end", {"song": 'a\\"b\\\\c\\', "artist": "\\"}),
    ("emoji and combining marks", {"artist": "Beyonce\u0301 🎵 Zoë", "song": "ﬁ 👩‍👩‍👧"}),
    ("unknown extra keys", {"song": "kept", "extra": {"nested": [1, 2]}, "another": True}),
    ("null, empty and missing", {"artist": None, "song": "", "firstName": None}),
    ("smallest realistic ts", {"ts": 0, "song": "epoch"}),
    ("largest realistic ts", {"ts": 4102444799999, "song": "2099-12-31"}),
    ("numbers into text columns", {"song": 1.50, "artist": 10, "userId": 7}),
]


def load_events(conn, tmp_path, raw: bytes):
    folder = tmp_path / "events"
    folder.mkdir(exist_ok=True)
    (folder / "e.json").write_bytes(raw)
    with conn.cursor() as cur:
        cur.execute(q.create_table(q.STAGING_EVENTS, q.POSTGRES))
        loader.load_table(cur, table_input(q.STAGING_EVENTS, folder, SAMPLE / "log_json_path.json", "test"))
        cur.execute("SELECT artist, song, first_name, ts, user_agent, user_id FROM staging_events")
        rows = cur.fetchall()
    conn.rollback()
    return rows


@pytest.mark.parametrize("case, fields", AWKWARD, ids=[c[0] for c in AWKWARD])
def test_must_accept(conn, tmp_path, case, fields):
    event = {"ts": TS, **fields}
    raw = json.dumps(event, ensure_ascii=False).replace(': 1.5,', ': 1.50,').encode()
    [row] = load_events(conn, tmp_path, raw)
    expected_song = "1.50" if case == "numbers into text columns" else event.get("song")
    expected = (None if event.get("artist") is None else str(event["artist"]), expected_song, event.get("firstName"),
                event["ts"], event.get("userAgent"), None if event.get("userId") is None else str(event["userId"]))
    assert row == expected


def test_utf8_bom(conn, tmp_path):
    raw = b"\xef\xbb\xbf" + f'{{"ts": {TS}, "song": "first"}}\n{{"ts": {TS + 1}, "song": "second"}}'.encode()
    assert [(r[1], r[3]) for r in load_events(conn, tmp_path, raw)] == [("first", TS), ("second", TS + 1)]


def test_crlf_line_ends(conn, tmp_path):
    raw = f'{{"ts": {TS}, "song": "first"}}\r\n{{"ts": {TS + 1}, "song": "second\\r"}}\r\n'.encode()
    assert [(r[1], r[3]) for r in load_events(conn, tmp_path, raw)] == [("first", TS), ("second\r", TS + 1)]


TEXT = st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                                    max_size=40))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(st.fixed_dictionaries({
    "artist": TEXT, "song": TEXT, "firstName": TEXT, "userAgent": TEXT, "userId": TEXT,
    "ts": st.integers(min_value=0, max_value=2**62)}), min_size=1, max_size=8),
    pretty=st.booleans())
def test_staging_equals_source_for_every_mapped_field(conn, tmp_path, records, pretty):
    raw = "\n".join(json.dumps(r, ensure_ascii=pretty, indent=2 if pretty else None) for r in records).encode()
    rows = load_events(conn, tmp_path, raw)
    assert rows == [(r["artist"], r["song"], r["firstName"], r["ts"], r["userAgent"], r["userId"]) for r in records]


# --- MAX_ERRORS: skip up to N bad records, keep each, lose nothing ------------------------------

BAD_LINES = [
    '{"ts": "soon", "page": "NextSong"}',
    '{"ts": 1541105830796, "page": "Home", "status": 99999}',
    '{"ts": 1541105830796,, "page": "Home"}',
]


def tolerant_setup(warehouse):
    data, config, before = warehouse
    bad = data / EVENTS
    good = [json.dumps({"ts": TS + n, "page": "Home", "userId": "", "auth": "Logged Out"}) for n in range(3)]
    bad.write_text("\n".join([good[0], BAD_LINES[0], good[1], BAD_LINES[1], BAD_LINES[2], good[2]]))
    return data, config, before, bad


def test_max_errors_skips_and_keeps_every_bad_record(warehouse, conn, capsys):
    data, config, before, bad = tolerant_setup(warehouse)
    assert etl.main(["--config", str(config), "--max-errors", "3"]) == 0
    out = capsys.readouterr().out
    assert fetch_all(conn, "load_errors", "line_number") == [
        ("staging_events", str(bad), 2, "column ts: 'soon' is not a whole number", BAD_LINES[0]),
        ("staging_events", str(bad), 4, "column status: 99999 is out of range", BAD_LINES[1]),
        ("staging_events", str(bad), 5, "invalid JSON: Expecting property name enclosed in double quotes",
         BAD_LINES[2]),
    ]
    sample_events = sum(1 for p in (SAMPLE / "log_data").rglob("*.json") for line in p.read_text().splitlines())
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM staging_events")
        assert cur.fetchone()[0] == sample_events + 3
    conn.rollback()
    lines = out.splitlines()
    start = lines.index("records rejected under MAX_ERRORS (kept in load_errors):")
    rows = [line.split() for line in lines[start + 3:start + 5]]
    assert rows == [[str(bad), "6", "3", "3"], ["total", "staging_events", f"{sample_events + 6:,}",
                                                 f"{sample_events + 3:,}", "3"]]
    bad.unlink()  # the next run starts a fresh load_errors
    assert etl.main(["--config", str(config), "-q"]) == 0
    assert fetch_all(conn, "load_errors", "line_number") == []


def test_one_bad_record_more_than_allowed_changes_nothing(warehouse, conn, capsys):
    data, config, before, bad = tolerant_setup(warehouse)
    assert etl.main(["--config", str(config), "--max-errors", "2", "-q"]) == 1
    assert without_target(capsys.readouterr().err) == (
        f"error: {bad}, line 5: invalid JSON: Expecting property name enclosed in double quotes"
        " (3 bad records in staging_events, more than MAX_ERRORS=2; nothing was committed)\n")
    assert full_state(conn) == before


def test_max_errors_from_config_and_pretty_printed_file(warehouse, conn, capsys, write_config):
    data, _, before = warehouse
    broken = data / SONG
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text('{\n  "song_id": "SOZZ",\n  "title": \n}\n')
    config = write_config(log_data=data / "log_data", song_data=data / "song_data",
                          log_jsonpath=data / "log_json_path.json")
    config.write_text(config.read_text() + "MAX_ERRORS=1\n")
    assert etl.main(["--config", str(config), "-q"]) == 0
    assert fetch_all(conn, "load_errors", "line_number") == [
        ("staging_songs", str(broken), 4, "invalid JSON: Expecting value", "")]


# --- etl.py --validate: every problem at once, no table changed ----------------------------------

def test_validate_reports_every_must_reject_case_at_once(warehouse, conn, capsys, monkeypatch):
    """Each must-reject case in a file of its own: one run lists all of them, changing nothing."""
    data, config, before = warehouse
    monkeypatch.setattr(pipeline, "VALIDATE_SHOW", len(MUST_REJECT))  # every one shown, not the first 20
    expected = []
    for number, (_case, relative, content, _message) in enumerate(MUST_REJECT):
        bad = data / relative.replace(".json", f"-bad{number:02d}.json")
        bad.parent.mkdir(parents=True, exist_ok=True)
        bad.write_bytes(content if isinstance(content, bytes) else content.encode())
        expected.append(str(bad))
    assert etl.main(["--config", str(config), "--validate"]) == 1
    out, err = capsys.readouterr()
    err = without_target(err)
    assert err.splitlines()[-1].startswith(f"error: validation found {len(MUST_REJECT)} problems in ")
    assert err.splitlines()[-1].endswith("; no table was changed")
    problems = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert sorted(line.split(", line ")[0].split(": ")[0] for line in problems) == sorted(expected)
    assert "2018-11-29-events-bad11.json, line 1: column ts: " in out and "'yesterday'" in out
    assert full_state(conn) == before


def test_validate_clean_input_exits_zero(warehouse, conn, capsys):
    data, config, before = warehouse
    assert etl.main(["--config", str(config), "--validate"]) == 0
    out = capsys.readouterr().out
    assert [line.split() for line in out.splitlines()[2:]] == [["staging_events", "4", "1,200", "0"],
                                                               ["staging_songs", "120", "120", "0"]]
    assert full_state(conn) == before


def test_a_long_bad_value_is_kept_within_the_reason_column(warehouse, conn):
    """The reason names the value: a long one is cut to the column's width (as on Redshift, where the
    column holds STL's widest reason), and the run MAX_ERRORS carries through still commits."""
    data, config, _ = warehouse
    value = "x" * 70000
    (data / EVENTS).write_text(json.dumps({"ts": value, "page": "Home"}))
    assert etl.main(["--config", str(config), "--max-errors", "1", "-q"]) == 0
    [(table, _, line, reason, raw)] = fetch_all(conn, "load_errors", "line_number")
    assert (table, line) == ("staging_events", 1)
    assert reason == f"column ts: {value!r} is not a whole number"[:65535]
    assert raw == json.dumps({"ts": value, "page": "Home"})[:65535]


def test_max_errors_checks_each_integer_column_to_the_edge_of_its_range(warehouse, conn):
    """SMALLINT holds -32768 ... 32767: the edges load, one past them is a rejected record (not a
    COPY failure that would stop the run)."""
    data, config, _ = warehouse
    statuses = [32767, 32768, -32768, -32769]
    (data / EVENTS).write_text("\n".join(json.dumps({"ts": TS, "page": "Home", "status": s}) for s in statuses))
    assert etl.main(["--config", str(config), "--max-errors", "2", "-q"]) == 0
    assert [row[2:4] for row in fetch_all(conn, "load_errors", "line_number")] == [
        (2, "column status: 32768 is out of range"), (4, "column status: -32769 is out of range")]
    with conn.cursor() as cur:
        cur.execute("SELECT status FROM staging_events WHERE status IN (32767, -32768) ORDER BY status")
        assert cur.fetchall() == [(-32768,), (32767,)]
    conn.rollback()


@pytest.mark.parametrize("depth", [600, 5000])
def test_max_errors_takes_a_record_nested_too_deeply_as_one_bad_record(warehouse, conn, depth):
    data, config, _ = warehouse
    deep = json.dumps({"ts": TS, "page": "Home"})[:-1] + ', "song": ' + "[" * depth + "]" * depth + "}"
    (data / EVENTS).write_text("\n".join([json.dumps({"ts": TS, "page": "Home"}), deep]))
    assert etl.main(["--config", str(config), "--max-errors", "1", "-q"]) == 0
    assert [row[2:4] for row in fetch_all(conn, "load_errors", "line_number")] == [
        (2, "invalid JSON: nested too deeply")]


def test_a_missing_song_folder_is_one_line_and_changes_nothing(warehouse, conn, capsys):
    """The song files are listed while the events load: the listing's error still stops the run."""
    import shutil

    data, config, before = warehouse
    shutil.rmtree(data / "song_data")
    assert etl.main(["--config", str(config), "-q"]) == 1
    assert without_target(capsys.readouterr().err) == (
        f"error: no input files under {data / 'song_data'} ([S3] SONG_DATA): check the path\n")
    assert full_state(conn) == before


def test_a_symbolic_link_loop_under_the_data_is_one_line(warehouse, conn, capsys):
    data, config, before = warehouse
    loop = data / "song_data" / "Z" / "loop"
    loop.parent.mkdir(parents=True, exist_ok=True)
    loop.symlink_to(data / "song_data")
    assert etl.main(["--config", str(config), "-q"]) == 1
    assert without_target(capsys.readouterr().err) == (
        f"error: cannot list {data / 'song_data'} ([S3] SONG_DATA): {loop} leads to a folder listed already"
        " (a symbolic link loop, or a second link to one folder): its files would load twice\n")
    assert full_state(conn) == before


def test_a_folder_that_cannot_be_read_is_one_line(warehouse, conn, capsys, monkeypatch):
    """As root every folder can be read, so the refusal a user gets is played by os.scandir here."""
    import os

    data, config, before = warehouse
    locked = data / "song_data" / "Z"
    locked.mkdir(parents=True, exist_ok=True)
    scandir = os.scandir

    def refusing(path):
        if str(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    assert etl.main(["--config", str(config), "-q"]) == 1
    assert without_target(capsys.readouterr().err) == (
        f"error: cannot list {locked} ([S3] SONG_DATA): Permission denied\n")
    assert full_state(conn) == before


# --- Long lines: never held whole; an object over 4 MB is refused ------------------------------

@pytest.mark.parametrize("flags", [[], ["--max-errors", "3"]], ids=["load", "tolerant"])
def test_events_on_one_long_line_load_as_one_per_line(warehouse, conn, monkeypatch, flags):
    """All of a day's events on one line, longer than the object limit (made small here), give the
    warehouse of the same events one per line."""
    from sparkify.loader import reader

    data, config, before = warehouse
    monkeypatch.setattr(reader, "MAX_OBJECT_BYTES", 4096)
    for path in sorted((data / "log_data").rglob("*.json")):
        path.write_bytes(b"".join(line for line in path.read_bytes().splitlines()))
    assert etl.main(["--config", str(config), "-q", *flags]) == 0
    after = full_state(conn)
    # the same rows from each file; the files' bytes (and so their size and hash) are not the same
    assert [row[:2] + row[5:6] for row in after.pop("load_ledger")] == [
        row[:2] + row[5:6] for row in before["load_ledger"]]
    assert after == {table: rows for table, rows in before.items() if table != "load_ledger"}


@pytest.mark.parametrize("flags", [[], ["--max-errors", "3"], ["--validate"]], ids=["load", "tolerant", "validate"])
def test_an_object_larger_than_the_limit_is_refused_naming_its_line(warehouse, conn, capsys, flags):
    data, config, before = warehouse
    bad = data / EVENTS
    big = json.dumps({"ts": TS, "page": "Home", "song": "x" * (4 << 20)})
    bad.write_text("\n".join([json.dumps({"ts": TS, "page": "Home"}), big, json.dumps({"ts": TS})]))
    code = etl.main(["--config", str(config), *flags] + ([] if "--validate" in flags else ["-q"]))
    out, err = capsys.readouterr()
    message = f"{bad}, line 2: a JSON object larger than 4 MB (Redshift's COPY takes at most 4 MB)"
    if flags == ["--max-errors", "3"]:  # one bad record: the rest of the file, as in a pretty-printed one
        assert code == 0
        assert [row[1:4] for row in fetch_all(conn, "load_errors", "line_number")] == [
            (str(bad), 2, "a JSON object larger than 4 MB (Redshift's COPY takes at most 4 MB)")]
        return
    assert code == 1
    if flags:
        assert f"  {message}" in out
    else:
        assert without_target(err) == f"error: {message}\n"
    assert full_state(conn) == before


def test_a_jsonpaths_file_that_is_a_fifo_is_refused_not_waited_on(tmp_path):
    """Opening a FIFO waits for a writer forever: the run says what is wrong instead."""
    from sparkify import sources
    from sparkify.errors import DataSourceError
    from sparkify.source import Source

    fifo = tmp_path / "paths.json"
    os.mkfifo(fifo)
    with pytest.raises(DataSourceError) as error:
        sources.read_object(Source(str(fifo), "[S3] LOG_JSONPATH"))
    assert str(error.value) == (f"{fifo} ([S3] LOG_JSONPATH) is not a regular file (a folder, a FIFO or a device):"
                                " name the file itself")


@pytest.mark.parametrize("spelling", ["NaN", "nan", "Infinity", "-Infinity", "+inf", "-INF", " infinity "])
def test_non_finite_numbers_are_rejected_under_max_errors_too(spelling):
    from sparkify.loader.values import row_validator

    problem = row_validator(q.STAGING_SONGS.columns)
    row = [None, None, None, None, None, None, "SOZZ", None, spelling, None]
    assert problem(row) == f"column duration: {spelling!r} is not a finite number"
