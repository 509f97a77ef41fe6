"""Load the raw JSON into staging, build the star schema, check it and print a summary.

Run:  python etl.py [--config dwh.cfg] [--dry-run] [--quiet]

Everything happens in one transaction: if a load, a statement or a data-quality check fails, or the
run is interrupted, nothing is committed and the warehouse is as it was. Run create_tables.py first.
"""

import sys

from sparkify import cli, db, pipeline


def run_etl(args, config) -> int:
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
    args = cli.parser(__doc__).parse_args(argv)
    return cli.run(args, run_etl)


if __name__ == "__main__":
    sys.exit(main())
