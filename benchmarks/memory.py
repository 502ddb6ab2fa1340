#!/usr/bin/env python
"""Peak memory (RSS) of the ``jaccli batch-jacobian`` CLI on streamed formats, CSV->CSV and NPY->NPY.

    python benchmarks/memory.py                    # 100k, 700k and 2M rows; x*x*x (~1 minute)
    python benchmarks/memory.py --quick            # 100k and 2M rows, no breakdown
    python benchmarks/memory.py --rows 100000,2000000,4000000 --expr '[x[0]*cos(x[1]), x[0]*sin(x[1])]'

The claim checked: the CLI streams csv and npy, so peak memory is flat in the number of rows.

Every measurement is a fresh process: a small ``python -c`` wrapper runs the command and reports
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` (its own children only, so nothing accumulates) and the wall
time. Input files (2 float64 columns, uniform in [0.5, 4], CSV with 9 significant digits: ~22 bytes a row) are generated into a temporary directory.

Then, unless ``--quick``, two breakdowns explain the figures (also one fresh process each):

- ``anon`` vs ``file``: the CLI runs in-process with a thread sampling ``/proc/self/status`` every 2 ms; peak
  ``RssAnon`` (heap: numpy arrays, Python objects) and peak ``RssFile`` (file-backed pages: shared libraries and
  memory-mapped input files; clean page cache, which the kernel can drop, yet counted in ``ru_maxrss``).
- per component: ``tracemalloc`` peak of the bytes allocated inside one call of the CSV reader's block parser,
  ``engine.evaluate``, and the CSV/NPY writers' ``_write`` (the largest call wins), wrapped at runtime (nothing in
  ``jaccli/`` is edited).
- what-if: at the largest size, peak RSS with each of two candidate fixes patched in at runtime (output bytes are
  checked identical).
"""
from __future__ import annotations

import argparse
import os
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import cli_command  # the same jaccli executable as the speed benchmark (this folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent

WRAPPER = r"""
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": proc.returncode, "maxrss_kb": usage.ru_maxrss, "wall": wall,
                  "stderr": proc.stderr.decode(errors="replace")[-2000:]}))
"""

# Runs the CLI in-process; RSS sampling thread; optional tracemalloc wrappers around the components.
PROBE = r"""
import functools, json, sys, threading, time
mode, args = sys.argv[1], sys.argv[2:]
import tracemalloc
import jaccli.plan.engine as engine
import jaccli.io.outputs as outputs
from jaccli.io.inputs import csv as csv_input

peaks = {}
overall = [0]

def wrap(owner, name, label):
    fn = getattr(owner, name)

    @functools.wraps(fn)
    def wrapped(*a, **k):
        base, before = tracemalloc.get_traced_memory()
        overall[0] = max(overall[0], before)  # reset_peak below would lose the process-wide peak
        tracemalloc.reset_peak()
        result = fn(*a, **k)
        top = tracemalloc.get_traced_memory()[1]
        overall[0] = max(overall[0], top)
        peaks[label] = max(peaks.get(label, 0), top - base)
        return result

    setattr(owner, name, wrapped)

def status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0])
    return out

high = {"RssAnon": 0, "RssFile": 0}
done = threading.Event()

def sample():
    while not done.is_set():
        s = status()
        for key in high:
            high[key] = max(high[key], s[key])
        time.sleep(0.002)

if mode == "trace":
    wrap(csv_input.CsvReader, "_parse_block", "CSV reader: parse one block of lines")
    wrap(engine, "evaluate", "engine.evaluate: one chunk")
    wrap(outputs.CsvWriter, "_write", "CsvWriter._write: one chunk")
    wrap(outputs.NpyWriter, "_write", "NpyWriter._write: one chunk")
    tracemalloc.start()
else:
    threading.Thread(target=sample, daemon=True).start()
from jaccli.cli import cli
from jaccli.plan.engine import Plan
chunk = {}
original = Plan.chunk_size
def chunk_size(self, n):
    chunk["rows"] = original(self, n)
    return chunk["rows"]
Plan.chunk_size = chunk_size
code = None
try:
    cli.main(args, prog_name="jaccli")
except SystemExit as exc:
    code = exc.code
done.set()
s = status()
print(json.dumps({"rc": code, "anon_kb": max(high["RssAnon"], s["RssAnon"]), "file_kb": max(high["RssFile"], s["RssFile"]),
                  "hwm_kb": s["VmHWM"], "traced_peak": max(overall[0], tracemalloc.get_traced_memory()[1]) if mode == "trace" else 0,
                  "components": peaks, "chunk_rows": chunk.get("rows")}))
"""

# What-if (not jaccli's code): the two changes the breakdown points at, applied by runtime patches, to size the gain.
WHAT_IF = r"""
import mmap, sys
import numpy as np
import jaccli.io.outputs as outputs
from jaccli.io.inputs import batch as batch_module
patch, args = sys.argv[1], sys.argv[2:]
if patch == "csv-blocks":  # CsvWriter formats 16384 rows at a time instead of the engine's whole chunk
    original = outputs.CsvWriter._write
    def _write(self, chunk):
        for i in range(0, chunk.shape[0], 16384):
            original(self, chunk[i:i + 16384])
    outputs.CsvWriter._write = _write
elif patch == "npy-dontneed":  # drop the memory-mapped input's pages once a chunk has been copied out
    def find_mmap(a):
        while a is not None:
            if isinstance(a, np.memmap) and getattr(a, "_mmap", None) is not None:
                return a._mmap
            a = getattr(a, "base", None)
    original_chunks = batch_module.array_chunks
    def array_chunks(label, arrays, size, n, allow_nonfinite):
        maps = [m for m in map(find_mmap, arrays.values()) if m is not None]
        for chunk in original_chunks(label, arrays, size, n, allow_nonfinite):
            for m in maps:
                m.madvise(mmap.MADV_DONTNEED)
            yield chunk
    batch_module.array_chunks = array_chunks
from jaccli.cli import cli
code = None
try:
    cli.main(args, prog_name="jaccli")
except SystemExit as exc:
    code = exc.code
# VmHWM, not ru_maxrss(RUSAGE_SELF): the latter keeps the high-water mark of the memory image replaced by exec,
# which after subprocess's vfork is the *parent's* (this benchmark's) -- see the README.
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print('{"rc": %s, "maxrss_kb": %d}' % (code or 0, hwm))
"""


PATCHES = {
    "csv-blocks": "`CsvWriter._write` formats 16 384 rows at a time (instead of a whole engine chunk)",
    "npy-dontneed": "`madvise(MADV_DONTNEED)` on the input memory map after each chunk",
}


def make_inputs(directory: Path, rows: int, seed: int = 0) -> dict[str, Path]:
    x = np.random.default_rng(seed).uniform(0.5, 4.0, size=(rows, 2))
    paths = {"csv": directory / f"in{rows}.csv", "npy": directory / f"in{rows}.npy"}
    np.savetxt(paths["csv"], x, delimiter=",", fmt="%.9g")
    np.save(paths["npy"], x)
    return paths


def run_json(cmd: list[str]) -> dict:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise SystemExit(f"measurement failed: {' '.join(cmd)}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(expr: str, src: Path, fmt: str, out: Path) -> dict:
    cmd = [sys.executable, "-c", WRAPPER] + cli_command() + ["batch-jacobian", expr, str(src), "-f", fmt,
                                                             "-o", str(out)]
    result = run_json(cmd)
    if result["rc"] != 0:
        raise SystemExit(f"jaccli failed on {src}: {result['stderr']}")
    return result


def probe(mode: str, expr: str, src: Path, fmt: str, out: Path) -> dict:
    result = run_json([sys.executable, "-c", PROBE, mode, "batch-jacobian", expr, str(src), "-f", fmt,
                       "-o", str(out)])
    if result["rc"] not in (0, None):
        raise SystemExit(f"probe failed on {src} (exit {result['rc']})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default=None, help="comma-separated row counts [100000,700000,2000000]")
    parser.add_argument("--expr", default="x*x*x", help="expression over 2 columns [x*x*x]")
    parser.add_argument("--quick", action="store_true", help="100k and 2M rows, no breakdown")
    parser.add_argument("--keep", metavar="DIR", help="generate the files here and keep them")
    args = parser.parse_args()
    sizes = [int(n) for n in (args.rows or ("100000,2000000" if args.quick else "100000,700000,2000000"))
             .split(",")]

    start = time.perf_counter()
    print(f"# jaccli peak memory: `jaccli batch-jacobian '{args.expr}' IN -f FMT -o OUT`\n")
    baseline = run_json([sys.executable, "-c", WRAPPER, sys.executable, "-c", "import numpy, sympy, click"])
    print("- load average at start (1/5/15 min): " + " / ".join(f"{v:.2f}" for v in os.getloadavg()))
    print(f"- reference: `python -c 'import numpy, sympy, click'` peaks at {baseline['maxrss_kb'] / 1024:.0f} MB")
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="jaccli-mem-"))
    tmp.mkdir(parents=True, exist_ok=True)
    rows_out = []
    whatif = []
    try:
        for n in sizes:
            paths = make_inputs(tmp, n)
            for fmt in ("csv", "npy"):
                src, out = paths[fmt], tmp / f"out{n}.{fmt}"
                r = measure(args.expr, src, fmt, out)
                row = {"rows": n, "fmt": fmt, "in_mb": src.stat().st_size / 2**20,
                       "out_mb": out.stat().st_size / 2**20, "rss_mb": r["maxrss_kb"] / 1024, "wall": r["wall"]}
                if not args.quick:
                    row["split"] = probe("rss", args.expr, src, fmt, out)
                    row["trace"] = probe("trace", args.expr, src, fmt, out)
                rows_out.append(row)
                print(f"  {n:>9} rows {fmt}: {row['rss_mb']:.0f} MB, {row['wall']:.2f} s", file=sys.stderr,
                      flush=True)
            if not args.quick and n == sizes[-1]:
                for fmt, patch in (("csv", "csv-blocks"), ("npy", "npy-dontneed")):
                    out = tmp / f"whatif{n}.{fmt}"
                    r = run_json([sys.executable, "-c", WHAT_IF, patch, "batch-jacobian", args.expr, str(paths[fmt]),
                                  "-f", fmt, "-o", str(out)])
                    if r["rc"] != 0 or out.read_bytes() != (tmp / f"out{n}.{fmt}").read_bytes():
                        raise SystemExit(f"what-if {patch} changed the result or failed")
                    before = next(x["rss_mb"] for x in rows_out if x["rows"] == n and x["fmt"] == fmt)
                    whatif.append((n, fmt, PATCHES[patch], before, r["maxrss_kb"] / 1024))
            if not args.keep:
                for p in tmp.iterdir():
                    p.unlink()
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    print("\n## Peak RSS (fresh process per measurement, `ru_maxrss` of the child)\n")
    print("| rows | format | input MB | output MB | peak RSS MB | wall s |")
    print("|---|---|---|---|---|---|")
    for r in rows_out:
        print(f"| {r['rows']:,} | {r['fmt']}→{r['fmt']} | {r['in_mb']:.0f} | {r['out_mb']:.0f} | {r['rss_mb']:.0f} "
              f"| {r['wall']:.2f} |")
    print()
    for fmt in ("csv", "npy"):
        mine = [r for r in rows_out if r["fmt"] == fmt]
        steps = [f"{lo['rows']:,} → {hi['rows']:,} rows: {lo['rss_mb']:.0f} → {hi['rss_mb']:.0f} MB "
                 f"({(hi['rss_mb'] - lo['rss_mb']) / ((hi['rows'] - lo['rows']) / 1e6):+.1f} MB per million rows)"
                 for lo, hi in zip(mine, mine[1:])]
        if steps:
            print(f"- {fmt}: " + "; ".join(steps))

    if not args.quick:
        print("\n## Breakdown (in-process probe, one fresh process per cell)\n")
        print("| rows | format | chunk rows | peak RssAnon MB | peak RssFile MB | tracemalloc peak MB | "
              "largest component (tracemalloc MB, one call) |")
        print("|---|---|---|---|---|---|---|")
        for r in rows_out:
            comps = sorted(r["trace"]["components"].items(), key=lambda kv: -kv[1])
            shown = "; ".join(f"{k} {v / 2**20:.1f}" for k, v in comps)
            print(f"| {r['rows']:,} | {r['fmt']} | {r['split']['chunk_rows']} | {r['split']['anon_kb'] / 1024:.0f} "
                  f"| {r['split']['file_kb'] / 1024:.0f} | {r['trace']['traced_peak'] / 2**20:.1f} | {shown} |")
    if whatif:
        print("\n## What-if: the same run with one change patched in at runtime (peak RSS MB, fresh process each)\n")
        print("| rows | format | as is | patched | change |")
        print("|---|---|---|---|---|")
        for n, fmt, patch, before, after in whatif:
            print(f"| {n:,} | {fmt} | {before:.0f} | {after:.0f} | {patch} |")
    print(f"\n(total {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
