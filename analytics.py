"""Answer the analysts' questions about the warehouse: when, what and who people listen to.

Run:  python analytics.py [--config dwh.cfg] [--top N] [--format table|csv|json] [--charts DIR]

Plays per hour and per weekday, the most played songs and artists, the most active users, free vs
paid, users who changed level, plays per location and the share of plays matched to a song. Run
create_tables.py and etl.py first.
"""

import sparkify  # noqa: F401, I001 -- first: from here on Ctrl-C is one line (sparkify.interrupts)

import sys

import sql_queries as q
from sparkify import analytics, cli, db
from sparkify.sqltext import one_line

TOP_LIMIT = 2**63 - 1  # LIMIT is a BIGINT


def answer(args, config) -> int:
    if args.dry_run:
        cli.log.info("dry run for %s: nothing is sent", db.describe(config))
        cli.print_plan([one_line(question.statement) % {"top": args.top} + ";" for question in q.ANALYTICS_QUERIES])
        return 0
    with db.open_target(config) as target:
        cli.say_target(args, config, f"{target.description} ({target.engine})")
        answers = analytics.ask(target.conn, top=args.top)
    sys.stdout.write(analytics.RENDERERS[args.format](answers))
    if args.charts:
        for path in analytics.write_charts(answers, args.charts):
            cli.log.info("chart: %s", path)
    return 0


def main(argv=None) -> int:
    parser = cli.parser(__doc__)
    parser.add_argument("--top", type=int, default=10, metavar="N", help="rows in the top-N answers (default 10)")
    parser.add_argument("--format", choices=sorted(analytics.RENDERERS), default="table",
                        help="output format (default table)")
    parser.add_argument("--charts", metavar="DIR", help="also write PNG charts into DIR")
    args = parser.parse_args(argv)
    if not 1 <= args.top <= TOP_LIMIT:
        parser.error(f"--top must be from 1 to {TOP_LIMIT:,} (the largest LIMIT the server takes)")
    return cli.run(args, answer)


if __name__ == "__main__":
    sys.exit(main())
