"""Text output that streams: the bytes of NumPy's ``str(array)``, formatted chunk by chunk, vectorised.

NumPy prints every element of an array with one width, and the width depends on the whole array (the longest
integer part, the most fractional digits, exponent mode or not, a minus sign anywhere). ``str()`` of a 3,000,000-row
result therefore costs ~30 µs per value and holds everything. Here the same rules run in passes over the result
(kept in a spool, memory or disk): pass A (while the result is computed) decides exponent mode from the smallest
and largest magnitudes, pass B finds the widths, pass C formats each chunk and writes it out.

The digits come from C: orjson gives the shortest round-trip digits, ``'%#.*f'``/``'%#.*e'`` the exactly rounded
ones (the same as NumPy's Dragon4 with a cutoff, ties to even). Layout (padding, brackets, line wrapping at 75
columns) is done on byte matrices. ``tests/test_text.py`` checks the bytes against ``str()`` on many arrays.

NumPy's rules, from ``numpy/_core/arrayprint.py`` (``FloatingFormat``, ``_formatArray``), default print options:
- exponent mode when the largest finite non-zero magnitude >= 1e8 (1e6 for float32), the smallest < 1e-4, or their
  ratio > 1000 (comparisons in the array's dtype);
- positional: each value is its shortest digits, or rounded at ``precision`` fractional digits when the shortest
  has more, trailing zeros dropped (``1.``); integer parts right-aligned, fractions left-aligned;
- exponent mode: every value with P digits after the point, P the most any value needs (at most ``precision``);
- nan/inf right-aligned in the same width.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import numpy as np
import orjson

_SPACE, _DOT, _MINUS, _SLOT = 32, 46, 45, 1
_LINE_WIDTH = 75
_BLOCK_VALUES = 1 << 16  # values per vectorised block: index matrices stay a few MB


# -- pass A: exponent mode --------------------------------------------------------------------------------------------

class Magnitudes:
    """Pass A: what NumPy's exponent-mode decision and nan/inf padding need, accumulated chunk by chunk."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype
        self.max_val: Optional[np.floating] = None
        self.min_val: Optional[np.floating] = None
        self.any_finite = self.any_nonfinite = self.any_neginf = False

    def add(self, values: np.ndarray) -> None:
        finite = np.isfinite(values)
        if not finite.all():
            self.any_nonfinite = True
            self.any_neginf = self.any_neginf or bool(np.any(values == -np.inf))
        finite_vals = values[finite]
        if finite_vals.size:
            self.any_finite = True
        magnitudes = np.absolute(finite_vals[finite_vals != 0])
        if magnitudes.size:
            hi, lo = np.max(magnitudes), np.min(magnitudes)
            self.max_val = hi if self.max_val is None else max(self.max_val, hi)
            self.min_val = lo if self.min_val is None else min(self.min_val, lo)

    def exp_format(self) -> bool:
        if self.max_val is None or self.min_val is None:
            return False
        max_val, min_val = self.max_val, self.min_val
        cutoff = 10.0 ** min(8, np.finfo(self.dtype).precision)
        with np.errstate(over="ignore"):  # the same expression, in the same dtype, as NumPy's FloatingFormat
            return bool(max_val >= cutoff or (min_val < 0.0001 or max_val / min_val > 1000.0))


# -- digits ----------------------------------------------------------------------------------------------------------

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


def _printf(pattern: str, magnitudes: np.ndarray) -> bytes:
    """``pattern`` (e.g. ``'%#.8f,'``) applied to every value, in one C-level formatting call."""
    return ((pattern * magnitudes.size) % tuple(magnitudes.tolist())).encode("ascii")


_EXACT_POWERS = np.array([float(10**k) for k in range(23)])  # 10**k is a float64 exactly up to k = 22
_INT_POWERS = 10 ** np.arange(19, dtype=np.int64)
_FAST_DIGITS = 15  # beyond this many digits the scaled product is too coarse: printf does all the rounding


def _decimal_digits(numbers: np.ndarray, width: int) -> np.ndarray:
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
    rows[:, :width] = _decimal_digits(whole, width)
    rows[:, width] = _DOT
    rows[:, width + 1:] = _decimal_digits(frac, precision) if precision else rows[:, :0]
    for i, text in texts.items():
        rows[i] = np.frombuffer(text.rjust(width + 1 + precision, " ").encode("ascii"), dtype=np.uint8)
    return rows, int_len


def _rounded_scientific(magnitudes: np.ndarray, precision: int) -> tuple[np.ndarray, np.ndarray]:
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
    digits = _decimal_digits(np.where(ok, n, 0), precision + 1)
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
        digits, e10 = _rounded_scientific(magnitudes[cut], precision)
        frac[cut] = _without_trailing_zeros(digits[:, 1:])
        exp_digits[cut] = np.where(np.abs(e10) >= 100, 3, 2)
    return int(frac.max(initial=0)), int(exp_digits.max(initial=2))


# -- pass B: widths; pass C: the fixed-width values -------------------------------------------------------------------

@dataclass
class Layout:
    """NumPy's FloatingFormat fields: every element is ``pad_left + 1 + pad_right`` characters wide."""

    exp_format: bool
    precision: int
    pad_left: int = 0
    pad_right: int = 0
    exp_size: int = -1

    @property
    def width(self) -> int:
        return self.pad_left + 1 + self.pad_right


def measure(blocks: Callable[[], Iterator[np.ndarray]], magnitudes: Magnitudes, precision: int) -> Layout:
    """Pass B over the result: the paddings NumPy would compute from the whole array."""
    layout = Layout(magnitudes.exp_format(), precision)
    if magnitudes.any_finite:
        int_len = frac_len = 0
        negative = False
        exp_digits = 2
        for values in blocks():
            finite = values[np.isfinite(values)]
            if not finite.size:
                continue
            negative = negative or bool(np.signbit(finite).any())
            size = np.absolute(finite)
            if layout.exp_format:
                if frac_len == precision:  # only a 3-digit exponent can still widen the elements
                    size = size[(size >= np.float64(9.9e99)) | ((size < np.float64(1e-99)) & (size != 0))]
                if size.size:
                    frac, exp = scientific_stats(size, precision)
                    frac_len, exp_digits = max(frac_len, frac), max(exp_digits, exp)
            else:
                digits = positional_digits(size, precision)
                sign = np.signbit(finite).astype(np.int64)
                int_len = max(int_len, int((digits.int_len + sign).max()))
                frac_len = max(frac_len, int(digits.frac_len.max()))
        if layout.exp_format:
            layout.precision, layout.exp_size = frac_len, exp_digits
            layout.pad_left = 2 if negative else 1
            layout.pad_right = exp_digits + 2 + frac_len
        else:
            layout.pad_left, layout.pad_right = int_len, frac_len
    if magnitudes.any_nonfinite:
        offset = layout.pad_right + 1
        layout.pad_left = max(layout.pad_left, 3 - offset, 3 + int(magnitudes.any_neginf) - offset)
    return layout


def format_values(values: np.ndarray, layout: Layout) -> np.ndarray:
    """Pass C: ``(n, width)`` bytes, one row per value of ``values`` (flattened), exactly as NumPy pads them."""
    flat = values.reshape(-1)
    out = np.full((flat.size, layout.width), _SPACE, dtype=np.uint8)
    finite = np.isfinite(flat)
    if finite.any():
        rows = out[finite]
        size = np.absolute(flat[finite])
        negative = np.signbit(flat[finite])
        if layout.exp_format:
            start = _scientific_into(rows, size, layout)
        else:
            start = _positional_into(rows, size, layout)
        rows[negative, start[negative] - 1] = _MINUS
        out[finite] = rows
    if not finite.all():
        for word, where in ((b"nan", np.isnan(flat)), (b"inf", flat == np.inf), (b"-inf", flat == -np.inf)):
            if where.any():
                out[where, layout.width - len(word):] = np.frombuffer(word, dtype=np.uint8)
    return out


def _positional_into(rows: np.ndarray, size: np.ndarray, layout: Layout) -> np.ndarray:
    digits = positional_digits(size, layout.precision)
    p, left, right = layout.precision, layout.pad_left, layout.pad_right
    whole = digits.fixed.shape[1] - 1 - p  # integer columns in `fixed`
    n_int, n_frac = min(whole, left), min(p, right)
    rows[:, left - n_int:left] = digits.fixed[:, whole - n_int:whole]
    rows[:, left] = _DOT
    rows[:, left + 1:left + 1 + n_frac] = digits.fixed[:, whole + 1:whole + 1 + n_frac]
    columns = np.arange(layout.width) - left
    outside = (columns < -digits.int_len[:, None]) | (columns > digits.frac_len[:, None])
    rows[outside] = _SPACE
    if digits.short.size:
        source = digits.short_dot[:, None] + columns
        inside = ~outside[digits.short]
        data = digits.short_data
        rows[digits.short] = np.where(inside, data[np.clip(source, 0, data.size - 1)], _SPACE)
    return left - digits.int_len


def _scientific_into(rows: np.ndarray, size: np.ndarray, layout: Layout) -> np.ndarray:
    p, e = layout.precision, layout.exp_size
    digits, e10 = _rounded_scientific(size, p)
    lead = layout.pad_left - 1
    rows[:, lead] = digits[:, 0]
    rows[:, lead + 1] = _DOT
    rows[:, lead + 2:lead + 2 + p] = digits[:, 1:]
    rows[:, lead + 2 + p] = ord("e")
    rows[:, lead + 3 + p] = np.where(e10 < 0, _MINUS, ord("+"))
    rows[:, lead + 4 + p:] = _decimal_digits(np.abs(e10), e)
    return np.full(size.shape, lead, dtype=np.int64)  # the column of the digit before the point


# -- brackets and lines -----------------------------------------------------------------------------------------------

class Brackets:
    """Where NumPy puts brackets, spaces and newlines around fixed-width elements, for any batch size.

    An example's text (``recurser((i,), ...)`` in ``_formatArray``) does not depend on ``i``, so one template with
    placeholder slots serves every example; examples are joined by ``'\\n' * (ndim - 1) + ' '``. A 1-D result
    wraps its single row every ``per_line`` values instead.
    """

    def __init__(self, example_shape: tuple[int, ...], width: int) -> None:
        self.example_shape, self.width = example_shape, width
        self.values = int(np.prod(example_shape, dtype=np.int64))
        if example_shape:
            placeholder = chr(_SLOT) * width
            item = np.array2string(np.zeros((1, *example_shape)), max_line_width=_LINE_WIDTH, separator=" ",
                                   prefix="", threshold=sys.maxsize, formatter={"all": lambda _: placeholder},
                                   legacy=False)[1:-1].encode("ascii")
            self.separator = b"\n" * len(example_shape) + b" "
            row = np.frombuffer(self.separator + item, dtype=np.uint8)
            self.row = row
            self.slots = np.flatnonzero(row == _SLOT)
            # A value right before a line break loses its trailing spaces (numpy's line.rstrip()).
            ends = self.slots.reshape(-1, width)[:, -1]
            self.wrapped = np.flatnonzero(row[np.minimum(ends + 1, row.size - 1)] == ord("\n"))
            self.item_has_newline = b"\n" in item
        else:
            self.per_line = 1
            while 1 + self.per_line * (width + 1) + width <= _LINE_WIDTH - 1:
                self.per_line += 1

    def multiline(self, batch: int) -> bool:
        if self.example_shape:
            return batch > 1 or self.item_has_newline
        return batch > self.per_line

    def render(self, cells: np.ndarray, first: int, total: int) -> bytes:
        """Text of examples ``first .. first + b`` given their cells ``(b * values, width)``."""
        if not self.example_shape:
            return self._render_flat(cells, first, total)
        b = cells.shape[0] // max(1, self.values)
        rows = np.empty((b, self.row.size), dtype=np.uint8)
        rows[:] = self.row
        rows[:, self.slots] = cells.reshape(b, -1)
        keep = None
        if self.wrapped.size:
            values = cells.reshape(b, self.values, self.width)[:, self.wrapped, :]
            trailing = np.flip(np.cumprod(np.flip(values == _SPACE, axis=-1), axis=-1), axis=-1).astype(bool)
            if trailing.any():
                keep = np.ones(rows.shape, dtype=bool)
                keep[:, self.slots.reshape(-1, self.width)[self.wrapped]] = ~trailing
        if first == 0:
            keep = np.ones(rows.shape, dtype=bool) if keep is None else keep
            keep[0, :len(self.separator)] = False
        return (rows if keep is None else rows[keep]).tobytes()

    def _render_flat(self, cells: np.ndarray, first: int, total: int) -> bytes:
        index = first + np.arange(cells.shape[0])
        rows = np.empty((cells.shape[0], 2 + self.width), dtype=np.uint8)
        rows[:, 0], rows[:, 1], rows[:, 2:] = ord("\n"), _SPACE, cells
        keep = np.ones(rows.shape, dtype=bool)
        keep[:, 0] = index % self.per_line == 0
        keep[index == 0, :2] = False
        ends_line = ((index + 1) % self.per_line == 0) & (index != total - 1)
        trailing = np.flip(np.cumprod(np.flip(cells[ends_line] == _SPACE, axis=-1), axis=-1), axis=-1).astype(bool)
        keep[np.flatnonzero(ends_line)[:, None], 2 + np.arange(self.width)] = ~trailing
        return rows[keep].tobytes()


def stream_text(blocks: Callable[[], Iterator[np.ndarray]], shape: tuple[int, ...], dtype: np.dtype,
                magnitudes: Magnitudes, precision: int, write: Callable[[bytes], object]) -> None:
    """Write ``Tensor(<str(result)>, shape=..., dtype=...)`` and a newline; ``blocks()`` iterates the result."""
    layout = measure(blocks, magnitudes, precision)
    brackets = Brackets(tuple(shape[1:]), layout.width)
    write(b"Tensor(" + (b"\n" if brackets.multiline(shape[0]) else b"") + b"[")
    done = 0
    for values in blocks():
        write(brackets.render(format_values(values, layout), done, shape[0]))
        done += values.shape[0]
    write(f"], shape={tuple(shape)}, dtype={dtype.name})\n".encode("ascii"))
