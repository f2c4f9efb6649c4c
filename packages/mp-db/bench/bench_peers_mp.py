"""mp's side of the peer benchmark: a table of named variants, one entry each.

A read variant answers a :class:`Shape` through mp's public ``Reader`` in one form (typed rows,
a DataFrame built from them, or a frame straight from the reader once ``output=`` exists); an
ingest variant loads the backfill from one input form. Adding a variant (a new ``output=``
value, a polars input) is one entry in :func:`read_variants` or :func:`ingest_variants`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import pandas as pd

# The peers and pyarrow are installed by the bench session only, not where mypy runs
# (hence the ignores, unused where they are present).
import pyarrow as pa  # type: ignore[import-not-found, import-untyped, unused-ignore]
from bench_peers_data import Shape
from sqlalchemy import Connection, Engine

from mp_db import AsOfValue, MacroObservationRow, Reader, ingest, to_frame

__all__ = [
    "IngestVariant",
    "ReadVariant",
    "frame_of",
    "ingest_variants",
    "read_variants",
    "reader_call",
]

ROW = MacroObservationRow
TABLE = "macro_observations"


@dataclass(frozen=True)
class ReadVariant:
    """One way of asking mp.

    Attributes:
        name: the column label ("mp rows").
        description: what the call does, for the docs.
        run: answers a shape on an open connection.
    """

    name: str
    description: str
    run: Callable[[Connection, Shape], Any]


@dataclass(frozen=True)
class IngestVariant:
    """One input form for ``ingest``.

    Attributes:
        name: the row label ("mp dicts").
        description: what is timed, for the docs.
        prepare: builds the input from the shared data, outside the timing.
        run: the timed call.
    """

    name: str
    description: str
    prepare: Callable[[Sequence[dict[str, Any]], pa.Table], Any]
    run: Callable[[Engine, Any], Any]


def reader_call(reader: Reader, shape: Shape, **keywords: Any) -> Any:
    """The Reader method that answers ``shape`` (``keywords`` go to it, e.g. ``output=``)."""
    if shape.kind == "as_of":
        return reader.as_of(
            ROW, shape.series_ids, as_of=shape.as_of, start=shape.start, end=shape.end, **keywords
        )
    if shape.kind == "latest":
        return reader.latest(ROW, shape.series_ids, as_of=shape.as_of, **keywords)
    if shape.kind == "cross_section":
        assert shape.obs_time is not None
        return reader.cross_section(ROW, shape.obs_time, as_of=shape.as_of, **keywords)
    return reader.backtest(ROW, shape.series_ids, shape.decision_times, **keywords)


def frame_of(result: Any) -> Any:
    """mp's answer as a frame: typed rows through ``to_frame``, backtest values with their
    decision time; frames pass through."""
    if not isinstance(result, list):
        return result
    if result and isinstance(result[0], AsOfValue):
        seen = [item for item in result if item.row is not None]
        frame = to_frame([item.row for item in seen])
        frame.insert(0, "decision_time", pd.to_datetime([item.decision_time for item in seen]))
        return frame
    return to_frame(result)


def _with_output(output: str, connection: Connection, shape: Shape) -> Any:
    return reader_call(Reader(connection), shape, output=output)


def _accepts_output() -> bool:
    return "output" in inspect.signature(Reader.as_of).parameters


def read_variants() -> list[ReadVariant]:
    """mp's read variants on this checkout (``output=`` ones only where the Reader has it)."""
    variants = [
        ReadVariant(
            "mp rows",
            "Reader(connection) call returning typed rows (MacroObservationRow / AsOfValue)",
            lambda connection, shape: reader_call(Reader(connection), shape),
        ),
        ReadVariant(
            "mp DataFrame",
            "the same call, then mp_db.to_frame of the rows (what a pandas user does today)",
            lambda connection, shape: frame_of(reader_call(Reader(connection), shape)),
        ),
    ]
    if _accepts_output():
        for output in ("pandas", "arrow"):
            variants.append(
                ReadVariant(
                    f"mp output={output}",
                    f"the same call with output={output!r} (columnar fetch, no row objects)",
                    partial(_with_output, output),
                )
            )
    return variants


def _frame(rows: Sequence[dict[str, Any]], _: pa.Table) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows)


def _arrow(rows: Sequence[dict[str, Any]], _: pa.Table) -> pa.Table:
    return pa.Table.from_pandas(pd.DataFrame.from_records(rows), preserve_index=False)


def _ingest_arrow(engine: Engine, table: pa.Table) -> Any:
    # ingest takes rows or a pandas DataFrame today: an Arrow table is converted first, and the
    # conversion is part of the timing.
    return ingest(engine, TABLE, table.to_pandas())


def ingest_variants(arrow_native: bool) -> list[IngestVariant]:
    """mp's ingest from dicts, pandas and Arrow (natively if ``ingest`` takes Arrow here)."""
    arrow = IngestVariant(
        "mp Arrow (via to_pandas)",
        "pyarrow.Table converted with Table.to_pandas(), then ingest (conversion timed)",
        _arrow,
        _ingest_arrow,
    )
    if arrow_native:
        arrow = IngestVariant(
            "mp Arrow",
            "ingest(engine, table, pyarrow.Table)",
            _arrow,
            lambda engine, table: ingest(engine, TABLE, table),
        )
    return [
        IngestVariant(
            "mp dicts",
            "ingest(engine, table, list of dicts)",
            lambda rows, _: rows,
            lambda engine, rows: ingest(engine, TABLE, rows),
        ),
        IngestVariant(
            "mp DataFrame",
            "ingest(engine, table, pandas.DataFrame)",
            _frame,
            lambda engine, frame: ingest(engine, TABLE, frame),
        ),
        arrow,
    ]
