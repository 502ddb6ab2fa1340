"""jaccli.textkit and jaccli.io.formats: the shared text rules, tested directly and through each reader that uses them.

The expected verdicts are written out by hand from the README's grammar (a Python float literal without
underscores; which non-finite words each reader takes), never computed from the module's own pattern.
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import click
import numpy as np
import pytest

from jaccli.checks.results import parse_result, read_result
from jaccli.checks.results_text import parse_text
from jaccli.checks.several import read_orders
from jaccli.errors import InputError, UsageError
from jaccli.expr.scope import parse_defines
from jaccli.io import formats
from jaccli.io.inputs import read_batch, resolve_format
from jaccli.io.inputs.dialect import is_number
from jaccli.io.outputs import make_writer
from jaccli.io.params import load_param
from jaccli.plan.order_list import parse_orders
from jaccli.textkit import (
    BOM, CSV_NUMBER, DEFINE_NONFINITE, DEFINE_NUMBER, RESULT_NUMBER, NotRectangular, csv_number_bytes, decode_utf8,
    finite_float, label_for, line_column, nested_leaves, refuse_constant, text_start, unique_keys, unravel,
)

# --- the number grammars ----------------------------------------------------------------------------------------

FINITE = ["0", "1", "-1", "+1", "1.", ".5", "-.5", "1.5", "1e5", "1E5", "1e+5", "1.e-5", ".5e3", "007",
          "123456789012345678901234567890"]
NEVER = ["", "1e", "e5", ".", "+", "-", "1.2.3", "1e5.5", "0x10", "1_000", " 1", "1 ", "1,5", "--1", "+-1", "1e--5",
         "nann", "in", "infinit", "inf inity", "one", "١e", "1j", "0b1"]


@pytest.mark.parametrize("text", FINITE)
def test_every_reader_takes_a_finite_decimal(text):
    assert CSV_NUMBER.fullmatch(text) and DEFINE_NUMBER.fullmatch(text) and _result(text)


@pytest.mark.parametrize("text", NEVER)
def test_no_reader_takes_hex_underscores_blanks_or_half_numbers(text):
    assert not CSV_NUMBER.fullmatch(text) and not DEFINE_NUMBER.fullmatch(text) and not _result(text)
    assert not DEFINE_NONFINITE.fullmatch(text)


def _result(text: str) -> bool:
    import re

    return re.fullmatch(RESULT_NUMBER, text) is not None


@pytest.mark.parametrize("text, csv, result", [
    ("nan", True, True), ("inf", True, True), ("-inf", True, True), ("+inf", True, True), ("+nan", True, True),
    ("Infinity", True, False), ("-infinity", True, False), ("INF", True, False), ("NaN", True, False),
    ("nAn", True, False), ("ınf", False, False), ("İnf", False, False),  # only ASCII case folds
])
def test_the_non_finite_words_differ_per_reader(text, csv, result):
    """CSV cells take Python's float() words in any ASCII case; results only what NumPy prints; -D none."""
    assert bool(CSV_NUMBER.fullmatch(text)) is csv
    assert _result(text) is result
    assert not DEFINE_NUMBER.fullmatch(text)
    assert bool(DEFINE_NONFINITE.fullmatch(text)) is csv  # -D recognises them only to refuse them by name


def test_digits_are_ascii_for_every_reader():
    """``float('١')`` is 1.0, but no reader takes a digit that is not ASCII."""
    assert not _result("١٢.٥") and not DEFINE_NUMBER.fullmatch("١٢.٥")
    assert not CSV_NUMBER.fullmatch("١٢.٥") and not is_number("١٢")
    with pytest.raises(UsageError, match="not a number"):
        parse_defines(("e=١",))
    for orders in ("١", "0-٢", "1,٣"):
        with pytest.raises(UsageError, match="is not an order"):
            parse_orders(orders)


def test_an_npz_member_order_is_ascii_digits(tmp_path):
    path = tmp_path / "orders.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("order١.npy", _npy_of_ones())
    with pytest.raises(InputError, match="unexpected member 'order١.npy'"):
        read_orders(str(path))


def _npy_of_ones() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ones((2, 2)))
    return buffer.getvalue()


def test_csv_number_bytes_are_exactly_the_grammars_alphabet():
    assert set(csv_number_bytes()) == set(b"0123456789+-.eEnaiftyNAIFTY")
    for text in FINITE + ["nan", "-Infinity", "INF"]:
        assert set(text.encode()) <= set(csv_number_bytes())


def test_readers_use_the_grammars():
    assert is_number(" 1. \t") and is_number("-Infinity") and not is_number("1_000") and not is_number("0x10")
    assert parse_defines(("a=1", "b=.5", "c=1e5", "d=-2")) == {"a": 1, "b": 0.5, "c": 1e5, "d": -2}
    for bad in ("1e", "0x10", "1_000", "Infinity1", "nan0"):
        with pytest.raises(UsageError, match="not a number"):
            parse_defines((f"a={bad}",))


@pytest.mark.parametrize("text", ["nan", "NaN", "-inf", "+inf", "Infinity", "-nan", "+INFINITY"])
def test_defines_refuse_every_non_finite_spelling_by_name(text):
    with pytest.raises(UsageError, match="constants must be finite"):
        parse_defines((f"a={text}",))


@pytest.mark.parametrize("text", ["2.5", "-inf", "NaN", "1e5", ".5", "1_000", "١", " 3"])
def test_a_param_that_is_a_scalar_is_sent_to_minus_d(text):
    """What -D reads, and what only float() reads (-D then says why not): the user meant a scalar."""
    with pytest.raises(UsageError, match="is a single number"):
        load_param("w", text)


def test_a_csv_cell_with_a_non_ascii_case_fold_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("1,2\n1,ınf\n")
    with pytest.raises(InputError) as info:
        [chunk for chunk in read_batch(str(path), allow_nonfinite=True).chunks(10)]
    assert info.value.where == f"{path}:2:3" and "is not a number" in info.value.message


def test_result_text_takes_the_printed_words_only():
    assert parse_text(b"Tensor([[nan -inf]], shape=(1, 2), dtype=float64)", "r.txt") is not None
    with pytest.raises(InputError, match="'Infinity' is not a number"):
        parse_text(b"Tensor([[1. Infinity]], shape=(1, 2), dtype=float64)", "r.txt")


# --- UTF-8 with positions ---------------------------------------------------------------------------------------

def test_a_bad_byte_is_placed_by_line_and_character_column():
    data = "héllo\nwörld\n€€é x".encode() + b"\xff tail\n"
    with pytest.raises(InputError) as info:
        decode_utf8(data, "f.txt")
    assert info.value.where == "f.txt:3:6"  # after '€€é x': five characters, whatever their byte lengths
    assert info.value.message == "invalid UTF-8 byte 0xff"
    assert info.value.hint == "save the file as UTF-8 (or plain ASCII) text"


def test_a_bom_is_dropped_and_not_a_column():
    assert decode_utf8(BOM + "é\n".encode(), "f") == "é\n"
    with pytest.raises(InputError) as info:
        decode_utf8(BOM + b"ab\n\xc3\xa9\xc3\xa9\ncd\xfe", "f")
    assert info.value.where == "f:3:3"
    with pytest.raises(InputError) as info:
        decode_utf8(BOM + b"ab\xfe", "f")
    assert info.value.where == "f:1:3"


def test_a_line_of_a_file_keeps_its_number_and_its_bom_character():
    assert decode_utf8(BOM + b"1", "f", drop_bom=False) == "\ufeff1"
    with pytest.raises(InputError) as info:
        decode_utf8("é".encode() + b"\x80", "f", first_line=7, drop_bom=False)
    assert info.value.where == "f:7:2"


def test_line_column_counts_bad_bytes_before_the_offset_as_one_character_each():
    assert line_column(b"a\nb\xffc[", 5) == (2, 4)
    assert line_column(b"[", 0, first_line=3) == (3, 1)


def test_every_reader_reports_a_bad_byte_the_same_way(tmp_path, jaccli):
    csv = tmp_path / "d.csv"
    csv.write_bytes(b"a,b\n1,2\n3,4\n5,\xc3\xa9\xff\n")
    with pytest.raises(InputError) as info:
        [chunk for chunk in read_batch(str(csv)).chunks(10)]
    assert info.value.where == f"{csv}:4:4"
    with pytest.raises(InputError) as info:
        read_batch("-", "json", stdin=io.BytesIO(BOM + b'[[1, 2],\n ["\xc3\xa9\xff"]]'))
    assert info.value.where == "<stdin>:2:5"
    with pytest.raises(InputError) as info:
        parse_result(b"J[0]\n1\n\xe2\x82\xac\xff\n", "r.csv")
    assert info.value.where == "r.csv:3:2"
    model = tmp_path / "m.jx"
    model.write_bytes(BOM + b"a = x\nb = a \xff\nb\n")
    result = jaccli("batch-jacobian", f"@{model}", "-", input="1\n")
    assert result.exit_code == 2 and f"{model}:2:7: expression file is not UTF-8 text" in result.stderr


# --- strict JSON hooks --------------------------------------------------------------------------------------------

def test_a_repeated_key_is_an_error_at_any_depth():
    assert json.loads('{"a": {"b": 1}, "c": 2}', object_pairs_hook=unique_keys) == {"a": {"b": 1}, "c": 2}
    with pytest.raises(InputError, match="key 'b' appears twice"):
        json.loads('{"a": {"b": 1, "b": 2}}', object_pairs_hook=unique_keys)


def test_strict_json_refuses_nan_literals_and_overflow():
    with pytest.raises(InputError, match="NaN is not JSON"):
        json.loads("[NaN]", parse_constant=refuse_constant)
    with pytest.raises(InputError, match="1e400 is out of the float64 range"):
        json.loads("[1e400]", parse_float=finite_float)
    assert json.loads("[1.5e300]", parse_float=finite_float) == [1.5e300]


def test_every_json_reader_refuses_a_repeated_key(tmp_path):
    with pytest.raises(InputError, match="appears twice") as info:
        read_batch("-", "json", stdin=io.BytesIO(b'{"x": [1], "x": [2]}'))
    assert info.value.where == "<stdin>"
    with pytest.raises(InputError, match="appears twice"):
        parse_result(b'{"shape": [1], "dtype": "float64", "data": [1], "data": [2]}', "r.json")
    several = tmp_path / "k.json"  # once silently read: the second order1 replaced the first
    one = '{"shape": [1, 1], "dtype": "float64", "data": [[%d]]}'
    several.write_text('{"orders": [1], "dtype": "float64", "order1": %s, "order1": %s}' % (one % 1, one % 2))
    with pytest.raises(InputError, match="key 'order1' appears twice"):
        read_orders(str(several))


# --- the rectangular nested-list walker -----------------------------------------------------------------------------

def test_nested_leaves_reads_the_shape_from_the_first_items():
    assert nested_leaves([[1, 2, 3], [4, 5, 6]]) == ([1, 2, 3, 4, 5, 6], (2, 3))
    assert nested_leaves([[], []]) == ([], (2, 0))
    assert nested_leaves([[[1]], [[2]]], (2, 1, 1)) == ([1, 2], (2, 1, 1))


@pytest.mark.parametrize("value, shape, index, length", [
    ([[1, 2], [3]], None, (1,), 2),  # ragged: the second row is short
    ([[1, 2], [3, 4, 5]], None, (1,), 2),  # or long
    ([[1, 2], 3], None, (1,), 2),  # a number where a list belongs
    ([[[1], [2]], [[3], [4, 5]]], None, (1, 1), 1),  # deeper: the path names both levels
    ([[1, 2]], (1, 3), (0,), 3),  # a given shape
    ({"a": 1}, (1,), (), 1),  # not a list at all
])
def test_a_ragged_list_names_the_first_bad_node(value, shape, index, length):
    with pytest.raises(NotRectangular) as info:
        nested_leaves(value, shape)
    assert info.value.index == index and info.value.length == length


def test_nested_leaves_does_not_recurse():
    deep: list = [1.0]
    for _ in range(20_000):
        deep = [deep]
    leaves, shape = nested_leaves(deep)
    assert leaves == [1.0] and shape == (1,) * 20_001


def test_unravel_is_c_order():
    assert [unravel(i, (2, 3)) for i in range(6)] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert unravel(0, ()) == ()


def test_both_json_readers_place_a_ragged_row():
    with pytest.raises(InputError) as info:
        read_batch("-", "json", stdin=io.BytesIO(b'{"w": [[1, 2], [3]]}'))
    assert info.value.where == '<stdin>: at ["w"][1]' and "expected a list of 2 numbers" in info.value.message
    with pytest.raises(InputError) as info:
        parse_result(b'{"shape": [2, 2], "dtype": "float64", "data": [[1, 2], [3]]}', "r.json")
    assert info.value.where == "r.json: data[1]" and "expected a list of 2 (shape (2, 2))" in info.value.message


# --- labels and formats ---------------------------------------------------------------------------------------------

def test_standard_input_has_one_label():
    assert label_for("-") == "<stdin>" and label_for("data.csv") == "data.csv"


def test_the_format_lists_hang_together():
    from jaccli.cli import cli
    from jaccli.io import inputs, outputs, several

    choices = {(command, p.name): tuple(p.type.choices) for command in ("batch-jacobian", "symbolic", "compare")
               for p in cli.commands[command].params if isinstance(p.type, click.Choice)}
    assert choices[("batch-jacobian", "fmt")] == formats.OUTPUT_FORMATS
    assert choices[("batch-jacobian", "input_format")] == choices[("symbolic", "input_format")] == formats.INPUT_FORMATS
    assert choices[("compare", "fmt_a")] == choices[("compare", "fmt_b")] == formats.COMPARE_FORMATS
    assert inputs.FORMATS is formats.INPUT_FORMATS and outputs.FORMATS is formats.OUTPUT_FORMATS
    assert several.SEVERAL_FORMATS is formats.SEVERAL_FORMATS
    for extensions, names in ((formats.INPUT_EXTENSIONS, formats.INPUT_FORMATS),
                              (formats.OUTPUT_EXTENSIONS, formats.OUTPUT_FORMATS),
                              (formats.RESULT_EXTENSIONS, formats.RESULT_FORMATS)):
        assert set(extensions.values()) <= set(names) and all(e.startswith(".") for e in extensions)
    assert set(formats.RESULT_FORMATS) | {"npz"} == set(formats.COMPARE_FORMATS)
    assert set(formats.PARAM_FORMATS) < set(formats.INPUT_FORMATS)
    for subset in (formats.SEVERAL_FORMATS, formats.ROUNDED_FORMATS, formats.BINARY_FORMATS):
        assert set(subset) < set(formats.OUTPUT_FORMATS)
    assert set(formats.SEVERAL_RESULT_FORMATS) < set(formats.SEVERAL_FORMATS) & set(formats.COMPARE_FORMATS)
    assert formats.PARAM_EXTENSIONS == (".npy", ".json", ".csv", ".tsv")
    with pytest.raises(UsageError) as info:
        load_param("w", "weights.txt")
    assert info.value.hint == "a parameter is a .npy, .json, .csv or .tsv file, or an inline JSON list like [1, 2]"


def test_magic_bytes_are_spelled_once():
    """NPY and ZIP magic live in ``io/inputs/compression``; the readers of inputs and of results import them."""
    from jaccli.checks import results, several
    from jaccli.io.inputs import compression

    assert (compression.NPY_MAGIC, compression.ZIP_MAGIC) == (b"\x93NUMPY", b"PK\x03\x04")
    assert results.NPY_MAGIC is compression.NPY_MAGIC and several.ZIP_MAGIC is compression.ZIP_MAGIC
    package = Path(__file__).resolve().parent.parent / "jaccli"
    spelled = [str(path.relative_to(package)) for path in sorted(package.rglob("*.py"))
               for magic in (r'b"\x93NUMPY"', r'b"PK\x03\x04"') if magic in path.read_text()]
    assert spelled == ["io/inputs/compression.py", "io/inputs/compression.py"]


def test_the_toolkit_and_the_format_lists_load_without_numpy():
    probe = "import jaccli.textkit, jaccli.io.formats, sys; print('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("call, message", [
    (lambda: resolve_format("a.csv", "jsno"), "unknown input format 'jsno' (did you mean 'json'?)"),
    (lambda: make_writer("jsn", io.BytesIO()), "unknown output format 'jsn' (did you mean 'json'?)"),
    (lambda: read_result("a.csv", "npz"), "unknown golden format 'npz'"),
])
def test_an_unknown_format_is_one_error_everywhere(call, message):
    with pytest.raises(UsageError) as info:
        call()
    assert info.value.message.startswith(message) and info.value.hint.startswith("the formats are ")


def test_sniffers_look_past_blanks_and_one_bom():
    assert text_start(b" \r\n" + BOM + b'\n {"a": 1}') == b'{"a": 1}'
    assert text_start(BOM + b"Tensor(") == b"Tensor("
    assert text_start(b"1,2") == b"1,2"
