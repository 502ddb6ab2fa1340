"""Text output that streams: the bytes of NumPy's ``str(array)``, formatted chunk by chunk, vectorised.

NumPy prints every element of an array with one width, and the width depends on the whole array (the longest
integer part, the most fractional digits, exponent mode or not, a minus sign anywhere). ``str()`` of a 3,000,000-row
result therefore costs ~30 µs per value and holds everything. Here the same rules run in passes over the result
(kept in a spool, memory or disk): pass A (while the result is computed) decides exponent mode from the smallest
and largest magnitudes, pass B finds the widths, pass C formats each chunk and writes it out.

The digits come from ``jaccli.io.digits`` (shortest round-trip digits from orjson, exactly rounded ones as
``'%#.*f'``/``'%#.*e'`` would print them, which is NumPy's Dragon4 with a cutoff, ties to even). Layout
(padding, brackets, line wrapping at 75 columns) is done on byte matrices. ``tests/test_text.py`` checks the
bytes against ``str()`` on many arrays.

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
from typing import Callable, Iterator

import numpy as np

from jaccli.io.digits import (
    decimal_digits, positional_digits, positional_lengths, rounded_scientific, scientific_stats,
)

_SPACE, _DOT, _MINUS, _SLOT = 32, 46, 45, 1
_LINE_WIDTH = 75
_BLOCK_VALUES = 1 << 16  # values per vectorised block: index matrices stay a few MB


# -- pass A: exponent mode --------------------------------------------------------------------------------------------

class Magnitudes:
    """Pass A: what NumPy's exponent-mode decision and nan/inf padding need, accumulated chunk by chunk."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype
        self.max_val: np.floating | None = None
        self.min_val: np.floating | None = None
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
                sign = np.signbit(finite).astype(np.int64)
                if frac_len == precision:  # only a longer integer part can still widen the elements
                    # (with its sign) needs at least 10**(int_len - sign) - 1 before rounding
                    could = size >= np.float64(10.0) ** (int_len - sign) - 1
                    size, sign = size[could], sign[could]
                if size.size:
                    if np.any(sign):  # the sign widens the integer part: lengths per value, in order
                        digits = positional_digits(size, precision, rows=False)
                        int_len = max(int_len, int((digits.int_len + sign).max()))
                        frac_len = max(frac_len, int(digits.frac_len.max()))
                    else:  # order does not matter for maxima: the cheaper way
                        ints, fracs = positional_lengths(size, precision)
                        int_len, frac_len = max(int_len, int(ints.max())), max(frac_len, int(fracs.max()))
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
    all_finite = bool(finite.all())
    if finite.any():
        rows = out if all_finite else out[finite]  # no copies in the usual all-finite case
        size = np.absolute(flat if all_finite else flat[finite])
        negative = np.flatnonzero(np.signbit(flat if all_finite else flat[finite]))
        if layout.exp_format:
            start = _scientific_into(rows, size, layout)
        else:
            start = _positional_into(rows, size, layout)
        rows[negative, start[negative] - 1] = _MINUS
        if not all_finite:
            out[finite] = rows
    if not all_finite:
        for word, where in ((b"nan", np.isnan(flat)), (b"inf", flat == np.inf), (b"-inf", flat == -np.inf)):
            if where.any():
                out[where, layout.width - len(word):] = np.frombuffer(word, dtype=np.uint8)
    return out


def _positional_into(rows: np.ndarray, size: np.ndarray, layout: Layout) -> np.ndarray:
    digits = positional_digits(size, layout.precision)
    assert digits.fixed is not None
    p, left, right = layout.precision, layout.pad_left, layout.pad_right
    whole = digits.fixed.shape[0] - 1 - p  # integer columns in `fixed`
    # Column by column (contiguous 1-D work): a digit where the value has one, else a space.
    columns = np.full((layout.width, size.size), _SPACE, dtype=np.uint8)
    for j in range(max(0, left - whole), left):
        np.copyto(columns[j], digits.fixed[j - left + whole], where=digits.int_len >= left - j)
    columns[left] = _DOT
    for j in range(min(p, right)):
        np.copyto(columns[left + 1 + j], digits.fixed[whole + 1 + j], where=digits.frac_len > j)
    rows[...] = columns.T
    return left - digits.int_len


def _scientific_into(rows: np.ndarray, size: np.ndarray, layout: Layout) -> np.ndarray:
    p, e = layout.precision, layout.exp_size
    digits, e10 = rounded_scientific(size, p)
    lead = layout.pad_left - 1
    rows[:, lead] = digits[:, 0]
    rows[:, lead + 1] = _DOT
    rows[:, lead + 2:lead + 2 + p] = digits[:, 1:]
    rows[:, lead + 2 + p] = ord("e")
    rows[:, lead + 3 + p] = np.where(e10 < 0, _MINUS, ord("+"))
    rows[:, lead + 4 + p:] = decimal_digits(np.abs(e10), e)
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
