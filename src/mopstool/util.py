"""Small helpers shared by every layer (no database, no CLI)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Iterator, Sequence, TypeVar

T = TypeVar("T")

#: the range of a signed 64-bit integer (BIGINT, SQLite INTEGER): ids and any whole number
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1

#: values per IN (...) list and rows per batch unless a caller says otherwise
CHUNK = 1000


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[list[T]]:
    """Consecutive slices of at most *size* values (none for an empty sequence)."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, not {size}")
    values = list(values)
    for i in range(0, len(values), size):
        yield values[i:i + size]


def utcnow(*, microseconds: bool = True) -> datetime:
    """The current UTC time as a naive datetime (how the IPP tables store times)."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return now if microseconds else now.replace(microsecond=0)


def night_bounds(night: date) -> tuple[datetime, datetime]:
    """The start of the UTC date *night* and of the next one (naive UTC datetimes)."""
    start = datetime(night.year, night.month, night.day)
    return start, start + timedelta(days=1)
