"""The function table is complete: every row has a NumPy function, a SymPy class, a rule and a convention.

(The README line for every user-visible row is checked in test_readme.py; the rules' values in
test_derivatives.py against mpmath, from each function's entry in tests/function_data.py.)
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy

from jaccli.functions import ELEMENTWISE, ROWS, SYMPY, TABLE, for_display


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_row_is_complete(row):
    assert TABLE[row.name] is row
    assert SYMPY[row.name].jaccli_row is row and SYMPY[row.name].__name__ == row.name
    assert row.convention.strip()
    n = row.nargs or 3  # n-ary rows: try three arguments
    args = sympy.symbols(f"a0:{n}")
    partials = row.derivative(*args)
    assert all(partials[i] is not None for i in range(n))
    values = [np.array([0.3, 0.7]) + 0.1 * i for i in range(n)]
    with np.errstate(invalid="ignore"):  # acosh(0.3) is nan: only shapes and dtypes are checked here
        out = np.asarray(row.numpy(*values))
        out32 = np.asarray(row.numpy(*[v.astype(np.float32) for v in values]))
    assert out.shape == (2,) and out.dtype == np.float64
    assert out32.dtype == np.float32, "float32 data must stay float32"


def test_internal_helpers_are_not_user_functions():
    assert {r.name for r in ROWS if r.internal} & set(ELEMENTWISE) == set()
    x = sympy.Symbol("x")
    assert "omx2" not in str(for_display(SYMPY["omx2"](x)))


def test_constant_arguments_fold_in_float64():
    assert SYMPY["sin"](sympy.pi) == sympy.Float(np.sin(np.pi))
    assert float(SYMPY["erf"](sympy.Float(2.5))) == pytest.approx(0.9995930479825550, rel=1e-15)
