"""Drop and recreate the Sparkify staging tables and star schema.

Run:  python create_tables.py [--config dwh.cfg] [--dry-run] [--quiet]

Drops the project's 13 tables (only these: staging_events and staging_songs; songplays, users,
songs, artists and time; load_errors; the ledger and what daily loads keep: load_runs, load_ledger,
loaded_songs, user_latest, play_songs) and creates them again, in one transaction. Without dwh.cfg
it works on the embedded PostgreSQL.
"""

import sparkify  # noqa: F401, I001 -- first: from here on Ctrl-C is one line (sparkify.interrupts)

import sys

import sql_queries as q
from sparkify import cli, db, engines, pipeline


def create_tables(args, config) -> int:
    if args.dry_run:
        engine = engines.planned(config)
        cli.log.info("dry run for %s (%s): nothing is sent", db.describe(config), engine)
        cli.print_plan(pipeline.describe_steps(pipeline.create_table_steps(engine)))
        return 0
    with db.open_target(config) as target:
        cli.say_target(args, config, f"{target.description} ({target.engine})")
        pipeline.execute(target.conn, pipeline.create_table_steps(target.engine))
    cli.log.info("created %d tables: %s", len(q.TABLES), ", ".join(q.PROJECT_TABLE_NAMES))
    return 0


def main(argv=None) -> int:
    args = cli.parser(__doc__).parse_args(argv)
    return cli.run(args, create_tables)


if __name__ == "__main__":
    sys.exit(main())
