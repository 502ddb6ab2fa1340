"""textkit.describe_json: how every message names a JSON value, tested directly and through both JSON readers.

The expected words are written out by hand (JSON's own spelling for a scalar, a container by its size), never
computed from the function under test.
"""
from __future__ import annotations

import io
import math

import pytest

from jaccli.checks.results import parse_result
from jaccli.errors import InputError
from jaccli.io.inputs import read_batch
from jaccli.textkit import describe_json, plural


@pytest.mark.parametrize("value, words", [
    (True, "true"), (False, "false"), (None, "null"),
    ([], "a list of 0 items"), ([7], "a list of 1 item"), ([[1, 2], [3, 4]], "a list of 2 items"),
    ({}, "an object"), ({"a": [1] * 1000}, "an object"),
    ("float8", 'the string "float8"'), ("", 'the string ""'), ('say "hi"', r'the string "say \"hi\""'),
    ("1.5", 'the string "1.5"'), ("é" * 30, 'the string "' + "é" * 30 + '"'),
    ("a" * 31, 'the string "' + "a" * 30 + '..."'),
    (0, "0"), (-1, "-1"), (1.0, "1.0"), (-2.5, "-2.5"), (1e300, "1e+300"),
    (math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity"),
    (10**29, "1" + "0" * 29), (10**30, "a 31-digit number"), (-(10**400), "a 401-digit number"),
])
def test_a_json_value_is_named_as_json_spells_it(value, words):
    assert describe_json(value) == words


def test_a_huge_nested_list_is_never_shown():
    deep: list = []
    for _ in range(10_000):
        deep = [deep]
    assert describe_json(deep) == "a list of 1 item"
    assert describe_json([0.5] * 10**6) == "a list of 1000000 items"


def test_plural_counts_one_as_singular():
    assert [plural(n, "number") for n in (0, 1, 2)] == ["0 numbers", "1 number", "2 numbers"]


def _input_error(text: bytes) -> str:
    with pytest.raises(InputError) as info:
        read_batch("-", "json", stdin=io.BytesIO(text))
    return f"{info.value.where}: {info.value.message}"


def _result_error(text: bytes) -> str:
    with pytest.raises(InputError) as info:
        parse_result(text, "r.json")
    return f"{info.value.where}: {info.value.message}"


@pytest.mark.parametrize("text, message", [
    (b"[[1, 2], [3]]", "<stdin>: at [1]: expected a list of 2 numbers, found a list of 1 item"),
    (b"[[1, 2], 3]", "<stdin>: at [1]: expected a list of 2 numbers, found 3.0"),
    (b"[[[1]], [[2], [3]]]", "<stdin>: at [1]: expected a list of 1 list, found a list of 2 items"),
    (b'[1, "2"]', '<stdin>: at [1]: expected a number, found the string "2"'),
    (b"[1, true]", "<stdin>: at [1]: expected a number, found true"),
    (b'"abc"', '<stdin>: the JSON input is the string "abc"'),
    (b"null", "<stdin>: the JSON input is null"),
    (b'{"x": [1], "y": {}}', '<stdin>: at ["y"]: expected a number or a list, found an object'),
])
def test_the_input_reader_names_values_with_it(text, message):
    assert _input_error(text) == message


@pytest.mark.parametrize("text, message", [
    (b"[1]", "r.json: expected an object, found a list of 1 item"),
    (b'{"shape": [1], "dtype": "float8", "data": [1]}',
     "r.json: 'dtype' must be float16, float32 or float64, not the string \"float8\""),
    (b'{"shape": [1], "dtype": "float64", "order": true, "data": [1]}',
     "r.json: 'order' must be a whole number >= 0, not true"),
    (b'{"shape": [1], "dtype": "float64", "order": 1.0, "data": [1]}',
     "r.json: 'order' must be a whole number >= 0, not 1.0"),
    (b'{"shape": [2, 2], "dtype": "float64", "data": [[1, 2], [3]]}',
     "r.json: data[1]: expected a list of 2 (shape (2, 2)), found a list of 1 item"),
    (b'{"shape": [2], "dtype": "float64", "data": [1, "x"]}', 'r.json: data[1]: the string "x" is not a number'),
    (b'{"shape": [2], "dtype": "float64", "data": [1, false]}', "r.json: data[1]: false is not a number"),
    (b'{"shape": [2], "dtype": "float64", "data": [0, 1' + b"0" * 400 + b"]}",
     "r.json: data[1]: a 401-digit number is out of range"),
])
def test_the_result_reader_names_values_with_it(text, message):
    assert _result_error(text) == message
