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
    result = CliRunner().invoke(cli, words[1:], catch_exceptions=False)
    shown = result.stdout if result.exit_code == 0 else result.stderr
    assert shown.rstrip("\n") == expected.rstrip("\n"), shown


def test_function_table_lists_every_function():
    for name in ELEMENTWISE:
        assert f"| `{name}(" in README, name


def test_ci_runs_the_readme_test_command():
    command = "python3 -m pip install '.[test,dask]' && python3 -m pytest -q"
    assert command in README
    assert command in (ROOT / ".ci" / "run").read_text()
