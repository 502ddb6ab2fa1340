"""``-k`` text to orders: ``2``, ``0,1,2``, ``0-2``. Apart from ``orders`` so that parsing options loads no SymPy."""
from __future__ import annotations

import re

from jaccli.errors import UsageError
from jaccli.limits import MAX_ORDER

MAX_ORDERS = 64  # orders in one run; keeps '-k 0-99999999' instant (one order may be high: x**3 of a scalar)


def parse_orders(text: str) -> tuple[int, ...]:
    """``-k`` text: ``2``, ``0,1,2``, ``0-2`` or a mix (``0,2-3``) -> sorted distinct orders (ASCII digits, as every
    number jaccli reads: ``textkit``)."""
    found: set[int] = set()
    for part in text.split(","):
        match = re.fullmatch(r"\s*([0-9]{1,30})\s*(?:-\s*([0-9]{1,30})\s*)?", part)
        if not match:
            raise UsageError(f"{text!r} is not an order", hint="give k, a list k1,k2 or a range k1-k2, like 0-2")
        low = int(match[1])
        high = int(match[2]) if match[2] is not None else low
        if high < low:
            raise UsageError(f"the range {low}-{high} is empty", hint=f"write {high}-{low}")
        if high - low >= MAX_ORDERS or len(found) + high - low >= MAX_ORDERS:
            raise UsageError(f"more than {MAX_ORDERS} orders", hint=f"ask for at most {MAX_ORDERS} orders in one run")
        if high > MAX_ORDER:  # also keeps a 30-digit order out of every later computation
            raise UsageError(f"order {high} is too large (at most {MAX_ORDER})",
                             hint=f"orders above {MAX_ORDER} are refused: sizes grow like n**k")
        found.update(range(low, high + 1))
    return tuple(sorted(found))
