"""S3 objects for the PostgreSQL engine's loader, through boto3's standard credential chain.

Credentials, profile and endpoint (``AWS_ENDPOINT_URL``) come from boto3 as usual; the region from
``[S3] REGION`` when set; ``[S3] UNSIGNED=true`` sends unsigned requests (public buckets, no
credentials needed).
"""

from __future__ import annotations

import datetime as dt
import functools

from .errors import DataSourceError
from .source import S3Access, Source, SourceObject


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


# at least the loader's read-ahead pool (loader.PREFETCH_OBJECTS), so no reader waits for a connection
MAX_POOL_CONNECTIONS = 32


@functools.lru_cache(maxsize=4)
def client_for(access: S3Access):
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config as BotoConfig

    config = BotoConfig(max_pool_connections=MAX_POOL_CONNECTIONS,
                        signature_version=UNSIGNED if access.unsigned else None)
    session = boto3.session.Session(region_name=access.region, aws_access_key_id=access.key,
                                    aws_secret_access_key=access.secret)
    return session.client("s3", config=config)


def _describe(exc: Exception, uri: str, what: str) -> DataSourceError:
    from botocore.exceptions import ClientError, NoCredentialsError

    if isinstance(exc, NoCredentialsError):
        return DataSourceError(f"cannot read {uri} ({what}): no AWS credentials found (set a profile or AWS_*"
                               " variables, or [S3] UNSIGNED=true for a public bucket)")
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        reasons = {
            "NoSuchBucket": "the bucket does not exist",
            "NoSuchKey": "the object does not exist",
            "404": "the object does not exist",
            "AccessDenied": "access denied (these credentials may not read it)",
            "403": "access denied (these credentials may not read it)",
            "InvalidAccessKeyId": "the AWS access key is not valid",
            "SignatureDoesNotMatch": "the AWS secret key does not match the access key",
        }
        return DataSourceError(f"cannot read {uri} ({what}): {reasons.get(code, code or str(exc))}")
    return DataSourceError(f"cannot read {uri} ({what}): {exc}")


def list_objects(source: Source) -> list[SourceObject]:
    from botocore.exceptions import BotoCoreError, ClientError

    uri, what = source.location, source.key
    bucket, prefix = split_uri(uri)
    client = client_for(source.access)
    objects = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/"):
                    continue  # a "folder" placeholder, not data
                objects.append(SourceObject(f"s3://{bucket}/{key}", item["Size"], _opener(client, bucket, key),
                                            remote=True, compression=source.compression,
                                            etag=item.get("ETag", "").strip('"') or None,
                                            modified=_utc(item.get("LastModified"))))
    except (BotoCoreError, ClientError) as exc:
        raise _describe(exc, uri, what) from None
    return sorted(objects, key=lambda obj: obj.uri)


def _utc(moment):
    """S3's LastModified (aware) as the ledger keeps times: UTC without a zone."""
    return None if moment is None else moment.astimezone(dt.UTC).replace(tzinfo=None)


def _opener(client, bucket: str, key: str):
    def open_object():
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return client.get_object(Bucket=bucket, Key=key)["Body"]
        except (BotoCoreError, ClientError) as exc:
            raise _describe(exc, f"s3://{bucket}/{key}", "an object under the prefix") from None

    return open_object


def read_object(source: Source) -> bytes:
    from botocore.exceptions import BotoCoreError, ClientError

    uri, what = source.location, source.key
    bucket, key = split_uri(uri)
    try:
        return client_for(source.access).get_object(Bucket=bucket, Key=key)["Body"].read()
    except (BotoCoreError, ClientError) as exc:
        raise _describe(exc, uri, what) from None


def write_object(access: S3Access, uri: str, body: bytes, what: str) -> None:
    """Write one object (a COPY manifest); ``what`` names the setting that chose where."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = split_uri(uri)
    try:
        client_for(access).put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    except (BotoCoreError, ClientError) as exc:
        reason = str(_describe(exc, uri, what)).replace("cannot read", "cannot write", 1)
        raise DataSourceError(reason.replace("may not read it", "may not write there")) from None


def bucket_region(access: S3Access, uri: str, what: str) -> str:
    """The region of the bucket ``uri`` names (S3 answers None for us-east-1)."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _ = split_uri(uri)
    try:
        location = client_for(access).get_bucket_location(Bucket=bucket)
    except (BotoCoreError, ClientError) as exc:
        raise _describe(exc, uri, what) from None
    return location.get("LocationConstraint") or "us-east-1"
