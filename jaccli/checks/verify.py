"""``--verify``: check a symbolic batch Jacobian against finite differences, one order at a time.

The symbolic result of order ``k`` is checked link by link: order ``j`` (for every ``j = 1..k``) must equal the
*numerical* derivative of the *symbolic* order ``j-1`` result, and order 0 is the function value itself. By
induction order ``k`` is then the true k-th derivative of the value. Checking only the top link would not do: a
wrong first-derivative rule (``sin' = 2*cos``) makes a self-consistent wrong chain (``-2*sin`` is the exact
derivative of ``2*cos``). Nesting finite differences k deep from the value instead would cost ``(2L)**k``
evaluations per element and lose ``log10(1/h)`` digits per level, so order 3 could not be checked at 1e-6.
The induction only carries what was checked: a value skipped at order ``j-1`` (a kink) skips what order ``j``
derives from it.

Numerical derivative: central differences at steps ``h, h/2, h/4`` with two Richardson extrapolation steps
(error ``O(h**6)``), ``h = 2**-10 * max(1, |x|)``. That large step keeps round-off small (``~eps/h``) while the
extrapolation removes the truncation error; rows that disagree are retried with steps 32 and 1024 times smaller.
Complex-step differentiation would be exact to round-off, but the NumPy kernels are not all complex-capable
(``sigmoid`` compares, ``erf`` calls ``math.erf``).

Only the watched source elements are perturbed (one column of a CSV row when ``--wrt`` names it), one element at
a time, across the sampled rows at once: one ``evaluate`` call per source element and order, on a batch of 6
perturbed copies. Everything runs in float64, whatever the plan's dtype; the symbolic side reuses the plan's own
derivative (SymPy derivatives do not depend on the dtype). What the check cannot see: a mistake in the tape
itself (wrong indexing), since the value and its derivatives share it -- golden files (``--expect``) catch those.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from jaccli.plan.derive import derive
from jaccli.plan.engine import Plan, evaluate
from jaccli.errors import UsageError

DEFAULT_TOLERANCE = 1e-6  # float64 differences reach ~1e-10 here; 1e-6 leaves room, a wrong rule is off by O(1)
STEP = 2.0**-10  # base step relative to max(1, |x|): small truncation after extrapolation, round-off ~1e-13
LEVELS = (1.0, 0.5, 0.25)  # step fractions of the Richardson sequence
REFINE = (2.0**-5, 2.0**-10)  # smaller steps tried, in turn, on rows where a value is not clearly right
REFINE_ABOVE = 0.01  # ... that is, off by more than this fraction of the tolerance
UNRESOLVED = 1e-6  # finite differences that disagree with themselves by more than this (relative) prove nothing
ALIASING = 4.0  # a slope that would move a value this many times its size within one step: the step is too long
ROUNDOFF_ULPS = 2  # ulps (of the block's largest value, per unit of max(1, |x|)) assumed in each value
SYMBOLIC_ULPS = 64  # ulps of the lower orders' magnitude a long derivative formula may leave (d3 of x: 1e-15)
UNDERFLOW = np.finfo(np.float64).tiny / np.finfo(np.float64).eps  # below this float64 has no relative precision


@dataclass
class Verification:
    """The ``Outcome`` of ``verify``: counts, the worst relative error and where it is, kink points skipped."""

    failure = "the symbolic derivative disagrees with finite differences"  # class constants, not fields
    hint = "report the expression: a derivative rule may be wrong"

    order: int
    tolerance: float
    rows_checked: int = 0
    values_checked: int = 0  # derivative values compared over all orders 1..k, kink points excluded
    max_rel_error: float = 0.0
    worst_order: int | None = None
    worst_index: tuple[int, ...] | None = None  # (batch, *target, *source...) of the order-`worst_order` result
    worst_label: str = ""
    worst_symbolic: float = 0.0
    worst_numerical: float = 0.0
    kinks: int = 0  # values skipped: not differentiable, a domain edge, or below finite-difference resolution
    first_kink: str = ""
    failures: int = 0
    errors_by_order: dict[int, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failures == 0 and self.max_rel_error <= self.tolerance

    def summary(self) -> str:
        """One to three lines for standard error: ok or failed, the worst point when failed, kinks skipped."""
        status = "ok" if self.ok else f"FAILED ({self.failures} value{'s' * (self.failures != 1)} over tolerance)"
        lines = [f"verify: order {self.order}, {self.rows_checked} rows, {self.values_checked} values, "
                 f"max rel error {self.max_rel_error:.2g} (tolerance {self.tolerance:.2g}): {status}"]
        if not self.ok and self.worst_index is not None:
            lines.append(f"verify: worst at order {self.worst_order} {self.worst_label}: symbolic "
                         f"{self.worst_symbolic!r}, numerical {self.worst_numerical!r}")
        if self.kinks:
            lines.append(f"verify: {self.kinks} kink point{'s' * (self.kinks != 1)} skipped (not differentiable, "
                         f"at a domain edge, or below finite-difference resolution), first at {self.first_kink}")
        return "\n".join(lines)


def sample_rows(batch: int, rows: int | None, seed: int) -> np.ndarray:
    """Row numbers to check, ascending: all of them, or ``rows`` drawn without replacement (seeded)."""
    if rows is not None and rows < 1:
        raise UsageError(f"--verify-rows must be at least 1, got {rows}",
                         hint="e.g. --verify-rows 100; leave it out to check every row")
    if rows is None or rows >= batch:
        return np.arange(batch)
    return np.sort(np.random.default_rng(seed).choice(batch, size=rows, replace=False))


def verify(plan_k: Plan, arrays: Mapping[str, np.ndarray], *, rows: int | None = None, seed: int = 0,
           tolerance: float | None = None, row_numbers: np.ndarray | None = None) -> Verification:
    """Check ``plan_k`` (order k) on ``arrays`` (the whole batch, ``(B, *event)`` each) against finite differences.

    Every order ``j = 1..k`` is compared with the central-difference derivative of the symbolic order ``j-1``
    (order 0 = the value), so order k is verified by induction. Per element the error is
    ``max(|sym - num| - allowance, 0) / max(|num|, scale)``: ``scale`` is the largest ``|num|`` of that example
    and order (a normwise relative error), ``allowance`` the round-off of both sides. Where the finite
    differences disagree with themselves or meet a non-finite value, a disagreement is a kink (relu or abs at 0,
    floor at an integer, sqrt at 0, maximum at a tie, or within a step of one): counted, skipped, never a
    failure. So is a value they cannot resolve to the tolerance (tanh' at 30 is 4e-26 next to tanh = 1).
    ``rows`` samples that many rows (seeded by ``seed``, deterministic); None checks them all. ``row_numbers``
    (when ``arrays`` are rows already sampled from a bigger input) are their row numbers, for messages.
    """
    order = plan_k.derivative.order
    if order < 1:
        raise UsageError("--verify needs --order 1 or more", hint="order 0 is the value; verify --order 1 or more")
    outcome = Verification(order, DEFAULT_TOLERANCE if tolerance is None else float(tolerance))
    picked = sample_rows(next(iter(arrays.values())).shape[0], rows, seed)
    outcome.rows_checked = len(picked)
    if len(picked) == 0 or plan_k.derivative.size == 0:  # no rows, or an empty target (x[0:0])
        return outcome
    sample = {k: np.asarray(a)[picked].astype(np.float64) for k, a in arrays.items()}
    if row_numbers is not None:
        picked = np.asarray(row_numbers)[picked]  # from here on, picked only names rows in messages
    tape = plan_k.tape
    plans = [replace(plan_k, derivative=derive(tape, j) if j < order else plan_k.derivative,
                     dtype=np.dtype(np.float64)) for j in range(order + 1)]
    # The value itself is never skipped, and nothing is known of its error beyond the ulps model.
    known = _Known(np.zeros((len(picked),) + plans[0].example_shape, bool), *np.zeros((2, len(picked))))
    for j in range(1, order + 1):
        known = _check_order(plans[j - 1], plans[j], sample, picked, known, outcome)
    return outcome


@dataclass
class _Known:
    """What checking order j-1 established, per sampled row, for checking order j (the induction's carry)."""

    skipped: np.ndarray  # (b, *T, *S^(j-1)): values not verified; what derives from them is not checked either
    noise: np.ndarray  # (b,): the largest disagreement seen in the verified values (their error, in practice)
    magnitude: np.ndarray  # (b,): the largest |value| of orders 0..j-2, for the symbolic rounding allowance


def _check_order(lower: Plan, upper: Plan, sample: dict[str, np.ndarray], picked: np.ndarray, known: _Known,
                 outcome: Verification) -> _Known:
    """Compare ``upper`` (order j) with the finite-difference derivative of ``lower`` (order j-1).

    Differences of the order j-1 values are only as good as those values: their noise floor is the larger of
    the disagreement seen when they were checked and their sensitivity to rounding of the inputs
    (``eps * sum |x_s| |d/dx_s|``: cos of 1e20 is noise). Rows where a value is not clearly right are
    differentiated again with smaller steps: near a singularity (log close to 0) or a kink the first step is too
    coarse, while elsewhere it keeps round-off lowest. A new estimate replaces the old one where it is
    self-consistent and closer (or the old one was not), so a wrong rule still fails at every step and a true
    kink stays unresolved at every step. Updates ``outcome``; returns what order j establishes.
    """
    source, tol = upper.tape.source, outcome.tolerance
    b, n = len(picked), source.size
    base = evaluate(lower, sample)
    sym = evaluate(upper, sample).reshape((b,) + lower.example_shape + (n,))
    elements = source.elements()  # (leaf, element) per source index: several leaves for --wrt a,b
    values = np.stack([sample[leaf].reshape(b, -1)[:, e] for leaf, e in elements], axis=1)
    # Inputs of size |x| carry absolute errors eps*|x| into values computed from them (softmax at x = 60).
    cond = np.maximum(1.0, np.max(np.abs(values), axis=1, initial=0.0))
    watched = np.abs(values).reshape((b,) + (1,) * len(lower.example_shape) + (n,))
    sensitivity = np.sum(np.where(np.isfinite(sym), np.abs(sym), 0.0) * watched, axis=-1)
    eps = np.finfo(np.float64).eps
    noise = np.maximum(known.noise, ROUNDOFF_ULPS * eps * _largest(sensitivity))
    magnitude = np.maximum(known.magnitude, _largest(base))
    residue = (SYMBOLIC_ULPS * eps * magnitude).reshape((b,) + (1,) * len(lower.example_shape))
    fds = [_differentiate(lower, sample, leaf, e, base, cond, noise, 1.0) for leaf, e in elements]  # (5, b, *G)
    for shrink in REFINE:
        scale = _scale(fds)
        for s, (leaf_name, element) in enumerate(elements):
            err, unresolved = _judge(sym[..., s], fds[s], scale, residue)
            unclear = err > tol * REFINE_ABOVE
            redo = np.flatnonzero(unclear.reshape(b, -1).any(axis=1))
            if len(redo) == 0:
                continue
            sub = {k: a[redo] for k, a in sample.items()}
            new = _differentiate(lower, sub, leaf_name, element, base[redo], cond[redo], noise[redo], shrink)
            new_err, new_unresolved = _judge(sym[redo, ..., s], new, scale[redo], residue[redo])
            better = (~new_unresolved & (new_err < err[redo])) | unresolved[redo]
            fds[s][:, redo] = np.where(unclear[redo] & better, new, fds[s][:, redo])
    fd = np.stack(fds, axis=-1)
    num, roundoff, scale = fd[0], fd[1], _scale(fds)[..., None]
    err, unresolved = _judge(sym, fd, scale, residue[..., None])
    # A block that is exactly zero on both sides (sign', relu'' away from 0) agrees however coarse the steps.
    zero = ((sym == 0) & (num == 0)).reshape(b, -1).all(axis=1).reshape((b,) + (1,) * (num.ndim - 1))
    # Finite differences that cannot resolve a value to the tolerance do not check it (nor what derives from it).
    noisy = (roundoff > tol * np.maximum(np.abs(num), scale)) & ~zero
    kink = ((err > tol) & unresolved) | noisy | known.skipped[..., None]
    _record(outcome, upper, sym, num, err, kink, picked)
    seen = np.where(kink | ~np.isfinite(sym - num), 0.0, np.abs(sym - num))
    return _Known(kink.reshape((b,) + upper.example_shape), _largest(seen), magnitude)


def _largest(values: np.ndarray) -> np.ndarray:
    """Per row: the largest finite ``|value|`` of a block ``(b, ...)``."""
    flat = np.abs(values).reshape(values.shape[0], -1)
    return np.max(np.where(np.isfinite(flat), flat, 0.0), axis=1, initial=0.0)


def _record(outcome: Verification, upper: Plan, sym: np.ndarray, num: np.ndarray, err: np.ndarray,
            kink: np.ndarray, picked: np.ndarray) -> None:
    """Add one order's counts to the outcome; keep the worst point (and the first kink) with full indices."""
    full_shape = (len(picked),) + upper.example_shape
    labels = upper.layout()
    outcome.kinks += int(np.count_nonzero(kink))
    if kink.any() and not outcome.first_kink:
        outcome.first_kink = _where(np.flatnonzero(kink)[0], full_shape, picked, labels)[1]
    checked = np.where(kink, -1.0, err)
    outcome.values_checked += int(np.count_nonzero(~kink))
    outcome.failures += int(np.count_nonzero(checked > outcome.tolerance))
    worst = int(np.argmax(checked))
    worst_error = float(checked.flat[worst])
    outcome.errors_by_order[upper.derivative.order] = max(0.0, worst_error)
    if worst_error > outcome.max_rel_error:
        outcome.max_rel_error = worst_error
        outcome.worst_order = upper.derivative.order
        outcome.worst_index, outcome.worst_label = _where(worst, full_shape, picked, labels)
        outcome.worst_symbolic, outcome.worst_numerical = float(sym.flat[worst]), float(num.flat[worst])


def _scale(fds: list[np.ndarray]) -> np.ndarray:
    """Per example ``(b, 1, ...)``: the largest trustworthy ``|num|`` of the block, floored where float64 underflows.

    Unresolved estimates are left out: sign's central difference at 0 is ``~1/h`` and would mask every error.
    """
    largest = np.max([_largest(np.where(f[3] > 0, 0.0, f[0])) for f in fds], axis=0)
    return np.maximum(largest, UNDERFLOW).reshape((len(largest),) + (1,) * (fds[0].ndim - 2))


def _judge(sym: np.ndarray, fd: np.ndarray, scale: np.ndarray, residue: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Relative error of ``sym`` against ``fd`` = (estimate, round-off, spread, bad, span); where ``fd`` is unresolved.

    Differences within the round-off allowance of the finite differences, plus the rounding ``residue`` that
    the symbolic formula may leave (a block that is zero in exact arithmetic), are not counted. A value is
    unresolved where its differences are not finite or disagree with themselves, or where the slope claimed by
    ``sym`` is steeper than ``span`` (the largest differentiated value over the step) allows: the function turns
    within one step (cos of 1e8*x) and the differences only see aliasing.
    """
    num, roundoff, spread, bad, span = fd
    with np.errstate(all="ignore"):
        excess = np.maximum(np.abs(sym - num) - roundoff - residue, 0.0)  # nan stays nan
        denominator = np.maximum(np.abs(num), scale)
        err = np.where((sym == num) | (excess == 0), 0.0, excess / denominator)
        err = np.where(np.isnan(err), np.inf, err)
        aliased = np.isfinite(sym) & (np.abs(sym) > ALIASING * span)  # an infinite sym is judged, not excused
        unresolved = (bad > 0) | ~(spread <= UNRESOLVED * denominator + 3 * roundoff) | aliased
    return err, unresolved


def _differentiate(lower: Plan, sample: dict[str, np.ndarray], leaf_name: str, element: int, base: np.ndarray,
                   cond: np.ndarray, floor: np.ndarray, shrink: float) -> np.ndarray:
    """d(lower)/d(leaf element) for every row of ``sample``: (estimate, round-off allowance, spread, bad, span).

    ``spread`` measures how far the finite differences disagree with themselves: the last two Richardson
    estimates (they differ by ``O(h**4)`` where the function is smooth; they run away at a jump like sign's) and
    the forward and backward estimates (they agree to ``O(h**3)`` where smooth; relu at 0 gives 1 and 0 while the
    central difference converges happily to 1/2). ``bad`` flags a non-finite value (sqrt at 0 is nan on the left).

    The 6 perturbed copies of the sample are stacked along the batch axis and evaluated in one call: examples
    never mix, so this is exactly 6 separate evaluations.
    """
    b = base.shape[0]
    x = sample[leaf_name].reshape(b, -1)[:, element]
    h = shrink * STEP * np.maximum(1.0, np.abs(x))
    points = [x + sign * f * h for f in LEVELS for sign in (1.0, -1.0)]
    stacked = {}
    for name, a in sample.items():
        copies = np.concatenate([a] * len(points))
        if name == leaf_name:
            copies.reshape(len(points) * b, -1)[:, element] = np.concatenate(points)
        stacked[name] = copies
    values = evaluate(lower, stacked).reshape((len(points),) + base.shape)
    extra = (1,) * (base.ndim - 1)
    # Steps as actually represented (x + h rounds), so every quotient divides by the true distance.
    dist = [(p - x).reshape((b,) + extra) for p in points]
    with np.errstate(all="ignore"):
        central = [(values[2 * i] - values[2 * i + 1]) / (dist[2 * i] - dist[2 * i + 1]) for i in range(len(LEVELS))]
        r1 = [(4 * central[i + 1] - central[i]) / 3 for i in range(len(LEVELS) - 1)]
        estimate = (16 * r1[1] - r1[0]) / 15
        # One-sided quotients, extrapolated once: they agree to O(h**3) where the function is smooth.
        forward = 2 * (values[2] - base) / dist[2] - (values[0] - base) / dist[0]
        backward = 2 * (values[3] - base) / dist[3] - (values[1] - base) / dist[1]
        spread = np.maximum(np.abs(forward - backward), np.abs(r1[1] - r1[0]))
        # Each value is trusted to ROUNDOFF_ULPS * cond ulps of the block's largest value (the lower order was
        # checked normwise; its small entries carry the big ones' rounding, p - p**2 with p ~ 1), or to ``floor``.
        magnitude = np.abs(np.concatenate([values, base[None]]))
        biggest = np.max(np.where(np.isfinite(magnitude), magnitude, 0.0).reshape(len(points) + 1, b, -1), axis=(0, 2))
        noise = np.maximum(ROUNDOFF_ULPS * np.finfo(np.float64).eps * cond * biggest, floor).reshape((b,) + extra)
        # The extrapolated estimate weighs the quotients by (256 + 40 + 1) / 45 ~ 7 at the base step.
        roundoff = np.broadcast_to(7 * noise / np.abs(dist[0]), estimate.shape)
        span = np.max(magnitude, axis=0) / np.abs(dist[0])  # a slope no step-long secant can exceed much
    bad = ~(np.isfinite(values).all(axis=0) & np.isfinite(base) & np.isfinite(estimate))
    return np.stack([estimate, roundoff, spread, bad.astype(np.float64), span])


def _where(flat: int, shape: tuple[int, ...], picked: np.ndarray, names: list[str]) -> tuple[tuple[int, ...], str]:
    """Full index of a flat position (the batch coordinate mapped back to the input's row number), and its label."""
    index = [int(i) for i in np.unravel_index(flat, shape)]
    index[0] = int(picked[index[0]])
    return tuple(index), "[" + ", ".join(f"{n}={i}" for n, i in zip(names, index)) + "]"
