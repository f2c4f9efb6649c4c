"""The packages under packages/*/ and the dependency graph between them, read from their
pyproject.toml files (the standard library and `packaging`, nox's own dependency: the scripts run
before anything else is installed).

Which edges count, and why:

* **runtime edges** come from ``[project].dependencies``. They are what a user installs, so they
  must form a DAG (:func:`runtime_cycle`); the ranges check refuses a cycle.
* **extra edges** come from ``[project.optional-dependencies]`` (``test``, ``containers``...).
  CI installs ``<package>[test]``, so mp-cache's ``test = ["mp-testing..."]`` means a change in
  mp-testing can break mp-cache's tests. Extras may point "back" up the graph (a package's tests
  may use a plugin that itself depends on the package); that is not a cycle of the DAG.

A package is affected by a change in X when X is in its **install closure**: start from the
package with its runtime and every extra's requirements, then follow each sibling's runtime
requirements plus only the extras that the requirement names (``mp-config[sqlalchemy]`` follows
mp-config's ``sqlalchemy`` extra). A sibling's ``test`` extra is never installed for someone
else's tests, so it does not propagate.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from specifiers import Requirement, normalize_name, parse_requirement, specifier_admits

#: Used only when a package lists no "Programming Language :: Python :: 3.X" classifier.
KNOWN_PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")

_PYTHON_CLASSIFIER = re.compile(r"^Programming Language :: Python :: (\d+\.\d+)$")
_VERSION_LINE = re.compile(r"""^__version__\s*(?::\s*str\s*)?=\s*["']([^"']+)["']""", re.M)


class WorkspaceError(ValueError):
    """A pyproject.toml or version file the scripts cannot make sense of; names the file."""


@dataclass(frozen=True)
class Package:
    """One distribution under packages/<folder>/."""

    name: str
    folder: Path
    import_name: str
    version: str
    requires_python: str
    classifier_pythons: tuple[str, ...]
    dependencies: tuple[Requirement, ...]
    extras: Mapping[str, tuple[Requirement, ...]] = field(default_factory=dict)

    @property
    def pythons(self) -> tuple[str, ...]:
        """Supported Pythons: the classifiers (else the known list), kept if requires-python
        admits them."""
        listed = self.classifier_pythons or KNOWN_PYTHONS
        return tuple(python for python in listed if specifier_admits(self.requires_python, python))

    def all_requirements(self) -> Iterable[tuple[str | None, Requirement]]:
        """Every requirement with the extra it belongs to (``None`` for runtime)."""
        for requirement in self.dependencies:
            yield None, requirement
        for extra, requirements in self.extras.items():
            for requirement in requirements:
                yield extra, requirement


def _read_version(folder: Path, project: Mapping[str, object], tool: Mapping[str, object]) -> str:
    if "version" in project:
        return str(project["version"])
    hatch = tool.get("hatch", {})
    version_table = hatch.get("version", {}) if isinstance(hatch, dict) else {}
    path = version_table.get("path") if isinstance(version_table, dict) else None
    if not isinstance(path, str):
        raise WorkspaceError(
            f"{folder / 'pyproject.toml'}: no [project].version and no "
            "[tool.hatch.version].path to read it from"
        )
    match = _VERSION_LINE.search((folder / path).read_text())
    if match is None:
        raise WorkspaceError(f"{folder / path}: no __version__ = '...' line")
    return match.group(1)


def _import_name(folder: Path, name: str, tool: Mapping[str, object]) -> str:
    hatch = tool.get("hatch", {})
    try:
        listed = hatch["build"]["targets"]["wheel"]["packages"]  # type: ignore[index]
    except (KeyError, TypeError):
        listed = None
    if isinstance(listed, list) and len(listed) == 1 and isinstance(listed[0], str):
        return Path(listed[0]).name
    guess = name.replace("-", "_")
    if not (folder / "src" / guess).is_dir():
        raise WorkspaceError(f"{folder}: cannot tell the import name (no src/{guess}/)")
    return guess


def _requirements(pyproject: Path, texts: object) -> tuple[Requirement, ...]:
    if not isinstance(texts, list):
        raise WorkspaceError(f"{pyproject}: dependencies must be a list of strings")
    try:
        return tuple(parse_requirement(str(text)) for text in texts)
    except ValueError as error:
        raise WorkspaceError(f"{pyproject}: {error}") from error


def load_package(folder: Path) -> Package:
    """Read one package folder (its pyproject.toml and version file)."""
    pyproject = folder / "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text())
    except tomllib.TOMLDecodeError as error:
        raise WorkspaceError(f"{pyproject}: {error}") from error
    project = data.get("project", {})
    tool = data.get("tool", {})
    if "name" not in project:
        raise WorkspaceError(f"{pyproject}: no [project].name")
    name = normalize_name(project["name"])
    classifiers = project.get("classifiers", [])
    pythons = tuple(
        match.group(1)
        for classifier in classifiers
        if (match := _PYTHON_CLASSIFIER.match(classifier)) is not None
    )
    optional = project.get("optional-dependencies", {})
    return Package(
        name=name,
        folder=folder,
        import_name=_import_name(folder, name, tool),
        version=_read_version(folder, project, tool),
        requires_python=str(project.get("requires-python", "")),
        classifier_pythons=tuple(sorted(set(pythons), key=lambda p: tuple(map(int, p.split("."))))),
        dependencies=_requirements(pyproject, project.get("dependencies", [])),
        extras={
            normalize_name(extra): _requirements(pyproject, texts)
            for extra, texts in optional.items()
        },
    )


@dataclass(frozen=True)
class Workspace:
    """Every package of a repository, in dependency order (dependencies first)."""

    root: Path
    packages: Mapping[str, Package]

    def siblings_of(self, package: Package) -> Iterable[tuple[str | None, Requirement]]:
        """The requirements of ``package`` that name another package of this workspace."""
        for extra, requirement in package.all_requirements():
            if requirement.name in self.packages:
                yield extra, requirement

    def install_closure(self, name: str) -> set[str]:
        """Siblings installed when testing ``name`` (``name[all extras]``), itself excluded."""
        package = self.packages[name]
        pending = [requirement for _, requirement in self.siblings_of(package)]
        # (sibling, extra) pairs, so a sibling reached twice with different extras follows both.
        visited: set[tuple[str, str | None]] = set()
        while pending:
            requirement = pending.pop()
            sibling = self.packages[requirement.name]
            for extra in [None, *sorted(requirement.extras)]:
                if (sibling.name, extra) in visited:
                    continue
                visited.add((sibling.name, extra))
                wanted = sibling.dependencies if extra is None else sibling.extras.get(extra, ())
                pending += [item for item in wanted if item.name in self.packages]
        return {sibling for sibling, _ in visited} - {name}

    def dependents(self, changed: Iterable[str]) -> set[str]:
        """The changed packages plus every package whose install closure holds one of them."""
        changed = set(changed)
        return changed | {name for name in self.packages if self.install_closure(name) & changed}


def runtime_cycle(packages: Mapping[str, Package]) -> list[str] | None:
    """A cycle among ``[project].dependencies`` edges (as a path ``a -> b -> a``), or None."""
    edges = {
        name: [req.name for req in package.dependencies if req.name in packages]
        for name, package in packages.items()
    }
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = "open"
        stack.append(name)
        for target in edges[name]:
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)) is not None:
                return found
        stack.pop()
        state[name] = "done"
        return None

    for name in sorted(edges):
        if name not in state and (found := visit(name)) is not None:
            return found
    return None


def _dependency_order(packages: Mapping[str, Package]) -> list[str]:
    """Runtime dependencies first, ties by name; with a cycle, the cycle keeps name order."""
    ordered: list[str] = []
    remaining = dict(sorted(packages.items()))
    while remaining:
        ready = [
            name
            for name, package in remaining.items()
            if not any(req.name in remaining for req in package.dependencies if req.name != name)
        ] or [next(iter(remaining))]
        for name in ready:
            ordered.append(name)
            del remaining[name]
    return ordered


def load_workspace(root: Path) -> Workspace:
    """Read every packages/*/pyproject.toml under ``root``."""
    found = [load_package(pyproject.parent) for pyproject in root.glob("packages/*/pyproject.toml")]
    by_name = {package.name: package for package in found}
    if len(by_name) != len(found):
        raise WorkspaceError(f"{root}: two package folders declare the same [project].name")
    return Workspace(
        root=root,
        packages={name: by_name[name] for name in _dependency_order(by_name)},
    )
