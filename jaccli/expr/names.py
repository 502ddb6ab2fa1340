"""What counts as a name in an expression: one rule for CSV headers, NPZ/JSON members, ``-D`` and API names.

SymPy-free on purpose: the input readers check names while reading, long before (or without) planning.
"""
from __future__ import annotations

import keyword

NAME_HINT = "rename it to a Python identifier (letters, digits and '_', not starting with a digit, not a keyword)"


def is_valid_name(name: str) -> bool:
    """A name an expression can spell: a Python identifier that is not a keyword."""
    return name.isidentifier() and not keyword.iskeyword(name)
