"""The expected warehouse computed independently from the raw files, in plain Python.

Used to check the SQL transform row by row; shares no code with the pipeline.
"""

import datetime as dt
import json
from pathlib import Path

EPOCH = dt.datetime(1970, 1, 1)


def _objects(path: Path):
    text = path.read_text(encoding="utf-8-sig")
    decoder, pos = json.JSONDecoder(), 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos >= len(text):
            return
        obj, pos = decoder.raw_decode(text, pos)
        yield obj


def read_events(log_dir: Path) -> list[dict]:
    return [obj for path in sorted(log_dir.rglob("*.json")) for obj in _objects(path)]


def read_songs(song_dir: Path) -> list[dict]:
    return [obj for path in sorted(song_dir.rglob("*.json")) for obj in _objects(path)]


def start_time(ts: int) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=ts)


def expected_warehouse(events: list[dict], songs: list[dict]) -> dict:
    """Rows of each star table, sorted; songplays without songplay_id."""
    def text(value):
        return None if value is None else str(value)

    by_title_artist = {}
    for song in songs:
        by_title_artist.setdefault((text(song["title"]), text(song["artist_name"])), []).append(song)

    def nulls_last(values):
        return tuple((value is None, value if value is not None else 0) for value in values)

    # each event (user, session, item in session, ts) once: of its copies, the first by song,
    # artist, length, level, location and user agent
    plays = {}
    for e in events:
        if e["page"] != "NextSong" or not e["userId"]:
            continue
        key = (e["userId"], e["sessionId"], e["itemInSession"], e["ts"])
        order = nulls_last((e["song"], e["artist"], e["length"], e["level"], e["location"], e["userAgent"]))
        if key not in plays or order < plays[key][0]:
            plays[key] = (order, e)

    songplays = []
    for _, e in plays.values():
        candidates = by_title_artist.get((e["song"], e["artist"]), [])
        match = min(candidates, key=lambda s: (abs(s["duration"] - e["length"])
                                               if e["length"] is not None and s["duration"] is not None
                                               else float("inf"), s["song_id"]), default=None)
        songplays.append((start_time(e["ts"]), int(e["userId"]), e["level"], match and match["song_id"],
                          match and match["artist_id"], e["sessionId"], e["itemInSession"], e["location"],
                          e["userAgent"]))

    latest = {}
    for e in events:
        if e["userId"]:
            uid = int(e["userId"])
            key = (e["ts"], e["sessionId"], e["itemInSession"])
            if uid not in latest or key > latest[uid][0]:
                latest[uid] = (key, (uid, e["firstName"], e["lastName"], e["gender"], e["level"]))
    users = sorted(row for _, row in latest.values())

    first_copy = {}  # one row per song_id: the first by title, artist_id, year, duration
    for s in songs:
        row = (s["song_id"], text(s["title"]), s["artist_id"], s["year"], s["duration"])
        if row[0] not in first_copy or nulls_last(row[1:]) < nulls_last(first_copy[row[0]][1:]):
            first_copy[row[0]] = row
    song_rows = sorted(first_copy.values())

    chosen = {}
    for s in songs:
        rank = (0 if s["artist_location"] not in (None, "") else 1,
                0 if s["artist_latitude"] is not None and s["artist_longitude"] is not None else 1, s["song_id"])
        if s["artist_id"] not in chosen or rank < chosen[s["artist_id"]][0]:
            chosen[s["artist_id"]] = (rank, (s["artist_id"], text(s["artist_name"]), text(s["artist_location"]),
                                             s["artist_latitude"], s["artist_longitude"]))
    artists = sorted(row for _, row in chosen.values())

    times = sorted({(t, t.hour, t.day, t.isocalendar()[1], t.month, t.year, t.isoweekday() % 7)
                    for t, *_ in songplays})
    return {"songplays": sorted(songplays, key=repr), "users": users, "songs": song_rows, "artists": artists,
            "time": times}
