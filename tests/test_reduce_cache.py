"""Reduced plans (``--reduce``, ``--jvp``, ``--vjp``) in the plan cache (``plan/reduced_store.py``).

A cached reduced plan gives the same bytes as a fresh one on every path (linear, triangular det through the
diagonal, dense det of full blocks, the nan rule); the key holds the reduction and the vectors' names but never
their values (a new vector with the same shape is a warm hit, with its own result); a warm run imports no SymPy;
a tampered entry is refused.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from jaccli.plan import cache
from jaccli.plan.reduced import ReducedCompiled
from jaccli.plan.reduced_store import reduced_from_data, reduced_to_data
from jaccli.plan.store import StoreError
from tests.test_plan_store import _run, assert_warm_start

RNG = np.random.default_rng(11)
POLAR = "[x[0]*cos(x[1]), x[0]*sin(x[1])]"
CASES = [  # (expression, event shape of x, -k, options)
    (POLAR, (2,), "1", ["--reduce", "det"]),  # dense: full blocks to numpy.linalg.det
    ("exp(x) * x[::-1]", (3,), "1", ["--reduce", "logabsdet"]),  # dense, slogdet pairs
    ("[x[0], x[0]*x[1], x[1]*x[2]*x[0]]", (3,), "1", ["--reduce", "det"]),  # triangular: the diagonal's product
    ("sqrt(x) * x[0]", (3,), "1", ["--reduce", "logabsdet"]),  # triangular, and the nan rule (sqrt < 0)
    ("exp(-sum(x**2)) + sqrt(x[0])", (3,), "2", ["--reduce", "trace"]),  # the Laplacian, the nan rule
    ("sum(x**4) * x", (3,), "2", ["--reduce", "diag"]),
    ("tanh(x) * v[0]", (3,), "1", ["--jvp", "v"]),  # v is per-example data
    ("sum(sin(x) * x[::-1])", (3,), "2", ["--jvp", "v"]),  # H @ v
    ("[x[0]*x[1], x[1]*x[2], x[2]*x[0]]", (3,), "1", ["--vjp", "v"]),
]


def _inputs(tmp_path, shape: tuple, b: int = 40, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(b,) + shape)
    x[5, 0] = -1.5  # sqrt of a negative: nan values, so the nan rule runs where the plan uses sqrt
    path = tmp_path / f"in{seed}.npz"
    np.savez(path, x=x, v=rng.normal(size=(b, 3)))
    return str(path)


@pytest.mark.parametrize("expr, shape, k, extra", CASES)
def test_cached_reduced_plan_gives_the_same_bytes(jaccli, tmp_path, monkeypatch, expr, shape, k, extra):
    monkeypatch.setenv("JACCLI_CACHE_DIR", str(tmp_path / "cache"))
    path = _inputs(tmp_path, shape)
    outs = []
    for run in (["--no-cache"], [], [], ["--parallel-iterations", "3", "--threads", "2"]):  # fresh, cold, warm
        for fmt in ("npy", "csv"):
            out = tmp_path / f"out.{fmt}"
            result = jaccli("batch-jacobian", expr, path, "-k", k, *extra, "-f", fmt, "-o", out, *run)
            assert result.exit_code == 0, result.stderr
            outs.append((fmt, out.read_bytes(), result.stderr))
    assert len(set(outs)) == 2  # one npy, one csv: every run the same
    (entry,) = (tmp_path / "cache").glob("plan-*.npz")
    key = json.loads(np.load(entry)["meta"].tobytes())["key"]
    assert isinstance(cache.load(key), ReducedCompiled)  # the warm runs really loaded it
    assert key["reduce"] == [extra[1] if extra[0] == "--reduce" else None, "v" if extra[0] == "--jvp" else None,
                        "v" if extra[0] == "--vjp" else None]


def test_vector_values_are_data_not_key(tmp_path):
    """A second file with other vectors of the same shape loads the cached plan (no SymPy) and uses its own v."""
    args = ["batch-jacobian", "sum(sin(x) * x[::-1])", "-k", "2", "--jvp", "v", "-f", "json"]
    first, second = _inputs(tmp_path, (3,), seed=1), _inputs(tmp_path, (3,), seed=2)
    cold = _run(args[:2] + [first] + args[2:], tmp_path / "cache")
    warm = _run(args[:2] + [second] + args[2:], tmp_path / "cache")
    assert cold.returncode == 0 and warm.returncode == 0, warm.stderr
    assert warm.stderr.decode().endswith("SYMPY=False\n")
    fresh = _run(args[:2] + [second] + args[2:] + ["--no-cache"], tmp_path / "cache")
    assert warm.stdout == fresh.stdout != cold.stdout


@pytest.mark.parametrize("extra", [["--reduce", "trace", "-k", "2"], ["--reduce", "logabsdet", "-f", "csv"],
                                   ["--vjp", "x"]])
def test_warm_reduced_call_does_not_import_sympy(tmp_path, extra):
    assert_warm_start(["batch-jacobian", "x*x*x + sum(x)", "samples/seed.csv", *extra], tmp_path)


def _stored(expr: str = "sum(sin(x) * x[::-1]) * x", reduce: tuple = ("trace", None, None)) -> tuple[dict, dict]:
    plan = cache.plan_cached(expr, {"x": ((3,), np.float64)}, order=2, reduce=reduce, use_cache=False)
    meta, arrays = reduced_to_data(plan)
    return json.loads(json.dumps(meta)), {k: np.array(v) for k, v in arrays.items()}


def _tamper(meta: dict, arrays: dict, what: str) -> None:
    target = meta["groups"][0]["targets"][0]
    name = next(k for k in arrays if k.startswith("r0.t0.unique"))
    if what == "kind":
        meta["kind"] = "eval"
    elif what == "unique":
        arrays[name] = arrays[name] + 10**6
    elif what == "repeat":
        arrays[name] = np.zeros_like(arrays[name]) if len(arrays[name]) > 1 else arrays[name] - 1
    elif what == "part":
        target["part"] = 99
    elif what == "weights":
        target["weights"] = ["nowhere"]
    elif what == "block":
        meta["block"] = 7
    elif what == "dense":
        meta["dense"] = True
    elif what == "op":
        meta["groups"][0]["code"][0][0] = "__import__"
    elif what == "names":
        meta["names"] = meta["names"] + ["extra"]


@pytest.mark.parametrize("what", ["kind", "unique", "repeat", "part", "weights", "block", "dense", "op", "names"])
def test_malformed_reduced_plans_are_refused(what):
    meta, arrays = _stored()
    assert isinstance(reduced_from_data(meta, arrays), ReducedCompiled)
    _tamper(meta, arrays, what)
    with pytest.raises(StoreError):
        reduced_from_data(meta, arrays)


def test_the_reduction_is_part_of_the_key():
    base = dict(scalars={}, defines={}, columns=None, row=None, wrt="x", order=2, dtype="auto")
    keys = [cache.plan_key("sum(x**3)", {"x": ((2,), "<f8")}, reduce=r, **base)
            for r in (None, (None, None, None), ("trace", None, None), ("diag", None, None), (None, "x", None),
                      (None, None, "x"))]
    assert keys[0] == keys[1]  # nothing asked: the plain plan's key
    assert len({cache._path(k) for k in keys}) == 5


@pytest.mark.parametrize("expr, order, reduce", [
    ("sum(sin(x) * x[::-1]) * x", 2, ("trace", None, None)),
    ("sum(x**4) * x", 2, ("diag", None, None)),
    ("[x[0], x[0]*x[1], x[1]*x[2]*x[0]]", 1, ("det", None, None)),
    ("sum(sin(x) * x[::-1])", 2, (None, "v", None)),
    ("[x[0]*x[1], x[1]*x[2], x[2]*x[0]]", 1, (None, None, "v")),
])
def test_a_loaded_reduced_plan_writes_as_the_fresh_one(expr, order, reduce):
    """Every target's write mode (assign or add) and ``in_order`` are the same fresh and from the cache (one
    rule, ``reduced.make_target``), and so are the shape and layout the plan reports."""
    plan = cache.plan_cached(expr, {"x": ((3,), np.float64), "v": ((3,), np.float64)}, order=order,
                             reduce=reduce, use_cache=False)
    meta, arrays = reduced_to_data(plan)
    loaded = reduced_from_data(json.loads(json.dumps(meta)), {k: np.array(v) for k, v in arrays.items()})
    fresh = [(t.mode, t.in_order, t.unique.tolist()) for g in plan.numeric.groups for t in g.targets]
    assert fresh and fresh == [(t.mode, t.in_order, t.unique.tolist()) for g in loaded.groups for t in g.targets]
    assert (plan.example_shape, plan.layout()) == (loaded.example_shape, loaded.layout())
    assert plan.example_shape == plan.shape and plan.layout() == ["batch", *plan.names]


def test_the_write_modes_cover_assign_add_and_in_order():
    """The cases above are not vacuous: across them, targets assign, add and write in order."""
    seen = set()
    for expr, reduce in (("sum(sin(x) * x[::-1]) * x", ("trace", None, None)),
                         ("sum(sin(x) * x[::-1])", (None, "v", None))):
        plan = cache.plan_cached(expr, {"x": ((3,), np.float64), "v": ((3,), np.float64)}, order=2, reduce=reduce,
                                 use_cache=False)
        seen |= {(t.mode, t.in_order) for g in plan.numeric.groups for t in g.targets}
    assert {mode for mode, _ in seen} == {"assign", "add"} and any(in_order for _, in_order in seen)


def test_reduced_imports_no_private_name_and_no_numeric_alias():
    """``plan/reduced.py`` uses ``compiled.gather`` (public) and no module alias ``numeric`` (the name of
    ``ReducedCompiled.numeric`` and of ``jaccli/numeric.py``)."""
    import ast
    import inspect

    from jaccli.plan import reduced

    tree = ast.parse(inspect.getsource(reduced))
    names = [(node.module, a.name, a.asname) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             for a in node.names]
    assert not [n for n in names if n[1].startswith("_") and n[1] != "annotations"]
    assert "numeric" not in {asname or name for _, name, asname in names}
    assert ("jaccli.plan.compiled", "gather", None) in names
