"""The COPY stand-in loads what Redshift's COPY ... FORMAT AS JSON would: one test per rule."""

import codecs
import io
import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import sql_queries as q
from conftest import table_input
from sparkify import loader
from sparkify.errors import DataSourceError, LoadError
from sparkify.loader import reader, render
from sparkify.loader import rows as rows_module
from sparkify.loader.mapping import MappingSpec, parse_jsonpath

SONG = {"num_songs": 1, "artist_id": "AR1", "artist_latitude": None, "artist_longitude": -86.5,
        "artist_location": "Nashville", "artist_name": "Gloriana", "song_id": "SO1", "title": "T", "duration": 153.3,
        "year": 2005}


@pytest.fixture
def tables(conn):
    with conn.cursor() as cur:
        for table in q.STAGING_TABLES:
            cur.execute(q.create_table(table, q.POSTGRES))
    conn.commit()
    return conn


def load(conn, table, location, json_format):
    with conn.cursor() as cur:
        result = loader.load_table(cur, table_input(table, location, json_format))
        cur.execute(q.sql.SQL("SELECT * FROM {}").format(q.sql.Identifier(table.name)))
        rows = cur.fetchall()
    conn.rollback()
    return result, rows


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def jsonpaths(tmp_path, expressions):
    return write(tmp_path / "paths.json", json.dumps({"jsonpaths": expressions}))


def test_jsonpaths_map_by_position_not_by_name(tables, tmp_path):
    """The n-th expression fills the n-th column, whatever the keys are called."""
    paths = jsonpaths(tmp_path, ["$.a", "$['b']", "$.nested.c", "$.list[1]"] + ["$.missing"] * 11 + ["$.t"]
                      + ["$.missing"] * 2)
    write(tmp_path / "d" / "x.json",
          '{"a": "first", "b": "second", "nested": {"c": "third"}, "list": [1, "2nd"], "t": 42}')
    result, rows = load(tables, q.STAGING_EVENTS, tmp_path / "d", paths)
    assert rows == [("first", "second", "third", "2nd") + (None,) * 11 + (42, None, None)]
    assert (result.files, result.rows) == (1, 1)


def test_auto_matches_lower_case_column_names_only(tables, tmp_path):
    write(tmp_path / "s" / "a.json", json.dumps({**SONG, "Title": "ignored", "extra": 1}))
    write(tmp_path / "s" / "b.json", json.dumps({"song_id": "SO2", "Title": "Upper", "YEAR": 1999}))
    _, rows = load(tables, q.STAGING_SONGS, tmp_path / "s", "auto")
    assert rows == [(1, "AR1", None, -86.5, "Nashville", "Gloriana", "SO1", "T", 153.3, 2005),
                    (None,) * 6 + ("SO2",) + (None,) * 3]


def test_auto_ignorecase_matches_any_case(tables, tmp_path):
    write(tmp_path / "s" / "b.json", json.dumps({"SONG_ID": "SO2", "Title": "Upper", "Year": 1999}))
    _, rows = load(tables, q.STAGING_SONGS, tmp_path / "s", "auto ignorecase")
    assert rows == [(None, None, None, None, None, None, "SO2", "Upper", None, 1999)]


def test_auto_ignorecase_takes_the_first_of_two_keys_that_differ_only_in_case(tables, tmp_path):
    write(tmp_path / "s" / "b.json", '{"song_id": "SO2", "Title": "first", "TITLE": "second", "title": "third"}')
    _, rows = load(tables, q.STAGING_SONGS, tmp_path / "s", "auto ignorecase")
    assert rows == [(None, None, None, None, None, None, "SO2", "first", None, None)]


def test_numbers_load_into_text_columns_as_written(tables, tmp_path):
    write(tmp_path / "s" / "a.json", '{"artist_location": 27, "artist_name": 1.50, "title": -0.0e3, "song_id": true}')
    _, rows = load(tables, q.STAGING_SONGS, tmp_path / "s", "auto")
    assert rows[0][4:8] == ("27", "1.50", "true", "-0.0e3")


def test_nested_values_load_as_json_text(tables, tmp_path):
    write(tmp_path / "s" / "a.json", '{"title": {"a": [1, 2.50, "x\\ty"]}, "song_id": []}')
    _, rows = load(tables, q.STAGING_SONGS, tmp_path / "s", "auto")
    assert rows[0][6:8] == ("[]", '{"a":[1,2.50,"x\\ty"]}')


def test_several_objects_per_file_in_any_layout(tables, tmp_path):
    pretty = json.dumps({**SONG, "song_id": "SO2"}, indent=4)
    write(tmp_path / "s" / "a.json", '{"song_id": "SO1"}{"song_id": "SO3"}\n\n' + pretty + "\n  {\"song_id\":\n\"SO4\"}")
    result, rows = load(tables, q.STAGING_SONGS, tmp_path / "s", "auto")
    assert [row[6] for row in rows] == ["SO1", "SO3", "SO2", "SO4"]
    assert result.rows == 4


def test_prefix_matches_like_s3(tables, tmp_path):
    """s3://b/data/log matches data/log/..., data/log_2019/... and data/logbook.json; not data/other."""
    for name in ("log/1.json", "log_2019/2.json", "logbook.json", "other/3.json"):
        write(tmp_path / "data" / name, json.dumps({"song_id": name}))
    _, rows = load(tables, q.STAGING_SONGS, tmp_path / "data" / "log", "auto")
    assert sorted(row[6] for row in rows) == ["log/1.json", "log_2019/2.json", "logbook.json"]
    _, rows = load(tables, q.STAGING_SONGS, str(tmp_path / "data" / "log") + "/", "auto")
    assert [row[6] for row in rows] == ["log/1.json"]


@pytest.mark.parametrize("trailing_slash", [False, True])
def test_folder_links_are_followed_once(tmp_path, trailing_slash):
    """A link to a folder outside is listed through the link; a second link to it, or a link into a
    folder listed already (a loop), is one error; under a prefix, a link to a folder the prefix
    does not match is followed like any other."""
    from sparkify import sources
    from sparkify.source import Source

    for name in ("data/songs/A/1.json", "data/other/2.json", "outside/B/3.json"):
        write(tmp_path / name, "{}")
    songs = tmp_path / "data" / "songs"
    (songs / "out").symlink_to(tmp_path / "outside")
    (songs / "A" / "sibling").symlink_to(tmp_path / "data" / "other")
    source = Source(str(songs) + ("/" if trailing_slash else ""), "[S3] SONG_DATA")
    assert [obj.uri for obj in sources.list_objects(source)] == [
        str(songs / "A" / "1.json"), str(songs / "A" / "sibling" / "2.json"), str(songs / "out" / "B" / "3.json")]
    # the link found second is named: either of the two links to outside/, the loop itself
    for link, named in ((songs / "again", {songs / "again", songs / "out"}), (songs / "A" / "loop", {songs / "A" / "loop"})):
        link.symlink_to(tmp_path / "outside" / "B" if link.name == "again" else songs / "A")
        with pytest.raises(DataSourceError) as err:
            sources.list_objects(source)
        assert str(err.value) in {
            f"cannot list {source.location} ([S3] SONG_DATA): {path} leads to a folder listed already (a symbolic"
            f" link loop, or a second link to one folder): its files would load twice" for path in named}
        link.unlink()


def test_text_survives_byte_for_byte(tables, tmp_path):
    awkward = 'tab\there\nnew "quoted" \'single\' back\\slash \\. end é 🎵 e\u0301'
    write(tmp_path / "s" / "a.json", b"\xef\xbb\xbf" + json.dumps({"title": awkward, "song_id": ""}).encode() + b"\r\n")
    _, rows = load(tables, q.STAGING_SONGS, tmp_path / "s", "auto")
    assert rows[0][6:8] == ("", awkward)


def test_missing_key_and_null_load_as_null(tables, tmp_path):
    write(tmp_path / "s" / "a.json", '{"song_id": "S", "artist_id": null, "title": ""}')
    _, rows = load(tables, q.STAGING_SONGS, tmp_path / "s", "auto")
    assert rows == [(None,) * 6 + ("S", "") + (None,) * 2]


def test_no_files_under_the_prefix_is_an_error(tables, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataSourceError) as err:
        load(tables, q.STAGING_SONGS, tmp_path / "empty", "auto")
    assert str(err.value) == f"no input files under {tmp_path / 'empty'} ([S3] TEST): check the path"


def test_missing_folder_is_an_error(tables, tmp_path):
    with pytest.raises(DataSourceError) as err:
        load(tables, q.STAGING_SONGS, tmp_path / "nowhere" / "song_data", "auto")
    assert str(err.value) == f"{tmp_path / 'nowhere' / 'song_data'} ([S3] TEST) does not exist: check the path"


@pytest.mark.parametrize("expressions, message", [
    (["$.a"], "has 1 JSONPath expressions but the table has 18 columns"),
    (["a"] * 18, "not a valid JSONPaths file: 'a' does not start with $"),
    (["$..a"] * 18, "not a valid JSONPaths file: '$..a' is not a JSONPath expression Redshift accepts"),
])
def test_bad_jsonpaths_file(tables, tmp_path, expressions, message):
    paths = jsonpaths(tmp_path, expressions)
    write(tmp_path / "d" / "x.json", "{}")
    with pytest.raises(LoadError) as err:
        load(tables, q.STAGING_EVENTS, tmp_path / "d", paths)
    assert str(err.value) == f"{paths}: {message}"


@pytest.mark.parametrize("content, message", [
    ('{"ts": 1}\n{"ts": 2,}\n', "line 2: invalid JSON: Expecting property name enclosed in double quotes"),
    ('{"ts": 1}\n[{"ts": 2}]\n', "line 2: expected a JSON object, found an array"),
    ('{"ts": 1}\n{"ts": NaN}\n', "line 2: invalid JSON: NaN is not valid JSON"),
    ('{"ts": 1, "ts": 2}', "line 1: invalid JSON: duplicated key 'ts'"),
    (b'{"ts": 1}\n{"song": "\xff"}', "line 2: invalid UTF-8 (byte offset 20)"),
    ('{"ts": "abc"}', "line 1, column ts: invalid input syntax for type bigint: \"abc\" (loading staging_events)"),
    ('{"ts": 1}\n\n{"status": 99999}', "line 3, column status: value \"99999\" is out of range for type smallint"
                                        " (loading staging_events)"),
])
def test_bad_input_names_file_and_line(tables, tmp_path, content, message):
    paths = jsonpaths(tmp_path, [f"$.{c}" for c in ("artist", "auth", "firstName", "gender", "itemInSession",
                                                     "lastName", "length", "level", "location", "method", "page",
                                                     "registration", "sessionId", "song", "status", "ts",
                                                     "userAgent", "userId")])
    write(tmp_path / "d" / "a.json", '{"ts": 5}')
    bad = write(tmp_path / "d" / "b.json", content)
    with pytest.raises(LoadError) as err:
        load(tables, q.STAGING_EVENTS, tmp_path / "d", paths)
    assert str(err.value) == f"{bad}, {message}"


def test_reader_streams_across_chunk_boundaries():
    objects = [{"i": str(n), "s": "x" * (n % 7)} for n in range(200)]
    data = "\n".join(json.dumps(o) for o in objects).encode()
    read = list(reader.read_objects(io.BytesIO(data), "f", chunk_size=5))
    assert [obj for _, obj in read] == objects
    assert [line for line, _ in read] == list(range(1, 201))


@pytest.mark.parametrize("expression, path", [
    ("$['artist']", ("artist",)), ('$["a b"]', ("a b",)), ("$.a.b", ("a", "b")), ("$['a'][2]['c']", ("a", 2, "c")),
])
def test_parse_jsonpath(expression, path):
    assert parse_jsonpath(expression) == path


NASTY_TEXT = ['a"b', "a\\b", '\\"', "a\\", '"', '""', "x\ny", "t\tu", "c\rr", "null", "", "NULL", "\\N", "[x]", "],[",
              "{", "}", "a,b", "é\u2028\u2029😀", "\\.", "\x01\x1f", ' "q" ', "\\\\", "\\n"]


def _round_trip(conn, rows, render):
    """``rows`` (artist, item_in_session, length, registration) through COPY as rendered by ``render``."""
    with conn.cursor() as cur:
        cur.execute(q.create_table(q.STAGING_EVENTS, q.POSTGRES))
        full = [(text, None, None, None, number, None, real, None, None, None, None, None, None, None, None, 1, None,
                 None) for text, number, real in rows]
        cur.copy_expert(q.copy_from_stdin(q.STAGING_EVENTS), io.BytesIO(render(full)))
        cur.execute("SELECT artist, item_in_session, length FROM staging_events ORDER BY ctid")
        back = cur.fetchall()
    conn.rollback()
    return back


@pytest.mark.parametrize("render", [render.copy_lines, lambda rows: b"".join(map(render.copy_line, rows))],
                         ids=["copy_lines", "copy_line"])
def test_copy_csv_round_trips_every_value_through_the_server(conn, render):
    """Whatever a string holds, the server reads back exactly it; null is NULL, the text "null" is text."""
    rows = [(text, 7, 1.5) for text in NASTY_TEXT] + [(None, None, None), (reader.JsonNumber("1.50"), 2**31 - 1, -0.0),
                                                        (True, 0, 1e300), ({"k": ["v", 1]}, 0, 2.5)]
    expected = [(text, 7, 1.5) for text in NASTY_TEXT] + [(None, None, None), ("1.50", 2**31 - 1, -0.0),
                                                          ("true", 0, 1e300), ('{"k":["v",1]}', 0, 2.5)]
    assert _round_trip(conn, rows, render) == expected


def test_copy_lines_renders_a_plain_batch_as_one_json_array():
    rows = [("a", 1, None, 2.5, True), ('say "hi"', -2, "null", 1e16, False)]
    assert render.copy_lines(rows) == b'"a",1,null,2.5,true\n"say \\"hi\\"",-2,"null",1e+16,false\n'
    assert render.copy_lines(rows) == b"".join(map(render.copy_line, rows))


def test_copy_files_reads_one_line_files_as_one_chunk_or_not_at_all():
    """Song files in a batch: the rows of each file as copy_chunks gives them (a number in a text
    column keeps its source text), or None whenever some file is not one object on one line."""
    mapping = MappingSpec(q.STAGING_SONGS, "auto").build()
    plain = [json.dumps(SONG).encode(), json.dumps({**SONG, "song_id": "SO2"}).encode() + b"\r\n",
             b'{"song_id": "SO3", "artist_name": 12.50, "year": 1999}\n']
    one_by_one = b"".join(text for data in plain for _, text in rows_module.copy_chunks(io.BytesIO(data), "f", mapping))
    assert rows_module.copy_files(plain, mapping) == one_by_one
    assert b',"12.50",' in one_by_one
    for odd in (b"", b"  \n", b'{"song_id": "SO4",\n "year": 1}', codecs.BOM_UTF8 + b'{"song_id": "SO5"}',
                b'{"song_id": "SO6"}\n{"song_id": "SO7"}', b'{"song_id": "SO8", "song_id": "SO9"}'):
        assert rows_module.copy_files(plain + [odd], mapping) is None


_SONG_KEYS = [column.name for column in q.STAGING_SONGS.columns]
_values = st.one_of(
    st.none(), st.text(alphabet="abc", max_size=3), st.booleans(), st.integers(-2**70, 2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(alphabet='ab:"\\ \t\n{}[],é\u2028', max_size=8),
    st.lists(st.integers(0, 9), max_size=2), st.dictionaries(st.sampled_from("xy"), st.integers(0, 9), max_size=2))


@st.composite
def _song_lines(draw):
    keys = draw(st.one_of(st.permutations(_SONG_KEYS), st.lists(st.sampled_from(_SONG_KEYS + ["extra"]), max_size=12)))
    record = {key: draw(_values) for key in keys}
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (",", " :")]))
    line = json.dumps(record, separators=separators, ensure_ascii=draw(st.booleans()))
    if record and draw(st.booleans()):  # the first key once more, as the last
        key = next(iter(record))
        line = line[:-1] + ("," if len(record) else "") + json.dumps(key) + ":" + json.dumps(draw(_values)) + "}"
    return line.encode()


@settings(max_examples=300, deadline=None)
@given(st.lists(_song_lines(), min_size=1, max_size=12))
# beyond 64 bits: the whole chunk (msgspec) and the lines alone read the same integer, out of range
@example([json.dumps({**SONG, "year": -9223372036854775809}).encode()])
@example([json.dumps({**SONG, "year": 2**64}).encode(), b'{"year": 1, "song_id": "T"}'])
def test_a_whole_chunk_gives_what_line_by_line_gives(lines):
    """The chunk-at-once path (msgspec or orjson over every line, one colon count each) yields the
    same COPY bytes, or the same error, as reading the lines one by one."""
    mapping = MappingSpec(q.STAGING_SONGS, "auto").build()
    data = b"\n".join(lines)

    def outcome():
        try:
            return b"".join(text for _, text in rows_module.copy_chunks(io.BytesIO(data), "f", mapping))
        except LoadError as exc:
            return str(exc)

    whole = outcome()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rows_module, "chunk_rows", lambda lines, mapping: None)
        assert outcome() == whole


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["a", "bb", "ccc"]), st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6), st.lists(st.integers(0, 9), max_size=2))), min_size=1, max_size=6),
    st.integers(1, 40), st.booleans())
def test_the_streaming_reader_reads_the_same_whatever_the_pieces(objects, piece, one_line):
    """Cut anywhere -- inside a literal, a number, a string or an escape -- the stream reads on."""
    text = ("" if one_line else "\n").join(json.dumps(obj, ensure_ascii=bool(piece % 2)) for obj in objects).encode()
    pieces = iter([text[i:i + piece] for i in range(0, len(text), piece)])
    whole = list(reader.strict_objects(iter([text]), "f", 1, 0))
    assert list(reader.strict_objects(pieces, "f", 1, 0)) == whole
    assert len(whole) == len(objects) and [line for line, _ in whole] == (
        [1] * len(objects) if one_line else list(range(1, len(objects) + 1)))
