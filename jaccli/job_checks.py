"""``--expect`` and ``--verify`` for one ``batch-jacobian`` run: collect what they need while the result streams,
then judge it (a ``Verdict``). Kept apart from ``jaccli.job``, which streams the result itself."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from jaccli.io.inputs import Batch
from jaccli.io.labels import Labels
from jaccli.job import Report
from jaccli.plan.engine import AnyPlan as Plan


@dataclass
class Verdict:
    ok: bool
    text: str  # the report for stderr
    failure: str = ""
    hint: Optional[str] = None


class Checks:
    """``--expect`` and ``--verify``: both need the whole result (or input) in memory, so they collect it."""

    def __init__(self, expect: Optional[str], rtol: Optional[float], atol: Optional[float],
                 verify_rows: Optional[int]) -> None:
        self.expect, self.rtol, self.atol, self.verify_rows = expect, rtol, atol, verify_rows
        self.active = expect is not None or verify_rows is not None
        self.inputs: list[dict[str, np.ndarray]] = []
        self.outputs: list[np.ndarray] = []
        self.row_numbers: Optional[np.ndarray] = None  # --engine dask: the input rows of pre-sampled ``inputs``

    def remember(self, batch: Batch) -> Batch:
        """The batch, with its chunks also kept for ``--verify`` (which samples rows from the whole input)."""
        if self.verify_rows is None:
            return batch
        return batch.tapped(self.inputs.append)

    def collect(self, chunk: np.ndarray) -> None:
        if self.expect is not None:
            self.outputs.append(chunk)

    def run(self, plan: Plan, report: Report, connected: bool, labels: Optional[Labels] = None) -> Optional[Verdict]:
        if not self.active:
            return None
        verdicts = []
        if self.expect is not None:
            verdicts.append(self._expect(plan, report, connected, labels))
        if self.verify_rows is not None:
            verdicts.append(self._verify(plan, connected))
        failed = [v for v in verdicts if not v.ok]
        return Verdict(not failed, "\n".join(v.text for v in verdicts),
                       "; ".join(v.failure for v in failed), failed[0].hint if failed else None)

    def _expect(self, plan: Plan, report: Report, connected: bool, labels: Optional[Labels]) -> Verdict:
        from jaccli.checks.compare import compare
        from jaccli.checks.results import Result
        from jaccli.checks.several import pick, read_orders

        assert self.expect is not None  # run() calls this only when there is a file to compare with
        golden = pick(read_orders(self.expect), plan.compiled.order, self.expect)  # .npz: the member of k
        if connected:
            array = np.concatenate(self.outputs) if self.outputs else np.zeros((0,) + plan.example_shape, plan.dtype)
            actual = Result.from_array(array, layout=plan.layout())
        else:
            actual = Result.from_array(None, shape=(report.examples,) + plan.example_shape, dtype=plan.dtype,
                                       layout=plan.layout())
        result = compare(golden, actual, rtol=self.rtol, atol=self.atol)
        text = result.report(*(labels.report_names() if labels else (plan.layout(), None)))  # d y[0]/d theta
        return Verdict(result.ok, text, f"the result differs from {self.expect}",
                       "if the change is intended, regenerate the golden file with -o")

    def _verify(self, plan: Plan, connected: bool) -> Verdict:
        from jaccli.checks.verify import verify
        from jaccli.checks.verify_reduced import verify_reduced
        from jaccli.plan.reduce import ReducedPlan

        if not connected or not self.inputs:
            return Verdict(True, "verify: nothing to check (the target does not reference the source)")
        arrays = {k: np.concatenate([c[k] for c in self.inputs]) for k in self.inputs[0]}
        # --reduce/--jvp/--vjp: the reduced result against the same reduction of the finite differences
        if isinstance(plan, ReducedPlan):
            result = verify_reduced(plan, arrays, rows=self.verify_rows, seed=0)
        else:
            result = verify(plan, arrays, rows=self.verify_rows, seed=0,  # type: ignore[arg-type]
                            row_numbers=self.row_numbers)
        return Verdict(result.ok, result.summary(), "the symbolic derivative disagrees with finite differences",
                       "report the expression: a derivative rule may be wrong")
