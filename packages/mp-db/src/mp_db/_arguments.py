"""The checking of every argument a read takes: one place, so every read accepts and refuses
the same things with the same messages."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from numbers import Integral
from typing import Any

from mp_db.exceptions import BadInputError

__all__ = [
    "BEGINNING",
    "END_OF_TIME",
    "checked_range",
    "instant",
    "optional_instant",
    "period",
    "series_list",
]

#: Open bounds for ranges (PostgreSQL's timestamptz covers them).
BEGINNING = datetime(1, 1, 1, tzinfo=UTC)
END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _from_numpy(name: str, value: Any) -> datetime:
    # The value's own methods suffice: numpy is its caller's dependency, not mp-db's.
    if str(value) == "NaT":
        raise BadInputError(f"{name} is NaT (not a time); pass a timezone-aware datetime")
    micros = value.astype("datetime64[us]").astype("int64")
    return _EPOCH + int(micros) * _MICROSECOND


def instant(name: str, value: Any) -> datetime:
    """An instant argument (``as_of``, a decision time, a cutoff time) as a UTC datetime.

    Accepted: a timezone-aware ``datetime`` (``pandas.Timestamp`` included) and
    ``numpy.datetime64``, which carries no zone and is read as UTC. Refused, with the fix: a
    naive datetime, a ``date`` (which instant of the day, in which zone?), strings, NaT.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            kind = "NaT" if str(value) == "NaT" else "a naive datetime"
            raise BadInputError(
                f"{name} is {kind}; pass a timezone-aware datetime, e.g. "
                "datetime(2024, 3, 12, 12, 30, tzinfo=UTC) (a naive time is ambiguous)"
            )
        moment = value.astimezone(UTC)
        if type(moment) is not datetime:  # pandas.Timestamp: the drivers want a datetime
            moment = datetime(*moment.timetuple()[:6], moment.microsecond, tzinfo=UTC)
        return moment
    if type(value).__name__ == "datetime64":
        return _from_numpy(name, value)
    if isinstance(value, date):
        raise BadInputError(
            f"{name} is a date ({value.isoformat()}); an as-of time needs an instant: pass "
            f"datetime({value.year}, {value.month}, {value.day}, tzinfo=UTC) or the release "
            "time you mean"
        )
    raise BadInputError(
        f"{name} must be a timezone-aware datetime (or numpy.datetime64, read as UTC), not "
        f"{type(value).__name__} {value!r}"
    )


def period(name: str, value: Any, default: datetime) -> datetime:
    """A period argument (``start``, ``end``, ``obs_time``): an instant, or a ``date``, which
    means 00:00 UTC of that day (as obs_time of dated tables does)."""
    if value is None:
        return default
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return instant(name, value)


def optional_instant(name: str, value: Any, default: datetime) -> datetime:
    """:func:`instant`, with ``None`` meaning ``default``."""
    return default if value is None else instant(name, value)


def series_list(series_ids: Any) -> list[int]:
    """One series id or an iterable of them, as a sorted list without repeats.

    Raises:
        BadInputError: not an int nor an iterable of ints (bool, str and float are refused:
            ``True`` or ``"12"`` as a series id is a mistake, not an id), or empty.
    """

    def one(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise BadInputError(
                f"series_ids must be an int or an iterable of ints, not {type(value).__name__} "
                f"{value!r}"
            )
        return int(value)

    if isinstance(series_ids, bool):
        one(series_ids)  # raises: True is not a series id
    if isinstance(series_ids, Integral):
        return [int(series_ids)]
    if isinstance(series_ids, str | bytes) or not isinstance(series_ids, Iterable):
        one(series_ids)  # raises with the type in the message
    ids = sorted({one(value) for value in series_ids})
    if not ids:
        raise BadInputError("series_ids is empty: name at least one series")
    return ids


def checked_range(start: datetime, end: datetime) -> None:
    """Refuse ``start`` after ``end`` (an empty range ``start == end`` is fine)."""
    if start > end:
        raise BadInputError(
            f"start ({start.isoformat()}) is after end ({end.isoformat()}); ranges are "
            "[start, end) on obs_time"
        )
