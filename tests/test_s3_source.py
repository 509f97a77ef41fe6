"""s3:// sources on the PostgreSQL engine, through boto3, against moto's fake S3."""

import json

import pytest

moto = pytest.importorskip("moto")

import boto3  # noqa: E402

import create_tables  # noqa: E402
import etl  # noqa: E402
from conftest import SAMPLE, UDACITY, fetch_all, new_bucket, without_target  # noqa: E402
from sparkify import s3  # noqa: E402

SOURCE = UDACITY if UDACITY.exists() else SAMPLE


@pytest.fixture
def bucket(fake_aws):
    new_bucket("sparkify-test", {"data/" + path.relative_to(SOURCE).as_posix(): path.read_bytes()
                                 for path in sorted(SOURCE.rglob("*.json"))})
    return "s3://sparkify-test/data"


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
    assert without_target(capsys.readouterr().err) == message.format(b=bucket) + "\n"


def test_denied_access_is_one_line(conn, write_config, bucket, capsys, monkeypatch):
    """IAM enforced (moto's auth mode): a user that may list the bucket but not read its objects."""
    from moto.core import set_initial_no_auth_action_count

    @set_initial_no_auth_action_count(3)  # the IAM set-up below is allowed; every later call is checked
    def run():
        iam = boto3.client("iam", region_name="us-west-2")
        iam.create_user(UserName="lister")
        iam.put_user_policy(UserName="lister", PolicyName="list-only", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::sparkify-test"}]}))
        key = iam.create_access_key(UserName="lister")["AccessKey"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        s3.client_for.cache_clear()
        config = write_config(log_data=bucket + "/log_data", song_data=bucket + "/song_data",
                              log_jsonpath=bucket + "/log_json_path.json")
        return etl.main(["--config", str(config), "-q"])

    assert create_tables.main(["--config", str(write_config()), "-q"]) == 0
    assert run() == 1
    assert without_target(capsys.readouterr().err) == (f"error: cannot read {bucket}/log_json_path.json ([S3] LOG_JSONPATH):"
                                       " access denied (these credentials may not read it)\n")


def test_unsigned_reads_a_public_bucket_without_credentials(conn, write_config, bucket, capsys, monkeypatch,
                                                            tmp_path):
    config = write_config(log_data=bucket + "/log_data", song_data=bucket + "/song_data",
                          log_jsonpath=bucket + "/log_json_path.json")
    assert create_tables.main(["--config", str(config), "-q"]) == 0
    name = bucket.split("/")[2]
    boto3.client("s3", region_name="us-west-2").put_bucket_policy(Bucket=name, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                                                "Action": ["s3:GetObject", "s3:ListBucket"],
                                                "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]}]}))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    s3.client_for.cache_clear()
    # signed, without credentials: one line that names the way out
    assert etl.main(["--config", str(config), "-q"]) == 1
    assert without_target(capsys.readouterr().err) == (
        f"error: cannot read {bucket}/log_data ([S3] LOG_DATA): no AWS credentials found (set a"
        " profile or AWS_* variables, or [S3] UNSIGNED=true for a public bucket)\n")
    config.write_text(config.read_text() + "UNSIGNED=true\n")
    assert etl.main(["--config", str(config), "-q"]) == 0
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM staging_events")
        assert cur.fetchone()[0] == sum(len(p.read_text().splitlines()) for p in (SOURCE / "log_data").rglob("*.json"))
    conn.rollback()


def test_small_objects_are_read_concurrently_by_a_bounded_pool(bucket):
    """Many GETs in flight at once, never more than the pool: counted on the client, each GET held
    for a moment as a network round trip would hold it."""
    import threading
    import time

    from sparkify import sources
    from sparkify.loader import load
    from sparkify.source import S3Access, Source

    access = S3Access("us-west-2")
    objects = sources.list_objects(Source(bucket + "/song_data", "[S3] SONG_DATA", access))
    state = {"now": 0, "most": 0, "lock": threading.Lock()}

    def before(**_):
        with state["lock"]:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.02)

    def after(**_):
        with state["lock"]:
            state["now"] -= 1

    client = s3.client_for(access)
    client.meta.events.register("before-send.s3.GetObject", before)
    client.meta.events.register("needs-retry.s3.GetObject", after)
    read = {obj.uri: stream.read() for obj, stream in load.opened(objects[:80])}
    assert [len(body) for body in read.values()] == [obj.size for obj in objects[:80]]
    assert 1 < state["most"] <= load.PREFETCH_OBJECTS


# More than one page of keys (S3 returns at most 1,000 a request), with keys beside the folders, a
# folder placeholder, a sibling prefix that the configured one is a prefix of, and keys outside it.
MANY = ([f"big/song_data/{a}/{b}/TR{a}{b}{i:03}.json" for a in "ABCDE" for b in "WXYZ" for i in range(55)]
        + ["big/song_data", "big/song_data/top.json", "big/song_data/A/", "big/song_data//twice.json",
           "big/song_data/A/W/deep/1/2/3/4/5.json", "big/song_data_2019/x.json", "big/song_dataZ.json",
           "big/other/song_data/x.json", "big/song_dat.json"])


def test_a_prefix_of_more_than_one_page_is_listed_whole_in_key_order(fake_aws):
    """What a COPY from the prefix would load: every key that starts with it, on every page."""
    from sparkify import sources
    from sparkify.source import S3Access, Source

    new_bucket("sparkify-big", {key: b"{}" for key in reversed(MANY)})
    listed = sources.list_objects(Source("s3://sparkify-big/big/song_data", "[S3] SONG_DATA", S3Access(fake_aws)))
    want = sorted(key for key in MANY if key.startswith("big/song_data") and not key.endswith("/"))
    assert len(want) == 5 * 4 * 55 + 6 > 1000
    assert [(obj.uri, obj.size, obj.remote) for obj in listed] == [(f"s3://sparkify-big/{key}", 2, True) for key in want]
