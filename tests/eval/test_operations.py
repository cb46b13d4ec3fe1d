"""`remem eval halumem --operations`: extraction and update metrics against gold memory points.

A real HTTP server speaks the OpenAI protocol with scripted extraction, consolidation and
judge answers, so every number below follows from the script.  The fixture user
(`test_datasets._halumem_user`) has two sessions:

* s0: gold "Sarah's job title is director" (system) and "Sarah lives in Miami"
  (interference); remem extracts "Sarah is a director" and "Sarah likes jazz".
* s1: the update "Sarah was promoted to senior director" (old value: "Sarah's job title
  is director"); remem extracts "Sarah is now a senior director" and consolidation either
  invalidates "Sarah is a director" (a correct update) or adds beside it (stale).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from test_datasets import _halumem_user
from typer.testing import CliRunner

from remem.eval import report
from remem.eval.operations import OperationsSettings
from remem.eval.runner import evaluate
from remem.interfaces.cli import app
from remem.providers.llm import OpenAIChatLLM
from remem.testing import Reply, ScriptedOpenAIServer

EXTRACTED = {
    "I'm a director.": ["Sarah is a director", "Sarah likes jazz"],
    "Promoted!": ["Sarah is now a senior director"],
}
#: What the scripted judge knows: fact text -> the gold point it states.
STATES = {
    "Sarah is a director": "Sarah's job title is director",
    "Sarah is now a senior director": "Sarah was promoted to senior director",
}
OLD_VALUE = {"Sarah was promoted to senior director": "Sarah is a director"}


def _prompt(request: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in request["messages"])


def kind(request: dict[str, Any]) -> str:
    text = _prompt(request)
    if "You check a memory system" in text:
        return "judge"
    return "extraction" if "You extract long-term memories" in text else "consolidation"


def _fact(text: str) -> dict[str, Any]:
    return {"text": text, "turn": 0, "subject": "Sarah", "entities": ["Sarah"], "kind": "state"}


def scripted(consolidation: str) -> Any:
    def answer(request: dict[str, Any]) -> Reply | str:
        text = _prompt(request)
        which = kind(request)
        if which == "extraction":
            said = next(turn for turn in EXTRACTED if turn in text)
            facts = [_fact(t) for t in EXTRACTED[said]]
            return json.dumps({"facts": facts, "entities": [{"name": "Sarah", "type": "person"}]})
        if which == "consolidation":
            decisions = []
            for n in re.findall(r"^N(\d+): ", text, re.MULTILINE):
                old = re.search(r"(E\d+): Sarah is a director \(", text)
                if consolidation == "INVALIDATE" and old:
                    decisions.append(
                        {"fact": int(n), "action": "INVALIDATE", "target": old.group(1)}
                        | {"reason": "promoted"}
                    )
                else:
                    decisions.append({"fact": int(n), "action": "ADD", "reason": "new"})
            return json.dumps({"decisions": decisions})
        facts = dict(re.findall(r"^(F\d+): (.*)$", text, re.MULTILINE))
        points = re.findall(r"^(G\d+): (.*?)(?: \[UPDATE; old value: .*\])?$", text, re.MULTILINE)
        verdicts = []
        for label, point in points:
            stating = [f for f, t in facts.items() if STATES.get(t) == point]
            stale = [f for f, t in facts.items() if t == OLD_VALUE.get(point)]
            verdicts.append({"point": label, "facts": stating, "stale": stale})
        return json.dumps({"points": verdicts})

    return answer


@pytest.fixture
def halumem_file(tmp_path: Path) -> Path:
    path = tmp_path / "halumem.jsonl"
    path.write_text(json.dumps(_halumem_user()) + "\n", encoding="utf-8")
    return path


def _usage(server: ScriptedOpenAIServer, *kinds: str) -> dict[str, int]:
    total = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
    for exchange in server.exchanges:
        if exchange.path.endswith("/chat/completions") and kind(exchange.request) in kinds:
            total["calls"] += 1
            for key in ("prompt_tokens", "completion_tokens"):
                total[key] += (exchange.usage or {}).get(key, 0)
    return total


@pytest.mark.parametrize(
    ("consolidation", "update"),
    [("INVALIDATE", {"correct": 1, "stale": 0}), ("ADD", {"correct": 0, "stale": 1})],
)
def test_extraction_and_update_metrics_follow_from_the_script(
    halumem_file: Path,
    tmp_path: Path,
    openai_server: ScriptedOpenAIServer,
    consolidation: str,
    update: dict[str, int],
) -> None:
    openai_server.responder = scripted(consolidation)
    llm = OpenAIChatLLM(openai_server.url, "extractor")
    judge = OpenAIChatLLM(openai_server.url, "judge")
    settings = OperationsSettings(llm=llm, judge_llm=judge)
    result = evaluate("halumem", halumem_file, workdir=tmp_path / "w", operations_settings=settings)
    ops = result.summary()["operations"]
    assert ops["extraction_model"] == "openai:extractor" and ops["judge_model"] == "openai:judge"
    overall = ops["overall"]
    for method in ("judge", "embedding"):
        m = overall["metrics"][method]
        # s0: the director point found, jazz states no point, Miami (interference) not made up;
        # s1: the update point found by the one fact extracted.
        assert (m["recall"], m["weighted_recall"]) == (1.0, 1.0), method
        assert m["precision"] == pytest.approx(2 / 3), method
        assert m["f1"] == pytest.approx(0.8), method
        assert m["false_memory_resistance"] == 1.0, method
        assert m["update_accuracy"] == update["correct"], method
        assert m["update_stale"] == update["stale"] and m["update_omitted"] == 0.0, method
        assert m["recall_by_type"] == {"Persona Memory": 1.0}
        c = m["counts"]
        assert (c["points"], c["interference"], c["updates"], c["facts"]) == (2, 1, 1, 3)

    # Cost: exactly what the server reported, split into extraction and judge work.
    extraction = _usage(openai_server, "extraction", "consolidation")
    total = overall["llm"]["total"]
    assert overall["adds"] == 2 and overall["failed_extractions"] == 0
    assert total["extraction_calls"] == 2
    assert total["consolidation_calls"] == _usage(openai_server, "consolidation")["calls"] >= 1
    assert total["calls"] == extraction["calls"]
    assert total["prompt_tokens"] == extraction["prompt_tokens"] > 0
    assert total["completion_tokens"] == extraction["completion_tokens"] > 0
    assert overall["llm"]["per_add"]["calls"] == extraction["calls"] / 2
    judged = _usage(openai_server, "judge")
    assert judged["calls"] == 2  # one per session
    assert overall["judge_llm"]["calls"] == 2 and overall["judge_llm"]["sessions_judged"] == 2
    assert overall["judge_llm"]["prompt_tokens"] == judged["prompt_tokens"] > 0
    assert overall["judge_llm"]["completion_tokens"] == judged["completion_tokens"] > 0
    assert {r["model"] for r in openai_server.requests if kind(r) == "judge"} == {"judge"}
    p50, p95 = overall["add_latency_ms"]["p50"], overall["add_latency_ms"]["p95"]
    assert 0 < p50 <= p95
    assert ops["users"]["u-1"]["metrics"] == overall["metrics"]

    # The judge saw the session's gold points, its facts and, for the update, current facts.
    s1_judge = [r for r in openai_server.requests if kind(r) == "judge"][1]
    prompt = _prompt(s1_judge)
    assert (
        "G1: Sarah was promoted to senior director "
        "[UPDATE; old value: Sarah's job title is director]" in prompt
    )
    assert "F1: Sarah is now a senior director" in prompt
    assert ("Sarah is a director" in prompt) == (consolidation == "ADD")  # current only if kept

    # Retrieval metrics still come from the store ingested without extraction.
    assert result.summary()["systems"]["remem"]["overall"]

    text = report.markdown(result.summary())
    assert "## Operations: memory extraction and updating (HaluMem)" in text
    assert "**judge**" in text and "**embedding**" in text
    correct = f"{update['correct']:.3f}"
    assert f"| judge | 1.000 | 1.000 | 0.667 | 0.800 | 1.000 | {correct} |" in text
    assert f"| total | {total['calls']} | 2 |" in text


def test_without_a_judge_only_the_embedding_match_is_reported(
    halumem_file: Path, tmp_path: Path, openai_server: ScriptedOpenAIServer
) -> None:
    openai_server.responder = scripted("INVALIDATE")
    settings = OperationsSettings(llm=OpenAIChatLLM(openai_server.url, "m"), threshold=0.99)
    ops = evaluate(
        "halumem", halumem_file, workdir=tmp_path, operations_settings=settings
    ).summary()["operations"]
    assert list(ops["overall"]["metrics"]) == ["embedding"]
    assert ops["judge_model"] is None and ops["embedding_threshold"] == 0.99
    assert not [r for r in openai_server.requests if kind(r) == "judge"]
    m = ops["overall"]["metrics"]["embedding"]
    # Paraphrases are below a 0.99 cosine: nothing matches, the update is omitted.
    assert (m["recall"], m["precision"], m["update_omitted"]) == (0.0, 0.0, 1.0)
    assert m["false_memory_resistance"] == 1.0


def test_a_failed_extraction_is_counted_and_its_session_has_no_facts(
    halumem_file: Path, tmp_path: Path, openai_server: ScriptedOpenAIServer
) -> None:
    good = scripted("INVALIDATE")

    def answer(request: dict[str, Any]) -> Reply | str:
        if kind(request) == "extraction" and "I'm a director." in _prompt(request):
            return Reply(status=400, error="bad request")
        return good(request)

    openai_server.responder = answer
    llm = OpenAIChatLLM(openai_server.url, "m", sleep=lambda _: None)
    ops = evaluate(
        "halumem",
        halumem_file,
        workdir=tmp_path,
        operations_settings=OperationsSettings(llm=llm, judge_llm=llm),
    ).summary()["operations"]["overall"]
    assert ops["failed_extractions"] == 1
    judge = ops["metrics"]["judge"]
    assert judge["recall"] == 0.5 and judge["precision"] == 1.0  # s1 only
    assert judge["update_accuracy"] == 1.0  # nothing to invalidate: the new value is current
    assert ops["judge_llm"]["sessions_judged"] == 1  # s0 had no facts to judge


def test_cli_operations_writes_the_reports(
    halumem_file: Path, tmp_path: Path, openai_server: ScriptedOpenAIServer
) -> None:
    openai_server.responder = scripted("INVALIDATE")
    out = tmp_path / "o"
    args = ["eval", "halumem", str(halumem_file), "--out", str(out), "--system", "remem"]
    args += ["--operations", "--llm-url", openai_server.url, "--llm-model", "small"]
    result = CliRunner().invoke(app, [*args, "--judge-model", "big", "--match-threshold", "0.85"])
    assert result.exit_code == 0, result.output
    written = json.loads((out / "halumem.json").read_text())["operations"]
    assert written["embedding_threshold"] == 0.85
    assert written["overall"]["metrics"]["judge"]["update_accuracy"] == 1.0
    assert "## Operations" in (out / "halumem.md").read_text()
    models = {(kind(r), r["model"]) for r in openai_server.requests}
    assert models == {("extraction", "small"), ("consolidation", "small"), ("judge", "big")}


def test_cli_operations_needs_an_llm_and_halumem(
    halumem_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("REMEM_LLM_URL", "REMEM_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "o"
    runner = CliRunner()
    result = runner.invoke(
        app, ["eval", "halumem", str(halumem_file), "-o", str(out), "--operations"]
    )
    assert result.exit_code == 1
    assert "--operations needs an OpenAI-compatible LLM" in result.stderr
    assert "REMEM_LLM_URL" in result.stderr
    args = ["eval", "locomo", str(halumem_file), "-o", str(out), "--operations"]
    result = runner.invoke(app, [*args, "--llm-url", "http://127.0.0.1:9/v1", "--llm-model", "m"])
    assert result.exit_code == 1
    assert "only halumem has them" in result.stderr
    assert not out.exists()  # failed before any work
    llm = OpenAIChatLLM("http://127.0.0.1:9/v1", "m")
    with pytest.raises(ValueError, match="only halumem"):
        evaluate(
            "locomo", halumem_file, workdir=tmp_path, operations_settings=OperationsSettings(llm)
        )
