"""Plant deliberate bugs in mp-db and check that the reference-model suite catches each one.

A developer tool, not run by CI (it rewrites mp-db's source while it runs, and takes minutes):

    python infra/tools/pit_mutations.py                 # every mutation
    python infra/tools/pit_mutations.py --only t_exclusive --only end_inclusive
    python infra/tools/pit_mutations.py --check       # which mutations still apply
    python infra/tools/pit_mutations.py --markdown /tmp/mutations.md -- -k "not concurrent"

Each mutation is one literal text replacement in one file of ``packages/mp-db/src``. The tool
applies it, runs the reference suite (``tests/test_reference_*.py``) with ``-x`` in mp-db's
test environment, records whether the suite failed (caught) and which test failed first, and
restores the file byte for byte: always, in a ``finally``, even on Ctrl-C or an error. A
mutation whose text no longer occurs exactly once is reported as ``stale`` (the source changed:
update the mutation), never silently skipped. Before any mutation the unmutated suite must pass,
or nothing is tried.

Exit code: 0 when every mutation was applied and caught, 1 otherwise.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "packages" / "mp-db"
SOURCE = PACKAGE / "src" / "mp_db"
DEFAULT_PYTHON = ROOT / ".nox" / "test-package-mp-db" / "bin" / "python"
SUITE = (
    "tests/test_reference_reads.py",
    "tests/test_reference_concurrency.py",
    "tests/test_reference_arguments.py",
    "tests/test_reference_cache.py",
)


@dataclass(frozen=True)
class Mutation:
    """One planted bug: replace ``old`` (which must occur exactly once) with ``new``."""

    name: str
    file: str
    old: str
    new: str
    bug: str


MUTATIONS: tuple[Mutation, ...] = (
    Mutation(
        "conflict_as_baseline",
        "_ingest_sql.py",
        "FROM classified\n    WHERE settled = 'candidate'",
        "FROM classified\n    WHERE settled <> 'already_stored'",
        "a conflicting batch row takes part in the comparison (issue 11, bug 1)",
    ),
    Mutation(
        "keep_republications_ignored",
        "_ingest_sql.py",
        "WHERE verdict = 'new' OR (verdict = 'unchanged' AND "
        "CAST(:keep_republications AS boolean))",
        "WHERE verdict = 'new'",
        "the merge statement drops restatements even with keep_republications",
    ),
    Mutation(
        "restatement_renumbered",
        "_ingest.py",
        "if keep_republications:\n                kept.append((*record, revision, ingest_id))",
        "if keep_republications:\n                kept.append((*record, revision + 1, ingest_id))",
        "a kept restatement (first load) gets a new revision number instead of the one it restates",
    ),
    Mutation(
        "t_exclusive",
        "_read_sql.py",
        'condition = f"{prefix}knowledge_time <= :as_of"',
        'condition = f"{prefix}knowledge_time < :as_of"',
        "off-by-one on T: a version known exactly at T is not seen (as_of, latest, backtest)",
    ),
    Mutation(
        "end_inclusive",
        "_read_sql.py",
        'return f"{_series(one)} AND obs_time >= :start AND obs_time < :end"',
        'return f"{_series(one)} AND obs_time >= :start AND obs_time <= :end"',
        "range bound: end is inclusive instead of exclusive",
    ),
    Mutation(
        "latest_one_entity",
        "_read_sql.py",
        "SELECT DISTINCT ON ({distinct}) {_columns(fact, 't')} FROM {fact.qualified} t ",
        "SELECT DISTINCT ON (t.series_id) {_columns(fact, 't')} FROM {fact.qualified} t ",
        "wrong entity grouping in latest: one tenor/category per series instead of all",
    ),
    Mutation(
        "first_release_flipped",
        "_read_sql.py",
        '''    order = ", ".join(_per_series(fact.key, one))
    return (
        f"SELECT DISTINCT ON ({distinct}) {_columns(fact)} FROM {fact.qualified} "
        f"WHERE {_range(one)} AND {_known(fact, replay)} ORDER BY {order}"''',
        '''    order = ", ".join(_per_series(fact.observation, one)) + ", knowledge_time DESC"
    return (
        f"SELECT DISTINCT ON ({distinct}) {_columns(fact)} FROM {fact.qualified} "
        f"WHERE {_range(one)} AND {_known(fact, replay)} ORDER BY {order}"''',
        "first_release ordering flipped: the newest version instead of the first",
    ),
    Mutation(
        "release_calendar_obs_bound",
        "_read_sql.py",
        "    if fact.spec.knowledge_after_obs:\n        condition +=",
        "    if True:\n        condition +=",
        "obs_time <= T added for the release calendar, whose entries are known before their period",
    ),
    Mutation(
        "replay_ignored",
        "_read_sql.py",
        'condition += f" AND {visible(alias)}"',
        'condition += ""',
        "replay cutoff ignored: ingested_before= changes nothing",
    ),
    Mutation(
        "replay_in_flight_leak",
        "_read_sql.py",
        '''        f"AND {prefix}ingest_id <> ALL(ARRAY(SELECT l.ingest_id FROM mp.ingest_log l "
        "WHERE l.commit_seq > :cutoff_commit AND l.ingest_id <= :cutoff_ingest))"''',
        '''        ""''',
        "an ingest in flight when the cutoff was taken counts once it commits (issue 11, bug 3)",
    ),
    Mutation(
        "vintage_collapse_removed",
        "_read_sql.py",
        'f"WHERE first OR ROW({current}) IS DISTINCT FROM ROW({previous})"',
        'f"WHERE first OR true"',
        "vintages, vintage_dates and intervals report restatements as vintages",
    ),
    Mutation(
        "intervals_end_per_series",
        "_read_sql.py",
        'f"SELECT {_columns(fact)}, lead(knowledge_time) OVER (PARTITION BY {partition} "',
        'f"SELECT {_columns(fact)}, lead(knowledge_time) OVER (PARTITION BY series_id "',
        "an interval ends at the next change of any observation of the series",
    ),
    Mutation(
        "cross_section_series_ignored",
        "_read_sql.py",
        'series = f" AND {_series(one=False)}" if chosen else ""',
        'series = ""',
        "cross_section(series_ids=...) answers for every series",
    ),
    Mutation(
        "backtest_one_entity",
        "_reads.py",
        "current.setdefault(row.obs_time, {})[_entity(row)] = row",
        "current.setdefault(row.obs_time, {})[()] = row",
        "backtest and join_as_of keep one entity per series (issue 11, bug 2)",
    ),
    Mutation(
        "backtest_sorted_times",
        "_reads.py",
        "    for index, moment in enumerate(given):\n        for series_id in wanted:",
        "    for index, moment in sorted(enumerate(given), key=lambda item: item[1]):\n"
        "        for series_id in wanted:",
        "backtest answers in sorted decision-time order instead of the order given",
    ),
    Mutation(
        "cache_served_stale",
        "_ingest.py",
        "        cache.sync(_touched(batch))",
        "        pass",
        "sync ingest forgets to invalidate mp's cache: CachedReader serves the old print",
    ),
)


@dataclass
class Outcome:
    """What happened to one mutation."""

    mutation: Mutation
    verdict: str  # caught, survived, stale
    seconds: float = 0.0
    first_failure: str = ""


def run_suite(python: Path, extra: list[str]) -> tuple[int, str]:
    """Run the reference suite once; its exit code and output."""
    command = [str(python), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *SUITE, *extra]
    done = subprocess.run(command, cwd=PACKAGE, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout + done.stderr


def _first_failure(output: str) -> str:
    found = re.search(r"^(?:FAILED|ERROR) (\S+)", output, re.MULTILINE)
    return found.group(1) if found else "(no test id in the output)"


def _occurrences(mutation: Mutation) -> int:
    return (SOURCE / mutation.file).read_text().count(mutation.old)


def try_mutation(mutation: Mutation, python: Path, extra: list[str]) -> Outcome:
    """Apply one mutation, run the suite, restore the file (always)."""
    path = SOURCE / mutation.file
    original = path.read_bytes()
    text = original.decode()
    if text.count(mutation.old) != 1:
        return Outcome(mutation, "stale")
    started = time.perf_counter()
    try:
        path.write_text(text.replace(mutation.old, mutation.new))
        code, output = run_suite(python, extra)
    finally:
        path.write_bytes(original)
    if path.read_bytes() != original:  # pragma: no cover - write_bytes cannot half-succeed quietly
        raise SystemExit(f"{path} was not restored: restore it with git checkout")
    seconds = time.perf_counter() - started
    if code == 0:
        return Outcome(mutation, "survived", seconds)
    return Outcome(mutation, "caught", seconds, _first_failure(output))


def markdown(outcomes: list[Outcome]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| mutation | planted bug | verdict | first failing test | seconds |",
        "|---|---|---|---|---|",
    ]
    for item in outcomes:
        lines.append(
            f"| `{item.mutation.name}` | {item.mutation.bug} | {item.verdict} | "
            f"`{item.first_failure}` | {item.seconds:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the mutations; print the table; 0 if all were caught."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", type=Path, default=DEFAULT_PYTHON, help="mp-db's test venv")
    parser.add_argument("--only", action="append", default=[], help="a mutation name")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the unmutated run (only right after a green run of the same tree)",
    )
    parser.add_argument(
        "--check", action="store_true", help="only say which mutations still apply (no runs)"
    )
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    options = parser.parse_args(argv)
    chosen = [item for item in MUTATIONS if not options.only or item.name in options.only]
    if options.list:
        for item in MUTATIONS:
            print(f"{item.name}: {item.bug}")
        return 0
    if options.check:
        stale = [item.name for item in chosen if _occurrences(item) != 1]
        for item in chosen:
            print(f"{item.name}: {'stale' if item.name in stale else 'applies'}")
        return 1 if stale else 0
    if not options.python.exists():
        print(f"{options.python} is missing: run nox -s \"test(package='mp-db')\" once")
        return 1
    code, output = (
        (0, "") if options.no_baseline else run_suite(options.python, options.pytest_args)
    )
    if code != 0:
        print(f"the unmutated suite fails ({_first_failure(output)}): fix that first")
        return 1
    outcomes = []
    for mutation in chosen:
        outcome = try_mutation(mutation, options.python, options.pytest_args)
        print(f"{mutation.name}: {outcome.verdict} {outcome.first_failure}", flush=True)
        outcomes.append(outcome)
    table = markdown(outcomes)
    print(table)
    if options.markdown:
        options.markdown.write_text(table)
    return 0 if all(item.verdict == "caught" for item in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
