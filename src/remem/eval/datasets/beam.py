"""BEAM (``chats/<size>/<n>/``): one Conversation per chat directory, a Session per batch."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator, Mapping
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

_BEAM_EXPECTED = (
    "a BEAM chats directory (e.g. chats/100K) of <n>/chat.json + "
    "<n>/probing_questions/probing_questions.json, or one such <n> directory"
)
# First present wins.  The 100K files use answer (extraction, ordering, update, multi-
# session, temporal), ideal_answer (contradiction), ideal_response (abstention),
# ideal_summary (summarization) and expected_compliance (instruction/preference).
BEAM_ANSWER_KEYS = (
    "answer",
    "ideal_answer",
    "ideal_response",
    "ideal_summary",
    "expected_compliance",
)


def _beam_dirs(p: Path) -> list[Path]:
    if not p.is_dir():
        what = "not found" if not p.exists() else "not a directory"
        raise ValueError(f"{p}: {what}; expected {_BEAM_EXPECTED}")
    if (p / "chat.json").is_file():
        return [p]
    dirs = [d for d in p.iterdir() if d.is_dir() and (d / "chat.json").is_file()]
    if not dirs:
        raise ValueError(
            f"{p}: no chat.json here or in any subdirectory; expected {_BEAM_EXPECTED}"
        )
    return sorted(dirs, key=lambda d: (0, int(d.name), "") if d.name.isdigit() else (1, 0, d.name))


def load_beam(path: str | Path, limit: int | None = None) -> Iterator[Conversation]:
    """Load BEAM chats (a track directory like ``chats/100K`` or one chat directory).

    Conversations are sorted numerically by directory name (id = the name).  A Session
    is one batch of ``chat.json`` (id ``"b<batch_number>"``); its turns are the batch's
    messages in order (the inner ``turns`` lists -- one user message and its replies --
    are flattened).  Turn id = ``str(message id)``.  Dates: the batch ``time_anchor``
    (null in the 100K files) or else the first message ``time_anchor`` of the batch
    (e.g. "March-15-2024") is the session date; a message's own anchor, else the
    session date, is its timestamp; unparseable anchors become None.

    Questions (``probing_questions.json``, ability -> list): id
    ``"<chat>:<ability>:<i>"``, category = ability, answer = first present of
    `BEAM_ANSWER_KEYS`, gold_turn_ids = every id in ``source_chat_ids`` (list, dict of
    lists, nested lists or a JSON string such as "[]"), flattened in order and
    de-duplicated; gold_session_ids = batches holding them; abstention = ability is
    "abstention" (a few summarization / preference questions also have no ids but
    are not abstention questions).  `question_date` is None.
    """
    check_limit(limit)
    dirs = _beam_dirs(Path(path))
    for d in dirs[:limit] if limit is not None else dirs:
        yield _beam_chat(d)


def _beam_ids(value: Any, out: list[str], bad: list[str]) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        bad.append(repr(value))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(str(int(value))) if value.is_integer() else bad.append(repr(value))
    elif isinstance(value, str):
        s = value.strip()
        if not s:
            return
        if re.fullmatch(r"\d+", s):
            out.append(str(int(s)))
            return
        try:
            parsed = json.loads(s)
        except ValueError:
            try:
                parsed = ast.literal_eval(s)
            except (ValueError, SyntaxError):
                bad.append(repr(value))
                return
        if isinstance(parsed, str):
            bad.append(repr(value))
        else:
            _beam_ids(parsed, out, bad)
    elif isinstance(value, Mapping):
        for v in value.values():
            _beam_ids(v, out, bad)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _beam_ids(v, out, bad)
    else:
        bad.append(repr(value))


def _beam_chat(d: Path) -> Conversation:
    conv_id = d.name
    issues: list[str] = []
    chat_path = d / "chat.json"
    chat = read_json(
        chat_path, "BEAM chat.json: a list of batches {batch_number, turns, time_anchor}"
    )
    if not isinstance(chat, list):
        raise ValueError(
            f"{chat_path}: top level is {type(chat).__name__}; expected a list of "
            f"batches {{batch_number, turns: [[message, ...], ...], time_anchor}}"
        )
    sessions: list[Session] = []
    session_of: dict[str, str] = {}
    for b_index, batch in enumerate(chat):
        if not isinstance(batch, dict) or not isinstance(batch.get("turns"), list):
            raise ValueError(
                f"{chat_path}: batch {b_index} has no 'turns' list; expected "
                f"{{batch_number, turns: [[message, ...], ...], time_anchor}}"
            )
        number = batch.get("batch_number", b_index + 1)
        sid = f"b{number}"
        messages: list[dict[str, Any]] = []
        for group in batch["turns"]:
            for msg in group if isinstance(group, list) else [group]:
                if not isinstance(msg, dict) or "id" not in msg:
                    raise ValueError(
                        f"{chat_path}: batch {number} has a message without an "
                        f"'id'; expected {{role, id, content, ...}}"
                    )
                messages.append(msg)
        date = parse_datetime(batch.get("time_anchor"))
        if date is None:
            date = next(
                (dt for m in messages if (dt := parse_datetime(m.get("time_anchor")))), None
            )
        turns: list[Turn] = []
        for msg in messages:
            tid = str(msg["id"])
            if tid in session_of:
                add_issue(issues, conv_id, f"duplicate message id {tid}")
            session_of[tid] = sid
            anchor = msg.get("time_anchor")
            ts = parse_datetime(anchor) if anchor is not None else None
            if anchor is not None and ts is None:
                add_issue(issues, conv_id, f"unparseable time_anchor {anchor!r} on message {tid}")
            turns.append(
                Turn(
                    tid,
                    sid,
                    str(msg.get("role") or "user"),
                    None,
                    as_text(msg.get("content")),
                    ts or date,
                )
            )
        sessions.append(Session(sid, date, tuple(turns)))

    pq_path = d / "probing_questions" / "probing_questions.json"
    pq_expected = "BEAM probing_questions.json: an object ability -> list of questions"
    require_file(pq_path, pq_expected)
    probing = read_json(pq_path, pq_expected)
    if not isinstance(probing, dict):
        raise ValueError(
            f"{pq_path}: top level is {type(probing).__name__}; expected {pq_expected}"
        )
    questions: list[Question] = []
    for ability, items in probing.items():
        if not isinstance(items, list):
            raise ValueError(f"{pq_path}: ability {ability!r} is not a list of questions")
        for q_index, item in enumerate(items):
            qid = f"{conv_id}:{ability}:{q_index}"
            if not isinstance(item, dict) or "question" not in item:
                raise ValueError(f"{pq_path}: {ability}[{q_index}] has no 'question'")
            answer = next((item[k] for k in BEAM_ANSWER_KEYS if k in item), None)
            ids: list[str] = []
            bad: list[str] = []
            _beam_ids(item.get("source_chat_ids"), ids, bad)
            if bad:
                add_issue(issues, conv_id, f"{qid}: ignored non-id source_chat_ids values {bad}")
            gold = unique(ids)
            dangling = [g for g in gold if g not in session_of]
            if dangling:
                add_issue(issues, conv_id, f"{qid}: source_chat_ids not in chat.json {dangling}")
            questions.append(
                Question(
                    id=qid,
                    text=as_text(item["question"]),
                    answer=as_text(answer),
                    category=str(ability),
                    question_date=None,
                    gold_turn_ids=gold,
                    gold_session_ids=unique(session_of[g] for g in gold if g in session_of),
                    abstention=ability == "abstention",
                )
            )
    return Conversation(conv_id, tuple(sessions), tuple(questions), tuple(issues))
