"""Every workflow of the mp monorepo.

    python3 -m nox -s up migrate     bring the stack up (compose or native) and migrate
    python3 -m nox -s test           every package's tests (``-s "test(package='mp-db')"`` for one)
    python3 -m nox                   lint, typecheck, test (the default list)
    python3 -m nox -s down           stop the stack (``-- --purge`` also deletes its data)
    python3 -m nox -s backup         back up the native cluster (pgBackRest); ``restore`` restores

Sessions stay thin: the work is done by the packages' own commands (``mp-stack``, ``mp-schema``)
and by pytest.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
PACKAGES_DIR = ROOT / "packages"
DIST_DIR = ROOT / "dist"

#: Distribution name -> import name, in dependency order.
PACKAGES: dict[str, str] = {
    "mp-config": "mp_config",
    "mp-schema": "mp_schema",
    "mp-stack": "mp_stack",
    "mp-testing": "mp_testing",
    "mp-db": "mp_db",
    "mp-cache": "mp_cache",
}
#: What ``test`` runs: every package, plus the repository-level checks in infra/tests.
TEST_TARGETS = [*PACKAGES, "infra"]
#: mp's own reliability-scenario plugin (markers, ``--reliability``, the report): installed
#: beside the packages for mp's suites, never released, so no downstream repository gets it.
RELIABILITY_PLUGIN = ROOT / "infra" / "reliability"

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "test"]
nox.options.reuse_venv = "yes"
nox.options.error_on_external_run = True


def _env() -> dict[str, str]:
    """Point every session at the repository's .env, whatever folder pytest runs from."""
    env_file = ROOT / ".env"
    return {"MP_ENV_FILE": str(env_file) if env_file.is_file() else ""}


def _existing_packages() -> list[str]:
    return [name for name in PACKAGES if (PACKAGES_DIR / name / "pyproject.toml").is_file()]


def _install_workspace(session: nox.Session, *, extras: str = "test") -> None:
    """Install every package editable in one resolver call, so siblings resolve to the tree,
    and the reliability plugin mp's suites mark their scenarios with."""
    arguments: list[str] = []
    for name in _existing_packages():
        suffix = f"[{extras}]" if extras else ""
        arguments += ["-e", f"{PACKAGES_DIR / name}{suffix}"]
    session.install(*arguments, "-e", str(RELIABILITY_PLUGIN))


def _install_tools(session: nox.Session) -> None:
    """Only what the stack commands need: settings, schema and mp-stack (no pytest plugin)."""
    session.install(
        "-e",
        str(PACKAGES_DIR / "mp-config"),
        "-e",
        str(PACKAGES_DIR / "mp-schema"),
        "-e",
        str(PACKAGES_DIR / "mp-stack"),
    )


@nox.session
def up(session: nox.Session) -> None:
    """Start the stack (compose if a Docker engine answers, else native) and wait for health."""
    _install_tools(session)
    session.run("mp-stack", "--project-dir", str(ROOT), "up", env=_env())


@nox.session
def down(session: nox.Session) -> None:
    """Stop what ``up`` started; ``nox -s down -- --purge`` also deletes the data."""
    _install_tools(session)
    session.run("mp-stack", "--project-dir", str(ROOT), "down", *session.posargs, env=_env())


@nox.session
def status(session: nox.Session) -> None:
    """Report every service: backend, address, health, TimescaleDB version and license, and
    the native cluster's last backup and WAL archive lag."""
    _install_tools(session)
    session.run("mp-stack", "--project-dir", str(ROOT), "status", env=_env())


@nox.session
def backup(session: nox.Session) -> None:
    """Back up the native cluster with pgBackRest: ``-- --type full|diff|incr`` (default incr,
    full when there is none), ``-- --verify`` also checks every checksum in the repository."""
    _install_tools(session)
    session.run("mp-stack", "--project-dir", str(ROOT), "backup", *session.posargs, env=_env())


@nox.session
def restore(session: nox.Session) -> None:
    """Restore the native cluster from its backups, replacing its data: to the newest archived
    commit, or ``-- --to 2026-12-01T20:30:00Z`` to a point in time (docs/operations.md)."""
    _install_tools(session)
    session.run("mp-stack", "--project-dir", str(ROOT), "restore", *session.posargs, env=_env())


@nox.session
def migrate(session: nox.Session) -> None:
    """Upgrade the database named by .env to the newest schema (``-- REVISION`` for another)."""
    _install_tools(session)
    revision = session.posargs[0] if session.posargs else "head"
    session.run("mp-schema", "upgrade", revision, env=_env())


@nox.session
@nox.parametrize("package", TEST_TARGETS)
def test(session: nox.Session, package: str) -> None:
    """Run one package's tests from its own folder against real services."""
    _install_workspace(session)
    if package == "infra":
        session.install("pyyaml>=6")
        # The real Compose v2 validator; the test skips (or fails in CI) if it cannot be had.
        session.run(
            "bash",
            str(ROOT / "infra" / "tools" / "get-docker-compose.sh"),
            external=True,
            success_codes=[0, 1, 100],
        )
        folder = ROOT / "infra"
    else:
        folder = PACKAGES_DIR / package
    if not (folder / "tests").is_dir():
        session.error(f"{folder} has no tests: every package must have some")
    session.chdir(folder)
    session.run("pytest", *session.posargs, env=_env())


@nox.session
def erd(session: nox.Session) -> None:
    """Regenerate the schema diagram: docs/schema-erd.dot from the models, .svg with Graphviz."""
    _install_tools(session)
    if shutil.which("dot") is None:
        session.error("Graphviz's `dot` is needed: apt-get install graphviz")
    dot_file = ROOT / "docs" / "schema-erd.dot"
    text = session.run(
        "python",
        "-c",
        "import sys; from mp_schema import erd_dot, metadata; sys.stdout.write(erd_dot(metadata))",
        silent=True,
    )
    dot_file.write_text(str(text))
    session.run(
        "dot", "-Tsvg", "-o", str(dot_file.with_suffix(".svg")), str(dot_file), external=True
    )
    session.log(f"wrote {dot_file} and {dot_file.with_suffix('.svg')}")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree."""
    # deps_check reads requirements with packaging (nox's own dependency, not ruff's).
    session.install("ruff>=0.8", "packaging>=24")
    session.run("ruff", "check", str(ROOT))
    session.run("ruff", "format", "--check", str(ROOT))
    session.run("python", str(ROOT / "infra" / "ci" / "deps_check.py"))  # imports vs declared


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict, one package at a time (test folders share module names)."""
    _install_workspace(session)
    # pyarrow-stubs: pyarrow ships no types, so mp-db's Arrow tables would be Any to mypy.
    stubs = ("types-PyYAML", "pandas-stubs", "pyarrow-stubs")
    session.install("mypy>=1.13", "nox", "pyyaml>=6", *stubs)
    config = str(ROOT / "pyproject.toml")
    for name, module in PACKAGES.items():
        folder = PACKAGES_DIR / name
        if not folder.is_dir():
            continue
        session.run(
            "mypy", "--config-file", config, str(folder / "src" / module), str(folder / "tests")
        )
        if (folder / "bench").is_dir():
            session.run("mypy", "--config-file", config, str(folder / "bench"))
    session.run("mypy", "--config-file", config, str(ROOT / "noxfile.py"))
    session.run(
        "mypy",
        "--config-file",
        config,
        str(ROOT / "infra" / "tests"),
        str(ROOT / "infra" / "tools"),
    )
    session.run("mypy", "--config-file", config, str(RELIABILITY_PLUGIN / "src" / "mp_reliability"))


def _build_into(session: nox.Session, target: Path) -> None:
    session.install("hatchling>=1.25")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for name in _existing_packages():
        session.chdir(PACKAGES_DIR / name)
        session.run(
            "python",
            "-m",
            "hatchling",
            "build",
            "-t",
            "wheel",
            "-t",
            "sdist",
            "-d",
            str(target),
            silent=True,
        )
    session.chdir(ROOT)


@nox.session
def build(session: nox.Session) -> None:
    """Build every package's wheel and sdist into dist/ with hatch's build backend.

    ``hatchling build`` runs in this session's environment; ``hatch build`` would first create
    and sync an environment of its own per package, which adds a network round trip per
    package and once failed here without saying why (hatchling missing from that environment).
    """
    _build_into(session, DIST_DIR)
    built = sorted(path.name for path in DIST_DIR.iterdir())
    session.log("built:\n  " + "\n  ".join(built))


@nox.session(reuse_venv=False)
@nox.parametrize("package", list(PACKAGES))
def alone(session: nox.Session, package: str) -> None:
    """Install one package's wheel (and the sibling wheels it declares) into a fresh
    environment, ``pip check`` it, import it and run its tests against the installed wheel."""
    wheels = Path(session.create_tmp()).resolve() / "dist"
    _build_into(session, wheels)
    module = PACKAGES[package]
    wheel = next(wheels.glob(f"{module}-*.whl"))
    # Only wheels from this tree can satisfy mp-* requirements: --find-links points at them.
    # No cache: a wheel of the same name and version from an earlier build must not win.
    no_cache = "--no-cache" if session.venv_backend == "uv" else "--no-cache-dir"
    session.install(
        f"{package}[test] @ {wheel.as_uri()}",
        str(RELIABILITY_PLUGIN),  # the scenario markers of mp's suites
        "--find-links",
        str(wheels),
        "pip",
        no_cache,
    )
    session.run("python", "-m", "pip", "check")
    location = session.run(
        "python", "-c", f"import {module}; print({module}.__file__)", silent=True
    )
    if location is None or str(PACKAGES_DIR) in str(location):
        session.error(f"{module} was imported from the source tree, not from its wheel")
    session.chdir(PACKAGES_DIR / package)
    session.run("pytest", "-p", "no:cacheprovider", *session.posargs, env=_env())


@nox.session(name="release-check")
def release_check(session: nox.Session) -> None:
    """Refuse a release that would not install: sibling ranges, imports vs declared
    dependencies and changelogs (infra/ci), then every wheel and sdist built, ``twine check
    --strict``-ed and resolved together. ``-- --final`` also refuses "(unreleased)" sections."""
    scripts = ROOT / "infra" / "ci"
    # The infra/ci scripts read versions and specifiers with packaging (as the lint session).
    session.install("packaging>=24")
    session.run("python", str(scripts / "ranges.py"))
    session.run("python", str(scripts / "deps_check.py"))
    final = ["--final"] if "--final" in session.posargs else []
    session.run("python", str(scripts / "changelog.py"), *final)
    target = Path(session.create_tmp()).resolve() / "release"
    _build_into(session, target)
    session.install("twine>=5")
    session.run("twine", "check", "--strict", *sorted(str(path) for path in target.iterdir()))
    # One resolver call over all the built wheels: each sibling range must accept these files.
    session.install("--dry-run", *sorted(str(path) for path in target.glob("*.whl")))


EXAMPLE_DIR = ROOT / "examples" / "connector"
#: Every downstream example and the package it installs: a sync connector with a cache
#: (connector), one for an entity table (positioning) and an async one (curve).
EXAMPLES = {
    EXAMPLE_DIR: "fred_example",
    ROOT / "examples" / "positioning": "cot_example",
    ROOT / "examples" / "curve": "curve_example",
}

# Run in the example's environment: every mp-* distribution installed there must hold exactly
# the files of the wheel built from this tree (the RECORD hashes match), whatever index offered
# a package of the same name.
_CHECK_FROM_WHEELS = """
import sys, zipfile
from importlib import metadata
from pathlib import Path

for wheel in sorted(Path(sys.argv[1]).glob("*.whl")):
    with zipfile.ZipFile(wheel) as archive:
        record = next(n for n in archive.namelist() if n.endswith(".dist-info/RECORD"))
        lines = archive.read(record).decode().splitlines()
    rows = (line.rsplit(",", 2) for line in lines)
    built = {p: h for p, h, _ in rows if h and ".dist-info/" not in p}
    try:
        dist = metadata.distribution(wheel.name.split("-")[0])
    except metadata.PackageNotFoundError:
        print(f"{wheel.name.split('-')[0]}: not installed (no example asks for it)")
        continue
    found = {str(f): f"{f.hash.mode}={f.hash.value}" for f in dist.files or () if f.hash}
    wrong = sorted(p for p, h in built.items() if found.get(p) != h)
    if wrong:
        sys.exit(f"{dist.metadata['Name']} is not the wheel built here: {wrong[:3]}")
    print(f"{dist.metadata['Name']} {dist.version}: {len(built)} files, as built")
"""


_CHECK_NO_STACK = """
import importlib.util, sys
extra = [name for name in ("mp_stack", "mp_reliability") if importlib.util.find_spec(name)]
sys.exit(f"installed with mp-testing but not asked for: {extra}" if extra else None)
"""


@nox.session(reuse_venv=False)
def example(session: nox.Session) -> None:
    """The downstream examples (examples/connector, positioning, curve) against mp's wheels
    alone: build every wheel, install the examples into a fresh environment with
    ``--find-links`` at those wheels (their mp-* requirements can come from nowhere else),
    check that, ``pip check``, then, for each example, type-check it against the installed
    wheels' ``py.typed`` and run its tests."""
    tmp = Path(session.create_tmp()).resolve()
    wheels = tmp / "dist"
    _build_into(session, wheels)
    # No cache: a wheel of the same name and version from an earlier build must not win.
    no_cache = "--no-cache" if session.venv_backend == "uv" else "--no-cache-dir"
    session.install(
        *(f"{folder}[test]" for folder in EXAMPLES),
        "--find-links",
        str(wheels),
        "pip",
        "mypy>=1.13",
        no_cache,
    )
    check = tmp / "check_from_wheels.py"
    check.write_text(_CHECK_FROM_WHEELS)
    session.run("python", str(check), str(wheels))
    session.run("python", "-m", "pip", "check")
    # A connector that tests against the running stack installs mp-testing alone: no process
    # supervisor (mp-stack) and none of mp's own reliability reporting comes with it.
    session.run("python", "-c", _CHECK_NO_STACK)
    for folder, module in EXAMPLES.items():
        location = session.run(
            "python", "-c", f"import {module}; print({module}.__file__)", silent=True
        )
        if location is None or str(folder) in str(location):
            session.error(f"{module} was imported from the source tree, not from its wheel")
        session.chdir(folder)
        session.run("mypy", "--cache-dir", str(tmp / "mypy" / module), "src", "tests")
        session.run("pytest", "-p", "no:cacheprovider", *session.posargs, env=_env())


@nox.session
def reliability(session: nox.Session) -> None:
    """Every reliability scenario (slow ones included), package by package, then a summary:
    scenarios per suite, crash/restart cycles survived, rows verified, lost and duplicate rows
    (both must be 0). The summary is also written to docs/reliability/last-run.md."""
    _install_workspace(session)
    session.install("pyyaml>=6")
    report = ROOT / ".mp" / "reliability.jsonl"
    report.parent.mkdir(exist_ok=True)
    report.unlink(missing_ok=True)
    for target in TEST_TARGETS:
        folder = ROOT / "infra" if target == "infra" else PACKAGES_DIR / target
        session.chdir(folder)
        session.run(
            "pytest",
            "--reliability",
            "-p",
            "no:cacheprovider",
            *session.posargs,
            env={**_env(), "MP_TESTING_REPORT": str(report)},
        )
    session.chdir(ROOT)
    session.run(
        "python",
        str(ROOT / "infra" / "tools" / "reliability_summary.py"),
        str(report),
        "--markdown",
        str(ROOT / "docs" / "reliability" / "last-run.md"),
    )


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site into site/ with MkDocs (mkdocs.yml): strict, so a warning,
    a broken link or anchor or a missing included file fails the build. The API reference is
    generated from the packages' docstrings (mkdocstrings reads their src/ folders)."""
    _install_workspace(session, extras="")
    # ruff formats the rendered signatures; MkDocs 2 drops the plugin system these rely on.
    session.install(
        "mkdocs>=1.6,<2", "mkdocs-material>=9.5,<10", "mkdocstrings[python]>=0.27", "ruff>=0.8"
    )
    session.chdir(ROOT)
    session.run(
        "mkdocs",
        "build",
        "--strict",
        "--config-file",
        str(ROOT / "mkdocs.yml"),
        "--site-dir",
        str(ROOT / "site"),
        env={"NO_MKDOCS_2_WARNING": "1"},  # material's banner about its successor, not ours
    )


@nox.session
def bench(session: nox.Session) -> None:
    """mp's benchmarks, each against the limit and against what users write by hand, side by
    side in one run: mp-db (ingest, as-of reads, growth) and mp-cache (cached reads vs raw
    MGET, rate limiter). Results (JSON, Markdown, the growth plot) go to docs/performance/.
    ``nox -s bench -- --quick`` runs small sizes. ``nox -s bench -- peers`` (or ``db``,
    ``schema-cost``, ``cache``, several allowed) runs only those; with ``peers`` alone, other
    options go to bench_peers.py (``--shapes latest,backtest --peers polars --no-ingest``).
    A benchmark never fails because of speed."""
    _install_workspace(session)
    session.install("matplotlib>=3.8", "hiredis>=2.3")
    # The peers a researcher would use instead of mp: bench-only, never a package dependency.
    session.install(
        "arcticdb>=5", "duckdb>=1.1", "polars>=1.10", "pyarrow>=17", "pandas>=2.2", "numpy>=1.26"
    )
    out = ROOT / "docs" / "performance"
    out.mkdir(parents=True, exist_ok=True)
    quick = ["--quick"] if "--quick" in session.posargs else []
    names = ("db", "peers", "schema-cost", "cache")
    chosen = [name for name in names if name in session.posargs] or list(names)
    rest = [arg for arg in session.posargs if arg not in {*names, "--quick"}]
    if rest and chosen != ["peers"]:
        session.error(f"options {rest} are for bench_peers.py alone: add 'peers' only")
    env = {"MP_ENV_FILE": ""}
    session.chdir(PACKAGES_DIR / "mp-db" / "bench")
    if "db" in chosen:
        session.run("python", "bench_db.py", "--out", str(out), *quick, env=env)
    if "peers" in chosen:
        session.run("python", "bench_peers.py", "--out", str(out), *quick, *rest, env=env)
    if "schema-cost" in chosen:
        session.run("python", "bench_schema_cost.py", "--out", str(out), *quick, env=env)
    if "cache" in chosen:
        session.chdir(PACKAGES_DIR / "mp-cache" / "bench")
        session.run("python", "bench_cache.py", "--out", str(out), *quick, env=env)
