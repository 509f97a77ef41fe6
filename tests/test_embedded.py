"""The embedded PostgreSQL survives what users do to it: SIGTERM to a run, a killed postmaster,
damaged or stale files in its folder. Each case is followed by a run that succeeds by itself.

Every test here has an embedded server of its own (SPARKIFY_EMBEDDED_DIR, in the ``pgdata``
fixture's folder), whatever SPARKIFY_TEST_DSN says: these are the embedded default's own files."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from conftest import ROOT

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def run(script, data_dir, *args, config=None, timeout=180):
    """The script on the embedded server in ``data_dir``: the default (run beside it, where there is no
    dwh.cfg), or the ``config`` named."""
    env = {**os.environ, "SPARKIFY_EMBEDDED_DIR": str(data_dir)}
    argv = [sys.executable, str(ROOT / script), *(["--config", str(config)] if config else []), *args]
    return subprocess.run(argv, cwd=Path(data_dir).parent, env=env, capture_output=True, text=True, timeout=timeout)


def servers_of(data_dir):
    """Live (not zombie) postgres servers whose command line names ``data_dir``."""
    found = []
    for process in psutil.process_iter(["name", "cmdline", "status"]):
        if (process.info["name"] == "postgres" and process.info["status"] != psutil.STATUS_ZOMBIE
                and str(data_dir) in " ".join(process.info["cmdline"] or [])):
            found.append(process.pid)
    return found


def wait_for_no_server(data_dir, seconds=15):
    deadline = time.monotonic() + seconds
    while servers_of(data_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    return servers_of(data_dir)


@pytest.fixture
def big(tmp_path):
    """150,000 events: a load that lasts long enough to be interrupted."""
    from sparkify.generate import generate

    generate(str(tmp_path / "big"), events=150_000, songs=2_000, days=3, seed=3)
    config = tmp_path / "big.cfg"
    config.write_text(f"[S3]\nLOG_DATA={tmp_path / 'big' / 'log_data'}\nSONG_DATA={tmp_path / 'big' / 'song_data'}\n"
                      f"LOG_JSONPATH={tmp_path / 'big' / 'log_json_path.json'}\n")
    return config


def start_etl(data_dir, config):
    env = {**os.environ, "SPARKIFY_EMBEDDED_DIR": str(data_dir)}
    child = subprocess.Popen([sys.executable, str(ROOT / "etl.py"), "--config", str(config)], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = child.stderr.readline()  # "target: ...", printed once the server is up, just before the load
    assert first.startswith("target: embedded PostgreSQL"), first
    return child


@pytest.mark.parametrize("delay", [0.0, 0.5, 1.2])  # as the load starts, during it, and later on
def test_sigterm_rolls_back_stops_the_server_and_says_so(pgdata, big, delay):
    assert run("create_tables.py", pgdata, "-q", config=big).returncode == 0
    child = start_etl(pgdata, big)
    time.sleep(delay)
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 143, err
    assert err.splitlines()[-1] == "terminated: nothing was committed, the warehouse is as it was"
    assert "Traceback" not in err
    assert wait_for_no_server(pgdata) == []  # the server this run started is stopped
    assert json.loads((pgdata / ".handle_pids.json").read_text()) == []
    again = run("etl.py", pgdata, "-q", config=big)
    assert (again.returncode, again.stderr) == (0, "")


def test_a_killed_postmaster_does_not_stop_the_next_run(pgdata, big):
    assert run("create_tables.py", pgdata, "-q", config=big).returncode == 0
    child = start_etl(pgdata, big)
    time.sleep(0.5)
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    os.kill(postmaster, signal.SIGKILL)
    child.communicate(timeout=60)
    assert child.returncode == 1
    again = run("etl.py", pgdata, "-q", config=big)  # at once: the old postmaster may still be a zombie
    assert (again.returncode, again.stderr) == (0, "")


@pytest.mark.parametrize("content", [b"", b"garbage\n", b"\xff\xfe\x00", b"999999999\n", b"1\n/somewhere\n"],
                         ids=["empty", "garbage", "not UTF-8", "a dead pid", "a live pid of another program"])
def test_a_stale_or_broken_pid_file_is_mended(pgdata, content):
    assert run("create_tables.py", pgdata, "-q").returncode == 0
    assert wait_for_no_server(pgdata) == []
    (pgdata / "postmaster.pid").write_bytes(content)
    (pgdata / ".handle_pids.json").write_text("[999999999]")  # a run that was killed
    result = run("etl.py", pgdata, "-q")
    assert (result.returncode, result.stderr) == (0, "")
    assert wait_for_no_server(pgdata) == []  # and the server was stopped at the end, as usual
    assert json.loads((pgdata / ".handle_pids.json").read_text()) == []


@pytest.mark.parametrize("handles", ["not json", '{"a": 1}', "[1, \"x\"]"])
def test_a_broken_handle_list_is_started_afresh(pgdata, handles):
    assert run("create_tables.py", pgdata, "-q").returncode == 0
    (pgdata / ".handle_pids.json").write_text(handles)
    assert run("etl.py", pgdata, "-q").returncode == 0
    assert wait_for_no_server(pgdata) == []


def test_a_damaged_pid_file_of_a_live_server_is_one_line(pgdata):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from sparkify.db import embedded_connect_params;"
                               f" embedded_connect_params({str(pgdata)!r}); print('up', flush=True); sys.stdin.read()"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "up\n"
        pid_file = pgdata / "postmaster.pid"
        original = pid_file.read_text()
        postmaster = int(original.split()[0])
        pid_file.write_text(f"{postmaster}\n")
        result = run("etl.py", pgdata, "-q")
        assert result.returncode == 1
        assert result.stderr == (f"error: {pid_file} is damaged, and the embedded PostgreSQL (pid {postmaster}) still"
                                 f" runs on this folder: stop it (kill {postmaster}), then run again\n")
        pid_file.write_text(original)
    finally:
        holder.communicate("", timeout=60)
    assert wait_for_no_server(pgdata) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="the package opens folders only when run as root")
def test_as_root_the_folders_opened_for_the_server_are_named(pgdata):
    closed = pgdata.parent / "closed"
    closed.mkdir(mode=0o700)
    closed.chmod(0o700)
    result = run("create_tables.py", closed / "pgdata", "-q")
    assert result.returncode == 0, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("running as root, the embedded PostgreSQL runs as the user embedded_postgres, so these"
                           " folders were made group/other readable and traversable: ")
    assert f"{closed} (drwxr-xr-x)" in line
    again = run("create_tables.py", closed / "pgdata", "-q")  # nothing left to open: nothing said
    assert (again.returncode, again.stderr) == (0, "")


def test_sample_config_needs_no_file(pgdata):
    """The embedded default with no config at all still loads the shipped sample."""
    assert run("create_tables.py", pgdata, "-q").returncode == 0
    result = run("etl.py", pgdata)
    assert result.returncode == 0, result.stderr
    assert "data-quality checks passed: 19 of 19" in result.stdout
    assert "data: the shipped sample data" in result.stderr


def test_files_naming_a_zombie_are_stale(pgdata):
    """A killed postmaster that nobody has reaped yet still "exists" (kill -0 succeeds), and PostgreSQL
    itself then refuses to start beside its socket lock: a zombie's pid counts as dead."""
    assert run("create_tables.py", pgdata, "-q").returncode == 0
    assert wait_for_no_server(pgdata) == []
    # owned by the server's user, as a killed postmaster is (PostgreSQL takes a pid it may not
    # signal for a dead one); never waited for until the end
    zombie = subprocess.Popen(["true"], user="embedded_postgres" if os.geteuid() == 0 else None)
    try:
        deadline = time.monotonic() + 10
        while psutil.Process(zombie.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.05)
        assert psutil.Process(zombie.pid).status() == psutil.STATUS_ZOMBIE
        (pgdata / "postmaster.pid").write_text(f"{zombie.pid}\n{pgdata}\n1700000000\n5432\n{pgdata}\n\n"
                                                  "  0  0\nready\n")
        (pgdata / ".s.PGSQL.5432.lock").write_text(f"{zombie.pid}\n{pgdata}\n1700000000\n5432\n{pgdata}\n")
        result = run("etl.py", pgdata, "-q")
        assert (result.returncode, result.stderr) == (0, "")
    finally:
        zombie.wait()
    assert wait_for_no_server(pgdata) == []
