"""An example async mp connector: a daily 13-tenor par yield curve, published 18:00 New York."""

from curve_example._connector import (
    SERIES,
    SOURCE,
    TENORS,
    Curve,
    curve_as_of,
    curve_rows,
    load,
    published,
    register,
)

__version__ = "0.1.0"

__all__ = [
    "SERIES",
    "SOURCE",
    "TENORS",
    "Curve",
    "__version__",
    "curve_as_of",
    "curve_rows",
    "load",
    "published",
    "register",
]
