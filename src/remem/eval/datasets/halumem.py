"""HaluMem (``HaluMem-Medium.jsonl`` / ``-Long`` / pilot slices): one Conversation per user,
session-level gold matched from evidence texts, gold memory points per session."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from remem.eval.datasets.model import Conversation, MemoryPoint, Question, Session, Turn
from remem.eval.datasets.parsing import (
    add_issue,
    as_text,
    check_limit,
    parse_datetime,
    require_file,
    unique,
)

log = logging.getLogger(__name__)

_HALUMEM_EXPECTED = (
    "HaluMem JSONL: one user per line {uuid, persona_info, sessions: [{start_time, "
    "end_time, dialogue, memory_points, questions?}]}"
)


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def load_halumem(path: str | Path, limit: int | None = None) -> Iterator[Conversation]:
    """Load HaluMem (``HaluMem-Medium.jsonl`` / ``-Long`` / pilot slices).

    One Conversation per user line (id = ``uuid``).  Session ``i`` (0-based position)
    has id ``"s<i>"``, date ``start_time`` and its gold `MemoryPoint`s; turn ``j`` of
    its ``dialogue`` has id ``"s<i>:<j>"`` (position, because ``dialogue_turn`` is
    shared by a user message and its reply) and its own ``timestamp``.  Questions are
    attached to the session that asks them: id ``"<uuid>:s<i>:q<k>"``,
    question_date = that session's ``end_time`` (else ``start_time``), category =
    ``question_type``, abstention = no evidence or type "Memory Boundary".
    gold_session_ids = the sessions up to and including the asking one whose memory
    points contain an evidence text (exact match, then whitespace/case-normalised);
    unmatched evidence is counted in `Conversation.issues`.  HaluMem has no turn-level
    gold: gold_turn_ids is empty.  Truncated users load as long as the line is valid
    JSON; an invalid line raises ValueError with its line number.
    """
    check_limit(limit)
    p = require_file(path, _HALUMEM_EXPECTED)
    count = 0
    with p.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if limit is not None and count >= limit:
                return
            if not line.strip():
                continue
            try:
                user = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"{p}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno}); "
                    f"expected {_HALUMEM_EXPECTED}"
                ) from exc
            if not isinstance(user, dict) or not isinstance(user.get("sessions"), list):
                raise ValueError(f"{p}:{lineno}: no 'sessions' list; expected {_HALUMEM_EXPECTED}")
            yield _halumem_user(p, lineno, user)
            count += 1


def _halumem_user(p: Path, lineno: int, user: dict[str, Any]) -> Conversation:
    conv_id = str(user.get("uuid") or f"line{lineno}")
    issues: list[str] = []
    sessions: list[Session] = []
    exact: dict[str, list[int]] = {}
    normed: dict[str, list[int]] = {}
    questions: list[Question] = []
    unmatched = 0
    for i, raw in enumerate(user["sessions"]):
        if not isinstance(raw, dict):
            raise ValueError(f"{p}:{lineno}: session {i} is not an object")
        sid = f"s{i}"
        start = parse_datetime(raw.get("start_time"))
        end = parse_datetime(raw.get("end_time"))
        turns: list[Turn] = []
        for j, msg in enumerate(raw.get("dialogue") or []):
            if not isinstance(msg, dict):
                raise ValueError(f"{p}:{lineno}: session {i} dialogue item {j} is not an object")
            turns.append(
                Turn(
                    f"{sid}:{j}",
                    sid,
                    str(msg.get("role") or "user"),
                    None,
                    as_text(msg.get("content")),
                    parse_datetime(msg.get("timestamp")) or start,
                )
            )
        points: list[MemoryPoint] = []
        for k, mp in enumerate(raw.get("memory_points") or []):
            if not isinstance(mp, dict):
                raise ValueError(f"{p}:{lineno}: session {i} memory point {k} is not an object")
            content = as_text(mp.get("memory_content"))
            originals = mp.get("original_memories") or []
            if not isinstance(originals, list):
                originals = [originals]
            try:
                importance: float | None = float(mp["importance"])
            except (KeyError, TypeError, ValueError):
                importance = None
            try:
                mp_index = int(mp.get("index", k + 1))
            except (TypeError, ValueError):
                mp_index = k + 1
            source = mp.get("memory_source")
            points.append(
                MemoryPoint(
                    index=mp_index,
                    session_id=sid,
                    content=content,
                    type=str(mp.get("memory_type") or ""),
                    source=str(source) if source is not None else None,
                    is_update=_truthy(mp.get("is_update")),
                    original_memories=tuple(as_text(o) for o in originals),
                    timestamp=parse_datetime(mp.get("timestamp")),
                    importance=importance,
                )
            )
            exact.setdefault(content, []).append(i)
            normed.setdefault(_norm(content), []).append(i)
        sessions.append(Session(sid, start, tuple(turns), None, tuple(points)))

        for k, q in enumerate(raw.get("questions") or []):
            if not isinstance(q, dict) or "question" not in q:
                raise ValueError(f"{p}:{lineno}: session {i} question {k} has no 'question'")
            qid = f"{conv_id}:{sid}:q{k}"
            evidence = q.get("evidence") or []
            if not isinstance(evidence, list):
                evidence = [evidence]
            gold: list[int] = []
            for ev in evidence:
                text = as_text(ev.get("memory_content") if isinstance(ev, dict) else ev)
                hits = exact.get(text) or normed.get(_norm(text)) or []
                if not hits:
                    unmatched += 1
                    add_issue(
                        issues,
                        conv_id,
                        f"{qid}: evidence matches no memory point of "
                        f"sessions s0..{sid}: {text[:80]!r}",
                    )
                gold.extend(hits)
            qtype = str(q.get("question_type") or "unknown")
            questions.append(
                Question(
                    id=qid,
                    text=as_text(q["question"]),
                    answer=as_text(q.get("answer")),
                    category=qtype,
                    question_date=end or start,
                    gold_turn_ids=(),
                    gold_session_ids=unique(f"s{s}" for s in sorted(set(gold))),
                    abstention=not evidence or qtype == "Memory Boundary",
                )
            )
    if unmatched:
        log.warning("%s: %d HaluMem evidence text(s) matched no memory point", conv_id, unmatched)
    return Conversation(conv_id, tuple(sessions), tuple(questions), tuple(issues))
