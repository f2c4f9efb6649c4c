"""mp's reliability scenarios (see :mod:`mp_reliability.plugin`); for mp's own suites only."""

from mp_reliability._scenarios import REPORT_VARIABLE, SUITES

__all__ = ["REPORT_VARIABLE", "SUITES"]
