"""Whole-batch validation before any SQL: every bad row is named, nothing is sent.

Shared by the sync and async ingest paths. Pure: no I/O. The checks that need the database
(does the series exist, is it of the right kind) run afterwards as one read, still before any
write (see :mod:`mp_db._ingest`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from mp_db._tables import FactTable
from mp_db.exceptions import IngestValidationError, RowProblem
from mp_schema.enums import KnowledgeTimeSource, ReleaseStatus, TraderCategory

__all__ = ["DEFAULT_MAX_ROWS", "PROBLEM_CODES", "ValidatedBatch", "validate_batch"]

#: Rows accepted in one call; larger loads are split by the caller (memory, not the database).
DEFAULT_MAX_ROWS = 5_000_000

#: Every problem code ingest can report, with what it means.
PROBLEM_CODES: dict[str, str] = {
    "batch_too_large": "the batch has more rows than the limit",
    "not_a_row": "the row is neither a mapping nor a dataclass",
    "unknown_field": "the row has a field the table does not have (a typo?)",
    "missing_key": "a key field (series, times, tenor...) is missing or null",
    "bad_type": "a field has the wrong type",
    "naive_datetime": "a timestamp without a time zone (ambiguous: refused)",
    "obs_not_midnight": "a dated table needs obs_time at 00:00 UTC",
    "knowledge_before_obs": "knowledge_time is earlier than obs_time",
    "unparseable": "a value could not be read as a number",
    "non_finite": "NaN or an infinity",
    "missing_value": "a required value is missing",
    "no_price": "a market bar needs at least one of open, high, low, close, settle",
    "high_below_low": "a market bar's high is below its low",
    "negative": "a count (volume, open interest, positions) is negative",
    "bad_enum": "a value outside the allowed list",
    "bad_format": "a code in the wrong format (tenor...)",
    "nul_byte": "a string contains a NUL byte",
    "too_long": "a string is longer than its column",
    "duplicate_key": (
        "two rows of the batch have the same key but different values or knowledge_time_source"
    ),
    "unknown_series": "no series has this series_id",
    "wrong_series_kind": "the series exists but belongs to another table",
    "unknown_instrument": "no instrument has this instrument_id",
}

_TENOR = re.compile(r"ON|TN|SN|[1-9][0-9]{0,2}[DWMY]")
_TENOR_FORMAT = "a tenor: ON, TN, SN or a number and D/W/M/Y, e.g. 3M, 10Y (upper case)"
_ENUMS: dict[str, frozenset[str]] = {
    "knowledge_time_source": frozenset(member.value for member in KnowledgeTimeSource),
    "status": frozenset(member.value for member in ReleaseStatus),
    "category": frozenset(member.value for member in TraderCategory),
}
_NON_NEGATIVE = ("volume", "open_interest", "long_positions", "short_positions", "spread_positions")
_PRICES = ("open", "high", "low", "close", "settle")
_COMPUTED = frozenset({"revision", "ingested_at"})


@dataclass
class ValidatedBatch:
    """A batch that passed every check that needs no database.

    Attributes:
        records: one tuple per row, in ``FactTable.staged`` order, sorted by key.
        duplicates_dropped: exact copies of another row of the batch, removed.
        series_ids: the distinct series referenced.
        instrument_ids: the distinct non-zero instrument ids referenced (signal_values).
        first_index: for each record, the batch index of the row it came from.
    """

    records: list[tuple[Any, ...]]
    duplicates_dropped: int
    series_ids: set[int] = field(default_factory=set)
    instrument_ids: set[int] = field(default_factory=set)
    first_index: list[int] = field(default_factory=list)


class _RowChecker:
    """Checks one row, collecting problems instead of stopping at the first."""

    def __init__(self, table: FactTable, index: int, problems: list[RowProblem]) -> None:
        self.table = table
        self.index = index
        self.problems = problems
        self.failed = False

    def problem(self, column: str, code: str, message: str) -> None:
        self.failed = True
        self.problems.append(RowProblem(self.index, column, code, message))

    def timestamp(self, column: str, value: Any, *, required: bool = True) -> datetime | None:
        if value is None:
            if required:
                self.problem(column, "missing_key", f"{column} is missing")
            return None
        if isinstance(value, datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                self.problem(
                    column, "naive_datetime", f"{column} {value.isoformat()} has no time zone"
                )
                return None
            return value.astimezone(UTC)
        if isinstance(value, date) and column == "obs_time" and self.table.spec.dated:
            # A calendar date is unambiguous for dated data: its period starts at 00:00 UTC.
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        self.problem(
            column,
            "bad_type",
            f"{column} must be a timezone-aware datetime, got {type(value).__name__}",
        )
        return None

    def integer(self, column: str, value: Any, *, minimum: int) -> int | None:
        if value is None:
            self.problem(column, "missing_key", f"{column} is missing")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            elif hasattr(value, "__index__"):
                value = int(value.__index__())  # numpy integers
            else:
                self.problem(column, "bad_type", f"{column} must be an integer")
                return None
        if value < minimum:
            self.problem(column, "bad_type", f"{column} must be at least {minimum}")
            return None
        return int(value)

    def number(self, column: str, value: Any, *, required: bool) -> float | None:
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
        if math.isnan(number) and not required and _is_missing_marker(value):
            return None  # pandas/numpy NaN stands for a missing optional value
        if not math.isfinite(number):
            self.problem(column, "non_finite", f"{column} is {number}")
            return None
        return number

    def text(
        self,
        column: str,
        value: Any,
        *,
        allowed: frozenset[str] | None = None,
        pattern: re.Pattern[str] | None = None,
        expected: str = "a valid code",
    ) -> str | None:
        if value is None:
            self.problem(
                column,
                "missing_key" if column in self.table.key else "missing_value",
                f"{column} is missing",
            )
            return None
        text = str(getattr(value, "value", value))
        if "\x00" in text:
            self.problem(column, "nul_byte", f"{column} contains a NUL byte")
            return None
        limit = self.table.max_length(column)
        if limit is not None and len(text) > limit:
            self.problem(column, "too_long", f"{column} is longer than {limit} characters")
            return None
        if allowed is not None and text not in allowed:
            self.problem(
                column,
                "bad_enum",
                f"{column} {text[:40]!r} is not one of {', '.join(sorted(allowed))}",
            )
            return None
        if pattern is not None and not pattern.fullmatch(text):
            self.problem(column, "bad_format", f"{column} {text[:40]!r} is not {expected}")
            return None
        return text


def _is_missing_marker(value: Any) -> bool:
    # float('nan') from pandas for an empty optional cell; an explicit "nan" string is data.
    return not isinstance(value, str)


def _as_mapping(row: Any) -> Mapping[str, Any] | None:
    if isinstance(row, Mapping):
        return row
    if is_dataclass(row) and not isinstance(row, type):
        return {item.name: getattr(row, item.name) for item in fields(row)}
    if hasattr(row, "_asdict"):
        result = row._asdict()
        return result if isinstance(result, Mapping) else None
    return None


def _check_row(
    table: FactTable,
    index: int,
    data: Mapping[str, Any],
    default_source: str,
    problems: list[RowProblem],
) -> tuple[Any, ...] | None:
    check = _RowChecker(table, index, problems)
    allowed = set(table.staged) | _COMPUTED
    for name in data:
        if name not in allowed:
            check.problem(
                str(name), "unknown_field", f"{name!r} is not a column of {table.qualified}"
            )
    values: dict[str, Any] = {}
    values["series_id"] = check.integer("series_id", data.get("series_id"), minimum=1)
    values["obs_time"] = check.timestamp("obs_time", data.get("obs_time"))
    values["knowledge_time"] = check.timestamp("knowledge_time", data.get("knowledge_time"))
    for entity in table.entities:
        if entity == "instrument_id":
            values[entity] = check.integer(entity, data.get(entity, 0), minimum=0)
        elif entity == "tenor":
            values[entity] = check.text(
                entity, data.get(entity), pattern=_TENOR, expected=_TENOR_FORMAT
            )
        else:
            values[entity] = check.text(entity, data.get(entity), allowed=_ENUMS.get(entity))
    for column in table.values:
        required = not table.table.columns[column].nullable
        if column == "scheduled_at":
            values[column] = check.timestamp(column, data.get(column))
        elif column == "status":
            values[column] = check.text(column, data.get(column), allowed=_ENUMS["status"])
        else:
            values[column] = check.number(column, data.get(column), required=required)
    source = data.get("knowledge_time_source", default_source)
    values["knowledge_time_source"] = check.text(
        "knowledge_time_source", source, allowed=_ENUMS["knowledge_time_source"]
    )
    _cross_field(table, check, values)
    if check.failed:
        return None
    return tuple(values[column] for column in table.staged)


def _cross_field(table: FactTable, check: _RowChecker, values: dict[str, Any]) -> None:
    obs, known = values.get("obs_time"), values.get("knowledge_time")
    if (
        obs is not None
        and table.spec.dated
        and (obs.hour, obs.minute, obs.second, obs.microsecond) != (0, 0, 0, 0)
    ):
        check.problem(
            "obs_time",
            "obs_not_midnight",
            f"obs_time {obs.isoformat()} is not 00:00 UTC ({table.qualified} is dated)",
        )
    if obs is not None and known is not None and table.spec.knowledge_after_obs and known < obs:
        check.problem(
            "knowledge_time",
            "knowledge_before_obs",
            f"knowledge_time {known.isoformat()} is before obs_time {obs.isoformat()}",
        )
    if table.name == "market_bars":
        if all(values.get(price) is None for price in _PRICES) and not check.failed:
            check.problem("", "no_price", "a bar needs at least one price")
        high, low = values.get("high"), values.get("low")
        if high is not None and low is not None and high < low:
            check.problem("high", "high_below_low", f"high {high} is below low {low}")
    for column in _NON_NEGATIVE:
        number = values.get(column)
        if column in table.values and number is not None and number < 0:
            check.problem(column, "negative", f"{column} {number} is negative")
    if (
        table.name == "positioning_flows"
        and not check.failed
        and all(values.get(column) is None for column in table.values)
    ):
        check.problem("", "missing_value", "a positioning row needs at least one figure")


@dataclass(frozen=True)
class _Plan:
    """Per-table facts the fast path needs, computed once."""

    allowed: frozenset[str]
    entities: tuple[tuple[str, str], ...]
    values: tuple[tuple[str, bool], ...]
    dated: bool
    knowledge_after_obs: bool
    bars: bool
    positioning: bool
    numeric_only: bool
    sources: dict[str, str]
    categories: dict[str, str]
    tenor_limit: int


@cache
def _plan(table: FactTable) -> _Plan:
    entities = []
    for entity in table.entities:
        entities.append(
            (
                entity,
                "int" if entity == "instrument_id" else "tenor" if entity == "tenor" else "enum",
            )
        )
    values = tuple((column, not table.table.columns[column].nullable) for column in table.values)
    return _Plan(
        allowed=frozenset(table.staged) | _COMPUTED,
        entities=tuple(entities),
        values=values,
        dated=table.spec.dated,
        knowledge_after_obs=table.spec.knowledge_after_obs,
        bars=table.name == "market_bars",
        positioning=table.name == "positioning_flows",
        numeric_only=not {"scheduled_at", "status"} & set(table.values),
        sources={value: value for value in _ENUMS["knowledge_time_source"]},
        categories={value: value for value in _ENUMS["category"]},
        tenor_limit=table.max_length("tenor") or 8 if "tenor" in table.entities else 0,
    )


def _fast_row(  # noqa: PLR0912 - one flat function: this runs once per row
    plan: _Plan, data: Mapping[str, Any], default_source: str
) -> tuple[Any, ...] | None:
    """The common case, checked with exact types only; ``None`` sends the row to the full
    checker, which either accepts it (unusual but valid types) or names its problems."""
    if not data.keys() <= plan.allowed:
        return None
    series_id = data.get("series_id")
    obs = data.get("obs_time")
    known = data.get("knowledge_time")
    if type(series_id) is not int or series_id < 1:
        return None
    if type(obs) is not datetime or type(known) is not datetime:
        return None
    if obs.tzinfo is not UTC:
        if obs.tzinfo is None or obs.utcoffset() is None:
            return None
        obs = obs.astimezone(UTC)
    if known.tzinfo is not UTC:
        if known.tzinfo is None or known.utcoffset() is None:
            return None
        known = known.astimezone(UTC)
    if plan.dated and (obs.hour or obs.minute or obs.second or obs.microsecond):
        return None
    if plan.knowledge_after_obs and known < obs:
        return None
    record: list[Any] = [series_id, obs]
    for entity, kind in plan.entities:
        item = data.get(entity, 0 if kind == "int" else None)
        if kind == "int":
            if type(item) is not int or item < 0:
                return None
        elif kind == "tenor":
            if type(item) is not str or len(item) > plan.tenor_limit or not _TENOR.fullmatch(item):
                return None
        else:
            item = plan.categories.get(item) if isinstance(item, str) else None
            if item is None:
                return None
        record.append(item)
    record.append(known)
    if not plan.numeric_only:
        return None
    present = 0
    for column, required in plan.values:
        value = data.get(column)
        if type(value) is float:
            if not math.isfinite(value):
                return None
        elif value is None:
            if required:
                return None
        elif type(value) is int:
            value = float(value)
        else:
            return None
        if value is not None:
            present += 1
        record.append(value)
    if plan.bars and not _bar_ok(record):
        return None
    if plan.positioning and (
        present == 0 or any(value is not None and value < 0 for value in record[4:7])
    ):
        return None
    source = plan.sources.get(data.get("knowledge_time_source", default_source))
    if source is None:
        return None
    record.append(source)
    return tuple(record)


def _bar_ok(record: list[Any]) -> bool:
    # record: series_id, obs_time, knowledge_time, open, high, low, close, settle, volume, oi
    opening, high, low, close, settle, volume, interest = record[3:10]
    if opening is None and high is None and low is None and close is None and settle is None:
        return False
    if high is not None and low is not None and high < low:
        return False
    return not ((volume is not None and volume < 0) or (interest is not None and interest < 0))


def validate_batch(
    table: FactTable,
    rows: Iterable[Any],
    *,
    default_source: str = KnowledgeTimeSource.VENDOR.value,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> ValidatedBatch:
    """Check every row; return normalized records or raise listing every problem.

    Exact duplicates (same key, same values) are dropped and counted; rows sharing a key with
    different values are refused (``duplicate_key``), since which one is right is unknowable.

    Raises:
        IngestValidationError: any row failed; ``problems`` names each (row, field, code).
    """
    problems: list[RowProblem] = []
    seen: dict[tuple[Any, ...], tuple[int, tuple[Any, ...]]] = {}
    duplicates = 0
    key_width = len(table.key)
    plan = _plan(table)
    for index, row in enumerate(rows):
        if index >= max_rows:
            raise IngestValidationError(
                table.name,
                [
                    RowProblem(
                        index,
                        "",
                        "batch_too_large",
                        f"more than {max_rows} rows: split the load into smaller batches",
                    )
                ],
            )
        data = _as_mapping(row)
        if data is None:
            problems.append(
                RowProblem(
                    index, "", "not_a_row", f"a {type(row).__name__} is not a mapping or dataclass"
                )
            )
            continue
        record = _fast_row(plan, data, default_source)
        if record is None:
            record = _check_row(table, index, data, default_source, problems)
        if record is None:
            continue
        key = record[:key_width]
        earlier = seen.get(key)
        if earlier is None:
            seen[key] = (index, record)
        elif earlier[1] == record:
            duplicates += 1
        else:
            # Equal values with another knowledge_time_source still disagree on how good the
            # knowledge time is: which one is right is unknowable, so say which part differs.
            differs = "values" if earlier[1][:-1] != record[:-1] else "knowledge_time_source"
            problems.append(
                RowProblem(
                    index,
                    "",
                    "duplicate_key",
                    f"same key as row {earlier[0]} with a different {differs}",
                )
            )
    if problems:
        raise IngestValidationError(table.name, problems)
    ordered = sorted(seen.values(), key=lambda item: item[1][:key_width])
    batch = ValidatedBatch(
        records=[record for _, record in ordered],
        duplicates_dropped=duplicates,
        first_index=[index for index, _ in ordered],
    )
    batch.series_ids = {record[0] for record in batch.records}
    if "instrument_id" in table.entities:
        position = table.staged.index("instrument_id")
        batch.instrument_ids = {record[position] for record in batch.records} - {0}
    return batch
