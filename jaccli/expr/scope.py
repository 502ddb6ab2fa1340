"""What names mean to the tracer, in one place: ``Scope`` (input arrays, constants, CSV columns, shared
parameters), how ``--wrt`` resolves to the watched ``Source`` (``expr/source.py``), ``make_scope`` (the rules a
set of names must keep) and ``parse_defines`` (``-D NAME=VALUE``).

SymPy loads lazily here: ``parse_defines`` runs on every CLI call, also warm ones that never plan.
"""
from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field as dc_field
from typing import TYPE_CHECKING

import numpy as np

from jaccli.errors import UsageError, did_you_mean
from jaccli.expr.names import NAME_HINT, is_valid_name
from jaccli.expr.source import EMPTY, Source, concatenate
from jaccli.textkit import DEFINE_NONFINITE, DEFINE_NUMBER

if TYPE_CHECKING:
    import sympy


@dataclass
class Scope:
    """What names mean: per-example arrays (event shapes), scalar constants, CSV column aliases, the source, and
    shared parameters (``-P``): arrays without a batch axis, the same for every example, never differentiated.
    A parameter is a leaf like an input array, but its slots read one ``(1, L)`` row that broadcasts against the
    batch's ``(b, L)`` slots, so ``W`` stays data in the kernel, never numbers folded into the templates."""

    arrays: dict[str, tuple[int, ...]]
    constants: dict[str, sympy.Expr] = dc_field(default_factory=dict)
    columns: dict[str, tuple[str, int]] = dc_field(default_factory=dict)  # alias -> (array, flat element)
    wrt: str = "x"
    params: dict[str, np.ndarray] = dc_field(default_factory=dict)  # name -> the whole array (no batch axis)

    def names(self) -> list[str]:
        from jaccli.functions import CONSTANTS

        return sorted(set(self.arrays) | set(self.constants) | set(self.columns) | set(CONSTANTS) | set(self.params))

    def source(self) -> Source:
        if "," in self.wrt:
            names = [name.strip() for name in self.wrt.split(",")]
            return concatenate([dataclasses.replace(self, wrt=name).source() if name else EMPTY for name in names],
                               ",".join(names))
        if self.wrt in self.columns:
            leaf, i = self.columns[self.wrt]
            smap = np.full(int(np.prod(self.arrays[leaf], dtype=np.int64)), -1, np.int64)
            smap[i] = 0
            return Source(self.wrt, leaf, (), smap)
        if self.wrt in self.arrays:
            from jaccli.expr.budget import check_source_shape

            shape = self.arrays[self.wrt]
            check_source_shape(self.wrt, shape)  # before the index map below is allocated
            return Source(self.wrt, self.wrt, shape, np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64))
        if self.wrt in self.params:
            raise UsageError(f"--wrt {self.wrt}: '{self.wrt}' is a shared parameter (--param), not per-example data",
                             hint="parameters are constants of the derivative; the source must be an input array")
        if self.wrt in self.constants:
            raise UsageError(f"--wrt {self.wrt}: '{self.wrt}' is a constant, not an input array",
                             hint="the source must be an array of the input file")
        known = sorted(set(self.arrays) | set(self.columns))
        guess = did_you_mean(self.wrt, known)
        raise UsageError(f"--wrt {self.wrt}: the input has no array named '{self.wrt}'"
                         + (f" (did you mean '{guess}'?)" if guess else ""),
                         hint="inputs: " + ", ".join(known) if known else None)


def check_constant(kind: str, name: str, value: float) -> None:
    """The one finiteness rule for scalar constants (``-D``, file scalars, the API's ``defines``)."""
    if not math.isfinite(value):
        # SymPy would fold nan*x to the constant nan and lose its derivative: refuse rather than lie, even with
        # --allow-nonfinite.
        raise UsageError(f"{kind} '{name}' is {value}: constants must be finite",
                         hint="pass non-finite values as per-example data instead")


def parse_defines(defines: tuple[str, ...]) -> dict[str, float]:
    """``-D NAME=VALUE`` items: integers stay exact (``x**n``), other numbers are floats; all finite."""
    out: dict[str, float] = {}
    for item in defines:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not is_valid_name(name):
            raise UsageError(f"-D {item!r}: expected NAME=VALUE with NAME a Python identifier", hint="e.g. -D a=2.5")
        if name in out:
            raise UsageError(f"-D {name} is given twice")
        if DEFINE_NONFINITE.fullmatch(text):
            check_constant("-D", name, float(text))
        elif DEFINE_NUMBER.fullmatch(text):
            value = float(text)
            out[name] = int(text) if re.fullmatch(r"[+-]?[0-9]{1,16}", text) and abs(int(text)) <= 2**53 else value
            if not np.isfinite(value):
                raise UsageError(f"-D {name}={text}: the value overflows a float")
        else:
            raise UsageError(f"-D {name}={text!r}: not a number", hint="VALUE is a number like 2, -0.5 or 1e-3")
    return out


def make_scope(arrays: Mapping[str, tuple[int, ...]], *, scalars: Mapping[str, float] | None = None,
               defines: Mapping[str, float] | None = None, columns: list[str] | None = None,
               row: str | None = None, wrt: str = "x", params: Mapping[str, np.ndarray] | None = None) -> Scope:
    """Names for the expression: input arrays, file scalars and ``-D`` constants, CSV header columns.

    ``columns`` name the elements of array ``row`` (a CSV row): column ``r`` is ``row[i]``. A ``-D`` name may not
    shadow an input name (that would silently ignore data).
    """
    from jaccli.functions import number

    listed = columns or []
    for i, column in enumerate(listed):  # a name that is not an identifier labels its column but is no alias
        if column in listed[:i]:
            raise UsageError(f"column name {column!r} appears twice", hint="names must be unique")
    constants = {}
    for kind, values in (("file scalar", scalars or {}), ("-D", defines or {})):
        for name, value in values.items():
            if name in arrays or name in listed or name in constants:
                raise UsageError(f"{kind} '{name}' clashes with another input name", hint="rename the constant")
            check_constant(kind, name, value)
            constants[name] = value if not isinstance(value, float) else number(value)
    aliases = {}
    if columns and row is not None:
        aliases = {c: (row, i) for i, c in enumerate(columns) if is_valid_name(c)}
    for name in params or {}:
        if not is_valid_name(name):
            raise UsageError(f"parameter name {name!r} is not a valid name", hint=NAME_HINT)
        if name in arrays or name in listed or name in constants:
            raise UsageError(f"parameter '{name}' clashes with another input name",
                             hint="rename the parameter (a per-example array and a shared one cannot share a name)")
    return Scope(dict(arrays), constants, aliases, wrt, dict(params or {}))
