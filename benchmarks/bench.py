#!/usr/bin/env python
"""Speed of ``jaccli.batch_jacobian`` against the cheapest possible NumPy work, and (optionally) JAX.

    python benchmarks/bench.py            # full run (~1-2 minutes on 2 cores)
    python benchmarks/bench.py --quick    # fewer repeats (< 1 minute)
    python benchmarks/bench.py --jax      # insist on JAX (error if it cannot be imported)
    python benchmarks/bench.py --no-jax   # skip JAX even when it is installed

For every workload (expression, batch shape B x S, order k) it reports, in milliseconds, medians over N rounds
after one warm-up round; in each round every candidate runs once (round-robin, ``time.perf_counter``), so that
load from other processes hits all of them alike. "best rounds" ratios use the minimum instead of the median.

- ``jaccli``:     ``jaccli.batch_jacobian(expr, x, k)``, the whole Python API call.
- ``plan warm``:  ``engine.plan_jacobian`` alone (parse -> tape -> SymPy derive -> kernels), SymPy's caches hot,
                  as in every call after the first in a process.
- ``plan cold``:  the same after ``sympy.core.cache.clear_cache()`` (what the CLI pays once per process).
- ``eval``:       time spent in ``engine.evaluate`` during the call (from the breakdown below).
- ``floor``:      a hand-written NumPy evaluation of the closed-form derivative (common subexpressions computed
                  once), written into a preallocated ``np.zeros`` output of the full result shape.
- ``JAX``:        ``jax.jit(jax.vmap(jacfwd^k(f)))`` in float64, after compilation (``compile`` = first call:
                  trace + XLA compile + one run).

The breakdown table times the stages of real ``batch_jacobian`` calls by wrapping, at runtime, the functions the
call goes through (``inputs.batch.check_finite``, ``api._plan`` (cached planning), ``engine.evaluate``, ``engine._gather``,
``Program.fill``, ``compiled._apply``); nothing in ``jaccli/`` is edited, and a function that no longer exists
just shows no time.

Correctness is checked before anything is reported: the floor must ``np.allclose`` jaccli's result (rtol = atol =
1e-12; so the floor computes the same thing), the instrumented call must equal the plain one bit for bit, and
jaccli must agree with JAX (``max rel``: normwise max|a-b| / max|b|, and elementwise where entries are not tiny).
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

os.environ.setdefault("JACCLI_THREADS", "1")  # stage timers add up per call; benchmarks/perf.py times threads
import jaccli  # noqa: E402
import sympy
from jaccli.expr.scope import make_scope
from jaccli.plan.engine import plan_jacobian, resolve_dtype

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


def plan_pieces(expression: str, x: np.ndarray, order: int):
    """The API's planning half (see jaccli/api.py): warm (SymPy caches hot) and cold (caches cleared)."""
    scope = make_scope({"x": x.shape[1:]}, row="x", wrt="x")

    def plan():
        return plan_jacobian(expression, scope, order, resolve_dtype("auto", x.dtype))

    def plan_cold():
        sympy.core.cache.clear_cache()
        return plan()

    return plan, plan_cold


STAGES = ("checks", "plan", "gather", "kernel", "scatter", "eval other", "api other")
STAGE_NOTES = {
    "checks": "`inputs.batch.check_finite` (input validation, per chunk)",
    "plan": "`api._plan` inside the call (planning, cached after the first call)",
    "gather": "`compiled._gather`: slot inputs from the chunk",
    "kernel": "`Program.fill`: the NumPy program of the derivative formulas, into each group's value block",
    "scatter": "`compiled._apply`: writing blocks into the result (pays the result's first-touch page faults)",
    "eval other": "rest of `engine.evaluate`: output allocation/reshape, finite checks, NaN canonicalisation",
    "api other": "rest of `batch_jacobian`: result `np.zeros`, scope, chunk loop",
}


class StageTimer:
    """Times the stages of real ``jaccli.batch_jacobian`` calls by wrapping, at runtime, the functions the code
    path goes through (module attributes and ``Kernel.__call__``); nothing in ``jaccli/`` is edited. A function
    that does not exist (the code changed) simply shows no time."""

    TARGETS = [("checks", "jaccli.io.inputs.batch", "check_finite"), ("plan", "jaccli.api", "_plan"),
               ("evaluate", "jaccli.plan.engine", "evaluate"), ("gather", "jaccli.plan.compiled", "_gather"),
               ("kernel", "jaccli.plan.program", "Program.fill"), ("scatter", "jaccli.plan.compiled", "_apply")]

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.saved: list[tuple[object, str, object]] = []

    def _wrap(self, stage: str, owner: object, name: str) -> None:
        fn = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
        if fn is None:
            return
        spent = self.spent

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[stage] = spent.get(stage, 0.0) + time.perf_counter() - t0

        self.saved.append((owner, name, fn))
        setattr(owner, name, timed)

    def __enter__(self) -> "StageTimer":
        import importlib

        for stage, module, path in self.TARGETS:
            owner: object = importlib.import_module(module)
            *parents, name = path.split(".")
            for parent in parents:
                owner = getattr(owner, parent, None)
            if owner is not None:
                self._wrap(stage, owner, name)
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, fn in reversed(self.saved):
            setattr(owner, name, fn)
        self.saved.clear()


def stage_breakdown(call: Callable[[], np.ndarray], expected: np.ndarray, repeats: int) -> dict[str, float]:
    """Median seconds per stage over ``repeats`` instrumented calls (after one warm-up), checked bit for bit."""
    samples: dict[str, list[float]] = {s: [] for s in STAGES + ("total", "evaluate")}
    with StageTimer() as timer:
        for i in range(repeats + 1):
            timer.spent.clear()
            t0 = time.perf_counter()
            result = call()
            total = time.perf_counter() - t0
            if i == 0:
                if not np.array_equal(result, expected, equal_nan=True):
                    raise AssertionError("instrumented call differs from the plain one")
                continue
            del result
            got = dict(timer.spent)
            ev = got.get("evaluate", 0.0)
            inner = sum(got.get(k, 0.0) for k in ("gather", "kernel", "scatter"))
            got["eval other"] = max(ev - inner, 0.0) if "evaluate" in got else 0.0
            got["api other"] = max(total - ev - got.get("checks", 0.0) - got.get("plan", 0.0), 0.0)
            got["total"] = total
            for stage in samples:
                samples[stage].append(got.get(stage, 0.0))
    return {s: statistics.median(v) for s, v in samples.items()}


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
    jaccli_min: float
    plan: float
    plan_cold: float
    floor: float
    floor_min: float
    floor_ok: bool
    floor_diff: float
    stages: dict
    instructions: int
    placements: int
    jax: Optional[float] = None
    jax_compile: Optional[float] = None
    jax_rel: Optional[tuple[float, float]] = None


def bench_api(repeats: int, jax, jnp, rng: np.random.Generator) -> list[Row]:
    rows = []
    for w in WORKLOADS:
        x = rng.uniform(-2.0, 2.0, size=w.shape)
        for k in w.orders:
            def call(w=w, x=x, k=k):
                return jaccli.batch_jacobian(w.expression, x, order=k)

            def floor(w=w, x=x, k=k):
                return w.floor(x, k)

            result = call()  # warm-up, and the reference for every check below
            expected = floor()
            assert expected.shape == result.shape, (w.label, k, expected.shape, result.shape)
            floor_ok = bool(np.allclose(expected, result, rtol=1e-12, atol=1e-12))
            floor_diff = float(np.max(np.abs(expected - result)))
            del expected
            plan, plan_cold = plan_pieces(w.expression, x, k)
            fns = {"jaccli": call, "floor": floor, "plan": plan}
            compile_time = jax_rel = None
            if jax is not None:
                fn, xj = jax_batch_jacobian(jax, w.jax_f(jnp), k), jnp.asarray(x)
                t0 = time.perf_counter()
                ref = fn(xj).block_until_ready()
                compile_time = time.perf_counter() - t0
                jax_rel = rel_diffs(result, np.asarray(ref))
                del ref
                fns["jax"] = lambda fn=fn, xj=xj: fn(xj).block_until_ready()
            t = median_times(fns, repeats, warmup=1)
            p = plan()
            row = Row(w.label, k, w.shape, result.shape, p.chunk_size(None),
                      jaccli=t["jaccli"], jaccli_min=t["jaccli:min"], plan=t["plan"],
                      plan_cold=median_time(plan_cold, max(3, repeats // 2), warmup=0),
                      floor=t["floor"], floor_min=t["floor:min"], floor_ok=floor_ok, floor_diff=floor_diff,
                      stages=stage_breakdown(call, result, repeats),
                      instructions=sum(len(prog.kernel.program) for prog in p.derivative.programs),
                      placements=sum(len(prog.placements) for prog in p.derivative.programs))
            if jax is not None:
                row.jax, row.jax_compile, row.jax_rel = t["jax"], compile_time, jax_rel
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
    wanted = {"numpy", "sympy", "click", "jaccli.io.outputs", "jaccli.job", "jaccli.plan.engine", "jaccli.plan.derive",
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
    head = ["workload", "k", "B×S", "out MB", "jaccli (ms)", "plan warm (ms)", "plan cold (ms)", "eval (ms)",
            "NumPy floor (ms)", "jaccli/floor", "jaccli/floor (best rounds)", "floor ok"]
    if with_jax:
        head += ["JAX (ms)", "JAX compile (ms)", "jaccli/JAX", "max rel diff vs JAX (norm / elem)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        mb = np.prod(r.out_shape) * 8 / 2**20
        cells = [f"`{r.label}`", str(r.order), "×".join(map(str, r.shape)), f"{mb:.0f}", ms(r.jaccli), ms(r.plan),
                 ms(r.plan_cold), ms(r.stages["evaluate"]), ms(r.floor), f"{r.jaccli / r.floor:.2f}",
                 f"{r.jaccli_min / r.floor_min:.2f}", "yes" if r.floor_ok else f"NO ({r.floor_diff:.2g})"]
        if with_jax:
            rel = "—" if r.jax_rel is None else f"{r.jax_rel[0]:.1e} / {r.jax_rel[1]:.1e}"
            cells += [ms(r.jax), ms(r.jax_compile), f"{r.jaccli / r.jax:.2f}" if r.jax else "—", rel]
        print("| " + " | ".join(cells) + " |")


def print_breakdown_table(rows: list[Row]) -> None:
    head = ["workload", "k", "chunk × n", "kernel instrs", "placements", "instrumented total", *STAGES]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        s = r.stages
        nchunks = -(-r.shape[0] // r.chunk)
        cells = [f"`{r.label}`", str(r.order), f"{r.chunk} × {nchunks}", str(r.instructions), str(r.placements),
                 ms(s["total"]), *(ms(s[k]) for k in STAGES)]
        print("| " + " | ".join(cells) + " |")
    print()
    for stage in STAGES:
        print(f"- {stage}: {STAGE_NOTES[stage]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (under a minute)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--jax", action="store_true", help="also time JAX; fail if it cannot be imported")
    group.add_argument("--no-jax", action="store_true", help="do not time JAX even when installed")
    parser.add_argument("--skip-cli", action="store_true", help="skip the subprocess (whole-process) timings")
    args = parser.parse_args()

    repeats = 3 if args.quick else 21
    cli_repeats = 3 if args.quick else 5
    jax, jnp = (None, None) if args.no_jax else load_jax(required=args.jax)

    start = time.perf_counter()
    print(f"# jaccli benchmark ({'quick' if args.quick else 'full'})\n")
    print(f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}")
    print(f"- Python {platform.python_version()}, numpy {np.__version__}, sympy {sympy.__version__}, "
          f"jaccli {jaccli.__version__}" + (f", jax {jax.__version__} ({jax.devices()[0].platform})" if jax else
                                            ", JAX: not used"))
    print("- load average at start (1/5/15 min): " + " / ".join(f"{v:.2f}" for v in os.getloadavg())
          + " (other processes share the 2 cores: compare ratios, not absolute times, across runs)")
    print(f"- median of {repeats} rounds after one warm-up round (candidates interleaved round-robin); float64 input "
          f"uniform in [-2, 2], seed 0\n")

    rows = bench_api(repeats, jax, jnp, np.random.default_rng(0))
    print("## Python API (`jaccli.batch_jacobian`)\n")
    print_api_table(rows, jax is not None)
    print("\n### Where jaccli's time goes (ms, medians of instrumented `batch_jacobian` calls)\n")
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
        print(f"\n## Whole process (subprocess, median of {cli_repeats}; jaccli = `{' '.join(cli_command())}`)\n")
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
