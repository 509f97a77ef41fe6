"""Long lines: events all on one line against the same events one per line, by size.

Run:  python bench/long_lines.py [--sizes 8,16,32,64] [--data-dir bench/data]

For each size (MB) it writes the generator's events twice -- one per line, and all on one line --
and reads each file in a child process of its own, as the loader does (every record parsed, mapped
and rendered for COPY; no server needed) and as ``etl.py --validate`` does, printing seconds and
the child's peak RSS. Time should grow linearly with the size and memory stay flat: a line is
never held whole once it passes the 4 MB object limit. The last line is
``one_line_over_per_line=<ratio of seconds at the largest size> one_line_peak_rss_mb=<n>``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def child(mode: str, path: str) -> None:
    """Read one file as the loader (``load``) or --validate (``validate``) does; print the figures."""
    import sql_queries as q
    from sparkify import loader
    from sparkify.loader.load import read_paths_file
    from sparkify.loader.mapping import MappingSpec
    from sparkify.loader.rows import copy_chunks
    from sparkify.source import Source, TableInput

    jsonpaths = str(ROOT / "sample_data" / "log_json_path.json")
    spec = TableInput(q.STAGING_EVENTS, Source(path, "bench"), jsonpaths, Source(jsonpaths, "bench"))
    started = time.perf_counter()
    if mode == "load":
        mapping = MappingSpec(q.STAGING_EVENTS, jsonpaths, read_paths_file(spec)).build()
        with open(path, "rb") as stream:
            rows = sum(count for count, _ in copy_chunks(stream, path, mapping))
    else:
        result = loader.validate_table(spec)
        assert result.problems == 0, result.first
        rows = result.records
    seconds = time.perf_counter() - started
    with open("/proc/self/status") as status:  # VmHWM: this program's own peak (ru_maxrss survives exec)
        peak_mb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_mb": peak_mb}))


def files(data_dir: Path, megabytes: int) -> tuple[Path, Path]:
    """The generator's events, about ``megabytes`` MB, one per line and all on one line."""
    from sparkify.generate import generate

    source = data_dir / "long-lines-source"
    if not (source / ".complete").exists():
        generate(str(source), events=300_000, songs=100, days=1, seed=5)
        (source / ".complete").write_text("")
    lines = next((source / "log_data").rglob("*.json")).read_bytes().splitlines()
    per_line = data_dir / f"events-{megabytes}mb-per-line.json"
    one_line = data_dir / f"events-{megabytes}mb-one-line.json"
    if not one_line.exists():
        chosen, size = [], 0
        while size < megabytes << 20:
            line = lines[len(chosen) % len(lines)]
            chosen.append(line)
            size += len(line) + 1
        per_line.write_bytes(b"\n".join(chosen) + b"\n")
        one_line.write_bytes(b"".join(chosen))
    return per_line, one_line


def measure(mode: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(path)], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--sizes", default="8,16,32,64", help="file sizes in MB (default 8,16,32,64)")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "data")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    from sparkify.tables import format_table

    args.data_dir.mkdir(parents=True, exist_ok=True)
    rows, last = [], None
    for megabytes in [int(n) for n in args.sizes.split(",") if n]:
        per_line, one_line = files(args.data_dir, megabytes)
        for mode in ("load", "validate"):
            spread, long = measure(mode, per_line), measure(mode, one_line)
            assert spread["rows"] == long["rows"], (spread, long)
            rows.append((f"{megabytes} MB", mode, long["rows"], round(spread["seconds"], 2), round(long["seconds"], 2),
                         round(spread["peak_mb"]), round(long["peak_mb"])))
            if mode == "load":
                last = (long["seconds"] / spread["seconds"], long["peak_mb"])
    print(format_table(("events", "read as", "rows", "s one per line", "s one line", "peak MB one per line",
                        "peak MB one line"), rows))
    print(f"one_line_over_per_line={last[0]:.2f} one_line_peak_rss_mb={round(last[1])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
