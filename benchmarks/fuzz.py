"""The fuzz properties of tests/test_fuzz.py, for longer and with fresh random seeds (opt-in, not run in CI).

    python benchmarks/fuzz.py [--examples 20000] [--seed N]

Each property runs ``--examples`` cases (expressions through the API at orders 1-3 and every chunking; mutated
CSV/JSON/NPY/NPZ files through the CLI, from a file and from standard input). A failure prints hypothesis's
minimal example and exits 1. Run from the repository root, with ``PYTHONPATH=.`` or jaccli installed.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import test_fuzz as properties  # noqa: E402 - the same strategies and checks as the CI test


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20000, help="cases per property")
    parser.add_argument("--seed", type=int, default=int(time.time()), help="random seed (default: the clock)")
    args = parser.parse_args()
    config = settings(max_examples=args.examples, database=None, deadline=None, derandomize=False,
                      suppress_health_check=list(HealthCheck))

    @seed(args.seed)
    @config
    @given(properties.mutated(properties._expressions()), st.integers(1, 3))
    def expressions(expression: str, order: int) -> None:
        properties.check_expression(expression, order)

    @seed(args.seed)
    @config
    @given(properties.mutated_file(), st.sampled_from(["x*x", "sum(x)", "x[0]*sin(x)", "w*x + bias"]),
           st.booleans())
    def files(case: tuple[str, bytes], expression: str, stdin: bool) -> None:
        properties.check_file(case[0], case[1], expression, stdin)

    failed = 0
    for name, run in (("expressions", expressions), ("input files", files)):
        start = time.perf_counter()
        try:
            run()
            status = "ok"
        except Exception as exc:  # hypothesis has printed the minimal failing example
            failed += 1
            status = f"FAILED: {type(exc).__name__}: {exc}"
        print(f"{name}: {args.examples} cases, seed {args.seed}, {time.perf_counter() - start:.1f} s: {status}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
