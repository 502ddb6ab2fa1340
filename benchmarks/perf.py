#!/usr/bin/env python
"""Issue 9's workloads: jaccli against a hand-written NumPy floor in the same run, wall and CPU time, threads.

    python benchmarks/perf.py             # everything (~3-5 minutes on 2 cores)
    python benchmarks/perf.py --quick     # 2 rounds instead of 5, smaller CLI inputs

API workloads run in this process, round-robin (every candidate once per round, one warm-up round first, then
the median over rounds): wall = ``time.perf_counter``, CPU = ``time.process_time`` (all threads). The floor is
the derivative's closed form written by hand in NumPy into a preallocated ``np.zeros`` result; it must
``np.allclose`` jaccli's result. CLI workloads run ``python -m jaccli`` in subprocesses (median of rounds; CPU =
the child's user + system time). JAX is used when importable (it is not installed here). Prints Markdown.
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
import jaccli  # noqa: E402
from jaccli.plan.parallel import available_cores  # noqa: E402

RNG = np.random.default_rng(0)


def timed(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, tuple[float, float]]:
    """name -> (median wall ms, median CPU ms), round-robin after one warm-up round."""
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in fns}
    for r in range(rounds + 1):
        for name, fn in fns.items():
            w, c = time.perf_counter(), time.process_time()
            out = fn()
            sample = ((time.perf_counter() - w) * 1e3, (time.process_time() - c) * 1e3)
            del out
            if r:
                samples[name].append(sample)
    return {k: (statistics.median(s[0] for s in v), statistics.median(s[1] for s in v)) for k, v in samples.items()}


# --- floors ------------------------------------------------------------------------------------------------
def floor_logsumexp(x: np.ndarray) -> np.ndarray:
    b, n = x.shape
    e = np.exp(x - x.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    out = np.zeros((b, n, n))
    np.multiply(p[:, :, None], -p[:, None, :], out=out)
    out.reshape(b, -1)[:, ::n + 1] += p
    return out


def floor_mlp(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    t = np.tanh(x @ w.T + bias)
    d2 = -2.0 * t * (1.0 - t * t)
    out = np.zeros((x.shape[0],) + w.shape + (w.shape[1],))
    np.multiply(d2[:, :, None, None], (w[:, :, None] * w[:, None, :])[None], out=out)
    return out


def floor_rank3(x: np.ndarray) -> np.ndarray:
    """sin(x) over S = (4, 5, 6), order 2: -sin(x) on the super-diagonal out[b, i, i, i]."""
    b, n = x.shape[0], x[0].size
    out = np.zeros((b,) + x.shape[1:] * 3)
    out.reshape(b, -1)[:, ::n * n + n + 1] = -np.sin(x.reshape(b, -1))
    return out


def floor_polar(x: np.ndarray) -> np.ndarray:
    out = np.zeros((x.shape[0], 2, 2))
    c, s = np.cos(x[:, 1]), np.sin(x[:, 1])
    out[:, 0, 0], out[:, 0, 1], out[:, 1, 0], out[:, 1, 1] = c, -x[:, 0] * s, s, x[:, 0] * c
    return out


def api_rows(rounds: int, threads: list[int]) -> list[list[str]]:
    rows = []
    lse_x = RNG.normal(size=(20000, 50))
    x16, w, bias = RNG.normal(size=(50000, 16)), RNG.normal(size=(8, 16)) * 0.3, RNG.normal(size=8)
    tiled = {"x": x16, "W": np.broadcast_to(w, (50000, 8, 16)).copy(), "b": np.broadcast_to(bias, (50000, 8)).copy()}
    inline = "tanh(dot([" + ", ".join("[" + ", ".join(repr(float(v)) for v in r) + "]" for r in w) + "], x) + [" \
        + ", ".join(repr(float(v)) for v in bias) + "])"
    rank3 = RNG.normal(size=(100, 4, 5, 6))
    polar = RNG.normal(size=(1_000_000, 2))
    mlp = "tanh(dot(W, x) + b)"
    work = [
        ("logsumexp(x)", "20000×50", 2, lambda t: jaccli.batch_jacobian("logsumexp(x)", lse_x, 2, threads=t),
         lambda: floor_logsumexp(lse_x)),
        ("MLP, W and b shared (params=)", "50000×16, W 8×16", 2,
         lambda t: jaccli.batch_jacobian(mlp, x16, 2, params={"W": w, "b": bias}, threads=t),
         lambda: floor_mlp(x16, w, bias)),
        ("MLP, W and b per example (tiled)", "50000×16, W 8×16", 2,
         lambda t: jaccli.batch_jacobian(mlp, tiled, 2, threads=t), lambda: floor_mlp(x16, w, bias)),
        ("MLP, numbers inline (8 stacked sums)", "50000×16", 2,
         lambda t: jaccli.batch_jacobian(inline, x16, 2, threads=t), lambda: floor_mlp(x16, w, bias)),
        ("sin(x), rank-3 source", "100×(4,5,6)", 2, lambda t: jaccli.batch_jacobian("sin(x)", rank3, 2, threads=t),
         lambda: floor_rank3(rank3)),
        ("polar [x0 cos x1, x0 sin x1]", "1000000×2", 1,
         lambda t: jaccli.batch_jacobian("[x[0]*cos(x[1]), x[0]*sin(x[1])]", polar, 1, threads=t),
         lambda: floor_polar(polar)),
    ]
    for name, shape, k, run, floor in work:
        assert np.allclose(run(1), floor(), rtol=1e-10, atol=1e-12), name
        fns = {f"jaccli t={t}": (lambda t=t: run(t)) for t in threads}
        fns["floor"] = floor
        got = timed(fns, rounds)
        fw, fc = got["floor"]
        for t in threads:
            jw, jc = got[f"jaccli t={t}"]
            rows.append([f"`{name}`", str(k), shape, str(t), f"{jw:.0f}", f"{jc:.0f}", f"{fw:.0f}", f"{fc:.0f}",
                         f"{jw / fw:.2f}"])
    return rows


# --- whole processes -----------------------------------------------------------------------------------------
def run_child(argv: list[str], env: dict, rounds: int) -> tuple[float, float]:
    """(median wall ms, median CPU ms) of a subprocess; its output goes to /dev/null."""
    walls, cpus = [], []
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        with open(os.devnull, "wb") as sink:
            done = subprocess.run(argv, env=env, cwd=ROOT, stdout=sink, stderr=subprocess.PIPE)
        walls.append((time.perf_counter() - start) * 1e3)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1e3)
        if done.returncode:
            raise SystemExit(f"{argv} failed: {done.stderr.decode()}")
    return statistics.median(walls), statistics.median(cpus)


def cli_rows(rounds: int, rows_n: int, threads: list[int]) -> list[list[str]]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=str(ROOT), JACCLI_CACHE_DIR=str(Path(tmp) / "cache"))
        py = [sys.executable, "-m", "jaccli"]
        numpy_click = run_child([sys.executable, "-c", "import numpy, click"], env, rounds * 2)
        seed = py + ["batch-jacobian", "x*x*x", "samples/seed.csv", "--dtype", "float32"]
        run_child(seed, env, 1)  # fill the cache
        cold = run_child(seed + ["--no-cache"], env, rounds * 2)
        warm = run_child(seed, env, rounds * 2)
        out.append(["`python -c 'import numpy, click'`", "-", "-", f"{numpy_click[0]:.0f}", f"{numpy_click[1]:.0f}",
                    "1.00"])
        for label, (w, c) in (("seed command, cold (`--no-cache`: SymPy)", cold), ("seed command, warm (cache)", warm)):
            out.append([label, "-", "1", f"{w:.0f}", f"{c:.0f}", f"{w / numpy_click[0]:.2f}"])
        x = RNG.normal(size=(rows_n, 2))
        files = {"npy": Path(tmp) / "x.npy", "csv": Path(tmp) / "x.csv", "json": Path(tmp) / "x.json"}
        np.save(files["npy"], x)
        np.savetxt(files["csv"], x, delimiter=",", fmt="%.17g")
        files["json"].write_text("[" + ",".join(f"[{a!r},{b!r}]" for a, b in x.tolist()) + "]")
        expr = "[x[0]*cos(x[1]), x[0]*sin(x[1])]"
        for fmt, path in files.items():
            for t in threads:
                w, c = run_child(py + ["batch-jacobian", expr, str(path), "-f", fmt, "-o", str(Path(tmp) / f"out.{fmt}"),
                                       "--threads", str(t)], env, rounds)
                out.append([f"polar {fmt} → {fmt}", f"{rows_n}×2", str(t), f"{w:.0f}", f"{c:.0f}", "-"])
    return out


# --- several orders (-k 0,1,2): the thread pool and the plan cache ------------------------------------------------
def orders_rows(rounds: int, rows_n: int, threads: list[int]) -> list[list[str]]:
    """Value, gradient and Hessian in one pass: API threads 1 vs n, CLI threads and cold vs warm start (and a
    reduced plan's warm start, ``--reduce trace``)."""
    out = []
    polar_expr = "[x[0]*cos(x[1]), x[0]*sin(x[1])]"
    polar = RNG.normal(size=(rows_n, 2))
    x16, w, bias = RNG.normal(size=(50000, 16)), RNG.normal(size=(8, 16)) * 0.3, RNG.normal(size=8)
    work = [("API polar", f"{rows_n}×2", lambda t: jaccli.batch_jacobian(polar_expr, polar, (0, 1, 2), threads=t)),
            ("API MLP, W and b shared", "50000×16, W 8×16",
             lambda t: jaccli.batch_jacobian("tanh(dot(W, x) + b)", x16, (0, 1, 2), params={"W": w, "b": bias},
                                             threads=t))]
    for name, shape, run in work:
        base = run(1)
        assert all(run(t)[k].tobytes() == base[k].tobytes() for t in threads for k in base), name
        got = timed({str(t): (lambda t=t: run(t)) for t in threads}, rounds)
        for t in threads:
            wall, cpu = got[str(t)]
            out.append([name, shape, str(t), f"{wall:.0f}", f"{cpu:.0f}",
                        f"{got['1'][0] / wall:.2f} (1 thread / this)"])
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=str(ROOT), JACCLI_CACHE_DIR=str(Path(tmp) / "cache"))
        np.save(Path(tmp) / "x.npy", polar)
        py = [sys.executable, "-m", "jaccli", "batch-jacobian"]
        commands = [("CLI seed `x*x*x`", "2×2", py + ["x*x*x", "samples/seed.csv", "-k", "0,1,2"]),
                    ("CLI Laplacian `-k 2 --reduce trace`", "directions.json",
                     py + ["exp(-sum(x**2))", "samples/directions.json", "-k", "2", "--reduce", "trace"]),
                    ("CLI polar → npz", f"{rows_n}×2", py + [polar_expr, str(Path(tmp) / "x.npy"), "-k", "0,1,2",
                                                           "-f", "npz", "-o", str(Path(tmp) / "out.npz")])]
        for label, shape, argv in commands:
            run_child(argv, env, 1)  # store the plan
            for t in threads:
                cold = run_child(argv + ["--no-cache", "--threads", str(t)], env, rounds)
                warm = run_child(argv + ["--threads", str(t)], env, rounds)
                out.append([label + ", cold (`--no-cache`)", shape, str(t), f"{cold[0]:.0f}", f"{cold[1]:.0f}", "-"])
                out.append([label + ", warm (cache)", shape, str(t), f"{warm[0]:.0f}", f"{warm[1]:.0f}",
                            f"{cold[0] / warm[0]:.2f} (cold / warm)"])
    return out


def table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip-cli", action="store_true")
    ap.add_argument("--skip-api", action="store_true")
    ap.add_argument("--skip-orders", action="store_true")
    ap.add_argument("--orders-only", action="store_true", help="only the several-orders section")
    args = ap.parse_args()
    if args.orders_only:
        args.skip_api = args.skip_cli = True
    rounds = 2 if args.quick else 5
    cores = available_cores()
    threads = sorted({1, cores})
    load = os.getloadavg()[0]
    print(f"{cores} cores available, load average {load:.1f}; numpy {np.__version__}; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}\n")
    if not args.skip_api:
        print("### Python API (ms, medians; CPU = all threads)\n", flush=True)
        print(table(["workload", "k", "B×S", "threads", "jaccli wall", "jaccli CPU", "floor wall", "floor CPU",
                     "jaccli/floor (wall)"], api_rows(rounds, threads)), flush=True)
    if not args.skip_cli:
        print("\n### Whole process, `python -m jaccli` (ms, medians)\n")
        print(table(["command", "rows", "threads", "wall", "CPU", "wall / numpy+click"],
                    cli_rows(rounds, 200_000 if args.quick else 1_000_000, threads)))
    if not args.skip_orders:
        print("\n### Several orders, `-k 0,1,2` / `order=(0, 1, 2)`, and a reduced plan's warm start (ms, medians; "
              "CPU = all threads)\n")
        print(table(["workload", "B×S", "threads", "wall", "CPU", "wall ratio"],
                    orders_rows(rounds, 200_000 if args.quick else 1_000_000, threads)))


if __name__ == "__main__":
    main()
