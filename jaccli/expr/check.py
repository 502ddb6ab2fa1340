"""Invariant checkers for the lane-template IR (``field.Field``) and the recorded program (``ir.Tape``: see
``check_tape``), in the spirit of Autodidax's ``typecheck_jaxpr``.

A ``Field`` is the program jaccli really runs, so its rules are written down here as code one can call on any
value a trace produces (the tests call it on every expression they plan):

- every piece's ``pos`` is a 1-D int64 array of flat positions inside the field's shape;
- every slot has exactly one source index per lane (``len(slot.index) == len(pos)``), inside its leaf;
- a template reads only its own slot symbols ``s0..s{m-1}`` (it may carry a slot it no longer reads: ``x*0``
  scales the template to 0 without re-tidying, which costs nothing, since such a slot's partials are 0);
- ``connected`` is a bool array of the field's shape, true wherever a lane reads a watched source element
  (the converse need not hold: ``x*0`` is connected with a zero derivative, as in TensorFlow).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from jaccli.expr.field import Field, slot_symbol
from jaccli.expr.ir import PRIMITIVES, Tape


class InvalidField(AssertionError):
    """A broken IR invariant: always a bug in jaccli, never a user error."""


def check_field(f: Field, leaf_sizes: Mapping[str, int] | None = None,
                watched: Mapping[str, np.ndarray] | None = None) -> None:
    """Raise ``InvalidField`` naming the first broken invariant of ``f``.

    ``leaf_sizes`` (leaf name -> number of elements) bounds the slot indices; ``watched`` (leaf name -> bool
    mask over its elements) lets the connectedness rule be checked too.
    """
    size = f.size
    if f.connected.dtype != bool or f.connected.shape != f.shape:
        raise InvalidField(f"connected has dtype {f.connected.dtype} and shape {f.connected.shape}, not bool {f.shape}")
    reads_source = np.zeros(size, bool)
    for k, piece in enumerate(f.pieces):
        where = f"piece {k} ({piece.expr})"
        pos = piece.pos
        if pos.ndim != 1 or pos.dtype != np.int64:
            raise InvalidField(f"{where}: pos must be 1-D int64, not {pos.ndim}-D {pos.dtype}")
        if len(pos) and (pos.min() < 0 or pos.max() >= size):
            raise InvalidField(f"{where}: a lane lands outside the field's {size} positions")
        symbols = {slot_symbol(j) for j in range(len(piece.slots))}
        if not piece.expr.free_symbols <= symbols:
            raise InvalidField(f"{where}: reads {piece.expr.free_symbols - symbols} beyond its {len(symbols)} slots")
        for j, slot in enumerate(piece.slots):
            if slot.index.shape != pos.shape:
                raise InvalidField(f"{where}: slot s{j} has {slot.index.shape} indices for {pos.shape} lanes")
            if leaf_sizes is not None and len(pos):
                n = leaf_sizes.get(slot.leaf)
                if n is None or slot.index.min() < 0 or slot.index.max() >= n:
                    raise InvalidField(f"{where}: slot s{j} reads outside leaf '{slot.leaf}'")
            if watched is not None and slot.leaf in watched:
                reads_source[pos[watched[slot.leaf][slot.index]]] = True
    if (reads_source & ~f.connected.reshape(-1)).any():
        first = int(np.flatnonzero(reads_source & ~f.connected.reshape(-1))[0])
        raise InvalidField(f"position {first} reads the source but is marked unconnected")


def check_tape(tape: Tape) -> None:
    """Raise ``InvalidField`` naming the first broken invariant of the recorded program: every primitive comes
    from the declared set with its arity and parameters, every input is defined before it is read, every name is
    defined once, and the output variable has the target's shape."""
    shapes: dict[str, tuple[int, ...]] = {}
    for eq in tape.equations:
        if PRIMITIVES.get(eq.prim.name) is not eq.prim:
            raise InvalidField(f"{eq.var}: '{eq.prim}' is not a declared primitive")
        arity = eq.prim.arity
        if (len(eq.inputs) != arity) if arity is not None else not eq.inputs:
            raise InvalidField(f"{eq.var}: {eq.prim} reads {len(eq.inputs)} variables, not {arity or 'one or more'}")
        if tuple(eq.params) != eq.prim.params:
            raise InvalidField(f"{eq.var}: {eq.prim} has parameters {tuple(eq.params)}, not {eq.prim.params}")
        if unknown := [v for v in eq.inputs if v not in shapes]:
            raise InvalidField(f"{eq.var}: reads {unknown[0]} before it is defined")
        if eq.var in shapes:
            raise InvalidField(f"{eq.var} is defined twice")
        if not all(isinstance(n, int) and n >= 0 for n in eq.shape):
            raise InvalidField(f"{eq.var}: shape {eq.shape} is not a tuple of sizes")
        shapes[eq.var] = eq.shape
    for name, value in tape.named.items():
        if shapes.get(name) != value.shape:
            raise InvalidField(f"named value {name} has no equation of shape {value.shape}")
    if tape.out is not None and shapes.get(tape.out) != tape.target.shape:
        raise InvalidField(f"the output {tape.out} does not hold the target's shape {tape.target.shape}")
