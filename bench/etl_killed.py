"""etl.py that SIGKILLs itself just before step N of its plan (N = the number of steps: everything
done, just before COMMIT), for the fault trials of bench/kill_trials.py.

Run:  python bench/etl_killed.py N [etl.py arguments]
"""

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import etl  # noqa: E402
from sparkify.run import Run  # noqa: E402


def main() -> int:
    at = int(sys.argv[1])
    reached = []  # a mark for each step begun, then one for the commit
    run_step, commit = Run.run_step, Run.commit

    def kill_at_mark() -> None:
        if len(reached) == at:
            os.kill(os.getpid(), signal.SIGKILL)
        reached.append(True)

    def killed_step(self, cur, step):
        kill_at_mark()
        return run_step(self, cur, step)

    def killed_commit(self):
        kill_at_mark()
        commit(self)

    Run.run_step, Run.commit = killed_step, killed_commit
    return etl.main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
