"""Where one etl.py run's time goes: the run, with every step (statements, loads, checks, the
listings) printed as it ends, in seconds from the moment the process was started.

Run:  python bench/timeline.py [etl.py's flags, e.g. --config dwh.cfg --incremental]

``python bench/incremental.py --timeline`` runs it on the daily load it measures. The seconds count
from ``TIMELINE_STARTED`` (a ``time.time()`` its caller set just before starting this process) or
else from this script's first line, which misses Python's own start. Each line: the seconds, the
thread (``sparkify-list_N``: a listing) and what ended. Only the project's own log
lines are shown, at every level; etl.py's summary and other output are left out (``-q`` is added).
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class Elapsed(logging.Formatter):
    def __init__(self, started_at: float):
        super().__init__()
        self.started_at = started_at

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.created - self.started_at:7.2f}  {record.threadName:<16} {record.getMessage()}"


def main(argv: list[str]) -> int:
    started_at = float(os.environ.get("TIMELINE_STARTED") or time.time() - (time.perf_counter() - STARTED))
    sys.path.insert(0, str(ROOT))
    import etl

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(Elapsed(started_at))
    project = logging.getLogger("sparkify")  # every module's logger is below it; etl.py sets up only the root's
    project.addHandler(handler)
    project.setLevel(logging.DEBUG)
    project.propagate = False
    code = etl.main([*argv, "-q"])
    print(f"{time.time() - started_at:7.2f}  {'MainThread':<16} etl.py ended (exit {code})")
    return code


if __name__ == "__main__":  # not in the loader's worker processes, which import this file as they start
    sys.exit(main(sys.argv[1:]))
