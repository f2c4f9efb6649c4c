"""Which fact table an API call means, and its columns in the order mp-db uses them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sqlalchemy import Table

from mp_db.exceptions import UnknownTableError
from mp_schema import FACT_TABLES, fact_spec, fact_table_for
from mp_schema.enums import SeriesKind
from mp_schema.models import FactSpec

__all__ = ["FactTable", "TableRef", "resolve_table"]

#: A fact table named by its table name, its series kind, the Table, the model class or the
#: row class (naming the row class also types the results: ``list[MacroObservationRow]``).
TableRef = str | SeriesKind | Table | type


@dataclass(frozen=True)
class FactTable:
    """A fact table and the column lists mp-db's SQL is built from.

    Attributes:
        name: the table's name in schema ``mp``.
        table: the SQLAlchemy table.
        spec: its point-in-time shape.
    """

    name: str
    table: Table
    spec: FactSpec

    @property
    def qualified(self) -> str:
        """``mp.<name>``."""
        return f"mp.{self.name}"

    @property
    def key(self) -> tuple[str, ...]:
        """Primary key columns."""
        return self.spec.key_columns

    @property
    def observation(self) -> tuple[str, ...]:
        """Columns naming one observation across vintages."""
        return self.spec.observation_columns

    @property
    def entities(self) -> tuple[str, ...]:
        """Extra key parts between obs_time and knowledge_time."""
        return self.spec.entity_columns

    @property
    def values(self) -> tuple[str, ...]:
        """Columns whose change makes a new vintage."""
        return self.spec.value_columns

    @property
    def staged(self) -> tuple[str, ...]:
        """Columns a batch supplies: key, values and the knowledge-time quality."""
        return (*self.key, *self.values, "knowledge_time_source")

    @property
    def instrument_columns(self) -> tuple[tuple[int, str], ...]:
        """Staged columns (position, name) that name an instrument without a foreign key: ingest
        checks their values exist (the registry marks them ``references="instruments"``)."""
        return tuple(
            (position, column)
            for position, column in enumerate(self.staged)
            if self.spec.column(column).references == "instruments"
        )

    @property
    def stored(self) -> tuple[str, ...]:
        """Every column, in table order (what reads return)."""
        return tuple(column.name for column in self.table.columns)

    def column_type(self, column: str) -> str:
        """The PostgreSQL type name of ``column`` for binary COPY, from the registry."""
        return self.spec.column(column).type.copy_type

    def max_length(self, column: str) -> int | None:
        """Declared length of a VARCHAR column."""
        return self.spec.column(column).type.length

    @property
    def lock_key(self) -> int:
        """A stable 31-bit number for this table, the first half of advisory lock keys."""
        value = 0
        for char in self.name:
            value = (value * 131 + ord(char)) % 2_147_483_647
        return value


@cache
def _for_table(table: Table) -> FactTable:
    # Keyed by the Table object, so a table registered again (a test's throwaway) is new.
    return FactTable(name=table.name, table=table, spec=fact_spec(table))


def resolve_table(ref: TableRef) -> FactTable:
    """The fact table ``ref`` names.

    Raises:
        UnknownTableError: ``ref`` names no fact table (the message lists the valid names); an
            :class:`~mp_db.MpDbError` and a ``KeyError``.
    """
    if isinstance(ref, Table):
        name = ref.name
    elif isinstance(ref, type):
        name = str(getattr(ref, "__tablename__", "") or getattr(ref, "table", ""))
    elif ref in {fact_spec(table).kind.value for table in FACT_TABLES.values()}:
        name = fact_table_for(str(ref)).name
    else:
        name = str(ref).removeprefix("mp.")
    if name not in FACT_TABLES:
        raise UnknownTableError(
            f"{ref!r} is not a fact table; use one of: {', '.join(FACT_TABLES)}"
        )
    return _for_table(FACT_TABLES[name])
