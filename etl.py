"""Load the raw JSON into staging, build the star schema, check it and print a summary.

Run:  python etl.py [--config dwh.cfg] [--dry-run] [--quiet]

Everything happens in one transaction: if a load, a statement or a data-quality check fails, or the
run is interrupted, nothing is committed and the warehouse is as it was. Run create_tables.py first.
"""

import dataclasses
import sys

from sparkify import cli, db, pipeline


def run_etl(args, config) -> int:
    if args.max_errors is not None:
        config = dataclasses.replace(config, sources=dataclasses.replace(config.sources, max_errors=args.max_errors))
    src = config.sources
    data = "the shipped sample data" if src.is_sample else f"{src.log_data} and {src.song_data}"
    if args.dry_run:
        engine = db.planned_engine(config)
        cli.log.info("dry run for %s (%s) with %s: nothing is sent", db.describe(config), engine, data)
        cli.print_plan(pipeline.describe_steps(pipeline.etl_steps(engine, config)))
        return 0
    with db.open_target(config) as target:
        cli.log.info("target: %s (%s); data: %s", target.description, target.engine, data)
        steps = pipeline.etl_steps(target.engine, config)
        report = pipeline.Report()
        try:
            pipeline.execute(target.conn, steps, show_progress=cli.show_progress(args), report=report)
        finally:
            if report.checks and not args.quiet:
                print(pipeline.format_report(report, target.description))
    return 0


def main(argv=None) -> int:
    parser = cli.parser(__doc__)
    parser.add_argument("--max-errors", type=int, metavar="N",
                        help="skip up to N bad records per staging table, keeping them in load_errors"
                             " (default: [S3] MAX_ERRORS, or 0: stop at the first)")
    args = parser.parse_args(argv)
    if args.max_errors is not None and args.max_errors < 0:
        parser.error("--max-errors must be 0 or more")
    return cli.run(args, run_etl)


if __name__ == "__main__":
    sys.exit(main())
