"""The per-function test data (``tests/function_data.py``) and the catalog (``jaccli/catalog.py``) name the same
elementwise and selection functions, so one cannot be added without a domain and an independent reference to test
it against. (Reductions and shaped functions have no scalar domain: test_reduce.py and test_language.py.)"""
from __future__ import annotations

import numpy as np
import pytest

from function_data import FUNCTIONS
from jaccli.catalog import CATALOG

BY_ELEMENT = {s.name for s in CATALOG.values() if s.elementwise}  # the elementwise and selection kinds
WHERE = "tests/function_data.py (FUNCTIONS: an mpmath reference, points, a smooth domain; kinks if it has any)"


def test_every_elementwise_and_selection_function_has_test_data():
    missing = sorted(BY_ELEMENT - set(FUNCTIONS))
    assert not missing, f"functions without test data: {missing}; add an entry for each to {WHERE}"


def test_every_entry_names_an_elementwise_or_selection_function():
    unknown = sorted(set(FUNCTIONS) - BY_ELEMENT)
    assert not unknown, f"test data for {unknown}, which jaccli/catalog.py has no elementwise or selection row for"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_entry_exercises_every_argument_of_its_row(name):
    fn, row = FUNCTIONS[name], CATALOG[name]
    assert fn.name == name and fn.expression.startswith(f"{name}(")
    if fn.call is None:  # name(x) or name(x[0], ..., x[n-1]): one scalar per argument
        assert fn.arity == row.arity, f"{name}: points of {fn.arity} values, the row takes {row.arity}"
    assert all(isinstance(p, tuple) == (fn.arity > 1) and np.size(p) == fn.arity for p in fn.points), name


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_entry_is_well_formed(name):
    fn = FUNCTIONS[name]
    assert not (getattr(fn.reference, "__module__", None) or "").startswith("jaccli"), "never jaccli's own formulas"
    draw = fn.domain(np.random.default_rng(0), 4)
    assert draw.shape == (4, max(2, fn.arity)) and np.isfinite(draw).all()
    for point, d1 in fn.kinks:
        assert np.size(point) == fn.arity and np.size(d1) == fn.arity, f"{name}: kink {point} -> {d1}"
    assert len(fn.derivatives) == (3 if fn.extremes else 0), f"{name}: extremes need closed forms of d1, d2, d3"
