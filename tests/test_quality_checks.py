"""Each data-quality check finds the violation it exists for: planted inside the ETL's transaction,
just before the checks, the run fails naming that check (and no other) and commits nothing."""

import dataclasses

import pytest
from psycopg2 import sql

import create_tables
import etl
import sql_queries as q
from conftest import fetch_all
from sparkify import pipeline
from sparkify.engines import PostgresEngine
from sparkify.steps import Statement

# check -> one statement that breaks exactly that rule in the freshly built star schema
PLANTS = {
    "songplays.songplay_id is unique": "UPDATE songplays SET songplay_id = 1 WHERE songplay_id = 2",
    "users.user_id is unique": "INSERT INTO users SELECT * FROM users ORDER BY user_id LIMIT 1",
    "songs.song_id is unique": "INSERT INTO songs SELECT * FROM songs ORDER BY song_id LIMIT 1",
    "artists.artist_id is unique": "INSERT INTO artists SELECT * FROM artists ORDER BY artist_id LIMIT 1",
    "time.start_time is unique": 'INSERT INTO "time" SELECT * FROM "time" ORDER BY start_time LIMIT 1',
    "songplays.songplay_id has no NULL":
        "INSERT INTO songplays SELECT NULL, start_time, user_id, level, song_id, artist_id, session_id,"
        " item_in_session, location, user_agent FROM songplays WHERE songplay_id = 1",
    "users.user_id has no NULL": "INSERT INTO users (user_id, level) VALUES (NULL, 'free')",
    "songs.song_id has no NULL": "INSERT INTO songs (song_id, title) VALUES (NULL, 'x')",
    "artists.artist_id has no NULL": "INSERT INTO artists (artist_id, name) VALUES (NULL, 'x')",
    "time.start_time has no NULL": 'INSERT INTO "time" (start_time, hour) VALUES (NULL, 0)',
    "songplays.start_time has no NULL": "UPDATE songplays SET start_time = NULL WHERE songplay_id = 1",
    "songplays.user_id has no NULL": "UPDATE songplays SET user_id = NULL WHERE songplay_id = 1",
    "every songplay's user is in users":
        "DELETE FROM users WHERE user_id = (SELECT user_id FROM songplays WHERE songplay_id = 1)",
    "every songplay's start_time is in time":
        'DELETE FROM "time" WHERE start_time = (SELECT start_time FROM songplays WHERE songplay_id = 1)',
    "every songplay's song_id is in songs":
        "DELETE FROM songs WHERE song_id = (SELECT MIN(song_id) FROM songplays)",
    "every songplay's artist_id is in artists":
        "DELETE FROM artists WHERE artist_id = (SELECT MIN(artist_id) FROM songplays)",
    "new NextSong events in staging = songplays this run added": "DELETE FROM songplays WHERE songplay_id = 1",
    "every file is in load_ledger once":
        "INSERT INTO load_ledger SELECT * FROM load_ledger ORDER BY file_name LIMIT 1",
    # both halves of the check: a file without its row count, and one without its run
    "every loaded file has its row count and run": (
        "UPDATE load_ledger SET row_count = NULL WHERE file_name = (SELECT MIN(file_name) FROM load_ledger)",
        "UPDATE load_ledger SET run_no = NULL WHERE file_name = (SELECT MIN(file_name) FROM load_ledger)"),
}
PLANTINGS = [(check, plant) for check, plants in PLANTS.items()
             for plant in (plants if isinstance(plants, tuple) else (plants,))]


def test_every_check_has_a_plant():
    assert sorted(PLANTS) == sorted(name for name, _ in q.QUALITY_CHECKS)


def table_state(conn):
    return {table.name: sorted(fetch_all(conn, table.name, "1"), key=repr) for table in q.TABLES}


@pytest.mark.parametrize("check, plant", PLANTINGS, ids=[f"{check} ({number})" for number, (check, _)
                                                         in enumerate(PLANTINGS)])
def test_each_check_fails_the_run_on_its_violation(conn, write_config, monkeypatch, capsys, check, plant):
    config = write_config()
    assert create_tables.main(["--config", str(config), "-q"]) == 0
    # The keys' own constraints would stop the plant first: drop them, and run the uniqueness
    # checks as Redshift does (it does not enforce primary keys).
    with conn.cursor() as cur:
        for table in q.STAR_TABLES + (q.LOAD_LEDGER,):
            if table.primary_key:
                cur.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.Identifier(table.name), sql.Identifier(f"{table.name}_pkey")))
            for column in table.columns:
                if column.identity:
                    cur.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN {} DROP IDENTITY").format(
                        sql.Identifier(table.name), sql.Identifier(column.name)))
                if column.not_null:
                    cur.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL").format(
                        sql.Identifier(table.name), sql.Identifier(column.name)))
    conn.commit()
    monkeypatch.setattr(PostgresEngine, "dialect",
                        dataclasses.replace(q.POSTGRES, enforces_primary_keys=False, enforces_not_null=False))
    assert etl.main(["--config", str(config), "-q"]) == 0
    before = table_state(conn)
    capsys.readouterr()

    plain_steps = pipeline.song_steps  # the checks come last

    def planted(engine, cfg, batch):
        steps = plain_steps(engine, cfg, batch)
        first_check = next(i for i, step in enumerate(steps) if step.is_check and not step.enforced)
        return steps[:first_check] + [Statement("plant", sql.SQL(plant))] + steps[first_check:]

    monkeypatch.setattr(pipeline, "song_steps", planted)
    assert etl.main(["--config", str(config)]) == 1
    out, err = capsys.readouterr()
    failed = [line.split("  ")[0] for line in out.splitlines() if line.endswith("FAILED")]
    assert failed == [check]
    assert f"data-quality checks passed: {len(PLANTS) - 1} of {len(PLANTS)}" in out
    last = err.splitlines()[-1]
    assert last.startswith(f"error: data-quality check failed: {check} (")
    assert last.endswith(" violations); rolled back, the warehouse is unchanged")
    assert table_state(conn) == before
