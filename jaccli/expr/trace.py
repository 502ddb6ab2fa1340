"""Syntax tree -> tape: one example's target as a ``field.Field``, plus a readable record of the operations.

``build_tape(tree, scope, text)`` interprets the parsed expression (or an expression file's ``Program``: its named
values in order, then the target) over lane-template fields (see ``field.py``).
Shapes follow NumPy inside one example; every shape, index or name problem becomes an ``ExpressionError`` with a
caret under the offending part. Constants are folded exactly while that is cheap and in float64 otherwise, so
``9**9**9`` costs microseconds (it is ``inf``), never an exact 370-million-digit integer.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import sympy

from jaccli.expr import field as fl
from jaccli.errors import ExpressionError, Span, did_you_mean
from jaccli.expr.budget import Budget, broadcast_shapes, check_function_depth
from jaccli.expr.constants import divide as _divide, fold_power, is_zero as _is_zero, log10_power
from jaccli.expr.field import Field
from jaccli.expr.ir import Equation, Tape, primitive
from jaccli.expr.scope import Scope
from jaccli.expr import shaped
from jaccli.expr.source import Segment, Source
from jaccli.catalog import AXIS_FUNCTIONS, CATALOG
from jaccli.functions import COMPARISONS, CONSTANTS, F, number
from jaccli.expr.syntax import Binary, Call, Compare, Index, Name, Node, Num, Program, Slice, Stack, Unary

__all__ = ["Equation", "Scope", "Segment", "Source", "Tape", "build_tape"]

MAX_EXPONENT = 1024  # |constant exponent| applied to data; x**(9**9) is refused rather than differentiated


def _is_scalar_constant(f: Field) -> bool:
    return f.shape == () and len(f.pieces) == 1 and not f.pieces[0].slots


def _const(f: Field) -> sympy.Expr:
    return f.pieces[0].expr


class _Builder:
    def __init__(self, scope: Scope, text: str, label: str | None = None) -> None:
        self.scope, self.text, self.label = scope, text, label
        self.source = scope.source()
        self.equations: list[Equation] = []
        self.budget = Budget(self.error)
        self.bound: dict[str, tuple[Field, str]] = {}  # an expression file's named values so far

    def error(self, message: str, span: Span, hint: str | None = None) -> ExpressionError:
        return ExpressionError(message, self.text, span, hint=hint, label=self.label)

    def record(self, op: str, inputs: list[str], f: Field, **params: object) -> tuple[Field, str]:
        var = f"t{len(self.equations)}"
        self.equations.append(Equation(var, primitive(op), tuple(inputs), params, f.shape))
        return f, var

    def program(self, program: Program) -> tuple[Field, str]:
        """Named values in order (each visible to the lines after it), then the target."""
        for line in program.assignments:
            name = line.name
            if name in self.bound:
                raise self.error(f"'{name}' is already defined", line.name_span,
                                 hint="each name is assigned once; choose a new name")
            if name in self.scope.names():
                raise self.error(f"'{name}' is an input or constant name", line.name_span,
                                 hint="choose another name: an assignment must not hide data")
            if name in CATALOG:
                raise self.error(f"'{name}' is a function name", line.name_span, hint="choose another name")
            f, var = self.visit(line.value)
            if self.equations and self.equations[-1].var == var and var not in self.bound:  # its own step
                self.equations[-1] = dataclasses.replace(self.equations[-1], var=name)
            else:  # the value is an earlier name or step
                self.equations.append(Equation(name, primitive("copy"), (var,), {}, f.shape))
            self.bound[name] = (f, name)
        return self.visit(program.target)

    def broadcast(self, a: Field, b: Field, span: Span) -> tuple[int, ...]:
        return self.broadcast_all([a, b], span)

    # --- nodes --------------------------------------------------------------------------------------------
    def visit(self, node: Node) -> tuple[Field, str]:
        match node:
            case Num():
                f, var = self.visit_Num(node)
            case Name():
                f, var = self.visit_Name(node)
            case Unary():
                f, var = self.visit_Unary(node)
            case Binary():
                f, var = self.visit_Binary(node)
            case Call():
                f, var = self.visit_Call(node)
            case Index():
                f, var = self.visit_Index(node)
            case Stack():
                f, var = self.visit_Stack(node)
            case _:  # Compare only appears inside where(), which visits its sides itself
                raise AssertionError(f"no tracing rule for {type(node).__name__} nodes")
        if any(p.expr is sympy.nan for p in f.pieces):
            # SymPy folds nan*x (and nan + x) into the constant nan: its derivative would silently become 0.
            raise self.error("this part is the constant nan", node.span,
                             hint="constant arithmetic follows IEEE (0/0, inf - inf, log(-1) are nan); "
                                  "pass non-finite values as data instead")
        return f, var

    def visit_Num(self, node: Num) -> tuple[Field, str]:
        value = sympy.Integer(node.value) if isinstance(node.value, int) else number(node.value)
        return self.record("const", [], fl.constant(value), value=repr(node.value))

    def visit_Name(self, node: Name) -> tuple[Field, str]:
        s, name = self.scope, node.id
        if name in self.bound:
            return self.bound[name]
        if name in s.params or name in s.arrays:
            self.budget.charge(tuple(s.params[name].shape if name in s.params else s.arrays[name]), [], node.span)
        if name in s.params:
            f = fl.leaf(name, s.params[name].shape, np.zeros(s.params[name].shape, bool))
        elif name in s.columns:
            leaf_name, i = s.columns[name]
            f = fl.gather(self._leaf(leaf_name), np.asarray(i, dtype=np.int64))
        elif name in s.arrays:
            f = self._leaf(name)
        elif name in s.constants:
            f = fl.constant(s.constants[name])
        elif name in CONSTANTS:
            f = fl.constant(CONSTANTS[name])
        else:
            known = s.names() + sorted(self.bound)
            guess = did_you_mean(name, known)
            raise self.error(f"unknown name '{name}'" + (f" (did you mean '{guess}'?)" if guess else ""), node.span,
                             hint="names: " + ", ".join(known))
        return self.record("name", [], f, name=name)

    def _leaf(self, name: str) -> Field:
        shape = self.scope.arrays[name]
        smap = self.source.map_for(name)
        watched = smap >= 0 if smap is not None else np.zeros(int(np.prod(shape)), bool)
        return fl.leaf(name, shape, watched)

    def visit_Unary(self, node: Unary) -> tuple[Field, str]:
        f, var = self.visit(node.operand)
        if node.op == "+":
            return f, var
        return self.record("neg", [var], fl.scale(f, sympy.Integer(-1)))

    def visit_Binary(self, node: Binary) -> tuple[Field, str]:
        (a, va), (b, vb) = self.visit(node.left), self.visit(node.right)
        shape = self.broadcast(a, b, node.span)
        op = {"+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow"}[node.op]
        if node.op in "+-":
            out = fl.add(a, b, shape, negate_b=node.op == "-")
        elif node.op == "*" and (_is_scalar_constant(a) or _is_scalar_constant(b)):
            out = fl.scale(b, _const(a)) if _is_scalar_constant(a) else fl.scale(a, _const(b))
        elif node.op == "/" and _is_scalar_constant(b) and not _is_scalar_constant(a):
            out = fl.scale(a, 1 / _const(b)) if not _is_zero(_const(b)) else fl.combine(_divide, [a, b], shape)
        elif node.op == "/":
            out = fl.combine(_divide, [a, b], shape)
        elif node.op == "*":
            out = fl.combine(sympy.Mul, [a, b], shape)
        else:
            out = self.power(a, b, shape, node.right.span)
        return self.record(op, [va, vb], out)

    def power(self, a: Field, b: Field, shape: tuple[int, ...], exp_span: Span) -> Field:
        if _is_scalar_constant(b):
            e = _const(b)
            if _is_scalar_constant(a):
                folded = fold_power(_const(a), e)
                if folded.is_infinite and _const(a).is_finite and e.is_finite:
                    # 9**9**9 would be a 370-million-digit integer; in float64 it overflows. Neither is a model.
                    raise self.error(f"this constant power overflows float64 (about 10**{log10_power(_const(a), e)})",
                                     exp_span, hint="a constant this large cannot be a meaningful input; "
                                     "check the exponent")
                return fl.constant(folded)
            if not e.is_finite or abs(float(e)) > MAX_EXPONENT:
                raise self.error(f"exponent {float(e):g} is too large (the limit is {MAX_EXPONENT})", exp_span,
                                 hint="powers of data are limited so that derivatives stay meaningful")
            return fl.combine(lambda u: sympy.Pow(u, e), [a], shape)
        if all(not p.slots for p in a.pieces) and all(not p.slots for p in b.pieces):
            return fl.combine(lambda u, v: fold_power(u, v) if u.is_number and v.is_number else F.pow(u, v),
                              [a, b], shape)
        return fl.combine(F.pow, [a, b], shape)

    def visit_Call(self, node: Call) -> tuple[Field, str]:
        name = node.func
        if name not in CATALOG:
            known = sorted(CATALOG)
            guess = did_you_mean(name, known)
            hint = "'jaccli functions' lists them" if guess else "functions: " + ", ".join(known)
            if name in self.scope.names() or name in self.bound:
                raise self.error(f"'{name}' is a variable, not a function", node.func_span,
                                 hint=f"to multiply, write {name} * (...)")
            raise self.error(f"unknown function '{name}'" + (f" (did you mean '{guess}'?)" if guess else ""),
                             node.func_span, hint=hint)
        sig = CATALOG[name]
        axis = self.axis(node)
        if len(node.args) != sig.arity:
            raise self.error(f"{name}() takes {sig.arity} argument{'s' if sig.arity > 1 else ''}, got "
                             f"{len(node.args)}", node.span, hint="reduce along one axis with axis=k" if sig.axis
                             else "'jaccli functions' shows every function with its arguments")
        if sig.condition:
            return self.where(node)
        visited = [self.visit(a) for a in node.args]
        args, vars_ = [f for f, _ in visited], [v for _, v in visited]
        if not sig.elementwise:
            return self.lane_move(node, args, vars_, axis)
        shape = self.broadcast_all(args, node.span)
        if name == "pow":  # constant exponents fold or are bounded (power), as a ** b is
            return self.record(name, vars_, self.power(args[0], args[1], shape, node.args[1].span))
        return self.record(name, vars_, fl.combine(getattr(F, name), args, shape))

    def lane_move(self, node: Call, args: list[Field], vars_: list[str], axis: int | None) -> tuple[Field, str]:
        """A reduction or shaped function (``shaped.py``): its budget, then its lane move."""
        name, sig = node.func, CATALOG[node.func]
        self.budget.charge(shaped.work_shape(name, args), args, node.span)
        try:
            out = shaped.call(name, args, sig.default_axis if axis is None else axis)
        except shaped.ShapeError as exc:
            raise self.error(exc.message, node.span, hint=exc.hint) from None
        return self.record(name, vars_, out, **({"axis": axis} if sig.axis else {}))

    def axis(self, node: Call) -> int | None:
        for keyword in node.keywords:
            if not CATALOG[node.func].axis:
                raise self.error(f"{node.func}() takes no axis", keyword.span,
                                 hint="axis=k is for " + ", ".join(AXIS_FUNCTIONS))
        if len(node.keywords) > 1:
            raise self.error("axis is given twice", node.keywords[1].span, hint="give one axis=k")
        return node.keywords[0].value if node.keywords else None

    def broadcast_all(self, args: list[Field], span: Span) -> tuple[int, ...]:
        """The shape of an elementwise operation, charged to the budget before any lane is built."""
        shape: tuple[int, ...] | None = ()
        for a in args:
            shape = broadcast_shapes(shape, a.shape) if shape is not None else None
        if shape is None:
            shapes = " and ".join(str(a.shape) for a in args)
            raise self.error(f"shapes {shapes} do not broadcast", span,
                             hint="inside one example, shapes follow NumPy's broadcasting rules")
        self.budget.charge(shape, args, span)
        return shape

    def where(self, node: Call) -> tuple[Field, str]:
        """``where(a < b, then, otherwise)``: the condition has no derivative, so it connects nothing (as TF)."""
        cond = node.args[0]
        assert isinstance(cond, Compare)  # the parser accepts nothing else as where's condition
        visited = [self.visit(cond.left), self.visit(cond.right), self.visit(node.args[1]), self.visit(node.args[2])]
        (left, right, then, other), vars_ = [f for f, _ in visited], [v for _, v in visited]
        shape = self.broadcast_all([left, right, then, other], node.span)
        test = getattr(F, COMPARISONS[cond.op])
        out = fl.combine(lambda a, b, t, o: F.where(test(a, b), t, o), [left, right, then, other], shape)
        connected = fl.broadcast_to(then, shape).connected | fl.broadcast_to(other, shape).connected
        out = Field(out.shape, out.pieces, connected)
        return self.record("where", vars_, out, compare=cond.op)

    def visit_Index(self, node: Index) -> tuple[Field, str]:
        f, var = self.visit(node.value)
        key = tuple(slice(i.value.start, i.value.stop, i.value.step) if isinstance(i.value, Slice) else i.value
                    for i in node.items)  # ints, slices, None (a new axis) and Ellipsis: NumPy basic indexing
        try:
            out = fl.index(f, key)
        except IndexError as exc:
            # Point at the first item that fails on its own prefix (an index out of range, or one too many).
            probe = np.empty(f.shape, dtype=np.int8)
            bad = next((item for i, item in enumerate(node.items) if not fl.indexes(probe, key[:i + 1])),
                       node.items[-1])
            raise self.error(f"{exc}", bad.span, hint=f"the value has event shape {f.shape}") from None
        return self.record("index", [var], out, key=key)

    def visit_Stack(self, node: Stack) -> tuple[Field, str]:
        visited = [self.visit(i) for i in node.items]
        first = visited[0][0].shape
        for item, (f, _) in zip(node.items, visited):
            if f.shape != first:
                raise self.error(f"stacked items must have equal shapes: {f.shape} here, {first} for the first",
                                 item.span, hint="index or broadcast the items to one shape first")
        self.budget.charge((len(visited),) + first, [], node.span)
        return self.record("stack", [v for _, v in visited], fl.stack([f for f, _ in visited]))


def build_tape(tree: Node | Program, scope: Scope, text: str, label: str | None = None) -> Tape:
    """Interpret ``tree`` over one example: the target ``Field`` (shape ``T``), the source, the recorded ops.

    ``label`` names the expression file ``text`` came from (errors then say ``file:line:column``)."""
    for part in ([*(line.value for line in tree.assignments), tree.target] if isinstance(tree, Program) else [tree]):
        check_function_depth(part, text, label)
    builder = _Builder(scope, text, label)
    try:
        target, out = builder.program(tree) if isinstance(tree, Program) else builder.visit(tree)
    except RecursionError:  # a backstop: check_function_depth keeps SymPy's recursion well inside the stack
        raise ExpressionError("the expression is nested too deeply for the symbolic engine", text, None,
                              hint="simplify the expression", label=label) from None
    last = tree.target if isinstance(tree, Program) else None
    name = last.id if isinstance(last, Name) and last.id in builder.bound else None
    return Tape(target, builder.source, builder.equations, {k: f for k, (f, _) in builder.bound.items()}, name,
                out)
