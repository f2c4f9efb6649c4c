"""The forms a frame reader answers in: :data:`ARROW`, :data:`PANDAS`, :data:`POLARS`.

Every frame read is fetched as one pyarrow Table (:mod:`mp_db._frame_reads`); a form turns it
into what the caller asked for, and its type parameter is what mypy gives the reads of a
:class:`~mp_db.FrameReader` made with it (``FrameReader(engine, PANDAS).as_of(...)`` is a
``pandas.DataFrame``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from mp_db.exceptions import ConfigurationError

if TYPE_CHECKING:
    import pandas
    import polars
    import pyarrow

__all__ = ["ARROW", "PANDAS", "POLARS", "Form"]

F = TypeVar("F")


@dataclass(frozen=True)
class Form(Generic[F]):
    """How a frame reader hands over a read's table.

    Attributes:
        name: ``arrow``, ``pandas`` or ``polars``.
        convert: the read's pyarrow Table in this form.
    """

    name: str
    convert: Callable[[pyarrow.Table], F]


def _arrow(table: pyarrow.Table) -> pyarrow.Table:
    return table


def _pandas(table: pyarrow.Table) -> pandas.DataFrame:
    try:
        import pandas
    except ImportError as error:
        raise ConfigurationError(
            "DataFrames need pandas: pip install 'mp-db[pandas,arrow]'"
        ) from error
    frame = table.to_pandas()
    assert isinstance(frame, pandas.DataFrame)  # a Table (not a ChunkedArray) gives a frame
    return frame


def _polars(table: pyarrow.Table) -> polars.DataFrame:
    try:
        import polars
    except ImportError as error:
        raise ConfigurationError(
            "polars DataFrames need polars: pip install 'mp-db[polars]'"
        ) from error
    frame = polars.from_arrow(table)
    assert isinstance(frame, polars.DataFrame)  # a Table (not an Array) gives a frame
    return frame


#: pyarrow Tables as fetched (the ``arrow`` extra).
ARROW: Form[pyarrow.Table] = Form("arrow", _arrow)
#: pandas DataFrames, ``Table.to_pandas()`` (the ``pandas`` and ``arrow`` extras).
PANDAS: Form[pandas.DataFrame] = Form("pandas", _pandas)
#: polars DataFrames, ``polars.from_arrow`` (the ``polars`` extra).
POLARS: Form[polars.DataFrame] = Form("polars", _polars)
