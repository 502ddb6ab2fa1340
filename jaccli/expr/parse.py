"""Expression text -> syntax tree (``jaccli.syntax``), safely: ``ast.parse`` plus an allow-list walk, never ``eval``.

Grammar (a small subset of Python expression syntax)::

    expr   := expr ('+' | '-' | '*' | '/' | '**') expr | ('-' | '+') expr | '(' expr ')'
            | NUMBER | NAME | NAME '(' [expr (',' expr)*] [',' 'axis' '=' INT] ')'   # call by bare name
            | 'where' '(' expr CMP expr ',' expr ',' expr ')'          # CMP: < <= > >= == != (only here)
            | expr '[' item (',' item)* ']'                           # index inside one example
            | '[' expr (',' expr)* ']'                                # stack along a new leading axis
    item   := INT | INT? ':' INT? [':' INT?] | 'None' | '...'          # INT is an integer literal, '-' allowed

Everything else (strings, complex, attributes, comparisons outside ``where``, lambda, comprehensions, tuples,
...) is an ``ExpressionError`` with a caret under the offending part. Hostile text is refused before or right after
``ast.parse``: at most ``MAX_LENGTH`` characters, ``MAX_NODES`` nodes and ``MAX_DEPTH`` levels of nesting.
"""
from __future__ import annotations

import ast
import math
import warnings

from jaccli.catalog import CATALOG
from jaccli.errors import ExpressionError, Span
from jaccli.expr.guards import MAX_DEPTH, MAX_LENGTH, MAX_NODES, SYNTAX_HINT as _SYNTAX_HINT, Guards
from jaccli.expr.syntax import Binary, Call, Compare, Index, IndexItem, Keyword, Name, Node, Num, Slice, Stack, Unary

__all__ = ["parse_expression", "Parser", "MAX_LENGTH", "MAX_NODES", "MAX_DEPTH", "MAX_INT_EXPONENT",
           "MAX_INT_LITERAL"]

MAX_INT_EXPONENT = 1024
MAX_INT_LITERAL = 2**63

_BINARY_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_UNARY_OPS = {ast.USub: "-", ast.UAdd: "+"}
_OPERATORS_HINT = "the operators are + - * / ** and unary -"
_REJECTED_BINARY = {  # '^' (BitXor) has its own message: people mean a power
    ast.FloorDiv: ("//", "use floor(a / b)"), ast.MatMult: ("@", "use dot(a, b)"),
    **{op: (symbol, _OPERATORS_HINT) for op, symbol in
       [(ast.Mod, "%"), (ast.LShift, "<<"), (ast.RShift, ">>"), (ast.BitOr, "|"), (ast.BitAnd, "&")]},
}
_PIECEWISE_HINT = "there are no booleans; write piecewise functions as where(a < b, then, otherwise)"
_COMPARE_HINT = "comparisons are allowed only as the condition of where(cond, a, b), e.g. where(x > 0, x, 0)"
_CMP_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
            ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
_STACK_HINT = "use [a, b] to stack values"
_REJECTED_NODES: dict[type, tuple[str, str]] = {
    ast.Attribute: ("attribute access is not allowed", "call functions by bare name, like sin(x), not np.sin(x)"),
    ast.Lambda: ("lambda is not allowed", "write the expression itself"),
    **dict.fromkeys((ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp),
                    ("comprehensions are not allowed", "write the list out: [e1, e2, ...]")),
    ast.Tuple: ("tuples are not allowed", _STACK_HINT),
    ast.Dict: ("dicts are not allowed", _STACK_HINT),
    ast.Set: ("sets are not allowed", _STACK_HINT),
    ast.IfExp: ("conditional expressions are not allowed", _PIECEWISE_HINT),
    ast.NamedExpr: ("assignment (':=') is not allowed", "write the expression itself"),
    ast.Starred: ("'*' unpacking is not allowed", "pass arguments one by one: f(a, b)"),
    ast.JoinedStr: ("strings are not allowed", "expressions work on numbers; names are written without quotes"),
}
_INDEX_HINT = "indices must be integer literals like x[0] or x[1:3], or None (a new axis) or ..."


def parse_expression(text: str) -> Node:
    """Parse ``text`` into a ``syntax.Node``; raise ``ExpressionError`` (exit 2) for anything outside the grammar."""
    return Parser(text).parse()


class Parser(Guards):
    """One parse: the text and its line table (``TextPositions``), which every span conversion and error needs.

    ``label`` (an expression file's name) makes errors say ``file:line:column``; ``program.parse_program`` then
    parses whole lines with the file limits."""

    def error(self, message: str, span: Span | None, hint: str | None = None) -> ExpressionError:
        return ExpressionError(message, self.text, span, hint=hint, label=self.label)

    # -- limits and parsing ----------------------------------------------------------------------------------

    def parse(self) -> Node:
        text = self.text
        if len(text) > MAX_LENGTH:
            raise self.error(f"expression is too long ({len(text)} characters, at most {MAX_LENGTH})", None,
                             "write a shorter expression; use sum([...]) or dot(a, b) instead of long sums")
        if not text.strip():
            raise self.error("expression is empty", None, "write an expression such as 'x*x*x'")
        self.prescan()
        try:
            with warnings.catch_warnings():  # Python's own SyntaxWarnings about the user's text are noise here
                warnings.simplefilter("ignore")
                tree = ast.parse(text[self.base:], mode="eval")
        except SyntaxError as exc:
            raise self.syntax_error(exc) from None
        except (RecursionError, MemoryError):
            raise self.too_deep(None) from None
        except ValueError as exc:  # e.g. text the parser cannot encode; prescan should have caught it
            raise self.error(f"cannot parse the expression ({exc})", None, _SYNTAX_HINT) from None
        self.check_size(tree.body)
        return self.convert(tree.body)

    # -- conversion ------------------------------------------------------------------------------------------

    def convert(self, node: ast.expr) -> Node:
        span = self.span(node)
        if isinstance(node, ast.Constant):
            return Num(self.number(node), span)
        if isinstance(node, ast.Name):
            written = self.text[span.start:span.end]
            if written != node.id:  # Python NFKC-normalises identifiers; names must mean what they show
                raise self.error(f"name {written!r} is not in normal form (Python reads it as {node.id!r})", span,
                                 f"write {node.id!r}")
            return Name(node.id, span)
        if isinstance(node, ast.UnaryOp):
            op = _UNARY_OPS.get(type(node.op))
            if op is None:
                symbol = "not" if isinstance(node.op, ast.Not) else "~"
                raise self.error(f"operator '{symbol}' is not allowed", Span(span.start, span.start + len(symbol)),
                                 _PIECEWISE_HINT if symbol == "not" else _OPERATORS_HINT)
            return Unary(op, self.convert(node.operand), span)
        if isinstance(node, ast.BinOp):
            return self.binary(node, span)
        if isinstance(node, ast.Call):
            return self.call(node, span)
        if isinstance(node, ast.Subscript):
            return Index(self.convert(node.value), self.index_items(node.slice), span)
        if isinstance(node, ast.List):
            if not node.elts:
                raise self.error("an empty list [] has no value", span, "stack at least one value: [a, b]")
            return Stack(tuple(self.convert(item) for item in node.elts), span)
        if isinstance(node, ast.Compare):
            symbol = _CMP_OPS[type(node.ops[0])]
            where = self.op_span(self.span(node.left).end, self.span(node.comparators[0]).start, symbol, span)
            raise self.error("comparisons are not allowed here", where, _COMPARE_HINT)
        if isinstance(node, ast.BoolOp):
            symbol = "and" if isinstance(node.op, ast.And) else "or"
            where = self.op_span(self.span(node.values[0]).end, self.span(node.values[1]).start, symbol, span)
            raise self.error(f"'{symbol}' is not allowed", where, _PIECEWISE_HINT)
        message, hint = _REJECTED_NODES.get(type(node), (f"'{self.text[span.start:span.end]}' is not allowed", None))
        if isinstance(node, ast.Attribute):  # caret under '.name', the part that is not allowed
            span = self.op_span(self.span(node.value).end, span.end, ".", span)
            span = Span(span.start, self.span(node).end)
        raise self.error(message, span, hint or _SYNTAX_HINT)

    def number(self, node: ast.Constant) -> int | float:
        value, span = node.value, self.span(node)
        written = self.text[span.start:span.end]
        if isinstance(value, bool) or value is None or value is Ellipsis:
            raise self.error(f"'{written}' is not a number", span, "write a number, e.g. 1 or 0")
        if isinstance(value, (str, bytes)):
            raise self.error("strings are not allowed", span,
                             "expressions work on numbers; names are written without quotes")
        if isinstance(value, complex):
            raise self.error("complex numbers are not allowed", span, "only real numbers: write 2.5, not 2.5j")
        if isinstance(value, int):
            if abs(value) > MAX_INT_LITERAL:
                raise self.error("integer literal too large", span, "integer literals must be at most 2**63 in size")
            return value
        if isinstance(value, float) and math.isfinite(value):
            return value
        if isinstance(value, float):
            raise self.error("number literal too large", span, "numbers must be finite (at most about 1.8e308)")
        raise self.error(f"'{written}' is not a number", span, _SYNTAX_HINT)

    def int_literal(self, node: ast.expr) -> int | None:
        """The value of an integer literal with an optional sign, or None if ``node`` is something else."""
        sign = 1
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            sign = -1 if isinstance(node.op, ast.USub) else 1
            node = node.operand
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
            value = self.number(node)  # refuses literals that are too large; an int comes back as it is
            assert isinstance(value, int)
            return sign * value
        return None

    def binary(self, node: ast.BinOp, span: Span) -> Binary:
        op = _BINARY_OPS.get(type(node.op))
        left, right = self.span(node.left), self.span(node.right)
        if isinstance(node.op, ast.BitXor):
            raise self.error("'^' is not a power operator", self.op_span(left.end, right.start, "^", span),
                             "use '**' for powers (x**2)")
        if op is None:
            symbol, hint = _REJECTED_BINARY[type(node.op)]
            raise self.error(f"operator '{symbol}' is not allowed", self.op_span(left.end, right.start, symbol, span),
                             hint)
        if op == "**":
            exponent = self.int_literal(node.right)
            if exponent is not None and abs(exponent) > MAX_INT_EXPONENT:
                raise self.error("exponent too large", right,
                                 f"integer exponents must be between -{MAX_INT_EXPONENT} and {MAX_INT_EXPONENT}")
        return Binary(op, self.convert(node.left), self.convert(node.right), span)

    def call(self, node: ast.Call, span: Span) -> Call:
        if isinstance(node.func, ast.Attribute):
            self.convert(node.func)  # raises 'attribute access is not allowed' with its caret
        if not isinstance(node.func, ast.Name):
            raise self.error("only a function name can be called", self.span(node.func),
                             "call functions by name, like sin(x)")
        func = self.convert(node.func)
        assert isinstance(func, Name)  # convert() of an ast.Name is a Name (or raises)
        keywords = tuple(self.keyword(k) for k in node.keywords)
        takes_condition = func.id in CATALOG and CATALOG[func.id].condition  # where(a < b, ...)
        args = [self.condition(a) if i == 0 and takes_condition else self.convert(a) for i, a in enumerate(node.args)]
        return Call(func.id, tuple(args), span, func.span, keywords)

    def keyword(self, keyword: ast.keyword) -> Keyword:
        """``axis=k`` with an integer literal k: the one keyword argument there is."""
        if keyword.arg is None:
            raise self.error("'**' unpacking is not allowed", self.span(keyword), "pass arguments one by one: f(a, b)")
        if keyword.arg != "axis":
            raise self.error(f"keyword argument '{keyword.arg}' is not allowed", self.span(keyword),
                             "pass arguments by position: f(a, b); the only keyword is axis=k of a reduction")
        value = self.int_literal(keyword.value)
        if value is None:
            raise self.error("axis must be an integer literal", self.span(keyword.value), "e.g. sum(v, axis=0)")
        return Keyword("axis", value, self.span(keyword))

    def condition(self, node: ast.expr) -> Compare:
        """where's first argument: exactly one comparison of two expressions."""
        if not isinstance(node, ast.Compare):
            raise self.error("the condition of where() must be a comparison", self.span(node),
                             "compare two values: where(a < b, then, otherwise); also <= > >= == !=")
        symbol = _CMP_OPS[type(node.ops[0])]
        if len(node.ops) > 1:
            raise self.error("chained comparisons are not allowed", self.span(node),
                             "nest where() calls: where(a < b, where(b < c, ...), ...)")
        if symbol not in ("<", "<=", ">", ">=", "==", "!="):
            op = self.op_span(self.span(node.left).end, self.span(node.comparators[0]).start, symbol, self.span(node))
            raise self.error(f"'{symbol}' is not a comparison of numbers", op, "use < <= > >= == or !=")
        return Compare(symbol, self.convert(node.left), self.convert(node.comparators[0]), self.span(node))

    def index_items(self, node: ast.expr) -> tuple[IndexItem, ...]:
        items = node.elts if isinstance(node, ast.Tuple) else [node]
        if not items:
            raise self.error("empty index", self.span(node), _INDEX_HINT)
        return tuple(self.index_item(item) for item in items)

    def index_item(self, node: ast.expr) -> IndexItem:
        span = self.span(node)
        if isinstance(node, ast.Constant) and (node.value is None or node.value is Ellipsis):
            return IndexItem(node.value, span)  # NumPy's newaxis and '...'
        if isinstance(node, ast.Slice):
            parts = []
            for part in (node.lower, node.upper, node.step):
                value = None if part is None else self.int_literal(part)
                if part is not None and value is None:
                    raise self.bad_index(part)
                parts.append(value)
            if node.step is not None and parts[2] == 0:
                raise self.error("slice step cannot be zero", self.span(node.step), "use a step like 1, 2 or -1")
            return IndexItem(Slice(parts[0], parts[1], parts[2], span), span)
        value = self.int_literal(node)
        if value is None:
            raise self.bad_index(node)
        return IndexItem(value, span)

    def bad_index(self, node: ast.expr) -> ExpressionError:
        span = self.span(node)
        return self.error(f"index '{self.text[span.start:span.end]}' is not an integer literal", span, _INDEX_HINT)
