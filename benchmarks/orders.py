"""Several orders in one pass (``order=(0, 1, 2)``) against one call per order, and the planning they pay.

    python benchmarks/orders.py [--rows N] [--rounds R]

Runs from the repository root (``PYTHONPATH=.``) or with jaccli installed; prints Markdown. Medians of R rounds,
candidates interleaved (round-robin) so machine load hits them alike. "plan" clears SymPy's cache first (what a
CLI process pays); "eval" reuses the API's plan cache (what a loop over batches pays).
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import sympy

import jaccli
from jaccli.api import _plan
from jaccli.expr.scope import make_scope
from jaccli.plan.engine import plan_jacobian
from jaccli.plan.orders import plan_orders

WORKLOADS = [
    ("softplus(dot(w, x) + c)", 8),
    ("[r*cos(t), r*sin(t)] * exp(-r)", 0),
    ("sum(sin(x) * exp(-x*x))", 6),
]


def inputs(expr: str, n: int, rows: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    if "r*cos" in expr:
        return {"r": rng.uniform(0.5, 2, rows), "t": rng.uniform(-3, 3, rows), "x": rng.uniform(size=rows)}
    data = {"x": rng.normal(size=(rows, n))}
    if "w" in expr:
        data.update(w=rng.normal(size=(rows, n)), c=rng.normal(size=rows))
    return data


def medians(fns: list, rounds: int) -> list[float]:
    """Median seconds of each function, run round-robin ``rounds`` times."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for fn, spent in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print("| expression | wrt | plan 0-2 in one / three plans | eval 0-2 in one / three calls |")
    print("|---|---|---|---|")
    for expr, n in WORKLOADS:
        data = inputs(expr, n, args.rows)
        wrt = ("r", "t") if "r*cos" in expr else "x"
        shapes = {k: v.shape[1:] for k, v in data.items()}
        scope = make_scope(shapes, wrt=",".join(wrt) if isinstance(wrt, tuple) else wrt)

        def plan_one() -> None:
            sympy.core.cache.clear_cache()
            plan_orders(expr, scope, (0, 1, 2), np.dtype(np.float64))

        def plan_three() -> None:
            sympy.core.cache.clear_cache()
            for k in (0, 1, 2):
                plan_jacobian(expr, scope, k, np.dtype(np.float64))

        def eval_one() -> None:
            jaccli.batch_jacobian(expr, data, order=(0, 1, 2), wrt=wrt)

        def eval_three() -> None:
            jaccli.batch_jacobian(expr, data, order=(0,), wrt=wrt)
            jaccli.batch_jacobian(expr, data, order=1, wrt=wrt)
            jaccli.batch_jacobian(expr, data, order=2, wrt=wrt)

        eval_one(), eval_three()  # warm the plan cache
        a, b, c, d = medians([plan_one, plan_three, eval_one, eval_three], args.rounds)
        print(f"| `{expr}` | {wrt} | {a * 1e3:.0f} / {b * 1e3:.0f} ms | {c * 1e3:.1f} / {d * 1e3:.1f} ms |")
    _plan.cache_clear()


if __name__ == "__main__":
    main()
