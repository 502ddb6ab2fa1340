"""Decimal digits of float magnitudes, vectorised and exact: what NumPy's Dragon4 prints, without a loop per value.

Used by ``jaccli.io.text``. Shortest round-trip digits come from orjson (float32's own for float32); exactly
rounded digits (``'%#.*f'`` / ``'%#.*e'``, ties to even, as Dragon4 with a cutoff) come from scaling by a power of
ten and rounding, which is exact whenever the scaled value is not within its own rounding error of a half-integer;
the few values that are go through printf.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import orjson

_SPACE, _DOT = 32, 46


def _tokens(text: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bytes of ``text`` and the start and end offsets of its comma-terminated tokens."""
    data = np.frombuffer(text, dtype=np.uint8)
    ends = np.flatnonzero(data == 44)
    starts = np.empty_like(ends)
    starts[:1] = 0
    starts[1:] = ends[:-1] + 1
    return data, starts, ends


def _shortest(magnitudes: np.ndarray) -> bytes:
    """Comma-terminated shortest digits of finite magnitudes (float32 digits for float32), orjson's layout."""
    return orjson.dumps(magnitudes, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1] + b","


_EXACT_POWERS = np.array([float(10**k) for k in range(23)])  # 10**k is a float64 exactly up to k = 22
_INT_POWERS = 10 ** np.arange(19, dtype=np.int64)
_FAST_DIGITS = 15  # beyond this many digits the scaled product is too coarse: printf does all the rounding


def decimal_digits(numbers: np.ndarray, width: int) -> np.ndarray:
    """``(n, width)`` ASCII digits of non-negative integers, zero-padded on the left."""
    out = np.empty((width, numbers.size), dtype=np.uint8)
    rest = numbers.astype(np.uint64)
    for column in range(width - 1, -1, -1):
        rest, out[column] = np.divmod(rest, np.uint64(10))
    out += ord("0")
    return out.T


def _scaled_round(values: np.ndarray, q: np.ndarray | np.integer) -> tuple[np.ndarray, np.ndarray]:
    """``round(values * 10**q)``, ties to even, exactly — where ``ok``; other entries must use printf.

    ``t = values * 10**q`` carries at most one rounding error (two when 10**q is not a float exactly); when ``t``
    is further than that from a half-integer, rounding ``t`` rounds the exact product the same way.
    """
    with np.errstate(all="ignore"):
        if np.ndim(q) == 0:  # one scale for all (positional): no per-value power
            exact: bool | np.ndarray = abs(int(q)) <= 22
            power = _EXACT_POWERS[abs(int(q))] if abs(int(q)) <= 22 else 10.0 ** abs(int(q))
            t = values * power if q >= 0 else values / power
        else:
            exact = np.abs(q) <= 22
            power = np.where(exact, _EXACT_POWERS[np.minimum(np.abs(q), 22)], np.power(10.0, np.abs(q)))
            t = np.where(q >= 0, values * power, values / power)
        floor = np.floor(t)
        frac = t - floor
        ok = np.isfinite(t) & (t < 2.0**52) & (np.abs(frac - 0.5) > np.where(exact, 1.0, 4.0) * np.spacing(t))
        n = np.where(ok, floor + (frac > 0.5), 0).astype(np.int64)
    return n, ok


def _rounded_positional(magnitudes: np.ndarray, precision: int) -> tuple[np.ndarray, np.ndarray]:
    """``'%#.{precision}f'`` of each magnitude as rows of bytes (integer part right-aligned), and integer lengths."""
    values = magnitudes.astype(np.float64)
    n, ok = _scaled_round(values, np.int64(precision))
    ok &= precision <= _FAST_DIGITS
    n[~ok] = 0
    whole, frac = np.divmod(n, _INT_POWERS[min(precision, _FAST_DIGITS)])
    texts = {i: "%#.*f" % (precision, v) for i, v in zip(np.flatnonzero(~ok).tolist(), values[~ok].tolist())}
    int_len = np.maximum(1, np.floor(np.log10(np.maximum(whole, 1))).astype(np.int64) + 1)
    for i, text in texts.items():
        int_len[i] = text.index(".")
    width = int(int_len.max())
    rows = np.empty((values.size, width + 1 + precision), dtype=np.uint8)
    rows[:, :width] = decimal_digits(whole, width)
    rows[:, width] = _DOT
    rows[:, width + 1:] = decimal_digits(frac, precision) if precision else rows[:, :0]
    for i, text in texts.items():
        rows[i] = np.frombuffer(text.rjust(width + 1 + precision, " ").encode("ascii"), dtype=np.uint8)
    return rows, int_len


def rounded_scientific(magnitudes: np.ndarray, precision: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``precision + 1`` significant digits and the exponent of ``'%#.{precision}e'`` of each magnitude."""
    values = magnitudes.astype(np.float64)
    with np.errstate(divide="ignore"):
        e10 = np.where(values > 0, np.floor(np.log10(values)), 0).astype(np.int64)
    lo, hi = _EXACT_POWERS[min(precision, 22)], _EXACT_POWERS[min(precision + 1, 22)]
    n, ok = _scaled_round(values, precision - e10)
    for _ in range(2):  # log10 may be one off near powers of ten
        low, high = (n < lo) & (values > 0), n > hi
        if not (low.any() or high.any()):
            break
        e10 = e10 - low + high
        n, ok = _scaled_round(values, precision - e10)
    ok &= (precision < _FAST_DIGITS) & ((n >= lo) | (values == 0)) & (n <= hi)
    carry = n == hi  # 9.9999999996 -> 1.00000000e+01
    n = np.where(carry, lo, n).astype(np.int64)
    e10 = e10 + carry
    digits = decimal_digits(np.where(ok, n, 0), precision + 1)
    for i, v in zip(np.flatnonzero(~ok).tolist(), values[~ok].tolist()):
        mantissa, _, exponent = ("%#.*e" % (precision, v)).partition("e")
        digits[i] = np.frombuffer((mantissa[0] + mantissa[2:]).encode("ascii"), dtype=np.uint8)
        e10[i] = int(exponent)
    return digits, e10


@dataclass
class Positional:
    """Positional digits of finite magnitudes, and the lengths of their integer and (trimmed) fractional parts.

    ``fixed`` holds every value exactly rounded, as ``'%#.*f'`` with the integer part zero-padded on the left to
    ``fixed.shape[1] - 1 - precision`` columns. The values listed in ``short`` print their shortest digits
    instead: ``short_data`` is orjson's text and ``short_dot`` the offset of each one's point in it.
    """

    fixed: np.ndarray
    int_len: np.ndarray
    frac_len: np.ndarray
    short: np.ndarray
    short_data: np.ndarray
    short_dot: np.ndarray


def positional_digits(magnitudes: np.ndarray, precision: int) -> Positional:
    """Dragon4 positional, unique, cut off at ``precision`` fractional digits, trailing zeros trimmed.

    That is the shortest round-trip digits when they have at most ``precision`` fractional digits, else the value
    rounded there. Where a value's spacing (ulp) is below ``10**-precision`` its rounding interval holds at most
    one such decimal, so both are the exactly rounded value (trimmed) and the shortest digits are not needed.
    """
    fixed, int_len = _rounded_positional(magnitudes, precision)
    frac_len = _without_trailing_zeros(fixed[:, fixed.shape[1] - precision:])
    unsure = ~(np.spacing(magnitudes).astype(np.float64) < 10.0 ** -precision)
    none = np.zeros(0, dtype=np.int64)
    if not unsure.any():
        return Positional(fixed, int_len, frac_len, none, np.zeros(0, np.uint8), none)
    short_data, starts, ends = _tokens(_shortest(magnitudes[unsure]))
    short_dot = np.flatnonzero(short_data == _DOT)  # orjson writes every magnitude in [1e-4, 1e8) as d.ddd
    short_frac = ends - short_dot - 1
    integral = (short_frac == 1) & (short_data[short_dot + 1] == ord("0"))
    short_frac[integral] = 0  # "48.0" is "48." in NumPy
    use = short_frac <= precision
    short = np.flatnonzero(unsure)[use]
    int_len[short] = (short_dot - starts)[use]
    frac_len[short] = short_frac[use]
    return Positional(fixed, int_len, frac_len, short, short_data, short_dot[use])


def _without_trailing_zeros(digits: np.ndarray) -> np.ndarray:
    """How many of each row's digits are left once its trailing zeros are dropped."""
    if digits.shape[1] == 0:
        return np.zeros(digits.shape[0], dtype=np.int64)
    nonzero = digits != ord("0")
    return np.where(nonzero.any(axis=1), digits.shape[1] - np.argmax(nonzero[:, ::-1], axis=1), 0)


def shortest_fraction_digits(magnitudes: np.ndarray) -> np.ndarray:
    """Digits after the point of each magnitude's shortest scientific form (``1.25e-07`` -> 2; zero -> 0)."""
    data, starts, ends = _tokens(_shortest(magnitudes))
    width = int((ends - starts).max()) if ends.size else 0
    index = starts[:, None] + np.arange(width)
    inside = index < ends[:, None]
    chars = np.where(inside, data[np.minimum(index, data.size - 1)], _SPACE)
    mantissa = np.cumsum(chars == ord("e"), axis=1) == 0
    digit = (chars >= ord("0")) & (chars <= ord("9")) & mantissa
    nonzero = digit & (chars != ord("0"))
    first = np.argmax(nonzero, axis=1)
    last = width - 1 - np.argmax(nonzero[:, ::-1], axis=1)
    count = np.cumsum(digit, axis=1)
    rows = np.arange(chars.shape[0])
    significant = count[rows, last] - count[rows, first] + 1
    return np.where(nonzero.any(axis=1), significant - 1, 0)


def scientific_stats(magnitudes: np.ndarray, precision: int) -> tuple[int, int]:
    """(most fractional digits, most exponent digits) of Dragon4 scientific, unique, cut off at ``precision``."""
    frac = shortest_fraction_digits(magnitudes)
    cut = frac > precision
    exp_digits = np.where(((magnitudes >= np.float64(1e100)) | (magnitudes < np.float64(1e-99))) & (magnitudes != 0), 3, 2)
    if cut.any():
        digits, e10 = rounded_scientific(magnitudes[cut], precision)
        frac[cut] = _without_trailing_zeros(digits[:, 1:])
        exp_digits[cut] = np.where(np.abs(e10) >= 100, 3, 2)
    return int(frac.max(initial=0)), int(exp_digits.max(initial=2))
