"""``--expect`` and ``--verify`` for one ``batch-jacobian`` run: collect what they need while the result streams,
then judge it (an ``Outcome``, ``checks.outcome``). Kept apart from ``jaccli.job``, which streams the result
itself."""
from __future__ import annotations

import dataclasses

import numpy as np

from jaccli.checks.outcome import Outcome, TextOutcome, combine
from jaccli.io.inputs import Batch
from jaccli.io.labels import Labels
from jaccli.job import Tally
from jaccli.plan.engine import AnyPlan as Plan


class Checks:
    """``--expect`` and ``--verify``: both need the whole result (or input) in memory, so they collect it."""

    def __init__(self, expect: str | None, rtol: float | None, atol: float | None, verify_rows: int | None) -> None:
        self.expect, self.rtol, self.atol, self.verify_rows = expect, rtol, atol, verify_rows
        self.active = expect is not None or verify_rows is not None
        self.inputs: list[dict[str, np.ndarray]] = []
        self.outputs: list[np.ndarray] = []
        self.row_numbers: np.ndarray | None = None  # --engine dask: the input rows of pre-sampled ``inputs``

    def remember(self, batch: Batch) -> Batch:
        """The batch, with its chunks also kept for ``--verify`` (which samples rows from the whole input)."""
        if self.verify_rows is None:
            return batch
        return batch.tapped(self.inputs.append)

    def collect(self, chunk: np.ndarray) -> None:
        if self.expect is not None:
            self.outputs.append(chunk)

    def judge(self, plan: Plan, tally: Tally, connected: bool, labels: Labels | None = None) -> Outcome | None:
        """The outcome of the checks asked for (None: none was)."""
        return combine([self._expect(plan, tally, connected, labels) if self.expect is not None else None,
                        self._verify(plan, connected) if self.verify_rows is not None else None])

    def _expect(self, plan: Plan, tally: Tally, connected: bool, labels: Labels | None) -> Outcome:
        from jaccli.checks.compare import compare
        from jaccli.checks.results import Result
        from jaccli.checks.several import pick, read_orders

        assert self.expect is not None  # judge() calls this only when there is a file to compare with
        golden = pick(read_orders(self.expect), plan.compiled.order, self.expect)  # .npz: the member of k
        if connected:
            array = np.concatenate(self.outputs) if self.outputs else np.zeros((0,) + plan.example_shape, plan.dtype)
            actual = Result.from_array(array, layout=plan.layout())
        else:
            actual = Result.from_array(None, shape=(tally.examples,) + plan.example_shape, dtype=plan.dtype,
                                       layout=plan.layout())
        outcome = compare(golden, actual, rtol=self.rtol, atol=self.atol, names=(self.expect, "the result"))
        layout, entry = labels.comparison_names() if labels else (plan.layout(), None)  # d y[0]/d theta
        return dataclasses.replace(outcome, layout=layout or outcome.layout, entry=entry)

    def _verify(self, plan: Plan, connected: bool) -> Outcome:
        from jaccli.checks.verify import verify
        from jaccli.checks.verify_reduced import verify_reduced
        from jaccli.plan.reduce import ReducedPlan

        if not connected or not self.inputs:
            return TextOutcome(True, "verify: nothing to check (the target does not reference the source)")
        arrays = {k: np.concatenate([c[k] for c in self.inputs]) for k in self.inputs[0]}
        # --reduce/--jvp/--vjp: the reduced result against the same reduction of the finite differences
        if isinstance(plan, ReducedPlan):
            return verify_reduced(plan, arrays, rows=self.verify_rows, seed=0)
        return verify(plan, arrays, rows=self.verify_rows, seed=0,  # type: ignore[arg-type]
                      row_numbers=self.row_numbers)
