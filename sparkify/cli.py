"""What the three scripts share: flags, logging, config loading and turning errors into one line."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Callable

from .config import Config, load_config
from .errors import NotConfirmed, SparkifyError, Terminated

log = logging.getLogger("sparkify")


def _terminate(signum, frame):
    raise Terminated


def parser(doc: str, *, config_help: str | None = None, dry_run_help: str | None = None) -> argparse.ArgumentParser:
    """The flags every script has; ``doc`` is the script's module docstring."""
    summary, _, details = (doc or "").strip().partition("\n")
    result = argparse.ArgumentParser(description=summary, epilog=details.strip() or None,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    result.add_argument("--config", default="dwh.cfg", metavar="PATH", help=config_help or
                        "config file (default: dwh.cfg; without it, the embedded PostgreSQL and the sample data)")
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
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        config = load_config(args.config) if load else None
        if config is not None and not config.embedded and args.quiet and not getattr(args, "dry_run", False):
            # quiet, but never silent about which warehouse it is about to change
            from .db import describe

            print(f"target: {describe(config)}", file=sys.stderr)
        return work(args, config)
    except SparkifyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: nothing was committed, the warehouse is as it was", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated: nothing was committed, the warehouse is as it was", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, previous)


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
