"""An entity-relation diagram of the models, as Graphviz DOT text.

``nox -s erd`` writes it to docs/schema-erd.dot and renders docs/schema-erd.svg with Graphviz;
a repository test checks that the committed DOT file matches the models.
"""

from __future__ import annotations

from html import escape

from sqlalchemy import MetaData, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine

from mp_schema._specs import FactSpec

__all__ = ["erd_dot"]

_HEADER_COLOURS = {"fact": "#1f4e79", "metadata": "#375623", "bookkeeping": "#595959"}


def _kind(table: Table) -> str:
    if isinstance(table.info.get("fact"), FactSpec):
        return "fact"
    if table.name == "timescale_features":
        return "bookkeeping"
    return "metadata"


# SQLAlchemy's dialect factory has no type annotations.
_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
_SHORT_TYPES = {
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "DOUBLE PRECISION": "float8",
    "TIME WITHOUT TIME ZONE": "time",
}


def _type_name(column_type: TypeEngine[object]) -> str:
    name = str(column_type.compile(dialect=_DIALECT))
    return _SHORT_TYPES.get(name, name).lower()


def _label(table: Table) -> str:
    kind = _kind(table)
    title = table.name
    if kind == "fact":
        spec = table.info["fact"]
        title += f" (hypertable, chunks of {spec.chunk_interval})"
    rows = [
        f'<TR><TD BGCOLOR="{_HEADER_COLOURS[kind]}" ALIGN="LEFT">'
        f'<FONT COLOR="white"><B>{escape(title)}</B></FONT></TD></TR>'
    ]
    primary = {column.name for column in table.primary_key.columns}
    foreign = {element.parent.name for element in table.foreign_keys}
    for column in table.columns:
        marks = ("PK " if column.name in primary else "") + (
            "FK " if column.name in foreign else ""
        )
        nullable = "" if column.nullable is False else " ?"
        text = f"{marks}{column.name}: {_type_name(column.type)}{nullable}"
        rows.append(f'<TR><TD ALIGN="LEFT" PORT="{column.name}">{escape(text)}</TD></TR>')
    return '<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0">' + "".join(rows) + "</TABLE>>"


def _reference_edges(metadata: MetaData, table: Table) -> list[str]:
    # A column that points at a table without a foreign key (checked by ingest, and for
    # series_id by a trigger): a dashed edge.
    spec = table.info.get("fact")
    if not isinstance(spec, FactSpec):
        return []
    edges = []
    for column in spec.columns:
        target = metadata.tables.get(f"{table.schema}.{column.references}")
        if column.references and target is not None:
            (key,) = target.primary_key.columns
            edges.append(
                f"  {target.name}:{key.name} -> {table.name}:{column.name} [style=dashed];"
            )
    return edges


def erd_dot(metadata: MetaData) -> str:
    """The diagram of every table in ``metadata`` (deterministic: same models, same text)."""
    lines = [
        "digraph mp_schema {",
        '  graph [rankdir=LR, fontname="Helvetica", nodesep=0.4, ranksep=1.2];',
        '  node [shape=plain, fontname="Helvetica", fontsize=10];',
        '  edge [arrowhead=crow, arrowtail=none, color="#555555"];',
    ]
    tables = sorted(metadata.tables.values(), key=lambda table: (_kind(table), table.name))
    for table in tables:
        lines.append(f"  {table.name} [label={_label(table)}];")
    for table in tables:
        for key in sorted(table.foreign_keys, key=lambda item: item.parent.name):
            target = key.column.table.name
            lines.append(f"  {target}:{key.column.name} -> {table.name}:{key.parent.name};")
    for table in tables:
        lines += _reference_edges(metadata, table)
    lines.append("}")
    return "\n".join(lines) + "\n"
