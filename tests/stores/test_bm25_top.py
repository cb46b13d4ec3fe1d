"""Bounded BM25 top-k (``bm25_top``) against scoring every posting: the same top-k."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from remem.stores import bm25_top
from remem.stores.bm25_top import Lexical, Matches
from remem.stores.row_index import PartKey, RowIndex, Window

PART: PartKey = ("t", "u")
#: Word i is drawn with weight 1 / (i + 1): a few common words, a long tail of rare ones.
VOCABULARY = [f"w{i}" for i in range(40)]


@contextmanager
def bounded_from(postings: int, exact_under: int = 0, lookup_cost: int = 8) -> Iterator[None]:
    """Bound every query whose words hold ``postings``, however few rows the partition has;
    score ``exact_under`` admitted rows (or fewer) each instead; ``lookup_cost`` 0: rows
    always looked up, huge: a full pass."""
    names = ("BOUNDED_FROM", "BOUNDED_ROWS", "EXACT_UNDER", "LOOKUP_COST")
    saved = [getattr(bm25_top, name) for name in names]
    for name, value in zip(names, (postings, 0, exact_under, lookup_cost), strict=True):
        setattr(bm25_top, name, value)
    try:
        yield
    finally:
        for name, value in zip(names, saved, strict=True):
            setattr(bm25_top, name, value)


def corpus(seed: int, rows: int) -> tuple[RowIndex, list[str]]:
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, len(VOCABULARY) + 1)
    weights /= weights.sum()
    texts = []
    for _ in range(rows):
        words = rng.choice(VOCABULARY, size=int(rng.integers(1, 12)), p=weights)
        texts.append(" ".join(words))
    for i in range(0, rows, 7):  # repeated texts: ties at every rank
        texts[i] = texts[0]
    index = RowIndex(dimension=2)
    vector = np.array([1.0, 0.0], dtype=np.float32)
    when = [None if i % 11 == 0 else float(i) for i in range(rows)]
    index.add(PART, range(1, rows + 1), [vector] * rows, when, [i % 5 == 0 for i in range(rows)])
    index.ensure_text([PART], lambda keys: {int(k): texts[int(k) - 1] for k in keys})
    return index, texts


def dense(matches: object, size: int) -> np.ndarray:
    """A full pass's scores as one array over every row, -inf where no word occurs."""
    assert isinstance(matches, Matches)
    scores = np.full(size, -np.inf, dtype=np.float32)
    scores[matches.rows] = matches.scores
    return scores


def reference(scores: np.ndarray, keys: np.ndarray, ok: np.ndarray, k: int) -> list[int]:
    """The full pass's top-k with ties broken by position (its order among ties is free)."""
    ok = ok & np.isfinite(scores)
    rows = np.flatnonzero(ok)
    order = np.lexsort((rows, -scores[rows]))[:k]
    return keys[rows[order]].tolist()


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    rows=st.integers(1, 1_500),
    query=st.lists(st.sampled_from([*VOCABULARY, "absent"]), min_size=1, max_size=6),
    k=st.integers(1, 40),
    after=st.one_of(st.none(), st.integers(0, 1_500)),
    directive=st.booleans(),
    restrict=st.booleans(),
    exact_under=st.sampled_from([0, 10**9]),
    lookup_cost=st.sampled_from([0, 8, 10**9]),
)
def test_bounded_top_k_is_the_full_top_k(
    seed: int,
    rows: int,
    query: list[str],
    k: int,
    after: int | None,
    directive: bool,
    restrict: bool,
    exact_under: int,
    lookup_cost: int,
) -> None:
    index, _ = corpus(seed, rows)
    window = Window(after=None if after is None else float(after), directive=directive)
    keys = np.arange(1, rows + 1, 3, dtype=np.int64) if restrict else None
    with bounded_from(10**9):
        full = index.text_scores(query, [PART])
    with bounded_from(0, exact_under, lookup_cost):
        bounded = index.text_scores(query, [PART])
        if not full:
            assert not bounded
            return
        assert isinstance(bounded[PART], Lexical)
        plain = dense(full[PART], index.parts[PART].size)
        want_keys, want_scores, want_admitted = index.top(full, k, window, keys)
        got_keys, got_scores, got_admitted = index.top(bounded, k, window, keys)
    # the same scores, rank by rank, bit for bit
    assert got_scores.tobytes() == want_scores.tobytes()
    part = index.parts[PART]
    ok = part.admitted(window)
    if keys is not None:
        ok &= np.isin(part.keys.view, keys)
    assert got_keys.tolist() == reference(plain, part.keys.view, ok, k)
    # whether rows remain past those returned (what the store's fallback asks)
    assert (got_admitted > len(got_keys)) == (want_admitted > len(want_keys))


def test_bounded_ranking_skips_rows_that_cannot_reach_the_top() -> None:
    """A rare word's rows outrank a common word's: most of the common list is never scored."""
    index, texts = corpus(7, 3_000)
    common = max(VOCABULARY, key=lambda w: sum(w in t.split() for t in texts))
    scored: list[int] = []
    exact = bm25_top._exact

    def counting(*args: object) -> np.ndarray:
        result = exact(*args)  # type: ignore[arg-type]
        scored.append(len(result))
        return result

    bm25_top._exact = counting  # type: ignore[assignment]
    try:
        with bounded_from(0):
            found = index.top(index.text_scores([common, "w39"], [PART]), 5)
    finally:
        bm25_top._exact = exact  # type: ignore[assignment]
    part = index.parts[PART]
    holding = part.postings[common][0].size
    assert len(found[0]) == 5
    assert sum(scored) < holding / 4


def test_the_frontier_is_the_shortest_row_per_term_frequency() -> None:
    rng = np.random.default_rng(3)
    tfs = rng.integers(1, 6, 5_000).astype(np.float32)
    lengths = (tfs + rng.integers(0, 300, 5_000)).astype(np.float32)
    want_values = np.unique(tfs)
    want = [lengths[tfs == v].min() for v in want_values]
    counted = bm25_top._frontier(tfs, lengths)
    saved = bm25_top.FRONTIER_CELLS
    bm25_top.FRONTIER_CELLS = 0  # too many cells: sorted instead
    try:
        sorted_ = bm25_top._frontier(tfs, lengths)
    finally:
        bm25_top.FRONTIER_CELLS = saved
    for values, shortest in (counted, sorted_):
        assert values.tolist() == want_values.tolist() and shortest.tolist() == want


def test_a_query_of_many_words_is_scored_by_the_full_pass() -> None:
    index, _ = corpus(5, 600)
    few = VOCABULARY[: bm25_top.BOUNDED_MOST_WORDS]
    many = VOCABULARY[: bm25_top.BOUNDED_MOST_WORDS + 1]
    with bounded_from(1):
        assert isinstance(index.text_scores(few, [PART])[PART], Lexical)
        assert not isinstance(index.text_scores(many, [PART])[PART], Lexical)


def test_a_partition_of_fewer_rows_than_bounded_rows_is_scored_by_the_full_pass() -> None:
    index, _ = corpus(5, 600)
    with bounded_from(1):
        assert isinstance(index.text_scores(VOCABULARY[:3], [PART])[PART], Lexical)
        bm25_top.BOUNDED_ROWS = 601  # restored by ``bounded_from``
        assert isinstance(index.text_scores(VOCABULARY[:3], [PART])[PART], Matches)
        bm25_top.BOUNDED_ROWS = 600
        assert isinstance(index.text_scores(VOCABULARY[:3], [PART])[PART], Lexical)


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    rows=st.integers(1, 1_500),
    query=st.lists(st.sampled_from([*VOCABULARY, "absent"]), min_size=1, max_size=20),
    k=st.integers(1, 130),
    after=st.one_of(st.none(), st.integers(0, 1_500)),
    directive=st.booleans(),
    restrict=st.booleans(),
)
def test_the_sparse_full_pass_ranks_as_the_dense_one(
    seed: int,
    rows: int,
    query: list[str],
    k: int,
    after: int | None,
    directive: bool,
    restrict: bool,
) -> None:
    """Ranking the rows that hold a word (``Matches``) gives what ranking one array over every
    row did, ties included: the same keys in the same order and the same scores, bit for bit,
    and the same count of admitted rows."""
    index, _ = corpus(seed, rows)
    window = Window(after=None if after is None else float(after), directive=directive)
    keys = np.arange(1, rows + 1, 3, dtype=np.int64) if restrict else None
    with bounded_from(10**9):
        sparse = index.text_scores(query, [PART])
    if not sparse:
        return
    whole = {PART: dense(sparse[PART], index.parts[PART].size)}
    got_keys, got_scores, got_admitted = index.top(sparse, k, window, keys)
    want_keys, want_scores, want_admitted = index.top(whole, k, window, keys)
    assert got_keys.tolist() == want_keys.tolist()
    assert got_scores.tobytes() == want_scores.tobytes()
    assert got_admitted == want_admitted
