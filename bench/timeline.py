"""Where one etl.py run's time goes: the run, with every step (statements, loads, checks, the
listings) printed as it ends, in seconds from the moment the process was started.

Run:  python bench/timeline.py [etl.py's flags, e.g. --config dwh.cfg --incremental]

``python bench/incremental.py --timeline`` runs it on the daily load it measures. The seconds count
from ``TIMELINE_STARTED`` (a ``time.time()`` its caller set just before starting this process) or
else from this script's first line, which misses Python's own start. Each line: the seconds, the
CPU-seconds the whole machine has spent since etl.py's run began (its threads, the loader's workers
and the server's processes: what a step cost is the difference from the line before, where nothing
else ran meanwhile), the thread (``sparkify-list_N``: a listing) and what ended. Only the project's
own log lines are shown, at every level; etl.py's summary and other output are left out (``-q`` is added).
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from collections.abc import Callable  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class Elapsed(logging.Formatter):
    def __init__(self, started_at: float, cpu_seconds: Callable[[], float]):
        super().__init__()
        self.started_at = started_at
        self.cpu_seconds = cpu_seconds  # the machine's CPU-seconds since the run began

    def format(self, record: logging.LogRecord) -> str:
        return line(record.created - self.started_at, self.cpu_seconds(), record.threadName, record.getMessage())


def line(seconds: float, cpu: float, thread: str, what: str) -> str:
    return f"{seconds:7.2f} {cpu:7.2f}  {thread:<16} {what}"


def main(argv: list[str]) -> int:
    started_at = float(os.environ.get("TIMELINE_STARTED") or time.time() - (time.perf_counter() - STARTED))
    sys.path.insert(0, str(ROOT))
    import etl
    import harness

    cpu_at_start = harness.machine_cpu_seconds()  # the run begins: etl.py's main, below

    def cpu_seconds() -> float:
        return harness.machine_cpu_seconds() - cpu_at_start

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(Elapsed(started_at, cpu_seconds))
    project = logging.getLogger("sparkify")  # every module's logger is below it; etl.py sets up only the root's
    project.addHandler(handler)
    project.setLevel(logging.DEBUG)
    project.propagate = False
    code = etl.main([*argv, "-q"])
    print(line(time.time() - started_at, cpu_seconds(), "MainThread", f"etl.py ended (exit {code})"))
    return code


if __name__ == "__main__":  # not in the loader's worker processes, which import this file as they start
    sys.exit(main(sys.argv[1:]))
