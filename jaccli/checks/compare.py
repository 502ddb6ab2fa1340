"""Compare two results (golden vs actual) within tolerances, and say briefly where they differ.

An element matches when ``|actual - expected| <= atol + rtol * |expected|`` (numpy's ``isclose`` rule, asymmetric:
the golden file is the reference), or when both are nan, or when both are the same infinity. So nan only matches
nan and ``inf`` only matches ``inf`` of the same sign, never a large finite number.

Default tolerances follow the less precise of the two dtypes (a file that does not record its dtype, csv, takes
the other file's)::

    float64  rtol=1e-12  atol=1e-12    a few hundred ulps: survives a different summation order
    float32  rtol=1e-5   atol=1e-6     ~100 ulps
    float16  rtol=1e-3   atol=1e-3     ~10 ulps

A shape difference is reported without an elementwise comparison; a dtype difference (when both files know their
dtype) is a mismatch of its own, reported next to the values.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from jaccli.errors import UsageError
from jaccli.checks.results import Result
from jaccli.checks.tolerances import DEFAULT_TOLERANCES

WORST_SHOWN = 5

Index = tuple[int, ...]


@dataclass(kw_only=True)
class Mismatch:
    """What a failed comparison (of one result, or of several orders) says on the ``Error:`` line, and its hint."""

    names: tuple[str, str] = ("the golden file", "the result")  # (expected, actual) as the user knows them
    computed: bool = False  # the actual result was computed just now (``--expect``), not read from a file

    @property
    def failure(self) -> str:
        return f"{self.names[1]} differs from {self.names[0]}"

    @property
    def hint(self) -> str:
        # A result just computed is meant to be saved again (-o); two saved files may only need wider tolerances.
        if self.computed:
            return "if the change is intended, regenerate the golden file with -o"
        return "widen --rtol/--atol only if the change is expected"


@dataclass
class Comparison(Mismatch):
    """The outcome of ``compare`` (a ``checks.outcome.Outcome``). ``worst`` holds up to five mismatching elements,
    nan/inf disagreements first, then by absolute error: ``(index, expected, actual, abs_err, rel_err)``.
    ``problems`` are whole-result differences (shape, dtype, None) in plain words. ``max_abs``/``max_rel`` are over
    elements where both values are finite: the numbers to look at when choosing tolerances. ``layout`` and
    ``entry`` name the values in ``summary()``."""

    ok: bool
    mismatches: int
    total: int
    max_abs: float
    max_rel: float
    rtol: float
    atol: float
    worst: list[tuple[Index, float, float, float, float]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    nonfinite_mismatches: int = 0
    dtypes: tuple[np.dtype, np.dtype] = (np.dtype(np.float64), np.dtype(np.float64))  # expected's, actual's
    exact: bool = True
    layout: list[str] | None = None
    none: bool = False  # both results are None
    entry: Callable[[Index], str] | None = None

    def summary(self, layout: list[str] | None = None,
                entry: Callable[[Index], str] | None = None) -> str:
        """A few lines for standard error; axis names from ``layout`` (else the files' own) when it fits the shape,
        or with ``entry`` each value named as ``[batch=2] d y[1]/d theta`` (``entry`` gets the per-example index)."""
        layout, entry = layout or self.layout, entry or self.entry
        tolerances = f"rtol={_num(self.rtol)}, atol={_num(self.atol)}"
        errors = f"max abs error {_err(self.max_abs)}, max rel error {_err(self.max_rel)}"
        if self.ok and self.none:
            return "match: both are None results (the target is not connected to the source)"
        if self.ok:
            return f"match: {self.total} values within {tolerances} ({errors})"
        lines = [f"mismatch: {problem}" for problem in self.problems]
        if not self.mismatches:
            if self.total:  # e.g. only the dtype differs: say that the values themselves agree
                lines.append(f"  the {self.total} values agree within {tolerances} ({errors})")
            return "\n".join(lines)
        lines += [f"mismatch: {self.mismatches} of {self.total} values differ ({tolerances})", f"  {errors}"]
        if self.nonfinite_mismatches:
            lines.append(f"  {self.nonfinite_mismatches} of them disagree on nan/inf")
        if self.worst:
            lines.append("  worst:")
            for index, expected, actual, abs_err, rel_err in self.worst:
                where = f"[batch={index[0]}] {entry(index[1:])}" if entry and index else _index(index, layout)
                lines.append(f"    {where}  expected {_num(expected, self.dtypes[0])}  "
                             f"actual {_num(actual, self.dtypes[1])}  abs {_err(abs_err)}  rel {_err(rel_err)}")
        if not self.exact:
            lines.append("  note: a text file is rounded to --precision digits; use json or npy for exact goldens, "
                         "or widen --rtol/--atol")
        return "\n".join(lines)


def comparison_dtype(expected: Result, actual: Result) -> np.dtype:
    """The less precise of the dtypes the two results know (float64 if neither knows): it sets the tolerances."""
    known = [r.dtype for r in (expected, actual) if r.dtype_known]
    return min(known, key=lambda d: d.itemsize) if known else np.dtype(np.float64)


def compare(expected: Result, actual: Result, rtol: float | None = None, atol: float | None = None, *,
            names: tuple[str, str] | None = None) -> Comparison:
    """Compare ``actual`` with the golden ``expected``; omitted tolerances take the dtype-aware defaults.
    ``names`` (expected, actual) word the failure; default: the results' labels."""
    dtype = comparison_dtype(expected, actual)
    default_rtol, default_atol = DEFAULT_TOLERANCES[dtype.name]
    rtol = default_rtol if rtol is None else _tolerance("rtol", rtol)
    atol = default_atol if atol is None else _tolerance("atol", atol)
    result = Comparison(True, 0, 0, 0.0, 0.0, rtol, atol, dtypes=(expected.dtype, actual.dtype),
                        exact=expected.exact and actual.exact, layout=expected.layout or actual.layout,
                        names=names or (expected.label, actual.label), computed=actual.fmt == "memory")
    if expected.dtype_known and actual.dtype_known and expected.dtype != actual.dtype:
        result.problems.append(f"dtype differs: expected {expected.dtype.name}, actual {actual.dtype.name}")
    if expected.array is None or actual.array is None:
        if (expected.array is None) != (actual.array is None):
            which, other = ("expected", actual) if expected.array is None else ("actual", expected)
            result.problems.append(f"{which} is a None result (target not connected to the source), "
                                   f"the other is an array of shape {_shape(other.shape)}")
        elif expected.shape is not None and actual.shape is not None and expected.shape != actual.shape:
            result.problems.append(f"both are None results, but of shapes {_shape(expected.shape)} (expected) "
                                   f"and {_shape(actual.shape)} (actual)")
        result.ok = not result.problems
        result.none = expected.array is None and actual.array is None
        return result
    expected, actual = _unflatten(expected, actual), _unflatten(actual, expected)
    assert expected.array is not None and actual.array is not None  # None results returned above
    if expected.array.shape != actual.array.shape:
        result.problems.append(f"shape differs: expected {_shape(expected.array.shape)}, "
                               f"actual {_shape(actual.array.shape)}")
        result.ok = False
        return result
    _compare_values(expected.array, actual.array, result)
    result.ok = not result.problems and result.mismatches == 0
    return result


def _unflatten(result: Result, other: Result) -> Result:
    """A csv with a names header does not say its per-example shape: take the other result's when it fits."""
    if not result.flat or result.array is None or other.array is None or other.flat:
        return result
    if result.array.shape[0] != other.array.shape[0] or result.array.size != other.array.size:
        return result
    return dataclasses.replace(result, array=result.array.reshape(other.array.shape), shape=other.array.shape)


def _compare_values(expected: np.ndarray, actual: np.ndarray, result: Comparison) -> None:
    """Fill in the counts, the error maxima and the worst elements of ``result``."""
    e = expected.astype(np.float64)  # float64 is exact for every float16/32 value, and their differences
    a = actual.astype(np.float64)
    result.total = int(e.size)
    finite = np.isfinite(e) & np.isfinite(a)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        abs_err = np.abs(a - e)  # may overflow to inf for huge opposite values: then it is a mismatch, rightly
        rel_err = np.where(abs_err == 0, 0.0, abs_err / np.abs(e))
        close = finite & (abs_err <= result.atol + result.rtol * np.abs(e))
    same_nonfinite = ~finite & ((np.isnan(e) & np.isnan(a)) | (e == a))
    bad = ~(close | same_nonfinite)
    bad_nonfinite = bad & ~finite
    result.mismatches = int(bad.sum())
    result.nonfinite_mismatches = int(bad_nonfinite.sum())
    if finite.any():
        result.max_abs = float(abs_err[finite].max())
        result.max_rel = float(rel_err[finite].max())
    if not result.mismatches:
        return
    # Worst first: nan/inf disagreements (in index order), then the largest absolute errors.
    flat_bad = np.flatnonzero(bad)
    key = np.where(bad_nonfinite.reshape(-1)[flat_bad], np.inf, abs_err.reshape(-1)[flat_bad])
    if flat_bad.size > WORST_SHOWN:
        keep = np.argpartition(-key, WORST_SHOWN - 1)[:WORST_SHOWN]
        flat_bad, key = flat_bad[keep], key[keep]
    order = sorted(range(flat_bad.size), key=lambda i: (-key[i], flat_bad[i]))
    for i in order:
        index = tuple(int(n) for n in np.unravel_index(flat_bad[i], e.shape))
        result.worst.append((index, float(e[index]), float(a[index]), float(abs_err[index]), float(rel_err[index])))


def _tolerance(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"--{name} must be a finite number >= 0, not {value!r}",
                         hint=f"e.g. --{name} 1e-6 (0 allows no difference)")
    return value


def _num(value: float, dtype: np.dtype | None = None) -> str:
    """Shortest round-trip form (in ``dtype`` when given, so float32 48.5 is '48.5', not 48.5000001...)."""
    if dtype is not None and dtype != np.float64 and math.isfinite(value):
        return repr(float(str(dtype.type(value))))
    return repr(float(value))


def _err(value: float) -> str:
    """An error magnitude to 3 significant digits: more would be noise."""
    return repr(float(f"{value:.3g}"))


def _shape(shape: tuple[int, ...] | None) -> str:
    return "(unknown)" if shape is None else str(tuple(shape))


def _index(index: Index, layout: list[str] | None) -> str:
    """``[batch=0, target.0=1]`` with axis names, else ``[0, 1]``."""
    if layout and len(layout) == len(index):
        return "[" + ", ".join(f"{name}={i}" for name, i in zip(layout, index)) + "]"
    return "[" + ", ".join(str(i) for i in index) + "]"
