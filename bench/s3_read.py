"""Reading many small S3 objects: sequential against the loader's bounded read-ahead pool.

Run:  python bench/s3_read.py [--objects 2000] [--pools 1,4,16,32] [--latency-ms 0,20] [--repeat 1]

Starts moto's S3 server on loopback in a process of its own (moto[server], in requirements-dev.txt),
uploads --objects song files of the project's generator (the real song_data is 14,896 files of
~250 bytes), then lists them with the project's S3 source and reads every object through the
loader's reading path with read-ahead pools of each size in --pools (1 = sequential: one request
after another). Prints objects/s and the speed-up over sequential, best of --repeat, and last one
line: ``s3_read_speedup=<default pool over sequential, at the last latency> objects=<n>``.

Loopback has no network latency, so with --latency-ms 0 this measures the pool against request
overhead alone (and moto's server, pure Python, is then the bottleneck). Each other value of
--latency-ms adds that many milliseconds of wait to every GET on the client side (a botocore
``before-send`` hook that sleeps, as a network round trip would, without holding the GIL): the
round trip to real S3 from outside its region is typically 10-50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sparkify import generate, s3, sources  # noqa: E402
from sparkify.loader import load  # noqa: E402
from sparkify.source import S3Access, Source  # noqa: E402
from sparkify.tables import format_table  # noqa: E402

BUCKET = "sparkify-bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto(port: int) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit("moto's server did not start: pip install -r requirements-dev.txt") from None
            time.sleep(0.1)
    server.kill()
    raise SystemExit(f"moto's server did not listen on 127.0.0.1:{port} within 30 s")


def upload(count: int) -> int:
    """``count`` generated song files under song_data/, uploaded concurrently; returns bytes."""
    import boto3

    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    rng = random.Random(7)
    songs = generate.make_songs(rng, count)
    bodies = {generate.song_path("song_data", generate._code(rng, "TR")): json.dumps(song.as_json()).encode()
              for song in songs}
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda item: client.put_object(Bucket=BUCKET, Key=item[0], Body=item[1]), bodies.items()))
    return sum(map(len, bodies.values()))


def add_latency(milliseconds: float) -> None:
    """Every GET of the project's S3 client waits ``milliseconds`` before it is sent."""
    client = s3.client_for(S3Access("us-east-1"))
    if getattr(client, "_bench_latency", None) is not None:
        client.meta.events.unregister("before-send.s3.GetObject", client._bench_latency)
    client._bench_latency = None
    if milliseconds:
        def wait(**_):
            time.sleep(milliseconds / 1000)

        client._bench_latency = wait
        client.meta.events.register("before-send.s3.GetObject", wait)


def read_all(objects, pool_size: int) -> float:
    """Seconds to read every object through load.opened with a pool of ``pool_size``."""
    load.PREFETCH_OBJECTS = pool_size
    started = time.perf_counter()
    total = 0
    for _, stream in load.opened(objects):
        total += len(stream.read())
    seconds = time.perf_counter() - started
    assert total == sum(obj.size for obj in objects)
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--pools", default=f"1,4,{load.PREFETCH_OBJECTS},32")
    parser.add_argument("--latency-ms", default="0,20")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    pools = [int(size) for size in args.pools.split(",")]
    latencies = [float(ms) for ms in args.latency_ms.split(",")]
    default_pool = load.PREFETCH_OBJECTS

    port = free_port()
    os.environ.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="bench",
                      AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    server = start_moto(port)
    try:
        size = upload(args.objects)
        listed = time.perf_counter()
        objects = sources.list_objects(Source(f"s3://{BUCKET}/song_data", "benchmark", S3Access("us-east-1")))
        listed = time.perf_counter() - listed
        assert len(objects) == args.objects, len(objects)
        read_all(objects[:50], 4)  # warm-up: connections, imports
        best = {}
        for latency in latencies:
            add_latency(latency)
            for pool in pools:
                best[latency, pool] = min(read_all(objects, pool) for _ in range(args.repeat))
    finally:
        server.terminate()
        server.wait(timeout=10)
        load.PREFETCH_OBJECTS = default_pool
        s3.client_for.cache_clear()

    print(f"{args.objects:,} objects, {size / args.objects:.0f} bytes each on average, on moto's S3 server at"
          f" 127.0.0.1; listing took {listed:.2f}s; best of {args.repeat}")
    rows = []
    for (latency, pool), seconds in best.items():
        sequential = best.get((latency, 1))
        label = "sequential" if pool == 1 else "the loader's default" if pool == default_pool else ""
        rows.append((f"{latency:g} ms", f"{pool}" + (f" ({label})" if label else ""), args.objects,
                     round(seconds, 2), round(args.objects / seconds),
                     f"{sequential / seconds:.2f}x" if sequential else "-"))
    print(format_table(("added latency", "read-ahead pool", "objects", "seconds", "objects/s", "speed-up"), rows))
    last = latencies[-1]
    if (last, 1) in best and (last, default_pool) in best:
        print(f"s3_read_speedup={best[last, 1] / best[last, default_pool]:.2f} objects={args.objects}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
