"""The two time sliders of the timeline and graph views: event time (``valid_at``, what was
true then) and system time (``as_of``, what remem knew then), as days since the epoch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import Query

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: A slider's value: days since 1970-01-01, or empty for "now / no filter".
Day = Annotated[str, Query(max_length=12, pattern=r"^\d{0,7}$")]


def day_of(moment: datetime) -> int:
    return (moment - EPOCH).days


def moment_of(day: int) -> datetime:
    """The end of that day: a slider at a day shows everything that happened on it."""
    return EPOCH + timedelta(days=day + 1) - timedelta(microseconds=1)


@dataclass(frozen=True)
class Sliders:
    """Where the two sliders sit (None: not set) and the range they move in."""

    valid_day: int | None
    known_day: int | None
    first_day: int
    last_day: int

    @property
    def valid_at(self) -> datetime | None:
        return None if self.valid_day is None else moment_of(self.valid_day)

    @property
    def as_of(self) -> datetime | None:
        return None if self.known_day is None else moment_of(self.known_day)

    @staticmethod
    def label(day: int | None) -> str:
        return (
            "now"
            if day is None
            else date.fromordinal(date(1970, 1, 1).toordinal() + day).isoformat()
        )


def sliders(valid: str, known: str, moments: list[datetime], today: datetime) -> Sliders:
    """Sliders over the span of ``moments`` (and today), each clamped into it."""
    days = [day_of(m) for m in moments] + [day_of(today)]
    first, last = min(days) - 1, max(days)

    def clamp(value: str) -> int | None:
        return None if not value else max(first, min(last, int(value)))

    return Sliders(clamp(valid), clamp(known), first, last)
