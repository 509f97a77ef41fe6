"""Create the AWS side of the warehouse: an IAM role, a Redshift cluster, and a dwh.cfg for them.

Run:  python provision.py [--region us-west-2] [--cluster-id sparkify-dwh] [--node-type ra3.large]
                          [--nodes 1] [--public [--my-ip A.B.C.D]] [--config dwh.cfg] [--dry-run]

Creates, each tagged project=sparkify-dwh: an IAM role that Redshift can assume, allowed to read
only the S3 prefixes of --log-data, --song-data and the --log-jsonpath file; a Redshift cluster
(encrypted, not publicly accessible unless --public); with --public, a security group whose one
inbound rule admits port 5439 from your IP (--my-ip, or as checkip.amazonaws.com sees it). Waits
until the cluster is available, then writes the config (mode 0600; never over an existing file
unless you confirm or pass --overwrite). The master password is SPARKIFY_DB_PASSWORD if set, else
generated; it is written to the config only.
A cluster is billed by the hour while it exists: `python cleanup.py --aws` removes all of it.
Credentials come from boto3's standard chain (profile, environment).
"""

import sparkify  # noqa: F401, I001 -- first: from here on Ctrl-C is one line (sparkify.interrupts)

import dataclasses
import os
import sys
from pathlib import Path

from sparkify import aws, cli, config, config_writer
from sparkify.config import PASSWORD_ENV
from sparkify.errors import AwsError

UDACITY = {"log_data": "s3://udacity-dend/log_data", "log_jsonpath": "s3://udacity-dend/log_json_path.json",
           "song_data": "s3://udacity-dend/song_data"}


# provision.py's options that the course's [DWH] section may set, and the key that sets each
FROM_DWH = {"cluster_id": "cluster_id", "node_type": "node_type", "nodes": "nodes", "db_name": "db_name",
            "db_user": "db_user", "role_name": "role_name", "port": "port"}


def course_settings(path: Path) -> config.Config | None:
    """An existing config file's [DWH] and [AWS] (the course's notebook writes them): the cluster to
    create and the credentials to create it with. None: no file yet."""
    return config.load_config(path) if path.is_file() else None


def settings_from(args, course: config.Config | None = None) -> aws.Settings:
    """The options given, else [DWH]'s values, else provision.py's defaults."""
    given = {name: getattr(args, name) for name in FROM_DWH}
    if course is not None:
        for name, attribute in FROM_DWH.items():
            if given[name] is None:
                given[name] = getattr(course.provisioning, attribute)
    chosen = {name: value for name, value in given.items() if value is not None}
    settings = aws.Settings(region=args.region, log_data=args.log_data, log_jsonpath=args.log_jsonpath,
                            song_data=args.song_data, s3_region=args.s3_region, public=args.public, my_ip=args.my_ip,
                            manifest_prefix=args.manifest_prefix, **chosen)
    settings.check()
    return settings


def provision(args, _config) -> int:
    path = Path(args.config or config.DEFAULT_PATH)
    course = course_settings(path)
    settings = settings_from(args, course)
    if args.dry_run:
        cli.log.info("dry run: no AWS call is made; the config would go to %s", path)
        cli.print_plan(aws.describe_provision(settings))
        return 0
    if settings.public and settings.my_ip is None:
        settings = dataclasses.replace(settings, my_ip=aws.caller_ip())
        cli.log.info("your public IP address: %s (the inbound rule admits only it)", settings.my_ip)
    if path.exists() and not args.overwrite:
        cli.confirm(f"{path} exists. Overwrite it?", f"{path} exists: not overwriting it (pass --config NEW.cfg,"
                                                     " or --overwrite)")
    password = (os.environ.get(PASSWORD_ENV) or (course.provisioning.password if course else None)
                or aws.generate_password())
    cli.log.info("creating %s (%s x %d) in %s: it is billed by the hour until `python cleanup.py --aws` deletes it",
                 settings.cluster_id, settings.node_type, settings.nodes, settings.region)
    try:
        credentials = course.sources.access if course else None
        client = aws.Aws(settings.region, credentials.key if credentials else None,
                         credentials.secret if credentials else None)
        result = aws.provision(settings, password, client, show_progress=cli.show_progress(args),
                               wait_minutes=args.wait_minutes)
    except AwsError as exc:
        partial = getattr(exc, "provisioned", None)
        if partial is not None and partial.created:
            config_writer.write_private(path, aws.config_text(settings, partial, password,
                                                              config_writer.course_sections(course)))
            raise AwsError(f"{exc}; created so far: {', '.join(partial.created)}, recorded in {path}:"
                               f" run provision.py again to go on, or `python cleanup.py --config {path} --aws`"
                               " to remove them") from None
        raise
    if result.reused_cluster and PASSWORD_ENV not in os.environ:
        password = ""
        cli.log.warning("the cluster existed already: its password is not known here; set %s", PASSWORD_ENV)
    config_writer.write_private(path, aws.config_text(settings, result, password,
                                                      config_writer.course_sections(course)))
    if result.created:
        cli.log.info("created %s", ", ".join(result.created))
    cli.log.info("cluster %s is available at %s:%d; wrote %s", settings.cluster_id, result.host, result.port, path)
    cli.log.info("next: python create_tables.py --config %s && python etl.py --config %s", path, path)
    return 0


def main(argv=None) -> int:
    parser = cli.parser(__doc__, config_help="the config file to write (default: dwh.cfg)",
                        dry_run_help="print every AWS call that would be made, and make none")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing config file without asking")
    parser.add_argument("--region", default="us-west-2", help="where the cluster and role go (default: us-west-2)")
    # these default to the config's [DWH] (the course's notebook), else to aws.Settings' values
    parser.add_argument("--cluster-id", help="default: [DWH] DWH_CLUSTER_IDENTIFIER, else sparkify-dwh")
    parser.add_argument("--node-type", help="default: [DWH] DWH_NODE_TYPE, else ra3.large")
    parser.add_argument("--nodes", type=int, help="default: [DWH] DWH_NUM_NODES, else 1 (a single-node cluster)")
    parser.add_argument("--db-name", help="default: [DWH] DWH_DB, else dwh")
    parser.add_argument("--db-user", help="default: [DWH] DWH_DB_USER, else dwhuser")
    parser.add_argument("--role-name", help="default: [DWH] DWH_IAM_ROLE_NAME, else sparkify-dwh-s3-read")
    parser.add_argument("--port", type=int, help="default: [DWH] DWH_PORT, else 5439")
    parser.add_argument("--public", action="store_true",
                        help="make the cluster publicly accessible, with one inbound rule for --my-ip")
    parser.add_argument("--my-ip",
                        help="your public IPv4 address, for --public (default: asked of checkip.amazonaws.com)")
    parser.add_argument("--log-data", default=UDACITY["log_data"])
    parser.add_argument("--log-jsonpath", default=UDACITY["log_jsonpath"])
    parser.add_argument("--song-data", default=UDACITY["song_data"])
    parser.add_argument("--s3-region", default="us-west-2", help="the data bucket's region (default: us-west-2)")
    parser.add_argument("--manifest-prefix", metavar="S3_URI",
                        help="where etl.py writes each run's COPY manifests (a bucket of yours, s3://bucket/prefix/):"
                             " the role may read it, and it goes into the config as [S3] MANIFEST_PREFIX")
    parser.add_argument("--wait-minutes", type=float, default=30, help="how long to wait for the cluster")
    args = parser.parse_args(argv)
    return cli.run(args, provision, load=False)


if __name__ == "__main__":
    sys.exit(main())
