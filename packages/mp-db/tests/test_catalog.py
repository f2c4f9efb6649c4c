"""The catalog: get-or-create by natural key, in bulk, idempotent, concurrent; both drivers."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, time
from typing import Any

import pytest
from conftest import run
from sqlalchemy import event, text

from mp_config import PostgresSettings
from mp_db import (
    AsyncDatabase,
    CatalogConflictError,
    Database,
    IngestValidationError,
    InstrumentSpec,
    MpDbError,
    SeriesSpec,
    SourceSpec,
)

FRED = SourceSpec(code="fred", name="FRED", source_type="central_bank", vintage_capability="full")


def _series(code: str, **changes: Any) -> SeriesSpec:
    fields: dict[str, Any] = {
        "source": "fred",
        "source_code": code,
        "kind": "macro",
        "name": f"series {code}",
        "frequency": "monthly",
        "release_time": time(8, 30),
        "release_timezone": "America/New_York",
        **changes,
    }
    return SeriesSpec(**fields)


def _count(db: Database, table: str) -> int:
    with db.begin() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM mp.{table}")).scalar_one())  # noqa: S608 - fixed names


def _statements(db: Database) -> list[str]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    return seen


def test_get_or_create_in_bulk_is_one_statement_and_idempotent(
    mp_pg_settings: PostgresSettings,
) -> None:
    """100 series in one statement; the same call again returns the same ids, adds nothing."""
    with Database(mp_pg_settings) as db:
        [source_id] = db.catalog.ensure_sources([FRED])
        specs = [_series(f"S{number}") for number in range(100)]
        statements = _statements(db)
        first = db.catalog.ensure_series(specs)
        assert len(statements) == 1
        assert len(set(first)) == 100
        again = db.catalog.ensure_series(list(reversed(specs)))
        assert again == list(reversed(first))
        assert db.catalog.ensure_sources([FRED]) == [source_id]
        assert _count(db, "series") == 100
        found = db.catalog.series("fred", ["S0", "S99", "missing"])
        assert set(found) == {"S0", "S99"}
        assert found["S0"].series_id == first[0]
        assert found["S0"].release_time == time(8, 30)
        assert found["S0"].release_timezone == "America/New_York"
        assert db.catalog.source_ids(["fred", "nope"]) == {"fred": source_id}


def test_async_twin_shares_ids_with_sync(mp_pg_settings: PostgresSettings) -> None:
    """What sync registered, async finds (and the other way round)."""
    with Database(mp_pg_settings) as db:
        db.catalog.ensure_sources([FRED])
        sync_ids = db.catalog.ensure_series([_series("A"), _series("B")])

    async def attempt() -> tuple[list[int], list[int], dict[str, int]]:
        async with AsyncDatabase(mp_pg_settings) as adb:
            both = await adb.catalog.ensure_series([_series("B"), _series("C")])
            sources = await adb.catalog.source_ids(["fred"])
            found = await adb.catalog.series("fred", ["A", "C"])
            return both, [found["A"].series_id, found["C"].series_id], sources

    both, found, sources = run(attempt())
    assert both[0] == sync_ids[1]
    assert found[0] == sync_ids[0]
    assert found[1] == both[1]
    assert set(sources) == {"fred"}


def test_update_changes_descriptive_fields_only(mp_pg_settings: PostgresSettings) -> None:
    """update=True refreshes name/units/release time; None keeps what is stored; ids kept."""
    with Database(mp_pg_settings) as db:
        db.catalog.ensure_sources([FRED])
        [series_id] = db.catalog.ensure_series([_series("CPI", units="index")])
        unchanged = db.catalog.ensure_series([_series("CPI", name="renamed")])
        assert unchanged == [series_id]
        assert db.catalog.series("fred", ["CPI"])["CPI"].release_time == time(8, 30)
        updated = db.catalog.ensure_series(
            [_series("CPI", name="renamed", release_time=time(10, 0))], update=True
        )
        assert updated == [series_id]
        with db.begin() as connection:
            row = connection.execute(
                text("SELECT name, units, release_time FROM mp.series WHERE series_id = :id"),
                {"id": series_id},
            ).one()
        assert tuple(row) == ("renamed", "index", time(10, 0))


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_conflicting_definitions_are_typed_errors(
    mp_pg_settings: PostgresSettings, driver: str
) -> None:
    """Same code, another frequency (or source type): CatalogConflictError, nothing written."""
    with Database(mp_pg_settings) as db:
        db.catalog.ensure_sources([FRED])
        db.catalog.ensure_series([_series("CPI")])
    clash = [_series("NEW"), _series("CPI", frequency="weekly")]
    other_type = SourceSpec(
        code="fred", name="FRED", source_type="vendor", vintage_capability="full"
    )

    if driver == "sync":
        with Database(mp_pg_settings) as db:
            with pytest.raises(CatalogConflictError) as caught:
                db.catalog.ensure_series(clash)
            with pytest.raises(CatalogConflictError) as source_caught:
                db.catalog.ensure_sources([other_type])
            error, source_error = caught.value, source_caught.value
            found = db.catalog.series("fred", ["NEW"])
    else:

        async def attempt() -> tuple[CatalogConflictError, CatalogConflictError, dict[str, Any]]:
            async with AsyncDatabase(mp_pg_settings) as adb:
                with pytest.raises(CatalogConflictError) as first:
                    await adb.catalog.ensure_series(clash)
                with pytest.raises(CatalogConflictError) as second:
                    await adb.catalog.ensure_sources([other_type])
                return first.value, second.value, await adb.catalog.series("fred", ["NEW"])

        error, source_error, found = run(attempt())
    assert found == {}  # the new series of the refused batch was rolled back
    assert error.conflicts == (("frequency", "monthly", "weekly"),)
    assert "(fred, CPI)" in str(error)
    assert "frequency is 'monthly', not 'weekly'" in str(error)
    assert source_error.conflicts == (("source_type", "central_bank", "vendor"),)


def test_bad_specs_name_row_and_field(mp_pg_settings: PostgresSettings) -> None:
    """Invalid enums, time zones, source codes and unknown sources: rows named, nothing kept."""
    with Database(mp_pg_settings) as db:
        with pytest.raises(IngestValidationError) as caught:
            db.catalog.ensure_sources(
                [
                    FRED,
                    SourceSpec(
                        code="Bad-Code",
                        name="x",
                        source_type="blog",
                        vintage_capability="full",
                        timezone="Mars/Olympus",
                    ),
                ]
            )
        problems = {(p.index, p.field, p.code) for p in caught.value.problems}
        assert problems == {
            (1, "code", "bad_format"),
            (1, "source_type", "bad_enum"),
            (1, "timezone", "bad_timezone"),
        }
        assert _count(db, "data_sources") == 0
        with pytest.raises(IngestValidationError) as unknown:
            db.catalog.ensure_series([_series("X", source="ecb")])
        assert unknown.value.codes == {"unknown_source"}
        with pytest.raises(IngestValidationError) as duplicate:
            db.catalog.ensure_series([_series("X"), _series("X", frequency="weekly")])
        assert {(p.index, p.code) for p in duplicate.value.problems} == {(1, "duplicate_key")}
        assert isinstance(duplicate.value, MpDbError)


def test_instruments_by_exchange_symbol_and_listing(mp_pg_settings: PostgresSettings) -> None:
    """Instruments keyed by (exchange, symbol, listing date), NULLs included; lookups by
    symbol find the latest listing."""
    listed = datetime(2020, 1, 1, tzinfo=UTC)
    specs = [
        InstrumentSpec(symbol="ES", asset_class="equity", instrument_type="future"),
        InstrumentSpec(
            symbol="AAPL", asset_class="equity", instrument_type="stock", exchange_mic="XNAS"
        ),
        InstrumentSpec(
            symbol="AAPL",
            asset_class="equity",
            instrument_type="stock",
            exchange_mic="XNAS",
            listed_at=listed,
        ),
    ]
    with Database(mp_pg_settings) as db:
        ids = db.catalog.ensure_instruments(specs)
        assert len(set(ids)) == 3
        assert db.catalog.ensure_instruments(specs) == ids
        assert db.catalog.instrument_ids(["AAPL"], exchange_mic="XNAS") == {"AAPL": ids[2]}
        assert db.catalog.instrument_ids(["ES"]) == {"ES": ids[0]}


def test_concurrent_connectors_get_the_same_ids(mp_pg_settings: PostgresSettings) -> None:
    """Eight threads and eight tasks register overlapping new series at once: no error, no
    duplicate, every caller gets the same id for the same code."""
    with Database(mp_pg_settings) as db:
        db.catalog.ensure_sources([FRED])
    codes = [f"C{number}" for number in range(40)]
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def connector(offset: int) -> None:
        mine = codes[offset : offset + 20] + codes[: offset % 5]
        try:
            with Database(mp_pg_settings) as own:
                barrier.wait()
                ids = own.catalog.ensure_series([_series(code) for code in mine])
            results.append(dict(zip(mine, ids, strict=True)))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=connector, args=(offset * 2,)) for offset in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    async def tasks() -> list[dict[str, int]]:
        async with AsyncDatabase(mp_pg_settings) as adb:

            async def one(offset: int) -> dict[str, int]:
                mine = list(reversed(codes[offset : offset + 25]))
                ids = await adb.catalog.ensure_series([_series(code) for code in mine])
                return dict(zip(mine, ids, strict=True))

            return list(await asyncio.gather(*(one(offset) for offset in range(0, 16, 2))))

    results += run(tasks())
    assert errors == []
    merged: dict[str, set[int]] = {}
    for result in results:
        for code, series_id in result.items():
            merged.setdefault(code, set()).add(series_id)
    assert all(len(ids) == 1 for ids in merged.values())
    with Database(mp_pg_settings) as db:
        assert _count(db, "series") == len(merged)
