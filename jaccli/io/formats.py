"""Every format name and file extension jaccli knows, in one place, for the readers, the writers and the CLI.

No NumPy imported (only ``jaccli.errors``, which ``--help`` loads anyway): ``cli/group.py`` reads the choices for
``--help`` from here, and ``jaccli --help`` must stay fast. Tuples, in the order ``--help`` lists them; ``auto``
first where a reader may guess. ``check_format`` is the one "unknown format" error of the library's entry points
(the CLI's click choices refuse earlier, with click's words).
"""
from __future__ import annotations

from jaccli.errors import UsageError, did_you_mean

# Batched inputs (``io/inputs``): ``auto`` goes by the extension, or sniffs standard input's first bytes.
INPUT_FORMATS = ("auto", "csv", "tsv", "json", "npy", "npz")
INPUT_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "json", ".npy": "npy", ".npz": "npz"}
# ``-P NAME=PATH`` files (``io/params``): one whole array, so no npz; the format is the extension itself.
PARAM_FORMATS = ("npy", "json", "csv", "tsv")
PARAM_EXTENSIONS = tuple(f".{fmt}" for fmt in PARAM_FORMATS)

# Results written (``io/outputs``; npz by ``io/npz``); ``-o PATH`` picks one by its extension, text otherwise.
OUTPUT_FORMATS = ("text", "json", "csv", "npy", "npz")
OUTPUT_EXTENSIONS = {".json": "json", ".csv": "csv", ".npy": "npy", ".npz": "npz", ".txt": "text"}
SEVERAL_FORMATS = ("text", "json", "npz")  # the ones that hold several orders (-k 0,1,2)
SEVERAL_RESULT_FORMATS = ("npz", "json")  # ... and are read back order by order (checks/several; text is for people)
ROUNDED_FORMATS = ("csv", "json")  # --precision rounds their values (text prints to it; the binary ones keep all)
BINARY_FORMATS = ("npy", "npz")  # never printed to a terminal, never rounded
# --header: how csv headers and JSON layouts name the values (``io/labels``); auto: names if the input has them
HEADER_STYLES = ("auto", "names", "index")

# Results read back (``checks/results``): one result per file, so every output format but npz; ``.text`` too.
RESULT_FORMATS = ("auto", *(fmt for fmt in OUTPUT_FORMATS if fmt != "npz"))
RESULT_EXTENSIONS = {**{ext: fmt for ext, fmt in OUTPUT_EXTENSIONS.items() if fmt in RESULT_FORMATS}, ".text": "text"}
# ``jaccli compare`` reads any output file: one result as above, or several orders (npz, json; ``checks/several``).
COMPARE_FORMATS = ("auto", *OUTPUT_FORMATS)


def check_format(fmt: str, formats: tuple[str, ...], kind: str) -> None:
    """Refuse a format name not in ``formats`` (``kind``: input, output, golden), with a did-you-mean."""
    if fmt not in formats:
        guess = did_you_mean(fmt, formats)
        raise UsageError(f"unknown {kind} format {fmt!r}" + (f" (did you mean {guess!r}?)" if guess else ""),
                         hint="the formats are " + ", ".join(formats))
