"""``jaccli.dask`` and ``--engine dask``: the same bytes as the local engine, on a real 2-process Dask cluster.

One ``distributed.LocalCluster`` (2 worker processes, localhost, no dashboard) serves the whole module. The
reference for every result is the local engine on the same data (itself tested against independent oracles
elsewhere) plus the seed article's numbers; comparisons are of raw bytes.
"""
from __future__ import annotations

import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
zarr = pytest.importorskip("zarr")

from jaccli.api import batch_jacobian as local_jacobian  # noqa: E402
import jaccli.dask as jd  # noqa: E402
from jaccli.errors import InputError, UsageError  # noqa: E402

from conftest import assert_error  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as client:
        yield client


@pytest.fixture
def dask_cli(jaccli, cluster):
    """``jaccli batch-jacobian ... --engine dask --scheduler <the test cluster>``."""
    return lambda *args: jaccli("batch-jacobian", *args, "--engine", "dask", "--scheduler", cluster.scheduler_address)


def data(rows: int, cols: int, seed: int = 0, dtype=np.float64) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.5, 2.0, size=(rows, cols)).astype(dtype)


# --- library ------------------------------------------------------------------------------------------------

def test_seed_article_numbers(client):
    x = da.from_array(np.array([[4, 2], [1, 3]], np.float32), chunks=1)
    out = client.compute(jd.batch_jacobian("x*x*x", x, order=2)).result()
    assert out.dtype == np.float32 and out.shape == (2, 2, 2, 2)
    assert out.tolist() == [[[[24, 0], [0, 0]], [[0, 0], [0, 12]]], [[[6, 0], [0, 0]], [[0, 0], [0, 18]]]]


CASES = [
    ("x*x*x", 1), ("x*x*x", 3), ("[r*cos(t), r*sin(t)]", 2), ("softplus(x) * x[::-1]", 2),
    ("[sin(x[0])*x[1], norm(x), logsumexp(x)]", 2), ("sqrt(x) / (1 + x[0])", 1),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32])
@pytest.mark.parametrize("expression, order", CASES)
def test_library_bytes_match_local_engine(client, expression, order, dtype):
    x = data(1003, 2, seed=order, dtype=np.float64) * (10 if dtype == np.int32 else 1)
    x = x.astype(dtype)
    names = ["r", "t"] if "r*" in expression else None
    lazy = jd.batch_jacobian(expression, da.from_array(x, chunks=101), order=order, names=names)
    assert lazy.chunks[0] == da.from_array(x, chunks=101).chunks[0]
    local = local_jacobian(expression, x, order=order, names=names)
    out = client.compute(lazy).result()
    assert (out.dtype, out.shape) == (local.dtype, local.shape)
    assert out.tobytes() == local.tobytes()


@pytest.mark.parametrize("scheduler", ["threads", "processes", "synchronous"])
def test_every_scheduler(scheduler):
    x = data(300, 3)
    out = jd.batch_jacobian("x * sum(x)", da.from_array(x, chunks=70), order=2).compute(scheduler=scheduler)
    assert out.tobytes() == local_jacobian("x * sum(x)", x, order=2).tobytes()


def test_mapping_with_constants_scalars_and_options(client):
    x, w = data(500, 3, dtype=np.float32), data(500, 1, seed=1, dtype=np.float32)
    arrays = {"x": da.from_array(x, chunks=64), "w": da.from_array(w, chunks=200), "a": np.float32(1.5)}
    kwargs = dict(order=2, constants={"c": 3}, parallel_iterations=7, dtype="float64", pfor=False, threads=2)
    out = client.compute(jd.batch_jacobian("a*x*x*w + c*sin(x)", arrays, **kwargs)).result()
    local = local_jacobian("a*x*x*w + c*sin(x)", {"x": x, "w": w, "a": np.float32(1.5)}, **kwargs)
    assert out.dtype == np.float64 and out.tobytes() == local.tobytes()


def test_shared_parameters_travel_in_the_plan_key(client, tmp_path, jaccli, dask_cli):
    """``params`` (and -P) are part of the shipped plan: one key per run, not one copy per task."""
    x = data(400, 3, seed=4)
    w = np.random.default_rng(5).normal(size=(2, 3))
    lazy = jd.batch_jacobian("tanh(matmul(W, x))", da.from_array(x, chunks=50), params={"W": w})
    graph = dict(lazy.__dask_graph__())
    plans = [k for k in graph if isinstance(k, str) and k.startswith("jaccli-plan-")]
    assert len(plans) == 1 and w.tobytes() in pickle.dumps(dask.threaded.get(graph, plans[0]))
    assert not any(w.tobytes() in pickle.dumps(graph[k]) for k in graph if k not in plans)
    expected = local_jacobian("tanh(matmul(W, x))", x, params={"W": w})
    assert client.compute(lazy).result().tobytes() == expected.tobytes()
    np.save(tmp_path / "w.npy", w)
    write_zarr(tmp_path / "x.zarr", x, chunks=64)
    result = dask_cli("tanh(matmul(W, x))", tmp_path / "x.zarr", "-P", f"W={tmp_path / 'w.npy'}", "-f", "npy")
    assert result.exit_code == 0, result.stderr
    assert np.load(BytesLike(result.stdout_bytes)).tobytes() == expected.tobytes()


def test_unconnected_and_errors(client):
    x = da.from_array(data(10, 2), chunks=3)
    assert jd.batch_jacobian("2 + 0*pi", x) is None
    zeros = client.compute(jd.batch_jacobian("2 + 0*pi", x, unconnected="zero")).result()
    assert zeros.shape == (10, 2) and not zeros.any()
    with pytest.raises(UsageError):
        jd.batch_jacobian("x", x, order=0)
    with pytest.raises(InputError, match="different batch sizes"):
        jd.batch_jacobian("x*y", {"x": x, "y": da.ones((9, 2), chunks=3)})
    bad = data(10, 2)
    bad[7, 1] = np.nan
    with pytest.raises(InputError, match=r"index \(7, 1\)"):
        client.compute(jd.batch_jacobian("x*x", da.from_array(bad, chunks=3))).result()
    out = client.compute(jd.batch_jacobian("x*x", da.from_array(bad, chunks=3), allow_nonfinite=True)).result()
    assert out.tobytes() == local_jacobian("x*x", bad, allow_nonfinite=True).tobytes()


def test_plan_is_one_shared_numeric_key(client):
    """The plan travels once as plain data: one graph key, a dependency of every block task, no SymPy inside."""
    result = jd.batch_jacobian("[r*cos(t), r*sin(t)]", da.from_array(data(100, 2), chunks=10), names=["r", "t"])
    graph = dict(result.__dask_graph__())
    plans = [k for k in graph if isinstance(k, str) and k.startswith("jaccli-plan-")]
    assert len(plans) == 1
    shipped = dask.threaded.get(graph, plans[0])
    assert shipped["meta"]["format"] == "jaccli-plan"
    assert b"sympy" not in pickle.dumps(shipped)  # numbers, strings and index arrays only
    blocks = [k for k in graph if isinstance(k, tuple) and k[0] == result.name]
    assert len(blocks) == 10
    assert all(plans[0] in graph[k] for k in blocks)  # each block task reads the one plan key


def test_a_block_runs_without_sympy(tmp_path):
    """What a worker runs: the shipped plan and one block, in a fresh process that never imports SymPy or Dask."""
    from jaccli.dask.array import plan_lazy
    from jaccli.dask.ship import ship

    x = data(50, 3)
    expression = "[sin(x[0])*x[1], norm(x), logsumexp(x)]"
    plan = plan_lazy(expression, x, 2).plan
    with open(tmp_path / "shipped.pkl", "wb") as handle:
        pickle.dump((ship(plan, 7), x, local_jacobian(expression, x, order=2)), handle)
    code = ("import pickle, sys, numpy as np\n"
            "from jaccli.dask.blocks import jacobian_block\n"
            f"data, x, expected = pickle.load(open({str(tmp_path / 'shipped.pkl')!r}, 'rb'))\n"
            "out = jacobian_block(data, np.arange(len(x)), x, names=('x',), label='input', check_input=True,\n"
            "                     pfor=True)\n"
            "assert out.tobytes() == expected.tobytes()\n"
            "assert not [m for m in sys.modules if m.split('.')[0] in ('sympy', 'dask')]\n")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_worker_killed_mid_run_recomputes_identically(client):
    """A worker process dies (SIGKILL) holding finished blocks: Dask recomputes them, the bytes are the same."""
    x = data(2000, 2, seed=3)
    slow = da.from_array(x, chunks=100).map_blocks(_slowly, dtype=x.dtype)
    lazy = jd.batch_jacobian("exp(x) * x[::-1]", slow, order=2)
    future = client.compute(lazy)
    killed = kill_a_worker_after(client, lazy.name, blocks=4)
    out = future.result(timeout=120)
    assert out.tobytes() == local_jacobian("exp(x) * x[::-1]", x, order=2).tobytes()
    client.wait_for_workers(2, timeout=60)
    assert killed not in client.run(os.getpid).values()  # the nanny started a new process


def kill_a_worker_after(client, prefix: str, blocks: int) -> int:
    """SIGKILL the worker holding the most finished ``prefix`` tasks once ``blocks`` of them are done."""
    def held(dask_scheduler, prefix=prefix):
        return {ws.address: sum(prefix in str(ts.key) for ts in ws.has_what) for ws in dask_scheduler.workers.values()}

    deadline = time.monotonic() + 60
    while sum(client.run_on_scheduler(held).values()) < blocks:
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.02)
    counts = client.run_on_scheduler(held)
    victim = max(counts, key=counts.get)
    pid = client.run(os.getpid, workers=[victim])[victim]
    os.kill(pid, signal.SIGKILL)
    return pid


def _slowly(block):
    time.sleep(0.05)
    return block


# --- command line -------------------------------------------------------------------------------------------

def write_zarr(path: Path, arrays: dict, chunks: int = 250) -> None:
    if isinstance(arrays, np.ndarray):
        z = zarr.create_array(store=str(path), shape=arrays.shape, chunks=(chunks,) + arrays.shape[1:],
                              dtype=arrays.dtype)
        z[...] = arrays
        return
    group = zarr.open_group(str(path), mode="w")
    for name, value in arrays.items():
        value = np.asarray(value)
        z = group.create_array(name, shape=value.shape, chunks=(chunks,) + value.shape[1:] if value.ndim else (),
                               dtype=value.dtype)
        z[...] = value


def local_npy(jaccli, tmp_path: Path, *args) -> bytes:
    out = tmp_path / "local.npy"
    result = jaccli("batch-jacobian", *args, "-f", "npy", "-o", out)
    assert result.exit_code == 0, result.stderr
    return out.read_bytes()


@pytest.mark.parametrize("expression, order, dtype", [("x*x*x", 1, "f8"), ("softplus(x)*x[0]", 2, "f4"),
                                                       ("[x[0]*x[1], x[0]/x[1]]", 3, "f8")])
def test_cli_zarr_to_zarr_matches_local(jaccli, dask_cli, tmp_path, expression, order, dtype):
    x = data(2001, 2, seed=order).astype(dtype)
    np.save(tmp_path / "x.npy", x)
    write_zarr(tmp_path / "x.zarr", x)
    result = dask_cli(expression, tmp_path / "x.zarr", "-k", order, "-o", tmp_path / "out.zarr")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    local = np.load(BytesLike(local_npy(jaccli, tmp_path, expression, tmp_path / "x.npy", "-k", order)))
    store = zarr.open_array(str(tmp_path / "out.zarr"), mode="r")
    assert store[...].tobytes() == local.tobytes() and store.dtype == local.dtype
    meta = dict(store.attrs)["jaccli"]
    assert meta["shape"] == list(local.shape) and meta["order"] == order and meta["layout"][0] == "batch"
    assert sorted(os.listdir(tmp_path)) == ["local.npy", "out.zarr", "x.npy", "x.zarr"]  # no temporaries left


def BytesLike(raw: bytes):
    import io

    return io.BytesIO(raw)


@pytest.mark.parametrize("fmt", ["npy", "json", "csv", "text", "npz"])
def test_cli_local_formats_stream_identical_bytes(jaccli, dask_cli, tmp_path, fmt):
    x = data(700, 3, seed=5)
    np.save(tmp_path / "x.npy", x)
    write_zarr(tmp_path / "x.zarr", x, chunks=64)
    result = dask_cli("x * norm(x)", tmp_path / "x.zarr", "-f", fmt)
    local = jaccli("batch-jacobian", "x * norm(x)", tmp_path / "x.npy", "-f", fmt)
    assert result.exit_code == 0 and result.stdout_bytes == local.stdout_bytes


def test_cli_zarr_group_parquet_and_globs(jaccli, dask_cli, tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    x = data(1500, 2, seed=7)
    np.savetxt(tmp_path / "all.csv", x, delimiter=",", header="r,theta", comments="")
    expected = local_npy(jaccli, tmp_path, "[r*cos(theta), r*sin(theta)]", tmp_path / "all.csv", "-k", 2)
    pq.write_table(pa.table({"r": x[:, 0], "theta": x[:, 1]}), tmp_path / "polar.parquet", row_group_size=400)
    (tmp_path / "parts").mkdir()
    for i, (lo, hi) in enumerate([(0, 600), (600, 1100), (1100, 1500)]):
        np.savetxt(tmp_path / "parts" / f"p{i}.csv", x[lo:hi], delimiter=",", header="r,theta", comments="")
        np.save(tmp_path / "parts" / f"p{i}.npy", x[lo:hi])
        pq.write_table(pa.table({"r": x[lo:hi, 0], "theta": x[lo:hi, 1]}), tmp_path / "parts" / f"p{i}.parquet")
    for source in ["polar.parquet", "parts", "parts/p*.csv"]:
        out = tmp_path / "out.npy"
        result = dask_cli("[r*cos(theta), r*sin(theta)]", tmp_path / source, "-k", 2, "-f", "npy", "-o", out)
        assert result.exit_code == 0, (source, result.stderr)
        assert out.read_bytes() == expected, source
    out = tmp_path / "out.npy"
    result = dask_cli("[x[0]*cos(x[1]), x[0]*sin(x[1])]", str(tmp_path / "parts" / "p*.npy"), "-k", 2, "-f", "npy",
                      "-o", out)
    assert result.exit_code == 0, result.stderr
    assert np.load(out).tobytes() == np.load(BytesLike(expected)).tobytes()
    # A Zarr group is like an .npz: --wrt picks the source, other arrays are per-example constants, 0-d scalars.
    w = data(1500, 1, seed=8).astype(np.float32)
    write_zarr(tmp_path / "g.zarr", {"p": x.astype(np.float32), "w": w, "a": np.float64(2.5)})
    np.savez(tmp_path / "g.npz", p=x.astype(np.float32), w=w, a=np.float64(2.5))
    result = dask_cli("a*w*p*p", tmp_path / "g.zarr", "--wrt", "p", "-o", tmp_path / "g.out.zarr")
    assert result.exit_code == 0, result.stderr
    local = np.load(BytesLike(local_npy(jaccli, tmp_path, "a*w*p*p", tmp_path / "g.npz", "--wrt", "p")))
    assert zarr.open_array(str(tmp_path / "g.out.zarr"))[...].tobytes() == local.tobytes()


def test_columns_pick_and_order_parquet_and_csv_columns(client, tmp_path):
    """``--columns`` (read from the job options when the CLI has it) picks and orders columns, as for CSV."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from jaccli.dask.sources import open_source

    x = data(300, 3, seed=12)
    pq.write_table(pa.table({"a": x[:, 0], "b": x[:, 1], "label": [str(i) for i in range(300)], "c": x[:, 2]}),
                   tmp_path / "t.parquet", row_group_size=100)
    np.savetxt(tmp_path / "t.csv", x, delimiter=",", header="a,b,c", comments="")
    for name in ("t.parquet", "t.csv"):
        with distributed.Client(client.scheduler.address, set_as_default=True):
            source = open_source(str(tmp_path / name), "x", False, "c, a")
            assert source.columns == ["c", "a"]
            assert source.arrays["x"].compute().tobytes() == np.ascontiguousarray(x[:, [2, 0]]).tobytes()
    with pytest.raises(UsageError, match="no column 'lable'.*did you mean 'label'"):
        open_source(str(tmp_path / "t.parquet"), "x", False, "a,lable")
    with pytest.raises(InputError, match="column 'label' has type string"):
        open_source(str(tmp_path / "t.parquet"), "x", False)


def test_cli_columns_pick_parquet_columns(jaccli, dask_cli, tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    x = data(200, 3, seed=14)
    pq.write_table(pa.table({"a": x[:, 0], "tag": [str(i) for i in range(200)], "r": x[:, 1], "theta": x[:, 2]}),
                   tmp_path / "t.parquet", row_group_size=64)
    np.savetxt(tmp_path / "t.csv", x[:, [2, 1]], delimiter=",", header="theta,r", comments="")
    args = ("[r*cos(theta), r*sin(theta)]", "-k", 2, "-f", "npy")
    result = dask_cli(args[0], tmp_path / "t.parquet", "--columns", "theta,r", *args[1:])
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == jaccli("batch-jacobian", args[0], tmp_path / "t.csv", *args[1:]).stdout_bytes


def test_cli_npy_part_directory(jaccli, dask_cli, tmp_path, monkeypatch):
    monkeypatch.setattr("jaccli.dask.run.BLOCK_VALUES", 6 * 300)  # 300 rows per block: 4 parts
    x = data(1000, 2, seed=9)
    np.save(tmp_path / "x.npy", x)
    result = dask_cli("x*x*x", tmp_path / "x.npy", "-o", f"{tmp_path}/result/")
    assert result.exit_code == 0, result.stderr
    names = sorted(os.listdir(tmp_path / "result"))
    assert names == ["layout.json", "part-0000.npy", "part-0300.npy", "part-0600.npy", "part-0900.npy"]
    parts = np.concatenate([np.load(tmp_path / "result" / n) for n in names[1:]])
    assert parts.tobytes() == local_jacobian("x*x*x", x).tobytes()
    assert json.loads((tmp_path / "result" / "layout.json").read_text())["shape"] == [1000, 2, 2]


def test_cli_checks_combine_chunkwise(jaccli, dask_cli, tmp_path, monkeypatch):
    monkeypatch.setattr("jaccli.dask.run.BLOCK_VALUES", 4 * 50)  # many blocks: counts and positions combine
    x = data(400, 2, seed=10)
    x[123, 1] = 0.0
    x[300, 0] = 0.0
    write_zarr(tmp_path / "x.zarr", x, chunks=50)
    np.save(tmp_path / "x.npy", x)
    local = jaccli("batch-jacobian", "sqrt(x)", tmp_path / "x.npy", "-f", "npy", "-o", tmp_path / "golden.npy")
    result = dask_cli("sqrt(x)", tmp_path / "x.zarr", "-o", tmp_path / "out.zarr", "--expect", tmp_path / "golden.npy",
                      "--verify")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[0] == local.stderr.splitlines()[0]  # the same non-finite warning
    assert "index (123, 1, 1)" in result.stderr and "match:" in result.stderr and "verify:" in result.stderr
    # --strict: exit 4 and no store under the target's name (nor a temporary one)
    result = dask_cli("sqrt(x)", tmp_path / "x.zarr", "-o", tmp_path / "strict.zarr", "--strict")
    assert_error(result, 4, "non-finite derivative at index (123, 1, 1)")
    assert not [p for p in os.listdir(tmp_path) if "strict" in p]
    # a golden that differs: exit 1
    result = dask_cli("sqrt(x)*2", tmp_path / "x.zarr", "--expect", tmp_path / "golden.npy")
    assert result.exit_code == 1


def test_cli_verify_reports_like_a_local_run(jaccli, dask_cli, tmp_path):
    """--verify fetches only the sampled rows, yet reports the same rows (kinks at input row numbers)."""
    x = data(500, 2, seed=13)
    x[::7, 0] = 0.0  # relu kink
    write_zarr(tmp_path / "x.zarr", x, chunks=64)
    np.save(tmp_path / "x.npy", x)
    local = jaccli("batch-jacobian", "relu(x) * x[1]", tmp_path / "x.npy", "--verify", "--verify-rows", 40)
    result = dask_cli("relu(x) * x[1]", tmp_path / "x.zarr", "--verify", "--verify-rows", 40)
    assert "kink point" in local.stderr
    assert (result.exit_code, result.stderr) == (local.exit_code, local.stderr)


def test_cli_failed_run_leaves_no_store(dask_cli, tmp_path):
    x = data(400, 2)
    x[350, 0] = np.inf
    write_zarr(tmp_path / "x.zarr", x, chunks=50)
    assert dask_cli("x*x", tmp_path / "x.zarr", "-o", tmp_path / "out.zarr", "--allow-nonfinite").exit_code == 0
    earlier = zarr.open_array(str(tmp_path / "out.zarr"))[...]
    result = dask_cli("x*x*x", tmp_path / "x.zarr", "-o", tmp_path / "out.zarr")
    assert_error(result, 3, "index (350, 0)", "--allow-nonfinite")
    assert sorted(os.listdir(tmp_path)) == ["out.zarr", "x.zarr"]
    after = zarr.open_array(str(tmp_path / "out.zarr"))
    assert after[...].tobytes() == earlier.tobytes() and dict(after.attrs)["jaccli"]["expression"] == "x*x"


def test_cli_worker_killed_during_store(dask_cli, tmp_path, monkeypatch, client):
    """Kill a worker after a few blocks are stored: the store is complete and identical, nothing is left over."""
    monkeypatch.setattr("jaccli.dask.run.BLOCK_VALUES", 6 * 200)
    x = data(6000, 2, seed=11)
    write_zarr(tmp_path / "x.zarr", x, chunks=200)
    killed = []
    killer = threading.Thread(target=lambda: killed.append(kill_a_worker_after(client, "jaccli-store-", blocks=3)))
    killer.start()
    result = dask_cli("x*x*x", tmp_path / "x.zarr", "--no-pfor", "-o", tmp_path / "out.zarr")
    killer.join()
    assert result.exit_code == 0, result.stderr
    assert killed and killed[0] not in client.run(os.getpid).values()
    assert zarr.open_array(str(tmp_path / "out.zarr"))[...].tobytes() == local_jacobian("x*x*x", x).tobytes()
    assert sorted(os.listdir(tmp_path)) == ["out.zarr", "x.zarr"]
    client.wait_for_workers(2, timeout=60)


def test_cli_errors(jaccli, dask_cli, tmp_path, monkeypatch):
    assert_error(jaccli("batch-jacobian", "x", "a.csv", "--scheduler", "tcp://127.0.0.1:1"), 2,
                 "--scheduler needs --engine dask")
    assert_error(dask_cli("x", "data.json"), 2, "--engine dask cannot read")
    assert_error(dask_cli("x", "-"), 2, "cannot read standard input")
    assert_error(dask_cli("x*y", "data.npz", "--wrt", "x,y"), 2, "--wrt x,y runs on the local engine")
    assert_error(dask_cli("x", "data.zarr", "-k", "0,1"), 2, "-k 0,1 runs on the local engine")
    pa = pytest.importorskip("pyarrow")
    pytest.importorskip("pyarrow.parquet").write_table(pa.table({"a": [1.0, None, 3.0]}), tmp_path / "n.parquet")
    assert_error(dask_cli("x", tmp_path / "n.parquet"), 3, "n.parquet: row 1: column 'a' is null")
    np.savetxt(tmp_path / "p1.csv", data(3, 2), delimiter=",", header="a,b", comments="")
    np.savetxt(tmp_path / "p2.csv", data(3, 2), delimiter=",", header="a,c", comments="")
    assert_error(dask_cli("x", str(tmp_path / "p*.csv")), 3, "p2.csv: its header")
    assert_error(dask_cli("x", str(tmp_path / "none-*.npy")), 3, "no file matches")
    write_zarr(tmp_path / "x.zarr", data(10, 2))
    assert_error(dask_cli("0*pi", tmp_path / "x.zarr", "-o", tmp_path / "o.zarr"), 2, "None result")
    # a directory tree that is not a jaccli result is never replaced: not the input, not the current directory
    assert_error(dask_cli("x*x", tmp_path / "x.zarr", "-o", tmp_path / "x.zarr"), 2, "does not hold a jaccli result")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert_error(dask_cli("x*x", tmp_path / "x.zarr", "-o", f"{tmp_path / 'mine'}/"), 2, "not replaced")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me" and (tmp_path / "x.zarr").is_dir()
    monkeypatch.setitem(sys.modules, "dask.array", None)  # as if the extra were not installed
    assert_error(dask_cli("x", tmp_path / "x.zarr"), 2, "pip install 'jaccli[dask]'")


def test_import_jaccli_and_help_do_not_import_dask():
    code = ("import sys, jaccli; from jaccli.cli import cli\n"
            "try:\n    cli.main(['batch-jacobian', '--help'])\nexcept SystemExit:\n    pass\n"
            "assert not [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'zarr')], 'imported'")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "--engine [local|dask]" in done.stdout
