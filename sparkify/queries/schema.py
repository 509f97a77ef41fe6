"""The tables: one definition of each, from which both engines' DDL, the loader's column lists and
the transform's names are drawn."""

from __future__ import annotations

from dataclasses import dataclass, replace

from psycopg2 import sql


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool = False
    identity: bool = False
    # staging: the input's key for this column (the JSONPaths file's, or the song file's for COPY's
    # 'auto'); None elsewhere
    json_key: str | None = None


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    # Redshift physical design; PostgreSQL ignores these.
    diststyle: str = "EVEN"
    distkey: str | None = None
    sortkey: tuple[str, ...] = ()
    # PostgreSQL physical design (Redshift has no indexes; its sort keys serve instead).
    indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


def _columns(*specs: str, not_null: tuple[str, ...] = (), identity: str | None = None) -> tuple[Column, ...]:
    """Columns from ``"name TYPE"`` strings, so each table reads as a compact list."""
    columns = []
    for spec in specs:
        name, type_ = spec.split(" ", 1)
        columns.append(Column(name, type_, not_null=name in not_null or name == identity, identity=name == identity))
    return tuple(columns)


def _staging(*specs: str, not_null: tuple[str, ...] = ()) -> tuple[Column, ...]:
    """Staging columns from ``"json_key name TYPE"`` strings: where each comes from in the input too."""
    return tuple(Column(name, type_, not_null=name in not_null, json_key=key)
                 for key, name, type_ in (spec.split(" ", 2) for spec in specs))


# Staging: the 18 event fields in JSONPaths order and the song-file keys, each as "the input's key,
# the column, its type": the one definition the JSONPaths file, the generator and the README's
# column list follow (tests/test_generate.py, tests/test_docs.py). Text stays text
# (user_id is "" on logged-out events); widths are bytes, checked against the real data in tests.
# An event without ts or a song without song_id is rejected at load time (NOT NULL).
STAGING_EVENTS = Table(
    "staging_events",
    _staging(
        "artist artist VARCHAR(512)", "auth auth VARCHAR(32)", "firstName first_name VARCHAR(256)",
        "gender gender VARCHAR(16)", "itemInSession item_in_session INTEGER", "lastName last_name VARCHAR(256)",
        "length length DOUBLE PRECISION", "level level VARCHAR(16)", "location location VARCHAR(512)",
        "method method VARCHAR(16)", "page page VARCHAR(64)", "registration registration DOUBLE PRECISION",
        "sessionId session_id BIGINT", "song song VARCHAR(512)", "status status SMALLINT", "ts ts BIGINT",
        "userAgent user_agent VARCHAR(1024)", "userId user_id VARCHAR(64)", not_null=("ts",),
    ),
    diststyle="KEY", distkey="song",
)
STAGING_SONGS = Table(
    "staging_songs",
    _staging(
        "num_songs num_songs INTEGER", "artist_id artist_id VARCHAR(64)",
        "artist_latitude artist_latitude DOUBLE PRECISION", "artist_longitude artist_longitude DOUBLE PRECISION",
        "artist_location artist_location VARCHAR(512)", "artist_name artist_name VARCHAR(512)",
        "song_id song_id VARCHAR(64)", "title title VARCHAR(512)", "duration duration DOUBLE PRECISION",
        "year year SMALLINT", not_null=("song_id",),
    ),
    diststyle="KEY", distkey="title",
)
SONGPLAYS = Table(
    "songplays",
    _columns(
        "songplay_id BIGINT", "start_time TIMESTAMP", "user_id INTEGER", "level VARCHAR(16)",
        "song_id VARCHAR(64)", "artist_id VARCHAR(64)", "session_id BIGINT", "item_in_session INTEGER",
        "location VARCHAR(512)", "user_agent VARCHAR(1024)",
        not_null=("start_time", "user_id"), identity="songplay_id",
    ),
    primary_key=("songplay_id",), diststyle="KEY", distkey="start_time", sortkey=("start_time",),
)
USERS = Table(
    "users",
    _columns(
        "user_id INTEGER", "first_name VARCHAR(256)", "last_name VARCHAR(256)", "gender VARCHAR(16)",
        "level VARCHAR(16)", not_null=("user_id",),
    ),
    primary_key=("user_id",), diststyle="ALL", sortkey=("user_id",),
)
SONGS = Table(
    "songs",
    _columns(
        "song_id VARCHAR(64)", "title VARCHAR(512)", "artist_id VARCHAR(64)", "year SMALLINT",
        "duration DOUBLE PRECISION", not_null=("song_id",),
    ),
    primary_key=("song_id",), diststyle="ALL", sortkey=("song_id",),
)
ARTISTS = Table(
    "artists",
    _columns(
        "artist_id VARCHAR(64)", "name VARCHAR(512)", "location VARCHAR(512)", "latitude DOUBLE PRECISION",
        "longitude DOUBLE PRECISION", not_null=("artist_id",),
    ),
    primary_key=("artist_id",), diststyle="ALL", sortkey=("artist_id",),
)
TIME = Table(
    "time",
    _columns(
        "start_time TIMESTAMP", "hour SMALLINT", "day SMALLINT", "week SMALLINT", "month SMALLINT",
        "year SMALLINT", "weekday SMALLINT", not_null=("start_time",),
    ),
    primary_key=("start_time",), diststyle="KEY", distkey="start_time", sortkey=("start_time",),
)

# Records skipped under MAX_ERRORS: which file and line, why, and the raw text (the same columns on
# both engines; on Redshift filled from STL_LOAD_ERRORS after each COPY).
LOAD_ERRORS = Table(
    "load_errors",
    _columns("table_name VARCHAR(64)", "file_name VARCHAR(1024)", "line_number BIGINT", "reason VARCHAR(65535)",
             "raw_line VARCHAR(65535)"),
)

# What the warehouse keeps between runs so that a daily load (etl.py --incremental) gives what a
# full rebuild of the same files gives. load_runs: one row per committed run, numbered in SQL after
# the run's lock; load_ledger: every file loaded, with what identified its content and the rows it
# gave, written in the transaction that loaded them.
LOAD_RUNS = Table(
    "load_runs",
    _columns("run_no BIGINT", "incremental BOOLEAN", "started_at TIMESTAMP", "songplays_before BIGINT",
             not_null=("run_no", "incremental", "started_at", "songplays_before")),
    primary_key=("run_no",),
)
LOAD_LEDGER = Table(
    "load_ledger",
    _columns("table_name VARCHAR(64)", "file_name VARCHAR(1024)", "bytes BIGINT", "etag VARCHAR(64)",
             "modified TIMESTAMP", "row_count BIGINT", "loaded_at TIMESTAMP", "run_no BIGINT",
             not_null=("table_name", "file_name", "bytes", "etag", "loaded_at")),
    primary_key=("table_name", "file_name"),
)
# Every song record ever loaded (staging_songs' columns): songs, artists and the song match are
# decided over all of them, as a full rebuild decides them over its staging.
LOADED_SONGS = Table(
    "loaded_songs", tuple(replace(column, json_key=None) for column in STAGING_SONGS.columns),
    diststyle="KEY", distkey="title",
    # every play's song is looked up here by title and artist: an index, not a sort of every song
    # record per run
    indexes=(("title", "artist_name"),),
)
# Each user's latest event among the events of each run that saw the user (users is the latest of
# these): the event's time, session and item decide, as over all events in a full rebuild.
USER_LATEST = Table(
    "user_latest",
    _columns("run_no BIGINT", "user_id INTEGER", "ts BIGINT", "session_id BIGINT", "item_in_session INTEGER",
             "level VARCHAR(16)", "first_name VARCHAR(256)", "last_name VARCHAR(256)", "gender VARCHAR(16)",
             not_null=("run_no", "user_id", "ts")),
    diststyle="KEY", distkey="user_id",
)
# The song each play named, for the plays a song that arrives later may match (song and artist set).
PLAY_SONGS = Table(
    "play_songs",
    _columns("songplay_id BIGINT", "song VARCHAR(512)", "artist VARCHAR(512)", "length DOUBLE PRECISION",
             not_null=("songplay_id", "song", "artist")),
    primary_key=("songplay_id",), diststyle="KEY", distkey="song",
)

# The columns that say when a run happened: two runs over the same files differ only there.
RUN_CLOCK = ("started_at", "loaded_at")

STAGING_TABLES = (STAGING_EVENTS, STAGING_SONGS)
STAR_TABLES = (SONGPLAYS, USERS, SONGS, ARTISTS, TIME)
HISTORY_TABLES = (LOAD_RUNS, LOAD_LEDGER, LOADED_SONGS, USER_LATEST, PLAY_SONGS)
TABLES = STAGING_TABLES + STAR_TABLES + HISTORY_TABLES + (LOAD_ERRORS,)
PROJECT_TABLE_NAMES = tuple(table.name for table in TABLES)


def names(columns) -> sql.Composed:
    """Identifiers, comma-separated: a column list."""
    return sql.SQL(", ").join(map(sql.Identifier, columns))


def jsonpaths(table: Table) -> dict:
    """The JSONPaths document that maps ``table``'s input to its columns, in column order."""
    return {"jsonpaths": [f"$['{column.json_key}']" for column in table.columns]}
