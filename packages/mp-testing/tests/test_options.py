"""The plugin's options: flag, environment, ini option and default, in pytest-django's order,
run the way a downstream repository runs them (through pytester)."""

from __future__ import annotations

import pytest

from mp_config import docker_engine_available

NEEDS_POSTGRES = """
def test_needs_postgres(mp_postgres_server):
    pass
"""


@pytest.fixture
def isolated(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester run with no ``MP_TESTING_*`` variable and no ``.env``: only what the test
    sets chooses anything."""
    monkeypatch.setenv("MP_ENV_FILE", "")
    for name in (
        "MP_TESTING_BACKEND",
        "MP_TESTING_REQUIRE_SERVICES",
        "MP_TESTING_KEEP_DATABASES",
    ):
        monkeypatch.delenv(name, raising=False)
    return pytester


def test_the_options_are_in_the_mp_group(isolated: pytest.Pytester) -> None:
    """``pytest --help`` lists every flag under the ``mp`` group and every ini option."""
    result = isolated.runpytest_subprocess("--help")
    output = result.stdout.str()
    assert "mp-testing: real PostgreSQL/TimescaleDB and Redis:" in output
    for name in ("backend", "require-services", "keep-databases", "postgres-image"):
        assert f"--mp-testing-{name}" in output
    for name in ("backend", "require_services", "keep_databases", "redis_image"):
        assert f"mp_testing_{name} (string):" in output


def test_the_flag_beats_the_environment_and_the_environment_the_ini(
    isolated: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The header names what chose the backend: the ini alone, the environment over the ini,
    the flag over both."""
    isolated.makeini("[pytest]\nmp_testing_backend = settings\n")
    isolated.makepyfile("def test_nothing():\n    pass\n")
    ini = isolated.runpytest_subprocess("-p", "no:cacheprovider")
    assert "mp-testing: backend settings (from mp_testing_backend (ini))" in ini.stdout.str()
    monkeypatch.setenv("MP_TESTING_BACKEND", "native")
    env = isolated.runpytest_subprocess("-p", "no:cacheprovider")
    assert "mp-testing: backend native (from MP_TESTING_BACKEND)" in env.stdout.str()
    flag = isolated.runpytest_subprocess("-p", "no:cacheprovider", "--mp-testing-backend=auto")
    assert "mp-testing: backend auto (from --mp-testing-backend)" in flag.stdout.str()


def test_require_services_from_the_ini_turns_a_skip_into_a_failure(
    isolated: pytest.Pytester,
) -> None:
    """``mp_testing_require_services = true`` in the ini makes a service that cannot be had a
    failure, and the header says so; without it the same test is skipped."""
    if docker_engine_available():
        pytest.skip("a Docker engine answers here: the container backend would not fail")
    isolated.makepyfile(NEEDS_POSTGRES)
    isolated.makeini("[pytest]\nmp_testing_backend = container\n")
    skipped = isolated.runpytest_subprocess("-p", "no:cacheprovider")
    skipped.assert_outcomes(skipped=1)
    isolated.makeini(
        "[pytest]\nmp_testing_backend = container\nmp_testing_require_services = true\n"
    )
    failed = isolated.runpytest_subprocess("-p", "no:cacheprovider")
    failed.assert_outcomes(errors=1)
    assert (
        "a service that cannot be had fails its tests (from mp_testing_require_services (ini))"
        in failed.stdout.str()
    )
    assert (
        "services are required (from mp_testing_require_services (ini)) and no PostgreSQL"
        in failed.stdout.str()
    )


def test_a_bad_ini_value_is_a_usage_error_naming_the_option(isolated: pytest.Pytester) -> None:
    """A value the setting's type refuses stops the run before any test, naming the option,
    where it was written and the value."""
    isolated.makeini("[pytest]\nmp_testing_keep_databases = maybe\n")
    isolated.makepyfile("def test_nothing():\n    pass\n")
    result = isolated.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret != 0
    error = result.stderr.str()
    assert "mp_testing_keep_databases = 'maybe' in the pytest configuration" in error
    assert "boolean" in error


def test_an_overridden_redis_prefix_is_the_one_mp_redis_uses(isolated: pytest.Pytester) -> None:
    """Overriding ``mp_redis_prefix`` in a conftest.py changes the prefix ``mp_redis`` hands
    out, and its keys are still deleted after the test."""
    isolated.makeconftest(
        """
        import secrets

        import pytest


        @pytest.fixture
        def mp_redis_prefix():
            return f"my-connector:test:{secrets.token_hex(4)}:"
        """
    )
    isolated.makepyfile(
        """
        import redis

        SEEN = []

        def _client(settings):
            password = settings.password.get_secret_value() if settings.password else None
            return redis.Redis(settings.host, settings.port, password=password)

        def test_write(mp_redis):
            assert mp_redis.key_prefix.startswith("my-connector:test:")
            with _client(mp_redis) as client:
                client.set(mp_redis.key_prefix + "k", "v")
            SEEN.append(mp_redis.key_prefix)

        def test_gone(mp_redis):
            with _client(mp_redis) as client:
                assert client.exists(SEEN[0] + "k") == 0
        """
    )
    result = isolated.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_native_without_mp_stack_skips_with_the_install_hint(isolated: pytest.Pytester) -> None:
    """Where mp-stack is not installed (a connector that tests against the running stack),
    the native backend is not an import error: the tests that need it are skipped, saying
    which extra brings the servers."""
    isolated.makeconftest(
        """
        import sys

        sys.modules["mp_stack"] = None  # as if mp-stack were not installed
        """
    )
    isolated.makepyfile(NEEDS_POSTGRES)
    result = isolated.runpytest_subprocess(
        "-p", "no:cacheprovider", "-rs", "--mp-testing-backend=native"
    )
    result.assert_outcomes(skipped=1)
    assert "pip install 'mp-testing[native]'" in result.stdout.str()
