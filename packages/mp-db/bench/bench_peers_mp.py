"""mp's side of the peer benchmark: a table of named variants, one entry each.

A read variant answers a :class:`Shape` through one of mp's public readers: typed rows from
``Reader``, or one table from ``FrameReader`` (``ARROW``, ``PANDAS``, ``POLARS``) or
``AsyncFrameReader`` (``ARROW``, on asyncpg); an ingest variant loads rows from one input form
(dicts, pandas, pyarrow, polars). Adding a variant is one entry in :func:`read_variants` or
:data:`INGEST_VARIANTS`. :func:`server_query` gives the statement mp runs for a shape, so the
bench can ask the server how long it takes to execute it (EXPLAIN ANALYZE).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

# The peers and pyarrow are installed by the bench session only, not where mypy runs
# (hence the ignores, unused where they are present).
import polars as pl  # type: ignore[import-not-found, import-untyped, unused-ignore]
import pyarrow as pa  # type: ignore[import-not-found, import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-not-found, import-untyped, unused-ignore]
from bench_peers_data import Shape
from bench_peers_systems import as_arrow
from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from mp_db import (
    ARROW,
    PANDAS,
    POLARS,
    AsOfValue,
    AsyncFrameReader,
    Form,
    FrameReader,
    MacroObservationRow,
    Query,
    Reader,
    ingest,
    to_frame,
)
from mp_db._read_queries import _Queries

__all__ = [
    "INGEST_VARIANTS",
    "IngestVariant",
    "ReadVariant",
    "answer_table",
    "read_variants",
    "reader_call",
    "server_query",
    "server_statement",
]

ROW = MacroObservationRow
TABLE = "macro_observations"


@dataclass(frozen=True)
class ReadVariant:
    """One way of asking mp.

    Attributes:
        name: the column label ("mp arrow").
        description: what the call does, for the docs.
        run: answers a shape.
        frame: whether the answer is a table fetched as one (a frame reader), the variants the
            issue's "within 1.5x of the server's own execution time" is about.
        lean: the variant leaves the bookkeeping columns out, so it runs the lean twin of the
            shape's statement (the one its server time is measured on).
    """

    name: str
    description: str
    run: Callable[[Shape], Any]
    frame: bool
    lean: bool = False


@dataclass(frozen=True)
class IngestVariant:
    """One input form for ``ingest``.

    Attributes:
        name: the row label ("mp pandas").
        description: what is timed, for the docs.
        prepare: builds the input from the rows as dicts, outside the timing.
    """

    name: str
    description: str
    prepare: Callable[[Sequence[dict[str, Any]]], Any]

    def run(self, engine: Engine, data: Any) -> Any:
        """The timed call."""
        return ingest(engine, TABLE, data)


def reader_call(reader: Any, shape: Shape) -> Any:
    """The method of ``reader`` (a row or frame reader, sync or async) that answers ``shape``."""
    if shape.kind == "as_of":
        return reader.as_of(
            ROW, shape.series_ids, as_of=shape.as_of, start=shape.start, end=shape.end
        )
    if shape.kind == "latest":
        return reader.latest(ROW, shape.series_ids, as_of=shape.as_of)
    if shape.kind == "cross_section":
        assert shape.obs_time is not None
        return reader.cross_section(ROW, shape.obs_time, as_of=shape.as_of)
    return reader.backtest(ROW, shape.series_ids, shape.decision_times)


def server_statement(shape: Shape, *, lean: bool) -> tuple[Query[Any], str]:
    """The query of ``shape`` and the statement a frame read runs for it: the lean twin for a
    reader without the bookkeeping columns."""
    query = server_query(shape)
    if not lean or query.columnar is None:
        return query, query.sql
    sql, _ = query.columnar.without_bookkeeping(query.sql)
    return query, sql


def server_query(shape: Shape) -> Query[Any]:
    """The statement (with its planner settings) mp runs to answer ``shape``."""
    if shape.kind == "as_of":
        return _Queries.as_of(
            TABLE,
            series_ids=list(shape.series_ids),
            as_of=shape.as_of,
            start=shape.start,
            end=shape.end,
            ingested_before=None,
        )
    if shape.kind == "latest":
        return _Queries.latest(TABLE, list(shape.series_ids), shape.as_of, None, bounded=True)
    if shape.kind == "cross_section":
        return _Queries.cross_section(TABLE, shape.obs_time, shape.as_of, None, None)
    return _Queries.backtest(TABLE, list(shape.series_ids), list(shape.decision_times), None)


def answer_table(result: Any) -> pa.Table:
    """mp's answer as an Arrow table for the canonical comparison: typed rows through
    ``to_frame`` (backtest values with their decision time); a frame reader's backtest keeps
    a null row where nothing was known, which the reference (and every peer) leaves out."""
    if isinstance(result, list):
        if result and isinstance(result[0], AsOfValue):
            seen = [item for item in result if item.row is not None]
            frame = to_frame([item.row for item in seen])
            frame.insert(0, "decision_time", pd.to_datetime([item.decision_time for item in seen]))
        else:
            frame = to_frame(result)
        return as_arrow(frame)
    table = as_arrow(result)
    if "decision_time" in table.column_names:
        table = table.filter(pc.is_valid(table.column("obs_time")))
    return table


def _frames(
    bind: Connection, form: Form[Any], *, bookkeeping: bool = True
) -> Callable[[Shape], Any]:
    return lambda shape: reader_call(FrameReader(bind, form, bookkeeping=bookkeeping), shape)


def read_variants(
    connection: Connection, async_engine: AsyncEngine, runner: asyncio.Runner
) -> list[ReadVariant]:
    """mp's read variants: the sync ones on ``connection`` (one open connection, as a
    notebook holds), the async one on ``async_engine``'s pool, run on ``runner``'s loop."""
    arrow_async = AsyncFrameReader(async_engine, ARROW)
    return [
        ReadVariant(
            "mp rows",
            "Reader(connection): typed rows (MacroObservationRow / AsOfValue)",
            lambda shape: reader_call(Reader(connection), shape),
            frame=False,
        ),
        ReadVariant(
            "mp arrow",
            "FrameReader(connection, ARROW): a pyarrow Table (binary COPY decoded by column)",
            _frames(connection, ARROW),
            frame=True,
        ),
        ReadVariant(
            "mp pandas",
            "FrameReader(connection, PANDAS): the same table as a pandas DataFrame",
            _frames(connection, PANDAS),
            frame=True,
        ),
        ReadVariant(
            "mp polars",
            "FrameReader(connection, POLARS): the same table as a polars DataFrame",
            _frames(connection, POLARS),
            frame=True,
        ),
        ReadVariant(
            "mp arrow lean",
            "FrameReader(connection, ARROW, bookkeeping=False): the table without revision,"
            " knowledge_time_source, ingested_at, ingest_id (never sent)",
            _frames(connection, ARROW, bookkeeping=False),
            frame=True,
            lean=True,
        ),
        ReadVariant(
            "mp pandas lean",
            "FrameReader(connection, PANDAS, bookkeeping=False): that table as a DataFrame",
            _frames(connection, PANDAS, bookkeeping=False),
            frame=True,
            lean=True,
        ),
        ReadVariant(
            "mp arrow async",
            "AsyncFrameReader(async engine, ARROW) on asyncpg, awaited on one event loop",
            lambda shape: runner.run(reader_call(arrow_async, shape)),
            frame=True,
        ),
    ]


def _pandas(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows)


def _arrow(rows: Sequence[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pandas(_pandas(rows), preserve_index=False)


def _polars(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    frame = pl.from_arrow(_arrow(rows))
    assert isinstance(frame, pl.DataFrame)
    return frame


INGEST_VARIANTS = (
    IngestVariant("mp dicts", "ingest(engine, table, list of dicts)", list),
    IngestVariant("mp pandas", "ingest(engine, table, pandas.DataFrame)", _pandas),
    IngestVariant("mp arrow", "ingest(engine, table, pyarrow.Table)", _arrow),
    IngestVariant("mp polars", "ingest(engine, table, polars.DataFrame)", _polars),
)
