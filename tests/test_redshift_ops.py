"""What the scripts send to Redshift, in order and inside which transaction, through a recording
connection (no cluster is reachable); every recorded statement is also parsed with sqlfluff's
redshift dialect. The same scripts run against real PostgreSQL in the other tests."""

import datetime
import json
import re

import psycopg2
import psycopg2.errors
import pytest

import cleanup
import create_tables
import etl
import sql_queries as q
from sparkify import db, ledger, pipeline
from sparkify.engines import RedshiftEngine
from sparkify.config import load_config
from recording import RecordingConnection, Reply
from conftest import REDSHIFT_CFG, new_bucket, parse_errors, without_target
from sparkify.sqltext import one_line

EVENTS_FILE = "s3://udacity-dend/log_data/2018/11/2018-11-01-events.json"
STL = "SELECT TRIM(filename), line_number, TRIM(colname), TRIM(raw_field_value), TRIM(err_reason)"
SYS = "SELECT TRIM(file_name), line_number, TRIM(column_name), NULL, TRIM(error_message)"
COPY_FAILED = "Load into table 'staging_events' failed. Check 'stl_load_errors' system table for details."
PROBE = "SELECT COUNT(*) FROM stl_load_errors WHERE 1 = 0"
NO_STL = PROBE, Reply(error=psycopg2.errors.InsufficientPrivilege("permission denied for relation stl_load_errors"))
REJECTED = [(EVENTS_FILE, 3, "ts", "soon", "Invalid digit, Value 's', Pos 0, Type: Long", 7),
            (EVENTS_FILE, 9, "user_id", "x1", "Invalid digit, Value 'x', Pos 0, Type: Integ", 7)]


def by_prefix(*pairs):
    """Replies to the statements that start with each prefix (the first that matches)."""
    return lambda text: next((reply for prefix, reply in pairs if text.startswith(prefix)), None)


def events_copy_fails():
    return 'COPY "staging_events"', Reply(error=psycopg2.errors.InternalError_(COPY_FAILED))


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / "dwh.cfg"
    path.write_text(REDSHIFT_CFG)
    return path


SONG = "song_data/A/A/A/TRAAA01.json"
BUCKET_FILES = {"log_data/2018/11/2018-11-01-events.json": b'{"ts": 1}\n', "log_data/2018/11/2018-11-02-events.json":
                b'{"ts": 2}\n{"ts": 3}\n', "song_data/A/A/A/TRAAA01.json": b'{"song_id": "S1"}',
                "log_json_path.json": b'{"jsonpaths": []}'}


@pytest.fixture
def bucket(fake_aws):
    """moto's S3 with the config's bucket (a few files under each prefix) and the manifests' bucket."""
    new_bucket("sparkify-runs")
    return new_bucket("udacity-dend", BUCKET_FILES)


def manifests(client) -> dict:
    """table -> the files its manifest named, of every manifest the runs wrote."""
    found = {}
    for item in client.list_objects_v2(Bucket="sparkify-runs").get("Contents", []):
        body = json.loads(client.get_object(Bucket="sparkify-runs", Key=item["Key"])["Body"].read())
        assert item["Key"].startswith("manifests/") and all(e["mandatory"] for e in body["entries"])
        found[item["Key"].rsplit("/", 1)[1]] = [(e["url"], e["meta"]["content_length"]) for e in body["entries"]]
    return found


def same_run(text: str) -> str:
    """A statement with the run's clock and its manifests' random part blanked out."""
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?", "<time>", text)
    return re.sub(r"manifests/\d{8}T\d+-[0-9a-f]{8}/", "manifests/<run>/", text)


def assert_sent_as_planned(run: list[str], plan: list[str]) -> list[str]:
    """What one transaction sent is what --dry-run shows for the same files, then COMMIT (the ledger
    rows in full, the manifests written and the checks NOT NULL enforces: not sent); returns the
    plan's statements as sent."""
    sent = [line.rstrip(";") for line in plan[1:-1] if not line.startswith(("--", "INSERT INTO load_ledger"))]
    assert [same_run(text) for text in run if not text.startswith("INSERT INTO load_ledger")] == [
        same_run(text) for text in sent] + ["COMMIT"]
    return sent


@pytest.fixture
def cluster(monkeypatch, bucket):
    """Every psycopg2.connect of the scripts gets this recording connection; ``replies`` may be
    replaced by a test. S3 is moto's (``bucket``)."""
    recording = RecordingConnection()
    connects = []

    def connect(**params):
        connects.append(params)
        return recording

    monkeypatch.setattr(db.psycopg2, "connect", connect)
    recording.connects = connects
    return recording


def transactions(recording):
    grouped = {}
    for number, text in recording.log:
        grouped.setdefault(number, []).append(text)
    return list(grouped.values())


def assert_all_parse(recording):
    for text in recording.statements():
        if text not in ("COMMIT", "ROLLBACK"):
            assert parse_errors(text) == [], text


def test_etl_is_one_transaction_that_matches_the_dry_run(cfg, cluster, bucket, capsys):
    assert etl.main(["--config", str(cfg), "--quiet"]) == 0
    assert cluster.connects[0]["sslmode"] == "require" and cluster.closed
    detect, run = transactions(cluster)
    assert detect == ["SELECT version()", PROBE, "COMMIT"]
    config = load_config(cfg)
    plan = pipeline.describe_steps(pipeline.etl_steps(RedshiftEngine(), config, ledger.plan(config)))
    # what was sent is what --dry-run shows for the same files (the ledger rows in full, the
    # manifests written and the checks NOT NULL enforces, not sent), the matched-plays count last, then COMMIT
    sent = assert_sent_as_planned(run, plan)
    assert sent[-1] == "SELECT COUNT(*), COUNT(song_id) FROM songplays"
    assert [text.split()[0] for text in run[:17]] == ["LOCK"] + ["DELETE"] * 13 + ["INSERT", "SELECT", "COPY"]
    # one COPY per table over a manifest of exactly the files listed, each file then in the ledger
    assert manifests(bucket) == {
        "staging_events.manifest": [(f"s3://udacity-dend/{key}", len(body)) for key, body in BUCKET_FILES.items()
                                    if key.startswith("log_data")],
        "staging_songs.manifest": [("s3://udacity-dend/song_data/A/A/A/TRAAA01.json", len(BUCKET_FILES[SONG]))]}
    assert all(" MANIFEST FORMAT AS JSON " in text for text in run if text.startswith("COPY"))
    ledger_rows = [text for text in run if text.startswith("INSERT INTO load_ledger")]
    assert len(ledger_rows) == 2 and ledger_rows[0].count("'s3://udacity-dend/log_data/2018/11/") == 2
    assert cluster.violations == []
    assert_all_parse(cluster)


def test_an_incremental_run_copies_only_the_new_files(cfg, cluster, bucket, capsys):
    """The ledger has the first day (same ETag): the manifest names the second day and the song."""
    etag = bucket.head_object(Bucket="udacity-dend", Key="log_data/2018/11/2018-11-01-events.json")["ETag"].strip('"')
    day_one = ("staging_events", EVENTS_FILE, 10, etag, None, datetime.datetime(2026, 12, 1))
    cluster.replies = by_prefix((one_line(q.read_ledger(q.STAGING_EVENTS)), Reply([day_one])))
    assert etl.main(["--config", str(cfg), "--incremental"]) == 0
    detect, run = transactions(cluster)
    # the ledger is read in the run's transaction, right after its LOCK (a run that waited for
    # another sees what that one loaded), and what was sent is what --dry-run shows for that ledger
    assert run[1:3] == [one_line(q.read_ledger(table)) for table in q.STAGING_TABLES]
    config = load_config(cfg)
    with ledger.Planning(config, incremental=True) as planning:
        planning.keep(q.STAGING_EVENTS, [day_one])
        planning.keep(q.STAGING_SONGS, [])
        plan = pipeline.describe_steps(pipeline.etl_steps(RedshiftEngine(), config, planning.batch()))
    assert_sent_as_planned(run, plan)
    run = run[:1] + run[3:]
    assert manifests(bucket) == {
        "staging_events.manifest": [("s3://udacity-dend/log_data/2018/11/2018-11-02-events.json",
                                     len(BUCKET_FILES["log_data/2018/11/2018-11-02-events.json"]))],
        "staging_songs.manifest": [("s3://udacity-dend/song_data/A/A/A/TRAAA01.json", len(BUCKET_FILES[SONG]))]}
    # staging cleared, not the star: it is brought up to date
    assert [text.split()[0] for text in run[:6]] == ["LOCK", "DELETE", "DELETE", "DELETE", "INSERT", "SELECT"]
    assert "INSERT INTO load_runs (run_no, incremental, started_at, songplays_before) SELECT" in run[4]
    assert run[4].count("true") == 1 and run[-1] == "COMMIT" and cluster.violations == []
    assert "staging_events: 1 new file, 1 loaded before" in capsys.readouterr().out
    assert_all_parse(cluster)


SAME_SIZE_WHY = (" An S3 ETag is the MD5 of the bytes only for a one-part upload without SSE-KMS or SSE-C: the same"
                 " bytes uploaded again can have another.")


@pytest.mark.parametrize("recorded_bytes, says, why", [
    (10, "loaded on 2026-12-01 00:00; same size, another ETag", SAME_SIZE_WHY),  # only the ETag says it changed
    (12, "12 bytes when loaded on 2026-12-01 00:00, now 10", ""),  # its size says so
])
def test_a_changed_file_on_s3_is_refused_before_anything_is_changed(cfg, cluster, bucket, capsys, recorded_bytes,
                                                                    says, why):
    day_one = ("staging_events", EVENTS_FILE, recorded_bytes, "0" * 32, None, datetime.datetime(2026, 12, 1))
    cluster.replies = by_prefix((one_line(q.read_ledger(q.STAGING_EVENTS)), Reply([day_one])))
    assert etl.main(["--config", str(cfg), "--incremental", "-q"]) == 1
    err = without_target(capsys.readouterr().err)
    assert err == (f"error: 1 file changed after it was loaded: {EVENTS_FILE} ({says}).{why} An incremental run loads"
                   " only new files; a full rebuild (python etl.py, without --incremental) takes changed files in."
                   " Nothing was changed\n")
    detect, run = transactions(cluster)
    assert [text.split()[0] for text in run] == ["LOCK", "SELECT", "SELECT", "ROLLBACK"]  # the two ledger reads
    assert manifests(bucket) == {}


def test_create_tables_and_cleanup_each_one_transaction(cfg, cluster):
    assert create_tables.main(["--config", str(cfg), "-q"]) == 0
    assert cleanup.main(["--config", str(cfg), "-q", "--yes"]) == 0
    detect1, create, detect2, drop = transactions(cluster)
    assert create[-1] == "COMMIT" and drop[-1] == "COMMIT"
    assert [t.split()[0] for t in create[:-1]] == ["DROP"] * 13 + ["CREATE"] * 13
    assert all(t.startswith("DROP TABLE IF EXISTS") for t in drop[:-1]) and len(drop) == 14
    assert create[15].startswith("CREATE TABLE \"songplays\"") and create[15].endswith(
        "DISTSTYLE KEY DISTKEY (\"start_time\") SORTKEY (\"start_time\")")
    assert cluster.violations == []
    assert_all_parse(cluster)


def test_a_failed_copy_shows_what_redshift_rejected(cfg, cluster, capsys):
    cluster.replies = by_prefix(events_copy_fails(), (STL, Reply(REJECTED)))
    assert etl.main(["--config", str(cfg), "-q"]) == 1
    err = without_target(capsys.readouterr().err)
    assert err.splitlines() == [
        f"error: load staging_events failed: {COPY_FAILED}; rolled back, the warehouse is unchanged",
        f"  {EVENTS_FILE}, line 3, column ts, value 'soon': Invalid digit, Value 's', Pos 0, Type: Long",
        f"  {EVENTS_FILE}, line 9, column user_id, value 'x1': Invalid digit, Value 'x', Pos 0, Type: Integ",
        "  ... 5 more in stl_load_errors",
    ]
    detect, run, details = transactions(cluster)
    assert run[-3:-1] == ["SELECT pg_last_copy_id()", run[-2]] and run[-2].startswith('COPY "staging_events"')
    assert run[-1] == "ROLLBACK" and "COMMIT" not in run
    # the details are read after the rollback, in a transaction of their own, also rolled back
    assert details[0].startswith(STL) and "WHERE query = pg_last_copy_id() AND pg_last_copy_id() <> 0" in details[0]
    assert details[1:] == ["ROLLBACK"]
    assert_all_parse(cluster)


def test_without_stl_tables_the_sys_view_is_read(cfg, cluster, capsys):
    """The server decides, once at connect time: where STL_LOAD_ERRORS cannot be read (Serverless,
    whatever its host is called) only SYS_LOAD_ERROR_DETAIL is asked, for this COPY's table."""
    cluster.replies = by_prefix(
        NO_STL, events_copy_fails(),
        (SYS, Reply([(EVENTS_FILE, 3, "ts", None, "Invalid digit, Value 's', Pos 0, Type: Long", 1)])))
    assert etl.main(["--config", str(cfg), "-q"]) == 1
    err = without_target(capsys.readouterr().err).splitlines()
    assert err[1:] == [f"  {EVENTS_FILE}, line 3, column ts: Invalid digit, Value 's', Pos 0, Type: Long"]
    detect, run, sys_view = transactions(cluster)
    assert detect == ["SELECT version()", PROBE, "ROLLBACK"]
    assert not any("stl_load_errors" in text for text in run + sys_view)
    assert sys_view[0].startswith(SYS) and sys_view[0].endswith(
        "WHERE query_id = (SELECT MAX(query_id) FROM sys_load_history WHERE session_id = pg_backend_pid()"
        " AND table_name = 'staging_events') ORDER BY file_name, line_number LIMIT 10")
    assert sys_view[1] == "ROLLBACK"


def test_a_copy_that_failed_before_loading_shows_no_other_copys_rejections(cfg, cluster, capsys):
    """Access denied: the COPY never started loading, so pg_last_copy_id() still names the events'
    COPY. The STL query asks for a COPY id other than the one read before the songs' COPY, so the
    events' rejections are not shown as the songs'."""
    denied = "S3ServiceException:Access Denied,Status 403"

    def replies(text):
        if text == "SELECT pg_last_copy_id()":
            return Reply([(41,)])
        if text.startswith('COPY "staging_songs"'):
            return Reply(error=psycopg2.errors.InternalError_(denied))
        if text.startswith(STL):
            return Reply([]) if "<> 41" in text else Reply(REJECTED)

    cluster.replies = replies
    assert etl.main(["--config", str(cfg), "-q"]) == 1
    assert without_target(capsys.readouterr().err).splitlines() == [
        f"error: load staging_songs failed: {denied}; rolled back, the warehouse is unchanged",
        "  (stl_load_errors has no rows for this COPY: it failed before reading any record)"]
    assert_all_parse(cluster)


def test_max_errors_keeps_and_shows_the_skipped_records(cfg, cluster, capsys):
    cluster.replies = by_prefix(("INSERT INTO load_errors", Reply(rowcount=2)),
                                (STL, Reply(REJECTED[:1] + [REJECTED[1][:5] + (2,)])))
    assert etl.main(["--config", str(cfg), "--max-errors", "5"]) == 0
    detect, run = transactions(cluster)
    assert run[-1] == "COMMIT" and cluster.violations == []
    copy = next(i for i, t in enumerate(run) if t.startswith('COPY "staging_events"'))
    assert " MAXERROR 6 " in run[copy]  # 5 tolerated, the 6th fails the load
    assert run[copy + 1] == "SELECT pg_last_copy_count()"
    assert run[copy + 2].startswith("INSERT INTO load_errors") and run[copy + 3].startswith(STL)
    err = without_target(capsys.readouterr().err)
    assert ("keep staging_events load errors: 2 records skipped under MAXERROR, kept in load_errors; the first:\n"
            f"  {EVENTS_FILE}, line 3, column ts, value 'soon': Invalid digit, Value 's', Pos 0, Type: Long\n"
            f"  {EVENTS_FILE}, line 9, column user_id, value 'x1': Invalid digit, Value 'x', Pos 0, Type: Integ\n") in err
    assert_all_parse(cluster)


def test_validate_runs_noload_copies_and_changes_nothing(cfg, cluster, capsys):
    def replies(text):
        if text.startswith(STL) and cluster.transaction == 2:  # the events check
            return Reply(REJECTED)

    cluster.replies = replies
    assert etl.main(["--config", str(cfg), "--validate"]) == 1
    out, err = capsys.readouterr()
    err = without_target(err)
    assert "error: validation found 7 problems in s3://udacity-dend/log_data and s3://udacity-dend/song_data;" \
           " no table was changed" in err
    assert f"  {EVENTS_FILE}, line 3, column ts, value 'soon': Invalid digit, Value 's', Pos 0, Type: Long" in out
    sent = cluster.statements()
    assert "COMMIT" not in sent[3:]  # only the engine detection committed (SELECTs)
    assert not any(t.startswith(("DELETE", "INSERT", "TRUNCATE", "DROP", "CREATE")) for t in sent)
    copies = [t for t in sent if t.startswith("COPY")]
    assert len(copies) == 2 and all(" MAXERROR 100000 NOLOAD " in t for t in copies)
    plan = pipeline.describe_steps(pipeline.validate_steps(RedshiftEngine(), load_config(cfg)))
    assert [line.rstrip(";") for line in plan] == sent[3:]
    # each check reads its rejections inside its own transaction, before the ROLLBACK (the COPY id
    # of a rolled-back transaction is not kept)
    events_check = transactions(cluster)[1]
    assert [t.split()[0] for t in events_check] == ["SELECT", "COPY", "SELECT", "ROLLBACK"]
    assert events_check[2].startswith(STL) and events_check[2].endswith("ORDER BY filename, line_number LIMIT 20")
    assert_all_parse(cluster)


def test_validate_a_clean_input_says_so(cfg, cluster, capsys):
    assert etl.main(["--config", str(cfg), "--validate"]) == 0
    out = capsys.readouterr().out
    assert [line.split() for line in out.splitlines()] == [
        ["table", "files", "records", "problems"], ["-" * 14, "-----", "-------", "--------"],
        ["staging_events", "-", "-", "0"], ["staging_songs", "-", "-", "0"]]


@pytest.mark.parametrize("host", ["dwh.123456789012.us-west-2.redshift-serverless.amazonaws.com",
                                  "warehouse.example.com"])
def test_serverless_keeps_max_errors_records_from_the_sys_view(tmp_path, cluster, capsys, host):
    """Serverless is known by what the server answers (a custom domain has no tell-tale suffix)."""
    cfg = tmp_path / "dwh.cfg"
    cfg.write_text(REDSHIFT_CFG.replace("dwhcluster.abc.us-west-2.redshift.amazonaws.com", host))

    rejected = (EVENTS_FILE, 3, "ts", None, "Invalid digit, Value 's', Pos 0, Type: Long", 1)
    cluster.replies = by_prefix(NO_STL, ("INSERT INTO load_errors", Reply(rowcount=1)), (SYS, Reply([rejected])))
    assert etl.main(["--config", str(cfg), "--max-errors", "5"]) == 0
    sent = cluster.statements()
    keeps = [t for t in sent if t.startswith("INSERT INTO load_errors")]
    assert len(keeps) == 2 and all("FROM sys_load_error_detail" in t and "stl_" not in t for t in keeps)
    assert [t for t in sent if "stl_load_errors" in t] == [PROBE]
    assert f"  {EVENTS_FILE}, line 3, column ts: Invalid digit, Value 's', Pos 0, Type: Long" in without_target(capsys.readouterr().err)
    assert_all_parse(cluster)


def test_a_serverless_host_name_with_stl_readable_uses_stl(tmp_path, cluster):
    cfg = tmp_path / "dwh.cfg"
    cfg.write_text(REDSHIFT_CFG.replace("dwhcluster.abc.us-west-2.redshift.amazonaws.com",
                                        "dwh.123456789012.us-west-2.redshift-serverless.amazonaws.com"))
    assert etl.main(["--config", str(cfg), "--max-errors", "5", "-q"]) == 0
    keeps = [t for t in cluster.statements() if t.startswith("INSERT INTO load_errors")]
    assert len(keeps) == 2 and all("FROM stl_load_errors" in t for t in keeps)


def test_more_max_errors_than_redshift_can_tolerate_is_a_config_error(cfg, cluster, capsys):
    assert etl.main(["--config", str(cfg), "--max-errors", "100000", "-q"]) == 2
    assert without_target(capsys.readouterr().err) == (
        f"error: {cfg}: [S3] MAX_ERRORS (or --max-errors) is at most 99,999 on Redshift, not 100,000"
        " (its MAXERROR stops at 100,000)\n")
    assert [t for t in cluster.statements() if t.startswith(("COPY", "DELETE", "LOCK"))] == []
