"""CSV/JSON floats through orjson (issue 9 §4): the bytes of 1.0 (``repr(float(str(v)))``), read back bit for bit."""
from __future__ import annotations

import json

import numpy as np
import pytest

from jaccli.io.floats import csv_rows, json_items


def reference(values: np.ndarray) -> list[str]:
    """jaccli 1.0's text: Python's repr of the value's own shortest digits (float32 digits for float32)."""
    return [repr(float(str(v))) if np.isfinite(v) else {"nan": "nan", "inf": "inf", "-inf": "-inf"}[str(v)]
            for v in values]


def bit_patterns(dtype: type, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype is np.float64:
        return rng.integers(0, 2**64, size=n, dtype=np.uint64).view(np.float64)
    return rng.integers(0, 2**32, size=n, dtype=np.uint64).astype(np.uint32).view(np.float32)


def magnitudes(dtype: type, n: int, seed: int) -> np.ndarray:
    """Values spread over every decade, where Python's and orjson's layouts differ (1e-7 .. 1e-4, 1e13 .. 1e17)."""
    rng = np.random.default_rng(seed)
    with np.errstate(over="ignore"):
        return (10.0 ** rng.uniform(-45, 45, n) * rng.choice([-1, 1], n)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("make", [bit_patterns, magnitudes])
def test_csv_cells_are_the_1_0_bytes(dtype, make):
    values = make(dtype, 40_000, 1)
    values[:6] = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e-4], dtype=dtype)
    cells = csv_rows(values.reshape(-1, 4)).decode().replace("\n", ",").rstrip(",").split(",")
    assert cells == reference(values)
    back = np.array([float(c) for c in cells], dtype=dtype)
    assert np.array_equal(back.view(np.uint8), values.view(np.uint8)) or np.isnan(values).any()
    finite = np.isfinite(values)
    assert np.array_equal(back[finite].view(np.uint8), values[finite].view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_json_items_are_json_dumps_of_the_1_0_values(dtype):
    values = magnitudes(dtype, 6_000, 2).reshape(1000, 3, 2)
    values[0, 0, 0], values[5, 1, 1], values[9, 2, 0] = np.nan, np.inf, -np.inf
    words = [float(w) if w not in ("nan", "inf", "-inf") else w for w in reference(values.reshape(-1))]
    expected = json.dumps(np.array(words, dtype=object).reshape(values.shape).tolist())[1:-1]
    assert json_items(values).decode() == expected


def test_rows_without_columns_and_without_rows():
    assert csv_rows(np.zeros((0, 3))) == b""
    assert csv_rows(np.zeros((2, 0))) == b"\n\n"
