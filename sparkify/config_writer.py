"""Writing ``dwh.cfg`` for provision.py, in the format ``sparkify.config`` reads."""

from __future__ import annotations

import os
from pathlib import Path

from .config import AwsResources, Config


def render_provisioned(*, host: str, port: int, db_name: str, db_user: str, password: str, role_arn: str,
                       log_data: str, log_jsonpath: str, song_data: str, s3_region: str,
                       resources: AwsResources, manifest_prefix: str | None = None, kept: str = "") -> str:
    """The dwh.cfg for a provisioned cluster (password included: ``write_private`` writes it 0600)."""
    lines = [
        "# Written by provision.py. Holds the database password: keep it private (it is git-ignored).",
        "# cleanup.py --aws deletes what the [AWS] section names (each carries the project's tag).",
        "",
        "[CLUSTER]",
        f"HOST={host}" if host else "# HOST is empty: the cluster was not available when provision.py stopped",
        f"DB_NAME={db_name}",
        f"DB_USER={db_user}",
        f"DB_PASSWORD={password}",
        f"DB_PORT={port}",
        "ENGINE=redshift",
        "SSLMODE=require",
        "",
        "[IAM_ROLE]",
        f"ARN={role_arn}",
        "",
        "[S3]",
        f"LOG_DATA={log_data}",
        f"LOG_JSONPATH={log_jsonpath}",
        f"SONG_DATA={song_data}",
        f"REGION={s3_region}",
        f"MANIFEST_PREFIX={manifest_prefix}" if manifest_prefix else
        "# MANIFEST_PREFIX=s3://your-bucket/sparkify/manifests/  (etl.py needs it on Redshift: provision.py"
        " --manifest-prefix)",
        "",
        "[AWS]",
        f"REGION={resources.region}",
        f"CLUSTER_ID={resources.cluster_id}",
        f"ROLE_NAME={resources.role_name}",
        f"SECURITY_GROUP_ID={resources.security_group_id or ''}",
        "",
    ]
    return "\n".join(lines) + kept


def course_sections(previous: Config | None) -> str:
    """What provision.py keeps of the file it replaces: the course's [AWS] KEY and SECRET (appended
    to the [AWS] section it writes) and its [DWH] section."""
    if previous is None:
        return ""
    lines = []
    if previous.sources.key:
        lines += [f"KEY={previous.sources.key}", f"SECRET={previous.sources.secret}"]
    dwh = previous.provisioning
    values = (("DWH_CLUSTER_TYPE", dwh.cluster_type), ("DWH_NUM_NODES", dwh.nodes), ("DWH_NODE_TYPE", dwh.node_type),
              ("DWH_IAM_ROLE_NAME", dwh.role_name), ("DWH_CLUSTER_IDENTIFIER", dwh.cluster_id), ("DWH_DB", dwh.db_name),
              ("DWH_DB_USER", dwh.db_user), ("DWH_DB_PASSWORD", dwh.password), ("DWH_PORT", dwh.port))
    if any(value is not None for _, value in values):
        lines += ["", "[DWH]"] + [f"{key}={value}" for key, value in values if value is not None]
    return "\n".join(lines) + "\n" if lines else ""


def write_private(path: Path, text: str) -> None:
    """Readable by the owner only (it holds the password); replaced in one step."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)
