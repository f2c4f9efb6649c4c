"""Wide shapes of columnar reads, as pure functions over the Arrow tables they return: a curve
as tenor columns, positioning as category columns, a backtest as decision time x series.

Each is one pivot done with numpy: the row keys and the column keys are factorized, every
value lands in its cell of one 2-D array, and cells nothing landed in are Arrow nulls (as are
NULL values). Two values for one cell are refused rather than one silently kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mp_db._columnar import import_arrow
from mp_db.exceptions import BadInputError

if TYPE_CHECKING:
    import pyarrow

__all__ = ["backtest_wide", "curve_wide", "positioning_wide"]

_TENOR = re.compile(r"(\d+)\s*([DWMY])", re.IGNORECASE)
_TENOR_DAYS = {"D": 1, "W": 7, "M": 30, "Y": 365}


def _tenor_key(tenor: str) -> tuple[int, int, str]:
    # Maturity order (1M before 10Y); tenors that are not <n><D|W|M|Y> go last, by name.
    match = _TENOR.fullmatch(tenor.strip())
    if match is None:
        return (1, 0, tenor)
    return (0, int(match.group(1)) * _TENOR_DAYS[match.group(2).upper()], tenor)


def _factorized(numpy: Any, column: Any) -> tuple[Any, Any]:
    values = column.to_numpy(zero_copy_only=False)
    distinct, codes = numpy.unique(values, return_inverse=True)
    return distinct, codes


def pivot(
    table: pyarrow.Table,
    *,
    index: Sequence[str],
    columns: str,
    values: str,
    order: Any = None,
) -> pyarrow.Table:
    """One row per distinct ``index`` (ascending), one column per distinct ``columns`` value
    (named by its ``str``, sorted by ``order`` or ascending), holding ``values``.

    Raises:
        BadInputError: a column is missing, or two rows give one cell.
    """
    arrow = import_arrow()
    import numpy

    missing = [name for name in (*index, columns, values) if name not in table.column_names]
    if missing:
        raise BadInputError(f"pivot: the table has no column {', '.join(map(repr, missing))}")
    row_key = numpy.zeros(table.num_rows, dtype="<i8")
    for name in index:
        distinct, codes = _factorized(numpy, table.column(name))
        row_key = row_key * max(len(distinct), 1) + codes
    row_keys, first, rows = numpy.unique(row_key, return_index=True, return_inverse=True)
    heads, cells = _factorized(numpy, table.column(columns))
    if len(numpy.unique(rows * max(len(heads), 1) + cells)) != table.num_rows:
        raise BadInputError(
            f"pivot: several rows for one ({', '.join(index)}) x {columns} cell; "
            f"the table must have one {values!r} per cell"
        )
    data = table.column(values)
    grid = numpy.zeros((len(row_keys), len(heads)), dtype="<f8")
    empty = numpy.ones((len(row_keys), len(heads)), dtype=bool)
    grid[rows, cells] = data.to_numpy(zero_copy_only=False).astype("<f8")
    empty[rows, cells] = arrow.compute.is_null(data).to_numpy(zero_copy_only=False)
    names = [str(head) for head in heads.tolist()]
    positions = sorted(range(len(names)), key=lambda at: order(names[at]) if order else at)
    result = table.select(list(index)).take(arrow.array(first))
    for at in positions:
        array = arrow.array(grid[:, at], arrow.float64(), mask=empty[:, at])
        result = result.append_column(names[at], array)
    return result


def curve_wide(table: pyarrow.Table, *, value: str = "value") -> pyarrow.Table:
    """A curve read (``output="arrow"``) as one row per (series_id, obs_time) and one column
    per tenor, in maturity order (``1M``, ``3M``, ``1Y``, ``10Y``)."""
    return pivot(
        table, index=("series_id", "obs_time"), columns="tenor", values=value, order=_tenor_key
    )


def positioning_wide(table: pyarrow.Table, *, value: str = "value") -> pyarrow.Table:
    """A positioning read as one row per (series_id, obs_time) and one column per trader
    category; ``value`` picks the figure (``long_positions``, ``short_positions``, ...)."""
    return pivot(table, index=("series_id", "obs_time"), columns="category", values=value)


def backtest_wide(table: pyarrow.Table, *, value: str = "value") -> pyarrow.Table:
    """A backtest (``output="arrow"``) as one row per distinct decision time (ascending) and
    one column per series (named by its id): the value each saw, null where nothing was
    known. Tables with entities (curves, positioning) have several values per cell: pivot
    them with :func:`curve_wide` or :func:`positioning_wide` per decision time instead."""
    return pivot(table, index=("decision_time",), columns="series_id", values=value)
