"""Neutral loaders for public long-term-memory benchmarks.

Every loader yields `Conversation` objects: the history to ingest (sessions of turns)
and the questions asked about it, with gold ids that match `Turn.id` / `Session.id`.

Id conventions (stable; metrics match on them):

===========  ========================  =============================  =====================
dataset      Conversation.id           Session.id                     Turn.id
===========  ========================  =============================  =====================
locomo       ``sample_id``             ``"D<s>"`` (from session_<s>)  ``dia_id`` ``"D<s>:<t>"``
longmemeval  ``question_id``           haystack session id as given   ``"<session_id>:<n>"``,
                                                                      n = 1-based position
beam         chat directory name       ``"b<batch_number>"``          ``str(message id)``
halumem      ``uuid``                  ``"s<i>"``, i = 0-based        ``"s<i>:<j>"``,
                                       position in ``sessions``       j = 0-based position
                                                                      in ``dialogue``
===========  ========================  =============================  =====================

All datetimes are timezone-aware UTC; naive source timestamps are taken as UTC.
Unparseable dates become ``None`` (never an exception).  Data problems that do not
prevent loading (malformed LoCoMo evidence, unmatched HaluMem evidence, dangling gold
ids) are logged as warnings and listed in `Conversation.issues`.  A missing file, a
file that is not valid JSON/JSONL, or a structure that does not match the expected
format raises `ValueError` naming the file and what was expected.
"""

from __future__ import annotations

import ast
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "DATASETS",
    "Conversation",
    "MemoryPoint",
    "Question",
    "Session",
    "Turn",
    "load",
    "load_beam",
    "load_halumem",
    "load_locomo",
    "load_longmemeval",
    "parse_datetime",
]

log = logging.getLogger(__name__)

DATASETS: tuple[str, ...] = ("locomo", "longmemeval", "beam", "halumem")


# --------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class Turn:
    """One message.  `id` is the unit that gold ids refer to."""

    id: str
    session_id: str
    role: str
    speaker: str | None
    text: str
    timestamp: datetime | None


@dataclass(frozen=True, slots=True)
class MemoryPoint:
    """A gold memory point (HaluMem) that a session is expected to produce.

    `source` is HaluMem's ``memory_source`` ("system", "primary", "secondary",
    "interference", ...); the official extraction metrics skip "interference" points
    for recall and weight by `importance`.  `is_update` points carry the superseded
    facts in `original_memories`.
    """

    index: int
    session_id: str
    content: str
    type: str
    source: str | None
    is_update: bool
    original_memories: tuple[str, ...]
    timestamp: datetime | None
    importance: float | None


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    date: datetime | None
    turns: tuple[Turn, ...]
    summary: str | None = None
    memory_points: tuple[MemoryPoint, ...] = ()


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    text: str
    answer: str
    category: str
    question_date: datetime | None
    gold_turn_ids: tuple[str, ...]
    gold_session_ids: tuple[str, ...]
    abstention: bool


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    sessions: tuple[Session, ...]
    questions: tuple[Question, ...]
    issues: tuple[str, ...] = ()
    """Non-fatal data problems found while loading (also logged as warnings)."""

    def turns(self) -> Iterator[Turn]:
        """All turns in order."""
        for session in self.sessions:
            yield from session.turns

    def session_of(self) -> dict[str, str]:
        """Map turn id -> session id."""
        return {turn.id: turn.session_id for turn in self.turns()}

    def memory_points(self) -> tuple[MemoryPoint, ...]:
        """All gold memory points in session order (HaluMem; empty elsewhere)."""
        return tuple(mp for s in self.sessions for mp in s.memory_points)


# ------------------------------------------------------------------------ dispatch


def load(dataset: str, path: str | Path, limit: int | None = None) -> Iterator[Conversation]:
    """Load `dataset` (one of `DATASETS`) from `path`; yield at most `limit` conversations."""
    loaders = {
        "locomo": load_locomo,
        "longmemeval": load_longmemeval,
        "beam": load_beam,
        "halumem": load_halumem,
    }
    key = dataset.strip().lower() if isinstance(dataset, str) else dataset
    if key not in loaders:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    return loaders[key](path, limit=limit)


def _check_limit(limit: int | None) -> None:
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be None or a non-negative int, got {limit!r}")


def _require_file(path: str | Path, expected: str) -> Path:
    p = Path(path)
    if not p.is_file():
        what = "is a directory" if p.is_dir() else "not found"
        raise ValueError(f"{p}: {what}; expected {expected}")
    return p


def _read_json(path: Path, expected: str) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); "
            f"expected {expected}"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text; expected {expected}") from exc


def _iter_json_array(path: Path, expected: str, chunk: int = 1 << 20) -> Iterator[Any]:
    """Yield the elements of a top-level JSON array without loading the whole file.

    LongMemEval-M is several GB; this keeps memory at about one element at a time.
    """
    decoder = json.JSONDecoder()
    with path.open(encoding="utf-8") as fh:
        buf = fh.read(chunk)
        pos = 0
        eof = len(buf) < chunk

        def fill(min_extra: int) -> bool:
            nonlocal buf, pos, eof
            if eof:
                return False
            data = fh.read(max(chunk, min_extra))
            if len(data) == 0:
                eof = True
                return False
            buf = buf[pos:] + data
            pos = 0
            return True

        def skip_ws() -> None:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    pos += 1
                if pos < len(buf) or not fill(chunk):
                    return

        skip_ws()
        if pos >= len(buf) or buf[pos] != "[":
            raise ValueError(f"{path}: expected a JSON array ({expected})")
        pos += 1
        index = 0
        first = True
        while True:
            skip_ws()
            if pos >= len(buf):
                raise ValueError(f"{path}: truncated JSON array after element {index}")
            if buf[pos] == "]":
                return
            if not first:
                if buf[pos] != ",":
                    raise ValueError(
                        f"{path}: invalid JSON after array element {index - 1} "
                        f"(expected ',' or ']'); expected {expected}"
                    )
                pos += 1
                skip_ws()
            grow = chunk
            while True:
                try:
                    value, end = decoder.raw_decode(buf, pos)
                except json.JSONDecodeError as exc:
                    if not fill(grow):
                        raise ValueError(
                            f"{path}: invalid JSON in array element {index} ({exc.msg}); "
                            f"expected {expected}"
                        ) from exc
                    grow *= 2
                    continue
                if end < len(buf) or not fill(grow):  # a scalar may continue past the buffer
                    break
            pos = end
            first = False
            yield value
            index += 1
            if pos > chunk:  # drop consumed text
                buf = buf[pos:]
                pos = 0


# ------------------------------------------------------------------------- helpers

_MONTHS = {
    m: i
    for i, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for m in names
}

# "1:56 pm on 8 May, 2023" (LoCoMo)
_RE_LOCOMO = re.compile(
    r"^\s*(\d{1,2})[:.](\d{2})\s*([ap])\.?\s*m\.?\s+on\s+(\d{1,2})\s+([A-Za-z]+)\.?,?\s+(\d{4})\s*$",
    re.IGNORECASE,
)
# "2023/05/30 (Tue) 23:40" (LongMemEval)
_RE_LME = re.compile(
    r"^\s*(\d{4})[/-](\d{1,2})[/-](\d{1,2})\s*(?:\([A-Za-z]+\))?\s*(?:(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$"
)
# "Jan 15, 2029, 15:12:20" (HaluMem), "March 15, 2024"
_RE_MDY = re.compile(
    r"^\s*([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$"
)
# "March-15-2024" (BEAM time anchors)
_RE_MDY_DASH = re.compile(r"^\s*([A-Za-z]+)[-_/ ](\d{1,2})[-_/, ]+(\d{4})\s*$")
# "15 March 2024"
_RE_DMY = re.compile(r"^\s*(\d{1,2})\s+([A-Za-z]+)\.?,?\s+(\d{4})\s*$")


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _mk(
    year: str,
    month: int | None,
    day: str,
    hh: str | None = None,
    mm: str | None = None,
    ss: str | None = None,
) -> datetime | None:
    if month is None:
        return None
    try:
        return datetime(
            int(year), month, int(day), int(hh or 0), int(mm or 0), int(ss or 0), tzinfo=UTC
        )
    except ValueError:
        return None


def parse_datetime(value: Any) -> datetime | None:
    """Parse the date formats used by the four benchmarks; UTC-aware, or None.

    Handles LoCoMo ("1:56 pm on 8 May, 2023"), LongMemEval ("2023/05/30 (Tue) 23:40"),
    HaluMem ("Jan 15, 2029, 15:12:20"), BEAM anchors ("March-15-2024") and ISO 8601.
    Never raises.
    """
    if isinstance(value, datetime):
        return _utc(value)
    if not isinstance(value, str) or not value.strip():
        return None
    s = value.strip()
    try:
        m = _RE_LOCOMO.match(s)
        if m:
            hh, mm, ap, day, mon, year = m.groups()
            hour = int(hh) % 12 + (12 if ap.lower() == "p" else 0)
            return _mk(year, _MONTHS.get(mon.lower()), day, str(hour), mm)
        m = _RE_LME.match(s)
        if m:
            year, mon, day, hh, mm, ss = m.groups()
            return _mk(year, int(mon), day, hh, mm, ss)
        m = _RE_MDY.match(s)
        if m:
            mon, day, year, hh, mm, ss = m.groups()
            return _mk(year, _MONTHS.get(mon.lower()), day, hh, mm, ss)
        m = _RE_MDY_DASH.match(s)
        if m:
            mon, day, year = m.groups()
            return _mk(year, _MONTHS.get(mon.lower()), day)
        m = _RE_DMY.match(s)
        if m:
            day, mon, year = m.groups()
            return _mk(year, _MONTHS.get(mon.lower()), day)
        return _utc(datetime.fromisoformat(s.replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        return None


def _text(value: Any) -> str:
    """Answer/text fields may be int, list, dict...: keep strings, json-dump the rest."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)):
        return str(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _issue(issues: list[str], conv_id: str, message: str) -> None:
    issues.append(message)
    log.warning("%s: %s", conv_id, message)


# -------------------------------------------------------------------------- LoCoMo

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
    return list(_unique(kept)), dropped


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
    _check_limit(limit)
    p = _require_file(path, _LOCOMO_EXPECTED)
    data = _read_json(p, _LOCOMO_EXPECTED)
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
            _issue(
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
            text = _text(raw.get("text"))
            caption = raw.get("blip_caption")
            if isinstance(caption, str) and caption.strip():
                text = f"{text} [shares an image: {caption.strip()}]"
            if tid in turn_ids:
                _issue(issues, conv_id, f"duplicate dia_id {tid}")
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
        raw_cat = item.get("category")
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
            _issue(issues, conv_id, f"{qid}: dropped malformed evidence tokens {dropped}")
        dangling = [g for g in gold if g not in turn_ids]
        if dangling:
            _issue(issues, conv_id, f"{qid}: evidence ids not in the conversation {dangling}")
        questions.append(
            Question(
                id=qid,
                text=_text(item["question"]),
                answer=_text(answer),
                category=category,
                question_date=None,
                gold_turn_ids=tuple(gold),
                gold_session_ids=_unique(g.split(":")[0] for g in gold),
                abstention=cat_num == 5,
            )
        )
    return Conversation(conv_id, tuple(sessions), tuple(questions), tuple(issues))


# --------------------------------------------------------------------- LongMemEval

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
    _check_limit(limit)
    p = _require_file(path, _LME_EXPECTED)
    if limit == 0:
        return
    for index, item in enumerate(_iter_json_array(p, _LME_EXPECTED)):
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
        _issue(issues, qid, f"{len(dates)} haystack_dates for {len(sids)} sessions")
    sessions: list[Session] = []
    gold_turns: list[str] = []
    seen: set[str] = set()
    for s_index, (sid_raw, raw) in enumerate(zip(sids, raw_sessions, strict=True)):
        sid = str(sid_raw)
        if sid in seen:
            _issue(issues, qid, f"duplicate haystack session id {sid}")
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
                    tid, sid, str(msg.get("role") or "user"), None, _text(msg.get("content")), date
                )
            )
        sessions.append(Session(sid, date, tuple(turns)))
    answer_sids = [str(s) for s in item.get("answer_session_ids") or []]
    dangling = [s for s in answer_sids if s not in seen]
    if dangling:
        _issue(issues, qid, f"answer_session_ids not in the haystack: {dangling}")
    question = Question(
        id=qid,
        text=_text(item["question"]),
        answer=_text(item.get("answer")),
        category=str(item.get("question_type") or "unknown"),
        question_date=parse_datetime(item.get("question_date")),
        gold_turn_ids=_unique(gold_turns),
        gold_session_ids=_unique(answer_sids),
        abstention=qid.endswith("_abs"),
    )
    return Conversation(qid, tuple(sessions), (question,), tuple(issues))


# ---------------------------------------------------------------------------- BEAM

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
    _check_limit(limit)
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
    chat = _read_json(
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
                _issue(issues, conv_id, f"duplicate message id {tid}")
            session_of[tid] = sid
            anchor = msg.get("time_anchor")
            ts = parse_datetime(anchor) if anchor is not None else None
            if anchor is not None and ts is None:
                _issue(issues, conv_id, f"unparseable time_anchor {anchor!r} on message {tid}")
            turns.append(
                Turn(
                    tid,
                    sid,
                    str(msg.get("role") or "user"),
                    None,
                    _text(msg.get("content")),
                    ts or date,
                )
            )
        sessions.append(Session(sid, date, tuple(turns)))

    pq_path = d / "probing_questions" / "probing_questions.json"
    pq_expected = "BEAM probing_questions.json: an object ability -> list of questions"
    _require_file(pq_path, pq_expected)
    probing = _read_json(pq_path, pq_expected)
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
                _issue(issues, conv_id, f"{qid}: ignored non-id source_chat_ids values {bad}")
            gold = _unique(ids)
            dangling = [g for g in gold if g not in session_of]
            if dangling:
                _issue(issues, conv_id, f"{qid}: source_chat_ids not in chat.json {dangling}")
            questions.append(
                Question(
                    id=qid,
                    text=_text(item["question"]),
                    answer=_text(answer),
                    category=str(ability),
                    question_date=None,
                    gold_turn_ids=gold,
                    gold_session_ids=_unique(session_of[g] for g in gold if g in session_of),
                    abstention=ability == "abstention",
                )
            )
    return Conversation(conv_id, tuple(sessions), tuple(questions), tuple(issues))


# ------------------------------------------------------------------------- HaluMem

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
    _check_limit(limit)
    p = _require_file(path, _HALUMEM_EXPECTED)
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
                    _text(msg.get("content")),
                    parse_datetime(msg.get("timestamp")) or start,
                )
            )
        points: list[MemoryPoint] = []
        for k, mp in enumerate(raw.get("memory_points") or []):
            if not isinstance(mp, dict):
                raise ValueError(f"{p}:{lineno}: session {i} memory point {k} is not an object")
            content = _text(mp.get("memory_content"))
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
                    original_memories=tuple(_text(o) for o in originals),
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
                text = _text(ev.get("memory_content") if isinstance(ev, dict) else ev)
                hits = exact.get(text) or normed.get(_norm(text)) or []
                if not hits:
                    unmatched += 1
                    _issue(
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
                    text=_text(q["question"]),
                    answer=_text(q.get("answer")),
                    category=qtype,
                    question_date=end or start,
                    gold_turn_ids=(),
                    gold_session_ids=_unique(f"s{s}" for s in sorted(set(gold))),
                    abstention=not evidence or qtype == "Memory Boundary",
                )
            )
    if unmatched:
        log.warning("%s: %d HaluMem evidence text(s) matched no memory point", conv_id, unmatched)
    return Conversation(conv_id, tuple(sessions), tuple(questions), tuple(issues))
