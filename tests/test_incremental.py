"""Daily loads (etl.py --incremental): after every batch of files, in any order and with songs that
arrive after their plays, the warehouse equals a full rebuild of the files present (songplay_id
aside); a run with nothing new changes nothing; a changed file is refused with nothing changed."""

import datetime as dt
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest

import create_tables
import etl
import sql_queries as q
from conftest import ROOT, SAMPLE, batches, fetch_all, fresh_schema, full_state, logs_and_songs, star_state, without_target
from sparkify import ledger
from sparkify.config import load_config

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "udacity"


@pytest.fixture
def rebuild_schema(pg_params):
    """A second schema, for the full rebuild each incremental state is compared with; its name and
    a connection to it."""
    with fresh_schema(pg_params) as name:
        rebuilt = psycopg2.connect(**pg_params, options=f"-c search_path={name}")
        yield name, rebuilt
        rebuilt.close()


@pytest.fixture
def inbox(tmp_path, write_config, rebuild_schema):
    """An empty inbox for the shipped sample, whose full rebuilds go to ``rebuild_schema``."""
    return Inbox(tmp_path, write_config, SAMPLE, rebuild_schema[0], SAMPLE / "log_json_path.json")


class Inbox:
    """An input folder that files arrive in, batch by batch, and two configs over it: the daily
    warehouse (the test's schema) and a full rebuild (another schema)."""

    def __init__(self, tmp_path, write_config, source: Path, rebuild_schema: str, jsonpaths: Path):
        self.source, self.root = source, tmp_path / "inbox"
        (self.root / "log_data").mkdir(parents=True)
        (self.root / "song_data").mkdir(parents=True)
        self.daily = write_config(log_data=self.root / "log_data", song_data=self.root / "song_data",
                                  log_jsonpath=jsonpaths)
        text = self.daily.read_text()
        schema = next(line for line in text.splitlines() if line.startswith("SCHEMA="))
        self.full = tmp_path / "full.cfg"
        self.full.write_text(text.replace(schema, f"SCHEMA={rebuild_schema}"))
        for config in (self.daily, self.full):
            assert create_tables.main(["--config", str(config), "-q"]) == 0

    def deliver(self, files: list[Path]) -> None:
        for path in files:
            target = self.root / path.relative_to(self.source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)

    def etl(self, config, *flags) -> int:
        return etl.main(["--config", str(config), "-q", *flags])


def without_ids(state: dict) -> dict:
    return {table: rows for table, rows in state.items() if table != "songplay_ids"}


def assert_daily_equals_rebuild(inbox: Inbox, conn, rebuilt, batch_list) -> None:
    """Deliver each batch, run both warehouses, compare them, and count the ledger's files and rows."""
    for number, batch in enumerate(batch_list, 1):
        inbox.deliver(batch)
        assert inbox.etl(inbox.daily, "--incremental") == 0
        assert inbox.etl(inbox.full) == 0
        daily, full = star_state(conn), star_state(rebuilt)
        assert without_ids(daily) == without_ids(full), f"after batch {number}"
        ids = daily["songplay_ids"]
        assert len(set(ids)) == len(ids) == len(full["songplay_ids"])
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*), SUM(row_count) FROM load_ledger")
            files, rows = cur.fetchone()
            cur.execute("SELECT COUNT(*) FROM load_runs")
            runs = cur.fetchone()[0]
        conn.rollback()
        delivered = sum(len(b) for b in batch_list[:number])
        assert (files, runs) == (delivered, number)
        assert rows == sum(_lines(path) for b in batch_list[:number] for path in b)


def _lines(path: Path) -> int:
    """The records in one input file: a line per event, one object per song file."""
    if "song_data" in path.parts:
        return 1
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def test_daily_batches_of_the_sample_equal_a_full_rebuild(conn, inbox, rebuild_schema):
    _, rebuilt = rebuild_schema
    assert_daily_equals_rebuild(inbox, conn, rebuilt, batches(SAMPLE, 4, seed=7))
    with conn.cursor() as cur:  # the songs that came after their plays matched some of them
        cur.execute("SELECT COUNT(*) FROM songplays WHERE song_id IS NOT NULL")
        assert cur.fetchone()[0] > 0
    conn.rollback()


@pytest.mark.skipif(not REAL.is_dir(), reason="the real Sparkify data (../shared/data/udacity) is not here")
def test_daily_batches_of_the_real_data_equal_a_full_rebuild(tmp_path, write_config, conn, rebuild_schema):
    name, rebuilt = rebuild_schema
    inbox = Inbox(tmp_path, write_config, REAL, name, REAL / "log_json_path.json")
    assert_daily_equals_rebuild(inbox, conn, rebuilt, batches(REAL, 4, seed=2018))


def test_songs_that_arrive_after_their_plays_match_them(conn, inbox, rebuild_schema, capsys):
    """Every play first, every song later: the second run matches what a rebuild matches, and says so."""
    _, rebuilt = rebuild_schema
    logs, songs = logs_and_songs(SAMPLE)
    inbox.deliver(logs)
    assert inbox.etl(inbox.daily, "--incremental") == 0
    assert [row for row in fetch_all(conn, "songplays", "1") if row[4] is not None] == []
    inbox.deliver(songs)
    capsys.readouterr()
    assert etl.main(["--config", str(inbox.daily), "--incremental"]) == 0
    out = capsys.readouterr().out
    assert inbox.etl(inbox.full) == 0
    assert without_ids(star_state(conn)) == without_ids(star_state(rebuilt))
    matched = sum(1 for row in fetch_all(conn, "songplays", "1") if row[4] is not None)
    assert matched > 0
    assert f"earlier plays matched to songs that came in this run: {matched:,}" in out
    assert "staging_songs: 120 new files, 0 loaded before" in out
    assert "staging_events: 0 new files, 4 loaded before" in out


def test_nothing_new_changes_nothing(conn, inbox, capsys):
    logs, songs = logs_and_songs(SAMPLE)
    inbox.deliver(logs + songs)
    assert inbox.etl(inbox.daily, "--incremental") == 0
    before = full_state(conn)
    capsys.readouterr()
    assert etl.main(["--config", str(inbox.daily), "--incremental"]) == 0
    assert full_state(conn) == before
    assert "nothing new to load: the warehouse is unchanged" in capsys.readouterr().err
    os.utime(inbox.root / logs[0].relative_to(SAMPLE), (1, 1))  # touched, not changed: hashed, same content
    assert inbox.etl(inbox.daily, "--incremental") == 0
    assert full_state(conn) == before


def test_a_touched_file_is_read_once_then_its_new_time_is_in_the_ledger(conn, inbox, capsys, monkeypatch):
    """Files copied or restored (the same bytes, new times) are hashed by the next run, which
    writes their new times to the ledger when it commits; the run after reads none of them."""
    logs, songs = logs_and_songs(SAMPLE)
    inbox.deliver(logs[:2] + songs)
    assert inbox.etl(inbox.daily, "--incremental") == 0
    touched = [inbox.root / path.relative_to(SAMPLE) for path in (logs[0], songs[0], songs[1])]
    for number, path in enumerate(touched, 1):
        os.utime(path, ns=(0, number * 1_000_001_000))  # 1970-01-01 00:00:01.000001, ...
    read = []
    md5 = ledger._md5
    monkeypatch.setattr(ledger, "_md5", lambda obj: read.append(obj.uri) or md5(obj))

    def ledger_times() -> dict:
        with conn.cursor() as cur:
            cur.execute("SELECT file_name, modified FROM load_ledger")
            return dict(cur.fetchall())

    before = ledger_times()
    assert inbox.etl(inbox.daily, "--incremental") == 0  # nothing new: rolled back, the ledger as it was
    assert sorted(read) == sorted(map(str, touched)) and ledger_times() == before
    read.clear()
    inbox.deliver(logs[2:3])
    new = inbox.root / logs[2].relative_to(SAMPLE)
    capsys.readouterr()
    assert etl.main(["--config", str(inbox.daily), "--incremental"]) == 0
    assert sorted(read) == sorted(map(str, touched + [new]))  # the touched files, and the new one
    out = capsys.readouterr().out
    assert "staging_events: 1 new file, 2 loaded before (1 of them touched: same bytes, a new time)" in out
    assert f"staging_songs: 0 new files, {len(songs)} loaded before (2 of them touched: same bytes, a new time)" in out
    expected = {**before, **{str(path): dt.datetime(1970, 1, 1, 0, 0, number, number) for number, path
                             in enumerate(touched, 1)},
                str(new): dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=new.stat().st_mtime_ns // 1000)}
    assert ledger_times() == expected
    read.clear()
    assert inbox.etl(inbox.daily, "--incremental") == 0  # nothing new, and no file read
    assert read == []


@pytest.mark.parametrize("kind", ["event", "song"])
def test_a_changed_file_is_refused_with_nothing_changed(conn, inbox, capsys, kind):
    """A changed song file is found while the new event files load: they are rolled back too."""
    logs, songs = logs_and_songs(SAMPLE)
    inbox.deliver(logs[:2] + songs)
    assert inbox.etl(inbox.daily, "--incremental") == 0
    before = full_state(conn)
    original = logs[0] if kind == "event" else songs[0]
    changed = inbox.root / original.relative_to(SAMPLE)
    text = changed.read_text()
    if kind == "event":
        changed.write_text(text.replace('"level":"free"', '"level":"paid"', 1)
                           if '"level":"free"' in text else text.replace("free", "paid", 1))
    else:
        changed.write_text(text.replace('"num_songs": 1', '"num_songs": 2', 1))
    assert changed.read_text() != text and changed.stat().st_size == original.stat().st_size  # only the content says
    inbox.deliver(logs[2:])  # new files too: none is loaded while one has changed
    capsys.readouterr()
    assert inbox.etl(inbox.daily, "--incremental") == 1
    err = without_target(capsys.readouterr().err)
    assert err.startswith(f"error: 1 file changed after it was loaded: {changed} (loaded on ")
    assert "; same size, other content). An incremental run" in err and "ETag" not in err  # its MD5 says
    assert "a full rebuild (python etl.py, without --incremental) takes changed files in. Nothing was changed" in err
    assert full_state(conn) == before
    assert inbox.etl(inbox.daily) == 0  # the full rebuild takes it in, and the ledger with it
    assert inbox.etl(inbox.daily, "--incremental") == 0


def test_a_file_that_disappeared_is_reported_and_its_rows_stay(conn, inbox, capsys):
    logs, songs = logs_and_songs(SAMPLE)
    inbox.deliver(logs + songs)
    assert inbox.etl(inbox.daily, "--incremental") == 0
    before = full_state(conn)
    gone = inbox.root / logs[1].relative_to(SAMPLE)
    gone.unlink()
    capsys.readouterr()
    assert etl.main(["--config", str(inbox.daily), "--incremental"]) == 0
    err = capsys.readouterr().err
    assert f"{gone} was loaded on " in err and "is no longer under" in err
    assert "staging_events: 0 new files, 3 loaded before, 1 gone from the source (their rows stay)" in err
    assert full_state(conn) == before


def test_two_daily_runs_at_once_load_each_file_once(conn, inbox, rebuild_schema):
    """Two daily runs started together while a third holds the run lock: the one that gets it next
    loads the files, the other waits and then finds them in the ledger (it reads the ledger after
    the lock, not before: it used to plan from what it read before waiting, load every file again
    and fail on the ledger's key)."""
    _, rebuilt = rebuild_schema
    logs, songs = logs_and_songs(SAMPLE)
    inbox.deliver(logs + songs)
    with conn.cursor() as cur:  # what a run in progress holds
        cur.execute(q.POSTGRES.serialize)
        cur.execute("SELECT classid, objid FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
        held = cur.fetchone()
    runs = [subprocess.Popen([sys.executable, str(ROOT / "etl.py"), "--config", str(inbox.daily), "--incremental"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        waiting = 0
        deadline = time.monotonic() + 60
        while waiting < 2 and time.monotonic() < deadline and all(run.poll() is None for run in runs):
            time.sleep(0.1)
            with conn.cursor() as cur:  # the same transaction: the lock stays held
                cur.execute("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                            " AND (classid, objid) = (%s, %s)", held)
                waiting = cur.fetchone()[0]
        assert waiting == 2, [run.communicate() for run in runs if run.poll() is not None]
    finally:
        conn.rollback()  # the lock is released: the two go on, one after the other
        outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sorted("nothing new to load: the warehouse is unchanged" in err for _, err in outputs) == [False, True]
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*), COUNT(DISTINCT file_name) FROM load_ledger")
        assert cur.fetchone() == (len(logs) + len(songs),) * 2
        cur.execute("SELECT COUNT(*) FROM load_runs")
        assert cur.fetchone() == (1,)
    conn.rollback()
    assert inbox.etl(inbox.full) == 0
    assert without_ids(star_state(conn)) == without_ids(star_state(rebuilt))


def test_dry_run_lists_the_new_files_and_changes_nothing(conn, inbox, capsys):
    logs, songs = logs_and_songs(SAMPLE)
    inbox.deliver(logs[:3] + songs)
    assert inbox.etl(inbox.daily, "--incremental") == 0
    inbox.deliver(logs[3:])
    before = full_state(conn)
    capsys.readouterr()
    assert etl.main(["--config", str(inbox.daily), "--incremental", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    new = inbox.root / logs[3].relative_to(SAMPLE)
    assert [line for line in out if line.startswith("-- new in")] == [f"-- new in staging_events: {new}"]
    assert out[1] == "BEGIN;" and out[-1] == "COMMIT;"
    assert sum(line.startswith('COPY "load_ledger"') and line.endswith("-- one row per file (1), with the rows it gave")
               for line in out) == 1
    # no song file came: loaded_songs is as it was, its statistics too (not analyzed again)
    assert [line for line in out if line.startswith("ANALYZE")] == [
        analyze_line(q.STAGING_EVENTS), analyze_line(q.USER_LATEST), analyze_line(q.STAGING_SONGS)]
    assert full_state(conn) == before


def test_each_listing_says_when_it_ended_and_a_full_rebuild_what_it_hashed(write_config, caplog):
    """DEBUG lines from each source's listing thread, which bench/timeline.py shows: how many files,
    and for a full rebuild how many local files were hashed there (a daily run hashes later)."""
    log_files, song_files = logs_and_songs(SAMPLE)
    events = f"{len(log_files)} files under {SAMPLE / 'log_data'} ([S3] LOG_DATA)"
    songs = f"{len(song_files)} files under {SAMPLE / 'song_data'} ([S3] SONG_DATA)"
    config = load_config(write_config())
    caplog.set_level(logging.DEBUG, logger="sparkify.ledger")

    def by_source() -> dict[str, list[str]]:
        """What the listing threads said of each source, in order (a pool thread may list both)."""
        said = [re.sub(r" in \d+\.\d\ds$", " in <s>", record.getMessage()) for record in caplog.records
                if record.threadName.startswith("sparkify-list")]
        caplog.clear()
        return {source: [line for line in said if source in line] for source in (events, songs)}

    ledger.plan(config)
    assert by_source() == {events: [f"listed {events} in <s>", f"hashed {events}"],
                           songs: [f"listed {songs} in <s>", f"hashed {songs}"]}
    with ledger.Planning(config, incremental=True) as planning:
        planning.keep(q.STAGING_EVENTS, [])
        planning.keep(q.STAGING_SONGS, [])
        planning.batch()
    assert by_source() == {events: [f"listed {events} in <s>"], songs: [f"listed {songs} in <s>"]}


def analyze_line(table) -> str:
    return f'ANALYZE "{table.name}";'


def test_a_run_that_brings_song_files_analyzes_the_song_records(conn, inbox, capsys):
    logs, songs = logs_and_songs(SAMPLE)
    inbox.deliver(logs[:1] + songs[:5])
    assert inbox.etl(inbox.daily, "--incremental") == 0
    inbox.deliver(songs[5:])
    capsys.readouterr()
    assert etl.main(["--config", str(inbox.daily), "--incremental", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("ANALYZE")] == [
        analyze_line(q.STAGING_EVENTS), analyze_line(q.STAGING_SONGS), analyze_line(q.LOADED_SONGS)]


def test_a_full_rebuild_then_daily_runs_load_only_what_is_new(conn, inbox, rebuild_schema, capsys):
    """The full rebuild keeps the ledger too: the next daily run loads only the day that came."""
    _, rebuilt = rebuild_schema
    logs, songs = logs_and_songs(SAMPLE)
    inbox.deliver(logs[:-1] + songs)
    capsys.readouterr()
    assert etl.main(["--config", str(inbox.daily)]) == 0
    said = capsys.readouterr().err
    assert f"staging_events: {len(logs) - 1} files, all loaded (a full rebuild)\n" in said
    assert f"staging_songs: {len(songs)} files, all loaded (a full rebuild)\n" in said
    inbox.deliver(logs[-1:])
    assert etl.main(["--config", str(inbox.daily), "--incremental"]) == 0
    said = capsys.readouterr()
    assert f"staging_events: 1 new file, {len(logs) - 1} loaded before\n" in said.err
    assert f"staging_songs: 0 new files, {len(songs)} loaded before\n" in said.out  # the run summary too
    with conn.cursor() as cur:
        cur.execute("SELECT run_no, COUNT(*) FROM load_ledger GROUP BY run_no ORDER BY run_no")
        assert cur.fetchall() == [(1, len(logs) - 1 + len(songs)), (2, 1)]
    conn.rollback()
    assert inbox.etl(inbox.full) == 0
    assert without_ids(star_state(conn)) == without_ids(star_state(rebuilt))


TS = 1541105830796  # 2018-11-01 20:57:10.796 UTC
EVENT = {"artist": "Same Artist", "auth": "Logged In", "firstName": "Lily", "gender": "F", "itemInSession": 0,
         "lastName": "Koch", "length": 200.0, "level": "paid", "location": "Red Bluff, CA", "method": "PUT",
         "page": "NextSong", "registration": 1540000000000.0, "sessionId": 7, "song": "Same Title", "status": 200,
         "ts": TS, "userAgent": "Mozilla/5.0", "userId": "15"}
SONG = {"num_songs": 1, "artist_id": "ARX", "artist_latitude": None, "artist_longitude": None,
        "artist_location": "", "artist_name": "Same Artist", "song_id": "SOX", "title": "Same Title",
        "duration": 200.0, "year": 2000}


def test_a_song_id_and_a_start_time_that_come_again_in_a_later_batch(tmp_path, write_config, conn, rebuild_schema):
    """The same song_id in two song files, and plays at the same moment in two days' files, across
    batches: songs keeps the copy a rebuild keeps (not the latest to arrive), time keeps one row."""
    name, rebuilt = rebuild_schema
    source = tmp_path / "source"
    days = [source / "log_data" / "2018" / "11" / f"2018-11-0{day}-events.json" for day in (1, 2)]
    songs = [source / "song_data" / "A" / "A" / letter / f"TRAAA0{letter}.json" for letter in "AB"]
    for path in days + songs:
        path.parent.mkdir(parents=True, exist_ok=True)
    days[0].write_text(json.dumps(EVENT) + "\n")
    days[1].write_text(json.dumps({**EVENT, "userId": "16", "sessionId": 8}) + "\n")  # the same ts
    songs[0].write_text(json.dumps(SONG))
    songs[1].write_text(json.dumps({**SONG, "year": 2001}))  # the same song_id, ranked after the first
    inbox = Inbox(tmp_path, write_config, source, name, SAMPLE / "log_json_path.json")
    assert_daily_equals_rebuild(inbox, conn, rebuilt, [[days[0], songs[0]], [days[1], songs[1]]])
    assert [row[3] for row in fetch_all(conn, "songs", "song_id")] == [2000]
    assert len(fetch_all(conn, "time", "start_time")) == 1
    assert fetch_all(conn, "time", "start_time")[0][0].timestamp() * 1000 == pytest.approx(TS)


def test_a_file_rewritten_with_its_old_size_and_time_is_found_by_verify_content(conn, inbox, capsys):
    """Size and time are the quick test for local files: a rewrite that keeps both passes it, and
    --verify-content hashes every file the ledger has, so the rewrite is refused, nothing changed."""
    logs, songs = logs_and_songs(SAMPLE)
    inbox.deliver(logs[:2] + songs)
    assert inbox.etl(inbox.daily, "--incremental") == 0
    before = full_state(conn)
    changed = inbox.root / logs[0].relative_to(SAMPLE)
    stat = changed.stat()
    text = changed.read_text()
    changed.write_text(text.replace('"level":"free"', '"level":"paid"', 1))
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert changed.read_text() != text and changed.stat().st_size == stat.st_size
    assert changed.stat().st_mtime_ns == stat.st_mtime_ns
    capsys.readouterr()
    assert inbox.etl(inbox.daily, "--incremental") == 0  # the quick test takes it as unchanged
    assert full_state(conn) == before
    assert inbox.etl(inbox.daily, "--incremental", "--verify-content") == 1
    err = without_target(capsys.readouterr().err)
    assert err.startswith(f"error: 1 file changed after it was loaded: {changed} (loaded on ")
    assert "; same size, other content)" in err
    assert full_state(conn) == before


def test_a_day_resent_under_another_name_is_loaded_once(conn, inbox, rebuild_schema, capsys):
    """At-least-once delivery: a day's file copied, or renamed after it was loaded, has content a
    loaded file has. Daily and full runs alike skip it with a warning naming both files, and the
    plays are counted once."""
    _, rebuilt = rebuild_schema
    logs, songs = logs_and_songs(SAMPLE)
    inbox.deliver(logs[:2] + songs)
    assert inbox.etl(inbox.daily, "--incremental") == 0
    assert inbox.etl(inbox.full) == 0
    before = star_state(conn)
    day = inbox.root / logs[0].relative_to(SAMPLE)
    resent = day.with_name(day.stem + "-v2.json")
    shutil.copyfile(day, resent)
    capsys.readouterr()
    assert etl.main(["--config", str(inbox.daily), "--incremental"]) == 0
    err = without_target(capsys.readouterr().err)
    assert f"{resent} has the content of {day}, loaded already: skipped, so its events count once" in err
    assert star_state(conn) == before
    day.unlink()  # renamed: the old name gone, its rows kept; the new name is still a copy of it
    assert inbox.etl(inbox.daily, "--incremental") == 0
    assert star_state(conn) == before
    capsys.readouterr()
    assert etl.main(["--config", str(inbox.full)]) == 0  # a full rebuild over the renamed day
    assert star_state(rebuilt)["songplays"] == before["songplays"]
    shutil.copyfile(resent, day)  # both names again: a full rebuild loads the first by path, skips the other
    capsys.readouterr()
    assert etl.main(["--config", str(inbox.full)]) == 0
    out, err = capsys.readouterr()
    assert f"{day} has the content of {resent}, loaded already: skipped, so its events count once" in err
    assert star_state(rebuilt)["songplays"] == before["songplays"]


def test_an_event_that_arrives_twice_is_one_play(conn, inbox, rebuild_schema, capsys):
    """At-least-once delivery: a later file repeats some events of an earlier one (same user,
    session, item in session and ts) beside new ones. The daily warehouse and a full rebuild both
    count each event once, say how many came again, and equal the oracle's distinct events."""
    from conftest import assert_matches_oracle

    _, rebuilt = rebuild_schema
    logs, songs = logs_and_songs(SAMPLE)
    inbox.deliver([logs[0]] + songs)
    assert inbox.etl(inbox.daily, "--incremental") == 0
    plays_before = len(star_state(conn)["songplays"])
    day = inbox.root / logs[0].relative_to(SAMPLE)
    repeated = [line for line in day.read_text().splitlines() if '"page":"NextSong"' in line and '"userId":""' not in line]
    resent = day.with_name("2018-11-01-late-events.json")
    resent.write_text("\n".join(repeated[:5] + logs[1].read_text().splitlines()) + "\n")
    capsys.readouterr()
    assert etl.main(["--config", str(inbox.daily), "--incremental"]) == 0
    out = capsys.readouterr().out
    assert "NextSong events already played (copies in the files, or loaded before), counted once: 5" in out
    new_plays = sum(1 for line in logs[1].read_text().splitlines() if '"page":"NextSong"' in line
                    and '"userId":""' not in line)
    assert len(star_state(conn)["songplays"]) == plays_before + new_plays
    assert etl.main(["--config", str(inbox.full)]) == 0
    assert star_state(rebuilt)["songplays"] == star_state(conn)["songplays"]
    assert "counted once: 5" in capsys.readouterr().out
    assert_matches_oracle(rebuilt, inbox.root / "log_data", inbox.root / "song_data")
