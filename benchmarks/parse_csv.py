#!/usr/bin/env python
"""CSV parsing speed: jaccli's reader against one ``np.loadtxt`` call over the same text, and the whole
1,000,000 x 2 CSV -> CSV polar Jacobian through the CLI (issue 9, section 4).

    python benchmarks/parse_csv.py              # 1,000,000 rows, 5 rounds (~1 minute)
    python benchmarks/parse_csv.py --rows 200000 --rounds 3

Files (written once to a temporary directory, shortest round-trip floats as pandas and jaccli write them):

- ``plain``:  ``r,theta`` header, 2 numeric columns (the issue's workload);
- ``pandas``: ``df.to_csv()`` with its unnamed index column and a text ``label`` column (2 of 4 columns kept);
- ``R``:      ``write.csv`` style: quoted header, quoted row names, a quoted text column.

Per round every candidate runs once (round-robin, ``time.perf_counter``), so load from other processes hits all
alike; medians are printed. ``jaccli parse`` is ``read_batch(path)`` and iterating every chunk (the CLI's chunk
size for the polar plan), i.e. everything the reader does; ``np.loadtxt`` reads the numeric columns only
(``usecols``) and does not check the grammar jaccli enforces. Every parse is checked equal to ``loadtxt`` bit for
bit before anything is printed. The CLI run is a subprocess of ``python -m jaccli`` (imports included).
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jaccli.io.inputs import read_batch  # noqa: E402

POLAR = "[r*cos(theta), r*sin(theta)]"
CHUNK = 61_680  # the CLI's chunk for the polar plan (WORK_PER_CHUNK // work per example)


def write_files(directory: Path, rows: int) -> dict[str, tuple[Path, tuple[int, ...]]]:
    """name -> (path, loadtxt usecols)."""
    rng = np.random.default_rng(9)
    data = np.column_stack([rng.uniform(0.5, 3.0, rows), rng.uniform(-np.pi, np.pi, rows)])
    pairs = [f"{r!r},{t!r}" for r, t in data.tolist()]
    labels = ["east", "north", "west"]
    files = {
        "plain": ("r,theta\n" + "".join(p + "\n" for p in pairs), (0, 1)),
        "pandas": (",r,theta,label\n" + "".join(f"{i},{p},{labels[i % 3]}\n" for i, p in enumerate(pairs)), (1, 2)),
        "R": ('"","r","theta","site"\n' + "".join(f'"{i + 1}",{p},"{labels[i % 3]}"\n' for i, p in enumerate(pairs)),
              (1, 2)),
    }
    out = {}
    for name, (text, usecols) in files.items():
        path = directory / f"{name}.csv"
        path.write_text(text)
        out[name] = (path, usecols)
    return out


def jaccli_parse(path: Path) -> np.ndarray:
    return np.concatenate([chunk["x"] for chunk in read_batch(str(path)).chunks(CHUNK)])


def loadtxt(path: Path, usecols: tuple[int, ...]) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", skiprows=1, usecols=usecols, dtype=np.float64,
                      converters={i: (lambda s: float(s.strip('"'))) for i in usecols} if path.stem == "R" else None)


def cli_run(path: Path, out: Path) -> None:
    subprocess.run([sys.executable, "-m", "jaccli", "batch-jacobian", POLAR, str(path), "-f", "csv", "-o", str(out)],
                   check=True, capture_output=True, cwd=ROOT)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children: on a shared, loaded machine wall time lies."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def rounds(candidates: dict[str, Callable[[], object]], count: int) -> dict[str, tuple[float, float]]:
    """name -> (median wall seconds, median CPU seconds)."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in candidates}
    for _ in range(count):
        for name, run in candidates.items():
            start, cpu = time.perf_counter(), cpu_seconds()
            run()
            times[name].append((time.perf_counter() - start, cpu_seconds() - cpu))
    return {name: (statistics.median(t[0] for t in values), statistics.median(t[1] for t in values))
            for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        files = write_files(directory, args.rows)
        print(f"{args.rows} rows, median of {args.rounds} rounds, seconds as wall / CPU; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
        print("| file | MB | np.loadtxt | jaccli parse | jaccli / loadtxt (wall, CPU) |")
        print("|---|---|---|---|---|")
        for name, (path, usecols) in files.items():
            reference, ours = loadtxt(path, usecols), jaccli_parse(path)
            assert np.array_equal(reference.view(np.int64), ours.view(np.int64)), name  # bit for bit
            medians = rounds({"loadtxt": lambda: loadtxt(path, usecols), "jaccli": lambda: jaccli_parse(path)},
                             args.rounds)
            size = path.stat().st_size / 1e6
            (lw, lc), (jw, jc) = medians["loadtxt"], medians["jaccli"]
            print(f"| {name} | {size:.0f} | {lw:.3f} / {lc:.3f} | {jw:.3f} / {jc:.3f} | {jw / lw:.2f}, {jc / lc:.2f} |")
        path = files["plain"][0]
        wall, cpu = rounds({"cli": lambda: cli_run(path, directory / "out.csv")}, args.rounds)["cli"]
        print(f"\n`python -m jaccli batch-jacobian '{POLAR}' plain.csv -f csv -o out.csv`: {wall:.2f} s wall, "
              f"{cpu:.2f} s CPU (whole process, {args.rows} rows)")


if __name__ == "__main__":
    main()
