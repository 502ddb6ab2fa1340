"""Expression files (``@FILE``): named values, the Lennard-Jones sample against hand-derived forces and Hessians,
errors at file:line:column with the caret on that line, limits refused in milliseconds."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

import jaccli
from conftest import assert_error
from jaccli.errors import ExpressionError
from jaccli.expr.program import MAX_FILE_BYTES, MAX_FILE_NODES, parse_program

ROOT = Path(__file__).resolve().parent.parent
LJ = ROOT / "samples" / "lj.jx"


# --- Lennard-Jones, by hand: E = sum_{i<j} phi(u), u = |x_i - x_j|**2, phi(u) = 4 (u**-6 - u**-3) -------------------
def _phi1(u):
    return 4 * (-6 * u**-7 + 3 * u**-4)


def _phi2(u):
    return 4 * (42 * u**-8 - 12 * u**-5)


def lj_gradient(x: np.ndarray) -> np.ndarray:
    """dE/dx_i = sum_{j != i} 2 phi'(u_ij) (x_i - x_j)."""
    d = x[:, None, :] - x[None, :, :]
    u = np.sum(d * d, axis=-1)
    np.fill_diagonal(u, 1.0)
    w = 2 * _phi1(u)
    np.fill_diagonal(w, 0.0)
    return np.einsum("ij,ijc->ic", w, d)


def lj_hessian(x: np.ndarray) -> np.ndarray:
    """Block (i, j != i) = -(2 phi'(u) I + 4 phi''(u) d d^T); block (i, i) = minus the sum of its row's blocks."""
    n = len(x)
    h = np.zeros((n, 3, n, 3))
    for i in range(n):
        for j in range(n):
            if i != j:
                d = x[i] - x[j]
                u = d @ d
                block = 2 * _phi1(u) * np.eye(3) + 4 * _phi2(u) * np.outer(d, d)
                h[i, :, j, :] -= block
                h[i, :, i, :] += block
    return h


def test_lj_sample_forces_match_the_hand_derivation(jaccli, tmp_path):
    atoms = np.array(json.loads((ROOT / "samples" / "lj" / "atoms.json").read_text()))
    out = tmp_path / "g.npy"
    result = jaccli("batch-jacobian", f"@{LJ}", ROOT / "samples" / "lj" / "atoms.json", "-f", "npy", "-o", out)
    assert result.exit_code == 0, result.stderr
    np.testing.assert_allclose(np.load(out), np.stack([lj_gradient(a) for a in atoms]), rtol=1e-13, atol=1e-13)


def test_lj_hessian_of_20_atoms_matches_the_hand_derivation():
    """The issue's 20-atom cluster (190 pairs): refused at 10 265 characters as one expression, here 6 lines."""
    rng = np.random.default_rng(4)
    grid = np.stack(np.meshgrid(*[np.arange(3)] * 3, indexing="ij"), -1).reshape(-1, 3)[:20] * 1.1
    x = grid[None] + rng.normal(scale=0.05, size=(6, 20, 3))
    h = jaccli.batch_jacobian(f"@{LJ}", x, 2)
    ref = np.stack([lj_hessian(a) for a in x])
    np.testing.assert_allclose(h, ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    g = jaccli.batch_jacobian(f"@{LJ}", x, 1)
    np.testing.assert_allclose(g, np.stack([lj_gradient(a) for a in x]), rtol=0, atol=1e-13 * np.abs(g).max())


def test_readme_shows_the_sample_file_as_it_is():
    readme = (ROOT / "README.md").read_text()
    assert LJ.read_text() in readme


# --- named values -------------------------------------------------------------------------------------------------
def write(tmp_path: Path, text: str, name: str = "model.jx") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_names_comments_and_multiline_brackets(tmp_path):
    path = write(tmp_path, "# polar coordinates\nr = x[0]  # radius\nt = x[1]\n\nxy = [r * cos(t),\n      r * sin(t)]\nxy\n")
    x = np.array([[2.0, 0.5]])
    got = jaccli.batch_jacobian(f"@{path}", x)
    assert got.tobytes() == jaccli.batch_jacobian("[x[0] * cos(x[1]), x[0] * sin(x[1])]", x).tobytes()


def test_crlf_and_bom_files(tmp_path):
    path = tmp_path / "m.jx"
    path.write_bytes(b"\xef\xbb\xbfa = x * 2\r\nb = a + 1\r\nb * b\r\n")
    np.testing.assert_array_equal(jaccli.batch_jacobian(f"@{path}", np.array([1.0])), [12.0])


def test_tape_shows_the_names(jaccli, tmp_path):
    path = write(tmp_path, "r2 = sum(x**2)\nalias = r2\nsqrt(alias)\n")
    result = jaccli("symbolic", f"@{path}", "--shape", "2", "--tape")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:5] == ["t0: (2,) = name [name=x]", "t1: () = const [value=2]", "t2: (2,) = pow t0 t1",
                         "r2: () = sum t2 [axis=None]", "alias: () = copy r2"]
    assert lines[-2:] == ["d y / d x[0] = x[0]/sqrt(x[0]**2 + x[1]**2)", "d y / d x[1] = x[1]/sqrt(x[0]**2 + x[1]**2)"]


def test_symbolic_prints_the_named_values_first(jaccli):
    result = jaccli("symbolic", f"@{LJ}", "--shape", "3,3")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "d[i,j,k] = x[i,k] - x[j,k]    for i in 0..2, j in 0..2, k in 0..2"
    assert lines[1] == ("r2[i,j] = square(x[i,0] - x[j,0]) + square(x[i,1] - x[j,1]) + square(x[i,2] - x[j,2])"
                        "    for i in 0..2, j in 0..2")
    assert [line.split(" ")[0] for line in lines[2:4]] == ["inv6[i,j]", "energy"]
    assert lines[4].startswith("d energy / d x[i,0] = ")  # the last line names the target


# --- errors at file:line:column -----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, where, message, line, caret", [
    ("a = x\nb = y + a\nb\n", "2:5", "unknown name 'y'", "b = y + a", "    ^"),
    ("a = x\nb = (a +\nb\n", "2:5", "'(' was never closed", "b = (a +", "    ^"),
    ("a = x\na = 2 * x\na\n", "2:1", "'a' is already defined", "a = 2 * x", "^"),
    ("x = 1\nx\n", "1:1", "'x' is an input or constant name", "x = 1", "^"),
    ("sin = x\nsin\n", "1:1", "'sin' is a function name", "sin = x", "^^^"),
    ("a = x\nb = a\n", "2:1", "the last line must be the target expression", "b = a", "^^^^^"),
    ("a = x\na * 2\na\n", "2:1", "only the last line may be a bare expression", "a * 2", "^^^^^"),
    ("a = x\na += 1\na\n", "2:1", "only plain 'name = expression' assignments are allowed", "a += 1", "^^^^^^"),
    ("import os\nx\n", "1:1", "'import' statements are not allowed", "import os", "^^^^^^"),
    ("a, b = x, x\na\n", "1:1", "assign to one plain name", "a, b = x, x", "^^^^"),
    ("a = x.real\na\n", "1:6", "attribute access is not allowed", "a = x.real", "     ^^^^^"),
    ("a = x\n  b = a\nb\n", "2:2", "unexpected indent", "  b = a", " ^"),  # where Python puts it
])
def test_errors_name_the_file_line_and_column(jaccli, tmp_path, text, where, message, line, caret):
    path = write(tmp_path, text)
    result = jaccli("batch-jacobian", f"@{path}", "-", input="1,2\n")
    lines = assert_error(result, 2)
    assert lines[0] == f"Error: {path}:{where}: {message}", lines[0]
    assert lines[1] == f"  {line}" and lines[2].rstrip() == f"  {caret}", "\n".join(lines)


@pytest.mark.parametrize("data, message", [
    (b"", "expression file is empty"),
    (b"# only a comment\n", "has no expression"),
    (b"a = \xff\n", "not UTF-8"),
])
def test_empty_and_undecodable_files(jaccli, tmp_path, data, message):
    path = tmp_path / "m.jx"
    path.write_bytes(data)
    assert_error(jaccli("batch-jacobian", f"@{path}", "-", input="1\n"), 2, message)


def test_missing_file_is_a_usage_error(jaccli):
    assert_error(jaccli("batch-jacobian", "@no/such/model.jx", "-", input="1\n"), 2,
                 "cannot read the expression file", "no/such/model.jx")


# --- limits -------------------------------------------------------------------------------------------------------
def test_files_over_the_byte_limit_are_refused_in_milliseconds(jaccli, tmp_path):
    path = tmp_path / "big.jx"
    path.write_text("a = x\n" * (MAX_FILE_BYTES // 6 + 1) + "a\n")
    start = time.perf_counter()
    result = jaccli("batch-jacobian", f"@{path}", "-", input="1\n")
    assert time.perf_counter() - start < 0.5
    assert_error(result, 2, "too large")


def test_files_over_the_node_limit_are_refused_quickly(tmp_path):
    lines = [f"a{i} = [x, x, x, x, x, x, x, x]" for i in range(MAX_FILE_NODES // 9)] + ["a0"]
    text = "\n".join(lines)
    assert len(text) < MAX_FILE_BYTES
    start = time.perf_counter()
    with pytest.raises(ExpressionError, match=re.escape(f"more than {MAX_FILE_NODES} terms")):
        parse_program(text, "big.jx")
    assert time.perf_counter() - start < 0.5


def test_a_large_file_within_the_limits_parses():
    lines = [f"a{i} = x * {i}" for i in range(5_000)] + ["a4999"]
    program = parse_program("\n".join(lines), "ok.jx")
    assert len(program.assignments) == 5_000


def test_api_reads_expression_files(tmp_path):
    path = write(tmp_path, "y = x ** 3\ny\n")
    np.testing.assert_array_equal(jaccli.batch_jacobian(f"@{path}", np.array([2.0])), [12.0])
    path.write_text("y = x ** 2\ny\n")  # the API re-reads the file: a changed model is never a stale plan
    np.testing.assert_array_equal(jaccli.batch_jacobian(f"@{path}", np.array([2.0])), [4.0])


@pytest.mark.parametrize("text, message", [
    ('a = __import__("os").system("touch pwned")\na\n', "attribute access is not allowed"),
    ("a = (lambda: x)()\na\n", "only a function name can be called"),
    ("a = " + "(" * 300 + "x" + ")" * 300 + "\na\n", "nested too deeply"),
    ("a = 9**9**9**9\na * x\n", "constant power overflows float64"),
])
def test_hostile_files_are_refused_quickly_and_run_nothing(jaccli, tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, text)
    start = time.perf_counter()
    result = jaccli("batch-jacobian", f"@{path}", "-", input="1\n")
    assert time.perf_counter() - start < 2.0
    if message is None:
        assert result.exit_code == 0 and "inf" in result.stdout
    else:
        assert_error(result, 2, message)
    assert not (tmp_path / "pwned").exists()


def test_pickled_parameter_files_are_refused(jaccli, tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert_error(jaccli("batch-jacobian", "sum(w * x)", "-", "-P", f"w={path}", input="1\n"), 3,
                 "pickled/object arrays are refused")
