"""Shared parameters (``-P NAME=PATH|JSON``, API ``params=`` and array ``constants=``) against hand-derived
formulas, every way of passing them, their errors, and the structure that keeps them cheap (no folding)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import jaccli
from conftest import assert_error
from jaccli import api
from jaccli.errors import InputError, UsageError
from jaccli.expr.scope import make_scope
from jaccli.plan.engine import plan_jacobian

ROOT = Path(__file__).resolve().parent.parent
MLP = ROOT / "samples" / "mlp"
V = np.array([1.0, -1.0, 0.5, 2.0])


def mlp_hessian(x: np.ndarray, W: np.ndarray, b: np.ndarray, v: np.ndarray) -> np.ndarray:
    """d2/dx2 of v . tanh(W x + b) = W^T diag(v * tanh''(z)) W, tanh'' = -2 tanh sech**2 (by hand)."""
    z = x @ W.T + b
    d2 = -2 * np.tanh(z) / np.cosh(z) ** 2
    return np.einsum("bi,ij,ik->bjk", d2 * v, W, W)


def sample():
    W, b = np.load(MLP / "W.npy"), np.load(MLP / "b.npy")
    x = np.loadtxt(MLP / "x.csv", delimiter=",", skiprows=2)
    return x, W, b


def test_mlp_hessian_from_the_api_matches_the_formula():
    x, W, b = sample()
    ref = mlp_hessian(x, W, b, V)
    got = jaccli.batch_jacobian("dot(v, tanh(dot(W, x) + b))", x, 2, params={"W": W, "b": b, "v": V})
    np.testing.assert_allclose(got, ref, rtol=1e-14, atol=1e-15)
    same = jaccli.batch_jacobian("dot(v, tanh(dot(W, x) + b))", x, 2, constants={"W": W, "b": b, "v": V})
    assert same.tobytes() == got.tobytes()


def test_cli_reads_npy_json_csv_and_inline(jaccli, tmp_path):
    x, W, b = sample()
    (tmp_path / "W.json").write_text(json.dumps(W.tolist()))
    np.savetxt(tmp_path / "W.csv", W, delimiter=",")
    np.savetxt(tmp_path / "b.csv", b[:, None], delimiter=",")  # one column: a vector
    ref = mlp_hessian(x, W, b, V)
    for w, bias in ((MLP / "W.npy", MLP / "b.npy"), (tmp_path / "W.json", tmp_path / "b.csv"),
                    (tmp_path / "W.csv", json.dumps(b.tolist()))):
        out = tmp_path / "h.npy"
        result = jaccli("batch-jacobian", "dot(v, tanh(dot(W, x) + b))", MLP / "x.csv", "-P", f"W={w}",
                        "-P", f"b={bias}", "-P", "v=[1, -1, 0.5, 2]", "-k", "2", "-f", "npy", "-o", out)
        assert result.exit_code == 0, result.stderr
        np.testing.assert_allclose(np.load(out), ref, rtol=1e-14, atol=1e-15)


def test_a_parameter_is_one_template_not_numbers_folded_in():
    """tanh(dot(W, x) + b), W 8x16: one lane template over the 8 rows; its Hessian is 136 partials (16*17/2),
    evaluated on (b, 8) lanes, not 8 * 136 formulas with W's numbers inside."""
    rng = np.random.default_rng(0)
    scope = make_scope({"x": (16,)}, params={"W": rng.normal(size=(8, 16)), "b": rng.normal(size=8)})
    plan = plan_jacobian("tanh(dot(W, x) + b)", scope, 2, np.float64)
    programs = plan.derivative.programs
    assert len(programs) == 1 and programs[0].lanes == 8
    assert len(programs[0].partials) == 136
    assert plan.param_rows["W"].shape == (1, 128)


def test_parameters_are_bit_identical_for_every_chunking():
    rng = np.random.default_rng(1)
    W, b, x = rng.normal(size=(8, 16)) / 4, rng.normal(size=8), rng.normal(size=(53, 16))
    whole = jaccli.batch_jacobian("tanh(dot(W, x) + b)", x, 2, params={"W": W, "b": b})
    for kwargs in ({"parallel_iterations": 1}, {"parallel_iterations": 7}, {"pfor": False}):
        got = jaccli.batch_jacobian("tanh(dot(W, x) + b)", x, 2, params={"W": W, "b": b}, **kwargs)
        assert got.tobytes() == whole.tobytes(), kwargs
    ref = np.einsum("bi,ij,ik->bijk", -2 * np.tanh(x @ W.T + b) / np.cosh(x @ W.T + b) ** 2, W, W)
    np.testing.assert_allclose(whole, ref, rtol=1e-13, atol=1e-15)


def test_float32_parameters_follow_the_plan_dtype():
    x = np.array([[1.0, 2.0]], np.float32)
    got = jaccli.batch_jacobian("sum(w * x**2)", x, params={"w": np.array([0.5, 3.0])})
    assert got.dtype == np.float32 and got.tolist() == [[1.0, 12.0]]


def test_symbolic_names_parameter_elements(jaccli):
    result = jaccli("symbolic", "sum(w * x**2)", "--shape", "2", "-P", "w=[0.5, 3]")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "d y / d x[i] = 2*w[i]*x[i]    for i in 0..1"


@pytest.mark.parametrize("param, code, fragments", [
    ("w=2.5", 2, ["--param w: '2.5' is a single number", "-D NAME=VALUE"]),
    ("w=[1, 2", 3, ["--param w:1:"]),
    ("w=[1, NaN]", 3, ["not a finite number"]),
    ("w=missing.npy", 3, ["missing.npy"]),
    ("w=weights.bin", 2, ["cannot tell the format"]),
    ("w", 2, ["expected NAME=PATH"]),
    ("=[1]", 2, ["'' is not a valid name"]),
    ("1w=[1]", 2, ["not a valid name"]),
    ("x=[1, 2]", 2, ["parameter 'x' clashes with another input name"]),
])
def test_parameter_errors(jaccli, seed_csv, param, code, fragments):
    assert_error(jaccli("batch-jacobian", "sum(w * x)", seed_csv, "-P", param), code, *fragments)


def test_a_parameter_given_twice_or_as_the_source(jaccli, seed_csv):
    assert_error(jaccli("batch-jacobian", "sum(w * x)", seed_csv, "-P", "w=[1, 2]", "-P", "w=[1, 2]"), 2,
                 "--param w is given twice")
    with pytest.raises(UsageError, match="'w' is a shared parameter"):
        api.batch_jacobian("sum(w * x)", {"x": np.ones((2, 2))}, wrt="w", params={"w": [1.0, 2.0]})


def test_npz_member_with_another_leading_size_is_refused_with_a_hint(jaccli, tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, x=np.ones((2, 3)), w=np.ones(3))
    assert_error(jaccli("batch-jacobian", "sum(w * x)", path), 3, "different batch sizes", "--param NAME=PATH")


def test_npz_member_with_the_batch_size_is_per_example(jaccli, tmp_path):
    """Documented: a member whose leading size equals B is per-example data, row b for example b."""
    path = tmp_path / "data.npz"
    np.savez(path, x=np.ones((3, 3)), w=np.diag([1.0, 2.0, 3.0]))
    out = tmp_path / "j.npy"
    assert jaccli("batch-jacobian", "sum(w * x)", path, "-f", "npy", "-o", out).exit_code == 0
    np.testing.assert_array_equal(np.load(out), np.diag([1.0, 2.0, 3.0]))
    shared = tmp_path / "shared.npy"
    assert jaccli("batch-jacobian", "sum(W * x)", path, "-P", f"W={MLP / 'b.npy'}", "-f", "npy",
                  "-o", shared).exit_code == 2  # b.npy has 4 elements: shapes (4,) and (3,) do not broadcast


def test_api_parameter_errors():
    x = np.ones((2, 3))
    with pytest.raises(InputError, match="not a finite number"):
        jaccli.batch_jacobian("sum(w * x)", x, params={"w": [1.0, np.inf, 2.0]})
    with pytest.raises(UsageError, match="is a scalar"):
        jaccli.batch_jacobian("w * x", x, params={"w": 2.0})
    with pytest.raises(UsageError, match="given twice"):
        jaccli.batch_jacobian("w * x", x, params={"w": [1.0]}, constants={"w": 2.0})


@pytest.mark.parametrize("bad", ["2", None, b"2", np.array(["a"])])
def test_api_constants_must_be_numbers(bad):
    from jaccli.errors import UsageError

    with pytest.raises(UsageError, match="not a number or array of numbers"):
        jaccli.batch_jacobian("c*x", np.array([1.0, 2.0]), constants={"c": bad})
