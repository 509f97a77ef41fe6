"""Hostile config and secrets: no config value can rewrite a statement, no secret reaches output."""

import ast
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest

import create_tables
import etl
from conftest import ROOT, SAMPLE, ctrl_c_as_at_a_terminal
from sparkify.config import load_config
from sparkify.errors import ConfigError

PAYLOADS = [
    "'", '"', "';", "'; DROP TABLE users; --", "\"; DROP TABLE users; --", ";", "; SELECT 1", "--", "-- comment",
    "/*", "*/", "/* x */", "\\", "\\'", "''", "' OR '1'='1", "\\x27", "%s", "%(top)s", "{}", "$$", "$1",
    "\u2018", "\u2019", "\u201c", "\u201d", "\uff07", "\u02bc", "\x00", "\n  DROP TABLE songs", "x y",
    "\u00a0;", "`", "' || pg_sleep(10) || '", "E'\\\\'", "$tag$x$tag$", "); DROP TABLE time; (",
]
# each config value that reaches SQL (or the connection) and a valid value to spoil
TARGETS = [
    ("S3", "LOG_DATA", "s3://udacity-dend/log_data"),
    ("S3", "SONG_DATA", "s3://udacity-dend/song_data"),
    ("S3", "LOG_JSONPATH", "s3://udacity-dend/log_json_path.json"),
    ("IAM_ROLE", "ARN", "arn:aws:iam::123456789012:role/dwhRole"),
    ("S3", "REGION", "us-west-2"),
    ("CLUSTER", "DB_NAME", "dwh"),
    ("CLUSTER", "DB_USER", "dwhuser"),
    ("CLUSTER", "SCHEMA", "sparkify"),
]
BASE = {
    "CLUSTER": {"HOST": "127.0.0.1", "DB_PORT": "5432", "DB_NAME": "dwh", "DB_USER": "dwhuser", "DB_PASSWORD": "x",
                "SCHEMA": "sparkify"},
    "IAM_ROLE": {"ARN": "arn:aws:iam::123456789012:role/dwhRole"},
    "S3": {"LOG_DATA": "s3://udacity-dend/log_data", "SONG_DATA": "s3://udacity-dend/song_data",
           "LOG_JSONPATH": "s3://udacity-dend/log_json_path.json", "REGION": "us-west-2"},
}



def write_cfg(path: Path, values: dict) -> Path:
    path.write_text("".join(f"[{section}]\n" + "".join(f"{key}={value}\n" for key, value in keys.items())
                            for section, keys in values.items()), encoding="utf-8")
    return path


@pytest.mark.parametrize("section, key, valid", TARGETS, ids=[t[1] for t in TARGETS])
def test_every_payload_is_rejected_naming_the_key_and_nothing_is_sent(tmp_path, monkeypatch, capsys,
                                                                     section, key, valid):
    def no_connection(*args, **kwargs):
        raise AssertionError("a connection was opened")

    monkeypatch.setattr(psycopg2, "connect", no_connection)
    for payload in PAYLOADS:
        # an S3 value not starting with s3:// is a local path, which never reaches SQL: spoil after it
        spoiled_values = ([valid + payload, "s3://" + payload + valid[5:]] if valid.startswith("s3://")
                          else [valid + payload, payload + valid])
        for spoiled in spoiled_values:
            values = {s: dict(k) for s, k in BASE.items()}
            values[section][key] = spoiled
            cfg = write_cfg(tmp_path / "dwh.cfg", values)
            with pytest.raises(ConfigError) as err:
                load_config(cfg, environ={})
            message = str(err.value)
            # a payload on an indented line of its own is refused as such, naming the key it would join
            assert (message.startswith(f"{cfg}: [{section}] {key} ") or message.startswith(f"{cfg}: cannot parse")
                    or f": this line is indented under {key}, " in message), (payload, message)
            assert etl.main(["--config", str(cfg)]) == 2
            assert capsys.readouterr().err.startswith((f"error: {cfg}: ", f"error: {cfg}, line "))


# --- Statements are composed, never formatted ------------------------------------------------

PROJECT_SOURCES = [ROOT / name for name in ("create_tables.py", "etl.py", "cleanup.py", "analytics.py", "provision.py",
                                             "sql_queries.py")] + sorted((ROOT / "sparkify").rglob("*.py")) + [
    ROOT / "bench" / "run.py"]
SENDS = {"execute", "executemany", "copy_expert", "mogrify", "SQL"}
# The DuckDB peer in the benchmark talks to DuckDB, not through psycopg2; it is the one exception.
ALLOWED = {("bench/run.py", "duckdb_peer")}


def formatted(node) -> bool:
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format" \
            and isinstance(node.func.value, (ast.Constant, ast.JoinedStr)):
        return True
    return isinstance(node, ast.BinOp) and (formatted(node.left) or formatted(node.right))


def offenders(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    tree = ast.parse(path.read_text())
    for function in [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.Lambda))]:
        name = getattr(function, "name", "<module>")
        if (path.relative_to(root).as_posix(), name) in ALLOWED:
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Call):
                callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if callee in SENDS and node.args and formatted(node.args[0]):
                    found.append(f"{path.relative_to(root)}:{node.lineno}")
    return sorted(set(found) - {f for f in found if _inside_allowed(path, f, root)})


def _inside_allowed(path, location, root):
    line = int(location.rsplit(":", 1)[1])
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and (path.relative_to(root).as_posix(), node.name) in ALLOWED:
            if node.lineno <= line <= node.end_lineno:
                return True
    return False


def test_no_statement_is_built_by_string_formatting():
    assert [str(p) for p in PROJECT_SOURCES if not p.exists()] == []
    assert [o for p in PROJECT_SOURCES for o in offenders(p)] == []


def test_the_formatting_check_can_fail(tmp_path):
    (tmp_path / "sparkify").mkdir()
    bad = tmp_path / "sparkify" / "probe.py"
    bad.write_text('def f(cur, t):\n    cur.execute(f"SELECT * FROM {t}")\n    cur.execute("DROP %s" % t)\n')
    assert offenders(bad, tmp_path) == ["sparkify/probe.py:2", "sparkify/probe.py:3"]


# --- The password never shows -------------------------------------------------------------------

SENTINEL = "S3ntinel p'a%ss"


def run(args, env=None, **kwargs):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL, **kwargs)


def sentinel_config(tmp_path, pg_params, schema, overrides):
    values = {"CLUSTER": {"HOST": pg_params.get("host", "localhost"), "DB_PORT": str(pg_params.get("port", 5432)),
                          "DB_NAME": pg_params.get("dbname", "postgres"), "DB_USER": pg_params.get("user", "postgres"),
                          "DB_PASSWORD": SENTINEL, "SCHEMA": schema},
              "S3": {"LOG_DATA": str(SAMPLE / "log_data"), "SONG_DATA": str(SAMPLE / "song_data"),
                     "LOG_JSONPATH": str(SAMPLE / "log_json_path.json")}}
    for (section, key), value in overrides.items():
        values[section][key] = value
    return write_cfg(tmp_path / "dwh.cfg", values)


def interrupted_load(tmp_path, cfg):
    """etl.py given Ctrl-C while a load is under way, on a generated data set big enough to interrupt."""
    from sparkify.generate import generate

    assert run(["create_tables.py", "--config", cfg(), "-q"]).returncode == 0
    generate(str(tmp_path / "big"), events=150_000, songs=2_000, days=3, seed=3)
    big = cfg({("S3", "LOG_DATA"): str(tmp_path / "big" / "log_data"),
               ("S3", "SONG_DATA"): str(tmp_path / "big" / "song_data")})
    with ctrl_c_as_at_a_terminal():
        child = subprocess.Popen([sys.executable, "etl.py", "--config", big], cwd=ROOT, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
    first = child.stderr.readline()  # "target: ...", printed just before the load starts
    assert first.startswith("target: "), first
    child.send_signal(signal.SIGINT)  # the 150,000-event run that follows takes about a second
    out, err = child.communicate(timeout=60)
    return subprocess.CompletedProcess(child.args, child.returncode, out, first + err)


def copy_error(tmp_path, cfg):
    bad_logs = tmp_path / "logs"
    bad_logs.mkdir()
    (bad_logs / "a.json").write_text('{"ts": "soon"}')
    assert run(["create_tables.py", "--config", cfg(), "-q"]).returncode == 0
    return run(["etl.py", "--config", cfg({("S3", "LOG_DATA"): str(bad_logs)})])


UNEXPECTED = ("import sys, etl, sparkify.run as r\n"
              "def boom(*a, **k): raise RuntimeError('unexpected')\n"
              "r.Run.execute = boom\nsys.exit(etl.main(sys.argv[1:]))")

# each failure a run can meet, how it is made, and the exit status it must end with
FAILURES = {
    "bad host": (lambda tmp_path, cfg: run(["etl.py", "--config", cfg({("CLUSTER", "HOST"): "no-such-host.invalid"})]),
                 1),
    "bad port": (lambda tmp_path, cfg: run(["etl.py", "--config", cfg({("CLUSTER", "DB_PORT"): "1"})]), 1),
    "login refused": (lambda tmp_path, cfg: run(["etl.py", "--config", cfg({("CLUSTER", "DB_USER"): "no_such_role"})]),
                      1),
    "config parse error": (lambda tmp_path, cfg: run(["etl.py", "--config", cfg({("CLUSTER", "DB_PORT"): "port"})]),
                           2),
    "COPY error": (copy_error, 1),
    "dry run": (lambda tmp_path, cfg: run(["etl.py", "--config", cfg(), "--dry-run"]), 0),
    "unexpected exception": (lambda tmp_path, cfg: run(["-c", UNEXPECTED, "--config", cfg()]), 1),
    "Ctrl-C": (interrupted_load, 130),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_password_never_in_output_across_failures(tmp_path, pg_params, schema, conn, failure):
    def cfg(overrides=None):
        return str(sentinel_config(tmp_path, pg_params, schema, overrides or {}))

    make, status = FAILURES[failure]
    result = make(tmp_path, cfg)
    assert result.returncode == status, result.stderr
    assert SENTINEL not in result.stdout + result.stderr
    if failure == "unexpected exception":
        assert "RuntimeError: unexpected" in result.stderr
    if failure == "Ctrl-C":
        assert result.stderr.splitlines()[-1] == "interrupted: nothing was committed, the warehouse is as it was"
        with conn.cursor() as cur:  # the interrupted load committed nothing: the tables are still empty
            cur.execute("SELECT (SELECT COUNT(*) FROM staging_events), (SELECT COUNT(*) FROM songplays)")
            assert cur.fetchone() == (0, 0)
        conn.rollback()


def test_wrong_password_is_one_line_and_not_retried(tmp_path, pg_params, schema):
    """A role that must give a password (a pg_hba.conf line of its own, removed afterwards)."""
    import secrets

    role = "sparkify_pw_" + secrets.token_hex(3)
    admin = psycopg2.connect(**pg_params)
    admin.autocommit = True
    cur = admin.cursor()
    cur.execute("SHOW hba_file")
    hba = Path(cur.fetchone()[0])
    if not os.access(hba, os.W_OK):
        pytest.skip(f"{hba} is not writable here (a remote server): cannot require a password for a test role")
    original = hba.read_text()
    cur.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'the right one'")
    try:
        hba.write_text(f"local all {role} scram-sha-256\nhost all {role} all scram-sha-256\n" + original)
        cur.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)
        config = sentinel_config(tmp_path, pg_params, schema, {("CLUSTER", "DB_USER"): role})
        started = time.monotonic()
        result = run(["etl.py", "--config", str(config)])
        assert time.monotonic() - started < 30
    finally:
        hba.write_text(original)
        cur.execute("SELECT pg_reload_conf()")
        cur.execute(f"DROP ROLE IF EXISTS {role}")
        admin.close()
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: cannot connect to {role}@")
    assert f'password authentication failed for user "{role}"' in line
    assert "tried" not in line  # a refused password is never retried
    assert SENTINEL not in result.stdout + result.stderr


STOPS = [(signal.SIGINT, 130, "interrupted: nothing was committed, the warehouse is as it was"),
         (signal.SIGTERM, 143, "terminated: nothing was committed, the warehouse is as it was")]


def loaded_rows(conn) -> tuple[int, int]:
    """Rows in staging_events and in songplays (both 0: nothing of a stopped run was committed)."""
    with conn.cursor() as cur:
        cur.execute("SELECT (SELECT COUNT(*) FROM staging_events), (SELECT COUNT(*) FROM songplays)")
        counts = cur.fetchone()
    conn.rollback()
    return counts


@pytest.mark.parametrize("signum, code, line", STOPS, ids=["Ctrl-C", "SIGTERM"])
def test_a_signal_to_the_process_group_with_loader_workers_is_one_line(tmp_path, write_config, conn, signum, code,
                                                                      line):
    """Ctrl-C on a terminal reaches the whole process group, the loader's workers too; so does the
    SIGTERM of a service manager or of `timeout` (a worker that died of it broke the pool, and
    Python printed the pool thread's traceback)."""
    from sparkify.generate import generate

    generate(str(tmp_path / "big"), events=150_000, songs=2_000, days=3, seed=3)
    cfg = write_config(log_data=tmp_path / "big" / "log_data", song_data=tmp_path / "big" / "song_data",
                       log_jsonpath=tmp_path / "big" / "log_json_path.json")
    assert subprocess.run([sys.executable, "create_tables.py", "--config", str(cfg), "-q"], cwd=ROOT).returncode == 0
    for delay in (0.0, 0.2, 0.3, 0.4, 0.6, 0.9):  # while the workers start, and while they render
        with ctrl_c_as_at_a_terminal():
            child = subprocess.Popen([sys.executable, "etl.py", "--config", str(cfg)], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True, env={**os.environ, "SPARKIFY_LOAD_WORKERS": "2"})
        first = child.stderr.readline()
        assert first.startswith("target: "), first
        time.sleep(delay)
        os.killpg(child.pid, signum)
        out, err = child.communicate(timeout=60)
        assert child.returncode == code, (delay, err)
        assert err.splitlines()[-1] == line, (delay, err)
        assert "Traceback" not in err and "error" not in err, (delay, err)
    assert loaded_rows(conn) == (0, 0)


@pytest.mark.parametrize("signum, code, line", STOPS, ids=["Ctrl-C", "SIGTERM"])
def test_a_signal_that_breaks_library_code_on_its_way_out_is_still_one_line(write_config, conn, monkeypatch, capsys,
                                                                           signum, code, line):
    """A signal raised in the middle of a library's lock handling may come out as another error
    (seen in CI: SIGTERM inside ThreadPoolExecutor.submit, then "RuntimeError: release unlocked
    lock" from threading.Condition): the run still says it was stopped, in one line."""
    from sparkify import ledger

    cfg = write_config()
    assert create_tables.main(["--config", str(cfg), "-q"]) == 0
    planning = ledger.Planning.__enter__

    def a_lock_left_released(self):
        try:
            signal.raise_signal(signum)
        except BaseException:  # what threading.Condition.__exit__ then raises
            raise RuntimeError("release unlocked lock") from None
        return planning(self)

    monkeypatch.setattr(ledger.Planning, "__enter__", a_lock_left_released)
    capsys.readouterr()
    with ctrl_c_as_at_a_terminal():
        assert etl.main(["--config", str(cfg), "-q"]) == code
    assert capsys.readouterr().err.splitlines()[-1] == line
    assert loaded_rows(conn) == (0, 0)


@pytest.mark.parametrize("signum, code, line", STOPS, ids=["Ctrl-C", "SIGTERM"])
def test_a_signal_after_the_commit_says_the_work_was_committed(write_config, conn, monkeypatch, capsys, signum, code,
                                                               line):
    """The summary is printed after the commit: a signal then stops only the printing, and the run
    says its work is in the warehouse (exit 0) instead of "nothing was committed"."""
    from sparkify import pipeline

    cfg = write_config()
    assert create_tables.main(["--config", str(cfg), "-q"]) == 0

    def signalled(*args, **kwargs):
        signal.raise_signal(signum)

    monkeypatch.setattr(pipeline, "format_report", signalled)
    capsys.readouterr()
    with ctrl_c_as_at_a_terminal():
        assert etl.main(["--config", str(cfg)]) == 0
    word = line.split(":")[0]
    assert capsys.readouterr().err.splitlines()[-1] == f"{word} after the commit: the run's work is committed"
    assert loaded_rows(conn) == (1200, 957)


def test_ctrl_c_while_a_script_imports_is_one_line(tmp_path):
    """From the first import to the work: one line and exit 130 at any moment, never a traceback."""
    for delay in (0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.4, 0.5):  # past the interpreter's own start (about 15 ms)
        with ctrl_c_as_at_a_terminal():
            child = subprocess.Popen([sys.executable, "etl.py", "--dry-run"], cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "SPARKIFY_EMBEDDED_DIR": str(tmp_path / "pgdata")})
        time.sleep(delay)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
        assert "Traceback" not in err, (delay, err)
        if child.returncode == 130:
            assert err.splitlines()[-1] in ("interrupted: nothing was done",
                                            "interrupted: nothing was committed, the warehouse is as it was"), err
        else:  # it had ended: a dry run is quick
            assert child.returncode == 0, (delay, err)


def servers_of(data_dir) -> list:
    import psutil

    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        try:
            if process.info["name"] == "postgres" and str(data_dir) in " ".join(process.info["cmdline"] or []):
                found.append(process.pid)
        except psutil.Error:
            pass
    return found


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_no_embedded_server_outlives_a_script_stopped_at_any_moment(pgdata, signum):
    """While the embedded server starts, while the script works, while the server stops at exit:
    one line at most, no traceback, and no postgres process left on the folder afterwards. The
    server's folder is outside pytest's temporary folder (the ``pgdata`` fixture says why)."""
    data_dir = pgdata
    env = {**os.environ, "SPARKIFY_EMBEDDED_DIR": str(data_dir)}
    env.pop("SPARKIFY_TEST_DSN", None)
    assert subprocess.run([sys.executable, "create_tables.py", "-q"], cwd=ROOT, env=env).returncode == 0  # initdb
    assert servers_of(data_dir) == []
    # at moments counted from the start, then from when the server's pid file appears (it is starting)
    for delay, from_pid_file in ((0.15, False), (0.3, False), (0.0, True), (0.01, True), (0.03, True), (0.06, True),
                                 (0.1, True), (0.2, True), (0.4, True), (0.8, True)):
        with ctrl_c_as_at_a_terminal():
            child = subprocess.Popen([sys.executable, "create_tables.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while from_pid_file and not (data_dir / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(delay)
        child.send_signal(signum)
        out, err = child.communicate(timeout=120)
        assert "Traceback" not in err, (delay, err)
        assert child.returncode in (0, 130, 143), (delay, child.returncode, err)
        assert servers_of(data_dir) == [], (delay, err)
