"""BM25 top-k over a partition's postings without scoring every posting (MaxScore).

Scoring every row that holds a query word costs a pass over every posting of every word
and then over the whole partition (``row_index.RowIndex.text_scores``): at 1M rows one
common word holds 100k+ rows. Here each word carries a bound, the largest contribution
any of its rows gets (from the few (tf, length) pairs that can give it, cached per word);
words are walked largest bound first, and once ``k`` admitted rows are scored, a row of a
later word whose contribution plus the bounds of the words after it cannot reach the k-th
score is never scored. Rows that can are scored in full, with exactly the arithmetic of the
full pass (the same float32 accumulation in query order; for many rows and words, read from
that pass itself), so the top-k is the full pass's:
the same scores, rank by rank, and the same rows; among rows tied with the k-th the lower
positions win (the full pass leaves that to ``np.argpartition``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

#: BM25 constants (the usual ones; FTS5 and Lucene use the same).
K1 = 1.2
B = 0.75
#: Postings of the query's words in a partition from which its top-k is bounded: below it the
#: full pass costs about the same (100k rows, docs/benchmarks.md) and ties keep its order.
BOUNDED_FROM = 50_000
#: Rows a partition holds before a bound pays at all: below it one pass over the postings,
#: kept to the rows it scored (``Matches``), costs less however many there are (the bounded
#: pass cost 1.1-3.9x the full one at 100k and 200k rows, 0.7-0.8x at 400k for up to ten
#: words, docs/benchmarks.md).
BOUNDED_ROWS = 300_000
#: Query words from which the full pass runs however long their postings: a bound prunes
#: when a few rare words decide the top; the guard's search by a claim's words (15-20
#: words of similar weight, most of them common) leaves most postings essential, and the
#: bounded pass cost 1.5-1.7x the full one at 100k rows (docs/benchmarks.md).
BOUNDED_MOST_WORDS = 10
#: Admitted rows (after a filter) scored exactly, each, instead of bounded.
EXACT_UNDER = 20_000
#: Float32 accumulation rounds each step (relative 6e-8); bounds are widened by this much.
SAFE = 1 + 1e-5
#: A row looked up in one word's postings costs about this many postings of a full pass.
LOOKUP_COST = 3
#: (tf, length) cells a frontier is counted in at most; past it, it is sorted.
FRONTIER_CELLS = 1 << 22
#: Rows of a long first list scored to seed the k-th score, as a multiple of ``k``.
SEED = 2


def norm(lengths: np.ndarray, average: float) -> np.ndarray:
    """BM25's length normalisation of rows of these (float32) lengths."""
    return K1 * (1 - B + B * lengths / average)


def contribution(idf: np.float64, tfs: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """One word's BM25 term for rows with these term frequencies and norms (float64):
    ``idf * tfs * (K1 + 1) / (tfs + norms)``, worked in place in one array (the same
    operations in the same order, so the same bits, with fewer temporaries)."""
    found = np.multiply(tfs, idf, dtype=np.float64)
    found *= K1 + 1
    found /= tfs + norms
    return found


def full_pass(
    size: int,
    lengths: np.ndarray,
    average: float,
    terms: Iterable[tuple[np.float64, np.ndarray, np.ndarray]],
) -> np.ndarray:
    """BM25 of every row (float32, 0 where no word occurs) from (idf, positions, tfs) per
    word, accumulated in the order given: the one arithmetic both the full pass and the
    bounded one's exact scores use, so their scores agree bit for bit."""
    scores = np.zeros(size, dtype=np.float32)
    terms = list(terms)
    # Every row's norm when the postings cover the partition, else only their rows' (the
    # same arithmetic per row either way: a question's few words skip a pass over all).
    norms = norm(lengths, average) if sum(len(t[1]) for t in terms) >= size else None
    for idf, positions, tfs in terms:
        at = positions.astype(np.intp)  # converted once, for the gather and the add
        near = norm(lengths[at], average) if norms is None else norms[at]
        scores[at] += contribution(idf, tfs, near)
    return scores


@dataclass(frozen=True)
class Matches:
    """A partition's BM25 for one query scored in full, kept sparse: the rows holding a
    query word (increasing positions) and their scores. Ranking them reads only those
    rows: the dense array's masks over every row (no word, the filter) cost more than
    the scoring for a guard's claim of 20 words (docs/benchmarks.md)."""

    rows: np.ndarray
    scores: np.ndarray


def matches(
    size: int,
    lengths: np.ndarray,
    average: float,
    terms: Iterable[tuple[np.float64, np.ndarray, np.ndarray]],
) -> Matches:
    """``full_pass`` kept to the rows it scored (a score is > 0 exactly where a word occurs)."""
    scores = full_pass(size, lengths, average, terms)
    rows = np.flatnonzero(scores > 0)
    return Matches(rows, scores[rows])


@dataclass(frozen=True)
class Term:
    """One query word in one partition: its postings (increasing positions) and idf."""

    idf: np.float64
    positions: np.ndarray
    tfs: np.ndarray
    #: The distinct term frequencies of its rows and the shortest row holding each.
    frontier: tuple[np.ndarray, np.ndarray]

    def bound(self, average: float) -> float:
        """The largest contribution of this word to any of its rows."""
        tfs, shortest = self.frontier
        return float(contribution(self.idf, tfs, norm(shortest, average)).max())


@dataclass
class Lexical:
    """A partition's BM25 scores for one query, ranked on demand (``top``)."""

    terms: list[Term]  # in query order: the order scores accumulate in
    average: float


class Frontiers:
    """Per word, (distinct tf, shortest row length with it), kept as its postings grow."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[object, int, np.ndarray, np.ndarray]] = {}

    def of(
        self, word: str, owner: object, positions: np.ndarray, tfs: np.ndarray, lengths: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The frontier of ``word``'s postings (``owner``: the array they live in; a new one
        means the postings were rebuilt)."""
        known = self._known.get(word)
        start = 0
        old: tuple[np.ndarray, np.ndarray] | None = None
        if known is not None and known[0] is owner and known[1] <= len(positions):
            if known[1] == len(positions):
                return known[2], known[3]
            start, old = known[1], (known[2], known[3])
        values, shortest = _frontier(tfs[start:], lengths[positions[start:]])
        if old is not None:
            values, shortest = _frontier(
                np.concatenate([old[0], values]), np.concatenate([old[1], shortest])
            )
        self._known[word] = (owner, len(positions), values, shortest)
        return values, shortest


def _frontier(tfs: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct tf, shortest length with it): term frequencies and lengths are word counts,
    so one ``bincount`` over (tf, length) pairs finds them (a sort took 100+ ms for a
    word of 500k rows, at its first query)."""
    tf, length = tfs.astype(np.int64), lengths.astype(np.int64)
    width = int(length.max()) + 1
    if (int(tf.max()) + 1) * width > FRONTIER_CELLS:  # a rare very long row: sort instead
        values, which = np.unique(tfs, return_inverse=True)
        shortest = np.full(len(values), np.inf, dtype=np.float32)
        np.minimum.at(shortest, which, lengths.astype(np.float32))
        return values, shortest
    counts = np.bincount(tf * width + length, minlength=(int(tf.max()) + 1) * width)
    seen = counts.reshape(-1, width) > 0
    values = np.flatnonzero(seen.any(axis=1))
    return values.astype(np.float32), seen[values].argmax(axis=1).astype(np.float32)


def top(
    lexical: Lexical, lengths: np.ndarray, ok: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Positions and scores of the ``k`` best rows ``ok`` (a mask over positions) admits,
    best first (ties: lower position first), and whether admitted rows holding a word remain.

    A filter admitting few rows (a narrow time window, directives) is scored exactly over its
    own rows: the bounds prune little when few of a word's rows are admitted.
    """
    terms = lexical.terms
    exact = _Exact(lexical, lengths)
    if int(np.count_nonzero(ok)) <= EXACT_UNDER:
        rows = np.flatnonzero(ok)
        scores = exact(rows)
        rows, scores = rows[scores > 0], scores[scores > 0]
        best = _merge((rows[:0], scores[:0]), rows, scores, k)
        return best[0], best[1], len(rows) > len(best[0])

    def admits(rows: np.ndarray) -> np.ndarray:
        return ok[rows]

    bounds = np.array([t.bound(lexical.average) for t in terms], dtype=np.float64)
    order = np.argsort(-bounds, kind="stable")
    after = np.concatenate([np.cumsum(bounds[order][::-1])[::-1][1:], [0.0]])
    best = (np.empty(0, np.int64), np.empty(0, np.float32))
    theta = -np.inf
    scored = 0  # admitted rows scored
    done = np.zeros(len(ok), dtype=np.bool_)  # rows scored or ruled out (by a bound, a filter)
    skipped: list[np.ndarray] = []  # rows passed over by a bound: admitted or not, unknown
    for i, j in enumerate(order):
        term = terms[j]
        rows = term.positions.astype(np.int64)
        if len(best[0]) >= k and (bounds[j] + after[i]) * SAFE < theta:
            skipped.extend(terms[o].positions for o in order[i:])
            break
        reach = contribution(term.idf, term.tfs, norm(lengths[rows], lexical.average))
        reach += after[i]
        if len(best[0]) < k and len(rows) > SEED * k:
            # A long list first: its rows that reach furthest alone set the k-th score.
            seed = rows[np.sort(np.argpartition(-reach, SEED * k)[: SEED * k])]
            seed = _admitted(seed[~done[seed]], admits)
            done[seed] = True
            scored += len(seed)
            best = _merge(best, seed, exact(seed), k)
            theta = best[1][-1] if len(best[0]) >= k else -np.inf
        if len(best[0]) >= k:
            keep = reach * SAFE >= theta
            skipped.append(rows[~keep])
            rows = rows[keep]
        rows = _admitted(rows[~done[rows]], admits)
        done[term.positions] = True
        scored += len(rows)
        best = _merge(best, rows, exact(rows), k)
        if len(best[0]) >= k:
            theta = best[1][-1]
    more = scored > len(best[0]) or _any_admitted(skipped, best[0], admits)
    return best[0], best[1], more


class _Exact:
    """BM25 of given rows, exactly as the full pass computes it: each row looked up in every
    word's postings while that costs less than one pass over all of them (many words, as a
    guard's claim has, make lookups dear), then read from that pass."""

    def __init__(self, lexical: Lexical, lengths: np.ndarray) -> None:
        self._lexical, self._lengths = lexical, lengths
        self._postings = sum(len(t.positions) for t in lexical.terms)
        self._full: np.ndarray | None = None

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        terms, average = self._lexical.terms, self._lexical.average
        if self._full is None and LOOKUP_COST * len(rows) * len(terms) > self._postings:
            self._full = full_pass(
                len(self._lengths),
                self._lengths,
                average,
                ((t.idf, t.positions, t.tfs) for t in terms),
            )
        if self._full is not None:
            return self._full[rows]
        return _exact(terms, rows, self._lengths, average)


def _exact(
    terms: Sequence[Term], rows: np.ndarray, lengths: np.ndarray, average: float
) -> np.ndarray:
    """BM25 of ``rows``: the full pass's arithmetic, word by word in query order."""
    scores = np.zeros(len(rows), dtype=np.float32)
    if not len(rows):
        return scores
    norms = norm(lengths[rows], average)
    for term in terms:
        at, hit = _find(term.positions, rows)
        scores[hit] += contribution(term.idf, term.tfs[at[hit]], norms[hit])
    return scores


def _find(sorted_positions: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``rows`` sits in ``sorted_positions``, and whether it is there."""
    if not len(sorted_positions):
        return np.zeros(len(rows), np.int64), np.zeros(len(rows), np.bool_)
    at = np.minimum(np.searchsorted(sorted_positions, rows), len(sorted_positions) - 1)
    return at, sorted_positions[at] == rows


def _admitted(rows: np.ndarray, admits: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    return rows[admits(rows)] if len(rows) else rows


def _merge(
    best: tuple[np.ndarray, np.ndarray], rows: np.ndarray, scores: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of both, by score, then lower position."""
    if not len(rows):
        return best
    all_rows = np.concatenate([best[0], rows])
    all_scores = np.concatenate([best[1], scores])
    if len(all_scores) > k:  # sort only the rows at or above the k-th score
        kth = np.partition(all_scores, len(all_scores) - k)[len(all_scores) - k]
        all_rows, all_scores = all_rows[all_scores >= kth], all_scores[all_scores >= kth]
    order = np.lexsort((all_rows, -all_scores))[:k]
    return all_rows[order], all_scores[order]


def _any_admitted(
    skipped: list[np.ndarray], returned: np.ndarray, admits: Callable[[np.ndarray], np.ndarray]
) -> bool:
    """Whether a passed-over row is admitted (and not already returned)."""
    for rows in skipped:
        rows = rows.astype(np.int64)
        rows = rows[~np.isin(rows, returned)]
        if len(rows) and bool(admits(rows).any()):
            return True
    return False
