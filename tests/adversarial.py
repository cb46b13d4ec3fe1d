"""One corpus of hostile input, shared by the library, store and CLI fuzz tests.

Fixed values an adversarial pass found or would try first (NUL, lone surrogates, years
before 1000, NaN, metadata 300 levels deep, keys with quotes and backslashes, numbers past
64 bits, SQL and JSON-path syntax), and hypothesis strategies that mix them with
generated values. Every value is something a caller can hand ``Memory`` or type at the
CLI; the fuzz tests hold that each is accepted, or refused with a typed error (the CLI:
one line on stderr), and the same way on both backends.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st


class _Nested(dict[str, Any]):
    """A deep dict whose repr is its recipe: hypothesis reprs the strategies holding it (when a
    thread touches the global random during a draw), and a repr 5,000 levels deep overflows."""

    depth = 0

    def __repr__(self) -> str:
        return f"nested({self.depth})"


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 2):
        value = {"a": value}
    outer = _Nested(a=value) if depth > 1 else _Nested(leaf=1)
    outer.depth = depth
    return outer


TEXTS: list[Any] = [
    "", " ", "\n\t ", "\x00", "a\x00b", "\ud800", "x\udcff y", "\udc80\udc81",
    "\u2028line\u2029", "\ufeffbom", "🐕 émoji ✓", "'; DROP TABLE memories; --", "\\",
    '"', "%s %(x)s ?", '$."a"', "a\r\nb", "\x1b[31mred", "‮rtl", "x" * 5000, None, 42,
    b"bytes", ["a list"],
]  # fmt: skip
IDS: list[Any] = [
    "", " ", "\x00", "u\x00", "\ud800", "u\udcff", "ana", "Ana", "a" * 512, "a" * 513,
    "a b", "a/b", "..", "%", "_", "'", '"', "\\", "ünï", "🐕", "\n", None, 0, ["u"],
]  # fmt: skip
TIMES: list[Any] = [
    "0999-01-01", "0001-01-01", "0001-01-01T00:00:00", "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00-01:00", "9999-12-31T23:59:59.999999", "9999-12-31T23:00:00-05:00",
    "9999-12-31T23:59:59Z", "2026-02-30", "2026-13-01", "yesterday", "", " ", "\x00",
    "2026-05-02T10:00:00\ud800", "1e400", "99999-01-01", float("nan"), float("inf"), -1e20,
    0, -62135596800, 253402300799, 2**70, True, date(1, 1, 1), datetime(1, 1, 1),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), [],
]  # fmt: skip
METADATA: list[Any] = [
    {"x": math.nan}, {"x": math.inf}, {"x": [-math.inf]}, {"a\\b": 1}, {'a"b': 1}, {"": 1},
    {"\x00": 1}, {"k": "a\x00"}, {"k": "\udc80"}, {"\udc80": "v"}, {"é": "ü"}, {"k\n": 1},
    {"$.x": 1}, {"*": 1}, {"k": 2**63}, {"k": -(2**63)}, {"k": 2**63 - 1}, {"k": 1e308},
    {"k": 5e-324}, {"k": -0.0}, {"k": [1, {"y": None}]}, {"k": (1, 2)}, {"directive": True},
    nested(32), nested(33), nested(300), nested(5000), {"k": "v" * 100_001}, {1: 2},
    {"k": {1, 2}}, {"k": b"bytes"}, {"k": datetime(2026, 1, 1)}, {"k": {"n": {7: 1}}},
    "not a dict", [("a", 1)], None, {},
]  # fmt: skip

#: Any character, lone surrogates and NUL included.
CHARACTERS = st.one_of(
    st.characters(),
    st.characters(categories=["Cs"]),
    st.sampled_from(["\x00", "\\", '"', "\n", " ", ".", "$", "é", "🐕"]),
)


#: Characters every backend stores (no NUL, no lone surrogate), odd ones included.
STORABLE = st.one_of(
    st.characters(exclude_characters="\x00"),
    st.sampled_from(["\\", '"', "\n", " ", ".", "$", "é", "🐕", "'", "%", "?", "\u2028"]),
)


def mostly(
    valid: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """Three draws in four valid, so examples where every argument is valid stay common."""
    # sampled_from, not one_of(valid, valid, valid, hostile): one_of merges equal branches
    return st.sampled_from([valid, valid, valid, hostile]).flatmap(lambda chosen: chosen)


def texts() -> st.SearchStrategy[Any]:
    valid = st.text(STORABLE, max_size=40).map(lambda text: "x" + text)
    return mostly(valid, st.one_of(st.text(CHARACTERS, max_size=40), st.sampled_from(TEXTS)))


def ids() -> st.SearchStrategy[Any]:
    valid = st.one_of(
        st.sampled_from(["ana", "bob"]), st.text(STORABLE, max_size=12).map(lambda text: "u" + text)
    )
    hostile = st.one_of(st.text(CHARACTERS, min_size=0, max_size=12), st.sampled_from(IDS))
    return mostly(valid, hostile)


#: Keys a JSON path must quote or escape: SQLite's json_extract once missed them.
ODD_KEYS = ["é", "a\\b", "k\n", "\x1f", "🐕", "$.x", "a.b", "*", "'", "[0]", " ", "\u2028"]


def keys() -> st.SearchStrategy[str]:
    valid = st.one_of(st.text(STORABLE, min_size=1, max_size=8), st.sampled_from(ODD_KEYS))
    hostile = st.text(CHARACTERS, max_size=8)
    return st.sampled_from([valid] * 5 + [hostile]).flatmap(lambda chosen: chosen)


def moments() -> st.SearchStrategy[datetime]:
    """Years 1 to 9999, naive (read as UTC) or at a fixed offset."""
    offsets = st.builds(
        lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-1439, 1439)
    )
    return st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999),
        timezones=st.none() | offsets,
    )  # fmt: skip


def times() -> st.SearchStrategy[Any]:
    """Datetimes, their ISO text, dates, unix seconds, and the fixed hostile ones."""
    valid = st.one_of(
        moments(), moments().map(datetime.isoformat), st.dates(min_value=date(1, 1, 1))
    )
    hostile = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(TIMES))
    return mostly(valid, hostile)


def json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15),
        st.text(STORABLE, max_size=12),
        st.sampled_from([math.nan, math.inf, 2**64, 1e300, "\x00", "\udc80", -0.0, 5e-324]),
    )  # fmt: skip
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys(), inner, max_size=3),
        max_leaves=8,
    )


def metadata() -> st.SearchStrategy[Any]:
    return mostly(st.dictionaries(keys(), json_values(), max_size=4), st.sampled_from(METADATA))


def as_text(value: Any) -> str:
    """``value`` as a caller would type it: text as it is, anything else as JSON or str()."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):  # a cycle, or nesting deeper than json recurses
        return "{" * 5000
