"""The Redshift plan executed end to end on the stand-in (tests/redshift_standin.py): the statements
``--dry-run`` prints for Redshift, run on the PostgreSQL test server with only COPY from S3, the
COPY functions and the load system views emulated, in a provisioned and a Serverless flavour. The
warehouse they build equals the PostgreSQL engine's and the oracle's."""

import contextlib
import re

import psycopg2
import pytest

import cleanup
import create_tables
import etl
from conftest import SAMPLE, SEED, assert_matches_oracle, batches, fetch_all, fresh_schema, new_bucket, star_state
from redshift_standin import StandIn
from sparkify import db, s3
from sparkify.engines import redshift

SERVERLESS_HOST = "sparkify.123456789012.us-west-2.redshift-serverless.amazonaws.com"
DAILY = "[S3]\nMANIFEST_PREFIX=s3://sparkify-runs/manifests/\n"


def seed_config(tmp_path, flavour: str, extra: str = "") -> str:
    """The seed's dwh.cfg as it is (a Serverless workgroup's endpoint for that flavour), plus ``extra``."""
    text = SEED if flavour == "provisioned" else SEED.replace("dwhcluster.abc.us-west-2.redshift.amazonaws.com",
                                                              SERVERLESS_HOST)
    if extra:
        text = text.replace("[S3]\n", extra)
    path = tmp_path / "redshift" / "dwh.cfg"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return str(path)


@pytest.fixture(params=["provisioned", "serverless"])
def flavour(request):
    return request.param


@pytest.fixture
def standin(pg_params, schema, flavour, fake_aws):
    """The stand-in cluster in the test's schema; the client's own S3 calls are counted apart from
    those the emulated COPY makes (``client_calls``)."""
    stand_in = StandIn(pg_params, schema, serverless=flavour == "serverless")
    stand_in.client_calls = []
    real_client_for = s3.client_for

    def client_for(access):
        if not stand_in.emulating:
            stand_in.client_calls.append(access)
        return real_client_for(access)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(s3, "client_for", client_for)
        yield stand_in
    stand_in.settle()


@contextlib.contextmanager
def on_redshift(stand_in: StandIn):
    """The scripts' connections go to the stand-in while inside."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(db, "_connect_with_retries", lambda params, where: stand_in.connect())
        yield


@pytest.fixture
def postgres_warehouse(pg_params, write_config, tmp_path):
    """A schema for the PostgreSQL engine's warehouse of the same files; a function that builds it
    from a folder (``incremental``: a daily run) and a connection to it."""
    with fresh_schema(pg_params) as name:
        connection = psycopg2.connect(**pg_params, options=f"-c search_path={name}")

        def build(folder, incremental=False):
            text = write_config(log_data=folder / "log_data", song_data=folder / "song_data",
                                log_jsonpath=SAMPLE / "log_json_path.json").read_text()
            cfg = tmp_path / "postgres.cfg"
            cfg.write_text(re.sub(r"SCHEMA=\w+", f"SCHEMA={name}", text))
            if not (tmp_path / "postgres.created").exists():
                assert create_tables.main(["--config", str(cfg), "-q"]) == 0
                (tmp_path / "postgres.created").touch()
            assert etl.main(["--config", str(cfg), "-q"] + (["--incremental"] if incremental else [])) == 0
            return connection

        yield build
        connection.close()


def upload(client, paths) -> None:
    for path in paths:
        client.put_object(Bucket="udacity-dend", Key=str(path.relative_to(SAMPLE)), Body=path.read_bytes())


def sample_bucket():
    """The Udacity bucket in moto's S3, holding the shipped sample as the seed's URIs name it; its client."""
    client = new_bucket("udacity-dend")
    upload(client, [path for path in SAMPLE.rglob("*") if path.is_file()])
    return client


def as_planned(text: str) -> str:
    """A statement as sent, with what only the run knows in the words --dry-run uses for it."""
    text = " ".join(text.split())
    text = re.sub(r"CAST\('[^']*'::timestamp AS TIMESTAMP\)", "CAST(<the time above> AS TIMESTAMP)", text)
    text = re.sub(r"WHERE query_id = \d+", "WHERE query_id = <the query_id found>", text)
    text = re.sub(r"manifests/\d{8}T\d+-[0-9a-f]{8}/", "manifests/<run>/", text)
    return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?", "<time>", text)


def etl_transaction(stand_in: StandIn) -> list[str]:
    """What the last run sent in its ETL transaction, each repeated poll once, as --dry-run words it."""
    sent = stand_in.connections[-1].sent
    start = sent.index("COMMIT") + 1  # after the engine was asked of the server
    statements = []
    for text in sent[start:]:
        text = as_planned(text)
        if not (statements and text == statements[-1] and text.startswith("SELECT h.query_id")):
            statements.append(text)
    return statements


def dry_run(cfg: str, capsys) -> list[str]:
    capsys.readouterr()
    assert etl.main(["--config", cfg, "--dry-run", "-q"]) == 0
    lines = capsys.readouterr().out.splitlines()
    return [as_planned(line.rstrip(";")) for line in lines[1:]
            if not line.startswith("--") and not line.startswith("INSERT INTO load_ledger (\"table_name\", \"file_")
            or line.startswith("INSERT INTO load_ledger (\"table_name\", \"file_name\", \"bytes\", \"etag\", \"modif"
                               "ied\", \"row_count\", \"loaded_at\", \"run_no\") SELECT")]


def ledger(conn, prefix: str, lines: bool = False) -> list[tuple]:
    """The ledger's files (named under the source), bytes, ETag, rows and run number. ``lines``: the
    rows as Redshift records them, the lines it scanned in the file (a pretty-printed song file is
    one record on many lines)."""
    found = []
    for table, name, size, etag, _, rows, _, run in fetch_all(conn, "load_ledger", "table_name, file_name"):
        name = name[len(prefix):] if name.startswith(prefix) else name
        if lines:
            content = (SAMPLE / name).read_bytes()
            rows = content.count(b"\n") + (0 if content.endswith(b"\n") else 1)
        found.append((table, name, size, etag, rows, run))
    return found


def test_the_seeds_config_rebuilds_the_warehouse_as_postgresql_does(tmp_path, standin, flavour, conn,
                                                                      postgres_warehouse, capsys):
    """The seed's dwh.cfg, nothing added: COPY straight from the three URIs, no S3 call on the
    client, the ledger from Redshift's record; the plan sent is the one --dry-run prints."""
    sample_bucket()
    cfg = seed_config(tmp_path, flavour)
    with on_redshift(standin):
        assert create_tables.main(["--config", cfg, "-q"]) == 0
        assert etl.main(["--config", cfg, "-q"]) == 0
        sent = etl_transaction(standin)
        planned = dry_run(cfg, capsys)
    assert standin.client_calls == []
    assert [copy["manifest"] for copy in standin.copies] == [None, None]
    assert sent == planned
    assert_matches_oracle(conn, SAMPLE / "log_data", SAMPLE / "song_data")
    postgres = postgres_warehouse(SAMPLE)
    assert star_state(conn) == star_state(postgres)
    # the ledger Redshift's record filled holds what the loader's holds: bytes, MD5, run (and lines)
    assert ledger(conn, "s3://udacity-dend/") == ledger(postgres, str(SAMPLE) + "/", lines=True)


def test_a_full_rebuild_and_three_daily_batches_equal_postgresqls_warehouse(tmp_path, standin, flavour, conn,
                                                                             postgres_warehouse):
    client = new_bucket("udacity-dend", {"log_json_path.json": (SAMPLE / "log_json_path.json").read_bytes()})
    new_bucket("sparkify-runs")
    cfg = seed_config(tmp_path, flavour, DAILY)
    inbox = tmp_path / "inbox"
    delivered = []
    with on_redshift(standin):
        assert create_tables.main(["--config", cfg, "-q"]) == 0
    for number, batch in enumerate(batches(SAMPLE, 4, seed=11)):
        upload(client, batch)
        delivered += batch
        for path in batch:
            target = inbox / path.relative_to(SAMPLE)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
        daily = ["--incremental"] if number else []
        with on_redshift(standin):
            assert etl.main(["--config", cfg, "-q", *daily]) == 0
        postgres = postgres_warehouse(inbox, incremental=bool(number))
        assert star_state(conn) == star_state(postgres), f"after batch {number}"
        assert ledger(conn, "s3://udacity-dend/") == ledger(postgres, str(inbox) + "/", lines=True)
    assert [bool(copy["manifest"]) for copy in standin.copies] == [False] * 2 + [True] * 6
    assert_matches_oracle(conn, SAMPLE / "log_data", SAMPLE / "song_data")


def test_redshifts_record_is_waited_for(tmp_path, standin, flavour, conn, capsys):
    """SYS rows that come a moment after the COPY are waited for; rows that never come stop the run
    with one line, nothing committed."""
    sample_bucket()
    cfg = seed_config(tmp_path, flavour)
    standin.sys_delay = 0.4
    with on_redshift(standin):
        assert create_tables.main(["--config", cfg, "-q"]) == 0
        assert etl.main(["--config", cfg, "-q"]) == 0
    assert_matches_oracle(conn, SAMPLE / "log_data", SAMPLE / "song_data")
    files = sorted(str(path.relative_to(SAMPLE)) for path in SAMPLE.glob("*_data/**/*.json"))
    assert [name for _, name, *_ in ledger(conn, "s3://udacity-dend/")] == files
    standin.settle()
    standin.sys_delay = 3.0
    with on_redshift(standin), pytest.MonkeyPatch.context() as patch:
        patch.setattr(redshift, "RECORD_WAIT_SECONDS", 0.5)
        capsys.readouterr()
        assert etl.main(["--config", cfg, "-q"]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: load staging_events: Redshift had not recorded the COPY after 0.5 s (SYS_LOAD_HISTORY and"
        " SYS_LOAD_DETAIL: status 'running', 0 of 4 files), so its files cannot be put in the ledger; rolled"
        " back, the warehouse is unchanged: run it again")
    assert_matches_oracle(conn, SAMPLE / "log_data", SAMPLE / "song_data")


BAD_DAY = b'{"ts": "soon", "page": "NextSong"}\n'


def test_a_copy_that_fails_on_a_bad_record_shows_that_record(tmp_path, standin, flavour, conn, capsys):
    """The failed COPY is found by session and time, not by pg_last_copy_id() (which a rolled-back
    COPY does not update): the error names the file and line, and nothing is committed."""
    client = sample_bucket()
    client.put_object(Bucket="udacity-dend", Key="log_data/2018/11/2018-11-99-events.json", Body=BAD_DAY)
    cfg = seed_config(tmp_path, flavour)
    with on_redshift(standin):
        assert create_tables.main(["--config", cfg, "-q"]) == 0
        capsys.readouterr()
        assert etl.main(["--config", cfg, "-q"]) == 1
    err = capsys.readouterr().err.splitlines()
    view = "sys_load_error_detail" if flavour == "serverless" else "stl_load_errors"
    assert err[-2] == ("error: load staging_events failed: Load into table 'staging_events' failed.  Check"
                       " 'stl_load_errors' system table for details.; rolled back, the warehouse is unchanged")
    assert err[-1].startswith("  s3://udacity-dend/log_data/2018/11/2018-11-99-events.json, line 1")
    assert view not in err[-1]
    assert fetch_all(conn, "songplays", "1") == [] and fetch_all(conn, "load_ledger", "1") == []


def test_a_copy_that_reads_nothing_says_so(tmp_path, standin, flavour, capsys):
    """No file under the prefix: the COPY fails before reading a record, and the error says that
    instead of showing another COPY's rejections."""
    new_bucket("udacity-dend", {"log_json_path.json": (SAMPLE / "log_json_path.json").read_bytes()})
    cfg = seed_config(tmp_path, flavour)
    with on_redshift(standin):
        assert create_tables.main(["--config", cfg, "-q"]) == 0
        capsys.readouterr()
        assert etl.main(["--config", cfg, "-q"]) == 1
    err = capsys.readouterr().err.splitlines()
    view = "sys_load_error_detail" if flavour == "serverless" else "stl_load_errors"
    assert err[-2] == ("error: load staging_events failed: The specified S3 prefix 'log_data' does not exist;"
                       " rolled back, the warehouse is unchanged")
    assert err[-1] == f"  ({view} has no rows for this COPY: it failed before reading any record)"


def test_max_errors_keeps_what_redshift_skipped(tmp_path, standin, flavour, conn, capsys):
    client = sample_bucket()
    client.put_object(Bucket="udacity-dend", Key="log_data/2018/11/2018-11-99-events.json", Body=BAD_DAY * 2)
    cfg = seed_config(tmp_path, flavour, "[S3]\nMAX_ERRORS=2\n")
    with on_redshift(standin):
        assert create_tables.main(["--config", cfg, "-q"]) == 0
        assert etl.main(["--config", cfg, "-q"]) == 0
    kept = fetch_all(conn, "load_errors", "line_number")
    assert [(table, name, line) for table, name, line, _, _ in kept] == [
        ("staging_events", "s3://udacity-dend/log_data/2018/11/2018-11-99-events.json", line) for line in (1, 2)]
    assert [copy["maxerror"] for copy in standin.copies] == ["3", "3"]
    assert_matches_oracle(conn, SAMPLE / "log_data", SAMPLE / "song_data")


def test_validate_runs_noload_copies_on_redshift(tmp_path, standin, flavour, conn, capsys):
    client = sample_bucket()
    client.put_object(Bucket="udacity-dend", Key="log_data/2018/11/2018-11-99-events.json", Body=BAD_DAY)
    cfg = seed_config(tmp_path, flavour)
    with on_redshift(standin):
        assert create_tables.main(["--config", cfg, "-q"]) == 0
        capsys.readouterr()
        assert etl.main(["--config", cfg, "--validate"]) == 1
    out = capsys.readouterr().out
    assert "  s3://udacity-dend/log_data/2018/11/2018-11-99-events.json, line 1" in out
    assert [copy["noload"] for copy in standin.copies] == [" NOLOAD", " NOLOAD"]
    assert fetch_all(conn, "staging_events", "1") == []


def test_a_manifest_bucket_in_another_region_is_refused_before_connecting(tmp_path, standin, flavour, capsys):
    """Every file a COPY names, its manifest too, is read in the cluster's region (or REGION's)."""
    import boto3

    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="runs-in-ireland", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    cfg = seed_config(tmp_path, flavour, "[S3]\nMANIFEST_PREFIX=s3://runs-in-ireland/manifests/\n")
    standin.connections.clear()
    with on_redshift(standin):
        assert etl.main(["--config", cfg, "-q", "--incremental"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: {cfg}: [S3] MANIFEST_PREFIX is in a bucket in eu-west-1, and the COPY reads in us-west-2 (the"
        " cluster's region): every file a COPY names, its manifest too, must be in that region; use a bucket in"
        " us-west-2")
    assert standin.connections == []


def test_create_tables_and_cleanup_are_each_one_transaction(tmp_path, standin, flavour, conn):
    cfg = seed_config(tmp_path, flavour)
    with on_redshift(standin):
        assert create_tables.main(["--config", cfg, "-q"]) == 0
        create = standin.connections[-1].sent
        assert cleanup.main(["--config", cfg, "-q", "--yes"]) == 0
        drop = standin.connections[-1].sent
    create, drop = create[create.index("COMMIT") + 1:], drop[drop.index("COMMIT") + 1:]
    assert [text.split()[0] for text in create] == ["DROP"] * 13 + ["CREATE"] * 13 + ["COMMIT"]
    assert [text.split()[0] for text in drop] == ["DROP"] * 13 + ["COMMIT"]
    assert create[15].startswith("CREATE TABLE \"songplays\"") and create[15].endswith(
        "DISTSTYLE KEY DISTKEY (\"start_time\") SORTKEY (\"start_time\")")
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()"
                    " AND table_name NOT LIKE 'st%%_load_%%' AND table_name NOT LIKE 'sys_load_%%'")
        assert cur.fetchone()[0] == 0


@pytest.mark.parametrize("same_size", [True, False], ids=["same size, another ETag", "another size"])
def test_a_changed_file_on_s3_stops_a_daily_load_with_nothing_changed(tmp_path, standin, flavour, conn, capsys,
                                                                      same_size):
    """The ledger a full rebuild filled from Redshift's record holds each file's ETag and size: a
    daily load compares its listing with them."""
    client = sample_bucket()
    new_bucket("sparkify-runs")
    cfg = seed_config(tmp_path, flavour, DAILY)
    with on_redshift(standin):
        assert create_tables.main(["--config", cfg, "-q"]) == 0
        assert etl.main(["--config", cfg, "-q"]) == 0
    before = star_state(conn)
    key = "log_data/2018/11/2018-11-01-events.json"
    body = (SAMPLE / key).read_bytes()
    client.put_object(Bucket="udacity-dend", Key=key, Body=body.replace(b"Logged In", b"Logged Up") if same_size
                      else body + b"\n")
    capsys.readouterr()
    with on_redshift(standin):
        assert etl.main(["--config", cfg, "-q", "--incremental"]) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    says = "same size, another ETag" if same_size else f"{len(body):,} bytes when loaded on "
    assert err.startswith(f"error: 1 file changed after it was loaded: s3://udacity-dend/{key} (")
    assert says in err and err.endswith("Nothing was changed")
    assert star_state(conn) == before
    assert client.list_objects_v2(Bucket="sparkify-runs").get("KeyCount") == 0  # no manifest written


@pytest.mark.parametrize("host", ["warehouse.example.com", SERVERLESS_HOST])
def test_the_server_says_which_view_explains_a_copy(tmp_path, standin, flavour, conn, host):
    """Redshift is known by its version(), Serverless by the STL views it lacks: neither by the host's
    name (a custom domain has no tell-tale suffix)."""
    client = sample_bucket()
    client.put_object(Bucket="udacity-dend", Key="log_data/2018/11/2018-11-99-events.json", Body=BAD_DAY)
    path = tmp_path / "custom.cfg"
    path.write_text(SEED.replace("dwhcluster.abc.us-west-2.redshift.amazonaws.com", host))
    with on_redshift(standin):
        assert create_tables.main(["--config", str(path), "-q"]) == 0
        assert etl.main(["--config", str(path), "-q", "--max-errors", "5"]) == 0
    keeps = [text for text in standin.sent() if text.startswith("INSERT INTO load_errors")]
    view = "sys_load_error_detail" if flavour == "serverless" else "stl_load_errors"
    assert len(keeps) == 2 and all(f"FROM {view}" in text for text in keeps)
    assert [row[:3] for row in fetch_all(conn, "load_errors", "1")] == [
        ("staging_events", "s3://udacity-dend/log_data/2018/11/2018-11-99-events.json", 1)]


def test_more_max_errors_than_redshift_can_tolerate_is_a_config_error(tmp_path, standin, flavour, capsys):
    cfg = seed_config(tmp_path, flavour)
    with on_redshift(standin):
        assert etl.main(["--config", cfg, "--max-errors", "100000", "-q"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: {cfg}: [S3] MAX_ERRORS (or --max-errors) is at most 99,999 on Redshift, not 100,000"
        " (its MAXERROR stops at 100,000)")
    assert standin.connections == []


def test_a_name_redshifts_record_cuts_short(tmp_path, standin, flavour, conn, capsys):
    """SYS_LOAD_DETAIL.file_name is CHAR(256): a full rebuild cannot name such a file in the ledger
    and stops, nothing committed; a daily load names it from its listing and matches Redshift's
    record on the first 256 characters."""
    client = sample_bucket()
    key = "log_data/2018/11/" + "x" * 240 + "-events.json"
    client.put_object(Bucket="udacity-dend", Key=key,
                      Body=(SAMPLE / "log_data/2018/11/2018-11-01-events.json").read_bytes().replace(
                          b'"ts":15', b'"ts":16'))
    new_bucket("sparkify-runs")
    cfg = seed_config(tmp_path, flavour, DAILY)
    with on_redshift(standin):
        assert create_tables.main(["--config", cfg, "-q"]) == 0
        capsys.readouterr()
        assert etl.main(["--config", cfg, "-q"]) == 1
        assert capsys.readouterr().err.splitlines()[-1] == (
            "error: load staging_events: an input file's name is 256 bytes or longer, which Redshift's record of a"
            " COPY (SYS_LOAD_DETAIL.file_name, CHAR(256)) cuts short, so the ledger could not name it; rolled back,"
            " the warehouse is unchanged: shorten the keys")
        assert fetch_all(conn, "load_ledger", "1") == []
        assert etl.main(["--config", cfg, "-q", "--incremental"]) == 0
    rows = {name: count for _, name, _, _, _, count, _, _ in fetch_all(conn, "load_ledger", "file_name")}
    assert rows[f"s3://udacity-dend/{key}"] == rows["s3://udacity-dend/log_data/2018/11/2018-11-01-events.json"] > 0


def test_an_earlier_load_of_a_reused_session_id_is_not_taken_for_this_copy(tmp_path, standin, flavour, conn):
    """Session ids are process ids, which Redshift reuses: a completed load into the same table by an
    earlier connection with this connection's session id, recorded before this COPY began, is passed over while
    this COPY's own record is still to come."""
    sample_bucket()
    cfg = seed_config(tmp_path, flavour)
    with on_redshift(standin):
        assert create_tables.main(["--config", cfg, "-q"]) == 0
    real_connect = standin.connect

    def connect_with_a_past(**params):
        connection = real_connect(**params)
        with psycopg2.connect(**standin.params, options=f"-c search_path={standin.schema}") as past, \
                past.cursor() as cur:
            for table in ("staging_events", "staging_songs"):
                cur.execute("INSERT INTO sys_load_history (user_id, query_id, session_id, status, table_name,"
                            " start_time, file_count_scanned) VALUES (100, 900000 + %s, %s, 'completed', %s,"
                            " (clock_timestamp() AT TIME ZONE 'UTC') - INTERVAL '1 hour', 0)",
                            (len(table), connection.get_backend_pid(), table))
        past.close()
        return connection

    standin.connect = connect_with_a_past
    standin.sys_delay = 0.3
    with on_redshift(standin):
        assert etl.main(["--config", cfg, "-q"]) == 0
    files = sorted(str(path.relative_to(SAMPLE)) for path in SAMPLE.glob("*_data/**/*.json"))
    assert [name for _, name, *_ in ledger(conn, "s3://udacity-dend/")] == files


def test_an_event_in_two_files_is_one_play_on_redshift_too(tmp_path, standin, flavour, conn):
    """A full rebuild's COPY reads every file under the prefix, copies too: the transform counts each
    event once, as the PostgreSQL engine and the oracle do."""
    client = sample_bucket()
    day = "log_data/2018/11/2018-11-01-events.json"
    client.put_object(Bucket="udacity-dend", Key="log_data/2018/11/2018-11-01-events-resent.json",
                      Body=b"\n".join((SAMPLE / day).read_bytes().splitlines()[:40]) + b"\n")
    cfg = seed_config(tmp_path, flavour)
    with on_redshift(standin):
        assert create_tables.main(["--config", cfg, "-q"]) == 0
        assert etl.main(["--config", cfg, "-q"]) == 0
    assert_matches_oracle(conn, SAMPLE / "log_data", SAMPLE / "song_data")
