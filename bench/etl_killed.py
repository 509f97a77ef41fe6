"""etl.py that SIGKILLs itself just before step N of its plan (N = the number of steps: everything
done, just before COMMIT), for the fault trials of bench/kill_trials.py.

Run:  python bench/etl_killed.py N [etl.py arguments]
"""

import functools
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import etl  # noqa: E402
from sparkify import pipeline  # noqa: E402


def main() -> int:
    at = int(sys.argv[1])

    def before_step(index: int) -> None:
        if index == at:
            os.kill(os.getpid(), signal.SIGKILL)

    pipeline.execute = functools.partial(pipeline.execute, before_step=before_step)
    return etl.main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
