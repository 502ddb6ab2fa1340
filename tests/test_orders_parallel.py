"""Several orders (``-k 0,1,2``) on the thread pool and in the plan cache: threads, chunk sizes and a cached plan
move time, never bits. Every thread count, chunking and cold or warm plan gives the same bytes, the same
non-finite counts and the same first ``--strict`` error; a warm several-orders run imports no SymPy."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

import jaccli
from jaccli import api
from jaccli.plan import cache, parallel
from jaccli.plan.compiled import Compiled
from jaccli.plan.orders_plan import OrdersPlan, orders_from_data, orders_to_data
from jaccli.plan.store import StoreError
from tests.conftest import assert_error
from tests.test_plan_store import assert_warm_start

CASES = [
    ("[x[0]*cos(x[1]), x[0]*sin(x[1])]", (2,), (0, 1, 2)),
    ("sqrt(x[0]) * x[1] + exp(x[2]) / (1 + x[0]**2)", (3,), (0, 1, 2)),  # nan rule (sqrt of negatives), overflow
    ("sqrt(x[0]) * x[1] + exp(x[2]) / (1 + x[0]**2)", (3,), (1, 2)),  # the nan rule from the separate value plan
    ("logsumexp(x) + sum(sin(x) * x[::-1])", (5,), (0, 2)),
]


def _x(shape: tuple, b: int = 301) -> np.ndarray:
    x = np.random.default_rng(5).normal(size=(b,) + shape) * 3
    x.reshape(b, -1)[::17, -1] = 800.0  # exp overflows on some rows: inf values and the rescue path
    return x


pytestmark = pytest.mark.usefixtures("small_batches_use_threads")


@pytest.fixture
def pools(monkeypatch) -> list[int]:
    """The thread counts ``ordered_map`` was asked for (to see that several orders really use the pool)."""
    seen: list[int] = []
    real = parallel.ordered_map

    def recording(fn, items, threads):
        seen.append(threads)
        return real(fn, items, threads)

    monkeypatch.setattr(parallel, "ordered_map", recording)
    monkeypatch.setattr(api, "ordered_map", recording)
    return seen


@pytest.mark.parametrize("expr, shape, orders", CASES)
def test_api_bit_identical_for_every_thread_count_and_chunking(expr, shape, orders, pools):
    x = _x(shape)
    want = jaccli.batch_jacobian(expr, x, orders, threads=1, parallel_iterations=x.shape[0])
    for threads in (1, 2, 3):
        for chunk in (None, 1, 7, 64):
            got = jaccli.batch_jacobian(expr, x, orders, threads=threads, parallel_iterations=chunk)
            assert list(got) == list(orders)
            for k in orders:
                assert got[k].tobytes() == want[k].tobytes(), (k, threads, chunk)
    assert 3 in pools  # the pool ran, not a loop on one thread
    alone = jaccli.batch_jacobian(expr, x, orders, pfor=False, threads=2)
    assert all(alone[k].tobytes() == want[k].tobytes() for k in orders)


def _npz_runs(jaccli_cli, tmp_path, args: list[str], variants: list[list[str]]) -> list[tuple[bytes, str]]:
    outs = []
    for i, extra in enumerate(variants):
        path = tmp_path / f"out{i}.npz"
        result = jaccli_cli(*args, "-f", "npz", "-o", path, *extra)
        assert result.exit_code == 0, result.stderr
        outs.append((path.read_bytes(), result.stderr))
    return outs


VARIANTS = [["--threads", "1"], ["--threads", "2", "--parallel-iterations", "13"], ["--threads", "3",
            "--parallel-iterations", "1"], ["--no-cache", "--threads", "2"], [], ["--threads", "2"]]


def test_cli_threads_chunks_and_cache_give_the_same_bytes(jaccli, tmp_path, pools):
    """Cold (``--no-cache``), stored, then loaded: npz and text the same, the non-finite warning too."""
    path = tmp_path / "x.npy"
    np.save(path, _x((3,), 400))
    args = ["batch-jacobian", "sqrt(x[0]) * x[1] + exp(x[2]) / (1 + x[0]**2)", str(path), "-k", "0,1,2"]
    outs = _npz_runs(jaccli, tmp_path, args, VARIANTS)
    assert all(o == outs[0] for o in outs) and "warning:" in outs[0][1]
    assert 2 in pools and 3 in pools
    texts = {jaccli(*args, "--threads", t, "--parallel-iterations", c).stdout for t in "12" for c in ("5", "400")}
    assert len(texts) == 1


def test_strict_reports_the_same_first_error_for_every_thread_count(jaccli, tmp_path):
    x = np.abs(_x((2,), 300)) + 1
    x[211, 0] = -4.0  # sqrt of a negative: the first non-finite value, in a late chunk
    x[260, 1] = -1.0
    path = tmp_path / "x.npy"
    np.save(path, x)
    for threads, chunk in (("1", "300"), ("2", "7"), ("3", "1"), ("2", "64")):
        result = jaccli("batch-jacobian", "sqrt(x[0]) + sqrt(x[1])", path, "-k", "0-2", "--strict",
                        "--threads", threads, "--parallel-iterations", chunk, "-f", "json")
        assert_error(result, 4, "non-finite result in order 0 at index (211,)")


@pytest.mark.parametrize("orders", [(0, 1, 2), (1, 2), (2,)])
def test_cached_orders_plan_gives_the_same_bits(tmp_path, monkeypatch, orders):
    monkeypatch.setenv("JACCLI_CACHE_DIR", str(tmp_path))
    args = ("sqrt(x[0]) * W[0] + tanh(dot(W, x))[1]", {"x": ((3,), np.float64)})
    kw = dict(order=orders if len(orders) > 1 else orders[0], params={"W": np.arange(6.0).reshape(2, 3) / 7})
    cold = cache.plan_cached(*args, **kw)
    warm = cache.plan_cached(*args, **kw)
    if len(orders) == 1:
        assert isinstance(warm, Compiled)  # one order: the plan of old, not an OrdersPlan
        return
    assert isinstance(cold, OrdersPlan) and not isinstance(cold.plan, Compiled)
    assert isinstance(warm, OrdersPlan) and isinstance(warm.plan, Compiled) and warm.orders == orders
    x = {"x": _x((3,), 50)}
    x["x"][3, 0] = -1.0  # the nan rule
    assert warm.evaluate(x).tobytes() == cold.evaluate(x).tobytes()
    assert all(w.example_shape == c.example_shape and w.layout() == c.layout() and w.connected == c.connected
               for w, c in zip(warm.parts.values(), cold.parts.values()))
    assert len(list(tmp_path.glob("plan-*.npz"))) == 1


def test_orders_are_part_of_the_key():
    key = dict(scalars={}, defines={}, columns=None, row=None, wrt="x", dtype="auto")
    paths = {cache._path(cache.plan_key("x*x*x", {"x": ((2,), "<f8")}, order=order, **key))
             for order in (2, (2,), (0, 1, 2), (1, 2), (2, 1))}
    assert len(paths) == 5


def _stored(orders: tuple[int, ...] = (1, 2)) -> tuple[dict, dict]:
    plan = cache.plan_cached("sqrt(x[0]) * x[1]", {"x": ((2,), np.float64)}, order=orders, use_cache=False)
    meta, arrays = orders_to_data(plan)
    return json.loads(json.dumps(meta)), {k: np.array(v) for k, v in arrays.items()}


@pytest.mark.parametrize("what", ["format", "orders", "repeated", "part-order", "part-shape", "value-order",
                                  "part-groups", "missing-part"])
def test_malformed_orders_plans_are_refused(what):
    meta, arrays = _stored()
    orders_from_data(meta, arrays)  # as stored: fine
    if what == "format":
        meta["format"] = "jaccli-plan"
    elif what == "orders":
        meta["orders"] = [1, "2"]
    elif what == "repeated":
        meta["orders"] = [1, 1]
    elif what == "part-order":
        meta["parts"][0]["order"] = 2
    elif what == "part-shape":
        meta["parts"][1]["shape"] = [1, 2, 2]
    elif what == "value-order":
        meta["value"]["order"] = 1
    elif what == "part-groups":
        meta["parts"][0]["groups"] = meta["plan"]["groups"]
    elif what == "missing-part":
        meta["parts"].pop()
    with pytest.raises(StoreError):
        orders_from_data(meta, arrays)


def test_a_corrupt_orders_entry_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("JACCLI_CACHE_DIR", str(tmp_path))
    cache.plan_cached("x*x*x", {"x": ((2,), np.float64)}, order=(0, 1))
    (entry,) = tmp_path.glob("plan-*.npz")
    entry.write_bytes(entry.read_bytes()[:200])
    again = cache.plan_cached("x*x*x", {"x": ((2,), np.float64)}, order=(0, 1))
    assert isinstance(again, OrdersPlan) and not isinstance(again.plan, Compiled)
    assert isinstance(cache.plan_cached("x*x*x", {"x": ((2,), np.float64)}, order=(0, 1)).plan, Compiled)


def test_warm_several_orders_call_does_not_import_sympy(tmp_path):
    assert_warm_start(["batch-jacobian", "x*x*x", "samples/seed.csv", "-k", "0,1,2", "--threads", "2"], tmp_path)


@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("chunk", ["1", "2", "1000"])
def test_the_first_non_finite_value_is_the_first_example_s_for_every_chunking(jaccli, tmp_path, threads, chunk):
    """Example 0 is non-finite only in order 1 (sqrt' at 0), example 1 in order 0 (1/(x-2) at 2): the first
    example wins over the lower order, whether or not the two share a chunk."""
    path = tmp_path / "z.csv"
    path.write_text("x\n0\n2\n")
    args = ["batch-jacobian", "1/(x-2) + sqrt(x)", path, "-k", "0,1", "-f", "json",
            "--threads", threads, "--parallel-iterations", chunk]
    assert_error(jaccli(*args, "--strict"), 4, "non-finite result in order 1 at index (0,)")
    warned = jaccli(*args)
    assert warned.exit_code == 0
    assert "3 of 4 result values are not finite (nan or inf), the first in order 1 at index (0,)" in warned.stderr
    both = tmp_path / "w.csv"  # one example non-finite in both orders: the lower order is named
    both.write_text("x\n1\n2\n")
    assert_error(jaccli(*args[:2], both, *args[3:], "--strict"), 4, "non-finite result in order 0 at index (1,)")


def test_a_part_s_value_plan_is_not_stored():
    """A part carrying a value plan of its own (the nan rule lives in the OrdersPlan's) still stores and loads:
    the store refuses a nested value under ``part{k}.``, which would make every warm run a miss."""
    plan = cache.plan_cached("sqrt(x[0]) * x[1]", {"x": ((2,), np.float64)}, order=(1, 2), use_cache=False)
    assert plan.value is not None
    for k in plan.orders:
        plan.parts[k] = replace(plan.parts[k].compiled, value=plan.value.compiled)
    meta, arrays = orders_to_data(plan)
    loaded = orders_from_data(json.loads(json.dumps(meta)), arrays)
    assert all(p.value is None for p in loaded.parts.values()) and loaded.value is not None
    x = {"x": np.array([[4.0, 1.0], [-1.0, 2.0]])}
    assert loaded.evaluate(x).tobytes() == plan.evaluate(x).tobytes()
    assert np.isnan(loaded.evaluate(x)[1]).all()  # the nan rule still holds, from the OrdersPlan's value


def test_a_nan_prone_run_without_order_0_is_a_warm_hit(tmp_path):
    assert_warm_start(["batch-jacobian", "sqrt(x) * log(x)", "samples/seed.csv", "-k", "1,2", "-f", "json"],
                      tmp_path)


def test_open_orders_refuses_a_plan_of_one_order(monkeypatch):
    """Not an assert (``python -O`` drops those): a plan of the wrong kind is an internal error, said so."""
    from jaccli import job_orders
    from jaccli.job import Options

    one = cache.plan_cached("x*x", {"x": ((2,), np.float64)}, order=1, use_cache=False)
    monkeypatch.setattr(job_orders, "open_input", lambda opts, stdin=None: (None, one))
    with pytest.raises(TypeError, match=r"internal error: orders \(0, 1\) were planned as a Plan, not an OrdersPlan"):
        job_orders.open_orders(Options(expression="x*x", input="samples/seed.csv", orders=(0, 1)))
