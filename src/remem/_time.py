"""Time is always timezone-aware UTC inside remem; these helpers are the only way in."""

from __future__ import annotations

from datetime import UTC, date, datetime

from remem.errors import InvalidInput


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_utc(
    value: datetime | date | str | float | int | None, *, field: str = "time"
) -> datetime | None:
    """Parse what users pass as a time; naive values are taken as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            dt = datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise InvalidInput(f"{field}: {value!r} is not a valid unix timestamp") from exc
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InvalidInput(
                f"{field}: {value!r} is not an ISO 8601 time (e.g. 2026-05-02T10:00:00Z)"
            ) from exc
    else:
        raise InvalidInput(
            f"{field}: expected an ISO 8601 string or datetime, got {type(value).__name__}"
        )
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except OverflowError as exc:  # e.g. 9999-12-31T23:00-05:00 lies past year 9999 in UTC
        raise InvalidInput(f"{field}: {value!r} is out of the supported range") from exc


def iso(dt: datetime | None) -> str | None:
    """Fixed-width ISO text so that string order equals time order in SQL.

    ``isoformat`` pads the year to four digits; ``strftime("%Y")`` does not (glibc writes
    year 999 as ``999``), which once made such rows unreadable.
    """
    if dt is None:
        return None
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def from_iso(text: str | None) -> datetime | None:
    # fromisoformat is implemented in C and reads the "Z" suffix since Python 3.11.
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        # An unpadded year ("999-01-01T..."), as iso() once wrote it: migration m009 pads
        # stored ones, but an older remem sharing the file may still write them.
        year, dash, rest = text.partition("-")
        if dash and year.isdigit() and len(year) < 4:
            return datetime.fromisoformat(year.zfill(4) + dash + rest)
        raise
