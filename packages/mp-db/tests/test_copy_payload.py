"""The binary COPY built from numpy columns is read back by the server exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, text

from mp_db._copy_payload import POSTGRES_EPOCH_MICROSECONDS, PayloadColumn, binary_copy

EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
TEXTS = ("", "vendor", "é", "日本語", "🙂 x", "a\tb\nc\\d")


def _micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _round_trip(engine: Engine, columns: list[PayloadColumn], types: str) -> list[tuple[Any, ...]]:
    with engine.begin() as connection:
        connection.execute(text(f"CREATE TEMP TABLE payload ({types}) ON COMMIT DROP"))
        raw = connection.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor, cursor.copy("COPY payload FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(binary_copy(columns))
        return [tuple(row) for row in connection.execute(text("SELECT * FROM payload ORDER BY n"))]


def test_edge_values_round_trip(engine: Engine) -> None:
    """Integer limits, extreme and epoch timestamps, floats, NULL in every column, empty and
    non-ASCII texts: each comes back as sent, whatever the rows' layouts."""
    rows = 8
    n = np.arange(rows)
    small = np.array([-32768, 32767, 0, 1, -1, 7, 0, 5])
    medium = np.array([-(2**31), 2**31 - 1, 0, 1, -1, 7, 0, 5])
    big = np.array([-(2**63), 2**63 - 1, 0, 1, -1, 7, 0, 5])
    floats = np.array([1e308, -5e-324, -0.0, 1.5, np.nan, 0.1, 2.0, 3.0])
    moments = [EARLIEST, LATEST, datetime(2000, 1, 1, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC)]
    moments += [datetime(2024, 2, 29, 12, 30, 1, 5, tzinfo=UTC)] * 4
    stamps = np.array([_micros(moment) for moment in moments])
    codes = np.array([0, 1, 2, 3, 4, 5, -1, 1])
    nulls = np.zeros(rows, dtype=bool)
    nulls[[5, 7]] = True
    columns = [
        PayloadColumn("int4", n),
        PayloadColumn("int2", small, nulls),
        PayloadColumn("int4", medium),
        PayloadColumn("int8", big, nulls[::-1].copy()),
        PayloadColumn("float8", floats),
        PayloadColumn("timestamptz", stamps, nulls),
        PayloadColumn("text", codes, None, TEXTS),
    ]
    types = "n int4, s int2, m int4, b int8, f float8, t timestamptz, x text"
    back = _round_trip(engine, columns, types)
    expected = []
    for row in range(rows):
        expected.append(
            (
                row,
                None if nulls[row] else int(small[row]),
                int(medium[row]),
                None if nulls[::-1][row] else int(big[row]),
                None if np.isnan(floats[row]) else float(floats[row]),
                None if nulls[row] else moments[row],
                None if codes[row] < 0 else TEXTS[codes[row]],
            )
        )
    assert back == expected
    assert str(back[2][4]) == "-0.0"


def test_an_empty_payload_copies_nothing(engine: Engine) -> None:
    """No rows: a signature and a trailer, which the server accepts as an empty COPY."""
    columns = [PayloadColumn("int4", np.array([], dtype=np.int64))]
    assert _round_trip(engine, columns, "n int4") == []


def test_timestamps_are_written_from_postgres_epoch() -> None:
    """2000-01-01 UTC is PostgreSQL's zero: the field holds eight zero bytes."""
    payload = binary_copy([PayloadColumn("timestamptz", np.array([POSTGRES_EPOCH_MICROSECONDS]))])
    assert payload[19:33] == b"\x00\x01\x00\x00\x00\x08" + bytes(8)
    assert payload[33:] == b"\xff\xff"
