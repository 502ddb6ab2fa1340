"""Run-wide limits that the command line checks before any work (no SymPy or NumPy imports here: the CLI
imports this module at start-up). Expression limits live with the parser (``expr/parse.py``, ``expr/budget.py``)
and the planner (``plan/derive.py``); the README's "Limits" paragraph lists them all.
"""
from __future__ import annotations

MAX_ORDER = 32  # derivative order; every cost grows with it (n**k values, depth**k terms)
MAX_PARALLEL_ITERATIONS = 2**31 - 1  # more examples than any chunk holds; itertools.islice refuses past sys.maxsize
MAX_PRECISION = 100  # text digits; NumPy prints the shortest round-trip digits anyway (17 for float64)
