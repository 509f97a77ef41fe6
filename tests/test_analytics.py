"""analytics.py answers, checked against values computed independently from the raw files."""

import collections
import json
import struct

import pytest

import analytics
import create_tables
import etl
from conftest import SAMPLE, UDACITY
from oracle import expected_warehouse, read_events, read_songs

WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


def expected_answers(data_dir, top):
    events, songs = read_events(data_dir / "log_data"), read_songs(data_dir / "song_data")
    wh = expected_warehouse(events, songs)
    plays = wh["songplays"]  # (start_time, user_id, level, song_id, artist_id, session_id, item, location, user_agent)
    users = {row[0]: row for row in wh["users"]}
    artists = {row[0]: row[1] for row in wh["artists"]}
    titles = {row[0]: row[1] for row in wh["songs"]}
    hours = collections.Counter(p[0].hour for p in plays)
    days = collections.Counter(p[0].isoweekday() % 7 for p in plays)
    by_song = collections.Counter((p[3], titles[p[3]], artists[p[4]]) for p in plays if p[3])
    by_artist = collections.Counter((artists[p[4]], p[4]) for p in plays if p[4])
    by_user = collections.Counter(p[1] for p in plays)
    sessions = {u: len({p[5] for p in plays if p[1] == u}) for u in by_user}
    levels = collections.defaultdict(collections.Counter)
    for p in plays:
        levels[p[1]][p[2]] += 1
    locations = collections.Counter(p[7] for p in plays if p[7] is not None)
    matched = sum(1 for p in plays if p[3])
    return {
        "plays_by_hour": [{"hour": h, "plays": n} for h, n in sorted(hours.items())],
        "plays_by_weekday": [{"weekday": d, "day": WEEKDAYS[d], "plays": n} for d, n in sorted(days.items())],
        "top_songs": [{"title": t, "artist": a, "song_id": song, "plays": n}
                      for (song, t, a), n in sorted(by_song.items(), key=lambda i: (-i[1], i[0][1:], i[0][0]))][:top],
        "top_artists": [{"artist": a, "plays": n}
                        for (a, _), n in sorted(by_artist.items(), key=lambda i: (-i[1], i[0]))][:top],
        "top_users": [{"user_id": u, "first_name": users[u][1], "last_name": users[u][2], "level": users[u][4],
                       "plays": n, "sessions": sessions[u]}
                      for u, n in sorted(by_user.items(), key=lambda i: (-i[1], i[0]))][:top],
        "plays_by_level": [{"level": lv, "plays": sum(c[lv] for c in levels.values()),
                            "users": sum(1 for c in levels.values() if c[lv])} for lv in ("free", "paid")],
        "level_changes": [{"user_id": u, "first_name": users[u][1], "last_name": users[u][2], "level_now": users[u][4],
                           "free_plays": c["free"], "paid_plays": c["paid"]}
                          for u, c in sorted(levels.items()) if len(+c) > 1],
        "plays_by_location": [{"location": loc, "plays": n}
                              for loc, n in sorted(locations.items(), key=lambda i: (-i[1], i[0]))][:top],
        "matched_share": [{"plays": len(plays), "matched": matched, "matched_percent": round(100 * matched / len(plays), 1)}],
    }


def loaded(write_config, data_dir):
    config = write_config(log_data=data_dir / "log_data", song_data=data_dir / "song_data",
                          log_jsonpath=data_dir / "log_json_path.json")
    assert create_tables.main(["--config", str(config), "-q"]) == 0
    assert etl.main(["--config", str(config), "-q"]) == 0
    return config


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def check_answers(config, data_dir, capsys, top):
    assert analytics.main(["--config", str(config), "--format", "json", "--top", str(top), "-q"]) == 0
    actual = json.loads(capsys.readouterr().out)
    expected = expected_answers(data_dir, top)
    for name in expected:
        assert actual[name] == expected[name], name


def test_answers_on_the_sample(conn, write_config, capsys, tmp_path):
    config = loaded(write_config, SAMPLE)
    check_answers(config, SAMPLE, capsys, top=5)
    assert analytics.main(["--config", str(config), "--charts", str(tmp_path / "charts")]) == 0
    out, err = capsys.readouterr()
    assert [line for line in err.splitlines() if not line.startswith(("target: ", "chart: "))] == []
    assert out.startswith("Plays per hour of day (UTC)\nhour  plays\n----  -----\n")
    assert "The song and artist rankings count only these 827 matched plays (86.4%)" in out
    charts = sorted(p.name for p in (tmp_path / "charts").iterdir())
    assert charts == ["free_vs_paid.png", "plays_by_hour.png", "plays_by_weekday.png", "top_artists.png"]
    for name in charts:
        width, height = png_size(tmp_path / "charts" / name)
        assert 600 <= width <= 2000 and 300 <= height <= 1500, name
        assert (tmp_path / "charts" / name).stat().st_size > 10_000


def test_csv_has_every_answer(conn, write_config, capsys):
    config = loaded(write_config, SAMPLE)
    assert analytics.main(["--config", str(config), "--format", "csv", "-q"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "question,hour,plays"
    assert lines[-2:] == ["question,plays,matched,matched_percent", "matched_share,957,827,86.4"]


@pytest.mark.skipif(not UDACITY.exists(), reason="../shared/data/udacity is not here")
def test_answers_on_the_real_data(conn, write_config, capsys):
    check_answers(loaded(write_config, UDACITY), UDACITY, capsys, top=10)


def test_the_artists_chart_says_how_few_plays_it_rests_on():
    from sparkify.analytics import Answer, artists_chart_title
    import sql_queries as q

    share = next(question for question in q.ANALYTICS_QUERIES if question.name == "matched_share")
    assert artists_chart_title(Answer(share, [(6820, 41, 0.6)])) == (
        "Most played artists: only the 41 of 6,820 plays (0.6%) matched to a song")
    assert artists_chart_title(Answer(share, [(0, 0, None)])) == "Most played artists (no plays yet)"


def question(name):
    import sql_queries as q

    return next(question for question in q.ANALYTICS_QUERIES if question.name == name)


def test_a_weekday_without_plays_is_drawn_as_zero():
    from sparkify.analytics import Answer, weekday_plays

    answer = Answer(question("plays_by_weekday"), [(1, "Monday", 5), (5, "Friday", 2)])
    assert weekday_plays(answer) == [("Sunday", 0), ("Monday", 5), ("Tuesday", 0), ("Wednesday", 0),
                                     ("Thursday", 0), ("Friday", 2), ("Saturday", 0)]


def test_charts_of_an_empty_warehouse_say_there_is_nothing_to_chart(conn, write_config, capsys, tmp_path):
    config = write_config()
    assert create_tables.main(["--config", str(config), "-q"]) == 0
    assert analytics.main(["--config", str(config), "--charts", str(tmp_path / "charts"), "-q"]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: the warehouse has no plays yet: nothing to chart, so nothing was written to {tmp_path / 'charts'}"
        " (run etl.py first)")
    assert not (tmp_path / "charts").exists()


@pytest.mark.parametrize("where", ["under a file", "a folder named like a chart"])
def test_charts_that_cannot_be_written_are_one_line(conn, write_config, capsys, tmp_path, where):
    config = loaded(write_config, SAMPLE)
    (tmp_path / "file").write_text("")
    charts = {"under a file": tmp_path / "file" / "charts", "a folder named like a chart": tmp_path / "charts"}[where]
    if where == "a folder named like a chart":
        (charts / "plays_by_hour.png").mkdir(parents=True)
    capsys.readouterr()
    assert analytics.main(["--config", str(config), "--charts", str(charts), "-q"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len([line for line in err if not line.startswith("target: ")]) == 1
    assert err[-1].startswith(f"error: cannot write the charts to {charts}: ")


def test_top_beyond_a_bigint_is_refused_naming_it(capsys):
    with pytest.raises(SystemExit) as exit_:
        analytics.main(["--top", str(2**63), "--dry-run"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(
        "error: --top must be from 1 to 9,223,372,036,854,775,807 (the largest LIMIT the server takes)")
