"""The peers: what a competent researcher writes with ArcticDB, DuckDB and polars.

Each peer keeps every version (series, obs_time, knowledge_time, value) in its own store on
local disk, loads from the columnar data it is handed, and answers every shape with its own
idiom; each read returns the peer's natural frame (pandas for ArcticDB, Arrow for DuckDB, a
polars DataFrame for polars), turned into canonical tuples outside the timing.

* ArcticDB (LMDB): one symbol per series, a frame indexed by obs_time (sorted, one row per
  version, knowledge_time and value columns), in a library with ``dedup=True``. As-of:
  ``read_batch`` with ``date_range`` and a ``QueryBuilder`` filter ``knowledge_time <= T``, then
  the last row of each obs_time (pandas). Latest: the same over the month before T (the whole
  history when that month is empty). Backtest: each series' history, then the frontier (versions
  that became a new latest print) and ``pandas.merge_asof``. A re-run writes every symbol again
  (``write_batch``; dedup stores no new data segments).
* DuckDB: a table with the primary key (series_id, obs_time, knowledge_time) in a database
  file, loaded with ``INSERT ... SELECT`` from Arrow; a re-run is ``INSERT OR IGNORE``. As-of and
  cross-section: ``arg_max(value, knowledge_time) GROUP BY``; latest: ``QUALIFY row_number()``;
  backtest: the frontier with a running ``max(obs_time)`` window, then ``ASOF JOIN``.
* polars: one Parquet file sorted by the key, read lazily (``scan_parquet``). As-of and
  cross-section: ``group_by`` with ``sort_by(knowledge_time).last()``; latest: the same by
  series; backtest: the frontier with ``cum_max().over(series_id)``, then ``join_asof``. A
  re-run anti-joins the new rows against the file and rewrites it only if any are new.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

# The peers and pyarrow are installed by the bench session only, not where mypy runs
# (hence the ignores, unused where they are present).
import arcticdb  # type: ignore[import-not-found, import-untyped, unused-ignore]
import duckdb  # type: ignore[import-not-found, import-untyped, unused-ignore]
import pandas as pd
import polars as pl  # type: ignore[import-not-found, import-untyped, unused-ignore]
import pyarrow as pa  # type: ignore[import-not-found, import-untyped, unused-ignore]
from bench_peers_data import Shape

__all__ = [
    "PEERS",
    "ArcticPeer",
    "DuckPeer",
    "Peer",
    "PolarsPeer",
    "as_arrow",
    "disk_bytes",
    "make_peers",
    "remove",
]

KEY = ["series_id", "obs_time", "knowledge_time"]
#: ArcticDB's latest print looks this far back before T first.
LATEST_WINDOW = timedelta(days=31)


class Peer(Protocol):
    """A peer system under test."""

    name: str
    description: str

    def load(self, data: Any) -> int:
        """First load into an empty store; returns the rows stored."""

    def rerun(self, data: Any) -> int | None:
        """The same rows and any new ones; returns the rows added (None: cannot tell)."""

    def append(self, data: Any) -> None:
        """Add more series (untimed set-up)."""

    def read(self, shape: Shape) -> Any:
        """Answer ``shape`` as the peer's natural frame."""

    def stored_bytes(self) -> int:
        """Bytes on disk."""

    def input_form(self, table: pa.Table) -> Any:
        """The peer's input, built from the shared Arrow table outside the timing."""


def disk_bytes(path: Path) -> int:
    """Allocated bytes under ``path`` (LMDB's map file is sparse, so not its length)."""
    if path.is_file():
        return path.stat().st_blocks * 512
    return sum(
        (Path(folder) / name).stat().st_blocks * 512
        for folder, _, names in os.walk(path)
        for name in names
    )


def as_arrow(frame: Any) -> pa.Table:
    """A peer's or mp's frame as an Arrow table (for the canonical answer)."""
    if isinstance(frame, pa.Table):
        return frame
    if isinstance(frame, pl.DataFrame):
        return frame.to_arrow()
    if isinstance(frame, pd.DataFrame):
        return pa.Table.from_pandas(frame, preserve_index=False)
    raise TypeError(f"not a frame: {type(frame).__name__}")


def _naive(moment: datetime) -> pd.Timestamp:
    # ArcticDB indexes hold naive UTC datetimes.
    return pd.Timestamp(moment).tz_convert("UTC").tz_localize(None)


class ArcticPeer:
    """ArcticDB on LMDB: one symbol per series."""

    name = "ArcticDB"
    description = "LMDB library, one symbol per series indexed by obs_time (dedup=True)"

    def __init__(self, folder: Path) -> None:
        self.folder = folder / "arctic"
        self.arctic = arcticdb.Arctic(f"lmdb://{self.folder}?map_size=16GB")
        self.symbols: list[int] = []

    def _library(self, fresh: bool) -> Any:
        if fresh and "bench" in self.arctic.list_libraries():
            self.arctic.delete_library("bench")
        options = arcticdb.LibraryOptions(dedup=True)
        return self.arctic.get_library("bench", create_if_missing=True, library_options=options)

    def input_form(self, table: pa.Table) -> pd.DataFrame:
        """A pandas DataFrame with naive UTC times, as an ArcticDB user holds one."""
        frame: pd.DataFrame = table.to_pandas()
        for column in ("obs_time", "knowledge_time"):
            frame[column] = frame[column].dt.tz_localize(None).dt.as_unit("ns")
        return frame

    def _write(self, data: pd.DataFrame, fresh: bool) -> int:
        library = self._library(fresh)
        payloads = [
            arcticdb.WritePayload(
                f"s{series_id}", part.set_index("obs_time")[["knowledge_time", "value"]]
            )
            for series_id, part in data.groupby("series_id", sort=False)
        ]
        library.write_batch(payloads)
        self.symbols = sorted({*self.symbols, *(int(s) for s in data["series_id"].unique())})
        return len(data)

    def load(self, data: pd.DataFrame) -> int:
        """Write every series into a fresh library."""
        self.symbols = []
        return self._write(data, fresh=True)

    def rerun(self, data: pd.DataFrame) -> int | None:
        """Write every series again (a new version each; dedup keeps the data segments).
        None: ArcticDB does not say how many rows were new."""
        self._write(data, fresh=False)
        return None

    def append(self, data: pd.DataFrame) -> None:
        """Write more series."""
        self._write(data, fresh=False)

    def _reads(self, ids: Any, start: Any, end: Any, as_of: datetime) -> list[pd.DataFrame]:
        builder = arcticdb.QueryBuilder()
        builder = builder[builder["knowledge_time"] <= _naive(as_of)]
        requests = [
            arcticdb.ReadRequest(f"s{series_id}", date_range=(start, end), query_builder=builder)
            for series_id in ids
        ]
        frames = []
        for series_id, item in zip(ids, self._library(False).read_batch(requests), strict=True):
            frame = item.data
            frame.insert(0, "series_id", series_id)
            frames.append(frame)
        return frames

    def read(self, shape: Shape) -> pd.DataFrame:
        """Answer with read_batch and pandas."""
        if shape.kind == "as_of":
            start = _naive(shape.start) if shape.start else None
            end = _naive(shape.end) - pd.Timedelta(1, "ns") if shape.end else None
            frames = self._reads(shape.series_ids, start, end, shape.as_of)
            frame = pd.concat([f[~f.index.duplicated(keep="last")] for f in frames])
            return frame.rename_axis("obs_time").reset_index()
        if shape.kind == "cross_section":
            assert shape.obs_time is not None
            day = _naive(shape.obs_time)
            frames = self._reads(self.symbols, day, day, shape.as_of)
            return pd.concat([f.iloc[-1:] for f in frames]).rename_axis("obs_time").reset_index()
        if shape.kind == "latest":
            end = _naive(shape.as_of)
            frames = self._reads(shape.series_ids, end - LATEST_WINDOW, end, shape.as_of)
            empty = [sid for sid, f in zip(shape.series_ids, frames, strict=True) if f.empty]
            frames += self._reads(empty, None, end, shape.as_of) if empty else []
            return (
                pd.concat([f.iloc[-1:] for f in frames if not f.empty])
                .rename_axis("obs_time")
                .reset_index()
            )
        return self._backtest(shape)

    def _backtest(self, shape: Shape) -> pd.DataFrame:
        last = max(shape.decision_times)
        frames = self._reads(shape.series_ids, None, _naive(last), last)
        history = pd.concat(frames).rename_axis("obs_time").reset_index()
        history = history.sort_values(["series_id", "knowledge_time", "obs_time"])
        frontier = history["obs_time"] == history.groupby("series_id")["obs_time"].cummax()
        releases = history[frontier].drop_duplicates(["series_id", "knowledge_time"], keep="last")
        decisions = pd.DataFrame(
            [(_naive(t), s) for t in shape.decision_times for s in shape.series_ids],
            columns=["decision_time", "series_id"],
        )
        joined = pd.merge_asof(
            decisions.sort_values("decision_time"),
            releases.sort_values("knowledge_time"),
            left_on="decision_time",
            right_on="knowledge_time",
            by="series_id",
        )
        return joined.dropna(subset=["value"])

    def stored_bytes(self) -> int:
        """The LMDB folder's allocated bytes."""
        return disk_bytes(self.folder)


def _in_list(ids: Any) -> str:
    return ", ".join(str(int(series_id)) for series_id in ids)


class DuckPeer:
    """DuckDB: one keyed table in a database file."""

    name = "DuckDB"
    description = "table with PRIMARY KEY (series_id, obs_time, knowledge_time) in a file"

    def __init__(self, folder: Path) -> None:
        self.path = folder / "bench.duckdb"
        self.connection = duckdb.connect(str(self.path))
        self._run("SET TimeZone = 'UTC'")

    def _run(self, sql: str) -> list[Any]:
        # Fetch every result: DuckDB refuses the next statement while one is unfinished.
        rows: list[Any] = self.connection.execute(sql).fetchall()
        return rows

    def input_form(self, table: pa.Table) -> pa.Table:
        """The Arrow table itself."""
        return table

    def load(self, data: pa.Table) -> int:
        """Create the keyed table and insert from Arrow."""
        self._run("DROP TABLE IF EXISTS versions")
        self._run(
            "CREATE TABLE versions (series_id INTEGER, obs_time TIMESTAMPTZ, "
            "knowledge_time TIMESTAMPTZ, value DOUBLE, "
            "PRIMARY KEY (series_id, obs_time, knowledge_time))"
        )
        self.connection.register("incoming", data)
        self._run("INSERT INTO versions SELECT * FROM incoming")
        self.connection.unregister("incoming")
        return int(data.num_rows)

    def _count(self) -> int:
        return int(self._run("SELECT count(*) FROM versions")[0][0])

    def rerun(self, data: pa.Table) -> int:
        """INSERT OR IGNORE: rows already stored are skipped by the key."""
        before = self._count()
        self.connection.register("incoming", data)
        self._run("INSERT OR IGNORE INTO versions SELECT * FROM incoming")
        self.connection.unregister("incoming")
        return self._count() - before

    def append(self, data: pa.Table) -> None:
        """Insert more series."""
        self.rerun(data)

    def read(self, shape: Shape) -> pa.Table:
        """One SQL statement per shape, fetched as Arrow."""
        as_of = shape.as_of.isoformat()
        ids = _in_list(shape.series_ids)
        if shape.kind in {"as_of", "cross_section"}:
            where = [f"knowledge_time <= '{as_of}'"]
            if shape.kind == "as_of":
                where.append(f"series_id IN ({ids})")
            else:
                assert shape.obs_time is not None
                where.append(f"obs_time = '{shape.obs_time.isoformat()}'")
            if shape.start is not None:
                where.append(f"obs_time >= '{shape.start.isoformat()}'")
            if shape.end is not None:
                where.append(f"obs_time < '{shape.end.isoformat()}'")
            sql = (
                "SELECT series_id, obs_time, arg_max(value, knowledge_time) AS value "
                f"FROM versions WHERE {' AND '.join(where)} "
                "GROUP BY series_id, obs_time ORDER BY series_id, obs_time"
            )
        elif shape.kind == "latest":
            sql = (
                "SELECT series_id, obs_time, value FROM versions "
                f"WHERE series_id IN ({ids}) AND knowledge_time <= '{as_of}' "
                "QUALIFY row_number() OVER "
                "(PARTITION BY series_id ORDER BY obs_time DESC, knowledge_time DESC) = 1"
            )
        else:
            decisions = pa.table(
                {
                    "decision_time": pa.array(
                        [t for t in shape.decision_times for _ in shape.series_ids],
                        pa.timestamp("us", tz="UTC"),
                    ),
                    "series_id": pa.array(
                        [s for _ in shape.decision_times for s in shape.series_ids], pa.int32()
                    ),
                }
            )
            self.connection.register("decisions", decisions)
            last = max(shape.decision_times).isoformat()
            sql = (
                "WITH ranked AS (SELECT series_id, obs_time, knowledge_time, value, "
                "max(obs_time) OVER (PARTITION BY series_id ORDER BY knowledge_time, obs_time "
                "ROWS UNBOUNDED PRECEDING) AS frontier FROM versions "
                f"WHERE series_id IN ({ids}) AND knowledge_time <= '{last}'), "
                "releases AS (SELECT * FROM ranked WHERE obs_time = frontier QUALIFY "
                "row_number() OVER (PARTITION BY series_id, knowledge_time "
                "ORDER BY obs_time DESC) = 1) "
                "SELECT d.decision_time, d.series_id, r.obs_time, r.value FROM decisions d "
                "ASOF JOIN releases r ON d.series_id = r.series_id "
                "AND d.decision_time >= r.knowledge_time"
            )
        table: pa.Table = self.connection.sql(sql).to_arrow_table()
        return table

    def stored_bytes(self) -> int:
        """The database file after a checkpoint."""
        self._run("CHECKPOINT")
        return disk_bytes(self.path)


class PolarsPeer:
    """polars over one Parquet file."""

    name = "polars"
    description = "one Parquet file sorted by the key, scan_parquet (lazy)"

    def __init__(self, folder: Path) -> None:
        self.path = folder / "versions.parquet"

    def input_form(self, table: pa.Table) -> pl.DataFrame:
        """A polars DataFrame (zero-copy from Arrow)."""
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame

    def load(self, data: pl.DataFrame) -> int:
        """Sort by the key and write the Parquet file."""
        data.sort(KEY).write_parquet(self.path)
        return int(data.height)

    def rerun(self, data: pl.DataFrame) -> int:
        """Anti-join against the file; rewrite it only when something is new."""
        stored = pl.read_parquet(self.path)
        new = data.join(stored, on=KEY, how="anti")
        if new.height:
            pl.concat([stored, new]).sort(KEY).write_parquet(self.path)
        return int(new.height)

    def append(self, data: pl.DataFrame) -> None:
        """Add more series."""
        self.rerun(data)

    def read(self, shape: Shape) -> pl.DataFrame:
        """A lazy query per shape."""
        known = pl.col("knowledge_time") <= shape.as_of
        scan = pl.scan_parquet(self.path)
        latest_value = pl.col("value").sort_by("knowledge_time").last()
        if shape.kind in {"as_of", "cross_section"}:
            if shape.kind == "as_of":
                condition = known & pl.col("series_id").is_in(shape.series_ids)
            else:
                condition = known & (pl.col("obs_time") == shape.obs_time)
            if shape.start is not None:
                condition &= pl.col("obs_time") >= shape.start
            if shape.end is not None:
                condition &= pl.col("obs_time") < shape.end
            query = scan.filter(condition).group_by("series_id", "obs_time").agg(latest_value)
            return query.collect()
        if shape.kind == "latest":
            query = (
                scan.filter(known & pl.col("series_id").is_in(shape.series_ids))
                .group_by("series_id")
                .agg(pl.all().sort_by("obs_time", "knowledge_time").last())
            )
            return query.collect()
        last = max(shape.decision_times)
        releases = (
            scan.filter(
                (pl.col("knowledge_time") <= last) & pl.col("series_id").is_in(shape.series_ids)
            )
            .sort("series_id", "knowledge_time", "obs_time")
            .filter(pl.col("obs_time") == pl.col("obs_time").cum_max().over("series_id"))
            .unique(["series_id", "knowledge_time"], keep="last", maintain_order=True)
            .sort("knowledge_time")
        )
        decisions = pl.LazyFrame(
            {
                "decision_time": [t for t in shape.decision_times for _ in shape.series_ids],
                "series_id": [s for _ in shape.decision_times for s in shape.series_ids],
            },
            schema={"decision_time": pl.Datetime("us", "UTC"), "series_id": pl.Int32},
        ).sort("decision_time")
        joined = decisions.join_asof(
            releases,
            left_on="decision_time",
            right_on="knowledge_time",
            by="series_id",
            check_sortedness=False,  # both sides are sorted by time just above
        )
        return joined.drop_nulls("value").collect()

    def stored_bytes(self) -> int:
        """The Parquet file."""
        return disk_bytes(self.path)


#: Every peer by name, made in the folder given.
PEERS: dict[str, Callable[[Path], Peer]] = {
    "ArcticDB": ArcticPeer,
    "DuckDB": DuckPeer,
    "polars": PolarsPeer,
}


def make_peers(names: Sequence[str] = tuple(PEERS)) -> tuple[list[Peer], Path]:
    """The peers named (all by default) in one temporary folder (:func:`remove` deletes it)."""
    unknown = sorted(set(names) - set(PEERS))
    if unknown:
        raise SystemExit(f"--peers: no peer {', '.join(unknown)}; known: {', '.join(PEERS)}")
    folder = Path(tempfile.mkdtemp(prefix="mp-bench-peers-"))
    return [PEERS[name](folder) for name in names], folder


def remove(folder: Path) -> None:
    """Delete the peers' stores."""
    shutil.rmtree(folder, ignore_errors=True)
