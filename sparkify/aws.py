"""Provision and tear down the AWS side: an IAM role that can read just the configured S3 prefixes,
a Redshift cluster (private unless asked), and where public access is asked for a security group
with one inbound rule for the caller's IP.

Everything created carries the tag ``project=sparkify-dwh``; teardown checks that tag on every
resource before deleting any, so nothing the project did not create is ever removed. All calls go
through boto3's standard credential chain. Plans are lists of lines, printed by ``--dry-run``
without calling AWS.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import secrets
import string
import time
from dataclasses import dataclass, field

from tqdm import tqdm

from . import config_writer
from .config import CLUSTER_ID, REGION, ROLE_NAME, AwsResources
from .errors import AwsError, ConfigError
from .policies import s3_read_policy, trust_policy

log = logging.getLogger(__name__)

TAG_KEY, TAG_VALUE = "project", "sparkify-dwh"
TAGS = [{"Key": TAG_KEY, "Value": TAG_VALUE}]
REDSHIFT_PORT = 5439
POLICY_NAME = "sparkify-dwh-s3-read"
POLL_SECONDS = 15.0  # how often the cluster's status is asked while waiting
NODE_TYPE = re.compile(r"[a-z0-9]+\.[a-z0-9]+")
DB_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class Settings:
    """What ``provision.py`` creates; validated by ``check``."""

    region: str
    log_data: str
    log_jsonpath: str
    song_data: str
    s3_region: str | None = None
    cluster_id: str = "sparkify-dwh"
    node_type: str = "ra3.large"
    nodes: int = 1
    db_name: str = "dwh"
    db_user: str = "dwhuser"
    role_name: str = "sparkify-dwh-s3-read"
    public: bool = False
    my_ip: str | None = None
    manifest_prefix: str | None = None  # where etl.py writes its COPY manifests: the role may read it
    port: int = 5439

    @property
    def security_group_name(self) -> str:
        return f"{self.cluster_id}-inbound"

    def check(self) -> None:
        """ConfigError naming the option for any value AWS would refuse or that could reach a policy."""
        from .config import S3_URI

        def bad(option: str, value, what: str) -> ConfigError:
            return ConfigError(f"{option} is not a valid {what}: {value!r}")

        for option, value, pattern, what in (
                ("--region", self.region, REGION, "AWS region (like us-west-2)"),
                ("--cluster-id", self.cluster_id, CLUSTER_ID,
                 "cluster identifier (lower case letters, digits and single hyphens, starting with a letter)"),
                ("--node-type", self.node_type, NODE_TYPE, "node type (like ra3.large)"),
                ("--db-name", self.db_name, DB_IDENTIFIER, "database name (lower case letters, digits, _)"),
                ("--db-user", self.db_user, DB_IDENTIFIER, "user name (lower case letters, digits, _)"),
                ("--role-name", self.role_name, ROLE_NAME, "IAM role name")):
            if not pattern.fullmatch(value):
                raise bad(option, value, what)
        if self.s3_region is not None and not REGION.fullmatch(self.s3_region):
            raise bad("--s3-region", self.s3_region, "AWS region (like us-west-2)")
        for option, value in (("--log-data", self.log_data), ("--log-jsonpath", self.log_jsonpath),
                              ("--song-data", self.song_data), ("--manifest-prefix", self.manifest_prefix)):
            if value is not None and not S3_URI.fullmatch(value):
                raise bad(option, value, "S3 URI (s3://bucket/prefix)")
        if not 1 <= self.nodes <= 128:
            raise bad("--nodes", self.nodes, "number of nodes (1-128)")
        if not 1150 <= self.port <= 65535:
            raise bad("--port", self.port, "Redshift port (1150-65535)")
        if self.public and self.my_ip is not None:
            try:
                address = ipaddress.IPv4Address(self.my_ip)
            except ValueError:
                raise bad("--my-ip", self.my_ip, "IPv4 address") from None
            if not address.is_global:
                raise bad("--my-ip", self.my_ip, "public IPv4 address")


CHECKIP_URL = "https://checkip.amazonaws.com"
CHECKIP_ENV = "SPARKIFY_CHECKIP_URL"  # another service that answers with the caller's IPv4 address


def caller_ip(timeout: float = 5.0) -> str:
    """This machine's public IPv4 address as AWS sees it (checkip.amazonaws.com), for the inbound
    rule of a public cluster; ConfigError saying to pass --my-ip when it cannot be found."""
    import urllib.request

    url = os.environ.get(CHECKIP_ENV) or CHECKIP_URL
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 -- a fixed https URL
            answer = response.read(64).decode("ascii", "replace").strip()
        address = ipaddress.IPv4Address(answer)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot find your public IP address from {url} ({exc}): pass --my-ip A.B.C.D") from None
    if not address.is_global:
        raise ConfigError(f"{url} says your address is {address}, which is not public: pass --my-ip A.B.C.D")
    return str(address)


def generate_password() -> str:
    """A Redshift master password: 24 letters and digits, at least one of each case and a digit."""
    alphabet = string.ascii_letters + string.digits
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(24))
        if (any(c.islower() for c in password) and any(c.isupper() for c in password)
                and any(c.isdigit() for c in password)):
            return password


# --- Calling AWS ----------------------------------------------------------------------------------

class Aws:
    """boto3 clients for one region, created on first use; every call's failure is one line."""

    def __init__(self, region: str, key: str | None = None, secret: str | None = None):
        self.region = region
        self._credentials = {"aws_access_key_id": key, "aws_secret_access_key": secret}  # None: boto3's chain
        self._clients: dict = {}

    def client(self, service: str):
        if service not in self._clients:
            import boto3

            session = boto3.session.Session(region_name=self.region, **self._credentials)
            self._clients[service] = session.client(service)
        return self._clients[service]

    def call(self, service: str, operation: str, what: str, tolerate: str | None = None, **params):
        """The operation's response; None if it failed with the error code ``tolerate`` (a
        resource that is not there, a rule that is there already); AwsError for any other
        failure, ``what`` naming the step."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            return getattr(self.client(service), operation)(**params)
        except NoCredentialsError:
            raise AwsError(f"{what}: no AWS credentials found (set a profile or AWS_* variables)") from None
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if tolerate is not None and error.get("Code") == tolerate:
                return None
            message = f"{what} failed: {error.get('Code', '?')}: {error.get('Message', '')}"
            raise AwsError(message.rstrip(": ")) from None
        except BotoCoreError as exc:
            raise AwsError(f"{what} failed: {exc}") from None


def tagged(tags: list[dict] | None) -> bool:
    return any(tag.get("Key") == TAG_KEY and tag.get("Value") == TAG_VALUE for tag in tags or [])


# --- Provisioning ---------------------------------------------------------------------------------

@dataclass
class Provisioned:
    host: str | None = None
    port: int = REDSHIFT_PORT
    role_arn: str | None = None
    security_group_id: str | None = None
    created: list[str] = field(default_factory=list)  # what this run created, for the log
    reused_cluster: bool = False


def role_policy(settings: Settings) -> dict:
    """The role reads the data, the JSONPaths file and the runs' COPY manifests."""
    prefixes = [settings.log_data, settings.song_data]
    prefixes += [settings.manifest_prefix] if settings.manifest_prefix else []
    return s3_read_policy(prefixes, [settings.log_jsonpath])


def describe_provision(settings: Settings) -> list[str]:
    """The calls provision() makes, for --dry-run (no AWS call is made to print this)."""
    cluster = dict(ClusterIdentifier=settings.cluster_id, NodeType=settings.node_type,
                   ClusterType="single-node" if settings.nodes == 1 else "multi-node", DBName=settings.db_name,
                   MasterUsername=settings.db_user, MasterUserPassword="<generated, written to the config only>",
                   IamRoles=[f"<arn of {settings.role_name}>"], PubliclyAccessible=settings.public, Encrypted=True,
                   Tags=TAGS)
    if settings.nodes > 1:
        cluster["NumberOfNodes"] = settings.nodes
    if settings.port != REDSHIFT_PORT:
        cluster["Port"] = settings.port
    lines = [f"region {settings.region}",
             "sts.get_caller_identity()",
             f"iam.create_role(RoleName={settings.role_name!r}, AssumeRolePolicyDocument={json.dumps(trust_policy())},"
             f" Tags={TAGS})",
             f"iam.put_role_policy(RoleName={settings.role_name!r}, PolicyName={POLICY_NAME!r},"
             f" PolicyDocument={json.dumps(role_policy(settings))})"]
    if settings.public:
        cluster["VpcSecurityGroupIds"] = ["<the new security group>"]
        lines += [f"ec2.create_security_group(GroupName={settings.security_group_name!r}, VpcId=<the default VPC>,"
                  f" tagged {TAG_KEY}={TAG_VALUE})",
                  f"ec2.authorize_security_group_ingress(tcp {settings.port} from"
                  f" {settings.my_ip or '<your public IP, from ' + CHECKIP_URL + '>'}/32)"]
    lines += [f"redshift.create_cluster({', '.join(f'{k}={v!r}' for k, v in cluster.items())})",
              f"redshift.describe_clusters(ClusterIdentifier={settings.cluster_id!r}) every {POLL_SECONDS:g}s"
              " until available"]
    return lines


def provision(settings: Settings, password: str, aws: Aws, *, show_progress: bool = False,
              wait_minutes: float = 30) -> Provisioned:
    """Create (or find, if this project created them before) the role, the inbound rule and the
    cluster, and wait until the cluster is available. Partial results are in the AwsError's
    ``provisioned`` attribute."""
    result = Provisioned()
    try:
        account = aws.call("sts", "get_caller_identity", "checking the AWS credentials")["Account"]
        log.info("AWS account %s, region %s", account, settings.region)
        result.role_arn = _ensure_role(settings, aws, result)
        if settings.public:
            result.security_group_id = _ensure_inbound_rule(settings, aws, result)
        _ensure_cluster(settings, password, aws, result)
        result.host, result.port = wait_available(settings.cluster_id, aws, show_progress, wait_minutes)
    except AwsError as exc:
        exc.provisioned = result
        raise
    return result


def _ensure_role(settings: Settings, aws: Aws, result: Provisioned) -> str:
    what = f"IAM role {settings.role_name}"
    existing = aws.call("iam", "get_role", f"looking for {what}", tolerate="NoSuchEntity", RoleName=settings.role_name)
    if existing is not None:
        role = existing["Role"]
        if not tagged(role.get("Tags")):
            raise AwsError(f"{what} exists and has no {TAG_KEY}={TAG_VALUE} tag, so this project did not create it:"
                           " pass another --role-name")
        log.info("%s exists (created by this project): its policy is set again", what)
    else:
        role = aws.call("iam", "create_role", f"creating {what}", RoleName=settings.role_name,
                        AssumeRolePolicyDocument=json.dumps(trust_policy()), Tags=TAGS,
                        Description="Lets Redshift read the Sparkify input (sparkify-dwh)")["Role"]
        result.created.append(what)
    aws.call("iam", "put_role_policy", f"setting the S3 read policy of {what}", RoleName=settings.role_name,
             PolicyName=POLICY_NAME, PolicyDocument=json.dumps(role_policy(settings)))
    return role["Arn"]


def _ensure_inbound_rule(settings: Settings, aws: Aws, result: Provisioned) -> str:
    vpcs = aws.call("ec2", "describe_vpcs", "finding the default VPC",
                    Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise AwsError(f"region {settings.region} has no default VPC for a public cluster")
    vpc_id = vpcs[0]["VpcId"]
    name = settings.security_group_name
    groups = aws.call("ec2", "describe_security_groups", f"looking for security group {name}",
                      Filters=[{"Name": "group-name", "Values": [name]}, {"Name": "vpc-id", "Values": [vpc_id]}])
    if groups["SecurityGroups"]:
        group = groups["SecurityGroups"][0]
        if not tagged(group.get("Tags")):
            raise AwsError(f"security group {name} exists and has no {TAG_KEY}={TAG_VALUE} tag, so this project"
                           " did not create it: pass another --cluster-id")
        group_id = group["GroupId"]
    else:
        group_id = aws.call("ec2", "create_security_group", f"creating security group {name}", GroupName=name,
                            Description="Redshift access for the Sparkify warehouse", VpcId=vpc_id,
                            TagSpecifications=[{"ResourceType": "security-group", "Tags": TAGS}])["GroupId"]
        result.created.append(f"security group {group_id}")
    rule = {"IpProtocol": "tcp", "FromPort": settings.port, "ToPort": settings.port,
            "IpRanges": [{"CidrIp": f"{settings.my_ip}/32", "Description": "sparkify-dwh: the provisioning machine"}]}
    aws.call("ec2", "authorize_security_group_ingress", f"adding the inbound rule to {group_id}",
             tolerate="InvalidPermission.Duplicate", GroupId=group_id, IpPermissions=[rule])
    return group_id


def _ensure_cluster(settings: Settings, password: str, aws: Aws, result: Provisioned) -> None:
    what = f"Redshift cluster {settings.cluster_id}"
    existing = aws.call("redshift", "describe_clusters", f"looking for {what}", tolerate="ClusterNotFound",
                        ClusterIdentifier=settings.cluster_id)
    if existing is not None:
        if not tagged(existing["Clusters"][0].get("Tags")):
            raise AwsError(f"{what} exists and has no {TAG_KEY}={TAG_VALUE} tag, so this project did not create it:"
                           " pass another --cluster-id")
        log.info("%s exists (created by this project): waiting for it, not creating another", what)
        result.reused_cluster = True
        return
    params = dict(ClusterIdentifier=settings.cluster_id, NodeType=settings.node_type,
                  ClusterType="single-node" if settings.nodes == 1 else "multi-node", DBName=settings.db_name,
                  MasterUsername=settings.db_user, MasterUserPassword=password, IamRoles=[result.role_arn],
                  PubliclyAccessible=settings.public, Encrypted=True, Port=settings.port, Tags=TAGS)
    if settings.nodes > 1:
        params["NumberOfNodes"] = settings.nodes
    if result.security_group_id:
        params["VpcSecurityGroupIds"] = [result.security_group_id]
    aws.call("redshift", "create_cluster", f"creating {what}", **params)
    result.created.append(what)


def wait_available(cluster_id: str, aws: Aws, show_progress: bool, wait_minutes: float) -> tuple[str, int]:
    started = time.monotonic()
    with tqdm(desc=f"cluster {cluster_id}", bar_format="{desc} [{elapsed}]", disable=not show_progress,
              leave=False) as progress:
        while True:
            cluster = aws.call("redshift", "describe_clusters", f"asking for cluster {cluster_id}",
                               ClusterIdentifier=cluster_id)["Clusters"][0]
            status = cluster.get("ClusterStatus", "?")
            progress.set_description_str(f"cluster {cluster_id}: {status}")
            if status == "available" and cluster.get("Endpoint"):
                return cluster["Endpoint"]["Address"], cluster["Endpoint"]["Port"]
            minutes = (time.monotonic() - started) / 60
            if minutes >= wait_minutes:
                raise AwsError(f"cluster {cluster_id} is still {status} after {minutes:.0f} minutes: run"
                               " provision.py again to go on waiting (nothing is created twice)")
            log.debug("cluster %s is %s", cluster_id, status)
            time.sleep(POLL_SECONDS)


def config_text(settings: Settings, result: Provisioned, password: str, kept: str = "") -> str:
    """The dwh.cfg for what was provisioned (``config_writer.render_provisioned``, in the format
    ``sparkify.config`` reads); ``kept``: the course's sections of the file it replaces."""
    resources = AwsResources(settings.region, settings.cluster_id, settings.role_name, result.security_group_id)
    return config_writer.render_provisioned(
        kept=kept, host=result.host or "", port=result.port, db_name=settings.db_name, db_user=settings.db_user,
        password=password, role_arn=result.role_arn or "", log_data=settings.log_data,
        log_jsonpath=settings.log_jsonpath, song_data=settings.song_data,
        s3_region=settings.s3_region or settings.region, manifest_prefix=settings.manifest_prefix,
        resources=resources)
