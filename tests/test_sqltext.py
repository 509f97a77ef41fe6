"""The offline renderer gives the same text as psycopg2 on a real server, for every statement."""

import sql_queries as q
from conftest import REDSHIFT_CFG, all_redshift_statements
from sparkify import ledger, pipeline
from sparkify.config import load_config
from sparkify.engines import PostgresEngine
from sparkify.sqltext import render
from sparkify.steps import Statement


def test_render_equals_psycopg2(conn, tmp_path):
    path = tmp_path / "dwh.cfg"
    path.write_text(REDSHIFT_CFG)
    config = load_config(path)
    sample = load_config(tmp_path / "none.cfg")
    statements = all_redshift_statements(config) + [
        s.statement for s in pipeline.etl_steps(PostgresEngine(), sample, ledger.unlisted(sample))
        if isinstance(s, Statement)
    ] + [q.copy_from_stdin(t) for t in q.STAGING_TABLES] + [q.sql.SQL("SELECT {}").format(q.sql.Literal("a\\b'c"))]
    for statement in statements:
        assert render(statement) == statement.as_string(conn)
