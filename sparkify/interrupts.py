"""Ctrl-C or SIGTERM before a script's work has begun: one line and exit 130 or 143, not a
traceback from inside the import system (nor a silent death). Each script imports this first;
``sparkify.cli.run`` takes over from it (and ignores Ctrl-C once its work is over, while the
embedded server is being stopped at exit)."""

import os
import signal
import sys

SCRIPTS = ("create_tables.py", "etl.py", "cleanup.py", "analytics.py", "provision.py")


def during_imports(signum, _frame):
    word = "terminated" if signum == signal.SIGTERM else "interrupted"
    sys.stderr.write(f"{word}: nothing was done\n")
    sys.stderr.flush()
    os._exit(128 + signum)


def _running_a_script() -> bool:
    """Whether one of the scripts is being run (not imported by tests or a benchmark)."""
    main = os.path.realpath(getattr(sys.modules.get("__main__"), "__file__", None) or "")
    here = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    return os.path.dirname(main) == here and os.path.basename(main) in SCRIPTS


# not where Ctrl-C is ignored (a background job), nor where the scripts are imported, not run
if _running_a_script():
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, during_imports)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, during_imports)
