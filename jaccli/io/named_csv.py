"""``-f csv`` with header cells of the caller's choosing (rows as ``outputs.CsvWriter`` writes them).

``--reduce logabsdet`` gives one array with an axis of 2 after the batch axis (sign, then log|det|); its CSV names
the two column groups ``sign...`` and ``logabsdet...`` instead of ``J[0]...``.
"""
from __future__ import annotations

from typing import IO

import numpy as np

from jaccli.io.outputs import CsvWriter


class NamedCsvWriter(CsvWriter):
    def __init__(self, file: IO[bytes], header: list[str]) -> None:
        super().__init__(file)
        self.header = header

    def _start(self) -> None:
        size = int(np.prod(self.shape, dtype=np.int64))
        if len(self.header) != size:  # a bug, not a user error: the header is made from the same shape
            raise ValueError(f"{len(self.header)} header cells for {size} values per example")
        self.file.write((",".join(self.header) + "\n").encode("ascii"))
