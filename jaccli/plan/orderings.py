"""The distinct orderings of a multiset of slots: where one symbolic partial lands in the result.

By Schwarz's theorem the k-th partial over slots ``(a1, ..., ak)`` is the same for every ordering of them, so the
planner differentiates each *multiset* once and scatters the value to each distinct ordering. Building the
orderings as ``set(permutations(...))`` costs k! even when every slot is the same one (``exp(x)`` at order 12:
479 001 600 tuples for a single ordering); the next-permutation walk below costs one step per distinct ordering.
"""
from __future__ import annotations

from collections import Counter
from math import factorial, prod
from typing import Iterator, Sequence


def distinct_orderings(multiset: Sequence[int]) -> Iterator[tuple[int, ...]]:
    """Every distinct ordering of ``multiset``, in lexicographic order (as ``sorted(set(permutations(m)))``)."""
    items = sorted(multiset)
    n = len(items)
    while True:
        yield tuple(items)
        # Narayana's next permutation: the rightmost ascent, swap with the rightmost larger item, reverse the tail.
        i = n - 2
        while i >= 0 and items[i] >= items[i + 1]:
            i -= 1
        if i < 0:
            return
        j = n - 1
        while items[j] <= items[i]:
            j -= 1
        items[i], items[j] = items[j], items[i]
        items[i + 1:] = reversed(items[i + 1:])


def count_orderings(multiset: Sequence[int]) -> int:
    """How many distinct orderings ``multiset`` has: the multinomial k! / (m1! m2! ...)."""
    return factorial(len(multiset)) // prod(factorial(c) for c in Counter(multiset).values())
