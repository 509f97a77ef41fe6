"""Tear down what provision.py created: only resources that carry the project's tag, each checked
before any is deleted, so nothing the project did not create is ever removed. Plans are lists of
lines, printed by ``cleanup.py --aws --dry-run`` without calling AWS."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from tqdm import tqdm

from .aws import TAG_KEY, TAG_VALUE, Aws, tagged
from .config import AwsResources
from .errors import AwsError

log = logging.getLogger(__name__)

POLL_SECONDS = 15.0  # how often the cluster's status is asked while waiting for it to go

@dataclass
class Teardown:
    """What cleanup.py will delete, found and tag-checked before anything is deleted."""

    cluster_id: str | None = None
    final_snapshot: str | None = None
    role_name: str | None = None
    role_policies: list[str] = field(default_factory=list)
    security_group_id: str | None = None
    ingress: list[dict] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)  # named in the config but already gone

    def describe(self) -> list[str]:
        lines = []
        if self.cluster_id:
            snapshot = f"final snapshot {self.final_snapshot}" if self.final_snapshot else "no final snapshot"
            lines.append(f"Redshift cluster {self.cluster_id} ({snapshot}), with every table in it")
        if self.security_group_id:
            rules = ", ".join(f"tcp {r['FromPort']} from {ip['CidrIp']}" for r in self.ingress
                              for ip in r.get("IpRanges", [])) or "no inbound rule"
            lines.append(f"security group {self.security_group_id} ({rules})")
        if self.role_name:
            policies = ", ".join(self.role_policies) or "no inline policy"
            lines.append(f"IAM role {self.role_name} (inline policy {policies})")
        return lines

    @property
    def empty(self) -> bool:
        return not (self.cluster_id or self.security_group_id or self.role_name)


def describe_teardown(resources: AwsResources, *, cluster: bool, role: bool, ingress: bool,
                      final_snapshot: str | None) -> list[str]:
    """The calls teardown makes, for --dry-run (no AWS call is made to print this)."""
    lines = [f"region {resources.region}"]
    if cluster and resources.cluster_id:
        lines += [f"redshift.describe_clusters(ClusterIdentifier={resources.cluster_id!r}): check tag"
                  f" {TAG_KEY}={TAG_VALUE}"]
    if ingress and resources.security_group_id:
        lines += [f"ec2.describe_security_groups(GroupIds=[{resources.security_group_id!r}]): check tag"
                  f" {TAG_KEY}={TAG_VALUE}"]
    if role and resources.role_name:
        lines += [f"iam.get_role(RoleName={resources.role_name!r}): check tag {TAG_KEY}={TAG_VALUE}"]
    lines.append("(ask for confirmation unless --yes)")
    if cluster and resources.cluster_id:
        snapshot = (f"FinalClusterSnapshotIdentifier={final_snapshot!r}, SkipFinalClusterSnapshot=False"
                    if final_snapshot else "SkipFinalClusterSnapshot=True")
        lines += [f"redshift.delete_cluster(ClusterIdentifier={resources.cluster_id!r}, {snapshot})",
                  f"redshift.describe_clusters(...) every {POLL_SECONDS:g}s until the cluster is gone"]
    if ingress and resources.security_group_id:
        lines += [f"ec2.revoke_security_group_ingress(GroupId={resources.security_group_id!r}, <its rules>)",
                  f"ec2.delete_security_group(GroupId={resources.security_group_id!r})"]
    if role and resources.role_name:
        lines += [f"iam.delete_role_policy(RoleName={resources.role_name!r}, PolicyName=<each inline policy>)",
                  f"iam.delete_role(RoleName={resources.role_name!r})"]
    return lines


def find_teardown(resources: AwsResources, aws: Aws, *, cluster: bool, role: bool, ingress: bool,
                  final_snapshot: str | None) -> Teardown:
    """Look up each named resource and check its tag; AwsError naming every untagged one, before
    anything is deleted."""
    plan = Teardown(final_snapshot=final_snapshot)
    untagged = []

    def look_up(wanted: bool, name: str | None, what: str, service: str, operation: str, missing: str, params,
                item) -> dict | None:
        """The resource's description if it is there and tagged; notes it as absent or untagged."""
        if not (wanted and name):
            return None
        found = aws.call(service, operation, f"looking for {what}", tolerate=missing, **params)
        if found is None:
            plan.absent.append(what)
            return None
        description = item(found)
        if not tagged(description.get("Tags")):
            untagged.append(what)
            return None
        return description

    if look_up(cluster, resources.cluster_id, f"Redshift cluster {resources.cluster_id}", "redshift",
               "describe_clusters", "ClusterNotFound", {"ClusterIdentifier": resources.cluster_id},
               lambda found: found["Clusters"][0]):
        plan.cluster_id = resources.cluster_id
    group = look_up(ingress, resources.security_group_id, f"security group {resources.security_group_id}", "ec2",
                    "describe_security_groups", "InvalidGroup.NotFound", {"GroupIds": [resources.security_group_id]},
                    lambda found: found["SecurityGroups"][0])
    if group:
        plan.security_group_id = resources.security_group_id
        plan.ingress = group.get("IpPermissions", [])
    if look_up(role, resources.role_name, f"IAM role {resources.role_name}", "iam", "get_role", "NoSuchEntity",
               {"RoleName": resources.role_name}, lambda found: found["Role"]):
        plan.role_name = resources.role_name
        plan.role_policies = aws.call("iam", "list_role_policies", f"listing the policies of {resources.role_name}",
                                      RoleName=resources.role_name)["PolicyNames"]
    if untagged:
        raise AwsError(f"not deleting anything: {', '.join(untagged)} has no {TAG_KEY}={TAG_VALUE} tag, so this"
                       " project did not create it")
    return plan


def teardown(plan: Teardown, aws: Aws, *, show_progress: bool = False, wait_minutes: float = 30) -> list[str]:
    """Delete what ``plan`` holds: the cluster first (waiting until it is gone, since its security
    group cannot go before it), then the security group, then the role. Returns what was deleted."""
    deleted = []
    if plan.cluster_id:
        snapshot = ({"FinalClusterSnapshotIdentifier": plan.final_snapshot, "SkipFinalClusterSnapshot": False}
                    if plan.final_snapshot else {"SkipFinalClusterSnapshot": True})
        aws.call("redshift", "delete_cluster", f"deleting cluster {plan.cluster_id}",
                 ClusterIdentifier=plan.cluster_id, **snapshot)
        _wait_gone(plan.cluster_id, aws, show_progress, wait_minutes)
        deleted.append(f"Redshift cluster {plan.cluster_id}")
    if plan.security_group_id:
        if plan.ingress:
            aws.call("ec2", "revoke_security_group_ingress", f"removing the inbound rules of {plan.security_group_id}",
                     GroupId=plan.security_group_id, IpPermissions=plan.ingress)
        aws.call("ec2", "delete_security_group", f"deleting {plan.security_group_id}", GroupId=plan.security_group_id)
        deleted.append(f"security group {plan.security_group_id}")
    if plan.role_name:
        for policy in plan.role_policies:
            aws.call("iam", "delete_role_policy", f"deleting policy {policy}", RoleName=plan.role_name,
                     PolicyName=policy)
        aws.call("iam", "delete_role", f"deleting IAM role {plan.role_name}", RoleName=plan.role_name)
        deleted.append(f"IAM role {plan.role_name}")
    return deleted


def _wait_gone(cluster_id: str, aws: Aws, show_progress: bool, wait_minutes: float) -> None:
    started = time.monotonic()
    with tqdm(desc=f"cluster {cluster_id}", bar_format="{desc} [{elapsed}]", disable=not show_progress,
              leave=False) as progress:
        while True:
            found = aws.call("redshift", "describe_clusters", f"asking for cluster {cluster_id}",
                             tolerate="ClusterNotFound", ClusterIdentifier=cluster_id)
            if found is None:
                return
            progress.set_description_str(f"cluster {cluster_id}: {found['Clusters'][0].get('ClusterStatus', '?')}")
            if (time.monotonic() - started) / 60 >= wait_minutes:
                raise AwsError(f"cluster {cluster_id} is still being deleted after {wait_minutes:g} minutes: run"
                               " cleanup.py again to finish (the security group and the role go after it)")
            time.sleep(POLL_SECONDS)
