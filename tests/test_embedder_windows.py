"""Long memories read in windows: the packaged model's 256 tokens no longer hide the rest.

A memory longer than one window is embedded as up to 8 overlapping windows, its vector
their normalised mean; short memories and queries are read as before, bit for bit. Stores
made before hold first-window vectors under the old model id and keep opening with them
until ``reembed`` (docs/recall.md, "fourth round").
"""

from __future__ import annotations

import numpy as np
import pytest

from remem import InvalidInput, Memory
from remem.providers import OnnxEmbedder
from remem.providers.embedder import embedder_from
from remem.providers.local_embedder import (
    FIRST_WINDOW_ID,
    MODEL_ID,
    WINDOWS,
    FirstWindow,
    LocalEmbedder,
)
from tests.test_embedders import model_folder
from tests.test_reembed import stored_vectors

SHORT = ["I moved to Lisbon last March.", "ok", "a long turn " * 60, "Rita works in Porto."]
TOPICS = ["the garden", "the budget", "the kitchen", "the roof", "the car", "the trip"]
FACT = "Finally, my sister Rita has become a cardiologist at the hospital in Porto."


def long_text(topic: str, fact: str = "") -> str:
    """~1,000 tokens about ``topic``, ``fact`` at its very end (past the first window)."""
    filler = " ".join(
        f"On day {i} we talked about {topic} again and agreed to revisit {topic} later."
        for i in range(50)
    )
    return f"{filler} {fact}".strip()


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    return LocalEmbedder.shared()


def test_short_texts_and_queries_are_embedded_as_before(local: LocalEmbedder) -> None:
    first = FirstWindow(local)
    assert np.array_equal(local.embed(SHORT), first.embed(SHORT))
    assert np.array_equal(local.embed(SHORT), local.embed_windows(SHORT, 1))
    mixed = local.embed([*SHORT, long_text("the roof", FACT)])
    assert np.array_equal(mixed[: len(SHORT)], first.embed(SHORT))
    assert local.embed_query(FACT).shape == (384,)
    np.testing.assert_allclose(local.embed_query(FACT), first.embed([FACT])[0], atol=1e-6)


def test_a_long_text_is_the_normalised_mean_of_its_windows(local: LocalEmbedder) -> None:
    text = long_text("the garden", FACT)
    local.embed(["load"])
    encoding = local._tokenizer.encode(text)
    pieces = [encoding, *encoding.overflowing]
    assert 2 < len(pieces) <= WINDOWS
    assert all(len(p.ids) <= 256 for p in pieces)
    windows = local._run(pieces)
    mean = windows.mean(axis=0)
    np.testing.assert_allclose(local.embed([text])[0], mean / np.linalg.norm(mean), atol=1e-6)
    # consecutive windows repeat the last 32 tokens of the one before
    assert pieces[0].ids[-33:-1] == pieces[1].ids[1:33]


def test_a_fact_only_in_the_last_window_is_found_by_dense(
    tmp_path: object, local: LocalEmbedder
) -> None:
    texts = [long_text(t, FACT if t == "the roof" else "") for t in TOPICS]
    with Memory(tmp_path / "m.db", llm=None) as memory:  # type: ignore[operator]
        for text in texts:
            memory.add(text, user_id="ana")
        query = "Which hospital does Rita work at as a cardiologist?"
        [hit] = memory.search(query, user_id="ana", recipe="dense", limit=1).hits
    assert hit.text.endswith(FACT)
    # read truncated, as before, the fact is not seen at all
    first = FirstWindow(local)
    assert np.array_equal(first.embed([texts[3]]), first.embed([long_text("the roof")]))
    assert not np.allclose(local.embed([texts[3]]), local.embed([long_text("the roof")]))


def test_the_windows_are_capped(local: LocalEmbedder) -> None:
    """A 20-window paste costs 8 model runs: what comes after the 8th window is not read."""
    text = long_text("the car") + " " + long_text("the budget") + " " + long_text("the trip")
    local.embed(["load"])
    assert len(local._tokenizer.encode(text).overflowing) + 1 > WINDOWS
    more = text + " " + long_text("the kitchen", FACT)
    assert np.array_equal(local.embed([text]), local.embed([more]))
    assert local.embed([text]).shape == (1, 384)


def test_a_store_made_before_windows_keeps_opening_until_reembedded(tmp_path: object) -> None:
    db = tmp_path / "m.db"  # type: ignore[operator]
    old_text, new_text = long_text("the garden", FACT), long_text("the roof")
    with Memory(db, embedder=FIRST_WINDOW_ID, llm=None) as before:
        before.add(old_text, user_id="ana")
    with Memory(db, llm=None) as memory:  # the default embedder: an earlier version binds
        assert memory.search("the garden", user_id="ana").hits
        assert memory.embedder.model_id == FIRST_WINDOW_ID
        assert memory.stats(user_id="ana")["embedder"] == FIRST_WINDOW_ID
        memory.add(new_text, user_id="ana")  # written as the store's vectors are
        held = stored_vectors(memory)
        first = FirstWindow(LocalEmbedder.shared())
        assert np.array_equal(held[new_text], first.embed([new_text])[0])
        moved = memory.reembed("local")
        assert (moved.previous, moved.embedder, moved.switched) == (FIRST_WINDOW_ID, MODEL_ID, True)
        held = stored_vectors(memory)
        np.testing.assert_allclose(
            held[old_text], LocalEmbedder.shared().embed([old_text])[0], atol=1e-6
        )
    with Memory(db, llm=None) as after:
        assert after.search("the garden", user_id="ana").hits
        assert after.embedder.model_id == MODEL_ID


def test_a_folder_may_read_in_windows_and_says_what_is_wrong(tmp_path: object) -> None:
    folder = model_folder(tmp_path, {"max_tokens": 256, "windows": WINDOWS})  # type: ignore[arg-type]
    windowed = OnnxEmbedder(folder)
    text = long_text("the trip", FACT)
    np.testing.assert_allclose(
        windowed.embed([text]), LocalEmbedder.shared().embed([text]), atol=1e-6
    )
    truncated = OnnxEmbedder(folder, windows=1)
    assert truncated.model_id != windowed.model_id
    for bad in ({"windows": 0}, {"windows": True}, {"window_overlap": 200}, {"window_overlap": -1}):
        with pytest.raises(InvalidInput, match="window"):
            OnnxEmbedder(folder, **bad)  # type: ignore[arg-type]
    assert embedder_from(MODEL_ID) is LocalEmbedder.shared()
    assert embedder_from(FIRST_WINDOW_ID).model_id == FIRST_WINDOW_ID
