"""Generate Sparkify input in the Udacity layout, deterministically from a seed.

Run:  python -m sparkify.generate OUT_DIR [--events N] [--songs M] [--days D] [--seed S]

Writes ``OUT_DIR/log_data/2018/11/2018-11-DD-events.json`` (one event per line),
``OUT_DIR/song_data/A/B/C/TR....json`` (one song per file) and ``OUT_DIR/log_json_path.json``.
The same arguments always give the same bytes. The data exercises every rule of the transform:
plays that match a song and plays that match none, two songs with the same title and artist (plays
pick the closer duration), an artist spelled two ways, users who change level, logged-out events
and a pretty-printed song file. Memory stays flat for millions of events (one day at a time).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import string
import sys
from dataclasses import dataclass

import sql_queries as q

FIRST_NAMES = ["Lily", "Kaylee", "Walter", "Jacob", "Chloe", "Tegan", "Aleena", "Ryan", "Jayden", "Sara", "Zoë",
               "José", "Matthew", "Mohammad", "Kinsley", "Emily", "Rylan", "Ava", "Noah", "Élodie"]
LAST_NAMES = ["Koch", "Summers", "Frye", "Smith", "Cuevas", "Levine", "Kirby", "Lynch", "Fox", "O'Brien",
              "Johnson", "Rodriguez", "Garrison", "Young", "Gonzalez", "Müller", "Williams", "Bell", "Ng", "Ríos"]
LOCATIONS = ["San Francisco-Oakland-Hayward, CA", "Phoenix-Mesa-Scottsdale, AZ", "Lansing-East Lansing, MI",
             "Chicago-Naperville-Elgin, IL-IN-WI", "New York-Newark-Jersey City, NY-NJ-PA",
             "Tampa-St. Petersburg-Clearwater, FL", "Atlanta-Sandy Springs-Roswell, GA", "Portland-South Portland, ME",
             "Red Bluff, CA", "Houston-The Woodlands-Sugar Land, TX"]
USER_AGENTS = [
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko)'
    ' Chrome/36.0.1985.143 Safari/537.36"',
    '"Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/35.0.1916.153 Safari/537.36"',
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:31.0) Gecko/20100101 Firefox/31.0",
    '"Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 (KHTML, like Gecko)'
    ' Version/7.0 Mobile/11D257 Safari/9537.53"',
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:31.0) Gecko/20100101 Firefox/31.0",
]
WORDS = ["Love", "Night", "Fire", "Heart", "Dream", "Rain", "Summer", "Blue", "Gold", "River", "Shadow", "Light",
         "Road", "Home", "Ghost", "Wild", "Silver", "Dance", "Storm", "Echo", "Café", "Niño", "Señor", "Déjà Vu"]
ARTIST_WORDS = ["The", "Black", "Velvet", "Kings", "Moon", "Electric", "Sons", "Lions", "Cherry", "Atlas", "Björk",
                "Sigur", "Motörhead", "Beyoncé", "Orchestra", "Band", "Trio", "DJ", "MC", "Collective"]
PAGES = ["Home", "About", "Settings", "Help", "Logout", "Add to Playlist", "Thumbs Up", "Thumbs Down", "Add Friend",
         "Downgrade", "Upgrade", "Error", "Save Settings"]
MONTH_START = dt.datetime(2018, 11, 1, tzinfo=dt.UTC)
DAY_MS = 86_400_000


@dataclass
class Song:
    song_id: str
    title: str
    artist_id: str
    artist_name: str
    artist_location: str
    artist_latitude: float | None
    artist_longitude: float | None
    duration: float
    year: int

    def as_json(self) -> dict:
        return {
            "num_songs": 1, "artist_id": self.artist_id, "artist_latitude": self.artist_latitude,
            "artist_longitude": self.artist_longitude, "artist_location": self.artist_location,
            "artist_name": self.artist_name, "song_id": self.song_id, "title": self.title,
            "duration": self.duration, "year": self.year,
        }


@dataclass
class User:
    user_id: int
    first_name: str
    last_name: str
    gender: str
    level: str
    location: str
    user_agent: str
    registration: float
    changes_level_on_day: int | None


def _code(rng: random.Random, prefix: str, length: int = 16) -> str:
    return prefix + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(length))


def make_songs(rng: random.Random, count: int) -> list[Song]:
    """``count`` songs; the first three carry the special cases the transform must handle."""
    count = max(count, 4)
    artists = []
    for _ in range(max(2, count * 4 // 5)):
        name = " ".join(rng.sample(ARTIST_WORDS, rng.randint(1, 3)))
        located = rng.random() < 0.6
        with_coordinates = located and rng.random() < 0.6
        artists.append((_code(rng, "AR"), name, rng.choice(LOCATIONS) if located else "",
                        round(rng.uniform(-40, 60), 5) if with_coordinates else None,
                        round(rng.uniform(-120, 30), 5) if with_coordinates else None))
    songs = []
    for index in range(count):
        artist = artists[index % len(artists)] if index >= 3 else artists[0]
        title = " ".join(rng.sample(WORDS, rng.randint(1, 4)))
        songs.append(Song(_code(rng, "SO"), title, artist[0], artist[1], artist[2], artist[3], artist[4],
                          round(rng.uniform(90, 480), 5), rng.choice([0, 0, 0] + list(range(1960, 2011)))))
    # songs 0 and 1: same title and artist, different durations; song 2: same artist, another spelling
    songs[1].title = songs[0].title
    songs[1].duration = round(songs[0].duration + 37.5, 5)
    songs[2].artist_name = songs[0].artist_name.upper() + " & Friends"
    songs[2].artist_location = ""
    return songs


def make_users(rng: random.Random, count: int, days: int) -> list[User]:
    users = []
    for index in range(count):
        level = "paid" if rng.random() < 0.3 else "free"
        users.append(User(
            user_id=index + 2, first_name=rng.choice(FIRST_NAMES), last_name=rng.choice(LAST_NAMES),
            gender=rng.choice("MF"), level=level, location=rng.choice(LOCATIONS), user_agent=rng.choice(USER_AGENTS),
            registration=float(int(MONTH_START.timestamp() * 1000) - rng.randint(1, 200) * DAY_MS
                               + rng.randint(0, DAY_MS)),
            # every fifth user switches level part-way through the period
            changes_level_on_day=rng.randint(0, days - 1) if index % 5 == 0 else None,
        ))
    return users


def _unknown_song(rng: random.Random) -> tuple[str, str, float]:
    return (" ".join(rng.sample(WORDS, 2)) + " (Live)", " ".join(rng.sample(ARTIST_WORDS, 2)) + " Tribute",
            round(rng.uniform(90, 480), 5))


def day_events(rng: random.Random, day: int, count: int, users: list[User], songs: list[Song]) -> list[dict]:
    """About ``count`` events of one day, in time order, as the app would log them."""
    events = []
    day_start = int(MONTH_START.timestamp() * 1000) + day * DAY_MS
    while len(events) < count:
        user = rng.choice(users)
        level = user.level
        if user.changes_level_on_day is not None and day >= user.changes_level_on_day:
            level = "paid" if user.level == "free" else "free"
        session_id = day * 1000 + rng.randint(0, 999)
        ts = day_start + rng.randint(0, DAY_MS - 3_600_000)
        for item in range(min(rng.randint(1, 12), count - len(events))):
            ts += rng.randint(1_000, 300_000)
            logged_out = item == 0 and rng.random() < 0.04
            page = "NextSong" if rng.random() < 0.8 else rng.choice(PAGES)
            artist = song = length = None
            if logged_out:
                page = rng.choice(["Home", "Login", "About", "Help"])
            elif page == "NextSong":
                song, artist, length = _pick_play(rng, songs)
            events.append({
                "artist": artist, "auth": "Logged Out" if logged_out else "Logged In",
                "firstName": None if logged_out else user.first_name,
                "gender": None if logged_out else user.gender, "itemInSession": item,
                "lastName": None if logged_out else user.last_name, "length": length, "level": level,
                "location": None if logged_out else user.location,
                "method": "PUT" if page in ("NextSong", "Login") else "GET", "page": page,
                "registration": None if logged_out else user.registration, "sessionId": session_id,
                "song": song, "status": 307 if page in ("Logout", "Login") else 200, "ts": ts,
                "userAgent": None if logged_out else user.user_agent,
                "userId": "" if logged_out else str(user.user_id),
            })
    events.sort(key=lambda event: (event["ts"], event["sessionId"], event["itemInSession"]))
    return events


def _pick_play(rng: random.Random, songs: list[Song]) -> tuple[str, str, float]:
    roll = rng.random()
    if roll < 0.12:
        return _unknown_song(rng)
    if roll < 0.20:
        chosen = songs[rng.choice((0, 1, 2))]  # the duplicate pair and the second spelling
    else:
        chosen = rng.choice(songs)
    length = chosen.duration if rng.random() < 0.9 else round(chosen.duration + rng.uniform(-3, 3), 5)
    return chosen.title, chosen.artist_name, length


def song_path(out_dir: str, song_file_id: str) -> str:
    return os.path.join(out_dir, "song_data", song_file_id[2], song_file_id[3], song_file_id[4], song_file_id + ".json")


def generate(out_dir: str, events: int, songs: int, days: int = 30, seed: int = 42) -> dict:
    """Write the data set; returns counts of what was written."""
    if not 1 <= days <= 30:
        raise ValueError("days must be between 1 and 30 (the files are for November 2018)")
    rng = random.Random(seed)
    catalogue = make_songs(rng, songs)
    users = make_users(rng, max(8, events // 60), days)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "log_json_path.json"), "w", encoding="utf-8") as handle:
        json.dump(q.jsonpaths(q.STAGING_EVENTS), handle, indent=4)
        handle.write("\n")
    for index, song in enumerate(catalogue):
        path = song_path(out_dir, _code(rng, "TR"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            # song 0 is pretty-printed, as one real file is; the rest are one line each
            json.dump(song.as_json(), handle, indent=4 if index == 0 else None, ensure_ascii=index % 2 == 0)
    written = 0
    for day in range(days):
        count = events // days + (1 if day < events % days else 0)
        if count == 0:
            continue
        date = MONTH_START + dt.timedelta(days=day)
        path = os.path.join(out_dir, "log_data", "2018", "11", date.strftime("%Y-%m-%d") + "-events.json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        lines = [json.dumps(event, separators=(",", ":")) for event in day_events(rng, day, count, users, catalogue)]
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines))  # no trailing newline, like the real logs
        written += len(lines)
    return {"events": written, "songs": len(catalogue), "users": len(users)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("out_dir", help="folder to write (created if missing)")
    parser.add_argument("--events", type=int, default=1000, help="number of events (default 1000)")
    parser.add_argument("--songs", type=int, default=100, help="number of song files (default 100)")
    parser.add_argument("--days", type=int, default=30, help="daily log files, 1-30 (default 30)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    args = parser.parse_args(argv)
    counts = generate(args.out_dir, args.events, args.songs, args.days, args.seed)
    print(f"wrote {counts['events']} events, {counts['songs']} songs ({counts['users']} users) to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
