"""Every ``$ ...`` example in every command's ``--help`` runs as written, from a copy of the repository root.

As ``test_readme.py`` does for the README: the line is run by bash (so pipes and ``-o`` work as a user would type
them) with ``jaccli`` meaning this checkout's ``python -m jaccli``, in a temporary directory holding a copy of
``samples/`` (an example that writes ``-o hessians.csv`` must not write into the repository). Output lines shown
under an example must be exactly what it prints (standard output, or standard error when stdout is empty).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from jaccli.cli import cli

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = [[], *([name] for name in sorted(cli.commands))]


def _examples() -> list[tuple[str, str, str]]:
    """``(command path, example line, the output shown under it)`` for every ``$`` line of every help text."""
    found = []
    for command in COMMANDS:
        text = CliRunner().invoke(cli, [*command, "--help"], prog_name="jaccli").stdout
        lines = text.splitlines()
        for i, line in enumerate(lines):
            match = re.match(r"( *)\$ (.*)", line)
            if not match:
                continue
            indent, shown = len(match.group(1)), []
            for after in lines[i + 1:]:
                if re.match(r" *\$ ", after) or (after.strip() and len(after) - len(after.lstrip()) < indent):
                    break
                shown.append(after[indent:] if after.strip() else "")
            found.append((" ".join(["jaccli", *command]), match.group(2), "\n".join(shown).strip("\n")))
    return found


EXAMPLES = _examples()


def test_every_command_has_examples():
    paths = {path for path, _, _ in EXAMPLES}
    assert paths == {" ".join(["jaccli", *c]) for c in COMMANDS}


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(["jaccli", *c]) for c in COMMANDS])
def test_help_has_no_stray_control_characters(command):
    # Once a bug: a '\b' marker in the middle of a paragraph was printed as a raw backspace.
    text = CliRunner().invoke(cli, [*command, "--help"], prog_name="jaccli").stdout
    assert not re.search(r"[\x00-\x09\x0b-\x1f]", text)


@pytest.mark.parametrize("path, line, shown", EXAMPLES, ids=[f"{p}: {line}" for p, line, _ in EXAMPLES])
def test_help_example_runs_as_written(tmp_path, path, line, shown):
    assert re.match(r"(.*\| *)?jaccli ", line), "an example runs jaccli"
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    script = f'jaccli() {{ "{sys.executable}" -m jaccli "$@"; }}\nset -o pipefail\n{line}\n'
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, f"{line}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    if shown:
        printed = done.stdout if done.stdout else done.stderr
        assert printed.rstrip("\n") == shown, printed
