"""The SQLite store's in-memory search index, partitioned by (tenant, user).

Per memory row it holds what never changes once a row is written (a change
is a new version, hence a new row): the vector, the event time, the directive
flag and, built lazily on the first text query, the BM25 postings. Searches
score a partition with numpy (exact cosine, BM25 with Lucene's idf) and cut it
with masks for the event-time window and the directive flag, so the common
filters never go back to SQL; the store then re-checks the few winners against
everything that can change (status, expiry, scope) in SQL.

Partitioning means a user's query only touches that user's rows, so one
user's latency does not grow with the whole table. Partitions are loaded when
first searched and kept least-recently-used first within a memory budget
(``index_budget()``), so a store of many users holds only the busy ones. Exact scoring keeps recall
at 1.0 up to ``ann_threshold()`` rows in a partition; past it the dense signal
asks an HNSW graph (``stores/ann.py``) for candidates and rescores them exactly,
and filters that admit few rows are still scored exactly over those rows.
docs/benchmarks.md has the latency and the recall.
"""

from __future__ import annotations

import itertools
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from remem.stores import bm25_top, exact
from remem.stores.ann import Ann
from remem.stores.bm25_top import Lexical, Matches, Term
from remem.stores.grow import Grow
from remem.stores.tokens import tokenize

PartKey = tuple[str, str | None]

#: Rows a partition holds before its dense signal goes through an ANN graph.
ANN_THRESHOLD = 50_000
#: Admitted rows (after a filter) scored exactly however large the partition: a selective
#: filter (a time window, directives only) is cheaper and exact over its own rows.
EXACT_UNDER = 20_000
#: Candidates asked of the graph per row a search wants, and at least.
OVERFETCH, MIN_FETCH = 2, 64
#: Newest rows a graph may leave out, scored exactly instead, before they join it in one add:
#: faiss sets up a lock per node on every add call, so one row at a time cost ~4 ms at 1M.
GRAPH_TAIL = 1_024


_serials = itertools.count()


#: Memory the partitions of one store's index may hold together (MiB) before the least
#: recently searched are dropped (and read from SQL again when next searched).
INDEX_BUDGET_MIB = 4096


def index_budget() -> int:
    """Bytes: ``REMEM_INDEX_BUDGET_MB`` (MiB) if set, else ``INDEX_BUDGET_MIB`` (docs/stores.md)."""
    return int(os.environ.get("REMEM_INDEX_BUDGET_MB") or INDEX_BUDGET_MIB) * 2**20


def ann_threshold() -> int:
    """``REMEM_ANN_THRESHOLD`` if set, else ``ANN_THRESHOLD`` (docs/stores.md)."""
    return int(os.environ.get("REMEM_ANN_THRESHOLD") or ANN_THRESHOLD)


#: Removed rows a part holds at least before it compacts (and at least as many as live ones).
COMPACT_AT = 64


@dataclass
class Approximate:
    """A partition's dense scores, found through its graph: candidates per request,
    rescored exactly. ``found`` caches the unfiltered candidates of this query."""

    query: np.ndarray
    found: np.ndarray | None = None


Scores = np.ndarray | Approximate | Lexical | Matches


@dataclass(frozen=True)
class Window:
    """What a search admits beyond scope: an event-time range, directives only."""

    after: float | None = None
    before: float | None = None
    directive: bool = False


class Part:
    def __init__(self, dimension: int) -> None:
        self.keys = Grow(np.int64)
        self.matrix = Grow(np.float32, dimension)
        self.has_vector = Grow(np.bool_)
        self.when = Grow(np.float64)
        self.directive = Grow(np.bool_)
        self.alive = Grow(np.bool_)
        self.lengths = Grow(np.float32)
        self.postings: dict[str, tuple[Grow, Grow]] = {}
        self.frontiers = bm25_top.Frontiers()  # per word, what bounds its BM25 term
        self.tokenized = 0  # rows [0, tokenized) have postings
        self.total_length = 0.0
        self.ann: Ann | None = None  # the graph over rows [0, ann.size), past the threshold
        self.counted = 0  # bytes of this part in its index's running total

    @property
    def nbytes(self) -> int:
        """About what this partition holds in memory: columns, postings and graph."""
        columns = sum(
            getattr(self, name).data.nbytes
            for name in ("keys", "matrix", "has_vector", "when", "directive", "alive", "lengths")
        )
        postings = 8 * int(self.total_length) + 120 * len(self.postings)
        graph = self.ann.size * (self.matrix.data.shape[1] * 4 + 300) if self.ann else 0
        return columns + postings + graph

    @property
    def size(self) -> int:
        return self.keys.size

    def append(
        self,
        keys: np.ndarray,
        vectors: np.ndarray,
        has_vector: np.ndarray,
        when: np.ndarray,
        directive: np.ndarray,
    ) -> None:
        self.keys.extend(keys)
        self.matrix.extend(vectors)
        self.has_vector.extend(has_vector)
        self.when.extend(when)
        self.directive.extend(directive)
        self.alive.extend(np.ones(len(keys), dtype=np.bool_))
        if self.ann is not None:
            self.ensure_ann(GRAPH_TAIL)

    def ensure_ann(self, tail: int = 0) -> Ann:
        """The graph over every row but at most the ``tail`` newest: built on first need,
        then extended by the rows past it once there are more than ``tail`` of them."""
        if self.ann is None:
            self.ann = Ann.build(self.matrix.view)
        elif self.size - self.ann.size > tail:
            self.ann.add(self.matrix.view[self.ann.size :])
        return self.ann

    def nearest(self, scores: Approximate, ok: np.ndarray, k: int) -> tuple[np.ndarray, bool]:
        """Positions of the candidates for the ``k`` best rows ``ok`` admits, and whether the
        graph proposed them (else they are every admitted row).

        Few admitted rows are all candidates (scored exactly); otherwise the graph's
        unfiltered candidates serve when enough of them are admitted, else the graph is
        walked again with the filter inside it. The rows the graph does not hold yet (its
        tail) are candidates too.
        """
        admitted = int(np.count_nonzero(ok))
        if admitted <= max(EXACT_UNDER, self.size // 16):
            return np.flatnonzero(ok), False
        ann = self.ensure_ann(GRAPH_TAIL)
        tail = ann.size + np.flatnonzero(ok[ann.size :])
        fetch = max(OVERFETCH * k, MIN_FETCH)
        if scores.found is None or len(scores.found) < min(fetch, ann.size):
            scores.found = ann.search(scores.query, fetch)
        hits = scores.found[ok[scores.found]]
        if len(hits) < k:
            found = ann.search(scores.query, fetch, allowed=ok[: ann.size])
            hits = found[ok[found]]
        return np.concatenate([hits, tail]), True

    def scores_at(
        self,
        rows: np.ndarray,
        query: np.ndarray,
        gather: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> np.ndarray:
        """Exact scores of the rows at positions ``rows`` (``gather``: their vectors copied
        out, if not from the matrix: ``Ann.vectors``); ``exact.scores_at`` says how."""
        return exact.scores_at(self.matrix.view, rows, query, gather)

    def add_texts(self, texts: Sequence[str]) -> None:
        """Postings for the next ``len(texts)`` untokenized rows, in row order."""
        start = self.tokenized
        lengths = np.zeros(len(texts), dtype=np.float32)
        grouped: dict[str, tuple[list[int], list[int]]] = {}
        for offset, text in enumerate(texts):
            counts: dict[str, int] = {}
            words = tokenize(text)
            lengths[offset] = len(words)
            for word in words:
                counts[word] = counts.get(word, 0) + 1
            for word, tf in counts.items():
                positions, tfs = grouped.setdefault(word, ([], []))
                positions.append(start + offset)
                tfs.append(tf)
        for word, (positions, tfs) in grouped.items():
            entry = self.postings.get(word)
            if entry is None:
                entry = self.postings[word] = (Grow(np.int32), Grow(np.float32))
            entry[0].extend(np.asarray(positions, dtype=np.int32))
            entry[1].extend(np.asarray(tfs, dtype=np.float32))
        self.lengths.extend(lengths)
        self.total_length += float(lengths.sum())
        self.tokenized += len(texts)

    def compact(self) -> None:
        """Drop the removed rows: their vectors and postings, so memory follows live rows."""
        keep = self.alive.view.copy()
        moved = np.cumsum(keep) - 1  # a kept row's new position
        for name in ("keys", "matrix", "has_vector", "when", "directive", "alive", "lengths"):
            grown: Grow = getattr(self, name)
            rows = keep[: grown.size]  # ``lengths``: the tokenized rows only
            setattr(self, name, Grow.of(grown.view[rows]))
        postings = {}
        for word, (positions, tfs) in self.postings.items():
            kept = keep[positions.view]
            if kept.any():
                new = moved[positions.view[kept]].astype(np.int32)
                postings[word] = (Grow.of(new), Grow.of(tfs.view[kept]))
        self.postings = postings
        self.frontiers = bm25_top.Frontiers()
        self.tokenized = self.lengths.size
        self.total_length = float(self.lengths.view.sum())
        self.ann = None  # positions moved: rebuilt at the next search that needs it

    def admitted(self, window: Window, rows: np.ndarray | None = None) -> np.ndarray:
        """Which rows ``window`` admits: a mask over every row, or over ``rows`` only."""
        at = slice(None) if rows is None else rows
        ok = self.alive.view.copy() if rows is None else self.alive.view[rows]
        if window.after is not None:
            ok &= self.when.view[at] >= window.after
        if window.before is not None:
            ok &= self.when.view[at] < window.before
        if window.directive:
            ok &= self.directive.view[at]
        return ok

    def lexical(
        self, words: Sequence[str], idf: dict[str, np.float64], average: float
    ) -> Lexical | None:
        """This partition's BM25 for ``words``, ranked bounded (``bm25_top``) when its
        postings are long enough to pay for it, else None (score every posting)."""
        entries = [(w, self.postings[w]) for w in words if w in self.postings]
        if len(entries) > bm25_top.BOUNDED_MOST_WORDS or self.size < bm25_top.BOUNDED_ROWS:
            return None
        if sum(entry[0].size for _, entry in entries) < bm25_top.BOUNDED_FROM:
            return None
        lengths = self.lengths.view
        terms = []
        for word, (positions, tfs) in entries:
            frontier = self.frontiers.of(word, positions, positions.view, tfs.view, lengths)
            terms.append(Term(idf[word], positions.view, tfs.view, frontier))
        return Lexical(terms, average)


class RowIndex:
    def __init__(
        self, dimension: int, ann_rows: int | None = None, budget: int | None = None
    ) -> None:
        self.dimension = dimension
        #: Partition size from which dense search goes through the ANN graph.
        self.ann_rows = ann_threshold() if ann_rows is None else ann_rows
        #: Bytes the partitions may hold together; the least recently used go first.
        self.budget = index_budget() if budget is None else budget
        self._parts: OrderedDict[PartKey, Part] = OrderedDict()  # least recently used first
        self._bytes = 0
        #: Partitions dropped to keep within the budget.
        self.evictions = 0
        self.max_key = 0
        #: Bumped on every change, so callers can cache scores between changes.
        self.generation = 0
        #: Which index this is (a store replaces its index when re-embedded).
        self.serial = next(_serials)
        #: ANN graphs built from scratch by this index (worth saving: they take seconds).
        self.graphs_built = 0

    def __len__(self) -> int:
        return sum(int(np.count_nonzero(p.alive.view)) for p in self._parts.values())

    @property
    def parts(self) -> dict[PartKey, Part]:
        """Every loaded partition by key (``index_file.py`` saves and restores them)."""
        return self._parts

    def loaded(self, key: PartKey) -> bool:
        return key in self._parts

    def create(self, key: PartKey) -> None:
        """An empty partition for ``key``, loaded: its rows arrive through ``add``."""
        self._parts.setdefault(key, Part(self.dimension))

    def use(self, keys: Sequence[PartKey]) -> None:
        """``keys`` were just searched: most recently used now. Then, past the budget, the
        least recently used other partitions are dropped."""
        for key in keys:
            part = self._parts[key]
            self._bytes += part.nbytes - part.counted
            part.counted = part.nbytes
            self._parts.move_to_end(key)
        keep = set(keys)
        for key in list(self._parts):
            if self._bytes <= self.budget:
                break
            if key not in keep:
                self._bytes -= self._parts.pop(key).counted
                self.evictions += 1
                self.generation += 1

    def add(
        self,
        part: PartKey,
        keys: Iterable[int],
        vectors: Sequence[np.ndarray | None],
        when: Sequence[float | None],
        directive: Sequence[bool],
        *,
        create: bool = True,
    ) -> None:
        """Rows of ``part``, in key order. With ``create=False`` rows of a partition that is
        not loaded are skipped (it reads them all from SQL when it is next searched)."""
        keys = np.fromiter(keys, dtype=np.int64)
        if len(keys) == 0:
            return
        if not create and part not in self._parts:
            self.max_key = max(self.max_key, int(keys.max()))
            return
        matrix = np.zeros((len(keys), self.dimension), dtype=np.float32)
        has_vector = np.zeros(len(keys), dtype=np.bool_)
        for i, vector in enumerate(vectors):
            if vector is not None:
                matrix[i] = vector
                has_vector[i] = True
        self._parts.setdefault(part, Part(self.dimension)).append(
            keys,
            matrix,
            has_vector,
            np.array([np.nan if w is None else w for w in when], dtype=np.float64),
            np.asarray(directive, dtype=np.bool_),
        )
        self.max_key = max(self.max_key, int(keys.max()))
        self.generation += 1

    def remove(self, keys: Iterable[int]) -> None:
        """Rows no search may return again (forgotten). A part compacts once its removed
        rows outnumber its live ones (amortised O(1) a row), so a store that keeps adding
        and forgetting holds as much as it keeps, however long it runs."""
        doomed = np.fromiter(keys, dtype=np.int64)
        if len(doomed):
            for part in self._parts.values():
                part.alive.view[np.isin(part.keys.view, doomed)] = False
                dead = part.size - int(np.count_nonzero(part.alive.view))
                if dead >= max(COMPACT_AT, part.size - dead):
                    part.compact()
            self.generation += 1

    def parts_for(self, tenant: str, user_id: str | None) -> list[PartKey]:
        if user_id is not None:
            return [(tenant, user_id)] if (tenant, user_id) in self._parts else []
        return [key for key in self._parts if key[0] == tenant]

    # -- scoring ---------------------------------------------------------------
    def dense_scores(self, vector: np.ndarray, parts: list[PartKey]) -> dict[PartKey, Scores]:
        """Cosine (the vectors are normalised) of every row; -inf where a row has no vector.

        A partition past the ANN threshold is scored later, in ``top``, only for the rows
        its graph proposes for that request.
        """
        query = np.asarray(vector, dtype=np.float32)
        out: dict[PartKey, Scores] = {}
        for key in parts:
            part = self._parts[key]
            if part.size >= self.ann_rows:
                if part.ann is None:
                    self.graphs_built += 1
                part.ensure_ann(GRAPH_TAIL)
                out[key] = Approximate(query)
                continue
            scores = part.matrix.view @ query
            scores[~part.has_vector.view] = -np.inf
            out[key] = scores
        return out

    def ensure_text(
        self, parts: list[PartKey], fetch: Callable[[np.ndarray], dict[int, str]]
    ) -> None:
        """Tokenize rows added since the last text query; ``fetch`` maps keys to their text."""
        for key in parts:
            part = self._parts[key]
            if part.tokenized < part.size:
                keys = part.keys.view[part.tokenized :]
                texts = fetch(keys)
                part.add_texts([texts.get(int(k), "") for k in keys])
                self.generation += 1

    def text_scores(self, terms: Sequence[str], parts: list[PartKey]) -> dict[PartKey, Scores]:
        """BM25 for ``terms`` of the rows holding one, statistics over ``parts``."""
        words = list(dict.fromkeys(w for term in terms for w in tokenize(term)))
        chosen = [self._parts[key] for key in parts]
        rows = sum(p.tokenized for p in chosen)
        if not words or not rows:
            return {}
        average = max(sum(p.total_length for p in chosen) / rows, 1e-9)
        frequency = {
            w: sum(p.postings[w][0].size for p in chosen if w in p.postings) for w in words
        }
        idf = {w: np.log1p((rows - df + 0.5) / (df + 0.5)) for w, df in frequency.items()}
        out: dict[PartKey, Scores] = {}
        for key, part in zip(parts, chosen, strict=True):
            bounded = part.lexical(words, idf, average)
            if bounded is not None:
                out[key] = bounded
                continue
            held = [w for w in words if w in part.postings]
            scored = [(idf[w], part.postings[w][0].view, part.postings[w][1].view) for w in held]
            out[key] = bm25_top.matches(part.size, part.lengths.view, average, scored)
        return out

    def top(
        self,
        scores: dict[PartKey, Scores],
        k: int,
        window: Window = Window(),
        keys: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Keys and scores of the ``k`` best admitted rows, best first, and how many were admitted
        (a BM25 partition ranked bounded counts only whether rows remain past those returned).

        ``keys`` (sorted) further restricts the rows to exactly those keys.
        """
        chunk_keys, chunk_scores, admitted = [], [], 0
        for key, values in scores.items():
            part = self._parts[key]
            if isinstance(values, Lexical):
                ok = part.alive.view if window == Window() else part.admitted(window)
                if keys is not None:
                    ok = ok & np.isin(part.keys.view, keys, assume_unique=True)
                rows, found, more = bm25_top.top(values, part.lengths.view, ok, k)
                chunk_keys.append(part.keys.view[rows])
                chunk_scores.append(found)
                admitted += len(rows) + int(more)
                continue
            if isinstance(values, Matches):
                ok = part.admitted(window, values.rows)
                if keys is not None:
                    ok &= np.isin(part.keys.view[values.rows], keys, assume_unique=True)
                chosen = np.flatnonzero(ok)
                chunk_keys.append(part.keys.view[values.rows[chosen]])
                chunk_scores.append(values.scores[chosen])
                admitted += len(chosen)
                continue
            ok = part.admitted(window)
            if keys is not None:
                ok &= np.isin(part.keys.view, keys, assume_unique=True)
            if isinstance(values, Approximate):
                ok &= part.has_vector.view
                (rows, walked), graph = part.nearest(values, ok, k), part.ann
                # the graph's candidates: their vectors from the pages its walk read
                gather = (
                    partial(graph.vectors, matrix=part.matrix.view) if walked and graph else None
                )
                chunk_keys.append(part.keys.view[rows])
                chunk_scores.append(part.scores_at(rows, values.query, gather))
                admitted += int(np.count_nonzero(ok))
                continue
            ok &= np.isfinite(values)
            chunk_keys.append(part.keys.view[ok])
            chunk_scores.append(values[ok])
            admitted += len(chunk_scores[-1])
        if not chunk_scores:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32), 0
        all_scores = np.concatenate(chunk_scores)
        all_keys = np.concatenate(chunk_keys)
        n = len(all_scores)
        best = np.argpartition(-all_scores, k)[:k] if k < n else np.arange(n)
        order = best[np.argsort(-all_scores[best], kind="stable")]
        return all_keys[order], all_scores[order], admitted
