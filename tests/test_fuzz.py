"""Property-based fuzzing (hypothesis): grammar-aware expressions and their text mutations through the API, and
mutated small input files through the CLI. Whatever comes in, only a ``JaccliError`` may come out (exit 2 or 3
on the command line, never a traceback), each case ends within ``CASE_SECONDS``, and a result is bit-identical
for every chunking (``parallel_iterations``) and with the per-example loop (``pfor=False``).

Bounded for CI: derandomized, fixed example counts, no example database. ``benchmarks/fuzz.py`` runs the same
properties for longer with fresh random seeds.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import time

import numpy as np
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaccli import batch_jacobian
from jaccli.catalog import AXIS_FUNCTIONS, REDUCTION, of_kind
from jaccli.cli import cli
from jaccli.errors import JaccliError
from function_data import plain_names

CASE_SECONDS = 2.0
CI = settings(derandomize=True, database=None, deadline=None, max_examples=int(os.environ.get("JACCLI_FUZZ", 120)),
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

X = np.array([[0.5, -1.25, 2.0], [3.0, 0.0, -0.75]])  # B = 2, S = (3,): zeros, negatives, a value past 1
UNARY, BINARY, TERNARY = plain_names(1), plain_names(2), plain_names(3)  # where (a comparison first): below
REDUCTIONS = of_kind(REDUCTION)  # every reduction and every call with axis=k, as the catalog lists them
ATOMS = ["x", "x[0]", "x[1]", "x[-1]", "x[0:2]", "x[::-1]", "x[1:]", "x[:, None]", "pi", "e", "0", "1", "2", "0.0", "-0.0",
         "0.5", "1e308", "1e-308", "3", "10", "1024", "y", "x[5]", "x[0, 1]"]


def _expressions() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**"]), inner).map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
            st.tuples(st.sampled_from(UNARY), inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(st.sampled_from(BINARY), inner, inner).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
            st.tuples(st.sampled_from(REDUCTIONS), inner).map(
                lambda t: f"{t[0]}({t[1]})"),
            st.tuples(inner, inner).map(lambda t: f"dot({t[0]}, {t[1]})"),
            st.tuples(st.sampled_from(TERNARY), inner, inner, inner).map(lambda t: f"{t[0]}({t[1]}, {t[2]}, {t[3]})"),
            st.tuples(inner, st.sampled_from(["<", ">=", "=="]), inner, inner, inner).map(
                lambda t: f"where({t[0]} {t[1]} {t[2]}, {t[3]}, {t[4]})"),
            st.tuples(st.sampled_from(AXIS_FUNCTIONS), inner, st.integers(-2, 1)).map(
                lambda t: f"{t[0]}({t[1]}, axis={t[2]})"),
            st.lists(inner, min_size=1, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
            inner.map(lambda e: f"-{e}"),
        )

    return st.recursive(st.sampled_from(ATOMS), extend, max_leaves=8)


NOISE = list("()[]+-*/^,.:#\n 0123456789xe") + ["**", "sin(", "]]", "[[", "1e999", "9**9**9", "\\", "'", "\0",
                                                "lambda", "__import__", "٣"]


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    """A grammatical expression with up to three text edits: insert noise, delete a span, duplicate a span."""
    text = draw(base)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "duplicate"]))
        if kind == "insert":
            text = text[:at] + draw(st.sampled_from(NOISE)) + text[at:]
        else:
            end = draw(st.integers(at, min(len(text), at + 12)))
            text = text[:at] + (text[at:end] * 2 if kind == "duplicate" else "") + text[end:]
    return text


def check_expression(expression: str, order: int) -> None:
    """The property for one expression: a result bit-identical across chunkings, or a JaccliError; quickly."""
    start = time.perf_counter()
    try:
        whole = batch_jacobian(expression, X, order=order, unconnected="zero")
    except JaccliError:
        assert time.perf_counter() - start < CASE_SECONDS, f"refusal took too long: {expression!r}"
        return
    for kwargs in ({"parallel_iterations": 1}, {"pfor": False}):
        again = batch_jacobian(expression, X, order=order, unconnected="zero", **kwargs)
        assert again.tobytes() == whole.tobytes(), f"{expression!r} differs with {kwargs}"
    assert time.perf_counter() - start < CASE_SECONDS, f"took too long: {expression!r}"


@CI
@given(mutated(_expressions()), st.integers(1, 3))
def test_expressions_raise_only_jaccli_errors_and_agree_across_chunkings(expression, order):
    check_expression(expression, order)


# -- mutated input files through the CLI --------------------------------------------------------------------------

def _seed_files() -> dict[str, bytes]:
    npy, npz = io.BytesIO(), io.BytesIO()
    np.save(npy, X)
    np.savez_compressed(npz, x=X, w=X * 2, bias=np.float64(0.5))
    return {"csv": b"a,b,c\n0.5,-1.25,2\n3,0,-0.75\n", "json": json.dumps(X.tolist()).encode(),
            "npy": npy.getvalue(), "npz": npz.getvalue()}


SEEDS = _seed_files()


@st.composite
def mutated_file(draw: st.DrawFn) -> tuple[str, bytes]:
    fmt = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[fmt])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 16))]
        elif kind == "truncate":
            del data[at:]
        else:
            data[at:at] = data[at:at + draw(st.integers(1, 64))]
    return fmt, bytes(data)


def check_file(fmt: str, data: bytes, expression: str, stdin: bool) -> None:
    """The CLI on a mutated file: exit 0, or exit 2/3 with one ``Error:`` line; no traceback, nothing else."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"input.{fmt}")
        with open(path, "wb") as handle:
            handle.write(data)
        args = ["batch-jacobian", expression, "--input-format", fmt, "-f", "json", "--unconnected", "zero"]
        start = time.perf_counter()
        result = CliRunner().invoke(cli, args if stdin else [*args, path], input=data if stdin else None)
        seconds = time.perf_counter() - start
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert seconds < CASE_SECONDS, f"{fmt} case took {seconds:.2f} s"
    assert result.exit_code in (0, 2, 3), result.stderr
    if result.exit_code:
        assert sum(line.startswith("Error:") for line in result.stderr.splitlines()) == 1, result.stderr
        assert result.stdout == ""
    else:
        json.loads(result.stdout)


@CI
@given(mutated_file(), st.sampled_from(["x*x", "sum(x)", "x[0]*sin(x)", "w*x + bias"]), st.booleans())
def test_mutated_input_files_give_a_result_or_one_error_line(case, expression, stdin):
    fmt, data = case
    check_file(fmt, data, expression, stdin)
