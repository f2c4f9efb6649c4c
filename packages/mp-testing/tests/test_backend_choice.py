"""Where the tests run is said, chosen explicitly, and never silently replaced."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from mp_stack.native import free_port
from mp_testing import start_throwaway_postgres
from mp_testing._postgres_server import PostgresServer, _native

USES_POSTGRES = """
def test_uses_the_database(mp_pg_settings):
    assert mp_pg_settings.database.startswith("mp_t_")
"""


def _configure(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    """Configure MP_PG_* in the environment only (no .env), as a connector's CI might."""
    monkeypatch.setenv("MP_ENV_FILE", "")
    monkeypatch.delenv("MP_TESTING_BACKEND", raising=False)
    monkeypatch.delenv("MP_TESTING_REQUIRE_SERVICES", raising=False)
    for name in list(os.environ):
        if name.startswith("MP_PG_"):
            monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(f"MP_PG_{name.upper()}", value)


def test_a_stopped_configured_stack_fails_with_the_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MP_PG_* configured and nothing listening: an error saying so and what to run, not a
    pass against a throwaway server."""
    port = free_port()
    _configure(monkeypatch, port=str(port), password="stack-secret", connect_timeout="2")
    pytester.makepyfile(USES_POSTGRES)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert f"127.0.0.1:{port}" in output
    assert "is the stack up? run `python3 -m nox -s up`" in output
    assert "MP_PG_PORT in the environment" in output
    # Once in the error itself (the short summary may repeat it in full: pytest does with CI set).
    report = output.split("short test summary info")[0]
    assert report.count("is the stack up?") == 1
    assert "stack-secret" not in output
    assert "PostgreSQL was native" not in output


def test_a_wrong_password_fails_instead_of_falling_back(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mp_postgres_server: PostgresServer
) -> None:
    """A server that answers but refuses the password: the refusal is the failure."""
    settings = mp_postgres_server.settings
    _configure(
        monkeypatch,
        host=settings.host,
        port=str(settings.port),
        user=settings.user,
        database=settings.database,
        password="not-the-password",
    )
    pytester.makepyfile(USES_POSTGRES)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert "password authentication failed" in output
    assert "not-the-password" not in output


def test_the_header_says_where_and_the_summary_what(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ini option chooses the backend; the header prints it; the summary names the
    server the session used."""
    _configure(monkeypatch)
    pytester.makeini("[pytest]\nmp_testing_backend = native\n")
    pytester.makepyfile(USES_POSTGRES)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    output = result.stdout.str()
    assert "mp-testing: backend native (from mp_testing_backend (ini))" in output
    assert "  PostgreSQL: native only" in output
    assert "mp-testing: PostgreSQL was native at postgresql://" in output


def test_configured_and_auto_is_announced(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With MP_PG_* configured the header says that server only; a bad ini value is a usage
    error naming the choices."""
    _configure(monkeypatch, port="6")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert (
        "PostgreSQL: configured (MP_PG_PORT in the environment): that server only"
        in result.stdout.str()
    )
    pytester.makeini("[pytest]\nmp_testing_backend = docker\n")
    bad = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert bad.ret != 0
    assert "use one of auto, settings, container, native" in bad.stderr.str()


def test_throwaway_servers_leave_no_folder() -> None:
    """Destroying a throwaway cluster deletes the temporary folder mkdtemp made for it (not
    only the cluster inside it), and the session server's folder goes with close()."""
    server = start_throwaway_postgres(lambda settings: None)
    folder = server.cluster.root.parent
    assert folder.name.startswith("mp-fault-pg-")
    assert Path(tempfile.gettempdir()) in folder.parents
    server.destroy()
    assert not folder.exists()

    native = _native()
    assert native.cluster is not None
    native_folder = native.cluster.root.parent
    assert native_folder.name.startswith("mp-testing-pg-")
    native.close()
    assert not native_folder.exists()
