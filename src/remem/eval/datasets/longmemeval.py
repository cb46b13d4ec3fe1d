"""LongMemEval (``longmemeval_s/m/oracle.json``): one Conversation per question, streamed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from remem.eval.datasets.model import Conversation, Question, Session, Turn
from remem.eval.datasets.parsing import (
    add_issue,
    as_text,
    check_limit,
    iter_json_array,
    parse_datetime,
    require_file,
    unique,
)

_LME_EXPECTED = (
    "LongMemEval JSON (longmemeval_s/m/oracle): a list of items with question_id, "
    "question_type, question, answer, question_date, haystack_session_ids, haystack_dates, "
    "haystack_sessions, answer_session_ids"
)
_LME_REQUIRED = ("question_id", "question", "haystack_session_ids", "haystack_sessions")


def load_longmemeval(path: str | Path, limit: int | None = None) -> Iterator[Conversation]:
    """Load LongMemEval (``longmemeval_s.json``, ``_m``, ``_oracle``).

    Each question is its own Conversation (its own haystack), id = ``question_id``.
    Sessions keep the haystack session ids and dates; turn id is
    ``"<session_id>:<n>"`` with n the 1-based position in the session (the official
    scripts number turns the same way, joined with '_').  gold_turn_ids = turns with
    ``has_answer: true`` (any role; the official turn-level corpus indexes user turns
    only), gold_session_ids = ``answer_session_ids``, abstention = id ends with
    ``"_abs"``, category = ``question_type``.  The file is streamed element by element.
    """
    check_limit(limit)
    p = require_file(path, _LME_EXPECTED)
    if limit == 0:
        return
    for index, item in enumerate(iter_json_array(p, _LME_EXPECTED)):
        yield _lme_item(p, index, item)
        if limit is not None and index + 1 >= limit:
            return


def _lme_item(p: Path, index: int, item: Any) -> Conversation:
    if not isinstance(item, dict):
        raise ValueError(f"{p}: element {index} is not an object; expected {_LME_EXPECTED}")
    missing = [k for k in _LME_REQUIRED if k not in item]
    if missing:
        raise ValueError(f"{p}: element {index} lacks {missing}; expected {_LME_EXPECTED}")
    qid = str(item["question_id"])
    issues: list[str] = []
    sids = item["haystack_session_ids"]
    raw_sessions = item["haystack_sessions"]
    dates = item.get("haystack_dates") or []
    if not isinstance(sids, list) or not isinstance(raw_sessions, list):
        raise ValueError(
            f"{p}: element {index} ({qid}): haystack_session_ids/haystack_sessions must be lists"
        )
    if len(sids) != len(raw_sessions):
        raise ValueError(
            f"{p}: element {index} ({qid}): {len(sids)} haystack_session_ids but "
            f"{len(raw_sessions)} haystack_sessions"
        )
    if len(dates) != len(sids):
        add_issue(issues, qid, f"{len(dates)} haystack_dates for {len(sids)} sessions")
    sessions: list[Session] = []
    gold_turns: list[str] = []
    seen: set[str] = set()
    for s_index, (sid_raw, raw) in enumerate(zip(sids, raw_sessions, strict=True)):
        sid = str(sid_raw)
        if sid in seen:
            add_issue(issues, qid, f"duplicate haystack session id {sid}")
        seen.add(sid)
        date = parse_datetime(dates[s_index]) if s_index < len(dates) else None
        if not isinstance(raw, list):
            raise ValueError(
                f"{p}: element {index} ({qid}) session {sid} is not a list of {{role, content}}"
            )
        turns: list[Turn] = []
        for t_index, msg in enumerate(raw):
            if not isinstance(msg, dict):
                raise ValueError(
                    f"{p}: element {index} ({qid}) session {sid} turn {t_index} is not an object"
                )
            tid = f"{sid}:{t_index + 1}"
            if msg.get("has_answer") is True:
                gold_turns.append(tid)
            turns.append(
                Turn(
                    tid,
                    sid,
                    str(msg.get("role") or "user"),
                    None,
                    as_text(msg.get("content")),
                    date,
                )
            )
        sessions.append(Session(sid, date, tuple(turns)))
    answer_sids = [str(s) for s in item.get("answer_session_ids") or []]
    dangling = [s for s in answer_sids if s not in seen]
    if dangling:
        add_issue(issues, qid, f"answer_session_ids not in the haystack: {dangling}")
    question = Question(
        id=qid,
        text=as_text(item["question"]),
        answer=as_text(item.get("answer")),
        category=str(item.get("question_type") or "unknown"),
        question_date=parse_datetime(item.get("question_date")),
        gold_turn_ids=unique(gold_turns),
        gold_session_ids=unique(answer_sids),
        abstention=qid.endswith("_abs"),
    )
    return Conversation(qid, tuple(sessions), (question,), tuple(issues))
