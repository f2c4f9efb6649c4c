"""The pytest plugin, exercised the way a downstream repository uses it (through pytester)."""

from __future__ import annotations

import pytest

from mp_config import PostgresSettings, RedisSettings, docker_engine_available
from mp_testing.fixtures import TestDatabase


def test_mp_database_is_migrated_and_private(mp_database: TestDatabase) -> None:
    """The per-test database has the timescaledb extension and mp's schema revision."""
    with mp_database.connect() as connection:
        extension = connection.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert extension is not None
    assert revision is not None
    assert mp_database.settings.database == mp_database.name


def test_mp_pg_settings_point_at_the_test_database(
    mp_pg_settings: PostgresSettings, mp_database: TestDatabase
) -> None:
    """mp_pg_settings is the settings object aimed at this test's database."""
    assert mp_pg_settings.database == mp_database.name
    assert mp_pg_settings.sync_url().database == mp_database.name


def test_redis_settings_have_a_private_prefix(mp_redis: RedisSettings) -> None:
    """Each test gets a key prefix of its own."""
    assert mp_redis.key_prefix.startswith("mp-test:")


def test_databases_are_isolated_between_tests(pytester: pytest.Pytester) -> None:
    """A table created in one test does not exist in the next one's database."""
    pytester.makepyfile(
        """
        def test_first(mp_database):
            with mp_database.connect() as connection:
                connection.execute("CREATE TABLE leftover (id int)")

        def test_second(mp_database):
            with mp_database.connect() as connection:
                row = connection.execute("SELECT to_regclass('public.leftover')").fetchone()
            assert row == (None,)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_redis_keys_are_removed_after_each_test(pytester: pytest.Pytester) -> None:
    """Keys a test wrote under its prefix are gone when the next test looks."""
    pytester.makepyfile(
        """
        import redis

        SEEN = []

        def _command(settings, *parts):
            password = settings.password.get_secret_value() if settings.password else None
            with redis.Redis(settings.host, settings.port, password=password) as client:
                return client.execute_command(*parts)

        def test_write(mp_redis):
            _command(mp_redis, "SET", mp_redis.key_prefix + "k", "v")
            SEEN.append(mp_redis.key_prefix)

        def test_gone(mp_redis):
            assert _command(mp_redis, "EXISTS", SEEN[0] + "k") == 0
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_license_marker_skips_on_apache(
    pytester: pytest.Pytester, mp_timescaledb_license: str
) -> None:
    """A test marked timescale_license is skipped with the reason on an Apache-2 server."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.timescale_license
        def test_needs_compression():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    if mp_timescaledb_license == "timescale":
        result.assert_outcomes(passed=1)
    else:
        result.assert_outcomes(skipped=1)
        result.stdout.fnmatch_lines(["*license is 'apache'*"])


def test_native_backend_can_be_forced(pytester: pytest.Pytester) -> None:
    """MP_TESTING_BACKEND=native starts a throwaway cluster instead of using the stack."""
    pytester.makepyfile(
        """
        def test_backend(mp_postgres_server):
            assert mp_postgres_server.backend == "native"
            assert mp_postgres_server.cluster is not None
            assert mp_postgres_server.settings.user == "mp_test_owner"
        """
    )
    pytester._monkeypatch.setenv("MP_TESTING_BACKEND", "native")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_unavailable_service_skips_or_fails(pytester: pytest.Pytester) -> None:
    """A configured server that does not answer fails the tests that need it, required or not;
    one that is not configured and cannot be had skips them, or fails when required."""
    pytester.makepyfile(
        """
        def test_needs_db(mp_postgres_server):
            pass
        """
    )
    pytester._monkeypatch.setenv("MP_TESTING_BACKEND", "settings")
    pytester._monkeypatch.setenv("MP_ENV_FILE", "")
    pytester._monkeypatch.setenv("MP_PG_PORT", "1")
    pytester._monkeypatch.setenv("MP_TESTING_REQUIRE_SERVICES", "false")
    configured = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    configured.assert_outcomes(errors=1)
    configured.stdout.fnmatch_lines(["*no PostgreSQL with TimescaleDB*"])
    if docker_engine_available():
        pytest.skip("a Docker engine answers here: the container backend would not fail")
    pytester._monkeypatch.delenv("MP_PG_PORT")
    pytester._monkeypatch.setenv("MP_TESTING_BACKEND", "container")
    skipped = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    skipped.assert_outcomes(skipped=1)
    skipped.stdout.fnmatch_lines(["*no Docker engine answers*"])
    pytester._monkeypatch.setenv("MP_TESTING_REQUIRE_SERVICES", "true")
    failed = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    failed.assert_outcomes(errors=1)


def test_connector_fixtures_from_the_readme(pytester: pytest.Pytester) -> None:
    """The README's conftest.py: mp_db_client on a migrated database, mp_source registered
    from an overridden mp_source_spec, mp_redis with its own prefix."""
    pytester.makeconftest(
        """
        import pytest

        from mp_db import SourceSpec


        @pytest.fixture
        def mp_source_spec() -> SourceSpec:
            return SourceSpec(
                code="cftc", name="CFTC", source_type="regulator", vintage_capability="not_revised"
            )
        """
    )
    pytester.makepyfile(
        """
        def test_registered(mp_db_client, mp_source, mp_redis):
            assert mp_db_client.catalog.source_ids(["cftc"]) == {"cftc": mp_source}
            assert mp_db_client.health().schema_revision is not None
            assert mp_redis.key_prefix.startswith("mp-test:")
        """
    )
    pytester._monkeypatch.setenv("MP_TESTING_BACKEND", "native")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
