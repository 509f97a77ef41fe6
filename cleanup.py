"""Drop the Sparkify tables when you are done.

Run:  python cleanup.py [--config dwh.cfg] [--yes] [--dry-run] [--quiet]

Drops exactly staging_events, staging_songs, songplays, users, songs, artists, time and
load_errors; nothing else in the database is touched. Asks first unless --yes, when the target is not the embedded
default.
"""

import sys

import sql_queries as q
from sparkify import cli, db, pipeline
from sparkify.errors import SparkifyError


class NotConfirmed(SparkifyError):
    pass


def cleanup(args, config) -> int:
    steps = pipeline.drop_table_steps()
    if args.dry_run:
        cli.log.info("dry run for %s: nothing is sent", db.describe(config))
        cli.print_plan(pipeline.describe_steps(steps))
        return 0
    if not config.embedded and not args.yes:
        _confirm(db.describe(config))
    with db.open_target(config) as target:
        pipeline.execute(target.conn, steps)
        cli.log.info("dropped %s from %s", ", ".join(q.PROJECT_TABLE_NAMES), target.description)
    return 0


def _confirm(where: str) -> None:
    question = f"Drop {', '.join(q.PROJECT_TABLE_NAMES)} from {where}? [y/N] "
    if not sys.stdin.isatty():
        raise NotConfirmed(f"not dropping tables on {where} without confirmation: run with --yes")
    if input(question).strip().lower() not in ("y", "yes"):
        raise NotConfirmed("nothing dropped")


def main(argv=None) -> int:
    parser = cli.parser(__doc__)
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    args = parser.parse_args(argv)
    return cli.run(args, cleanup)


if __name__ == "__main__":
    sys.exit(main())
