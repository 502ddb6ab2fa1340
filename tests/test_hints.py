"""Every error a user can see says what to do next (README "Exit codes"): a ``hint:`` line.

Two guards. A static one walks ``jaccli/`` with ``ast`` and fails on any construction of a ``JaccliError``
subclass (or a call of a helper that builds one and takes ``hint``) that passes no hint, or a hint that may be
None; it keeps the rule for code written later. An end-to-end table runs bad invocations and checks the rendered
shape: one ``Error:`` line, a ``hint:`` line, the documented exit code, no traceback.
"""
from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import assert_error

PACKAGE = Path(__file__).resolve().parent.parent / "jaccli"
ROOT = PACKAGE.parent

# Raised without a hint of their own, on purpose:
EXEMPT = {
    # a failed --expect/--verify: its hint is the check's own (checks/outcome.py), passed on as outcome.hint
    "CheckFailed",
}
# Not JaccliErrors, so never rendered: caught inside jaccli and turned into behaviour or into a JaccliError that
# has a hint. plan/store.py StoreError (a damaged cache entry: the cache plans afresh), textkit.NotRectangular
# (the JSON readers word it), expr/check.py InvalidField (an internal invariant). catalog.check_implemented's
# ImportError is a developer's mistake, met at import by the test suite, never by a user. expr/shaped.py
# ShapeError does become an ExpressionError with its hint, so it is held to the rule like the JaccliErrors.
HINT_CARRIERS = {"ShapeError"}


def _name(func: ast.expr) -> str | None:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """``JaccliError`` and every class that derives from it anywhere in the package (by name)."""
    found = {"JaccliError"}
    while True:
        more = {node.name for tree in trees.values() for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
                and any(_name(base) in found for base in node.bases)} - found
        if not more:
            return found
        found |= more


def error_builders(trees: dict[Path, ast.Module], classes: set[str]) -> dict[str, int]:
    """Functions that return an error and take ``hint`` (``Parser.error``, ``_error_at``): name -> the hint's
    position among the call's arguments (``self`` not counted)."""
    builders = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.returns is not None and _name(node.returns) in classes:
                params = [a.arg for a in node.args.posonlyargs + node.args.args if a.arg not in ("self", "cls")]
                if "hint" in params:
                    builders[node.name] = params.index("hint")
    return builders


def _may_be_none(value: ast.expr) -> bool:
    if isinstance(value, ast.Constant):
        return not value.value
    return isinstance(value, ast.IfExp) and (_may_be_none(value.body) or _may_be_none(value.orelse))


def missing_hints(trees: dict[Path, ast.Module]) -> list[str]:
    """``file:line: call`` for each error built without a hint (or with one that may be None)."""
    classes = error_classes(trees) | HINT_CARRIERS
    builders = error_builders(trees, classes)
    found = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _name(node.func)
            if name in EXEMPT or (isinstance(node.func, ast.Attribute) and _name(node.func.value) == "click"):
                continue  # click's own errors get the group's "see --help" hint (cli/group.py)
            if name in classes:
                position = None  # the hint is keyword-only on every error class
            elif name in builders:
                position = builders[name]
            else:
                continue
            hint = next((k.value for k in node.keywords if k.arg == "hint"), None)
            if hint is None and position is not None and len(node.args) > position:
                hint = node.args[position]
            if hint is None and any(k.arg is None for k in node.keywords):
                continue  # **kwargs: passed through from a caller that is checked itself
            if hint is None or _may_be_none(hint):
                found.append(f"{path}:{node.lineno}: {ast.unparse(node)[:100]}")
    return found


def _parse(sources: dict[str, str]) -> dict[Path, ast.Module]:
    return {Path(name): ast.parse(textwrap.dedent(text)) for name, text in sources.items()}


def test_every_error_in_the_package_has_a_hint():
    trees = {p.relative_to(ROOT): ast.parse(p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))}
    assert missing_hints(trees) == []


def test_the_walker_finds_what_it_should():
    """The guard is not vacuous: it sees classes, subclasses, builders, None hints; it lets hinted ones pass."""
    trees = _parse({"errors.py": """
        class JaccliError(Exception): ...
        class UsageError(JaccliError): ...
        class CheckFailed(JaccliError): ...
        class Mine(UsageError): ...
        class ExpressionError(JaccliError): ...
        """, "use.py": """
        def bad(x):
            raise UsageError("no hint")
        def also_bad(x):
            raise Mine("computed", hint="a" if x else None)
        def error(self, message, span, hint=None) -> ExpressionError: ...
        def built(self):
            raise self.error("a message", None)
        def fine(self):
            raise self.error("a message", None, "do this")
        def fine_too(x):
            raise UsageError("m", hint="do that")
        def failed(outcome):
            raise CheckFailed(outcome.failure, hint=outcome.hint)
        """})
    assert [line.split(":")[1] for line in missing_hints(trees)] == ["3", "5", "8"]


def _write_bad_files(tmp_path: Path) -> None:
    """The bad files of the table below."""
    (tmp_path / "golden.json").write_text('{"shape": [1, 1], "dtype": "float128", "order": 1, "data": [[2.0]]}')
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "empty.json").write_text("[]\n")
    (tmp_path / "nodata.csv").write_text("J[0]\n")
    (tmp_path / "cut.json").write_text('{"shape": [1')
    (tmp_path / "bad.txt").write_text("Tensor([[2.]], shape=(1, 1), dtype=float99)\n")
    np.save(tmp_path / "none.npy", np.zeros((0, 2)))
    (tmp_path / "matrices.json").write_text("[[[1, 2], [3, 4]]]\n")  # one example: a 2x2 matrix


CASES = [  # (arguments, exit code, a fragment of the Error: line); {t} is the test's temporary directory
    (["batch-jacobian", "where(x[0] < 1, x[0])", "samples/seed.csv"], 2, "where() takes 3 arguments, got 2"),
    (["batch-jacobian", "x*x", "{t}/empty.csv"], 3, "empty input: no data rows"),
    (["batch-jacobian", "x*x", "{t}/empty.json"], 3, "empty input: the JSON array has no examples"),
    (["batch-jacobian", "x*x", "{t}/none.npy"], 3, "empty input: the array has shape (0, 2)"),
    (["compare", "{t}/golden.json", "samples/expected/seed.order1.json"], 3, "'dtype' must be float16"),
    (["compare", "{t}/nodata.csv", "samples/expected/seed.order1.json"], 3, "header row but no data rows"),
    (["compare", "{t}/cut.json", "samples/expected/seed.order1.json"], 3, "cut.json:1:13: not valid JSON"),
    (["compare", "{t}/bad.txt", "samples/expected/seed.order1.json"], 3, "bad.txt:1:36: dtype 'float99'"),
    (["batch-jacobian", "x*x", "samples/seed.csv", "--verify", "--verify-rows", "0"], 2, "--verify-rows"),
    (["batch-jacobian", "x*x", "samples/seed.csv", "-k", "0", "--verify"], 2, "--verify needs --order 1"),
    (["batch-jacobian", "x*x", "samples/seed.csv", "-P", "a=1", "-P", "a=2"], 2, "--param a: '1' is a single"),
    (["batch-jacobian", "x*x", "samples/seed.csv", "-P", "a=[1,2]", "-P", "a=[3,4]"], 2, "--param a is given twice"),
    (["batch-jacobian", "x*x", "samples/seed.csv", "-D", "a=1", "-D", "a=2"], 2, "-D a is given twice"),
    (["batch-jacobian", "x(2)", "samples/seed.csv"], 2, "'x' is a variable, not a function"),
    (["batch-jacobian", "logsumexp(x[0:0])", "samples/seed.csv"], 2, "logsumexp() of an empty value"),
    (["batch-jacobian", "matmul([x, x], [x, x, x])", "{t}/matrices.json"], 2, "do not broadcast"),
    (["symbolic", "x*x", "samples/seed.csv", "--shape", "2"], 2, "give either INPUT or --shape/--columns"),
    (["batch-jacobian", "x*x", "samples/seed.csv", "--nope"], 2, "'--nope'"),  # click's own wording
]


@pytest.mark.parametrize("args, code, fragment", CASES, ids=[c[2][:40] for c in CASES])
def test_a_bad_invocation_says_what_to_do(jaccli, tmp_path, monkeypatch, args, code, fragment):
    monkeypatch.chdir(ROOT)  # the sample paths are relative to the repository, as in the README
    _write_bad_files(tmp_path)
    result = jaccli(*[a.replace("{t}", str(tmp_path)) for a in args])
    lines = assert_error(result, code, fragment)
    assert fragment in lines[0]
    assert lines[-1].startswith("  hint: ") and len(lines[-1]) > len("  hint: "), result.stderr


def test_jaccli_threads_zero_says_what_to_do(jaccli, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("JACCLI_THREADS", "0")
    lines = assert_error(jaccli("batch-jacobian", "x*x", "samples/seed.csv"), 2, "JACCLI_THREADS=0")
    assert lines[-1] == "  hint: e.g. JACCLI_THREADS=2, or unset it"


def test_a_real_process_renders_the_hint():
    """Through ``python -m jaccli`` itself: stderr only, the caret under the call, the hint, exit 2."""
    done = subprocess.run([sys.executable, "-m", "jaccli", "batch-jacobian", "where(x[0] < 1, x[0])",
                           "samples/seed.csv"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == ("Error: where() takes 3 arguments, got 2\n"
                           "  where(x[0] < 1, x[0])\n"
                           "  ^^^^^^^^^^^^^^^^^^^^^\n"
                           "  hint: 'jaccli functions' shows every function with its arguments\n")
