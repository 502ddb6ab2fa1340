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
    small = numbers.size == 0 or int(numbers.max()) < 2**32
    kind = np.uint32 if small else np.uint64  # 32-bit division is about twice as fast
    rest, ten = numbers.astype(kind), kind(10)
    for column in range(width - 1, -1, -1):
        rest, out[column] = np.divmod(rest, ten)
    out += ord("0")
    return out.T


def _trailing_zeros(numbers: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Trailing zero digits of each ``width``-digit (zero-padded) non-negative integer; ``width`` for zero."""
    zeros = np.where(numbers == 0, width, 0)
    where = np.flatnonzero(numbers)
    rest = numbers[where]
    while where.size:  # most values end in a non-zero digit: the subsets shrink fast
        more = rest % 10 == 0
        where, rest = where[more], rest[more] // 10
        zeros[where] += 1
    return zeros


def _scaled_round(values: np.ndarray, q: np.ndarray | np.integer) -> tuple[np.ndarray, np.ndarray]:
    """``round(values * 10**q)``, ties to even, exactly — where ``ok``; other entries must use printf.

    ``t = values * 10**q`` carries at most one rounding error (two when 10**q is not a float exactly); when ``t``
    is further than that from a half-integer, rounding ``t`` rounds the exact product the same way.
    """
    with np.errstate(all="ignore"):
        if np.ndim(q) == 0:  # one scale for all (positional): no per-value power
            size = abs(int(q))
            power = _EXACT_POWERS[size] if size <= 22 else 10.0 ** size
            t = values * power if q >= 0 else values / power
        else:
            size_q = np.abs(q)
            power = _EXACT_POWERS[np.minimum(size_q, 22)]
            inexact = size_q > 22
            if inexact.any():
                power[inexact] = np.power(10.0, size_q[inexact])
            t = values * power
            negative = q < 0
            if negative.any():
                np.divide(values, power, out=t, where=negative)
        floor = np.floor(t)
        frac = t - floor
        # t is within 2 ulp (2**-51 * t) of the exact product; four times that is a safe distance from a tie.
        ok = np.isfinite(t) & (t < 2.0**52) & (np.abs(frac - 0.5) > t * 2.0**-49)
        n = np.where(ok, floor + (frac > 0.5), 0).astype(np.int64)
    return n, ok


def _rounded_positional(magnitudes: np.ndarray, precision: int, rows: bool,
                        places: np.ndarray | None = None) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Each magnitude rounded exactly to ``places`` fractional digits (default: ``precision`` for all), as
    ``'%#.*f'`` would: the lengths of its integer part and of its fraction without trailing zeros, and (only when
    ``rows``) its digits, column-major, the integer part zero-padded to a common width and the fraction to
    ``precision`` digits."""
    values = magnitudes.astype(np.float64)
    fast = precision <= _FAST_DIGITS
    if places is None or not (places != precision).any():
        places = np.full(values.shape, precision)
        n, ok = _scaled_round(values, np.int64(precision))
    else:
        n, ok = _scaled_round(values, places)
    ok &= fast
    n[~ok] = 0
    if fast:
        whole, rest = np.divmod(n, _INT_POWERS[places])
        frac = rest * _INT_POWERS[precision - places]  # the fraction as `precision` digits
    else:
        whole = frac = rest = n
    texts = {i: "%#.*f" % (q, v) for i, q, v in zip(np.flatnonzero(~ok).tolist(), places[~ok].tolist(),
                                                     values[~ok].tolist())}
    int_len = np.maximum(1, np.searchsorted(_INT_POWERS, whole, side="right"))
    frac_len = places - _trailing_zeros(rest, places)
    for i, text in texts.items():
        int_len[i] = text.index(".")
        frac_len[i] = len(text.rstrip("0")) - int_len[i] - 1
    if not rows:
        return None, int_len, frac_len
    width = int(int_len.max())
    fixed = np.empty((width + 1 + precision, values.size), dtype=np.uint8)  # column-major: one row per column
    fixed[:width] = decimal_digits(whole, width).T
    fixed[width] = _DOT
    fixed[width + 1:] = decimal_digits(frac, precision).T if precision else fixed[:0]
    for i, text in texts.items():
        text = text.rjust(width + 1 + len(text) - text.index(".") - 1, "0").ljust(width + 1 + precision, "0")
        fixed[:, i] = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return fixed, int_len, frac_len


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

    ``fixed`` holds every value's digits, column-major (``fixed[j]`` is column j of every value): the integer
    part zero-padded on the left to ``fixed.shape[0] - 1 - precision`` columns, a point, ``precision`` fraction
    digits (those past ``frac_len`` are zeros, not shown). None when only the lengths were asked for.
    """

    fixed: np.ndarray | None
    int_len: np.ndarray
    frac_len: np.ndarray


def positional_digits(magnitudes: np.ndarray, precision: int, rows: bool = True) -> Positional:
    """Dragon4 positional, unique, cut off at ``precision`` fractional digits, trailing zeros trimmed.

    That is the shortest round-trip digits when they have at most ``precision`` fractional digits, else the value
    rounded there. Where a value's spacing (ulp) is below ``10**-precision`` its rounding interval holds at most
    one such decimal, so both are the exactly rounded value (trimmed) and the shortest digits are not needed.
    Elsewhere orjson says how many fractional digits the shortest form has (f); when f <= ``precision``, that
    form is the value exactly rounded to f places (the closest f-place decimal, which reads back).
    """
    places = None
    unsure = ~(np.spacing(magnitudes).astype(np.float64) < 10.0 ** -precision)
    if unsure.any():
        data, starts, ends = _tokens(_shortest(magnitudes[unsure]))
        dots = np.flatnonzero(data == _DOT)  # orjson writes every magnitude in [1e-4, 1e8) as d.ddd
        shortest = ends - dots - 1
        shortest[(shortest == 1) & (data[dots + 1] == ord("0"))] = 0  # "48.0" is "48." in NumPy
        places = np.full(magnitudes.shape, precision)
        places[unsure] = np.minimum(shortest, precision)
    return Positional(*_rounded_positional(magnitudes, precision, rows, places))


def positional_lengths(magnitudes: np.ndarray, precision: int) -> tuple[np.ndarray, np.ndarray]:
    """``positional_digits``'s integer and fraction lengths, cheaper: a value whose shortest form is short enough
    prints exactly that form, so orjson's text alone gives its lengths (the usual case for float32)."""
    unsure = ~(np.spacing(magnitudes).astype(np.float64) < 10.0 ** -precision)
    if not unsure.any():
        digits = positional_digits(magnitudes, precision, rows=False)
        return digits.int_len, digits.frac_len
    data, starts, ends = _tokens(_shortest(magnitudes[unsure]))
    dots = np.flatnonzero(data == _DOT)
    shortest = ends - dots - 1
    shortest[(shortest == 1) & (data[dots + 1] == ord("0"))] = 0
    short = shortest <= precision
    rest = np.ones(magnitudes.shape, dtype=bool)
    rest[np.flatnonzero(unsure)[short]] = False
    int_len, frac_len = (dots - starts)[short], shortest[short]
    if rest.any():
        digits = positional_digits(magnitudes[rest], precision, rows=False)
        int_len = np.concatenate([int_len, digits.int_len])
        frac_len = np.concatenate([frac_len, digits.frac_len])
    return int_len, frac_len


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
    huge_or_tiny = (magnitudes >= np.float64(1e100)) | (magnitudes < np.float64(1e-99))
    exp_digits = np.where(huge_or_tiny & (magnitudes != 0), 3, 2)
    if cut.any():
        digits, e10 = rounded_scientific(magnitudes[cut], precision)
        frac[cut] = _without_trailing_zeros(digits[:, 1:])
        exp_digits[cut] = np.where(np.abs(e10) >= 100, 3, 2)
    return int(frac.max(initial=0)), int(exp_digits.max(initial=2))
