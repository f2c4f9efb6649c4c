"""Real services for mp's tests and local development.

A pytest plugin (loaded automatically once installed) gives any repository a real, migrated
TimescaleDB and a real Redis; :mod:`mp_testing.native` runs native servers; :mod:`mp_testing.stack`
brings the local stack up and down.
"""

from mp_testing._public_api import public_api_problems
from mp_testing._throwaway import ThrowawayPostgres, start_throwaway_postgres
from mp_testing._version import __version__

__all__ = ["ThrowawayPostgres", "__version__", "public_api_problems", "start_throwaway_postgres"]
