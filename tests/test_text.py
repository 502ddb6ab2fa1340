"""Streamed text output (issue 6 §3) is byte for byte NumPy's own ``str()``, for every array and every chunking.

The reference is NumPy itself (``format_text``: ``str(array)`` under default print options, never summarised);
the streaming formatter (``jaccli.io.text``) shares no code with it.
"""
from __future__ import annotations

import io

import numpy as np
import pytest

from jaccli.io import outputs
from jaccli.io.outputs import format_text, make_writer

SHAPES = [(1,), (7,), (40,), (500,), (1, 1), (3, 2), (30, 1), (4, 25), (3, 100), (2, 13), (7, 3, 4), (2, 3, 40),
          (3, 2, 3, 2), (2, 1, 1), (1, 5), (2, 1, 6)]
SPECIALS = [0.0, -0.0, 1.0, -1.0, np.nan, np.inf, -np.inf, 1e-5, 123.25, 5e-324, 1.7976931348623157e308,
            9.9999999996, 99999999.99, 1e-4, 9.999999999996e99, 1e-100, 0.1, 1 / 3, 2.5, 1e16, 67108864.00000001]


def streamed(array: np.ndarray, precision: int | None, chunk: int) -> str:
    out = io.BytesIO()
    writer = make_writer("text", out, precision=precision)
    writer.begin(array.shape[1:], array.dtype, array.shape[0], 1, [])
    for start in range(0, array.shape[0], chunk):
        writer.write_chunk(array[start:start + chunk])
    writer.finish()
    return out.getvalue().decode("ascii")


def sample(rng: np.random.Generator, shape: tuple[int, ...], kind: int) -> np.ndarray:
    """Arrays that exercise every branch: positional/exponent mode, signs, rounding, nan/inf, extremes."""
    with np.errstate(over="ignore"):
        if kind == 0:
            return rng.normal(size=shape)
        if kind == 1:
            return rng.integers(-50, 50, size=shape).astype(float)
        if kind == 2:
            return rng.normal(size=shape) * 10.0 ** int(rng.integers(-12, 12))
        if kind == 3:
            return np.round(rng.normal(size=shape) * 100, int(rng.integers(0, 4)))
        if kind == 4:
            return 10.0 ** rng.uniform(-320, 308, size=shape) * rng.choice([-1, 1], size=shape)
        if kind == 5:
            return rng.uniform(0.5, 300, size=shape)
        if kind == 6:
            return rng.choice(SPECIALS, size=shape)
        array = rng.normal(size=shape)
        array.flat[rng.integers(0, array.size)] = rng.choice([np.nan, np.inf, -np.inf])
        return array


@pytest.fixture(autouse=True)
def always_stream(monkeypatch):
    """Small arrays would go to NumPy's own str(): send every size through the streaming formatter."""
    monkeypatch.setattr(outputs, "SMALL_TEXT_VALUES", 0)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_streamed_text_is_numpys_str(seed, dtype):
    rng = np.random.default_rng(seed)
    for trial in range(64):
        shape = SHAPES[trial % len(SHAPES)]
        with np.errstate(over="ignore"):
            array = sample(rng, shape, (trial // len(SHAPES) + seed) % 8).astype(dtype)
        precision = [None, 0, 3, 12, 17][(trial + seed) % 5]
        chunk = int(rng.integers(1, shape[0] + 1))
        assert streamed(array, precision, chunk) == format_text(array, precision) + "\n", (array, precision)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("precision", [None, 1, 8, 15, 16, 20])
@pytest.mark.parametrize("values", [
    [0.0, -0.0], [np.nan], [np.inf, np.nan], [-np.inf, np.nan], [5e-324, 1.0], [1.7976931348623157e308, 1.0],
    [9.9999999996, 1.0], [99999999.99, 5.0], [67108863.99999999, 99999.9], [9.999999999996e99, 1e-99],
    [1e-310, 5.0], [0.125, 0.375], [2.5, 0.5], [1.1, 2.2], [100.0, 0.1], [1e8, 1.0], [1e6, 1.0],
])
def test_special_values(dtype, precision, values):
    with np.errstate(over="ignore"):
        array = np.array([values] * 3, dtype=dtype)
    for chunk in (1, 2, 3):
        assert streamed(array, precision, chunk) == format_text(array, precision) + "\n"


def test_many_examples_with_wrapped_rows():
    """Rows longer than 75 columns wrap; the value before a break loses its trailing spaces, as in NumPy."""
    rng = np.random.default_rng(7)
    for array in (np.round(rng.uniform(0, 10, size=(300, 17)), 1), rng.uniform(1, 2, size=(2000,)),
                  np.array([[1.5, 2.0] * 20] * 40)):
        assert streamed(array, None, 77) == format_text(array) + "\n"


def test_the_cli_streams_big_text_with_numpys_bytes(jaccli, tmp_path):
    """More values than SMALL_TEXT_VALUES through the CLI, -o and stdout alike."""
    data = np.random.default_rng(0).normal(size=(3000, 2))
    np.save(tmp_path / "x.npy", data)
    result = jaccli("batch-jacobian", "[x[0]*sin(x[1]), x[1]**3]", tmp_path / "x.npy", "--parallel-iterations", 333)
    assert result.exit_code == 0, result.stderr
    jac = jaccli("batch-jacobian", "[x[0]*sin(x[1]), x[1]**3]", tmp_path / "x.npy", "-f", "npy", "-o",
                 tmp_path / "j.npy")
    assert jac.exit_code == 0
    assert result.stdout == format_text(np.load(tmp_path / "j.npy")) + "\n"


def test_the_cli_text_is_the_same_for_every_chunking(jaccli, tmp_path):
    data = np.random.default_rng(1).uniform(-3, 3, size=(2000, 3))
    np.save(tmp_path / "x.npy", data)
    runs = {jaccli("batch-jacobian", "[x[0]*x[1], exp(x[2])/3]", tmp_path / "x.npy", *extra).stdout
            for extra in ([], ["--parallel-iterations", "7"], ["--parallel-iterations", "1999"], ["--no-pfor"])}
    assert len(runs) == 1 and "..." not in runs.pop()
