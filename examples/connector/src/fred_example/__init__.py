"""An example mp connector: US CPI, payrolls and unemployment vintages, ingested point-in-time.

It depends only on mp's wheels (mp-config, mp-schema, mp-db, mp-cache; mp-testing for its
tests) and shows the whole path: register a source and its series, turn published vintages
into rows with the three clocks, ingest them idempotently, and read them back as of any time.
"""

from fred_example._catalog import RELEASE_CLOCK, RELEASE_TIMEZONE, SERIES, SOURCE, register
from fred_example._connector import CACHE_NAMESPACE, INGEST_LEASE, Connector, Print
from fred_example._vintages import DATA_FILE, Vintage, read_vintages, release_instant, to_rows

__version__ = "0.1.0"

__all__ = [
    "CACHE_NAMESPACE",
    "DATA_FILE",
    "INGEST_LEASE",
    "RELEASE_CLOCK",
    "RELEASE_TIMEZONE",
    "SERIES",
    "SOURCE",
    "Connector",
    "Print",
    "Vintage",
    "__version__",
    "read_vintages",
    "register",
    "release_instant",
    "to_rows",
]
