"""The Lua scripts mp-cache runs. Each touches only the keys it is given, all in one hash slot.

Scripts make read-compare-write steps atomic: a generation check and the write it guards, a
token bucket's refill and take, a lock's compare-and-delete. Times come from the server's
``TIME``, so the clocks of the many client hosts never matter; Redis 7 replicates a script's
effects, not the script, so a non-deterministic ``TIME`` is safe.
"""

from __future__ import annotations

from mp_cache._ops import LuaScript

__all__ = [
    "GENERATION",
    "INVALIDATE",
    "LOCK_ACQUIRE",
    "LOCK_EXTEND",
    "LOCK_RELEASE",
    "SET_IF_GENERATION",
    "TOKEN_BUCKET",
]

#: KEYS: generation. ARGV: fresh token, TTL ms. Returns the series' token, creating it if absent.
GENERATION = LuaScript(
    "generation",
    """
local token = redis.call('GET', KEYS[1])
if not token then
  token = ARGV[1]
  redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return token
""",
)

#: KEYS: generation, entry. ARGV: expected token, payload, TTL ms. 1 if written, 0 if the
#: generation moved while the loader ran (the loaded answer may predate an ingest).
SET_IF_GENERATION = LuaScript(
    "set_if_generation",
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
""",
)

#: KEYS: generation, latest entry. ARGV: new token, TTL ms. Replaces the generation (every
#: as-of entry of the series becomes unreachable) and deletes the latest value, atomically.
INVALIDATE = LuaScript(
    "invalidate",
    """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
return 1
""",
)

#: KEYS: bucket. ARGV: capacity, refill per second, tokens wanted.
#: Returns {allowed 0/1, seconds to wait (text), tokens left (text)}.
TOKEN_BUCKET = LuaScript(
    "token_bucket",
    """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
-- A server clock that stepped back (or a failover to a node behind) refills nothing.
if now > at then
  tokens = math.min(capacity, tokens + (now - at) * rate)
  at = now
end
local allowed = 0
local wait = 0
if tokens >= wanted then
  tokens = tokens - wanted
  allowed = 1
else
  wait = (wanted - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'at', string.format('%.6f', at))
-- A bucket left alone refills completely; then it is the same as no bucket at all.
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {allowed, string.format('%.6f', wait), string.format('%.6f', tokens)}
""",
)

#: KEYS: lease, fence. ARGV: owner token, TTL ms. Returns the fencing token, or 0 if held.
#: The fence is max(previous + 1, server time in microseconds): it keeps growing even if the
#: counter key is lost (a flush, a restart without persistence).
LOCK_ACQUIRE = LuaScript(
    "lock_acquire",
    """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 0
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local last = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
local fence = math.max(last + 1, now)
redis.call('SET', KEYS[2], string.format('%d', fence))
return fence
""",
)

#: KEYS: lease. ARGV: owner token. 1 if this owner's lease was deleted, else 0.
LOCK_RELEASE = LuaScript(
    "lock_release",
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
""",
)

#: KEYS: lease. ARGV: owner token, TTL ms. 1 if this owner's lease was extended, else 0.
LOCK_EXTEND = LuaScript(
    "lock_extend",
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
""",
)
