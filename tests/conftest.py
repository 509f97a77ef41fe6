"""Fixtures: a real PostgreSQL for the whole session, and a schema of its own for each test.

The server is the embedded PostgreSQL (started in a temporary folder) unless SPARKIFY_TEST_DSN
names another one, e.g. ``SPARKIFY_TEST_DSN=postgresql://postgres@127.0.0.1:5432/test``.
"""

import os
import secrets
import sys
from pathlib import Path

import psycopg2
import pytest
from psycopg2.extensions import parse_dsn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

UDACITY = ROOT.parent / "shared" / "data" / "udacity"
SAMPLE = ROOT / "sample_data"
DSN = os.environ.get("SPARKIFY_TEST_DSN")


def pytest_report_header(config):
    if DSN:
        safe = {k: v for k, v in parse_dsn(DSN).items() if k != "password"}
        return f"database: SPARKIFY_TEST_DSN {safe}"
    return "database: embedded PostgreSQL (set SPARKIFY_TEST_DSN for another server)"


@pytest.fixture(scope="session")
def pg_params(tmp_path_factory):
    """psycopg2 keyword arguments for the test server."""
    if DSN:
        params = parse_dsn(DSN)
    else:
        from sparkify.db import embedded_connect_params

        params = embedded_connect_params(tmp_path_factory.mktemp("embedded") / "pgdata")
    with psycopg2.connect(**params) as conn, conn.cursor() as cur:
        cur.execute("SELECT version()")
        print("test server:", cur.fetchone()[0], file=sys.stderr)
    conn.close()
    return params


@pytest.fixture
def schema(pg_params):
    """A fresh schema for one test, dropped afterwards."""
    name = "test_" + secrets.token_hex(6)
    conn = psycopg2.connect(**pg_params)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE SCHEMA "{name}"')
    yield name
    with conn.cursor() as cur:
        cur.execute(f'DROP SCHEMA "{name}" CASCADE')
    conn.close()


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
