"""infra/ci: changed files -> packages -> the package x Python matrix, the sibling-range and
changelog checks that guard a release, and the CI workflow that uses them."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from changelog import changelog_problems, check_changelogs
from matrix import affected_packages, build_matrix, changed_files
from packaging.specifiers import SpecifierSet
from packaging.version import Version as PackagingVersion
from ranges import check_ranges
from specifiers import parse_requirement, specifier_admits
from workspace import Workspace, load_workspace

ALL_PACKAGES = {"mp-config", "mp-schema", "mp-stack", "mp-testing", "mp-db", "mp-cache"}


def _write_package(
    root: Path,
    name: str,
    *,
    dependencies: Sequence[str] = (),
    extras: Mapping[str, Sequence[str]] | None = None,
    version: str = "0.1.0",
    requires_python: str = ">=3.11",
    pythons: Sequence[str] = ("3.11", "3.12"),
    changelog: str | None = "## {version} (unreleased)\n\n- First version.\n",
) -> Path:
    """A minimal package folder of a synthetic workspace (JSON strings are valid TOML)."""
    folder = root / "packages" / name
    module = name.replace("-", "_")
    (folder / "src" / module).mkdir(parents=True)
    (folder / "src" / module / "__init__.py").write_text("")
    (folder / "src" / module / "_version.py").write_text(f'__version__ = "{version}"\n')
    classifiers = [f"Programming Language :: Python :: {python}" for python in pythons]
    lines = [
        "[project]",
        f"name = {json.dumps(name)}",
        'dynamic = ["version"]',
        f"requires-python = {json.dumps(requires_python)}",
        f"classifiers = {json.dumps(classifiers)}",
        f"dependencies = {json.dumps(list(dependencies))}",
        "[project.optional-dependencies]",
        *(f"{extra} = {json.dumps(list(items))}" for extra, items in (extras or {}).items()),
        "[tool.hatch.version]",
        f'path = "src/{module}/_version.py"',
    ]
    (folder / "pyproject.toml").write_text("\n".join(lines) + "\n")
    if changelog is not None:
        (folder / "CHANGELOG.md").write_text(
            f"# Changelog of {name}\n\n" + changelog.format(version=version)
        )
    return folder


@pytest.fixture(scope="module")
def real(root: Path) -> Workspace:
    """The repository's own packages."""
    return load_workspace(root)


def _packages(matrix: Mapping[str, list[dict[str, str]]]) -> set[str]:
    return {entry["package"] for entry in matrix["include"]}


# --- the real graph ----------------------------------------------------------------------------


def test_real_workspace_has_every_package(real: Workspace) -> None:
    """All six distributions are found, with the import names the noxfile expects."""
    assert {name: package.import_name for name, package in real.packages.items()} == {
        "mp-config": "mp_config",
        "mp-schema": "mp_schema",
        "mp-stack": "mp_stack",
        "mp-testing": "mp_testing",
        "mp-db": "mp_db",
        "mp-cache": "mp_cache",
    }


def test_mp_config_change_affects_every_package_that_depends_on_it(real: Workspace) -> None:
    """Everything declares mp-config, so a change in it tests every package."""
    direct = {
        name
        for name, package in real.packages.items()
        if any(req.name == "mp-config" for req in package.dependencies)
    }
    affected = set(affected_packages(["packages/mp-config/src/mp_config/_redis.py"], real))
    assert direct <= affected
    assert affected == ALL_PACKAGES


def test_mp_cache_change_affects_mp_cache_and_mp_db(real: Workspace) -> None:
    """Only mp-db depends on mp-cache (its ``cache`` and ``test`` extras: ingest invalidates the
    cache, CachedReader reads through it), so a change of mp-cache is tested there too."""
    affected = affected_packages(["packages/mp-cache/src/mp_cache/_cache.py"], real)
    assert sorted(affected) == ["mp-cache", "mp-db"]


def test_mp_testing_change_reaches_the_packages_whose_tests_use_it(real: Workspace) -> None:
    """mp-testing is in the test extra of schema, stack, db and cache; mp-config does not use
    it."""
    affected = set(affected_packages(["packages/mp-testing/src/mp_testing/plugin.py"], real))
    assert affected == {"mp-testing", "mp-schema", "mp-stack", "mp-db", "mp-cache"}


def test_mp_stack_change_reaches_the_fixtures_and_the_fault_tests(real: Workspace) -> None:
    """mp-stack runs the native servers: mp-testing's ``native`` extra, the fault tests of
    mp-db and mp-cache and mp-schema's snapshot restores (their test extras) use it; mp-config
    does not."""
    affected = set(affected_packages(["packages/mp-stack/src/mp_stack/native/_redis.py"], real))
    assert affected == {"mp-stack", "mp-testing", "mp-db", "mp-cache", "mp-schema"}


@pytest.mark.parametrize(
    "path",
    [
        "noxfile.py",
        "pyproject.toml",
        "infra/ci/matrix.py",
        "infra/compose/timescaledb/init.sql",
        ".ci/run",
        ".github/workflows/ci.yml",
        "docker-compose.yml",
        "a-new-top-level-file.cfg",
        "packages/mp-unknown/src/x.py",
    ],
)
def test_shared_machinery_or_unknown_paths_mean_every_package(real: Workspace, path: str) -> None:
    """The noxfile, root pyproject, infra, .ci, .github (and paths the script does not know)
    can break any package, so they select all of them."""
    assert set(affected_packages([path], real)) == ALL_PACKAGES


def test_docs_only_change_means_no_package(real: Workspace) -> None:
    """docs/ and the root's Markdown select nothing; the matrix is empty, not everything."""
    changed = ["docs/releasing.md", "docs/schema-erd.svg", "README.md", "CONTRIBUTING.md"]
    assert affected_packages(changed, real) == []
    assert build_matrix([], real) == {"include": []}


def test_a_package_readme_is_that_package(real: Workspace) -> None:
    """Markdown inside a package is part of it (its README is tested), unlike the root's."""
    # mp-testing follows: its connector fixtures' tests use mp-db (its test extra).
    assert affected_packages(["packages/mp-db/README.md"], real) == ["mp-db", "mp-testing"]


def test_real_pythons_come_from_classifiers(real: Workspace) -> None:
    """Every package lists 3.11-3.13 in its classifiers, so each has three jobs."""
    for package in real.packages.values():
        assert package.pythons == ("3.11", "3.12", "3.13")
    matrix = build_matrix(["mp-cache"], real)
    assert [entry["python"] for entry in matrix["include"]] == ["3.11", "3.12", "3.13"]


# --- synthetic workspaces ----------------------------------------------------------------------


def test_pythons_from_classifiers_filtered_by_requires_python(tmp_path: Path) -> None:
    """Classifier versions are used, minus those requires-python refuses; without classifiers
    the known Pythons requires-python admits are used."""
    _write_package(tmp_path, "listed", pythons=("3.10", "3.12", "3.13"), requires_python=">=3.12")
    _write_package(tmp_path, "unlisted", pythons=(), requires_python=">=3.12,<3.14")
    workspace = load_workspace(tmp_path)
    assert workspace.packages["listed"].pythons == ("3.12", "3.13")
    assert workspace.packages["unlisted"].pythons == ("3.12", "3.13")


def test_dependent_is_found_through_two_hops(tmp_path: Path) -> None:
    """top -> middle -> base: a change in base selects middle and top, not the bystander."""
    _write_package(tmp_path, "base")
    _write_package(tmp_path, "middle", dependencies=["base>=0.1,<0.2"])
    _write_package(tmp_path, "top", dependencies=["middle>=0.1,<0.2"])
    _write_package(tmp_path, "bystander")
    workspace = load_workspace(tmp_path)
    assert affected_packages(["packages/base/src/base/core.py"], workspace) == [
        "base",
        "middle",
        "top",
    ]
    assert list(workspace.packages).index("base") < list(workspace.packages).index("top")


def test_test_extra_selects_its_package_but_does_not_propagate(tmp_path: Path) -> None:
    """lib's tests use plugin, so a plugin change tests lib; app installs lib without its test
    extra, so app is not selected."""
    _write_package(tmp_path, "plugin")
    _write_package(tmp_path, "lib", extras={"test": ["plugin>=0.1,<0.2"]})
    _write_package(tmp_path, "app", dependencies=["lib>=0.1,<0.2"])
    workspace = load_workspace(tmp_path)
    assert affected_packages(["packages/plugin/src/plugin/x.py"], workspace) == ["lib", "plugin"]


def test_an_extra_named_in_a_requirement_is_followed(tmp_path: Path) -> None:
    """app needs core[db] and core's db extra needs driver: a driver change tests app too."""
    _write_package(tmp_path, "driver")
    _write_package(tmp_path, "core", extras={"db": ["driver>=0.1,<0.2"]})
    _write_package(tmp_path, "app", dependencies=["core[db]>=0.1,<0.2"])
    _write_package(tmp_path, "plain", dependencies=["core>=0.1,<0.2"])
    workspace = load_workspace(tmp_path)
    assert set(affected_packages(["packages/driver/a.py"], workspace)) == {"driver", "core", "app"}


def test_matrix_cli_prints_json_and_writes_github_output(root: Path, tmp_path: Path) -> None:
    """--json prints {"include": [{package, python}, ...]}; $GITHUB_OUTPUT gets matrix= and
    count= lines a workflow can read."""
    output = tmp_path / "github_output"
    result = subprocess.run(
        [
            sys.executable,
            str(root / "infra" / "ci" / "matrix.py"),
            "--changed",
            "packages/mp-cache/src/mp_cache/_cache.py",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GITHUB_OUTPUT": str(output)},
    )
    matrix = json.loads(result.stdout)
    assert set(matrix) == {"include"}
    assert sorted(matrix["include"], key=lambda item: (item["package"], item["python"])) == [
        {"package": package, "python": python}
        for package in ("mp-cache", "mp-db")
        for python in ("3.11", "3.12", "3.13")
    ]
    lines = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert json.loads(lines["matrix"]) == matrix
    assert lines["count"] == "6"


def _git(folder: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.invalid", *arguments],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_changed_files_come_from_git(tmp_path: Path) -> None:
    """--base/--head diffs two commits (three dots); an all-zero base (a branch's first push)
    means "unknown", which the CLI turns into every package."""
    _write_package(tmp_path, "solo")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "base")
    base = _git(tmp_path, "rev-parse", "HEAD")
    (tmp_path / "packages" / "solo" / "src" / "solo" / "new.py").write_text("")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "change")
    assert changed_files(tmp_path, base, "HEAD") == ["packages/solo/src/solo/new.py"]
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "untracked.md").write_text("")
    assert changed_files(tmp_path, "HEAD", None) == ["docs/untracked.md"]
    assert changed_files(tmp_path, "0" * 40, "HEAD") is None
    assert changed_files(tmp_path, "no-such-revision", "HEAD") is None


# --- check-ranges ------------------------------------------------------------------------------


def test_real_sibling_ranges_admit_the_current_versions(real: Workspace) -> None:
    """The repository's own ranges, extras, Pythons and runtime DAG pass check-ranges."""
    assert check_ranges(real) == []


def test_ranges_refuse_a_range_that_excludes_the_sibling_version(tmp_path: Path) -> None:
    """base is 0.2.0 but app still asks for <0.2: a release of both would not resolve."""
    _write_package(tmp_path, "base", version="0.2.0")
    _write_package(tmp_path, "app", dependencies=["base>=0.1,<0.2"])
    problems = check_ranges(load_workspace(tmp_path))
    assert len(problems) == 1
    assert "does not admit base 0.2.0" in problems[0]


def test_ranges_refuse_a_pre_release_of_the_upper_bound(tmp_path: Path) -> None:
    """<0.2 does not admit 0.2.0a1 (PEP 440), so bumping base to a pre-release needs app's
    range widened too."""
    _write_package(tmp_path, "base", version="0.2.0a1")
    _write_package(tmp_path, "app", extras={"test": ["base>=0.1,<0.2"]})
    assert "does not admit base 0.2.0a1" in " ".join(check_ranges(load_workspace(tmp_path)))


def test_ranges_refuse_a_cycle_in_runtime_dependencies(tmp_path: Path) -> None:
    """a -> b -> a among [project].dependencies is reported with its path."""
    _write_package(tmp_path, "a", dependencies=["b>=0.1,<0.2"])
    _write_package(tmp_path, "b", dependencies=["a>=0.1,<0.2"])
    problems = check_ranges(load_workspace(tmp_path))
    assert problems == [
        "[project].dependencies form a cycle: a -> b -> a (a runtime dependency graph must be "
        "a DAG; move the back edge to an extra)"
    ]


def test_a_test_extra_pointing_back_is_not_a_cycle(tmp_path: Path) -> None:
    """plugin depends on lib at runtime and lib's tests use plugin: allowed."""
    _write_package(tmp_path, "lib", extras={"test": ["plugin>=0.1,<0.2"]})
    _write_package(tmp_path, "plugin", dependencies=["lib>=0.1,<0.2"])
    assert check_ranges(load_workspace(tmp_path)) == []


def test_ranges_refuse_urls_unbounded_ranges_and_missing_extras(tmp_path: Path) -> None:
    """A sibling as a path, without an upper bound, or with an extra it lacks is refused."""
    _write_package(tmp_path, "base")
    _write_package(
        tmp_path,
        "app",
        dependencies=["base[nope]>=0.1,<0.2"],
        extras={"test": ["base>=0.1"], "local": ["base @ file:///tmp/base"]},
    )
    problems = " | ".join(check_ranges(load_workspace(tmp_path)))
    assert "asks for extra [nope]" in problems
    assert "needs a lower and an upper bound" in problems
    assert "is a URL" in problems


def test_ranges_refuse_a_sibling_that_drops_a_supported_python(tmp_path: Path) -> None:
    """app supports 3.11 but its dependency base requires 3.12: app on 3.11 cannot install."""
    _write_package(tmp_path, "base", requires_python=">=3.12", pythons=("3.12",))
    _write_package(tmp_path, "app", dependencies=["base>=0.1,<0.2"], pythons=("3.11", "3.12"))
    problems = check_ranges(load_workspace(tmp_path))
    assert len(problems) == 1
    assert "supports Python 3.11 but base requires-python '>=3.12'" in problems[0]


def test_ranges_cli_exit_status(root: Path, tmp_path: Path) -> None:
    """`python infra/ci/ranges.py` exits 0 on the real tree and 1 with a message on a bad one."""
    script = str(root / "infra" / "ci" / "ranges.py")
    good = subprocess.run([sys.executable, script], capture_output=True, text=True, check=False)
    assert good.returncode == 0, good.stderr
    _write_package(tmp_path, "base", version="1.0.0")
    _write_package(tmp_path, "app", dependencies=["base>=0.1,<0.2"])
    bad = subprocess.run(
        [sys.executable, script, "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert "does not admit base 1.0.0" in bad.stderr


VERSIONS = [
    "0.0.9", "0.1", "0.1.0", "0.1.0.post1", "0.1.5", "0.2.0.dev1", "0.2.0a1", "0.2.0",
    "0.2.0.post2",
    "1.0.0rc1", "1.0", "1.0+local", "1.0.post1", "1.0.post1+x", "1.0a1", "1.0.dev3",
    "1.0.post2.dev1", "1.0.post3", "2.0.dev0", "2.0", "1!0.1",
]  # fmt: skip
SPECIFIERS = [
    "", ">=0.1,<0.2", "~=0.1", "~=0.1.0", "==0.1.*", "!=0.1.0", ">0.1.0", "<0.2", "<=0.2.0",
    "==1.0", "==1.0+local", ">=1.0.0rc1", ">=0.1.0.post1", "<1.0", ">1.0", "~=1.0", "!=1.0.*",
    "<2.0", ">0.2.0a1", "===1.0", ">=0.1,!=0.1.5,<1", "<1.0.post2", ">1.0.post1", ">1.0.dev1",
    "<1.0a2", ">1.0a1", "<=1.0", "==1.0.0",
]  # fmt: skip


@pytest.mark.parametrize("specifier", SPECIFIERS)
def test_specifier_check_agrees_with_packaging(specifier: str) -> None:
    """The specifier check gives packaging's answer with pre-releases admitted (the scripts'
    rule) for every version of a grid that covers pre, post, dev, local and epoch versions."""
    reference = SpecifierSet(specifier)
    for version in VERSIONS:
        expected = reference.contains(PackagingVersion(version), prereleases=True)
        assert specifier_admits(specifier, version) == expected, (specifier, version)


def test_requirement_parsing() -> None:
    """Name (normalized), extras, specifier, URL and marker are split out of PEP 508 strings."""
    requirement = parse_requirement("MP_Config[SQLAlchemy] >=0.1, <0.2 ; python_version>'3'")
    assert requirement.name == "mp-config"
    assert requirement.extras == frozenset({"sqlalchemy"})
    assert SpecifierSet(requirement.specifier) == SpecifierSet(">=0.1, <0.2")
    assert requirement.marker == 'python_version > "3"'
    assert parse_requirement("mp-db @ file:///x").url == "file:///x"


# --- changelogs --------------------------------------------------------------------------------


def test_real_changelogs_have_a_section_per_current_version(real: Workspace) -> None:
    """Each package's CHANGELOG.md names the version in its _version.py."""
    assert check_changelogs(real) == []


def test_changelog_without_the_current_version_is_refused(tmp_path: Path) -> None:
    """Bumping _version.py without a changelog section fails; --final also refuses a section
    still marked unreleased."""
    _write_package(tmp_path, "bumped", version="0.2.0", changelog="## 0.1.0\n\n- Old.\n")
    _write_package(tmp_path, "pending")
    _write_package(tmp_path, "dated", changelog="## [{version}] - 2025-01-31\n\n- Done.\n")
    workspace = load_workspace(tmp_path)
    assert "no '## 0.2.0' section" in changelog_problems(workspace.packages["bumped"])[0]
    assert changelog_problems(workspace.packages["pending"]) == []
    assert "unreleased" in changelog_problems(workspace.packages["pending"], final=True)[0]
    assert changelog_problems(workspace.packages["dated"], final=True) == []


# --- the workflow and the noxfile --------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow(root: Path) -> dict[str, Any]:
    """.github/workflows/ci.yml, parsed."""
    loaded = yaml.safe_load((root / ".github" / "workflows" / "ci.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _runs(job: Mapping[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job["steps"])


def test_workflow_jobs_and_matrix_wiring(workflow: dict[str, Any]) -> None:
    """A matrix job computes the pairs with infra/ci/matrix.py; the test job takes its matrix
    from that job's output and is skipped when it is empty; a checks job lints and types."""
    assert set(workflow["jobs"]) == {"matrix", "checks", "test"}
    matrix_job = workflow["jobs"]["matrix"]
    assert "python infra/ci/matrix.py --base" in _runs(matrix_job)
    assert matrix_job["steps"][0]["with"]["fetch-depth"] == 0
    assert "matrix" in matrix_job["outputs"]
    test_job = workflow["jobs"]["test"]
    assert test_job["needs"] == "matrix"
    assert test_job["strategy"]["matrix"] == "${{ fromJSON(needs.matrix.outputs.matrix) }}"
    assert "count" in test_job["if"]
    assert "lint typecheck" in _runs(workflow["jobs"]["checks"])
    assert "release-check" in _runs(workflow["jobs"]["checks"])


def test_workflow_runs_test_and_alone_on_the_matrix_python(workflow: dict[str, Any]) -> None:
    """Each pair brings the native stack up, then runs test and alone for its package with
    --force-python set to its Python."""
    runs = _runs(workflow["jobs"]["test"])
    assert "nox -s up migrate" in runs
    for session in ("test", "alone"):
        assert f"""-s "{session}(package='${{{{ matrix.package }}}}')\"""" in runs
    assert runs.count('--force-python "${{ matrix.python }}"') == 2
    assert workflow["jobs"]["test"]["env"]["MP_STACK_BACKEND"] == "native"


def test_noxfile_has_release_check_and_lint_runs_deps_check(root: Path) -> None:
    """release-check is a nox session; lint runs the deps check."""
    tree = ast.parse((root / "noxfile.py").read_text())
    sessions = {
        node.name: ast.unparse(node)
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any("nox.session" in ast.unparse(decorator) for decorator in node.decorator_list)
    }
    assert "name='release-check'" in sessions["release_check"]
    for script in ("ranges.py", "deps_check.py", "changelog.py"):
        assert script in sessions["release_check"]
    assert "twine" in sessions["release_check"]
    assert "deps_check.py" in sessions["lint"]
