"""The command line end to end (README "Command line", "Outputs", "Exit codes"): every option, exact stdout / stderr / exit codes.

Most tests run the click group in-process (``jaccli`` fixture, see conftest.py); a few run real processes for what
only a process shows: the installed entry point, ``python -m jaccli``, a closed pipe, and hash-seed independence.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import SEED_CSV, assert_error
from jaccli.catalog import CATALOG

SEED_ORDER1 = """\
Tensor(
[[[48.  0.]
  [ 0. 12.]]

 [[ 3.  0.]
  [ 0. 27.]]], shape=(2, 2, 2), dtype=float32)
"""

SEED_ORDER2 = """\
Tensor(
[[[[24.  0.]
   [ 0.  0.]]

  [[ 0.  0.]
   [ 0. 12.]]]


 [[[ 6.  0.]
   [ 0.  0.]]

  [[ 0.  0.]
   [ 0. 18.]]]], shape=(2, 2, 2, 2), dtype=float32)
"""

# CSV input: the batch size is known only at the end, so "shape" comes last (JSON streams; README "Outputs").
SEED_JSON1 = (
    '{"shape": [2, 2, 2], "dtype": "float32", "order": 1, "layout": ["batch", "target.0", "x.0:d1"], '
    '"data": [[[48.0, 0.0], [0.0, 12.0]], [[3.0, 0.0], [0.0, 27.0]]]}\n'
)
SEED_JSON2 = (
    '{"shape": [2, 2, 2, 2], "dtype": "float32", "order": 2, "layout": ["batch", "target.0", "x.0:d1", "x.0:d2"], '
    '"data": [[[[24.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 12.0]]], '
    '[[[6.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 18.0]]]]}\n'
)
SEED_CSV1 = "J[0][0],J[0][1],J[1][0],J[1][1]\n48.0,0.0,0.0,12.0\n3.0,0.0,0.0,27.0\n"

ORDER1 = np.array([[[48, 0], [0, 12]], [[3, 0], [0, 27]]], dtype=np.float32)
ORDER2 = np.array([[[[24, 0], [0, 0]], [[0, 0], [0, 12]]], [[[6, 0], [0, 0]], [[0, 0], [0, 18]]]], dtype=np.float32)

FORMATS = ("text", "json", "csv", "npy")
EXTENSION = {"text": "txt", "json": "json", "csv": "csv", "npy": "npy"}

#: Several functions, stacking and reductions; used to check that batching knobs never change a bit.
MIXED = "[sum(sin(x) * x), prod(exp(x / 10)), logsumexp(x), norm(x) * tanh(x[0]), atan2(x[1], x[2]) + softplus(x[0])]"


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def load_npy(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


@pytest.fixture
def mixed_csv(tmp_path: Path) -> Path:
    path = tmp_path / "mixed.csv"
    rows = np.random.default_rng(7).uniform(-2, 2, (50, 3))
    path.write_text("".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows))
    return path


@pytest.fixture
def polar_csv(tmp_path: Path) -> Path:
    path = tmp_path / "polar.csv"
    path.write_text("r,theta\n1,0\n2,1.5707963267948966\n")
    return path


# -- the seed article, byte for byte ---------------------------------------------------------------------------------

@pytest.mark.parametrize("order, expected", [(1, SEED_ORDER1), (2, SEED_ORDER2)])
def test_seed_text_from_file(jaccli, seed_csv, order, expected):
    result = jaccli("batch-jacobian", "x*x*x", seed_csv, "--dtype", "float32", "-k", order)
    assert (result.exit_code, result.stdout, result.stderr) == (0, expected, "")


@pytest.mark.parametrize("source", [[], ["-"]], ids=["no-input-argument", "dash"])
@pytest.mark.parametrize("order, expected", [(1, SEED_ORDER1), (2, SEED_ORDER2)])
def test_seed_text_from_stdin(jaccli, source, order, expected):
    result = jaccli("batch-jacobian", "x*x*x", *source, "--dtype", "float32", "--order", order, input=SEED_CSV)
    assert (result.exit_code, result.stdout, result.stderr) == (0, expected, "")


@pytest.mark.parametrize("order, expected", [(1, SEED_JSON1), (2, SEED_JSON2)])
def test_seed_json_from_stdin(jaccli, order, expected):
    result = jaccli("batch-jacobian", "x*x*x", "--dtype", "float32", "-k", order, "-f", "json", input=SEED_CSV)
    assert (result.exit_code, result.stdout, result.stderr) == (0, expected, "")
    assert json.loads(result.stdout)["data"] == (ORDER1 if order == 1 else ORDER2).tolist()


def test_seed_csv_output(jaccli, seed_csv):
    result = jaccli("batch-jacobian", "x*x*x", seed_csv, "--dtype", "float32", "--format", "csv")
    assert (result.exit_code, result.stdout, result.stderr) == (0, SEED_CSV1, "")


@pytest.mark.parametrize("order, expected", [(1, ORDER1), (2, ORDER2)])
def test_seed_npy_output(jaccli, seed_csv, order, expected):
    result = jaccli("batch-jacobian", "x*x*x", seed_csv, "--dtype", "float32", "-k", order, "-f", "npy")
    assert result.exit_code == 0 and result.stderr == ""
    array = load_npy(result.stdout_bytes)
    assert array.dtype == np.float32
    np.testing.assert_array_equal(array, expected)


# -- -k / --order ------------------------------------------------------------------------------------------------------

def test_order_three_is_the_constant_sixth(jaccli, seed_csv):
    array = load_npy(jaccli("batch-jacobian", "x*x*x", seed_csv, "-k", "3", "-f", "npy").stdout_bytes)
    expected = np.zeros((2, 2, 2, 2, 2))
    expected[:, 0, 0, 0, 0] = expected[:, 1, 1, 1, 1] = 6
    np.testing.assert_array_equal(array, expected)


@pytest.mark.parametrize("unconnected", ["none", "zero"])
def test_order_past_the_polynomial_degree_is_zeros_never_none(jaccli, seed_csv, unconnected):
    result = jaccli("batch-jacobian", "x*x*x", seed_csv, "-k", "4", "-f", "json", "--unconnected", unconnected)
    document = json.loads(result.stdout)
    assert document["shape"] == [2, 2, 2, 2, 2, 2] and document["order"] == 4
    assert np.array(document["data"]).shape == (2, 2, 2, 2, 2, 2) and not np.any(document["data"])


# -- --wrt -------------------------------------------------------------------------------------------------------------

def test_wrt_selects_an_npz_array(jaccli, tmp_path):
    path = tmp_path / "in.npz"
    np.savez(path, x=np.array([[1.0, 2.0], [3.0, 4.0]]), y=np.array([5.0, 6.0]), c=np.float64(3))
    by_x = json.loads(jaccli("batch-jacobian", "x*y*c", path, "-f", "json").stdout)
    assert by_x["data"] == [[[15.0, 0.0], [0.0, 15.0]], [[18.0, 0.0], [0.0, 18.0]]]
    by_y = json.loads(jaccli("batch-jacobian", "x*y*c", path, "--wrt", "y", "-f", "json").stdout)
    assert (by_y["shape"], by_y["layout"], by_y["data"]) == ([2, 2], ["batch", "target.0"], [[3.0, 6.0], [9.0, 12.0]])


def test_wrt_selects_a_json_object_member_from_stdin(jaccli):
    document = '{"x": [[1, 2], [3, 4]], "y": [5, 6]}'
    result = jaccli("batch-jacobian", "x*y", "--input-format", "json", "--wrt", "y", "-f", "json", input=document)
    assert result.stdout == ('{"shape": [2, 2], "dtype": "float64", "order": 1, "layout": ["batch", "target.0"], '
                             '"data": [[1.0, 2.0], [3.0, 4.0]]}\n')


def test_wrt_a_csv_header_column_is_a_scalar_source(jaccli, polar_csv):
    result = jaccli("batch-jacobian", "r*theta", polar_csv, "--wrt", "r", "-f", "json")
    assert result.stdout == ('{"shape": [2], "dtype": "float64", "order": 1, "layout": ["batch"], '
                             '"data": [0.0, 1.5707963267948966]}\n')
    text = jaccli("batch-jacobian", "r*theta", polar_csv, "--wrt", "theta")
    assert text.stdout == "Tensor([1. 2.], shape=(2,), dtype=float64)\n"


@pytest.mark.parametrize("wrt, fragments", [
    ("z", ["--wrt z", "no array named 'z'"]),
    ("c", ["--wrt c", "constant"]),
])
def test_wrt_must_name_an_input_array(jaccli, tmp_path, wrt, fragments):
    path = tmp_path / "in.npz"
    np.savez(path, x=np.ones((2, 2)), y=np.ones(2), c=np.float64(3))
    assert_error(jaccli("batch-jacobian", "x*y", path, "--wrt", wrt), 2, *fragments)


def test_wrt_typo_on_a_csv_header_is_refused(jaccli, polar_csv):
    # Once a bug: a --wrt name that was no column silently watched the whole row (exit 0).
    result = jaccli("batch-jacobian", "r*theta", polar_csv, "--wrt", "thetta")
    assert_error(result, 2, "--wrt thetta", "no column 'thetta'", "did you mean 'theta'?")


# -- -D / --define -----------------------------------------------------------------------------------------------------

def test_define_constants(jaccli, seed_csv):
    result = jaccli("batch-jacobian", "a*x + b", seed_csv, "-D", "a=2.5", "--define", "b=-1e-3", "-f", "json")
    assert json.loads(result.stdout)["data"] == [[[2.5, 0.0], [0.0, 2.5]], [[2.5, 0.0], [0.0, 2.5]]]


def test_define_integer_exponent(jaccli, seed_csv):
    result = jaccli("batch-jacobian", "x**n", seed_csv, "-D", "n=3", "--dtype", "float32")
    assert result.stdout == SEED_ORDER1


@pytest.mark.parametrize("defines, fragments", [
    (["a"], ["-D 'a'", "NAME=VALUE"]),
    (["1a=2"], ["-D '1a=2'", "NAME=VALUE"]),
    (["a=abc"], ["-D a='abc'", "not a number"]),
    (["a=1", "a=2"], ["-D a is given twice"]),
    (["x=2"], ["-D 'x'", "clashes"]),
    (["a=nan"], ["-D 'a' is nan", "constants must be finite", "per-example data"]),
    (["a=1e999"], ["overflows"]),
    (["a=__import__('os')"], ["not a number"]),
], ids=["no-equals", "bad-name", "not-a-number", "duplicate", "clash", "nan", "overflow", "injection"])
def test_bad_defines(jaccli, seed_csv, defines, fragments):
    args = [item for d in defines for item in ("-D", d)]
    assert_error(jaccli("batch-jacobian", "a*x", seed_csv, *args), 2, *fragments)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_nonfinite_define_is_refused_even_with_allow_nonfinite(jaccli, seed_csv, value):
    # Once a bug: -D a=nan --allow-nonfinite gave d(a*x)/dx == 0 (SymPy folded nan*x to a constant).
    result = jaccli("batch-jacobian", "a*x", seed_csv, "-D", f"a={value}", "--allow-nonfinite")
    assert_error(result, 2, "-D 'a'", "constants must be finite", "per-example data")


# -- -o / --output: atomic --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_output_file_holds_exactly_what_stdout_would(jaccli, seed_csv, tmp_path, fmt):
    out = tmp_path / f"out.{EXTENSION[fmt]}"
    to_file = jaccli("batch-jacobian", "x*x*x", seed_csv, "-f", fmt, "-o", out)
    assert (to_file.exit_code, to_file.stdout_bytes, to_file.stderr) == (0, b"", "")
    assert out.read_bytes() == jaccli("batch-jacobian", "x*x*x", seed_csv, "-f", fmt).stdout_bytes
    assert not list(tmp_path.glob(".jaccli-*"))


@pytest.fixture
def failing_runs(tmp_path: Path) -> dict[str, tuple[list[str], int, str]]:
    """Runs that fail after (or before) the writer started: args, exit code, message fragment."""
    (tmp_path / "bad_last_row.csv").write_text("".join(f"{i},{i + 1}\n" for i in range(3000)) + "1,zz\n")
    (tmp_path / "zeros.csv").write_text("0,1\n4,0\n")
    return {
        "bad-last-row": (["x*x", str(tmp_path / "bad_last_row.csv"), "--parallel-iterations", "7"], 3,
                         "bad_last_row.csv:3001:3: 'zz' is not a number"),
        "bad-expression": (["x*", str(tmp_path / "zeros.csv")], 2, "invalid syntax"),
        "strict-nonfinite": (["sqrt(x)", str(tmp_path / "zeros.csv"), "--strict"], 4, "non-finite derivative"),
    }


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", ["bad-last-row", "bad-expression", "strict-nonfinite"])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_output_file_is_untouched_on_failure(jaccli, tmp_path, failing_runs, fmt, case, existing):
    args, code, fragment = failing_runs[case]
    out = tmp_path / "result.out"
    if existing:
        out.write_bytes(b"OLD RESULT")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert_error(jaccli("batch-jacobian", *args, "-f", fmt, "-o", out), code, fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no result file, no .jaccli-* temp file
    if existing:
        assert out.read_bytes() == b"OLD RESULT"


def test_stdout_is_empty_when_the_first_chunk_fails(jaccli, failing_runs):
    args, code, fragment = failing_runs["strict-nonfinite"]
    assert_error(jaccli("batch-jacobian", *args, "-f", "csv"), code, fragment)


def test_stdout_keeps_what_was_streamed_before_a_late_failure(jaccli, failing_runs):
    """Standard output streams (issue 6 §2): a late error ends the run; whole chunks already written stay."""
    args, code, fragment = failing_runs["bad-last-row"]
    result = jaccli("batch-jacobian", *args, "-f", "csv")
    assert result.exit_code == code and fragment in result.stderr and "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("Error:")] == [
        line for line in result.stderr.splitlines() if "Error:" in line]
    lines = result.stdout.splitlines()
    assert lines[0] == "J[0][0],J[0][1],J[1][0],J[1][1]"
    rows = lines[1:]
    assert 0 < len(rows) < 3000 and len(rows) % 7 == 0  # whole chunks of --parallel-iterations 7
    assert rows[5] == "10.0,0.0,0.0,12.0"


def test_output_to_a_directory_or_a_missing_directory(jaccli, seed_csv, tmp_path):
    assert_error(jaccli("batch-jacobian", "x", seed_csv, "-o", tmp_path), 2, "is a directory")
    assert_error(jaccli("batch-jacobian", "x", seed_csv, "-o", tmp_path / "no" / "such.txt"), 2, "cannot write")


# -- --input-format ----------------------------------------------------------------------------------------------------

def test_unknown_extension_needs_input_format(jaccli, tmp_path):
    path = tmp_path / "seed.txt"
    path.write_text(SEED_CSV)
    assert_error(jaccli("batch-jacobian", "x*x*x", path), 3, "seed.txt", "--input-format")
    result = jaccli("batch-jacobian", "x*x*x", path, "--input-format", "csv", "--dtype", "float32")
    assert result.stdout == SEED_ORDER1


def test_tsv_by_extension(jaccli, tmp_path):
    path = tmp_path / "seed.tsv"
    path.write_text("4\t2\n1\t3\n")
    assert jaccli("batch-jacobian", "x*x*x", path, "--dtype", "float32").stdout == SEED_ORDER1


def test_stdin_is_sniffed_unless_told(jaccli):
    result = jaccli("batch-jacobian", "x*x*x", "--dtype", "float32", input="\n  [[4,2],[1,3]]")
    assert result.stdout == SEED_ORDER1
    assert_error(jaccli("batch-jacobian", "x", "--input-format", "csv", input="[[4,2],[1,3]]\n"), 3, "<stdin>")
    result = jaccli("batch-jacobian", "x*x*x", "--input-format", "json", "--dtype", "float32", input="[[4,2],[1,3]]")
    assert result.stdout == SEED_ORDER1


def test_stdin_as_npy_and_npz(jaccli):
    data = npy_bytes(np.array([[4, 2], [1, 3]], dtype=np.float32))
    assert jaccli("batch-jacobian", "x*x*x", "-", "--input-format", "npy", input=data).stdout == SEED_ORDER1
    buf = io.BytesIO()
    np.savez(buf, x=np.array([[4.0, 2.0], [1.0, 3.0]], dtype=np.float32), y=np.array([1.0, 2.0], np.float32))
    result = jaccli("batch-jacobian", "x*x*x", "--input-format", "npz", input=buf.getvalue())
    assert result.stdout == SEED_ORDER1


# -- --dtype -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("array, dtype_option, expected", [
    (np.array([[4, 2], [1, 3]], np.float32), "auto", "float32"),
    (np.array([[4, 2], [1, 3]], np.float32), "float64", "float64"),
    (np.array([[4, 2], [1, 3]], np.int32), "auto", "float64"),
    (np.array([[4, 2], [1, 3]], np.int64), "float32", "float32"),
    (np.array([[4, 2], [1, 3]], np.float64), "auto", "float64"),
    (np.array([[4, 2], [1, 3]], np.float64), "float32", "float32"),
])
def test_dtype(jaccli, tmp_path, array, dtype_option, expected):
    path = tmp_path / "in.npy"
    np.save(path, array)
    result = jaccli("batch-jacobian", "x*x*x", path, "--dtype", dtype_option, "-f", "npy")
    out = load_npy(result.stdout_bytes)
    assert out.dtype == np.dtype(expected)
    np.testing.assert_array_equal(out, ORDER1)
    assert json.loads(jaccli("batch-jacobian", "x*x*x", path, "--dtype", dtype_option, "-f", "json").stdout)[
        "dtype"] == expected


@pytest.mark.parametrize("source", ["csv", "json"])
def test_text_formats_and_integers_are_float64(jaccli, tmp_path, source):
    path = tmp_path / f"in.{source}"
    path.write_text(SEED_CSV if source == "csv" else "[[4, 2], [1, 3]]")
    assert json.loads(jaccli("batch-jacobian", "x*x*x", path, "-f", "json").stdout)["dtype"] == "float64"


# -- --unconnected -----------------------------------------------------------------------------------------------------

def test_unconnected_none_text_and_json(jaccli, seed_csv):
    result = jaccli("batch-jacobian", "2*y", seed_csv, "-D", "y=3")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "None\n", "")
    result = jaccli("batch-jacobian", "2*y", seed_csv, "-D", "y=3", "-f", "json")
    assert result.stdout == ('{"shape": [2, 2], "dtype": "float64", "order": 1, "layout": ["batch", "x.0:d1"], '
                             '"data": null}\n')


@pytest.mark.parametrize("fmt", ["csv", "npy"])
def test_unconnected_none_cannot_be_csv_or_npy(jaccli, seed_csv, tmp_path, fmt):
    out = tmp_path / "none.out"
    assert_error(jaccli("batch-jacobian", "2*y", seed_csv, "-D", "y=3", "-f", fmt), 2,
                 f"a None result cannot be written as {fmt}", "--unconnected zero")
    assert_error(jaccli("batch-jacobian", "2*y", seed_csv, "-D", "y=3", "-f", fmt, "-o", out), 2)
    assert not out.exists()


def test_unconnected_zero_gives_zeros_of_the_full_shape(jaccli, seed_csv):
    result = jaccli("batch-jacobian", "[2, 3]", seed_csv, "--unconnected", "zero", "-k", "2", "-f", "npy")
    out = load_npy(result.stdout_bytes)
    assert out.shape == (2, 2, 2, 2) and not out.any()
    text = jaccli("batch-jacobian", "2", seed_csv, "--unconnected", "zero")
    assert text.stdout == "Tensor(\n[[0. 0.]\n [0. 0.]], shape=(2, 2), dtype=float64)\n"


# -- --parallel-iterations and --pfor: bit-identical ------------------------------------------------------------------

@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("fmt", FORMATS)
def test_batching_knobs_never_change_a_byte(jaccli, mixed_csv, fmt, order):
    reference = jaccli("batch-jacobian", MIXED, mixed_csv, "-k", order, "-f", fmt)
    assert reference.exit_code == 0 and reference.stderr == "" and len(reference.stdout_bytes) > 1000
    for knobs in (["--parallel-iterations", "1"], ["--parallel-iterations", "3"], ["--parallel-iterations", "1000"],
                  ["--no-pfor"], ["--pfor"], ["--no-pfor", "--parallel-iterations", "3"]):
        result = jaccli("batch-jacobian", MIXED, mixed_csv, "-k", order, "-f", fmt, *knobs)
        assert result.stdout_bytes == reference.stdout_bytes, knobs


def test_mixed_expression_has_the_documented_shape(jaccli, mixed_csv):
    document = json.loads(jaccli("batch-jacobian", MIXED, mixed_csv, "-k", "2", "-f", "json").stdout)
    assert document["shape"] == [50, 5, 3, 3]
    assert document["layout"] == ["batch", "target.0", "x.0:d1", "x.0:d2"]


# -- --precision -------------------------------------------------------------------------------------------------------

def test_precision(jaccli, seed_csv):
    result = jaccli("batch-jacobian", "sin(x)/3", seed_csv, "--precision", "3")
    assert result.stdout == ("Tensor(\n[[[-0.218  0.   ]\n  [ 0.    -0.139]]\n\n"
                             " [[ 0.18   0.   ]\n  [ 0.    -0.33 ]]], shape=(2, 2, 2), dtype=float64)\n")
    # csv and json: significant digits, each value the shortest text of its rounded value (hand-rounded here)
    result = jaccli("batch-jacobian", "sin(x)/3", seed_csv, "--precision", "3", "-f", "csv")
    assert result.stdout == "J[0][0],J[0][1],J[1][0],J[1][1]\n-0.218,0.0,0.0,-0.139\n0.18,0.0,0.0,-0.33\n"
    result = jaccli("batch-jacobian", "sin(x)/3", seed_csv, "--precision", "1", "-f", "json")
    assert json.loads(result.stdout)["data"] == [[[-0.2, 0.0], [0.0, -0.1]], [[0.2, 0.0], [0.0, -0.3]]]
    # npy keeps every bit, so a precision there is refused rather than ignored; 0 digits mean nothing in csv
    assert_error(jaccli("batch-jacobian", "x", seed_csv, "--precision", "3", "-f", "npy"), 2, "does not apply to npy")
    assert_error(jaccli("batch-jacobian", "x", seed_csv, "--precision", "0", "-f", "csv"), 2, "leaves no digit")


def test_text_is_never_summarised(jaccli, tmp_path):
    path = tmp_path / "many.json"
    path.write_text(json.dumps(list(range(2000))))  # S = (): the result is (2000,), numpy would summarise it
    result = jaccli("batch-jacobian", "x*x", path)
    body = result.stdout[len("Tensor("):result.stdout.index("], shape=(2000,)")]
    assert "..." not in body
    assert [float(v) for v in body.strip("[] \n").split()] == [2.0 * i for i in range(2000)]


# -- --strict and --allow-nonfinite ------------------------------------------------------------------------------------

def test_nonfinite_result_is_kept_and_counted(jaccli):
    result = jaccli("batch-jacobian", "sqrt(x)", "--input-format", "json", "-f", "json", input="[[0, 1], [4, 0]]")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["data"] == [[["inf", 0.0], [0.0, 0.5]], [[0.25, 0.0], [0.0, "inf"]]]
    assert result.stderr == ("warning: 2 of 8 result values are not finite (nan or inf), the first at index (0, 0, 0); "
                             "--strict makes this an error\n")


def test_an_overflowing_sum_is_counted_not_warned_about_by_numpy(jaccli):
    """d/dx of -1e308*(x + x[0]): the first entry sums -1e308 twice (-inf); NumPy's overflow warning stays quiet."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = jaccli("batch-jacobian", "--input-format", "json", "-f", "json", "--", "-dot(1e308, x + x[0])",
                        input="[[1, 2]]")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["data"] == [[["-inf", 0.0], [-1e308, -1e308]]]
    assert result.stderr == ("warning: 1 of 4 result values are not finite (nan or inf), the first at index (0, 0, 0); "
                             "--strict makes this an error\n")


def test_strict_makes_a_nonfinite_result_exit_4(jaccli):
    result = jaccli("batch-jacobian", "sqrt(x)", "--input-format", "json", "--strict", input="[[1, 1], [4, 0]]")
    lines = assert_error(result, 4, "non-finite derivative at index (1, 1, 1)")
    assert lines[-1].startswith("  hint:")


def test_nonfinite_input_needs_allow_nonfinite(jaccli, tmp_path):
    path = tmp_path / "nan.csv"
    path.write_text("1,2\n3,nan\n")
    assert_error(jaccli("batch-jacobian", "x*x", path), 3, "nan.csv:2:3", "--allow-nonfinite")
    result = jaccli("batch-jacobian", "x*x", path, "--allow-nonfinite", "-f", "json")
    assert result.exit_code == 0
    # The nan rule: y[1][1] = nan*nan is nan, so all of its partials are nan, also the one by x[1][0].
    assert json.loads(result.stdout)["data"] == [[[2.0, 0.0], [0.0, 4.0]], [[6.0, 0.0], ["nan", "nan"]]]
    assert result.stderr.startswith("warning: 2 of 8 result values are not finite")


def test_nonfinite_json_input_names_array_and_index(jaccli):
    assert_error(jaccli("batch-jacobian", "x", "--input-format", "json", input="[[1, NaN]]"), 3,
                 "array 'x' index (0, 1)", "--allow-nonfinite")


# -- issue 3: --expect, --rtol/--atol, --verify, --layout --------------------------------------------------------------

def perturb(path: Path, fmt: str) -> None:
    """Change the golden's first value (48) by +0.5 (text: +1, as text prints integers)."""
    if fmt == "npy":
        array = np.load(path)
        array[0, 0, 0] += 0.5
        np.save(path, array)
    elif fmt == "text":
        path.write_text(path.read_text().replace("[[[48.", "[[[49.", 1))
    else:
        path.write_text(path.read_text().replace("48.0", "48.5", 1))


@pytest.mark.parametrize("fmt", FORMATS)
def test_expect_golden_written_by_jaccli(jaccli, seed_csv, tmp_path, fmt):
    golden = tmp_path / f"golden.{EXTENSION[fmt]}"
    assert jaccli("batch-jacobian", "x*x*x", seed_csv, "-f", fmt, "-o", golden).exit_code == 0

    match = jaccli("batch-jacobian", "x*x*x", seed_csv, "--expect", golden)
    assert (match.exit_code, match.stdout) == (0, "")
    assert match.stderr.startswith("match: 8 values within rtol=1e-12, atol=1e-12")

    perturb(golden, fmt)
    mismatch = jaccli("batch-jacobian", "x*x*x", seed_csv, "--expect", golden)
    assert_error(mismatch, 1, "mismatch: 1 of 8 values differ", f"Error: the result differs from {golden}")
    assert "[batch=0, target.0=0, x.0:d1=0]" in mismatch.stderr  # the report names the axes


def test_expect_missing_golden_is_exit_3(jaccli, seed_csv, tmp_path):
    assert_error(jaccli("batch-jacobian", "x*x*x", seed_csv, "--expect", tmp_path / "nope.json"), 3,
                 "nope.json", "No such file")


def test_expect_with_output_still_writes_the_result(jaccli, seed_csv, tmp_path):
    golden, out = tmp_path / "golden.json", tmp_path / "out.json"
    jaccli("batch-jacobian", "x*x*x", seed_csv, "-f", "json", "-o", golden)
    result = jaccli("batch-jacobian", "x*x*x", seed_csv, "-f", "json", "-o", out, "--expect", golden)
    assert (result.exit_code, result.stdout) == (0, "")
    assert out.read_bytes() == golden.read_bytes()


@pytest.mark.parametrize("tolerance, code", [
    ([], 1),
    (["--rtol", "0.05"], 0),
    (["--atol", "1"], 0),
    (["--atol", "0.1"], 1),
    (["--rtol", "0.001", "--atol", "0.4"], 1),
])
def test_expect_tolerances(jaccli, seed_csv, tmp_path, tolerance, code):
    golden = tmp_path / "golden.json"
    jaccli("batch-jacobian", "x*x*x", seed_csv, "-f", "json", "-o", golden)
    perturb(golden, "json")
    result = jaccli("batch-jacobian", "x*x*x", seed_csv, "--expect", golden, *tolerance)
    assert result.exit_code == code, result.stderr
    assert "max abs error 0.5" in result.stderr


def test_expect_a_none_result(jaccli, seed_csv, tmp_path):
    golden = tmp_path / "none.json"
    jaccli("batch-jacobian", "2*y", seed_csv, "-D", "y=3", "-f", "json", "-o", golden)
    result = jaccli("batch-jacobian", "2*y", seed_csv, "-D", "y=3", "--expect", golden)
    assert result.exit_code == 0, result.stderr
    other = jaccli("batch-jacobian", "x*x*x", seed_csv, "--expect", golden)
    assert_error(other, 1)


def test_verify(jaccli, seed_csv):
    result = jaccli("batch-jacobian", "sin(x)*exp(-x**2)", seed_csv, "--verify")
    assert (result.exit_code, result.stdout) == (0, "")
    assert re.fullmatch(r"verify: order 1, 2 rows, 8 values, max rel error \S+ \(tolerance \S+\): ok\n", result.stderr)


def test_verify_at_order_two(jaccli, mixed_csv):
    result = jaccli("batch-jacobian", MIXED, mixed_csv, "-k", "2", "--verify")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("verify: order 2, ") and result.stderr.endswith(": ok\n")


def test_layout_lists_the_axes_on_stderr(jaccli, seed_csv):
    result = jaccli("batch-jacobian", "x*x*x", seed_csv, "-k", "2", "--layout", "--dtype", "float32")
    assert result.stdout == SEED_ORDER2
    assert result.stderr == ("axis 0  batch     size B  examples, never mixed\n"
                             "axis 1  target.0  size 2  y[0..1]\n"
                             "axis 2  x.0:d1    size 2  d/dx[0..1]\n"
                             "axis 3  x.0:d2    size 2  d/dx[0..1]\n")


# -- jaccli compare ----------------------------------------------------------------------------------------------------

@pytest.fixture
def goldens(jaccli, seed_csv, tmp_path) -> dict[str, Path]:
    paths = {}
    for fmt in FORMATS:
        paths[fmt] = tmp_path / f"golden.{EXTENSION[fmt]}"
        jaccli("batch-jacobian", "x*x*x", seed_csv, "-f", fmt, "-o", paths[fmt], "--dtype", "float32")
    return paths


@pytest.mark.parametrize("a, b", [("json", "npy"), ("text", "csv"), ("npy", "text"), ("csv", "json")])
def test_compare_match_across_formats(jaccli, goldens, a, b):
    result = jaccli("compare", goldens[a], goldens[b])
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr.startswith("match: 8 values within rtol=1e-05, atol=1e-06")


def test_compare_mismatch_and_tolerance(jaccli, goldens):
    perturb(goldens["npy"], "npy")
    result = jaccli("compare", goldens["json"], goldens["npy"])
    assert_error(result, 1, "mismatch: 1 of 8 values differ",
                 f"Error: {goldens['npy']} differs from {goldens['json']}", "--rtol/--atol")
    assert jaccli("compare", goldens["json"], goldens["npy"], "--atol", "0.5").exit_code == 0


def test_compare_unreadable_is_exit_3(jaccli, goldens, tmp_path):
    assert_error(jaccli("compare", goldens["json"], tmp_path / "missing.json"), 3, "missing.json")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    assert_error(jaccli("compare", garbage, goldens["json"]), 3, "garbage.json")


# -- jaccli symbolic, jaccli functions ---------------------------------------------------------------------------------

def test_symbolic_seed(jaccli):
    result = jaccli("symbolic", "x*x*x", "--shape", "2")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, "d y[i] / d x[i] = 3*x[i]**2    for i in 0..1\n", "")


def test_symbolic_refuses_input_and_shape_together(jaccli, seed_csv):
    assert_error(jaccli("symbolic", "x*x*x", seed_csv, "--shape", "2"), 2, "either INPUT or --shape")


def test_symbolic_bad_expression_has_a_caret(jaccli):
    lines = assert_error(jaccli("symbolic", "sinn(x)", "--shape", "2"), 2, "did you mean 'sin'")
    assert lines[1:3] == ["  sinn(x)", "  ^^^^"]


def test_functions_lists_every_catalog_row_once(jaccli):
    """One line per catalog row, in its order, none more (tests/test_catalog.py checks what the lines say)."""
    result = jaccli("functions")
    assert result.exit_code == 0 and result.stderr == ""
    listed = [line.split("(", 1)[0] for line in result.stdout.splitlines() if re.match(r"\w+\(", line)]
    assert listed == list(CATALOG)


# -- help, version, usage errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [[], ["batch-jacobian"], ["compare"], ["symbolic"], ["functions"]],
                         ids=["group", "batch-jacobian", "compare", "symbolic", "functions"])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(jaccli, command, flag):
    result = jaccli(*command, flag)
    assert result.exit_code == 0 and result.stderr == ""
    assert "Example:" in result.stdout and "Usage: jaccli" in result.stdout


def test_group_help_lists_every_command(jaccli):
    out = jaccli("--help").stdout
    for command in ("batch-jacobian", "compare", "symbolic", "functions"):
        assert command in out


def test_version(jaccli):
    result = jaccli("--version")
    assert result.exit_code == 0 and result.stdout.startswith("jaccli, version ")


@pytest.mark.parametrize("args, fragment", [
    (["batch-jacobian", "x", "-k", "3-1"], "'-k' / '--order': the range 3-1 is empty (write 1-3)"),
    (["batch-jacobian", "x", "--order", "two"], "'two' is not an order (give k, a list k1,k2 or a range"),
    (["batch-jacobian", "x", "--bogus"], "No such option '--bogus'"),
    (["batch-jacobian", "-x*x", "a.csv"], "goes after '--', the options before it: jaccli batch-jacobian -f csv -- '-x*x'"),
    (["batch-jacobian"], "Missing argument 'EXPRESSION'"),
    (["batch-jacobian", "x", "-f", "xml"], "'xml' is not one of 'text', 'json', 'csv', 'npy'"),
    (["batch-jacobian", "x", "--input-format", "xls"], "'xls' is not one of"),
    (["batch-jacobian", "x", "--dtype", "float16"], "'float16' is not one of"),
    (["batch-jacobian", "x", "--unconnected", "nan"], "'nan' is not one of"),
    (["batch-jacobian", "x", "--parallel-iterations", "0"], "0 is not in the range 1<=x<=2147483647"),
    (["batch-jacobian", "x", "--precision", "-1"], "-1 is not in the range 0<=x<=100"),
    (["batch-jacobian", "x", "-D"], "'-D' requires an argument"),
    (["batch-jacobian", "x", "a.csv", "extra"], "unexpected extra argument"),
    (["compare", "a.json"], "Missing argument 'RESULT'"),
    (["nosuch"], "No such command 'nosuch'"),
])
def test_usage_errors(jaccli, args, fragment):
    lines = assert_error(jaccli(*args, input=SEED_CSV), 2, fragment)
    assert lines[-1].startswith("  hint: see 'jaccli")


# -- real processes ----------------------------------------------------------------------------------------------------

def run_process(argv: list[str], cwd: Path, env_extra: dict[str, str] | None = None,
                stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run(argv, cwd=cwd, env=env, input=stdin, capture_output=True, timeout=60)


@pytest.mark.parametrize("launcher", ["entry-point", "python-m"])
def test_installed_program(seed_csv, tmp_path, launcher):
    if launcher == "entry-point":
        exe = shutil.which("jaccli")
        if exe is None:
            pytest.skip("the jaccli console script is not on PATH")
        argv = [exe]
    else:
        argv = [sys.executable, "-m", "jaccli"]
    done = run_process(argv + ["batch-jacobian", "x*x*x", "--dtype", "float32"], tmp_path, stdin=SEED_CSV.encode())
    assert (done.returncode, done.stdout.decode(), done.stderr) == (0, SEED_ORDER1, b"")
    bad = run_process(argv + ["batch-jacobian", "sinn(x)", str(seed_csv)], tmp_path)
    assert bad.returncode == 2 and bad.stdout == b"" and b"Traceback" not in bad.stderr
    assert bad.stderr.decode().splitlines()[0] == "Error: unknown function 'sinn' (did you mean 'sin'?)"


def test_closed_pipe_ends_quietly(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("".join(f"{i * 0.001},{i * 0.002},{i * 0.003}\n" for i in range(20000)))
    child = subprocess.Popen([sys.executable, "-m", "jaccli", "batch-jacobian", "sin(x)", str(path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    head = child.stdout.read(10)  # like `| head -c 10`
    child.stdout.close()
    stderr = child.stderr.read()
    child.stderr.close()
    assert child.wait(timeout=60) == 0
    assert head == b"Tensor(\n[[" and stderr == b""


def test_output_bytes_do_not_depend_on_the_hash_seed(mixed_csv, tmp_path):
    outputs = set()
    for seed in ("0", "4242"):
        done = run_process([sys.executable, "-m", "jaccli", "batch-jacobian", MIXED, str(mixed_csv), "-k", "2",
                            "-f", "json"], tmp_path, env_extra={"PYTHONHASHSEED": seed})
        assert done.returncode == 0, done.stderr
        outputs.add(done.stdout)
    assert len(outputs) == 1


@pytest.mark.parametrize("name, check", [
    ("out.npy", lambda p: np.load(p).shape == (2, 2, 2)),
    ("out.json", lambda p: json.loads(p.read_text())["shape"] == [2, 2, 2]),
    ("out.csv", lambda p: p.read_text().splitlines()[1] == "48.0,0.0,0.0,12.0"),
    ("out.txt", lambda p: p.read_text().startswith("Tensor(")),
    ("out.dat", lambda p: p.read_text().startswith("Tensor(")),
])
def test_the_output_format_follows_the_o_extension(jaccli, seed_csv, tmp_path, name, check):
    """Without -f, '-o out.npy' writes NPY (a text dump named .npy would only fail later, in np.load)."""
    path = tmp_path / name
    assert jaccli("batch-jacobian", "x*x*x", seed_csv, "-o", path).exit_code == 0
    assert check(path)


def test_an_explicit_format_wins_over_the_o_extension(jaccli, seed_csv, tmp_path):
    path = tmp_path / "out.npy"
    assert jaccli("batch-jacobian", "x*x*x", seed_csv, "-f", "csv", "-o", path).exit_code == 0
    assert path.read_text().startswith("J[0][0],")
