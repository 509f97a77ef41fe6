"""Compressed input ([S3] LOG_COMPRESSION, SONG_COMPRESSION): the warehouse of the same files
uncompressed, from local folders, with worker processes and through (moto's) S3; a compressed file
the settings do not expect is one line naming the key to set, as COPY refuses it."""

import bz2
import gzip
import shutil

import pytest
import zstandard

import create_tables
import etl
import sql_queries as q
from conftest import SAMPLE, UDACITY, fetch_all, new_bucket, without_target
from sparkify import compression
from sparkify.loader import workers as parallel
from sparkify.errors import CompressedInput, LoadError

SOURCE = SAMPLE  # the real data set is the oracle test's (it takes long to compress and load)
COMPRESS = {"gzip": gzip.compress, "bzip2": bz2.compress, "zstd": zstandard.ZstdCompressor().compress}
TABLES = {"staging_events": "ts, session_id, item_in_session, user_id", "staging_songs": "song_id",
          "songplays": "songplay_id", "users": "user_id", "songs": "song_id", "artists": "artist_id",
          "time": "start_time", "load_errors": "1"}
EVENTS = "log_data/2018/11/2018-11-04-events.json"


def compressed_copy(target, kind, source=SOURCE):
    """log_data and song_data of ``source`` with every file compressed (names kept, as users keep
    them); the JSONPaths file stays plain."""
    for path in sorted(source.rglob("*.json")):
        relative = path.relative_to(source)
        if relative.parts[0] in ("log_data", "song_data"):
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            (target / relative).write_bytes(COMPRESS[kind](path.read_bytes()))
    return target


def config_for(write_config, data, log_kind="none", song_kind="none"):
    cfg = write_config(log_data=data / "log_data", song_data=data / "song_data",
                       log_jsonpath=SOURCE / "log_json_path.json")
    cfg.write_text(cfg.read_text() + f"LOG_COMPRESSION={log_kind}\nSONG_COMPRESSION={song_kind}\n")
    return cfg


def state(conn):
    return {table: fetch_all(conn, table, order) for table, order in TABLES.items()}


@pytest.fixture
def plain(conn, write_config):
    """The warehouse of the plain files, and its config."""
    cfg = config_for(write_config, SOURCE)
    assert create_tables.main(["--config", str(cfg), "-q"]) == 0
    assert etl.main(["--config", str(cfg), "-q"]) == 0
    return state(conn)


def test_sniff_knows_the_three_formats_and_no_json():
    assert {kind: compression.sniff(COMPRESS[kind](b'{"a": 1}')) for kind in COMPRESS} == {
        "gzip": "gzip", "bzip2": "bzip2", "zstd": "zstd"}
    for text in (b'{"a": 1}', b"\xef\xbb\xbf{}", b"  {", b"", b"BZ", b"["):
        assert compression.sniff(text) is None


@pytest.mark.parametrize("kind", list(COMPRESS))
@pytest.mark.parametrize("workers", ["none", "workers", "workers, a task per file", "workers, big files streamed by the parent"])
def test_compressed_input_loads_the_warehouse_of_the_plain_files(plain, conn, tmp_path, write_config, monkeypatch,
                                                                 capsys, kind, workers):
    data = compressed_copy(tmp_path / "data", kind)
    cfg = config_for(write_config, data, kind, kind)
    if workers != "none":
        monkeypatch.setenv(parallel.WORKERS_ENV, "2")
        monkeypatch.setattr(parallel, "BATCH_FILES", 7)
        monkeypatch.setattr(parallel, "CHUNK_BYTES", 2048)  # a plain file this big would be cut into ranges
    if workers.endswith("per file"):  # every compressed file counts as bigger than a batch
        monkeypatch.setattr(parallel, "BATCH_BYTES", 64)
    if workers.endswith("parent"):  # every compressed file counts as bigger than a worker takes
        monkeypatch.setattr(parallel, "BATCH_BYTES", 64)
        monkeypatch.setattr(parallel, "COMPRESSED_WHOLE_BYTES", 64)
    capsys.readouterr()
    assert etl.main(["--config", str(cfg)]) == 0
    assert state(conn) == plain
    if workers != "none":
        assert without_target(capsys.readouterr().err).count("(2 worker processes)") == 2


@pytest.mark.skipif(not UDACITY.exists(), reason="../shared/data/udacity is not here")
def test_the_real_sample_gzipped_gives_the_oracles_warehouse(conn, tmp_path, write_config):
    from conftest import assert_matches_oracle

    data = compressed_copy(tmp_path / "data", "gzip", UDACITY)
    cfg = config_for(write_config, data, "gzip", "gzip")
    assert create_tables.main(["--config", str(cfg), "-q"]) == 0
    assert etl.main(["--config", str(cfg), "-q"]) == 0
    assert_matches_oracle(conn, UDACITY / "log_data", UDACITY / "song_data")


@pytest.mark.parametrize("kind", list(COMPRESS))
@pytest.mark.parametrize("flags", [[], ["--validate"], ["--max-errors", "5"]], ids=["load", "validate", "tolerant"])
def test_a_compressed_file_without_the_setting_is_refused_naming_the_key(plain, conn, tmp_path, write_config, capsys,
                                                                        kind, flags):
    data = tmp_path / "data"
    shutil.copytree(SOURCE / "log_data", data / "log_data")
    shutil.copytree(SOURCE / "song_data", data / "song_data")
    bad = data / EVENTS
    bad.write_bytes(COMPRESS[kind](bad.read_bytes()))
    capsys.readouterr()
    assert etl.main(["--config", str(config_for(write_config, data)), "-q", *flags]) == 1
    assert without_target(capsys.readouterr().err) == (f"error: {bad}, line 1: the file looks {kind}-compressed:"
                                       f" set [S3] LOG_COMPRESSION = {kind} to load it\n")
    assert state(conn) == plain


def test_a_compressed_song_file_names_the_song_key(plain, conn, tmp_path, write_config, capsys):
    data = compressed_copy(tmp_path / "data", "zstd")
    cfg = config_for(write_config, data, log_kind="zstd")
    assert etl.main(["--config", str(cfg), "-q"]) == 1
    err = without_target(capsys.readouterr().err)
    assert err.startswith(f"error: {data / 'song_data'}") and err.endswith(
        ", line 1: the file looks zstd-compressed: set [S3] SONG_COMPRESSION = zstd to load it\n")
    assert state(conn) == plain


@pytest.mark.parametrize("content, reason", [
    (b'{"ts": 1}', "Not a gzipped file (b'{\"')"),
    (gzip.compress(b'{"ts": 1}\n' * 100)[:-30], "Compressed file ended before the end-of-stream marker was reached"),
], ids=["not compressed", "truncated"])
def test_a_file_that_does_not_decompress_is_one_line(plain, conn, tmp_path, write_config, capsys, content, reason):
    data = compressed_copy(tmp_path / "data", "gzip")
    bad = data / EVENTS
    bad.write_bytes(content)
    assert etl.main(["--config", str(config_for(write_config, data, "gzip", "gzip")), "-q"]) == 1
    assert without_target(capsys.readouterr().err) == f"error: {bad}: cannot decompress as gzip: {reason}\n"
    assert state(conn) == plain


def test_the_reader_refuses_compressed_bytes_anywhere_it_reads_a_file_start():
    from sparkify.loader.mapping import MappingSpec
    from sparkify.loader.rows import copy_chunks
    import io

    mapping = MappingSpec(q.STAGING_SONGS, "auto").build()
    data = gzip.compress(b'{"song_id": "S"}')
    with pytest.raises(CompressedInput, match="looks gzip-compressed"):
        list(copy_chunks(io.BytesIO(data), "f", mapping))
    # a part of a file that does not start at its first byte is not a file start
    with pytest.raises(LoadError) as err:
        list(copy_chunks(io.BytesIO(data), "f", mapping, first_line=2, first_byte=10, takeover=False))
    assert not isinstance(err.value, CompressedInput)


def test_compressed_objects_load_through_s3(plain, conn, tmp_path, write_config, fake_aws):
    data = compressed_copy(tmp_path / "data", "gzip")
    new_bucket("sparkify-gz", {path.relative_to(data).as_posix(): path.read_bytes()
                               for path in sorted(data.rglob("*.json"))})
    cfg = write_config(log_data="s3://sparkify-gz/log_data", song_data="s3://sparkify-gz/song_data",
                       log_jsonpath=SOURCE / "log_json_path.json")
    cfg.write_text(cfg.read_text() + "LOG_COMPRESSION=gzip\nSONG_COMPRESSION=gzip\n")
    assert etl.main(["--config", str(cfg), "-q"]) == 0
    assert state(conn) == plain
