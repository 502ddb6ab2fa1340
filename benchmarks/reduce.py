#!/usr/bin/env python
"""Reductions and directional derivatives (``--reduce``, ``--jvp``): time and peak memory against a NumPy floor.

    python benchmarks/reduce.py            # full run (~1 minute on 2 cores)
    python benchmarks/reduce.py --quick    # fewer repeats

Per workload, medians over N rounds (round-robin after one warm-up, as ``bench.py``):

- ``jaccli``:  ``jaccli.batch_jacobian(expr, x, order, reduce=... / jvp=...)``, the whole API call (plan cached).
- ``floor``:   the reduced quantity's closed form written by hand in NumPy (the least work any implementation
               does); for the dense determinant, the hand-written 3x3 Jacobians and ``np.linalg.det``.
- ``full + reduce``: jaccli's full tensor, then NumPy's reduction of it -- what a user without ``--reduce`` does;
  only where the full tensor fits in 2 GB (the 2 000-feature Hessian batch would be 64 GB).
- ``CLI s / MB``: the whole ``jaccli batch-jacobian ... -f npy -o OUT`` process on an ``.npy`` input: wall time
  and peak RSS (``ru_maxrss`` of the child, read by a small wrapper process, as ``memory.py`` does).

Every jaccli result is checked against the floor (``np.allclose``, rtol 1e-12) before anything is reported.
JAX is not used: it is not installed on the machine these figures come from.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

import jaccli

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import cli_command, median_times  # noqa: E402
from memory import WRAPPER  # noqa: E402


def laplacian_floor(x: np.ndarray) -> np.ndarray:
    """sum_i d2/dx_i2 [sin(x_i) exp(-x_i**2)] = sum_i exp(-x**2) ((4x**2 - 3) sin x - 4x cos x)."""
    return np.sum(np.exp(-x * x) * ((4 * x * x - 3) * np.sin(x) - 4 * x * np.cos(x)), axis=1)


def diag_floor(x: np.ndarray) -> np.ndarray:
    return (np.cos(x) - 2 * x * np.sin(x)) * np.exp(-x * x)


def spherical_floor(x: np.ndarray) -> np.ndarray:
    """The dense 3x3 Jacobian of spherical -> Cartesian coordinates written by hand, then ``np.linalg.det``."""
    r, theta, phi = x[:, 0], x[:, 1], x[:, 2]
    st, ct, sp, cp = np.sin(theta), np.cos(theta), np.sin(phi), np.cos(phi)
    jac = np.empty((x.shape[0], 3, 3))
    jac[:, 0] = np.column_stack([st * cp, r * ct * cp, -r * st * sp])
    jac[:, 1] = np.column_stack([st * sp, r * ct * sp, r * st * cp])
    jac[:, 2] = np.column_stack([ct, -r * st, np.zeros_like(r)])
    return np.linalg.det(jac)


WORKLOADS = [
    # name, expression, (B, n), order, API keywords, floor, NumPy reduction of the full tensor (or None), and
    # the full tensor's values per example
    ("Laplacian", "sum(sin(x)*exp(-x**2))", (2000, 2000), 2, {"reduce": "trace"}, laplacian_floor, None, 2000**2),
    ("diag", "sin(x)*exp(-x**2)", (2000, 300), 1, {"reduce": "diag"}, diag_floor,
     lambda full: np.diagonal(full, axis1=1, axis2=2), 300**2),
    ("jvp", "sin(x)*exp(-x**2)", (2000, 300), 1, {"jvp": "v"}, lambda x, v: diag_floor(x) * v,
     lambda full, v: np.einsum("bts,bs->bt", full, v), 300**2),
    ("det (dense 3x3)", "[x[0]*sin(x[1])*cos(x[2]), x[0]*sin(x[1])*sin(x[2]), x[0]*cos(x[1])]", (200_000, 3), 1,
     {"reduce": "det"}, spherical_floor, np.linalg.det, 9),
]


def run_cli(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", WRAPPER, *args], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    repeats = 3 if parser.parse_args().quick else 11
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, expr, (b, n), order, kwargs, floor, full_reduce, per_example in WORKLOADS:
            x = rng.uniform(0.5, 2.0, size=(b, n)) if name.startswith("det") else rng.normal(size=(b, n))
            v = rng.normal(size=(b, n))
            data = {"x": x, "v": v} if "jvp" in kwargs else x
            extra = (v,) if "jvp" in kwargs else ()
            result = jaccli.batch_jacobian(expr, data, order, **kwargs)
            reference = floor(x, *extra)
            assert np.allclose(result, reference, rtol=1e-12, atol=1e-12), name
            full_bytes = b * per_example * 8
            calls: dict[str, Callable[[], object]] = {
                "jaccli": lambda: jaccli.batch_jacobian(expr, data, order, **kwargs),
                "floor": lambda: floor(x, *extra),
            }
            if full_reduce is not None and full_bytes <= 2 << 30:
                calls["full"] = lambda: full_reduce(jaccli.batch_jacobian(expr, x, order), *extra)
            times = median_times(calls, repeats)
            cli = _cli_run(Path(tmp), name, expr, x, v, order, kwargs)
            rows.append((name, expr, f"{b}x{n}", order, kwargs, result.shape, full_bytes, times, cli))
    seed = Path(__file__).resolve().parent.parent / "samples" / "seed.csv"
    startup = min((run_cli(cli_command() + ["batch-jacobian", "x*x*x", str(seed)]) for _ in range(3)),
                  key=lambda m: m["wall"])
    _print(rows, repeats)
    print(f"\nWhole-process floor: `jaccli batch-jacobian 'x*x*x' samples/seed.csv` (start-up and a 2x2 input; "
          f"from the plan cache when warm) takes {startup['wall']:.2f} s and {startup['maxrss_kb'] / 1024:.0f} MB "
          "on this machine now.")


def _cli_run(tmp: Path, name: str, expr: str, x: np.ndarray, v: np.ndarray, order: int, kwargs: dict) -> dict:
    src = tmp / "in.npz" if "jvp" in kwargs else tmp / "in.npy"
    if "jvp" in kwargs:
        np.savez(src, x=x, v=v)
    else:
        np.save(src, x)
    options = [f"--{k}={val}" for k, val in kwargs.items()]
    args = cli_command() + ["batch-jacobian", expr, str(src), "-k", str(order), *options, "-f", "npy", "-o",
                            str(tmp / "out.npy")]
    best: Optional[dict] = None
    for _ in range(3):
        measured = run_cli(args)
        assert measured["rc"] == 0, measured["stderr"]
        best = measured if best is None or measured["wall"] < best["wall"] else best
    assert best is not None
    return best


def _print(rows: list, repeats: int) -> None:
    print(f"# reductions, medians of {repeats} rounds ({time.strftime('%Y-%m-%d')})\n")
    print("| workload | expression | B x n | k | option | result shape | full tensor | jaccli (ms) | NumPy floor (ms) "
          "| jaccli/floor | full + reduce (ms) | CLI wall (s) | CLI peak RSS (MB) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, expr, size, order, kwargs, shape, full_bytes, times, cli in rows:
        option = " ".join(f"--{k} {val}" for k, val in kwargs.items())
        full = f"{times['full'] * 1e3:.0f}" if "full" in times else "— (does not fit)"
        print(f"| {name} | `{expr}` | {size} | {order} | `{option}` | {shape} | {_size(full_bytes)} "
              f"| {times['jaccli'] * 1e3:.0f} | {times['floor'] * 1e3:.0f} | {times['jaccli'] / times['floor']:.2f} "
              f"| {full} | {cli['wall']:.2f} | {cli['maxrss_kb'] / 1024:.0f} |")


def _size(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"  # decimal units


if __name__ == "__main__":
    main()
