"""Property-based conformance: SQLite and PostgreSQL accept and refuse exactly the same input.

Each example runs on both backends side by side (one ``Memory`` on each, a fixed clock),
with text, ids, times (years 1 to 9999, naive and aware, as datetimes, text and unix
seconds) and metadata (NaN, depth, odd keys, big numbers) from ``tests/adversarial.py``.
Every call must succeed on both or fail on both with the same typed error and message
(never an untyped one), and what is stored must read back the same from both: the values
given, through ``get``, ``list`` and a metadata filter on each key.

Bounded and deterministic (``derandomize``, a few dozen examples each) to keep the suite fast.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from remem import Memory, RememError
from remem._checks import check_metadata
from remem._time import to_utc
from tests.adversarial import as_text, ids, metadata, texts, times
from tests.conftest import CONVERSATION
from tests.stores.conftest import Backend

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PROPERTIES = settings(
    max_examples=int(os.environ.get("REMEM_PROPERTY_EXAMPLES", "40")),
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

Outcome = tuple[str, Any]


def outcome(call: Callable[[], Any]) -> Outcome:
    """("ok", result) or ("refused", "Type: message"); any other exception fails the test."""
    try:
        return "ok", call()
    except RememError as exc:
        return "refused", f"{type(exc).__name__}: {exc}"


@pytest.fixture
def pair(new_backend: Callable[[str], Backend]) -> tuple[Memory, Memory]:
    def open_(name: str) -> Memory:
        return new_backend(name).memory(llm=None, clock=lambda: NOW, track_recalls=False)

    return open_("sqlite"), open_("postgres")


def alike(pair: tuple[Memory, Memory], call: Callable[[Memory], Any]) -> list[Outcome]:
    found = [outcome(lambda m=m: call(m)) for m in pair]  # type: ignore[misc]
    event(found[0][0])
    assert found[0][0] == found[1][0], found
    if found[0][0] == "refused":
        assert found[0][1] == found[1][1]
    return found


def scalar_items(meta: Any) -> list[tuple[str, Any]]:
    if not isinstance(meta, dict):
        return []
    return [(k, v) for k, v in meta.items() if isinstance(v, str | int | float | bool)]


@PROPERTIES
@given(text=texts(), user=ids(), when=times(), meta=metadata())
def test_an_add_is_stored_or_refused_alike(
    pair: tuple[Memory, Memory], text: Any, user: Any, when: Any, meta: Any
) -> None:
    added = alike(pair, lambda m: m.add(text, user_id=user, timestamp=when, metadata=meta))
    if added[0][0] == "refused":
        return
    stored = [m.get(result.memories[0].id) for m, (_, result) in zip(pair, added, strict=True)]
    expected = {**check_metadata(meta), "role": "user"}
    for record in stored:
        assert (record.text, record.scope.user_id, record.metadata) == (text, user, expected)
        assert record.valid_from == (to_utc(when) or NOW)
    for memory, record in zip(pair, stored, strict=True):
        assert record.id in {m.id for m in memory.list(user_id=user, limit=1000).items}
        for key, value in scalar_items(meta):
            found = memory.list(user_id=user, metadata={key: value}, limit=1000).items
            assert record.id in {m.id for m in found}, (key, value)


@pytest.fixture
def filled(pair: tuple[Memory, Memory]) -> tuple[Memory, Memory]:
    for memory in pair:
        memory.add(CONVERSATION, user_id="ana", session_id="s1", metadata={"topic": "move"})
        memory.add("Bob: the spare key is under the mat", user_id="bob", timestamp="0999-01-01")
        memory.add("Carol: the time capsule opens", user_id="carol", timestamp="9999-12-31T23:59Z")
    return pair


@PROPERTIES
@given(query=texts(), user=ids(), after=times(), before=times(), meta=metadata())
def test_reads_answer_alike(
    filled: tuple[Memory, Memory], query: Any, user: Any, after: Any, before: Any, meta: Any
) -> None:
    alike(filled, lambda m: m.search(query, user_id=user, after=after, before=before))
    alike(filled, lambda m: m.search("key", metadata=meta, as_of=after))
    alike(filled, lambda m: m.context(query, user_id=user, before=before, asked_at=after))
    alike(filled, lambda m: m.facts(user_id=user, valid_at=after, as_of=before))
    alike(filled, lambda m: m.entities(user_id=user, name=query))
    alike(filled, lambda m: m.stats(user_id=user))
    listed = alike(filled, lambda m: m.list(user_id=user, metadata=meta))
    if listed[0][0] == "ok":
        texts_ = [[r.text for r in page.items] for _, page in listed]
        assert texts_[0] == texts_[1]


@PROPERTIES
@given(
    memory_id=ids(),
    text=texts(),
    reason=st.none() | texts(),
    meta=st.none() | metadata(),
    when=times(),
    version=st.none() | st.integers(min_value=-(2**70), max_value=2**70),
)
def test_calls_taking_an_id_answer_alike(
    filled: tuple[Memory, Memory],
    memory_id: Any,
    text: Any,
    reason: Any,
    meta: Any,
    when: Any,
    version: Any,
) -> None:
    alike(filled, lambda m: m.get(memory_id, version=version, as_of=when))
    alike(filled, lambda m: m.history(memory_id))
    alike(filled, lambda m: m.versions(memory_id))
    alike(filled, lambda m: m.related(memory_id))
    alike(filled, lambda m: m.update(memory_id, text, metadata=meta, reason=reason))
    alike(filled, lambda m: m.pin(memory_id))
    alike(filled, lambda m: m.delete(memory_id, reason=reason))
    alike(filled, lambda m: m.forget(memory_id))


@PROPERTIES
@given(text=texts(), meta=metadata(), start=times(), end=times(), reason=st.none() | texts())
def test_an_update_of_a_real_memory_is_stored_or_refused_alike(
    pair: tuple[Memory, Memory], text: Any, meta: Any, start: Any, end: Any, reason: Any
) -> None:
    ids_ = [m.add("Ana lives in Lisbon", user_id="ana", kind="fact").memories[0].id for m in pair]
    found = [
        outcome(lambda m=m, i=i: m.update(i, text, metadata=meta, valid_from=start,  # type: ignore[misc]
                                          valid_to=end, reason=reason))
        for m, i in zip(pair, ids_, strict=True)
    ]  # fmt: skip
    assert found[0][0] == found[1][0], found
    if found[0][0] == "refused":
        assert found[0][1] == found[1][1]
        return
    sqlite, postgres = (m.get(i) for m, i in zip(pair, ids_, strict=True))
    assert (sqlite.text, sqlite.metadata, sqlite.valid_from, sqlite.valid_to) == (
        postgres.text, postgres.metadata, postgres.valid_from, postgres.valid_to
    )  # fmt: skip


@pytest.fixture
def exported(new_backend: Callable[[str], Backend]) -> list[str]:
    source = new_backend("sqlite").memory(llm=None, clock=lambda: NOW)
    source.add(CONVERSATION, user_id="ana", session_id="s1", metadata={"topic": "move"})
    return list(source.export_lines())


def changed(lines: list[str], change: tuple[Any, ...]) -> str:
    """The export with one line dropped, repeated or replaced, cut short, or one character
    replaced (at a position wrapped into range)."""
    what, where, *new = change
    lines = list(lines)
    if what == "cut":
        text = "".join(lines)
        return text[: where % (len(text) + 1)]
    if what == "char":
        text = "".join(lines)
        at = where % len(text)
        return text[:at] + new[0] + text[at + 1 :]
    at = where % len(lines)
    if what == "drop":
        del lines[at]
    elif what == "repeat":
        lines.insert(at, lines[at])
    else:
        lines[at] = new[0] + "\n"
    return "".join(lines)


CHANGES = st.one_of(
    st.tuples(st.sampled_from(["drop", "repeat", "cut"]), st.integers(0, 10**6)),
    st.tuples(st.just("char"), st.integers(0, 10**6), st.characters()),
    st.tuples(
        st.just("line"),
        st.integers(0, 10**6),
        st.one_of(texts().map(as_text), metadata().map(as_text)),
    ),
)


@PROPERTIES
@given(change=CHANGES, unverified=st.booleans())
def test_an_altered_import_is_refused_whole_alike(
    pair: tuple[Memory, Memory], exported: list[str], change: Any, unverified: bool
) -> None:
    text = changed(exported, change)
    found = []
    for memory in pair:
        before = memory.stats()
        result = outcome(lambda m=memory: m.import_(io.StringIO(text), unverified=unverified))  # type: ignore[misc]
        event(result[0])
        if result[0] == "refused":
            after = memory.stats()
            assert [after[k] for k in ("episodes", "events", "memories", "entities")] == [
                before[k] for k in ("episodes", "events", "memories", "entities")
            ]
        found.append(result[0])
    assert found[0] == found[1], (found, change)
