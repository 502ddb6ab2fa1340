"""``--verify`` of a reduced result (``--reduce``, ``--jvp``, ``--vjp``): the reduction of the finite differences.

The induction of ``verify.py`` carries over: orders ``1..k-1`` are checked as full tensors against differences of
the order below; the top link compares the *reduced* symbolic order ``k`` with the same reduction applied to the
central differences of the symbolic order ``k-1``. The finite-difference tensor is reduced element by element as
it is made (the Laplacian's check holds one difference of the gradient at a time, never a Hessian):

- linear reductions (trace, diag, jvp, vjp) add each difference, weighted, where the plan's own index map sends
  it; their round-off, spread and size add up with the weights' absolute values;
- det and logabsdet assemble the small square blocks and take ``det`` / ``slogdet`` of them; the differences'
  round-off and spread reach the determinant through the adjugate (``d det = sum |adj_ji| d J_ij``).
"""
from __future__ import annotations

import dataclasses
from typing import Mapping

import numpy as np

from jaccli.checks.verify import (DEFAULT_TOLERANCE, SYMBOLIC_ULPS, UNDERFLOW, Verification, _check_order,
                                  _differentiate, _judge, _Known, _largest, _record, sample_rows)
from jaccli.plan.derive import derive
from jaccli.plan.engine import Plan, evaluate
from jaccli.plan.reduce import ReducedPlan
from jaccli.plan.reduce_index import index_map

EPS = np.finfo(np.float64).eps


def verify_reduced(plan: ReducedPlan, arrays: Mapping[str, np.ndarray], *, rows: int | None = None,
                   seed: int = 0, tolerance: float | None = None) -> Verification:
    """Check a reduced plan on ``arrays`` (the whole batch) against reduced finite differences."""
    order = plan.derivative.order
    outcome = Verification(order, DEFAULT_TOLERANCE if tolerance is None else float(tolerance))
    picked = sample_rows(next(iter(arrays.values())).shape[0], rows, seed)
    outcome.rows_checked = len(picked)
    if len(picked) == 0 or plan.derivative.size == 0:
        return outcome
    sample = {k: np.asarray(a)[picked].astype(np.float64) for k, a in arrays.items()}
    full = Plan(plan.expression, plan.tape, plan.derivative, np.dtype(np.float64), plan.scope, plan.value,
                plan.nan_prone)  # the full derivative's plan, as verify.py checks it (nan rule included)
    plans = [dataclasses.replace(full, derivative=derive(plan.tape, j)) for j in range(order)]
    known = _Known(np.zeros((len(picked),) + plans[0].example_shape, bool), *np.zeros((2, len(picked))))
    for j in range(1, order):
        known = _check_order(plans[j - 1], plans[j], sample, picked, known, outcome)
    _check_top(plans[-1], dataclasses.replace(plan, dtype=np.dtype(np.float64)), sample, picked, known, outcome)
    return outcome


def _check_top(lower: Plan, upper: ReducedPlan, sample: dict[str, np.ndarray], picked: np.ndarray, known: _Known,
               outcome: Verification) -> None:
    """Reduced order k against the reduced differences of order k-1 (full); updates ``outcome``."""
    source, b = upper.derivative.source, len(picked)
    base = evaluate(lower, sample)
    sym = upper.evaluate(sample)
    elements = source.elements()  # (leaf, element) per source index: several leaves for --wrt a,b
    values = np.stack([sample[leaf].reshape(b, -1)[:, e] for leaf, e in elements], axis=1)
    cond = np.maximum(1.0, np.max(np.abs(values), axis=1, initial=0.0))
    magnitude = np.maximum(known.magnitude, _largest(base))
    skipped = known.skipped.reshape(b, -1)
    if upper.reduction.kind in ("det", "logabsdet"):
        fd = np.stack([_differentiate(lower, sample, leaf, e, base, cond, known.noise, 1.0).reshape(5, b, -1)
                       for leaf, e in elements], axis=-1)  # (5, b, G, n): the full order-k differences
        num, bound, skip = _determinants(upper, fd, skipped)
    else:
        num, bound, skip = _linear(upper, lower, sample, elements, base, cond, known.noise, skipped)
    residue = (SYMBOLIC_ULPS * eps_sum(upper) * magnitude).reshape((b,) + (1,) * (sym.ndim - 1))
    scale = np.maximum(_largest(bound[3]), UNDERFLOW).reshape(residue.shape)
    fd5 = np.stack([num, bound[0], bound[1], bound[2], bound[4]])
    err, unresolved = _judge(sym, fd5, scale, residue)
    unresolved |= ~np.isfinite(num) & (sym != num)  # -inf = log|det| of differences that are exactly singular
    zero = ((sym == 0) & (num == 0)).reshape(b, -1).all(axis=1).reshape(residue.shape)
    noisy = (bound[0] > outcome.tolerance * np.maximum(np.abs(num), scale)) & ~zero
    kink = ((err > outcome.tolerance) & unresolved) | noisy | skip
    _record(outcome, upper, sym, num, err, kink, picked)


def eps_sum(plan: ReducedPlan) -> float:
    """The rounding a symbolic sum of n terms may leave: n ulps (trace of n, jvp over n, vjp over size(T))."""
    terms = max(plan.block, plan.derivative.size // max(1, plan.derivative.source.size ** plan.derivative.order))
    return float(EPS * max(1, terms))


def _linear(upper: ReducedPlan, lower: Plan, sample: dict[str, np.ndarray], elements: list[tuple[str, int]],
            base: np.ndarray, cond: np.ndarray, noise: np.ndarray,
            skipped: np.ndarray) -> tuple[np.ndarray, list, np.ndarray]:
    """The reduction of the differences, one source element at a time: (estimate, bounds, skipped)."""
    b, n, k = base.shape[0], len(elements), upper.derivative.order
    size = int(np.prod(upper.shape, dtype=np.int64))
    mapping = index_map(upper.reduction.kind, upper.vectors, n, k)
    flats = {name: a.reshape(b, -1) for name, a in sample.items()}
    flats.update(upper.param_rows)  # -P vectors: (1, n) rows
    num = np.zeros((b, size))
    bounds = [np.zeros((b, size)) for _ in range(5)]  # roundoff, spread, bad, magnitude, span
    skip = np.zeros((b, size), bool)
    lower_size = skipped.shape[1]
    for s, (leaf, element) in enumerate(elements):
        keep, index, found = mapping(np.arange(lower_size, dtype=np.int64) * n + s)
        if not keep.any():
            continue
        fd = _differentiate(lower, sample, leaf, element, base, cond, noise, 1.0)
        fd = fd.reshape(5, b, -1)[:, :, keep]
        w = np.ones((b, int(keep.sum())))
        for name, at in found:
            w = w * flats[name][:, at[keep]]
        where = index[keep]
        np.add.at(num.T, where, (fd[0] * w).T)
        for i, part in enumerate((fd[1], fd[2], fd[3], np.abs(fd[0]), fd[4])):
            np.add.at(bounds[i].T, where, (part * np.abs(w)).T)
        np.logical_or.at(skip.T, where, skipped[:, keep].T)
    shape = (b,) + upper.shape
    return num.reshape(shape), [x.reshape(shape) for x in bounds], skip.reshape(shape)


def _determinants(upper: ReducedPlan, fd: np.ndarray, skipped: np.ndarray) -> tuple[np.ndarray, list, np.ndarray]:
    """det / slogdet of the differences' blocks, with first-order bounds through the adjugate."""
    b, m = fd.shape[1], upper.block
    blocks = [part.reshape(b, -1, m, m) for part in fd]  # estimate, roundoff, spread, bad, span
    estimate = blocks[0]
    adj = np.abs(_adjugate(np.where(np.isfinite(estimate), estimate, 0.0)))
    through = [np.einsum("bpji,bpij->bp", adj, x) for x in (blocks[1], blocks[2], np.abs(estimate), blocks[4])]
    bad = (blocks[3] > 0).reshape(b, blocks[3].shape[1], -1).any(axis=2)
    skip = skipped.reshape(b, -1, m).any(axis=2) if m else np.zeros(bad.shape, bool)  # a block's rows
    with np.errstate(all="ignore"):
        if upper.reduction.kind == "det":
            num = np.linalg.det(estimate)
            bounds = [through[0], through[1], bad.astype(float), through[2], through[3]]
            shape = (b,) + upper.shape
            return num.reshape(shape), [x.reshape(shape) for x in bounds], np.asarray(skip).reshape(shape)
        sign, logabs = np.linalg.slogdet(estimate)
        size = np.abs(np.linalg.det(estimate))
        # log|det| moves by d det / |det|; the sign is resolved once |det| clears its uncertainty.
        relative = [through[0] / size, through[1] / size]
        unclear = ~(size > through[0] + through[1])
        pair = lambda a, c: np.stack([a, c], axis=1).reshape((b,) + upper.shape)  # noqa: E731
        num = pair(sign, logabs)
        bounds = [pair(np.zeros_like(sign), relative[0]), pair(np.where(unclear, np.inf, 0.0), relative[1]),
                  pair(bad | unclear, bad).astype(float), pair(np.abs(sign), np.maximum(np.abs(logabs), 1.0)),
                  pair(np.full(sign.shape, np.inf), np.full(sign.shape, np.inf))]
        return num, bounds, pair(skip, skip)


def _adjugate(a: np.ndarray) -> np.ndarray:
    """``adj(A)`` of stacked square matrices, also singular ones: from the SVD, ``A = U S V^T``,
    ``adj(A) = det(U) det(V) V diag(prod_{j != i} s_j) U^T``."""
    if a.shape[-1] == 0:
        return a
    u, s, vt = np.linalg.svd(a)
    others = np.stack([np.prod(np.delete(s, i, axis=-1), axis=-1) for i in range(s.shape[-1])], axis=-1)
    sign = np.linalg.det(u) * np.linalg.det(vt)
    return sign[..., None, None] * np.einsum("...ji,...j,...kj->...ik", vt, others, u)
