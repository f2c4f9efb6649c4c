"""Redis settings: topology, explicit client values, rate limits and the TLS rule."""

from __future__ import annotations

import pytest

from mp_config import DEFAULT_REDIS_PORT, RateLimit, RedisSettings, SettingsValidationError


def test_default_port_avoids_the_standard_one() -> None:
    """The default port is not 6379, where a machine's own Redis usually listens."""
    assert RedisSettings.load().port == DEFAULT_REDIS_PORT != 6379


def test_cluster_nodes_are_read_from_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """MP_REDIS_CLUSTER_NODES takes host:port pairs separated by commas."""
    monkeypatch.setenv("MP_REDIS_MODE", "cluster")
    monkeypatch.setenv("MP_REDIS_CLUSTER_NODES", "127.0.0.1:7001, 127.0.0.1:7002,[::1]:7003")
    settings = RedisSettings.load()
    assert settings.nodes() == [("127.0.0.1", 7001), ("127.0.0.1", 7002), ("::1", 7003)]


def test_cluster_without_seeds_uses_the_primary_address() -> None:
    """Cluster mode with no seed list starts from MP_REDIS_HOST:MP_REDIS_PORT."""
    settings = RedisSettings.load(mode="cluster", port=7100)
    assert settings.nodes() == [("127.0.0.1", 7100)]


def test_bad_node_is_reported() -> None:
    """A node that is not host:port is named in the error."""
    with pytest.raises(SettingsValidationError, match="MP_REDIS_CLUSTER_NODES"):
        RedisSettings.load(cluster_nodes="127.0.0.1:notaport")


def test_unknown_mode_is_refused() -> None:
    """Only standalone, cluster and sentinel exist."""
    with pytest.raises(SettingsValidationError, match="MP_REDIS_MODE"):
        RedisSettings.load(mode="replicated")


def test_rate_limits_parse_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-source limits are written SOURCE=REQUESTS/SECONDS."""
    monkeypatch.setenv("MP_REDIS_RATE_LIMITS", "fred=120/60, ecb=5/1s")
    settings = RedisSettings.load()
    assert settings.rate_limit_for("fred") == RateLimit(requests=120, period_seconds=60)
    assert settings.rate_limit_for("ecb") == RateLimit(requests=5, period_seconds=1)
    assert settings.rate_limit_for("bls") is None
    limit = settings.rate_limit_for("fred")
    assert limit is not None
    assert limit.per_second == pytest.approx(2.0)


@pytest.mark.parametrize("text", ["fred=0/60", "fred=10", "=5/1", "fred=ten/1"])
def test_bad_rate_limits_are_reported(text: str) -> None:
    """A malformed or zero rate names MP_REDIS_RATE_LIMITS."""
    with pytest.raises(SettingsValidationError, match="MP_REDIS_RATE_LIMITS"):
        RedisSettings.load(rate_limits=text)


def test_plaintext_off_loopback_is_refused() -> None:
    """A remote Redis without TLS is refused unless explicitly allowed."""
    with pytest.raises(SettingsValidationError, match="MP_REDIS_TLS"):
        RedisSettings.load(host="cache.example.net")
    assert RedisSettings.load(host="cache.example.net", tls=True).tls is True
    allowed = RedisSettings.load(host="redis", allow_insecure_transport=True)
    assert allowed.host == "redis"


def test_remote_cluster_seed_is_checked() -> None:
    """Every cluster seed is held to the TLS rule, not only the primary host."""
    with pytest.raises(SettingsValidationError, match="MP_REDIS_TLS"):
        RedisSettings.load(mode="cluster", cluster_nodes="127.0.0.1:7000,10.9.9.9:7001")


@pytest.mark.parametrize("prefix", ["", "has space:", "x" * 65, "curly{brace}:"])
def test_key_prefix_is_plain(prefix: str) -> None:
    """Key prefixes are short and free of characters that change cluster hashing."""
    with pytest.raises(SettingsValidationError, match="MP_REDIS_KEY_PREFIX"):
        RedisSettings.load(key_prefix=prefix)


def test_display_url_masks_the_password() -> None:
    """The display URL names the user and hides the password."""
    settings = RedisSettings.load(username="mp_cache", password="s3cr3t", tls=True)
    assert settings.display_url() == "rediss://mp_cache:***@127.0.0.1:56379/0"
