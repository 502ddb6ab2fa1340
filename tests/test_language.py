"""The model language's new functions against independent references (mpmath at 30 digits, complex step,
Richardson, hand-derived formulas): clip and where in expressions, softmax, log_softmax, axis reductions,
None/... indexing, matmul, and TensorFlow's conventions at where's ties. (clip and where against mpmath and at
clip's bounds: test_derivatives.py, from tests/function_data.py, with every function of the table.)"""
from __future__ import annotations

import mpmath
import numpy as np
import pytest

import jaccli
from jaccli.errors import ExpressionError
from oracle import complex_step, mp_batch, richardson, softmax_d1, softmax_d2
from test_derivatives import RTOL_F64, assert_close, assert_rel

bj = jaccli.batch_jacobian


# --- clip and where in expressions --------------------------------------------------------------------------------
# Their own values against mpmath (away from bounds and ties) and clip at its bounds (TF's clip_by_value) are
# checked with every other function in test_derivatives.py, from their entries in tests/function_data.py.
def test_clip_of_a_vector_with_constant_bounds():
    x = np.array([[-2.0, 0.5, 3.0]])
    np.testing.assert_array_equal(bj("clip(x, -1, 1)", x)[0], np.diag([0.0, 1.0, 0.0]))


def test_where_ties_follow_the_comparison_as_written():
    x = np.array([1.0])
    assert bj("where(x >= 1, 3*x, -x)", x)[0] == 3.0
    assert bj("where(x > 1, 3*x, -x)", x)[0] == -1.0
    assert bj("where(x <= 1, 3*x, -x)", x)[0] == 3.0
    assert bj("where(x < 1, 3*x, -x)", x)[0] == -1.0
    assert bj("where(x == 1, 3*x, -x)", x)[0] == 3.0
    assert bj("where(x != 1, 3*x, -x)", x)[0] == -1.0


def test_where_never_lets_the_branch_not_taken_leak_inf_or_nan():
    # TF's tf.where gives nan here (0 * sqrt'(x)); the branch not taken never reaches jaccli's result.
    x = np.array([-1.0, 0.0, 4.0])
    for order, expected in ((1, [0.0, 0.0, 0.25]), (2, [0.0, 0.0, -1 / 32])):
        got = bj("where(x > 0, sqrt(x), 0)", x, order=order)
        np.testing.assert_array_equal(got, expected)


def test_where_condition_has_no_derivative():
    x = np.array([[1.0, -2.0]])
    assert bj("where(x > 0, 1, 2)", x) is None  # as TF: the condition does not connect the source
    np.testing.assert_array_equal(bj("where(x > 0, 1, 2)", x, unconnected="zero"), np.zeros((1, 2, 2)))
    np.testing.assert_array_equal(bj("where(x > 0, x, 0)", x)[0], np.diag([1.0, 0.0]))


def test_where_broadcasts_condition_and_branches():
    x = np.array([[1.0, -2.0, 3.0]])
    got = bj("where(x > 0, x**2, x[0])", x)[0]
    np.testing.assert_array_equal(got, [[2, 0, 0], [1, 0, 0], [0, 0, 6]])


# --- softmax and log_softmax against mpmath and the closed forms --------------------------------------------------
def _component(i, log):
    def f(*v):
        lse = mpmath.log(mpmath.fsum(mpmath.exp(t) for t in v))
        return v[i] - lse if log else mpmath.exp(v[i] - lse)
    return f


_COMPONENTS = {(i, log): _component(i, log) for i in range(3) for log in (False, True)}
SOFTMAX_POINTS = np.array([[0.3, -1.2, 2.0], [10.0, 0.0, -3.0], [1.0, 1.0, 1.0]])


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("order", [1, 2])
def test_softmax_matches_mpmath(log, order):
    name = "log_softmax" if log else "softmax"
    got = bj(f"{name}(x)", SOFTMAX_POINTS, order=order)
    ref = np.stack([mp_batch(_COMPONENTS[i, log], SOFTMAX_POINTS, order) for i in range(3)], axis=1)
    assert_rel(got, ref, RTOL_F64, f"{name} order {order}")


def test_softmax_dominant_component_keeps_its_digits():
    # d s0/d x0 = s0 * (1 - s0) = s0 * s1: 1 - 0.99995 would lose 4 digits; the sum of the others loses none.
    x = np.array([[10.0, 0.0]])
    ref = mp_batch(_component(0, False), x, 1)
    assert_rel(bj("softmax(x)", x)[:, 0], ref, 1e-14, "softmax dominant")


@pytest.mark.parametrize("order", [1, 2])
def test_softmax_is_stable_at_1000(order):
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]])
    got = bj("softmax(x)", x, order=order)
    ref = np.stack([(softmax_d1 if order == 1 else softmax_d2)(row) for row in x])
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-300)
    log = bj("log_softmax(x)", x)
    np.testing.assert_array_equal(log, np.stack([np.eye(3) - _exact_softmax(row)[None, :] for row in x]))


def _exact_softmax(row: np.ndarray) -> np.ndarray:
    e = np.exp(row - row.max())
    return e / e.sum()


def test_softmax_along_an_axis():
    x = np.random.default_rng(3).normal(size=(2, 2, 3))
    for axis in (-1, 0):
        def f(v, axis=axis):
            e = np.exp(v - np.max(v.real, axis=axis, keepdims=True))
            return e / e.sum(axis=axis, keepdims=True)
        assert_close(bj(f"softmax(x, axis={axis})", x), complex_step(f, x), 1e-13, f"softmax axis {axis}")


# --- reductions along an axis -------------------------------------------------------------------------------------
def _np_reduction(name: str, axis: int):
    def f(v):
        if name == "sum":
            return np.sum(v**3, axis=axis)
        if name == "mean":
            return np.mean(np.sin(v), axis=axis)
        if name == "prod":
            return np.prod(v, axis=axis)
        if name == "norm":
            return np.sqrt(np.sum(v * v, axis=axis))
        return np.log(np.sum(np.exp(v), axis=axis))
    return f


EXPRESSIONS = {"sum": "sum(x**3, axis={a})", "mean": "mean(sin(x), axis={a})", "prod": "prod(x, axis={a})",
               "norm": "norm(x, axis={a})", "logsumexp": "logsumexp(x, axis={a})"}


@pytest.mark.parametrize("axis", [0, 1, -1, -2])
@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_reduction_along_an_axis(name, axis):
    x = np.random.default_rng(5).uniform(0.5, 1.5, (2, 2, 3))
    expression = EXPRESSIONS[name].format(a=axis)
    f = _np_reduction(name, axis)
    assert_close(bj(expression, x), complex_step(f, x), 1e-13, expression)
    assert_close(bj(expression, x, order=2), richardson(f, x, 2), 1e-8, expression + " order 2")


def test_reduction_of_an_empty_axis():
    x = np.ones((1, 2, 0))
    np.testing.assert_array_equal(bj("prod(x, axis=-1)", x, unconnected="zero"), np.zeros((1, 2, 2, 0)))


# --- indexing with None and ..., matmul ---------------------------------------------------------------------------
def test_new_axis_outer_product():
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 4.0]])
    got = bj("x[:, None] * x[None, :]", x)
    eye = np.eye(3)
    ref = np.stack([np.einsum("ik,j->ijk", eye, v) + np.einsum("i,jk->ijk", v, eye) for v in x])
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(bj("x[None]", x), np.eye(3)[None, None].repeat(2, axis=0))


def test_ellipsis():
    x = np.random.default_rng(0).normal(size=(2, 2, 3))
    np.testing.assert_array_equal(bj("x[..., 0]", x), bj("x[:, 0]", x))
    got = bj("sum(x[..., None] * x[:, None, ...], axis=0)", x)  # sum_a x[a, i] x[a, j]
    assert_close(got, complex_step(lambda v: np.einsum("ai,aj->ij", v, v), x), 1e-15, "ellipsis")


@pytest.mark.parametrize("expression, f", [
    ("matmul(x, x)", lambda v: v @ v),
    ("matmul(x[0], x)", lambda v: v[0] @ v),
    ("matmul(x, x[:, 1, :])", lambda v: v @ v[:, 1, :]),
    ("matmul(x[None, 0], x)", lambda v: v[None, 0] @ v),
    ("matmul(x[0, 0], x[1])", lambda v: v[0, 0] @ v[1]),
])
def test_matmul_matches_numpy(expression, f):
    x = np.random.default_rng(2).normal(size=(2, 2, 2, 2))
    assert_close(bj(expression, x), complex_step(f, x), 1e-14, expression)


# --- errors -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("expression, message, part", [
    ("sum(x, axis=2)", "sum: axis 2 is out of bounds for a value with 2 axes", "sum(x, axis=2)"),
    ("sin(x, axis=0)", "sin() takes no axis", "axis=0"),
    ("sum(x, axis=y)", "axis must be an integer literal", "y"),
    ("where(x, 1, 2)", "the condition of where() must be a comparison", "x"),
    ("where(0 < x < 1, 1, 2)", "chained comparisons are not allowed", "0 < x < 1"),
    ("x * (x > 0)", "comparisons are not allowed here", ">"),
    ("where(x is 1, 1, 2)", "'is' is not a comparison of numbers", "is"),
    ("matmul(x, x[0, 0])", "matmul: scalar operands are not allowed", "matmul(x, x[0, 0])"),
    ("matmul(x, x[:1, :])", "matmul: shapes (2, 2) and (1, 2) are not aligned", None),
    ("softmax(x, axis=-3)", "softmax: axis -3 is out of bounds for a value with 2 axes", None),
    ("clip(x, 1)", "clip() takes 3 arguments, got 2", "clip(x, 1)"),
])
def test_language_errors_point_at_the_bad_part(expression, message, part):
    x = np.ones((1, 2, 2))
    with pytest.raises(ExpressionError) as info:
        bj(expression, x)
    err = info.value
    assert err.message == message
    if part is not None:
        assert expression[err.span.start:err.span.end] == part


# --- batching never changes a bit ---------------------------------------------------------------------------------
@pytest.mark.parametrize("expression", ["softmax(x) * clip(x, -0.5, 0.5)", "where(x > 0, log_softmax(x), x**2)",
                                        "sum(matmul(x[:, None], x[None, :]) ** 2, axis=0)"])
def test_bit_identical_for_every_chunking(expression):
    x = np.random.default_rng(7).normal(size=(37, 4))
    whole = bj(expression, x, order=2)
    for kwargs in ({"parallel_iterations": 1}, {"parallel_iterations": 5}, {"pfor": False}):
        assert bj(expression, x, order=2, **kwargs).tobytes() == whole.tobytes(), kwargs
