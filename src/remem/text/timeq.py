"""Time-aware queries: find the event-time window a question points at ("last March",
"two weeks ago", "on 8 May, 2023") relative to when it is asked.

Rules, not a general date parser: dateparser's search_dates took 2-500 ms per
question here and read "may" (the verb) as a month; these patterns cost
microseconds and only fire on phrases that name a time.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_MONTHS.pop("may", None)  # "may" is usually the verb; "in May" / "May 8" are handled below
_MONTH_NAMES = "|".join(
    sorted(
        {m.lower() for m in calendar.month_name if m}
        | {m.lower() for m in calendar.month_abbr if m}
        | {"sept"},
        key=len,
        reverse=True,
    )
)
_WEEKDAYS = {d.lower(): i for i, d in enumerate(calendar.day_name)}
_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "couple of": 2,
    "a couple of": 2,
    "few": 3,
    "a few": 3,
}
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}

_AGO = re.compile(
    r"\b(\d+|a couple of|couple of|a few|few|an?|one|two|three|four|five|six|seven|eight|nine|ten)"
    r"\s+(day|week|month|year)s?\s+(ago|before|earlier)\b"
)
_LAST_UNIT = re.compile(r"\b(last|past|previous|this)\s+(weekend|week|month|year)\b")
_WEEKDAY = re.compile(r"\b(last|on|this|past)\s+(" + "|".join(_WEEKDAYS) + r")\b")
_MONTH_DAY = re.compile(
    rf"\b(on|by|before|until|after|since|from)?\s*(?:(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_NAMES})|({_MONTH_NAMES})\s+(\d{{1,2}})"
    rf"(?:st|nd|rd|th)?)\b(?:,?\s+(\d{{4}}))?"
)
_MONTH = re.compile(
    rf"\b(last|in|during|this|early|late|mid|since)?\s*({_MONTH_NAMES})\b(?:,?\s+(\d{{4}}))?"
)
_YEAR = re.compile(r"\b(?:in|during|of|since|year)\s+((?:19|20)\d{2})\b")
_ISO = re.compile(r"\b((?:19|20)\d{2})-(\d{2})-(\d{2})\b")


@dataclass(frozen=True)
class TimeWindow:
    """Event-time interval [start, end) that a phrase in the query refers to."""

    start: datetime
    end: datetime
    phrase: str

    def contains(self, when: datetime | None) -> bool:
        return when is not None and self.start <= when < self.end


def _day(ref: datetime) -> datetime:
    return ref.replace(hour=0, minute=0, second=0, microsecond=0)


def _month_window(year: int, month: int, phrase: str) -> TimeWindow:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return TimeWindow(start, end, phrase)


def resolve(query: str, asked_at: datetime | None) -> TimeWindow | None:
    """The window the query's first time phrase names, or None when it names none."""
    if asked_at is None:
        return None
    ref = asked_at.astimezone(UTC)
    text = query.lower()
    today = _day(ref)

    if m := _ISO.search(text):
        try:
            point = datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=UTC)
        except ValueError:
            return None
        return _around(point, None, m[0])
    if "yesterday" in text:
        return TimeWindow(today - timedelta(days=1), today, "yesterday")
    if re.search(r"\b(today|tonight|this morning|this afternoon|this evening)\b", text):
        return TimeWindow(today, today + timedelta(days=1), "today")
    if m := _AGO.search(text):
        n = int(m[1]) if m[1].isdigit() else _NUMBERS[m[1]]
        unit = _UNIT_DAYS[m[2]]
        centre = today - timedelta(days=n * unit)
        slack = timedelta(days=max(1, unit // 2) + (1 if unit > 1 else 0))
        return TimeWindow(centre - slack, centre + slack + timedelta(days=1), m[0])
    if m := _LAST_UNIT.search(text):
        this = m[1] == "this"
        if m[2] in ("week", "weekend"):
            monday = today - timedelta(days=today.weekday())
            start = monday if this else monday - timedelta(days=7)
            if m[2] == "weekend":
                start += timedelta(days=5)
                return TimeWindow(start, start + timedelta(days=2), m[0])
            return TimeWindow(start, start + timedelta(days=7), m[0])
        if m[2] == "month":
            year, month = ref.year, ref.month
            if not this:
                year, month = (year - 1, 12) if month == 1 else (year, month - 1)
            return _month_window(year, month, m[0])
        year = ref.year if this else ref.year - 1
        return TimeWindow(
            datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC), m[0]
        )
    if m := _WEEKDAY.search(text):
        back = (today.weekday() - _WEEKDAYS[m[2]]) % 7 or 7
        start = today - timedelta(days=back)
        return TimeWindow(start, start + timedelta(days=1), m[0])
    if m := _MONTH_DAY.search(text):
        day, month_name = (m[2], m[3]) if m[2] else (m[5], m[4])
        month = _month_number(month_name)
        year = int(m[6]) if m[6] else _latest_year(ref, month, int(day))
        try:
            point = datetime(year, month, int(day), tzinfo=UTC)
        except ValueError:
            return None
        return _around(point, m[1], m[0].strip())
    for m in _MONTH.finditer(text):
        month_name = m[2]
        if month_name == "may" and not (m[1] or m[3]):
            continue  # bare "may" is the verb
        month = _month_number(month_name)
        year = int(m[3]) if m[3] else _latest_year(ref, month, 1)
        return _month_window(year, month, m[0].strip())
    if m := _YEAR.search(text):
        year = int(m[1])
        return TimeWindow(
            datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC), m[0]
        )
    return None


def _month_number(name: str) -> int:
    return _MONTHS.get(name) or (9 if name == "sept" else 5)  # "may" is kept out of _MONTHS


_DAY = timedelta(days=1)
_LEAD = timedelta(days=60)


def _around(point: datetime, preposition: str | None, phrase: str) -> TimeWindow:
    """A named day, with a day of slack for time zones; "by"/"after" look back/ahead."""
    if preposition in ("by", "before", "until"):
        return TimeWindow(point - _LEAD, point + _DAY, phrase)
    if preposition in ("after", "since", "from"):
        return TimeWindow(point, point + _LEAD, phrase)
    return TimeWindow(point - _DAY, point + 2 * _DAY, phrase)


def _latest_year(ref: datetime, month: int, day: int) -> int:
    """A month without a year means its most recent occurrence up to the asking date."""
    return ref.year if (month, day) <= (ref.month, ref.day) else ref.year - 1
