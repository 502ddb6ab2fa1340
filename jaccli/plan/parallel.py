"""Chunks on several cores: a thread pool (NumPy releases the GIL inside its loops), results in input order.

Every chunk writes its own result (or its own disjoint slice of the API's result) and nothing is reduced across
chunks, so the bytes are the same for every thread count. ``ordered_map`` keeps at most ``2 * threads`` chunks
in flight: while workers compute, the calling thread reads the next chunks and writes finished ones, so reading,
computing and writing overlap and memory stays bounded.
"""
from __future__ import annotations

import os
import itertools
from collections import deque
from typing import Callable, Iterable, Iterator, TypeVar

from jaccli.errors import UsageError

ENV_THREADS = "JACCLI_THREADS"
T = TypeVar("T")
R = TypeVar("R")


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def thread_count(requested: int | None = None) -> int:
    """``requested``, else ``JACCLI_THREADS``, else the cores this process may run on."""
    if requested is None:
        text = os.environ.get(ENV_THREADS, "").strip()
        if not text:
            return available_cores()
        try:
            requested = int(text)
        except ValueError:
            raise UsageError(f"{ENV_THREADS}={text!r} is not a whole number", hint="e.g. JACCLI_THREADS=2") from None
        if requested < 1:
            raise UsageError(f"{ENV_THREADS}={text} must be at least 1", hint=f"e.g. {ENV_THREADS}=2, or unset it")
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
        raise UsageError(f"threads must be an integer, 1 or more, not {requested!r}",
                         hint="e.g. threads=2; None uses the cores available")
    return requested


def ordered_map(fn: Callable[[T], R], items: Iterable[T], threads: int) -> Iterator[R]:
    """``map(fn, items)`` on ``threads`` threads, in order, at most ``2 * threads`` items in flight."""
    items = iter(items)
    head = list(itertools.islice(items, 2))
    if threads <= 1 or len(head) < 2:  # one chunk: no pool (and no thread-pool import on a small warm call)
        yield from map(fn, itertools.chain(head, items))
        return
    from concurrent.futures import Future, ThreadPoolExecutor

    pending: deque[Future] = deque()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="jaccli") as pool:
        try:
            for item in itertools.chain(head, items):
                pending.append(pool.submit(fn, item))
                if len(pending) >= 2 * threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # an error or an early stop (closed pipe): drop what has not started, wait for the rest
            for f in pending:
                f.cancel()
