"""Rules at the edges of what real data can hold, each pinned by a test that a one-word slip in
the code would fail: a song without a duration, half a coordinate pair, a bad record after a
pretty-printed one, a file rewritten to another size under its old time, Redshift's largest
MAXERROR."""

import json
import os

import pytest

import create_tables
import etl
from conftest import SAMPLE, SEED, assert_matches_oracle, fetch_all, logs_and_songs, without_target
from sparkify.config import load_config
from sparkify.engines import RedshiftEngine

EVENT = json.loads((SAMPLE / "log_data/2018/11/2018-11-01-events.json").read_text().splitlines()[0])


def song(song_id, artist_id="AR1", **fields):
    record = {"num_songs": 1, "artist_id": artist_id, "artist_latitude": None, "artist_longitude": None,
              "artist_location": "", "artist_name": "Band", "song_id": song_id, "title": "Tune", "duration": 200.0,
              "year": 2000}
    return {**record, **fields}


def build(tmp_path, write_config, events, songs):
    (tmp_path / "log_data").mkdir()
    (tmp_path / "song_data").mkdir()
    (tmp_path / "log_data" / "events.json").write_text("".join(json.dumps(e) + "\n" for e in events))
    for record in songs:
        (tmp_path / "song_data" / f"{record['song_id']}.json").write_text(json.dumps(record))
    cfg = write_config(log_data=tmp_path / "log_data", song_data=tmp_path / "song_data")
    assert create_tables.main(["--config", str(cfg), "-q"]) == 0
    assert etl.main(["--config", str(cfg), "-q"]) == 0
    return cfg


def test_a_play_takes_the_song_of_closest_known_duration_not_one_without_a_duration(tmp_path, write_config, conn):
    event = dict(EVENT, song="Tune", artist="Band", length=200.0)
    build(tmp_path, write_config, [event], [song("SOa", duration=None), song("SOb", duration=290.0)])
    assert [row[4] for row in fetch_all(conn, "songplays", "songplay_id")] == ["SOb"]
    assert_matches_oracle(conn, tmp_path / "log_data", tmp_path / "song_data")


def test_an_artists_coordinates_come_from_a_song_with_both_of_them(tmp_path, write_config, conn):
    """A song with only a latitude is passed over for one with the whole pair, though its id is smaller."""
    songs = [song("SOa", artist_latitude=40.7), song("SOb", artist_latitude=51.5, artist_longitude=-0.1)]
    build(tmp_path, write_config, [EVENT], songs)
    assert fetch_all(conn, "artists", "artist_id") == [("AR1", "Band", "", 51.5, -0.1)]
    assert_matches_oracle(conn, tmp_path / "log_data", tmp_path / "song_data")


def test_a_bad_record_after_a_pretty_printed_one_is_named_by_its_own_line(tmp_path, write_config, conn, capsys):
    (tmp_path / "log_data").mkdir()
    pretty = json.dumps(EVENT, indent=2)  # one record over many lines
    bad = dict(EVENT, ts="soon")
    path = tmp_path / "log_data" / "events.json"
    path.write_text(pretty + "\n" + json.dumps(bad) + "\n")
    line = pretty.count("\n") + 2
    cfg = write_config(log_data=tmp_path / "log_data")
    assert create_tables.main(["--config", str(cfg), "-q"]) == 0
    capsys.readouterr()
    assert etl.main(["--config", str(cfg), "-q"]) == 1
    assert without_target(capsys.readouterr().err).startswith(f"error: {path}, line {line}")
    assert etl.main(["--config", str(cfg), "-q", "--max-errors", "1"]) == 0  # kept, under the same line
    assert [(name, number) for _, name, number, _, _ in fetch_all(conn, "load_errors", "line_number")] == [
        (str(path), line)]


def test_a_file_rewritten_to_another_size_under_its_old_time_is_refused(tmp_path, write_config, conn, capsys):
    """Size and time are the quick test: another size alone says it changed."""
    logs, songs = logs_and_songs(SAMPLE)
    (tmp_path / "log_data").mkdir()
    day = tmp_path / "log_data" / logs[0].name
    day.write_bytes(logs[0].read_bytes())
    cfg = write_config(log_data=tmp_path / "log_data")
    assert create_tables.main(["--config", str(cfg), "-q"]) == 0
    assert etl.main(["--config", str(cfg), "-q", "--incremental"]) == 0
    stat = day.stat()
    day.write_bytes(logs[0].read_bytes() + b"\n" + logs[1].read_bytes().splitlines()[0])
    os.utime(day, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    capsys.readouterr()
    assert etl.main(["--config", str(cfg), "-q", "--incremental"]) == 1
    err = without_target(capsys.readouterr().err)
    assert err.startswith(f"error: 1 file changed after it was loaded: {day} ({stat.st_size:,} bytes when loaded on ")


@pytest.mark.parametrize("max_errors, accepted", [(99999, True), (100000, False)])
def test_redshifts_largest_maxerror_is_accepted(tmp_path, max_errors, accepted):
    """MAXERROR 100,000 is Redshift's most, and tolerates 99,999 bad records: MAX_ERRORS may be 99,999."""
    from sparkify.errors import ConfigError

    path = tmp_path / "dwh.cfg"
    path.write_text(SEED + f"MAX_ERRORS={max_errors}\n")
    config = load_config(path, environ={})
    if accepted:
        RedshiftEngine().require(config)
    else:
        with pytest.raises(ConfigError, match="at most 99,999 on Redshift"):
            RedshiftEngine().require(config)


def test_plays_at_the_same_moment_in_different_sessions_are_two_plays(tmp_path, write_config, conn):
    """Two users (or one user on two devices) can play at the same millisecond: both plays count."""
    first = dict(EVENT, song="Tune", artist="Band", length=200.0, sessionId=1, itemInSession=0, userId="7")
    second = dict(first, sessionId=2, userId="8")
    build(tmp_path, write_config, [first, second], [song("SOa")])
    plays = fetch_all(conn, "songplays", "songplay_id")
    assert [(row[2], row[6]) for row in plays] == [(7, 1), (8, 2)] and plays[0][1] == plays[1][1]
    assert len(fetch_all(conn, "time", "start_time")) == 1
    assert_matches_oracle(conn, tmp_path / "log_data", tmp_path / "song_data")


def test_validate_counts_every_problem_past_the_ones_it_shows(tmp_path, write_config, capsys):
    (tmp_path / "log_data").mkdir()
    (tmp_path / "log_data" / "bad.json").write_text("".join(json.dumps(dict(EVENT, ts=f"t{n}")) + "\n"
                                                            for n in range(150)))
    cfg = write_config(log_data=tmp_path / "log_data")
    assert etl.main(["--config", str(cfg), "--validate"]) == 1
    out, err = capsys.readouterr()
    shown = [line for line in out.splitlines() if line.startswith("  ")]
    assert len(shown) == 20 and "the first 20 of 150 problems:" in out
    assert err.splitlines()[-1].startswith("error: validation found 150 problems in ")


def test_a_compressed_file_is_in_the_ledger_as_stored(tmp_path, write_config, conn):
    """A gzip'd day: the ledger has its stored (compressed) size and the MD5 of those bytes, and the
    records it gave; a daily run after it finds nothing new."""
    import gzip
    import hashlib

    logs, _ = logs_and_songs(SAMPLE)
    (tmp_path / "log_data").mkdir()
    stored = gzip.compress(logs[0].read_bytes(), mtime=0)
    (tmp_path / "log_data" / "day.json.gz").write_bytes(stored)
    cfg = write_config(log_data=tmp_path / "log_data")
    cfg.write_text(cfg.read_text() + "LOG_COMPRESSION=gzip\n")
    assert create_tables.main(["--config", str(cfg), "-q"]) == 0
    assert etl.main(["--config", str(cfg), "-q", "--incremental"]) == 0
    [row] = [row for row in fetch_all(conn, "load_ledger", "file_name") if row[0] == "staging_events"]
    records = sum(1 for line in logs[0].read_text().splitlines() if line.strip())
    assert row[1:4] == (str(tmp_path / "log_data" / "day.json.gz"), len(stored), hashlib.md5(stored).hexdigest())
    assert row[5] == records
    before = fetch_all(conn, "load_ledger", "file_name")
    assert etl.main(["--config", str(cfg), "-q", "--incremental"]) == 0
    assert fetch_all(conn, "load_ledger", "file_name") == before


@pytest.mark.parametrize("line, found", [(b"42", "a number"), (b'"x"', "a string"), (b"true", "true/false/null"),
                                         (b"null", "true/false/null"), (b"[1]", "an array")])
def test_a_line_that_is_not_an_object_says_what_it_is(line, found):
    """Strict and tolerant readers alike name what a line holds instead of an object."""
    from sparkify.errors import LoadError
    from sparkify.loader.reader import line_problem, strict_objects

    with pytest.raises(LoadError) as err:
        list(strict_objects(iter([line]), "2018-11-01-events.json", 7, 0))
    assert str(err.value) == f"2018-11-01-events.json, line 7: expected a JSON object, found {found}"
    assert line_problem(line) == f"expected a JSON object, found {found}"
