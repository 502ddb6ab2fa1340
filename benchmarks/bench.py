#!/usr/bin/env python
"""Speed of ``jaccli.batch_jacobian`` against the cheapest possible NumPy work, and (optionally) JAX.

    python benchmarks/bench.py            # full run (~1-2 minutes on 2 cores)
    python benchmarks/bench.py --quick    # fewer repeats (< 1 minute)
    python benchmarks/bench.py --jax      # insist on JAX (error if it cannot be imported)
    python benchmarks/bench.py --no-jax   # skip JAX even when it is installed

For every workload (expression, batch shape B x S, order k) it reports, all in milliseconds, medians of N repeats
after one warm-up call, timed with ``time.perf_counter``:

- ``jaccli``:   ``jaccli.batch_jacobian(expr, x, k)``, the whole Python API call (plan + checks + evaluation).
- ``plan``:     ``engine.plan_jacobian`` alone (parse -> tape -> SymPy derive -> kernels), warm: SymPy's own
                caches are hot, as in every call after the first in a process.
- ``plan cold``: the same after ``sympy.core.cache.clear_cache()`` (what the CLI pays once per process).
- ``eval``:     ``engine.run`` over the same chunks the API uses, plus the final ``np.concatenate``.
- ``floor``:    a hand-written NumPy evaluation of the closed-form derivative (common subexpressions computed
                once), written into a preallocated ``np.zeros`` output of the full result shape.
- ``JAX``:      ``jax.jit(jax.vmap(jacfwd^k(f)))`` in float64, after compilation (``compile`` = first call,
                trace + XLA compile + one run).

Correctness is checked before anything is reported: the floor must ``np.allclose`` jaccli's result (so the floor
computes the same thing), and jaccli must agree with JAX (``max rel`` = max |a-b| / max |b| over the whole result,
and elementwise where both are not tiny).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

import jaccli
import sympy
from jaccli.engine import _gather, make_scope, plan_jacobian, resolve_dtype, run

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------------------------
# Floors: the derivative formula written by hand, evaluated with NumPy, placed into a zeros output.
# ---------------------------------------------------------------------------------------------------------------

def floor_cube(x: np.ndarray, k: int) -> np.ndarray:
    """``x*x*x``, S = (n,): order 1 is diag(3x^2), order 2 is 6x on the super-diagonal out[:, i, i, i]."""
    b, n = x.shape
    out = np.zeros((b,) + (n,) * (k + 1), x.dtype)
    flat = out.reshape(b, -1)
    stride = sum(n**j for j in range(k + 1))  # flat offset between (i,..,i) and (i+1,..,i+1)
    if k == 1:
        flat[:, ::stride] = 3.0 * x * x
    elif k == 2:
        flat[:, ::stride] = 6.0 * x
    elif k == 3:
        flat[:, ::stride] = 6.0
    return out


def floor_gauss_sin(x: np.ndarray, k: int) -> np.ndarray:
    """``sin(x)*exp(-x**2)``, order 1: diag((cos x - 2 x sin x) exp(-x^2))."""
    assert k == 1
    b, n = x.shape
    out = np.zeros((b, n, n), x.dtype)
    out.reshape(b, -1)[:, ::n + 1] = (np.cos(x) - 2.0 * x * np.sin(x)) * np.exp(-x * x)
    return out


def floor_polar(x: np.ndarray, k: int) -> np.ndarray:
    """``[r cos t, r sin t]`` with r = x[0], t = x[1]."""
    b = x.shape[0]
    r, t = x[:, 0], x[:, 1]
    c, s = np.cos(t), np.sin(t)
    if k == 1:
        out = np.zeros((b, 2, 2), x.dtype)
        rs, rc = r * s, r * c
        out[:, 0, 0] = c
        out[:, 0, 1] = -rs
        out[:, 1, 0] = s
        out[:, 1, 1] = rc
        return out
    assert k == 2
    out = np.zeros((b, 2, 2, 2), x.dtype)
    ns, nrc, nrs = -s, -(r * c), -(r * s)
    out[:, 0, 0, 1] = ns
    out[:, 0, 1, 0] = ns
    out[:, 0, 1, 1] = nrc
    out[:, 1, 0, 1] = c
    out[:, 1, 1, 0] = c
    out[:, 1, 1, 1] = nrs
    return out


def floor_mixed(x: np.ndarray, k: int) -> np.ndarray:
    """``[x0 x1 x2, exp(x0) sin(x1) + x2^2, x0 + x1 + x2]``, orders 1..3."""
    b = x.shape[0]
    x0, x1, x2 = x[:, 0], x[:, 1], x[:, 2]
    e = np.exp(x0)
    es, ec = e * np.sin(x1), e * np.cos(x1)
    out = np.zeros((b,) + (3,) * (k + 1), x.dtype)
    if k == 1:
        out[:, 0, 0] = x1 * x2
        out[:, 0, 1] = x0 * x2
        out[:, 0, 2] = x0 * x1
        out[:, 1, 0] = es
        out[:, 1, 1] = ec
        out[:, 1, 2] = 2.0 * x2
        out[:, 2, :] = 1.0
    elif k == 2:
        for i, j, v in ((0, 1, x2), (0, 2, x1), (1, 2, x0)):
            out[:, 0, i, j] = v
            out[:, 0, j, i] = v
        out[:, 1, 0, 0] = es
        out[:, 1, 0, 1] = ec
        out[:, 1, 1, 0] = ec
        out[:, 1, 1, 1] = -es
        out[:, 1, 2, 2] = 2.0
    else:
        assert k == 3
        for i, j, l in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)):
            out[:, 0, i, j, l] = 1.0
        nes, nec = -es, -ec
        out[:, 1, 0, 0, 0] = es
        for i, j, l in ((0, 0, 1), (0, 1, 0), (1, 0, 0)):
            out[:, 1, i, j, l] = ec
        for i, j, l in ((0, 1, 1), (1, 0, 1), (1, 1, 0)):
            out[:, 1, i, j, l] = nes
        out[:, 1, 1, 1, 1] = nec
    return out


# ---------------------------------------------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class Workload:
    label: str
    expression: str
    shape: tuple[int, ...]
    orders: tuple[int, ...]
    floor: Callable[[np.ndarray, int], np.ndarray]
    jax_f: Callable  # one example -> target, written with jax.numpy (passed as ``jnp``)


WORKLOADS = [
    Workload("x*x*x", "x*x*x", (100_000, 2), (1, 2), floor_cube, lambda jnp: lambda x: x * x * x),
    Workload("sin(x)*exp(-x**2)", "sin(x)*exp(-x**2)", (2_000, 100), (1,), floor_gauss_sin,
             lambda jnp: lambda x: jnp.sin(x) * jnp.exp(-x**2)),
    Workload("polar [x0 cos x1, x0 sin x1]", "[x[0]*cos(x[1]), x[0]*sin(x[1])]", (1_000_000, 2), (1, 2),
             floor_polar, lambda jnp: lambda x: jnp.stack([x[0] * jnp.cos(x[1]), x[0] * jnp.sin(x[1])])),
    Workload("mixed 3->3", "[x[0]*x[1]*x[2], exp(x[0])*sin(x[1]) + x[2]**2, sum(x)]", (200_000, 3), (1, 2, 3),
             floor_mixed, lambda jnp: lambda x: jnp.stack([x[0] * x[1] * x[2],
                                                          jnp.exp(x[0]) * jnp.sin(x[1]) + x[2]**2, jnp.sum(x)])),
]


# ---------------------------------------------------------------------------------------------------------------
# Timing helpers
# ---------------------------------------------------------------------------------------------------------------

def median_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds, after ``warmup`` untimed calls."""
    return median_times({"fn": fn}, repeats, warmup)["fn"]


def median_times(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, float]:
    """Median wall time (s) of each function, measured round-robin (one call of each per round), so that load
    from other processes on the machine hits every candidate alike instead of skewing one of them."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            result = fn()
            times[name].append(time.perf_counter() - t0)
            del result  # free a big result before the next candidate allocates its own
    out = {name: statistics.median(t) for name, t in times.items()}
    out.update({f"{name}:min": min(t) for name, t in times.items()})
    return out


def api_pieces(expression: str, x: np.ndarray, order: int):
    """The API's own path (see jaccli/api.py), split in its planning and evaluation halves."""
    scope = make_scope({"x": x.shape[1:]}, row="x", wrt="x")

    def plan():
        return plan_jacobian(expression, scope, order, resolve_dtype("auto", x.dtype))

    def plan_cold():
        sympy.core.cache.clear_cache()
        return plan()

    p = plan()
    step = p.chunk_size(None)

    def evaluate():
        chunks = ({"x": x[i:i + step]} for i in range(0, x.shape[0], step))
        parts = list(run(p, chunks))
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    return plan, plan_cold, evaluate, step


STAGES = ("zeros", "gather", "kernel", "scatter", "concat")


def eval_breakdown(plan, x: np.ndarray, step: int, expected: np.ndarray, repeats: int,
                   preallocate: bool = False) -> dict[str, float]:
    """Seconds per stage of the API's evaluation (median over repeats), by an instrumented copy of
    ``engine.evaluate``: output ``np.zeros``, slot gathers, kernel (the NumPy program), scatter into the output,
    and the final ``np.concatenate`` of the chunks. Checked bit-for-bit against the real result.

    ``np.zeros`` is lazy (calloc): the page faults of a fresh output are paid by the first write, i.e. in
    ``scatter``. ``preallocate=True`` is a what-if: one ``np.zeros`` of the whole result, each chunk scattered
    into its slice, no ``concatenate`` (the same values, bit for bit)."""
    d = plan.derivative
    samples: dict[str, list[float]] = {s: [] for s in STAGES}
    for _ in range(repeats + 1):
        spent = dict.fromkeys(STAGES, 0.0)
        parts = []
        if preallocate:
            t0 = time.perf_counter()
            whole = np.zeros((x.shape[0], d.size), plan.dtype)
            spent["zeros"] += time.perf_counter() - t0
        for i in range(0, x.shape[0], step):
            chunk = np.asarray(x[i:i + step], dtype=plan.dtype)
            b = chunk.shape[0]
            t0 = time.perf_counter()
            out = whole[i:i + b] if preallocate else np.zeros((b, d.size), plan.dtype)
            t1 = time.perf_counter()
            flat = np.ascontiguousarray(chunk).reshape(b, -1)
            spent["zeros"] += t1 - t0
            for prog in d.programs:
                t0 = time.perf_counter()
                inputs = [_gather(flat, s.index) for s in prog.slots]
                t1 = time.perf_counter()
                values = prog.kernel(inputs)
                t2 = time.perf_counter()
                for pl in prog.placements:
                    value = np.broadcast_to(np.asarray(values[pl.part], dtype=plan.dtype), (b, prog.lanes))
                    if pl.lanes is not None:
                        value = value[:, pl.lanes]
                    if pl.mode == "assign":
                        out[:, pl.flat] = value
                    elif pl.mode == "add":
                        out[:, pl.flat] += value
                    else:
                        np.add.at(out, (slice(None), pl.flat), value)
                t3 = time.perf_counter()
                spent["gather"] += t1 - t0
                spent["kernel"] += t2 - t1
                spent["scatter"] += t3 - t2
                del inputs, values
            parts.append(out.reshape((b,) + d.shape))
        t0 = time.perf_counter()
        if preallocate:
            result = whole.reshape((x.shape[0],) + d.shape)
        else:
            result = np.concatenate(parts) if len(parts) > 1 else parts[0]
        spent["concat"] += time.perf_counter() - t0
        if not np.array_equal(result, expected):
            raise AssertionError("instrumented evaluation differs from engine.evaluate: update eval_breakdown")
        del parts, result
        if preallocate:
            del whole
        for s in STAGES:
            samples[s].append(spent[s])
    return {s: statistics.median(v[1:]) for s, v in samples.items()}  # the first pass is a warm-up


def rel_diffs(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(normwise, elementwise) relative difference of ``a`` from reference ``b``.

    normwise = max|a-b| / max|b|; elementwise = max |a-b| / max(|a|, |b|) over entries where that denominator is
    above 1e-8 * max|b| (cancellation near a root of the derivative makes tiny entries meaningless to compare).
    """
    diff = np.abs(a - b)
    scale = float(np.max(np.abs(b))) or 1.0
    normwise = float(np.max(diff)) / scale
    denom = np.maximum(np.abs(a), np.abs(b))
    mask = denom > 1e-8 * scale
    elementwise = float(np.max(diff[mask] / denom[mask])) if mask.any() else 0.0
    return normwise, elementwise


# ---------------------------------------------------------------------------------------------------------------
# JAX
# ---------------------------------------------------------------------------------------------------------------

def load_jax(required: bool):
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
    except Exception as exc:  # ImportError, or a broken jaxlib
        if required:
            sys.exit(f"--jax given but JAX cannot be imported: {exc!r} (try: pip install jax jaxlib)")
        return None, None
    return jax, jnp


def jax_batch_jacobian(jax, f: Callable, order: int) -> Callable:
    g = f
    for _ in range(order):
        g = jax.jacfwd(g)
    return jax.jit(jax.vmap(g))


# ---------------------------------------------------------------------------------------------------------------
# Main parts
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class Row:
    label: str
    order: int
    shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    chunk: int
    jaccli: float
    plan: float
    plan_cold: float
    evaluate: float
    floor: float
    floor_ok: bool
    floor_diff: float
    jax: Optional[float] = None
    jax_compile: Optional[float] = None
    jax_rel: Optional[tuple[float, float]] = None
    jaccli_min: float = 0.0
    floor_min: float = 0.0
    stages: Optional[dict] = None
    prealloc: Optional[dict] = None
    instructions: int = 0
    placements: int = 0


def bench_api(repeats: int, jax, jnp, rng: np.random.Generator) -> list[Row]:
    rows = []
    for w in WORKLOADS:
        x = rng.uniform(-2.0, 2.0, size=w.shape)
        for k in w.orders:
            call = lambda: jaccli.batch_jacobian(w.expression, x, order=k)  # noqa: E731
            result = call()  # warm-up, and the reference for every check below
            floor = w.floor(x, k)
            assert floor.shape == result.shape, (w.label, k, floor.shape, result.shape)
            floor_ok = bool(np.allclose(floor, result, rtol=1e-12, atol=1e-12))
            floor_diff = float(np.max(np.abs(floor - result)))
            del floor
            plan, plan_cold, evaluate, step = api_pieces(w.expression, x, k)
            assert np.array_equal(evaluate(), result)
            fns = {"jaccli": call, "plan": plan, "evaluate": evaluate, "floor": lambda: w.floor(x, k)}
            fn = xj = None
            compile_time = None
            if jax is not None:
                fn = jax_batch_jacobian(jax, w.jax_f(jnp), k)
                xj = jnp.asarray(x)
                t0 = time.perf_counter()
                ref = fn(xj).block_until_ready()
                compile_time = time.perf_counter() - t0
                jax_rel = rel_diffs(result, np.asarray(ref))
                del ref
                fns["jax"] = lambda: fn(xj).block_until_ready()
            t = median_times(fns, repeats, warmup=1)
            row = Row(w.label, k, w.shape, result.shape, step, jaccli=t["jaccli"], plan=t["plan"],
                      plan_cold=median_time(plan_cold, max(3, repeats // 2), warmup=0), evaluate=t["evaluate"],
                      floor=t["floor"], floor_ok=floor_ok, floor_diff=floor_diff)
            row.jaccli_min, row.floor_min = t["jaccli:min"], t["floor:min"]
            if jax is not None:
                row.jax, row.jax_compile, row.jax_rel = t["jax"], compile_time, jax_rel
            p = plan()
            row.stages = eval_breakdown(p, x, step, result, repeats)
            row.prealloc = eval_breakdown(p, x, step, result, repeats, preallocate=True)
            row.instructions = sum(len(prog.kernel.program) for prog in p.derivative.programs)
            row.placements = sum(len(prog.placements) for prog in p.derivative.programs)
            rows.append(row)
            print(f"  {w.label:32s} k={k}: jaccli {row.jaccli * 1e3:8.1f} ms  floor {row.floor * 1e3:8.1f} ms"
                  + (f"  JAX {row.jax * 1e3:8.1f} ms" if row.jax is not None else ""), file=sys.stderr, flush=True)
            del result
    return rows


def cli_command() -> list[str]:
    """The ``jaccli`` console script installed next to this interpreter (not a pyenv shim, which adds ~50 ms of
    bash per call), else the one on PATH, else ``python -m jaccli``."""
    here = Path(sys.executable).parent / "jaccli"
    if here.exists():
        return [str(here)]
    exe = shutil.which("jaccli")
    return [exe] if exe else [sys.executable, "-m", "jaccli"]


def bench_cli(repeats: int) -> list[tuple[str, float, float]]:
    seed = ROOT / "samples" / "seed.csv"
    if not seed.exists():
        seed.parent.mkdir(parents=True, exist_ok=True)
        seed.write_text("4,2\n1,3\n")
    jac = cli_command()
    commands = [
        ("python -c 'import numpy'  (floor)", [sys.executable, "-c", "import numpy"]),
        ("python -c 'import numpy, sympy'", [sys.executable, "-c", "import numpy, sympy"]),
        ("python -c 'import jaccli'", [sys.executable, "-c", "import jaccli"]),
        ("jaccli --help", jac + ["--help"]),
        ("jaccli batch-jacobian 'x*x*x' samples/seed.csv --dtype float32",
         jac + ["batch-jacobian", "x*x*x", str(seed), "--dtype", "float32"]),
    ]
    shim = shutil.which("jaccli")
    if shim and Path(shim).resolve() != Path(jac[0]).resolve():
        commands.append((f"same, through PATH's `{shim}`", [shim, "batch-jacobian", "x*x*x", str(seed), "--dtype",
                                                           "float32"]))
    expected = "Tensor(\n[[[48.  0.]\n  [ 0. 12.]]\n\n [[ 3.  0.]\n  [ 0. 27.]]], shape=(2, 2, 2), dtype=float32)\n"
    out = []
    for label, cmd in commands:
        first = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)  # warm-up (disk cache, .pyc)
        if first.returncode != 0:
            raise SystemExit(f"{label} failed: {first.stderr}")
        if "batch-jacobian" in " ".join(cmd) and first.stdout != expected:
            raise SystemExit(f"{label}: unexpected output {first.stdout!r}")
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True, cwd=ROOT, check=True)
            times.append(time.perf_counter() - t0)
        out.append((label, statistics.median(times), min(times)))
    return out


def import_breakdown() -> list[tuple[str, float]]:
    """Cumulative import time (ms) of the heavy top-level packages in a ``batch-jacobian`` run (-X importtime)."""
    seed = ROOT / "samples" / "seed.csv"
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "jaccli", "batch-jacobian", "x*x*x", str(seed)],
                          capture_output=True, text=True, cwd=ROOT)
    wanted = {"numpy", "sympy", "click", "jaccli.outputs", "jaccli.run", "jaccli.engine", "jaccli.derive",
              "jaccli.cli", "jaccli"}
    found = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        name = name.strip()
        if name in wanted and name not in found:
            found[name] = int(cumulative) / 1e3
    return sorted(found.items(), key=lambda kv: -kv[1])


# ---------------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------------

def ms(t: Optional[float]) -> str:
    return "—" if t is None else (f"{t * 1e3:.1f}" if t >= 0.01 else f"{t * 1e3:.2f}")


def print_api_table(rows: list[Row], with_jax: bool) -> None:
    head = ["workload", "k", "B×S", "out MB", "jaccli (ms)", "plan (ms)", "plan cold (ms)", "eval (ms)",
            "NumPy floor (ms)", "jaccli/floor", "jaccli/floor (best rounds)", "floor ok"]
    if with_jax:
        head += ["JAX (ms)", "JAX compile (ms)", "jaccli/JAX", "max rel diff vs JAX (norm / elem)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        mb = np.prod(r.out_shape) * 8 / 2**20
        cells = [f"`{r.label}`", str(r.order), "×".join(map(str, r.shape)), f"{mb:.0f}", ms(r.jaccli), ms(r.plan),
                 ms(r.plan_cold), ms(r.evaluate), ms(r.floor), f"{r.jaccli / r.floor:.2f}",
                 f"{r.jaccli_min / r.floor_min:.2f}",
                 "yes" if r.floor_ok else f"NO ({r.floor_diff:.2g})"]
        if with_jax:
            rel = "—" if r.jax_rel is None else f"{r.jax_rel[0]:.1e} / {r.jax_rel[1]:.1e}"
            cells += [ms(r.jax), ms(r.jax_compile), f"{r.jaccli / r.jax:.2f}" if r.jax else "—", rel]
        print("| " + " | ".join(cells) + " |")


def print_breakdown_table(rows: list[Row]) -> None:
    head = ["workload", "k", "chunk (examples) × n", "kernel instrs", "placements", "jaccli (ms)", "plan",
            "input checks + other", *STAGES, "Σ eval stages", "what-if: preallocated result"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        s = r.stages
        other = r.jaccli - r.plan - sum(s.values())
        nchunks = -(-r.shape[0] // r.chunk)
        cells = [f"`{r.label}`", str(r.order), f"{r.chunk} × {nchunks}", str(r.instructions), str(r.placements),
                 ms(r.jaccli), ms(r.plan), ms(max(other, 0.0)), *(ms(s[k]) for k in STAGES),
                 ms(sum(s.values())), ms(sum(r.prealloc.values()))]
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (under a minute)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--jax", action="store_true", help="also time JAX; fail if it cannot be imported")
    group.add_argument("--no-jax", action="store_true", help="do not time JAX even when installed")
    parser.add_argument("--skip-cli", action="store_true", help="skip the subprocess (whole-process) timings")
    args = parser.parse_args()

    repeats = 3 if args.quick else 11
    cli_repeats = 3 if args.quick else 5
    jax, jnp = (None, None) if args.no_jax else load_jax(required=args.jax)

    start = time.perf_counter()
    print(f"# jaccli benchmark ({'quick' if args.quick else 'full'})\n")
    print(f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}")
    print(f"- Python {platform.python_version()}, numpy {np.__version__}, sympy {sympy.__version__}, "
          f"jaccli {jaccli.__version__}" + (f", jax {jax.__version__} ({jax.devices()[0].platform})" if jax else
                                            ", JAX: not used"))
    print(f"- median of {repeats} rounds after one warm-up round (candidates interleaved round-robin); float64 input "
          f"uniform in [-2, 2], seed 0\n")

    rows = bench_api(repeats, jax, jnp, np.random.default_rng(0))
    print("## Python API (`jaccli.batch_jacobian`)\n")
    print_api_table(rows, jax is not None)
    print("\n### Where jaccli's time goes (ms; instrumented copy of `engine.evaluate`, same chunks as the API)\n")
    print_breakdown_table(rows)
    bad = [r for r in rows if not r.floor_ok]
    if bad:
        print("\n**WARNING**: the NumPy floor disagrees with jaccli for: "
              + ", ".join(f"{r.label} k={r.order}" for r in bad))
    if jax is not None:
        worst = max(r.jax_rel[0] for r in rows if r.jax_rel)
        print(f"\njaccli vs JAX: worst normwise relative difference {worst:.1e} "
              f"({'OK, within 1e-12' if worst <= 1e-12 else 'ABOVE 1e-12'})")

    if not args.skip_cli:
        print(f"\n## Whole process (subprocess, median of {cli_repeats})\n")
        print("| command | median (ms) | min (ms) |")
        print("|---|---|---|")
        for label, med, best in bench_cli(cli_repeats):
            print(f"| `{label}` | {med * 1e3:.0f} | {best * 1e3:.0f} |")
        print("\nCumulative import time inside that `batch-jacobian` run (`python -X importtime`, one run):\n")
        print("| module | ms |")
        print("|---|---|")
        for name, t in import_breakdown():
            print(f"| `{name}` | {t:.0f} |")
    print(f"\n(total benchmark time {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
