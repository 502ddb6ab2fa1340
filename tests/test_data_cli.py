"""Data as people have it, end to end through the CLI: names in headers and layouts, notes, stdin, precision.

Expected derivatives are hand-derived: for y = [r cos(theta), r sin(theta)], dy/d(r, theta) is
[[cos(theta), -r sin(theta)], [sin(theta), r cos(theta)]], and d2 y[0]/d r d theta = -sin(theta).
"""
from __future__ import annotations

import gzip
import io
import json
import math

import numpy as np

from conftest import assert_error

PANDAS = b",r,theta,label\n0,1.0,0.0,east\n1,2.0,0.5,north-east\n2,3.0,1.5707963267948966,north\n"
POLAR = "[r*cos(theta), r*sin(theta)]"
ROWS = [(1.0, 0.0), (2.0, 0.5), (3.0, 1.5707963267948966)]


def polar_jacobian(r: float, t: float) -> list[float]:
    return [math.cos(t), -r * math.sin(t), math.sin(t), r * math.cos(t)]


def test_pandas_csv_to_named_csv(jaccli, tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(PANDAS)
    result = jaccli("batch-jacobian", POLAR, path, "-f", "csv")
    assert result.exit_code == 0
    header, *rows = result.stdout.splitlines()
    assert header == "d y[0]/d r,d y[0]/d theta,d y[1]/d r,d y[1]/d theta"
    got = np.array([[float(v) for v in row.split(",")] for row in rows])
    np.testing.assert_allclose(got, [polar_jacobian(*row) for row in ROWS], rtol=1e-15, atol=1e-16)
    assert result.stderr.splitlines() == [
        "note: skipped the unnamed first column (an index, as pandas writes it); --index-col 0 says so and silences "
        "this note",
        "note: skipped column 'label': its first value 'east' is not a number (--columns picks columns)"]
    quiet = jaccli("batch-jacobian", POLAR, path, "-f", "csv", "--index-col", "0", "--columns", "r,theta")
    assert quiet.stderr == "" and quiet.stdout == result.stdout


def test_header_styles_and_layout(jaccli, tmp_path, seed_csv):
    path = tmp_path / "p.csv"
    path.write_bytes(PANDAS)
    index = jaccli("batch-jacobian", POLAR, path, "-f", "csv", "--header", "index").stdout
    assert index.splitlines()[0] == "J[0][0],J[0][1],J[1][0],J[1][1]"
    hessian = jaccli("batch-jacobian", POLAR, path, "-f", "csv", "-k", "2").stdout.splitlines()
    cells = hessian[0].split(",")
    assert cells[:2] == ["d2 y[0]/d r d r", "d2 y[0]/d r d theta"] and len(cells) == 8
    row = [float(v) for v in hessian[2].split(",")]  # example 1: r = 2, theta = 0.5
    assert row[1] == -math.sin(0.5) and row[0] == 0.0
    layout = json.loads(jaccli("batch-jacobian", POLAR, path, "-f", "json", "-k", "2").stdout)["layout"]
    assert layout == ["batch", "target.0", "x.0:d1[r,theta]", "x.0:d2[r,theta]"]
    # no names in the input: the 1.0 header, unless asked
    assert jaccli("batch-jacobian", "x*x*x", seed_csv, "-f", "csv").stdout.startswith("J[0][0],J[0][1],")
    named = jaccli("batch-jacobian", "sum(x*x*x)", seed_csv, "-f", "csv", "--header", "names").stdout
    assert named.splitlines() == ["d y/d x[0],d y/d x[1]", "48.0,12.0", "3.0,27.0"]


def test_npz_member_names_flow_into_the_header(jaccli, tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, pos=np.array([[1.0, 2.0], [3.0, 4.0]]), w=np.array([[2.0, 0.5], [1.0, 1.0]]))
    result = jaccli("batch-jacobian", "dot(w, pos)", path, "--wrt", "pos", "-f", "csv")
    assert result.stdout.splitlines() == ["d y/d pos[0],d y/d pos[1]", "2.0,0.5", "1.0,1.0"]


def test_expect_reports_use_the_names(jaccli, tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(PANDAS)
    golden = tmp_path / "golden.csv"
    assert jaccli("batch-jacobian", POLAR, path, "-f", "csv", "-o", golden).exit_code == 0
    assert jaccli("batch-jacobian", POLAR, path, "--expect", golden).exit_code == 0  # a names header reads back
    lines = golden.read_text().splitlines()
    cells = lines[2].split(",")
    cells[1] = "-0.9"  # d y[0]/d theta of example 1
    lines[2] = ",".join(cells)
    golden.write_text("\n".join(lines) + "\n")
    result = jaccli("batch-jacobian", POLAR, path, "--expect", golden)
    assert result.exit_code == 1
    assert "    [batch=1] d y[0]/d theta  expected -0.9  actual -0.958851077208406" in result.stderr


def test_standard_input_npy_and_gzip(jaccli):
    buffer = io.BytesIO()
    np.save(buffer, np.array([[4, 2], [1, 3]], dtype=np.float32))
    result = jaccli("batch-jacobian", "x*x*x", "-f", "json", input=buffer.getvalue())
    assert json.loads(result.stdout)["data"] == [[[48.0, 0.0], [0.0, 12.0]], [[3.0, 0.0], [0.0, 27.0]]]
    result = jaccli("batch-jacobian", POLAR, "-f", "csv", "--columns", "r,theta", input=gzip.compress(PANDAS))
    assert result.stdout.splitlines()[0] == "d y[0]/d r,d y[0]/d theta,d y[1]/d r,d y[1]/d theta"


def test_whitespace_file_and_delimiter_option(jaccli, tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("r theta\n1 0\n2 0.5\n")
    assert jaccli("batch-jacobian", "r*theta", path, "-f", "csv").stdout == "d y/d r,d y/d theta\n0.0,1.0\n0.5,2.0\n"
    result = jaccli("batch-jacobian", "r*theta", path, "--delimiter", ",")
    assert_error(result, 3, "w.csv:1: no column holds numbers", "--delimiter")
    assert_error(jaccli("batch-jacobian", "x", path, "--delimiter", "ab"), 2, "is not a delimiter")


def test_precision_rounds_csv_to_significant_digits(jaccli, tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(PANDAS)
    rows = jaccli("batch-jacobian", POLAR, path, "-f", "csv", "--precision", "4").stdout.splitlines()[1:]
    expected = [[float(f"{v:.4g}") for v in polar_jacobian(*row)] for row in ROWS]
    got = [[float(v) for v in row.split(",")] for row in rows]
    assert got == expected
    assert rows[0] == "1.0,-0.0,0.0,1.0" and rows[1] == "0.8776,-0.9589,0.4794,1.755"


def test_names_with_several_sources_and_orders(jaccli, tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(PANDAS)
    result = jaccli("batch-jacobian", POLAR, path, "--wrt", "theta,r", "-f", "csv", "--columns", "r,theta")
    header, first, *_ = result.stdout.splitlines()
    assert header == "d y[0]/d theta,d y[0]/d r,d y[1]/d theta,d y[1]/d r"
    assert [float(v) for v in first.split(",")] == [-0.0, 1.0, 1.0, 0.0]  # theta = 0, r = 1: [-r sin, cos, r cos, sin]
    doc = json.loads(jaccli("batch-jacobian", POLAR, path, "-k", "0,1", "-f", "json", "--precision", "3").stdout)
    assert doc["order1"]["layout"] == ["batch", "target.0", "x.0:d1[r,theta]"]
    assert doc["order0"]["data"][1] == [float(f"{2 * math.cos(0.5):.3g}"), float(f"{2 * math.sin(0.5):.3g}")]
    value = jaccli("batch-jacobian", POLAR, path, "-k", "0", "-f", "csv", "--columns", "r,theta").stdout
    assert value.splitlines()[0] == "y[0],y[1]"
    assert_error(jaccli("batch-jacobian", POLAR, path, "-k", "0,1", "-f", "npz", "--precision", "3"), 2,
                 "does not apply to npz")


def test_names_are_the_same_from_the_plan_cache(jaccli, tmp_path, monkeypatch):
    """A warm run loads a numeric plan without its symbolic half: the names come from the input, not the plan."""
    monkeypatch.setenv("JACCLI_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "p.csv"
    path.write_bytes(PANDAS)
    for args in (["-f", "csv"], ["-f", "json", "-k", "2"], ["-f", "csv", "--wrt", "theta,r"]):
        cold = jaccli("batch-jacobian", POLAR, path, *args)
        assert any((tmp_path / "cache").iterdir())
        warm = jaccli("batch-jacobian", POLAR, path, *args)
        nocache = jaccli("batch-jacobian", POLAR, path, *args, "--no-cache")
        assert cold.exit_code == 0 and cold.stdout == warm.stdout == nocache.stdout
        assert "d y[0]/d r" in cold.stdout or "x.0:d2[r,theta]" in cold.stdout or "d y[0]/d theta" in cold.stdout
