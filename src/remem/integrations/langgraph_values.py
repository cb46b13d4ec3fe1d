"""LangGraph item values: the filter LangGraph documents, and the text of a value.

The filter matches as LangGraph's own stores do: a plain value is equality (nested
objects and lists compared field by field); an object of operators compares with
``$eq``, ``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from remem.errors import InvalidInput

OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")


def matches(value: Mapping[str, Any], flt: Mapping[str, Any] | None) -> bool:
    """Whether an item's value passes ``flt`` (no filter passes everything)."""
    return all(_compare(value.get(key), wanted) for key, wanted in (flt or {}).items())


def _compare(have: Any, wanted: Any) -> bool:
    if isinstance(wanted, Mapping):
        if any(str(k).startswith("$") for k in wanted):
            return all(_operator(have, op, operand) for op, operand in wanted.items())
        return isinstance(have, Mapping) and all(
            _compare(have.get(k), v) for k, v in wanted.items()
        )
    if isinstance(wanted, list | tuple):
        return (
            isinstance(have, list | tuple)
            and len(have) == len(wanted)
            and all(_compare(h, w) for h, w in zip(have, wanted, strict=True))
        )
    return bool(have == wanted)


def _operator(have: Any, op: str, operand: Any) -> bool:
    if op not in OPERATORS:
        raise InvalidInput(
            f"unknown filter operator {op!r}; expected one of {', '.join(OPERATORS)}"
        )
    if op == "$eq":
        return bool(have == operand)
    if op == "$ne":
        return bool(have != operand)
    if not _number(have) or not _number(operand):
        return False  # an ordering needs two numbers; a missing field never passes it
    return {
        "$gt": have > operand,
        "$gte": have >= operand,
        "$lt": have < operand,
        "$lte": have <= operand,
    }[op]


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def scalar_lines(value: Any, path: str = "") -> list[str]:
    """Every string, number and boolean in ``value``, one ``path: value`` line each: what
    the whole value says, without JSON punctuation for the ranking to trip on."""
    if isinstance(value, Mapping):
        return [
            line
            for key, inner in value.items()
            for line in scalar_lines(inner, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(value, list | tuple):
        return [line for inner in value for line in scalar_lines(inner, path)]
    if value is None:
        return []
    return [f"{path}: {value}" if path else str(value)]
