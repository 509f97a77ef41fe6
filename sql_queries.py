"""Every SQL statement the Sparkify scripts send, in the order they send them.

One table definition (``TABLES``) renders the DDL for both engines; where Amazon Redshift and
PostgreSQL differ, the difference is data (``ENGINE_SQL``), not branches in code. Statements are
``psycopg2.sql`` compositions: names go through ``sql.Identifier``, validated config values (S3 URIs,
role ARN, region) through ``sql.Literal``; nothing is built with f-strings or ``%``.

The ordered lists the scripts loop over:

* ``DROP_TABLE_QUERIES``, ``CREATE_TABLE_QUERIES[engine]``, ``CREATE_INDEX_QUERIES[engine]`` --
  create_tables.py, cleanup.py
* ``CLEAR_STAGING_QUERIES[engine]`` (a full rebuild: ``CLEAR_HISTORY_QUERIES``,
  ``CLEAR_STAR_QUERIES`` too), ``record_run(...)``, ``copy_from_s3(..., manifest=True)`` and the
  ledger's rows (Redshift) or ``copy_from_stdin(...)`` (PostgreSQL), ``TRANSFORM_QUERIES``,
  ``QUALITY_CHECKS`` -- etl.py, all inside one transaction (``etl.py --incremental`` too).
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg2 import sql

ENGINES = ("postgres", "redshift")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool = False
    identity: bool = False


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


# Staging: the 18 event fields in JSONPaths order, and the song-file keys. Text stays text
# (user_id is "" on logged-out events); widths are bytes, checked against the real data in tests.
# An event without ts or a song without song_id is rejected at load time (NOT NULL).
STAGING_EVENTS = Table(
    "staging_events",
    _columns(
        "artist VARCHAR(512)", "auth VARCHAR(32)", "first_name VARCHAR(256)", "gender VARCHAR(16)",
        "item_in_session INTEGER", "last_name VARCHAR(256)", "length DOUBLE PRECISION", "level VARCHAR(16)",
        "location VARCHAR(512)", "method VARCHAR(16)", "page VARCHAR(64)", "registration DOUBLE PRECISION",
        "session_id BIGINT", "song VARCHAR(512)", "status SMALLINT", "ts BIGINT", "user_agent VARCHAR(1024)",
        "user_id VARCHAR(64)", not_null=("ts",),
    ),
    diststyle="KEY", distkey="song",
)
STAGING_SONGS = Table(
    "staging_songs",
    _columns(
        "num_songs INTEGER", "artist_id VARCHAR(64)", "artist_latitude DOUBLE PRECISION",
        "artist_longitude DOUBLE PRECISION", "artist_location VARCHAR(512)", "artist_name VARCHAR(512)",
        "song_id VARCHAR(64)", "title VARCHAR(512)", "duration DOUBLE PRECISION", "year SMALLINT",
        not_null=("song_id",),
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
    "loaded_songs", STAGING_SONGS.columns, diststyle="KEY", distkey="title",
    # every play's song is looked up here by title and artist: an index, not a sort of every song
    # record per run (a daily run's song match took 0.5 s at 100,000 song files, 0.3 s with it)
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

# Where the engines differ. TRUNCATE commits the open transaction on Redshift, so the ETL clears
# tables there with DELETE (transactional); on PostgreSQL TRUNCATE is transactional and faster.
ENGINE_SQL = {
    "postgres": {
        "identity": sql.SQL("GENERATED BY DEFAULT AS IDENTITY"),
        # strings compare and sort byte by byte, as Redshift's do (binary UTF-8), whatever the
        # server's locale: every tie broken by a string picks the same row on both engines
        "text_collation": sql.SQL(' COLLATE "C"'),
        "primary_keys": True,
        # a JSON string such as "NaN" or "-Infinity" in a number column would load as a float that is
        # no number; the loader refuses those in its own checks (MAX_ERRORS), and these constraints on
        # staging refuse them in a strict load: the COPY names the file and line
        "finite_checks": True,
        "clear_table": sql.SQL("TRUNCATE TABLE {}"),
        "table_attributes": False,
        # the ETL transaction's sorts (songplay ids over all plays, ~200 MB at 1M events) fit in
        # memory instead of spilling to disk; the tables it reads are in memory, so an index lookup
        # costs about what a sequential read does (PostgreSQL's default, 4, is for spinning disks: a
        # daily run then read every start time in "time" to add one day's, 0.38 s instead of 0.15 s at
        # 1M events, and counted the run's plays by reading all of songplays); LOCAL: for this
        # transaction only
        "session": [sql.SQL("SET LOCAL work_mem = '256MB'"), sql.SQL("SET LOCAL random_page_cost = 1.1")],
        # the data-quality checks' anti-joins of every play with a dimension's keys run quicker in
        # PostgreSQL's default 4 MB than in the transform's 256 MB: the hash of the keys is split
        # into batches that fit the CPU's caches, where one large table does not (inside daily runs
        # at 10M events, the `time` check, a hash of 8 million start times, took 3.5 s instead of
        # 4.6 s, the four 8.2 s instead of 8.9 s; docs/performance.md); LOCAL: this transaction only
        "check_session": [sql.SQL("SET LOCAL work_mem = '4MB'")],
        # COPY and INSERT leave no statistics behind, and the transform's plans need them: each table
        # a statement reads right after it was filled is analyzed there (TRANSFORM_QUERIES). Without:
        # the song match over loaded_songs took 7.9 s instead of 5.7 s at 1M events, and users, over
        # a user_latest just filled, 4.2 s instead of 0.05 s for one day's 4,400 users
        "analyze": sql.SQL("ANALYZE {}"),
        "indexes": True,
        # a duplicate key fails its INSERT: the uniqueness checks could only count 0 (and cost two
        # sorts of 800,000 keys at 1M events), so they are not run
        "enforces_primary_keys": True,
        # likewise a NULL in a NOT NULL column (a scan of songplays per column on PostgreSQL 15)
        "enforces_not_null": True,
        # TRUNCATE's ACCESS EXCLUSIVE lock already makes a second ETL wait
        "lock": None,
        # Two create_tables.py at once would both CREATE the same type ("duplicate key value violates
        # unique constraint pg_type_typname_nsp_index"): every transaction that changes the project's
        # tables first takes this transaction-level lock, per schema, so a second run waits for the
        # first to commit
        "serialize": sql.SQL("SELECT pg_advisory_xact_lock(hashtext('sparkify:' || current_schema()))"),
    },
    "redshift": {
        "identity": sql.SQL("GENERATED BY DEFAULT AS IDENTITY(1, 1)"),
        "text_collation": sql.SQL(""),  # binary UTF-8 order is Redshift's default
        "finite_checks": False,  # no CHECK constraints on Redshift: its COPY's own number rules apply
        # not declared: Redshift enforces none, and its planner takes a declared key as true ("Defining
        # table constraints"), so the uniqueness checks could be answered from the declaration
        # instead of the rows -- inside the transaction that may have just broken the key
        "primary_keys": False,
        "clear_table": sql.SQL("DELETE FROM {}"),
        "table_attributes": True,
        "session": [],
        "check_session": [],
        "analyze": None,  # the transform's plans do without (COMPUPDATE and STATUPDATE are off too)
        "indexes": False,  # none on Redshift: sort and distribution keys instead
        "enforces_primary_keys": False,  # informational only: the checks find duplicates
        # NOT NULL is the one constraint Redshift enforces ("Table constraints", Database Developer Guide)
        "enforces_not_null": True,
        # Under serializable isolation a second run at once would fail partway through (error
        # 1023); LOCK first makes it wait until the first commits (LOCK, Database Developer Guide)
        "lock": sql.SQL("LOCK {}"),
        "serialize": None,  # no advisory locks; the ETL's LOCK serializes the runs that load
    },
}


def _names(names) -> sql.Composed:
    return sql.SQL(", ").join(map(sql.Identifier, names))


def create_table(table: Table, engine: str) -> sql.Composed:
    """``CREATE TABLE`` for one engine from the one definition."""
    clauses = ENGINE_SQL[engine]
    parts = []
    for column in table.columns:
        part = [sql.Identifier(column.name), sql.SQL(column.type)]
        if column.type.startswith("VARCHAR"):
            part[-1] = part[-1] + clauses["text_collation"]
        if column.identity:
            part.append(clauses["identity"])
        if column.not_null:
            part.append(sql.SQL("NOT NULL"))
        parts.append(sql.SQL(" ").join(part))
    if clauses["finite_checks"] and table in STAGING_TABLES:
        parts.extend(sql.SQL("CONSTRAINT {} CHECK ({} NOT IN ('NaN', 'Infinity', '-Infinity'))").format(
            sql.Identifier(f"{column.name} must be a finite number"), sql.Identifier(column.name))
            for column in table.columns if column.type == "DOUBLE PRECISION")
    if table.primary_key and clauses["primary_keys"]:
        parts.append(sql.SQL("PRIMARY KEY ({})").format(_names(table.primary_key)))
    statement = sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(table.name), sql.SQL(", ").join(parts))
    if clauses["table_attributes"]:
        statement += sql.SQL(" DISTSTYLE {}").format(sql.SQL(table.diststyle))
        if table.distkey:
            statement += sql.SQL(" DISTKEY ({})").format(sql.Identifier(table.distkey))
        if table.sortkey:
            statement += sql.SQL(" SORTKEY ({})").format(_names(table.sortkey))
    return statement


def create_indexes(table: Table, engine: str) -> list[sql.Composed]:
    """``CREATE INDEX`` for each of the table's ``indexes``, where the engine has indexes."""
    if not ENGINE_SQL[engine]["indexes"]:
        return []
    return [sql.SQL("CREATE INDEX {} ON {} ({})").format(
        sql.Identifier("_".join((table.name, *columns, "idx"))), sql.Identifier(table.name), _names(columns))
        for columns in table.indexes]


def drop_table(table_name: str) -> sql.Composed:
    return sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table_name))


def clear_table(table: Table, engine: str) -> sql.Composed:
    return ENGINE_SQL[engine]["clear_table"].format(sql.Identifier(table.name))


DROP_TABLE_QUERIES = [drop_table(table.name) for table in TABLES]
CREATE_TABLE_QUERIES = {engine: [create_table(table, engine) for table in TABLES] for engine in ENGINES}
CREATE_INDEX_QUERIES = {engine: [(table, statement) for table in TABLES for statement in create_indexes(table, engine)]
                        for engine in ENGINES}
CLEAR_STAGING_QUERIES = {engine: [clear_table(table, engine) for table in STAGING_TABLES + (LOAD_ERRORS,)]
                         for engine in ENGINES}
CLEAR_STAR_QUERIES = {engine: [clear_table(table, engine) for table in STAR_TABLES] for engine in ENGINES}
CLEAR_HISTORY_QUERIES = {engine: [clear_table(table, engine) for table in HISTORY_TABLES] for engine in ENGINES}


def analyze(table: Table, engine: str) -> list[sql.Composed]:
    """The statistics a statement reading ``table`` right after it was filled needs, where the engine
    wants them."""
    statement = ENGINE_SQL[engine]["analyze"]
    return [] if statement is None else [statement.format(sql.Identifier(table.name))]


SESSION_QUERIES = {engine: ENGINE_SQL[engine]["session"] for engine in ENGINES}
CHECK_SESSION_QUERIES = {engine: ENGINE_SQL[engine]["check_session"] for engine in ENGINES}
# The first statement of every transaction that changes the project's tables, where the engine has one.
SERIALIZE_QUERIES = {engine: [ENGINE_SQL[engine]["serialize"]] if ENGINE_SQL[engine]["serialize"] is not None else []
                     for engine in ENGINES}
# The ETL transaction's next statement where the engine needs one: every project table locked.
LOCK_QUERIES = {engine: [ENGINE_SQL[engine]["lock"].format(_names(PROJECT_TABLE_NAMES))]
                if ENGINE_SQL[engine]["lock"] is not None else [] for engine in ENGINES}

SET_SEARCH_PATH = sql.SQL("SET search_path TO {}")
SERVER_VERSION = sql.SQL("SELECT version()")


# --- Loading staging -------------------------------------------------------------------------

# COPY's file compression parameters, by the [S3] ..._COMPRESSION setting
COPY_COMPRESSION = {"none": None, "gzip": sql.SQL("GZIP"), "bzip2": sql.SQL("BZIP2"), "zstd": sql.SQL("ZSTD")}


def copy_from_s3(table: Table, source: str, json_format: str, iam_role_arn: str, region: str | None,
                 max_errors: int = 0, noload: bool = False, compression: str = "none",
                 manifest: bool = False) -> sql.Composed:
    """Redshift ``COPY ... FROM 's3://...'``; every value was validated by sparkify.config.

    ``json_format`` is an S3 URI of a JSONPaths file, ``auto`` or ``auto ignorecase``. Statistics
    and compression analysis are off: staging is scratch space, emptied on every run. ``max_errors``
    bad records are tolerated and one more fails the load, as on PostgreSQL: Redshift's ``MAXERROR
    n`` fails at the n-th ("If the load returns the error_count number of errors or greater, the
    load fails"), so it is told ``max_errors + 1``. ``noload`` checks the files and loads nothing
    (``etl.py --validate``). ``compression``: how the files are stored (``COPY_COMPRESSION``).
    ``manifest``: ``source`` is a manifest naming exactly the files to load (what a run loads).
    """
    statement = sql.SQL("COPY {} FROM {} IAM_ROLE {}{} FORMAT AS JSON {}").format(
        sql.Identifier(table.name), sql.Literal(source), sql.Literal(iam_role_arn),
        sql.SQL(" MANIFEST") if manifest else sql.SQL(""), sql.Literal(json_format)
    )
    if COPY_COMPRESSION[compression] is not None:
        statement += sql.SQL(" ") + COPY_COMPRESSION[compression]
    if region:
        statement += sql.SQL(" REGION {}").format(sql.Literal(region))
    if max_errors:
        if not 0 < max_errors <= REDSHIFT_MAX_TOLERATED:
            raise ValueError(f"Redshift tolerates at most {REDSHIFT_MAX_TOLERATED} bad records, not {max_errors}")
        statement += sql.SQL(" MAXERROR {}").format(sql.Literal(int(max_errors) + 1))
    if noload:
        statement += sql.SQL(" NOLOAD")
    return statement + sql.SQL(" COMPUPDATE OFF STATUPDATE OFF")


# The most MAXERROR Redshift accepts is 100,000, which tolerates 99,999 bad records: the most
# MAX_ERRORS can be there, and what --validate asks for (every problem, not just the first).
REDSHIFT_MAX_TOLERATED = 99999


def copy_table_queries(sources, iam_role_arn: str, noload: bool = False) -> list[sql.Composed]:
    """The two Redshift COPY statements for a ``sparkify.config.Sources``; ``noload``: Redshift reads
    and checks every record and loads nothing (``etl.py --validate``)."""
    max_errors = REDSHIFT_MAX_TOLERATED if noload else sources.max_errors
    return [
        copy_from_s3(STAGING_EVENTS, sources.log_data, sources.log_jsonpath, iam_role_arn, sources.region,
                     max_errors, noload, sources.log_compression),
        copy_from_s3(STAGING_SONGS, sources.song_data, sources.song_json, iam_role_arn, sources.region,
                     max_errors, noload, sources.song_compression),
    ]


def validate_copy_queries(sources, iam_role_arn: str) -> list[sql.Composed]:
    return copy_table_queries(sources, iam_role_arn, noload=True)


# The system view that explains a COPY: STL_LOAD_ERRORS on a provisioned cluster (it keeps the raw
# field value), SYS_LOAD_ERROR_DETAIL on Redshift Serverless, which has no STL views. Which one a
# server has is asked of the server once, at connect time (``sparkify.db``): LOAD_ERROR_VIEW_PROBE
# fails where STL is not readable.
LOAD_ERROR_VIEWS = ("stl_load_errors", "sys_load_error_detail")
LOAD_ERROR_VIEW_PROBE = sql.SQL("SELECT COUNT(*) FROM stl_load_errors WHERE 1 = 0")


def _this_copy(view: str, table: Table, since=None) -> sql.Composed:
    """The rows of ``view`` that belong to the connection's last COPY into ``table``.

    ``since`` None (a COPY that succeeded, in its transaction): STL_LOAD_ERRORS by
    ``pg_last_copy_id()``. After a COPY failed, its transaction is rolled back and
    ``pg_last_copy_id()`` is not updated (PG_LAST_COPY_ID), so the COPY is found by the connection's session
    and the server's clock read just before it (``since``): none found means it failed before
    reading a record. SYS_LOAD_ERROR_DETAIL has query ids of its own: the COPY is the session's
    last load into the table in SYS_LOAD_HISTORY (since ``since``, where given)."""
    if view == "stl_load_errors":
        if since is None:
            return sql.SQL("query = pg_last_copy_id()")
        return sql.SQL("query = (SELECT MAX(query) FROM stl_load_errors WHERE session = pg_backend_pid()"
                       " AND starttime >= CAST({} AS TIMESTAMP))").format(
            since if isinstance(since, sql.Composable) else sql.Literal(since))
    if since is None:
        return sql.SQL("query_id = (SELECT MAX(query_id) FROM sys_load_history WHERE session_id = pg_backend_pid()"
                       " AND TRIM(table_name) = {})").format(sql.Literal(table.name))
    return sql.SQL("query_id = ({})").format(_sys_copy(table, since))


# What the last COPY rejected: file, line, column, value and reason, and how many in all.
LOAD_ERROR_DETAIL = {
    "stl_load_errors": sql.SQL(
        "SELECT TRIM(filename), line_number, TRIM(colname), TRIM(raw_field_value), TRIM(err_reason),"
        " COUNT(*) OVER () FROM stl_load_errors WHERE {} ORDER BY filename, line_number LIMIT {}"),
    "sys_load_error_detail": sql.SQL(
        "SELECT TRIM(file_name), line_number, TRIM(column_name), NULL, TRIM(error_message), COUNT(*) OVER ()"
        " FROM sys_load_error_detail WHERE {} ORDER BY file_name, line_number LIMIT {}"),
}


def load_error_detail(view: str, table: Table, limit: int, since=None) -> sql.Composed:
    return LOAD_ERROR_DETAIL[view].format(_this_copy(view, table, since), sql.Literal(int(limit)))


# load_errors.reason is VARCHAR(65535): STL's colname (127) + err_reason (100) + raw_field_value
# (1024) and the words between them fit, whatever the value.
_KEEP_LOAD_ERRORS = {
    "stl_load_errors": sql.SQL(
        "INSERT INTO load_errors (table_name, file_name, line_number, reason, raw_line)"
        " SELECT {}, TRIM(filename), line_number,"
        " TRIM(colname) || ': ' || TRIM(err_reason) || ' (value: ' || TRIM(raw_field_value) || ')', TRIM(raw_line)"
        " FROM stl_load_errors WHERE {}"),
    "sys_load_error_detail": sql.SQL(
        "INSERT INTO load_errors (table_name, file_name, line_number, reason, raw_line)"
        " SELECT {}, TRIM(file_name), line_number, TRIM(column_name) || ': ' || TRIM(error_message), NULL"
        " FROM sys_load_error_detail WHERE {}"),
}


def redshift_load_errors(table: Table, view: str = "stl_load_errors") -> sql.Composed:
    """Keep what the last COPY skipped under MAXERROR, from Redshift's own log of it: STL_LOAD_ERRORS
    on a provisioned cluster, SYS_LOAD_ERROR_DETAIL on Serverless (which has no STL tables)."""
    return _KEEP_LOAD_ERRORS[view].format(sql.Literal(table.name), _this_copy(view, table))


def copy_from_stdin(table: Table, freeze: bool = False) -> sql.Composed:
    """PostgreSQL ``COPY ... FROM STDIN`` fed by the project's loader, in CSV format: strings quoted
    with backslash escapes, NULL an unquoted ``null`` -- orjson's JSON arrays without their brackets
    (``sparkify.records.copy_line``). ``freeze``: the rows arrive frozen, so the transform's first
    scans do not rewrite every page to set hint bits; allowed only when the same transaction
    emptied the table with TRUNCATE, as the ETL's does (staging is for the ETL alone: that frozen
    rows are visible to older snapshots does not matter there)."""
    options = sql.SQL("FORMAT csv, NULL 'null', ESCAPE '\\'") + (sql.SQL(", FREEZE") if freeze else sql.SQL(""))
    return sql.SQL("COPY {} ({}) FROM STDIN WITH ({})").format(
        sql.Identifier(table.name), _names(table.column_names), options)


LAST_COPY_COUNT = sql.SQL("SELECT pg_last_copy_count()")


# --- The transform: the same SQL on both engines, for a full rebuild and a daily load -----------
#
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
_IS_PLAY = sql.SQL("{0}.page = 'NextSong' AND {0}.user_id <> ''")
_START_TIME = sql.SQL("TIMESTAMP 'epoch' + {}.ts / 1000.0 * INTERVAL '1 second'")
# The order songplay ids number a run's plays in, so a rerun gives identical rows.
_PLAY_ORDER = sql.SQL("p.ts, p.user_id, p.session_id, p.item_in_session, p.song, p.artist, p.length, p.level,"
                      " p.location, p.user_agent")
THIS_RUN = sql.SQL("(SELECT MAX(run_no) FROM load_runs)")


def record_run(incremental: bool, started_at: str) -> sql.Composed:
    """The run's row: numbered after the last run, with the songplay ids it starts after."""
    return sql.SQL(
        "INSERT INTO load_runs (run_no, incremental, started_at, songplays_before)"
        " SELECT (SELECT COALESCE(MAX(run_no), 0) + 1 FROM load_runs), {}, CAST({} AS TIMESTAMP),"
        " COALESCE(MAX(songplay_id), 0) FROM songplays"
    ).format(sql.Literal(bool(incremental)), sql.Literal(started_at))


KEEP_SONGS = sql.SQL("INSERT INTO loaded_songs ({0}) SELECT {0} FROM staging_songs").format(
    _names(STAGING_SONGS.column_names))

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
_NEW_PLAYS = sql.SQL("""
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
    e_is_play=_IS_PLAY.format(sql.Identifier("e")), run=THIS_RUN, start_time=_START_TIME.format(sql.Identifier("d")))

# One row per play of this run, numbered after the plays already in songplays: each staged play
# matched to its song first (joined while the planner still knows staging's statistics), then
# _NEW_PLAYS' rule applied -- one copy of each event, none played before.
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
""").format(order=_PLAY_ORDER, start_time=_START_TIME.format(sql.Identifier("p")), run=THIS_RUN,
           best=_BEST_SONG.format(keys=sql.SQL("SELECT DISTINCT e.song, e.artist, e.length FROM staging_events AS e"
                                               " WHERE {}").format(_IS_PLAY.format(sql.Identifier("e")))),
           same_key=_SAME_KEY.format(sql.Identifier("e")), e_is_play=_IS_PLAY.format(sql.Identifier("e")))

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
""").format(order=_PLAY_ORDER, run=THIS_RUN, new_plays=_NEW_PLAYS)

# The NextSong events of this run that were not new plays: copies of an event in this run's files, or
# events an earlier run played (the run summary says how many).
# (after the checks, which hold the plays added to be exactly the new ones)
REPEATED_EVENTS = sql.SQL("SELECT (SELECT COUNT(*) FROM staging_events AS e WHERE {}) - (SELECT COUNT(*) FROM songplays"
                          " WHERE songplay_id > (SELECT songplays_before FROM load_runs WHERE run_no = {}))").format(
    _IS_PLAY.format(sql.Identifier("e")), THIS_RUN)

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
    columns=_names(_USER_COLUMNS), run=THIS_RUN, latest=_LATEST_EVENTS.format(events=_STAGED_USER_EVENTS,
                                                                              scope=_STAGED_USER_EVENTS))

# users: one row per user, from the user's latest event over every run (this run's users only).
USER_TABLE_DELETE = sql.SQL("DELETE FROM users WHERE user_id IN ({})").format(_THIS_RUNS_USERS)
USER_TABLE_INSERT = sql.SQL("""
INSERT INTO users (user_id, first_name, last_name, gender, level)
SELECT w.user_id, w.first_name, w.last_name, w.gender, w.level
FROM ({latest}) AS w
""").format(latest=_LATEST_EVENTS.format(
    events=sql.SQL("SELECT {} FROM user_latest").format(_names(_USER_COLUMNS)),
    scope=sql.SQL("SELECT {} FROM user_latest WHERE user_id IN ({})").format(_names(_USER_COLUMNS), _THIS_RUNS_USERS)))

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
""").format(start_time=_START_TIME.format(sql.Identifier("e")), is_play=_IS_PLAY.format(sql.Identifier("e")))

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


# --- The ledger: which files each run loaded ---------------------------------------------------

LEDGER_COLUMNS = LOAD_LEDGER.column_names[:-1]  # run_no is filled in by LEDGER_RUN


def read_ledger(table: Table) -> sql.Composed:
    """One staging table's rows of the ledger. A run reads them inside its transaction, after its
    lock, so a run that waited for another sees the files that one loaded."""
    return sql.SQL("SELECT table_name, file_name, bytes, etag, modified, loaded_at FROM load_ledger"
                   " WHERE table_name = {}").format(sql.Literal(table.name))


LEDGER_BATCH = 1000  # rows per INSERT: a statement stays far below Redshift's 16 MB limit


def _values_lists(entries, size: int, row: sql.SQL) -> list[sql.Composed]:
    """The rows of a ``VALUES`` list, ``size`` entries to a list: each entry's values as literals in
    ``row`` (one ``{}`` per value)."""
    entries = list(entries)
    return [sql.SQL(", ").join(row.format(*(sql.Literal(value) for value in entry))
                               for entry in entries[start:start + size])
            for start in range(0, len(entries), size)]


def ledger_rows(entries) -> list[sql.Composed]:
    """``INSERT ... VALUES`` of ledger rows, ``LEDGER_BATCH`` at a time: each entry is the values of
    LEDGER_COLUMNS (``modified`` and ``loaded_at`` ISO text or None, ``row_count`` None where the
    engine fills it in after its COPY). ``run_no`` is filled in by ``LEDGER_RUN``."""
    row = sql.SQL("({}, {}, {}, {}, CAST({} AS TIMESTAMP), {}, CAST({} AS TIMESTAMP))")
    return [sql.SQL("INSERT INTO load_ledger ({}) VALUES {}").format(_names(LEDGER_COLUMNS), rows)
            for rows in _values_lists(entries, LEDGER_BATCH, row)]


# Touched files per UPDATE of their new times: each UPDATE reads the table's rows of the ledger once
# (100,000 song files touched at once: 100 UPDATEs of 1,000 took 8 s, 10 of 10,000 took 1.9 s).
NEW_TIMES_BATCH = 10_000


def ledger_new_times(table: Table, entries) -> list[sql.Composed]:
    """``UPDATE`` of the modification time of ``table``'s files that were touched since they were
    loaded (same bytes, a new time), ``NEW_TIMES_BATCH`` at a time: each entry is a file's name and
    its new time (ISO text). A later daily run then takes them as unchanged without reading them
    again. A ``VALUES`` list: planned in an instant, where a ``UNION ALL`` of 1,000 ``SELECT``s took
    PostgreSQL 0.4 s a statement."""
    update = sql.SQL("UPDATE load_ledger SET modified = t.modified FROM (VALUES {}) AS t (file_name, modified)"
                     " WHERE load_ledger.table_name = {} AND load_ledger.file_name = t.file_name")
    return [update.format(rows, sql.Literal(table.name))
            for rows in _values_lists(entries, NEW_TIMES_BATCH, sql.SQL("({}, CAST({} AS TIMESTAMP))"))]


# The run's number on its files' ledger rows: PostgreSQL's loader writes it with them (CURRENT_RUN);
# Redshift's rows are inserted before their counts are known, and numbered after (LEDGER_RUN).
LEDGER_RUN = sql.SQL("UPDATE load_ledger SET run_no = {} WHERE run_no IS NULL").format(THIS_RUN)
CURRENT_RUN = sql.SQL("SELECT {}").format(THIS_RUN)

# Redshift's record of a COPY, in the SYS views that provisioned clusters and Serverless both have
# (STL_LOAD_COMMITS misses COPYs run on a concurrency-scaling cluster). SYS query ids are their own,
# not pg_last_copy_id()'s: a COPY is found as the connection's last load into the table that started
# at or after the server's clock read just before it (a session id alone may be a reused pid).
# Names in the SYS views are CHAR(256): FILE_NAME_LIMIT bytes at most.
FILE_NAME_LIMIT = 256
COPY_MARK = sql.SQL("SELECT pg_last_copy_id(), GETDATE()")


def _sys_copy(table: Table, since) -> sql.Composed:
    """The SYS query id of the connection's last COPY into ``table`` that started at or after ``since``
    (a server timestamp, or a placeholder for ``--dry-run``)."""
    since = since if isinstance(since, sql.Composable) else sql.Literal(since)
    return sql.SQL("SELECT MAX(query_id) FROM sys_load_history WHERE session_id = pg_backend_pid()"
                   " AND TRIM(table_name) = {} AND start_time >= CAST({} AS TIMESTAMP)").format(
        sql.Literal(table.name), since)


def copy_record(table: Table, since) -> sql.Composed:
    """Whether Redshift has recorded the COPY yet: its query id, status, the files it scanned and the
    files SYS_LOAD_DETAIL has so far, and the longest name there (in bytes)."""
    return sql.SQL("SELECT h.query_id, TRIM(h.status), h.file_count_scanned, COUNT(DISTINCT d.file_name),"
                   " MAX(OCTET_LENGTH(TRIM(d.file_name))) FROM sys_load_history AS h LEFT JOIN sys_load_detail AS d"
                   " ON d.query_id = h.query_id WHERE h.query_id = ({}) GROUP BY h.query_id, h.status,"
                   " h.file_count_scanned").format(_sys_copy(table, since))


_FILES_LOADED = sql.SQL("SELECT TRIM(file_name) AS file_name, SUM(bytes_scanned) AS bytes,"
                        " MAX(TRIM(BOTH '\"' FROM TRIM(file_etag))) AS etag, MAX(file_last_modified) AS modified,"
                        " SUM(lines_scanned) AS lines FROM sys_load_detail WHERE query_id = {}"
                        " GROUP BY TRIM(file_name)")


def ledger_from_copy(table: Table, query_id, loaded_at: str) -> sql.Composed:
    """A full rebuild's ledger rows for ``table``: every file its COPY read, as Redshift recorded
    it (name, bytes, ETag, modification time, lines scanned), numbered with this run."""
    query_id = query_id if isinstance(query_id, sql.Composable) else sql.Literal(int(query_id))
    return sql.SQL("INSERT INTO load_ledger ({}) SELECT {}, f.file_name, f.bytes, f.etag, f.modified, f.lines,"
                   " CAST({} AS TIMESTAMP), {} FROM ({}) AS f").format(
        _names(LOAD_LEDGER.column_names), sql.Literal(table.name), sql.Literal(loaded_at), THIS_RUN,
        _FILES_LOADED.format(query_id))


def ledger_row_counts(table: Table, query_id) -> sql.Composed:
    """A daily run's: the lines its COPY scanned in each of ``table``'s files just inserted in the
    ledger (from the listing), matched on the first FILE_NAME_LIMIT characters of the name."""
    query_id = query_id if isinstance(query_id, sql.Composable) else sql.Literal(int(query_id))
    return sql.SQL("UPDATE load_ledger SET row_count = c.lines FROM ({}) AS c"
                   " WHERE load_ledger.table_name = {} AND load_ledger.row_count IS NULL"
                   " AND LEFT(load_ledger.file_name, {}) = c.file_name").format(
        _FILES_LOADED.format(query_id), sql.Literal(table.name), sql.Literal(FILE_NAME_LIMIT))


# --- Data-quality checks: each counts violations; anything but 0 fails the run ----------------

def _duplicate_keys(table: str, *key: str) -> sql.Composed:
    return sql.SQL("SELECT COUNT(*) FROM (SELECT {key} FROM {table} GROUP BY {key} HAVING COUNT(*) > 1) AS d").format(
        key=_names(key), table=sql.Identifier(table)
    )


def _null_keys(table: str, key: str) -> sql.Composed:
    return sql.SQL("SELECT COUNT(*) FROM {table} WHERE {key} IS NULL").format(
        key=sql.Identifier(key), table=sql.Identifier(table)
    )


def _orphans(column: str, parent: str, parent_key: str) -> sql.Composed:
    return sql.SQL(
        "SELECT COUNT(*) FROM songplays AS f WHERE f.{column} IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM {parent} AS p WHERE p.{key} = f.{column})"
    ).format(column=sql.Identifier(column), parent=sql.Identifier(parent), key=sql.Identifier(parent_key))


_KEYS = [("songplays", "songplay_id"), ("users", "user_id"), ("songs", "song_id"), ("artists", "artist_id"),
         ("time", "start_time")]

# Unique keys: PostgreSQL enforces them (PRIMARY KEY), Redshift does not ("enforces_primary_keys").
UNIQUE_KEY_CHECKS = ([(f"{table}.{key} is unique", _duplicate_keys(table, key)) for table, key in _KEYS]
                     + [("every file is in load_ledger once",
                         _duplicate_keys("load_ledger", "table_name", "file_name"))])

# Columns declared NOT NULL, which both engines enforce ("enforces_not_null").
NOT_NULL_CHECKS = [(f"{table}.{key} has no NULL", _null_keys(table, key))
                   for table, key in _KEYS + [("songplays", "start_time"), ("songplays", "user_id")]]

QUALITY_CHECKS = (
    UNIQUE_KEY_CHECKS
    + NOT_NULL_CHECKS
    + [("every songplay's user is in users", _orphans("user_id", "users", "user_id")),
       ("every songplay's start_time is in time", _orphans("start_time", "time", "start_time")),
       ("every songplay's song_id is in songs", _orphans("song_id", "songs", "song_id")),
       ("every songplay's artist_id is in artists", _orphans("artist_id", "artists", "artist_id")),
       ("new NextSong events in staging = songplays this run added", sql.SQL(
           "SELECT ABS((SELECT COUNT(*) FROM ({}) AS n)"
           " - (SELECT COUNT(*) FROM songplays WHERE songplay_id >"
           " (SELECT songplays_before FROM load_runs WHERE run_no = {})))").format(_NEW_PLAYS, THIS_RUN)),
       ("every loaded file has its row count and run", sql.SQL(
           "SELECT COUNT(*) FROM load_ledger WHERE row_count IS NULL OR run_no IS NULL"))]
)


# --- Reporting ----------------------------------------------------------------------------------

MATCHED_PLAYS = sql.SQL("SELECT COUNT(*), COUNT(song_id) FROM songplays")


# --- Analytics: the questions the product and marketing teams ask (analytics.py) ---------------
# Plain SQL that runs unchanged on Redshift and PostgreSQL; %(top)s is a query parameter.

_WEEKDAY_NAME = ("CASE t.weekday WHEN 0 THEN 'Sunday' WHEN 1 THEN 'Monday' WHEN 2 THEN 'Tuesday'"
                 " WHEN 3 THEN 'Wednesday' WHEN 4 THEN 'Thursday' WHEN 5 THEN 'Friday' ELSE 'Saturday' END")


@dataclass(frozen=True)
class Question:
    name: str
    title: str
    columns: tuple[str, ...]
    statement: sql.Composable


ANALYTICS_QUERIES = [
    Question("plays_by_hour", "Plays per hour of day (UTC)", ("hour", "plays"), sql.SQL(
        "SELECT t.hour, COUNT(*) AS plays FROM songplays AS sp JOIN \"time\" AS t ON t.start_time = sp.start_time"
        " GROUP BY t.hour ORDER BY t.hour")),
    Question("plays_by_weekday", "Plays per weekday", ("weekday", "day", "plays"), sql.SQL(
        "SELECT t.weekday, " + _WEEKDAY_NAME + " AS day, COUNT(*) AS plays"
        " FROM songplays AS sp JOIN \"time\" AS t ON t.start_time = sp.start_time"
        " GROUP BY t.weekday ORDER BY t.weekday")),
    # the song id tells apart two songs of the same title and artist (the real data has such songs)
    Question("top_songs", "Most played songs (matched plays only)", ("title", "artist", "song_id", "plays"), sql.SQL(
        "SELECT s.title, a.name AS artist, s.song_id, COUNT(*) AS plays FROM songplays AS sp"
        " JOIN songs AS s ON s.song_id = sp.song_id JOIN artists AS a ON a.artist_id = sp.artist_id"
        " GROUP BY s.song_id, s.title, a.name ORDER BY plays DESC, s.title, a.name, s.song_id LIMIT %(top)s")),
    Question("top_artists", "Most played artists (matched plays only)", ("artist", "plays"), sql.SQL(
        "SELECT a.name AS artist, COUNT(*) AS plays FROM songplays AS sp"
        " JOIN artists AS a ON a.artist_id = sp.artist_id"
        " GROUP BY a.artist_id, a.name ORDER BY plays DESC, a.name, a.artist_id LIMIT %(top)s")),
    Question("top_users", "Most active users", ("user_id", "first_name", "last_name", "level", "plays", "sessions"),
             sql.SQL(
        "SELECT u.user_id, u.first_name, u.last_name, u.level, COUNT(*) AS plays,"
        " COUNT(DISTINCT sp.session_id) AS sessions FROM songplays AS sp JOIN users AS u ON u.user_id = sp.user_id"
        " GROUP BY u.user_id, u.first_name, u.last_name, u.level ORDER BY plays DESC, u.user_id LIMIT %(top)s")),
    Question("plays_by_level", "Free vs paid: plays and users", ("level", "plays", "users"), sql.SQL(
        "SELECT sp.level, COUNT(*) AS plays, COUNT(DISTINCT sp.user_id) AS users FROM songplays AS sp"
        " GROUP BY sp.level ORDER BY sp.level")),
    Question("level_changes", "Users who changed level", ("user_id", "first_name", "last_name", "level_now",
                                                           "free_plays", "paid_plays"), sql.SQL(
        "SELECT u.user_id, u.first_name, u.last_name, u.level AS level_now,"
        " SUM(CASE WHEN sp.level = 'free' THEN 1 ELSE 0 END) AS free_plays,"
        " SUM(CASE WHEN sp.level = 'paid' THEN 1 ELSE 0 END) AS paid_plays"
        " FROM songplays AS sp JOIN users AS u ON u.user_id = sp.user_id"
        " GROUP BY u.user_id, u.first_name, u.last_name, u.level HAVING COUNT(DISTINCT sp.level) > 1"
        " ORDER BY u.user_id")),
    Question("plays_by_location", "Plays per location", ("location", "plays"), sql.SQL(
        "SELECT sp.location, COUNT(*) AS plays FROM songplays AS sp WHERE sp.location IS NOT NULL"
        " GROUP BY sp.location ORDER BY plays DESC, sp.location LIMIT %(top)s")),
    Question("matched_share", "Plays matched to a song in the catalogue", ("plays", "matched", "matched_percent"),
             sql.SQL(
        "SELECT COUNT(*) AS plays, COUNT(sp.song_id) AS matched,"
        " CAST(ROUND(100.0 * COUNT(sp.song_id) / NULLIF(COUNT(*), 0), 1) AS DECIMAL(5, 1)) AS matched_percent"
        " FROM songplays AS sp")),
]
