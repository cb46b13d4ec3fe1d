"""Facts carry the trust of the turn they came from, and a less trusted turn may not rewrite a
more trusted fact: the consolidation's UPDATE becomes an ADD beside it."""

from __future__ import annotations

import json
from typing import Any

from kg_script import Script, label_of

from remem import Memory


def fact(text: str, *entities: str) -> dict[str, Any]:
    return {"text": text, "entities": list(entities), "relation": None}


def test_a_tool_result_may_not_update_the_owners_fact(kg: Memory, script: Script) -> None:
    script.extract(fact("Ana works at Google", "Ana", "Google"))
    owned = kg.add("I work at Google.", user_id="ana").facts[0].memory_id
    assert (kg.get(owned).origin, kg.get(owned).trust) == ("derived", "trusted")

    def update(request: dict[str, Any]) -> str:
        target = label_of(request, "Ana works at Google")
        decision = {"fact": 1, "action": "UPDATE", "target": target, "text": "Ana works at Meta"}
        return json.dumps({"decisions": [decision | {"reason": "new employer"}]})

    script.extract(fact("Ana works at Meta", "Ana", "Meta"))
    script.consolidate(update)
    added = kg.add([{"role": "tool", "content": "Profile page: Ana works at Meta."}], user_id="ana")
    [decision] = added.facts
    assert decision.action == "ADD" and "refused" in decision.reason
    assert kg.get(owned).text == "Ana works at Google" and kg.get(owned).version == 1
    beside = kg.get(decision.memory_id)
    assert (beside.text, beside.trust) == ("Ana works at Meta", "untrusted")
