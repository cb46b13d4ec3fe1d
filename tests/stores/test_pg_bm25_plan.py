"""PostgreSQL BM25 past its budget of matches (``bm25_plan``): the focused rows rank as every
match would, on the real server; small stores stay exact (the conformance suite)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from conformance import bound, flt, record, write

import remem.stores.postgres.bm25_plan as bm25_plan
from remem.stores.postgres import PostgresStore

if TYPE_CHECKING:
    from conftest import Backend

FILLER = ["alpha", "bravo", "delta", "echo", "golf", "hotel", "india", "kilo", "lima", "mike"]


def test_small_estimates_rank_every_match() -> None:
    assert bm25_plan.plan(["a", "b"], [10.0, 20.0]).focused is None


def test_past_the_budget_rare_lexemes_and_pairs_of_common_ones() -> None:
    chosen = bm25_plan.plan(["plan", "orchid", "visit", "o'k"], [9e4, 50.0, 4e4, 6e4])
    assert (
        chosen.focused == "'orchid' | ('visit' & 'o''k') | ('visit' & 'plan') | ('o''k' & 'plan')"
    )
    assert chosen.everything == "'plan' | 'orchid' | 'visit' | 'o''k'"
    assert bm25_plan.plan(["plan"], [9e4]).focused == "'plan'"  # alone: capped, not focused


@pytest.mark.postgres
def test_focused_ranking_matches_the_exact_one(
    new_backend: Callable[[str], Backend], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = bound(new_backend("postgres"))
    assert isinstance(store, PostgresStore)
    texts = [f"we plan {' '.join(FILLER[: i % 10])}" for i in range(240)]
    texts += [f"plan a visit {' '.join(FILLER[: i % 7])}" for i in range(40)]
    texts += [f"the orchid {' '.join(FILLER[: i % 5])}" for i in range(6)]
    write(store, *((record(f"m{i}", t), None) for i, t in enumerate(texts)))
    terms = ["orchid", "plan", "visit"]
    exact = store.text_search(terms, flt(), 10)
    monkeypatch.setattr(bm25_plan, "BUDGET", 30)  # orchid (6 rows) is rare, the rest common
    focused = store.text_search(terms, flt(), 10)
    assert [round(s, 6) for _, s in focused] == [round(s, 6) for _, s in exact]
    assert {m.text for m, _ in focused} == {m.text for m, _ in exact}
    assert sum("orchid" in m.text for m, _ in exact) == 6  # the rare rows lead

    # Fewer focused rows than asked: other matches top the answer up to k.
    topped = store.text_search(["orchid", "plan"], flt(), 20)
    assert len(topped) == 20
    assert all("orchid" in m.text for m, _ in topped[:6])
    assert all("plan" in m.text for m, _ in topped[6:])
