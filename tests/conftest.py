"""Shared fixtures for the end-to-end CLI tests (``test_cli.py``, ``test_hostile.py``).

``jaccli`` runs the click command in-process (``CliRunner``, stdout and stderr kept apart) and re-raises any
exception other than ``SystemExit``: an unexpected exception is a bug and must fail the test with its traceback.
``assert_error`` checks the error shape (README "Exit codes"): the exit code, nothing on stdout, exactly one ``Error:`` line, only
indented caret/hint lines after it, and no traceback.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional, Union

import pytest
from click.testing import CliRunner, Result

from jaccli.cli import cli

SEED_CSV = "4,2\n1,3\n"


class Jaccli:
    """Call the ``jaccli`` command group in-process; ``seconds`` is the wall time of the last call."""

    def __init__(self) -> None:
        self.runner = CliRunner()
        self.seconds = 0.0

    def __call__(self, *args: object, input: Optional[Union[str, bytes]] = None) -> Result:
        start = time.perf_counter()
        result = self.runner.invoke(cli, [str(a) for a in args], input=input, prog_name="jaccli")
        self.seconds = time.perf_counter() - start
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception.with_traceback(result.exc_info[2] if result.exc_info else None)
        return result


@pytest.fixture
def jaccli() -> Jaccli:
    return Jaccli()


@pytest.fixture
def seed_csv(tmp_path: Path) -> Path:
    """The seed article's input ``[[4, 2], [1, 3]]`` as a CSV file."""
    path = tmp_path / "seed.csv"
    path.write_text(SEED_CSV)
    return path


def error_lines(result: Result) -> list[str]:
    """The ``Error:`` line and the indented lines after it (caret, hint)."""
    lines = result.stderr.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Error:")]
    assert len(starts) == 1, f"expected exactly one 'Error:' line, got:\n{result.stderr}"
    return lines[starts[0]:]


def assert_error(result: Result, code: int, *fragments: str) -> list[str]:
    """The error shape: exit ``code``, stdout empty, one ``Error:`` line (+ lines indented by two spaces), no traceback.

    Only a failed check (exit 1) may print a report before its ``Error:`` line. Returns the error's lines.
    """
    assert result.exit_code == code, f"exit {result.exit_code}, expected {code}; stderr:\n{result.stderr}"
    assert result.stdout_bytes == b"", f"stdout must be empty on failure, got {result.stdout_bytes[:200]!r}"
    assert "Traceback" not in result.stderr
    lines = error_lines(result)
    if code != 1:
        assert result.stderr.splitlines()[0].startswith("Error:"), result.stderr
    assert all(line.startswith("  ") for line in lines[1:]), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in stderr:\n{result.stderr}"
    return lines


def caret(result: Result) -> tuple[str, int, int]:
    """The expression line and the caret span ``[start, end)`` (in expression coordinates) of an error."""
    lines = error_lines(result)
    shown, marks = lines[1][2:], lines[2][2:]
    assert set(marks.strip()) == {"^"}, result.stderr
    start = len(marks) - len(marks.lstrip())
    return shown, start, len(marks)


@pytest.fixture
def small_batches_use_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small test batches would run on one thread (too few values per NumPy call): use the pool anyway."""
    from jaccli.plan import chunking

    monkeypatch.setattr(chunking, "GIL_VALUES_PER_CALL", 0)


@pytest.fixture(autouse=True, scope="session")
def _private_plan_cache(tmp_path_factory: pytest.TempPathFactory):
    """Tests never write to the user's real plan cache: one temporary cache directory for the whole run."""
    import os

    old = os.environ.get("JACCLI_CACHE_DIR")
    os.environ["JACCLI_CACHE_DIR"] = str(tmp_path_factory.mktemp("plan-cache"))
    yield
    if old is None:
        os.environ.pop("JACCLI_CACHE_DIR", None)
    else:
        os.environ["JACCLI_CACHE_DIR"] = old
