"""``reduce=``, ``jvp=``, ``vjp=`` against hand-derived values and independent references (never jaccli's formulas).

Hand-derived: the spherical-coordinate determinant ``r**2 sin(theta)``, the divergence ``(n-1)/|x|`` of ``x/|x|``,
the Laplacian ``(4|x|**2 - 2n) exp(-|x|**2)`` of ``exp(-|x|**2)``, the Hessian diagonal ``12 x**2`` of
``sum(x**4)``. Directional derivatives equal the complex-step / Richardson Jacobian contracted with the vector.
Then structure (what is evaluated), conventions (kinks, singular determinants, unconnected targets), dtypes and
bit-identity across chunkings.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaccli
from jaccli.expr.scope import make_scope
from jaccli.plan.reduce import ReducedPlan, Reduction, plan_reduced
from oracle import complex_step, richardson
from test_derivatives import EXPRESSIONS, assert_close, assert_rel

bj = jaccli.batch_jacobian
RNG = np.random.default_rng(7)


def spherical(p):
    r, theta, phi = p[0], p[1], p[2]
    return np.stack([r * np.sin(theta) * np.cos(phi), r * np.sin(theta) * np.sin(phi), r * np.cos(theta)])


SPHERICAL = "[x[0]*sin(x[1])*cos(x[2]), x[0]*sin(x[1])*sin(x[2]), x[0]*cos(x[1])]"


def plan(expression: str, shapes: dict, order: int, reduction: Reduction) -> ReducedPlan:
    p = plan_reduced(expression, make_scope(shapes), order, np.dtype(np.float64), reduction)
    assert isinstance(p, ReducedPlan)
    return p


# --- hand-derived values ------------------------------------------------------------------------------------
def test_spherical_det_is_r2_sin_theta():
    x = np.column_stack([RNG.uniform(0.5, 3, 40), RNG.uniform(-3, 3, 40), RNG.uniform(-3, 3, 40)])
    expected = x[:, 0] ** 2 * np.sin(x[:, 1])
    assert_rel(bj(SPHERICAL, x, reduce="det"), expected, 1e-13, "det")
    sign, logabs = bj(SPHERICAL, x, reduce="logabsdet")
    np.testing.assert_array_equal(sign, np.sign(expected))
    assert_rel(logabs, np.log(np.abs(expected)), 1e-13, "logabsdet")


@pytest.mark.parametrize("n", [2, 5, 40])
def test_divergence_of_unit_field(n):
    x = RNG.normal(size=(30, n))
    assert_rel(bj("x/norm(x)", x, reduce="trace"), (n - 1) / np.linalg.norm(x, axis=1), 1e-13, "divergence")


def test_divergence_of_unit_field_in_one_dimension_is_zero():
    x = RNG.normal(size=(30, 1))
    assert (np.abs(bj("x/norm(x)", x, reduce="trace")) <= 4 * np.spacing(1 / np.abs(x[:, 0]))).all()


@pytest.mark.parametrize("n", [1, 3, 50])
def test_laplacian_of_gaussian(n):
    x = RNG.normal(size=(25, n)) * 0.7
    r2 = np.sum(x**2, axis=1)
    got = bj("exp(-sum(x**2))", x, order=2, reduce="trace")
    assert got.shape == (25,)
    assert_rel(got, (4 * r2 - 2 * n) * np.exp(-r2), 1e-12, "laplacian")


def test_hessian_diagonal_of_quartic():
    x = RNG.normal(size=(10, 6))
    got = bj("sum(x**4)", x, order=2, reduce="diag")
    assert got.shape == (10, 6)
    assert_rel(got, 12 * x**2, 1e-15, "diag")


def test_laplacian_of_each_target_component():
    """Order 2 trace keeps the target axes: y = [x0**2 * x1, sin(x0) + x1**3] -> [2 x1, -sin(x0) + 6 x1]."""
    x = RNG.normal(size=(8, 2))
    got = bj("[x[0]**2 * x[1], sin(x[0]) + x[1]**3]", x, order=2, reduce="trace")
    assert_rel(got, np.column_stack([2 * x[:, 1], -np.sin(x[:, 0]) + 6 * x[:, 1]]), 1e-15, "laplacians")


def test_jacobian_diagonal_of_elementwise_map():
    x = RNG.normal(size=(12, 7))
    got = bj("sin(x)*exp(-x**2)", x, reduce="diag")
    assert got.shape == (12, 7)
    assert_rel(got, (np.cos(x) - 2 * x * np.sin(x)) * np.exp(-x**2), 1e-14, "diag")


# --- directional derivatives against the contracted full Jacobian ---------------------------------------------
DENSE = "[x[0]*sin(x[1]), x[1]*exp(x[2]) + x[0]**2, tanh(x[0]*x[2])]"


def dense(p):
    return np.stack([p[0] * np.sin(p[1]), p[1] * np.exp(p[2]) + p[0] ** 2, np.tanh(p[0] * p[2])])


def test_jvp_and_vjp_order_1():
    x, v, u = (RNG.normal(size=(15, 3)) for _ in range(3))
    jac = complex_step(dense, x)  # (B, 3, 3)
    data = {"x": x, "v": v, "u": u}
    assert_rel(bj(DENSE, data, jvp="v"), np.einsum("bts,bs->bt", jac, v), 1e-13, "jvp")
    assert_rel(bj(DENSE, data, vjp="u"), np.einsum("bts,bt->bs", jac, u), 1e-13, "vjp")
    assert_rel(bj(DENSE, data, jvp="v", vjp="u"), np.einsum("bts,bt,bs->b", jac, u, v), 1e-12, "u J v")


def test_hessian_vector_products():
    x, v, u = (RNG.normal(size=(6, 3)) * 0.8 for _ in range(3))
    hess = richardson(dense, x, 2)  # (B, 3, 3, 3)
    data = {"x": x, "v": v, "u": u}
    assert_close(bj(DENSE, data, 2, jvp="v"), np.einsum("btrs,bs->btr", hess, v), 1e-9, "hvp")
    assert_close(bj(DENSE, data, 2, vjp="u"), np.einsum("btrs,bt->brs", hess, u), 1e-9, "vjp order 2")


def test_jvp_of_elementwise_map_is_diagonal_times_vector():
    x, v = RNG.normal(size=(9, 30)), RNG.normal(size=(9, 30))
    got = bj("tanh(x)", {"x": x, "v": v}, jvp="v")
    assert_rel(got, v / np.cosh(x) ** 2, 1e-14, "jvp")


def test_jvp_with_rank_2_source():
    x, v = RNG.normal(size=(4, 2, 3)), RNG.normal(size=(4, 2, 3))
    jac = complex_step(lambda p: np.sin(p) * p[0, 0], x)  # (B, 2, 3, 2, 3)
    got = bj("sin(x) * x[0, 0]", {"x": x, "v": v}, jvp="v")
    assert_rel(got, np.einsum("btuij,bij->btu", jac, v), 1e-13, "jvp rank 2")


def test_vector_may_be_a_csv_column():
    x = np.array([[2.0, 0.5], [1.0, 1.5]])
    got = bj("[r*cos(theta), r*sin(theta)]", x, names=["r", "theta"], wrt="theta", jvp="r")
    assert_rel(got, x[:, :1] * np.column_stack([-x[:, 0] * np.sin(x[:, 1]), x[:, 0] * np.cos(x[:, 1])]),
               1e-15, "jvp by a column")


# --- determinants: structure and conventions -------------------------------------------------------------------
def test_triangular_det_is_the_product_of_the_diagonal():
    """An autoregressive map: no block is formed (dense=False), det = exp(x0) * exp(x0 + x1)."""
    expr = "[x[0], x[1]*exp(x[0]), x[2]*exp(x[0] + x[1])]"
    assert not plan(expr, {"x": (3,)}, 1, Reduction("det")).dense
    x = RNG.normal(size=(20, 3))
    assert_rel(bj(expr, x, reduce="det"), np.exp(2 * x[:, 0] + x[:, 1]), 1e-14, "triangular det")


def test_dense_det_matches_the_determinant_of_an_independent_jacobian():
    assert plan(DENSE, {"x": (3,)}, 1, Reduction("det")).dense
    x = RNG.normal(size=(20, 3))
    assert_rel(bj(DENSE, x, reduce="det"), np.linalg.det(complex_step(dense, x)), 1e-11, "dense det")


@pytest.mark.parametrize("expr", ["[x[0], x[0]]", "[x[0] + x[1], 2*x[0] + 2*x[1]]", "x*0 + 1*x[0]"])
def test_singular_logabsdet_is_minus_inf_with_sign_0(expr):
    x = RNG.normal(size=(3, 2))
    sign, logabs = bj(expr, x, reduce="logabsdet")
    np.testing.assert_array_equal(sign, 0.0)
    np.testing.assert_array_equal(logabs, -np.inf)
    np.testing.assert_array_equal(bj(expr, x, reduce="det"), 0.0)


def test_hessian_logabsdet_per_target():
    """Order 2: one Hessian per target value; logsumexp-free closed form: H of sum(x**4)/12 is diag(x**2)."""
    x = RNG.uniform(0.5, 2, size=(5, 3))
    sign, logabs = bj("sum(x**4)/12", x, order=2, reduce="logabsdet")
    np.testing.assert_array_equal(sign, 1.0)
    assert_rel(logabs, np.sum(np.log(x**2), axis=1), 1e-14, "log det H")


# --- conventions, unconnected, dtypes -------------------------------------------------------------------------
def test_kink_conventions_hold():
    x = np.array([[0.0, -1.0, 2.0]])
    np.testing.assert_array_equal(bj("relu(x)", x, reduce="diag"), [[0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(bj("abs(x)", x, reduce="diag"), [[0.0, -1.0, 1.0]])
    # maximum's tie at 0 gives the whole derivative to its first argument: 1 + 0 + 1
    np.testing.assert_array_equal(bj("maximum(x, 0*x)", x, reduce="trace"), [2.0])


def test_unconnected_target():
    data = {"x": np.ones((2, 2)), "y": np.ones((2, 2))}
    assert bj("y*2", data, reduce="trace") is None
    np.testing.assert_array_equal(bj("y*2", data, reduce="trace", unconnected="zero"), [0.0, 0.0])
    sign, logabs = bj("y*2", data, reduce="logabsdet", unconnected="zero")
    np.testing.assert_array_equal(sign, [0.0, 0.0])
    np.testing.assert_array_equal(logabs, [-np.inf, -np.inf])


def test_float32_stays_float32():
    x = RNG.normal(size=(4, 3)).astype(np.float32)
    for kwargs in ({"reduce": "det"}, {"reduce": "trace"}, {"reduce": "diag", "order": 2}):
        assert bj(DENSE, x, **kwargs).dtype == np.float32
    got = bj("x*x*x", x, reduce="diag")
    np.testing.assert_allclose(got, 3 * x.astype(np.float64) ** 2, rtol=1e-6)


def test_order_3_trace_shape():
    x = RNG.normal(size=(3, 2))
    got = bj("sum(x**4)", x, order=3, reduce="trace")  # d3/dx_a dx_s dx_s: 24 x_a on a == s only
    assert got.shape == (3, 2)
    assert_rel(got, 24 * x, 1e-15, "order 3 trace")


# --- structure: what is evaluated ---------------------------------------------------------------------------
def test_only_diagonal_partials_are_evaluated():
    """Trace of the polar map needs d(r cos t)/dr and d(r sin t)/dt: 2 of the 4 partials, one lane each."""
    p = plan("[x[0]*cos(x[1]), x[0]*sin(x[1])]", {"x": (2,)}, 1, Reduction("trace"))
    assert sum(len(g.program.outputs) for g in p.groups) == 2


def test_laplacian_never_forms_the_hessian():
    """70 000 features: the full Hessian would have 4.9e9 values per example (over the 2**32 limit)."""
    n = 70_000
    p = plan("sum(sin(x))", {"x": (n,)}, 2, Reduction("trace"))
    assert p.work_per_example() < 20 * n
    x = RNG.normal(size=(2, n))
    assert_rel(bj("sum(sin(x))", x, order=2, reduce="trace"), -np.sum(np.sin(x), axis=1), 1e-12, "laplacian")


def test_diag_of_elementwise_map_is_linear_in_n():
    p = plan("sin(x)*exp(-x**2)", {"x": (300,)}, 1, Reduction("diag"))
    assert p.example_shape == (300,) and p.work_per_example() < 100 * 300


@pytest.mark.parametrize("kwargs", [{"reduce": "trace", "order": 2}, {"reduce": "diag"}, {"reduce": "det"},
                                    {"reduce": "logabsdet"}, {"jvp": "v"}, {"vjp": "v", "order": 2}])
def test_bit_identical_for_every_chunking(kwargs):
    x, v = RNG.normal(size=(37, 3)), RNG.normal(size=(37, 3))
    expr = DENSE if "reduce" in kwargs and kwargs["reduce"] in ("det", "logabsdet") else "sum(sin(x)*x[0]) * x"
    data = {"x": x, "v": v}
    first = np.asarray(bj(expr, data, **kwargs))
    for options in ({"parallel_iterations": 1}, {"parallel_iterations": 5}, {"pfor": False}):
        np.testing.assert_array_equal(np.asarray(bj(expr, data, **kwargs, **options)).view(np.uint64),
                                      first.view(np.uint64))


def test_nan_rule_carries_through_reductions():
    """A component whose value is nan has nan derivatives (plan/nanrule.py); so has what is reduced from them."""
    expr = "[sqrt(x[0]) + x[1], x[0]*x[1]]"
    x, v = np.array([[-1.0, 2.0], [4.0, 3.0]]), np.ones((2, 2))
    full = bj(expr, x)
    assert np.isnan(full[0, 0]).all() and np.isfinite(full[1]).all()
    diag = bj(expr, x, reduce="diag")
    assert np.isnan(diag[0, 0]) and diag[0, 1] == -1.0
    for kwargs in ({"reduce": "trace"}, {"reduce": "det"}, {"vjp": "v"}):
        got = np.asarray(bj(expr, {"x": x, "v": v}, **kwargs))
        assert np.isnan(got[0]).all() and np.isfinite(got[1]).all(), kwargs
    jvp = bj(expr, {"x": x, "v": v}, jvp="v")
    assert np.isnan(jvp[0, 0]) and jvp[0, 1] == 1.0
    sign, logabs = bj(expr, x, reduce="logabsdet")
    assert np.isnan(sign[0]) and np.isnan(logabs[0]) and sign[1] == -1.0  # det [[1/4, 1], [3, 4]] = -2
    hess = bj(expr, x, order=2, reduce="trace")
    assert np.isnan(hess[0, 0]) and hess[0, 1] == 0.0


# --- the index maps, on awkward structure: every reduction equals NumPy's reduction of the full tensor ---------
STRUCTURES = [
    ("x * x[::-1]", (4,)),  # aliasing: two slots meet in the middle
    ("[x[0]*x[1], x[1]*x[2], x[2]*x[0]]", (3,)),
    ("sin(x) * sum(x**2) + dot(x, x[::-1]) * x", (5,)),
    ("exp(x) * x[0, 1]", (2, 2)),  # rank-2 source
    ("softplus(x - mean(x)) * [[1, 2], [3, 4]]", (2, 2)),
    ("[prod(x), norm(x), logsumexp(x)]", (3,)),
]


def _reductions_of_full(full: np.ndarray, order: int, n: int, kind: str) -> np.ndarray:
    b = full.shape[0]
    blocks = full.reshape(b, -1, n, n)
    if kind == "trace":
        return np.trace(blocks, axis1=2, axis2=3)
    if kind == "diag":
        return np.diagonal(blocks, axis1=2, axis2=3)
    return np.linalg.det(blocks)


@pytest.mark.parametrize("expr, shape", STRUCTURES, ids=[e for e, _ in STRUCTURES])
@pytest.mark.parametrize("order", [1, 2])
def test_reductions_agree_with_numpy_on_the_full_tensor(expr, shape, order):
    x, v, u = RNG.uniform(0.3, 1.2, size=(5,) + shape), RNG.normal(size=(5,) + shape), RNG.normal(size=(5,) + shape)
    full = bj(expr, x, order=order)
    n = int(np.prod(shape))
    b = x.shape[0]
    for kind in ("trace", "diag", "det"):
        if order == 1 and full[0].size != n * n:
            continue
        got = bj(expr, x, order=order, reduce=kind).reshape(b, -1)
        assert_close(got, _reductions_of_full(full, order, n, kind).reshape(b, -1), 1e-13, kind)
    flat = full.reshape(b, -1, n)
    got = bj(expr, {"x": x, "v": v}, order=order, jvp="v").reshape(b, -1)
    assert_close(got, np.einsum("bps,bs->bp", flat, v.reshape(b, n)), 1e-13, "jvp")
    if full.shape[1:1 + len(shape)] == shape:  # T == S here, so u (shaped like S) fits the target too
        got = bj(expr, {"x": x, "u": u}, order=order, vjp="u").reshape(b, -1)
        assert_close(got, np.einsum("bts,bt->bs", full.reshape(b, n, -1), u.reshape(b, n)), 1e-13, "vjp")


@pytest.mark.parametrize("kwargs, message", [({"reduce": "trac"}, "unknown reduction 'trac' (did you mean 'trace'?)"),
                                             ({"reduce": True}, "--reduce takes a name"),
                                             ({"jvp": ["v"]}, "--jvp takes a name")])
def test_api_refuses_bad_arguments(kwargs, message):
    with pytest.raises(jaccli.errors.UsageError, match=re.escape(message)):
        bj("x", {"x": np.ones((2, 2)), "v": np.ones((2, 2))}, **kwargs)


def test_overflow_rescue_holds_for_reductions():
    """d2/dx2 1/(1+x**2) at 1e200 passes through inf in float64; the engine's wider retry keeps it finite (0)."""
    x = np.array([[1e200, 1.0]])
    np.testing.assert_array_equal(bj("sum(1/(1+x**2))", x, order=2, reduce="diag"), [[0.0, 0.5]])
    np.testing.assert_array_equal(bj("sum(1/(1+x**2))", x, order=2, reduce="trace"), [0.5])


def test_api_params_as_the_vector():
    x, w = RNG.normal(size=(4, 3)), np.array([1.0, 0.0, 2.0])
    assert_rel(bj("tanh(x)", x, jvp="w", params={"w": w}), w / np.cosh(x) ** 2, 1e-14, "jvp by a parameter")


# --- a property: random 3 -> 3 maps, every reduction against the complex-step Jacobian -------------------------
@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.tuples(EXPRESSIONS, EXPRESSIONS, EXPRESSIONS))
def test_random_maps_reduce_like_the_complex_step_jacobian(trees):
    expression = "[" + ", ".join(f"({text}) + 0*x[0]" for text, _ in trees) + "]"
    x = np.array([[0.3, -0.7, 1.1], [-1.2, 0.4, 0.9]])
    v, u = np.array([[1.0, -2.0, 0.5], [0.3, 0.2, -1.0]]), np.array([[0.5, 1.0, 2.0], [-1.0, 0.0, 1.5]])
    jac = complex_step(lambda p: np.stack([f(p) + 0 * p[0] for _, f in trees]), x)
    data = {"x": x, "v": v, "u": u}
    assert_close(bj(expression, x, reduce="trace"), np.trace(jac, axis1=1, axis2=2), 1e-10, expression)
    assert_close(bj(expression, x, reduce="diag"), np.diagonal(jac, axis1=1, axis2=2), 1e-10, expression)
    assert_close(bj(expression, x, reduce="det"), np.linalg.det(jac), 1e-9, expression)
    assert_close(bj(expression, data, jvp="v"), np.einsum("bts,bs->bt", jac, v), 1e-10, expression)
    assert_close(bj(expression, data, vjp="u"), np.einsum("bts,bt->bs", jac, u), 1e-10, expression)
