"""Every module a package imports is one it declares (or the standard library).

    python infra/ci/deps_check.py [--root DIR]

``nox -s alone`` installs a package's wheel with only what it declares, so an import of an
undeclared distribution (often one a sibling happens to bring along in the workspace) fails
there, or worse, in a user's environment. This finds it statically, from the AST:

* ``src/``: a module-level import must be a runtime dependency. An import inside a function,
  under ``if TYPE_CHECKING:`` or in a ``try: ... except ImportError`` is optional: it may come
  from an extra instead (style.md habit 9: optional dependencies are extras, imported lazily).
* ``tests/``: any import must be a runtime dependency or in the ``test`` extra (that is what
  ``alone`` installs), unless guarded by ``except ImportError``; modules that live in tests/
  (conftest, helpers) are local.

Import names map to distributions through :data:`IMPORT_TO_DISTRIBUTION` and the workspace's
own packages; an unknown name is assumed to be its own distribution name. Imports through
strings (``importlib.import_module``, SQLAlchemy dialect URLs) are invisible to this check.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from specifiers import normalize_name
from workspace import Package, Workspace, WorkspaceError, load_workspace

ROOT = Path(__file__).resolve().parents[2]

#: Import name -> distribution, where they differ or are not obvious.
IMPORT_TO_DISTRIBUTION = {
    "_pytest": "pytest",
    "alembic": "alembic",
    "asyncpg": "asyncpg",
    "dateutil": "python-dateutil",
    "google": "protobuf",
    "hiredis": "hiredis",
    "hypothesis": "hypothesis",
    "pandas": "pandas",
    "psycopg": "psycopg",
    "psycopg_pool": "psycopg-pool",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic-core",
    "pydantic_settings": "pydantic-settings",
    "pytest": "pytest",
    "redis": "redis",
    "sqlalchemy": "sqlalchemy",
    "testcontainers": "testcontainers",
    "yaml": "pyyaml",
}


@dataclass(frozen=True)
class Import:
    """One imported top-level module and how binding the import is."""

    module: str
    path: Path
    line: int
    optional: bool  # lazy (in a function), type-checking only, or guarded by except ImportError


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    # Only the import errors: a broad ``except Exception`` is not a statement of optionality.
    names = {"ImportError", "ModuleNotFoundError"}
    caught = handler.type
    if caught is None:
        return False
    elements = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    return any(isinstance(element, ast.Name) and element.id in names for element in elements)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, path: Path, optional: bool) -> Iterator[Import]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield Import(alias.name.split(".")[0], path, node.lineno, optional)
        return
    if isinstance(node, ast.ImportFrom):
        if node.level == 0 and node.module:
            yield Import(node.module.split(".")[0], path, node.lineno, optional)
        return
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        optional = True
    # Each branch lists (children, optional?) so one loop below walks them all.
    branches: list[tuple[Sequence[ast.AST], bool]]
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        branches = [(node.body, True), (node.orelse, optional)]
    elif isinstance(node, ast.Try | ast.TryStar) and any(
        _catches_import_error(handler) for handler in node.handlers
    ):
        branches = [(node.body, True), ([*node.handlers, *node.orelse, *node.finalbody], optional)]
    else:
        branches = [(list(ast.iter_child_nodes(node)), optional)]
    for children, branch_optional in branches:
        for child in children:
            yield from _walk(child, path, branch_optional)


def imports_in(folder: Path) -> Iterator[Import]:
    """Every absolute import in the .py files under ``folder``."""
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        yield from _walk(tree, path, optional=False)


def _local_modules(folder: Path) -> set[str]:
    """Names importable from ``folder`` itself (pytest puts a tests/ folder on sys.path)."""
    return {
        path.stem if path.is_file() else path.name
        for path in folder.iterdir()
        if (path.suffix == ".py") or (path.is_dir() and (path / "__init__.py").is_file())
    }


def distribution_for(module: str, workspace: Workspace) -> str:
    """The distribution that provides top-level ``module``."""
    for package in workspace.packages.values():
        if package.import_name == module:
            return package.name
    return normalize_name(IMPORT_TO_DISTRIBUTION.get(module, module))


def check_package(package: Package, workspace: Workspace) -> list[str]:
    """Problems for one package: imports of distributions it does not declare."""
    runtime = {requirement.name for requirement in package.dependencies}
    by_extra = {
        extra: {requirement.name for requirement in requirements}
        for extra, requirements in package.extras.items()
    }
    any_extra = set().union(*by_extra.values()) if by_extra else set()
    problems: list[str] = []
    folders = [
        (package.folder / "src" / package.import_name, "src"),
        (package.folder / "tests", "tests"),
    ]
    for folder, kind in folders:
        if not folder.is_dir():
            continue
        local = {package.import_name} | (_local_modules(folder) if kind == "tests" else set())
        for found in imports_in(folder):
            if found.module in sys.stdlib_module_names or found.module in local:
                continue
            distribution = distribution_for(found.module, workspace)
            if kind == "src":
                allowed = runtime | any_extra if found.optional else runtime
            else:
                allowed = runtime | by_extra.get("test", set())
                allowed |= any_extra if found.optional else set()
            if distribution in allowed:
                continue
            where = f"{found.path.relative_to(package.folder)}:{found.line}"
            extras = sorted(extra for extra, names in by_extra.items() if distribution in names)
            if extras:
                hint = (
                    f"only in extra [{', '.join(extras)}]: import it lazily (inside a function, "
                    "with an install hint) or make it a runtime dependency"
                    if kind == "src"
                    else f"only in extra [{', '.join(extras)}]: add it to the test extra"
                )
            else:
                target = "[project].dependencies" if kind == "src" else "the test extra"
                hint = f"not declared: add it to {target}"
            problems.append(
                f"{package.name}: {where} imports {found.module} ({distribution}), {hint}"
            )
    return problems


def check_workspace(workspace: Workspace) -> list[str]:
    """Problems for every package of the workspace."""
    return [
        problem
        for package in workspace.packages.values()
        for problem in check_package(package, workspace)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check imports against declared dependencies.")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    options = parser.parse_args(argv)
    try:
        workspace = load_workspace(options.root)
    except WorkspaceError as error:
        print(f"deps-check: {error}", file=sys.stderr)
        return 1
    problems = check_workspace(workspace)
    for problem in problems:
        print(f"deps-check: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"deps-check: ok ({len(workspace.packages)} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
