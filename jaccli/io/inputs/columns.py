"""Which CSV columns make up an example's row, and what they are called.

Data as people have it carries more than the numbers: pandas' ``to_csv()`` writes its index as a first column
with an empty name, R's ``write.csv`` quotes row names, and a label column often sits beside the features. The
rules, from the header (if any) and the first data row:

- ``--columns a,b`` picks those columns, in that order; everything else is ignored. On a file without a header
  it names the columns instead (then there must be one name per column).
- Otherwise every column is kept except an *index column* (``--index-col auto``: an unnamed first column, skipped
  with a note; ``--index-col N`` or ``NAME``: that column, silently; ``--index-col none``: no index column) and,
  when there is a header, a *label column* whose first data cell is not a number (skipped with a note).
- Kept columns must have names that an expression can use; errors point at the header cell.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from jaccli.errors import InputError, UsageError, did_you_mean
from jaccli.expr.names import is_valid_name
from jaccli.io.inputs.dialect import Cell, is_number

_INDEX_COL_HINT = "give a header name, a 0-based position, or none"


@dataclass(frozen=True)
class ColumnOptions:
    """The user's say: ``columns`` from ``--columns`` (None: all usable ones); ``index_col`` is ``'auto'``,
    ``'none'``, a 0-based position or a header name."""

    columns: tuple[str, ...] | None = None
    index_col: str = "auto"


@dataclass
class ColumnChoice:
    picked: list[int]  # positions of the kept cells, in row order
    names: list[str] | None  # their names (None: a file without a header and no --columns)
    notes: list[str] = field(default_factory=list)  # what was skipped, for standard error


def choose_columns(header: Sequence[Cell] | None, first: Sequence[Cell], options: ColumnOptions,
                   where: str) -> ColumnChoice:
    """Pick the columns; ``where`` is ``file:line`` of the header (for errors at a header cell)."""
    ncols = len(first) if header is None else len(header)
    names = None if header is None else [cell.text for cell in header]
    index = _index_column(names, ncols, options.index_col)
    notes = []
    if index is not None and options.index_col == "auto":
        notes.append("skipped the unnamed first column (an index, as pandas writes it); "
                     "--index-col 0 says so and silences this note")
    if options.columns is not None:
        return _picked_by_name(names, ncols, index, options.columns, notes)
    kept = [i for i in range(ncols) if i != index]
    if header is not None:
        labels = [i for i in kept if i < len(first) and _is_text(first[i].text)]
        for i in labels:
            notes.append(f"skipped column {header[i].text!r}: its first value {first[i].text[:20]!r} is not a number "
                         "(--columns picks columns)")
        kept = [i for i in kept if i not in labels]
        if not kept:
            raise InputError("no column holds numbers", where=where,
                             hint="check the delimiter (--delimiter), or pick columns with --columns")
        for position, i in enumerate(kept):
            # R writes 'Sepal.Length': still a column, and still its label in the output; only not a name an
            # expression can spell, so it is x[position] there.
            if not header[i].text:
                raise InputError(f"column {i + 1} has no name", where=f"{where}:{header[i].column}",
                                 hint="name every column in the header (or none of them)")
            if not is_valid_name(header[i].text):
                notes.append(f"column {header[i].text!r} is not a name an expression can use: it is x[{position}]")
        _unique([header[i] for i in kept], where)
    return ColumnChoice(kept, None if names is None else [names[i] for i in kept], notes)


def _is_text(cell: str) -> bool:
    """A label, not a number; a decimal comma (``2,5``) counts as a number so that its error is reported."""
    return bool(cell) and not is_number(cell) and not is_number(cell.replace(",", ".", 1))


def _index_column(names: list[str] | None, ncols: int, option: str) -> int | None:
    if option == "none":
        return None
    if option == "auto":
        return 0 if names and names[0] == "" and ncols > 1 else None
    if option.isascii() and option.isdigit():  # a position in ASCII digits (textkit); else a name
        if int(option) >= ncols:
            raise UsageError(f"--index-col {option}: the input has {ncols} columns (0..{ncols - 1})",
                             hint=_INDEX_COL_HINT)
        return int(option)
    if names is None or option not in names:
        guess = did_you_mean(option, names or [])
        raise UsageError(f"--index-col {option}: no such column" + (f" (did you mean {guess!r}?)" if guess else ""),
                         hint=_INDEX_COL_HINT)
    return names.index(option)


def _picked_by_name(names: list[str] | None, ncols: int, index: int | None, wanted: Sequence[str],
                    notes: list[str]) -> ColumnChoice:
    if any(not name for name in wanted):
        raise UsageError("--columns has an empty name", hint="separate the names with single commas: --columns r,theta")
    if len(set(wanted)) != len(wanted):
        raise UsageError("--columns names a column twice", hint="list each column once")
    if names is None:  # no header: --columns names the columns, all of them
        kept = [i for i in range(ncols) if i != index]
        if len(wanted) != len(kept):
            raise UsageError(f"--columns gives {len(wanted)} names but the input (no header) has {len(kept)} "
                             "columns", hint="name every column, in order")
        return ColumnChoice(kept, list(wanted), notes)
    picked = []
    for name in wanted:
        if name not in names:
            guess = did_you_mean(name, [n for n in names if n])
            raise UsageError(f"--columns: the header has no column {name!r}"
                             + (f" (did you mean {guess!r}?)" if guess else ""),
                             hint="columns: " + ", ".join(n for n in names if n))
        picked.append(names.index(name))
    return ColumnChoice(picked, list(wanted), [])


def _unique(cells: Sequence[Cell], where: str) -> None:
    seen: set[str] = set()
    for cell in cells:
        if cell.text in seen:
            raise InputError(f"column name {cell.text!r} appears twice", where=f"{where}:{cell.column}",
                             hint="rename one of the columns; names must be unique")
        seen.add(cell.text)
