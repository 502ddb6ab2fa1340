"""A check's outcome, one shape for every check: ``--expect`` and ``jaccli compare`` (``compare.Comparison``,
``several.OrdersComparison``), ``--verify`` (``verify.Verification``), and a check with nothing to check.

An outcome says whether it passed (``ok``), gives its lines for standard error (``summary()``), and, for a failed
one, what failed in a phrase for the ``Error:`` line (``failure``) and what to do about it (``hint``). ``combine``
makes several outcomes one (a run with ``--expect`` and ``--verify``), so the CLI reports any outcome the same way
(``cli/batch_run.settle``): print the summary, exit 1 with the failure and hint when not ok.

Not an outcome: a run's ``Tally`` (``jaccli.job``), which counts what the run saw and judges nothing.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


class Outcome(Protocol):
    """What every check returns; ``failure`` and ``hint`` are read only when ``ok`` is False."""

    @property
    def ok(self) -> bool: ...

    @property
    def failure(self) -> str: ...

    @property
    def hint(self) -> str | None: ...

    def summary(self) -> str: ...


@dataclass(frozen=True)
class TextOutcome:
    """An outcome given by its words alone (a check that found nothing to check)."""

    ok: bool
    text: str
    failure: str = ""
    hint: str | None = None

    def summary(self) -> str:
        return self.text


@dataclass(frozen=True)
class Combined:
    """Several outcomes as one: ok when all are; their summaries in order; the failures joined, the first hint."""

    parts: tuple[Outcome, ...]

    @property
    def ok(self) -> bool:
        return all(part.ok for part in self.parts)

    @property
    def failure(self) -> str:
        return "; ".join(part.failure for part in self.parts if not part.ok)

    @property
    def hint(self) -> str | None:
        return next((part.hint for part in self.parts if not part.ok), None)

    def summary(self) -> str:
        return "\n".join(part.summary() for part in self.parts)


def combine(outcomes: Iterable[Outcome | None]) -> Outcome | None:
    """The outcomes given (None: a check not asked for) as one; None when there are none."""
    parts = tuple(outcome for outcome in outcomes if outcome is not None)
    if len(parts) <= 1:
        return parts[0] if parts else None
    return Combined(parts)
