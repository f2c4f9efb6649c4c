"""Summarize the reliability scenarios' report (JSON lines from mp-testing's plugin).

    python3 infra/tools/reliability_summary.py REPORT.jsonl [--markdown OUT.md]

Prints scenarios per suite and the totals that matter (crash/restart cycles survived, rows
verified, lost rows, duplicate rows); exits 1 when a scenario failed or a row was lost or
duplicated.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SUITES = ("load_held", "faults_survived", "bad_inputs", "nothing_lost", "migrations", "security")
TOTALS = ("crash_cycles", "rows_verified", "lost_rows", "duplicate_rows")


def load(path: Path) -> list[dict[str, Any]]:
    """The report's entries (later entries for the same scenario replace earlier ones)."""
    entries: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            entry = json.loads(line)
            entries[entry["scenario"]] = entry
    return list(entries.values())


def summarize(entries: list[dict[str, Any]]) -> tuple[str, bool]:
    """A Markdown summary and whether everything held."""
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    totals: Counter[str] = Counter()
    for entry in entries:
        outcomes[entry["suite"]][entry["outcome"]] += 1
        for key in TOTALS:
            value = entry.get("metrics", {}).get(key)
            if isinstance(value, int):
                totals[key] += value
    lines = [
        f"Run: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        "",
        "| suite | scenarios | passed | failed | skipped |",
        "| --- | --- | --- | --- | --- |",
    ]
    for suite in (*SUITES, *sorted(set(outcomes) - set(SUITES))):
        counts = outcomes.get(suite, Counter())
        lines.append(
            f"| {suite} | {sum(counts.values())} | {counts['passed']} | "
            f"{counts['failed']} | {counts['skipped']} |"
        )
    lines += ["", "| total | value |", "| --- | --- |"]
    lines += [f"| {key.replace('_', ' ')} | {totals[key]} |" for key in TOTALS]
    failed = sum(counts["failed"] for counts in outcomes.values())
    held = failed == 0 and totals["lost_rows"] == 0 and totals["duplicate_rows"] == 0
    lines += ["", "Result: " + ("every scenario held" if held else "FAILED")]
    return "\n".join(lines) + "\n", held


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--markdown", type=Path, default=None)
    arguments = parser.parse_args()
    if not arguments.report.is_file():
        print(f"no report at {arguments.report}: no scenario ran", file=sys.stderr)
        return 1
    text, held = summarize(load(arguments.report))
    print(text)
    if arguments.markdown is not None:
        arguments.markdown.parent.mkdir(parents=True, exist_ok=True)
        arguments.markdown.write_text(text)
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
