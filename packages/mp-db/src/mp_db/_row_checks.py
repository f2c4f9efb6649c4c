"""The thorough checks of one value: every input type, every problem named.

The compiled validator (:mod:`mp_db._validator`) sends a row here when its generated fast path
cannot accept it: unusual but valid types (``Decimal``, numpy scalars, numeric strings, dates,
enum members) are normalized, and anything wrong is reported as a :class:`RowProblem`. Which
check a value gets comes from its column's :class:`~mp_db._validator.ColumnStep`.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mp_db.exceptions import RowProblem

if TYPE_CHECKING:
    from mp_db._validator import ColumnStep

__all__ = ["RowChecker"]


class RowChecker:
    """Checks one row, collecting problems instead of stopping at the first."""

    def __init__(self, qualified: str, index: int, problems: list[RowProblem]) -> None:
        self.qualified = qualified
        self.index = index
        self.problems = problems
        self.failed = False

    def problem(self, column: str, code: str, message: str) -> None:
        """Record a problem of this row."""
        self.failed = True
        self.problems.append(RowProblem(self.index, column, code, message))

    def value(self, step: ColumnStep, value: Any) -> Any:
        """The normalized value of ``step``'s column, or ``None`` (absent or refused)."""
        if step.kind == "number":
            return self.number(step, value)
        if value is None:
            if not step.nullable:
                self.problem(step.name, step.missing_code, f"{step.name} is missing")
            return None
        if step.kind == "int":
            return self.integer(step, value)
        if step.kind == "timestamp":
            return self.timestamp(step, value)
        return self.text(step, value)

    def timestamp(self, step: ColumnStep, value: Any) -> datetime | None:
        """An aware datetime in UTC (a date too, for the period of a dated table)."""
        column = step.name
        if isinstance(value, datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                self.problem(
                    column, "naive_datetime", f"{column} {value.isoformat()} has no time zone"
                )
                return None
            return value.astimezone(UTC)
        if isinstance(value, date) and step.accepts_date:
            # A calendar date is unambiguous for dated data: its period starts at 00:00 UTC.
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        self.problem(
            column,
            "bad_type",
            f"{column} must be a timezone-aware datetime, got {type(value).__name__}",
        )
        return None

    def integer(self, step: ColumnStep, value: Any) -> int | None:
        """An int of at least ``step.minimum`` (integral floats and numpy integers too)."""
        column = step.name
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            elif hasattr(value, "__index__"):
                value = int(value.__index__())  # numpy integers
            else:
                self.problem(column, "bad_type", f"{column} must be an integer")
                return None
        if value < step.minimum:
            self.problem(column, "bad_type", f"{column} must be at least {step.minimum}")
            return None
        return int(value)

    def number(self, step: ColumnStep, value: Any) -> float | None:
        """A finite float; NaN from pandas/numpy stands for a missing optional value."""
        column, required = step.name, not step.nullable
        if value is None:
            if required:
                self.problem(column, "missing_value", f"{column} is required")
            return None
        if isinstance(value, bool):
            self.problem(column, "bad_type", f"{column} must be a number, not a boolean")
            return None
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                self.problem(column, "unparseable", f"{column} {value[:40]!r} is not a number")
                return None
        elif isinstance(value, int | float | Decimal) or hasattr(value, "__float__"):
            try:
                number = float(value)
            except (TypeError, ValueError, OverflowError):
                self.problem(column, "unparseable", f"{column} is not a number")
                return None
        else:
            self.problem(
                column, "bad_type", f"{column} must be a number, got {type(value).__name__}"
            )
            return None
        # float('nan') from pandas for an empty optional cell; an explicit "nan" string is data.
        if math.isnan(number) and not required and not isinstance(value, str):
            return None
        if not math.isfinite(number):
            self.problem(column, "non_finite", f"{column} is {number}")
            return None
        return number

    def text(self, step: ColumnStep, value: Any) -> str | None:
        """A string that fits its column, one of its enum, in its format."""
        column = step.name
        text = str(getattr(value, "value", value))
        if "\x00" in text:
            self.problem(column, "nul_byte", f"{column} contains a NUL byte")
            return None
        if step.limit is not None and len(text) > step.limit:
            self.problem(column, "too_long", f"{column} is longer than {step.limit} characters")
            return None
        if step.allowed is not None and text not in step.allowed:
            self.problem(
                column,
                "bad_enum",
                f"{column} {text[:40]!r} is not one of {', '.join(sorted(step.allowed))}",
            )
            return None
        if step.pattern is not None and not step.pattern.fullmatch(text):
            self.problem(column, "bad_format", f"{column} {text[:40]!r} is not {step.expected}")
            return None
        return text
