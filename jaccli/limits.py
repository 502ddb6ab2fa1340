"""Run-wide limits that the command line checks before any work (no SymPy or NumPy imports here: the CLI
imports this module at start-up). Expression limits live with the parser (``expr/parse.py``, ``expr/budget.py``)
and the planner (``plan/derive.py``); the README's "Limits" paragraph lists them all.
"""
from __future__ import annotations

MAX_ORDER = 32  # derivative order; every cost grows with it (n**k values, depth**k terms)
MAX_PARALLEL_ITERATIONS = 2**31 - 1  # more examples than any chunk holds; itertools.islice refuses past sys.maxsize
MAX_PRECISION = 100  # text digits; NumPy prints the shortest round-trip digits anyway (17 for float64)

_FALLBACK_MEMORY = 8 << 30  # when the OS does not say (not Linux, no sysconf): a modest machine


def available_memory() -> int:
    """Bytes of memory the machine can give this process now: Linux's MemAvailable, else free physical pages.

    In-memory work (a whole ``.npz`` member, text output, the Python API's result) is held to a share of it, so
    that a hostile file or option is refused with a message instead of driving the machine into swap."""
    try:
        with open("/proc/meminfo", "rb") as meminfo:
            for line in meminfo:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import os

        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return _FALLBACK_MEMORY


def format_bytes(n: float) -> str:
    """``2.4 GB``-style sizes for messages (decimal units, 3 significant digits)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} bytes"


# --- the size of a result --------------------------------------------------------------------------------------
DEFAULT_MAX_OUTPUT_BYTES = 1 << 30  # 1 GiB of result values; --max-output-bytes raises it for streamed formats
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}
_SIZE = None  # compiled on first use: keeps ``re`` out of the start-up path


def parse_size(text: str) -> int:
    """``--max-output-bytes`` values: ``1000000``, ``512M``, ``4G``, ``1.5GiB`` (binary units: 1G = 2**30).
    Raises ValueError with a readable message."""
    import re

    global _SIZE
    _SIZE = _SIZE or re.compile(r"([0-9]+(?:\.[0-9]*)?)\s*([KMGTP]?)(?:I?B)?", re.IGNORECASE)
    match = _SIZE.fullmatch(text.strip())
    if match is None or len(match.group(1)) > 30:
        raise ValueError(f"{text!r} is not a size (like 1000000, 512M or 4G)")
    value = float(match.group(1)) * _UNITS[match.group(2).upper()]
    if value < 1 or value > 2**63:
        raise ValueError(f"{text!r} is out of range (1 byte to 8 EiB)")
    return int(value)


def memory_budget() -> int:
    """What a result held whole in memory may take: half the available memory (the rest is for the work)."""
    return available_memory() // 2


def check_result_bytes(examples: int, example_values: int, itemsize: int, limit: int, what: str, hint: str, *,
                       so_far: bool = False) -> None:
    """Refuse a result of ``examples * example_values * itemsize`` bytes over ``limit`` (sizes in floating point:
    a shape from a hostile header may multiply to hundreds of digits)."""
    from jaccli.errors import UsageError

    size = float(examples) * float(example_values) * float(itemsize)
    if size > limit:
        count = f"{examples} examples so far" if so_far else f"{examples} example{'s' if examples != 1 else ''}"
        raise UsageError(f"the result would be {format_bytes(size)} ({count} x {example_values} values x "
                         f"{itemsize} bytes), over {what} of {format_bytes(limit)}", hint=hint)


def result_limit(explicit: int | None, held: bool) -> tuple[int, str, str]:
    """``(limit, its name, hint)`` for a result: ``--max-output-bytes`` when given; otherwise half the available
    memory when the whole result is held (text output, ``--expect``, the Python API), else 1 GiB (streamed)."""
    if explicit is not None:
        return explicit, "--max-output-bytes", "raise --max-output-bytes (e.g. 8G), lower --order, or use fewer examples"
    if held:
        return memory_budget(), "the memory budget (half the available memory)", \
            "-f csv/npy/json stream the result (give --max-output-bytes), or lower --order, or use fewer examples"
    return DEFAULT_MAX_OUTPUT_BYTES, "the default --max-output-bytes", \
        "raise --max-output-bytes (e.g. 8G) if you mean it, lower --order, or use fewer examples"
