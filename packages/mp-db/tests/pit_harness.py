"""What the reference-model tests share: scenario setup on a real database, and running the
same list of read calls through Reader (psycopg) or AsyncReader (asyncpg).

A :class:`Call` names a read, its arguments for mp-db and the answer the model gives; the
drivers below only execute and normalize, so both readers are checked against identical
expectations.
"""

from __future__ import annotations

import asyncio
import difflib
import pprint
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reference.generators import ArrivalPlan, Vocabulary, arrival_plan, moments_around
from reference.model import Model, ModelReport
from reference.tables import TableShape
from sqlalchemy import Engine, text

from mp_config import PostgresSettings
from mp_db import (
    AlfredInterval,
    AsOfValue,
    AsyncReader,
    FactRow,
    Reader,
    create_db_engine,
    create_db_engine_async,
    ingest,
    ingest_async,
    join_as_of,
)
from mp_schema.enums import ReleaseStatus, TraderCategory
from mp_testing.fixtures import temporary_database

#: Columns the model cannot know: when mp stored a row and under which ingest id.
UNMODELLED = frozenset({"ingested_at", "ingest_id"})
#: Report fields the contract defines (elapsed_seconds and chunks are checked apart).
REPORT_FIELDS = (
    "received",
    "inserted",
    "revisions",
    "republications",
    "unchanged",
    "already_stored",
    "conflicts",
    "duplicates_dropped",
)


def row_dict(row: FactRow) -> dict[str, Any]:
    """A row as the model writes it."""
    return {key: value for key, value in row.as_dict().items() if key not in UNMODELLED}


def normalize(result: Any) -> Any:
    """mp-db's answer in the model's plain form (lists, tuples, dicts)."""
    if isinstance(result, dict):
        return {key: normalize(value) for key, value in result.items()}
    if isinstance(result, list):
        return [normalize(item) for item in result]
    if isinstance(result, FactRow):
        return row_dict(result)
    if isinstance(result, AlfredInterval):
        return (row_dict(result.row), result.realtime_start, result.realtime_end)
    if isinstance(result, AsOfValue):
        found: FactRow | None = result.row  # None: nothing known yet (contract step 2)
        row = None if found is None else row_dict(found)
        return (result.decision_time, getattr(result, "series_id", "<no series_id>"), row)
    return result


def difference(expected: Any, got: Any) -> str:
    """A line diff of the model's answer (-) and mp-db's (+), one item a line."""

    def lines(value: Any) -> list[str]:
        items = value if isinstance(value, list) else [value]
        return [pprint.pformat(item, width=200, sort_dicts=False) for item in items]

    return "\n".join(
        difflib.unified_diff(lines(expected), lines(got), "model", "mp-db", lineterm="", n=2)
    )


def vocabulary(instruments: tuple[int, ...]) -> Vocabulary:
    """The schema's allowed values, read once here so the model and generators need no
    import of mp_schema."""
    return Vocabulary(
        categories=tuple(member.value for member in TraderCategory),
        statuses=tuple(member.value for member in ReleaseStatus),
        instruments=instruments,
    )


def create_series(engine: Engine, kind: str, count: int) -> list[int]:
    """``count`` new series of ``kind``."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO mp.data_sources (code, name, source_type, vintage_capability)"
                " VALUES ('ref', 'Reference', 'vendor', 'full') ON CONFLICT (code) DO NOTHING"
            )
        )
        first = connection.execute(text("SELECT count(*) FROM mp.series")).scalar_one()
        return [
            int(
                connection.execute(
                    text(
                        "INSERT INTO mp.series (source_id, source_code, kind, name, frequency)"
                        " SELECT source_id, :code, :kind, 'reference', 'daily'"
                        " FROM mp.data_sources WHERE code = 'ref' RETURNING series_id"
                    ),
                    {"code": f"REF_{kind}_{first + number}", "kind": kind},
                ).scalar_one()
            )
            for number in range(count)
        ]


def create_instruments(engine: Engine, count: int) -> tuple[int, ...]:
    """``count`` instruments (signal values may name them; 0 means no instrument)."""
    with engine.begin() as connection:
        return tuple(
            int(
                connection.execute(
                    text(
                        "INSERT INTO mp.instruments (symbol, asset_class, instrument_type)"
                        " VALUES (:symbol, 'equity', 'stock') RETURNING instrument_id"
                    ),
                    {"symbol": f"REF{number}"},
                ).scalar_one()
            )
            for number in range(count)
        )


@dataclass
class Built:
    """One scenario after its batches went through the model and through mp-db."""

    shape: TableShape
    seed: int
    keep: str
    driver: str
    settings: PostgresSettings
    model: Model
    plan: ArrivalPlan
    series_ids: list[int]
    #: A series of another kind and an id no series has: every read answers them empty.
    foreign_id: int
    unknown_id: int
    reports: list[tuple[ModelReport, Any]] = field(default_factory=list)
    #: (model cutoff, mp-db cutoff or the error taking it raised), before and after each ingest.
    cutoffs: list[tuple[frozenset[int], Any]] = field(default_factory=list)
    #: mp-db's stored rows at the end (every column the model knows, plus ingest_id if any).
    stored: list[dict[str, Any]] = field(default_factory=list)
    #: The scenario's reader, kept open across its tests (see :meth:`open_readers`).
    readers: Readers | None = None

    def open_readers(self) -> None:
        """Keep one engine (and, for asyncpg, one event loop) for all of this scenario's
        reads instead of one per test."""
        self.readers = Readers(self.settings, self.driver)

    def close(self) -> None:
        """Dispose of the kept readers."""
        if self.readers is not None:
            self.readers.close()
            self.readers = None

    @property
    def label(self) -> str:
        return f"{self.shape.name} seed={self.seed} keep={self.keep} driver={self.driver}"

    @property
    def moments(self) -> list[datetime]:
        return moments_around(self.plan)

    @property
    def obs_times(self) -> list[datetime]:
        return sorted({row["obs_time"] for batch in self.plan.batches for row in batch})

    @property
    def all_ids(self) -> list[int]:
        return [*self.series_ids, self.foreign_id, self.unknown_id]


def _take_cutoff(reader: Reader) -> Any:
    try:
        return reader.cutoff()
    except Exception as error:  # recorded: the replay checks fail with it
        return error


async def _take_cutoff_async(reader: AsyncReader) -> Any:
    try:
        return await reader.cutoff()
    except Exception as error:  # recorded: the replay checks fail with it
        return error


def stored_rows(engine: Engine, shape: TableShape) -> list[dict[str, Any]]:
    """Every stored row of the table, in key order, with the model's columns (plus
    ``ingest_id`` when the table has it)."""
    columns = [
        "series_id",
        "obs_time",
        "knowledge_time",
        "revision",
        "knowledge_time_source",
        *shape.entities,
        *shape.values,
    ]
    with engine.connect() as connection:
        present = set(
            connection.execute(
                text(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = 'mp' AND table_name = :table"
                ),
                {"table": shape.name},
            ).scalars()
        )
        if "ingest_id" in present:
            columns.append("ingest_id")
        order = ", ".join(["series_id", "obs_time", *shape.entities, "knowledge_time"])
        result = connection.execute(
            text(f"SELECT {', '.join(columns)} FROM mp.{shape.name} ORDER BY {order}")  # noqa: S608 - names from the fixed table description
        )
        return [dict(row._mapping) for row in result]


def check_ingest(built: Built) -> None:
    """Each batch's IngestReport has the model's counts and adds up, and the table holds
    exactly the model's rows (values, revisions, sources) at the end."""
    import pytest

    expected_rows = [built.model.row(row) for row in built.model.stored()]
    stored = [
        {key: value for key, value in row.items() if key != "ingest_id"} for row in built.stored
    ]
    if stored != expected_rows:
        pytest.fail(f"stored rows on {built.label}\n{difference(expected_rows, stored)}")
    for number, (expected, report) in enumerate(built.reports, start=1):
        assert expected.invariant_holds()
        got = {name: getattr(report, name, "<missing>") for name in expected.__dataclass_fields__}
        assert got == vars(expected), f"report of batch {number} on {built.label}"
        assert report.elapsed_seconds >= 0


@contextmanager
def scenario_database(server: Any, template: str) -> Iterator[PostgresSettings]:
    """A migrated database of its own for one scenario."""
    with temporary_database(server, template=template) as database:
        yield database.settings


def as_frame(batch: list[dict[str, Any]]) -> Any:
    """A batch as the pyarrow Table a connector would build from it (a column per key any
    row has, None where a row lacks it), for the frame path of ``ingest``."""
    import pyarrow

    names = list(dict.fromkeys(name for row in batch for name in row))
    return pyarrow.Table.from_pylist([{name: row.get(name) for name in names} for row in batch])


def build(
    shape: TableShape,
    *,
    seed: int,
    keep: str,
    driver: str,
    settings: PostgresSettings,
    frames: bool = False,
) -> Built:
    """Create the scenario's series, generate its batches and ingest each into the model and
    into mp-db (with ``driver``; each batch as a pyarrow Table with ``frames``), recording
    reports and cutoffs."""
    engine = create_db_engine(settings)
    try:
        series_ids = create_series(engine, shape.kind, 2)
        other_kind = "curve" if shape.kind != "curve" else "macro"
        (foreign_id,) = create_series(engine, other_kind, 1)
        instruments = (0, *create_instruments(engine, 2))
        plan = arrival_plan(
            shape, series_ids=series_ids, vocabulary=vocabulary(instruments), seed=seed, keep=keep
        )
        built = Built(
            shape,
            seed,
            keep,
            driver,
            settings,
            Model(shape),
            plan,
            series_ids,
            foreign_id,
            foreign_id + 1000,
        )
        if driver == "sync":
            reader = Reader(engine)
            built.cutoffs.append((built.model.cutoff(), _take_cutoff(reader)))
            for number, (batch, flag) in enumerate(
                zip(plan.batches, plan.keep_republications, strict=True), start=1
            ):
                expected = built.model.ingest(batch, ingest_id=number, keep_republications=flag)
                sent = as_frame(batch) if frames else batch
                report = ingest(engine, shape.name, sent, keep_republications=flag)
                built.reports.append((expected, report))
                built.cutoffs.append((built.model.cutoff(), _take_cutoff(reader)))
        else:
            asyncio.run(_build_async(built, frames=frames))
        built.stored = stored_rows(engine, shape)
        return built
    finally:
        engine.dispose()


async def _build_async(built: Built, *, frames: bool) -> None:
    engine = create_db_engine_async(built.settings)
    try:
        reader = AsyncReader(engine)
        built.cutoffs.append((built.model.cutoff(), await _take_cutoff_async(reader)))
        for number, (batch, flag) in enumerate(
            zip(built.plan.batches, built.plan.keep_republications, strict=True), start=1
        ):
            expected = built.model.ingest(batch, ingest_id=number, keep_republications=flag)
            sent = as_frame(batch) if frames else batch
            report = await ingest_async(engine, built.shape.name, sent, keep_republications=flag)
            built.reports.append((expected, report))
            built.cutoffs.append((built.model.cutoff(), await _take_cutoff_async(reader)))
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class Call:
    """One read: mp-db's method, its arguments and the model's answer."""

    label: str
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    expected: Any


def _sync_call(reader: Reader, call: Call) -> Any:
    if call.method == "iter_vintages":
        return list(reader.iter_vintages(*call.args, **call.kwargs))
    if call.method == "join_as_of":
        table, series_ids, times, read = call.args
        return join_as_of(reader.vintages(table, series_ids, **read), times)
    return getattr(reader, call.method)(*call.args, **call.kwargs)


async def _async_call(reader: AsyncReader, call: Call) -> Any:
    if call.method == "iter_vintages":
        return [row async for row in reader.iter_vintages(*call.args, **call.kwargs)]
    if call.method == "join_as_of":
        table, series_ids, times, read = call.args
        return join_as_of(await reader.vintages(table, series_ids, **read), times)
    return await getattr(reader, call.method)(*call.args, **call.kwargs)


class Readers:
    """One Reader on a psycopg engine, or one AsyncReader on an asyncpg engine with the event
    loop it runs on, open until :meth:`close`."""

    def __init__(self, settings: PostgresSettings, driver: str) -> None:
        self.driver = driver
        self._runner: asyncio.Runner | None = None
        if driver == "sync":
            self._engine = create_db_engine(settings)
            self._reader = Reader(self._engine)
        else:
            self._runner = asyncio.Runner()
            self._async_engine = create_db_engine_async(settings)
            self._async_reader = AsyncReader(self._async_engine)

    def execute(self, calls: list[Call]) -> list[Any]:
        """Run ``calls``; normalized answers in call order."""
        if self._runner is None:
            return [normalize(_sync_call(self._reader, call)) for call in calls]
        return self._runner.run(self._execute_async(calls))

    async def _execute_async(self, calls: list[Call]) -> list[Any]:
        return [normalize(await _async_call(self._async_reader, call)) for call in calls]

    def close(self) -> None:
        """Dispose of the engine (and close the event loop)."""
        if self._runner is None:
            self._engine.dispose()
            return
        self._runner.run(self._async_engine.dispose())
        self._runner.close()


def execute(settings: PostgresSettings, driver: str, calls: list[Call]) -> list[Any]:
    """Run ``calls`` through ``driver``'s reader; normalized answers in call order."""
    if driver == "sync":
        engine = create_db_engine(settings)
        try:
            reader = Reader(engine)
            return [normalize(_sync_call(reader, call)) for call in calls]
        finally:
            engine.dispose()
    return asyncio.run(_execute_async(settings, calls))


async def _execute_async(settings: PostgresSettings, calls: list[Call]) -> list[Any]:
    engine = create_db_engine_async(settings)
    try:
        reader = AsyncReader(engine)
        return [normalize(await _async_call(reader, call)) for call in calls]
    finally:
        await engine.dispose()
