"""The transform's rules, one small input each that only the rule decides: the whole star schema
the pipeline builds from it, against the rows written out by hand and against tests/oracle.py."""

import datetime as dt
import json

import pytest

import create_tables
import etl
from conftest import SAMPLE, fetch_all
from oracle import expected_warehouse, read_events, read_songs

TS = 1541105830796  # 2018-11-01 20:57:10.796 UTC
START = dt.datetime(2018, 11, 1, 20, 57, 10, 796000)
EVENT = {"artist": None, "auth": "Logged In", "firstName": "Lily", "gender": "F", "itemInSession": 0,
         "lastName": "Koch", "length": None, "level": "paid", "location": "Red Bluff, CA", "method": "PUT",
         "page": "NextSong", "registration": 1540000000000.0, "sessionId": 7, "song": None, "status": 200,
         "ts": TS, "userAgent": "Mozilla/5.0", "userId": "15"}
SONG = {"num_songs": 1, "artist_id": "ARX", "artist_latitude": None, "artist_longitude": None,
        "artist_location": "", "artist_name": "Same Artist", "song_id": "SOX", "title": "Same Title",
        "duration": 200.0, "year": 2000}


def build(tmp_path, write_config, conn, events, songs):
    """Run create_tables.py and etl.py over these events (one file) and songs (a file each, in list
    order, so the first song is also the first one loaded); return the star tables."""
    data = tmp_path / "data"
    day = data / "log_data" / "2018" / "11"
    day.mkdir(parents=True)
    (day / "2018-11-01-events.json").write_text("\n".join(json.dumps({**EVENT, **e}) for e in events))
    for number, song in enumerate(songs):
        folder = data / "song_data" / "A" / "A" / chr(ord("A") + number)
        folder.mkdir(parents=True)
        (folder / f"TRAAA{number:02d}.json").write_text(json.dumps({**SONG, **song}))
    config = write_config(log_data=data / "log_data", song_data=data / "song_data",
                          log_jsonpath=SAMPLE / "log_json_path.json")
    assert create_tables.main(["--config", str(config), "-q"]) == 0
    assert etl.main(["--config", str(config), "-q"]) == 0
    tables = {table: fetch_all(conn, table, key) for table, key in
              (("users", "user_id"), ("songs", "song_id"), ("artists", "artist_id"), ("time", "start_time"))}
    tables["songplays"] = [row[1:] for row in fetch_all(conn, "songplays", "songplay_id")]
    oracle = expected_warehouse(read_events(data / "log_data"), read_songs(data / "song_data"))
    assert {**tables, "songplays": sorted(tables["songplays"], key=repr)} == oracle
    return tables


def play(song_id, artist_id, ts_offset=0):
    return (START + dt.timedelta(milliseconds=ts_offset), 15, "paid", song_id, artist_id, 7, 0, "Red Bluff, CA",
            "Mozilla/5.0")


@pytest.mark.parametrize("length", [205.0, None], ids=["equally close", "no length"])
def test_a_tie_between_songs_goes_to_the_smallest_song_id(tmp_path, write_config, conn, length):
    """Two songs with the play's title and artist, 200 s and 210 s long: a 205 s play (or one with
    no length) is as close to both, and the smaller song_id wins -- although the other song is
    loaded first."""
    songs = [{"song_id": "SOB", "artist_id": "ARB", "duration": 210.0}, {"song_id": "SOA", "artist_id": "ARA",
                                                                          "duration": 200.0}]
    tables = build(tmp_path, write_config, conn,
                   [{"song": "Same Title", "artist": "Same Artist", "length": length}], songs)
    assert tables["songplays"] == [play("SOA", "ARA")]


def test_the_closest_duration_wins_over_the_smaller_song_id(tmp_path, write_config, conn):
    songs = [{"song_id": "SOA", "artist_id": "ARA", "duration": 200.0},
             {"song_id": "SOB", "artist_id": "ARB", "duration": 210.0}]
    tables = build(tmp_path, write_config, conn,
                   [{"song": "Same Title", "artist": "Same Artist", "length": 209.0}], songs)
    assert tables["songplays"] == [play("SOB", "ARB")]


def test_a_nextsong_event_without_a_user_id_is_not_a_play(tmp_path, write_config, conn):
    """A logged-out NextSong event (userId "") is no play, no user and no time; the one with a user
    id is all three."""
    logged_out = {"userId": "", "firstName": None, "lastName": None, "gender": None, "auth": "Logged Out",
                  "ts": TS + 1000}
    tables = build(tmp_path, write_config, conn, [logged_out, {}], [{}])
    assert tables == {
        "songplays": [play(None, None)],
        "users": [(15, "Lily", "Koch", "F", "paid")],
        "songs": [("SOX", "Same Title", "ARX", 2000, 200.0)],
        "artists": [("ARX", "Same Artist", "", None, None)],
        "time": [(START, 20, 1, 44, 11, 2018, 4)],
    }


def test_an_artist_takes_its_attributes_from_one_song_with_a_location_first(tmp_path, write_config, conn):
    """Artist ARL's songs disagree: SO1 has coordinates but no location, SO2 a location but no
    coordinates: the location wins, and name and coordinates come from that same song. Artist ARC's
    songs both lack a location: SO3 has no coordinates, SO4 has them: the coordinates win over the
    smaller song_id."""
    songs = [
        {"song_id": "SO1", "artist_id": "ARL", "artist_name": "L one", "artist_location": "",
         "artist_latitude": 1.5, "artist_longitude": 2.5},
        {"song_id": "SO2", "artist_id": "ARL", "artist_name": "L two", "artist_location": "Paris"},
        {"song_id": "SO3", "artist_id": "ARC", "artist_name": "C three", "artist_location": None},
        {"song_id": "SO4", "artist_id": "ARC", "artist_name": "C four", "artist_location": "",
         "artist_latitude": 3.5, "artist_longitude": 4.5},
    ]
    tables = build(tmp_path, write_config, conn, [{}], songs)
    assert tables["artists"] == [("ARC", "C four", "", 3.5, 4.5), ("ARL", "L two", "Paris", None, None)]


def test_a_user_keeps_the_level_of_the_latest_event_by_time(tmp_path, write_config, conn):
    """The file lists the later event first: the level is the one of the latest ts, not the last line;
    at the same ts, the later item in the session."""
    events = [{"ts": TS + 5000, "level": "paid", "itemInSession": 0}, {"ts": TS, "level": "free"},
              {"userId": "16", "ts": TS, "itemInSession": 2, "level": "free"},
              {"userId": "16", "ts": TS, "itemInSession": 1, "level": "paid"}]
    tables = build(tmp_path, write_config, conn, events, [{}])
    assert tables["users"] == [(15, "Lily", "Koch", "F", "paid"), (16, "Lily", "Koch", "F", "free")]


def test_a_play_without_a_length_is_not_a_play_of_length_zero(tmp_path, write_config, conn):
    """Plays of one song, one with no length and one of length 0: each matched once (a NULL length is
    its own group, never joined to the 0-length one)."""
    tables = build(tmp_path, write_config, conn, [{"song": "Same Title", "artist": "Same Artist", "length": None},
                                                   {"song": "Same Title", "artist": "Same Artist", "length": 0.0,
                                                    "ts": TS + 1}], [{}])
    assert tables["songplays"] == [play("SOX", "ARX"), play("SOX", "ARX", 1)]


def test_a_song_matches_on_title_and_artist_both(tmp_path, write_config, conn):
    """The play's title belongs to another artist's song only: the play stays unmatched."""
    tables = build(tmp_path, write_config, conn, [{"song": "Same Title", "artist": "Same Artist", "length": 200.0}],
                   [{"artist_name": "Other Artist"}])
    assert tables["songplays"] == [play(None, None)]


def test_the_week_is_the_iso_week(tmp_path, write_config, conn):
    """1 January 2021 was a Friday: ISO week 53 (of 2020), weekday 5; not week 1."""
    ts = 1609502400000  # 2021-01-01 12:00:00 UTC
    tables = build(tmp_path, write_config, conn, [{"ts": ts}], [{}])
    assert tables["time"] == [(dt.datetime(2021, 1, 1, 12), 12, 1, 53, 1, 2021, 5)]


def test_one_row_per_song_id(tmp_path, write_config, conn):
    """Two files with the same song_id: one song (the first by title), and its artist once."""
    tables = build(tmp_path, write_config, conn, [{}], [{"title": "B side"}, {"title": "A side"}])
    assert tables["songs"] == [("SOX", "A side", "ARX", 2000, 200.0)]
    assert tables["artists"] == [("ARX", "Same Artist", "", None, None)]
