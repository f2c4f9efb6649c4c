"""Whole-column checks of a frame: accept a batch at once, or send it to the row validator.

A frame's converted columns (:mod:`mp_db._columns`) are checked here with numpy against the
same :class:`~mp_db._validator.ColumnStep` and row rules the row validator compiles, and the
records are built from the columns in one ``zip``. The answer is only ever "every row passes"
or "don't know": on any doubt (a failed check, a type this module does not judge, a null where
it would have to reason about defaults) it returns ``None`` and ingest runs the row validator
over the same rows, which names every problem exactly as for dicts. So a column check can
never accept a batch the row validator refuses (``test_column_checks.py`` checks this on
generated frames), and every message still comes from one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mp_db._columns import FrameColumn
from mp_db._validator import ColumnStep, CompiledValidator, compiled_validator
from mp_schema._rules import NotBelow

if TYPE_CHECKING:
    from mp_db._tables import FactTable

__all__ = ["checked_records"]

_DAY_MICROSECONDS = 86_400_000_000


class _DoubtError(Exception):
    """Some check did not pass: the row validator decides."""


def _missing(column: FrameColumn) -> Any:
    import numpy

    if column.array is not None and column.array.dtype.kind == "M":
        return numpy.isnat(column.array)
    if column.array is not None and column.array.dtype.kind == "f":
        return numpy.isnan(column.array)
    return numpy.fromiter((value is None for value in column.values), bool, len(column.values))


def _texts_pass(step: ColumnStep, distinct: set[Any]) -> bool:
    for text in distinct:
        if type(text) is not str or "\x00" in text:
            return False
        if step.limit is not None and len(text) > step.limit:
            return False
        if step.allowed is not None and text not in step.allowed:
            return False
        if step.pattern is not None and not step.pattern.fullmatch(text):
            return False
    return True


def _default_passes(step: ColumnStep, default: Any) -> bool:
    """The default of an absent column passes its step's checks (else the rows decide)."""
    if step.kind == "text":
        return _texts_pass(step, {default})
    return step.kind == "int" and type(default) is int and default >= step.minimum


def _values(
    step: ColumnStep, column: FrameColumn | None, rows: int, default_source: str
) -> tuple[Any, Any]:
    """The column's values as the row validator would normalize them, and its missing mask
    (``None``: nothing missing); raises :class:`_DoubtError` when it cannot tell."""
    import numpy

    default = default_source if step.uses_default_source else step.default
    if column is None:
        if default is None and not step.nullable:
            raise _DoubtError
        if default is not None and not _default_passes(step, default):
            raise _DoubtError
        return [default] * rows, numpy.full(rows, default is None)
    if None in column.values and (default is not None or step.kind == "text"):
        raise _DoubtError  # a default or a missing text: the row validator fills or names it
    if step.kind == "text":
        try:
            distinct = set(column.values)
        except TypeError:  # unhashable cells are not texts
            raise _DoubtError from None
        if not _texts_pass(step, distinct):
            raise _DoubtError
        return column.values, None
    return _numbers(step, column)


def _numbers(step: ColumnStep, column: FrameColumn) -> tuple[Any, Any]:
    """:func:`_values` of an int, timestamp or number column, from its array."""
    import numpy

    array = column.array
    if array is None:
        raise _DoubtError
    missing = _missing(column)
    if missing.any() and not step.nullable:
        raise _DoubtError
    present = array[~missing]
    if step.kind == "timestamp":
        if array.dtype.kind != "M":
            raise _DoubtError
        return column.values, missing
    if step.kind == "int":
        if array.dtype.kind not in "iu" or (present < step.minimum).any():
            raise _DoubtError
        return column.values, missing
    if array.dtype.kind not in "iuf" or not numpy.isfinite(present).all():
        raise _DoubtError
    if array.dtype.kind != "f":
        return array.astype(float).tolist(), missing
    return column.values, missing


def _row_rules(validator: CompiledValidator, arrays: dict[str, tuple[Any, Any]]) -> None:
    """The table's row rules on whole columns; raises :class:`_DoubtError` when a row breaks one."""
    import numpy

    spec = validator.table.spec
    obs = arrays["obs_time"][0].astype("int64")
    known = arrays["knowledge_time"][0].astype("int64")
    if spec.dated and (obs % _DAY_MICROSECONDS).any():
        raise _DoubtError
    if spec.knowledge_after_obs and (known < obs).any():
        raise _DoubtError
    for presence in validator.presence:
        if numpy.logical_and.reduce([arrays[name][1] for name in presence.columns]).any():
            raise _DoubtError
    for rule in validator.row_rules:
        if isinstance(rule, NotBelow):
            (upper, upper_missing), (lower, lower_missing) = arrays[rule.upper], arrays[rule.lower]
            both = ~(upper_missing | lower_missing)
            if (upper[both] < lower[both]).any():
                raise _DoubtError
        else:
            for name in rule.columns:
                values, missing = arrays[name]
                if (values[~missing] < 0).any():
                    raise _DoubtError


def _numeric(column: FrameColumn | None, rows: int, missing: Any) -> tuple[Any, Any]:
    import numpy

    if column is None or column.array is None:
        return numpy.zeros(rows), missing
    array = column.array
    return array, numpy.zeros(rows, bool) if missing is None else missing


def checked_records(
    table: FactTable, columns: dict[str, FrameColumn], default_source: str
) -> list[tuple[Any, ...]] | None:
    """The records (``FactTable.staged`` order) of a frame every row of which passes every
    check, or ``None`` when the row validator must decide (see the module docstring)."""
    validator = compiled_validator(table)
    if not columns.keys() <= validator.allowed:
        return None
    rows = len(next(iter(columns.values())).values) if columns else 0
    values: dict[str, Any] = {}
    arrays: dict[str, tuple[Any, Any]] = {}
    try:
        for step in validator.steps:
            column = columns.get(step.name)
            values[step.name], missing = _values(step, column, rows, default_source)
            if step.kind != "text":
                arrays[step.name] = _numeric(column, rows, missing)
        _row_rules(validator, arrays)
    except _DoubtError:
        return None
    staged: Iterator[tuple[Any, ...]] = zip(
        *(values[name] for name in validator.staged), strict=True
    )
    return list(staged)
