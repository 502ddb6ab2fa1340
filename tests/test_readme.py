"""The README's transcripts are real: every ``$ jaccli ...`` line in a console block is run and its output compared.

A command that succeeds must print exactly the lines under it (standard output); one that fails must print them on
standard error. Also: the function table lists every function, and .ci/run runs the README's test command.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from jaccli.cli import cli
from jaccli.catalog import CATALOG

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _transcripts() -> list[tuple[str, str]]:
    cases = []
    for block in re.findall(r"```console\n(.*?)```", README, flags=re.S):
        command, output = None, []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command:
                    cases.append((command, "\n".join(output)))
                command, output = line[2:], []
            else:
                output.append(line)
        if command:
            cases.append((command, "\n".join(output)))
    return cases


TRANSCRIPTS = _transcripts()


def test_there_are_transcripts():
    assert len(TRANSCRIPTS) >= 10


@pytest.mark.parametrize("command, expected", TRANSCRIPTS, ids=[c for c, _ in TRANSCRIPTS])
def test_transcript(command, expected, monkeypatch):
    monkeypatch.chdir(ROOT)
    words = shlex.split(command)
    assert words[0] == "jaccli"
    if "--engine" in words and "dask" in words:
        pytest.importorskip("distributed")  # the [dask] extra (CI installs it)
    result = CliRunner().invoke(cli, words[1:], catch_exceptions=False)
    shown = result.stdout if result.exit_code == 0 else result.stderr
    assert shown.rstrip("\n") == expected.rstrip("\n"), shown


def test_function_table_matches_the_catalog():
    """The README's function table is the catalog (jaccli/catalog.py): one line per row, in its order, each call
    spelled as the row spells it and saying the row's convention (a cell may add a remark after it)."""
    table = re.findall(r"^\| `(\w+)(\([^)]*\))` \| (.*) \|$", README, flags=re.M)
    assert [name for name, _, _ in table] == list(CATALOG), "the README's function table and the catalog differ"
    for name, args, cell in table:
        s = CATALOG[name]
        assert name + args == s.call, f"README writes {name}{args}, the catalog {s.call}"
        assert cell.startswith(s.convention), f"{name}: README says {cell!r}, the catalog {s.convention!r}"


def test_the_fold_limit_names_the_folding_reductions():
    from jaccli.expr.shaped import MAX_FOLD_ELEMENTS

    (names, limit), = re.findall(r"((?:`\w+`/)*`\w+`) over at most ([\d ]+) elements", README)
    assert names.replace("`", "").split("/") == [s.name for s in CATALOG.values() if s.folds]
    assert int(limit.replace(" ", "")) == MAX_FOLD_ELEMENTS


def test_ci_runs_the_readme_test_command():
    command = "python3 -m pip install '.[test,dask]' && python3 -m pytest -q"
    assert command in README
    assert command in (ROOT / ".ci" / "run").read_text()


def test_docstring_examples_run():
    """The examples in the package and API docstrings are doctests: they must keep saying the truth."""
    import doctest

    import jaccli
    import jaccli.api

    for module in (jaccli, jaccli.api):
        failed, tried = doctest.testmod(module, raise_on_error=False, verbose=False)
        assert tried > 0 and failed == 0, module.__name__
