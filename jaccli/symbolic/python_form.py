"""``jaccli symbolic --form python``: the derivative as a runnable NumPy function of one example.

The same entries as the plain form (``render._lines``: merged blocks, elementwise parts once with their index
pattern), spelled as statements that fill the result ``out`` of shape ``(*T, *S^k)``::

    import numpy as np


    def derivative(x):
        \"\"\"d y / d x of 'x*x*x' for one example x of shape (2,): an array of shape (2, 2).\"\"\"
        out = np.zeros((2, 2))
        for i in range(0, 2):
            out[i, i] = 3*x[i]**2  # d y[i] / d x[i]
        return out

Arguments are the input arrays the expression can read (one example each); CSV column names are bound from the
row they alias; ``-D`` constants and file scalars are already folded into the formulas. Functions NumPy lacks
(``sigmoid``, ``relu``, ``erf``...) are defined above the function, from ``HELPERS``, only when used.
"""
from __future__ import annotations

import re

import numpy as np
import sympy

from jaccli.expr.field import slot_symbol
from jaccli.functions import for_display
from jaccli.plan.engine import Plan
from jaccli.symbolic.entries import Namer, Pattern, _index_text
from jaccli.symbolic.render import PRINTERS, _Line, _lines, _spell
from jaccli.symbolic.entries import entry_blocks

# Plain-NumPy definitions of the table's functions that are not NumPy ufuncs (by the names the printer uses).
HELPERS: dict[str, str] = {
    "sigmoid": "def sigmoid(v):\n    e = np.exp(-np.abs(v))\n    return np.where(v >= 0, 1 / (1 + e), e / (1 + e))",
    "softplus": "def softplus(v):\n    return np.logaddexp(0, v)",
    "relu": "def relu(v):\n    return np.maximum(v, 0)",
    "erf": "def erf(v):\n    return np.vectorize(math.erf, otypes=[float])(v)",
    "erfc": "def erfc(v):\n    return np.vectorize(math.erfc, otypes=[float])(v)",
    "sech": "def sech(v):\n    return 1 / np.cosh(v)",
    "omtanh": "def omtanh(v):\n    return 2 / (1 + np.exp(2 * v))",
    "dsigmoid": "def dsigmoid(v):\n    e = np.exp(-np.abs(v))\n    return e / ((1 + e) * (1 + e))",
    "omx2": "def omx2(v):\n    return (1 - v) * (1 + v)",
    "hcos": "def hcos(a, b):\n    return a / np.hypot(a, b)",
    "step": "def step(v):\n    return np.where(v > 0, 1.0, 0.0)",
    "lt": "def lt(a, b):\n    return np.where(a < b, 1.0, 0.0)",
    "gt": "def gt(a, b):\n    return np.where(a > b, 1.0, 0.0)",
    "eq": "def eq(a, b):\n    return np.where(a == b, 1.0, 0.0)",
    "ne": "def ne(a, b):\n    return np.where(a != b, 1.0, 0.0)",
    "inside": "def inside(v, lo, hi):\n    return np.where((v < lo) | (v > hi), 0.0, 1.0)",
    "clip": "def clip(v, lo, hi):\n    return np.minimum(np.maximum(v, lo), hi)",
    "where": "def where(c, a, b):\n    return np.where(c != 0, a, b)",
    "softmax": "def softmax(*v):\n    a = np.array(v)\n    e = np.exp(a - a.max())\n    return e[0] / e.sum()",
    "softmax_rest": "def softmax_rest(*v):\n    a = np.array(v)\n    e = np.exp(a - a.max())\n"
                    "    return e[1:].sum() / e.sum()",
    "log_softmax": "def log_softmax(*v):\n    a = np.array(v)\n    m = a.max() if np.isfinite(a.max()) else 0.0\n"
                   "    return (a[0] - m) - np.log(np.sum(np.exp(a - m)))",
    "ge": "def ge(a, b):\n    return np.where(a >= b, 1.0, 0.0)",
    "le": "def le(a, b):\n    return np.where(a <= b, 1.0, 0.0)",
    "logpos": "def logpos(v):\n    return np.where(v > 0, np.log(np.where(v > 0, v, 1)), 0.0)",
    "recippos": "def recippos(v):\n    return np.where(v > 0, 1 / np.where(v > 0, v, 1), 0.0)",
    "norm": "def norm(*v):\n    a = np.abs(np.array(v))\n    m = a.max()\n    return m * np.sqrt(np.sum((a / m) ** 2)) "
            "if 0 < m < np.inf else m",
    "logsumexp": "def logsumexp(*v):\n    a = np.array(v)\n    m = a.max() if np.isfinite(a.max()) else 0.0\n"
                 "    return m + np.log(np.sum(np.exp(a - m)))",
}


def render_python(plan: Plan) -> str:
    """The whole module text: imports, the helpers it uses, and ``def derivative(...)`` returning ``(*T, *S^k)``."""
    d = plan.derivative
    namer = Namer(plan, plan.scope)
    printer = PRINTERS["python"]({"full_prec": False})
    args = _arguments(plan)
    body = [f"    {alias} = {leaf}[{index}]" for alias, (leaf, index) in sorted(plan.scope.columns.items())
            if leaf in args]
    if not d.connected:
        body.append("    return None  # the target does not reference the source")
    else:
        body.append(f"    out = np.zeros({tuple(int(n) for n in d.shape)!r})")
        for line in _lines(entry_blocks(plan), namer):
            body += _statements(line, namer, printer, len(d.shape))
        body.append("    return out")
    text = "\n".join(body)
    used = [name for name in HELPERS if re.search(rf"(?<![\w.]){name}\(", text)]
    head = ["import math", ""] if {"erf", "erfc"} & set(used) else []
    head += ["import numpy as np", "", ""]
    for name in used:
        head += [HELPERS[name], "", ""]
    shapes = ", ".join(f"{a} of shape {tuple(plan.scope.arrays[a])}" for a in args)
    k = d.order
    what = "the value" if k == 0 else f"d{'^' + str(k) if k > 1 else ''} y / d {d.source.name}{'^' + str(k) if k > 1 else ''}"
    doc = (f'    """{what} of {plan.expression!r} for one example ({shapes}): shape {tuple(d.shape)}."""'
           if len(plan.expression) < 200 and '"""' not in repr(plan.expression) else f'    """{what} for one example: shape {tuple(d.shape)}."""')
    return "\n".join(head + [f"def derivative({', '.join(args)}):", doc, text])


def _arguments(plan: Plan) -> list[str]:
    """The input arrays, the source's array first."""
    leaf = plan.derivative.source.leaf
    return [leaf] + [name for name in plan.scope.arrays if name != leaf]


def _statements(line: _Line, namer: Namer, printer: object, out_dims: int) -> list[str]:
    """``out[...] = formula`` for one line, inside ``for`` loops over its pattern's variables."""
    b, p = line.block, line.pattern
    if p is None:
        b = b.take(np.array([line.lane]))
        p = Pattern([], [(int(v), ()) for v in namer.coordinates(b)[:, 0]])
    _, _, slots = namer.names(b, p)
    formula = for_display(b.expr).xreplace({slot_symbol(j): sympy.Symbol(_spell(n, "python"))
                                            for j, n in enumerate(slots)})
    if formula == 0:
        return []
    index = [_index_text(c, coefs, p.variables) for c, coefs in p.rows[:out_dims]]
    target = f"out[{', '.join(index)}]" if index else "out[()]"
    lines, indent = [], "    "
    for var, first, last in p.variables:
        lines.append(f"{indent}for {var} in range({first}, {last + 1}):")
        indent += "    "
    lines.append(f"{indent}{target} = {printer.doprint(formula)}")  # type: ignore[attr-defined]
    return lines
