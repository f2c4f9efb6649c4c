"""The catalog: get-or-create sources, instruments and series by their natural keys, in bulk.

Each ``ensure_*`` call is one statement (one round trip) whatever the batch size: the batch
travels as one JSON parameter, an ``INSERT ... ON CONFLICT DO NOTHING`` adds what is new, an
``UPDATE`` (only with ``update=True``) refreshes descriptive fields of what exists, and the
final ``SELECT`` returns every id in input order. Keys are never updated. Definition fields
(a source's type and vintage capability, an instrument's asset class and type, a series' kind
and frequency) are never updated either: a stored row that differs raises
:class:`~mp_db.CatalogConflictError` and the transaction is rolled back, so nothing is written.

Concurrent connectors registering the same new codes are safe: rows are inserted in key order
(no deadlock between two batches), a row another transaction inserted first is skipped by
``ON CONFLICT``, and when that row was committed after this statement's snapshot (so the final
``SELECT`` cannot see it yet) the statement is simply run again, which then sees it.

The SQL is built once per table at import and shared by :class:`Catalog` and
:class:`AsyncCatalog`; only the execution differs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine, TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mp_db._error_mapping import translate_errors, translate_errors_async
from mp_db.exceptions import CatalogConflictError, IngestValidationError, MpDbError, RowProblem
from mp_schema.enums import (
    AssetClass,
    Country,
    Currency,
    Frequency,
    InstrumentType,
    SeasonalAdjustment,
    SeriesKind,
    SourceType,
    VintageCapability,
)

__all__ = [
    "AsyncCatalog",
    "Catalog",
    "InstrumentSpec",
    "SeriesRecord",
    "SeriesSpec",
    "SourceSpec",
]

# A statement that keeps missing rows (each time a concurrent insert committed after its
# snapshot) this often is not racing: something else is wrong.
_MAX_RUNS = 5
_SOURCE_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceSpec:
    """A publisher (``mp.data_sources``); key ``code``; definition ``source_type`` and
    ``vintage_capability``; the rest is descriptive (``None`` keeps what is stored)."""

    code: str
    name: str
    source_type: str
    vintage_capability: str
    publisher: str | None = None
    timezone: str | None = None
    website: str | None = None
    terms: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InstrumentSpec:
    """Something that trades (``mp.instruments``); key ``(exchange_mic, symbol, listed_at)``;
    definition ``asset_class`` and ``instrument_type``."""

    symbol: str
    asset_class: str
    instrument_type: str
    exchange_mic: str | None = None
    listed_at: datetime | None = None
    name: str | None = None
    country: str | None = None
    currency: str | None = None
    figi: str | None = None
    isin: str | None = None
    vendor_codes: Mapping[str, str] | None = None
    delisted_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesSpec:
    """One series (``mp.series``); key ``(source, source_code)`` where ``source`` is a
    registered source's code; definition ``kind`` and ``frequency``.

    ``release_time`` (local clock time) and ``release_timezone`` (IANA name) are what
    :func:`mp_db.release_knowledge_time` builds knowledge times from.
    """

    source: str
    source_code: str
    kind: str
    name: str
    frequency: str
    units: str | None = None
    seasonal_adjustment: str | None = None
    country: str | None = None
    currency: str | None = None
    release_time: time | None = None
    release_timezone: str | None = None
    vintage_history_start: datetime | None = None
    instrument_id: int | None = None
    description: str | None = None
    attributes: Mapping[str, Any] | None = None
    discontinued_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SeriesRecord:
    """A registered series as a connector needs it.

    Attributes:
        series_id: the id fact rows carry.
        source: the source's code.
        source_code: the source's own identifier of the series.
        kind: which fact table holds its values.
        frequency: how often it has an observation.
        release_time: local clock time of its releases, if known.
        release_timezone: the IANA zone ``release_time`` is in.
    """

    series_id: int
    source: str
    source_code: str
    kind: str
    frequency: str
    release_time: time | None
    release_timezone: str | None


@dataclass(frozen=True)
class _Shape:
    """How one catalog table is upserted: its columns by role and their SQL types."""

    table: str
    id_column: str
    spec: type[Any]
    keys: tuple[str, ...]
    definition: tuple[str, ...]
    types: Mapping[str, str]
    nullable_keys: frozenset[str] = frozenset()
    enums: Mapping[str, frozenset[str]] = field(default_factory=dict)
    defaults: Mapping[str, str] = field(default_factory=dict)

    @property
    def descriptive(self) -> tuple[str, ...]:
        return tuple(c for c in self.types if c not in self.keys and c not in self.definition)


def _values(kind: type) -> frozenset[str]:
    return frozenset(item.value for item in kind)  # type: ignore[attr-defined]


_SOURCES = _Shape(
    table="data_sources",
    id_column="source_id",
    spec=SourceSpec,
    keys=("code",),
    definition=("source_type", "vintage_capability"),
    types={
        "code": "text",
        "name": "text",
        "source_type": "text",
        "vintage_capability": "text",
        "publisher": "text",
        "timezone": "text",
        "website": "text",
        "terms": "text",
    },
    enums={"source_type": _values(SourceType), "vintage_capability": _values(VintageCapability)},
    defaults={"timezone": "'UTC'"},
)
_INSTRUMENTS = _Shape(
    table="instruments",
    id_column="instrument_id",
    spec=InstrumentSpec,
    keys=("exchange_mic", "symbol", "listed_at"),
    definition=("asset_class", "instrument_type"),
    types={
        "exchange_mic": "text",
        "symbol": "text",
        "listed_at": "timestamptz",
        "asset_class": "text",
        "instrument_type": "text",
        "name": "text",
        "country": "text",
        "currency": "text",
        "figi": "text",
        "isin": "text",
        "vendor_codes": "jsonb",
        "delisted_at": "timestamptz",
    },
    nullable_keys=frozenset({"exchange_mic", "listed_at"}),
    enums={
        "asset_class": _values(AssetClass),
        "instrument_type": _values(InstrumentType),
        "country": _values(Country),
        "currency": _values(Currency),
    },
    defaults={"vendor_codes": "'{}'::jsonb"},
)
_SERIES = _Shape(
    table="series",
    id_column="series_id",
    spec=SeriesSpec,
    keys=("source_id", "source_code"),
    definition=("kind", "frequency"),
    types={
        "source_id": "int",
        "source_code": "text",
        "kind": "text",
        "frequency": "text",
        "name": "text",
        "units": "text",
        "seasonal_adjustment": "text",
        "country": "text",
        "currency": "text",
        "release_time": "time",
        "release_timezone": "text",
        "vintage_history_start": "timestamptz",
        "instrument_id": "int",
        "description": "text",
        "attributes": "jsonb",
        "discontinued_at": "timestamptz",
    },
    enums={
        "kind": _values(SeriesKind),
        "frequency": _values(Frequency),
        "seasonal_adjustment": _values(SeasonalAdjustment),
        "country": _values(Country),
        "currency": _values(Currency),
    },
    defaults={"attributes": "'{}'::jsonb"},
)


def _same(left: str, right: str, column: str, nullable: frozenset[str]) -> str:
    operator = "IS NOT DISTINCT FROM" if column in nullable else "="
    return f"{left}.{column} {operator} {right}.{column}"


def _upsert_sql(shape: _Shape) -> TextClause:
    """The one statement of ``ensure_*`` for ``shape`` (see the module docstring)."""
    columns = list(shape.types)
    if shape is _SERIES:
        # Series name their source by code; the id is looked up in the same statement.
        record = "ord int, source text, " + ", ".join(
            f"{c} {shape.types[c]}" for c in columns if c != "source_id"
        )
        keyed = (
            "SELECT i.*, s.source_id FROM input i LEFT JOIN mp.data_sources s ON s.code = i.source"
        )
    else:
        record = "ord int, " + ", ".join(f"{c} {shape.types[c]}" for c in columns)
        keyed = "SELECT i.* FROM input i"
    inserted_values = ", ".join(
        f"coalesce(k.{c}, {shape.defaults[c]})" if c in shape.defaults else f"k.{c}"
        for c in columns
    )
    on = " AND ".join(_same("t", "k", c, shape.nullable_keys) for c in shape.keys)
    on_new = " AND ".join(_same("n", "k", c, shape.nullable_keys) for c in shape.keys)
    descriptive = shape.descriptive
    # None in a spec keeps what is stored; name is required and always given.
    assigned = {c: f"coalesce(k.{c}, t.{c})" for c in descriptive}
    assignments = ", ".join(f"{c} = {value}" for c, value in assigned.items())
    differs = (
        f"({', '.join(f't.{c}' for c in descriptive)}) IS DISTINCT FROM "
        f"({', '.join(assigned.values())})"
    )
    required = " AND ".join(
        f"k.{c} IS NOT NULL" for c in shape.keys if c not in shape.nullable_keys
    )
    key_list = ", ".join(shape.keys)
    definition = ", ".join(f"t.{c} AS stored_{c}" for c in shape.definition)
    # Identifiers come from the fixed shapes above, never from input; values are bound.
    sql = f"""
WITH input AS (
    SELECT * FROM jsonb_to_recordset(:batch) AS i({record})
), keyed AS (
    {keyed}
), inserted AS (
    INSERT INTO mp.{shape.table} ({", ".join(columns)})
    SELECT {inserted_values} FROM keyed k WHERE {required}
    ORDER BY {", ".join(f"k.{c}" for c in shape.keys)}
    ON CONFLICT ({key_list}) DO NOTHING
    RETURNING {shape.id_column}, {key_list}
), updated AS (
    UPDATE mp.{shape.table} t SET {assignments}
    FROM keyed k
    WHERE CAST(:update AS boolean) AND {on} AND {differs}
    RETURNING t.{shape.id_column}
)
SELECT k.ord, coalesce(n.{shape.id_column}, t.{shape.id_column}) AS id,
       n.{shape.id_column} IS NOT NULL AS created,
       {"k.source_id IS NOT NULL" if shape is _SERIES else "true"} AS source_known,
       {definition}
FROM keyed k
LEFT JOIN inserted n ON {on_new}
LEFT JOIN mp.{shape.table} t ON {on}
ORDER BY k.ord
"""  # noqa: S608
    return text(sql).bindparams(bindparam("batch", type_=JSONB), bindparam("update"))


_STATEMENTS = {shape.table: _upsert_sql(shape) for shape in (_SOURCES, _INSTRUMENTS, _SERIES)}

_LOOKUP_SOURCES = text(
    "SELECT code, source_id FROM mp.data_sources WHERE code = ANY(:codes)"
).bindparams(bindparam("codes"))
_LOOKUP_SERIES = text(
    "SELECT s.series_id, d.code, s.source_code, s.kind, s.frequency, s.release_time,"
    " s.release_timezone FROM mp.series s JOIN mp.data_sources d USING (source_id)"
    " WHERE d.code = :source AND s.source_code = ANY(:codes)"
)
_LOOKUP_INSTRUMENTS = text(
    # The latest listing of each symbol on that exchange.
    "SELECT DISTINCT ON (symbol) symbol, instrument_id FROM mp.instruments"
    " WHERE exchange_mic IS NOT DISTINCT FROM :exchange_mic AND symbol = ANY(:symbols)"
    " ORDER BY symbol, listed_at DESC NULLS LAST"
)


def _plain(value: Any) -> Any:
    value = getattr(value, "value", value)  # enums
    if isinstance(value, datetime | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    return value


def _problems(shape: _Shape, specs: Sequence[Any]) -> list[RowProblem]:
    problems: list[RowProblem] = []
    seen: dict[tuple[Any, ...], int] = {}
    for index, given in enumerate(specs):
        spec: Any = given
        if not isinstance(spec, shape.spec):
            problems.append(RowProblem(index, "", "bad_type", f"expected a {shape.spec.__name__}"))
            continue
        for item in fields(spec):
            value = _plain(getattr(spec, item.name))
            allowed = shape.enums.get(item.name)
            if allowed is not None and value is not None and value not in allowed:
                problems.append(
                    RowProblem(
                        index,
                        item.name,
                        "bad_enum",
                        f"{item.name} {str(value)[:40]!r} is not one of "
                        + ", ".join(sorted(allowed)),
                    )
                )
            if item.default is MISSING and (value is None or value == ""):
                problems.append(
                    RowProblem(index, item.name, "missing_value", f"{item.name} is empty")
                )
            if item.name.endswith("timezone") and value is not None:
                try:
                    ZoneInfo(str(value))
                except (ZoneInfoNotFoundError, ValueError):
                    problems.append(
                        RowProblem(
                            index,
                            item.name,
                            "bad_timezone",
                            f"{item.name} {str(value)[:40]!r} is not an IANA time zone"
                            " (e.g. America/New_York)",
                        )
                    )
        if shape is _SOURCES and not _SOURCE_CODE.fullmatch(spec.code):
            problems.append(
                RowProblem(
                    index,
                    "code",
                    "bad_format",
                    f"code {spec.code[:40]!r} is not a source code: lower case letters, digits"
                    " and _, starting with a letter (e.g. fred, cftc_cot)",
                )
            )
        key = _natural_key(shape, spec)
        first = seen.setdefault(key, index)
        if first != index and spec != specs[first]:
            problems.append(
                RowProblem(
                    index,
                    "",
                    "duplicate_key",
                    f"same key as row {first} but a different definition",
                )
            )
    return problems


def _natural_key(shape: _Shape, spec: Any) -> tuple[Any, ...]:
    if shape is _SERIES:
        return (spec.source, spec.source_code)
    return tuple(_plain(getattr(spec, key)) for key in shape.keys)


@dataclass(frozen=True)
class _Batch:
    """One ``ensure_*`` call: the statement's parameters and how to read its answer."""

    shape: _Shape
    specs: Sequence[Any]
    update: bool

    def parameters(self) -> dict[str, Any]:
        records = [
            {"ord": index, **{item.name: _plain(getattr(spec, item.name)) for item in fields(spec)}}
            for index, spec in enumerate(self.specs)
        ]
        return {"batch": records, "update": self.update}

    @property
    def statement(self) -> TextClause:
        return _STATEMENTS[self.shape.table]

    def ids(self, rows: Sequence[Any]) -> list[int] | None:
        """The ids in input order, ``None`` when a concurrent insert is not visible yet."""
        result: list[int] = []
        conflicts: list[CatalogConflictError] = []
        for row in rows:
            spec = self.specs[row.ord]
            if not row.source_known:
                raise IngestValidationError(
                    self.shape.table,
                    [
                        RowProblem(
                            row.ord,
                            "source",
                            "unknown_source",
                            f"source {spec.source!r} is not registered: ensure_sources first",
                        )
                    ],
                )
            if row.id is None:
                return None
            if not row.created:
                differing = [
                    (column, getattr(row, f"stored_{column}"), _plain(getattr(spec, column)))
                    for column in self.shape.definition
                    if getattr(row, f"stored_{column}") != _plain(getattr(spec, column))
                ]
                if differing:
                    key = ", ".join(f"{value}" for value in _natural_key(self.shape, spec))
                    conflicts.append(CatalogConflictError(self.shape.table, f"({key})", differing))
            result.append(int(row.id))
        if conflicts:
            raise conflicts[0]
        return result


def _prepare(shape: _Shape, specs: Iterable[Any], update: bool) -> _Batch:
    listed = list(specs)
    problems = _problems(shape, listed)
    if problems:
        raise IngestValidationError(shape.table, problems)
    return _Batch(shape, listed, update)


def _give_up(table: str) -> MpDbError:
    # Rows still invisible after several runs: not a race any more.
    return MpDbError(
        f"mp.{table}: rows inserted concurrently stayed invisible after {_MAX_RUNS} runs"
    )


def _record(row: Any) -> SeriesRecord:
    return SeriesRecord(
        series_id=int(row.series_id),
        source=row.code,
        source_code=row.source_code,
        kind=row.kind,
        frequency=row.frequency,
        release_time=row.release_time,
        release_timezone=row.release_timezone,
    )


def _connection_args(codes: Iterable[str]) -> list[str]:
    return [str(code) for code in codes]


class Catalog:
    """Register and look up sources, instruments and series (sync); see the module docstring.

    Each ``ensure_*`` call runs in its own transaction on an engine, or in the caller's when
    given a connection.
    """

    def __init__(self, target: Engine | Connection) -> None:
        self._target = target

    def _run(self, batch: _Batch) -> list[int]:
        if not batch.specs:
            return []
        with translate_errors():
            for _ in range(_MAX_RUNS):
                if isinstance(self._target, Engine):
                    with self._target.begin() as connection:
                        ids = batch.ids(
                            connection.execute(batch.statement, batch.parameters()).all()
                        )
                else:
                    ids = batch.ids(self._target.execute(batch.statement, batch.parameters()).all())
                if ids is not None:
                    return ids
        raise _give_up(batch.shape.table)

    def _select(self, statement: TextClause, parameters: dict[str, Any]) -> list[Any]:
        with translate_errors():
            if isinstance(self._target, Engine):
                with self._target.connect() as connection:
                    return list(connection.execute(statement, parameters).all())
            return list(self._target.execute(statement, parameters).all())

    def ensure_sources(self, specs: Iterable[SourceSpec], *, update: bool = False) -> list[int]:
        """Ids of these sources, registering the new ones; ``update`` refreshes descriptive
        fields of existing ones.

        Raises:
            IngestValidationError: a spec is invalid (row and field named); nothing written.
            CatalogConflictError: a code is registered with another type or capability.
        """
        return self._run(_prepare(_SOURCES, specs, update))

    def ensure_instruments(
        self, specs: Iterable[InstrumentSpec], *, update: bool = False
    ) -> list[int]:
        """Ids of these instruments (key: exchange, symbol, listing date); as
        :meth:`ensure_sources`."""
        return self._run(_prepare(_INSTRUMENTS, specs, update))

    def ensure_series(self, specs: Iterable[SeriesSpec], *, update: bool = False) -> list[int]:
        """Ids of these series, in input order; as :meth:`ensure_sources` (a series' kind or
        frequency that differs from the stored one is a :class:`CatalogConflictError`)."""
        return self._run(_prepare(_SERIES, specs, update))

    def source_ids(self, codes: Iterable[str]) -> dict[str, int]:
        """Ids of the registered sources among ``codes`` (absent codes are left out)."""
        rows = self._select(_LOOKUP_SOURCES, {"codes": _connection_args(codes)})
        return {row.code: int(row.source_id) for row in rows}

    def series(self, source: str, codes: Iterable[str]) -> dict[str, SeriesRecord]:
        """The registered series of ``source`` among ``codes``, by source code."""
        rows = self._select(_LOOKUP_SERIES, {"source": source, "codes": _connection_args(codes)})
        return {row.source_code: _record(row) for row in rows}

    def instrument_ids(
        self, symbols: Iterable[str], *, exchange_mic: str | None = None
    ) -> dict[str, int]:
        """Ids of the latest listing of each symbol on ``exchange_mic``."""
        parameters = {"symbols": _connection_args(symbols), "exchange_mic": exchange_mic}
        rows = self._select(_LOOKUP_INSTRUMENTS, parameters)
        return {row.symbol: int(row.instrument_id) for row in rows}


class AsyncCatalog:
    """The async twin of :class:`Catalog` (same statements, asyncpg)."""

    def __init__(self, target: AsyncEngine | AsyncConnection) -> None:
        self._target = target

    async def _run(self, batch: _Batch) -> list[int]:
        if not batch.specs:
            return []
        async with translate_errors_async():
            for _ in range(_MAX_RUNS):
                if isinstance(self._target, AsyncEngine):
                    async with self._target.begin() as connection:
                        result = await connection.execute(batch.statement, batch.parameters())
                        ids = batch.ids(result.all())
                else:
                    result = await self._target.execute(batch.statement, batch.parameters())
                    ids = batch.ids(result.all())
                if ids is not None:
                    return ids
        raise _give_up(batch.shape.table)

    async def _select(self, statement: TextClause, parameters: dict[str, Any]) -> list[Any]:
        async with translate_errors_async():
            if isinstance(self._target, AsyncEngine):
                async with self._target.connect() as connection:
                    return list((await connection.execute(statement, parameters)).all())
            return list((await self._target.execute(statement, parameters)).all())

    async def ensure_sources(
        self, specs: Iterable[SourceSpec], *, update: bool = False
    ) -> list[int]:
        """See :meth:`Catalog.ensure_sources`."""
        return await self._run(_prepare(_SOURCES, specs, update))

    async def ensure_instruments(
        self, specs: Iterable[InstrumentSpec], *, update: bool = False
    ) -> list[int]:
        """See :meth:`Catalog.ensure_instruments`."""
        return await self._run(_prepare(_INSTRUMENTS, specs, update))

    async def ensure_series(
        self, specs: Iterable[SeriesSpec], *, update: bool = False
    ) -> list[int]:
        """See :meth:`Catalog.ensure_series`."""
        return await self._run(_prepare(_SERIES, specs, update))

    async def source_ids(self, codes: Iterable[str]) -> dict[str, int]:
        """See :meth:`Catalog.source_ids`."""
        rows = await self._select(_LOOKUP_SOURCES, {"codes": _connection_args(codes)})
        return {row.code: int(row.source_id) for row in rows}

    async def series(self, source: str, codes: Iterable[str]) -> dict[str, SeriesRecord]:
        """See :meth:`Catalog.series`."""
        parameters = {"source": source, "codes": _connection_args(codes)}
        rows = await self._select(_LOOKUP_SERIES, parameters)
        return {row.source_code: _record(row) for row in rows}

    async def instrument_ids(
        self, symbols: Iterable[str], *, exchange_mic: str | None = None
    ) -> dict[str, int]:
        """See :meth:`Catalog.instrument_ids`."""
        parameters = {"symbols": _connection_args(symbols), "exchange_mic": exchange_mic}
        rows = await self._select(_LOOKUP_INSTRUMENTS, parameters)
        return {row.symbol: int(row.instrument_id) for row in rows}
