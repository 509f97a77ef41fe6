"""s3:// sources on the PostgreSQL engine, through boto3, against moto's fake S3."""

import pytest

moto = pytest.importorskip("moto")

import boto3  # noqa: E402

import create_tables  # noqa: E402
import etl  # noqa: E402
from conftest import SAMPLE, UDACITY, fetch_all  # noqa: E402
from sparkify import s3  # noqa: E402

SOURCE = UDACITY if UDACITY.exists() else SAMPLE


@pytest.fixture
def bucket(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-west-2"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with moto.mock_aws():
        s3._client.cache_clear()
        client = boto3.client("s3", region_name="us-west-2")
        client.create_bucket(Bucket="sparkify-test", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        for path in sorted(SOURCE.rglob("*.json")):
            client.put_object(Bucket="sparkify-test", Key="data/" + path.relative_to(SOURCE).as_posix(),
                              Body=path.read_bytes())
        yield "s3://sparkify-test/data"
    s3._client.cache_clear()


TABLES = {"staging_events": "ts, session_id, item_in_session, user_id", "staging_songs": "song_id",
          "songplays": "songplay_id", "users": "user_id", "songs": "song_id", "artists": "artist_id",
          "time": "start_time"}


def test_s3_loads_the_same_warehouse_as_the_local_folder(conn, write_config, bucket):
    local = write_config(log_data=SOURCE / "log_data", song_data=SOURCE / "song_data",
                         log_jsonpath=SOURCE / "log_json_path.json")
    assert create_tables.main(["--config", str(local), "-q"]) == 0
    assert etl.main(["--config", str(local), "-q"]) == 0
    from_local = {table: fetch_all(conn, table, order) for table, order in TABLES.items()}
    remote = write_config(log_data=bucket + "/log_data", song_data=bucket + "/song_data",
                          log_jsonpath=bucket + "/log_json_path.json")
    assert etl.main(["--config", str(remote), "-q"]) == 0
    assert {table: fetch_all(conn, table, order) for table, order in TABLES.items()} == from_local


@pytest.mark.parametrize("log_data, jsonpath, message", [
    ("s3://no-such-bucket/log_data", "{b}/log_json_path.json",
     "error: cannot read s3://no-such-bucket/log_data ([S3] LOG_DATA): the bucket does not exist"),
    ("{b}/no_such_prefix", "{b}/log_json_path.json",
     "error: no input files under {b}/no_such_prefix ([S3] LOG_DATA): check the path"),
    ("{b}/log_data", "{b}/missing.json",
     "error: cannot read {b}/missing.json ([S3] LOG_JSONPATH): the object does not exist"),
])
def test_s3_errors_name_the_uri(conn, write_config, bucket, capsys, log_data, jsonpath, message):
    config = write_config(log_data=log_data.format(b=bucket), song_data=bucket + "/song_data",
                          log_jsonpath=jsonpath.format(b=bucket))
    assert create_tables.main(["--config", str(config), "-q"]) == 0
    assert etl.main(["--config", str(config), "-q"]) == 1
    assert capsys.readouterr().err == message.format(b=bucket) + "\n"
