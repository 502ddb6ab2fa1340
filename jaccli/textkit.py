"""The text rules every reader shares, each written once: numbers, UTF-8 with positions, strict JSON, how a message
describes a JSON value, nested lists, the standard-input label.

Why a stage-0 module next to ``errors`` rather than ``io/``: its users span the pipeline. ``expr/`` reads ``-D``
values (``scope.parse_defines``) and ``@FILE`` programs (``program.load_expression``), ``io/`` reads input files
and ``checks/`` reads saved results, and a module may import only its own stage and earlier ones. Here, below all
of them, each rule has exactly one copy; the module imports nothing but ``jaccli.errors`` and the standard
library (no NumPy), so any stage can use it at no start-up cost. The format names and extensions are not text
rules but a vocabulary of the CLI and the writers: they live in ``jaccli/io/formats.py``.

The number grammar
------------------
One definition (``number_pattern``): an optional sign, then digits with an optional point (``1``, ``1.``, ``.5``)
and an optional exponent (``1e5``, ``2E-3``), or a non-finite word. Never hex (``0x10``), ``_`` separators
(``1_000``), blanks (`` 1``: callers strip what their format allows), or a bare ``1e``. The readers differ only
in the digits and the words they take, each for a reason:

- ``CSV_NUMBER`` (CSV/TSV cells, ``io/inputs``): ASCII digits; ``nan``, ``inf``, ``infinity`` in any ASCII case,
  signed: whatever spreadsheets, R, pandas and Python write for a float. ASCII case only, so that a dotless
  ``ınf`` is refused as text instead of passing the grammar and failing in ``float()``.
  ``csv_number_bytes()`` is the byte alphabet of the same grammar, for the vectorised CSV path.
- ``RESULT_NUMBER`` (csv and text results jaccli wrote, ``checks/results_text``): the words NumPy and Python
  print, ``nan`` and ``inf``, lower case, signed. A golden file is jaccli's own output: anything else is not.
- ``DEFINE_NUMBER`` (``-D NAME=VALUE``, ``expr/scope``): finite only, since a constant must be finite (SymPy
  would fold ``nan*x``); ``DEFINE_NONFINITE`` recognises the CSV words so that ``-D a=-inf`` is told exactly that.
  ``-P NAME=VALUE`` (``io/params``) refuses what either matches, and whatever else ``float()`` reads (``1_000``):
  a scalar belongs to ``-D``.

Digits are ASCII everywhere. ``float()`` would read any Unicode decimal digit (``float('١')`` is 1.0), but a
number that looks like one thing in a terminal and is read as another has no place in a derivative's input, and
the vectorised CSV path works on bytes.
"""
from __future__ import annotations

import json
import math
import re
from typing import NoReturn

from jaccli.errors import InputError

NONFINITE_WORDS = ("nan", "inf", "infinity")  # Python's float() spellings, read in any case
PRINTED_NONFINITE = ("nan", "inf")  # what NumPy and Python print


def number_pattern(*, finite: bool = True, nonfinite: tuple[str, ...] = ()) -> str:
    """The regular expression (no anchors, no flags) of one number: an optional sign, then a finite decimal of
    ASCII digits (when ``finite``) or one of the ``nonfinite`` words."""
    alternatives = [r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"] if finite else []
    alternatives += [re.escape(word) for word in nonfinite]
    return rf"[+-]?(?:{'|'.join(alternatives)})"


CSV_NUMBER = re.compile(number_pattern(nonfinite=NONFINITE_WORDS), re.IGNORECASE | re.ASCII)
RESULT_NUMBER = number_pattern(nonfinite=PRINTED_NONFINITE)  # text: rows are built from it
DEFINE_NUMBER = re.compile(number_pattern())
DEFINE_NONFINITE = re.compile(number_pattern(finite=False, nonfinite=NONFINITE_WORDS), re.IGNORECASE | re.ASCII)


def csv_number_bytes() -> bytes:
    """Every byte a CSV number can hold (digits, sign, point, exponent, the letters of its words in both cases)."""
    letters = "".join(sorted(set("".join(NONFINITE_WORDS))))
    return ("0123456789+-.eE" + letters + letters.upper()).encode("ascii")


# -- UTF-8 with positions ------------------------------------------------------------------------------------------

BOM = b"\xef\xbb\xbf"
UTF8_HINT = "save the file as UTF-8 (or plain ASCII) text"
_BLANK_BYTES = b" \t\r\n"


def text_start(data: bytes) -> bytes:
    """``data`` from its first character that is not a blank or a BOM: where a format sniffer looks for ``{``."""
    return data.lstrip(_BLANK_BYTES).removeprefix(BOM).lstrip(_BLANK_BYTES)


def line_column(data: bytes, offset: int, first_line: int = 1) -> tuple[int, int]:
    """1-based line and character column of byte ``offset`` (lines of ``data`` start at ``first_line``).

    Columns count characters, as an editor shows them; bytes before ``offset`` that are not UTF-8 count one
    replacement character per bad sequence."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", "replace")) + 1
    return first_line + data.count(b"\n", 0, offset), column


def decode_utf8(data: bytes, label: str, *, first_line: int = 1, drop_bom: bool = True) -> str:
    """Strict UTF-8 text; the first bad byte is an ``InputError`` at ``label:line:column``.

    A leading BOM is dropped and not counted as a column (``drop_bom=False`` for a line in the middle of a file,
    where those bytes are a character of the data). ``first_line`` numbers the first line of ``data``."""
    if drop_bom and data.startswith(BOM):
        data = data[len(BOM):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = line_column(data, exc.start, first_line)
        raise InputError(f"invalid UTF-8 byte 0x{data[exc.start]:02x}", where=f"{label}:{line}:{column}",
                         hint=UTF8_HINT) from None


# -- strict JSON: hooks for json.loads ------------------------------------------------------------------------------
# They raise InputError without a place: the caller knows the file and re-raises with ``where``.

JSON_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}  # the strings jaccli's JSON results hold
JSON_NONFINITE_NAMES = ", ".join(f'"{name}"' for name in JSON_NONFINITE)

def unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """``object_pairs_hook``: a repeated key would silently drop a value, so it is an error."""
    found: dict[str, object] = {}
    for key, value in pairs:
        if key in found:
            raise InputError(f"key {key!r} appears twice in an object", hint="remove or rename one of them")
        found[key] = value
    return found


def refuse_constant(name: str) -> NoReturn:
    """``parse_constant`` for JSON that jaccli wrote: ``NaN``/``Infinity`` are not JSON (Python's json reads them)."""
    raise InputError(f"{name} is not JSON",
                     hint=f"jaccli writes non-finite values as the strings {JSON_NONFINITE_NAMES}")


def finite_float(literal: str) -> float:
    """``parse_float`` that refuses ``1e400``, which json would turn into inf without a word."""
    if not math.isfinite(value := float(literal)):
        raise InputError(f"{literal} is out of the float64 range",
                         hint='float64 values are at most about 1.8e308; write an infinity as the string "inf"')
    return value


# -- describing a JSON value in a message ----------------------------------------------------------------------------

_SHOWN_CHARS = 30  # of a string, in a message
_SHOWN_DIGITS = 30  # of an integer; a longer one is described by its length


def plural(count: int, noun: str) -> str:
    """``1 item``, ``2 items``: a count and its noun, for messages."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def describe_json(value: object) -> str:
    """What a JSON value is, for an error message: a scalar as JSON spells it (``true``, ``null``, ``-1``, ``2.5``,
    ``NaN``, ``the string "float8"``), a container by its size (``a list of 1 item``, ``an object``).

    Scalars are shown because the value is often the mistake (``'order' must be a whole number >= 0, not -1``),
    spelled as in the file the user will open. A string says so in words as well as quotes, since a quoted number
    is the usual slip and ``"1.5" is not a number`` would read as a contradiction. A list is never shown (it may
    be huge or deeply nested), a string is cut after 30 characters and an integer too long to read is described
    by its length."""
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return f"a list of {plural(len(value), 'item')}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        shown = json.dumps(value[:_SHOWN_CHARS], ensure_ascii=False)
        return "the string " + (shown if len(value) <= _SHOWN_CHARS else shown[:-1] + '..."')
    if isinstance(value, int) and len(digits := str(abs(value))) > _SHOWN_DIGITS:
        return f"a {len(digits)}-digit number"
    if isinstance(value, float) and not math.isfinite(value):  # the literals Python's json reads as numbers
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    return repr(value)


# -- rectangular nested lists ----------------------------------------------------------------------------------------

class NotRectangular(ValueError):
    """A node of a nested list that is not a list of the expected length; the caller words the message."""

    def __init__(self, index: tuple[int, ...], depth: int, length: int, shape: tuple[int, ...], node: object) -> None:
        super().__init__(f"expected a list of {length} at {item_path(index)}")
        self.index, self.depth, self.length, self.shape, self.node = index, depth, length, shape, node


def unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The C-order index of the ``flat``-th item of an array of ``shape`` (``numpy.unravel_index`` without NumPy)."""
    index = []
    for size in reversed(shape):
        flat, i = divmod(flat, size)
        index.append(i)
    return tuple(reversed(index))


def item_path(index: tuple[int, ...]) -> str:
    return "".join(f"[{i}]" for i in index)


def nested_leaves(value: object, shape: tuple[int, ...] | None = None) -> tuple[list, tuple[int, ...]]:
    """The leaves of a rectangular nested list in C order, and its shape.

    ``shape`` None reads it from the first item at each level (an input file); otherwise the list must have that
    shape (a result file says it). Each level is checked as one flat list, without recursion, so the cost is
    linear and a deep list cannot overflow the stack. Raises ``NotRectangular`` at the first bad node."""
    if shape is None:
        found: list[int] = []
        probe = value
        while type(probe) is list:
            found.append(len(probe))
            if not probe:
                break
            probe = probe[0]
        shape = tuple(found)
    level: list = [value]
    for depth, length in enumerate(shape):
        following: list = []
        for i, node in enumerate(level):
            if type(node) is not list or len(node) != length:
                raise NotRectangular(unravel(i, shape[:depth]), depth, length, shape, node)
            following.extend(node)
        level = following
    return level, shape


# -- labels ------------------------------------------------------------------------------------------------------------

STDIN_LABEL = "<stdin>"


def label_for(path: str) -> str:
    """How messages name a file: its path, or ``<stdin>`` for ``-``."""
    return STDIN_LABEL if path == "-" else str(path)
