"""Load the raw JSON into staging, build the star schema, check it and print a summary.

Run:  python etl.py [--config dwh.cfg] [--incremental [--verify-content]] [--validate] [--max-errors N] [--dry-run]
                   [--quiet]

Everything happens in one transaction: if a load, a statement or a data-quality check fails, or the
run is interrupted, nothing is committed and the warehouse is as it was. Run create_tables.py first.
Without --incremental the warehouse is rebuilt from every input file; with it, only the files the
ledger of loaded files does not have are loaded, and the result is the same.
"""

import sparkify  # noqa: F401, I001 -- first: from here on Ctrl-C is one line (sparkify.interrupts)

import dataclasses
import sys

from sparkify import cli, db, engines, ledger, pipeline, transaction
from sparkify.errors import InputProblems
from sparkify.run import Run


def run_etl(args, config) -> int:
    if args.max_errors is not None:
        config = dataclasses.replace(config, sources=dataclasses.replace(config.sources, max_errors=args.max_errors))
    src = config.sources
    data = "the shipped sample data" if src.is_sample else f"{src.log_data} and {src.song_data}"
    if args.dry_run and args.incremental and not args.validate:
        return dry_run_incremental(config, data, args.verify_content)
    if args.dry_run:
        engine = engines.planned(config)
        cli.log.info("dry run for %s (%s) with %s: nothing is sent", db.describe(config), engine, data)
        if args.validate:
            steps = pipeline.validate_steps(engine, config)
        else:
            engine.require(config, incremental=False)
            steps = pipeline.etl_steps(engine, config, ledger.unlisted(config))
        cli.print_plan(pipeline.describe_steps(steps))
        return 0
    if args.validate:
        return validate(args, config, data)
    engines.planned(config).require(config, args.incremental)  # what the config alone tells, before connecting
    with db.open_target(config) as target:
        cli.say_target(args, config, f"{target.description} ({target.engine}); data: {data}")
        target.engine.require(config, args.incremental)
        run = Run(target, config, incremental=args.incremental, verify_content=args.verify_content,
                  show_progress=cli.show_progress(args))
        try:
            run.execute()
        except ledger.NothingNew:
            cli.log.info("nothing new to load: the warehouse is unchanged")
        finally:
            if run.report.checks and not args.quiet:
                print(pipeline.format_report(run.report, target.description))
    return 0


def dry_run_incremental(config, data: str, verify_content: bool = False) -> int:
    """--dry-run --incremental: the ledger is read (nothing is changed) to list the new files."""
    engines.planned(config).require(config, incremental=True)  # before connecting
    with db.open_target(config) as target:
        cli.log.info("dry run for %s (%s) with %s: the ledger is read, nothing is changed", target.description,
                     target.engine, data)
        target.engine.require(config, incremental=True)
        with ledger.Planning(config, incremental=True, verify_content=verify_content) as planning, \
                transaction.rolled_back(target.conn), target.conn.cursor() as cur:
            for step in pipeline.ledger_reads(config):
                planning.keep(step.table, step.run(cur).fetched)
            batch = planning.batch()
        for table in batch.tables:
            for obj in table.files:
                print(f"-- new in {table.table.name}: {obj.uri}")
        if batch.nothing_new:
            print("-- nothing new to load")
        else:
            cli.print_plan(pipeline.describe_steps(pipeline.etl_steps(target.engine, config, batch)))
    return 0


def validate(args, config, data: str) -> int:
    """--validate: every problem in the input, and no table changed. The embedded default needs no
    server for this (parse-only); another server is asked for its engine first."""
    if config.embedded:
        results = pipeline.validate(None, pipeline.validate_steps(engines.planned(config), config),
                                    show_progress=cli.show_progress(args))
    else:
        with db.open_target(config) as target:
            cli.log.info("checking %s for %s (%s)", data, target.description, target.engine)
            results = pipeline.validate(target.conn, pipeline.validate_steps(target.engine, config),
                                        show_progress=cli.show_progress(args))
    if not args.quiet:
        print(pipeline.format_validation(results))
    problems = sum(result.problems for result in results)
    if problems:
        raise InputProblems(f"validation found {problems:,} problems in {data}; no table was changed")
    cli.log.info("validation found no problems in %s; no table was changed", data)
    return 0


def main(argv=None) -> int:
    parser = cli.parser(__doc__)
    parser.add_argument("--max-errors", type=int, metavar="N",
                        help="skip up to N bad records per staging table, keeping them in load_errors"
                             " (default: [S3] MAX_ERRORS, or 0: stop at the first)")
    parser.add_argument("--incremental", action="store_true",
                        help="load only the input files not loaded before, and bring the star schema up to date"
                             " (with --dry-run: list them; this reads the ledger of loaded files)")
    parser.add_argument("--verify-content", action="store_true",
                        help="with --incremental: hash every local file loaded before, not only those whose size or"
                             " modification time changed, so a file rewritten with its old size and time is found"
                             " (S3 objects are always judged by their ETag)")
    parser.add_argument("--validate", action="store_true",
                        help="check every input record and report every problem, changing no table"
                             " (Redshift: COPY ... NOLOAD; PostgreSQL: parse only)")
    args = parser.parse_args(argv)
    if args.max_errors is not None and args.max_errors < 0:
        parser.error("--max-errors must be 0 or more")
    if args.verify_content and not args.incremental:
        parser.error("--verify-content goes with --incremental (a full rebuild reads every file anyway)")
    return cli.run(args, run_etl)


if __name__ == "__main__":
    sys.exit(main())
