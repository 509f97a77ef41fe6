"""The IAM policies of what provision.py creates: pure functions, tested document for document."""

from __future__ import annotations

def trust_policy() -> dict:
    """Only Redshift may assume the role."""
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "redshift.amazonaws.com"},
                           "Action": "sts:AssumeRole"}]}


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def s3_read_policy(prefixes: list[str], objects: list[str]) -> dict:
    """Read-only access to exactly these S3 prefixes (listed and read, as COPY does with a prefix)
    and these single objects (the JSONPaths file, which COPY also lists and reads: "IAM permissions
    for COPY, UNLOAD, and CREATE LIBRARY" in the Database Developer Guide): no other key, no
    bucket-wide grant, no writes."""
    buckets: dict[str, list[str]] = {}
    resources = []
    for uri in prefixes:
        bucket, prefix = _split(uri)
        buckets.setdefault(bucket, []).append(prefix + "*")
        resources.append(f"arn:aws:s3:::{bucket}/{prefix}*")
    for uri in objects:
        bucket, key = _split(uri)
        buckets.setdefault(bucket, []).append(key)
        resources.append(f"arn:aws:s3:::{bucket}/{key}")
    statements = [{"Sid": f"List{index}", "Effect": "Allow", "Action": "s3:ListBucket",
                   "Resource": f"arn:aws:s3:::{bucket}",
                   "Condition": {"StringLike": {"s3:prefix": patterns}}}
                  for index, (bucket, patterns) in enumerate(sorted(buckets.items()))]
    statements.append({"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": resources})
    return {"Version": "2012-10-17", "Statement": statements}
