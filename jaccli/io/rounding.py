"""``--precision N`` for csv and json: values rounded to N significant digits before they are written.

The writers keep printing the shortest text that reads back to the value they get, so a rounded value prints as
its N-digit decimal or shorter (``0.878`` for 0.8775825618903728 at N=3, ``48.0`` for 48). Rounding goes through
the decimal string (``format(v, '.3g')``), which is exact, never through ``value * 10**k``. Signs are kept (``-0.0``
stays ``-0.0``), and nan and inf pass unchanged. Only distinct values are formatted: Jacobians repeat values.
"""
from __future__ import annotations

import numpy as np

from jaccli.errors import UsageError
from jaccli.io.formats import BINARY_FORMATS, ROUNDED_FORMATS


def check_precision(digits: int | None, fmt: str) -> None:
    """Refuse what cannot mean anything: ``--precision 0`` for csv/json (no digit left) and npy (binary)."""
    if digits is None:
        return
    if fmt in BINARY_FORMATS:
        raise UsageError(f"--precision does not apply to {fmt} output (it stores the exact binary values)",
                         hint="drop --precision, or use -f csv/json/text")
    if fmt in ROUNDED_FORMATS and digits < 1:
        raise UsageError(f"--precision {digits} leaves no digit in {fmt} output",
                         hint="give 1 or more significant digits, or drop it for exact round-trip values")


def round_significant(values: np.ndarray, digits: int) -> np.ndarray:
    """``values`` rounded to ``digits`` significant decimal digits, in their own dtype."""
    flat = np.ascontiguousarray(values).reshape(-1)
    if flat.size == 0:
        return values
    distinct, inverse = np.unique(flat, return_inverse=True)
    rounded = np.array([float(format(v, f".{digits}g")) for v in distinct.tolist()], dtype=np.float64)
    out = rounded.astype(values.dtype)[inverse.reshape(-1)]
    # np.unique merges 0.0 and -0.0; rounding never changes a sign, so take each value's own.
    return np.copysign(out, flat).reshape(values.shape)
