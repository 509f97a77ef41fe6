"""The mutations written by hand: edits no generator makes (a changed function name, a dropped line,
another SQL function), for the files and statements tests/mutate.py's generators do not reach that
way. Each is killed, or marked ``equivalent`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    edits: tuple[tuple[str, str], ...]  # (text that occurs exactly once, its replacement)
    tests: tuple[str, ...]
    equivalent: str = ""  # why it cannot change any result


def m(name, path, old, new, *tests, equivalent=""):
    edits = tuple(zip(old, new)) if isinstance(old, tuple) else ((old, new),)
    return Mutation(name, path, edits, tests, equivalent)


SQL = "sql_queries.py"
DIALECT = "sparkify/queries/dialect.py"
TRANSFORM = "sparkify/queries/transform.py"
CHECKS_SQL = "sparkify/queries/checks.py"
LEDGER_SQL = "sparkify/queries/ledger.py"
COPY_SQL = "sparkify/queries/copy.py"
VIEWS = "sparkify/queries/redshift_views.py"
READER = "sparkify/loader/reader.py"
RENDER = "sparkify/loader/render.py"
MAPPING = "sparkify/loader/mapping.py"
LOAD = "sparkify/loader/load.py"
VALUES = "sparkify/loader/values.py"
WORKERS = "sparkify/loader/workers.py"
CONFIG = "sparkify/config.py"
RULES = "tests/test_transform_rules.py"
PIPE = "tests/test_pipeline.py"
CHECKS = "tests/test_quality_checks.py"
BAD = "tests/test_bad_input.py"
LOAD_T = "tests/test_loader.py"
CONF_T = "tests/test_config.py"
PAR_T = "tests/test_parallel.py"
INC = "tests/test_incremental.py"
LEDGER = "sparkify/ledger.py"

MUTATIONS = [
    # --- the transform (sql_queries.py) ---
    m("song match: no song_id tie-break", TRANSFORM,
      "ORDER BY ABS(s.duration - k.length) ASC NULLS LAST, s.song_id", "ORDER BY ABS(s.duration - k.length) ASC NULLS LAST",
      RULES),
    m("song match: title only, not the artist", TRANSFORM,
      "ON s.title = k.song AND s.artist_name = k.artist", "ON s.title = k.song", RULES, PIPE),
    m("song match: a NULL length joins the 0-length group too", TRANSFORM,
      " AND (b.length IS NULL) = ({0}.length IS NULL)", "", RULES),
    m("a play: any user id, even ''", TRANSFORM,
      "IS_PLAY = sql.SQL(\"{0}.page = 'NextSong' AND {0}.user_id <> ''\")",
      "IS_PLAY = sql.SQL(\"{0}.page = 'NextSong'\")", RULES),
    m("a play: any page", TRANSFORM,
      "IS_PLAY = sql.SQL(\"{0}.page = 'NextSong' AND {0}.user_id <> ''\")",
      "IS_PLAY = sql.SQL(\"{0}.user_id <> ''\")", RULES, PIPE),
    m("start_time: whole seconds (integer division)", TRANSFORM, "ts / 1000.0 * INTERVAL", "ts / 1000 * INTERVAL",
      RULES, PIPE),
    m("time: weekday 1 = Monday ... 7 = Sunday", TRANSFORM, "EXTRACT(DOW FROM t.start_time)",
      "EXTRACT(ISODOW FROM t.start_time)", RULES, PIPE),
    m("time: week of the year counted from 1 January", TRANSFORM, "EXTRACT(WEEK FROM t.start_time)",
      "CAST(FLOOR((EXTRACT(DOY FROM t.start_time) - 1) / 7) + 1 AS SMALLINT)", RULES, PIPE),
    m("artists: coordinates before location", TRANSFORM,
      ("ORDER BY CASE WHEN artist_location IS NULL OR artist_location = '' THEN 1 ELSE 0 END,\n"
       "                        CASE WHEN artist_latitude IS NULL OR artist_longitude IS NULL THEN 1 ELSE 0 END,"),
      ("ORDER BY CASE WHEN artist_latitude IS NULL OR artist_longitude IS NULL THEN 1 ELSE 0 END,\n"
       "                        CASE WHEN artist_location IS NULL OR artist_location = '' THEN 1 ELSE 0 END,"),
      RULES),
    m("artists: coordinates not preferred", TRANSFORM,
      "                        CASE WHEN artist_latitude IS NULL OR artist_longitude IS NULL THEN 1 ELSE 0 END,\n",
      "", RULES),
    m("artists: the largest song_id", TRANSFORM, "                        song_id, artist_name\n",
      "                        song_id DESC, artist_name\n", RULES, PIPE),
    m("artists: every song's row, not one per artist", TRANSFORM, "WHERE a.preference = 1", "WHERE a.preference <= 2",
      RULES, PIPE),
    m("songs: every copy of a song_id", TRANSFORM, "WHERE s.copy_no = 1", "WHERE s.copy_no >= 1", RULES, PIPE),
    m("songs: every song id decided again, not just this run's", TRANSFORM,
      "    FROM loaded_songs\n    WHERE song_id IN (SELECT song_id FROM staging_songs)\n", "    FROM loaded_songs\n",
      INC),
    m("checks: an unmatched play (NULL song_id) counts as an orphan", CHECKS_SQL,
      "FROM songplays AS f WHERE f.{column} IS NOT NULL\"\n        \" AND NOT EXISTS",
      "FROM songplays AS f WHERE\"\n        \" NOT EXISTS", PIPE),
    m("checks: the artist orphan check deleted", CHECKS_SQL,
      "       (\"every songplay's artist_id is in artists\", _orphans(\"artist_id\", \"artists\", \"artist_id\")),\n",
      "", CHECKS),
    m("checks: a NULL-key check looks for non-NULL keys", CHECKS_SQL, "SELECT COUNT(*) FROM {table} WHERE {key} IS NULL",
      "SELECT COUNT(*) FROM {table} WHERE {key} IS NULL AND {key} IS NOT NULL", CHECKS),
    m("checks: the play count compared with every NextSong event", CHECKS_SQL,
      "\"SELECT ABS((SELECT COUNT(*) FROM ({}) AS n)\"",
      "\"SELECT ABS((SELECT COUNT(*) FROM staging_events) + 0 * (SELECT COUNT(*) FROM ({}) AS n)\"", CHECKS, PIPE),
    # --- daily loads (sql_queries.py, sparkify/ledger.py) ---
    m("daily: earlier plays never matched again (no late songs)", TRANSFORM,
      " JOIN (SELECT DISTINCT title, artist_name FROM staging_songs) AS n\"",
      " JOIN (SELECT DISTINCT title, artist_name FROM staging_songs WHERE 1 = 0) AS n\"", INC),
    m("daily: late songs match only plays that had none", TRANSFORM,
      "WHERE songplays.songplay_id = m.songplay_id\n", "WHERE songplays.songplay_id = m.songplay_id AND songplays.song_id IS NULL\n",
      INC),
    m("daily: users from this run's events only (the latest to arrive wins)", TRANSFORM,
      "scope=sql.SQL(\"SELECT {} FROM user_latest WHERE user_id IN ({})\")",
      "scope=sql.SQL(\"SELECT {} FROM user_latest WHERE run_no = (SELECT MAX(run_no) FROM load_runs) AND user_id IN ({})\")",
      INC),
    m("daily: artists decided over this run's song records only", TRANSFORM,
      "    FROM loaded_songs\n    WHERE artist_id IN", "    FROM staging_songs\n    WHERE artist_id IN", INC),
    m("daily: songs decided over this run's song records only", TRANSFORM,
      "    FROM loaded_songs\n    WHERE song_id IN", "    FROM staging_songs\n    WHERE song_id IN", INC),
    m("daily: new plays matched over this run's song records only", TRANSFORM,
      "        JOIN loaded_songs AS s ON s.title = k.song", "        JOIN staging_songs AS s ON s.title = k.song", INC),
    m("daily: songplay ids start again at 1 every run", TRANSFORM,
      "SELECT r.songplays_before + ROW_NUMBER() OVER (ORDER BY {order}),", "SELECT ROW_NUMBER() OVER (ORDER BY {order}),",
      INC),
    m("daily: a start time already in time inserted again", TRANSFORM,
      "WHERE NOT EXISTS (SELECT 1 FROM \"time\" AS o WHERE o.start_time = t.start_time)\n", "", INC),
    m("daily: a file whose content changed taken as unchanged", LEDGER,
      "        if hashes[obj.uri] == before.etag and obj.size == before.bytes:", "        if True:", INC),
    m("daily: a file listed again loaded again", LEDGER, "        if before is None:", "        if True:", INC),
    m("daily: the run's files never numbered in the ledger", LEDGER_SQL,
      'LEDGER_RUN = sql.SQL("UPDATE load_ledger SET run_no = {} WHERE run_no IS NULL")',
      'LEDGER_RUN = sql.SQL("SELECT {}")', "tests/test_redshift_sql.py"),
    m("clearing: songplays not emptied before a rerun", SQL,
      "for table in STAR_TABLES] for d in DIALECTS}", "for table in STAR_TABLES[1:]] for d in DIALECTS}",
      PIPE),
    m("COPY: an empty string loads as NULL", COPY_SQL, "NULL 'null', ESCAPE", "NULL '', ESCAPE", BAD),
    # --- the reader (sparkify/loader/reader.py, render.py) ---
    m("reader: the BOM's length left out of byte offsets", READER,
      "raw, offset = without_bom(raw), len(BOM)", "raw, offset = without_bom(raw), 0", BAD),
    m("reader: a BOM accepted on any line", READER,
      "if line_no == 1 and raw.startswith(BOM):", "if raw.startswith(_BOM):", BAD),
    m("reader: big integers read by orjson (as floats) line by line", READER,
      ("        obj = decode_any(text)\n    except (msgspec.DecodeError, RecursionError):",),
      ("        obj = orjson.loads(text)\n    except (orjson.JSONDecodeError, RecursionError):",), LOAD_T, BAD),
    m("reader: a duplicated key let through the colon count", READER,
      "    if colons == sizes:\n        return True", "    if colons >= sizes:\n        return True", BAD, LOAD_T),
    m("reader: an empty file accepted", READER, "if empty and require_object:", "if False and require_object:", BAD),
    m("reader: a lone surrogate accepted by the strict reader", READER,
      "        if not isinstance(obj, dict) or not _encodable(obj):", "        if not isinstance(obj, dict):", BAD),
    m("reader: NaN and Infinity accepted", READER, "    parse_constant=_reject_constant,\n", "", BAD),
    m("CSV: backslashes not escaped", RENDER, "'\"' + text.replace(\"\\\\\", \"\\\\\\\\\").replace(",
      "'\"' + text.replace(", BAD),
    m("CSV: every orjson escape passed through", RENDER,
      "return out.count(b\"\\\\\") == out.count(b'\\\\\"')", "return True", BAD),
    # --- the row mapping and MAX_ERRORS (sparkify/loader/mapping.py, load.py, values.py) ---
    m("mapping: a number into a text column loses its source text", MAPPING,
      "inexact = {int, float, list, dict}", "inexact = {list, dict}", BAD, LOAD_T),
    m("mapping: auto ignorecase takes the last of two keys that differ in case", MAPPING,
      "lowered.setdefault(key.lower(), value)", "lowered[key.lower()] = value", LOAD_T),
    m("MAX_ERRORS N tolerates only N-1", LOAD, "if self.count > self.limit:", "if self.count >= self.limit:", BAD),
    m("MAX_ERRORS: the top of a column's integer range accepted", VALUES, "None if -limit <= number < limit",
      "None if -limit <= number <= limit", BAD, LOAD_T),
    # --- config (sparkify/config.py) ---
    m("config: an empty required value accepted", CONFIG, "if value is None or value == \"\":", "if value is None:",
      CONF_T),
    m("config: port 65536 accepted", CONFIG, "0 < int(port_text) < 65536", "0 < int(port_text) <= 65536", CONF_T),
    m("config: quotes of different kinds stripped", CONFIG, "value[0] == value[-1] and value[0] in",
      "value[0] in \"'\\\"\" and value[0] in", CONF_T),
    m("config: SQL comment markers allowed", CONFIG,
      "if not comments_allowed and any(marker in value for marker in SQL_COMMENT_MARKERS):",
      "if False:", "tests/test_hostile.py"),
    # --- Redshift: what its COPY and views are told (sql_queries.py) ---
    m("Redshift: MAXERROR N, tolerating only N-1", COPY_SQL, "sql.Literal(int(max_errors) + 1)",
      "sql.Literal(int(max_errors))", "tests/test_redshift_sql.py"),
    m("Redshift: no LOCK before the ETL's first change", DIALECT, "locks_tables=True,", "locks_tables=False,",
      "tests/test_redshift_sql.py"),
    m("Redshift: a failed COPY looked up by pg_last_copy_id(), which it does not update", VIEWS,
      "    if view == \"stl_load_errors\":\n        if since is None:\n",
      "    if view == \"stl_load_errors\":\n        if True:\n",
      "tests/test_redshift_standin.py::test_a_copy_that_fails_on_a_bad_record_shows_that_record"),
    m("Redshift Serverless: the last load of any session", VIEWS,
      "FROM sys_load_history WHERE session_id = pg_backend_pid()\"\n                       \" AND TRIM(table_name)",
      "FROM sys_load_history WHERE TRUE\"\n                       \" AND TRIM(table_name)",
      "tests/test_redshift_sql.py"),
    m("Redshift: the ledger filled before Redshift has recorded every file of the COPY", "sparkify/engines/redshift.py",
      "found[1] == \"completed\" and found[3] >= (found[2] or 0)", "found is not None",
      "tests/test_redshift_standin.py::test_redshifts_record_is_waited_for"),
    m("Redshift: the compression option left out of the COPY", COPY_SQL,
      "        statement += sql.SQL(\" \") + COPY_COMPRESSION[compression]", "        pass",
      "tests/test_redshift_sql.py"),
    m("PostgreSQL: no advisory lock, two create_tables.py collide", DIALECT,
      '''serialize=sql.SQL("SELECT pg_advisory_xact_lock(hashtext('sparkify:' || current_schema()))"),''',
      "serialize=None,", "tests/test_cli.py::test_two_create_tables_at_once_both_succeed"),
    # --- compressed input, long lines (sparkify/compression.py, loader/reader.py, loader/workers.py) ---
    m("compression: gzip not recognised by its signature", "sparkify/compression.py", '"gzip": b"\\x1f\\x8b"',
      '"gzip": b"\\x1f\\x8c"', "tests/test_compression.py"),
    m("compression: a big compressed file cut into byte ranges", WORKERS, "        elif not compressed and obj.size > CHUNK_BYTES:",
      "        elif obj.size > CHUNK_BYTES:", "tests/test_compression.py"),
    m("reader: a piece cut inside a literal or number taken for bad JSON", READER, "exc.pos >= len(buffer) - 8",
      "exc.pos >= len(buffer) - 1", LOAD_T),
    m("reader: no 4 MB object limit", READER, "            if end - pos > MAX_OBJECT_BYTES:",
      "            if False:", BAD),
    m("reader: a line too long to hold is held whole", READER, "            if size > max_line:", "            if False:",
      BAD, equivalent="memory only: the line is read whole and gives the same rows (bench/long_lines.py shows it)"),
    # --- config and the embedded server (sparkify/config.py, embedded.py) ---
    m("config: a server named without its data loads the sample", CONFIG, "    if cluster is not None:\n        _require_sources(reader, cluster)\n",
      "", CONF_T),
    m("config: an unknown key accepted", "sparkify/ini.py", "            if key not in known_keys[section]:",
      "            if False:", CONF_T),
    m("config: a BOM not read", "sparkify/ini.py", 'path.read_bytes().decode("utf-8-sig")', 'path.read_bytes().decode("utf-8")',
      CONF_T),
    m("embedded: a zombie postmaster taken for a live server", "sparkify/embedded.py",
      "return None if process.status() == psutil.STATUS_ZOMBIE else process", "return process",
      "tests/test_embedded.py::test_files_naming_a_zombie_are_stale"),
    m("embedded: dead pids kept in the handle list", "sparkify/embedded.py",
      "    live = [pid for pid in pids if _alive(pid) is not None]", "    live = pids", "tests/test_embedded.py"),
    # --- the workers (sparkify/loader/workers.py) ---
    m("workers: a line that starts at a range's first byte dropped", WORKERS,
      "            if handle.read(1) != b\"\\n\":\n                handle.readline()",
      "            handle.read(1)\n            handle.readline()", PAR_T),
    m("workers: a range's last line not finished", WORKERS,
      "            data += handle.readline()", "            pass", PAR_T),
    m("workers: line numbers restart in every range", WORKERS,
      "        self.file_lines[uri] += result.lines\n", "", PAR_T),
    m("workers: results taken newest first", WORKERS, "(task, covered), future = window.popleft()",
      "(task, covered), future = window.pop()", PAR_T),
    # --- the run's plan and its checks ---
    m("daily loads: a table analyzed after a run that loaded nothing into its source", "sparkify/pipeline.py",
      "if t.fills and t.source == staged and loads else []", "if t.fills else []", INC),
    m("planning: a listing that failed while the events load not noticed until the songs load", "sparkify/run.py",
      "self.run_steps(cur, pipeline.event_steps(engine, config, events), planning.check)",
      "self.run_steps(cur, pipeline.event_steps(engine, config, events))", "tests/test_pipeline.py"),
    m("planning: a changed song file let through once the events are planned", "sparkify/ledger.py",
      "if any(changed for _, changed in self._planned):", "if any(changed for _, changed in self._planned[:1]):", INC),
    m("checks: a NULL check skipped as enforced on a column declared nullable", CHECKS_SQL,
      '[("songplays", "start_time"), ("songplays", "user_id")]',
      '[("songplays", "start_time"), ("songplays", "user_id"), ("songplays", "song_id")]',
      "tests/test_redshift_sql.py"),
    m("loader: a Ctrl-C while the workers start ignored", "sparkify/loader/workers.py",
      "    for signum in dict.fromkeys(held):\n        signal.raise_signal(signum)\n", "", "tests/test_parallel.py"),
    m("loader: a SIGTERM while a worker is spawned not held", "sparkify/loader/workers.py",
      "_HELD = (signal.SIGINT, signal.SIGTERM)", "_HELD = (signal.SIGINT,)", "tests/test_parallel.py"),
    m("loader: a worker killed outright a traceback", "sparkify/loader/workers.py",
      "        raise LoadError(f\"a worker process", "        raise\n        raise LoadError(f\"a worker process",
      "tests/test_parallel.py"),
    m("cli: an error a signal caused on its way out not taken for the signal", "sparkify/cli.py",
      "if isinstance(exc, raised) or signum in taken:", "if isinstance(exc, raised):",
      "tests/test_hostile.py"),
    m("summary: the plays not counted by a step of the plan (so not in --dry-run)", "sparkify/pipeline.py",
      "               PlayCounts(\"count the plays and those matched to a song\", q.MATCHED_PLAYS)])",
      "               ])",
      PIPE, "tests/test_redshift_standin.py"),
    m("workers: the spill folder of a failed load left behind", WORKERS,
      "        spills.remove_folder(spill)  # with what a failed load left in flight\n", "",
      "tests/test_parallel.py"),
    m("spill: the spill folders of killed runs never removed", "sparkify/loader/spill.py",
      "owner.isdigit() and not _alive(int(owner)):", "owner.isdigit() and not owner:", "tests/test_parallel.py"),
    m("workers: a worker that cannot write its rows not said", WORKERS,
      "if result.unwritable and not self.said_unwritable:", "if result.unwritable and self.said_unwritable:",
      "tests/test_parallel.py"),
    m("daily: the ledger read before the run's lock", "sparkify/run.py",
      ("                self.run_steps(cur, pipeline.first_steps(engine), planning.check)\n",
       "                        planning.keep(result.step.table, result.fetched)\n"),
      ("", "                        planning.keep(result.step.table, result.fetched)\n"
           "                self.run_steps(cur, pipeline.first_steps(engine), planning.check)\n"),
      INC),
    m("s3: only the first page of a listing", "sparkify/s3.py",
      'for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):',
      'for page in [client.list_objects_v2(Bucket=bucket, Prefix=prefix)]:', "tests/test_s3_source.py"),
    m("daily: a touched file's new time never written to the ledger (read again every day)",
      "sparkify/engines/postgres.py", "        if table is None or not table.touched:\n            return []",
      "        if True:\n            return []", INC),
    m("daily: a touched file not told apart from an unchanged one", LEDGER, "            touched.append(obj)\n", "",
      INC),
    m("checks: a check's result not logged as it ends (no progress through seconds of checks)", "sparkify/steps.py",
      "    is_check: ClassVar[bool] = True\n    log_level: ClassVar[int] = logging.INFO\n",
      "    is_check: ClassVar[bool] = True\n", PIPE),
    m("checks: run with the transform's 256 MB of work_mem", DIALECT,
      "check_session=(sql.SQL(\"SET LOCAL work_mem = '4MB'\"),),", "check_session=(),",
      "tests/test_redshift_sql.py"),
    m("daily: an S3 object of the same size with another ETag said to have other content", LEDGER,
      "{'another ETag' if obj.etag is not None else 'other content'}", "other content", "tests/test_redshift_standin.py"),
]
