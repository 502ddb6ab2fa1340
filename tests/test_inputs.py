"""jaccli.io.inputs: every format, the streaming contract, and every input error with its exact ``where``."""
from __future__ import annotations

import inspect
import io
import json
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaccli.errors import InputError, UsageError
from jaccli.io.inputs import ArraySpec, batch_from_arrays, read_batch
from jaccli.io.inputs.csv import CsvOptions, CsvReader
from jaccli.io.inputs.csvfast import fast_rows


def write(tmp_path, name: str, content) -> str:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return str(path)


def values(batch, name: str = "x", n: int = 1000) -> np.ndarray:
    return np.concatenate([chunk[name] for chunk in batch.chunks(n)])


def error_of(path, fmt: str = "auto", **options) -> InputError:
    """The InputError of reading *and* iterating ``path``."""
    with pytest.raises(InputError) as info:
        values(read_batch(path, fmt, **options))
    assert info.value.exit_code == 3
    return info.value


# --- CSV / TSV ----------------------------------------------------------------------------------------------

def test_csv_without_header(tmp_path):
    path = write(tmp_path, "d.csv", "4,2\n1,3\n")
    batch = read_batch(path)
    assert batch.arrays == {"x": ArraySpec((2,), np.dtype("float64"))}
    assert (batch.columns, batch.size, batch.scalars, batch.label) == (None, None, {}, path)
    np.testing.assert_array_equal(values(batch), [[4, 2], [1, 3]])


def test_csv_header_comments_blank_lines_bom_crlf_spaces(tmp_path):
    text = "\ufeff# made by hand\r\n\r\n a , b_2 \r\n  # note\r\n1, 2.5e1\r\n\r\n -3 ,+.5\r\n"
    batch = read_batch(write(tmp_path, "d.csv", text))
    assert batch.columns == ["a", "b_2"]
    np.testing.assert_array_equal(values(batch), [[1, 25], [-3, 0.5]])


def test_tsv_and_tab_extension(tmp_path):
    for name in ("d.tsv", "d.TAB"):
        batch = read_batch(write(tmp_path, name, "p\tq\n1\t 2\n3\t4\n"))
        assert batch.columns == ["p", "q"]
        np.testing.assert_array_equal(values(batch), [[1, 2], [3, 4]])


def test_one_column_csv_is_still_2d(tmp_path):
    batch = read_batch(write(tmp_path, "d.csv", "1\n2\n3\n"))
    assert batch.arrays["x"].event_shape == (1,)
    assert values(batch).shape == (3, 1)


def test_stdin_is_csv_by_default_and_json_on_request():
    batch = read_batch("-", stdin=io.BytesIO(b"a,b\n1,2\n"), single_name="v")
    assert (batch.label, batch.columns) == ("<stdin>", ["a", "b"])
    np.testing.assert_array_equal(values(batch, "v"), [[1, 2]])
    batch = read_batch("-", "json", stdin=io.BytesIO(b"[[1, 2], [3, 4]]"))
    assert batch.size == 2


def test_chunks_reassemble_exactly_and_are_even(tmp_path):
    data = np.arange(20.0).reshape(10, 2)
    lines = [f"{a!r},{b!r}" for a, b in data.tolist()]
    lines.insert(4, "# a comment inside")  # skipped lines do not shorten a chunk
    batch = read_batch(write(tmp_path, "d.csv", "\n".join(lines) + "\n"))
    chunks = batch.chunks(3)
    assert inspect.isgenerator(chunks)
    parts = [chunk["x"] for chunk in chunks]
    assert [len(p) for p in parts] == [3, 3, 3, 1]
    np.testing.assert_array_equal(np.concatenate(parts), data)
    np.testing.assert_array_equal(values(batch, n=4), data)  # a file can be read again


def test_stdin_rows_are_read_progressively():
    class Counted(io.BytesIO):
        handed_out = 0

        def read1(self, n=-1):
            data = super().read1(n)
            Counted.handed_out += len(data)
            return data

    text = b"".join(b"%d,1\n" % i for i in range(200_000))  # ~1.4 MB
    batch = read_batch("-", stdin=Counted(text))
    assert Counted.handed_out <= 1 << 16  # only the head is read eagerly (one read to sniff the format)
    first = next(batch.chunks(10))
    assert len(first["x"]) == 10 and Counted.handed_out <= 1 << 17


CSV_ERRORS = [
    # content, where (after the file name), message
    ("1,2\n3,4,5\n", ":2:5", "expected 2 cells, found 3"),
    ("a,b\n1,2\n3\n", ":3:2", "expected 2 cells, found 1"),
    ("1,2\n3, abc\n", ":2:4", "'abc' is not a number"),
    ("1,2\n1_000,2\n", ":2:1", "'1_000' is not a number"),
    ("1,2\n2,0x10\n", ":2:3", "'0x10' is not a number"),
    ("1,2\n1,\n", ":2:3", "empty cell"),
    ("1,2\n1,2 # why\n", ":2:3", "'2 # why' is not a number"),
    ("1,x\n", ":1:3", "'x' is not a number"),  # numbers and names mixed: a data row, not a header
    ("1,2\n3,nan\n", ":2:3", "'nan' is not a finite number"),
    ("1,2\n-Infinity,1\n", ":2:1", "'-Infinity' is not a finite number"),
    ("a,b\n", "", "header row but no data rows"),
    ("a,b\n# nothing\n\n", "", "header row but no data rows"),
    ("", "", "empty input"),
    ("# only a comment\n\n  \n", "", "empty input"),
    ("a, a\n1,2\n", ":1:4", "column name 'a' appears twice"),
    ("a,,b\n1,2,3\n", ":1:3", "column 2 has no name"),
    (b"1,2\n\xff,2\n", ":2:1", "invalid UTF-8 byte 0xff"),
]


@pytest.mark.parametrize("content, where, message", CSV_ERRORS)
def test_csv_errors(tmp_path, content, where, message):
    path = write(tmp_path, "d.csv", content)
    error = error_of(path)
    assert error.where == path + where and message in error.message


def test_csv_errors_on_stdin_say_stdin():
    with pytest.raises(InputError) as info:
        values(read_batch("-", stdin=io.BytesIO(b"1,2\n3,abc\n")))
    assert info.value.where == "<stdin>:2:3"


def test_csv_nonfinite_allowed(tmp_path):
    batch = read_batch(write(tmp_path, "d.csv", "nan,1\ninf,-INFINITY\n"), allow_nonfinite=True)
    got = values(batch)
    assert np.isnan(got[0, 0]) and got[1, 0] == np.inf and got[1, 1] == -np.inf


_CELL = st.text(alphabet="0123456789+-.eE naiftyNAIFTY\t_x#\"", max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_CELL, min_size=1, max_size=3), min_size=1, max_size=4), st.booleans(),
       st.sampled_from([",", ";", None]), st.sampled_from([[0, 1], [1], [1, 0]]))
def test_fast_path_is_never_more_permissive_than_the_strict_scan(rows, allow_nonfinite, delimiter, picked):
    head = f"0{delimiter or ' '}0\n".encode()
    reader = CsvReader(None, io.BytesIO(head), "<t>", allow_nonfinite, CsvOptions(delimiter=delimiter))
    reader.picked = picked
    block = [(delimiter or " ").join(row).encode() + b"\n" for row in rows]
    fast = fast_rows(block, 2, picked, delimiter, allow_nonfinite)
    try:
        strict = reader._strict_parse(block, 1)
    except InputError:
        assert fast is None
    else:
        assert fast is None or np.array_equal(fast, strict, equal_nan=True)


def test_csv_streaming_memory_stays_near_one_chunk(tmp_path):
    rows = 200_000
    path = write(tmp_path, "big.csv", "a,b\n" + "0.123456,1.234567\n" * rows)
    size = (tmp_path / "big.csv").stat().st_size
    batch = read_batch(path)
    tracemalloc.start()
    try:
        seen = sum(len(chunk["x"]) for chunk in batch.chunks(10_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == rows
    # The whole file as bytes, lines or a float array is >= 3.6 MB; one chunk of 10 000 rows is ~1-1.6 MB (its
    # text, the parser's floats and the array; newer orjson versions allocate their lists through Python's heap).
    assert peak < size / 2, (peak, size)


# --- NPY ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype, chunk_dtype", [("float32", "float32"), ("float16", "float32"),
                                                ("int32", "float64"), ("uint8", "float64"), (">f8", "float64")])
def test_npy_dtypes(tmp_path, dtype, chunk_dtype):
    data = np.arange(6).reshape(3, 2).astype(dtype)
    np.save(tmp_path / "d.npy", data)
    batch = read_batch(str(tmp_path / "d.npy"))
    assert batch.arrays["x"] == ArraySpec((2,), np.dtype(dtype)) and batch.size == 3
    got = values(batch)
    assert got.dtype == np.dtype(chunk_dtype) == batch.arrays["x"].value_dtype
    np.testing.assert_array_equal(got, data)


def test_npy_rank3_rank1_and_fortran_order(tmp_path):
    cube = np.arange(24.0).reshape(2, 3, 4)
    np.save(tmp_path / "c.npy", np.asfortranarray(cube))
    batch = read_batch(str(tmp_path / "c.npy"))
    assert batch.arrays["x"].event_shape == (3, 4)
    parts = [chunk["x"] for chunk in batch.chunks(1)]
    assert all(part.flags.c_contiguous for part in parts)
    np.testing.assert_array_equal(np.concatenate(parts), cube)
    np.save(tmp_path / "v.npy", np.arange(5))
    batch = read_batch(str(tmp_path / "v.npy"))
    assert batch.arrays["x"].event_shape == () and values(batch).shape == (5,)


def test_npy_from_stdin():
    buffer = io.BytesIO()
    np.save(buffer, np.eye(2, dtype=np.float32))
    batch = read_batch("-", "npy", stdin=io.BytesIO(buffer.getvalue()))
    np.testing.assert_array_equal(values(batch), np.eye(2))


def _npy_bytes(array, allow_pickle=False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def _lying_header(shape) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buffer.getvalue()


NPY_ERRORS = [
    (_npy_bytes(np.array([{"a": 1}, None], dtype=object), allow_pickle=True), "pickled/object arrays are refused"),
    (_npy_bytes(np.ones((4, 3)))[:-5], "header says shape (4, 3) = 96 bytes but the file holds 91"),
    (_npy_bytes(np.ones((4, 3))).replace(b"(4, 3)", b"(9, 3)"), "shape (9, 3) = 216 bytes but the file holds 96"),
    (_lying_header((10**12, 3)) + b"16 bytes of data", "shape (1000000000000, 3) = 24000000000000 bytes"),
    (_npy_bytes(np.ones((4, 3))).replace(b"(4, 3)", b"(10**9, 3)"), "the .npy header is malformed"),
    (_npy_bytes(np.array(1.5)), "needs a batch axis"),
    (_npy_bytes(np.ones((0, 3))), "empty input"),
    (_npy_bytes(np.array([True, False])), "booleans are not numbers here"),
    (_npy_bytes(np.array([1j])), "complex numbers are not supported"),
    (_npy_bytes(np.zeros(2, dtype=[("a", "f8"), ("b", "i4")])), "structured dtype"),
    (_npy_bytes(np.array(["a"])), "text arrays are refused"),
    (b"PK\x03\x04 not an npy", "not a .npy file"),
    (b"\x93NUMPY\x02\x00" + (10**9).to_bytes(4, "little") + b"{", "header length 1000000000 is invalid"),
    (_npy_bytes(np.ones((4, 3))).replace(b"(4, 3)", b"(-4, 3)"), "negative dimension"),
    (_npy_bytes(np.ones((4, 3)))[:20], "the .npy header is truncated"),
]


@pytest.mark.parametrize("content, message", NPY_ERRORS)
def test_npy_errors(tmp_path, content, message):
    path = write(tmp_path, "d.npy", content)
    error = error_of(path)
    assert error.where == path and message in error.message


def test_npy_nonfinite_names_the_global_index(tmp_path):
    data = np.zeros((5, 2))
    data[3, 1] = np.nan
    path = write(tmp_path, "d.npy", _npy_bytes(data))
    error = error_of(path)
    assert (error.where, error.message) == (f"{path}: array 'x' index (3, 1)", "nan is not a finite number")
    assert np.isnan(values(read_batch(path, allow_nonfinite=True), n=2)[3, 1])


# --- NPZ ----------------------------------------------------------------------------------------------------

def test_npz_arrays_and_scalars(tmp_path):
    np.savez_compressed(tmp_path / "d.npz", x=np.ones((4, 2), np.float32), w=np.arange(4), c=np.array(2.5))
    batch = read_batch(str(tmp_path / "d.npz"))
    assert batch.arrays == {"x": ArraySpec((2,), np.dtype("float32")), "w": ArraySpec((), np.dtype("int64"))}
    assert (batch.scalars, batch.size, batch.columns) == ({"c": 2.5}, 4, None)
    chunks = list(batch.chunks(3))
    assert [len(c["w"]) for c in chunks] == [3, 1] and chunks[0]["x"].dtype == np.float32


def test_npz_errors(tmp_path):
    path = str(tmp_path / "d.npz")
    np.savez(path, x=np.ones((4, 2)), y=np.ones(3))
    error = error_of(path)
    assert error.where == path and error.message == "arrays 'x' and 'y' have different batch sizes (4 and 3)"
    np.savez(path, x=np.ones(2), o=np.array([None, 1], dtype=object))
    assert error_of(path).where == f"{path}: array 'o'" and "pickled/object" in error_of(path).message
    np.savez(path, **{"x": np.ones(2), "not-a-name": np.ones(2)})
    assert "'not-a-name' is not a valid name" in error_of(path).message
    np.savez(path, x=np.ones(2), c=np.array(np.inf))
    assert error_of(path).where == f"{path}: array 'c'"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", _npy_bytes(np.ones((4, 3)))[:-8])
    assert "header says shape (4, 3) = 96 bytes but the file holds 88" in error_of(path).message
    write(tmp_path, "d.npz", b"not a zip")
    assert "not an .npz file" in error_of(path).message


def test_batch_from_arrays_for_in_memory_data():
    batch = batch_from_arrays("<array>", {"x": np.arange(6).reshape(3, 2), "t": 0.5})
    assert (batch.size, batch.scalars, batch.arrays["x"].event_shape) == (3, {"t": 0.5}, (2,))
    np.testing.assert_array_equal(values(batch, n=2), np.arange(6.0).reshape(3, 2))


# --- JSON ---------------------------------------------------------------------------------------------------

def test_json_array_and_object(tmp_path):
    batch = read_batch(write(tmp_path, "d.json", "[[4, 2], [1, 3.5]]"))
    assert (batch.arrays["x"].event_shape, batch.size) == ((2,), 2)
    np.testing.assert_array_equal(values(batch), [[4, 2], [1, 3.5]])
    batch = read_batch(write(tmp_path, "o.json", '{"x": [1, 2, 3], "y": [[1], [2], [3]], "k": 2}'))
    assert batch.scalars == {"k": 2.0} and batch.arrays["y"].event_shape == (1,)
    assert values(batch, "y").tolist() == [[1], [2], [3]]


def test_deep_json_is_refused_quickly(tmp_path):
    path = write(tmp_path, "d.json", "[" * 100_000)
    start = time.perf_counter()
    error = error_of(path)
    assert time.perf_counter() - start < 1
    assert error.where == f"{path}:1:33" and "nested more than 32 levels" in error.message
    deep_but_fine = "[" * 32 + "1" + "]" * 32
    assert read_batch(write(tmp_path, "ok.json", deep_but_fine)).arrays["x"].event_shape == (1,) * 31


JSON_ERRORS = [
    ("[[1, 2], [3, 4], [5, 6], [7]]", ": at [3]", "expected a list of 2 numbers, found a list of 1 item"),
    ("[[[1, 2]], [[3, 4]], [[5, 6]], [[7, 8], 9]]", ": at [3]", "expected a list of 1 list, found a list of 2 items"),
    ("[[1, true]]", ": at [0][1]", "expected a number, found true"),
    ("[1, null]", ": at [1]", "expected a number, found null"),
    ('[1, "2"]', ": at [1]", 'expected a number, found the string "2"'),
    ('{"x": [1, 2], "y": [[1], [2, 3]]}', ': at ["y"][1]', "expected a list of 1 number, found a list of 2 items"),
    ('{"x": [1, 2], "y": "a"}', ': at ["y"]', "expected a number or a list"),
    ('{"x": [1, 2], "y": [1, 2, 3]}', "", "arrays 'x' and 'y' have different batch sizes (2 and 3)"),
    ('{"x": [1], "x": [2]}', "", "key 'x' appears twice"),
    ('{"lambda": [1]}', "", "array name 'lambda' is a Python keyword"),
    ("[[1, NaN]]", ": array 'x' index (0, 1)", "nan is not a finite number"),
    ("[1, 2,\n 3", ":2:3", "invalid JSON"),
    ("[]", "", "empty input"),
    ("7", "", "needs a batch axis"),
]


@pytest.mark.parametrize("content, where, message", JSON_ERRORS)
def test_json_errors(tmp_path, content, where, message):
    path = write(tmp_path, "d.json", content)
    error = error_of(path)
    assert error.where == path + where and message in error.message


# --- formats and files --------------------------------------------------------------------------------------

def test_format_errors(tmp_path):
    path = write(tmp_path, "d.dat", "1,2\n")
    with pytest.raises(InputError) as info:
        read_batch(path)
    assert info.value.where == path and "--input-format" in info.value.hint
    np.testing.assert_array_equal(values(read_batch(path, "csv")), [[1, 2]])
    with pytest.raises(UsageError) as usage:
        read_batch(path, "jsn")
    assert usage.value.exit_code == 2 and "did you mean 'json'" in usage.value.message
    missing = str(tmp_path / "missing.csv")
    assert "cannot read the input file" in error_of(missing).message
    assert json.loads("[1]") == [1]  # the stdlib json is not shadowed by jaccli.io.inputs.jsonfile


def test_csv_names_that_are_not_identifiers_label_their_columns(tmp_path):
    """R's 'Sepal.Length', a keyword, a space: still columns (x[i] in the expression), with a note each."""
    path = write(tmp_path, "r.csv", '"Sepal.Length",class,"my col"\n1,2,3\n')
    batch = read_batch(path)
    assert batch.columns == ["Sepal.Length", "class", "my col"]
    assert batch.notes == [f"column {n!r} is not a name an expression can use: it is x[{i}]"
                           for i, n in enumerate(batch.columns)]
    np.testing.assert_array_equal(values(batch), [[1, 2, 3]])
