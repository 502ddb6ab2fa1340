"""Hostile inputs (README "Limits", "Exit codes"), end to end: each is refused quickly with one ``Error:`` line and the documented exit code;
nothing runs (no file appears, nothing is unpickled), nothing is written (stdout empty, no ``-o`` file).

``refused`` runs one command with ``-o`` into a fresh directory and checks all of that, plus the time (< 2 s).
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import SEED_CSV, assert_error, caret

QUICK = 2.0  # seconds: "refused quickly"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh current directory holding the seed CSV (so a 'touch PWNED' would land here)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "seed.csv").write_text(SEED_CSV)
    return tmp_path


@pytest.fixture
def refused(jaccli, workdir):
    """Run ``batch-jacobian ARGS -o out.txt``; assert exit code, message fragments, speed, and that nothing ran."""

    def check(args: list[str], code: int, *fragments: str, limit: float = QUICK) -> list[str]:
        before = sorted(p.name for p in workdir.iterdir())
        result = jaccli("batch-jacobian", "-o", workdir / "out.txt", *args)
        lines = assert_error(result, code, *fragments)
        assert jaccli.seconds < limit, f"took {jaccli.seconds:.2f} s"
        assert sorted(p.name for p in workdir.iterdir()) == before  # no out.txt, no PWNED, no temp file
        return lines

    return check


# -- expressions: code injection ---------------------------------------------------------------------------------------

INJECTIONS = {
    "__import__('os').system('touch PWNED')": "attribute access is not allowed",
    "x.__class__": "attribute access is not allowed",
    "().__class__.__bases__": "attribute access is not allowed",
    "x.__class__.__mro__[1].__subclasses__()": "attribute access is not allowed",
    "exec('1')": "strings are not allowed",
    "eval('1')": "strings are not allowed",
    "__import__": "unknown name '__import__'",
    "lambda: 1": "lambda is not allowed",
    "[c for c in x]": "comprehensions are not allowed",
    "open('/etc/passwd')": "strings are not allowed",
    "globals()": "unknown function 'globals'",
    "getattr(x, 'T')": "not allowed",
    "(y := x)": "not allowed",
    "x if x else x": "not allowed",
    "x == 1": "comparisons are not allowed",
    "1j * x": "complex numbers are not allowed",
    "x; import os": "invalid syntax",
    "sin(x=x)": "not allowed",
    "{1: x}": "not allowed",
    "f'{x}'": "not allowed",
}


@pytest.mark.parametrize("expression", list(INJECTIONS))
def test_code_injection_is_refused(refused, workdir, expression):
    lines = refused([expression, "seed.csv"], 2, INJECTIONS[expression])
    assert not (workdir / "PWNED").exists()
    assert len(lines) >= 3 and set(lines[2].strip()) == {"^"}  # a caret points at the bad part


def test_injection_through_the_os_system_call_runs_nothing(jaccli, workdir):
    result = jaccli("batch-jacobian", "__import__('os').system('touch PWNED')", "seed.csv")
    assert_error(result, 2)
    assert not (workdir / "PWNED").exists()


# -- expressions: huge powers and sizes --------------------------------------------------------------------------------

def test_huge_constant_power_is_refused_quickly(jaccli, workdir):
    """9**9**9 is a 370-million-digit integer, inf in float64: refused in microseconds, never computed."""
    lines = assert_error(jaccli("batch-jacobian", "9**9**9", "seed.csv"), 2, "constant power overflows float64")
    assert lines[1:3] == ["  9**9**9", "     ^^^^"]
    assert jaccli.seconds < QUICK


@pytest.mark.parametrize("expression, span", [
    ("x**9**9", "9**9"),
    ("x**(9**9)", "9**9"),
    ("x**-9**9", "-9**9"),
    ("x**100000", "100000"),
    ("x**1025", "1025"),
    ("pow(x, 100000)", None),
])
def test_huge_power_of_data_is_refused(refused, expression, span):
    lines = refused([expression, "seed.csv"], 2, "too large")
    if span is not None:
        start = expression.index(span)
        assert lines[1:3] == ["  " + expression, "  " + " " * start + "^" * len(span)]


def test_overflowing_power_of_data_is_refused(refused):
    # Once a bug: an exponent that overflows to float inf slipped past the limit (exit 0, every derivative inf).
    lines = refused(["x**(9**9**9)", "seed.csv"], 2, "constant power overflows float64")
    assert lines[1:3] == ["  x**(9**9**9)", "         ^^^^"]


def test_largest_allowed_power_is_fine(jaccli, workdir):
    result = jaccli("batch-jacobian", "x**1024", "seed.csv", "-f", "json")
    assert result.exit_code == 0 and jaccli.seconds < QUICK
    assert json.loads(result.stdout)["data"][1][0][0] == 1024.0  # 1024 * 1**1023


@pytest.mark.parametrize("expression, fragment", [
    ("x+" * 99999 + "x", "expression is too long"),
    ("(" * 100000 + "x" + ")" * 100000, "expression is too long"),
    ("(" * 100000, "expression is too long"),
    ("-" * 100000 + "x", "expression is too long"),
    ("(" * 4000 + "x" + ")" * 4000, "nested too deeply"),
    ("-" * 9000 + "x", "nested too deeply"),
    ("sin(" * 300 + "x" + ")" * 300, "nested too deeply"),
    ("sin(" * 300, "nested too deeply"),
    ("[" * 3000 + "x" + "]" * 3000, "nested too deeply"),
    ("x" + "[0]" * 3000, "nested too deeply"),
], ids=["100k-terms", "100k-parens", "100k-open-parens", "100k-minus", "4k-parens", "9k-minus", "sin300",
        "sin300-open", "3k-brackets", "3k-subscripts"])
def test_huge_or_deep_expression_is_refused(refused, expression, fragment):
    refused(["--", expression, "seed.csv"], 2, fragment)


def test_deep_chain_at_high_order_is_refused(refused):
    refused(["sin(" * 200 + "x" + ")" * 200, "seed.csv", "-k", "3"], 2, limit=5.0)


def test_derivative_growth_is_refused_at_once(refused):
    # 60 nested functions at order 3: depth**order terms, refused by the nesting cost before SymPy starts.
    refused(["sin(" * 60 + "x" + ")" * 60, "seed.csv", "-k", "3"], 2, "derivative grows", "lower --order",
            limit=QUICK)


@pytest.mark.parametrize("seed", ["0", "1", "2"])
def test_derivative_growth_refusal_does_not_depend_on_the_hash_seed(tmp_path, seed):
    # SymPy's term order follows the string hash seed; a refusal that depends on it can take minutes for some seeds.
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "jaccli", "batch-jacobian", "sin(" * 60 + "x" + ")" * 60,
                               "-k", "3"], input=SEED_CSV.encode(), capture_output=True, cwd=tmp_path, timeout=20,
                              env=dict(os.environ, PYTHONHASHSEED=seed))
    except subprocess.TimeoutExpired:
        pytest.fail(f"PYTHONHASHSEED={seed}: not refused within 20 s")
    assert done.returncode == 2 and done.stdout == b"", done.stderr
    assert done.stderr.startswith(b"Error: the symbolic derivative grows")
    assert time.perf_counter() - start < 10.0


# -- expressions: errors with a caret ----------------------------------------------------------------------------------

def test_caret_power_has_a_hint(refused):
    lines = refused(["x^2", "seed.csv"], 2, "'^' is not a power operator", "use '**'")
    assert lines[1:3] == ["  x^2", "   ^"]


def test_unknown_function_did_you_mean(refused):
    lines = refused(["sinn(x) * x", "seed.csv"], 2, "unknown function 'sinn' (did you mean 'sin'?)")
    assert lines[1:3] == ["  sinn(x) * x", "  ^^^^"]


def test_unknown_name(refused):
    lines = refused(["foo + x", "seed.csv"], 2, "unknown name 'foo'", "x")
    assert lines[1:3] == ["  foo + x", "  ^^^"]


@pytest.mark.parametrize("expression", ["x[5]", "x[-3]", "x[0] + x[2]", "x[1, 0]"])
def test_index_out_of_range_points_at_the_index(refused, jaccli, expression):
    refused([expression, "seed.csv"], 2, "event shape (2,)")
    result = jaccli("batch-jacobian", expression, "seed.csv")
    shown, start, end = caret(result)
    assert shown == expression
    # the offending index: the out-of-range one, or the first one too many (the 0 of x[1, 0])
    bad = expression.rindex(", ") + 2 if ", " in expression else expression.rindex("[") + 1
    assert start <= bad < end, result.stderr
    assert end - start == 1 if expression != "x[-3]" else end - start == 2  # under that index alone


def test_long_expression_error_shows_a_window(refused):
    expression = "x + " * 50 + "sinn(x)" + " + x" * 50
    lines = refused([expression, "seed.csv"], 2, "did you mean 'sin'")
    shown, marks = lines[1][2:], lines[2][2:]
    assert len(shown) <= 82 and shown.startswith("...") and shown.endswith("...")
    start = len(marks) - len(marks.lstrip())
    assert shown[start:len(marks)] == "sinn"


# -- input files -------------------------------------------------------------------------------------------------------

class CreatesFileWhenUnpickled:
    """Unpickling this calls ``open(path, 'w')``: the file's existence proves that something was unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickled_npy_is_refused_unopened(refused, workdir):
    marker = workdir / "UNPICKLED"
    np.save(workdir / "evil.npy", np.array([CreatesFileWhenUnpickled(marker), 1.0], dtype=object), allow_pickle=True)
    refused(["x", "evil.npy"], 3, "evil.npy", "pickled")
    assert not marker.exists()


def test_npz_with_a_pickled_member_is_refused_unopened(refused, workdir):
    marker = workdir / "UNPICKLED"
    np.savez(workdir / "evil.npz", x=np.ones((2, 2)),
             y=np.array([CreatesFileWhenUnpickled(marker), 1.0], dtype=object))
    refused(["x", "evil.npz"], 3, "evil.npz", "'y'", "pickled")
    assert not marker.exists()


def npy_with_header(header: str, payload: bytes = b"\0" * 64) -> bytes:
    text = header + " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin-1") + payload


@pytest.mark.parametrize("shape", ["(1000000, 1000000)", "(1000000000000,)", "(2, 1000000, 1000000)"])
def test_lying_npy_header_is_refused_without_allocating(refused, workdir, shape):
    import tracemalloc

    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}"
    (workdir / "lie.npy").write_bytes(npy_with_header(header))
    tracemalloc.start()
    try:
        refused(["x", "lie.npy"], 3, "lie.npy", "the file holds 64")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20


@pytest.mark.parametrize("cut", [20, 100, 130], ids=["data", "header", "magic"])
def test_truncated_npy_is_refused(refused, workdir, cut):
    np.save(workdir / "good.npy", np.arange(20.0).reshape(10, 2))
    data = (workdir / "good.npy").read_bytes()
    (workdir / "cut.npy").write_bytes(data[:len(data) - cut])
    refused(["x", "cut.npy"], 3, "cut.npy")


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04garbage"], ids=["empty", "text", "zip-head"])
def test_broken_npz_is_refused(refused, workdir, content):
    (workdir / "bad.npz").write_bytes(content)
    refused(["x", "bad.npz"], 3, "bad.npz")


@pytest.mark.parametrize("document", ["[" * 100000 + "]" * 100000, "[" * 100000, '{"x": ' + "[" * 100000],
                         ids=["balanced", "unclosed", "in-object"])
def test_json_nested_100000_deep_is_refused(refused, workdir, document):
    (workdir / "deep.json").write_text(document)
    refused(["x", "deep.json"], 3, "deep.json", "nested")


def test_json_nested_100000_deep_on_stdin(jaccli, workdir):
    result = jaccli("batch-jacobian", "x", "--input-format", "json", input="[" * 100000 + "]" * 100000)
    assert_error(result, 3, "<stdin>", "nested")
    assert jaccli.seconds < QUICK


@pytest.mark.parametrize("document, fragments", [
    ("[[1, 2], [3]]", ["at [1]", "rectangular"]),
    ("[[1, 2], 3]", ["at [1]"]),
    ('[[1, "a"], [3, 4]]', ["at [0][1]", "string"]),
    ("[[1, true], [3, 4]]", ["at [0][1]", "true"]),
    ("[[1, null], [3, 4]]", ["at [0][1]"]),
    ("[]", ["empty"]),
    ("{}", []),
    ('{"x": [1, 2], "y": [1, 2, 3]}', ["different batch sizes"]),
    ("[1, 2", []),
    ("[1e999]", []),
], ids=["ragged", "mixed-depth", "string", "bool", "null", "empty", "empty-object", "batch-sizes", "unclosed",
        "overflow"])
def test_bad_json(refused, workdir, document, fragments):
    (workdir / "bad.json").write_text(document)
    refused(["x", "bad.json"], 3, "bad.json", *fragments)


@pytest.mark.parametrize("content, fragments", [
    ("1,2\n3,4\n5\n", ["bad.csv:3:", "expected 2 cells, found 1"]),
    ("1,2\n3,4,5\n", ["bad.csv:2:", "expected 2 cells, found 3"]),
    ("1,2\n3,abc\n", ["bad.csv:2:3", "'abc' is not a number"]),
    ("1,2\n3,0x10\n", ["bad.csv:2:3", "not a number"]),
    ("", ["bad.csv", "empty input"]),
    ("# only a comment\n\n", ["bad.csv", "empty input"]),
    ("a,b\n", ["bad.csv", "header row but no data rows"]),
    ("1,2\n3,nan\n", ["bad.csv:2:3", "not a finite number", "--allow-nonfinite"]),
    ("1,2\n-inf,4\n", ["bad.csv:2:1", "not a finite number"]),
    ("1,2\n3,1e999\n", ["bad.csv:2:3"]),
    ("1,2\n\x00\x01,\xff\n", ["bad.csv:2:"]),
], ids=["short-row", "long-row", "non-number", "hex", "empty", "comment-only", "header-only", "nan", "minus-inf",
        "overflow", "binary"])
def test_bad_csv(refused, workdir, content, fragments):
    (workdir / "bad.csv").write_bytes(content.encode("utf-8", "surrogateescape"))
    refused(["x", "bad.csv"], 3, *fragments)


def test_bad_csv_row_deep_in_a_big_file_names_its_line(refused, workdir):
    (workdir / "big.csv").write_text("".join(f"{i},{i}\n" for i in range(20000)) + "1,2,3\n")
    refused(["x*x", "big.csv"], 3, "big.csv:20001:", "expected 2 cells, found 3")


def test_unreadable_input(refused):
    refused(["x", "missing.csv"], 3, "missing.csv", "No such file")


def test_input_is_a_directory(refused, workdir):
    (workdir / "dir.csv").mkdir()
    refused(["x", "dir.csv"], 3, "dir.csv")


# -- huge orders -------------------------------------------------------------------------------------------------------

def test_huge_order_on_a_scalar_source_is_zeros_quickly(jaccli, workdir):
    (workdir / "scalars.json").write_text("[1, 2, 3]")  # S = (): the order adds no axes
    result = jaccli("batch-jacobian", "x**3", "scalars.json", "-k", "32", "-f", "json")
    assert result.exit_code == 0 and jaccli.seconds < QUICK
    assert json.loads(result.stdout)["data"] == [0.0, 0.0, 0.0]
    assert jaccli("batch-jacobian", "x**3", "scalars.json", "-k", "3", "-f", "json").stdout.endswith(
        '"data": [6.0, 6.0, 6.0]}\n')


def test_order_with_an_impossible_result_shape_is_refused(refused, workdir):
    # Once a bug: a traceback (MemoryError / numpy's "maximum supported dimension"), exit 1.
    np.save(workdir / "cube.npy", np.ones((2, 1, 1, 1)))
    refused(["x**3", "cube.npy", "-k", "32"], 2, "--order 32: the result would have 100 axes", "the limits are 64 axes")


def run_with_memory_limit(args: list[str], cwd: Path, limit: int = 3 * 2**30) -> subprocess.CompletedProcess:
    """``python -m jaccli ARGS`` with at most ``limit`` bytes of address space: allocations fail fast and safely."""
    import resource

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "jaccli", *args], cwd=cwd, env=env, capture_output=True,
                          timeout=60, preexec_fn=cap)


def test_memory_limit_harness_runs_a_small_order(workdir):
    done = run_with_memory_limit(["batch-jacobian", "x**3", "seed.csv", "-k", "3", "-f", "npy", "-o", "ok.npy"],
                                 workdir)
    assert done.returncode == 0, done.stderr
    assert np.load(workdir / "ok.npy").shape == (2, 2, 2, 2, 2)


@pytest.mark.parametrize("order", ["28", "31"])
def test_order_that_does_not_fit_in_memory_is_a_clean_error(workdir, order):
    done = run_with_memory_limit(["batch-jacobian", "x**3", "seed.csv", "-k", order, "-f", "npy", "-o", "big.npy"],
                                 workdir)
    assert b"Traceback" not in done.stderr
    assert done.returncode in (2, 3) and done.stderr.startswith(b"Error: ")
    assert not (workdir / "big.npy").exists()
