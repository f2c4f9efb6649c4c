"""Registering the series and ingesting the data set into a real, migrated database."""

from __future__ import annotations

from sqlalchemy import func, select

from fred_example import SERIES, Connector, read_vintages, register
from mp_db import Database
from mp_schema.models import MacroObservation, Series

#: The shipped file: 95 published versions, 15 of which repeat the value before them.
PUBLISHED = 95
UNCHANGED = 15
FIRST_PRINTS = 36


def _stored(database: Database) -> int:
    with database.begin() as connection:
        return connection.execute(select(func.count()).select_from(MacroObservation)).scalar_one()


def test_registration_is_idempotent(database: Database) -> None:
    """Registering twice gives the same ids and adds no second source or series."""
    first = register(database.engine)
    second = register(database.engine)
    assert first == second
    assert set(first) == {info.source_code for info in SERIES}
    with database.begin() as connection:
        assert connection.execute(select(func.count()).select_from(Series)).scalar() == 3


def test_the_data_set_ingests(connector: Connector, database: Database) -> None:
    """The first load stores every real version and counts unchanged re-publications."""
    report = connector.sync()
    assert report.received == PUBLISHED
    assert report.inserted == PUBLISHED - UNCHANGED
    assert report.unchanged == UNCHANGED
    assert report.revisions == PUBLISHED - UNCHANGED - FIRST_PRINTS
    assert report.conflicts == 0
    assert _stored(database) == PUBLISHED - UNCHANGED


def test_a_rerun_inserts_nothing(connector: Connector, database: Database) -> None:
    """Running the same load again stores nothing: every row is already stored."""
    connector.sync()
    again = connector.sync()
    assert again.inserted == 0
    assert again.revisions == 0
    assert again.skipped == PUBLISHED
    assert _stored(database) == PUBLISHED - UNCHANGED


def test_a_later_file_adds_only_the_new_vintages(connector: Connector) -> None:
    """Loading the releases up to a day, then the whole file, stores each version once."""
    vintages = read_vintages()
    early = [vintage for vintage in vintages if vintage.released.year == 2023]
    first = connector.sync(early)
    rest = connector.sync(vintages)
    assert first.inserted + rest.inserted == PUBLISHED - UNCHANGED
    assert rest.already_stored == len(early) - first.unchanged


def test_revisions_are_numbered_in_knowledge_time_order(connector: Connector) -> None:
    """Payrolls for August 2023: first print, then two monthly revisions, numbered 0, 1, 2."""
    connector.sync()
    august = [p for p in connector.vintages("PAYEMS") if p.period.isoformat() == "2023-08-01"]
    assert [p.revision for p in august] == [0, 1, 2]
    assert [p.value for p in august] == [156564.0, 156620.0, 156599.0]
    assert august == sorted(august, key=lambda p: p.knowledge_time)


def test_unchanged_republications_are_not_stored(connector: Connector) -> None:
    """UNRATE for July 2023 was re-published twice at 3.5: only the first print is stored."""
    connector.sync()
    july = [p for p in connector.vintages("UNRATE") if p.period.isoformat() == "2023-07-01"]
    assert [(p.value, p.revision) for p in july] == [(3.5, 0)]
