"""The limits an expression text meets before it is converted (``parse.Parser`` builds on ``Guards``): length is
checked by the parser, then one cheap pre-scan (bracket depth, unparseable characters), Python's ``SyntaxError``
turned into a caret, and a node and depth count, iterative, so that conversion may recurse safely afterwards."""
from __future__ import annotations

import abc
import ast
import re

from jaccli.errors import ExpressionError, Span
from jaccli.expr.positions import TextPositions

MAX_LENGTH = 10_000
MAX_NODES = 2_000
MAX_DEPTH = 200
SYNTAX_HINT = "expressions use Python syntax, e.g. sin(x) * y**2; newlines are allowed only inside brackets"
_LONG_DECIMAL = re.compile(r"(?<![0-9_.])[0-9][0-9_]{4300,}(?![0-9_.eEjJ])")  # what Python refuses to convert
_POSITIONED = (ast.expr, ast.keyword, ast.arg)  # the nodes of an expression tree that carry source positions


class Guards(TextPositions, abc.ABC):
    """The refusals of hostile text; ``error`` is the parser's (it knows the expression file's label)."""

    @abc.abstractmethod
    def error(self, message: str, span: Span | None, hint: str | None = None) -> ExpressionError:
        """The error to raise for ``message`` at ``span`` (the parser places it in its text or file)."""

    def prescan(self) -> None:
        """Refuse deep bracket nesting and unparseable characters in one cheap pass, before the parser sees them."""
        depth, in_comment = 0, False
        for i, ch in enumerate(self.text):
            if ch in "\r\n":
                in_comment = False
            elif ch == "\0" or "\ud800" <= ch <= "\udfff":
                raise self.error(f"invalid character U+{ord(ch):04X}", Span(i, i + 1), SYNTAX_HINT)
            elif in_comment:
                continue
            elif ch == "#":
                in_comment = True
            elif ch in "([{":
                depth += 1
                if depth > MAX_DEPTH:
                    raise self.too_deep(Span(i, i + 1))
            elif ch in ")]}":
                depth = max(depth - 1, 0)

    def too_deep(self, span: Span | None) -> ExpressionError:
        return self.error(f"expression is nested too deeply (more than {MAX_DEPTH} levels)", span,
                          "each operator, call or bracket is a level; write long sums as sum([a, b, c, ...])")

    def syntax_error(self, exc: SyntaxError) -> ExpressionError:
        message = exc.msg or "invalid syntax"
        if message.startswith("Exceeds the limit"):  # Python's own guard against huge decimal literals
            match = _LONG_DECIMAL.search(self.text)
            span = Span(match.start(), match.end()) if match else None
            return self.error("integer literal too large", span, "integer literals must be at most 2**63 in size")
        if "too many nested" in message:
            return self.too_deep(None)
        if exc.lineno and exc.offset and exc.offset >= 1:  # SyntaxError columns from str input are characters
            start = self.offset(exc.lineno, exc.offset - 1, col_in_bytes=False)
            end = start + 1
            if exc.end_lineno == exc.lineno and exc.end_offset and exc.end_offset > exc.offset:
                end = self.offset(exc.lineno, exc.end_offset - 1, col_in_bytes=False)
        else:  # no usable position (e.g. input ends early): point just past the end
            start = end = len(self.text.rstrip())
        return self.error(message, Span(start, max(end, start + 1)), SYNTAX_HINT)

    def check_size(self, root: ast.AST, max_nodes: int = MAX_NODES) -> None:
        """Count nodes and nesting iteratively, so that ``convert`` may recurse safely afterwards."""
        skip = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)
        count = 0
        stack: list[tuple[ast.AST, int]] = [(root, 1)]
        while stack:
            node, depth = stack.pop()
            count += 1
            if count > max_nodes:
                raise self.error(f"expression is too long (more than {max_nodes} terms)", None,
                                 "write a shorter expression")
            if depth > MAX_DEPTH:
                raise self.too_deep(self.span(node) if isinstance(node, _POSITIONED) else None)
            stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node) if not isinstance(child, skip))
