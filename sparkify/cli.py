"""What the three scripts share: flags, logging, config loading and turning errors into one line."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable

from . import interrupts, outcome
from .config import Config, load_config
from .errors import NotConfirmed, SparkifyError, Terminated

log = logging.getLogger("sparkify")

# The signals that stop a run: what each raises where the run stands, and what the run then says
# and exits with (SIGTERM first: it wins over a Ctrl-C taken in the same run)
_STOPS = ((signal.SIGTERM, Terminated, "terminated", 128 + signal.SIGTERM),
          (signal.SIGINT, KeyboardInterrupt, "interrupted", 130))


def parser(doc: str, *, config_help: str | None = None, dry_run_help: str | None = None) -> argparse.ArgumentParser:
    """The flags every script has; ``doc`` is the script's module docstring."""
    summary, _, details = (doc or "").strip().partition("\n")
    result = argparse.ArgumentParser(description=summary, epilog=details.strip() or None,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    result.add_argument("--config", metavar="PATH", help=config_help or
                        "config file (default: dwh.cfg, and without that file the embedded PostgreSQL and the sample"
                        " data; a PATH that does not exist is an error)")
    result.add_argument("--dry-run", action="store_true",
                        help=dry_run_help or "print every statement that would be sent, and connect to nothing")
    result.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    return result


def run(args: argparse.Namespace, work: Callable[[argparse.Namespace, Config | None], int], *,
        load: bool = True) -> int:
    """Configure logging, load the config (unless ``load`` is false: provision.py writes it), call
    ``work``; known errors become one line on stderr."""
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s",
                        stream=sys.stderr, force=True)
    if not args.quiet and sys.stdout.isatty() and sys.stderr.isatty():
        # one terminal shows both: each step once, in the summary at the end, not also as it ends
        for handler in logging.getLogger().handlers:
            handler.addFilter(lambda record: not getattr(record, "in_the_summary", False))
    taken: list[int] = []  # the signals this run received

    def stop(signum, _frame):
        taken.append(signum)
        raise next(raised for number, raised, _, _ in _STOPS if number == signum)

    previous = signal.signal(signal.SIGTERM, stop)
    # Ctrl-C as Python takes it by default, or as sparkify.interrupts took it while the script
    # imported (not where it was ignored: a background job)
    previous_int = signal.getsignal(signal.SIGINT)
    takes_ctrl_c = previous_int in (signal.default_int_handler, interrupts.during_imports)
    if takes_ctrl_c:
        signal.signal(signal.SIGINT, stop)
    outcome.committed = False
    try:
        config = load_config(args.config, required=args.config is not None) if load else None
        return work(args, config)
    except BaseException as exc:  # noqa: BLE001 -- each kind is named below; anything else is re-raised
        # A signal raised in the middle of library code may surface as another error on its way out
        # (Python's threading.Condition.wait, interrupted between releasing its lock and taking it
        # again, raises RuntimeError): once one was taken, the run stopped because of it.
        for signum, raised, word, code in _STOPS:
            if isinstance(exc, raised) or signum in taken:
                if outcome.committed:  # after the commit: the work is done, only what followed was cut short
                    print(f"{word} after the commit: the run's work is committed", file=sys.stderr)
                    return 0
                print(f"{word}: nothing was committed, the warehouse is as it was", file=sys.stderr)
                return code
        if isinstance(exc, SparkifyError):
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        raise
    finally:
        script = previous_int is interrupts.during_imports
        # a script ends next, and the embedded server, if it started one, is stopped at exit: a
        # signal then would only cut that stop short (a traceback, a server left running), so the
        # script ignores them from here on
        signal.signal(signal.SIGTERM, signal.SIG_IGN if script else previous)
        if takes_ctrl_c:
            signal.signal(signal.SIGINT, signal.SIG_IGN if script else previous_int)


def say_target(args: argparse.Namespace, config: Config, what: str) -> None:
    """The one line that says which warehouse the script works on, the same with --quiet or
    without: --quiet leaves it out only for the embedded default (never silent about a server)."""
    if not args.quiet or not config.embedded:
        print(f"target: {what}", file=sys.stderr, flush=True)


def show_progress(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


def print_plan(lines: list[str]) -> None:
    for line in lines:
        print(line)


def confirm(question: str, refusal: str) -> None:
    """Ask a yes/no question on a terminal; NotConfirmed (with ``refusal``) otherwise."""
    if not sys.stdin.isatty():
        raise NotConfirmed(refusal)
    if input(question + " [y/N] ").strip().lower() not in ("y", "yes"):
        raise NotConfirmed("nothing done")
