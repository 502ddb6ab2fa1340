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
from jaccli.functions import ELEMENTWISE

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


def test_function_table_matches_the_rows():
    """The README's function table says what the rows say (functions.py is the one source; this holds them equal)."""
    cells = dict(re.findall(r"^\| `(\w+)\([^)]*\)` \| (.*) \|$", README, flags=re.M))
    for name, row in ELEMENTWISE.items():
        assert name in cells, f"README function table lacks {name}"
        convention = re.sub(r"^\w+\([^)]*\): ", "", row.convention)  # 'atan2(y, x): d/dy = ...' names its args
        assert convention in cells[name], f"{name}: README says {cells[name]!r}, the row says {row.convention!r}"


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
