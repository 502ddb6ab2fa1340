"""The watched variable (``--wrt``): one input array, one CSV column, or several of them concatenated.

``Source`` maps leaf elements to flat source indices; ``concatenate`` builds ``--wrt a,b`` from one source per
name (``Scope.source`` in ``trace`` resolves the names).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jaccli.errors import UsageError


@dataclass(frozen=True)
class Segment:
    """One of several sources (``--wrt a,b``): its name, event shape and first index in the concatenation."""

    name: str
    shape: tuple[int, ...]
    offset: int

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass(frozen=True)
class Source:
    """The watched variable: ``leaf`` (an input array) restricted by ``smap`` to the source's elements.

    ``smap[i]`` is the flat source index of leaf element ``i``, or -1 where that element is not watched (a CSV
    row when ``--wrt`` names one column). ``shape`` is the source event shape ``S``.

    Several sources (``--wrt a,b``) are one source of shape ``(n_a + n_b,)``, their flattened concatenation: then
    ``segments`` name the parts and ``others`` hold the maps of the leaves after the first (``leaf``/``smap``).
    Code that follows slots uses ``map_for(leaf)``, which covers both cases.
    """

    name: str
    leaf: str
    shape: tuple[int, ...]
    smap: np.ndarray
    others: tuple[tuple[str, np.ndarray], ...] = ()
    segments: tuple[Segment, ...] = ()

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def map_for(self, leaf: str) -> np.ndarray | None:
        """Flat source index of each element of ``leaf`` (-1: not watched); None when no source lives there."""
        if leaf == self.leaf:
            return self.smap
        return next((m for name, m in self.others if name == leaf), None)

    def leaves(self) -> list[str]:
        """The input arrays the source lives in (one, or several for ``--wrt a,b``)."""
        return [self.leaf] + [name for name, _ in self.others]

    def elements(self) -> list[tuple[str, int]]:
        """``(leaf, flat element)`` of every source index, in source order."""
        out: list[tuple[str, int]] = [("", -1)] * self.size
        for leaf, smap in ((self.leaf, self.smap), *self.others):
            for element in np.flatnonzero(smap >= 0).tolist():
                out[int(smap[element])] = (leaf, element)
        return out

    def segment_of(self, index: int) -> Segment:
        """The segment holding source index ``index`` (the whole source when there is one)."""
        for seg in reversed(self.segments):
            if index >= seg.offset:
                return seg
        return Segment(self.name, self.shape, 0)


EMPTY = Source("", "", (), np.zeros(0, np.int64))  # an empty name in --wrt a,,b (refused by concatenate)


def concatenate(parts: list[Source], name: str) -> Source:
    """Several sources as one (``--wrt a,b``): flattened and concatenated, S = (n_a + n_b + ...,).

    Two parts may share a leaf (two CSV columns, ``--wrt r,theta``) but not an element of it."""
    names = [p.name for p in parts]
    if "" in names:
        raise UsageError(f"--wrt {name}: an empty name", hint="separate source names by single commas: --wrt a,b")
    for i, n in enumerate(names):
        if n in names[:i]:
            raise UsageError(f"--wrt {name}: '{n}' is given twice", hint="name each source once")
    maps: dict[str, np.ndarray] = {}
    segments: list[Segment] = []
    offset = 0
    for p in parts:
        smap = maps.setdefault(p.leaf, np.full(p.smap.size, -1, np.int64))
        mine = p.smap >= 0
        if (smap[mine] >= 0).any():
            other = next(s.name for s, q in zip(segments, parts) if q.leaf == p.leaf and (q.smap[mine] >= 0).any())
            raise UsageError(f"--wrt {name}: '{p.name}' and '{other}' overlap",
                             hint="each element may be watched once; name disjoint sources")
        smap[mine] = p.smap[mine] + offset
        segments.append(Segment(p.name, p.shape, offset))
        offset += p.size
    (leaf, smap), *others = maps.items()
    return Source(name, leaf, (offset,), smap, tuple(others), tuple(segments))
