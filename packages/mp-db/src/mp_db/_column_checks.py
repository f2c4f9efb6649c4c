"""Whole-column checks of a frame: accept a batch at once, or send it to the row validator.

A frame's converted columns (:mod:`mp_db._columns`) are checked here with numpy against the
same :class:`~mp_db._validator.ColumnStep` and row rules the row validator compiles, and the
checked columns stay numpy arrays (:mod:`mp_db._column_batch` sorts, deduplicates and writes
them without making rows). The answer is only ever "every row passes"
or "don't know": on any doubt (a failed check, a type this module does not judge, a null where
it would have to reason about defaults) it returns ``None`` and ingest runs the row validator
over the same rows, which names every problem exactly as for dicts. So a column check can
never accept a batch the row validator refuses (``test_column_checks.py`` checks this on
generated frames), and every message still comes from one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mp_db._columns import FrameColumn
from mp_db._validator import ColumnStep, CompiledValidator, compiled_validator
from mp_schema._rules import NotBelow

if TYPE_CHECKING:
    from mp_db._tables import FactTable

__all__ = ["checked_columns"]

_DAY_MICROSECONDS = 86_400_000_000


class _DoubtError(Exception):
    """Some check did not pass: the row validator decides."""


def _missing(array: Any) -> Any:
    """Where a column's array has no value (NaT, NaN, ``None``)."""
    import numpy

    if array.dtype.kind == "M":
        return numpy.isnat(array)
    if array.dtype.kind == "f":
        return numpy.isnan(array)
    if array.dtype.kind == "O":
        return numpy.frompyfunc(lambda cell: cell is None, 1, 1)(array).astype(bool)
    return numpy.zeros(len(array), dtype=bool)


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


def _texts(step: ColumnStep, array: Any) -> Any:
    """A text column's object array, if every cell passes ``step``."""
    if array.dtype.kind != "O":
        raise _DoubtError
    try:
        distinct = set(array.tolist())
    except TypeError:  # unhashable cells are not texts
        raise _DoubtError from None
    if not _texts_pass(step, distinct):
        raise _DoubtError
    return array


def _absent(step: ColumnStep, rows: int, default_source: str) -> tuple[Any, Any]:
    """:func:`_values` of a column the frame does not have: its default, or NULL."""
    import numpy

    default = default_source if step.uses_default_source else step.default
    if default is None:
        if not step.nullable or step.kind != "number":
            raise _DoubtError
        return numpy.full(rows, numpy.nan), numpy.ones(rows, dtype=bool)
    if not _default_passes(step, default):
        raise _DoubtError
    if step.kind == "text":
        return numpy.full(rows, default, dtype=object), numpy.zeros(rows, dtype=bool)
    return numpy.full(rows, default, dtype=numpy.int64), numpy.zeros(rows, dtype=bool)


def _values(
    step: ColumnStep, column: FrameColumn | None, rows: int, default_source: str
) -> tuple[Any, Any]:
    """The column as the row validator would normalize it (a numpy array: int, datetime64[us]
    UTC, float with NaN for NULL, or object for texts) and its missing mask; raises
    :class:`_DoubtError` when it cannot tell."""
    import numpy

    if column is None:
        return _absent(step, rows, default_source)
    array = column.array
    if array is None:
        raise _DoubtError
    missing = _missing(array)
    has_missing = bool(missing.any())
    default = default_source if step.uses_default_source else step.default
    if has_missing and (default is not None or step.kind == "text" or not step.nullable):
        raise _DoubtError  # a default, a missing text or value: the row validator decides
    if step.kind == "text":
        return _texts(step, array), missing
    if step.kind == "number" and array.dtype.kind == "O" and missing.all():
        return numpy.full(len(array), numpy.nan), missing  # a column of nothing but gaps
    present = array[~missing] if has_missing else array
    if step.kind == "timestamp":
        if array.dtype.kind != "M":
            raise _DoubtError
        return array, missing
    if step.kind == "int":
        if array.dtype.kind not in "iu" or (present < step.minimum).any():
            raise _DoubtError
        return array, missing
    if array.dtype.kind not in "iuf" or not numpy.isfinite(present).all():
        raise _DoubtError
    return array.astype(float), missing


def _row_rules(validator: CompiledValidator, arrays: dict[str, tuple[Any, Any]]) -> None:
    """The table's row rules on whole columns; raises :class:`_DoubtError` when a row breaks one."""
    import numpy

    spec = validator.table.spec
    obs = arrays["obs_time"][0].astype("datetime64[us]").astype("int64")
    known = arrays["knowledge_time"][0].astype("datetime64[us]").astype("int64")
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


def checked_columns(
    table: FactTable, columns: dict[str, FrameColumn], default_source: str
) -> dict[str, Any] | None:
    """The staged columns (numpy arrays, ``FactTable.staged`` order) of a frame every row of
    which passes every check, or ``None`` when the row validator must decide (see the module
    docstring)."""
    validator = compiled_validator(table)
    if not columns.keys() <= validator.allowed:
        return None
    rows = len(next(iter(columns.values()))) if columns else 0
    arrays: dict[str, tuple[Any, Any]] = {}
    try:
        for step in validator.steps:
            arrays[step.name] = _values(step, columns.get(step.name), rows, default_source)
        _row_rules(validator, arrays)
    except _DoubtError:
        return None
    return {name: arrays[name][0] for name in validator.staged}
