"""Targets, the Markdown tables and the growth plot of the mp-db benchmark results."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["markdown", "plot_growth", "targets"]


def _target(name: str, measured: float | None, required: float, unit: str) -> dict[str, Any]:
    met = measured is not None and measured >= required
    return {
        "target": name,
        "measured": measured,
        "required": required,
        "unit": unit,
        "met": met,
        "margin": None if measured is None else measured / required,
    }


def _latest_shape(reads: dict[str, Any], series: int) -> dict[str, Any] | None:
    shape: dict[str, Any] | None = reads.get("shapes", {}).get(f"latest_{series}_series")
    return shape


def _window_speedups(reads: dict[str, Any], variant: str) -> Iterator[float]:
    for shape in reads.get("shapes", {}).values():
        window = shape["baselines"].get("window_row_number")
        if window is not None and window[f"speedup_of_{variant}"] is not None:
            yield window[f"speedup_of_{variant}"]


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """performance.md's targets, each measured in this run (ratios: higher is better)."""
    found: list[dict[str, Any]] = []
    paths = results.get("backfill", {}).get("paths", {})
    if paths:
        found.append(
            _target(
                "mp first load (sync) vs raw binary COPY, rows/s",
                paths["mp_ingest_sync"]["throughput_vs_raw_copy"],
                0.5,
                "x",
            )
        )
        found.append(
            _target(
                "mp first load (async) vs raw asyncpg COPY, rows/s",
                paths["mp_ingest_async"]["throughput_vs_raw_copy_asyncpg"],
                0.5,
                "x",
            )
        )
        found.append(
            _target(
                "mp unchanged re-run (sync) vs raw binary COPY, rows/s",
                paths["mp_rerun_sync"]["throughput_vs_raw_copy"],
                1.0,
                "x",
            )
        )
    hand = results.get("handwritten", {}).get("paths", {})
    if hand:
        found.append(
            _target(
                "mp ingest vs SQLAlchemy ORM add_all, rows/s (same subset)",
                hand["sqlalchemy_orm_add_all"]["mp_ingest_throughput_vs_this"],
                10.0,
                "x",
            )
        )
    reads = results.get("reads", {})
    latest = _latest_shape(reads, 500)
    # SQL against SQL is the like-for-like comparison (both fetch the same rows the same way);
    # the Reader figures add mp's conversion to row objects, which a baseline does not do.
    for variant, label in (("mp_sql", "mp SQL"), ("mp_reader_connection", "mp Reader")):
        if latest is not None:
            found.append(
                _target(
                    f"latest print, 500 series: {label} vs naive DISTINCT ON (series_id)",
                    latest["baselines"]["naive_distinct_on"][f"speedup_of_{variant}"],
                    100.0,
                    "x",
                )
            )
        speedups = list(_window_speedups(reads, variant))
        if speedups:
            found.append(
                _target(
                    f"window query never beats {label} (lowest speed-up over the shapes)",
                    min(speedups),
                    1.0,
                    "x",
                )
            )
    # Sort nodes are reported per shape, not judged: where a Sort appears it orders rows the
    # read has to touch anyway (tests/test_query_plans.py bounds the rows read instead).
    return found


# -- Markdown ------------------------------------------------------------------------------------


def _number(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _header(results: dict[str, Any]) -> list[str]:
    machine = results["machine"]
    versions = machine["versions"]
    return [
        "# mp-db benchmark",
        "",
        f"{machine['date']}; {machine['cpu_count']} CPUs, "
        f"{machine['memory_gib']:.0f} GiB, load average at start "
        f"{machine['load_average_start'][0]:.2f}; Python {machine['python']}; "
        f"PostgreSQL {machine['postgresql']}, TimescaleDB {machine['timescaledb']} "
        f"({machine['timescaledb_license']} license); psycopg {versions.get('psycopg')} "
        f"({machine['psycopg_implementation']}), asyncpg {versions.get('asyncpg')}, "
        f"SQLAlchemy {versions.get('sqlalchemy')}, mp-db {versions.get('mp-db')}. "
        f"Durable server (fsync on): {machine['durable']}. Total run "
        f"{results.get('wall_seconds', 0) / 60:.1f} min.",
        "",
        "Medians over interleaved repeats; ratios compare paths measured side by side in this "
        "run (higher is better for mp). Absolute figures on a shared 2-core machine are noisy.",
        "",
    ]


def _targets_table(results: dict[str, Any]) -> list[str]:
    lines = ["## Targets", "", "| target | measured | required | met | margin |"]
    lines.append("| --- | ---: | ---: | --- | ---: |")
    for item in results.get("targets", []):
        unit = item["unit"]
        lines.append(
            f"| {item['target']} | {_number(item['measured'])} {unit} | "
            f"{_number(item['required'])} {unit} | {'yes' if item['met'] else '**no**'} | "
            f"{_number(item['margin'])}x |"
        )
    return [*lines, ""]


def _backfill_table(backfill: dict[str, Any]) -> list[str]:
    shape = backfill["shape"]
    lines = [
        f"## Backfill: {shape['rows']:,} rows ({shape['series']} series x "
        f"{shape['business_days']:,} business days {shape['first_day']}..{shape['last_day']} x "
        f"{shape['vintages']} vintages)",
        "",
        "| path | rows received | rows stored | median s | rows/s | vs raw COPY (psycopg) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, path in backfill["paths"].items():
        lines.append(
            f"| {name} | {path['rows_received']:,} | {path['rows_stored']:,} | "
            f"{path['median_seconds']:.2f} | {path['rows_per_second']:,.0f} | "
            f"{_number(path.get('throughput_vs_raw_copy'))}x |"
        )
    validation = backfill["validation_only"]
    sync = backfill["paths"]["mp_ingest_sync"]
    lines += [
        "",
        f"mp-db's validation alone (pure Python): {validation['median_seconds']:.2f} s "
        f"({validation['rows_per_second']:,.0f} rows/s). Python-side time of the last sync "
        f"first load (validation, sorting, the reference check; everything before "
        f"IngestReport's clock starts): {sync['python_side_seconds_last']:.2f} s of "
        f"{sync['samples_seconds'][-1]:.2f} s. Raw COPY stores every row it is given; mp "
        "stores first prints and real revisions only (unchanged re-publications are skipped).",
        "",
        "Checks: "
        + ", ".join(
            f"{name} {'ok' if ok else 'FAILED'}" for name, ok in backfill["checks"].items()
        ),
        "",
    ]
    return lines


def _handwritten_table(hand: dict[str, Any], backfill: dict[str, Any] | None) -> list[str]:
    lines = [
        f"## Hand-written ingest, {hand['rows']:,} rows of the backfill (each into an empty table)",
        "",
        "| path | median s | rows/s | vs raw COPY | mp ingest is faster by |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, path in hand["paths"].items():
        lines.append(
            f"| {name} | {path['median_seconds']:.2f} | {path['rows_per_second']:,.0f} | "
            f"{_number(path['throughput_vs_raw_copy'])}x | "
            f"{_number(path['mp_ingest_throughput_vs_this'])}x |"
        )
    orm = hand["paths"]["sqlalchemy_orm_add_all"]["rows_per_second"]
    raw = hand["paths"]["raw_copy_psycopg"]["rows_per_second"]
    lines += [
        "",
        "The hand-written paths store every row with revision 0: no revision numbering, "
        "unchanged re-publications kept; only the ON CONFLICT ones survive a re-run. "
        f"Raw COPY itself is {raw / orm:.1f}x the ORM here: the ceiling of the mp/ORM ratio "
        "at this batch size.",
    ]
    if backfill is not None:
        full = backfill["paths"]["mp_ingest_sync"]["rows_per_second"]
        lines.append(
            f"mp's first load of the whole backfill ({full:,.0f} rows/s) is {full / orm:.1f}x "
            "the ORM's rate on this subset."
        )
    return [*lines, ""]


def _ms(shape: dict[str, Any], variant: str) -> str:
    return f"{shape['timings'][variant]['median_seconds'] * 1000:,.2f}"


def _reads_tables(reads: dict[str, Any]) -> list[str]:
    wide = reads["wide_data"]
    lines = [
        f"## As-of reads ({reads['table_rows']:,} rows in the table; T = {reads['as_of']})",
        "",
        f"Wide data set for latest/snapshot: {wide['series']} series x "
        f"{wide['business_days']} business days x {wide['vintages']} vintages "
        f"({wide['rows']:,} rows, {wide['rows_stored'] // max(1, wide['series']):,} stored "
        "versions per series: naive DISTINCT ON reads them all, so its cost, and mp's "
        "speed-up over it, grow with the history per series). Milliseconds, medians; "
        "Python's cyclic GC is kept off the benchmark's own data while timing.",
        "",
        "| shape | rows | mp Reader(engine) | mp Reader(connection) | mp SQL only | Sort in plan |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, shape in reads["shapes"].items():
        lines.append(
            f"| {name} | {shape['rows_returned']:,} | {_ms(shape, 'mp_reader_engine')} | "
            f"{_ms(shape, 'mp_reader_connection')} | {_ms(shape, 'mp_sql')} | "
            f"{'yes' if shape['plan']['has_sort'] else 'no'} |"
        )
    lines += [
        "",
        "| shape | baseline | baseline ms | mp Reader(connection) faster by | "
        "mp SQL faster by | same answer |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for name, shape in reads["shapes"].items():
        for baseline, found in shape["baselines"].items():
            lines.append(
                f"| {name} | {baseline} | {_ms(shape, baseline)} | "
                f"{_number(found['speedup_of_mp_reader_connection'])}x | "
                f"{_number(found['speedup_of_mp_sql'])}x | "
                f"{'yes' if found['same_answer_as_mp'] else '**no**'} |"
            )
    return [*lines, ""]


def _growth_table(growth: dict[str, Any]) -> list[str]:
    shape = growth["shape"]
    lines = [
        f"## Growth (series of {shape['years']} years x {shape['vintages']} vintages, "
        f"{shape['rows_per_series']:,} rows each; up to {shape['rows_per_ingest_call']:,} rows "
        "per call)",
        "",
        "| rows | series | raw COPY s | raw rows/s | mp s | mp rows/s | mp vs raw | "
        "1-year window ms | latest 20 ms | naive latest 20 ms |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for point in growth["points"]:
        raw, mp = point["ingest"]["raw_copy_psycopg"], point["ingest"]["mp_ingest_sync"]
        window = point["reads"]["as_of_1_series_1_year"]
        latest = point["reads"]["latest_20_series"]
        lines.append(
            f"| {point['rows']:,} | {point['series']:,} | {raw['seconds']:.1f} | "
            f"{raw['rows_per_second']:,.0f} | {mp['seconds']:.1f} | "
            f"{mp['rows_per_second']:,.0f} | {_number(point['mp_throughput_vs_raw_copy'])}x | "
            f"{_ms(window, 'mp_reader_connection')} | {_ms(latest, 'mp_reader_connection')} | "
            f"{_ms(latest, 'naive_distinct_on')} |"
        )
    scaling = growth.get("scaling")
    if scaling:
        ingest = ", ".join(
            f"{path} {_number(value)}x"
            for path, value in scaling["ingest_seconds_per_row_factor"].items()
        )
        reads = ", ".join(
            f"{name} {_number(value)}x"
            for name, value in scaling["read_latency_factor"].items()
            if name.endswith("mp_reader_connection") or "naive" in name
        )
        lines.append(
            f"\nFrom {scaling['rows_from']:,} to {scaling['rows_to']:,} rows, seconds per row "
            f"changed by: {ingest} (1.00x is linear); read latency changed by: {reads} "
            "(1.00x is flat)."
        )
    for skipped in growth["skipped"]:
        lines.append(
            f"\nSkipped {skipped['rows']:,} rows: about {skipped['estimated_seconds']:.0f} s "
            f"estimated, past the {growth['budget_seconds']} s budget."
        )
    return [*lines, "", "![growth](growth.png)", ""]


def markdown(results: dict[str, Any]) -> str:
    """The results as Markdown tables."""
    lines = _header(results) + _targets_table(results)
    if "backfill" in results:
        lines += _backfill_table(results["backfill"])
    if "handwritten" in results:
        lines += _handwritten_table(results["handwritten"], results.get("backfill"))
    if "reads" in results:
        lines += _reads_tables(results["reads"])
    if "growth" in results:
        lines += _growth_table(results["growth"])
    if "error" in results:
        lines += ["## Error", "", "```", results["error"], "```", ""]
    return "\n".join(lines)


# -- plot ----------------------------------------------------------------------------------------


def plot_growth(growth: dict[str, Any], target: Path) -> bool:
    """Rows vs seconds per ingest path and rows vs latency per read shape; False when
    matplotlib is missing or there is nothing to plot (the benchmark goes on without it)."""
    points = growth.get("points", [])
    if not points:
        return False
    # matplotlib is only needed here, and only where the benchmark runs: the typecheck
    # environment does not install it (hence the ignore, which is unused where it is present).
    try:
        import matplotlib as mpl  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return False
    mpl.use("Agg")  # no display: render to a file
    import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]

    rows = [point["rows"] for point in points]
    figure, (ingest_axes, read_axes) = plt.subplots(1, 2, figsize=(11, 4.5))
    for path, label in (("raw_copy_psycopg", "raw binary COPY"), ("mp_ingest_sync", "mp ingest")):
        seconds = [point["ingest"][path]["seconds"] for point in points]
        ingest_axes.plot(rows, seconds, marker="o", label=label)
    ingest_axes.set(xscale="log", yscale="log", xlabel="rows", ylabel="seconds")
    ingest_axes.set_title("Ingest into an empty hypertable (first load)")
    for shape, variant, label, style in (
        ("as_of_1_series_1_year", "mp_reader_connection", "mp: 1 series, 1 year", "-"),
        ("latest_20_series", "mp_reader_connection", "mp: latest, 20 series", "-"),
        ("latest_20_series", "naive_distinct_on", "naive DISTINCT ON, 20 series", "--"),
    ):
        latency = [
            point["reads"][shape]["timings"][variant]["median_seconds"] * 1000 for point in points
        ]
        read_axes.plot(rows, latency, marker="o", linestyle=style, label=label)
    read_axes.set(xscale="log", yscale="log", xlabel="rows in the table", ylabel="milliseconds")
    read_axes.set_title("As-of read latency (median)")
    for axes in (ingest_axes, read_axes):
        axes.grid(visible=True, which="both", alpha=0.3)
        axes.legend()
    figure.tight_layout()
    figure.savefig(target, dpi=110)
    plt.close(figure)
    return True
