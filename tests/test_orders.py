"""The value and several orders in one run (``-k 0,1,2`` / ``-k 0-2``; API ``order=(0, 1, 2)``) and ``-f npz``.

References: the value is a direct NumPy evaluation, derivatives are hand-derived (``oracle.cube_d1/d2``) or
nested differences; every order of a several-orders run must also equal, bit for bit, the one-order run.
"""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

import jaccli
from jaccli.plan.orders import parse_orders
from jaccli.errors import UsageError
from tests.conftest import SEED_CSV, assert_error
from tests.oracle import cube_d1, cube_d2, richardson

RNG = np.random.default_rng(80)
X = RNG.uniform(-2, 2, (7, 3))
EXPR = "[sin(x[0])*x[1], exp(x[2])*x[0]**2]"


def value(x: np.ndarray) -> np.ndarray:
    return np.stack([np.sin(x[:, 0]) * x[:, 1], np.exp(x[:, 2]) * x[:, 0] ** 2], axis=1)


def test_api_value_gradient_hessian():
    got = jaccli.batch_jacobian(EXPR, X, order=(0, 1, 2))
    assert sorted(got) == [0, 1, 2]
    np.testing.assert_array_equal(got[0], value(X))  # the same NumPy operations, one example at a time
    ref = lambda v: np.array([np.sin(v[0]) * v[1], np.exp(v[2]) * v[0] ** 2])  # noqa: E731
    np.testing.assert_allclose(got[1], richardson(ref, X, order=1), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(got[2], richardson(ref, X, order=2), rtol=1e-8, atol=1e-9)
    assert got[2].shape == (7, 2, 3, 3)


def test_cube_by_hand_and_order_one_stays_an_array():
    x = np.array([[4.0, 2.0], [1.0, 3.0]])
    got = jaccli.batch_jacobian("x*x*x", x, order=(0, 1, 2, 3, 4))
    np.testing.assert_array_equal(got[0], x**3)
    np.testing.assert_array_equal(got[1], np.stack([np.diag(d) for d in cube_d1(x)]))
    second = np.zeros((2, 2, 2, 2))
    for i in range(2):
        second[:, i, i, i] = cube_d2(x)[:, i]
    np.testing.assert_array_equal(got[2], second)
    third = np.zeros((2, 2, 2, 2, 2))
    for i in range(2):
        third[:, i, i, i, i] = 6.0
    np.testing.assert_array_equal(got[3], third)
    np.testing.assert_array_equal(got[4], np.zeros((2,) + (2,) * 5))  # zero by its order: zeros, never None
    assert isinstance(jaccli.batch_jacobian("x*x*x", x, order=1), np.ndarray)


@pytest.mark.parametrize("orders", [(0, 1, 2), (2, 0), (1, 3), (0,)])
def test_each_order_is_bit_identical_to_its_own_run(orders):
    got = jaccli.batch_jacobian(EXPR, X, order=orders)
    for k in orders:
        alone = jaccli.batch_jacobian(EXPR, X, order=k) if k else got[0]
        np.testing.assert_array_equal(got[k], alone)


def test_unconnected_orders():
    got = jaccli.batch_jacobian("2*y", {"x": X, "y": X[:, :2]}, order=(0, 1))
    np.testing.assert_array_equal(got[0], 2 * X[:, :2])
    assert got[1] is None
    zero = jaccli.batch_jacobian("2*y", {"x": X, "y": X[:, :2]}, order=(0, 1), unconnected="zero")
    np.testing.assert_array_equal(zero[1], np.zeros((7, 2, 3)))


@pytest.mark.parametrize("order", [(), (1, 1), (-1, 2), ("1",), 0, True])
def test_api_refuses_bad_orders(order):
    with pytest.raises(UsageError):
        jaccli.batch_jacobian("x", X, order=order)


@pytest.mark.parametrize("text, orders", [("2", (2,)), ("0,1,2", (0, 1, 2)), ("0-2", (0, 1, 2)),
                                          ("2,0", (0, 2)), ("0, 2-3", (0, 2, 3)), ("1,1", (1,))])
def test_parse_orders(text, orders):
    assert parse_orders(text) == orders


# --- CLI ---------------------------------------------------------------------------------------------------------
SEED_TEXT = """\
order 0 (value):
Tensor(
[[64.  8.]
 [ 1. 27.]], shape=(2, 2), dtype=float32)

order 1 (Jacobian):
Tensor(
[[[48.  0.]
  [ 0. 12.]]

 [[ 3.  0.]
  [ 0. 27.]]], shape=(2, 2, 2), dtype=float32)
"""


def test_text_prints_each_order_under_a_heading(jaccli, seed_csv):
    result = jaccli("batch-jacobian", "x*x*x", seed_csv, "--dtype", "float32", "-k", "0-1")
    assert result.exit_code == 0 and result.stdout == SEED_TEXT


def test_order_zero_alone_is_the_value(jaccli, seed_csv):
    result = jaccli("batch-jacobian", "x*x*x", seed_csv, "-k", "0", "-f", "json")
    assert json.loads(result.stdout) == {"shape": [2, 2], "dtype": "float64", "order": 0,
                                         "layout": ["batch", "target.0"], "data": [[64.0, 8.0], [1.0, 27.0]]}


def test_json_holds_each_order_as_its_one_order_document(jaccli, seed_csv):
    result = jaccli("batch-jacobian", EXPR.replace("x[2]", "x[1]"), seed_csv, "-k", "0-2", "-f", "json")
    assert result.exit_code == 0, result.stderr
    # CSV input: each order is its one-order document ("shape" first: the small result was held until B was known)
    assert result.stdout.startswith('{"orders": [0, 1, 2], "dtype": "float64", "order0": {"shape": [2, 2], ')
    doc = json.loads(result.stdout)
    assert list(doc) == ["orders", "dtype", "order0", "order1", "order2"]
    for k in (0, 1, 2):
        alone = jaccli("batch-jacobian", EXPR.replace("x[2]", "x[1]"), seed_csv, "-k", k, "-f", "json").stdout
        assert doc[f"order{k}"] == json.loads(alone)
        assert json.dumps(doc[f"order{k}"]) == alone.rstrip("\n")  # byte for byte, too


def test_json_none_order(jaccli, seed_csv):
    doc = json.loads(jaccli("batch-jacobian", "2*y", seed_csv, "-D", "y=1", "-k", "0,1", "-f", "json").stdout)
    assert doc["order0"]["data"] == [2.0, 2.0]
    assert doc["order1"] == {"shape": [2, 2], "dtype": "float64", "order": 1, "layout": ["batch", "x.0:d1"],
                             "data": None}


def _npz(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data)) as z:
        return {k: z[k] for k in z.files}


def test_npz_round_trip_streams_and_spools_the_same_bytes(jaccli, tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, X)
    args = ["batch-jacobian", EXPR, "-k", "0-2", "-f", "npz"]
    from_file = jaccli(*args[:2], path, *args[2:]).stdout_bytes  # B known: order0 streams into the zip
    members = _npz(from_file)
    assert list(members) == ["order0", "order1", "order2"]
    want = jaccli.__class__()  # a fresh runner for the references
    for k in (0, 1, 2):
        alone = want("batch-jacobian", EXPR, path, "-k", k, "-f", "npy").stdout_bytes if k else None
        np.testing.assert_array_equal(members[f"order{k}"], np.load(io.BytesIO(alone)) if k else value(X))
    csv = "\n".join(",".join(repr(float(v)) for v in row) for row in X) + "\n"
    from_stdin = jaccli(*args, input=csv.encode()).stdout_bytes  # B unknown: every member spooled
    assert from_stdin == from_file
    with zipfile.ZipFile(io.BytesIO(from_file)) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())


@pytest.mark.parametrize("extra", [["--parallel-iterations", "1"], ["--parallel-iterations", "3"], ["--no-pfor"]])
def test_npz_is_bit_identical_across_chunkings(jaccli, tmp_path, extra):
    path = tmp_path / "x.npy"
    np.save(path, X)
    default = jaccli("batch-jacobian", EXPR, path, "-k", "0-2", "-f", "npz").stdout_bytes
    assert jaccli("batch-jacobian", EXPR, path, "-k", "0-2", "-f", "npz", *extra).stdout_bytes == default
    text = jaccli("batch-jacobian", EXPR, path, "-k", "0,2", "-f", "json", *extra).stdout
    assert text == jaccli("batch-jacobian", EXPR, path, "-k", "0,2", "-f", "json").stdout


def test_npz_single_order(jaccli, seed_csv, tmp_path):
    out = tmp_path / "h.npz"
    assert jaccli("batch-jacobian", "x*x*x", seed_csv, "-k", "2", "-f", "npz", "-o", out).exit_code == 0
    with np.load(out) as z:
        assert z.files == ["order2"]
        np.testing.assert_array_equal(z["order2"][:, [0, 1], [0, 1], [0, 1]], cube_d2(np.array([[4., 2.], [1., 3.]])))
        assert np.count_nonzero(z["order2"]) == 4
    # read back as a golden: the member of the order checked
    result = jaccli("batch-jacobian", "x*x*x", seed_csv, "-k", "2", "--expect", out)
    assert result.exit_code == 0 and "match: 16 values" in result.stderr
    assert_error(jaccli("batch-jacobian", "x*x*x", seed_csv, "-k", "1", "--expect", out), 3,
                 "holds orders 2, not order 1")


@pytest.mark.parametrize("fmt", ["csv", "npy"])
def test_one_array_formats_refuse_several_orders(jaccli, seed_csv, fmt):
    assert_error(jaccli("batch-jacobian", "x*x*x", seed_csv, "-k", "0-2", "-f", fmt), 2,
                 f"-f {fmt} holds one array, and 3 orders were asked for", "use -f npz or -f json")


def test_npz_refuses_a_none_order(jaccli, seed_csv, tmp_path):
    out = tmp_path / "out.npz"
    assert_error(jaccli("batch-jacobian", "2*y", seed_csv, "-D", "y=1", "-k", "0,1", "-f", "npz", "-o", out), 2,
                 "order 1 is a None result", "--unconnected zero")
    assert not out.exists()
    ok = jaccli("batch-jacobian", "2*y", seed_csv, "-D", "y=1", "-k", "0,1", "-f", "npz", "--unconnected", "zero")
    assert _npz(ok.stdout_bytes)["order1"].shape == (2, 2)


@pytest.mark.parametrize("order, fragment", [("3-1", "the range 3-1 is empty"), ("a", "'a' is not an order"),
                                             ("0-100", "more than 64 orders"), ("1,", "'1,' is not an order")])
def test_bad_order_lists(jaccli, seed_csv, order, fragment):
    assert_error(jaccli("batch-jacobian", "x", seed_csv, "-k", order), 2, fragment)


def test_expect_verify_and_compare_order_by_order(jaccli, seed_csv, tmp_path):
    golden = tmp_path / "golden.npz"
    assert jaccli("batch-jacobian", "sin(x)*x", seed_csv, "-k", "0-2", "-f", "npz", "-o", golden).exit_code == 0
    result = jaccli("batch-jacobian", "sin(x)*x", seed_csv, "-k", "0-2", "--expect", golden, "--verify")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""  # a check reports on stderr
    assert result.stderr.splitlines()[:3] == [
        "order 0: match: 4 values within rtol=1e-12, atol=1e-12 (max abs error 0.0, max rel error 0.0)",
        "order 1: match: 8 values within rtol=1e-12, atol=1e-12 (max abs error 0.0, max rel error 0.0)",
        "order 2: match: 16 values within rtol=1e-12, atol=1e-12 (max abs error 0.0, max rel error 0.0)"]
    assert "verify: order 2, 2 rows" in result.stderr
    changed = jaccli("batch-jacobian", "sin(x)*x + 1e-6*x", seed_csv, "-k", "0-2", "--expect", golden)
    assert_error(changed, 1, "order 0: mismatch", "order 1: mismatch", "order 2: match", "differs from")
    fewer = jaccli("batch-jacobian", "sin(x)*x", seed_csv, "-k", "0,1", "--expect", golden)
    assert_error(fewer, 1, "orders differ: expected 0, 1, 2, actual 0, 1")
    as_json = tmp_path / "result.json"
    jaccli("batch-jacobian", "sin(x)*x", seed_csv, "-k", "0-2", "-f", "json", "-o", as_json)
    assert jaccli("compare", golden, as_json).exit_code == 0


def test_nonfinite_values_are_counted_across_orders(jaccli, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("1\n0\n")
    result = jaccli("batch-jacobian", "sqrt(x)", path, "-k", "0-1", "-f", "json")
    assert result.exit_code == 0
    assert "warning: 1 of 4 result values are not finite (nan or inf), the first in order 1 at index (1, 0, 0)" \
        in result.stderr
    assert_error(jaccli("batch-jacobian", "sqrt(x)", path, "-k", "0-1", "--strict"), 4,
                 "non-finite result in order 1 at index (1, 0, 0)")


def test_layout_per_order(jaccli, seed_csv):
    result = jaccli("batch-jacobian", "x*x*x", seed_csv, "-k", "0,1", "--layout")
    assert result.stderr.splitlines()[:3] == ["order 0:", "axis 0  batch     size B  examples, never mixed",
                                              "axis 1  target.0  size 2  y[0..1]"]
    assert SEED_CSV  # the fixture's file


def test_npz_writer_streams_the_first_member_when_b_is_known():
    from jaccli.io.npz import NpzWriter

    for batch_size, streamed in ((6, "order0"), (None, None)):
        buffer = io.BytesIO()
        writer = NpzWriter(buffer)
        writer.begin({"order0": (2,), "order1": (2, 3)}, np.dtype(np.float32), batch_size)
        assert writer.streamed == streamed
        assert sorted(writer.spools) == (["order1"] if streamed else ["order0", "order1"])
        values = np.arange(36, dtype=np.float32).reshape(6, 2, 3)
        for i in range(0, 6, 4):  # two chunks
            writer.write({"order0": values[i:i + 4, :, 0], "order1": values[i:i + 4]})
        writer.finish()
        members = _npz(buffer.getvalue())
        np.testing.assert_array_equal(members["order0"], values[:, :, 0])
        np.testing.assert_array_equal(members["order1"], values)
        assert members["order1"].dtype == np.float32


def test_sample_npz_by_hand():
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "samples" / "expected" / "seed.orders.npz"
    x = np.array([[4.0, 2.0], [1.0, 3.0]], np.float32)
    with np.load(path) as z:
        assert z.files == ["order0", "order1", "order2"]
        assert {z[k].dtype for k in z.files} == {np.dtype(np.float32)}
        np.testing.assert_array_equal(z["order0"], x**3)
        np.testing.assert_array_equal(z["order1"], [np.diag(3 * row**2) for row in x])
        np.testing.assert_array_equal(z["order2"][:, [0, 1], [0, 1], [0, 1]], 6 * x)
        assert np.count_nonzero(z["order2"]) == 4


def test_npz_writer_on_an_unseekable_stream():
    """An unseekable stream (a pipe, a device, standard output): zipfile writes data descriptors, np.load reads it."""
    from jaccli.io.npz import NpzWriter

    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b) -> int:  # type: ignore[override]
            self.data += bytes(b)
            return len(b)

        def tell(self) -> int:
            raise OSError("unseekable")

    pipe = Pipe()
    writer = NpzWriter(pipe)
    writer.begin({"order0": (2,), "order1": (2, 2)}, np.dtype(np.float64), 3)
    values = np.arange(12.0).reshape(3, 2, 2)
    writer.write({"order0": values[:, 0], "order1": values})
    writer.finish()
    members = _npz(bytes(pipe.data))
    np.testing.assert_array_equal(members["order1"], values)


@pytest.mark.parametrize("orders", [(0, 1, 2), (1, 2)])
def test_the_nan_rule_holds_in_every_order(orders):
    """sqrt(x[0]) + x[1] at x[0] < 0: the value is nan, so every derivative of that example is nan (as alone)."""
    x = np.array([[4.0, 1.0], [-1.0, 2.0]])
    got = jaccli.batch_jacobian("sqrt(x[0]) + x[1]*x[1]", x, order=orders)
    for k in orders:
        if k:
            alone = jaccli.batch_jacobian("sqrt(x[0]) + x[1]*x[1]", x, order=k)
            np.testing.assert_array_equal(got[k], alone)
            assert np.isnan(got[k][1]).all() and np.isfinite(got[k][0]).all()


def test_compare_reads_several_orders_from_standard_input(jaccli, seed_csv, tmp_path):
    golden = tmp_path / "golden.npz"
    jaccli("batch-jacobian", "x*x*x", seed_csv, "-k", "0-2", "-f", "npz", "-o", golden)
    for fmt in ("npz", "json"):
        piped = jaccli("batch-jacobian", "x*x*x", seed_csv, "-k", "0-2", "-f", fmt).stdout_bytes
        result = jaccli("compare", golden, "-", input=piped)
        assert result.exit_code == 0 and result.stderr.count(": match:") == 3, result.stderr


@pytest.mark.parametrize("name, data, fragment", [
    ("bad.json", b'{"orders": [0], "dtype": "float64"}', "has the keys orders, dtype and order{k}"),
    ("bad.json", b'{"orders": [0], "dtype": "float64", "order0": {"shape": [1]}}', "order0"),
    ("bad.npz", b"PK\x03\x04garbage", "not a readable .npz file"),
])
def test_bad_several_orders_files(jaccli, seed_csv, tmp_path, name, data, fragment):
    path = tmp_path / name
    path.write_bytes(data)
    assert_error(jaccli("compare", path, path), 3, fragment)
