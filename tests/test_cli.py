"""The scripts as a user runs them: flags, one-line errors with non-zero exits, dry runs, secrets."""

import os
import subprocess
import sys
import time

import pytest

import sql_queries as q
from conftest import ROOT, SAMPLE, without_target

SCRIPTS = ["create_tables.py", "etl.py", "cleanup.py"]
SENTINEL = "s3cr3t p'a%ss"


def run(script, *args, cwd=None, env=None, timeout=120):
    environment = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=cwd or ROOT, env=environment,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help(script):
    result = run(script, "--help")
    assert result.returncode == 0
    for flag in ("--config", "--dry-run", "--quiet"):
        assert flag in result.stdout


def test_embedded_default_with_no_config(tmp_path, pgdata):
    """No dwh.cfg at all: the embedded PostgreSQL and the shipped sample, said in one line."""
    env = {"SPARKIFY_EMBEDDED_DIR": str(pgdata)}
    created = run("create_tables.py", cwd=tmp_path, env=env)
    assert created.returncode == 0, created.stderr
    loaded = run("etl.py", cwd=tmp_path, env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stderr.splitlines()[0] == (
        f"target: embedded PostgreSQL in {pgdata} (postgres); data: the shipped sample data")
    assert "data-quality checks passed: 19 of 19" in loaded.stdout
    cleaned = run("cleanup.py", "--quiet", cwd=tmp_path, env=env)  # the embedded default needs no --yes
    assert (cleaned.returncode, cleaned.stdout, cleaned.stderr) == (0, "", "")


def unreachable_config(tmp_path, extra=""):
    path = tmp_path / "dwh.cfg"
    path.write_text(f"[CLUSTER]\nHOST=127.0.0.1\nDB_PORT=1\nDB_NAME=dwh\nDB_USER=dwhuser\nDB_PASSWORD={SENTINEL}\n"
                    f"{extra}[S3]\nLOG_DATA={SAMPLE / 'log_data'}\nSONG_DATA={SAMPLE / 'song_data'}\n"
                    f"LOG_JSONPATH={SAMPLE / 'log_json_path.json'}\n")
    return path


@pytest.mark.parametrize("script", SCRIPTS)
def test_unreachable_server_is_one_line(tmp_path, script):
    started = time.monotonic()
    result = run(script, "--config", str(unreachable_config(tmp_path)), "--yes" if script == "cleanup.py" else "-q")
    assert time.monotonic() - started < 60
    assert result.returncode == 1
    errors = [line for line in without_target(result.stderr).splitlines() if not line.startswith("cannot connect to")]
    assert len(errors) == 1  # besides the retry notes (INFO, hidden by --quiet)
    assert errors[0].startswith("error: cannot connect to dwhuser@127.0.0.1:1/dwh (tried 3 times): connection to"
                                " server at \"127.0.0.1\", port 1 failed: Connection refused")
    assert SENTINEL not in result.stderr + result.stdout


def test_config_error_is_one_line(tmp_path):
    path = tmp_path / "dwh.cfg"
    path.write_text("[CLUSTER]\nHOST=example.com\nDB_PORT=5439\nDB_NAME=dwh\n")
    result = run("etl.py", "--config", str(path))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"error: {path}: [CLUSTER] DB_USER is missing: set it (see dwh.cfg.example)\n"


def test_missing_data_folder_is_one_line(tmp_path, write_config):
    config = write_config(log_data=tmp_path / "no_such_folder" / "log_data")
    assert run("create_tables.py", "--config", str(config), "-q").returncode == 0
    result = run("etl.py", "--config", str(config), "-q")
    assert result.returncode == 1
    assert without_target(result.stderr) == (f"error: {tmp_path / 'no_such_folder' / 'log_data'} ([S3] LOG_DATA)"
                                              " does not exist: check the path\n")


def test_dry_run_connects_to_nothing_and_hides_the_password(tmp_path):
    config = unreachable_config(tmp_path)
    for script in SCRIPTS:
        result = run(script, "--config", str(config), "--dry-run")
        assert result.returncode == 0, result.stderr
        assert SENTINEL not in result.stdout + result.stderr
        assert result.stdout.splitlines()[0] == "BEGIN;" and result.stdout.splitlines()[-1] == "COMMIT;"
    result = run("etl.py", "--config", str(config), "--dry-run")
    assert 'TRUNCATE TABLE "staging_events";' in result.stdout
    assert 'INSERT INTO "time" (start_time, hour, day, week, month, year, weekday) SELECT' in result.stdout


def test_dry_run_on_redshift_shows_the_copy_statements(tmp_path):
    config = tmp_path / "dwh.cfg"
    config.write_text(f"[CLUSTER]\nHOST=dwh.abc.us-west-2.redshift.amazonaws.com\nDB_PORT=5439\nDB_NAME=dwh\n"
                      f"DB_USER=dwhuser\nDB_PASSWORD={SENTINEL}\n[IAM_ROLE]\nARN=arn:aws:iam::123456789012:role/r\n"
                      "[S3]\nLOG_DATA=s3://udacity-dend/log_data\nSONG_DATA=s3://udacity-dend/song_data\n"
                      "LOG_JSONPATH=s3://udacity-dend/log_json_path.json\nMANIFEST_PREFIX=s3://my-runs/sparkify\n"
                      f"[AWS]\nKEY=AKIAIOSFODNN7EXAMPLE\nSECRET={SENTINEL}-secret\n")
    result = run("etl.py", "--config", str(config), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ("dry run for server dwhuser@dwh.abc.us-west-2.redshift.amazonaws.com:5439/dwh"
                             " (redshift) with s3://udacity-dend/log_data and s3://udacity-dend/song_data:"
                             " nothing is sent\n")
    lines = result.stdout.splitlines()
    assert lines[1] == ('LOCK "staging_events", "staging_songs", "songplays", "users", "songs", "artists", "time",'
                        ' "load_runs", "load_ledger", "loaded_songs", "user_latest", "play_songs", "load_errors";')
    assert lines[2:5] == ['DELETE FROM "staging_events";', 'DELETE FROM "staging_songs";', 'DELETE FROM "load_errors";']
    assert lines[15].startswith("INSERT INTO load_runs ")
    # a full rebuild copies straight from the prefix (no manifest), and its files go in the ledger
    # from Redshift's record of the COPY
    assert lines[16:20] == [
        "SELECT pg_last_copy_id(), GETDATE();",
        "COPY \"staging_events\" FROM 's3://udacity-dend/log_data' IAM_ROLE 'arn:aws:iam::123456789012:role/r'"
        " FORMAT AS JSON 's3://udacity-dend/log_json_path.json' COMPUPDATE OFF STATUPDATE OFF;",
        "SELECT pg_last_copy_count();",
        "-- repeated until Redshift has recorded every file (at most 60 s):"]
    assert lines[21].startswith("INSERT INTO load_ledger (\"table_name\", \"file_name\", \"bytes\", \"etag\","
                                " \"modified\", \"row_count\", \"loaded_at\", \"run_no\") SELECT 'staging_events',")
    assert lines[21].endswith(" FROM sys_load_detail WHERE query_id = <the query_id found> GROUP BY TRIM(file_name)) AS f;")
    assert SENTINEL not in result.stdout + result.stderr


@pytest.mark.parametrize("s3, message", [
    ("LOG_DATA=local/logs\nMANIFEST_PREFIX=s3://bucket/runs/\n",
     "[S3] LOG_DATA must be an s3:// URI on Redshift, not '{tmp_path}/local/logs'"),
    ("LOG_DATA=s3://bucket/log_data\n",
     "[S3] MANIFEST_PREFIX is missing: etl.py --incremental on Redshift copies only the new files, named in a"
     " manifest written under that prefix (s3://bucket/prefix/, a place the IAM role may read). This machine then"
     " needs AWS credentials (boto3's usual chain, or [AWS] KEY and SECRET) that may list s3://bucket/log_data and"
     " s3://bucket/song_data and write to the prefix; provision.py --manifest-prefix grants the role its part. A"
     " full rebuild (python etl.py) needs none of this"),
], ids=["local source", "no manifest prefix"])
def test_redshift_settings_are_checked_before_a_dry_run(tmp_path, s3, message):
    """Before any connection is tried: HOST=h does not resolve, and the error is the setting's."""
    config = tmp_path / "dwh.cfg"
    config.write_text("[CLUSTER]\nHOST=h\nDB_PORT=5439\nDB_NAME=dwh\nDB_USER=u\nENGINE=redshift\n"
                      f"[IAM_ROLE]\nARN=arn:aws:iam::123456789012:role/r\n[S3]\n{s3}"
                      "SONG_DATA=s3://bucket/song_data\nLOG_JSONPATH=s3://bucket/paths.json\n")
    result = run("etl.py", "--config", str(config), "--dry-run", "--incremental")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines()[-1] == f"error: {config}: {message.format(tmp_path=tmp_path)}"


def test_cleanup_asks_before_dropping_on_a_server(write_config, conn):
    config = write_config()
    assert run("create_tables.py", "--config", str(config), "-q").returncode == 0
    result = run("cleanup.py", "--config", str(config))
    assert result.returncode == 1
    assert result.stderr.endswith("without confirmation: run with --yes\n")
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()")
        assert cur.fetchone()[0] == len(q.TABLES)
    conn.rollback()


def test_a_quiet_run_still_names_the_server_it_changes(tmp_path, write_config, pg_params, schema):
    """--quiet prints only errors, and the one line that says which warehouse is being changed
    when it is not the embedded default; a dry run changes nothing and says nothing of it."""
    config = write_config()
    where = (f"{pg_params.get('user', 'postgres')}@{pg_params.get('host', 'localhost')}:{pg_params.get('port', 5432)}"
             f"/{pg_params.get('dbname', 'postgres')} schema {schema}")
    targets = {"create_tables.py": f"target: {where} (postgres)", "analytics.py": f"target: {where} (postgres)",
               "etl.py": f"target: {where} (postgres); data: the shipped sample data"}
    for script, line in targets.items():
        result = run(script, "--config", str(config), "-q")
        assert (result.returncode, result.stderr) == (0, line + "\n"), script
        # the same line without --quiet, first of what it says
        assert run(script, "--config", str(config)).stderr.splitlines()[0] == line, script
    assert run("etl.py", "--config", str(config), "-q", "--dry-run").stderr == ""


def test_etl_and_analytics_before_create_tables_say_what_to_do(write_config):
    config = write_config()
    result = run("etl.py", "--config", str(config), "-q")
    assert result.returncode == 1
    assert without_target(result.stderr) == (
        "error: clear staging_events failed: relation \"staging_events\" does not exist: the project's tables are not"
        " all there (never created, or created by an earlier version): run create_tables.py first; rolled back, the"
        " warehouse is unchanged\n")
    result = run("analytics.py", "--config", str(config), "-q")
    assert result.returncode == 1
    assert without_target(result.stderr) == (
        "error: plays_by_hour failed: relation \"songplays\" does not exist: the project's tables are not all there"
        " (never created, or created by an earlier version): run create_tables.py first\n")


def test_a_schema_from_before_daily_loads_says_what_to_do(write_config, conn):
    """A warehouse made by a version without the ledger of loaded files: a daily run stops at its
    first read of the ledger, says to run create_tables.py, and changes nothing."""
    config = write_config()
    assert run("create_tables.py", "--config", str(config), "-q").returncode == 0
    assert run("etl.py", "--config", str(config), "-q").returncode == 0
    with conn, conn.cursor() as cur:
        cur.execute("DROP TABLE load_ledger")
        cur.execute("SELECT COUNT(*), MAX(songplay_id) FROM songplays")
        before = cur.fetchone()
    result = run("etl.py", "--config", str(config), "-q", "--incremental")
    assert result.returncode == 1
    assert without_target(result.stderr) == (
        "error: read the ledger of staging_events failed: relation \"load_ledger\" does not exist: the project's"
        " tables are not all there (never created, or created by an earlier version): run create_tables.py first;"
        " rolled back, the warehouse is unchanged\n")
    with conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*), MAX(songplay_id) FROM songplays")
        assert cur.fetchone() == before


def test_two_create_tables_at_once_both_succeed(write_config, conn):
    """Two runs on a schema without the tables: the second waits for the first (an advisory lock
    per schema) instead of failing on the catalogue's unique index."""
    config = write_config()
    for _ in range(4):
        with conn.cursor() as cur:
            for name in q.PROJECT_TABLE_NAMES:
                cur.execute(q.drop_table(name))
        conn.commit()
        children = [subprocess.Popen([sys.executable, str(ROOT / "create_tables.py"), "--config", str(config), "-q"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = [(child.wait(timeout=120), child.stderr.read()) for child in children]
        assert [code for code, _ in results] == [0, 0], results


@pytest.mark.parametrize("script, args", [("etl.py", ["-q"]), ("create_tables.py", []), ("cleanup.py", ["--yes"]),
                                          ("analytics.py", [])])
def test_a_config_named_that_does_not_exist_is_an_error_before_anything(tmp_path, script, args):
    """A typo or the wrong folder never means the embedded default: only a missing dwh.cfg with no
    --config does. Nothing is started: no embedded server folder appears."""
    env = dict(os.environ, SPARKIFY_EMBEDDED_DIR=str(tmp_path / "pgdata"))
    result = run(script, "--config", "prod.cfg", *args, cwd=tmp_path, env=env)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == ("error: prod.cfg: no such file (--config names it; only a missing dwh.cfg, with no"
                             " --config, means the embedded default)\n")
    assert not (tmp_path / "pgdata").exists()


def test_a_config_that_is_not_a_regular_file_is_an_error(tmp_path):
    os.mkfifo(tmp_path / "dwh.cfg")
    result = run("etl.py", "--dry-run", cwd=tmp_path, timeout=30)
    assert result.returncode == 2
    assert result.stderr == ("error: dwh.cfg: is not a regular file (a folder, a FIFO or a device): name the config"
                             " file\n")


def test_cleanup_asks_before_dropping_the_embedded_tables_a_named_config_chose(tmp_path):
    """A named file without [CLUSTER] means the embedded default, but was not chosen by default."""
    (tmp_path / "local.cfg").write_text("[S3]\nMAX_ERRORS=1\n")
    env = dict(os.environ, SPARKIFY_EMBEDDED_DIR=str(tmp_path / "pgdata"))
    result = run("cleanup.py", "--config", "local.cfg", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].endswith("without confirmation: run with --yes")
    assert not (tmp_path / "pgdata").exists()


def on_a_terminal(*argv) -> tuple[int, str]:
    """A script run with stdout and stderr on one terminal (a pseudo-terminal): its exit code and
    everything the terminal showed."""
    master, slave = os.openpty()
    child = subprocess.Popen([sys.executable, *argv], stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, cwd=ROOT)
    os.close(slave)
    shown = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closed with the child
            break
        if not data:
            break
        shown += data
    os.close(master)
    return child.wait(timeout=120), shown.decode()


def test_on_a_terminal_each_step_shows_once(write_config):
    """The summary at the end lists every step; on a terminal the steps are not also logged as they
    end (in a file or a pipe they are: a log keeps what happened when)."""
    config = write_config()
    assert run("create_tables.py", "--config", str(config), "-q").returncode == 0
    code, shown = on_a_terminal(str(ROOT / "etl.py"), "--config", str(config))
    assert code == 0
    for step in ("load staging_events", "insert songplays", "every songplay's user is in users"):
        assert shown.count(step) == 1, step
    piped = run("etl.py", "--config", str(config))
    assert piped.stderr.count("insert songplays") == piped.stdout.count("insert songplays") == 1
