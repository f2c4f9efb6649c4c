"""The least-privilege ACL user: everything mp-cache does works, nothing outside the prefix."""

from __future__ import annotations

import pytest
import redis
from helpers import CountingLoader, settings_for, truth

from mp_cache import (
    ACL_COMMANDS,
    Cache,
    CacheConfigError,
    Locks,
    RateLimiter,
    acl_rules,
    create_client,
    health,
)
from mp_config import RateLimit
from mp_stack.native import RedisServer

pytestmark = pytest.mark.scenario("security")


def test_the_rules_start_from_nothing_and_allow_only_the_prefix() -> None:
    """Reset keys, channels and commands first; one key pattern; only the listed commands."""
    rules = acl_rules("mp:")
    assert rules[:4] == ["resetkeys", "~mp:*", "resetchannels", "-@all"]
    assert rules[4:] == [f"+{command}" for command in ACL_COMMANDS]
    assert not {"flushall", "flushdb", "keys", "config", "debug"} & set(ACL_COMMANDS)


def test_a_prefix_with_glob_characters_is_refused() -> None:
    """A prefix with ``*`` or ``?`` would widen the key pattern: refused."""
    with pytest.raises(CacheConfigError):
        acl_rules("mp*")


def test_a_confined_user_can_do_everything_mp_cache_does(fault_server: RedisServer) -> None:
    """Cache, limiter, lock and health all work for a user with exactly these rules."""
    settings = settings_for(fault_server, username="mp-app", password="app-secret")
    fault_server.command(
        "ACL", "SETUSER", "mp-app", "on", ">app-secret", *acl_rules(settings.key_prefix)
    )
    client = create_client(settings)
    cache = Cache(client, settings)
    loader = CountingLoader()
    assert cache.latest_many(["CPI"], loader) == {"CPI": truth("CPI")}
    assert cache.latest_many(["CPI"], loader) == {"CPI": truth("CPI")}
    assert cache.invalidate("CPI") == 1
    assert cache.set("plain", 1)
    assert cache.get("plain") == 1
    assert RateLimiter(client, settings, limits={"s": RateLimit(2, 1)}).acquire("s").allowed
    locks = Locks(client, settings)
    assert locks.release(locks.acquire("job"))
    assert health(client).ok
    assert cache.breaker.failures == 0
    assert len(loader.calls) == 1


def test_a_confined_user_cannot_touch_keys_outside_the_prefix(fault_server: RedisServer) -> None:
    """GET and SET elsewhere, FLUSHALL and KEYS are all refused with NOPERM."""
    settings = settings_for(fault_server, username="mp-app", password="app-secret")
    fault_server.command(
        "ACL", "SETUSER", "mp-app", "on", ">app-secret", *acl_rules(settings.key_prefix)
    )
    fault_server.command("SET", "other-app:secret", "x")
    client = create_client(settings)
    assert isinstance(client, redis.Redis)
    for attempt in (
        lambda: client.get("other-app:secret"),
        lambda: client.set("other-app:secret", "y"),
        client.flushall,
        lambda: client.keys("*"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            attempt()
    assert fault_server.command("GET", "other-app:secret") == "x"
