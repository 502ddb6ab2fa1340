"""``differentiate(e, s, memo)``: d e / d s over the closed set of node types a trace builds, one rule per type.

SymPy's ``diff`` goes through ``Derivative.__new__`` (tree walks and assumption queries at every node); over a
200-argument ``norm`` that is O(n) per step. Here each node type has its rule (``_chain_rule``, a ``match`` like an
interpreter's over ops), the function table's rows carry their own, and sub-derivatives are memoised across all
partials of a plan: the second derivatives reuse the first ones. The work is counted as it is built, so a
derivative that would grow for minutes is refused early.
"""
from __future__ import annotations

import time

import sympy

from jaccli.errors import UsageError

MAX_DERIVATIVE_WORK = 3_000_000  # arguments of all distinct derivative nodes built: bounds SymPy time and memory
MAX_SYMBOLIC_SECONDS = 10.0  # a backstop: deep compositions make SymPy's canonical ordering slow per term


def _has(e: sympy.Expr, s: sympy.Symbol, memo: dict) -> bool:
    """``s in e.free_symbols``, memoised: SymPy recomputes free symbols of function applications on every call."""
    key = ("free", e)
    if key not in memo:
        memo[key] = e.free_symbols
    return s in memo[key]


def differentiate(e: sympy.Expr, s: sympy.Symbol, memo: dict) -> sympy.Expr:
    """d e / d s over the closed set of nodes the tape builds, memoised across all partials of a plan.

    SymPy's ``diff`` goes through ``Derivative.__new__`` (tree walks and assumption queries at every node); over
    a 200-argument ``norm`` that is O(n) per step. Here each node type has its rule, like an interpreter's
    ``match`` over ops, and sub-derivatives are shared: the second derivatives reuse the first ones.
    """
    key = (e, s)
    if key in memo:
        return memo[key]
    out = _chain_rule(e, s, memo)
    if _account(out, memo) > MAX_DERIVATIVE_WORK or time.monotonic() > memo["deadline"]:
        # Faa di Bruno: the k-th derivative of a deep composition grows like depth**k terms. Refuse early,
        # while the pieces are still small, instead of spending minutes in SymPy's canonical ordering.
        raise UsageError(f"the symbolic derivative grows too large (over {MAX_DERIVATIVE_WORK} terms or "
                         f"{MAX_SYMBOLIC_SECONDS:g} s of symbolic work)",
                         hint="lower --order or simplify the expression (deep nesting grows fast with the order)")
    memo[key] = out
    return out


def _chain_rule(e: sympy.Expr, s: sympy.Symbol, memo: dict) -> sympy.Expr:
    """One rule per node type, tried in order; the function table's rows carry their own (``Row.chain`` or
    ``Row.derivative``), so a new function never adds a case here."""
    def d(a: sympy.Expr) -> sympy.Expr:
        return differentiate(a, s, memo)

    row = getattr(type(e), "jaccli_row", None)
    match e:
        case _ if not _has(e, s, memo):
            return sympy.S.Zero
        case _ if e == s:
            return sympy.S.One
        case sympy.Add():
            return sympy.Add(*[d(a) for a in e.args])
        case sympy.Mul():
            args = e.args
            return sympy.Add(*[sympy.Mul(*(args[:i] + (d(a),) + args[i + 1:]))
                               for i, a in enumerate(args) if _has(a, s, memo)])
        case sympy.Pow() if not _has(e.exp, s, memo):
            return e.exp * sympy.Pow(e.base, e.exp - 1) * d(e.base)
        case sympy.exp():
            return e * d(e.args[0])
        case sympy.log() if len(e.args) == 1:
            return d(e.args[0]) / e.args[0]
        case _ if row is not None and row.chain is not None:
            return row.chain(e.args, [d(a) for a in e.args])
        case _ if row is not None:
            partials = row.derivative(*e.args)
            return sympy.Add(*[d(a) * sympy.sympify(partials[i]) for i, a in enumerate(e.args) if _has(a, s, memo)])
        case _:  # anything else SymPy produced on its own (e.g. x**y): its general rule
            return sympy.diff(e, s)


def _account(e: sympy.Expr, memo: dict) -> int:
    """Add the arguments of the nodes of ``e`` not seen before to the plan's work count, and return the count.

    Shared subtrees count once (a 200-argument ``logsumexp`` in 20 000 partials is one node), while the
    products of a deep composition's higher derivatives count every factor: that is what SymPy pays for.
    """
    seen = memo.setdefault("seen", set())
    work = memo.get("work", 0)
    stack = [e]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        work += 1 + len(node.args)
        stack.extend(node.args)
    memo["work"] = work
    return work
