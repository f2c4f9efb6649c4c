"""Whole-batch validation before any SQL: every bad row is named, nothing is sent.

Shared by the sync and async ingest paths. Pure: no I/O. The checks that need the database
(does the series exist, is it of the right kind) run afterwards as one read, still before any
write (see :mod:`mp_db._ingest`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from mp_db._tables import FactTable
from mp_db._validator import compiled_validator
from mp_db.exceptions import IngestValidationError, RowProblem
from mp_schema.enums import KnowledgeTimeSource

__all__ = [
    "DEFAULT_MAX_ROWS",
    "PROBLEM_CODES",
    "ValidatedBatch",
    "validate_batch",
]

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


@dataclass
class ValidatedBatch:
    """A batch that passed every check that needs no database.

    Attributes:
        records: one tuple per row, in ``FactTable.staged`` order, sorted by key.
        duplicates_dropped: exact copies of another row of the batch, removed.
        series_ids: the distinct series referenced.
        instrument_ids: the distinct non-zero instrument ids referenced by a column that
            points at instruments without a foreign key (``signal_values.instrument_id``).
        first_index: for each record, the batch index of the row it came from.
    """

    records: list[tuple[Any, ...]]
    duplicates_dropped: int
    series_ids: set[int] = field(default_factory=set)
    instrument_ids: set[int] = field(default_factory=set)
    first_index: list[int] = field(default_factory=list)


def _as_mapping(row: Any) -> Mapping[str, Any] | None:
    if isinstance(row, Mapping):
        return row
    if is_dataclass(row) and not isinstance(row, type):
        return {item.name: getattr(row, item.name) for item in fields(row)}
    if hasattr(row, "_asdict"):
        result = row._asdict()
        return result if isinstance(result, Mapping) else None
    return None


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
    validator = compiled_validator(table)
    fast, check = validator.fast, validator.check
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
        record = fast(data, default_source)
        if record is None:
            record = check(index, data, default_source, problems)
        if record is not None:
            duplicates += _keep(seen, key_width, index, record, problems)
    if problems:
        raise IngestValidationError(table.name, problems)
    return _batch(table, seen, duplicates)


def _keep(
    seen: dict[tuple[Any, ...], tuple[int, tuple[Any, ...]]],
    key_width: int,
    index: int,
    record: tuple[Any, ...],
    problems: list[RowProblem],
) -> int:
    """Remember a valid record by key; 1 if it is an exact copy of an earlier one, else 0."""
    key = record[:key_width]
    earlier = seen.get(key)
    if earlier is None:
        seen[key] = (index, record)
        return 0
    if earlier[1] == record:
        return 1
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
    return 0


def _batch(
    table: FactTable, seen: dict[tuple[Any, ...], tuple[int, tuple[Any, ...]]], duplicates: int
) -> ValidatedBatch:
    key_width = len(table.key)
    ordered = sorted(seen.values(), key=lambda item: item[1][:key_width])
    batch = ValidatedBatch(
        records=[record for _, record in ordered],
        duplicates_dropped=duplicates,
        first_index=[index for index, _ in ordered],
    )
    batch.series_ids = {record[0] for record in batch.records}
    for position, _ in table.instrument_columns:
        batch.instrument_ids |= {record[position] for record in batch.records} - {0}
    return batch
