"""Output formats (README "Outputs") and the sink (``-o``, closed pipes)."""
from __future__ import annotations

import io
import json
import os
import sys

import numpy as np
import pytest

from jaccli.errors import UsageError
from jaccli.io.outputs import FORMATS, format_text, make_writer, write_none, write_tensor
from jaccli.io.sink import ClosedPipe, Sink, open_sink

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
    whole = written(fmt, array)
    assert written(fmt, array, chunk=1, known_batch=known_batch) == whole
    assert written(fmt, array, chunk=2, known_batch=known_batch) == whole
    assert written(fmt, array) == whole  # and deterministic


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


# -- sink: files ------------------------------------------------------------------------------------------------------

def test_sink_file_commit(tmp_path):
    target = tmp_path / "out.json"
    with open_sink(str(target)) as sink:
        sink.file.write(b"hello")
        assert not target.exists()  # nothing at the path before commit
        sink.commit()
    assert target.read_bytes() == b"hello"
    assert os.listdir(tmp_path) == ["out.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_sink_file_exception_leaves_existing_target_untouched(tmp_path):
    target = tmp_path / "out.csv"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with open_sink(str(target)) as sink:
            sink.file.write(b"new")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_sink_file_without_commit_creates_nothing(tmp_path):
    target = tmp_path / "out.npy"
    with open_sink(str(target)) as sink:
        sink.file.write(b"data")
    assert os.listdir(tmp_path) == []


def test_sink_file_keeps_an_existing_targets_mode(tmp_path):
    target = tmp_path / "secret.txt"
    target.write_bytes(b"old")
    target.chmod(0o600)
    with open_sink(str(target)) as sink:
        sink.file.write(b"new")
        sink.commit()
    assert target.stat().st_mode & 0o777 == 0o600


def test_sink_missing_directory_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot write"):
        open_sink(str(tmp_path / "missing" / "out.txt"))


# -- sink: standard output --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [None, "-"])
def test_sink_stdout_written_only_at_commit(path):
    stdout = io.BytesIO()
    with Sink(path, stdout=stdout) as sink:
        sink.file.write(b"abc")
        assert stdout.getvalue() == b""
        sink.commit()
    assert stdout.getvalue() == b"abc"


def test_sink_stdout_abort_writes_nothing():
    stdout = io.BytesIO()
    with pytest.raises(RuntimeError):
        with Sink(None, stdout=stdout) as sink:
            sink.file.write(b"abc")
            raise RuntimeError("boom")
    assert stdout.getvalue() == b""


def test_sink_stdout_spills_big_outputs_to_disk():
    stdout = io.BytesIO()
    block = b"x" * (1024 * 1024)
    with Sink(None, stdout=stdout) as sink:
        for _ in range(40):  # more than the 32 MiB kept in memory
            sink.file.write(block)
        assert sink.file._rolled  # type: ignore[attr-defined]  # SpooledTemporaryFile moved to a real file
        sink.commit()
    assert len(stdout.getvalue()) == 40 * len(block)


class ClosedPipeStdout(io.RawIOBase):
    """A standard output whose reader has gone away."""

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_sink_closed_pipe_raises_closed_pipe_and_silences():
    silenced = []
    with Sink(None, stdout=ClosedPipeStdout(), on_closed_pipe=lambda: silenced.append(True)) as sink:
        sink.file.write(b"abc")
        with pytest.raises(ClosedPipe):
            sink.commit()
    assert silenced == [True]


def test_sink_closed_pipe_on_injected_stdout_never_touches_the_real_stdout():
    with Sink(None, stdout=ClosedPipeStdout()) as sink:
        sink.file.write(b"abc")
        with pytest.raises(ClosedPipe):
            sink.commit()


def test_sink_real_closed_pipe_ends_quietly():
    """``jaccli ... | head``: in a child process, the real stdout's reader goes away mid-copy."""
    import subprocess

    script = (
        "import sys\n"
        "from jaccli.io.sink import ClosedPipe, Sink\n"
        "try:\n"
        "    with Sink(None) as sink:\n"
        "        sink.file.write(b'x' * 10_000_000)\n"
        "        sink.commit()\n"
        "except ClosedPipe:\n"
        "    print('late output')  # goes to /dev/null: without the redirect this is a BrokenPipeError\n"
        "    sys.exit(0)\n"
        "sys.exit(5)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    assert child.stdout.read(1) == b"x"
    child.stdout.close()  # like `head -c 1` exiting
    assert child.wait(timeout=60) == 0
    assert child.stderr.read() == b""
    child.stderr.close()
