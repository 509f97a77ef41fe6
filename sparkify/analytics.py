"""Answers for the analysts: run the questions in sql_queries.ANALYTICS_QUERIES, print or chart them."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from decimal import Decimal

import psycopg2

import sql_queries as q

from . import transaction
from .errors import ChartsError, DatabaseError, first_line, missing_tables
from .tables import format_table


@dataclass(frozen=True)
class Answer:
    question: q.Question
    rows: list[tuple]

    def as_dicts(self) -> list[dict]:
        return [dict(zip(self.question.columns, row)) for row in self.rows]


def ask(conn, top: int = 10) -> list[Answer]:
    """Every question's rows, in a read-only transaction that is ended afterwards."""
    answers = []
    try:
        with transaction.rolled_back(conn), conn.cursor() as cur:
            for question in q.ANALYTICS_QUERIES:
                cur.execute(question.statement, {"top": top})
                answers.append(Answer(question, cur.fetchall()))
    except psycopg2.Error as exc:
        raise DatabaseError(f"{question.name} failed: {first_line(exc)}{missing_tables(exc)}") from None
    return answers


def render_text(answers: list[Answer]) -> str:
    blocks = []
    for answer in answers:
        table = format_table(answer.question.columns, answer.rows) if answer.rows else "(no rows)"
        blocks.append(f"{answer.question.title}\n{table}")
        if answer.question.name == "matched_share" and answer.rows and answer.rows[0][0]:
            plays, matched, percent = answer.rows[0]
            blocks[-1] += (f"\nThe song and artist rankings count only these {matched:,} matched plays ({percent}%);"
                           f" the other {plays - matched:,} name songs that are not in the song catalogue.")
    return "\n\n".join(blocks) + "\n"


def _plain(value):
    return float(value) if isinstance(value, Decimal) else value


def render_json(answers: list[Answer]) -> str:
    document = {a.question.name: [{k: _plain(v) for k, v in row.items()} for row in a.as_dicts()] for a in answers}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render_csv(answers: list[Answer]) -> str:
    """One CSV with a leading ``question`` column, so every answer fits one file."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for answer in answers:
        writer.writerow(["question", *answer.question.columns])
        for row in answer.rows:
            writer.writerow([answer.question.name, *(_plain(v) for v in row)])
    return out.getvalue()


RENDERERS = {"table": render_text, "json": render_json, "csv": render_csv}


def artists_chart_title(matched_share: Answer) -> str:
    """The top-artists chart counts matched plays only: its title says how many of all that is."""
    plays, matched, percent = matched_share.rows[0] if matched_share.rows else (0, 0, None)
    if not plays:
        return "Most played artists (no plays yet)"
    return f"Most played artists: only the {matched:,} of {plays:,} plays ({percent}%) matched to a song"


WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")  # time.weekday 0..6


def weekday_plays(answer: Answer) -> list[tuple[str, int]]:
    """Every weekday, Sunday first, with its plays: 0 for a day without any (the answer has no row)."""
    plays = {weekday: count for weekday, _, count in answer.rows}
    return [(day, plays.get(number, 0)) for number, day in enumerate(WEEKDAYS)]


def write_charts(answers: list[Answer], out_dir: str) -> list[str]:
    """PNG charts for the answers that read better as pictures; returns the paths written.
    ChartsError (one line) for a warehouse with no plays, or a folder or file that cannot be written."""
    plays = next(a.rows[0][0] for a in answers if a.question.name == "matched_share") if answers else 0
    if not plays:
        raise ChartsError(f"the warehouse has no plays yet: nothing to chart, so nothing was written to {out_dir}"
                          " (run etl.py first)")
    try:
        return _write_charts(answers, out_dir)
    except OSError as exc:
        where = exc.filename or out_dir
        raise ChartsError(f"cannot write the charts to {out_dir}: {where}: {exc.strerror or exc}") from None


def _write_charts(answers: list[Answer], out_dir: str) -> list[str]:
    import logging

    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # its INFO notes are not the user's business
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    by_name = {a.question.name: a for a in answers}
    os.makedirs(out_dir, exist_ok=True)
    written = []

    def save(fig, name):
        path = os.path.join(out_dir, f"{name}.png")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    hours = dict(by_name["plays_by_hour"].rows)
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.bar(range(24), [hours.get(h, 0) for h in range(24)], color="#3b7dd8")
    ax.set(title="Plays per hour of day (UTC)", xlabel="hour of day", ylabel="plays", xticks=range(0, 24, 2))
    save(fig, "plays_by_hour")

    days = weekday_plays(by_name["plays_by_weekday"])
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar([day[:3] for day, _ in days], [plays for _, plays in days], color="#2a9d8f")
    ax.set(title="Plays per weekday", xlabel="weekday", ylabel="plays")
    save(fig, "plays_by_weekday")

    artists = list(reversed(by_name["top_artists"].rows))
    fig, ax = plt.subplots(figsize=(9, max(3, 0.4 * len(artists) + 1)))
    ax.barh([name for name, _ in artists], [plays for _, plays in artists], color="#e76f51")
    ax.set(title=artists_chart_title(by_name["matched_share"]), xlabel="plays")
    save(fig, "top_artists")

    levels = by_name["plays_by_level"].rows
    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    for ax, index, label in ((axes[0], 1, "plays"), (axes[1], 2, "users")):
        ax.bar([row[0] for row in levels], [row[index] for row in levels], color=["#8d99ae", "#ef8354"][:len(levels)])
        ax.set(title=f"{label.capitalize()} by level", ylabel=label)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle("Free vs paid (a user who changed level counts in both)")
    save(fig, "free_vs_paid")
    return written
