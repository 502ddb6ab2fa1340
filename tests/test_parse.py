"""parse_expression: the syntax tree and its spans, every refused construct with its caret, and hostile input."""
from __future__ import annotations

import dataclasses
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaccli.errors import ExpressionError, Span
from jaccli.expr.parse import MAX_DEPTH, MAX_INT_EXPONENT, MAX_LENGTH, MAX_NODES, parse_expression
from jaccli.expr.syntax import Binary, Call, Index, IndexItem, Name, Num, Slice, Stack, Unary


def refuse(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        parse_expression(text)
    assert info.value.exit_code == 2
    return info.value


def caret_under(text: str, part: str) -> list[str]:
    """The two rendered lines that show ``text`` with carets under the first occurrence of ``part``."""
    start = text.index(part)
    return ["  " + text, "  " + " " * start + "^" * len(part)]


def assert_caret(err: ExpressionError, text: str, part: str) -> None:
    assert err.render().splitlines()[1:3] == caret_under(text, part)


def children(node):
    if isinstance(node, Unary):
        return [node.operand]
    if isinstance(node, Binary):
        return [node.left, node.right]
    if isinstance(node, (Call, Stack)):
        return list(node.args if isinstance(node, Call) else node.items)
    if isinstance(node, Index):
        return [node.value]
    return []


def walk(node):
    stack = [node]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(children(node))


def without_spans(node):
    """The tree as plain tuples, so trees parsed from different texts can be compared."""
    if dataclasses.is_dataclass(node):
        return (type(node).__name__,) + tuple(
            without_spans(getattr(node, f.name)) for f in dataclasses.fields(node) if "span" not in f.name)
    if isinstance(node, tuple):
        return tuple(without_spans(item) for item in node)
    return node


# -- the tree and its spans --------------------------------------------------------------------------------------

def test_call_times_name_with_exact_spans():
    assert parse_expression("sin(x) * y") == Binary(
        "*",
        Call("sin", (Name("x", Span(4, 5)),), Span(0, 6), func_span=Span(0, 3)),
        Name("y", Span(9, 10)),
        Span(0, 10),
    )


@pytest.mark.parametrize("text, value", [("2", 2), ("2.5", 2.5), ("1e-3", 1e-3), ("1_000", 1000), ("0x10", 16),
                                         ("9223372036854775808", 2**63)])
def test_numbers(text, value):
    node = parse_expression(text)
    assert node == Num(value, Span(0, len(text)))
    assert type(node.value) is type(value)  # integer literals stay exact ints


def test_operators_precedence_and_associativity():
    assert without_spans(parse_expression("a - b - c")) == without_spans(
        Binary("-", Binary("-", Name("a", None), Name("b", None), None), Name("c", None), None))
    assert parse_expression("-x**2") == Unary(
        "-", Binary("**", Name("x", Span(1, 2)), Num(2, Span(4, 5)), Span(1, 5)), Span(0, 5))
    assert parse_expression("+x / 2") == Binary(
        "/", Unary("+", Name("x", Span(1, 2)), Span(0, 2)), Num(2, Span(5, 6)), Span(0, 6))


def test_power_is_right_associative_and_small_literal_exponents_parse():
    assert parse_expression("9**9**9") == Binary(
        "**", Num(9, Span(0, 1)), Binary("**", Num(9, Span(3, 4)), Num(9, Span(6, 7)), Span(3, 7)), Span(0, 7))


def test_parentheses_are_kept_in_parent_spans_only():
    node = parse_expression("(x + y) * z")
    assert node.span == Span(0, 11) and node.left.span == Span(1, 6)


@pytest.mark.parametrize("text, items", [
    ("x[0]", (IndexItem(0, Span(2, 3)),)),
    ("x[-1]", (IndexItem(-1, Span(2, 4)),)),
    ("x[1, 2]", (IndexItem(1, Span(2, 3)), IndexItem(2, Span(5, 6)))),
    ("x[0,]", (IndexItem(0, Span(2, 3)),)),
    ("x[1:3]", (IndexItem(Slice(1, 3, None, Span(2, 5)), Span(2, 5)),)),
    ("x[::-1]", (IndexItem(Slice(None, None, -1, Span(2, 6)), Span(2, 6)),)),
    ("x[:]", (IndexItem(Slice(None, None, None, Span(2, 3)), Span(2, 3)),)),
    ("x[-2:, 0]", (IndexItem(Slice(-2, None, None, Span(2, 5)), Span(2, 5)), IndexItem(0, Span(7, 8)))),
])
def test_index_items(text, items):
    assert parse_expression(text) == Index(Name("x", Span(0, 1)), items, Span(0, len(text)))


def test_index_of_expressions_and_chained_index():
    node = parse_expression("(x + y)[0][1]")
    assert isinstance(node, Index) and node.items == (IndexItem(1, Span(11, 12)),)
    assert isinstance(node.value, Index) and isinstance(node.value.value, Binary)
    assert node.value.span == Span(0, 10)


def test_nested_stacks():
    assert parse_expression("[[a, 1], [b, 2]]") == Stack((
        Stack((Name("a", Span(2, 3)), Num(1, Span(5, 6))), Span(1, 7)),
        Stack((Name("b", Span(10, 11)), Num(2, Span(13, 14))), Span(9, 15)),
    ), Span(0, 16))


def test_calls_with_many_or_no_arguments():
    assert parse_expression("atan2(y, x)") == Call(
        "atan2", (Name("y", Span(6, 7)), Name("x", Span(9, 10))), Span(0, 11), Span(0, 5))
    assert parse_expression("f()") == Call("f", (), Span(0, 3), Span(0, 1))
    assert parse_expression("(f)(x)").func_span == Span(1, 2)


@pytest.mark.parametrize("text", ["  x + θ", "\n\t x + θ", "(x +\n  θ)", "(x +\r\n  θ)", "(x +\r  θ)",
                                  "(é +\n\n θ) * x", "x + \\\n θ", "[θ, é,\n x]  # a comment"])
def test_spans_are_character_offsets_across_lines_and_unicode(text):
    names = [node for node in walk(parse_expression(text)) if isinstance(node, Name)]
    assert {node.id for node in names} >= {"x", "θ"}
    for node in names:
        assert text[node.span.start:node.span.end] == node.id


# -- refused constructs -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, message, part", [
    ("x ^ 2", "'^' is not a power operator", "^"),
    ("x // 2", "operator '//' is not allowed", "//"),
    ("(x) % (y)", "operator '%' is not allowed", "%"),
    ("a @ b", "operator '@' is not allowed", "@"),
    ("x << 1", "operator '<<' is not allowed", "<<"),
    ("x | y", "operator '|' is not allowed", "|"),
    ("x & y", "operator '&' is not allowed", "&"),
    ("~x", "operator '~' is not allowed", "~"),
    ("not x", "operator 'not' is not allowed", "not"),
    ("x < y", "comparisons are not allowed here", "<"),
    ("x == y", "comparisons are not allowed here", "=="),
    ("x and y", "'and' is not allowed", "and"),
    ("x or y", "'or' is not allowed", "or"),
    ("x.__class__", "attribute access is not allowed", ".__class__"),
    ("np.sin(x)", "attribute access is not allowed", ".sin"),
    ("__import__('os').system('ls')", "attribute access is not allowed", ".system"),
    ("lambda: 1", "lambda is not allowed", "lambda: 1"),
    ("[i for i in x]", "comprehensions are not allowed", "[i for i in x]"),
    ("sum(i for i in x)", "comprehensions are not allowed", "(i for i in x)"),
    ("{1, 2}", "sets are not allowed", "{1, 2}"),
    ("{1: 2}", "dicts are not allowed", "{1: 2}"),
    ("(a, b)", "tuples are not allowed", "(a, b)"),
    ("a, b", "tuples are not allowed", "a, b"),
    ("x if y else z", "conditional expressions are not allowed", "x if y else z"),
    ("(y := 2)", "assignment (':=') is not allowed", "y := 2"),
    ("f(*a)", "'*' unpacking is not allowed", "*a"),
    ("f(**a)", "'**' unpacking is not allowed", "**a"),
    ("f(a=1)", "keyword argument 'a' is not allowed", "a=1"),
    ("x[0](1)", "only a function name can be called", "x[0]"),
    ("x + 'a'", "strings are not allowed", "'a'"),
    ("b'a'", "strings are not allowed", "b'a'"),
    ("f'{x}'", "strings are not allowed", "f'{x}'"),
    ("2 * 1j", "complex numbers are not allowed", "1j"),
    ("x + True", "'True' is not a number", "True"),
    ("None", "'None' is not a number", "None"),
    ("...", "'...' is not a number", "..."),
    ("[]", "an empty list [] has no value", "[]"),
    ("x[y]", "index 'y' is not an integer literal", "y"),
    ("x[1.5]", "index '1.5' is not an integer literal", "1.5"),
    ("x[0, 1 + 1]", "index '1 + 1' is not an integer literal", "1 + 1"),
    ("x[0.5]", "index '0.5' is not an integer literal", "0.5"),
    ("x[[0, 1]]", "index '[0, 1]' is not an integer literal", "[0, 1]"),
    ("x[True]", "index 'True' is not an integer literal", "True"),
    ("x[1:n]", "index 'n' is not an integer literal", "n"),
    ("x[()]", "empty index", "()"),
    ("x[::0]", "slice step cannot be zero", "0"),
    ("x**100000", "exponent too large", "100000"),
    ("x ** -1025", "exponent too large", "-1025"),
    ("x + 9223372036854775809", "integer literal too large", "9223372036854775809"),
    ("x + 0x10000000000000001", "integer literal too large", "0x10000000000000001"),
    ("x * 1e999", "number literal too large", "1e999"),
    ("ﬁ + x", "name 'ﬁ' is not in normal form (Python reads it as 'fi')", "ﬁ"),
    ("x × y", "invalid character '×' (U+00D7)", "×"),
    ("x y", "invalid syntax", "y"),
    ("(x + y", "'(' was never closed", "("),
])
def test_refused_constructs_have_message_and_caret(text, message, part):
    err = refuse(text)
    assert err.message == message
    assert err.hint
    assert_caret(err, text, part)


def test_caret_hint_for_xor():
    err = refuse("x^2")
    assert err.hint == "use '**' for powers (x**2)"
    assert err.render() == "Error: '^' is not a power operator\n  x^2\n   ^\n  hint: use '**' for powers (x**2)"


def test_code_injection_is_refused_for_the_attribute():
    err = refuse("__import__('os').system('ls')")
    assert err.message == "attribute access is not allowed"


def test_syntax_error_at_end_points_past_the_text():
    err = refuse("x +")
    assert err.message == "invalid syntax"
    assert err.render().splitlines()[2] == "  " + "   ^"


def test_syntax_error_caret_counts_characters_on_later_lines():
    text = "(θθ +\n θ $ x)"
    err = refuse(text)
    assert err.span == Span(text.index("$"), text.index("$") + 1)


@pytest.mark.parametrize("text", ["", "   ", "\n\t\n"])
def test_empty_expression(text):
    assert refuse(text).message == "expression is empty"


@pytest.mark.parametrize("text, char", [("x\0", "\0"), ("x + \ud800", "\ud800")])
def test_unparseable_characters(text, char):
    err = refuse(text)
    assert err.span == Span(text.index(char), text.index(char) + 1)


def test_exponent_limit_boundaries():
    assert parse_expression(f"x**{MAX_INT_EXPONENT}").right == Num(MAX_INT_EXPONENT, Span(3, 7))
    assert isinstance(parse_expression(f"x**-{MAX_INT_EXPONENT}").right, Unary)
    assert parse_expression("x**1e6").right.value == 1e6  # only integer literal exponents are limited here
    refuse(f"x**{MAX_INT_EXPONENT + 1}")


# -- limits on hostile input ---------------------------------------------------------------------------------------

def refused_quickly(text: str, message: str) -> None:
    start = time.perf_counter()
    err = refuse(text)
    assert time.perf_counter() - start < 0.5
    assert message in err.message
    err.render()


def test_length_limit():
    parse_expression("x" + " " * (MAX_LENGTH - 1))
    refused_quickly("x" + " " * MAX_LENGTH, "too long")
    refused_quickly("x+" * 100_000 + "x", "too long")


@pytest.mark.parametrize("text", [
    "(" * 100_000 + "x" + ")" * 100_000,
    "[" * 100_000 + "x" + "]" * 100_000,
    "-" * 100_000 + "x",
    "(" * 4_000 + "x" + ")" * 4_000,
    "[" * 4_000 + "x" + "]" * 4_000,
    "-" * 9_999 + "x",
    "x**" * 3_000 + "x",
    "x+" * 4_999 + "x",
    "sin(" * 2_000 + "x" + ")" * 2_000,
])
def test_deep_nesting_is_refused_quickly(text):
    refused_quickly(text, "too long" if len(text) > MAX_LENGTH else "nested too deeply")


def test_depth_limit_boundary():
    parse_expression("x+" * (MAX_DEPTH - 1) + "x")
    refused_quickly("x+" * MAX_DEPTH + "x", "nested too deeply")
    parse_expression("(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH)
    err = refuse("(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1))
    assert err.span == Span(MAX_DEPTH, MAX_DEPTH + 1)


def test_node_limit():
    parse_expression("[" + "x," * (MAX_NODES - 1) + "]")
    refused_quickly("[" + "x," * MAX_NODES + "]", "too long")


def test_huge_decimal_literal_is_refused_with_a_caret():
    text = "x + " + "1" * 5_000
    err = refuse(text)
    assert err.message == "integer literal too large"
    assert err.span == Span(4, len(text))


# -- properties ----------------------------------------------------------------------------------------------------

spaces = st.sampled_from(["", " ", "  ", "\n", " \n\t"])


def bracketed(inner: st.SearchStrategy) -> st.SearchStrategy:
    """Wrap in parentheses with random inner whitespace (newlines are legal inside brackets)."""
    return st.builds(lambda a, e, b: f"({a}{e}{b})", spaces, inner, spaces)


expressions = st.recursive(
    st.one_of(st.sampled_from(["x", "y", "θ", "x[0]", "x[-1]", "x[1:3]", "x[::-1]", "x[1, 2]"]),
              st.integers(0, 1000).map(str), st.sampled_from(["2.5", "1e-3", "0.5"])),
    lambda inner: st.one_of(
        st.builds(lambda a, op, s, b: f"{a}{s}{op}{s}{b}", bracketed(inner), st.sampled_from("+-*/") | st.just("**"),
                  spaces.filter(lambda s: "\n" not in s), bracketed(inner)),
        st.builds(lambda op, a: op + a, st.sampled_from("-+"), bracketed(inner)),
        st.builds(lambda a: f"sin({a})", inner),
        st.builds(lambda a, b: f"atan2({a},{b})", inner, inner),
        st.builds(lambda items: "[" + ", ".join(items) + "]", st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda a: f"{a}[0]", bracketed(inner)),
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(expressions)
def test_spans_nest_and_each_span_reparses_to_its_own_subtree(text):
    tree = parse_expression(text)
    for node in walk(tree):
        assert 0 <= node.span.start < node.span.end <= len(text)
        for child in children(node):
            assert node.span.start <= child.span.start and child.span.end <= node.span.end
        assert without_spans(parse_expression(text[node.span.start:node.span.end])) == without_spans(node)
        if isinstance(node, Call):
            assert text[node.func_span.start:node.func_span.end] == node.func


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), st.text(alphabet="xy01.e()[]{}+-*/^%:,; \n'\"#\\jθ", max_size=60)))
def test_arbitrary_text_raises_only_expression_errors(text):
    try:
        parse_expression(text)
    except ExpressionError as err:
        if err.span is not None:
            assert 0 <= err.span.start <= err.span.end <= len(text) + 1
        assert err.render().startswith("Error: ")
