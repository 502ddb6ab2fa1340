"""``jaccli symbolic``: the non-zero entries of the k-th derivative as formulas, and the result's layout explained.

The plan already holds the symbolic half of the work: per lane template, its partials (one per multiset of slots)
and where every lane lands. Each (template, partial, ordering of the multiset) is a *block* of entries. Entries
that several blocks (or lanes) write are summed into one merged block, because the chain rule adds and the display
must show the entry's whole value. A block whose indices all move in step with its lanes (an elementwise part) is
printed once with a symbolic index instead of once per element::

    d y[i] / d x[i] = 3*x[i]**2    for i in 0..1

Nothing here evaluates numbers: the formulas are the SymPy partials with slot symbols renamed to the elements
they read (``x[1]``, a CSV column name like ``theta``, or ``x[i]`` in a pattern).

This module spells the lines: one SymPy printer per form (plain, latex, python), the left-hand sides and the
index ranges, plus ``render_layout`` and ``plan_from_shape`` for the command. Which entries there are, how they
merge, their index patterns and element names are worked out in ``entries``.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from itertools import groupby
from typing import Callable, Mapping

import numpy as np
import sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from jaccli.expr.scope import make_scope
from jaccli.plan.engine import Plan, plan_jacobian
from jaccli.symbolic.entries import Block, Name, Namer, Pattern, entry_blocks
from jaccli.errors import UsageError
from jaccli.expr.field import slot_symbol
from jaccli.functions import for_display
from jaccli.expr.ir import Tape
from jaccli.expr.scope import Scope
from jaccli.plan.derive import derive


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

    def _print_Function(self, expr: sympy.Expr, exp: str | None = None) -> str:
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



# --- rendering -------------------------------------------------------------------------------------------------
@dataclass
class _Line:
    key: int  # flat index of the first entry: lines print in the result's C order
    entries: int
    block: Block
    pattern: Pattern | None  # None: a single entry, the block's lane ``lane``
    lane: int = 0


def _lines(blocks: list[Block], namer: Namer) -> list[_Line]:
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


def _render_line(line: _Line, namer: Namer, form: str, printer: StrPrinter) -> str | None:
    """``lhs = formula[    for i in a..b]``; None when the entry is 0 once its slots are named (``x*x - x*x[::-1]``)."""
    b, p = line.block, line.pattern
    if p is None:
        b = b.take(np.array([line.lane]))
        p = Pattern([], [(int(v), ()) for v in namer.coordinates(b)[:, 0]])
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


def render_symbolic(plan: Plan, form: str = "plain", max_lines: int | None = 200,
                    scope: Scope | None = None, target_name: str | None = None) -> str:
    """The non-zero entries of the plan's order-k derivative (``(*T, *S^k)`` per example), one formula a line.

    ``form`` is ``plain`` (SymPy ``str``), ``latex`` or ``python`` (NumPy spelling). Elementwise parts print once
    with a symbolic index; at most ``max_lines`` lines (None: all), then ``... N more entries``. ``scope``
    (default: the plan's own, when it carries one) supplies leaf shapes and CSV column names.
    """
    if form not in PRINTERS:
        raise UsageError(f"unknown form '{form}'", hint="choose " + ", ".join(PRINTERS))
    if form == "python":  # a runnable function must hold every entry: max_lines does not apply
        from jaccli.symbolic.python_form import render_python

        return render_python(plan)
    printer = PRINTERS[form]({"full_prec": False})
    d = plan.derivative
    if not d.connected:
        return f"None (the target does not reference {d.source.name})"
    namer = Namer(plan, scope if scope is not None else plan.scope, target_name)
    lines = _lines(entry_blocks(plan), namer)
    out: list[str] = []
    for at, line in enumerate(lines):
        if max_lines is not None and len(out) >= max_lines:
            out.append(f"... {sum(rest.entries for rest in lines[at:])} more entries")
            break
        text = _render_line(line, namer, form, printer)
        if text is not None:
            out.append(text)
    return "\n".join(out) if out else "all entries are 0"


def render_layout(plan: Plan, names: list[str] | None = None) -> str:
    """One line per axis of the full result ``(B, *T, *S^k)``: its name (``names``, default ``plan.layout()``),
    size and meaning."""
    d, names = plan.derivative, names or plan.layout()
    source, y = d.source, Namer(plan, plan.scope).y

    def ranges(shape: tuple[int, ...], axis: int) -> str:
        return ",".join(f"0..{n - 1}" if a == axis else ":" for a, n in enumerate(shape))

    rows = [("B", "examples, never mixed")]
    rows += [(str(n), f"{y}[{ranges(d.target_shape, a)}]") for a, n in enumerate(d.target_shape)]
    for _ in range(d.order):
        if source.segments:  # --wrt a,b: one axis, the sources' elements one after the other
            parts = [g.name + (f"[{','.join(f'0..{n - 1}' for n in g.shape)}]" if g.shape else "")
                     for g in source.segments]
            rows.append((str(source.size), "d/d(" + ", ".join(parts) + ")"))
            continue
        rows += [(str(n), f"d/d{source.name}[{ranges(source.shape, a)}]") for a, n in enumerate(source.shape)]
    if hasattr(plan, "axis_rows"):  # a reduced result (--reduce, --jvp, --vjp) has axes of its own
        rows = plan.axis_rows(y)
    width, size_width = max(map(len, names)), max(len(size) for size, _ in rows)
    return "\n".join(f"axis {i}  {name:<{width}}  size {size:<{size_width}}  {meaning}"
                     for i, (name, (size, meaning)) in enumerate(zip(names, rows)))


def parse_shape(text: str) -> tuple[int, ...]:
    """``--shape 2,3`` -> ``(2, 3)``; ``''`` or ``()`` is a scalar example, ``2,`` is ``(2,)`` as in Python.

    Sizes are ASCII digits only (``str.isdigit`` would read the Arabic-Indic digit three as 3), and an empty size
    (``2,,3``) is refused rather than dropped."""
    inner = text.strip()
    if inner.startswith("(") and inner.endswith(")"):
        inner = inner[1:-1].strip()
    parts = [p.strip() for p in inner.split(",")] if inner else []
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()  # a trailing comma, as in the tuple (2,)
    if not all(re.fullmatch(r"[0-9]{1,18}", p) for p in parts):
        raise UsageError(f"--shape {text!r}: not a shape", hint="sizes separated by commas, like 2,3")
    return tuple(int(p) for p in parts)


def parse_columns(text: str) -> list[str]:
    """``--columns r,theta`` -> ``['r', 'theta']``; an empty list or an empty name is refused (not 'no columns')."""
    names = [c.strip() for c in text.split(",")]
    if not text.strip() or "" in names:
        raise UsageError(f"--columns {text!r}: every column needs a name", hint="names separated by commas, "
                         "like r,theta; for a scalar source use --shape ''")
    return names


def plan_from_shape(expression: str, shape: tuple[int, ...] | None, order: int = 1, wrt: str = "x",
                    columns: list[str] | None = None, defines: Mapping[str, float] | None = None,
                    params: Mapping[str, np.ndarray] | None = None) -> Plan:
    """A plan without an input file: the source has event ``shape``, or is a row named by ``columns`` (a CSV
    header: ``--wrt`` may then name one column and the row keeps the name ``x``, as for a real CSV file)."""
    if columns:
        if shape not in (None, (len(columns),)):
            raise UsageError(f"--shape {shape} does not match {len(columns)} columns", hint="give one of them")
        row = "x" if all(w.strip() in columns for w in wrt.split(",")) else wrt
        scope = make_scope({row: (len(columns),)}, defines=defines, columns=list(columns), row=row, wrt=wrt,
                           params=params)
    else:  # several sources (--wrt a,b) each have the shape
        scope = make_scope({w.strip(): tuple(shape or ()) for w in wrt.split(",")}, defines=defines, wrt=wrt,
                           params=params)
    return plan_jacobian(expression, scope, order, np.dtype(np.float64))


def render_named(plan: Plan, form: str = "plain", max_lines: int | None = 200) -> str:
    """An expression file's named values as formulas of the inputs (``r2[i,j] = ...``), one block per name."""
    blocks = []
    for name, value in plan.tape.named.items():
        tape = Tape(value, plan.tape.source, [])
        derivative = dataclasses.replace(derive(tape, 0), connected=True)  # a value is shown, connected or not
        named = Plan(plan.expression, tape, derivative, plan.dtype, plan.scope)
        blocks.append(render_symbolic(named, form, max_lines, target_name=name))
    return "\n".join(blocks)
