"""Redis for mp: clients built from ``MP_REDIS_*`` with explicit timeouts and retries."""

from mp_cache._clients import client_options, create_async_client, create_client
from mp_cache._version import __version__

__all__ = ["__version__", "client_options", "create_async_client", "create_client"]
