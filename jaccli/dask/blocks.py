"""What a Dask worker runs for one block of examples: module-level functions, imported by name on the worker.

Each block is evaluated exactly as the local engine evaluates a batch: sub-chunks of ``data["step"]`` examples,
converted to the reader's value dtype (integers -> float64, float16 -> float32), checked for non-finite input,
then ``engine.evaluate_chunk`` into a slice of the block's result. Examples never mix, so any blocking gives the
same bytes as one local run.
"""
from __future__ import annotations

import numpy as np

from jaccli.dask.ship import unship


def jacobian_block(data: dict, start: int, *blocks: np.ndarray, names: tuple[str, ...], label: str,
                   check_input: bool, pfor: bool, threads: int = 1) -> np.ndarray:
    """The result ``(b, *T, *S^k)`` of one block; ``start`` is the block's first example (for messages)."""
    from jaccli.io.inputs.batch import check_finite, value_dtype
    from jaccli.plan.engine import evaluate_chunk
    from jaccli.plan.parallel import ordered_map

    plan, step = unship(data), data["step"]
    b = blocks[0].shape[0]
    out = np.zeros((b,) + plan.example_shape, plan.dtype)

    def fill(s: int) -> None:
        chunk = {}
        for name, block in zip(names, blocks):
            part = np.array(block[s:s + step], dtype=value_dtype(block.dtype), order="C")
            if check_input:
                check_finite(part, start + s, label, name)
            chunk[name] = part
        evaluate_chunk(plan, chunk, pfor=pfor, out=out[s:s + step])

    for _ in ordered_map(fill, range(0, b, step), threads):
        pass
    return out


def nonfinite_stats(block: np.ndarray) -> np.ndarray:
    """``[[count, first]]``: non-finite values in a result block and the flat index of the first (-1: none)."""
    bad = ~np.isfinite(block)
    count = int(np.count_nonzero(bad))
    first = int(np.argmax(bad.reshape(-1))) if count else -1
    return np.array([[count, first]], dtype=np.int64)


def store_block(block: np.ndarray, start: int, target: str, kind: str) -> np.ndarray:
    """Write one result block where it belongs (a Zarr region or an ``.npy`` part) and return its statistics.

    Writing is idempotent: a task re-run after a worker died writes the same bytes to the same place."""
    if kind == "zarr":
        import zarr

        array = zarr.open_array(target, mode="r+")
        array[start:start + block.shape[0]] = block
    else:
        from jaccli.dask.stores import write_part

        write_part(target, start, block)
    return nonfinite_stats(block)

