"""``remem.SearchQuery``: what to search for and where, as one typed, validated value.

``Memory.search`` and ``Memory.context`` take one, or the same options as keywords
(which build one)::

    m.search("where does Ana live?", user_id="ana", kinds="fact", limit=5)
    m.search(SearchQuery("where does Ana live?", user_id="ana", kinds=("fact",), limit=5))

A query is checked when it is built, so a bad one fails before it reaches a store, and
it can be kept, compared and varied with ``dataclasses.replace``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from remem._checks import (
    check_kinds,
    check_layers,
    check_limit,
    check_metadata_filter,
    check_recipe,
    check_scope,
    check_text,
)
from remem._time import to_utc
from remem.errors import InvalidInput
from remem.model import TRUST_LEVELS
from remem.recipes import RECIPES, SearchRecipe

#: What a caller may pass as a time: a datetime or date, ISO 8601 text, or unix seconds.
#: Naive values are taken as UTC.
When = datetime | date | str | float | int | None

#: The most neighbouring turns a hit may bring along.
MAX_CONTEXT_WINDOW = 20
#: The options ``Memory.context`` takes from a query; it refuses a query setting others.
CONTEXT_OPTIONS = frozenset(
    {"user_id", "agent_id", "session_id", "limit", "recipe", "asked_at", "after", "before"}
)


@dataclass(frozen=True, init=False, repr=False)
class SearchQuery:
    """A search: its text, whose memories, which of them, and how to rank them.

    Every field but ``text`` is optional; unset ones do not narrow the search. Built
    values are normalised: times are timezone-aware UTC, ``kinds``/``layers`` tuples,
    ``recipe`` a ``SearchRecipe``.

    Whose:
        ``user_id``, ``agent_id``, ``session_id`` narrow the search within the tenant.
    Which:
        ``kinds`` (episode, fact, summary, profile, insight) and ``layers`` (working,
        short, long) keep those only; ``metadata`` keeps memories whose metadata holds
        every given key with that value; ``archived=True`` also searches archived memories
        (a recalled one is restored); ``include_quarantined=True`` also returns memories
        held in quarantine (flagged so), which searches leave out by default;
        ``min_trust`` keeps memories believed at least that far ("trusted": the owner's
        own; "unverified": also what the assistant said; docs/trust.md).
    When:
        ``after``/``before`` bound event time (when it happened); ``valid_at`` keeps
        what was true at that event time (``valid_from <= t < valid_to``); ``as_of``
        shows what remem believed at that system time, before later corrections.
    How:
        ``limit`` is how many hits to return (None: the call's default, 10 for a search,
        30 candidates for a context); ``recipe`` names the retrieval configuration
        (``remem.RECIPES``) or is one; time phrases in the text ("last March") are resolved
        against ``asked_at`` (default: now); ``context_window`` brings that many
        neighbouring turns with each hit (0 to 20).
    """

    text: str
    user_id: str | None
    agent_id: str | None
    session_id: str | None
    limit: int | None
    kinds: tuple[str, ...] | None
    layers: tuple[str, ...] | None
    metadata: Mapping[str, Any] | None
    after: datetime | None
    before: datetime | None
    valid_at: datetime | None
    as_of: datetime | None
    archived: bool
    include_quarantined: bool
    min_trust: str | None
    recipe: SearchRecipe
    asked_at: datetime | None
    context_window: int

    def __init__(
        self,
        text: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        limit: int | None = None,
        kinds: str | Iterable[str] | None = None,
        layers: str | Iterable[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        after: When = None,
        before: When = None,
        valid_at: When = None,
        as_of: When = None,
        archived: bool = False,
        recipe: str | SearchRecipe = "hybrid",
        asked_at: When = None,
        context_window: int = 0,
        include_quarantined: bool = False,
        min_trust: str | None = None,
    ) -> None:
        text = check_text(text, "query")
        chosen = check_recipe(recipe)
        if (
            isinstance(context_window, bool)
            or not isinstance(context_window, int)
            or not 0 <= context_window <= MAX_CONTEXT_WINDOW
        ):
            raise InvalidInput(f"context_window must be an integer from 0 to {MAX_CONTEXT_WINDOW}")
        check_scope("default", user_id, agent_id, session_id)
        values: dict[str, Any] = {
            "text": text,
            "user_id": user_id,
            "agent_id": agent_id,
            "session_id": session_id,
            "kinds": check_kinds(kinds),
            "metadata": _frozen(check_metadata_filter(metadata)),
            "after": to_utc(after, field="after"),
            "before": to_utc(before, field="before"),
            "as_of": to_utc(as_of, field="as_of"),
            "layers": check_layers(layers),
            "valid_at": to_utc(valid_at, field="valid_at"),
            "limit": None if limit is None else check_limit(limit),
            "asked_at": to_utc(asked_at, field="asked_at"),
            "archived": _flag(archived, "archived"),
            "include_quarantined": _flag(include_quarantined, "include_quarantined"),
            "min_trust": _trust(min_trust),
            "recipe": chosen,
            "context_window": context_window,
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        """What was set, as it would be written: ``SearchQuery('Lisbon', user_id='ana')``."""
        shown = [repr(self.text)]
        for name, value in self.options().items():
            if isinstance(value, SearchRecipe) and RECIPES.get(value.name) == value:
                value = value.name
            elif isinstance(value, MappingProxyType):
                value = dict(value)
            shown.append(f"{name}={value!r}")
        return f"SearchQuery({', '.join(shown)})"

    def options(self) -> dict[str, Any]:
        """The fields set to something other than their default, by name (``text`` aside)."""
        unset = SearchQuery(self.text)
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name != "text" and getattr(self, f.name) != getattr(unset, f.name)
        }


def _frozen(metadata: dict[str, Any]) -> Mapping[str, Any] | None:
    return MappingProxyType(metadata) if metadata else None


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} must be true or false, got {value!r}")
    return value


def _trust(level: Any) -> str | None:
    if level is not None and level not in TRUST_LEVELS:
        raise InvalidInput(f"min_trust must be one of {', '.join(TRUST_LEVELS)}, got {level!r}")
    return level


def trust_levels(min_trust: str | None) -> tuple[str, ...] | None:
    """The trust levels at or above ``min_trust`` (None: every level)."""
    if min_trust is None or min_trust == TRUST_LEVELS[0]:
        return None
    return TRUST_LEVELS[TRUST_LEVELS.index(min_trust) :]


def as_query(
    query: str | SearchQuery, defaults: Mapping[str, Any] | None, /, **keywords: Any
) -> SearchQuery:
    """The one query a call asked for: ``query`` itself, or its text with the keyword options.

    ``defaults`` are the call's keyword defaults: next to a ``SearchQuery`` every keyword
    must be left at its default, so that the options are said in one place only.
    """
    if not isinstance(query, SearchQuery):
        return SearchQuery(query, **keywords)
    given = sorted(k for k, v in keywords.items() if v != (defaults or {}).get(k))
    if given:
        raise InvalidInput(
            f"give the options in the SearchQuery or as keywords, not both: {', '.join(given)}"
        )
    return query


def only(query: SearchQuery, allowed: Iterable[str], call: str) -> SearchQuery:
    """``query`` when it sets no option ``call`` does not use; InvalidInput naming them if it does."""
    unused = sorted(set(query.options()) - set(allowed))
    if unused:
        raise InvalidInput(f"{call} does not take {', '.join(unused)}; leave them unset")
    return query


__all__ = ["CONTEXT_OPTIONS", "MAX_CONTEXT_WINDOW", "SearchQuery", "When"]
