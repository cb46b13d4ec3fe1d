"""What the ``llm`` search recipe costs per search: calls and tokens, on real conversations.

    python bench/llm_recipe.py [--data locomo10_dev5.json] [--questions 200] [--out FILE]

One LoCoMo conversation is stored (the packaged embedder, no LLM at write time); its
questions are searched with ``recipe="llm"`` through ``OpenAIChatLLM`` against the
scripted OpenAI-protocol server (``remem.testing``), which answers every call with a
typical reply (six keywords, one sub-question, five candidates ranked). The server's view
is the measure: each request it received, and the tokens it reported (whitespace words,
as that server counts them). ``remem.text.tokens.count_tokens`` (about a BPE tokenizer's
count) is reported beside them. No model is run: quality needs a real LLM
(``bench/real_llm.py``); this is the cost a search adds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from remem import Memory
from remem.eval.datasets import load
from remem.eval.runner import USER, _messages
from remem.providers.llm import OpenAIChatLLM
from remem.testing import ScriptedOpenAIServer
from remem.text.tokens import count_tokens

DATA = Path(__file__).resolve().parents[2] / "shared/data/locomo/locomo10_dev5.json"
REPLY = json.dumps(
    {
        "keywords": ["Caroline", "adoption", "agency", "support", "group", "2023"],
        "questions": ["When did Caroline go to the support group?"],
        "ranking": [3, 1, 7, 2, 5],
    }
)


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "mean": round(statistics.fmean(ordered), 1),
        "p50": ordered[len(ordered) // 2],
        "p95": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
    }


def run(data: Path, questions: int) -> dict[str, Any]:
    conversation = next(iter(load("locomo", data, limit=1)))
    asked = conversation.questions[:questions]
    with (
        tempfile.TemporaryDirectory() as scratch,
        ScriptedOpenAIServer(responder=lambda _: REPLY) as server,
        OpenAIChatLLM(server.url, "scripted", timeout=10) as llm,
        Memory(Path(scratch) / "m.db", llm=llm, extract_facts=False, track_recalls=False) as m,
    ):
        for session_id, messages in _messages(conversation):
            m.add(messages, user_id=USER, session_id=session_id, source="bench")
        latency = []
        for question in asked:
            started = time.perf_counter()
            m.search(question.text, user_id=USER, recipe="llm", limit=10)
            latency.append((time.perf_counter() - started) * 1000)
        exchanges = server.exchanges
    prompts = [e.usage["prompt_tokens"] for e in exchanges if e.usage]
    answers = [e.usage["completion_tokens"] for e in exchanges if e.usage]
    bpe = [sum(count_tokens(x["content"]) for x in e.request["messages"]) for e in exchanges]
    return {
        "data": str(data),
        "conversation": conversation.id,
        "turns": sum(len(s.turns) for s in conversation.sessions),
        "searches": len(asked),
        "calls_per_search": len(exchanges) / len(asked),
        "prompt_tokens_server": summary(prompts),
        "completion_tokens_server": summary(answers),
        "prompt_tokens_bpe_estimate": summary(bpe),
        "completion_tokens_bpe_estimate": count_tokens(REPLY),
        "search_ms_with_scripted_llm": summary(latency),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = run(args.data, args.questions)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
