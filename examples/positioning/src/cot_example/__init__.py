"""An example mp connector for an entity table: weekly CFTC-style positioning by trader category."""

from cot_example._connector import INSTRUMENTS, SERIES, SOURCE, Positioning, read_reports, release

__version__ = "0.1.0"

__all__ = [
    "INSTRUMENTS",
    "SERIES",
    "SOURCE",
    "Positioning",
    "__version__",
    "read_reports",
    "release",
]
