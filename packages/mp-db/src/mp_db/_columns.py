"""Frames into columns, and into rows when the row validator must decide.

Each column of a pandas, polars or pyarrow table becomes a :class:`FrameColumn`: a numpy array
the whole-column checks use (:mod:`mp_db._column_checks`; a frame that passes them is written
from its columns, :mod:`mp_db._column_batch`), and, built only if a check doubts, the plain
values the same dicts would hold, so the row validator judges the frame exactly as it judges
dicts:

* a timezone-aware timestamp column becomes ``datetime`` objects in UTC (one numpy conversion;
  ``tzinfo`` is :data:`datetime.UTC`, the validator's fast path);
* a naive timestamp column becomes naive ``datetime`` objects, which the validator refuses
  exactly as it refuses a naive ``datetime`` in a dict (``naive_datetime``): never assumed UTC;
* numpy numbers become ``int`` and ``float``;
* a missing cell (``None``, ``NaN``, ``NaT``, ``pd.NA``, Arrow and polars nulls) becomes
  ``None``, except a ``NaN`` in a float column the table requires, which stays ``NaN`` and is
  refused as ``non_finite``, as the same ``NaN`` in a dict is; in a column with a default
  (``knowledge_time_source``) the cell is left out of its row, which then gets the default.

The frame libraries are imported only when a frame of theirs is passed (the ``pandas``,
``arrow`` and ``polars`` extras); nothing else here needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC
from functools import partial
from itertools import chain
from typing import Any

from mp_db._tables import FactTable
from mp_db._validator import compiled_validator

__all__ = ["FrameColumn", "as_rows", "frame_columns", "frame_rows", "frame_stream"]


def _library(rows: Any) -> str | None:
    """``pandas``, ``polars`` or ``pyarrow`` for a frame of theirs, ``None`` for anything else
    (told apart by module, so no library is imported to ask)."""
    module = type(rows).__module__.partition(".")[0]
    if module == "pandas" and hasattr(rows, "itertuples"):
        return "pandas"
    if module == "polars" and hasattr(rows, "get_columns"):
        return "polars"
    if module == "pyarrow" and hasattr(rows, "column_names"):
        return "pyarrow"
    return None


def _datetimes(instants: Any, zone: Any) -> list[Any]:
    """Datetimes with tzinfo ``zone`` (``None``: naive; NaT: ``None``) from a numpy datetime64
    array.

    Each distinct instant is built once and shared, as a caller's dicts usually share them: a
    fact table repeats its times across series and vintages, so this is one sort and a few
    object constructions instead of one per cell.
    """
    import numpy

    distinct, positions = numpy.unique(instants.astype("datetime64[us]"), return_inverse=True)
    built: list[Any] = distinct.tolist()
    if zone is not None:
        built = [None if value is None else value.replace(tzinfo=zone) for value in built]
    objects = numpy.empty(len(built), dtype=object)
    objects[:] = built
    values: list[Any] = objects[positions.reshape(-1)].tolist()
    return values


def _utc_datetimes(naive_utc: Any) -> list[Any]:
    """Aware UTC datetimes from a numpy datetime64 array of UTC instants."""
    return _datetimes(naive_utc, UTC)


def _naive_datetimes(naive: Any) -> list[Any]:
    """Naive datetimes from a numpy datetime64 array: the validator refuses them by name."""
    return _datetimes(naive, None)


def _with_nones(values: Any, missing: Any) -> list[Any]:
    """``values`` (a numpy array) as a list, ``None`` where ``missing`` (a bool array) is set."""
    if not missing.any():
        listed: list[Any] = values.tolist()
        return listed
    import numpy

    objects = values.astype(object)
    objects[missing] = None
    result: list[Any] = objects.tolist()
    # tolist() of an object array keeps numpy scalars as they are: make them plain too.
    return [value.item() if isinstance(value, numpy.generic) else value for value in result]


class FrameColumn:
    """One converted column.

    Attributes:
        values: the plain Python values, one per row, built on first use (only when the row
            validator must decide: the column checks need only ``array``).
        array: the same column as a numpy array where whole-column checks can use one: numbers
            without nulls (floats may hold NaN for a missing cell), timezone-aware timestamps
            as ``datetime64[us]`` UTC instants (NaT where missing), texts as an object array
            (``None`` where missing); ``None`` otherwise.
    """

    __slots__ = ("_build", "_values", "array")

    def __init__(self, build: Callable[[], list[Any]], array: Any = None) -> None:
        self._build, self.array = build, array
        self._values: list[Any] | None = None

    @property
    def values(self) -> list[Any]:
        """The plain values (see the class docstring)."""
        values = self._values
        if values is None:
            values = self._values = self._build()
        return values

    def __len__(self) -> int:
        return len(self.array) if self.array is not None else len(self.values)


def _objects(values: Any, missing: Any) -> Any:
    """An object array of ``values`` with ``None`` where ``missing``."""
    objects = values.astype(object)
    if missing.any():
        objects[missing] = None
    return objects


def _pandas_column(series: Any, nullable: bool) -> FrameColumn:
    import numpy
    import pandas

    dtype = series.dtype
    if isinstance(dtype, pandas.DatetimeTZDtype):
        instants = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        return FrameColumn(partial(_utc_datetimes, instants), instants.astype("datetime64[us]"))
    if isinstance(dtype, numpy.dtype):
        if dtype.kind == "M":
            return FrameColumn(partial(_naive_datetimes, series.to_numpy()))
        if dtype.kind == "f":
            values = series.to_numpy()
            if nullable:
                return FrameColumn(partial(_with_nones, values, numpy.isnan(values)), values)
            return FrameColumn(values.tolist, values)
        if dtype.kind in "iu":
            values = series.to_numpy()
            return FrameColumn(values.tolist, values)
        if dtype.kind == "b":
            return FrameColumn(series.to_numpy().tolist)
    # Strings, extension dtypes (Int64, string, ...) and objects: missing markers become None.
    objects, missing = series.to_numpy(dtype=object), series.isna().to_numpy()
    texts = _objects(objects, missing) if _texts(dtype) else None
    return FrameColumn(partial(_with_nones, objects, missing), texts)


def _texts(dtype: Any) -> bool:
    """A pandas dtype that holds strings (object columns may: the checks look at each)."""
    return str(dtype) in {"object", "string", "str"} or str(dtype).startswith("string")


def _polars_column(series: Any, nullable: bool) -> FrameColumn:
    import numpy
    import polars

    dtype = series.dtype
    if isinstance(dtype, polars.Datetime):
        if dtype.time_zone is None:
            return FrameColumn(series.to_list)
        utc = series.dt.convert_time_zone("UTC").dt.replace_time_zone(None).to_numpy()
        return FrameColumn(partial(_utc_datetimes, utc), utc.astype("datetime64[us]"))
    if dtype.is_float() and nullable:
        series = series.fill_nan(None)
    array = None
    # Float nulls become NaN in the array, a missing cell to the column checks; int nulls
    # would make it float, so those columns go without one.
    if dtype.is_float() or (dtype.is_integer() and series.null_count() == 0):
        array = series.to_numpy()
    elif dtype in {polars.String, polars.Null}:
        array = numpy.array(series.to_list(), dtype=object)
    return FrameColumn(series.to_list, array)


def _arrow_column(column: Any, nullable: bool) -> FrameColumn:
    import numpy
    import pyarrow
    import pyarrow.compute

    kind = column.type
    if pyarrow.types.is_timestamp(kind) and kind.tz is not None:
        # Arrow stores UTC instants: dropping the zone keeps them, nulls become NaT.
        naive = column.cast(pyarrow.timestamp(kind.unit)).to_numpy(zero_copy_only=False)
        return FrameColumn(partial(_utc_datetimes, naive), naive.astype("datetime64[us]"))
    if pyarrow.types.is_floating(kind) and nullable:
        column = pyarrow.compute.if_else(pyarrow.compute.is_nan(column), None, column)
    array = None
    # As for polars: float nulls are NaN in the array, int columns with nulls get none.
    if pyarrow.types.is_floating(kind) or (
        pyarrow.types.is_integer(kind) and column.null_count == 0
    ):
        array = column.to_numpy()
    elif pyarrow.types.is_string(kind) or pyarrow.types.is_large_string(kind):
        array = column.to_numpy(zero_copy_only=False)
    elif pyarrow.types.is_null(kind):  # a column of nothing but nulls
        array = numpy.full(len(column), None, dtype=object)
    return FrameColumn(column.to_pylist, array)


def frame_columns(table: FactTable, frame: Any) -> dict[str, FrameColumn] | None:
    """Each column of a pandas, polars or pyarrow frame converted (see :class:`FrameColumn`),
    or ``None`` when ``frame`` is not a frame.

    A column the table does not have is converted too, so the validator names it
    (``unknown_field``).
    """
    library = _library(frame)
    if library is None:
        return None
    nullable = {step.name: step.nullable for step in compiled_validator(table).steps}
    if library == "pandas":
        return {
            str(name): _pandas_column(frame[name], nullable.get(str(name), True))
            for name in frame.columns
        }
    if library == "polars":
        return {
            series.name: _polars_column(series, nullable.get(series.name, True))
            for series in frame.get_columns()
        }
    return {
        str(name): _arrow_column(column, nullable.get(str(name), True))
        for name, column in zip(frame.column_names, frame.columns, strict=True)
    }


def _defaulted(table: FactTable) -> set[str]:
    """Columns a row may omit for a default (``knowledge_time_source``, ...)."""
    steps = compiled_validator(table).steps
    return {step.name for step in steps if step.uses_default_source or step.default is not None}


def frame_rows(table: FactTable, columns: dict[str, FrameColumn]) -> list[dict[str, Any]]:
    """A frame's converted columns as one mapping per row.

    A missing cell of a column with a default is left out of its row, as a dict that does not
    carry the field: the row gets the default (a frame holds a column for every row or none).
    """
    names = list(columns)
    values = [column.values for column in columns.values()]
    mappings = [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
    for name in _defaulted(table) & set(names):
        if None in columns[name].values:
            for mapping, value in zip(mappings, columns[name].values, strict=True):
                if value is None:
                    del mapping[name]
    return mappings


def frame_stream(rows: Any) -> tuple[Iterator[Any] | None, Any]:
    """``(frames, rows)``: an iterator over the frames when ``rows`` is a stream of frames (a
    ``pyarrow.RecordBatchReader``, or any iterable whose first item is a pandas, polars or
    pyarrow frame), else ``None``, with ``rows`` to use in place of what was passed (an
    iterator whose first item was read to tell is given back whole)."""
    if _library(rows) is not None or isinstance(rows, Mapping | str | bytes):
        return None, rows
    if type(rows).__module__.partition(".")[0] == "pyarrow" and hasattr(rows, "read_next_batch"):
        return iter(rows), rows
    if isinstance(rows, Sequence):
        if rows and _library(rows[0]) is not None:
            return iter(rows), rows
        return None, rows
    try:
        iterator = iter(rows)
    except TypeError:
        return None, rows
    if iterator is not rows:  # re-iterable (a set, a dict view...): leave it to the rows
        return None, rows
    first = next(iterator, _END)
    if first is _END:
        return None, []
    if _library(first) is not None:
        return chain([first], iterator), None
    return None, chain([first], iterator)


_END = object()


def as_rows(table: FactTable, rows: Any) -> Iterable[Any]:
    """``rows`` as given, or a frame's rows as mappings of plain values (see the module)."""
    columns = frame_columns(table, rows)
    if columns is None:
        iterable: Iterable[Any] = rows
        return iterable
    return frame_rows(table, columns)
