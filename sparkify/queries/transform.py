"""The transform: the same SQL on both engines, for a full rebuild and a daily load."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg2 import sql

from .ledger import THIS_RUN
from .schema import LOADED_SONGS, STAGING_EVENTS, STAGING_SONGS, USER_LATEST, Table, names

# Staging holds this run's new files (a full rebuild: every file, after emptying the star and the
# history tables). Each rule is decided over everything loaded so far, so a warehouse built file by
# file, in any order, equals one rebuilt from all the files at once (songplay_id aside):
# * the run is numbered first (after its lock): the statements below name it as THIS_RUN;
# * song records join loaded_songs; songs and artists are decided again for the ids that came in,
#   over all song records loaded;
# * earlier plays whose song and artist a new song record has are matched again (a song that
#   arrives after its plays);
# * new plays are numbered after the plays already in songplays and matched over loaded_songs;
# * each user's latest event of this run joins user_latest; users is decided again for those users;
# * time gains the new start times.

# A play: a NextSong event with a user id. When it happened: ts is epoch milliseconds. songplays,
# time and the checks use these (each given the alias of staging_events in its query).
IS_PLAY = sql.SQL("{0}.page = 'NextSong' AND {0}.user_id <> ''")
START_TIME = sql.SQL("TIMESTAMP 'epoch' + {}.ts / 1000.0 * INTERVAL '1 second'")
# The order songplay ids number a run's plays in, so a rerun gives identical rows.
_PLAY_ORDER = sql.SQL("p.ts, p.user_id, p.session_id, p.item_in_session, p.song, p.artist, p.length, p.level,"
                      " p.location, p.user_agent")


KEEP_SONGS = sql.SQL("INSERT INTO loaded_songs ({0}) SELECT {0} FROM staging_songs").format(
    names(STAGING_SONGS.column_names))

# The song a play (song, artist, length) names: the one whose title and artist name equal the
# play's; among several, the closest duration to the play's length, then the smallest song_id.
# Chosen once per distinct key of ``keys`` -- far fewer than plays -- over every song record loaded.
_BEST_SONG = sql.SQL("""
    SELECT c.song, c.artist, c.length, c.song_id, c.artist_id
    FROM (
        SELECT k.song, k.artist, k.length, s.song_id, s.artist_id,
               ROW_NUMBER() OVER (
                   PARTITION BY k.song, k.artist, k.length
                   ORDER BY ABS(s.duration - k.length) ASC NULLS LAST, s.song_id
               ) AS match_rank
        FROM ({keys}) AS k
        JOIN loaded_songs AS s ON s.title = k.song AND s.artist_name = k.artist
    ) AS c
    WHERE c.match_rank = 1""")
_SAME_KEY = sql.SQL("b.song = {0}.song AND b.artist = {0}.artist AND COALESCE(b.length, 0) = COALESCE({0}.length, 0)"
                    " AND (b.length IS NULL) = ({0}.length IS NULL)")

# Earlier plays whose song and artist a song record of this run has: matched again over every song
# record (the new one may be the first match, or a closer one). Its rows: the plays that changed.
LATE_MATCHES = sql.SQL("""
UPDATE songplays SET song_id = m.song_id, artist_id = m.artist_id
FROM (
    SELECT k.songplay_id, b.song_id, b.artist_id
    FROM play_songs AS k
    JOIN ({best}) AS b ON {same_key}
) AS m
WHERE songplays.songplay_id = m.songplay_id
  AND (COALESCE(songplays.song_id, '') <> m.song_id
       OR COALESCE(songplays.artist_id, '') <> COALESCE(m.artist_id, ''))
""").format(best=_BEST_SONG.format(keys=sql.SQL(
    "SELECT DISTINCT a.song, a.artist, a.length FROM play_songs AS a"
    " JOIN (SELECT DISTINCT title, artist_name FROM staging_songs) AS n"
    " ON n.title = a.song AND n.artist_name = a.artist")), same_key=_SAME_KEY.format(sql.Identifier("k")))

# The plays of this run: its NextSong events with a user id, each event -- a user, session, item in
# the session and ts -- once, however often its files brought it, and none that an earlier run
# played (a day resent with other content, or a file holding another's events). Of two copies of
# an event, the one first in _PLAY_ORDER's terms is kept. Read by the statements below, each as
# the songplays of the runs before this one saw them (songplay_id <= songplays_before).
NEW_PLAYS = sql.SQL("""
    SELECT d.*
    FROM (
        SELECT e.*, ROW_NUMBER() OVER (
                   PARTITION BY e.user_id, e.session_id, e.item_in_session, e.ts
                   ORDER BY e.song, e.artist, e.length, e.level, e.location, e.user_agent
               ) AS copy_no
        FROM staging_events AS e
        WHERE {e_is_play}
    ) AS d
    WHERE d.copy_no = 1
      AND NOT EXISTS (
          SELECT 1 FROM songplays AS o
          WHERE o.songplay_id <= (SELECT songplays_before FROM load_runs WHERE run_no = {run})
            AND o.start_time = {start_time} AND o.user_id = CAST(d.user_id AS INTEGER)
            AND COALESCE(o.session_id, -1) = COALESCE(d.session_id, -1)
            AND COALESCE(o.item_in_session, -1) = COALESCE(d.item_in_session, -1))""").format(
    e_is_play=IS_PLAY.format(sql.Identifier("e")), run=THIS_RUN, start_time=START_TIME.format(sql.Identifier("d")))

# One row per play of this run, numbered after the plays already in songplays: each staged play
# matched to its song first (joined while the planner still knows staging's statistics), then
# NEW_PLAYS' rule applied -- one copy of each event, none played before.
SONGPLAY_TABLE_INSERT = sql.SQL("""
INSERT INTO songplays (songplay_id, start_time, user_id, level, song_id, artist_id, session_id, item_in_session,
                       location, user_agent)
SELECT r.songplays_before + ROW_NUMBER() OVER (ORDER BY {order}),
       {start_time},
       CAST(p.user_id AS INTEGER), p.level, p.matched_song_id, p.matched_artist_id, p.session_id, p.item_in_session,
       p.location, p.user_agent
FROM (
    SELECT e.*, b.song_id AS matched_song_id, b.artist_id AS matched_artist_id,
           ROW_NUMBER() OVER (
               PARTITION BY e.user_id, e.session_id, e.item_in_session, e.ts
               ORDER BY e.song, e.artist, e.length, e.level, e.location, e.user_agent
           ) AS copy_no
    FROM staging_events AS e
    LEFT JOIN ({best}) AS b ON {same_key}
    WHERE {e_is_play}
) AS p
CROSS JOIN (SELECT songplays_before FROM load_runs WHERE run_no = {run}) AS r
WHERE p.copy_no = 1
  AND NOT EXISTS (
      SELECT 1 FROM songplays AS o
      WHERE o.songplay_id <= r.songplays_before
        AND o.start_time = {start_time} AND o.user_id = CAST(p.user_id AS INTEGER)
        AND COALESCE(o.session_id, -1) = COALESCE(p.session_id, -1)
        AND COALESCE(o.item_in_session, -1) = COALESCE(p.item_in_session, -1))
""").format(order=_PLAY_ORDER, start_time=START_TIME.format(sql.Identifier("p")), run=THIS_RUN,
           best=_BEST_SONG.format(keys=sql.SQL("SELECT DISTINCT e.song, e.artist, e.length FROM staging_events AS e"
                                               " WHERE {}").format(IS_PLAY.format(sql.Identifier("e")))),
           same_key=_SAME_KEY.format(sql.Identifier("e")), e_is_play=IS_PLAY.format(sql.Identifier("e")))

# What each play of this run named, under the same songplay id, where a song can ever match it.
PLAY_SONGS_INSERT = sql.SQL("""
INSERT INTO play_songs (songplay_id, song, artist, length)
SELECT n.songplay_id, n.song, n.artist, n.length
FROM (
    SELECT r.songplays_before + ROW_NUMBER() OVER (ORDER BY {order}) AS songplay_id, p.song, p.artist, p.length
    FROM ({new_plays}) AS p
    CROSS JOIN (SELECT songplays_before FROM load_runs WHERE run_no = {run}) AS r
) AS n
WHERE n.song IS NOT NULL AND n.artist IS NOT NULL
""").format(order=_PLAY_ORDER, run=THIS_RUN, new_plays=NEW_PLAYS)

# The NextSong events of this run that were not new plays: copies of an event in this run's files, or
# events an earlier run played (the run summary says how many).
# (after the checks, which hold the plays added to be exactly the new ones)
REPEATED_EVENTS = sql.SQL("SELECT (SELECT COUNT(*) FROM staging_events AS e WHERE {}) - (SELECT COUNT(*) FROM songplays"
                          " WHERE songplay_id > (SELECT songplays_before FROM load_runs WHERE run_no = {}))").format(
    IS_PLAY.format(sql.Identifier("e")), THIS_RUN)

# Each user's latest event among ``events`` (user_id an INTEGER) for the users of ``scope`` (the
# same events, or those of the users to decide): by time, then session, then item; attributes
# together from that one event. Only the events at each user's latest ts (ts is NOT NULL) are
# ranked, not every event: the sort is small, and the join with the latest times is the only filter
# (an IN of the users' ids planned as a nested loop, quadratic in the users of a day).
_LATEST_EVENTS = sql.SQL("""
    SELECT u.user_id, u.ts, u.session_id, u.item_in_session, u.level, u.first_name, u.last_name, u.gender
    FROM (
        SELECT e.user_id, e.ts, e.session_id, e.item_in_session, e.level, e.first_name, e.last_name, e.gender,
               ROW_NUMBER() OVER (
                   PARTITION BY e.user_id
                   ORDER BY e.ts DESC NULLS LAST, e.session_id DESC NULLS LAST, e.item_in_session DESC NULLS LAST,
                            e.level, e.first_name, e.last_name, e.gender
               ) AS recency
        FROM ({events}) AS e
        JOIN (SELECT user_id, MAX(ts) AS ts FROM ({scope}) AS m GROUP BY user_id) AS latest
            ON latest.user_id = e.user_id AND latest.ts = e.ts
    ) AS u
    WHERE u.recency = 1""")
_USER_COLUMNS = ("user_id", "ts", "session_id", "item_in_session", "level", "first_name", "last_name", "gender")
_THIS_RUNS_USERS = sql.SQL("SELECT user_id FROM user_latest WHERE run_no = {}").format(THIS_RUN)

_STAGED_USER_EVENTS = sql.SQL(
    "SELECT CAST(user_id AS INTEGER) AS user_id, ts, session_id, item_in_session, level, first_name, last_name,"
    " gender FROM staging_events WHERE user_id <> ''")

# Every non-empty user id of this run's events, with its latest event among them.
USER_LATEST_INSERT = sql.SQL(
    "INSERT INTO user_latest (run_no, {columns}) SELECT {run}, {columns} FROM ({latest}) AS l").format(
    columns=names(_USER_COLUMNS), run=THIS_RUN, latest=_LATEST_EVENTS.format(events=_STAGED_USER_EVENTS,
                                                                              scope=_STAGED_USER_EVENTS))

# users: one row per user, from the user's latest event over every run (this run's users only).
USER_TABLE_DELETE = sql.SQL("DELETE FROM users WHERE user_id IN ({})").format(_THIS_RUNS_USERS)
USER_TABLE_INSERT = sql.SQL("""
INSERT INTO users (user_id, first_name, last_name, gender, level)
SELECT w.user_id, w.first_name, w.last_name, w.gender, w.level
FROM ({latest}) AS w
""").format(latest=_LATEST_EVENTS.format(
    events=sql.SQL("SELECT {} FROM user_latest").format(names(_USER_COLUMNS)),
    scope=sql.SQL("SELECT {} FROM user_latest WHERE user_id IN ({})").format(names(_USER_COLUMNS), _THIS_RUNS_USERS)))

# songs: one row per song_id, over every song record loaded (for the song ids this run brought).
SONG_TABLE_DELETE = sql.SQL("DELETE FROM songs WHERE song_id IN (SELECT song_id FROM staging_songs)")
SONG_TABLE_INSERT = sql.SQL("""
INSERT INTO songs (song_id, title, artist_id, year, duration)
SELECT s.song_id, s.title, s.artist_id, s.year, s.duration
FROM (
    SELECT song_id, title, artist_id, year, duration,
           ROW_NUMBER() OVER (PARTITION BY song_id ORDER BY title, artist_id, year, duration) AS copy_no
    FROM loaded_songs
    WHERE song_id IN (SELECT song_id FROM staging_songs)
) AS s
WHERE s.copy_no = 1
""")

# artists: one row per artist_id (for the artist ids this run brought). When an artist's songs
# disagree on name or location, the values come together from one song: one with a location, then
# one with coordinates, then the smallest song_id.
ARTIST_TABLE_DELETE = sql.SQL("DELETE FROM artists WHERE artist_id IN (SELECT artist_id FROM staging_songs)")
ARTIST_TABLE_INSERT = sql.SQL("""
INSERT INTO artists (artist_id, name, location, latitude, longitude)
SELECT a.artist_id, a.artist_name, a.artist_location, a.artist_latitude, a.artist_longitude
FROM (
    SELECT artist_id, artist_name, artist_location, artist_latitude, artist_longitude,
           ROW_NUMBER() OVER (
               PARTITION BY artist_id
               ORDER BY CASE WHEN artist_location IS NULL OR artist_location = '' THEN 1 ELSE 0 END,
                        CASE WHEN artist_latitude IS NULL OR artist_longitude IS NULL THEN 1 ELSE 0 END,
                        song_id, artist_name
           ) AS preference
    FROM loaded_songs
    WHERE artist_id IN (SELECT artist_id FROM staging_songs)
) AS a
WHERE a.preference = 1
""")

# One row per distinct songplays.start_time not already there: the same events and the same
# expression as songplays, read from staging, whose statistics let PostgreSQL sort once. week: ISO
# week; weekday: 0 = Sunday ... 6 = Saturday. Inserted in key order: the primary-key index then
# grows at its end.
TIME_TABLE_INSERT = sql.SQL("""
INSERT INTO "time" (start_time, hour, day, week, month, year, weekday)
SELECT t.start_time,
       EXTRACT(HOUR FROM t.start_time), EXTRACT(DAY FROM t.start_time), EXTRACT(WEEK FROM t.start_time),
       EXTRACT(MONTH FROM t.start_time), EXTRACT(YEAR FROM t.start_time), EXTRACT(DOW FROM t.start_time)
FROM (
    SELECT DISTINCT {start_time} AS start_time FROM staging_events AS e WHERE {is_play}
) AS t
WHERE NOT EXISTS (SELECT 1 FROM "time" AS o WHERE o.start_time = t.start_time)
ORDER BY t.start_time
""").format(start_time=START_TIME.format(sql.Identifier("e")), is_play=IS_PLAY.format(sql.Identifier("e")))

@dataclass(frozen=True)
class Transform:
    """One statement of the transform, and what the plan needs to know of it."""

    label: str  # its stage in the run summary
    statement: sql.Composed
    # a table the next statements read, filled from ``source``: analyzed right after (where the
    # engine wants statistics), unless no file was loaded into ``source`` this run -- then it is
    # as it was, statistics included
    fills: Table | None = None
    source: Table | None = None
    late_matches: bool = False  # its rows are earlier plays matched to songs that came in this run


# In order; each a stage of the run summary. The first read only the events of the run (and what
# they fill): they run right after staging_events is loaded, while the song files may still be
# being listed (sparkify.pipeline). The rest run after staging_songs is loaded.
EVENTS_TRANSFORM = [
    Transform("keep users' latest events", USER_LATEST_INSERT, fills=USER_LATEST, source=STAGING_EVENTS),
    Transform("clear changed users", USER_TABLE_DELETE),
    Transform("insert users", USER_TABLE_INSERT),
    Transform("insert time", TIME_TABLE_INSERT),
]
SONGS_TRANSFORM = [
    Transform("keep song records", KEEP_SONGS, fills=LOADED_SONGS, source=STAGING_SONGS),
    Transform("match earlier plays to new songs", LATE_MATCHES, late_matches=True),
    Transform("insert songplays", SONGPLAY_TABLE_INSERT),
    Transform("keep what plays named", PLAY_SONGS_INSERT),
    Transform("clear changed songs", SONG_TABLE_DELETE),
    Transform("insert songs", SONG_TABLE_INSERT),
    Transform("clear changed artists", ARTIST_TABLE_DELETE),
    Transform("insert artists", ARTIST_TABLE_INSERT),
]
TRANSFORM_QUERIES = EVENTS_TRANSFORM + SONGS_TRANSFORM
