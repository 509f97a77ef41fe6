"""Drop the Sparkify tables when you are done; with --aws, delete the cluster, role and inbound rule.

Run:  python cleanup.py [--config dwh.cfg] [--yes] [--dry-run] [--quiet]
      python cleanup.py --aws [--final-snapshot NAME]      (or any of --cluster, --ingress, --role)

Without AWS options: drops exactly the project's 13 tables (those create_tables.py creates);
nothing else in the database is touched. With them: deletes what provision.py
created and recorded in the config's [AWS] section -- the Redshift cluster (and every table in it;
no final snapshot unless --final-snapshot), the security group with its inbound rule, the IAM role
with its policy -- after checking that each carries the project's tag (anything untagged: nothing
is deleted). Lists what it will delete and asks first unless --yes (the embedded default's tables
are dropped without asking when no --config named a file).
"""

import sparkify  # noqa: F401, I001 -- first: from here on Ctrl-C is one line (sparkify.interrupts)

import sys

import sql_queries as q
from sparkify import aws, cli, db, engines, pipeline, teardown
from sparkify.config import CLUSTER_ID
from sparkify.errors import ConfigError


def cleanup(args, config) -> int:
    if args.aws:
        args.cluster = args.role = args.ingress = True
    if args.cluster or args.role or args.ingress:
        return delete_aws(args, config)
    if args.dry_run:
        cli.log.info("dry run for %s: nothing is sent", db.describe(config))
        cli.print_plan(pipeline.describe_steps(pipeline.drop_table_steps(engines.planned(config))))
        return 0
    cli.say_target(args, config, db.describe(config))
    chosen_by_default = config.embedded and args.config is None  # no --config, no dwh.cfg
    if not chosen_by_default and not args.yes:
        where = db.describe(config)
        cli.confirm(f"Drop {', '.join(q.PROJECT_TABLE_NAMES)} from {where}?",
                    f"not dropping tables on {where} without confirmation: run with --yes")
    with db.open_target(config) as target:
        pipeline.execute(target.conn, pipeline.drop_table_steps(target.engine))
        cli.log.info("dropped %s from %s", ", ".join(q.PROJECT_TABLE_NAMES), target.description)
    return 0


def delete_aws(args, config) -> int:
    resources = config.aws
    if resources is None:
        raise ConfigError(f"{config.path}: has no [AWS] section: cleanup.py deletes only what provision.py created"
                          " and recorded there")
    if args.final_snapshot and not CLUSTER_ID.fullmatch(args.final_snapshot):
        raise ConfigError(f"--final-snapshot is not a valid snapshot identifier: {args.final_snapshot!r}")
    options = dict(cluster=args.cluster, role=args.role, ingress=args.ingress, final_snapshot=args.final_snapshot)
    if args.dry_run:
        cli.log.info("dry run: no AWS call is made")
        cli.print_plan(teardown.describe_teardown(resources, **options))
        return 0
    client = aws.Aws(resources.region)
    plan = teardown.find_teardown(resources, client, **options)
    for gone in plan.absent:
        cli.log.info("%s does not exist (already deleted)", gone)
    if plan.empty:
        cli.log.info("nothing to delete in %s", resources.region)
        return 0
    listing = "\n".join(f"  {line}" for line in plan.describe())
    print(f"will delete, in {resources.region}:\n{listing}")
    if not args.yes:
        cli.confirm("Delete these?", "not deleting AWS resources without confirmation: run with --yes")
    deleted = teardown.teardown(plan, client, show_progress=cli.show_progress(args))
    cli.log.info("deleted %s", ", ".join(deleted))
    return 0


def main(argv=None) -> int:
    parser = cli.parser(__doc__)
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    group = parser.add_argument_group("AWS resources (from the config's [AWS] section, written by provision.py)")
    group.add_argument("--aws", action="store_true", help="all of: --cluster, --ingress, --role")
    group.add_argument("--cluster", action="store_true", help="delete the Redshift cluster and its tables")
    group.add_argument("--final-snapshot", metavar="NAME", help="keep a final snapshot of the cluster under NAME")
    group.add_argument("--ingress", action="store_true", help="delete the security group and its inbound rule")
    group.add_argument("--role", action="store_true", help="delete the IAM role and its policy")
    args = parser.parse_args(argv)
    if args.final_snapshot and not (args.cluster or args.aws):
        parser.error("--final-snapshot goes with --cluster or --aws")
    return cli.run(args, cleanup)


if __name__ == "__main__":
    sys.exit(main())
