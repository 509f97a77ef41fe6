"""The data-quality checks: each counts violations, and anything but 0 fails the run."""

from __future__ import annotations

from psycopg2 import sql

from .ledger import THIS_RUN
from .schema import names
from .transform import NEW_PLAYS

def _duplicate_keys(table: str, *key: str) -> sql.Composed:
    return sql.SQL("SELECT COUNT(*) FROM (SELECT {key} FROM {table} GROUP BY {key} HAVING COUNT(*) > 1) AS d").format(
        key=names(key), table=sql.Identifier(table)
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


KEYS = [("songplays", "songplay_id"), ("users", "user_id"), ("songs", "song_id"), ("artists", "artist_id"),
         ("time", "start_time")]

# Unique keys: PostgreSQL enforces them (PRIMARY KEY), Redshift does not ("enforces_primary_keys").
UNIQUE_KEY_CHECKS = ([(f"{table}.{key} is unique", _duplicate_keys(table, key)) for table, key in KEYS]
                     + [("every file is in load_ledger once",
                         _duplicate_keys("load_ledger", "table_name", "file_name"))])

# Columns declared NOT NULL, which both engines enforce ("enforces_not_null").
NOT_NULL_CHECKS = [(f"{table}.{key} has no NULL", _null_keys(table, key))
                   for table, key in KEYS + [("songplays", "start_time"), ("songplays", "user_id")]]

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
           " (SELECT songplays_before FROM load_runs WHERE run_no = {})))").format(NEW_PLAYS, THIS_RUN)),
       ("every loaded file has its row count and run", sql.SQL(
           "SELECT COUNT(*) FROM load_ledger WHERE row_count IS NULL OR run_no IS NULL"))]
)

# The plays and those matched to a song, for the run summary.
MATCHED_PLAYS = sql.SQL("SELECT COUNT(*), COUNT(song_id) FROM songplays")
