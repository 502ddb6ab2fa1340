#!/usr/bin/env python
"""Output cost of the ``jaccli batch-jacobian`` CLI per format: wall, CPU, peak RSS, time to first byte, ``| head``.

    python benchmarks/outputs.py                      # 3,000,000 rows (~12M output values), ~2-4 minutes
    python benchmarks/outputs.py --rows 300000        # quicker
    python benchmarks/outputs.py --rows 300000,3000000 --formats text,csv

Every run is a fresh ``python -m jaccli`` process of this checkout (``PYTHONPATH`` = the repository root), on an
NPY input of 2 float64 columns (normal, seeded), ``x*x*x`` at order 1, so each row gives a 2x2 Jacobian (4
values) and the output, not the input, dominates. Standard output goes to a file in a temporary directory.

- wall / CPU / peak RSS: a small wrapper process runs the command and reports ``RUSAGE_CHILDREN`` (user+system
  CPU, ``ru_maxrss``);
- ns/value: wall and CPU divided by the number of output values;
- first byte: from start until the first byte arrives on a pipe; ``| head -3``: from start until the child has
  exited after its reader closed the pipe having read three lines (exit code checked: 0, nothing on stderr).
  JSON is one line, so its ``| head -3`` reads everything;
- ``numpy str()``: jaccli 1.0's text path (NumPy's ``str()`` of the whole result) on ``--numpy-rows`` rows, in
  process, for comparison per value.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EXPR = "x*x*x"
VALUES_PER_ROW = 4


def command(path: Path, fmt: str, dtype: str = "auto") -> list[str]:
    return [sys.executable, "-m", "jaccli", "batch-jacobian", EXPR, str(path), "-f", fmt, "--dtype", dtype]


def environment() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT))


# A small wrapper process runs the command and reports its child's rusage: measured from this (numpy-sized)
# process, ru_maxrss would carry our own high-water mark across the exec (see memory.py).
WRAPPER = r"""
import json, resource, subprocess, sys, time
with open(sys.argv[1], "wb") as out:
    start = time.perf_counter()
    proc = subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": proc.returncode, "wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
                  "rss_mb": usage.ru_maxrss / 1024, "stderr": proc.stderr.decode(errors="replace")[-2000:]}))
"""


def run_to_file(args: list[str], out: Path) -> dict[str, float]:
    """Wall, CPU (user + system) and peak RSS of one child writing its standard output to ``out``."""
    done = subprocess.run([sys.executable, "-c", WRAPPER, str(out), *args], capture_output=True, text=True,
                          env=environment(), cwd=ROOT, check=True)
    report = json.loads(done.stdout)
    if report["rc"] != 0:
        raise SystemExit(f"{' '.join(args)} failed ({report['rc']}): {report['stderr']}")
    report["bytes"] = out.stat().st_size
    return report


def first_byte_and_head(args: list[str], lines: int = 3) -> tuple[float, float]:
    """Seconds to the first byte on a pipe, and until the child exits after its reader left (``| head -3``)."""
    start = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment(), cwd=ROOT)
    assert child.stdout is not None and child.stderr is not None
    child.stdout.read(1)
    first = time.perf_counter() - start
    for _ in range(lines):
        child.stdout.readline()
    child.stdout.close()
    code = child.wait()
    done = time.perf_counter() - start
    err = child.stderr.read()
    child.stderr.close()
    if code != 0 or err:
        raise SystemExit(f"| head: exit {code}, stderr {err[-500:]!r}")
    return first, done


def numpy_str_cost(rows: int) -> float:
    """Seconds per value of jaccli 1.0's text path: NumPy's str() of the whole result, in process."""
    sys.path.insert(0, str(ROOT))
    from jaccli.io.outputs import format_text

    x = np.random.default_rng(0).normal(size=(rows, 2))
    result = np.zeros((rows, 2, 2))
    result[:, 0, 0], result[:, 1, 1] = 3 * x[:, 0] ** 2, 3 * x[:, 1] ** 2
    start = time.perf_counter()
    format_text(result)
    return (time.perf_counter() - start) / result.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="3000000", help="comma-separated row counts")
    parser.add_argument("--formats", default="text,csv,json,npy")
    parser.add_argument("--numpy-rows", type=int, default=20000, help="rows for the numpy str() comparison (0: skip)")
    parser.add_argument("--data", choices=["normal", "uniform"], default="normal",
                        help="input values: normal (text in exponent mode) or uniform in [1, 3) (positional)")
    parser.add_argument("--dtype", choices=["auto", "float32", "float64"], default="auto",
                        help="jaccli's --dtype (auto: float64 here)")
    options = parser.parse_args()
    formats = options.formats.split(",")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"`python -m jaccli batch-jacobian '{EXPR}' IN.npy -f FMT --dtype {options.dtype} > OUT` "
          f"(2 float64 columns, {options.data})\n")
    print("| rows | format | output MB | wall s | CPU s | wall ns/value | CPU ns/value | peak RSS MB | "
          "first byte s | `\\| head -3` s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    cpu_per_value: dict[tuple[int, str], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rows in (int(r) for r in options.rows.split(",")):
            path = Path(tmp) / f"in{rows}.npy"
            make = "normal(size=" if options.data == "normal" else "uniform(1, 3, size="
            subprocess.run([sys.executable, "-c", "import sys, numpy as np; np.save(sys.argv[1], "
                            f"np.random.default_rng(0).{make}(int(sys.argv[2]), 2)))", str(path), str(rows)],
                           check=True)
            values = rows * VALUES_PER_ROW
            for fmt in formats:
                args = command(path, fmt, options.dtype)
                m = run_to_file(args, Path(tmp) / f"out.{fmt}")
                first, head = first_byte_and_head(args) if fmt != "npy" else (float("nan"),) * 2
                cpu_per_value[rows, fmt] = m["cpu"] / values
                print(f"| {rows:,} | {fmt} | {m['bytes'] / 1e6:.0f} | {m['wall']:.2f} | {m['cpu']:.2f} | "
                      f"{m['wall'] / values * 1e9:.0f} | {m['cpu'] / values * 1e9:.0f} | {m['rss_mb']:.0f} | "
                      f"{first:.2f} | {head:.2f} |", flush=True)
                (Path(tmp) / f"out.{fmt}").unlink()
            if "text" in formats and "csv" in formats:
                ratio = cpu_per_value[rows, "text"] / cpu_per_value[rows, "csv"]
                print(f"| {rows:,} | text/csv CPU | | | | | {ratio:.2f}x | | | |")
    if options.numpy_rows:
        cost = numpy_str_cost(options.numpy_rows)
        print(f"\njaccli 1.0's text path (NumPy str() of the whole result), {options.numpy_rows:,} rows in process: "
              f"{cost * 1e9:,.0f} ns/value")


if __name__ == "__main__":
    main()
