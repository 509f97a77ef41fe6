"""One ``etl.py`` run on a connected target, and the only code that ends its transaction.

``Run.execute`` reads top to bottom: lock the project's tables -> read the ledger (a daily run) ->
plan the batch -> load and transform the events -> load and transform the songs -> check -> commit.
The song files are still being listed while the events load (``sparkify.ledger.Planning``); a
listing that fails stops the run before its next step. Anything that fails, or Ctrl-C, rolls the
whole run back, so the warehouse is as it was.
"""

from __future__ import annotations

import sql_queries as q

from . import ledger, pipeline, transaction
from .db import Target
from .errors import QualityCheckError
from .results import Report


class Run:
    def __init__(self, target: Target, config, *, incremental: bool = False, verify_content: bool = False,
                 show_progress: bool = False):
        self.conn, self.engine, self.config = target.conn, target.engine, config
        self.incremental = incremental
        self.verify_content = verify_content
        self.show_progress = show_progress
        self.report = Report()  # what has run so far: the summary, also after a failure

    def execute(self) -> Report:
        """The run, committed; ``ledger.NothingNew`` (rolled back) when a daily run finds no new file."""
        engine, config, report = self.engine, self.config, self.report
        with ledger.Planning(config, incremental=self.incremental, listed=engine.lists_sources(self.incremental),
                             verify_content=self.verify_content) as planning, \
                transaction.rolled_back_on_failure(self.conn):
            with self.conn.cursor() as cur:
                self.run_steps(cur, pipeline.first_steps(engine), planning.check)
                if self.incremental:
                    for result in self.run_steps(cur, pipeline.ledger_reads(config), planning.check):
                        planning.keep(result.step.table, result.fetched)
                events = planning.batch(q.STAGING_EVENTS)  # the song files may still be being listed
                if events.nothing_new and planning.batch().nothing_new:
                    raise ledger.NothingNew
                self.run_steps(cur, pipeline.event_steps(engine, config, events), planning.check)
                batch = planning.batch()
                report.batch = batch if self.incremental else None
                self.run_steps(cur, pipeline.song_steps(engine, config, batch))
            if report.failed_checks:
                failed = "; ".join(f"{r.step.label} ({r.rows} violations)" for r in report.failed_checks)
                raise QualityCheckError(f"data-quality check failed: {failed}; rolled back, the warehouse is"
                                        f" unchanged")
            self.commit()
        return report

    def run_steps(self, cur, steps: list, watch=None) -> list:
        """Each step in turn, in the run's transaction; ``watch()`` first, which raises if a listing
        the run waits for has failed already."""
        results = []
        for step in steps:
            if watch is not None:
                watch()
            results.append(self.run_step(cur, step))
        return results

    def run_step(self, cur, step):
        result = step.run(cur, self.show_progress)
        self.report.results.append(result)
        return result

    def commit(self) -> None:
        transaction.commit(self.conn)
