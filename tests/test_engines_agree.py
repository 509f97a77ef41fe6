"""Where Redshift and PostgreSQL could answer the same SQL differently, the project decides so that
they do not: strings compare byte by byte on both (whatever the server's locale), Redshift declares
no primary key for its planner to trust, and a statement Redshift lacks is never planned for it."""

import json
import secrets

import psycopg2
import pytest

import create_tables
import etl
import sql_queries as q
from conftest import SAMPLE, assert_matches_oracle, fetch_all
from sparkify.engines import PostgresEngine, RedshiftEngine
from sparkify.ledger import TableBatch
from sparkify.source import SourceObject
from sparkify.sqltext import one_line

EVENT = json.loads((SAMPLE / "log_data/2018/11/2018-11-01-events.json").read_text().splitlines()[0])


def song(song_id: str, artist_id: str) -> dict:
    return {"num_songs": 1, "artist_id": artist_id, "artist_latitude": None, "artist_longitude": None,
            "artist_location": "", "artist_name": "Band", "song_id": song_id, "title": "Tune", "duration": 200.0,
            "year": 2000}


@pytest.fixture
def icu_database(pg_params):
    """A database whose default collation is ICU's en-US, where 'SOa' sorts before 'SOB' (byte
    order has it the other way); its name."""
    name = "sparkify_icu_" + secrets.token_hex(4)
    admin = psycopg2.connect(**pg_params)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
                        " LOCALE 'C.UTF-8'")
    except psycopg2.Error as exc:
        admin.close()
        pytest.skip(f"this server cannot create an ICU database: {exc}")
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()


def test_a_tie_broken_by_a_string_picks_the_same_row_in_any_locale(tmp_path, pg_params, icu_database):
    """Two songs equally close to a play: the smaller song_id in byte order (Redshift's, and the
    oracle's) wins, on a server whose own order says otherwise."""
    params = dict(pg_params, dbname=icu_database)
    with psycopg2.connect(**params) as check, check.cursor() as cur:
        cur.execute("SELECT 'SOa' < 'SOB', 'SOa' COLLATE \"C\" < 'SOB'")
        assert cur.fetchone() == (True, False)  # the locale's order is not byte order
    check.close()
    (tmp_path / "log_data").mkdir()
    (tmp_path / "song_data").mkdir()
    event = dict(EVENT, song="Tune", artist="Band", length=200.0)
    (tmp_path / "log_data" / "events.json").write_text(json.dumps(event) + "\n")
    for song_id, artist_id in (("SOa", "ARa"), ("SOB", "ARB")):
        (tmp_path / "song_data" / f"{song_id}.json").write_text(json.dumps(song(song_id, artist_id)))
    conn = build(tmp_path, params, tmp_path)
    try:
        assert [row[4:6] for row in fetch_all(conn, "songplays", "songplay_id")] == [("SOB", "ARB")]
        assert_matches_oracle(conn, tmp_path / "log_data", tmp_path / "song_data")
    finally:
        conn.close()


def test_the_sample_gives_the_oracles_warehouse_in_an_icu_locale(tmp_path, pg_params, icu_database):
    """The whole pipeline on a database whose default collation is not byte order: the sample's
    warehouse is still the oracle's (the tie above is the one whose answer the locale changes)."""
    conn = build(tmp_path, dict(pg_params, dbname=icu_database), SAMPLE)
    try:
        assert_matches_oracle(conn, SAMPLE / "log_data", SAMPLE / "song_data")
    finally:
        conn.close()


def build(tmp_path, params: dict, data):
    """create_tables.py and etl.py over ``data`` into the database ``params`` names; a connection."""
    cfg = tmp_path / "dwh.cfg"
    cfg.write_text(f"[CLUSTER]\nHOST={params.get('host', 'localhost')}\nDB_PORT={params.get('port', 5432)}\n"
                   f"DB_NAME={params['dbname']}\nDB_USER={params.get('user', 'postgres')}\n"
                   f"DB_PASSWORD={params.get('password', '')}\n"
                   f"[S3]\nLOG_DATA={data / 'log_data'}\nSONG_DATA={data / 'song_data'}\n"
                   f"LOG_JSONPATH={SAMPLE / 'log_json_path.json'}\n")
    assert create_tables.main(["--config", str(cfg), "-q"]) == 0
    assert etl.main(["--config", str(cfg), "-q"]) == 0
    return psycopg2.connect(**params)


def test_redshift_declares_no_primary_key_and_checks_every_key():
    """Redshift enforces no key and its planner trusts a declared one: none is declared there, and
    every uniqueness check runs; PostgreSQL declares them, and its checks are the constraints."""
    redshift = [one_line(statement) for statement in q.CREATE_TABLE_QUERIES["redshift"]]
    postgres = [one_line(statement) for statement in q.CREATE_TABLE_QUERIES["postgres"]]
    assert [text for text in redshift if "PRIMARY KEY" in text] == []
    assert sum("PRIMARY KEY" in text for text in postgres) == sum(bool(t.primary_key) for t in q.TABLES)
    unique = {name for name, _ in q.UNIQUE_KEY_CHECKS}
    assert {check.label for check in RedshiftEngine().checks() if not check.enforced} >= unique
    assert not {check.label for check in PostgresEngine().checks() if not check.enforced} & unique


def test_the_statement_for_touched_files_is_never_planned_for_redshift():
    """UPDATE ... FROM (VALUES ...) is PostgreSQL's way to note touched files' new times; Redshift
    has no VALUES table, and its S3 files are never touched (their ETag says so)."""
    spec = q.STAGING_SONGS
    touched = SourceObject("/in/song_data/a.json", 10)
    from conftest import table_input

    batch = TableBatch(table_input(spec, "/in/song_data"), touched=(touched,))
    assert [one_line(step.statement).split(" FROM ")[0] for step in PostgresEngine().new_times(batch)] == [
        "UPDATE load_ledger SET modified = t.modified"]
    assert RedshiftEngine().new_times(TableBatch(table_input(spec, "s3://b/song_data"))) == []
    with pytest.raises(ValueError, match="touched files come only from local folders"):
        RedshiftEngine().new_times(batch)


def test_trailing_blanks_are_kept_and_significant_on_postgresql(tmp_path, write_config, conn):
    """The decision docs/redshift.md records: values are loaded as the files have them (no
    TRIMBLANKS on Redshift, no trimming here), so a title that differs from a play's only by a
    trailing blank does not match on PostgreSQL (Redshift would ignore the blank)."""
    (tmp_path / "log_data").mkdir()
    (tmp_path / "song_data").mkdir()
    event = dict(EVENT, song="Tune", artist="Band", length=200.0)
    (tmp_path / "log_data" / "events.json").write_text(json.dumps(event) + "\n")
    (tmp_path / "song_data" / "SOa.json").write_text(json.dumps(dict(song("SOa", "ARa"), title="Tune ")))
    cfg = write_config(log_data=tmp_path / "log_data", song_data=tmp_path / "song_data")
    assert create_tables.main(["--config", str(cfg), "-q"]) == 0
    assert etl.main(["--config", str(cfg), "-q"]) == 0
    assert [row[4] for row in fetch_all(conn, "songplays", "songplay_id")] == [None]
    assert [row[1] for row in fetch_all(conn, "songs", "song_id")] == ["Tune "]


REAL = SAMPLE.parent.parent / "shared" / "data" / "udacity"


@pytest.mark.skipif(not REAL.is_dir(), reason="the real Sparkify data (../shared/data/udacity) is not here")
def test_in_the_real_data_no_play_differs_from_a_song_only_by_trailing_blanks():
    """So both engines build the same warehouse from it, though the data has titles that end in a
    blank: the claim docs/redshift.md makes."""
    from oracle import read_events, read_songs

    def text(value):
        return None if value is None else str(value)

    songs = read_songs(REAL / "song_data")
    exact = {(text(s["title"]), text(s["artist_name"])) for s in songs}
    blank_insensitive = {(text(s["title"]).rstrip(" "), text(s["artist_name"]).rstrip(" ")) for s in songs}
    plays = [(e["song"], e["artist"]) for e in read_events(REAL / "log_data") if e["page"] == "NextSong" and e["song"]]
    assert any(title.endswith(" ") for title, _ in exact)
    assert [play for play in plays if play not in exact
            and (play[0].rstrip(" "), play[1].rstrip(" ")) in blank_insensitive] == []
    assert sum(play in exact for play in plays) > 0
