"""Output formats (README "Outputs"); the sinks (``-o``, closed pipes) are tested in test_sink.py."""
from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest

from jaccli.errors import UsageError
import jaccli.io.outputs as outputs_module
from jaccli.io.outputs import FORMATS, format_text, make_writer, write_none, write_tensor

ORDER1 = np.array([[[48, 0], [0, 12]], [[3, 0], [0, 27]]], dtype=np.float32)
ORDER2 = np.array([[[[24, 0], [0, 0]], [[0, 0], [0, 12]]], [[[6, 0], [0, 0]], [[0, 0], [0, 18]]]], dtype=np.float32)

SEED_ORDER1_TEXT = """\
Tensor(
[[[48.  0.]
  [ 0. 12.]]

 [[ 3.  0.]
  [ 0. 27.]]], shape=(2, 2, 2), dtype=float32)
"""


def written(fmt: str, array: np.ndarray, *, chunk: int | None = None, known_batch: bool = True, order: int = 1,
            precision: int | None = None) -> bytes:
    """The bytes a writer produces for ``array``, fed in chunks of ``chunk`` examples (None: all at once)."""
    out = io.BytesIO()
    writer = make_writer(fmt, out, precision=precision)
    layout = ["B"] + [f"A{i}" for i in range(array.ndim - 1)]
    writer.begin(array.shape[1:], array.dtype, array.shape[0] if known_batch else None, order, layout)
    step = chunk or max(1, array.shape[0])
    for start in range(0, array.shape[0], step):
        writer.write_chunk(array[start:start + step])
    writer.finish()
    return out.getvalue()


def strict_json(data: bytes) -> dict:
    """Parse as RFC 8259 JSON: NaN/Infinity literals are refused."""
    def refuse(name: str) -> None:
        raise ValueError(f"non-standard JSON literal {name}")
    return json.loads(data.decode("utf-8"), parse_constant=refuse)


# -- text -------------------------------------------------------------------------------------------------------------

def test_text_seed_order1_byte_for_byte():
    assert written("text", ORDER1) == SEED_ORDER1_TEXT.encode()


def test_text_seed_order2_is_numpy_str_in_the_wrapper():
    expected = "Tensor(\n" + str(ORDER2) + ", shape=(2, 2, 2, 2), dtype=float32)\n"
    assert written("text", ORDER2, order=2).decode() == expected


def test_text_precision():
    array = np.array([[1 / 3, 2 / 3]])
    assert written("text", array, precision=3) == b"Tensor([[0.333 0.667]], shape=(1, 2), dtype=float64)\n"
    assert format_text(array) == "Tensor([[0.33333333 0.66666667]], shape=(1, 2), dtype=float64)"


def test_text_bad_precision_is_a_usage_error():
    with pytest.raises(UsageError):
        format_text(np.zeros(2), precision=-1)


def test_text_is_never_summarised_and_ignores_global_print_options():
    array = np.arange(2000, dtype=np.float64).reshape(1000, 2)
    with np.printoptions(threshold=10, precision=2, linewidth=200):
        text = written("text", array).decode()
    assert "..." not in text
    with np.printoptions(threshold=sys.maxsize):
        assert text == "Tensor(\n" + str(array) + ", shape=(1000, 2), dtype=float64)\n"


@pytest.mark.parametrize("array, expected", [
    (np.array(3.0, dtype=np.float32), "Tensor(3.0, shape=(), dtype=float32)"),
    (np.arange(5, dtype=np.float64), "Tensor([0. 1. 2. 3. 4.], shape=(5,), dtype=float64)"),
    (None, "None"),
])
def test_format_text_scalar_and_rank1(array, expected):
    assert format_text(array) == expected


def test_text_none():
    out = io.BytesIO()
    write_none("text", out, shape=(2, 2), dtype=np.float64, order=1, layout=["B", "S0"])
    assert out.getvalue() == b"None\n"


# -- json -------------------------------------------------------------------------------------------------------------

def test_json_exact_bytes():
    assert written("json", ORDER1) == (
        b'{"shape": [2, 2, 2], "dtype": "float32", "order": 1, "layout": ["B", "A0", "A1"], '
        b'"data": [[[48.0, 0.0], [0.0, 12.0]], [[3.0, 0.0], [0.0, 27.0]]]}\n'
    )


def test_json_equals_json_dumps_of_the_whole_object():
    array = np.random.default_rng(0).normal(size=(4, 3, 2))
    doc = strict_json(written("json", array, chunk=1, order=2))
    assert list(doc) == ["shape", "dtype", "order", "layout", "data"]
    assert doc["shape"] == [4, 3, 2] and doc["dtype"] == "float64" and doc["order"] == 2
    assert np.array_equal(np.array(doc["data"]), array)


def test_json_float32_shortest_round_trip():
    array = np.array([[0.1, 3.0, 1e20, 1e-5, 1e-4, -0.0, 16777216.0, 3.4028235e38]], dtype=np.float32)
    data = written("json", array)
    assert b'"data": [[0.1, 3.0, 1e+20, 1e-05, 0.0001, -0.0, 16777216.0, 3.4028235e+38]]' in data
    assert np.array_equal(np.array(strict_json(data)["data"], dtype=np.float32), array)


def test_float32_text_is_shortest_for_random_bit_patterns():
    bits = np.random.default_rng(1).integers(0, 2**32, size=20000, dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32)
    values = values[np.isfinite(values)].reshape(1, -1)
    cells = written("csv", values).decode().splitlines()[1].split(",")
    for value, cell in zip(values[0], cells):
        assert np.float32(cell) == value
        numpy_digits = str(value).split("e")[0].replace("-", "").replace(".", "").strip("0")
        assert len(cell.split("e")[0].replace("-", "").replace(".", "").strip("0")) <= len(numpy_digits)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_json_non_finite_as_strings(dtype):
    array = np.array([[np.nan, np.inf, -np.inf, 1.5]], dtype=dtype)
    data = written("json", array)
    assert b'"data": [["nan", "inf", "-inf", 1.5]]' in data
    strict_json(data)


def test_json_none():
    out = io.BytesIO()
    write_none("json", out, shape=(3, 2), dtype=np.float32, order=1, layout=["B", "S0"])
    assert out.getvalue() == (
        b'{"shape": [3, 2], "dtype": "float32", "order": 1, "layout": ["B", "S0"], "data": null}\n'
    )
    assert strict_json(out.getvalue())["data"] is None


# -- csv --------------------------------------------------------------------------------------------------------------

def test_csv_header_and_rows():
    assert written("csv", ORDER1) == b"J[0][0],J[0][1],J[1][0],J[1][1]\n48.0,0.0,0.0,12.0\n3.0,0.0,0.0,27.0\n"


def test_csv_scalar_per_example_and_non_finite():
    array = np.array([np.nan, np.inf, -np.inf, 0.1])
    assert written("csv", array) == b"J\nnan\ninf\n-inf\n0.1\n"


def test_csv_streams_chunk_by_chunk():
    out = io.BytesIO()
    writer = make_writer("csv", out)
    writer.begin((2,), np.dtype(np.float64), None, 1, ["B", "S0"])
    assert out.getvalue() == b"J[0],J[1]\n"
    writer.write_chunk(np.array([[1.0, 2.0]]))
    assert out.getvalue() == b"J[0],J[1]\n1.0,2.0\n"
    writer.finish()


@pytest.mark.parametrize("fmt", ["csv", "npy"])
def test_none_cannot_be_csv_or_npy(fmt):
    with pytest.raises(UsageError, match=f"cannot be written as {fmt}"):
        write_none(fmt, io.BytesIO(), shape=(2,), dtype=np.float64, order=1, layout=["B"])


# -- npy --------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("known_batch", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_npy_equals_np_save(known_batch, dtype):
    array = np.random.default_rng(2).normal(size=(7, 3, 2)).astype(dtype)
    expected = io.BytesIO()
    np.save(expected, array)
    assert written("npy", array, chunk=2, known_batch=known_batch) == expected.getvalue()


def test_npy_streams_when_batch_is_known():
    out = io.BytesIO()
    writer = make_writer("npy", out)
    writer.begin((2,), np.dtype(np.float64), 3, 1, ["B", "S0"])
    header = out.getvalue()
    assert header.startswith(b"\x93NUMPY\x01\x00") and b"(3, 2)" in header
    writer.write_chunk(np.ones((1, 2)))
    assert len(out.getvalue()) == len(header) + 16


# -- all formats ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("known_batch", [True, False])
def test_bytes_do_not_depend_on_chunking(fmt, known_batch):
    array = np.random.default_rng(3).normal(size=(5, 2, 3)).astype(np.float32)
    array[1, 0, 0] = np.nan
    whole = written(fmt, array, known_batch=known_batch)
    assert written(fmt, array, chunk=1, known_batch=known_batch) == whole
    assert written(fmt, array, chunk=2, known_batch=known_batch) == whole
    assert written(fmt, array, known_batch=known_batch) == whole  # and deterministic


def test_json_with_an_unknown_batch_size_holds_the_data_to_put_shape_first():
    """CSV input streams: B is known only at the end, so the data is held back and "shape" still comes first."""
    assert written("json", ORDER1, known_batch=False) == written("json", ORDER1)


def test_json_too_big_to_hold_puts_shape_last(monkeypatch):
    """Past the hold limit the object streams at once and "shape" follows "data" (README "Outputs")."""
    monkeypatch.setattr(outputs_module, "JSON_HOLD_BYTES", 10)
    data = written("json", ORDER1, known_batch=False)
    assert data == (b'{"dtype": "float32", "order": 1, "layout": ["B", "A0", "A1"], '
                    b'"data": [[[48.0, 0.0], [0.0, 12.0]], [[3.0, 0.0], [0.0, 27.0]]], "shape": [2, 2, 2]}\n')
    assert strict_json(data)["shape"] == [2, 2, 2]


@pytest.mark.parametrize("fmt", FORMATS)
def test_write_tensor_matches_the_streaming_writer(fmt):
    out = io.BytesIO()
    write_tensor(fmt, out, ORDER1, order=1, layout=["B", "A0", "A1"])
    assert out.getvalue() == written(fmt, ORDER1)


def test_wrong_chunk_shape_or_count_is_a_bug():
    writer = make_writer("json", io.BytesIO())
    writer.begin((2,), np.dtype(np.float64), 2, 1, ["B", "S0"])
    with pytest.raises(ValueError):
        writer.write_chunk(np.ones((1, 3)))
    writer.write_chunk(np.ones((1, 2)))
    with pytest.raises(ValueError):
        writer.finish()


def test_unknown_format():
    with pytest.raises(UsageError, match="did you mean 'json'"):
        make_writer("jsno", io.BytesIO())


@pytest.mark.parametrize("fmt", ["text", "json", "csv", "npy", "npz"])
def test_a_target_with_no_elements_is_written_in_every_format(jaccli, seed_csv, tmp_path, fmt):
    """``x[0:0]`` with --unconnected zero: a (2, 0, 2) result, no values, and no crash on zero-byte chunks."""
    out = tmp_path / f"empty.{fmt}"
    result = jaccli("batch-jacobian", "x[0:0]", seed_csv, "--unconnected", "zero", "-f", fmt, "-o", out)
    assert result.exit_code == 0, result.stderr
    if fmt == "npy":
        assert np.load(out).shape == (2, 0, 2)
    elif fmt == "npz":
        assert np.load(out)["order1"].shape == (2, 0, 2)
    elif fmt == "text":
        assert out.read_text() == "Tensor([], shape=(2, 0, 2), dtype=float64)\n"
