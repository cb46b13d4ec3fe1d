"""What the loaders share: file and JSON reading with errors that name the file and the
expected format, the benchmarks' date formats, and non-fatal issue reporting."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def check_limit(limit: int | None) -> None:
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be None or a non-negative int, got {limit!r}")


def require_file(path: str | Path, expected: str) -> Path:
    p = Path(path)
    if not p.is_file():
        what = "is a directory" if p.is_dir() else "not found"
        raise ValueError(f"{p}: {what}; expected {expected}")
    return p


def read_json(path: Path, expected: str) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); "
            f"expected {expected}"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text; expected {expected}") from exc


def iter_json_array(path: Path, expected: str, chunk: int = 1 << 20) -> Iterator[Any]:
    """Yield the elements of a top-level JSON array without loading the whole file.

    LongMemEval-M is several GB; this keeps memory at about one element at a time.
    """
    decoder = json.JSONDecoder()
    with path.open(encoding="utf-8") as fh:
        buf = fh.read(chunk)
        pos = 0
        eof = len(buf) < chunk

        def fill(min_extra: int) -> bool:
            nonlocal buf, pos, eof
            if eof:
                return False
            data = fh.read(max(chunk, min_extra))
            if len(data) == 0:
                eof = True
                return False
            buf = buf[pos:] + data
            pos = 0
            return True

        def skip_ws() -> None:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    pos += 1
                if pos < len(buf) or not fill(chunk):
                    return

        skip_ws()
        if pos >= len(buf) or buf[pos] != "[":
            raise ValueError(f"{path}: expected a JSON array ({expected})")
        pos += 1
        index = 0
        first = True
        while True:
            skip_ws()
            if pos >= len(buf):
                raise ValueError(f"{path}: truncated JSON array after element {index}")
            if buf[pos] == "]":
                return
            if not first:
                if buf[pos] != ",":
                    raise ValueError(
                        f"{path}: invalid JSON after array element {index - 1} "
                        f"(expected ',' or ']'); expected {expected}"
                    )
                pos += 1
                skip_ws()
            grow = chunk
            while True:
                try:
                    value, end = decoder.raw_decode(buf, pos)
                except json.JSONDecodeError as exc:
                    if not fill(grow):
                        raise ValueError(
                            f"{path}: invalid JSON in array element {index} ({exc.msg}); "
                            f"expected {expected}"
                        ) from exc
                    grow *= 2
                    continue
                if end < len(buf) or not fill(grow):  # a scalar may continue past the buffer
                    break
            pos = end
            first = False
            yield value
            index += 1
            if pos > chunk:  # drop consumed text
                buf = buf[pos:]
                pos = 0


_MONTHS = {
    m: i
    for i, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for m in names
}

# "1:56 pm on 8 May, 2023" (LoCoMo)
_RE_LOCOMO = re.compile(
    r"^\s*(\d{1,2})[:.](\d{2})\s*([ap])\.?\s*m\.?\s+on\s+(\d{1,2})\s+([A-Za-z]+)\.?,?\s+(\d{4})\s*$",
    re.IGNORECASE,
)
# "2023/05/30 (Tue) 23:40" (LongMemEval)
_RE_LME = re.compile(
    r"^\s*(\d{4})[/-](\d{1,2})[/-](\d{1,2})\s*(?:\([A-Za-z]+\))?\s*(?:(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$"
)
# "Jan 15, 2029, 15:12:20" (HaluMem), "March 15, 2024"
_RE_MDY = re.compile(
    r"^\s*([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$"
)
# "March-15-2024" (BEAM time anchors)
_RE_MDY_DASH = re.compile(r"^\s*([A-Za-z]+)[-_/ ](\d{1,2})[-_/, ]+(\d{4})\s*$")
# "15 March 2024"
_RE_DMY = re.compile(r"^\s*(\d{1,2})\s+([A-Za-z]+)\.?,?\s+(\d{4})\s*$")


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _mk(
    year: str,
    month: int | None,
    day: str,
    hh: str | None = None,
    mm: str | None = None,
    ss: str | None = None,
) -> datetime | None:
    if month is None:
        return None
    try:
        return datetime(
            int(year), month, int(day), int(hh or 0), int(mm or 0), int(ss or 0), tzinfo=UTC
        )
    except ValueError:
        return None


def parse_datetime(value: Any) -> datetime | None:
    """Parse the date formats used by the four benchmarks; UTC-aware, or None.

    Handles LoCoMo ("1:56 pm on 8 May, 2023"), LongMemEval ("2023/05/30 (Tue) 23:40"),
    HaluMem ("Jan 15, 2029, 15:12:20"), BEAM anchors ("March-15-2024") and ISO 8601.
    Never raises.
    """
    if isinstance(value, datetime):
        return _utc(value)
    if not isinstance(value, str) or not value.strip():
        return None
    s = value.strip()
    try:
        m = _RE_LOCOMO.match(s)
        if m:
            hh, mm, ap, day, mon, year = m.groups()
            hour = int(hh) % 12 + (12 if ap.lower() == "p" else 0)
            return _mk(year, _MONTHS.get(mon.lower()), day, str(hour), mm)
        m = _RE_LME.match(s)
        if m:
            year, mon, day, hh, mm, ss = m.groups()
            return _mk(year, int(mon), day, hh, mm, ss)
        m = _RE_MDY.match(s)
        if m:
            mon, day, year, hh, mm, ss = m.groups()
            return _mk(year, _MONTHS.get(mon.lower()), day, hh, mm, ss)
        m = _RE_MDY_DASH.match(s)
        if m:
            mon, day, year = m.groups()
            return _mk(year, _MONTHS.get(mon.lower()), day)
        m = _RE_DMY.match(s)
        if m:
            day, mon, year = m.groups()
            return _mk(year, _MONTHS.get(mon.lower()), day)
        return _utc(datetime.fromisoformat(s.replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        return None


def as_text(value: Any) -> str:
    """Answer/text fields may be int, list, dict...: keep strings, json-dump the rest."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)):
        return str(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def unique(items: Iterable[str]) -> tuple[str, ...]:
    """The items in first-seen order, duplicates dropped."""
    return tuple(dict.fromkeys(items))


def add_issue(issues: list[str], conv_id: str, message: str) -> None:
    """Record a data problem that does not prevent loading: listed and logged as a warning."""
    issues.append(message)
    log.warning("%s: %s", conv_id, message)
