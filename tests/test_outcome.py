"""Every check's outcome has one shape (``checks/outcome.py``): ok, summary(), failure, hint; ``combine`` joins them."""
from __future__ import annotations

import numpy as np

from jaccli.checks.compare import compare
from jaccli.checks.outcome import Combined, TextOutcome, combine
from jaccli.checks.results import Result
from jaccli.checks.several import OrdersComparison, compare_orders
from jaccli.checks.verify import Verification

GOLDEN = Result(np.array([[1.0, 2.0]]), (1, 2), np.dtype(np.float64), fmt="json", label="golden.json")
OTHER = Result(np.array([[1.0, 3.0]]), (1, 2), np.dtype(np.float64), fmt="json", label="other.json")


def test_combine_none_one_several():
    passed, failed = TextOutcome(True, "a: ok"), TextOutcome(False, "b: no", "b failed", "fix b")
    assert combine([]) is None and combine([None, None]) is None
    assert combine([None, passed]) is passed  # one outcome stays itself
    both = combine([passed, failed, TextOutcome(False, "c: no", "c failed", "fix c")])
    assert isinstance(both, Combined)
    assert (both.ok, both.failure, both.hint) == (False, "b failed; c failed", "fix b")
    assert both.summary() == "a: ok\nb: no\nc: no"
    assert combine([passed, passed]).ok  # type: ignore[union-attr]


def test_comparison_words_its_failure_by_who_asked():
    """Two saved files: their names, widen the tolerances; a result just computed: regenerate the golden."""
    files = compare(GOLDEN, OTHER)
    assert not files.ok and files.failure == "other.json differs from golden.json"
    assert files.hint == "widen --rtol/--atol only if the change is expected"
    assert files.summary().startswith("mismatch: 1 of 2 values differ")
    computed = compare(GOLDEN, Result.from_array(np.array([[1.0, 3.0]])), names=("g.json", "the result"))
    assert computed.failure == "the result differs from g.json"
    assert computed.hint == "if the change is intended, regenerate the golden file with -o"
    assert compare(GOLDEN, GOLDEN).ok


def test_several_orders_are_one_outcome():
    several = compare_orders({0: GOLDEN, 1: GOLDEN}, {0: GOLDEN, 1: OTHER}, None, None, names=("a.npz", "b.npz"))
    assert isinstance(several, OrdersComparison)
    assert not several.ok and several.failure == "b.npz differs from a.npz"
    assert several.summary().splitlines()[0].startswith("order 0: match: 2 values")
    assert several.summary().splitlines()[1].startswith("order 1: mismatch: 1 of 2 values differ")
    apart = compare_orders({0: GOLDEN}, {1: GOLDEN, 2: GOLDEN}, None, None)
    assert not apart.ok and apart.summary() == "orders differ: expected 0, actual 1, 2"


def test_verification_is_an_outcome():
    outcome = Verification(order=1, tolerance=1e-6, rows_checked=2, values_checked=4, failures=1, max_rel_error=0.5)
    assert not outcome.ok
    assert outcome.failure == "the symbolic derivative disagrees with finite differences"
    assert outcome.hint == "report the expression: a derivative rule may be wrong"
    assert outcome.summary().startswith("verify: order 1, 2 rows, 4 values, max rel error 0.5")
    assert combine([outcome, compare(GOLDEN, GOLDEN)]).failure == outcome.failure  # type: ignore[union-attr]
