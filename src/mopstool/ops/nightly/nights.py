"""The night a nightly command works on.

A Haleakala night is one UTC date (the exposures of an evening in Hawaii are
taken after 04:00 UTC of the next date), so the default night is the current
UTC date: early in the Hawaii morning it is the night just observed. ``--night``
takes a date (YYYY-MM-DD or YYYYMMDD, today, yesterday), an MJD (58309 or
58309.42: the UTC date it falls in, as the exposures' MJD-OBS) or a GPC1 night
number (8309: MJD - 50000, the number in exposure names like o8309g0262o).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from mopstool.errors import UsageError

MJD_EPOCH = date(1858, 11, 17)
#: GPC1 night numbers are MJD - 50000 (o8309g0262o was taken on 2018-07-10)
GPC1_NIGHT_OFFSET = 50000


def mjd_date(mjd: float) -> date:
    return MJD_EPOCH + timedelta(days=int(mjd // 1))


def gpc1_night_number(night: date) -> int:
    return (night - MJD_EPOCH).days - GPC1_NIGHT_OFFSET


def parse_night(value: str | date | None) -> date:
    """A night from a date, an MJD or a GPC1 night number (None: UTC today)."""
    from mopstool.config import check_night_range, parse_night as parse_date

    if value is None or isinstance(value, date):
        return parse_date(value)
    v = str(value).strip()
    if re.fullmatch(r"\d{8}", v) or not re.fullmatch(r"\d+(\.\d*)?", v):
        try:
            return parse_date(v)
        except UsageError:
            raise UsageError(f"invalid night {value!r}: use a UTC date YYYY-MM-DD, an MJD (58309) "
                             "or a GPC1 night number (8309)") from None
    num = float(v)
    if "." not in v and 1000 <= num < 10000:
        return check_night_range(mjd_date(num + GPC1_NIGHT_OFFSET), value)
    if 40000 <= num < 100000:
        return check_night_range(mjd_date(num), value)
    raise UsageError(f"invalid night {value!r}: use a UTC date YYYY-MM-DD, an MJD (58309) "
                     "or a GPC1 night number (8309)")
