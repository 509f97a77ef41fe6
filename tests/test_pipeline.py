"""The scripts end to end on a real PostgreSQL, checked row by row against tests/oracle.py."""

import shutil

import pytest

import cleanup
import create_tables
import etl
import sql_queries as q
from conftest import SAMPLE, UDACITY, assert_matches_oracle, full_state, without_target


def run_pipeline(config):
    assert create_tables.main(["--config", str(config), "--quiet"]) == 0
    assert etl.main(["--config", str(config), "--quiet"]) == 0


def test_sample_matches_oracle(conn, write_config, capsys):
    config = write_config()
    assert create_tables.main(["--config", str(config), "--quiet"]) == 0
    assert etl.main(["--config", str(config)]) == 0
    assert_matches_oracle(conn, SAMPLE / "log_data", SAMPLE / "song_data")
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*), COUNT(song_id), COUNT(*) - COUNT(song_id) FROM songplays")
        total, matched, unmatched = cur.fetchone()
    conn.rollback()
    assert matched > 0 and unmatched > 0 and total == matched + unmatched
    # the summary's count is the table's
    assert (f"songplays matched to a song: {matched:,} of {total:,} ({100.0 * matched / total:.1f}%)"
            in capsys.readouterr().out.splitlines())


def test_postgres_indexes_the_song_records_by_title_and_artist(conn, write_config):
    """The song match looks up every play's title and artist in loaded_songs: PostgreSQL gets an
    index for it (Redshift none: its sort and distribution keys serve)."""
    run_pipeline(write_config())
    with conn.cursor() as cur:
        cur.execute("SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                    " AND indexname NOT LIKE '%%_pkey' ORDER BY indexname")
        assert [(table, definition.split(" USING ")[1]) for table, definition in cur.fetchall()] == [
            ("loaded_songs", "btree (title, artist_name)")]
    conn.rollback()
    assert q.CREATE_INDEX_QUERIES["redshift"] == []


def test_sample_exercises_every_rule(conn, write_config):
    run_pipeline(write_config())
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM staging_events WHERE user_id = '' AND auth = 'Logged Out'")
        assert cur.fetchone()[0] > 0
        cur.execute("SELECT COUNT(DISTINCT user_id) FROM songplays GROUP BY user_id HAVING COUNT(DISTINCT level) > 1")
        assert len(cur.fetchall()) > 0, "no user changes level"
        cur.execute("SELECT title, artist_name FROM staging_songs GROUP BY 1, 2 HAVING COUNT(*) > 1")
        [(title, artist)] = cur.fetchall()
        cur.execute("SELECT COUNT(DISTINCT song_id) FROM songplays p JOIN songs s USING (song_id) WHERE s.title = %s",
                    (title,))
        assert cur.fetchone()[0] == 2, "plays should reach both songs of the duplicate title by duration"
        cur.execute("SELECT artist_id FROM staging_songs GROUP BY 1 HAVING COUNT(DISTINCT artist_name) > 1")
        assert len(cur.fetchall()) == 1
    conn.rollback()


def test_rerun_gives_identical_tables(conn, write_config):
    config = write_config()
    run_pipeline(config)
    first = full_state(conn)
    assert etl.main(["--config", str(config), "--quiet"]) == 0
    assert full_state(conn) == first


def test_failed_load_leaves_previous_warehouse_intact(conn, write_config, tmp_path, capsys):
    run_pipeline(write_config())
    before = full_state(conn)
    logs = tmp_path / "log_data"
    shutil.copytree(SAMPLE / "log_data", logs)
    bad = logs / "2018" / "11" / "2018-11-30-events.json"
    bad.write_text('{"ts": 1543622400000, "page": "NextSong", "userId": "7"}\n{"ts": "soon"}\n')
    assert etl.main(["--config", str(write_config(log_data=logs)), "--quiet"]) == 1
    err = without_target(capsys.readouterr().err)
    assert err == (f"error: {bad}, line 2, column ts: invalid input syntax for type bigint: \"soon\""
                   " (loading staging_events)\n")
    assert full_state(conn) == before


def test_failed_check_rolls_back(conn, write_config, monkeypatch, capsys):
    config = write_config()
    run_pipeline(config)
    before = full_state(conn)
    import sql_queries as q
    from psycopg2 import sql

    failing = ("songs have a year after 1900", sql.SQL("SELECT COUNT(*) FROM songs WHERE year <= 1900"))
    monkeypatch.setattr(q, "QUALITY_CHECKS", q.QUALITY_CHECKS + [failing])
    assert etl.main(["--config", str(config)]) == 1
    out, err = capsys.readouterr()
    err = without_target(err)
    assert "data-quality checks passed: 19 of 20" in out
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM songs WHERE year <= 1900")
        [(violations,)] = cur.fetchall()
    conn.rollback()
    [logged] = [line for line in err.splitlines() if line.startswith("songs have a year after 1900: ")]
    assert violations > 0 and logged.startswith(f"songs have a year after 1900: {violations} violations in ")
    assert [line.split()[-1] for line in out.splitlines() if line.startswith("songs have a year after 1900")] == ["FAILED"]
    assert err.splitlines()[-1].startswith("error: data-quality check failed: songs have a year after 1900 (")
    assert err.splitlines()[-1].endswith("violations); rolled back, the warehouse is unchanged")
    assert full_state(conn) == before


def test_postgres_leaves_unique_key_checks_to_the_primary_keys(conn, write_config, capsys):
    """On PostgreSQL a duplicate key cannot get in (the INSERT fails), nor a NULL where the column is
    NOT NULL, so those checks are reported, not run (tests/test_redshift_sql.py: Redshift runs the
    uniqueness checks)."""
    config = write_config()
    run_pipeline(config)
    assert etl.main(["--config", str(config)]) == 0
    out, err = capsys.readouterr()
    unique = [name for name, _ in q.UNIQUE_KEY_CHECKS]
    not_null = [name for name, _ in q.NOT_NULL_CHECKS]
    assert [line.split("  ")[0] for line in out.splitlines() if line.endswith("pass (PRIMARY KEY)")] == unique
    assert [line.split("  ")[0] for line in out.splitlines() if line.endswith("pass (NOT NULL)")] == not_null
    # each check that runs is logged as it ends (progress: at 10M events they take seconds), in order
    logged = [line.rsplit(" in ", 1)[0] for line in err.splitlines() if " violations in " in line]
    assert logged == [f"{name}: 0 violations" for name, _ in q.QUALITY_CHECKS if name not in unique + not_null]
    with conn.cursor() as cur, pytest.raises(Exception, match="duplicate key"):
        cur.execute("INSERT INTO users SELECT * FROM users LIMIT 1")
    conn.rollback()
    with conn.cursor() as cur, pytest.raises(Exception, match="violates not-null constraint"):
        cur.execute("UPDATE songplays SET start_time = NULL WHERE songplay_id = 1")
    conn.rollback()


def test_cleanup_drops_only_project_tables(conn, write_config, schema):
    config = write_config()
    run_pipeline(config)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE songs_backup (x int); CREATE TABLE songplays_old (x int)")
        cur.execute("CREATE SCHEMA IF NOT EXISTS other_" + schema)
        cur.execute(f"CREATE TABLE other_{schema}.users (x int)")
    conn.commit()
    assert create_tables.main(["--config", str(config), "--quiet"]) == 0  # decoys survive a recreate too
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s", (schema,))
        assert cur.fetchone()[0] == len(q.TABLES) + 2
    conn.rollback()
    assert cleanup.main(["--config", str(config), "--yes", "--quiet"]) == 0
    with conn.cursor() as cur:
        cur.execute("SELECT table_schema, table_name FROM information_schema.tables"
                    " WHERE table_schema IN (%s, %s) ORDER BY 1, 2", (schema, "other_" + schema))
        assert cur.fetchall() == [("other_" + schema, "users"), (schema, "songplays_old"), (schema, "songs_backup")]
        cur.execute(f"DROP SCHEMA other_{schema} CASCADE")
    conn.commit()


@pytest.mark.skipif(not UDACITY.exists(), reason="../shared/data/udacity is not here")
def test_real_udacity_data(conn, write_config):
    run_pipeline(write_config(log_data=UDACITY / "log_data", song_data=UDACITY / "song_data",
                              log_jsonpath=UDACITY / "log_json_path.json"))
    with conn.cursor() as cur:
        cur.execute("SELECT (SELECT COUNT(*) FROM staging_events), (SELECT COUNT(*) FROM staging_songs),"
                    " (SELECT COUNT(*) FROM songplays)")
        assert cur.fetchone() == (8056, 1943, 6820)
    conn.rollback()
    assert_matches_oracle(conn, UDACITY / "log_data", UDACITY / "song_data")


def test_execute_commits_every_step_or_none(conn):
    """create_tables.py's and cleanup.py's runner: one transaction, committed only if every step succeeds."""
    from psycopg2 import sql

    from sparkify import pipeline
    from sparkify.errors import DatabaseError
    from sparkify.steps import Statement

    def statement(text):
        return Statement(text, sql.SQL(text))

    first = [statement("CREATE TABLE planned (n integer)"), statement("INSERT INTO planned VALUES (1)")]
    report = pipeline.execute(conn, first)
    assert [result.rows for result in report.results] == [0, 1]
    with pytest.raises(DatabaseError) as err:
        pipeline.execute(conn, [statement("INSERT INTO planned VALUES (2)"), statement("INSERT INTO planned VALUES ('x')")])
    assert str(err.value).startswith("INSERT INTO planned VALUES ('x') failed: invalid input syntax for type integer")
    with conn.cursor() as cur:
        cur.execute("SELECT n FROM planned ORDER BY n")
        assert cur.fetchall() == [(1,)]  # the second transaction's first INSERT was rolled back
        cur.execute("DROP TABLE planned")
    conn.commit()


def test_a_listing_that_fails_while_the_events_load_stops_the_run_at_its_next_step(write_config, monkeypatch, conn):
    """The song files are listed while the events load: a listing that fails then stops the run
    before its next step, rolled back, instead of once the songs are to load."""
    import create_tables
    import etl
    from sparkify import ledger
    from sparkify.errors import DataSourceError
    from sparkify.run import Run

    cfg = write_config()
    assert create_tables.main(["--config", str(cfg), "-q"]) == 0
    ran = []
    run_step = Run.run_step

    def recording(self, cur, step):
        ran.append(step.label)
        return run_step(self, cur, step)

    def check(self):
        if "load staging_events" in ran:
            raise DataSourceError("cannot list the song files: gone")

    monkeypatch.setattr(Run, "run_step", recording)
    monkeypatch.setattr(ledger.Planning, "check", check)
    assert etl.main(["--config", str(cfg), "-q"]) == 1
    assert ran[-1] == "load staging_events"  # the step after it never ran
    with conn.cursor() as cur:
        cur.execute("SELECT (SELECT COUNT(*) FROM staging_events), (SELECT COUNT(*) FROM load_runs)")
        assert cur.fetchone() == (0, 0)
    conn.rollback()


def test_the_log_says_each_tables_files_before_they_load(write_config, capsys):
    """In the order things happen: the event files known, loaded, transformed; then the song files."""
    import create_tables
    import etl

    cfg = write_config()
    assert create_tables.main(["--config", str(cfg), "-q"]) == 0
    capsys.readouterr()
    assert etl.main(["--config", str(cfg)]) == 0
    lines = capsys.readouterr().err.splitlines()
    order = [next(i for i, line in enumerate(lines) if line.startswith(start)) for start in (
        "staging_events: 4 files, all loaded", "loaded 1200 rows from 4 files into staging_events",
        "insert time:", "staging_songs: 120 files, all loaded", "loaded 120 rows from 120 files into staging_songs")]
    assert order == sorted(order)
