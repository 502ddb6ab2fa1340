"""``jaccli symbolic``: the non-zero entries of the k-th derivative as formulas, and the result's layout explained.

The plan already holds the symbolic half of the work: per lane template, its partials (one per multiset of slots)
and where every lane lands. Each (template, partial, ordering of the multiset) is a *block* of entries. Entries
that several blocks (or lanes) write are summed into one merged block, because the chain rule adds and the display
must show the entry's whole value. A block whose indices all move in step with its lanes (an elementwise part) is
printed once with a symbolic index instead of once per element::

    d y[i] / d x[i] = 3*x[i]**2    for i in 0..1

Nothing here evaluates numbers: the formulas are the SymPy partials with slot symbols renamed to the elements
they read (``x[1]``, a CSV column name like ``theta``, or ``x[i]`` in a pattern).
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby, permutations
from typing import Callable, Mapping, Optional, Sequence

import numpy as np
import sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from .engine import Plan, make_scope, plan_jacobian
from .errors import UsageError
from .field import slot_symbol
from .functions import for_display
from .tape import Scope

INDEX_NAMES = "ijkmnpqrs"  # pattern variables; 'l' is skipped (it reads as 1), scope names are skipped too
Name = tuple[str, tuple[str, ...]]  # (base, index texts): ('x', ('i', '0')) is x[i,0]; ('theta', ()) is theta


# --- printers: one per form ------------------------------------------------------------------------------------
def _says(text: str) -> Callable[[object, sympy.Expr], str]:
    """A printer method that prints a constant one way (``np.pi``) whatever SymPy calls it."""
    return lambda self, expr: text


class _PlainPrinter(StrPrinter):
    """SymPy's ``str`` spelling constants as jaccli does: ``e``, and ``inf`` for SymPy's ``zoo`` (1/0: the kernel
    evaluates it as IEEE inf)."""

    _print_Exp1 = _says("e")
    _print_ComplexInfinity = _print_Infinity = _says("inf")
    _print_NegativeInfinity = _says("-inf")


def _numpy_name(func: type) -> str:
    """``np.arcsin`` for ``asin``: the table row's NumPy ufunc where it has one, else the jaccli helper's name."""
    row = getattr(func, "jaccli_row", None)
    if row is None:
        return "np." + func.__name__  # SymPy's own exp and log appear in e**x and d/dy x**y
    return "np." + row.numpy.__name__ if isinstance(row.numpy, np.ufunc) else row.name


class _PythonPrinter(StrPrinter):
    """NumPy-style source: ``np.sin(x[i])``, ``np.sqrt``, ``np.pi``; table-only helpers keep their jaccli names."""

    _print_Pi, _print_Exp1, _print_NaN = _says("np.pi"), _says("np.e"), _says("np.nan")
    _print_ComplexInfinity = _print_Infinity = _says("np.inf")
    _print_NegativeInfinity = _says("-np.inf")

    def _print_Function(self, expr: sympy.Expr) -> str:
        return f"{_numpy_name(expr.func)}({self.stringify(expr.args, ', ')})"

    _print_ExpBase = _print_Function

    def _print_Pow(self, expr: sympy.Expr, rational: bool = False) -> str:
        if abs(expr.exp) is sympy.S.Half:  # StrPrinter would say sqrt(...), which is not NumPy
            return f"{'1/' if expr.exp < 0 else ''}np.sqrt({self._print(expr.base)})"
        return super()._print_Pow(expr, rational)


class _LatexPrinter(LatexPrinter):
    """``sympy.latex``, but jaccli's functions keep their names (SymPy would print ``atan2`` as ``atan_{2}``)."""

    _STANDARD = {"sin", "cos", "tan", "sinh", "cosh", "tanh", "log", "exp"}

    def _print_Function(self, expr: sympy.Expr, exp: Optional[str] = None) -> str:
        if not hasattr(expr.func, "jaccli_row"):
            return super()._print_Function(expr, exp)
        name, args = expr.func.__name__, ",".join(self._print(a) for a in expr.args)
        if name in ("sqrt", "abs"):
            text = rf"\sqrt{{{args}}}" if name == "sqrt" else rf"\left|{args}\right|"
        else:
            head = "\\" + name if name in self._STANDARD else rf"\operatorname{{{name}}}"
            text = rf"{head}{{\left({args} \right)}}"
        return text if exp is None else rf"\left({text}\right)^{{{exp}}}"


PRINTERS = {"plain": _PlainPrinter, "latex": _LatexPrinter, "python": _PythonPrinter}


def _spell(name: Name, form: str) -> str:
    base, index = name
    if not index:
        return base
    return f"{base}_{{{','.join(index)}}}" if form == "latex" else f"{base}[{','.join(index)}]"


# --- blocks: entries that share one template ------------------------------------------------------------------
@dataclass
class _Block:
    expr: sympy.Expr  # the partial, over slot symbols s0..s{m-1}
    slots: list[tuple[str, np.ndarray]]  # per slot: (leaf, flat element read on each lane)
    target: np.ndarray  # (L,) flat target position per lane
    sources: np.ndarray  # (L, k) flat source index per lane, one column per derivative

    def take(self, lanes: np.ndarray) -> "_Block":
        return _Block(self.expr, [(leaf, idx[lanes]) for leaf, idx in self.slots], self.target[lanes],
                      self.sources[lanes])

    def keys(self, n: int) -> np.ndarray:
        """Flat index of each lane's entry in the per-example result ``(*T, *S^k)`` (C order)."""
        k = self.sources.shape[1]
        return self.target * n**k + self.sources @ (n ** np.arange(k - 1, -1, -1, dtype=np.int64))


def _blocks(plan: Plan) -> list[_Block]:
    """One block per (template, partial, distinct ordering), restricted to the lanes that read the source."""
    d = plan.derivative
    out = []
    for prog in d.programs:
        slots = [(s.leaf, s.index) for s in prog.slots]
        for part, multiset in enumerate(prog.multisets):
            for ordering in sorted(set(permutations(multiset))):
                cols = [d.source.smap[prog.slots[j].index] for j in ordering]
                src = np.stack(cols, axis=1) if cols else np.zeros((prog.lanes, 0), np.int64)
                valid = np.flatnonzero((src >= 0).all(axis=1))
                if len(valid):
                    out.append(_Block(prog.partials[part], slots, prog.piece.pos, src).take(valid))
    return out


def _merge(blocks: list[_Block], n: int) -> list[_Block]:
    """Sum the contributions of entries written more than once; entries are grouped by who writes them, so a
    reduction or an alias (``x * x[::-1]``) gives one merged template per kind of entry, not one per entry."""
    if not blocks:
        return []
    keys = [b.keys(n) for b in blocks]
    flat = np.concatenate(keys)
    which = np.concatenate([np.full(len(k), i) for i, k in enumerate(keys)])
    lane = np.concatenate([np.arange(len(k)) for k in keys])
    _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    shared = counts[inverse.ravel()] > 1
    out = [b.take(np.flatnonzero(~shared[which == i])) for i, b in enumerate(blocks)]
    out = [b for b in out if len(b.target)]
    idx = np.flatnonzero(shared)
    groups: dict[tuple[int, ...], list[list[int]]] = {}
    for _, members in groupby(idx[np.lexsort((lane[idx], which[idx], flat[idx]))], key=lambda c: flat[c]):
        members = list(members)
        groups.setdefault(tuple(int(which[c]) for c in members), []).append([int(lane[c]) for c in members])
    for signature, entries in groups.items():
        lanes = np.asarray(entries, np.int64)
        terms, slots = [], []
        for r, i in enumerate(signature):
            b = blocks[i]
            shift = {slot_symbol(j): slot_symbol(j + len(slots)) for j in range(len(b.slots))}
            terms.append(b.expr.xreplace(shift))
            slots += [(leaf, ix[lanes[:, r]]) for leaf, ix in b.slots]
        expr = sympy.Add(*terms)
        if expr != 0:
            first = blocks[signature[0]].take(lanes[:, 0])
            out.append(_Block(expr, slots, first.target, first.sources))
    return out


# --- patterns: indices that are affine in the lanes -------------------------------------------------------------
@dataclass
class _Pattern:
    variables: list[tuple[str, int, int]]  # (name, first, last); none for a single entry
    rows: list[tuple[int, tuple[int, ...]]]  # per shown coordinate: constant, coefficient per variable


def _fit(rows: np.ndarray, grid: tuple[int, ...], names: str) -> Optional[_Pattern]:
    """Each row (one coordinate over the lanes, in entry order) as ``c + sum(a_v * v)`` over the grid's variables.

    A variable must equal some coordinate outright (a step of 1 along its axis only), so patterns read ``x[i]``
    and ``x[i+1]``, never ``x[2*i]`` with a hidden meaning of ``i``; otherwise the entries are listed.
    """
    axes = np.indices(grid).reshape(len(grid), -1)
    fits = []
    for row in rows:
        g = row.reshape(grid)
        base = int(g.flat[0])
        steps = tuple(int(np.moveaxis(g, a, 0)[1].flat[0]) - base for a in range(len(grid)))
        if not np.array_equal(row, base + np.dot(steps, axes)):
            return None
        fits.append((base, steps))
    units = [tuple(int(a == b) for b in range(len(grid))) for a in range(len(grid))]
    starts = [next((base for base, steps in fits if steps == unit), None) for unit in units]
    if None in starts:
        return None
    variables = [(names[a], s, s + grid[a] - 1) for a, s in enumerate(starts)]
    return _Pattern(variables, [(base - int(np.dot(steps, starts)), steps) for base, steps in fits])


def _grids(lanes: int, shapes: Sequence[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Grid shapes to try, fewest axes first: the lanes in a row, or runs of axes of the shapes involved."""
    found = [(lanes,)]
    for shape in shapes:
        dims = [s for s in shape if s > 1]
        found += [tuple(dims[a:b]) for a in range(len(dims)) for b in range(a + 2, len(dims) + 1)
                  if int(np.prod(dims[a:b])) == lanes]
    return sorted(dict.fromkeys(found), key=len)


def _index_text(const: int, coefs: Sequence[int], variables: Sequence[tuple[str, int, int]]) -> str:
    """``i``, ``i+1``, ``3-i``, ``2*j``... (no spaces, so a multi-index reads ``x[i,j+1]``)."""
    text = ""
    for c, (var, _, _) in zip(coefs, variables):
        if c:
            text += ("-" if c < 0 else "+" if text else "") + (var if abs(c) == 1 else f"{abs(c)}*{var}")
    if not text or not const:
        return text or str(const)
    return f"{const}{text}" if text[0] == "-" and const > 0 else f"{text}{const:+d}"


# --- names -----------------------------------------------------------------------------------------------------
def _unravel(flat: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Multi-indices as an (ndim, L) array; a 0-d shape has no coordinates."""
    return np.array(np.unravel_index(flat, shape)) if shape else np.zeros((0, len(flat)), np.int64)


class _Namer:
    """Readable names for elements: CSV column aliases first, bare names for scalars, else ``leaf[multi-index]``.

    Leaf shapes and aliases come from the scope. Without one the source's own leaf is still named exactly, and
    other leaves by their flat element.
    """

    def __init__(self, plan: Plan, scope: Optional[Scope]) -> None:
        src = self.source = plan.derivative.source
        self.target_shape = plan.derivative.target_shape
        watched = np.flatnonzero(src.smap >= 0)
        self.leaf_of = np.empty(src.size, np.int64)
        self.leaf_of[src.smap[watched]] = watched
        self.arrays = {src.leaf: src.shape if src.name == src.leaf else (src.smap.size,)}
        self.aliases = {} if src.name == src.leaf else {(src.leaf, int(watched[0])): src.name}
        used = {src.name, src.leaf}
        if scope is not None:
            self.arrays = {k: tuple(v) for k, v in scope.arrays.items()}
            for alias, (leaf, i) in scope.columns.items():
                self.aliases.setdefault((leaf, int(i)), alias)
            used |= set(scope.names())
        self.letters = "".join(c for c in INDEX_NAMES if c not in used)
        self.y = next(n for n in ("y", "f", "out", "target_") if n not in used)  # never an input's name

    def shape(self, leaf: str) -> tuple[int, ...]:
        return self.arrays.get(leaf, (np.iinfo(np.int64).max,))  # unknown leaf: flat, unbounded

    def coordinates(self, b: _Block) -> np.ndarray:
        """Every index a line shows, one row per coordinate: the target's, each source's, each slot element's."""
        rows = [_unravel(b.target, self.target_shape)]
        rows += [_unravel(b.sources[:, c], self.source.shape) for c in range(b.sources.shape[1])]
        return np.concatenate(rows + [_unravel(ix, self.shape(leaf)) for leaf, ix in b.slots])

    def pattern(self, b: _Block) -> Optional[_Pattern]:
        rows = self.coordinates(b)
        for grid in _grids(len(b.target), [self.target_shape, self.source.shape,
                                           *(self.shape(leaf) for leaf, _ in b.slots)]):
            found = _fit(rows, grid, self.letters) if len(grid) <= len(self.letters) else None
            if found is not None:
                return found
        return None

    def element(self, leaf: str, flat: int, index: tuple[str, ...], fixed: bool) -> Name:
        """A fixed element by its column name when it has one; otherwise ``leaf[index]`` (numbers or symbols)."""
        return (self.aliases[(leaf, flat)], ()) if fixed and (leaf, flat) in self.aliases else (leaf, index)

    def names(self, b: _Block, p: _Pattern) -> tuple[Name, list[Name], list[Name]]:
        """Target, sources and slot names of a line (``b``'s first lane fixes whatever the pattern does not move)."""
        texts = [(_index_text(c, coefs, p.variables), not any(coefs)) for c, coefs in p.rows]
        at = 0

        def take(ndim: int) -> tuple[tuple[str, ...], bool]:
            nonlocal at
            part, at = texts[at:at + ndim], at + ndim
            return tuple(t for t, _ in part), all(f for _, f in part)

        target = (self.y, take(len(self.target_shape))[0])
        src, sources, slots = self.source, [], []
        for c in range(b.sources.shape[1]):
            index, fixed = take(len(src.shape))
            flat = int(self.leaf_of[b.sources[0, c]])
            sources.append((src.name, ()) if src.shape == () else self.element(src.leaf, flat, index, fixed))
        for leaf, ix in b.slots:
            slots.append(self.element(leaf, int(ix[0]), *take(len(self.shape(leaf)))))
        return target, sources, slots


# --- rendering -------------------------------------------------------------------------------------------------
@dataclass
class _Line:
    key: int  # flat index of the first entry: lines print in the result's C order
    entries: int
    block: _Block
    pattern: Optional[_Pattern]  # None: a single entry, the block's lane ``lane``
    lane: int = 0


def _lines(blocks: list[_Block], namer: _Namer) -> list[_Line]:
    lines = []
    for b in blocks:
        b = b.take(np.argsort(b.keys(namer.source.size), kind="stable"))
        keys = b.keys(namer.source.size)
        pattern = namer.pattern(b) if len(keys) > 1 else None
        if pattern is not None:
            lines.append(_Line(int(keys[0]), len(keys), b, pattern))
        else:  # listed: names are worked out only for the lines that get printed
            lines += [_Line(int(key), 1, b, None, lane) for lane, key in enumerate(keys)]
    return sorted(lines, key=lambda line: line.key)


def _render_line(line: _Line, namer: _Namer, form: str, printer: StrPrinter) -> Optional[str]:
    """``lhs = formula[    for i in a..b]``; None when the entry is 0 once its slots are named (``x*x - x*x[::-1]``)."""
    b, p = line.block, line.pattern
    if p is None:
        b = b.take(np.array([line.lane]))
        p = _Pattern([], [(int(v), ()) for v in namer.coordinates(b)[:, 0]])
    target, sources, slots = namer.names(b, p)
    formula = for_display(b.expr).xreplace({slot_symbol(j): sympy.Symbol(_spell(n, form)) for j, n in enumerate(slots)})
    if formula == 0:
        return None
    k, y = len(sources), _spell(target, form)
    if form == "latex":
        tex = [printer.doprint(sympy.Symbol(_spell(s, form))) for s in sources]
        den = " ".join(rf"\partial {t}" + (f"^{{{c}}}" if c > 1 else "")
                       for t, c in ((t, len(list(g))) for t, g in groupby(tex)))
        y = printer.doprint(sympy.Symbol(y))
        lhs = y if k == 0 else rf"\frac{{\partial{f'^{{{k}}}' if k > 1 else ''} {y}}}{{{den}}}"
    else:
        den = " ".join(f"d {_spell(s, form)}" for s in sources)
        lhs = y if k == 0 else f"d{f'^{k}' if k > 1 else ''} {y} / {den}"
    text = f"{lhs} = {printer.doprint(formula)}"
    if p.variables and form == "latex":
        text += r" \quad \text{for } " + r",\ ".join(rf"{a} \le {v} \le {z}" for v, a, z in p.variables)
    elif p.variables:
        text += "    for " + ", ".join(f"{v} in {a}..{z}" for v, a, z in p.variables)
    return text


def render_symbolic(plan: Plan, form: str = "plain", max_lines: Optional[int] = 200,
                    scope: Optional[Scope] = None) -> str:
    """The non-zero entries of the plan's order-k derivative (``(*T, *S^k)`` per example), one formula a line.

    ``form`` is ``plain`` (SymPy ``str``), ``latex`` or ``python`` (NumPy spelling). Elementwise parts print once
    with a symbolic index; at most ``max_lines`` lines (None: all), then ``... N more entries``. ``scope``
    (default: the plan's own, when it carries one) supplies leaf shapes and CSV column names.
    """
    if form not in PRINTERS:
        raise UsageError(f"unknown form '{form}'", hint="choose " + ", ".join(PRINTERS))
    printer = PRINTERS[form]({"full_prec": False})
    d = plan.derivative
    if not d.connected:
        return f"None (the target does not reference {d.source.name})"
    namer = _Namer(plan, scope if scope is not None else plan.scope)
    lines = _lines(_merge(_blocks(plan), d.source.size), namer)
    out: list[str] = []
    for at, line in enumerate(lines):
        if max_lines is not None and len(out) >= max_lines:
            out.append(f"... {sum(rest.entries for rest in lines[at:])} more entries")
            break
        text = _render_line(line, namer, form, printer)
        if text is not None:
            out.append(text)
    return "\n".join(out) if out else "all entries are 0"


def render_layout(plan: Plan) -> str:
    """One line per axis of the full result ``(B, *T, *S^k)``: its ``plan.layout()`` name, size and meaning."""
    d, names = plan.derivative, plan.layout()
    source, y = d.source, _Namer(plan, plan.scope).y

    def ranges(shape: tuple[int, ...], axis: int) -> str:
        return ",".join(f"0..{n - 1}" if a == axis else ":" for a, n in enumerate(shape))

    rows = [("B", "examples, never mixed")]
    rows += [(str(n), f"{y}[{ranges(d.target_shape, a)}]") for a, n in enumerate(d.target_shape)]
    for _ in range(d.order):
        rows += [(str(n), f"d/d{source.name}[{ranges(source.shape, a)}]") for a, n in enumerate(source.shape)]
    width, size_width = max(map(len, names)), max(len(size) for size, _ in rows)
    return "\n".join(f"axis {i}  {name:<{width}}  size {size:<{size_width}}  {meaning}"
                     for i, (name, (size, meaning)) in enumerate(zip(names, rows)))


def parse_shape(text: str) -> tuple[int, ...]:
    """``--shape 2,3`` -> ``(2, 3)``; ``''`` or ``()`` is a scalar example."""
    parts = [p.strip() for p in text.strip().strip("()").split(",") if p.strip()]
    if not all(p.isdigit() for p in parts):
        raise UsageError(f"--shape {text!r}: not a shape", hint="sizes separated by commas, like 2,3")
    return tuple(int(p) for p in parts)


def plan_from_shape(expression: str, shape: Optional[tuple[int, ...]], order: int = 1, wrt: str = "x",
                    columns: Optional[list[str]] = None, defines: Optional[Mapping[str, float]] = None) -> Plan:
    """A plan without an input file: the source has event ``shape``, or is a row named by ``columns`` (a CSV
    header: ``--wrt`` may then name one column and the row keeps the name ``x``, as for a real CSV file)."""
    if columns:
        if shape not in (None, (len(columns),)):
            raise UsageError(f"--shape {shape} does not match {len(columns)} columns", hint="give one of them")
        row = "x" if wrt in columns else wrt
        scope = make_scope({row: (len(columns),)}, defines=defines, columns=list(columns), row=row, wrt=wrt)
    else:
        scope = make_scope({wrt: tuple(shape or ())}, defines=defines, wrt=wrt)
    return plan_jacobian(expression, scope, order, np.dtype(np.float64))
