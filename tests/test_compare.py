"""Golden files (issue 3): read back every output format, compare within tolerances, report clearly."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from jaccli.checks.compare import DEFAULT_TOLERANCES, compare
from jaccli.errors import InputError, UsageError
from jaccli.checks.results import Result, read_result, sniff_result_format
from jaccli.io.outputs import write_none, write_tensor

ORDER1 = np.array([[[48, 0], [0, 12]], [[3, 0], [0, 27]]], dtype=np.float32)
LAYOUT = ["batch", "target.0", "x.0:d1"]
EXTENSION = {"text": "txt", "json": "json", "csv": "csv", "npy": "npy"}
FORMATS = tuple(EXTENSION)


def golden(tmp_path: Path, fmt: str, array: np.ndarray, name: str = "golden", **kwargs) -> str:
    """Write ``array`` as jaccli would (``-f fmt -o path``) and return the path."""
    path = tmp_path / f"{name}.{EXTENSION[fmt]}"
    layout = LAYOUT if array.ndim == 3 else ["batch"] + [f"a{i}" for i in range(array.ndim - 1)]
    with open(path, "wb") as file:
        write_tensor(fmt, file, array, order=1, layout=layout, **kwargs)
    return str(path)


def raw(tmp_path: Path, name: str, data: bytes | str) -> str:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def input_error(path: str, fmt: str = "auto") -> InputError:
    with pytest.raises(InputError) as info:
        read_result(path, fmt)
    assert info.value.exit_code == 3
    assert info.value.render().startswith(f"Error: {path}")
    return info.value


# -- reading back what jaccli writes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_every_format(tmp_path, fmt):
    result = read_result(golden(tmp_path, fmt, ORDER1))
    np.testing.assert_array_equal(result.array, ORDER1)
    assert result.shape == (2, 2, 2) and result.fmt == fmt
    assert result.dtype == (np.float64 if fmt == "csv" else np.float32)
    assert result.dtype_known == (fmt != "csv") and result.exact == (fmt != "text")
    assert result.layout == (LAYOUT if fmt == "json" else None)


values64 = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=4, max_side=4),
                      elements=st.floats(allow_nan=True, allow_infinity=True, width=64))


@settings(max_examples=60, deadline=None)
@given(values64, st.sampled_from(["json", "csv", "npy"]))
def test_exact_formats_round_trip_bit_for_bit(tmp_path_factory, array, fmt):
    result = read_result(golden(tmp_path_factory.mktemp("g"), fmt, array))
    np.testing.assert_array_equal(result.array, array)  # nan == nan here; -0.0 == 0.0 too, so check signs
    finite = ~np.isnan(array)  # a NaN's sign bit is not data: json/csv write every NaN as "nan"
    assert np.array_equal(np.signbit(result.array[finite]), np.signbit(array[finite]))


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
                  elements=st.floats(-1e6, 1e6, width=32)), st.sampled_from([None, 3, 12]))
def test_text_round_trips_within_its_precision(tmp_path_factory, array, precision):
    result = read_result(golden(tmp_path_factory.mktemp("g"), "text", array, precision=precision))
    assert result.shape == array.shape and result.dtype == np.float32
    # numpy prints `precision` fraction digits, or `precision` mantissa digits in scientific mode.
    digits = 8 if precision is None else precision
    bound = 0.5 * 10.0 ** -digits * np.maximum(1.0, np.abs(array.astype(np.float64))) * 1.01 + 1e-6 * np.abs(array)
    assert np.all(np.abs(result.array.astype(np.float64) - array) <= bound)


@pytest.mark.parametrize("array", [
    np.array([1.5, -2.0, 3.25]),                                    # (3,): one line, no newline after "Tensor("
    np.array([[np.nan, np.inf, -np.inf, -0.0]]),                    # non-finite tokens
    np.array([[1e-5, 1e10], [-1.2e-05, 3.0]]),                      # scientific notation (1.e+10)
    np.arange(60, dtype=np.float64).reshape(2, 30) / 7,             # rows wrap over several lines
    np.ones((2, 1, 3, 1), dtype=np.float16),
])
def test_text_reads_numpy_print_forms(tmp_path, array):
    result = read_result(golden(tmp_path, "text", array))
    assert result.shape == array.shape and result.dtype == array.dtype
    assert compare(Result.from_array(array), result, rtol=1e-7, atol=1e-8).ok


def test_text_scalar_and_none(tmp_path):
    scalar = read_result(raw(tmp_path, "s.txt", "Tensor(3.0, shape=(), dtype=float64)\n"))
    assert scalar.shape == () and scalar.array == 3.0
    none = read_result(raw(tmp_path, "n.txt", "None\n"))
    assert none.array is None and none.shape is None and not none.dtype_known


def test_csv_scalar_per_example(tmp_path):
    result = read_result(golden(tmp_path, "csv", np.array([1.5, -0.25, np.inf])))
    assert result.shape == (3,)
    np.testing.assert_array_equal(result.array, [1.5, -0.25, np.inf])


def test_json_none_keeps_shape_dtype_and_layout(tmp_path):
    path = tmp_path / "none.json"
    with open(path, "wb") as file:
        write_none("json", file, shape=(2, 3), dtype=np.float32, order=1, layout=["batch", "x.0:d1"])
    result = read_result(str(path))
    assert result.array is None and result.shape == (2, 3) and result.dtype == np.float32
    assert result.layout == ["batch", "x.0:d1"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_extension_is_sniffed(tmp_path, fmt):
    path = Path(golden(tmp_path, fmt, ORDER1))
    renamed = path.rename(tmp_path / "golden.out")
    result = read_result(str(renamed))
    assert result.fmt == fmt
    np.testing.assert_array_equal(result.array, ORDER1)


def test_explicit_format_overrides_extension(tmp_path):
    path = Path(golden(tmp_path, "json", ORDER1)).rename(tmp_path / "golden.csv")
    assert read_result(str(path), "json").layout == LAYOUT
    with pytest.raises(UsageError, match="did you mean 'json'"):
        read_result(str(path), "jsn")


def test_sniff():
    assert sniff_result_format(b"\x93NUMPY\x01\x00") == "npy"
    assert sniff_result_format(b'\n {"shape": []}') == "json"
    assert sniff_result_format(b"Tensor(1.0, shape=(), dtype=float64)") == "text"
    assert sniff_result_format(b"None\n") == "text"
    assert sniff_result_format(b"J[0],J[1]\n1,2\n") == "csv"


# -- comparing --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_matching_and_mismatching_golden_in_every_format(tmp_path, fmt):
    expected = read_result(golden(tmp_path, fmt, ORDER1))
    assert compare(expected, Result.from_array(ORDER1.copy(), layout=LAYOUT)).ok
    changed = ORDER1.copy()
    changed[0, 0, 0] = 48.5
    outcome = compare(expected, Result.from_array(changed, layout=LAYOUT))
    assert not outcome.ok and outcome.mismatches == 1 and outcome.total == 8
    assert outcome.worst == [((0, 0, 0), 48.0, 48.5, 0.5, 0.5 / 48)]
    assert "[batch=0, target.0=0, x.0:d1=0]  expected 48.0  actual 48.5  abs 0.5  rel 0.0104" in outcome.summary()


def test_report_exact_text():
    expected = Result.from_array(ORDER1.astype(np.float64))
    actual = ORDER1.astype(np.float64)
    actual[0, 0, 0], actual[0, 1, 1], actual[1, 0, 1] = 48.5, 12.25, 1e-3
    outcome = compare(expected, Result.from_array(actual))
    assert outcome.summary(LAYOUT) == (
        "mismatch: 3 of 8 values differ (rtol=1e-12, atol=1e-12)\n"
        "  max abs error 0.5, max rel error inf\n"
        "  worst:\n"
        "    [batch=0, target.0=0, x.0:d1=0]  expected 48.0  actual 48.5  abs 0.5  rel 0.0104\n"
        "    [batch=0, target.0=1, x.0:d1=1]  expected 12.0  actual 12.25  abs 0.25  rel 0.0208\n"
        "    [batch=1, target.0=0, x.0:d1=1]  expected 0.0  actual 0.001  abs 0.001  rel inf")
    assert compare(expected, expected).summary() == (
        "match: 8 values within rtol=1e-12, atol=1e-12 (max abs error 0.0, max rel error 0.0)")
    # Without names the index is plain.
    assert "    [0, 0, 0]  expected 48.0" in outcome.summary()


def test_worst_is_five_nonfinite_first():
    expected = np.zeros((1, 20))
    actual = np.arange(1, 21, dtype=np.float64).reshape(1, 20)
    actual[0, 3] = np.nan
    outcome = compare(Result.from_array(expected), Result.from_array(actual))
    assert outcome.mismatches == 20 and outcome.nonfinite_mismatches == 1
    assert [w[0] for w in outcome.worst] == [(0, 3), (0, 19), (0, 18), (0, 17), (0, 16)]
    assert outcome.max_abs == 20.0  # over finite pairs only
    assert "1 of them disagree on nan/inf" in outcome.summary()


def test_cross_format_json_golden_vs_npy_actual(tmp_path):
    data = np.linspace(-3, 3, 12, dtype=np.float64).reshape(2, 3, 2) ** 3
    outcome = compare(read_result(golden(tmp_path, "json", data)), read_result(golden(tmp_path, "npy", data)))
    assert outcome.ok and outcome.max_abs == 0.0


def test_csv_golden_does_not_report_dtype(tmp_path):
    outcome = compare(read_result(golden(tmp_path, "csv", ORDER1)), Result.from_array(ORDER1))
    assert outcome.ok and (outcome.rtol, outcome.atol) == DEFAULT_TOLERANCES["float32"]


def test_dtype_mismatch_float32_json_vs_float64_npy(tmp_path):
    outcome = compare(read_result(golden(tmp_path, "json", ORDER1)),
                      read_result(golden(tmp_path, "npy", ORDER1.astype(np.float64))))
    assert not outcome.ok and outcome.mismatches == 0
    assert (outcome.rtol, outcome.atol) == DEFAULT_TOLERANCES["float32"]  # the less precise dtype
    assert outcome.summary().splitlines() == [
        "mismatch: dtype differs: expected float32, actual float64",
        "  the 8 values agree within rtol=1e-05, atol=1e-06 (max abs error 0.0, max rel error 0.0)"]


def test_values_print_in_their_own_dtype():
    expected = Result.from_array(np.array([0.1], np.float32))
    outcome = compare(expected, Result.from_array(np.array([0.2])))
    assert "expected 0.1  actual 0.2  abs 0.1  rel 1.0" in outcome.summary()  # not 0.10000000149011612


def test_shape_mismatch_compares_no_elements():
    outcome = compare(Result.from_array(ORDER1), Result.from_array(ORDER1[:, 0]))
    assert not outcome.ok and outcome.total == 0 and outcome.worst == []
    assert outcome.summary() == "mismatch: shape differs: expected (2, 2, 2), actual (2, 2)"


@pytest.mark.parametrize("e, a, ok", [
    (np.nan, np.nan, True), (np.nan, 1.0, False), (1.0, np.nan, False),
    (np.inf, np.inf, True), (-np.inf, -np.inf, True), (np.inf, -np.inf, False),
    (np.inf, 1e308, False), (1.7e308, np.inf, False), (np.nan, np.inf, False),
    (1e308, -1e308, False),  # the difference overflows to inf: a mismatch, not a crash
])
def test_nonfinite_rules(e, a, ok):
    outcome = compare(Result.from_array(np.array([e])), Result.from_array(np.array([a])), rtol=1.0, atol=1e300)
    assert outcome.ok is ok and outcome.mismatches == (0 if ok else 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tolerance_edge(dtype):
    # Powers of two keep every step exact: |a - e| = 0.5 = atol + rtol * |e| = 0.25 + 0.125 * 2.
    e = Result.from_array(np.array([2.0], dtype=dtype))
    at_edge = Result.from_array(np.array([2.5], dtype=dtype))
    beyond = Result.from_array(np.array([np.nextafter(dtype(2.5), dtype(3))], dtype=dtype))
    assert compare(e, at_edge, rtol=0.125, atol=0.25).ok
    assert not compare(e, beyond, rtol=0.125, atol=0.25).ok
    below = Result.from_array(np.array([1.5], dtype=dtype))  # symmetric below
    assert compare(e, below, rtol=0.125, atol=0.25).ok


def test_default_tolerances_follow_dtype():
    e64 = Result.from_array(np.array([1.0]))
    assert compare(e64, Result.from_array(np.array([1.0 + 1.5e-12]))).ok
    assert not compare(e64, Result.from_array(np.array([1.0 + 3e-12]))).ok
    e32 = Result.from_array(np.array([1.0], np.float32))
    assert compare(e32, Result.from_array(np.array([1.000009], np.float32))).ok
    assert not compare(e32, Result.from_array(np.array([1.00002], np.float32))).ok


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_bad_tolerance_is_usage_error(bad):
    with pytest.raises(UsageError):
        compare(Result.from_array(ORDER1), Result.from_array(ORDER1), rtol=bad)


def test_none_handling(tmp_path):
    path = tmp_path / "none.json"
    with open(path, "wb") as file:
        write_none("json", file, shape=(2, 2, 2), dtype=np.float32, order=1, layout=LAYOUT)
    none_json = read_result(str(path))
    none_text = read_result(raw(tmp_path, "none.txt", "None\n"))
    assert compare(none_json, none_text).ok and compare(none_text, none_json).ok
    assert compare(none_json, none_text).summary() == (
        "match: both are None results (the target is not connected to the source)")
    assert compare(none_json, Result.from_array(None, shape=(2, 2, 2), dtype=np.float32)).ok
    other = Result.from_array(None, shape=(3, 2, 2), dtype=np.float32)
    assert "both are None results, but of shapes (2, 2, 2)" in compare(none_json, other).summary()
    vs_array = compare(none_json, Result.from_array(ORDER1))
    assert not vs_array.ok and vs_array.summary() == (
        "mismatch: expected is a None result (target not connected to the source), the other is an array of "
        "shape (2, 2, 2)")
    assert not compare(Result.from_array(ORDER1), none_text).ok


def test_text_golden_mismatch_notes_rounding(tmp_path):
    data = np.array([[1 / 3, 2 / 3]])
    expected = read_result(golden(tmp_path, "text", data))
    outcome = compare(expected, Result.from_array(data))
    assert not outcome.ok and "note: a text file is rounded" in outcome.summary()
    assert compare(expected, Result.from_array(data), rtol=1e-7, atol=1e-8).ok


# -- corrupt files ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, content, where, message", [
    ("a.json", '{"shape": [2], "dtype": "float64", "data": [1, 2', ":1:", "not valid JSON"),
    ("a.json", '{"shape": [2, 2], "dtype": "float64", "data": [[1, 2], [3]]}', ": data[1]", "found a list of 1 item"),
    ("a.json", '{"shape": [2], "dtype": "float64", "data": [1, "x"]}', ": data[1]", 'the string "x" is not a number'),
    ("a.json", '{"shape": [2], "dtype": "float64", "data": [1, true]}', ": data[1]", "true is not a number"),
    ("a.json", '{"shape": [1], "dtype": "float64", "data": [NaN]}', "", "NaN is not JSON"),
    ("a.json", '{"shape": [1], "dtype": "float32", "data": [1e300]}', ": data[0]", "does not fit in float32"),
    ("a.json", '{"shape": [1], "dtype": "int32", "data": [1]}', "", "'dtype' must be"),
    ("a.json", '{"shape": [1], "dtype": "float64", "data": [1e400]}', "", "1e400 is out of the float64 range"),
    ("a.json", '{"shape": [2], "dtype": "float64", "data": [0, 1' + "0" * 400 + ']}', ": data[1]", "out of range"),
    ("a.json", '{"shape": [1], "dtype": "float64", "dtat": [1]}', "", "unknown key 'dtat' (did you mean 'data'?)"),
    ("a.json", '{"shape": [1], "shape": [1], "dtype": "float64", "data": [1]}', "", "appears twice"),
    ("a.json", "[" * 100000 + "]" * 100000, "", "nested too deeply"),
    ("a.csv", "J[0],J[1]\n1.5,2\n3,abc\n", ":3:3", "'abc' is not a number"),
    ("a.csv", "J[0],J[1]\n1.5,2\n3\n", ":3:1", "1 cells, but the header has 2"),
    ("a.csv", "J[0],J[0],J[2]\n1,2,3\n", ":1:6", "'J[0]' is not 'J[1]'"),
    ("a.csv", "J[0],J[999999999][999999999]\n1,2\n", ":1:1", "the header has 2 cells"),
    ("a.csv", "J[0],y\n1,2\n", ":1:6", "is not a header cell"),
    ("a.csv", "J[0],J[1]\n", "", "no data rows"),
    ("a.csv", "J[0]\n1_000\n", ":2:1", "is not a number"),
    ("a.txt", "Tensor(\n[[1. 2.]\n [3. x]], shape=(2, 2), dtype=float64)\n", ":3:6", "'x' is not a number"),
    ("a.txt", "Tensor(\n[[1. 2.]\n [3.]], shape=(2, 2), dtype=float64)\n", ":3:5", "expected 2 items"),
    ("a.txt", "Tensor([1. 2.], shape=(2,), dtype=int64)\n", ":1:", "is not float16, float32 or float64"),
    ("a.txt", "Tensor([1. 2.]\n", ":1:1", "expected jaccli's text print"),
    ("a.txt", "Tensor([1. 2.]] 3, shape=(2,), dtype=float64)\n", ":1:15", "after the end"),
])
def test_corrupt_files_are_input_errors_with_location(tmp_path, name, content, where, message):
    path = raw(tmp_path, name, content)
    error = input_error(path)
    assert error.where.startswith(path + where) and message in error.message


def test_npy_lying_header_and_pickles_are_refused(tmp_path):
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((2, 2)))
    good = buffer.getvalue()
    header_end = good.index(b"\n") + 1
    assert "header says shape (2, 2)" in input_error(raw(tmp_path, "e.npy", good[:header_end])).message
    huge = io.BytesIO()  # a header promising ~8 exabytes: refused from the byte count, nothing is allocated
    np.lib.format.write_array_header_1_0(huge, {"descr": "<f8", "fortran_order": False, "shape": (10**9, 10**9)})
    assert "header says" in input_error(raw(tmp_path, "h.npy", huge.getvalue() + b"\0" * 64)).message
    truncated = good[:header_end] + good[header_end:-8]
    assert "holds 24" in input_error(raw(tmp_path, "t.npy", truncated)).message
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert "pickled" in input_error(raw(tmp_path, "p.npy", buffer.getvalue())).message
    buffer = io.BytesIO()
    np.save(buffer, np.arange(3))
    assert "not int64" in input_error(raw(tmp_path, "i.npy", buffer.getvalue())).message
    assert "not supported" in input_error(raw(tmp_path, "g.npy", b"\x93NUMPY garbage")).message


def test_npy_big_endian_and_fortran_order_are_read(tmp_path):
    array = np.asfortranarray(np.arange(6, dtype=">f8").reshape(2, 3))
    buffer = io.BytesIO()
    np.save(buffer, array)
    result = read_result(raw(tmp_path, "b.npy", buffer.getvalue()))
    np.testing.assert_array_equal(result.array, array)
    assert result.dtype == np.float64 and result.dtype.isnative


def test_missing_file_and_bad_utf8(tmp_path):
    missing = str(tmp_path / "missing.json")
    assert "cannot read the file" in input_error(missing).message
    error = input_error(raw(tmp_path, "u.csv", b"J[0]\n1\n\xff\n"))
    assert error.where.endswith("u.csv:3:1") and "0xff" in error.message


def test_json_field_errors_render_as_one_error_line(tmp_path):
    path = raw(tmp_path, "a.json", json.dumps({"shape": [2], "dtype": "float64", "data": [1, [2]]}))
    rendered = input_error(path).render()
    assert rendered.splitlines()[0] == f"Error: {path}: data[1]: a list of 1 item is not a number"


def test_compare_refuses_standard_input_twice(jaccli):
    from conftest import assert_error

    assert_error(jaccli("compare", "-", "-", input="{}"), 2, "standard input can be only one")
