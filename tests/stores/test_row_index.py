"""The SQLite store's in-memory index: FTS5-compatible words, exact BM25, masks, schema upgrade."""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from remem import Memory
from remem.stores.bm25_top import K1, B, Matches
from remem.stores.row_index import RowIndex, Window
from remem.stores.sqlite import SCHEMA_VERSION, SQLiteStore
from remem.stores.tokens import tokenize

TEXTS = [
    "Ana moved to Lisbon last March; she's running daily by the river.",
    "The café in São Paulo serves pão de queijo — naïve coöperation!",
    "Caresses, ponies and cats: generously adopted in 2024 (O'Brien's idea).",
    "is as us s a I x9 under_score e-mail 3.14 ÉCOLE",
]


def _fts5_words(text: str) -> list[str]:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE f USING fts5(t, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    db.execute("INSERT INTO f (t) VALUES (?)", (text,))
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(f, 'instance')")
    return [r[0] for r in db.execute("SELECT term FROM v ORDER BY offset")]


@pytest.mark.parametrize("text", TEXTS)
def test_words_are_the_ones_fts5_would_index(text: str) -> None:
    assert tokenize(text) == _fts5_words(text)


def _index(texts: list[str], when: list[float | None] | None = None) -> RowIndex:
    index = RowIndex(dimension=2)
    part = ("t", "u")
    vectors = [np.array([1.0, 0.0], dtype=np.float32)] * len(texts)
    index.add(
        part, range(1, len(texts) + 1), vectors, when or [None] * len(texts), [False] * len(texts)
    )
    index.ensure_text([part], lambda keys: {int(k): texts[int(k) - 1] for k in keys})
    return index


def test_bm25_scores_match_the_formula() -> None:
    texts = ["lisbon lisbon rain", "rain in porto today", "lisbon", "nothing here at all"]
    index = _index(texts)
    scores = index.text_scores(["lisbon", "rain"], [("t", "u")])[("t", "u")]
    lengths = [len(tokenize(t)) for t in texts]
    average = sum(lengths) / len(texts)

    def expected(doc: int) -> float:
        total = 0.0
        words = tokenize(texts[doc])
        for term in ("lisbon", "rain"):
            tf = words.count(term)
            if tf:
                df = sum(term in tokenize(t) for t in texts)
                idf = math.log1p((len(texts) - df + 0.5) / (df + 0.5))
                norm = K1 * (1 - B + B * lengths[doc] / average)
                total += idf * tf * (K1 + 1) / (tf + norm)
        return total

    assert isinstance(scores, Matches)
    assert scores.rows.tolist() == [0, 1, 2]  # the last holds no query word: not a match at all
    for doc in range(3):
        assert scores.scores[doc] == pytest.approx(expected(doc), rel=1e-5)
    keys, values, admitted = index.top({("t", "u"): scores}, 2)
    assert admitted == 3 and keys.tolist() == [1, 3] and values[0] > values[1]


def test_masks_cut_by_event_time_directive_flag_and_removal() -> None:
    index = RowIndex(dimension=2)
    part = ("t", "u")
    vectors = [np.array([1.0, 0.0], dtype=np.float32), None, np.array([0.6, 0.8], dtype=np.float32)]
    index.add(part, [10, 11, 12], vectors, [100.0, 200.0, None], [False, True, True])
    scores = index.dense_scores(np.array([1.0, 0.0], dtype=np.float32), [part])
    assert index.top(scores, 5)[0].tolist() == [10, 12]  # row 11 has no vector
    assert index.top(scores, 5, Window(after=50.0, before=150.0))[0].tolist() == [10]
    assert index.top(scores, 5, Window(after=150.0))[0].tolist() == []  # 12 has no event time
    assert index.top(scores, 5, Window(directive=True))[0].tolist() == [12]
    assert index.top(scores, 5, keys=np.array([12]))[0].tolist() == [12]
    index.remove([10])
    assert index.top(index.dense_scores(np.array([1.0, 0.0]), [part]), 5)[0].tolist() == [12]


def test_a_search_sees_writes_made_after_the_index_was_built(tmp_path: Path) -> None:
    with Memory(tmp_path / "m.db") as m:
        m.add("the kettle is in the blue cupboard", user_id="u")
        assert m.search("kettle", user_id="u", recipe="bm25")[0].text.startswith("the kettle")
        added = m.add("a second kettle lives in the garage", user_id="u").memories[0]
        assert added.id in {h.id for h in m.search("kettle garage", user_id="u", recipe="bm25")}
        with Memory(tmp_path / "m.db") as other:  # another connection, as another process would
            late = other.add("kettle number three is broken", user_id="u").memories[0]
        assert m.search("broken kettle", user_id="u", recipe="bm25")[0].id == late.id
        m.forget(late.id)
        assert late.id not in {h.id for h in m.search("broken kettle", user_id="u", recipe="bm25")}


def test_an_old_schema_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Memory(path) as m:
        kept = m.add("my passport is in the desk drawer", user_id="u").memories[0]
    raw = sqlite3.connect(path)  # a schema-1 file, from before schema_migrations
    raw.execute("DROP TABLE schema_migrations")
    raw.execute("CREATE VIRTUAL TABLE memories_fts USING fts5 (text, scope)")
    for column in ("layer", "stability", "pinned"):  # added by schema 3
        raw.execute(f"ALTER TABLE memories DROP COLUMN {column}")
    raw.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    raw.commit()
    raw.close()
    store = SQLiteStore(path)
    tables = {r[0] for r in store._db.execute("SELECT name FROM sqlite_master")}
    version = store._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    store.close()
    assert "memories_fts" not in tables and version[0] == str(SCHEMA_VERSION)
    with Memory(path) as m:
        assert m.search("where is my passport", user_id="u")[0].id == kept.id


def test_event_window_search_uses_valid_from(tmp_path: Path) -> None:
    with Memory(tmp_path / "m.db") as m:
        m.add("we hiked the ridge trail", user_id="u", timestamp="2025-03-02T10:00:00Z")
        m.add("we hiked the coastal trail", user_id="u", timestamp="2025-07-09T10:00:00Z")
        hits = m.search(
            "hiked trail",
            user_id="u",
            recipe="bm25",
            after=datetime(2025, 6, 1, tzinfo=UTC),
            before=datetime(2025, 8, 1, tzinfo=UTC),
        )
        assert [h.text for h in hits] == ["we hiked the coastal trail"]


def test_forgotten_rows_leave_the_index_and_the_scores_are_those_of_the_live_rows() -> None:
    texts = [f"note {n} about {'lisbon' if n % 3 else 'porto'} and rain" for n in range(300)]
    vectors = [np.array([np.cos(n), np.sin(n)], dtype=np.float32) for n in range(300)]
    part = ("t", "u")

    def built(keys: list[int]) -> RowIndex:
        index = RowIndex(dimension=2)
        index.add(
            part, keys, [vectors[k - 1] for k in keys], [None] * len(keys), [False] * len(keys)
        )
        index.ensure_text([part], lambda ks: {int(k): texts[int(k) - 1] for k in ks})
        return index

    churned = built(list(range(1, 301)))
    sizes = []
    for first in range(1, 241, 20):  # forgets come in batches; 240 of 300 go
        churned.remove(range(first, first + 20))
        sizes.append(churned._parts[part].size)
    # Compacted once removed rows outnumber live ones (and are at least COMPACT_AT).
    assert sizes == [300] * 7 + [140] * 4 + [60]
    live = list(range(241, 301))
    held = churned._parts[part]
    assert list(held.keys.view) == live and len(held.matrix.data) <= 2 * len(live)
    assert set(held.postings) == set().union(*(tokenize(texts[k - 1]) for k in live))
    fresh = built(live)

    def ranked(index: RowIndex, scores: dict) -> list[tuple[int, float]]:
        keys, values, _ = index.top(scores, 50)
        return [(int(k), round(float(v), 5)) for k, v in zip(keys, values, strict=True)]

    for query in (["lisbon", "rain"], ["porto"], ["note", "299"]):
        assert ranked(churned, churned.text_scores(query, [part])) == ranked(
            fresh, fresh.text_scores(query, [part])
        )
    probe = np.array([0.6, 0.8], dtype=np.float32)
    assert ranked(churned, churned.dense_scores(probe, [part])) == ranked(
        fresh, fresh.dense_scores(probe, [part])
    )
    # New rows after a compaction are indexed and found like any other.
    churned.add(part, [301], [vectors[0]], [None], [False])
    texts.append("a fresh note about oslo")
    churned.ensure_text([part], lambda ks: {int(k): texts[int(k) - 1] for k in ks})
    assert ranked(churned, churned.text_scores(["oslo"], [part]))[0][0] == 301
