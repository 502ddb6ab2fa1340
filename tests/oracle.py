"""An independent test oracle for batch Jacobians: it never uses jaccli's formulas.

Like HIPS/autograd's ``test_util.check_grads``, the oracle differentiates a plain NumPy function written by hand
in the test, ``f(x_example, *extras) -> array of shape T``, one example at a time, and lays the result out as
jaccli (and TensorFlow's ``batch_jacobian``) does: ``(B, *T, *S, ..., *S)`` with ``S`` repeated ``order`` times.

Three independent references, from cheapest to most exact:

- ``complex_step``: order 1, exact to rounding (no subtraction) for complex-safe ``f`` (no abs, max, comparisons).
- ``richardson``: orders 1..3 by nested central differences, Richardson-extrapolated over halved steps; ~1e-13
  relative at order 1 and ~1e-9 at order 3 for smooth ``f`` on O(1) inputs (``STEPS`` are tuned for that).
  ``f`` is evaluated within ``order * step`` of the point (0.3 at order 3 by default): keep that inside its domain.
- ``mp_derivative``: one scalar function's (partial) derivative at 30 digits with ``mpmath.diff``; the reference
  for jaccli's "a few ulps in float64" claim.

Plus a few closed forms derived by hand (``tanh_squared_d1``, ``cube_d2``, ``polar_jacobian``, ``softmax_d1`` ...).
"""
from __future__ import annotations

from functools import lru_cache
from itertools import combinations_with_replacement, permutations, product
from typing import Callable, Optional, Sequence

import mpmath
import numpy as np

ExampleFn = Callable[..., object]  # f(x_example, *extras_example) -> array-like of shape T

# Initial step h0 per order, halved LEVELS - 1 times. A nested central difference is even in h, so its error is a
# series in h**2 and LEVELS Richardson levels leave O(h0**(2*LEVELS)); the last step h0/2**(LEVELS-1) keeps the
# rounding error ~ eps * 2**k / (2h)**k small: for order 3, 2.2e-16 * 8 / 0.0125**3 ~ 1e-9 of |f|. Measured on
# smooth O(1) functions (rational, tanh, softmax, sin*exp): <= 1e-13 (order 1), 2e-11 (order 2), 3e-9 (order 3).
STEPS = {1: 0.05, 2: 0.1, 3: 0.1}
LEVELS = 5


# --- layout ------------------------------------------------------------------------------------------------
def batch_apply(per_example: Callable[..., np.ndarray], x: np.ndarray, extras: Sequence[np.ndarray] = ()) -> np.ndarray:
    """Stack ``per_example(x[b], *[e[b] for e in extras])`` over the batch axis."""
    return np.stack([np.asarray(per_example(x[b], *[e[b] for e in extras])) for b in range(x.shape[0])])


def to_layout(flat: np.ndarray, target_shape: tuple[int, ...], source_shape: tuple[int, ...], order: int) -> np.ndarray:
    """One example's derivative ``(m, n, ..., n)`` (m = size of T, n = size of S) as ``(*T, *S, ..., *S)``."""
    return flat.reshape(tuple(target_shape) + tuple(source_shape) * order)


# --- finite differences ------------------------------------------------------------------------------------
def _stencil(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dirs: tuple[int, ...], h: float) -> np.ndarray:
    """Nested central difference d^k f / dx[dirs[0]]..dx[dirs[k-1]] with one step ``h`` in every direction."""
    k = len(dirs)
    total = 0.0
    for signs in product((1, -1), repeat=k):
        point = x.copy()
        for s, i in zip(signs, dirs):
            point[i] += s * h
        total = total + np.prod(signs) * f(point)
    return total / (2 * h) ** k


def _richardson(estimates: list[np.ndarray]) -> np.ndarray:
    """Extrapolate estimates at steps h0, h0/2, h0/4, ... whose errors are series in h**2 (Romberg's table)."""
    row = list(estimates)
    for j in range(1, len(estimates)):
        factor = 4.0**j
        row = [row[i] + (row[i] - row[i - 1]) / (factor - 1) for i in range(1, len(row))]
    return row[-1]


def richardson_example(f: Callable[[np.ndarray], object], x_example: np.ndarray, order: int = 1, *,
                       step: Optional[float] = None, levels: int = LEVELS) -> np.ndarray:
    """The order-``order`` derivative of ``f`` at one example: shape ``(*T, *S^order)``, by Richardson."""
    x0 = np.asarray(x_example, dtype=np.float64)
    source_shape = x0.shape
    flat_x = x0.ravel()
    n = flat_x.size
    cache: dict[bytes, np.ndarray] = {}

    def g(point: np.ndarray) -> np.ndarray:
        key = point.tobytes()
        if key not in cache:
            cache[key] = np.asarray(f(point.reshape(source_shape)), dtype=np.float64).ravel()
        return cache[key]

    target_shape = np.shape(f(x0))
    h0 = STEPS[order] if step is None else step
    out = np.zeros((int(np.prod(target_shape, dtype=np.int64)),) + (n,) * order)
    for dirs in combinations_with_replacement(range(n), order):  # Schwarz: one estimate per multiset
        value = _richardson([_stencil(g, flat_x, dirs, h0 / 2**m) for m in range(levels)])
        for ordering in set(permutations(dirs)):
            out[(slice(None),) + ordering] = value
    return to_layout(out, target_shape, source_shape, order)


def richardson(f: ExampleFn, x: np.ndarray, order: int = 1, *, extras: Sequence[np.ndarray] = (),
               step: Optional[float] = None, levels: int = LEVELS) -> np.ndarray:
    """Batch derivative ``(B, *T, *S^order)`` of ``f(x_example, *extras_example)`` by Richardson-extrapolated
    nested central differences. ``step`` overrides the initial step (keep ``x +- order*step`` inside f's domain).
    """
    x = np.asarray(x, dtype=np.float64)
    return np.stack([
        richardson_example(lambda v, b=b: f(v, *[e[b] for e in extras]), x[b], order, step=step, levels=levels)
        for b in range(x.shape[0])
    ])


def complex_step(f: ExampleFn, x: np.ndarray, *, extras: Sequence[np.ndarray] = (), h: float = 1e-30) -> np.ndarray:
    """Order-1 batch Jacobian ``(B, *T, *S)`` by the complex step: ``Im f(x + i h e_j) / h``, exact to rounding.

    ``f`` must be complex-safe: analytic NumPy operations only (no abs, maximum, comparisons, ``np.real``).
    """
    x = np.asarray(x, dtype=np.float64)
    source_shape = x.shape[1:]
    n = int(np.prod(source_shape, dtype=np.int64))
    results = []
    for b in range(x.shape[0]):
        base = x[b].astype(np.complex128).ravel()
        columns = []
        for j in range(n):
            point = base.copy()
            point[j] += 1j * h
            value = np.asarray(f(point.reshape(source_shape), *[e[b] for e in extras]))
            columns.append(np.imag(value).ravel() / h)
        flat = np.stack(columns, axis=-1) if columns else np.zeros((1, 0))
        target_shape = np.shape(f(x[b], *[e[b] for e in extras]))
        results.append(to_layout(flat, target_shape, source_shape, 1))
    return np.stack(results)


# --- mpmath: high-precision scalar references ----------------------------------------------------------------
DPS = 30


@lru_cache(maxsize=None)
def mp_derivative(f: Callable[..., object], point: tuple[float, ...], orders: tuple[int, ...],
                  dps: int = DPS) -> float:
    """``d^(sum orders) f / dx0^orders[0] dx1^orders[1] ...`` at ``point``, with ``mpmath.diff`` at ``dps`` digits.

    ``f`` takes and returns mpmath numbers. The float64 point converts to mpf exactly and mpmath.diff works at a
    higher precision internally, so the result rounded to float64 is near-exact for a function analytic near
    ``point``. Memoised: pass module-level functions so tests share the work.
    """
    with mpmath.workdps(dps):
        args = [mpmath.mpf(float(p)) for p in point]
        if len(args) == 1:
            return float(mpmath.diff(f, args[0], int(orders[0])))
        return float(mpmath.diff(f, tuple(args), tuple(int(o) for o in orders)))


def mp_batch(f: Callable[..., object], x: np.ndarray, order: int) -> np.ndarray:
    """Reference for a scalar target: ``(B,)`` for ``f(x)`` with ``S = ()``, or ``(B, *(n,)*order)`` for
    ``f(x[0], ..., x[n-1])`` with ``S = (n,)``; every (mixed) partial from ``mp_derivative``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        return np.array([mp_derivative(f, (float(v),), (order,)) for v in x])
    n = x.shape[1]
    out = np.zeros((x.shape[0],) + (n,) * order)
    for b in range(x.shape[0]):
        point = tuple(float(v) for v in x[b])
        for dirs in combinations_with_replacement(range(n), order):
            value = mp_derivative(f, point, tuple(dirs.count(i) for i in range(n)))
            for ordering in set(permutations(dirs)):
                out[(b,) + ordering] = value
    return out


# --- closed forms, derived by hand ---------------------------------------------------------------------------
def tanh_squared_d1(x: np.ndarray) -> np.ndarray:
    """d/dx tanh(x)**2 = 2 tanh(x) sech(x)**2."""
    return 2 * np.tanh(x) / np.cosh(x) ** 2


def cube_d1(x: np.ndarray) -> np.ndarray:
    """d/dx x**3 = 3 x**2."""
    return 3 * x**2


def cube_d2(x: np.ndarray) -> np.ndarray:
    """d2/dx2 x**3 = 6 x."""
    return 6 * x


def polar_jacobian(r: float, theta: float) -> np.ndarray:
    """d(r cos t, r sin t)/d(r, t) = [[cos t, -r sin t], [sin t, r cos t]]."""
    return np.array([[np.cos(theta), -r * np.sin(theta)], [np.sin(theta), r * np.cos(theta)]])


def polar_hessian(r: float, theta: float) -> np.ndarray:
    """Second derivatives of (r cos t, r sin t) w.r.t. (r, t): shape (2, 2, 2), [target, d1, d2]."""
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[[0, -s], [-s, -r * c]], [[0, c], [c, -r * s]]])


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - np.max(z))
    return e / e.sum()


def softmax_d1(z: np.ndarray) -> np.ndarray:
    """d s_i / d z_j = s_i (delta_ij - s_j), for a rank-1 z."""
    s = softmax(z)
    return np.diag(s) - np.outer(s, s)


def softmax_d2(z: np.ndarray) -> np.ndarray:
    """d2 s_i / d z_j d z_k = s_i (d_ij - s_j)(d_ik - s_k) - s_i s_j (d_jk - s_k), for a rank-1 z."""
    s = softmax(z)
    eye = np.eye(len(s))
    a = eye - s[None, :]  # a[i, j] = delta_ij - s_j
    return s[:, None, None] * (a[:, :, None] * a[:, None, :] - s[None, :, None] * a[None, :, :])
