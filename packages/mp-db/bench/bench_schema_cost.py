"""What each part of macro_observations' write cost buys: COPY time, bytes and the reads served.

    python bench_schema_cost.py --out DIR [--quick] [--no-durable]

On a throwaway TimescaleDB cluster of its own, binary COPY of the same backfill (20 series x
30 years business-daily x 5 vintages) into every variant of ``bench_schema_variants`` (the bare
primary key; plus one part of today's table each; today's composition; mp's real table),
interleaved, each into an empty table. Then bytes per stored row of each variant, and the reads
each part serves, timed on the variants that differ by that part (with a fleet of 500 series
added): mp's own statements, with mp's columns and with only the key and value (what an
index-only scan through ``INCLUDE (value)`` could answer). Answers must be equal on every
variant. Writes ``schema-cost.json`` and ``schema-cost.md`` to ``--out``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from bench_cli import bench_database, options, write_results
from bench_db import machine
from bench_db_common import interleaved, log, ratio
from bench_db_data import AS_OF, as_tuples
from bench_db_reads import ROW
from bench_peers_data import FULL, QUICK, PeerSizes
from bench_peers_sections import Bench, dataset
from bench_schema_variants import VARIANTS, TableVariant, copy_rows, create_variant, records_for
from sqlalchemy import Connection, text

from mp_db._read_queries import _Queries

MP_TABLE = TableVariant(
    "mp_table",
    "mp.macro_observations itself (head), written as mp's ingest writes it",
    ingest_id=True,
    sends_ingest_id=True,
    series_checked=True,
)
#: The variants whose reads differ by one part: the bare key, INCLUDE, the cross-section index,
#: and revision 0005's table against 0006's.
READ_VARIANTS = ("bare", "include_value", "cross_section_index", "today", "slim")
_EXTRA = ("revision", "knowledge_time_source", "ingested_at")


def _table(item: TableVariant) -> str:
    return "mp.macro_observations" if item is MP_TABLE else item.table


def _statement(sql: str, table: str, narrow: bool, ingest_id: bool) -> str:
    """mp's statement on ``table``: mp's columns (without ingest_id where the variant has
    none) or only the key and value."""
    for prefix in ("l.", "t.", ""):
        dropped = [*_EXTRA, "ingest_id"] if narrow else [] if ingest_id else ["ingest_id"]
        for column in dropped:
            sql = sql.replace(f"{prefix}{column}, ", "")
    return sql.replace("mp.macro_observations", table)


def _reads(ids: Sequence[int], fleet: Sequence[int], cross_day: Any) -> dict[str, Any]:
    return {
        "as_of_backfill_full": _Queries.as_of(
            ROW, series_ids=ids, as_of=AS_OF, start=None, end=None, ingested_before=None
        ),
        "latest_fleet": _Queries.latest(ROW, fleet, AS_OF, None, bounded=True),
        "cross_section_all": _Queries.cross_section(ROW, cross_day, AS_OF, None, None),
    }


def _sizes(bench: Bench, item: TableVariant) -> dict[str, Any]:
    table = _table(item)
    rows = int(bench.scalar(f"SELECT count(*) FROM {table}"))
    with bench.engine.connect() as connection:
        size = connection.execute(
            text(
                "SELECT table_bytes, index_bytes, total_bytes "
                f"FROM hypertable_detailed_size('{table}')"
            )
        ).one()
    return {
        "rows": rows,
        "table_bytes": int(size[0]),
        "index_bytes": int(size[1]),
        "total_bytes": int(size[2]),
        "bytes_per_stored_row": int(size[2]) / rows,
        "heap_bytes_per_row": int(size[0]) / rows,
        "index_bytes_per_row": int(size[1]) / rows,
    }


def _measure_reads(bench: Bench, queries: dict[str, Any]) -> dict[str, Any]:
    by_name = {item.name: item for item in VARIANTS}
    found: dict[str, Any] = {}
    with bench.engine.connect() as connection:
        for read, query in queries.items():
            for narrow in (False, True):
                key = f"{read}_{'key_and_value' if narrow else 'mp_columns'}"
                variants: dict[str, Callable[[], object]] = {}
                for name in READ_VARIANTS:
                    item = by_name[name]
                    sql = _statement(query.sql, item.table, narrow, item.ingest_id)
                    variants[name] = _fetch(connection, sql, query.parameters)
                timings = interleaved(variants, bench.sizes.read_repeats, warm_up=True)
                connection.commit()
                keys = {
                    name: sorted(tuple(row[:3]) for row in t.last) for name, t in timings.items()
                }
                found[key] = {
                    "rows": len(keys["bare"]),
                    "same_answer_on_every_variant": all(v == keys["bare"] for v in keys.values()),
                    "timings": {name: t.as_dict() for name, t in timings.items()},
                    "vs_bare": {
                        name: ratio(t.median, timings["bare"].median) for name, t in timings.items()
                    },
                }
                log(
                    f"schema cost: {key}: "
                    + ", ".join(f"{n} {t.median * 1000:.1f}" for n, t in timings.items())
                    + " ms"
                )
    return found


def _fetch(connection: Connection, sql: str, parameters: dict[str, Any]) -> Callable[[], object]:
    return lambda: connection.execute(text(sql), parameters).all()


def run(sizes: PeerSizes, durable: bool) -> dict[str, Any]:
    """Every variant's COPY, size and reads on one throwaway cluster."""
    results: dict[str, Any] = {"sizes": sizes.as_dict()}
    with bench_database(durable, "mp-bench-schema", results) as (server, engine):
        results["machine"] = machine(engine, durable)
        bench = Bench(server, engine, [], sizes)
        data = dataset(
            bench,
            "BACKFILL",
            sizes.backfill_series,
            sizes.backfill_years,
            sizes.backfill_vintages,
        )
        records = as_tuples(data)
        items = [*VARIANTS, MP_TABLE]
        for item in VARIANTS:
            create_variant(engine, item)
        prepared = {item.name: records_for(item, records) for item in items}
        log(f"schema cost: {len(records):,} rows into {len(items)} variants")
        copies: dict[str, Callable[[], object]] = {
            item.name: partial(
                copy_rows,
                engine,
                _table(item),
                prepared[item.name],
                item.copy_types(),
                item.copy_columns(),
                series_checked=item.series_checked,
            )
            for item in items
        }
        by_name = {item.name: item for item in items}
        timings = interleaved(
            copies,
            sizes.ingest_repeats,
            before=lambda name: bench.truncate(_table(by_name[name])),
        )
        bare = timings["bare"].median
        results["copy"] = {
            item.name: {
                "label": item.label,
                **timings[item.name].as_dict(),
                "rows_per_second": len(records) / timings[item.name].median,
                "time_vs_bare": ratio(timings[item.name].median, bare),
                "extra_seconds_per_million_rows": (timings[item.name].median - bare)
                / len(records)
                * 1e6,
                **_sizes(bench, item),
            }
            for item in items
        }
        fleet = dataset(bench, "FLEET", sizes.fleet_series, sizes.fleet_years, sizes.fleet_vintages)
        fleet_records = as_tuples(fleet)
        for name in READ_VARIANTS:
            copy_rows(engine, by_name[name].table, fleet_records, series_checked=True)
            bench.vacuum(by_name[name].table)
        results["reads"] = _measure_reads(
            bench, _reads(data.series_ids, fleet.series_ids, fleet.days[len(fleet.days) // 2])
        )
    reads = results.get("reads", {})
    results["all_answers_equal"] = bool(reads) and all(
        read["same_answer_on_every_variant"] for read in reads.values()
    )
    return results


def markdown(results: dict[str, Any]) -> str:
    """The COPY-cost table and the reads table."""
    lines = [
        "# What each part of the schema costs",
        "",
        f"Run {results.get('machine', {}).get('date')}; sizes {results.get('sizes')}. Binary COPY "
        "of the backfill into an empty hypertable of each shape, medians, interleaved.",
        "",
        "| variant | COPY s | vs bare | extra s per 1M rows | bytes per stored row | heap"
        " | indexes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for item in results.get("copy", {}).values():
        lines.append(
            f"| {item['label']} | {item['median_seconds']:.2f} | {item['time_vs_bare']:.2f}x | "
            f"{item['extra_seconds_per_million_rows']:.2f} | {item['bytes_per_stored_row']:.1f} | "
            f"{item['heap_bytes_per_row']:.1f} | {item['index_bytes_per_row']:.1f} |"
        )
    reads = results.get("reads", {})
    if reads:
        names = list(next(iter(reads.values()))["timings"])
        lines += ["", "Reads each part serves (ms, medians):", ""]
        lines += ["| read | rows | " + " | ".join(names) + " | same answer |"]
        lines += ["| --- | ---: |" + " ---: |" * len(names) + " --- |"]
        for key, read in reads.items():
            cells = [f"{read['timings'][n]['median_seconds'] * 1000:.1f}" for n in names]
            lines.append(
                f"| {key} | {read['rows']:,} | "
                + " | ".join(cells)
                + f" | {read['same_answer_on_every_variant']} |"
            )
    if "error" in results:
        lines += ["", "```", results["error"], "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run; write schema-cost.json and schema-cost.md to --out."""
    parsed = options(__doc__, argv)
    results = run(QUICK if parsed.quick else FULL, parsed.durable)
    return write_results(parsed.out, "schema-cost", results, markdown(results))


if __name__ == "__main__":
    raise SystemExit(main())
