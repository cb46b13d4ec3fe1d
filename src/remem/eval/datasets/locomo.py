"""LoCoMo (``locomo10.json``): one Conversation per sample, turn-level gold from ``evidence``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from remem.eval.datasets.model import Conversation, Question, Session, Turn
from remem.eval.datasets.parsing import (
    add_issue,
    as_text,
    check_limit,
    parse_datetime,
    read_json,
    require_file,
    unique,
)

LOCOMO_CATEGORIES: dict[int, str] = {
    1: "multi-hop",
    2: "temporal",
    3: "open-domain",
    4: "single-hop",
    5: "adversarial",
}
_RE_DIA = re.compile(r"D(\d+):(\d+)")
_RE_SESSION_KEY = re.compile(r"session_(\d+)")
_LOCOMO_EXPECTED = (
    "LoCoMo JSON (locomo10.json): a list of samples with sample_id, conversation "
    "{speaker_a, speaker_b, session_N, session_N_date_time} and qa"
)


def parse_locomo_evidence(raw: Any) -> tuple[list[str], list[str]]:
    """Return (dia ids, dropped tokens) from a LoCoMo ``evidence`` value.

    Entries are split on ';', ',' and whitespace (the file has e.g. "D8:6; D9:17" and
    "D1:3 D1:4"); tokens that look like ``D<int>:<int>`` are kept, normalised to
    ``D<s>:<t>`` without leading zeros, in order, duplicates removed.
    """
    if raw is None:
        return [], []
    entries = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list) else [raw]
    kept: list[str] = []
    dropped: list[str] = []
    for entry in entries:
        for token in re.split(r"[;,\s]+", str(entry)):
            token = token.strip()
            if not token:
                continue
            m = _RE_DIA.fullmatch(token)
            if m:
                kept.append(f"D{int(m.group(1))}:{int(m.group(2))}")
            else:
                dropped.append(token)
    return list(unique(kept)), dropped


def load_locomo(path: str | Path, limit: int | None = None) -> Iterator[Conversation]:
    """Load LoCoMo (``locomo10.json``).

    One Conversation per sample.  Sessions are the ``session_<N>`` keys that exist,
    sorted numerically, with id ``"D<N>"`` and date from ``session_<N>_date_time``;
    ``session_summary.session_<N>_summary`` (when present) becomes `Session.summary`.
    Turns keep ``dia_id`` as id, ``role="user"`` (both speakers are people) and the
    speaker's name; an image caption is appended as `` [shares an image: <caption>]``.
    Turn timestamps are the session date.  Questions: id ``"<sample_id>:q<i>"``,
    category by name (1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop,
    5 adversarial), category 5 uses ``adversarial_answer`` and is `abstention`;
    `question_date` is None (LoCoMo gives none).
    """
    check_limit(limit)
    p = require_file(path, _LOCOMO_EXPECTED)
    data = read_json(p, _LOCOMO_EXPECTED)
    if isinstance(data, dict) and "conversation" in data:
        data = [data]
    if not isinstance(data, list):
        raise ValueError(f"{p}: top level is {type(data).__name__}; expected {_LOCOMO_EXPECTED}")
    for i, sample in enumerate(data):
        if limit is not None and i >= limit:
            return
        if not isinstance(sample, dict) or not isinstance(sample.get("conversation"), dict):
            raise ValueError(
                f"{p}: sample {i} has no 'conversation' object; expected {_LOCOMO_EXPECTED}"
            )
        yield _locomo_sample(p, i, sample)


def _locomo_sample(p: Path, i: int, sample: dict[str, Any]) -> Conversation:
    conv = sample["conversation"]
    conv_id = str(sample.get("sample_id") or f"sample_{i}")
    issues: list[str] = []
    summaries = sample.get("session_summary")
    summaries = summaries if isinstance(summaries, dict) else {}
    numbers = sorted(
        int(m.group(1))
        for key in conv
        if (m := _RE_SESSION_KEY.fullmatch(key)) and isinstance(conv[key], list)
    )
    sessions: list[Session] = []
    turn_ids: set[str] = set()
    for n in numbers:
        sid = f"D{n}"
        date = parse_datetime(conv.get(f"session_{n}_date_time"))
        if date is None and conv.get(f"session_{n}_date_time") is not None:
            add_issue(
                issues,
                conv_id,
                f"unparseable date for session_{n}: {conv.get(f'session_{n}_date_time')!r}",
            )
        turns: list[Turn] = []
        for t_index, raw in enumerate(conv[f"session_{n}"]):
            if not isinstance(raw, dict):
                raise ValueError(
                    f"{p}: sample {conv_id} session_{n} turn {t_index} is not an "
                    f"object; expected {{speaker, dia_id, text}}"
                )
            tid = str(raw.get("dia_id") or f"{sid}:{t_index + 1}")
            text = as_text(raw.get("text"))
            caption = raw.get("blip_caption")
            if isinstance(caption, str) and caption.strip():
                text = f"{text} [shares an image: {caption.strip()}]"
            if tid in turn_ids:
                add_issue(issues, conv_id, f"duplicate dia_id {tid}")
            turn_ids.add(tid)
            speaker = raw.get("speaker")
            turns.append(
                Turn(tid, sid, "user", str(speaker) if speaker is not None else None, text, date)
            )
        summary = summaries.get(f"session_{n}_summary")
        sessions.append(
            Session(
                sid, date, tuple(turns), summary if isinstance(summary, str) and summary else None
            )
        )

    questions: list[Question] = []
    qa = sample.get("qa") or []
    if not isinstance(qa, list):
        raise ValueError(f"{p}: sample {conv_id} 'qa' is not a list; expected {_LOCOMO_EXPECTED}")
    for q_index, item in enumerate(qa):
        if not isinstance(item, dict) or "question" not in item:
            raise ValueError(f"{p}: sample {conv_id} qa {q_index} has no 'question'")
        raw_cat: Any = item.get("category")
        try:
            cat_num: int | None = int(raw_cat)
        except (TypeError, ValueError):
            cat_num = None
        category = LOCOMO_CATEGORIES.get(cat_num, str(raw_cat)) if cat_num else str(raw_cat)
        if cat_num == 5:
            answer = item.get("adversarial_answer", item.get("answer"))
        else:
            answer = item.get("answer", item.get("adversarial_answer"))
        gold, dropped = parse_locomo_evidence(item.get("evidence"))
        qid = f"{conv_id}:q{q_index}"
        if dropped:
            add_issue(issues, conv_id, f"{qid}: dropped malformed evidence tokens {dropped}")
        dangling = [g for g in gold if g not in turn_ids]
        if dangling:
            add_issue(issues, conv_id, f"{qid}: evidence ids not in the conversation {dangling}")
        questions.append(
            Question(
                id=qid,
                text=as_text(item["question"]),
                answer=as_text(answer),
                category=category,
                question_date=None,
                gold_turn_ids=tuple(gold),
                gold_session_ids=unique(g.split(":")[0] for g in gold),
                abstention=cat_num == 5,
            )
        )
    return Conversation(conv_id, tuple(sessions), tuple(questions), tuple(issues))
