"""Changed files -> the (package, Python) pairs CI must test.

    python infra/ci/matrix.py --base origin/main [--head HEAD] [--json]
    python infra/ci/matrix.py --changed packages/mp-config/src/mp_config/_redis.py --json
    python infra/ci/matrix.py --all --json

A changed path maps to packages (:func:`packages_for_path`): ``packages/<name>/**`` to that
package; the shared machinery (noxfile.py, the root pyproject.toml, infra/, .ci/, .github/,
docker-compose.yml, .env.example) to every package; docs/ and the root's Markdown files to none;
anything else to every package, because running too much is cheap and running too little
hides breakage. The affected packages are then widened to their dependents
(:meth:`workspace.Workspace.dependents`) and crossed with each package's supported Pythons.

Output: ``{"include": [{"package": "mp-db", "python": "3.11"}, ...]}``. When ``$GITHUB_OUTPUT``
is set, ``matrix=<json>`` and ``count=<pairs>`` lines are appended to it for a workflow to read.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from workspace import Workspace, load_workspace

ROOT = Path(__file__).resolve().parents[2]

#: Root-level files and folders every package's tests depend on.
SHARED_PATHS = frozenset(
    {
        "noxfile.py",
        "pyproject.toml",
        "infra",
        ".ci",
        ".github",
        "docker-compose.yml",
        ".env.example",
    }
)
#: Root-level paths no package's tests read (infra tests, run on every change, check docs/).
# The example and the docs site have their own sessions (example, docs); they never change what
# a package's tests see.
INERT_PATHS = frozenset(
    {"docs", "examples", "mkdocs.yml", ".gitignore", ".gitattributes", "LICENSE"}
)

ALL = "*"
"""Marker returned by :func:`packages_for_path` for "every package"."""


def packages_for_path(path: str, workspace: Workspace) -> set[str]:
    """The packages a change to ``path`` (relative to the root, ``/``-separated) touches
    directly, or ``{ALL}``."""
    parts = PurePosixPath(path).parts
    if not parts:
        return set()
    top = parts[0]
    if top == "packages" and len(parts) >= 3:
        for package in workspace.packages.values():
            if package.folder.name == parts[1]:
                return {package.name}
        return {ALL}  # a package folder the workspace does not know: added or removed
    if top in INERT_PATHS or (len(parts) == 1 and top.lower().endswith(".md")):
        return set()
    if top in SHARED_PATHS:
        return {ALL}
    return {ALL}  # a path this list does not know yet: running too much is the safe side


def affected_packages(changed: Iterable[str], workspace: Workspace) -> list[str]:
    """Changed paths -> the packages to test, dependents included, in dependency order."""
    direct: set[str] = set()
    for path in changed:
        direct |= packages_for_path(path, workspace)
    if ALL in direct:
        return list(workspace.packages)
    selected = workspace.dependents(direct)
    return [name for name in workspace.packages if name in selected]


def build_matrix(packages: Iterable[str], workspace: Workspace) -> dict[str, list[dict[str, str]]]:
    """The GitHub Actions ``strategy.matrix`` value: one entry per package x Python."""
    return {
        "include": [
            {"package": name, "python": python}
            for name in packages
            for python in workspace.packages[name].pythons
        ]
    }


def changed_files(root: Path, base: str, head: str | None) -> list[str] | None:
    """Files changed from ``base`` to ``head`` (or to the working tree, untracked files
    included, when ``head`` is None); None when git cannot tell (unknown or all-zero base)."""
    if not base or set(base) == {"0"}:
        return None  # the first push of a branch: GitHub sends 000...0 as "before"
    if head is None:
        commands = [
            ["git", "diff", "--name-only", base],
            ["git", "ls-files", "--others", "--exclude-standard"],
        ]
    else:
        # Three dots: what head changed since it forked from base, not what base did since.
        commands = [["git", "diff", "--name-only", f"{base}...{head}"]]
    paths: list[str] = []
    for command in commands:
        result = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            print(f"matrix: {' '.join(command)} failed: {result.stderr.strip()}", file=sys.stderr)
            return None
        paths += [line for line in result.stdout.splitlines() if line.strip()]
    return paths


def write_github_output(matrix: dict[str, list[dict[str, str]]]) -> None:
    """Append ``matrix=`` and ``count=`` to $GITHUB_OUTPUT when running in GitHub Actions."""
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        return
    with Path(target).open("a") as output:
        output.write(f"matrix={json.dumps(matrix, separators=(',', ':'))}\n")
        output.write(f"count={len(matrix['include'])}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--base", help="git revision to compare with (a PR's base, or 'before')")
    source.add_argument("--changed", nargs="+", metavar="FILE", help="changed paths, root-relative")
    source.add_argument("--all", action="store_true", help="every package")
    parser.add_argument("--head", help="git revision with the changes (default: working tree)")
    parser.add_argument("--json", action="store_true", help="print only the matrix as JSON")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)

    workspace = load_workspace(options.root)
    if options.all:
        changed: list[str] | None = None
    elif options.changed:
        changed = list(options.changed)
    else:
        changed = changed_files(options.root, options.base, options.head)
    packages = (
        list(workspace.packages) if changed is None else affected_packages(changed, workspace)
    )
    matrix = build_matrix(packages, workspace)
    write_github_output(matrix)
    if options.json:
        print(json.dumps(matrix))
        return 0
    reason = "every package" if changed is None else f"{len(changed)} changed path(s)"
    print(f"{reason} -> {len(packages)} package(s), {len(matrix['include'])} job(s)")
    for name in packages:
        print(f"  {name}: Python {', '.join(workspace.packages[name].pythons)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
