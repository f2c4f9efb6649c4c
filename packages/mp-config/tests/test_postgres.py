"""PostgreSQL settings: defaults, URLs for both drivers, replica routing and the TLS rule."""

from __future__ import annotations

import ssl

import pytest
from sqlalchemy.engine import make_url

from mp_config import DEFAULT_PG_PORT, PostgresSettings, SettingsValidationError

AWKWARD_PASSWORDS = ["p@ss:w/rd%#", "a b+c?d&e=f", "ünï©ødé", "'quote\"s;--", "%40%3A"]


def test_default_port_avoids_the_standard_one() -> None:
    """The default port is not 5432, where a machine's own PostgreSQL usually listens."""
    settings = PostgresSettings.load()
    assert settings.port == DEFAULT_PG_PORT
    assert settings.port != 5432


@pytest.mark.parametrize("password", AWKWARD_PASSWORDS)
def test_sync_url_round_trips_any_password(password: str) -> None:
    """A password with URL-special characters survives rendering and re-parsing."""
    settings = PostgresSettings.load(password=password)
    rendered = settings.sync_url().render_as_string(hide_password=False)
    parsed = make_url(rendered)
    assert parsed.password == password
    assert parsed.drivername == "postgresql+psycopg"
    assert (parsed.host, parsed.port, parsed.database) == ("127.0.0.1", DEFAULT_PG_PORT, "mp")


@pytest.mark.parametrize("password", AWKWARD_PASSWORDS)
def test_async_url_round_trips_any_password(password: str) -> None:
    """The asyncpg URL carries the same credentials and no libpq-only query options."""
    settings = PostgresSettings.load(password=password)
    parsed = make_url(settings.async_url().render_as_string(hide_password=False))
    assert parsed.password == password
    assert parsed.drivername == "postgresql+asyncpg"
    assert "sslmode" not in parsed.query


def test_sync_url_carries_tls_and_timeouts() -> None:
    """libpq options (sslmode, certificates, timeout, application name) go in the query."""
    settings = PostgresSettings.load(
        sslmode="verify-full", sslrootcert="/etc/ca.pem", application_name="fred-loader"
    )
    query = settings.sync_url().query
    assert query["sslmode"] == "verify-full"
    assert query["sslrootcert"] == "/etc/ca.pem"
    assert query["application_name"] == "fred-loader"
    assert query["connect_timeout"] == "5"


def test_sslmode_defaults_follow_the_host() -> None:
    """Unset sslmode means plaintext on loopback and verify-full elsewhere."""
    assert PostgresSettings.load(host="localhost").effective_sslmode() == "disable"
    assert PostgresSettings.load(host="/var/run/postgresql").effective_sslmode() == "disable"
    remote = PostgresSettings.load(host="db.internal.example")
    assert remote.effective_sslmode() == "verify-full"
    assert remote.sync_url().query["sslmode"] == "verify-full"


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer", "require"])
def test_unverified_tls_off_loopback_is_refused(mode: str) -> None:
    """Off loopback, any mode that can fall back to plaintext or skip verification fails."""
    with pytest.raises(SettingsValidationError) as caught:
        PostgresSettings.load(host="10.1.2.3", sslmode=mode)
    assert "MP_PG_SSLMODE" in str(caught.value)


def test_insecure_transport_can_be_allowed_knowingly() -> None:
    """The escape hatch works, for networks the operator trusts."""
    settings = PostgresSettings.load(
        host="timescaledb", sslmode="disable", allow_insecure_transport=True
    )
    assert settings.effective_sslmode() == "disable"


def test_replica_is_checked_too() -> None:
    """A read replica off loopback is held to the same TLS rule."""
    with pytest.raises(SettingsValidationError, match="MP_PG_READ_HOST"):
        PostgresSettings.load(read_host="10.0.0.9", sslmode="require")


def test_read_url_targets_the_replica() -> None:
    """With a replica configured, read URLs go there; without one, to the primary."""
    plain = PostgresSettings.load()
    assert plain.has_replica is False
    assert plain.sync_url(read=True).port == plain.port
    routed = PostgresSettings.load(read_host="127.0.0.2", read_port=55433)
    assert routed.has_replica is True
    assert (routed.sync_url(read=True).host, routed.sync_url(read=True).port) == (
        "127.0.0.2",
        55433,
    )
    assert routed.async_url(read=True).port == 55433
    assert routed.sync_url().port == routed.port


def test_async_connect_args_map_tls_to_an_ssl_context() -> None:
    """asyncpg gets an SSLContext that verifies hostnames under verify-full."""
    settings = PostgresSettings.load(host="db.example.org", sslmode="verify-full")
    arguments = settings.async_connect_args()
    context = arguments["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname is True
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert arguments["server_settings"]["application_name"] == "mp"


def test_async_connect_args_require_encrypts_without_verifying() -> None:
    """sslmode=require matches libpq: encrypted, no certificate check."""
    context = PostgresSettings.load(sslmode="require").ssl_context()
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_NONE
    assert PostgresSettings.load().ssl_context() is False


def test_psycopg_kwargs_target_another_database() -> None:
    """Maintenance code can aim the same credentials at another database."""
    kwargs = PostgresSettings.load(password="x").psycopg_kwargs(database="postgres")
    assert kwargs["dbname"] == "postgres"
    assert kwargs["password"] == "x"
    assert kwargs["sslmode"] == "disable"


@pytest.mark.parametrize("role", ["Robert'); DROP TABLE x;--", "UPPER", "1abc", "a" * 64, ""])
def test_role_names_are_allow_listed(role: str) -> None:
    """Role names end up in DDL, so only plain lower-case identifiers are accepted."""
    with pytest.raises(SettingsValidationError, match="MP_PG_INGEST_ROLE"):
        PostgresSettings.load(ingest_role=role)


def test_every_problem_is_reported_at_once() -> None:
    """Several bad variables give one error listing each of them."""
    with pytest.raises(SettingsValidationError) as caught:
        PostgresSettings.load(port=0, pool_size=0, research_role="Bad Name")
    variables = {problem.variable for problem in caught.value.problems}
    assert variables == {"MP_PG_PORT", "MP_PG_POOL_SIZE", "MP_PG_RESEARCH_ROLE"}


def test_several_hosts_make_a_multi_host_target() -> None:
    """MP_PG_HOST lists servers in order, each with its port or MP_PG_PORT; with more than one
    a connection must land on a read-write server (never on a standby)."""
    settings = PostgresSettings.load(
        env_file=None, host="127.0.0.1:6001, 127.0.0.1", port=6002, password="pw"
    )
    assert settings.endpoints() == [("127.0.0.1", 6001), ("127.0.0.1", 6002)]
    assert settings.is_multi_host
    assert settings.effective_target_session_attrs() == "read-write"
    url = settings.sync_url()
    assert url.host is None
    assert url.query["host"] == ("127.0.0.1:6001", "127.0.0.1:6002")
    assert url.query["target_session_attrs"] == "read-write"
    assert url.query["sslmode"] == "disable"
    assert settings.async_url().query["host"] == ("127.0.0.1:6001", "127.0.0.1:6002")
    assert settings.async_connect_args()["target_session_attrs"] == "read-write"
    kwargs = settings.psycopg_kwargs()
    assert (kwargs["host"], kwargs["port"]) == ("127.0.0.1,127.0.0.1", "6001,6002")
    assert kwargs["target_session_attrs"] == "read-write"
    assert settings.display_url() == "postgresql://mp:***@127.0.0.1:6001,127.0.0.1:6002/mp"


def test_one_host_keeps_the_plain_url_and_replica_reads_stay_single() -> None:
    """One host: no target_session_attrs unless asked; reads on the replica never get one."""
    single = PostgresSettings.load(env_file=None, host="127.0.0.1", port=6001)
    assert single.endpoints() == [("127.0.0.1", 6001)]
    assert "target_session_attrs" not in single.sync_url().query
    assert "target_session_attrs" not in single.psycopg_kwargs()
    several = PostgresSettings.load(
        env_file=None, host="127.0.0.1:6001,127.0.0.1:6002", read_host="127.0.0.1", read_port=6003
    )
    read_url = several.sync_url(read=True)
    assert (read_url.host, read_url.port) == ("127.0.0.1", 6003)
    assert "target_session_attrs" not in read_url.query
    assert "target_session_attrs" not in several.async_connect_args(read=True)
    asked = PostgresSettings.load(env_file=None, target_session_attrs="primary")
    assert asked.sync_url().query["target_session_attrs"] == "primary"


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("127.0.0.1,,127.0.0.2", "must not hold an empty one"),
        ("127.0.0.1:0", "1-65535"),
        ("127.0.0.1:http", "1-65535"),
    ],
)
def test_bad_host_lists_are_refused(host: str, message: str) -> None:
    """A malformed list is refused with the variable named, nothing guessed."""
    with pytest.raises(SettingsValidationError, match=message) as caught:
        PostgresSettings.load(env_file=None, host=host)
    assert "MP_PG_HOST" in str(caught.value)


def test_every_host_of_a_list_needs_verified_tls_off_loopback() -> None:
    """One remote host in the list is enough: the one sslmode of the list is verify-full by
    default, and a weaker one is refused."""
    with pytest.raises(SettingsValidationError, match="MP_PG_HOST"):
        PostgresSettings.load(env_file=None, host="127.0.0.1,db.example.com", sslmode="require")
    remote = PostgresSettings.load(env_file=None, host="127.0.0.1,db.example.com")
    assert remote.effective_sslmode() == "verify-full"
    assert remote.sync_url().query["sslmode"] == "verify-full"
