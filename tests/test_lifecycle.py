"""Strength, layers, recall reinforcement, archive/restore and priors, on a controlled clock."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from remem import InvalidInput, Memory
from remem import retention as retention_mod
from remem.engine.background import BackgroundMaintenance
from remem.errors import StoreError
from remem.model import MaintenanceReport, MemoryRecord, Scope
from remem.pipeline import lifecycle
from remem.recipes import RECIPES, Priors
from remem.retention import DEFAULT_POLICY, LifecyclePolicy, retention
from remem.retrieval.fusion import Fused
from remem.retrieval.priors import apply_priors

T0 = datetime(2026, 5, 2, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def mem(tmp_path: Path, clock: Clock) -> Iterator[Memory]:
    with Memory(tmp_path / "m.db", clock=clock) as m:
        yield m


def record(**kw: object) -> MemoryRecord:
    base: dict[str, object] = {
        "id": "m1",
        "scope": Scope(user_id="u"),
        "kind": "fact",
        "text": "x",
        "recorded_at": T0,
        "layer": "short",
    }
    return MemoryRecord.model_validate({**base, **kw})


# -- the curve ------------------------------------------------------------------------------
def test_retention_is_ebbinghaus_with_importance_and_layer_scaling() -> None:
    plain = record(importance=0.5)  # S0 = 1 * (1 + 4 * 0.5) = 3 days
    assert retention(plain, T0) == 1.0
    assert retention(plain, T0 - DAY) == 1.0  # asked before it was learned
    assert retention(plain, T0 + 3 * DAY) == pytest.approx(math.exp(-1))
    assert retention(plain, T0 + 6 * DAY) == pytest.approx(math.exp(-2))
    important = record(importance=1.0)  # S0 = 5 days
    assert retention(important, T0 + 5 * DAY) == pytest.approx(math.exp(-1))
    assert retention(important, T0 + 3 * DAY) > retention(plain, T0 + 3 * DAY)
    # the same memory decays at each layer's rate: working fastest, long-term slowest
    at = T0 + 3 * DAY
    working, short, long_ = (retention(record(layer=x), at) for x in ("working", "short", "long"))
    assert working == pytest.approx(math.exp(-2)) and short == pytest.approx(math.exp(-1))
    assert long_ == pytest.approx(math.exp(-1 / 8))
    assert retention(record(pinned=True), T0 + 3650 * DAY) == 1.0


def test_episodes_age_from_when_they_were_said_other_kinds_from_when_written() -> None:
    said = T0 - 10 * DAY
    turn = record(kind="episode", valid_from=said)
    fact = record(kind="fact", valid_from=said)
    assert retention_mod.learned_at(turn) == said and retention_mod.learned_at(fact) == T0
    assert retention(turn, T0) < retention(fact, T0) == 1.0


def test_each_recall_strengthens_more_when_the_memory_had_faded() -> None:
    fresh = record(importance=0.5)
    s0 = retention_mod.stability(fresh)
    assert retention_mod.reinforced(fresh, T0) == pytest.approx(s0 * 1.75)  # R = 1: x(1 + 1.5 / 2)
    late = retention_mod.reinforced(fresh, T0 + 30 * DAY)  # R ~ 0: x(1 + 1.5 * 2 / 2)
    assert late == pytest.approx(s0 * 2.5, rel=1e-3)
    capped = record(stability=DEFAULT_POLICY.max_stability_days)
    assert retention_mod.reinforced(capped, T0) == DEFAULT_POLICY.max_stability_days


# -- reinforcement through the facade -------------------------------------------------------
def test_search_counts_recalls_resets_the_clock_and_flattens_the_curve(
    mem: Memory, clock: Clock
) -> None:
    kept = mem.add("Ana's passport number ends in 4411", user_id="ana", session_id="s1")
    other = mem.add("Ana likes green tea", user_id="ana", session_id="s1")
    kept_id, other_id = kept.memories[0].id, other.memories[0].id
    clock.advance(2 * DAY)
    hit = mem.search("passport number", user_id="ana", limit=1)[0]
    assert hit.id == kept_id
    assert hit.memory.access_count == 1 and hit.memory.last_accessed_at == clock.now
    stored = mem.store.get_memory(kept_id, "default")
    assert (
        stored is not None and stored.access_count == 1 and stored.last_accessed_at == T0 + 2 * DAY
    )
    assert stored.stability is not None and stored.stability > retention_mod.stability(
        kept.memories[0]
    )
    # a week later the recalled memory is held far better than its unrecalled twin
    later = clock.now + 7 * DAY
    untouched = mem.store.get_memory(other_id, "default")
    assert untouched is not None and untouched.access_count == 0
    assert retention(stored, later) > 3 * retention(untouched, later)
    # get is a recall too; an old version or an as_of view is not
    assert mem.get(kept_id).access_count == 2
    mem.get(kept_id, version=1)
    mem.get(kept_id, as_of=clock.now)
    assert mem.store.get_memory(kept_id, "default").access_count == 2  # type: ignore[union-attr]


def test_recalls_are_not_counted_when_tracking_is_off(tmp_path: Path, clock: Clock) -> None:
    with Memory(tmp_path / "quiet.db", clock=clock, track_recalls=False) as quiet:
        added = quiet.add("The wifi password is hunter2", user_id="u").memories[0]
        quiet.search("wifi password", user_id="u")
        assert quiet.get(added.id).access_count == 0
        assert quiet.context("wifi password", user_id="u", budget_tokens=200).cited


# -- layers ---------------------------------------------------------------------------------
def test_working_memories_leave_the_working_layer_when_a_new_session_starts(
    mem: Memory, clock: Clock
) -> None:
    first = mem.add("We planned the trip to Kyoto", user_id="ana", session_id="s1").memories[0]
    important = mem.add(
        "Ana is allergic to peanuts", user_id="ana", session_id="s1", importance=0.9
    ).memories[0]
    assert first.layer == "working"
    report = mem.maintain(user_id="ana")
    assert report.moved == {} and report.layers == {"working": 2}  # the session is still going
    clock.advance(timedelta(minutes=10))
    mem.add("Now about the budget", user_id="ana", session_id="s2", timestamp=clock.now)
    report = mem.maintain(user_id="ana")
    assert report.moved == {"working->short": 1, "working->long": 1}
    assert mem.store.get_memory(first.id, "default").layer == "short"  # type: ignore[union-attr]
    assert mem.store.get_memory(important.id, "default").layer == "long"  # type: ignore[union-attr]
    assert [m.id for m in mem.list(user_id="ana", layers="working").items] != [first.id]
    assert {m.id for m in mem.list(user_id="ana", layers=["short", "long"]).items} == {
        first.id,
        important.id,
    }


def test_an_idle_session_leaves_the_working_layer(mem: Memory, clock: Clock) -> None:
    mem.add("Only session so far", user_id="bo", session_id="only", timestamp=clock.now)
    clock.advance(timedelta(hours=1))
    assert mem.maintain(user_id="bo").moved == {}
    clock.advance(timedelta(hours=1))
    assert mem.maintain(user_id="bo").moved == {"working->short": 1}


def test_short_term_memories_are_promoted_by_recalls(mem: Memory, clock: Clock) -> None:
    added = mem.add("The garage code is 2580", user_id="cy").memories[0]
    clock.advance(3 * DAY)
    mem.maintain(user_id="cy")
    assert mem.store.get_memory(added.id, "default").layer == "short"  # type: ignore[union-attr]
    layers = []
    for _ in range(DEFAULT_POLICY.promote_recalls):
        clock.advance(DAY)
        layers.append(mem.search("garage code", user_id="cy", limit=1)[0].memory.layer)
    assert layers == ["short", "short", "long"]
    assert [m.id for m in mem.search("garage", user_id="cy", layers="long")] == [added.id]
    assert len(mem.search("garage", user_id="cy", layers="short")) == 0


# -- archive and restore ---------------------------------------------------------------------
def test_maintain_archives_faded_memories_and_recall_restores_them(
    mem: Memory, clock: Clock
) -> None:
    faded = mem.add("The old office was on Baker Street", user_id="di", session_id="a")
    kept = mem.add("Di's daughter is called Eva", user_id="di", session_id="a")
    pinned = mem.pin(kept.memories[0].id)
    assert pinned.pinned and pinned.layer == "long"
    fid = faded.memories[0].id
    clock.advance(20 * DAY)  # short layer after maintain: exp(-20 / 3) ~ 0.0013 < 0.01
    report = mem.maintain(user_id="di")
    assert report.archived == 1 and report.scanned == 2
    assert mem.list(user_id="di", status="archived").items[0].id == fid
    assert [m.id for m in mem.list(user_id="di").items] == [pinned.id]
    # nothing was deleted: search skips archived memories unless asked
    assert fid not in [h.id for h in mem.search("office Baker Street", user_id="di")]
    hits = mem.search("office Baker Street", user_id="di", archived=True)
    assert hits[0].id == fid and hits[0].memory.status == "active"
    assert mem.store.get_memory(fid, "default").status == "active"  # type: ignore[union-attr]
    ops = [e.op for e in mem.history(fid)]
    assert ops == ["add", "archive", "restore"]
    # archived again later, and restored by a plain get
    clock.advance(400 * DAY)
    assert mem.maintain(user_id="di").archived == 1
    assert mem.get(fid).status == "active"
    assert [e.op for e in mem.history(fid)][-2:] == ["archive", "restore"]
    assert mem.pin(pinned.id, pinned=False).pinned is False


def test_maintain_checks_its_threshold_and_can_use_a_stricter_one(
    mem: Memory, clock: Clock
) -> None:
    mem.add("A passing remark", user_id="ed")
    clock.advance(DAY)
    assert mem.maintain(user_id="ed").archived == 0
    assert mem.maintain(user_id="ed", archive_below=0.9).archived == 1
    with pytest.raises(InvalidInput, match="archive_below"):
        mem.maintain(archive_below=1.5)


def test_policy_is_configurable(tmp_path: Path, clock: Clock) -> None:
    slow = LifecyclePolicy(base_stability_days=100.0)
    with Memory(tmp_path / "slow.db", clock=clock, policy=slow) as m:
        m.add("Slowly fading", user_id="u")
        clock.advance(60 * DAY)
        assert m.maintain(user_id="u").archived == 0


# -- priors in ranking ----------------------------------------------------------------------
def test_priors_reorder_near_ties_toward_what_is_held_strongly() -> None:
    now = T0 + 30 * DAY
    faded = record(id="faded", layer="short")
    strong = record(id="strong", layer="long", access_count=9, last_accessed_at=now - DAY)
    fused = [Fused(faded, score=0.0330), Fused(strong, score=0.0320)]
    ranked = apply_priors(fused, Priors(retention=0.3, frequency=0.2, long_term=0.1), now)
    assert [f.memory.id for f in ranked] == ["strong", "faded"]
    assert ranked[1].boosts["lifecycle"] < 0 < ranked[0].boosts["lifecycle"]
    same = apply_priors([Fused(faded, score=0.5)], Priors(), now)
    assert same[0].score == 0.5 and same[0].boosts == {}


def test_the_lifecycle_recipe_applies_priors_in_search(mem: Memory, clock: Clock) -> None:
    old = mem.add("Standup moved to 9am", user_id="fi", timestamp=T0 - 60 * DAY)
    new = mem.add("Standup moved to 10am", user_id="fi", timestamp=T0)
    results = mem.search("when is standup", user_id="fi", recipe="lifecycle")
    assert [h.id for h in results][:2] == [new.memories[0].id, old.memories[0].id]
    assert "lifecycle" in results[1].boosts and RECIPES["lifecycle"].priors is not None


def test_background_maintenance_runs_until_stopped_and_survives_a_failed_pass(
    mem: Memory, clock: Clock
) -> None:
    mem.add("Soon forgotten", user_id="gus")
    clock.advance(30 * DAY)
    passed = threading.Event()
    reports: list[MaintenanceReport] = []

    def seen(report: MaintenanceReport) -> None:
        reports.append(report)
        passed.set()

    runner = BackgroundMaintenance(mem.maintain, every_s=3600, on_pass=seen).start()
    assert passed.wait(30)
    runner.stop()
    assert runner.passes == 1 and reports[0].archived == 1

    def broken() -> None:
        raise StoreError("database is locked")

    flaky = BackgroundMaintenance(broken, every_s=3600)
    assert flaky.run_once() is None and flaky.failures == 1
    with pytest.raises(ValueError):
        BackgroundMaintenance(broken, every_s=0)
    started = mem.maintain_in_background(every_s=3600)
    started.stop()
    assert started.passes == 1


def test_a_pin_between_a_search_and_its_recall_count_is_kept(tmp_path: Path) -> None:
    with Memory(tmp_path / "m.db", llm=None) as mem:
        stale = mem.add("the spare key is under the blue pot", user_id="u").memories[0]
        mem.pin(stale.id, user_id="u")  # lands after the search read ``stale``
        [after] = lifecycle.recall(mem.store, [stale], datetime.now(UTC))
        assert after.pinned and after.layer == "long" and after.access_count == 1
        current = mem.get(stale.id, user_id="u")
        assert current.pinned and current.layer == "long"
