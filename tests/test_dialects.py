"""Data as people have it (issue 8): CSV dialects, index and label columns, compression, standard input sniffing,
and the vectorised parse against Python's own float().

Files are written as literal bytes, exactly as R, pandas and spreadsheets write them (pandas is not needed); the
expected numbers are typed in by hand.
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import random
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaccli.io.inputs.csv as csv_module

from jaccli.errors import InputError, UsageError
from jaccli.io.inputs import ColumnOptions, CsvOptions, read_batch
from jaccli.io.inputs.compression import sniff_format
from jaccli.io.inputs.csvfast import fast_rows
from jaccli.io.inputs.dialect import detect_delimiter, parse_delimiter, split_line

POLAR = [[1.0, 0.0], [2.0, 0.5], [3.0, 1.5707963267948966]]

# pandas: df.to_csv("p.csv") of a frame with columns r, theta, label and the default RangeIndex
PANDAS = b",r,theta,label\n0,1.0,0.0,east\n1,2.0,0.5,north-east\n2,3.0,1.5707963267948966,north\n"
# R: write.csv(df, "r.csv") quotes the header, the row names and text; numbers are bare
R_CSV = (b'"","r","theta","site"\r\n"1",1,0,"Bergen, NO"\r\n"2",2,0.5,"Lyon ""centre"""\r\n'
         b'"3",3,1.5707963267948966,"Porto"\r\n')


def write(tmp_path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def values(batch, n: int = 1000) -> np.ndarray:
    return np.concatenate([chunk[next(iter(chunk))] for chunk in batch.chunks(n)])


def csv_options(delimiter="auto", columns=None, index_col="auto") -> CsvOptions:
    return CsvOptions(parse_delimiter(delimiter), ColumnOptions(columns, index_col))


# --- dialects ----------------------------------------------------------------------------------------------

def test_pandas_index_and_label_columns_are_skipped_with_notes(tmp_path):
    batch = read_batch(write(tmp_path, "p.csv", PANDAS))
    assert batch.columns == ["r", "theta"]
    assert [note.split(";")[0].split(":")[0] for note in batch.notes] == [
        "skipped the unnamed first column (an index, as pandas writes it)", "skipped column 'label'"]
    np.testing.assert_array_equal(values(batch), POLAR)


def test_r_write_csv_quotes_crlf_and_doubled_quotes(tmp_path):
    batch = read_batch(write(tmp_path, "r.csv", R_CSV))
    assert batch.columns == ["r", "theta"]
    np.testing.assert_array_equal(values(batch), POLAR)


@pytest.mark.parametrize("n", [1, 2, 1000])
def test_chunkings_agree_on_quoted_files(tmp_path, n):
    path = write(tmp_path, "r.csv", R_CSV)
    parts = [chunk["x"] for chunk in read_batch(path).chunks(n)]
    assert [len(p) for p in parts] == [min(n, 3 - i) for i in range(0, 3, n)]
    np.testing.assert_array_equal(np.concatenate(parts), POLAR)


@pytest.mark.parametrize("content, delimiter", [
    (b"r;theta\n1;0\n2;0.5\n3;1.5707963267948966\n", ";"),
    (b"r\ttheta\n1\t0\n2\t0.5\n3\t1.5707963267948966\n", "\t"),
    (b"  r   theta\n 1  0\n2 0.5   \n3\t\t1.5707963267948966\n", None),
    (b"r|theta\n1|0\n2|0.5\n3|1.5707963267948966\n", "|"),
])
def test_detected_delimiters(tmp_path, content, delimiter):
    batch = read_batch(write(tmp_path, "d.csv", content))
    assert batch.columns == ["r", "theta"]
    np.testing.assert_array_equal(values(batch), POLAR)
    given = {None: "whitespace", "\t": "tab"}.get(delimiter, delimiter)
    np.testing.assert_array_equal(values(read_batch(write(tmp_path, "e.csv", content), csv=csv_options(given))),
                                  POLAR)


def test_detection_prefers_the_delimiter_that_makes_numbers():
    assert detect_delimiter(["a;b", "1,5;2,5"]) == ";"  # decimal commas: the cells are then reported
    assert detect_delimiter(["a,b c", "1,2 3"]) == ","
    assert detect_delimiter(["1 2", "3 4"]) is None
    assert detect_delimiter(["1", "2"]) == ","
    assert detect_delimiter(["1,2", "3,4,5"]) == ","  # ragged: the error will say 'expected 2 cells'


def test_split_line_columns_point_at_the_cell_text():
    cells = split_line(' "a" , b,,"c""d"', ",", "f:1")
    assert [(c.text, c.column, c.quoted) for c in cells] == [("a", 2, True), ("b", 8, False), ("", 10, False),
                                                              ('c"d', 11, True)]
    assert [(c.text, c.column) for c in split_line('  1 "x y"\t3 ', None, "f:1")] == [("1", 3), ("x y", 5), ("3", 11)]


@pytest.mark.parametrize("content, where, message", [
    (b'"a","b"\n"1",x"\n', ":2:6", "a quote inside an unquoted cell"),
    (b'"a","b"\n1,"2\n', ":2:3", "a quoted cell is not closed on its line"),
    (b'"a","b"\n1,"2"3\n', ":2:6", "unexpected '3' after a quoted cell"),
    (b'"a","b"\n1,2\n3,"four"\n', ":3:3", "'four' is not a number"),
    (b'"a","b"\n1,2\n3, ""\n', ":3:4", "empty cell"),
    (b'a;b\n1;2\n1,5;2\n', ":3:1", "'1,5' is not a number"),
    (b'a b\n1 2\n3 4 5\n', ":3:5", "expected 2 cells, found 3"),
])
def test_errors_in_quoted_and_other_dialects_name_the_cell(tmp_path, content, where, message):
    path = write(tmp_path, "q.csv", content)
    with pytest.raises(InputError) as info:
        values(read_batch(path))
    assert info.value.where == path + where and message in info.value.message


def test_decimal_comma_hint(tmp_path):
    with pytest.raises(InputError) as info:
        values(read_batch(write(tmp_path, "d.csv", b"a;b\n1;2,5\n")))
    assert "decimal commas" in info.value.hint


def test_delimiter_option_is_checked():
    assert parse_delimiter(";") == ";" and parse_delimiter("tab") == "\t" and parse_delimiter("whitespace") is None
    for bad in ("ab", "1", '"', "."):
        with pytest.raises(UsageError):
            parse_delimiter(bad)


# --- columns -------------------------------------------------------------------------------------------------

def test_columns_pick_and_order_and_ignore_text(tmp_path):
    path = write(tmp_path, "p.csv", PANDAS)
    batch = read_batch(path, csv=csv_options(columns=("theta", "r")))
    assert batch.columns == ["theta", "r"] and batch.notes == []
    np.testing.assert_array_equal(values(batch), [row[::-1] for row in POLAR])


def test_columns_reorder_a_file_of_numbers_only(tmp_path):
    batch = read_batch(write(tmp_path, "d.csv", b"r,theta\n1,0\n2,0.5\n"), csv=csv_options(columns=("theta", "r")))
    assert batch.columns == ["theta", "r"]
    np.testing.assert_array_equal(values(batch), [[0, 1], [0.5, 2]])


def test_a_picked_column_with_text_later_is_an_error_at_its_cell(tmp_path):
    path = write(tmp_path, "d.csv", b"name,a,b\nx,1,2\ny,3,oops\n")
    with pytest.raises(InputError) as info:
        values(read_batch(path))
    assert info.value.where == path + ":3:5" and "'oops' is not a number" in info.value.message
    # the label column itself may hold anything, also a number-looking row
    np.testing.assert_array_equal(values(read_batch(write(tmp_path, "e.csv", b"name,a\nx,1\n7,2\n"))), [[1], [2]])


def test_columns_name_a_headerless_file(tmp_path):
    batch = read_batch(write(tmp_path, "d.csv", b"4,2\n1,3\n"), csv=csv_options(columns=("u", "v")))
    assert batch.columns == ["u", "v"]
    with pytest.raises(UsageError, match="gives 1 names"):
        read_batch(write(tmp_path, "e.csv", b"4,2\n"), csv=csv_options(columns=("u",)))


def test_columns_errors(tmp_path):
    path = write(tmp_path, "p.csv", PANDAS)
    with pytest.raises(UsageError, match="did you mean 'theta'"):
        read_batch(path, csv=csv_options(columns=("r", "thetta")))
    with pytest.raises(UsageError, match="twice"):
        read_batch(path, csv=csv_options(columns=("r", "r")))


def test_index_col_by_name_position_and_none(tmp_path):
    path = write(tmp_path, "d.csv", b"id,a,b\n10,1,2\n11,3,4\n")
    for option in ("id", "0"):
        batch = read_batch(path, csv=csv_options(index_col=option))
        assert batch.columns == ["a", "b"] and batch.notes == []
        np.testing.assert_array_equal(values(batch), [[1, 2], [3, 4]])
    assert read_batch(path).columns == ["id", "a", "b"]  # a named first column is data
    with pytest.raises(InputError, match="column 1 has no name"):
        read_batch(write(tmp_path, "p.csv", PANDAS), csv=csv_options(index_col="none"))
    with pytest.raises(UsageError, match="no such column"):
        read_batch(path, csv=csv_options(index_col="ident"))
    with pytest.raises(UsageError, match="no such column"):  # a position is ASCII digits (textkit); else a name
        read_batch(path, csv=csv_options(index_col="٠"))


def test_columns_on_npy_rows_and_refusals(tmp_path):
    buffer = io.BytesIO()
    np.save(buffer, np.array(POLAR))
    path = write(tmp_path, "p.npy", buffer.getvalue())
    assert read_batch(path, csv=csv_options(columns=("r", "theta"))).columns == ["r", "theta"]
    with pytest.raises(UsageError, match="gives 3 names"):
        read_batch(path, csv=csv_options(columns=("r", "theta", "z")))
    with pytest.raises(UsageError, match="apply to CSV input"):
        read_batch(path, csv=csv_options(delimiter=";"))


# --- compression and standard input ------------------------------------------------------------------------

@pytest.mark.parametrize("extension, compress", [(".gz", gzip.compress), (".bz2", bz2.compress),
                                                 (".xz", lzma.compress)])
def test_compressed_files_by_extension(tmp_path, extension, compress):
    batch = read_batch(write(tmp_path, "p.csv" + extension, compress(PANDAS)))
    assert batch.columns == ["r", "theta"]
    np.testing.assert_array_equal(values(batch, n=2), POLAR)
    np.testing.assert_array_equal(values(batch, n=1), POLAR)  # a compressed file can be read again
    buffer = io.BytesIO()
    np.save(buffer, np.array(POLAR, dtype=np.float32))
    batch = read_batch(write(tmp_path, "p.npy" + extension, compress(buffer.getvalue())))
    np.testing.assert_array_equal(values(batch), np.array(POLAR, dtype=np.float32))
    # and on standard input, by magic bytes
    np.testing.assert_array_equal(values(read_batch("-", stdin=io.BytesIO(compress(PANDAS)))), POLAR)


def test_damaged_compressed_input_is_an_input_error(tmp_path):
    data = gzip.compress(b"a,b\n" + b"1,2\n" * 10_000)
    path = write(tmp_path, "d.csv.gz", data[:len(data) // 2])
    with pytest.raises(InputError) as info:
        values(read_batch(path))
    assert info.value.where == path and "cannot decompress" in info.value.message


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize("content, fmt", [
    (_npy(np.array(POLAR)), "npy"),
    (_npz(x=np.array(POLAR)), "npz"),
    (b"\n  [[1, 0], [2, 0.5], [3, 1.5707963267948966]]", "json"),
    (b'\xef\xbb\xbf{"x": [[1, 0], [2, 0.5], [3, 1.5707963267948966]]}', "json"),
    (b"1,0\n2,0.5\n3,1.5707963267948966\n", "csv"),
    (PANDAS, "csv"),
])
def test_standard_input_is_sniffed(content, fmt):
    assert sniff_format(content[:64]) == fmt
    np.testing.assert_array_equal(values(read_batch("-", stdin=io.BytesIO(content))), POLAR)


def test_input_format_overrides_the_sniffing():
    with pytest.raises(InputError):
        values(read_batch("-", "csv", stdin=io.BytesIO(b"[[1,2],[3,4]]\n")))


# --- the vectorised parse ----------------------------------------------------------------------------------

def _tricky_numbers(count: int) -> list[str]:
    """Decimal strings that stress correct rounding: 17-25 digits, halfway cases, subnormals, extremes, -0."""
    rng = random.Random(8)
    out = ["-0", "0", "-0.0", "5e-324", "2.2250738585072011e-308", "1.7976931348623157e308", "9007199254740993",
           "0.1", "-1e-400", "123456789012345678901234567890", "4.35679e-1", "1E+05", "0.000001", "-7"]
    while len(out) < count:
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 25))).lstrip("0") or "0"
        point = rng.randint(0, len(digits))
        text = digits[:point] + "." + digits[point:] if point < len(digits) and point else digits
        if text.startswith(".") or text.endswith("."):
            text = digits
        exponent = rng.choice(["", f"e{rng.randint(-330, 300)}", f"E+{rng.randint(0, 300)}"])
        out.append(rng.choice(["", "-"]) + text + exponent)
    return out


def test_fast_parse_rounds_exactly_like_python_float():
    numbers = _tricky_numbers(4000)
    numbers = [n for n in numbers if np.isfinite(float(n))]
    rows = [numbers[i:i + 2] for i in range(0, len(numbers) - 1, 2)]
    block = [(",".join(row) + "\n").encode() for row in rows]
    got = fast_rows(block, 2, [0, 1], ",", False)
    assert got is not None
    want = np.array([[float(a), float(b)] for a, b in rows])
    assert np.array_equal(got.view(np.int64), want.view(np.int64))  # bit for bit, signs of zeros included
    picked = fast_rows(block, 2, [1], ",", False)
    assert picked is not None and np.array_equal(picked[:, 0].view(np.int64), want[:, 1].view(np.int64))


def test_fast_parse_declines_rather_than_guesses():
    assert fast_rows([b"1,2\n", b"3\n", b"4,5,6\n"], 2, [0, 1], ",", False) is None  # a short and a long row
    assert fast_rows([b"1,true\n"], 2, [0, 1], ",", False) is None
    assert fast_rows([b"1,nan\n"], 2, [0, 1], ",", False) is None
    assert np.isnan(fast_rows([b"1,nan\n"], 2, [0, 1], ",", True)).any()
    assert fast_rows([b"1\r2,3\n"], 2, [0, 1], ",", False) is None
    assert fast_rows([b"1,0x10\n"], 2, [0, 1], ",", False) is None
    assert fast_rows([b"1,1_0\n"], 2, [0, 1], ",", False) is None
    assert fast_rows([b"1\x0c2 3\n"], 2, [1], None, False) is None
    np.testing.assert_array_equal(fast_rows([b"# c\n", b"\n", b"+1, .5\r\n"], 2, [0, 1], ",", False), [[1, 0.5]])


_FILE_CELL = st.text(alphabet='0123456789-.e naifrt\tx#",;\x0c\r', max_size=6)


def _read_all(data: bytes, n: int):
    try:
        batch = read_batch("-", stdin=io.BytesIO(data))
        return "ok", batch.columns, np.concatenate([chunk["x"] for chunk in batch.chunks(n)])
    except (InputError, UsageError) as exc:
        return "error", exc.where, exc.message


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_FILE_CELL, min_size=1, max_size=4), min_size=1, max_size=6),
       st.sampled_from([",", ";", " ", "\t"]), st.integers(1, 3))
def test_whole_files_read_the_same_with_and_without_the_fast_path(rows, separator, n):
    """The strict scan is the grammar: switching the vectorised parse off must change nothing but speed
    (values bit for bit, or the same error at the same place). Ran with 20,000 examples while developing."""
    data = "\n".join(separator.join(row) for row in rows).encode() + b"\n"
    fast = _read_all(data, n)
    with mock.patch.object(csv_module, "fast_rows", lambda *args: None):
        slow = _read_all(data, n)
    assert fast[:2] == slow[:2]
    if fast[0] == "ok":
        assert np.array_equal(fast[2], slow[2], equal_nan=True)
        assert np.array_equal(np.signbit(fast[2]), np.signbit(slow[2]))
    else:
        assert fast[2] == slow[2]


_QUOTED_CELL = st.one_of(st.text(alphabet='0123456789-.e naf\t"x,;', max_size=6),
                         st.sampled_from(['"1"', '"a,b"', '" 2 "', 'abc', '"q""r"', '1e5', '-0', '""']))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_QUOTED_CELL, min_size=4, max_size=4), min_size=1, max_size=6), st.integers(1, 3),
       st.sampled_from([None, ("b",), ("c", "a"), ("a", "b", "c")]),
       st.sampled_from(["a,b,c,lbl", ",a,b,c", '"","a","b","c"']))
def test_picked_columns_read_the_same_with_and_without_the_fast_path(rows, n, columns, header):
    """As above, with headers, index and label columns, --columns and quoting (5,000 examples while developing:
    found that the csv module accepts a quote inside an unquoted cell, which the grammar refuses)."""
    data = (header + "\n" + "\n".join(",".join(row) for row in rows) + "\n").encode()

    def read(n: int):
        try:
            batch = read_batch("-", stdin=io.BytesIO(data), csv=csv_options(columns=columns))
            return "ok", batch.columns, np.concatenate([chunk["x"] for chunk in batch.chunks(n)]), batch.notes
        except (InputError, UsageError) as exc:
            return "error", exc.where, exc.message, None

    fast = read(n)
    with mock.patch.object(csv_module, "fast_rows", lambda *args: None):
        slow = read(n)
    assert (fast[0], fast[1], fast[3]) == (slow[0], slow[1], slow[3])
    if fast[0] == "ok":
        assert np.array_equal(fast[2], slow[2], equal_nan=True)
        assert np.array_equal(np.signbit(fast[2]), np.signbit(slow[2]))
    else:
        assert fast[2] == slow[2]
