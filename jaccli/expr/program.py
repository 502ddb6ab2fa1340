"""Expression files (``@model.jx``): named intermediate values, one ``name = expression`` a line, then the target.

    # Lennard-Jones energy of a few atoms; x is (atoms, 3)
    d = x[:, None, :] - x[None, :, :]
    r2 = sum(d**2, axis=-1)
    pair = where(r2 > 0, 4 * (r2**-6 - r2**-3), 0)
    sum(pair) / 2

The same allow-list as a one-line expression (``parse.Parser`` converts every right-hand side), with limits
scaled for files: ``MAX_FILE_BYTES`` and ``MAX_FILE_NODES``, both checked before the tree is walked, so a huge
file is refused in milliseconds. Errors say ``file:line:column`` and show that line with a caret.
"""
from __future__ import annotations

import ast
import os
import re
import warnings
from dataclasses import dataclass

from jaccli.errors import InputError, Span, UsageError
from jaccli.expr.parse import Parser, parse_expression
from jaccli.expr.syntax import Assign, Node, Program
from jaccli.textkit import decode_utf8

MAX_FILE_BYTES = 1_000_000
MAX_FILE_NODES = 200_000
# Numbers (1e-3, 0x1f, 2.5), names, operators and '[' (a list or an index) are one node each at least: a lower
# bound on the syntax nodes of a file, counted in milliseconds.
_TOKEN = re.compile(r"\.?\d[\w.]*(?:[eE][+-][\w.]*)?|[A-Za-z_]\w*|\*\*|[-+*/\[]")
_COMMENT = re.compile(r"#[^\n]*")
_LINES_HINT = "an expression file holds 'name = expression' lines and ends with the target expression"
_SPLIT_HINT = "split the model, or use reductions (sum(v, axis=k), dot) instead of long sums"


@dataclass(frozen=True)
class ExpressionText:
    """An expression as given: the text, and the file it came from (``@FILE``), or None for a one-liner."""

    text: str
    label: str | None = None


def load_expression(argument: str | ExpressionText) -> ExpressionText:
    """``@PATH`` reads an expression file; any other text is the expression itself (it cannot start with '@')."""
    if isinstance(argument, ExpressionText):
        return argument
    if not argument.startswith("@"):
        return ExpressionText(argument)
    path = argument[1:]
    if not path:
        raise UsageError("'@' must be followed by a file name", hint="e.g. jaccli batch-jacobian @model.jx data.npy")
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:
            raise UsageError(f"expression file {path} is too large ({size} bytes, at most {MAX_FILE_BYTES})",
                             hint=_SPLIT_HINT)
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read the expression file: {exc.strerror or exc}", where=path,
                         hint="'@PATH' reads the expression from a file") from None
    if len(data) > MAX_FILE_BYTES:  # a file that grew, or a pipe: never read more than the limit
        raise UsageError(f"expression file {path} is too large (at most {MAX_FILE_BYTES} bytes)", hint=_SPLIT_HINT)
    try:
        text = decode_utf8(data, path)
    except InputError as exc:  # the expression is part of the command: a usage error (exit 2), not bad data
        raise UsageError(f"expression file is not UTF-8 text ({exc.message})", where=exc.where,
                         hint=exc.hint) from None
    return ExpressionText(text.replace("\r\n", "\n").replace("\r", "\n"), path)


def parse_text(expression: ExpressionText) -> Node | Program:
    """A one-liner's syntax tree, or an expression file's ``Program``."""
    if expression.label is None:
        return parse_expression(expression.text)
    return parse_program(expression.text, expression.label)


def parse_program(text: str, label: str) -> Program:
    """Parse an expression file (see the module docstring); ``ExpressionError`` with ``file:line:column``."""
    parser = Parser(text, label)
    if len(text) > MAX_FILE_BYTES:
        raise parser.error(f"expression file is too long ({len(text)} characters, at most {MAX_FILE_BYTES})", None,
                           _SPLIT_HINT)
    if not text.strip():
        raise parser.error("expression file is empty", None, "end the file with the expression to differentiate")
    tokens = len(_TOKEN.findall(_COMMENT.sub("", text)))
    if tokens > MAX_FILE_NODES:  # refuse before the parser, which takes seconds on a megabyte
        raise parser.error(f"expression is too long (more than {MAX_FILE_NODES} terms)", None,
                           _SPLIT_HINT)
    parser.prescan()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = ast.parse(text, mode="exec")
    except SyntaxError as exc:
        raise parser.syntax_error(exc) from None
    except (RecursionError, MemoryError):
        raise parser.too_deep(None) from None
    except ValueError as exc:
        raise parser.error(f"cannot parse the expression file ({exc})", None, _LINES_HINT) from None
    parser.check_size(module, MAX_FILE_NODES)
    if not module.body:
        raise parser.error("expression file has no expression (only comments)", None,
                           "end the file with the expression to differentiate")
    *lines, last = module.body
    assignments = tuple(_assignment(parser, stmt) for stmt in lines)
    if not isinstance(last, ast.Expr):
        _assignment(parser, last)  # refuses anything that is not an assignment either
        raise parser.error("the last line must be the target expression", parser.span(last),
                           "add a last line with the value to differentiate, e.g. the name just assigned")
    return Program(assignments, parser.convert(last.value))


def _assignment(parser: Parser, stmt: ast.stmt) -> Assign:
    span = parser.span(stmt)
    if isinstance(stmt, ast.Expr):
        raise parser.error("only the last line may be a bare expression", span,
                           "name the value (r = ...) or move it to the end of the file")
    if isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        raise parser.error("only plain 'name = expression' assignments are allowed", span,
                           "each name is given its value once: r2 = r2 + 1 becomes s = r2 + 1")
    if not isinstance(stmt, ast.Assign):
        word = type(stmt).__name__.lower()
        raise parser.error(f"'{word}' statements are not allowed", Span(span.start, span.start + len(word)),
                           _LINES_HINT)
    if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
        raise parser.error("assign to one plain name", parser.span(stmt.targets[0]),
                           "one 'name = expression' a line; no tuples, indexing or chains")
    target = stmt.targets[0]
    assert isinstance(target, ast.Name)
    name_span = parser.span(target)
    if parser.text[name_span.start:name_span.end] != target.id:
        raise parser.error(f"name {parser.text[name_span.start:name_span.end]!r} is not in normal form", name_span,
                           f"write {target.id!r}")
    return Assign(target.id, parser.convert(stmt.value), span, name_span)
