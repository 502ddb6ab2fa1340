#!/usr/bin/env python
"""``--engine dask``, Zarr -> Zarr: wall time and peak memory per worker, 1 worker vs 2 (one thread each).

    python benchmarks/dask_bench.py                        # 100 million rows x 2, order 1 (x*x*x)
    python benchmarks/dask_bench.py --rows 20000000 --workers 1,2 --dir /big/disk

The input store (float64, chunks of 1M rows, Zarr's default compression) is written once, streamed, into
``--dir`` (a temporary directory by default); each measurement starts a fresh ``distributed.LocalCluster`` of
N worker processes (1 thread each, localhost, no dashboard) and runs the real CLI in a subprocess against it::

    jaccli batch-jacobian 'x*x*x' in.zarr --engine dask --scheduler tcp://... -o out.zarr

Reported: wall time of that command (cluster start excluded; first-task imports included), rows per second, the
workers' CPU seconds (comparable when the machine is shared: wall time then depends on the other jobs), the
1-minute load average at the start,
each worker's peak RSS (``ru_maxrss`` of the worker process, read on the worker after the run) and the client's
(``ru_maxrss`` of the jaccli process, from ``os.wait4``). The claim checked: worker memory is bounded by the block
size (``jaccli.dask.run.BLOCK_VALUES`` values per block), not by the batch. A spot check compares a slice of the
output with ``jaccli.batch_jacobian`` on the same rows, byte for byte.
"""
from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHUNK = 1_000_000


def make_input(path: str, rows: int) -> None:
    import zarr

    z = zarr.create_array(store=path, shape=(rows, 2), chunks=(CHUNK, 2), dtype="f8")
    rng = np.random.default_rng(0)
    for start in range(0, rows, CHUNK):
        stop = min(rows, start + CHUNK)
        z[start:stop] = rng.uniform(0.5, 4.0, size=(stop - start, 2))


def worker_usage() -> tuple[float, float]:
    """(peak RSS in MB, CPU seconds) of this worker process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def measure(workers: int, source: str, target: str, expression: str) -> dict:
    from distributed import Client, LocalCluster

    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0", silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        command = [sys.executable, "-m", "jaccli", "batch-jacobian", expression, source, "--engine", "dask",
                   "--scheduler", cluster.scheduler_address, "-o", target]
        before = sum(cpu for _, cpu in client.run(worker_usage).values())
        load = os.getloadavg()[0]
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)  # the jaccli process's own peak, not the workers'
        wall = time.perf_counter() - start
        if status != 0:
            raise SystemExit(f"jaccli failed with status {status}")
        after = client.run(worker_usage).values()
    return {"workers": workers, "wall": wall, "peaks": sorted(peak for peak, _ in after), "load": load,
            "cpu": sum(cpu for _, cpu in after) - before, "client": usage.ru_maxrss / 1024}


def spot_check(source: str, target: str, expression: str) -> bool:
    import zarr

    from jaccli.api import batch_jacobian

    x, out = zarr.open_array(source, mode="r"), zarr.open_array(target, mode="r")
    rows = x.shape[0]
    ok = True
    for start in {0, rows // 2, max(0, rows - 1000)}:
        part = x[start:start + 1000]
        ok &= out[start:start + 1000].tobytes() == batch_jacobian(expression, part).tobytes()
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--expr", default="x*x*x")
    parser.add_argument("--dir", help="where the stores go (default: a temporary directory, removed after)")
    args = parser.parse_args()
    sys.path.insert(0, ROOT)
    from jaccli.dask.run import BLOCK_VALUES

    base = args.dir or tempfile.mkdtemp(prefix="jaccli-dask-bench-")
    source, target = os.path.join(base, "in.zarr"), os.path.join(base, "out.zarr")
    try:
        t = time.perf_counter()
        if not os.path.exists(source):
            make_input(source, args.rows)
        print(f"input: {args.rows:,} rows x 2 float64 ({args.rows * 16 / 1e9:.2f} GB raw) written in "
              f"{time.perf_counter() - t:.1f} s; output {args.rows * 32 / 1e9:.2f} GB raw; "
              f"blocks of ~{BLOCK_VALUES:,} values; {os.cpu_count()} cores")
        for n in (int(w) for w in args.workers.split(",")):
            r = measure(n, source, target, args.expr)
            peaks = ", ".join(f"{p:.0f}" for p in r["peaks"])
            print(f"{n} worker(s): {r['wall']:.1f} s wall, {args.rows / r['wall'] / 1e6:.2f} M rows/s, "
                  f"{r['cpu']:.1f} worker CPU s; peak RSS per worker {peaks} MB; client {r['client']:.0f} MB "
                  f"(load average {r['load']:.1f} at the start)", flush=True)
        print("spot check vs jaccli.batch_jacobian:", "identical" if spot_check(source, target, args.expr) else "DIFFERS")
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
