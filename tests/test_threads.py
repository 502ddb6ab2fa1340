"""Threads and chunk sizes move time, never bits: every thread count and chunking gives the same bytes."""
from __future__ import annotations

import numpy as np
import pytest

import jaccli
from jaccli.errors import UsageError
from jaccli.plan import chunking
from jaccli.plan.chunking import chunk_rows, useful_threads
from jaccli.expr.scope import make_scope
from jaccli.plan.engine import plan_jacobian
from jaccli.plan.parallel import ordered_map, thread_count

CASES = [
    ("[x[0]*cos(x[1]), x[0]*sin(x[1])]", (2,), 1),
    ("logsumexp(x)", (7,), 2),
    ("sqrt(x[0]) * x[1] + exp(x[2]) / (1 + x[0]**2)", (3,), 2),  # nan rule (sqrt of negatives) and overflow
    ("x * x[::-1] + sum(sin(x))", (5,), 2),
]


def _x(shape: tuple, b: int = 301) -> np.ndarray:
    x = np.random.default_rng(3).normal(size=(b,) + shape) * 3
    x.reshape(b, -1)[::17, 0] = 800.0  # exp overflows on some rows: inf values and the rescue path
    return x


pytestmark = pytest.mark.usefixtures("small_batches_use_threads")


@pytest.mark.parametrize("expr, shape, order", CASES)
def test_bit_identical_for_every_thread_count_and_chunking(expr, shape, order):
    x = _x(shape)
    want = jaccli.batch_jacobian(expr, x, order, threads=1, parallel_iterations=x.shape[0])
    for threads in (1, 2, 3):
        for chunk in (None, 1, 7, 64):
            got = jaccli.batch_jacobian(expr, x, order, threads=threads, parallel_iterations=chunk)
            assert got.tobytes() == want.tobytes(), (threads, chunk)
    assert jaccli.batch_jacobian(expr, x, order, pfor=False, threads=2).tobytes() == want.tobytes()


def test_cli_threads_and_cache_give_the_same_bytes(jaccli, tmp_path):
    x = _x((2,), 500)
    path = tmp_path / "x.npy"
    np.save(path, x)
    outs = []
    for extra in (["--threads", "1"], ["--threads", "2", "--parallel-iterations", "13"], ["--no-cache"], []):
        result = jaccli("batch-jacobian", "[x[0]*cos(x[1]), exp(x[0])*sin(x[1])]", str(path), "-k", "2",
                        "-f", "csv", *extra)
        assert result.exit_code == 0, result.stderr
        outs.append(result.stdout)
    assert all(o == outs[0] for o in outs)


def test_thread_count_sources(monkeypatch):
    monkeypatch.delenv("JACCLI_THREADS", raising=False)
    assert thread_count() >= 1
    monkeypatch.setenv("JACCLI_THREADS", "3")
    assert thread_count() == 3 and thread_count(1) == 1
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("JACCLI_THREADS", bad)
        with pytest.raises(UsageError, match="JACCLI_THREADS"):
            thread_count()
    with pytest.raises(UsageError):
        thread_count(0)


def test_bad_thread_env_is_a_usage_error(jaccli, seed_csv, monkeypatch):
    monkeypatch.setenv("JACCLI_THREADS", "lots")
    result = jaccli("batch-jacobian", "x*x", str(seed_csv))
    assert result.exit_code == 2 and result.stderr.startswith("Error: JACCLI_THREADS='lots'")


def test_ordered_map_keeps_order_and_stops_early():
    assert list(ordered_map(lambda v: v * v, range(50), 3)) == [v * v for v in range(50)]
    seen = []

    def items():
        for v in range(1000):
            seen.append(v)
            yield v

    gen = ordered_map(lambda v: v, items(), 2)
    assert [next(gen) for _ in range(3)] == [0, 1, 2]
    gen.close()
    assert len(seen) < 20  # bounded read-ahead: the rest is never read


def test_chunks_grow_when_a_plan_makes_many_small_calls():
    small = plan_jacobian("sin(x)", make_scope({"x": (4,)}), 1, np.dtype(np.float64)).compiled
    dense = plan_jacobian("logsumexp(x)", make_scope({"x": (30,)}), 2, np.dtype(np.float64)).compiled
    by_memory = (1 << 20) // dense.work_per_example()
    assert chunk_rows(dense, None) > by_memory  # thousands of calls per chunk: bigger chunks
    assert chunk_rows(dense, None) * dense.work_per_example() <= 1 << 24  # but memory stays capped
    assert chunk_rows(small, None) == (1 << 20) // small.work_per_example()
    assert chunk_rows(small, None, batch=1000, threads=2) == 500  # each thread gets a chunk
    assert chunk_rows(small, 7, batch=1000, threads=2) == 7


def test_threads_only_where_numpy_calls_are_big(monkeypatch):
    monkeypatch.setattr(chunking, "GIL_VALUES_PER_CALL", 1 << 13)
    dense = plan_jacobian("logsumexp(x)", make_scope({"x": (50,)}), 2, np.dtype(np.float64)).compiled
    polar = plan_jacobian("[x[0]*cos(x[1]), x[0]*sin(x[1])]", make_scope({"x": (2,)}), 1,
                          np.dtype(np.float64)).compiled
    assert useful_threads(dense, chunk_rows(dense, None, 20000, 2), 2) == 1
    assert useful_threads(polar, chunk_rows(polar, None, 10**6, 2), 2) == 2
