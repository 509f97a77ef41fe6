"""The engines: what differs between PostgreSQL and Redshift lives in their classes, and the rest
of the code asks the engine instead of comparing its name.

``planned(config)`` is the engine as far as the config tells without connecting (``--dry-run``);
``detect(conn, config)`` asks the server. ``RedshiftEngine`` derives from ``PostgresEngine``: the
transform is the same SQL; loading, validating, clearing and explaining a failed load differ.
"""

from __future__ import annotations

import sql_queries as q

from ..config import Config
from .postgres import PostgresEngine
from .redshift import STL, SYS, RedshiftEngine

Engine = PostgresEngine  # the base every engine derives from
# each engine's class, by the name of its dialect (``sparkify.queries.dialect.DIALECTS``, the registry)
BY_NAME = {engine.dialect.name: engine for engine in (PostgresEngine, RedshiftEngine)}


def planned(config: Config) -> Engine:
    """The engine as far as it is known without connecting (for --dry-run); on Redshift, a
    Serverless endpoint's name says which view explains a COPY (a connection asks the server)."""
    if config.embedded:
        return PostgresEngine()
    engine = BY_NAME.get(config.cluster.engine)
    if engine is None:  # ENGINE = auto
        engine = next((found for found in BY_NAME.values() if found.dialect.host_suffixes
                       and config.cluster.host.endswith(found.dialect.host_suffixes)), PostgresEngine)
    if engine is RedshiftEngine:
        return RedshiftEngine(SYS if config.cluster.serverless else STL)
    return engine()


def detect(conn, config: Config) -> Engine:
    """The engine ``[CLUSTER] ENGINE`` names, else the one the server's version says."""
    engine = BY_NAME.get(config.cluster.engine) if config.cluster else None
    if engine is None:
        with conn.cursor() as cur:
            cur.execute(q.SERVER_VERSION)
            version = cur.fetchone()[0].lower()
        engine = next((found for found in BY_NAME.values()
                       if found.dialect.version_word and found.dialect.version_word in version), PostgresEngine)
    return engine().connected(conn)


__all__ = ["Engine", "PostgresEngine", "RedshiftEngine", "detect", "planned"]
