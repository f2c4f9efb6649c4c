"""The Markdown tables and the plot of the peer benchmark results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["INGEST_SECTIONS", "markdown", "plot"]

#: The ingest sections: results key, row label.
INGEST_SECTIONS = (
    ("first_load", "backfill, first load"),
    ("unchanged_rerun", "unchanged re-run"),
    ("new_vintages_rerun", "re-run, 5% new vintages"),
)
#: Issue 13's throughput targets against the floor, for mp's frame inputs.
FLOOR_TARGETS = {"first_load": 0.5, "unchanged_rerun": 2.0, "new_vintages_rerun": 1.0}
#: Which ingest input stands in each read column (the same form both ways).
INGEST_OF = {
    "mp rows": "mp dicts",
    "mp arrow": "mp arrow",
    "mp pandas": "mp pandas",
    "mp polars": "mp polars",
}
FRAME_INPUTS = ("mp pandas", "mp arrow", "mp polars")


def _ms(seconds: float) -> str:
    milliseconds = seconds * 1000
    return f"{milliseconds:,.1f}" if milliseconds < 100 else f"{milliseconds:,.0f}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _ingest_table(section: dict[str, Any], key: str, title: str) -> list[str]:
    lines = [
        f"### {title}",
        "",
        "| path | seconds | rows received/s | vs floor (higher is faster) | rows stored |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, path in section[key].items():
        stored = path["rows_stored"]
        lines.append(
            f"| {name} | {path['median_seconds']:.2f} | {path['rows_per_second']:,.0f} | "
            f"{_x(path['throughput_vs_floor'])} | "
            f"{'-' if stored is None else f'{stored:,}'} |"
        )
    return [*lines, ""]


def _columns(reads: dict[str, Any]) -> list[str]:
    first = next(iter(reads["shapes"].values()))
    return list(first["timings"])


def _ingest_rows(results: dict[str, Any], columns: list[str], peers: list[str]) -> list[str]:
    lines = []
    ingest = results.get("ingest", {})
    for key, label in INGEST_SECTIONS:
        paths = ingest.get(key, {})
        if not paths:
            continue
        cells = [f"{label} (s)"]
        for name in columns:
            path = paths.get(INGEST_OF.get(name, name))
            cells.append("-" if path is None else f"{path['median_seconds']:.2f}")
        floor = ingest["first_load"].get("COPY into a bare hypertable (the floor)")
        cells.append("-" if floor is None else f"{floor['median_seconds']:.2f} (floor)")
        cells.append("-")  # planning: no statement of its own
        mp = {name: paths[name]["median_seconds"] for name in paths if name.startswith("mp ")}
        best = min(mp, key=mp.__getitem__)
        cells.append(best)
        seconds = {name: paths[name]["median_seconds"] for name in peers if name in paths}
        if seconds:
            fastest = min(seconds, key=seconds.__getitem__)
            cells += [fastest, _x(mp[best] / seconds[fastest])]
        else:
            cells += ["-", "-"]
        cells.append(f"{_x(paths[best]['throughput_vs_floor'])} of the floor")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _peer_table(results: dict[str, Any]) -> list[str]:
    reads = results["reads"]
    columns = _columns(reads)
    peers = [name for name in columns if not name.startswith("mp ")]
    header = [
        "workload",
        *columns,
        "server",
        "planning",
        "best mp",
        "best peer",
        "best mp / best peer",
        "best frame / server",
    ]
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    lines += _ingest_rows(results, columns, peers)
    for shape in reads["shapes"].values():
        cells = [f"{shape['label']} (ms)"]
        cells += [_ms(shape["timings"][name]["median_seconds"]) for name in columns]
        cells.append(_ms(shape["server"]["execution_ms"] / 1000))
        cells.append(_ms(shape["server"]["planning_ms"] / 1000))
        cells += [shape["best_mp"], shape.get("best_peer", "-")]
        cells.append(_x(shape.get("best_mp_vs_best_peer")))
        cells.append(f"{_x(shape['best_frame_vs_server'])} ({shape['best_frame']})")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _targets(results: dict[str, Any]) -> list[str]:
    lines = [
        "| target | required | measured | met | frame vs planning + execution |",
        "| --- | ---: | ---: | --- | ---: |",
    ]
    ingest = results.get("ingest", {})
    for key, label in INGEST_SECTIONS:
        paths = ingest.get(key, {})
        frames = {
            name: paths[name]["throughput_vs_floor"] for name in FRAME_INPUTS if name in paths
        }
        if not frames:
            continue
        best = max(frames, key=frames.__getitem__)
        required = FLOOR_TARGETS[key]
        measured = " / ".join(f"{name[3:]} {value:.2f}x" for name, value in frames.items())
        lines.append(
            f"| {label} from a frame vs the floor (throughput) | {required}x | {measured} | "
            f"{'yes' if frames[best] >= required else 'no'} | - |"
        )
    for shape in results.get("reads", {}).get("shapes", {}).values():
        within = shape["best_frame_vs_server"]
        lines.append(
            f"| {shape['label']}: best frame read vs server execution | 1.5x | "
            f"{_x(within)} ({shape['best_frame']}) | "
            f"{'yes' if within is not None and within <= 1.5 else 'no'} | "
            f"{_x(shape.get('best_frame_vs_planned'))} |"
        )
    return lines


def _header(results: dict[str, Any]) -> list[str]:
    machine = results.get("machine", {})
    versions = ", ".join(f"{k} {v}" for k, v in machine.get("versions", {}).items() if v)
    start = machine.get("load_average_start")
    end = machine.get("load_average_end")
    return [
        "# mp against its peers",
        "",
        f"Run {machine.get('date')} on {machine.get('cpu_count')} CPUs, Python "
        f"{machine.get('python')}, PostgreSQL {machine.get('postgresql')}, TimescaleDB "
        f"{machine.get('timescaledb')} ({machine.get('timescaledb_license')}); {versions}.",
        f"Sizes: {results.get('sizes')}. Selection: {results.get('selection')}. "
        f"Load average (1, 5, 15 min) at the start {_load(start)}, at the end {_load(end)}; "
        f"wall time {results.get('wall_seconds', 0) / 60:.1f} minutes.",
        "",
        "Medians, interleaved in one run. `best mp / best peer` above 1 means mp's fastest "
        "variant is slower than the fastest peer by that factor; `server` is EXPLAIN ANALYZE's "
        "execution time of the statement the fastest frame reader runs (the lean twin for a lean "
        "variant; no planning, no transfer), `planning` its planning "
        "time (a COPY cannot be prepared, so every frame read pays it), `best frame / server` "
        "the fastest frame reader over the execution. Every answer was checked against a "
        "brute-force "
        "numpy reference: "
        f"**{'all equal' if results.get('all_answers_equal') else 'SOME DIFFER'}**.",
        "",
    ]


def _load(values: Any) -> str:
    return "-" if not values else "/".join(f"{value:.1f}" for value in values)


def markdown(results: dict[str, Any]) -> str:
    """The results as Markdown: machine, the peer table, targets, ingest, storage."""
    lines = _header(results)
    if results.get("reads", {}).get("shapes"):
        lines += ["## Side by side", "", *_peer_table(results), ""]
        lines += ["## Against issue 13's targets", "", *_targets(results), ""]
        lines += ["What each column runs:", ""]
        lines += [f"- **{k}**: {v}" for k, v in results["reads"]["descriptions"].items()]
        lines.append("")
    ingest = results.get("ingest")
    if ingest:
        fresh = ingest["new_vintages"]
        lines += [
            "## Ingest of the backfill against the floor",
            "",
            f"{ingest['shape']['rows']:,} rows; the re-run with new vintages sends "
            f"{fresh['rows_received']:,} rows of which {fresh['rows_new']:,} are new (a new "
            f"vintage of one observation in {fresh['every']}). `vs floor` is rows received "
            "per second over the floor's first load.",
            "",
        ]
        lines += _ingest_table(ingest, "first_load", "First load into an empty store")
        lines += _ingest_table(ingest, "unchanged_rerun", "Unchanged re-run (stores nothing)")
        lines += _ingest_table(ingest, "new_vintages_rerun", "Re-run with 5% new vintages")
        lines += [f"Checks: {ingest['checks']}", ""]
    storage = results.get("storage")
    if storage:
        lines += [
            "## Storage",
            "",
            "| system | bytes | rows stored | bytes per stored row | bytes per version received |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for name, item in storage.items():
            lines.append(
                f"| {name} | {item['bytes']:,} | {item['rows']:,} | "
                f"{item['bytes_per_stored_row']:.1f} | {item['bytes_per_version']:.1f} |"
            )
        lines.append("")
    if "error" in results:
        lines += ["## Error", "", "```", results["error"], "```", ""]
    return "\n".join(lines)


def _bars(axes: Any, groups: list[str], series: dict[str, list[float | None]]) -> None:
    width = 0.85 / max(1, len(series))
    for index, (name, values) in enumerate(series.items()):
        positions = [group + index * width for group in range(len(groups))]
        heights = [0.0 if value is None else value for value in values]
        axes.bar(positions, heights, width, label=name)
    axes.set_xticks([i + 0.425 - width / 2 for i in range(len(groups))])
    axes.set_xticklabels(groups, rotation=20, ha="right")
    axes.grid(visible=True, axis="y", which="both", alpha=0.3)


def plot(results: dict[str, Any], target: Path) -> bool:
    """Grouped bars, log scale: every read shape's median per system and the server's
    execution time; below, every ingest shape's seconds per path. False without matplotlib."""
    reads = results.get("reads", {})
    if not reads.get("shapes"):
        return False
    try:
        import matplotlib as mpl  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return False
    mpl.use("Agg")  # no display: render to a file
    import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]

    shapes = list(reads["shapes"].values())
    columns = _columns(reads)
    series: dict[str, list[float | None]] = {
        name: [shape["timings"][name]["median_seconds"] * 1000 for shape in shapes]
        for name in columns
    }
    series["server (EXPLAIN ANALYZE)"] = [shape["server"]["execution_ms"] for shape in shapes]
    ingest = results.get("ingest", {})
    rows = 2 if ingest else 1
    figure, panes = plt.subplots(rows, 1, figsize=(14, 5.5 * rows), squeeze=False)
    top = panes[0][0]
    _bars(top, [shape["label"] for shape in shapes], series)
    top.set(yscale="log", ylabel="milliseconds (median, log scale)")
    top.set_title("Reads: mp vs peers, same data, same run (lower is faster)")
    top.legend(fontsize="small", ncol=3)
    if ingest:
        keys = [key for key, _ in INGEST_SECTIONS if ingest.get(key)]
        names = list(dict.fromkeys(name for key in keys for name in ingest[key]))
        loads = {
            name: [
                ingest[key][name]["median_seconds"] if name in ingest[key] else None for key in keys
            ]
            for name in names
        }
        bottom = panes[1][0]
        _bars(bottom, [label for key, label in INGEST_SECTIONS if key in keys], loads)
        bottom.set(yscale="log", ylabel="seconds (median, log scale)")
        bottom.set_title(
            f"Ingest of the backfill ({ingest['shape']['rows']:,} rows; lower is faster)"
        )
        bottom.legend(fontsize="small", ncol=3)
    figure.tight_layout()
    figure.savefig(target, dpi=100)
    plt.close(figure)
    return True
