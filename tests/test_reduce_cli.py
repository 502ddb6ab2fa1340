"""``--reduce``, ``--jvp``, ``--vjp`` through the CLI: formats, layouts, errors, ``--expect``, ``--verify``."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import assert_error

SPHERICAL = "[r*sin(theta)*cos(phi), r*sin(theta)*sin(phi), r*cos(theta)]"
DENSE = "[x[0]*sin(x[1]), x[1]*exp(x[2]) + x[0]**2, tanh(x[0]*x[2])]"


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "data.npz"
    np.savez(path, x=rng.normal(size=(12, 3)), v=rng.normal(size=(12, 3)), u=rng.normal(size=(12, 3)),
             s=rng.normal(size=12))
    return path


def test_logabsdet_csv_has_two_column_groups(jaccli):
    result = jaccli("batch-jacobian", SPHERICAL, "samples/spherical.csv", "--reduce", "logabsdet", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "sign,logabsdet"
    assert lines[1] == "1.0,0.0" and lines[3] == "0.0,-inf"  # r=1, theta=pi/2; theta=0 is singular
    sign, logabs = lines[2].split(",")
    assert sign == "1.0" and abs(float(logabs) - np.log(4 * np.sin(0.5))) < 1e-15


def test_logabsdet_of_hessians_csv_groups(jaccli):
    result = jaccli("batch-jacobian", "[sum(x**3), sum(x**4)]", "samples/seed.csv", "-k", "2", "--reduce", "logabsdet",
                    "-f", "csv")
    assert result.stdout.splitlines()[0] == "sign[0],sign[1],logabsdet[0],logabsdet[1]"


def test_logabsdet_json_and_npy(jaccli, tmp_path):
    result = jaccli("batch-jacobian", SPHERICAL, "samples/spherical.csv", "--reduce", "logabsdet", "-f", "json")
    doc = json.loads(result.stdout)
    assert doc["shape"] == [3, 2] and doc["layout"] == ["batch", "slogdet"]
    assert doc["data"][2] == [0.0, "-inf"]
    out = tmp_path / "slogdet.npy"
    assert jaccli("batch-jacobian", SPHERICAL, "samples/spherical.csv", "--reduce", "logabsdet", "-f", "npy",
                  "-o", out).exit_code == 0
    array = np.load(out)
    assert array.shape == (3, 2)
    np.testing.assert_array_equal(array[:, 0], [1.0, 1.0, 0.0])


@pytest.mark.parametrize("options, shape, layout", [
    (["--reduce", "trace"], [12], ["batch"]),
    (["--reduce", "diag"], [12, 3], ["batch", "x.0:diag"]),
    (["--reduce", "det"], [12], ["batch"]),
    (["--reduce", "trace", "-k", "2"], [12, 3], ["batch", "target.0"]),
    (["--reduce", "diag", "-k", "2"], [12, 3, 3], ["batch", "target.0", "x.0:d1=d2"]),
    (["--jvp", "v"], [12, 3], ["batch", "target.0"]),
    (["--jvp", "v", "-k", "2"], [12, 3, 3], ["batch", "target.0", "x.0:d1"]),
    (["--vjp", "u", "-k", "2"], [12, 3, 3], ["batch", "x.0:d1", "x.0:d2"]),
    (["--vjp", "u", "--jvp", "v"], [12], ["batch"]),
])
def test_shapes_and_layouts(jaccli, data, options, shape, layout):
    result = jaccli("batch-jacobian", DENSE, data, "-f", "json", *options)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["shape"] == shape and doc["layout"] == layout


def test_layout_option_describes_reduced_axes(jaccli):
    result = jaccli("batch-jacobian", "x*x*x", "samples/seed.csv", "-k", "2", "--reduce", "diag", "--layout")
    assert result.stderr.splitlines() == [
        "axis 0  batch      size B  examples, never mixed",
        "axis 1  target.0   size 2  y[0..1]",
        "axis 2  x.0:d1=d2  size 2  d2/dx[i]2, i over x[0..1] (diagonal)",
    ]


# --- errors: exit 2, shapes in the message ---------------------------------------------------------------
def test_non_square_is_exit_2_with_the_shapes(jaccli):
    result = jaccli("batch-jacobian", "sum(x)", "samples/seed.csv", "--reduce", "det")
    assert_error(result, 2, "needs a square Jacobian", "shape ()", "(1 value)", "shape (2,)", "(2 values)", "hint:")


def test_reduce_and_jvp_together_is_exit_2(jaccli, data):
    assert_error(jaccli("batch-jacobian", DENSE, data, "--reduce", "trace", "--jvp", "v"), 2, "cannot be combined")


def test_unknown_vector_is_exit_2(jaccli, data):
    assert_error(jaccli("batch-jacobian", DENSE, data, "--jvp", "vv"), 2, "no array named 'vv'",
                 "did you mean 'v'?", "inputs: s, u, v, x")


@pytest.mark.parametrize("option, message", [("--jvp", "the source x has shape (3,)"),
                                             ("--vjp", "the target has shape (3,)")])
def test_vector_of_the_wrong_shape_is_exit_2(jaccli, data, option, message):
    assert_error(jaccli("batch-jacobian", DENSE, data, option, "s"), 2, "'s' has event shape ()", message)


def test_unknown_reduction_is_exit_2(jaccli):
    assert_error(jaccli("batch-jacobian", "x", "samples/seed.csv", "--reduce", "trac"), 2, "trac")


def test_unconnected_reduction_is_none(jaccli):
    result = jaccli("batch-jacobian", "2*x", "samples/points.json", "--reduce", "trace", "--wrt", "w", "-f", "json")
    assert json.loads(result.stdout)["data"] is None
    result = jaccli("batch-jacobian", "2*x", "samples/points.json", "--reduce", "logabsdet", "--wrt", "w",
                    "--unconnected", "zero", "-f", "csv")
    assert result.stdout.splitlines() == ["sign,logabsdet", "0.0,-inf", "0.0,-inf"]


def test_strict_applies_to_the_reduced_result(jaccli):
    result = jaccli("batch-jacobian", SPHERICAL, "samples/spherical.csv", "--reduce", "logabsdet", "--strict")
    assert_error(result, 4, "non-finite derivative at index (2, 1)")


# --- checks ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("options", [["--reduce", "trace", "-k", "2"], ["--reduce", "logabsdet"], ["--jvp", "v"],
                                     ["--vjp", "u", "-k", "2"], ["--reduce", "det"], ["--reduce", "diag"]])
def test_expect_and_verify(jaccli, data, tmp_path, options):
    golden = tmp_path / "golden.json"
    assert jaccli("batch-jacobian", DENSE, data, "-f", "json", "-o", golden, *options).exit_code == 0
    result = jaccli("batch-jacobian", DENSE, data, "--expect", golden, "--verify", *options)
    assert result.exit_code == 0, result.stderr
    assert "match:" in result.stderr and ": ok" in result.stderr
    doc = json.loads(golden.read_text())
    doc["data"][3] = np.negative(doc["data"][3]).tolist() if isinstance(doc["data"][3], list) else -doc["data"][3]
    golden.write_text(json.dumps(doc))
    assert_error(jaccli("batch-jacobian", DENSE, data, "--expect", golden, *options), 1, "differs")


def test_verify_catches_a_wrong_reduction(monkeypatch, data):
    """A reduced result off by 1e-5 fails --verify (exit 1), for every kind."""
    from click.testing import CliRunner

    from jaccli.cli import cli
    from jaccli.plan.reduce import ReducedPlan

    original = ReducedPlan.evaluate

    def skewed(self, arrays, out=None):
        result = original(self, arrays, out)
        result *= 1 + 1e-5
        return result

    monkeypatch.setattr(ReducedPlan, "evaluate", skewed)
    for options in (["--reduce", "trace", "-k", "2"], ["--reduce", "det"], ["--jvp", "v"], ["--vjp", "u"]):
        result = CliRunner().invoke(cli, ["batch-jacobian", DENSE, str(data), "--verify", *options])
        assert result.exit_code == 1, (options, result.stderr)
        assert "FAILED" in result.stderr


def test_streaming_stdin_csv_to_npy(jaccli):
    result = jaccli("batch-jacobian", "sin(x)*exp(-x**2)", "-", "--reduce", "diag", "-f", "npy",
                    "--parallel-iterations", "1", input="0,1,2\n3,4,5\n")
    array = np.load(io.BytesIO(result.stdout_bytes))
    x = np.array([[0.0, 1, 2], [3, 4, 5]])
    np.testing.assert_allclose(array, (np.cos(x) - 2 * x * np.sin(x)) * np.exp(-x**2), rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("expr", ["relu(x)", "abs(x)*x", "sqrt(x*x)", "maximum(x, x[::-1])", "sign(x)*x**2"])
@pytest.mark.parametrize("options", [["--reduce", "trace"], ["--reduce", "diag", "-k", "2"], ["--reduce", "det"],
                                     ["--reduce", "logabsdet"]])
def test_verify_skips_kinks_instead_of_failing(jaccli, expr, options):
    result = jaccli("batch-jacobian", expr, "-", "--verify", *options, input="0,1,-2\n0.5,0,3\n")
    assert result.exit_code == 0, result.stderr


def test_reductions_take_one_order(jaccli):
    assert_error(jaccli("batch-jacobian", "x*x", "samples/seed.csv", "-k", "0,1", "--reduce", "trace"), 2,
                 "apply to one order, not to several (-k 0,1)")


def test_several_sources_are_one_concatenated_source(jaccli, tmp_path):
    rng = np.random.default_rng(4)
    path = tmp_path / "ab.npz"
    a, b, v = rng.normal(size=(6, 2)), rng.normal(size=(6, 1)), rng.normal(size=(6, 3))
    np.savez(path, a=a, b=b, v=v)
    expr = "[a[0]*b[0], a[1]*exp(b[0]), sin(a[0]*a[1])]"
    det = json.loads(jaccli("batch-jacobian", expr, path, "--wrt", "a,b", "--reduce", "det", "-f", "json").stdout)
    # d/d(a0, a1, b0): [[b0, 0, a0], [0, e^b0, a1 e^b0], [a1 c, a0 c, 0]] with c = cos(a0 a1)
    c, e = np.cos(a[:, 0] * a[:, 1]), np.exp(b[:, 0])
    jac = np.stack([np.stack([b[:, 0], 0 * c, a[:, 0]], 1), np.stack([0 * c, e, a[:, 1] * e], 1),
                    np.stack([a[:, 1] * c, a[:, 0] * c, 0 * c], 1)], 1)
    np.testing.assert_allclose(det["data"], np.linalg.det(jac), rtol=1e-13)
    result = jaccli("batch-jacobian", expr, path, "--wrt", "a,b", "--jvp", "v", "-f", "json", "--verify")
    assert result.exit_code == 0 and ": ok" in result.stderr, result.stderr


def test_shared_parameter_as_the_vector(jaccli):
    """-P w=[...]: one vector for every example; tanh's jvp is w / cosh(x)**2."""
    result = jaccli("batch-jacobian", "tanh(x)", "samples/directions.json", "--jvp", "w", "-P", "w=[1, 0, 2]",
                    "-f", "json")
    x = np.array(json.loads(open("samples/directions.json").read())["x"])
    np.testing.assert_allclose(json.loads(result.stdout)["data"], np.array([1, 0, 2]) / np.cosh(x) ** 2, rtol=1e-15)
    result = jaccli("batch-jacobian", "[x[0]*x[1], x[1]*x[2], x[2]*x[0]]", "samples/directions.json", "--vjp", "w",
                    "-P", "w=[1, 1, 1]", "--verify")
    assert result.exit_code == 0 and ": ok" in result.stderr
    assert_error(jaccli("batch-jacobian", "sum(x**4)", "samples/directions.json", "-k", "2", "--jvp", "w", "-P",
                        "w=[1, 0]"), 2, "'w' has shape (2,), but the source x has shape (3,)")


def test_several_sources_name_reduced_axes_by_their_parts(jaccli, tmp_path):
    path = tmp_path / "ab.npz"
    np.savez(path, a=np.ones((2, 2)), b=np.ones((2, 1)))
    result = jaccli("batch-jacobian", "[a[0]*b[0], a[1]*exp(b[0]), sin(a[0]*a[1])]", path, "--wrt", "a,b", "-k", "2",
                    "--reduce", "diag", "-f", "json")
    assert json.loads(result.stdout)["layout"] == ["batch", "target.0", "a[0:2]+b[2:3]:d1=d2"]


OVERFLOW = {"x": [[1.0, 1.0, 1.0], [0.1, 0.2, 0.3], [0.5, -1.0, 2.0]], "v": [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0],
            [1.0, 0.0, 0.0]], "u": [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [2.0, 0.0, -1.0]]}


@pytest.mark.parametrize("expr, flag, count", [
    ("exp(1000*x)", "--jvp v", 4),  # inf * 0 in the weighting by v
    ("exp(1000*x)", "--vjp u", 4),
    ("exp(1000*x) - exp(1000*x[0])", "--jvp v", 4),  # inf + -inf summing lanes into one entry
    ("sum(exp(1000*x)) - exp(1000*x[0])*x", "--vjp u", 4),
])
def test_overflowing_jvp_and_vjp_are_counted_not_warned_about_by_numpy(tmp_path, expr, flag, count):
    """A real process (NumPy warns once per place on stderr): only the run's own non-finite warning, the same
    for one thread and two."""
    path = tmp_path / "overflow.json"
    path.write_text(json.dumps(OVERFLOW))
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    runs = [subprocess.run([sys.executable, "-m", "jaccli", "batch-jacobian", expr, str(path), *flag.split(),
                            "-f", "json", "--threads", threads, "--parallel-iterations", chunk],
                           capture_output=True, text=True, env=env, timeout=60)
            for threads, chunk in (("1", "3"), ("2", "1"))]
    assert runs[0].returncode == 0 and "RuntimeWarning" not in runs[0].stderr, runs[0].stderr
    assert runs[0].stderr.startswith(f"warning: {count} of 9 result values are not finite")
    assert (runs[1].returncode, runs[1].stdout, runs[1].stderr) == (0, runs[0].stdout, runs[0].stderr)
