"""The catalog (jaccli/catalog.py) drives every check and listing of a call: these tests go through the real
parser, tracer and CLI, row by row, so a name list written anywhere else would make one of them fail.

(The README's function table and its fold-limit sentence are held equal to the catalog in test_readme.py.)
"""
from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jaccli import functions, numeric
from jaccli.catalog import CATALOG, KINDS, REDUCTION, SHAPED, Signature
from jaccli.errors import ExpressionError
from jaccli.expr import ir, shaped
from jaccli.expr.parse import parse_expression
from jaccli.expr.scope import make_scope
from jaccli.expr.trace import build_tape
from jaccli.plan.engine import evaluate, plan_jacobian

ROWS = list(CATALOG.values())
IDS = [s.name for s in ROWS]


def _call(s: Signature, n: int, axis: str = "") -> str:
    """``name(...)`` with n arguments; a condition row's first argument is a comparison."""
    args = ["x > 0" if i == 0 and s.condition else "x" for i in range(n)]
    return f"{s.name}({', '.join(args + ([axis] if axis else []))})"


def _trace(text: str, shape: tuple[int, ...] = (3,)):
    return build_tape(parse_expression(text), make_scope({"x": shape}), text)


@pytest.mark.parametrize("s", ROWS, ids=IDS)
def test_every_row_is_accepted_with_its_arity(s):
    tape = _trace(_call(s, s.arity))
    assert tape.equations[-1].prim is ir.PRIMITIVES[s.name]
    assert ir.PRIMITIVES[s.name].params == (("axis",) if s.axis else ()) or s.condition  # where: its comparison


@pytest.mark.parametrize("s", ROWS, ids=IDS)
@pytest.mark.parametrize("extra", [-1, 1])
def test_a_wrong_arity_is_refused_with_a_hint(s, extra):
    text = _call(s, s.arity + extra)
    with pytest.raises(ExpressionError) as info:
        _trace(text)
    n = s.arity
    assert info.value.message == f"{s.name}() takes {n} argument{'s' if n > 1 else ''}, got {n + extra}"
    assert info.value.hint == ("reduce along one axis with axis=k" if s.axis
                               else "'jaccli functions' shows every function with its arguments")
    assert text[info.value.span.start:info.value.span.end] == text


@pytest.mark.parametrize("s", ROWS, ids=IDS)
def test_the_parser_wants_a_comparison_first_exactly_where_the_row_says(s):
    with_comparison = f"{s.name}({', '.join(['x > 0'] + ['x'] * (s.arity - 1))})"
    with_value = f"{s.name}({', '.join(['x'] * s.arity)})"
    good, bad = (with_comparison, with_value) if s.condition else (with_value, with_comparison)
    parse_expression(good)
    with pytest.raises(ExpressionError) as info:
        parse_expression(bad)
    assert info.value.message == ("the condition of where() must be a comparison" if s.condition
                                  else "comparisons are not allowed here")


@pytest.mark.parametrize("s", ROWS, ids=IDS)
def test_axis_is_taken_exactly_by_the_rows_that_declare_it(s):
    text = _call(s, s.arity, axis="axis=0")
    if s.axis:
        assert _trace(text, (3, 2)).equations[-1].params == {"axis": 0}
        return
    with pytest.raises(ExpressionError) as info:
        _trace(text)
    assert info.value.message == f"{s.name}() takes no axis"
    assert info.value.hint == "axis=k is for " + ", ".join(r.name for r in ROWS if r.axis)


def test_the_default_axis_is_the_rows():
    """softmax without axis= is softmax over axis -1; a reduction without axis= reduces every axis, which is
    (for these) the same as reducing one axis, then the other: the reference is written with explicit axes."""
    x = np.random.default_rng(3).normal(size=(2, 3, 2))
    scope = make_scope({"x": (3, 2)})

    def jacobian(text: str) -> np.ndarray:
        return evaluate(plan_jacobian(text, scope, 1, np.dtype(np.float64)), {"x": x})

    for s in ROWS:
        if not s.axis:
            continue
        without = jacobian(f"{s.name}(x)")
        if s.default_axis is None:
            reference = jacobian(f"{s.name}({s.name}(x, axis=1), axis=0)")
            np.testing.assert_allclose(without, reference, rtol=1e-13, atol=1e-15, err_msg=s.name)
        else:
            assert without.tobytes() == jacobian(f"{s.name}(x, axis={s.default_axis})").tobytes(), s.name
        assert without.shape[1:-2] == (() if s.default_axis is None else (3, 2)), s.name


def test_every_row_has_its_implementation():
    assert {s.kind for s in ROWS} == set(KINDS)
    for s in ROWS:
        if s.elementwise:
            # ARITY is the catalog's count; the NumPy op and the derivative rule are what can disagree with it.
            row = functions.TABLE[s.name]
            assert not row.internal, s.name
            assert len(inspect.signature(row.derivative).parameters) == s.arity, s.name
            takes = row.numpy.nin if isinstance(row.numpy, np.ufunc) else len(inspect.signature(row.numpy).parameters)
            assert takes == s.arity, s.name
        else:
            assert s.name in (shaped.REDUCE if s.kind == REDUCTION else shaped.MOVES), s.name
    assert set(functions.ELEMENTWISE) == {s.name for s in ROWS if s.elementwise}
    assert set(shaped.REDUCE) | set(shaped.MOVES) == {s.name for s in ROWS if s.kind in (REDUCTION, SHAPED)}


def test_jaccli_functions_prints_every_row_once(jaccli):
    out = jaccli("functions").stdout.splitlines()
    for s in ROWS:
        assert len([line for line in out if line.startswith(s.call + " ")]) == 1, s.name
    # As written by hand: a one-argument rule says d/dx (d/dv), the others name each derivative.
    assert "sin(x)                          d/dx: cos(x)" in out
    assert "atan2(y, x)                     d/dy = x/hypot(y,x)**2, d/dx = -y/hypot(y,x)**2" in out
    assert "sum(v, axis=k)                  d/dv: 1 for every element summed" in out
    softmax = "softmax(v, axis=-1)             d/dv: softmax_i*(delta_ij - softmax_j), 1 - softmax_i summed from"
    assert any(printed.startswith(softmax) for printed in out)


@pytest.mark.parametrize("s", [s for s in ROWS if s.kind == REDUCTION], ids=lambda s: s.name)
def test_the_fold_limit_applies_exactly_to_the_rows_that_declare_it(s, monkeypatch):
    monkeypatch.setattr(shaped, "MAX_FOLD_ELEMENTS", 4)
    _trace(f"{s.name}(x)", (4,))  # at the limit: every reduction
    if not s.folds:
        _trace(f"{s.name}(x)", (5,))
        _trace(f"{s.name}(x, axis=0)", (5,))
        return
    for text in (f"{s.name}(x)", f"{s.name}(x, axis=0)"):
        with pytest.raises(ExpressionError) as info:
            _trace(text, (5,))
        assert info.value.message == f"{s.name}() over 5 elements (at most 4)"


def test_a_new_reduction_is_a_row_and_a_lane_move(monkeypatch):
    """The recipe of catalog.py's docstring, done at run time: sumsq(v) = sum(v**2), d/dv = 2*v."""
    row = Signature("sumsq", REDUCTION, "v", "2*v for every element", axis=True)
    monkeypatch.setitem(CATALOG, "sumsq", row)
    monkeypatch.setitem(shaped.REDUCE, "sumsq", shaped.Reduce(each=lambda u: u**2))
    monkeypatch.setitem(ir.PRIMITIVES, "sumsq", ir._declare()["sumsq"])  # what import does with the row
    x = np.random.default_rng(5).normal(size=(4, 3, 2))
    scope = make_scope({"x": (3, 2)})
    whole = evaluate(plan_jacobian("sumsq(x)", scope, 1, np.dtype(np.float64)), {"x": x})
    assert np.array_equal(whole, 2 * x)
    along = evaluate(plan_jacobian("sumsq(x, axis=1)", scope, 1, np.dtype(np.float64)), {"x": x})
    expected = np.zeros((4, 3, 3, 2))
    for i in range(3):
        expected[:, i, i, :] = 2 * x[:, i, :]
    assert np.array_equal(along, expected)


def test_an_implementation_table_must_match_the_catalog():
    from jaccli.catalog import check_implemented

    check_implemented((REDUCTION,), shaped.REDUCE, "REDUCE")
    with pytest.raises(ImportError, match="has no implementation of mean"):
        check_implemented((REDUCTION,), set(shaped.REDUCE) - {"mean"}, "REDUCE")
    with pytest.raises(ImportError, match="implements sumsq, which jaccli/catalog.py does not list as reduction"):
        check_implemented((REDUCTION,), [*shaped.REDUCE, "sumsq"], "REDUCE")


def _import_numeric_after(patch: str) -> subprocess.CompletedProcess:
    """Import jaccli.numeric in a fresh interpreter after ``patch`` has edited the catalog."""
    code = f"from jaccli import catalog\n{patch}\nfrom jaccli import numeric\nprint(numeric.ARITY['hypot'])"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent)))


def test_the_kernel_op_of_a_function_users_call_takes_its_arity_from_the_catalog():
    user = {s.name for s in ROWS if s.elementwise}
    assert set(numeric.USER_OPS) == user and user.isdisjoint(numeric.HELPER_OPS)
    assert {numeric.ARITY[s.name] for s in ROWS if s.elementwise} == {1, 2, 3}
    # One place: change a catalog row's arguments and the kernel op's arity follows, with no edit in numeric.py.
    three = _import_numeric_after("import dataclasses\ncatalog.CATALOG['hypot'] = "
                                  "dataclasses.replace(catalog.CATALOG['hypot'], args='a, b, c')")
    assert three.returncode == 0 and three.stdout.split() == ["3"], three.stderr
    # A catalog row of an elementwise kind without a NumPy op fails at import, naming the table that lacks it.
    lacking = _import_numeric_after("catalog.CATALOG['sinc'] = catalog.Signature('sinc', catalog.ELEMENTWISE, "
                                    "'x', 'cos(x)/x - sin(x)/x**2')")
    assert lacking.returncode != 0 and "jaccli/numeric.py has no implementation of sinc" in lacking.stderr
