"""Period labels: a year (``2015``), a school year (``2018-2019``) or a span (``2014-2016``).

Stored as the label plus start and end year so that "2014-2016 vs 2016-2018" and school years
sort and compare as numbers, not strings.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_YEAR = re.compile(r"^([0-9]{4})$")
_SPAN = re.compile(r"^([0-9]{4})\s*[-/]\s*([0-9]{4})$")


class Period(NamedTuple):
    start: int
    end: int

    @property
    def label(self) -> str:
        return str(self.start) if self.start == self.end else f"{self.start}-{self.end}"


def parse_period(text: str) -> Period:
    """Raise ValueError with the expected forms when ``text`` is not a period label."""
    text = str(text).strip()
    if m := _YEAR.match(text):
        year = int(m.group(1))
        return Period(year, year)
    if m := _SPAN.match(text):
        start, end = int(m.group(1)), int(m.group(2))
        if end > start:
            return Period(start, end)
    raise ValueError(f"'{text}' is not a period; expected a year (2015) or a span (2014-2016, 2018-2019)")


def sort_periods(labels) -> list[str]:
    return sorted(set(labels), key=lambda label: parse_period(label))
