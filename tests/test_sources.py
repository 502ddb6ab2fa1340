"""Several sources (``--wrt a,b``, API ``wrt=("a", "b")``): derivatives w.r.t. the flattened concatenation.

References are independent of jaccli: block Hessians derived by hand, and the oracle's nested differences of a
plain NumPy function of the concatenated vector.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import jaccli
from jaccli.errors import UsageError
from tests.conftest import assert_error
from tests.oracle import richardson

RNG = np.random.default_rng(8)
A = RNG.uniform(-1.5, 1.5, (5, 2))
B = RNG.uniform(-1.5, 1.5, (5, 2))
EXPR = "a[0]*b[0]**2 + sin(a[1]*b[1])"


def block_gradient(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """d/d(a0, a1, b0, b1) of a0*b0**2 + sin(a1*b1), by hand."""
    c = np.cos(a[1] * b[1])
    return np.array([b[0] ** 2, b[1] * c, 2 * a[0] * b[0], a[1] * c])


def block_hessian(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The full block Hessian of a0*b0**2 + sin(a1*b1) over (a0, a1, b0, b1), cross terms included, by hand."""
    s, c = np.sin(a[1] * b[1]), np.cos(a[1] * b[1])
    h = np.zeros((4, 4))
    h[0, 2] = h[2, 0] = 2 * b[0]  # d2/da0 db0
    h[2, 2] = 2 * a[0]  # d2/db0^2
    h[1, 1] = -b[1] ** 2 * s  # d2/da1^2
    h[3, 3] = -a[1] ** 2 * s  # d2/db1^2
    h[1, 3] = h[3, 1] = c - a[1] * b[1] * s  # d2/da1 db1
    return h


def test_block_hessian_by_hand():
    got = jaccli.batch_jacobian(EXPR, {"a": A, "b": B}, order=2, wrt=("a", "b"))
    want = np.stack([block_hessian(a, b) for a, b in zip(A, B)])
    assert got.shape == (5, 4, 4)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)


def test_gradient_by_hand_and_comma_string():
    want = np.stack([block_gradient(a, b) for a, b in zip(A, B)])
    np.testing.assert_allclose(jaccli.batch_jacobian(EXPR, {"a": A, "b": B}, wrt="a,b"), want, rtol=1e-15)
    # The order of the names is the order of the concatenation.
    swapped = jaccli.batch_jacobian(EXPR, {"a": A, "b": B}, wrt=("b", "a"))
    np.testing.assert_array_equal(swapped, want[:, [2, 3, 0, 1]])


def test_sources_of_different_shapes_against_differences():
    """A (2, 2) matrix and a scalar: S = (5,); the reference differentiates f of the concatenated vector."""
    m = RNG.uniform(0.5, 1.5, (3, 2, 2))
    t = RNG.uniform(0.5, 1.5, (3,))
    got = jaccli.batch_jacobian("[sum(m*m)*t, exp(t*m[0, 1])]", {"m": m, "t": t}, order=2, wrt=("m", "t"))

    def f(v: np.ndarray) -> np.ndarray:
        mm, tt = v[:4].reshape(2, 2), v[4]
        return np.array([np.sum(mm * mm) * tt, np.exp(tt * mm[0, 1])])

    z = np.concatenate([m.reshape(3, 4), t[:, None]], axis=1)
    assert got.shape == (3, 2, 5, 5)
    np.testing.assert_allclose(got, richardson(f, z, order=2), rtol=1e-8, atol=1e-9)


def test_an_unwatched_array_stays_a_constant():
    c = RNG.uniform(size=(5, 2))
    got = jaccli.batch_jacobian("a*b*c", {"a": A, "b": B, "c": c}, wrt=("a", "b"))
    want = np.zeros((5, 2, 4))
    for i in range(2):
        want[:, i, i] = B[:, i] * c[:, i]
        want[:, i, 2 + i] = A[:, i] * c[:, i]
    np.testing.assert_allclose(got, want, rtol=1e-15)


def test_csv_columns_as_sources(jaccli, tmp_path):
    path = tmp_path / "polar.csv"
    path.write_text("r,theta,w\n2,0.5,3\n1,1.5,-1\n")
    result = jaccli("batch-jacobian", "[r*cos(theta)*w, r*sin(theta)]", path, "--wrt", "theta,r", "-f", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["shape"] == [2, 2, 2]
    assert doc["layout"] == ["batch", "target.0", "theta[0:1]+r[1:2]:d1"]
    r, theta, w = np.array([2.0, 1.0]), np.array([0.5, 1.5]), np.array([3.0, -1.0])
    want = np.stack([np.stack([-r * np.sin(theta) * w, np.cos(theta) * w], -1),
                     np.stack([r * np.cos(theta), np.sin(theta)], -1)], 1)
    np.testing.assert_allclose(np.array(doc["data"]), want, rtol=1e-15)


def test_npz_input_and_layout(jaccli, tmp_path):
    path = tmp_path / "ab.npz"
    np.savez(path, a=A, b=B)
    result = jaccli("batch-jacobian", EXPR, path, "--wrt", "a,b", "-k", "2", "-f", "npy", "-o", tmp_path / "h.npy",
                    "--layout")
    assert result.exit_code == 0, result.stderr
    np.testing.assert_allclose(np.load(tmp_path / "h.npy"), np.stack([block_hessian(a, b) for a, b in zip(A, B)]),
                               rtol=1e-14, atol=1e-15)
    assert "a[0:2]+b[2:4]:d1  size 4  d/d(a[0..1], b[0..1])" in result.stderr


def test_verify_and_expect_with_several_sources(jaccli, tmp_path):
    path = tmp_path / "ab.npz"
    np.savez(path, a=A, b=B)
    golden = tmp_path / "golden.json"
    assert jaccli("batch-jacobian", EXPR, path, "--wrt", "a,b", "-k", "2", "-f", "json", "-o", golden).exit_code == 0
    result = jaccli("batch-jacobian", EXPR, path, "--wrt", "a,b", "-k", "2", "--verify", "--expect", golden)
    assert result.exit_code == 0, result.stderr
    assert "verify: order 2, 5 rows" in result.stderr and "match: 80 values" in result.stderr


def test_symbolic_names_the_segments(jaccli, tmp_path):
    path = tmp_path / "ab.npz"
    np.savez(path, a=A, b=B)
    result = jaccli("symbolic", EXPR, path, "--wrt", "a,b")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "d y / d a[0] = b[0]**2",
        "d y / d a[1] = b[1]*cos(a[1]*b[1])",
        "d y / d b[0] = 2*a[0]*b[0]",
        "d y / d b[1] = a[1]*cos(a[1]*b[1])",
    ]
    elementwise = jaccli("symbolic", "x*y", "--shape", "3", "--wrt", "y,x").stdout.splitlines()
    assert elementwise == ["d f[i] / d y[i] = x[i]    for i in 0..2", "d f[i] / d x[i] = y[i]    for i in 0..2"]
    columns = jaccli("symbolic", "[r*cos(theta), r*sin(theta)]", "--columns", "r,theta", "--wrt", "theta,r")
    assert columns.stdout.splitlines()[:2] == ["d y[0] / d theta = -r*sin(theta)", "d y[0] / d r = cos(theta)"]


@pytest.mark.parametrize("wrt, fragment", [
    ("theta,theta", "'theta' is given twice"),
    ("theta,x", "'x' and 'theta' overlap"),
    ("theta,,r", "the header has no column ''"),
    ("theta,q", "the header has no column 'q'"),
])
def test_bad_source_lists_are_refused(jaccli, tmp_path, wrt, fragment):
    path = tmp_path / "polar.csv"
    path.write_text("r,theta\n2,0.5\n")
    assert_error(jaccli("batch-jacobian", "r*theta", path, "--wrt", wrt), 2, fragment)


def test_api_needs_named_arrays_for_several_sources():
    with pytest.raises(UsageError, match="names several sources"):
        jaccli.batch_jacobian("x", np.ones((2, 2)), wrt=("a", "b"))
    # names= makes the columns of one array the sources
    got = jaccli.batch_jacobian("r*theta", np.array([[2.0, 3.0]]), names=["r", "theta"], wrt=("theta", "r"))
    np.testing.assert_array_equal(got, [[2.0, 3.0]])


def test_dtype_follows_the_sources():
    a32, b32 = A.astype(np.float32), B.astype(np.float32)
    assert jaccli.batch_jacobian("a*b", {"a": a32, "b": b32}, wrt=("a", "b")).dtype == np.float32
    assert jaccli.batch_jacobian("a*b", {"a": a32, "b": B}, wrt=("a", "b")).dtype == np.float64


def test_sample_block_hessian_by_hand():
    from pathlib import Path

    from jaccli.checks.results import read_result

    samples = Path(__file__).resolve().parent.parent / "samples"
    data = json.loads((samples / "blocks.json").read_text())
    want = np.stack([block_hessian(np.array(a), np.array(b)) for a, b in zip(data["a"], data["b"])])
    golden = read_result(str(samples / "expected" / "blocks.hessian.json"))
    assert golden.layout == ["batch", "a[0:2]+b[2:4]:d1", "a[0:2]+b[2:4]:d2"]
    np.testing.assert_allclose(golden.array, want, rtol=1e-15, atol=1e-16)


def test_verify_perturbs_every_source_in_its_own_array():
    """A derivative of another function (off by 0.1% in the b-block) must fail --verify's check."""
    import dataclasses

    from jaccli.checks.verify import verify
    from jaccli.expr.scope import make_scope
    from jaccli.plan.engine import plan_jacobian

    scope = make_scope({"a": (2,), "b": (2,)}, wrt="a,b")
    right = plan_jacobian(EXPR, scope, 1, np.dtype(np.float64))
    other = plan_jacobian("a[0]*b[0]**2 + sin(a[1]*b[1])*1.001", scope, 1, np.dtype(np.float64))
    arrays = {"a": A, "b": B}
    assert verify(right, arrays, rows=None, seed=0).ok
    wrong = verify(dataclasses.replace(right, derivative=other.derivative), arrays, rows=None, seed=0)
    assert not wrong.ok and "a[0:2]+b[2:4]:d1=" in wrong.summary()
