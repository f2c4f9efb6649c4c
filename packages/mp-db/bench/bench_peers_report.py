"""The Markdown tables and the plot of the peer benchmark results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["markdown", "plot"]


def _ms(timing: dict[str, Any]) -> str:
    milliseconds = timing["median_seconds"] * 1000
    return f"{milliseconds:,.1f}" if milliseconds < 100 else f"{milliseconds:,.0f}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _ingest_table(section: dict[str, Any], key: str, title: str) -> list[str]:
    lines = [
        f"### {title}",
        "",
        "| path | seconds | rows/s | vs floor (higher is faster) | rows stored |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, path in section[key].items():
        lines.append(
            f"| {name} | {path['median_seconds']:.2f} | {path['rows_per_second']:,.0f} | "
            f"{_x(path['throughput_vs_floor'])} | {path['rows_stored']:,} |"
        )
    return [*lines, ""]


def _columns(reads: dict[str, Any]) -> list[str]:
    first = next(iter(reads["shapes"].values()))
    return list(first["timings"])


def _peer_table(results: dict[str, Any]) -> list[str]:
    reads = results["reads"]
    columns = _columns(reads)
    mp = [name for name in columns if name.startswith("mp ")]
    peers = [name for name in columns if not name.startswith("mp ")]
    header = ["workload", *columns, "best peer", *(f"{name} / best peer" for name in mp)]
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    ingest = results.get("ingest", {})
    for key, label in (("first_load", "backfill (s)"), ("unchanged_rerun", "unchanged re-run (s)")):
        paths = ingest.get(key, {})
        if not paths:
            continue
        cells = [label]
        mp_ingest = {"mp rows": "mp dicts", "mp DataFrame": "mp DataFrame"}
        for name in columns:
            path = paths.get(mp_ingest.get(name, name))
            cells.append("-" if path is None else f"{path['median_seconds']:.2f}")
        seconds = {name: paths[name]["median_seconds"] for name in peers if name in paths}
        best = min(seconds, key=seconds.__getitem__)
        cells.append(best)
        for name in mp:
            path = paths.get(mp_ingest.get(name, name))
            cells.append("-" if path is None else _x(path["median_seconds"] / seconds[best]))
        lines.append("| " + " | ".join(cells) + " |")
    for shape in reads["shapes"].values():
        cells = [f"{shape['label']} (ms)"]
        cells += [_ms(shape["timings"][name]) for name in columns]
        cells.append(shape["best_peer"])
        cells += [_x(shape["mp_vs_best_peer"][name]) for name in mp]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown(results: dict[str, Any]) -> str:
    """The results as Markdown: machine, the peer table, ingest against the floor, storage."""
    machine = results.get("machine", {})
    versions = ", ".join(f"{k} {v}" for k, v in machine.get("versions", {}).items() if v)
    lines = [
        "# mp against its peers",
        "",
        f"Run {machine.get('date')} on {machine.get('cpu_count')} CPUs, Python "
        f"{machine.get('python')}, PostgreSQL {machine.get('postgresql')}, TimescaleDB "
        f"{machine.get('timescaledb')} ({machine.get('timescaledb_license')}); {versions}.",
        f"Sizes: {results.get('sizes')}.",
        "",
        "Medians, interleaved in one run. `x / best peer` above 1 means mp is slower by that "
        "factor. Every answer was checked against a brute-force numpy reference: "
        f"**{'all equal' if results.get('all_answers_equal') else 'SOME DIFFER'}**.",
        "",
    ]
    if "reads" in results:
        lines += ["## Side by side", "", *_peer_table(results), ""]
        lines += ["What each column runs:", ""]
        lines += [f"- **{k}**: {v}" for k, v in results["reads"]["descriptions"].items()]
        lines.append("")
    ingest = results.get("ingest")
    if ingest:
        lines += [
            "## Ingest of the backfill against the floor",
            "",
            f"{ingest['shape']['rows']:,} rows. Arrow accepted by `ingest` natively: "
            f"{ingest['arrow_accepted_natively']}.",
            "",
        ]
        lines += _ingest_table(ingest, "first_load", "First load into an empty store")
        lines += _ingest_table(ingest, "unchanged_rerun", "Unchanged re-run (stores nothing)")
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


def plot(results: dict[str, Any], target: Path) -> bool:
    """Grouped bars: every shape's median per system, log scale; False without matplotlib."""
    reads = results.get("reads", {})
    if not reads.get("shapes"):
        return False
    try:
        import matplotlib as mpl  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return False
    mpl.use("Agg")  # no display: render to a file
    import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]

    columns = _columns(reads)
    shapes = list(reads["shapes"].values())
    width = 0.8 / len(columns)
    figure, axes = plt.subplots(figsize=(12, 5))
    for index, name in enumerate(columns):
        positions = [shape_index + index * width for shape_index in range(len(shapes))]
        medians = [shape["timings"][name]["median_seconds"] * 1000 for shape in shapes]
        axes.bar(positions, medians, width, label=name)
    axes.set_xticks([i + 0.4 - width / 2 for i in range(len(shapes))])
    axes.set_xticklabels([shape["label"] for shape in shapes], rotation=20, ha="right")
    axes.set(yscale="log", ylabel="milliseconds (median, log scale)")
    axes.set_title("mp vs peers, same data, same run (lower is faster)")
    axes.grid(visible=True, axis="y", which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(target, dpi=110)
    plt.close(figure)
    return True
