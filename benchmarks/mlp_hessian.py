#!/usr/bin/env python
"""Hessian of an MLP layer with shared weights: ``tanh(dot(W, x) + b)``, W 8x16 and b 8 passed as parameters.

    PYTHONPATH=. python benchmarks/mlp_hessian.py [--examples 50000] [--rounds 5]

Compares, in milliseconds (median over rounds, after one warm-up; round-robin so that load hits all alike):

- ``jaccli params``: ``jaccli.batch_jacobian(expr, x, order=2, params={"W": W, "b": b})`` (the plan cached, as
  in any call after the first);
- ``jaccli tiled``: the same with W and b tiled per example as per-example arrays (the only way before ``-P``);
- ``numpy``: the closed form written by hand, ``H[b, i, j, k] = tanh''(z[b, i]) W[i, j] W[i, k]`` with
  ``tanh'' = -2 tanh sech**2``, as one ``einsum`` into a fresh array: the floor any NumPy code pays.

Correctness first: both jaccli results must equal the floor to 1e-12 (relative to the largest entry).
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import jaccli

EXPRESSION = "tanh(dot(W, x) + b)"


def floor(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    z = x @ W.T + b
    t = np.tanh(z)
    d2 = -2.0 * t / np.cosh(z) ** 2
    return np.einsum("bi,ij,ik->bijk", d2, W, W)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(8, 16)) / 4, rng.normal(size=8) / 4
    x = rng.normal(size=(args.examples, 16))
    tiled = {"x": x, "W": np.broadcast_to(W, (len(x),) + W.shape).copy(), "b": np.tile(b, (len(x), 1))}
    runs = {
        "jaccli params": lambda: jaccli.batch_jacobian(EXPRESSION, x, 2, params={"W": W, "b": b}),
        "jaccli tiled": lambda: jaccli.batch_jacobian(EXPRESSION, tiled, 2),
        "numpy": lambda: floor(x, W, b),
    }
    reference = runs["numpy"]()
    scale = float(np.abs(reference).max())
    for name in ("jaccli params", "jaccli tiled"):
        got = runs[name]()
        assert got.shape == reference.shape, (name, got.shape)
        error = float(np.abs(got - reference).max()) / scale
        assert error < 1e-12, (name, error)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    floor_ms = statistics.median(times["numpy"]) * 1e3
    print(f"{EXPRESSION}, W 8x16, {args.examples} examples, order 2: result {reference.shape}, "
          f"median of {args.rounds} rounds")
    print("| candidate | ms | / numpy |\n|---|---|---|")
    for name, values in times.items():
        ms = statistics.median(values) * 1e3
        print(f"| {name} | {ms:.0f} | {ms / floor_ms:.2f} |")


if __name__ == "__main__":
    main()
