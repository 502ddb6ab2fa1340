"""The default tolerances of a comparison (``checks.compare``), apart from it so that ``jaccli --help`` can show
them without importing NumPy: the command line's --rtol/--atol help is written from this table."""
from __future__ import annotations

DEFAULT_TOLERANCES = {  # dtype name -> (rtol, atol)
    "float64": (1e-12, 1e-12),
    "float32": (1e-5, 1e-6),
    "float16": (1e-3, 1e-3),
}
