"""samples/: jaccli reproduces every expected output byte for byte, and the numbers are right by hand.

The commands come from samples/regenerate.sh itself, so the script and this test cannot drift apart. The
independent check uses closed forms derived on paper (polar coordinates, tanh**2, softplus of an affine map).
"""
from __future__ import annotations

import math
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from jaccli.cli import cli
from jaccli.checks.results import read_result

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def _commands() -> list[tuple[list[str], str]]:
    """(arguments after 'jaccli', expected file) for every line of regenerate.sh."""
    out = []
    for line in (SAMPLES / "regenerate.sh").read_text().splitlines():
        if not line.startswith("jaccli "):
            continue
        words = shlex.split(line)[1:]
        if ">" in words:
            target = words[words.index(">") + 1]
            words = words[: words.index(">")]
        else:
            target = words[words.index("-o") + 1]
            words = words[: words.index("-o")] + words[words.index("-o") + 2:]
        out.append((words, target))
    return out


COMMANDS = _commands()


def test_every_expected_file_has_a_command():
    made = {target for _, target in COMMANDS}
    assert made == {f"expected/{p.name}" for p in (SAMPLES / "expected").iterdir()}


@pytest.mark.parametrize("args, target", COMMANDS, ids=[t for _, t in COMMANDS])
def test_jaccli_reproduces_the_expected_bytes(args, target, monkeypatch):
    monkeypatch.chdir(SAMPLES)
    result = CliRunner().invoke(cli, ["--help"] if not args else args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == (SAMPLES / target).read_bytes()


def _load(name: str) -> np.ndarray:
    return read_result(str(SAMPLES / "expected" / name)).array


def test_seed_matches_the_article():
    assert _load("seed.order1.json").tolist() == [[[48, 0], [0, 12]], [[3, 0], [0, 27]]]
    assert _load("seed.order2.txt").tolist() == [[[[24, 0], [0, 0]], [[0, 0], [0, 12]]],
                                                 [[[6, 0], [0, 0]], [[0, 0], [0, 18]]]]


POLAR = [(1.0, 0.0), (2.0, 0.5), (3.0, math.pi / 2)]


def test_polar_by_hand():
    jac, hess, dtheta = _load("polar.jacobian.json"), _load("polar.hessian.txt"), _load("polar.dtheta.csv")
    for b, (r, t) in enumerate(POLAR):
        c, s = math.cos(t), math.sin(t)
        np.testing.assert_allclose(jac[b], [[c, -r * s], [s, r * c]], rtol=1e-15, atol=1e-15)
        np.testing.assert_allclose(hess[b], [[[0, -s], [-s, -r * c]], [[0, c], [c, -r * s]]], atol=5e-9)
        np.testing.assert_allclose(dtheta[b], [-r * s, r * c], rtol=1e-15, atol=1e-15)


def test_cube_by_hand():
    x = np.load(SAMPLES / "cube.npy")
    jac = _load("cube.tanh2.npy")
    assert jac.shape == (3, 2, 2, 2, 2, 2, 2)
    diag = 2 * np.tanh(x) / np.cosh(x) ** 2
    flat = jac.reshape(3, 8, 8)
    np.testing.assert_allclose(np.diagonal(flat, axis1=1, axis2=2), diag.reshape(3, 8), rtol=1e-14)
    assert np.count_nonzero(flat * (1 - np.eye(8))) == 0  # elementwise: nothing off the diagonal
    hess = _load("cube.sumsq.hessian.json")
    assert hess.shape == (3, 2, 2, 2, 2, 2, 2)
    assert np.array_equal(hess.reshape(3, 8, 8), np.broadcast_to(2 * np.eye(8), (3, 8, 8)))


def test_points_by_hand():
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    w = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    z = (w * x).sum(axis=1) + 0.1
    sig = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(_load("points.grad.json"), sig[:, None] * w, rtol=1e-15)
    hess = (sig * (1 - sig))[:, None, None] * np.einsum("bi,bj->bij", w, w)
    np.testing.assert_allclose(_load("points.hessian.txt"), hess, atol=5e-9)  # text keeps 8 digits


@pytest.mark.skipif(shutil.which("jaccli") is None or shutil.which("bash") is None,
                    reason="needs the installed jaccli command and bash")
def test_ci_recipe_passes_and_catches_a_change(tmp_path):
    """samples/ci/check.sh passes on the checked-in goldens, and exits 1 once a golden no longer matches."""
    done = subprocess.run(["bash", str(SAMPLES / "ci" / "check.sh")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("match: ") == 2 and done.stderr.count(": ok") == 2
    copy = tmp_path / "ci"
    shutil.copytree(SAMPLES / "ci", copy)
    golden = copy / "golden" / "jacobian.json"
    text = golden.read_text()
    golden.write_text(text.replace('"data": [[[0.1078', '"data": [[[0.1079', 1))  # one value, 1e-4 off
    changed = subprocess.run(["bash", str(copy / "check.sh")], capture_output=True, text=True, timeout=120)
    assert changed.returncode == 1, changed.stderr
    assert "mismatch: 1 of 36 values differ" in changed.stderr
