"""check-ranges: the siblings' version ranges resolve against the versions in this tree.

    python infra/ci/ranges.py

Each package has its own version (``src/<import>/_version.py``) and declares its siblings as
ranges (``mp-config[sqlalchemy]>=0.1,<0.2``). A release of the tree is only installable if:

* every sibling requirement (runtime or extra) is a range, not a path or URL, with a lower and an
  upper bound, that admits the sibling's current version;
* every extra it asks for (``[sqlalchemy]``) exists, or pip silently installs less;
* the sibling's requires-python admits every Python the dependent supports;
* each package's Python classifiers are admitted by its own requires-python;
* ``[project].dependencies`` between siblings form a DAG. Extras (``test``) may point back up
  the graph, e.g. a package testing itself with a plugin that depends on it: those are not
  installed with the package, so they are not part of the DAG.

Exit status 1 and one line per problem when any rule is broken.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from specifiers import InvalidSpecifierError, parse_version, specifier_admits, split_specifier
from workspace import Workspace, WorkspaceError, load_workspace, runtime_cycle

ROOT = Path(__file__).resolve().parents[2]
_LOWER = {">=", ">", "~=", "==", "==="}
_UPPER = {"<", "<=", "~=", "==", "==="}


def _requirement_problems(workspace: Workspace) -> list[str]:
    problems: list[str] = []
    for package in workspace.packages.values():
        for extra, requirement in workspace.siblings_of(package):
            where = f"{package.name}: {'dependencies' if extra is None else f'[{extra}]'}"
            sibling = workspace.packages[requirement.name]
            if requirement.url is not None:
                problems.append(
                    f"{where}: {requirement.text!r} is a URL; siblings are declared as ranges "
                    "(a path would be baked into the wheel)"
                )
                continue
            operators = {operator for operator, _ in split_specifier(requirement.specifier)}
            if not operators & _LOWER or not operators & _UPPER:
                problems.append(
                    f"{where}: {requirement.text!r} needs a lower and an upper bound "
                    f"(e.g. {sibling.name}>={sibling.version},<NEXT)"
                )
            if not specifier_admits(requirement.specifier, sibling.version):
                problems.append(
                    f"{where}: {requirement.text!r} does not admit {sibling.name} "
                    f"{sibling.version} (its _version.py): widen the range or bump the sibling"
                )
            for wanted in sorted(requirement.extras - set(sibling.extras)):
                problems.append(
                    f"{where}: {requirement.text!r} asks for extra [{wanted}], which "
                    f"{sibling.name} does not define"
                )
            refused = [
                python
                for python in package.pythons
                if not specifier_admits(sibling.requires_python, python)
            ]
            if refused:
                problems.append(
                    f"{where}: {package.name} supports Python {', '.join(refused)} but "
                    f"{sibling.name} requires-python {sibling.requires_python!r}"
                )
    return problems


def _python_problems(workspace: Workspace) -> list[str]:
    problems: list[str] = []
    for package in workspace.packages.values():
        outside = [
            python
            for python in package.classifier_pythons
            if not specifier_admits(package.requires_python, python)
        ]
        if outside:
            problems.append(
                f"{package.name}: classifiers name Python {', '.join(outside)}, which "
                f"requires-python {package.requires_python!r} refuses"
            )
        if not package.pythons:
            problems.append(f"{package.name}: no supported Python (classifiers/requires-python)")
    return problems


def check_ranges(workspace: Workspace) -> list[str]:
    """Every problem with the siblings' versions, ranges and Python support (empty if none)."""
    problems: list[str] = []
    for package in workspace.packages.values():
        try:
            parse_version(package.version)
        except InvalidSpecifierError as error:
            problems.append(f"{package.name}: version {package.version!r}: {error}")
    if problems:
        return problems  # the range checks below need parseable versions
    problems += _requirement_problems(workspace)
    problems += _python_problems(workspace)
    cycle = runtime_cycle(workspace.packages)
    if cycle is not None:
        problems.append(
            "[project].dependencies form a cycle: "
            + " -> ".join(cycle)
            + " (a runtime dependency graph must be a DAG; move the back edge to an extra)"
        )
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check the siblings' version ranges.")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    options = parser.parse_args(argv)
    try:
        workspace = load_workspace(options.root)
    except (WorkspaceError, InvalidSpecifierError) as error:
        print(f"check-ranges: {error}", file=sys.stderr)
        return 1
    problems = check_ranges(workspace)
    for problem in problems:
        print(f"check-ranges: {problem}", file=sys.stderr)
    if problems:
        return 1
    versions = ", ".join(f"{p.name} {p.version}" for p in workspace.packages.values())
    print(f"check-ranges: ok ({versions})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
