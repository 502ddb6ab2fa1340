"""Plans as data (plan/store.py), the plan cache (plan/cache.py) and the SymPy-free op table (numeric.py).

A stored plan must evaluate to the same bits as the plan it came from; anything malformed, tampered with or
foreign must be refused (and, in the cache, rebuilt); and a warm CLI call must not import SymPy at all.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jaccli import batch_jacobian
from jaccli.functions import ROWS
from jaccli.numeric import ARITY, NUMPY
from jaccli.plan import cache
from jaccli.plan.compiled import Compiled
from jaccli.expr.scope import make_scope
from jaccli.plan.engine import evaluate, plan_jacobian
from jaccli.plan.store import StoreError, plan_from_data, plan_to_data

ROOT = Path(__file__).resolve().parent.parent
CASES = [
    ("x*x*x", {"x": (2,)}, 2),
    ("[x[0]*cos(x[1]), x[0]*sin(x[1])]", {"x": (2,)}, 1),
    ("logsumexp(x) + sum(sigmoid(x) * x[::-1])", {"x": (5,)}, 2),
    ("tanh(dot(W, x) + b)", {"x": (4,), "W": (3, 4), "b": (3,)}, 2),
    ("x * x[::-1] + norm(x) ** -0.5", {"x": (3, 2)}, 3),
]


def _arrays(shapes: dict, b: int = 7, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=(b,) + s) for k, s in shapes.items()}


def _round_trip(plan) -> Compiled:
    meta, arrays = plan_to_data(plan)
    meta = json.loads(json.dumps(meta))  # really JSON
    return plan_from_data(meta, {k: np.array(v) for k, v in arrays.items()})


@pytest.mark.parametrize("expr, shapes, order", CASES)
def test_stored_plan_gives_the_same_bits(expr, shapes, order):
    plan = plan_jacobian(expr, make_scope(shapes), order, np.dtype(np.float64))
    loaded = _round_trip(plan)
    arrays = _arrays(shapes)
    want = evaluate(plan, arrays)
    got = evaluate(loaded, arrays)
    assert got.tobytes() == want.tobytes()
    assert loaded.example_shape == plan.example_shape and loaded.layout() == plan.layout()
    assert loaded.connected == plan.connected and loaded.dtype == plan.dtype


def test_float32_plan_round_trips():
    plan = plan_jacobian("x*x*x", make_scope({"x": (2,)}), 1, np.dtype(np.float32))
    loaded = _round_trip(plan)
    x = {"x": np.array([[4, 2], [1, 3]], np.float32)}
    assert evaluate(loaded, x).dtype == np.float32
    assert evaluate(loaded, x).tolist() == [[[48, 0], [0, 12]], [[3, 0], [0, 27]]]


def _tamper(meta: dict, arrays: dict, what: str) -> None:
    g = meta["groups"][0]
    if what == "op":
        g["code"][0][0] = "__import__"
    elif what == "arity":
        g["code"][0][1].append(0)
    elif what == "register":
        g["code"][0][1][0] = 10**6
    elif what == "output":
        g["outputs"][0] = 10**6
    elif what == "dst":
        arrays["g0.step0.dst"] = arrays["g0.step0.dst"] + 10**6
    elif what == "src":
        arrays["g0.step0.src"] = arrays["g0.step0.src"] + 10**6
    elif what == "slot":
        arrays["g0.slot0"] = arrays["g0.slot0"] - 10**6
    elif what == "missing":
        del arrays["g0.consts"]
    elif what == "dtype":
        arrays["g0.slot0"] = arrays["g0.slot0"].astype(np.float64)
    elif what == "mode":
        g["steps"][0] = "exec"
    elif what == "version":
        meta["version"] = 999
    elif what == "leaf":
        g["slots"][0] = "nowhere"
    elif what == "order":
        meta["order"] = "2"
    elif what == "repeat":
        dst = arrays["g0.step0.dst"]
        arrays["g0.step0.dst"] = np.zeros_like(dst)


@pytest.mark.parametrize("what", ["op", "arity", "register", "output", "dst", "src", "slot", "missing", "dtype",
                                  "mode", "version", "leaf", "order", "repeat"])
def test_malformed_plans_are_refused(what):
    plan = plan_jacobian("x[0]*sin(x[1]) + x[1]**3", make_scope({"x": (2,)}), 2, np.dtype(np.float64))
    meta, arrays = plan_to_data(plan)
    meta = json.loads(json.dumps(meta))
    _tamper(meta, arrays, what)
    with pytest.raises(StoreError):
        plan_from_data(meta, arrays)


def _key(expr: str = "x*x*x") -> dict:
    return cache.plan_key(expr, {"x": ((2,), "<f8")}, scalars={}, defines={}, columns=None, row=None, wrt="x",
                          order=2, dtype="auto")


def test_cache_miss_then_hit_same_bits(tmp_path, monkeypatch):
    monkeypatch.setenv("JACCLI_CACHE_DIR", str(tmp_path))
    args = ("sin(x) * a + x[0]**n", {"x": ((3,), np.float64)})
    kw = dict(defines={"a": 2.5, "n": 3}, order=2)
    cold = cache.plan_cached(*args, **kw)
    assert not isinstance(cold, Compiled) and len(list(tmp_path.glob("plan-*.npz"))) == 1
    warm = cache.plan_cached(*args, **kw)
    assert isinstance(warm, Compiled)
    x = _arrays({"x": (3,)})
    assert evaluate(warm, x).tobytes() == evaluate(cold, x).tobytes()
    other = cache.plan_cached(*args, defines={"a": 2.5, "n": 3.0}, order=2)  # float 3.0 is another constant
    assert not isinstance(other, Compiled) and len(list(tmp_path.glob("plan-*.npz"))) == 2


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "foreign-key", "pickle"])
def test_corrupt_cache_entries_are_rebuilt(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("JACCLI_CACHE_DIR", str(tmp_path))
    cache.plan_cached("x*x*x", {"x": ((2,), np.float64)}, order=2)
    (entry,) = tmp_path.glob("plan-*.npz")
    data = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        entry.write_bytes(os.urandom(len(data)))
    elif damage == "empty":
        entry.write_bytes(b"")
    elif damage == "foreign-key":  # a valid entry for another expression, under this one's name
        cache.save(_key("x*x"), plan_jacobian("x*x", make_scope({"x": (2,)}), 2, np.dtype(np.float64)))
        (other,) = [p for p in tmp_path.glob("plan-*.npz") if p != entry]
        os.replace(other, entry)
    elif damage == "pickle":
        np.savez(entry, meta=np.array([{"evil": 1}], dtype=object))
    assert cache.load(_key()) is None
    rebuilt = cache.plan_cached("x*x*x", {"x": ((2,), np.float64)}, order=2)
    assert not isinstance(rebuilt, Compiled)
    assert isinstance(cache.load(_key()), Compiled)  # and stored again, valid


def test_unwritable_cache_dir_just_skips_caching(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("JACCLI_CACHE_DIR", str(blocker / "cache"))
    plan = cache.plan_cached("x*x*x", {"x": ((2,), np.float64)}, order=1)
    assert plan.example_shape == (2, 2)


def test_every_row_runs_its_sympy_free_implementation():
    for row in ROWS:  # one implementation per function: the row takes it from numeric.py, by name
        assert row.numpy is NUMPY[row.name], row.name
        assert ARITY[row.name] == row.nargs, row.name


def _run(args: list[str], cache_dir: Path, probe: bool = False) -> subprocess.CompletedProcess:
    env = dict(os.environ, JACCLI_CACHE_DIR=str(cache_dir), PYTHONPATH=str(ROOT))
    code = ("import sys, runpy; sys.argv = ['jaccli'] + sys.argv[1:]\n"
            "try:\n    runpy.run_module('jaccli', run_name='__main__')\n"
            "finally:\n    sys.stderr.write('SYMPY=%s\\n' % ('sympy' in sys.modules))\n")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, timeout=120)


def test_warm_cli_call_does_not_import_sympy(tmp_path):
    assert_warm_start(["batch-jacobian", "x*x*x", "samples/seed.csv", "--dtype", "float32", "-k", "2"], tmp_path)


def assert_warm_start(args: list[str], tmp_path: Path) -> None:
    """A cold run imports SymPy and stores the plan; the warm run loads it, imports no SymPy, same output."""
    cold, warm = _run(args, tmp_path), _run(args, tmp_path)
    assert cold.returncode == 0 and warm.returncode == 0, warm.stderr
    assert cold.stderr.decode().endswith("SYMPY=True\n")
    assert warm.stderr.decode().endswith("SYMPY=False\n")
    assert warm.stdout == cold.stdout
    bypass = _run(args + ["--no-cache"], tmp_path)
    assert bypass.stdout == cold.stdout and bypass.stderr.decode().endswith("SYMPY=True\n")


def test_cache_key_follows_parameter_bytes_and_file_content(tmp_path, monkeypatch):
    monkeypatch.setenv("JACCLI_CACHE_DIR", str(tmp_path / "cache"))
    arrays = {"x": ((3,), np.float64)}
    w = np.arange(6.0).reshape(2, 3)
    first = cache.plan_cached("tanh(dot(W, x))", arrays, params={"W": w}, order=2)
    again = cache.plan_cached("tanh(dot(W, x))", arrays, params={"W": w.copy()}, order=2)
    other = cache.plan_cached("tanh(dot(W, x))", arrays, params={"W": w + 1}, order=2)
    assert not isinstance(first, Compiled) and isinstance(again, Compiled) and not isinstance(other, Compiled)
    x = _arrays({"x": (3,)})
    assert evaluate(again, x).tobytes() == evaluate(first, x).tobytes()
    model = tmp_path / "model.jx"
    model.write_text("sin(x) * 2\n")
    assert not isinstance(cache.plan_cached(f"@{model}", arrays), Compiled)
    assert isinstance(cache.plan_cached(f"@{model}", arrays), Compiled)
    model.write_text("sin(x) * 3\n")  # same name, new content: a new plan
    changed = cache.plan_cached(f"@{model}", arrays)
    assert not isinstance(changed, Compiled)
    assert np.allclose(evaluate(changed, x), np.cos(x["x"])[:, :, None] * 3 * np.eye(3))


def test_the_cache_key_changes_with_the_planner_source(monkeypatch, tmp_path):
    """A rule fixed in functions.py (or plan/, expr/) must not meet a plan cached before the fix."""
    from jaccli.plan import cache

    key = cache.plan_key("x*x", {"x": ((2,), "<f8")}, scalars={}, defines={}, columns=None, row=None, wrt="x",
                         order=1, dtype="float64")
    assert key["rules"] == cache.rules_fingerprint() and len(key["rules"]) == 24
    monkeypatch.setattr(cache, "rules_fingerprint", lambda: "0" * 24)
    other = cache.plan_key("x*x", {"x": ((2,), "<f8")}, scalars={}, defines={}, columns=None, row=None, wrt="x",
                           order=1, dtype="float64")
    assert cache._path(key) != cache._path(other)


@pytest.mark.parametrize("exact, rounded", [(-1, -1.0), (3, 3.0), (0.0, -0.0)])
def test_the_api_keeps_equal_numbers_of_another_type_apart(exact, rounded):
    """``-1 == -1.0`` (equal hashes too), but an int exponent stays exact and a float one does not, and the sign
    of zero reaches atan2: the API's in-memory plan cache must not hand one's plan to the other. The reference
    is a plan made with the cache emptied, so it cannot have seen the other number."""
    from jaccli.api import _plan

    x = np.random.default_rng(1).uniform(0.5, 2.0, (300, 3))
    expression = "x**a + atan2(a, x)"
    _plan.cache_clear()
    fresh = batch_jacobian(expression, x, 2, constants={"a": rounded})
    _plan.cache_clear()
    batch_jacobian(expression, x, 2, constants={"a": exact})  # now in the cache
    assert batch_jacobian(expression, x, 2, constants={"a": rounded}).tobytes() == fresh.tobytes()
