"""The traced program as a typed IR, Autodidax's jaxpr in miniature: ``Equation``s over one declared set of
``Primitive``s, collected in a ``Tape`` that prints one line per operation.

An equation separates the *variables* it reads (earlier equations' names) from its *static parameters* (a
literal's value, an input's name, an index key, an axis, where's comparison), so a reader or a checker
(``expr/check.py: check_tape``) never has to guess which strings are names. The tape is a record for people and
tests: derive works on the traced ``Field`` (the lane templates), never by replaying these equations.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from jaccli.expr.field import Field
from jaccli.expr.source import Source
from jaccli.catalog import CATALOG


@dataclass(frozen=True)
class Primitive:
    """One operation of the IR: its name, how many variables it reads (``None``: one or more) and the names of
    its static parameters, in print order."""

    name: str
    arity: int | None
    params: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.name


def _declare() -> dict[str, Primitive]:
    prims = [Primitive("const", 0, ("value",)), Primitive("name", 0, ("name",)), Primitive("copy", 1),
             Primitive("neg", 1), Primitive("add", 2), Primitive("sub", 2), Primitive("mul", 2),
             Primitive("div", 2), Primitive("pow", 2), Primitive("index", 1, ("key",)), Primitive("stack", None),
             # where(a < b, then, otherwise) reads a, b, then, otherwise; the comparison is a parameter.
             Primitive("where", 4, ("compare",))]
    table = {p.name: p for p in prims}
    for s in CATALOG.values():  # every function users call is a primitive of the IR
        table.setdefault(s.name, Primitive(s.name, s.arity, ("axis",) if s.axis else ()))
    return table


PRIMITIVES: dict[str, Primitive] = _declare()  # the one declared set; check_tape rejects anything else


def primitive(name: str) -> Primitive:
    """The declared primitive ``name``; a name outside the set is a bug in the tracer, so it fails loudly."""
    try:
        return PRIMITIVES[name]
    except KeyError:
        raise AssertionError(f"'{name}' is not a declared primitive of the IR") from None


def format_key(key: tuple) -> str:
    """An index key in NumPy's spelling: ``(slice(1, None), None, 0)`` -> ``[1:, None, 0]``."""
    def item(k: object) -> str:
        if isinstance(k, slice):
            text = ":".join("" if v is None else str(v) for v in (k.start, k.stop))
            return text + (f":{k.step}" if k.step is not None else "")
        return "..." if k is Ellipsis else str(k)

    return "[" + ", ".join(item(k) for k in key) + "]"


@dataclass(frozen=True)
class Equation:
    """``var: shape = prim inputs [params]``: one traced operation of one example."""

    var: str
    prim: Primitive
    inputs: tuple[str, ...]
    params: dict[str, object]
    shape: tuple[int, ...]

    def __str__(self) -> str:
        shown = {k: format_key(v) if k == "key" else v for k, v in self.params.items()}  # type: ignore[arg-type]
        params = " [" + ", ".join(f"{k}={v}" for k, v in shown.items()) + "]" if shown else ""
        return f"{self.var}: {self.shape} = {' '.join((self.prim.name, *self.inputs))}{params}"


@dataclass
class Tape:
    """The target of one example (a ``Field`` of shape ``T``), the source, and the operations that built it."""

    target: Field
    source: Source
    equations: list[Equation]
    named: dict[str, Field] = dataclasses.field(default_factory=dict)  # an expression file's values, in order
    target_name: str | None = None  # the file's last line, when it is one of its names (d energy / d x)
    out: str | None = None  # the variable holding the target (None for a tape built without equations)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.equations)
