"""The generator is deterministic and the shipped sample is exactly its output."""

import filecmp
import subprocess
import sys

from conftest import ROOT, SAMPLE
from oracle import read_events, read_songs
from sparkify.generate import generate

SAMPLE_COMMAND = ["--events", "1200", "--songs", "120", "--days", "4", "--seed", "2018"]


def test_shipped_sample_is_the_generators_output(tmp_path):
    """README documents this command; the sample must be what it writes, byte for byte."""
    out = tmp_path / "sample"
    subprocess.run([sys.executable, "-m", "sparkify.generate", str(out), *SAMPLE_COMMAND], cwd=ROOT, check=True,
                   capture_output=True)
    shipped = sorted(p.relative_to(SAMPLE) for p in SAMPLE.rglob("*") if p.is_file())
    made = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert shipped == made
    mismatch = [str(p) for p in shipped if not filecmp.cmp(SAMPLE / p, out / p, shallow=False)]
    assert mismatch == []


def test_generator_sizes_and_layout(tmp_path):
    counts = generate(str(tmp_path), events=500, songs=40, days=30, seed=7)
    assert counts == {"events": 500, "songs": 40, "users": 8}
    assert len(list((tmp_path / "log_data" / "2018" / "11").glob("2018-11-*-events.json"))) == 30
    songs = list((tmp_path / "song_data").rglob("TR*.json"))
    assert len(songs) == 40
    assert all(p.parent.parent.parent.name == p.name[2] and p.parent.name == p.name[4] for p in songs)
    events = read_events(tmp_path / "log_data")
    assert len(events) == 500
    assert sum(1 for s in songs if s.read_text().count("\n") > 3) == 1  # exactly one pretty-printed file
    assert len(read_songs(tmp_path / "song_data")) == 40


def test_the_jsonpaths_file_and_the_events_follow_the_staging_columns(tmp_path):
    """One definition per staging column (sparkify/queries/schema.py): the JSONPaths file is drawn
    from it, the real data's file has the same keys in the same order, and the events the generator
    writes have each key."""
    import json

    import pytest

    import sql_queries as q
    from conftest import UDACITY

    keys = [column.json_key for column in q.STAGING_EVENTS.columns]
    generate(str(tmp_path), events=50, songs=5, days=1, seed=3)
    assert json.loads((tmp_path / "log_json_path.json").read_text()) == {"jsonpaths": [f"$['{k}']" for k in keys]}
    events = read_events(tmp_path / "log_data")
    assert {key for event in events for key in event} == set(keys)
    assert [column.json_key for column in q.STAGING_SONGS.columns] == [c.name for c in q.STAGING_SONGS.columns]
    if not (UDACITY / "log_json_path.json").exists():
        pytest.skip("the real data is not beside the checkout (../shared/data/udacity)")
    assert json.loads((UDACITY / "log_json_path.json").read_text()) == q.jsonpaths(q.STAGING_EVENTS)
