"""Real services for mp's tests and any downstream repository's: a pytest plugin.

The plugin (loaded automatically once installed) gives each test a real, migrated TimescaleDB
and a real Redis (:mod:`mp_testing.fixtures`); :mod:`mp_testing.faults` breaks connections on
purpose. Throwaway native servers are run by mp-stack (the ``native`` extra), which also owns
the local stack (``mp-stack up``).
"""

from mp_testing._public_api import public_api_problems
from mp_testing._throwaway import ThrowawayPostgres, start_throwaway_postgres
from mp_testing._version import __version__

__all__ = ["ThrowawayPostgres", "__version__", "public_api_problems", "start_throwaway_postgres"]
