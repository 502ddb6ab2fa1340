"""What names mean to the tracer: ``Scope`` (input arrays, constants, CSV columns, shared parameters), and how
``--wrt`` resolves to the watched ``Source`` (``expr/source.py``)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field as dc_field

import numpy as np
import sympy

from jaccli.expr.budget import check_source_shape
from jaccli.errors import UsageError, did_you_mean
from jaccli.expr.source import EMPTY, Source, concatenate
from jaccli.functions import CONSTANTS


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
