"""The questions the product and marketing teams ask (analytics.py): plain SQL that runs unchanged on
Redshift and PostgreSQL; ``%(top)s`` is a query parameter."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg2 import sql

_WEEKDAY_NAME = ("CASE t.weekday WHEN 0 THEN 'Sunday' WHEN 1 THEN 'Monday' WHEN 2 THEN 'Tuesday'"
                 " WHEN 3 THEN 'Wednesday' WHEN 4 THEN 'Thursday' WHEN 5 THEN 'Friday' ELSE 'Saturday' END")


@dataclass(frozen=True)
class Question:
    name: str
    title: str
    columns: tuple[str, ...]
    statement: sql.Composable


ANALYTICS_QUERIES = [
    Question("plays_by_hour", "Plays per hour of day (UTC)", ("hour", "plays"), sql.SQL(
        "SELECT t.hour, COUNT(*) AS plays FROM songplays AS sp JOIN \"time\" AS t ON t.start_time = sp.start_time"
        " GROUP BY t.hour ORDER BY t.hour")),
    Question("plays_by_weekday", "Plays per weekday", ("weekday", "day", "plays"), sql.SQL(
        "SELECT t.weekday, " + _WEEKDAY_NAME + " AS day, COUNT(*) AS plays"
        " FROM songplays AS sp JOIN \"time\" AS t ON t.start_time = sp.start_time"
        " GROUP BY t.weekday ORDER BY t.weekday")),
    # the song id tells apart two songs of the same title and artist (the real data has such songs)
    Question("top_songs", "Most played songs (matched plays only)", ("title", "artist", "song_id", "plays"), sql.SQL(
        "SELECT s.title, a.name AS artist, s.song_id, COUNT(*) AS plays FROM songplays AS sp"
        " JOIN songs AS s ON s.song_id = sp.song_id JOIN artists AS a ON a.artist_id = sp.artist_id"
        " GROUP BY s.song_id, s.title, a.name ORDER BY plays DESC, s.title, a.name, s.song_id LIMIT %(top)s")),
    Question("top_artists", "Most played artists (matched plays only)", ("artist", "plays"), sql.SQL(
        "SELECT a.name AS artist, COUNT(*) AS plays FROM songplays AS sp"
        " JOIN artists AS a ON a.artist_id = sp.artist_id"
        " GROUP BY a.artist_id, a.name ORDER BY plays DESC, a.name, a.artist_id LIMIT %(top)s")),
    Question("top_users", "Most active users", ("user_id", "first_name", "last_name", "level", "plays", "sessions"),
             sql.SQL(
        "SELECT u.user_id, u.first_name, u.last_name, u.level, COUNT(*) AS plays,"
        " COUNT(DISTINCT sp.session_id) AS sessions FROM songplays AS sp JOIN users AS u ON u.user_id = sp.user_id"
        " GROUP BY u.user_id, u.first_name, u.last_name, u.level ORDER BY plays DESC, u.user_id LIMIT %(top)s")),
    Question("plays_by_level", "Free vs paid: plays and users", ("level", "plays", "users"), sql.SQL(
        "SELECT sp.level, COUNT(*) AS plays, COUNT(DISTINCT sp.user_id) AS users FROM songplays AS sp"
        " GROUP BY sp.level ORDER BY sp.level")),
    Question("level_changes", "Users who changed level", ("user_id", "first_name", "last_name", "level_now",
                                                           "free_plays", "paid_plays"), sql.SQL(
        "SELECT u.user_id, u.first_name, u.last_name, u.level AS level_now,"
        " SUM(CASE WHEN sp.level = 'free' THEN 1 ELSE 0 END) AS free_plays,"
        " SUM(CASE WHEN sp.level = 'paid' THEN 1 ELSE 0 END) AS paid_plays"
        " FROM songplays AS sp JOIN users AS u ON u.user_id = sp.user_id"
        " GROUP BY u.user_id, u.first_name, u.last_name, u.level HAVING COUNT(DISTINCT sp.level) > 1"
        " ORDER BY u.user_id")),
    Question("plays_by_location", "Plays per location", ("location", "plays"), sql.SQL(
        "SELECT sp.location, COUNT(*) AS plays FROM songplays AS sp WHERE sp.location IS NOT NULL"
        " GROUP BY sp.location ORDER BY plays DESC, sp.location LIMIT %(top)s")),
    Question("matched_share", "Plays matched to a song in the catalogue", ("plays", "matched", "matched_percent"),
             sql.SQL(
        "SELECT COUNT(*) AS plays, COUNT(sp.song_id) AS matched,"
        " CAST(ROUND(100.0 * COUNT(sp.song_id) / NULLIF(COUNT(*), 0), 1) AS DECIMAL(5, 1)) AS matched_percent"
        " FROM songplays AS sp")),
]
