"""Each package's CHANGELOG.md has a section for the version in its _version.py.

    python infra/ci/changelog.py [--final]

A section is a Markdown heading that starts with the version: ``## 0.1.0``, ``## 0.1.0
(unreleased)``, ``## [0.1.0] - 2025-01-31``. With ``--final`` (at release time) the section must
not say "unreleased" any more.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from workspace import Package, Workspace, WorkspaceError, load_workspace

ROOT = Path(__file__).resolve().parents[2]
_HEADING = re.compile(r"^#{1,6}\s+\[?v?(?P<version>[^\s\]]+)\]?(?P<rest>.*)$", re.MULTILINE)


def changelog_problems(package: Package, *, final: bool = False) -> list[str]:
    """What is missing from ``package``'s CHANGELOG.md for its current version."""
    path = package.folder / "CHANGELOG.md"
    if not path.is_file():
        return [f"{package.name}: no CHANGELOG.md"]
    sections = {match["version"]: match["rest"] for match in _HEADING.finditer(path.read_text())}
    if package.version not in sections:
        return [
            f"{package.name}: CHANGELOG.md has no '## {package.version}' section "
            "(add one describing this version's changes)"
        ]
    if final and "unreleased" in sections[package.version].lower():
        return [
            f"{package.name}: CHANGELOG.md still calls {package.version} unreleased "
            "(replace '(unreleased)' with the release date)"
        ]
    return []


def check_changelogs(workspace: Workspace, *, final: bool = False) -> list[str]:
    """Problems for every package of the workspace."""
    return [
        problem
        for package in workspace.packages.values()
        for problem in changelog_problems(package, final=final)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check each package's CHANGELOG.md.")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    parser.add_argument("--final", action="store_true", help="refuse '(unreleased)' sections")
    options = parser.parse_args(argv)
    try:
        problems = check_changelogs(load_workspace(options.root), final=options.final)
    except WorkspaceError as error:
        problems = [str(error)]
    for problem in problems:
        print(f"changelog: {problem}", file=sys.stderr)
    if problems:
        return 1
    print("changelog: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
