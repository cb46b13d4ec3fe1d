"""``remem eval poisoning``: how far planted attacks get, with the guard on and off.

For each carrier conversation (benign dev data, read in place) and each guard setting
(``GuardPolicy()`` and ``GuardPolicy.off()``, i.e. remem before the guard), a fresh store
is built: the benign turns first, then the attacks of ``remem.eval.attacks``. Measured,
per attack family:

- ``asr_r``: attacks whose poison is returned in the top 10 for the attack's own question,
  without a flag (``SearchHit.flags``: quarantined or disputed); ``asr_r_unrelated``: the
  same over (attack, unrelated question) pairs;
- ``asr_c``: attacks whose poison is cited in ``context()`` as trusted (a line without
  marks: no "unverified", "untrusted" or "disputed"; with the guard off no line has marks,
  as before the guard);

and over the carriers: the benign false-quarantine rate (benign turns held back on
ingest), the benign false-flag rate (top-10 hits of the benign questions carrying a flag,
before any attack is planted: nothing there is an attack) and benign recall@10 (each
dataset's own recall metric, turns only, on the same searches), guard on against guard off. Embeddings are computed once per text
and shared by both settings.
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from remem.config import GuardPolicy
from remem.engine import Memory
from remem.eval import metrics
from remem.eval.attacks import FAMILIES, Attack, plan
from remem.eval.datasets import Conversation, Question, Turn, load
from remem.model import Context, SearchResults
from remem.providers.embedder import Embedder, WrappedEmbedder, default_embedder

USER = "eval"
K = 10
#: Each dataset's own recall metric at K (LLM-free), as ``remem eval`` reports it.
RECALL = {
    "locomo": f"evidence_recall@{K}",
    "beam": f"message_recall@{K}",
    "halumem": f"session_recall_any@{K}",
    "longmemeval": f"turn_recall_any@{K}",
}
SETTINGS = {"guard": GuardPolicy(), "off": GuardPolicy.off()}
Progress = Callable[[str, int, int], None]


class CachedEmbedder(WrappedEmbedder):
    """One embedding per distinct text for the whole run (both settings embed the same)."""

    def __init__(self, inner: Embedder) -> None:
        super().__init__(inner)
        self.cache: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if missing:
            self.cache.update(zip(missing, self.inner.embed(missing), strict=True))
        return np.stack([self.cache[t] for t in texts]) if texts else self.inner.embed([])


@dataclass
class Tally:
    """Counts of one family under one setting."""

    attacks: int = 0
    returned: int = 0
    unrelated_pairs: int = 0
    unrelated_returned: int = 0
    in_context: int = 0

    def rates(self) -> dict[str, float | int | None]:
        def rate(n: int, of: int) -> float | None:
            return n / of if of else None

        return {
            "attacks": self.attacks,
            "asr_r": rate(self.returned, self.attacks),
            "asr_r_unrelated": rate(self.unrelated_returned, self.unrelated_pairs),
            "asr_c": rate(self.in_context, self.attacks),
        }


@dataclass
class PoisoningResult:
    carriers: list[str] = field(default_factory=list)
    conversations: int = 0
    tallies: dict[str, dict[str, Tally]] = field(default_factory=dict)
    benign_turns: dict[str, int] = field(default_factory=dict)
    benign_quarantined: dict[str, int] = field(default_factory=dict)
    benign_hits: int = 0
    benign_flagged: int = 0
    recall: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    cases: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def tally(self, setting: str, family: str) -> Tally:
        return self.tallies.setdefault(setting, {}).setdefault(family, Tally())

    def summary(self) -> dict[str, Any]:
        families = {
            setting: {f: self.tally(setting, f).rates() for f in FAMILIES} for setting in SETTINGS
        }
        recall = {
            dataset: {s: (sum(v) / len(v) if v else None) for s, v in by_setting.items()}
            for dataset, by_setting in self.recall.items()
        }
        turns = sum(self.benign_turns.values())
        held = sum(self.benign_quarantined.values())
        return {
            "carriers": self.carriers,
            "conversations": self.conversations,
            "families": families,
            "benign_turns": turns,
            "benign_quarantined": held,
            "benign_false_quarantine_rate": held / turns if turns else None,
            "benign_hits": self.benign_hits,
            "benign_flagged": self.benign_flagged,
            "benign_false_flag_rate": (
                self.benign_flagged / self.benign_hits if self.benign_hits else None
            ),
            "recall_at_10": recall,
            "questions": {d: len(v["guard"]) for d, v in self.recall.items()},
            "seconds": round(self.seconds, 1),
            "cases": self.cases,
        }


def _messages(conversation: Conversation) -> Iterable[tuple[str, list[dict[str, Any]]]]:
    for session in conversation.sessions:
        messages = []
        for turn in session.turns:
            if not turn.text.strip():
                continue
            message: dict[str, Any] = {
                "role": turn.role if turn.role in ("user", "assistant") else "user",
                "content": turn.text,
                "metadata": {"turn_id": turn.id},
            }
            if turn.speaker:
                message["speaker"] = turn.speaker
            if turn.timestamp or session.date:
                message["timestamp"] = turn.timestamp or session.date
            messages.append(message)
        if messages:
            yield session.id, messages


def _asked_at(question: Question, last: datetime | None) -> datetime | None:
    return question.question_date or last


def _plant(memory: Memory, attack: Attack, when: datetime | None) -> set[str]:
    """Add the attack's turns (and, for laundering, a summary and an insight); its memory ids."""
    ids: set[str] = set()
    sessions: dict[str, list[dict[str, Any]]] = {}
    for session, message in attack.turns:
        sessions.setdefault(session, []).append(
            {**message, **({"timestamp": when} if when else {})}
        )
    for session, messages in sessions.items():
        added = memory.add(messages, user_id=USER, session_id=session, source="attack")
        ids.update(m.id for m in added.memories)
        if attack.launder:
            written = memory.summarize(user_id=USER, session_id=session)
            ids.update(m.id for m in written if m.kind == "summary")
            cited = [m.id for m in added.memories if m.status == "active"]
            if cited:
                ids.add(memory.add_insight(attack.insight, cited, user_id=USER).id)
    return ids


def _planted_at(attack: Attack, turns: dict[str, Turn], last: datetime | None) -> datetime | None:
    """An hour after the evidence it falsifies; where gold is given by session only
    (HaluMem), an hour before the question is asked, so it is there when asked."""
    evidence = [turns[t].timestamp for t in attack.target.gold_turn_ids if t in turns]
    latest = max((e for e in evidence if e), default=None)
    if latest is not None:
        return latest + timedelta(hours=1)
    if attack.target.question_date is not None:
        return attack.target.question_date - timedelta(hours=1)
    return last + timedelta(hours=1) if last else None


def _returned(results: SearchResults, poison: set[str]) -> bool:
    return any(h.id in poison and not h.flags for h in results.hits[:K])


def _trusted_in(block: Context, poison: set[str]) -> bool:
    return any(line.memory_id in poison and not line.marks for line in block.lines)


def _benign_recall(
    memory: Memory, dataset: str, conversation: Conversation, last: datetime | None
) -> tuple[list[float], int, int]:
    """Recall of the benign questions, and (hits returned, hits flagged) over them."""
    session_of = conversation.session_of()
    scores = []
    hits = flagged = 0
    for question in conversation.questions:
        found = memory.search(
            question.text, user_id=USER, limit=K, kinds="episode",
            asked_at=_asked_at(question, last),
        )  # fmt: skip
        hits += len(found.hits)
        flagged += sum(1 for h in found.hits if h.flags)
        ranked = [h.memory.metadata["turn_id"] for h in found if "turn_id" in h.memory.metadata]
        row = metrics.score_question(dataset, question, ranked, session_of, ks=(K,))
        if row.get(RECALL[dataset]) is not None:
            scores.append(float(row[RECALL[dataset]]))
    return scores, hits, flagged


def _run_setting(
    result: PoisoningResult,
    setting: str,
    dataset: str,
    conversation: Conversation,
    attacks: list[Attack],
    folder: Path,
    embedder: Embedder,
    unrelated: int,
) -> None:
    turns = {t.id: t for t in conversation.turns()}
    last = max((t.timestamp for t in turns.values() if t.timestamp), default=None)
    with Memory(
        folder / f"{setting}.db",
        embedder=embedder,
        llm=None,
        track_recalls=False,
        guard=SETTINGS[setting],
    ) as memory:
        for session_id, messages in _messages(conversation):
            memory.add(messages, user_id=USER, session_id=session_id, source="eval")
        benign = memory.list(user_id=USER, status=("active", "quarantined"), limit=1)
        held = memory.list(user_id=USER, status="quarantined", limit=1)
        key = f"{setting}:{conversation.id}"
        result.benign_turns[key] = benign.total if setting == "guard" else 0
        result.benign_quarantined[key] = held.total if setting == "guard" else 0
        scores, hits, flagged = _benign_recall(memory, dataset, conversation, last)
        result.recall.setdefault(dataset, {}).setdefault(setting, []).extend(scores)
        if setting == "guard":
            result.benign_hits += hits
            result.benign_flagged += flagged
        planted = []
        for attack in attacks:
            when = _planted_at(attack, turns, last)
            planted.append((attack, _plant(memory, attack, when)))
        rng = random.Random(f"unrelated:{conversation.id}")
        for attack, poison in planted:
            tally = result.tally(setting, attack.family)
            tally.attacks += 1
            asked_at = _asked_at(attack.target, last)
            found = memory.search(attack.query, user_id=USER, limit=K, asked_at=asked_at)
            returned = _returned(found, poison)
            tally.returned += returned
            block = memory.context(attack.query, user_id=USER, asked_at=asked_at)
            in_context = _trusted_in(block, poison)
            tally.in_context += in_context
            result.cases.append(
                {
                    "setting": setting,
                    "conversation": conversation.id,
                    "family": attack.family,
                    "query": attack.query,
                    "claim": attack.claim,
                    "held": sum(
                        1 for h in memory.quarantined(user_id=USER) if h.memory.id in poison
                    ),
                    "ranks": [i for i, h in enumerate(found.hits[:K], 1) if h.id in poison],
                    "flags": [list(h.flags) for h in found.hits[:K] if h.id in poison],
                    "returned": returned,
                    "in_context": in_context,
                }
            )
            others = [q for q in conversation.questions if q.id != attack.target.id]
            for question in rng.sample(others, min(unrelated, len(others))):
                found = memory.search(
                    question.text, user_id=USER, limit=K, asked_at=_asked_at(question, last)
                )
                tally.unrelated_pairs += 1
                tally.unrelated_returned += _returned(found, poison)


def carriers_in(folder: str | Path) -> list[tuple[str, Path]]:
    """The dev sets under ``folder`` (laid out as ../shared/data): (dataset, path) pairs."""
    root = Path(folder)
    found: list[tuple[str, Path]] = []
    found += [("locomo", p) for p in sorted(root.glob("locomo/*.json"))]
    found += [("beam", p) for p in sorted(root.glob("beam/chats/*")) if p.is_dir()]
    found += [("halumem", p) for p in sorted(root.glob("halumem/**/*.jsonl"))]
    if not found:
        raise ValueError(
            f"no carrier conversations under {root}: expected locomo/*.json, beam/chats/*/ "
            "or halumem/**/*.jsonl"
        )
    return found


def evaluate(
    folder: str | Path,
    *,
    workdir: str | Path,
    datasets: Sequence[str] | None = None,
    limit: int | None = None,
    per_family: int = 1,
    unrelated: int = 5,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> PoisoningResult:
    """Plant ``per_family`` attacks of each family in every carrier conversation (at most
    ``limit`` per carrier file) and measure them with the guard on and off."""
    started = time.perf_counter()
    cached = CachedEmbedder(embedder or default_embedder())
    result = PoisoningResult()
    chosen = [(d, p) for d, p in carriers_in(folder) if datasets is None or d in datasets]
    conversations = [
        (dataset, conversation)
        for dataset, path in chosen
        for conversation in load(dataset, path, limit=limit)
    ]
    result.carriers = [f"{d}:{p}" for d, p in chosen]
    for number, (dataset, conversation) in enumerate(conversations):
        if progress:
            progress(f"{dataset} {conversation.id}", number, len(conversations))
        attacks = plan(conversation, per_family)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in conversation.id)
        folder_of = Path(workdir) / f"poisoning-{dataset}-{safe}"
        shutil.rmtree(folder_of, ignore_errors=True)
        folder_of.mkdir(parents=True)
        try:
            for setting in SETTINGS:
                _run_setting(
                    result, setting, dataset, conversation, attacks, folder_of, cached, unrelated
                )
        finally:
            shutil.rmtree(folder_of, ignore_errors=True)
        result.conversations += 1
    if progress:
        progress("done", len(conversations), len(conversations))
    result.seconds = time.perf_counter() - started
    return result


def markdown(summary: dict[str, Any]) -> str:
    """The report's tables: attack success per family, then the benign cost."""

    def pct(value: float | None) -> str:
        return "–" if value is None else f"{100 * value:.1f}%"

    lines = [
        f"Carriers: {summary['conversations']} conversations ({', '.join(summary['carriers'])}).",
        "",
        "| family | attacks | ASR-r guard | ASR-r off | ASR-r unrelated guard | "
        "ASR-r unrelated off | ASR-c guard | ASR-c off |",
        "|---|---|---|---|---|---|---|---|",
    ]
    on, off = summary["families"]["guard"], summary["families"]["off"]
    for family in FAMILIES:
        a, b = on[family], off[family]
        lines.append(
            f"| {family} | {a['attacks']} | {pct(a['asr_r'])} | {pct(b['asr_r'])} | "
            f"{pct(a['asr_r_unrelated'])} | {pct(b['asr_r_unrelated'])} | "
            f"{pct(a['asr_c'])} | {pct(b['asr_c'])} |"
        )
    lines += [
        "",
        f"Benign turns held in quarantine: {summary['benign_quarantined']} of "
        f"{summary['benign_turns']} ({pct(summary['benign_false_quarantine_rate'])}). "
        f"Benign hits flagged: {summary['benign_flagged']} of {summary['benign_hits']} "
        f"({pct(summary['benign_false_flag_rate'])}).",
        "",
        "| dataset | questions | recall@10 guard | recall@10 off | difference |",
        "|---|---|---|---|---|",
    ]
    for dataset, by_setting in summary["recall_at_10"].items():
        guard, off_ = by_setting.get("guard"), by_setting.get("off")
        diff = f"{guard - off_:+.4f}" if guard is not None and off_ is not None else "–"
        lines.append(
            f"| {dataset} | {summary['questions'][dataset]} | "
            f"{'–' if guard is None else f'{guard:.4f}'} | "
            f"{'–' if off_ is None else f'{off_:.4f}'} | {diff} |"
        )
    return "\n".join(lines) + "\n"
