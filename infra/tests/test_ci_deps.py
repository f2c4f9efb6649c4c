"""infra/ci/deps_check.py: a package imports only what it declares, because `nox -s alone`
installs nothing else. The last test shows the failure itself in a clean environment."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from deps_check import check_workspace, distribution_for
from workspace import Package, load_package, load_workspace


def _write_package(
    root: Path,
    name: str,
    *,
    dependencies: Sequence[str] = (),
    extras: Mapping[str, Sequence[str]] | None = None,
    files: Mapping[str, str] | None = None,
    version: str = "0.1.0",
) -> Path:
    """A package folder whose src/ and tests/ hold ``files`` (paths relative to the folder)."""
    folder = root / "packages" / name
    module = name.replace("-", "_")
    sources = {f"src/{module}/__init__.py": "", **(files or {})}
    for relative, text in sources.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    optional = "\n".join(
        f"{extra} = {json.dumps(list(items))}" for extra, items in (extras or {}).items()
    )
    (folder / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "{version}"\nrequires-python = ">=3.11"\n'
        f"dependencies = {json.dumps(list(dependencies))}\n"
        f"[project.optional-dependencies]\n{optional}\n"
    )
    return folder


def test_real_packages_import_only_what_they_declare(root: Path) -> None:
    """Every import in packages/*/src and tests is the stdlib, the package itself, or a
    distribution its pyproject declares (tests: runtime plus the test extra)."""
    assert check_workspace(load_workspace(root)) == []


def test_undeclared_sibling_import_is_reported(tmp_path: Path) -> None:
    """app imports lib at module level without declaring it: one problem, naming the file,
    line, module and distribution."""
    _write_package(tmp_path, "lib")
    _write_package(
        tmp_path,
        "app",
        files={"src/app/core.py": "from __future__ import annotations\nimport lib\n"},
    )
    assert check_workspace(load_workspace(tmp_path)) == [
        "app: src/app/core.py:2 imports lib (lib), not declared: add it to [project].dependencies"
    ]


def test_declared_sibling_import_is_accepted(tmp_path: Path) -> None:
    """The same import with lib declared (any range, with extras) is fine."""
    _write_package(tmp_path, "lib")
    _write_package(
        tmp_path,
        "app",
        dependencies=["lib[fast]>=0.1,<0.2"],
        files={"src/app/core.py": "import lib.sub\nfrom lib import thing\n"},
    )
    assert check_workspace(load_workspace(tmp_path)) == []


def test_extras_may_only_be_imported_lazily(tmp_path: Path) -> None:
    """pandas is an extra: importing it in a function, under TYPE_CHECKING or guarded by
    ``except ImportError`` is fine; at module level it is not (the wheel alone lacks it)."""
    lazy = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import pandas\n"
        "try:\n    import pandas as pd\nexcept ImportError:\n    pd = None\n"
        "def frame() -> None:\n    import pandas\n"
    )
    eager = "import pandas\n"
    _write_package(
        tmp_path,
        "app",
        extras={"pandas": ["pandas>=2"]},
        files={"src/app/lazy.py": lazy, "src/app/eager.py": eager},
    )
    problems = check_workspace(load_workspace(tmp_path))
    assert len(problems) == 1
    assert problems[0].startswith("app: src/app/eager.py:1 imports pandas (pandas), only in extra")


def test_broad_except_does_not_make_an_import_optional(tmp_path: Path) -> None:
    """``try: import x / except Exception`` is not an optional import: x must be declared."""
    source = "try:\n    import redis\nexcept Exception:\n    pass\n"
    _write_package(tmp_path, "app", files={"src/app/x.py": source})
    assert "imports redis (redis), not declared" in check_workspace(load_workspace(tmp_path))[0]


def test_tests_may_use_runtime_test_extra_and_local_modules(tmp_path: Path) -> None:
    """Tests can import pytest from the test extra and their own helpers/conftest; hypothesis,
    declared nowhere, and pandas, in a non-test extra, are reported."""
    test_source = (
        "import pytest\nimport helpers\nfrom conftest import thing\nimport app\n"
        "import hypothesis\nimport pandas\n"
    )
    _write_package(
        tmp_path,
        "app",
        extras={"test": ["pytest>=8"], "pandas": ["pandas>=2"]},
        files={
            "tests/test_app.py": test_source,
            "tests/helpers.py": "",
            "tests/conftest.py": "thing = 1\n",
        },
    )
    problems = check_workspace(load_workspace(tmp_path))
    assert problems == [
        "app: tests/test_app.py:5 imports hypothesis (hypothesis), not declared: add it to "
        "the test extra",
        "app: tests/test_app.py:6 imports pandas (pandas), only in extra [pandas]: add it to "
        "the test extra",
    ]


def test_import_names_map_to_distribution_names(root: Path) -> None:
    """Import names that differ from distribution names, and siblings, are mapped."""
    workspace = load_workspace(root)
    assert distribution_for("pydantic_settings", workspace) == "pydantic-settings"
    assert distribution_for("yaml", workspace) == "pyyaml"
    assert distribution_for("_pytest", workspace) == "pytest"
    assert distribution_for("mp_config", workspace) == "mp-config"
    assert distribution_for("some_unknown", workspace) == "some-unknown"


def test_removing_a_real_declared_dependency_is_reported(root: Path, tmp_path: Path) -> None:
    """The acceptance case on real code: mp-cache's sources with mp-config dropped from its
    [project].dependencies fail the check at each import of mp_config."""
    for name in ("mp-config", "mp-cache"):
        source = root / "packages" / name
        shutil.copytree(source / "src", tmp_path / "packages" / name / "src")
        shutil.copy(source / "pyproject.toml", tmp_path / "packages" / name / "pyproject.toml")
    pyproject = tmp_path / "packages" / "mp-cache" / "pyproject.toml"
    text = pyproject.read_text()
    declared = '    "mp-config>=0.1,<0.2",\n'
    assert declared in text
    pyproject.write_text(text.replace(declared, ""))
    problems = check_workspace(load_workspace(tmp_path))
    assert problems
    assert all("imports mp_config (mp-config), not declared" in p for p in problems)
    assert all(p.startswith("mp-cache: src/mp_cache/") for p in problems)


def test_cli_exit_status(root: Path, tmp_path: Path) -> None:
    """`python infra/ci/deps_check.py --root DIR` exits 1 and names the import when one is
    undeclared."""
    _write_package(tmp_path, "app", files={"src/app/x.py": "import sqlalchemy\n"})
    result = subprocess.run(
        [sys.executable, str(root / "infra" / "ci" / "deps_check.py"), "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "app: src/app/x.py:1 imports sqlalchemy (sqlalchemy), not declared" in result.stderr


# --- the failure itself, in a clean environment ------------------------------------------------


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _build_wheel(package: Package, target: Path) -> Path:
    """A pure-Python wheel with the same metadata hatchling writes from [project]: the import
    package and Requires-Dist from [project].dependencies (hatchling itself is not in the test
    environment, and a wheel is a zip with three metadata files)."""
    distribution = package.name.replace("-", "_")
    info = f"{distribution}-{package.version}.dist-info"
    files: dict[str, bytes] = {}
    source = package.folder / "src" / package.import_name
    for path in sorted(source.rglob("*.py")):
        files[f"{package.import_name}/{path.relative_to(source).as_posix()}"] = path.read_bytes()
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {package.name}",
        f"Version: {package.version}",
        *(f"Requires-Dist: {requirement.text}" for requirement in package.dependencies),
    ]
    files[f"{info}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: mp-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = [_record_line(name, data) for name, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = target / f"{distribution}-{package.version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


def _run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=False
    )


@pytest.mark.skipif(
    importlib.util.find_spec("ensurepip") is None, reason="this Python has no ensurepip (venv)"
)
def test_undeclared_dependency_fails_in_a_clean_environment(tmp_path: Path) -> None:
    """What `alone` does, with two tiny local packages and no index: app 1.0 imports lib but
    does not declare it, so pip installs app alone, `pip check` passes and the import fails;
    app 1.1 declares lib, pip brings it and the import works. The deps check catches 1.0."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _write_package(tmp_path / "lib", "lib", files={"src/lib/__init__.py": "VALUE = 42\n"})
    _build_wheel(load_package(tmp_path / "lib" / "packages" / "lib"), wheels)
    app_source = {"src/app/__init__.py": "from lib import VALUE\n"}
    undeclared = _write_package(tmp_path / "v1", "app", version="1.0", files=app_source)
    _build_wheel(load_package(undeclared), wheels)
    declared = _write_package(
        tmp_path / "v2", "app", version="1.1", dependencies=["lib>=0.1,<0.2"], files=app_source
    )
    _build_wheel(load_package(declared), wheels)
    assert "imports lib (lib), not declared" in check_workspace(load_workspace(tmp_path / "v1"))[0]

    venv = tmp_path / "venv"
    created = _run(sys.executable, "-m", "venv", venv)
    assert created.returncode == 0, created.stderr
    python = venv / "bin" / "python"
    install = (python, "-m", "pip", "install", "-q", "--no-index", "--find-links", wheels)

    assert _run(*install, "app==1.0").returncode == 0
    assert _run(python, "-m", "pip", "check").returncode == 0  # pip only checks declarations
    failed = _run(python, "-c", "import app")
    assert failed.returncode != 0
    assert "No module named 'lib'" in failed.stderr

    assert _run(*install, "app==1.1").returncode == 0
    works = _run(python, "-c", "import app; print(app.VALUE)")
    assert works.returncode == 0, works.stderr
    assert works.stdout.strip() == "42"
