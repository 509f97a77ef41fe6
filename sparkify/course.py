"""The course's additions to the seed's dwh.cfg: ``[AWS] KEY``/``SECRET`` (this machine's access
key) and ``[DWH]`` (the cluster provision.py creates), read and checked by ``sparkify.config``'s
reader (``reader.get``, ``reader.choice`` and ``reader.error`` name file, section and key)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Provisioning:
    """``[DWH]``: the cluster provision.py creates, as the course's notebook names it. Each value is
    None where the file does not set it (provision.py's own default then holds)."""

    cluster_type: str | None = None  # single-node or multi-node
    nodes: int | None = None
    node_type: str | None = None
    role_name: str | None = None
    cluster_id: str | None = None
    db_name: str | None = None
    db_user: str | None = None
    password: str | None = field(default=None, repr=False)
    port: int | None = None


def read_credentials(reader) -> tuple[str | None, str | None]:
    """``[AWS] KEY`` and ``SECRET`` (the course's config): both or neither; never shown in an error."""
    key, secret = reader.get("AWS", "KEY") or None, reader.get("AWS", "SECRET") or None
    if bool(key) != bool(secret):
        given, missing = ("KEY", "SECRET") if key else ("SECRET", "KEY")
        raise reader.error("AWS", missing, f"is missing: [AWS] {given} is set, and an access key goes with its"
                                           " secret (or leave both empty for boto3's usual credentials)")
    if key is not None and not AWS_ACCESS_KEY.fullmatch(key):
        raise reader.error("AWS", "KEY", "is not an AWS access key id (20 upper case letters and digits, like"
                                         " AKIA...; the value is not shown)")
    return key, secret


AWS_ACCESS_KEY = re.compile(r"[A-Z0-9]{16,128}")
CLUSTER_TYPES = ("single-node", "multi-node")


def read_dwh(reader) -> Provisioning:
    """``[DWH]`` as the course's infrastructure notebook writes it, each value checked as provision.py's
    own option would be (``sparkify.aws.Settings.check`` checks the rest)."""
    section = "DWH"
    if not reader.parser.has_section(section):
        return Provisioning()

    def number(key: str, low: int, high: int) -> int | None:
        text = reader.get(section, key) or None
        if text is not None and not (text.isdigit() and low <= int(text) <= high):
            raise reader.error(section, key, f"must be a whole number from {low} to {high}, not {text!r}")
        return None if text is None else int(text)

    cluster_type = reader.choice(section, "DWH_CLUSTER_TYPE", CLUSTER_TYPES, None)
    nodes = number("DWH_NUM_NODES", 1, 128)
    if cluster_type == "single-node" and nodes not in (None, 1):
        raise reader.error(section, "DWH_NUM_NODES", f"is {nodes}, and DWH_CLUSTER_TYPE=single-node has 1 node")
    if cluster_type == "multi-node" and nodes == 1:
        raise reader.error(section, "DWH_NUM_NODES", "is 1, and DWH_CLUSTER_TYPE=multi-node needs 2 or more")
    cluster_id = reader.get(section, "DWH_CLUSTER_IDENTIFIER") or None
    return Provisioning(
        cluster_type=cluster_type, nodes=nodes, node_type=reader.get(section, "DWH_NODE_TYPE") or None,
        role_name=reader.get(section, "DWH_IAM_ROLE_NAME") or None,
        cluster_id=cluster_id.lower() if cluster_id else None,  # Redshift stores identifiers in lower case
        db_name=reader.get(section, "DWH_DB") or None, db_user=reader.get(section, "DWH_DB_USER") or None,
        password=reader.get(section, "DWH_DB_PASSWORD") or None, port=number("DWH_PORT", 1150, 65535))
