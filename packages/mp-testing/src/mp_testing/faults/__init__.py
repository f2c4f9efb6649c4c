"""The fault toolkit: an in-process TCP proxy, and throwaway servers tests may break.

Throwaway PostgreSQL clusters come from :func:`mp_testing.start_throwaway_postgres` (or the
``mp_throwaway_postgres`` fixture) and throwaway redis-servers from
:class:`mp_stack.native.RedisServer` (install ``mp-testing[native]``).
"""

from mp_testing.faults._proxy import ProxyStats, TcpProxy

__all__ = ["ProxyStats", "TcpProxy"]
