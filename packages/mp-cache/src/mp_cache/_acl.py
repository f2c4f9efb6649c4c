"""The least privilege mp-cache needs: an ACL user confined to mp's key prefix.

An operator creates the user once, for example::

    ACL SETUSER mp-cache on >PASSWORD <the rules from acl_rules("mp:")>

and sets ``MP_REDIS_USERNAME``/``MP_REDIS_PASSWORD``. That user can touch only keys under the
prefix, run only the commands below, and cannot FLUSHALL, CONFIG, DEBUG, KEYS or read another
application's keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from mp_cache.exceptions import CacheConfigError

__all__ = ["ACL_COMMANDS", "acl_rules"]

#: Commands mp-cache sends, directly or from its Lua scripts, and those redis-py sends when it
#: connects (AUTH, HELLO, SELECT) or discovers a cluster (CLUSTER SLOTS, COMMAND). redis-py's
#: CLIENT SETINFO is left out on purpose: it ignores a refusal, and Redis 7.0 lacks it.
ACL_COMMANDS: Final = (
    # the cache, limiter and lock
    "get",
    "mget",
    "set",
    "del",
    "pexpire",
    "hmget",
    "hset",
    "time",
    "evalsha",
    "eval",
    # health
    "ping",
    "info",
    # connection set-up and cluster discovery
    "auth",
    "hello",
    "select",
    "cluster|slots",
    "cluster|shards",
    "cluster|nodes",
    "command",
    "readonly",
)

_PREFIX: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def acl_rules(prefix: str, *, extra_commands: Iterable[str] = ()) -> list[str]:
    """ACL SETUSER rules that confine a user to keys under ``prefix`` and mp-cache's commands.

    The rules start from nothing (``resetkeys``, ``resetchannels``, ``-@all``) so running them
    on an existing user also takes away whatever it could do before. Add ``on`` and a password
    (``>secret`` or ``#sha256``) yourself; the password is not this function's business.

    Args:
        prefix: ``MP_REDIS_KEY_PREFIX`` (letters, digits, ``_ . : -``; no glob characters).
        extra_commands: more commands to allow (e.g. ``"unlink"``).

    Raises:
        CacheConfigError: the prefix is not one mp-config would accept.
    """
    if not _PREFIX.fullmatch(prefix):
        raise CacheConfigError("prefix", "use 1-64 characters from letters, digits and _ . : -")
    commands = [*ACL_COMMANDS, *extra_commands]
    return ["resetkeys", f"~{prefix}*", "resetchannels", "-@all", *[f"+{c}" for c in commands]]
