"""What the benchmarks share: the generated data set, the server, a dwh.cfg for it, a script run as
a child process with its peak memory taken, and the machine's CPU time (bench/run.py,
bench/incremental.py, bench/timeline.py, bench/kill_trials.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import psycopg2  # noqa: E402
from psycopg2 import sql  # noqa: E402
from psycopg2.extensions import parse_dsn  # noqa: E402

from sparkify.generate import generate  # noqa: E402

SCHEMA = f"sparkify_bench_{os.getpid()}"  # this run's own: two runs on one server never share tables

NOT_BUSY = {"idle", "iowait", "guest", "guest_nice"}  # guest time is counted in user time already


def machine_cpu_seconds() -> float:
    """CPU time the machine has spent busy since it started, on all its cores."""
    return sum(seconds for name, seconds in psutil.cpu_times()._asdict().items() if name not in NOT_BUSY)


def dataset(data_dir: Path, events: int, songs: int, seed: int) -> Path:
    """The generated data set, made once and reused (a marker file says it is complete)."""
    path = data_dir / f"e{events}-s{songs}-seed{seed}"
    if not (path / ".complete").exists():
        print(f"generating {events:,} events and {songs:,} songs in {path} ...", file=sys.stderr)
        generate(str(path), events=events, songs=songs, days=30, seed=seed)
        (path / ".complete").write_text("")
    return path


def server_params(args) -> dict:
    dsn = args.dsn or os.environ.get("SPARKIFY_BENCH_DSN")
    if dsn:
        return parse_dsn(dsn)
    from sparkify.db import embedded_connect_params

    args.data_dir.mkdir(parents=True, exist_ok=True)
    return embedded_connect_params(args.data_dir.resolve() / "pgdata")


def connect(params):
    return psycopg2.connect(**params, options=f"-c search_path={SCHEMA}")


def reset_schema(params) -> None:
    with psycopg2.connect(**params) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}").format(sql.Identifier(SCHEMA)))
    conn.close()


def write_config(directory: str, params: dict, data: Path, name: str = "bench.cfg", schema: str = SCHEMA) -> str:
    """A dwh.cfg for the server in ``params``, the data set in ``data`` and ``schema``."""
    path = os.path.join(directory, name)
    with open(path, "w") as handle:
        handle.write(
            "[CLUSTER]\n"
            f"HOST={params.get('host', 'localhost')}\nDB_PORT={params.get('port', 5432)}\n"
            f"DB_NAME={params.get('dbname', 'postgres')}\nDB_USER={params.get('user', 'postgres')}\n"
            f"DB_PASSWORD={params.get('password', '')}\nSCHEMA={schema}\n"
            f"[S3]\nLOG_DATA={data / 'log_data'}\nSONG_DATA={data / 'song_data'}\n"
            f"LOG_JSONPATH={data / 'log_json_path.json'}\n"
        )
    return path


# Runs a script and, at its exit, writes the peak resident memory of that program (VmHWM of the
# process after exec, so nothing of the benchmark's own memory is counted), and that of its largest
# worker process (the loader's, for large input), to $SPARKIFY_RSS_FILE.
_MEASURED = """
import atexit, os, resource, runpy, sys
def _peak():
    with open("/proc/self/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    workers_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest worker process
    with open(os.environ["SPARKIFY_RSS_FILE"], "w") as out:
        out.write(f"{kb * 1024} {workers_kb * 1024}")
atexit.register(_peak)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_child(argv: list[str]) -> tuple[float, tuple[int, int], str]:
    """Run a script; (seconds, (peak RSS in bytes of that program alone, of its largest worker), stdout)."""
    with tempfile.TemporaryDirectory() as tmp:
        rss_file = os.path.join(tmp, "rss")
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", _MEASURED, *argv], cwd=ROOT, capture_output=True, text=True,
                                env={**os.environ, "SPARKIFY_RSS_FILE": rss_file})
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(f"{argv[0]} failed ({result.returncode}): {result.stderr.strip()}")
        with open(rss_file) as handle:
            peak = tuple(int(n) for n in handle.read().split())
    return seconds, peak, result.stdout


def drop_schema(params) -> None:
    with psycopg2.connect(**params) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
    conn.close()
