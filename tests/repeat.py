"""Does the suite ever fail at random? Run it again and again, each time with a fresh hypothesis seed.

Run:  python tests/repeat.py [--runs 20] [--workers 2] [-- PYTEST ARGS ...]

Each run is the whole suite (``python -m pytest``) on the embedded PostgreSQL, or on the server
``SPARKIFY_TEST_DSN`` names, with ``--hypothesis-seed`` drawn at random and printed, so a failure
can be replayed with that seed. ``--workers N`` (default 2) spreads a run over N processes with
pytest-xdist; every test has a schema of its own, so they never share tables. Stops at the first
run that fails. Prints a line per run, then ``runs=<n> passed=<n> seconds=<s>``; exits 0 only if
every run passed.
"""

from __future__ import annotations

import argparse
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pytest_command(seed: int, workers: int, basetemp: str, extra: list[str]) -> list[str]:
    spread = ["-n", str(workers)] if workers > 1 else []
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *spread, f"--hypothesis-seed={seed}",
            f"--basetemp={basetemp}", *extra]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="processes per run (1: no pytest-xdist)")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to every pytest run")
    args = parser.parse_args(argv)
    started, passed, number = time.monotonic(), 0, 0
    with tempfile.TemporaryDirectory(prefix="sparkify-repeat-") as basetemp:
        for number in range(1, args.runs + 1):
            seed = secrets.randbelow(2**32)
            run_started = time.monotonic()
            result = subprocess.run(pytest_command(seed, args.workers, basetemp, args.pytest_args), cwd=ROOT,
                                    capture_output=True, text=True)
            summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
            print(f"run {number}: seed {seed}, {time.monotonic() - run_started:.0f} s: {summary}", flush=True)
            if result.returncode != 0:
                print(result.stdout[-20000:] + result.stderr[-5000:], file=sys.stderr)
                break
            passed += 1
    print(f"runs={number} passed={passed} seconds={time.monotonic() - started:.0f}")
    return 0 if passed == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
