"""Loaders on tiny fixtures written in each benchmark's exact format."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from remem.eval.datasets import (
    DATASETS,
    Conversation,
    load,
    parse_datetime,
    parse_locomo_evidence,
)
from remem.eval.datasets.parsing import iter_json_array


def _write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1:56 pm on 8 May, 2023", _utc(2023, 5, 8, 13, 56)),
        ("12:09 am on 1 January, 2024", _utc(2024, 1, 1, 0, 9)),
        ("12:30 pm on 3 Feb, 2024", _utc(2024, 2, 3, 12, 30)),
        ("2023/05/30 (Tue) 23:40", _utc(2023, 5, 30, 23, 40)),
        ("2023/05/30", _utc(2023, 5, 30)),
        ("Jan 15, 2029, 15:12:20", _utc(2029, 1, 15, 15, 12, 20)),
        ("March-15-2024", _utc(2024, 3, 15)),
        ("2024-03-15T10:00:00", _utc(2024, 3, 15, 10)),
        ("2024-03-15T10:00:00+02:00", _utc(2024, 3, 15, 8)),
        ("Smarch-15-2024", None),
        ("February-30-2024", None),
        ("sometime soon", None),
        ("", None),
        (None, None),
        (20240315, None),
    ],
)
def test_parse_datetime(text: object, expected: datetime | None) -> None:
    got = parse_datetime(text)
    assert got == expected
    if got is not None:
        assert got.tzinfo is UTC


# -------------------------------------------------------------------------- LoCoMo


def _locomo_sample() -> dict:
    return {
        "sample_id": "conv-1",
        "conversation": {
            "speaker_a": "Alice",
            "speaker_b": "Bob",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Alice", "dia_id": "D1:1", "text": "I adopted a dog."},
                {"speaker": "Bob", "dia_id": "D1:2", "text": "What breed?"},
                {
                    "speaker": "Alice",
                    "dia_id": "D1:3",
                    "text": "Look at him!",
                    "img_url": ["http://example.invalid/dog.jpg"],
                    "blip_caption": "a photo of a corgi on a couch",
                },
            ],
            # numbering skips session_2; session_10 must sort after session_3
            "session_10_date_time": "9:00 am on 1 August, 2023",
            "session_10": [{"speaker": "Bob", "dia_id": "D10:1", "text": "I moved to Paris."}],
            "session_3_date_time": "10:04 am on 19 June, 2023",
            "session_3": [
                {"speaker": "Bob", "dia_id": "D3:1", "text": "I started painting."},
                {"speaker": "Alice", "dia_id": "D3:2", "text": "Since when?"},
            ],
        },
        "session_summary": {"session_1_summary": "Alice adopted a corgi."},
        "qa": [
            {
                "question": "When did Bob start painting?",
                "answer": "June 2023",
                "evidence": ["D3:1"],
                "category": 2,
            },
            {
                "question": "Which pets and hobbies came up?",
                "answer": "dog, painting",
                "evidence": ["D1:1; D3:1", "D1:3 D10:1", "D:7"],
                "category": 1,
            },
            {"question": "What year?", "answer": 2023, "evidence": ["D1:1"], "category": 4},
            {
                "question": "What did Bob adopt?",
                "adversarial_answer": "a dog",
                "evidence": ["D1:1"],
                "category": 5,
            },
            {"question": "Anything else?", "answer": "no", "evidence": [], "category": 3},
        ],
    }


def test_locomo(tmp_path: Path) -> None:
    path = _write(tmp_path / "locomo10.json", [_locomo_sample()])
    (conv,) = list(load("locomo", path))
    assert isinstance(conv, Conversation)
    assert conv.id == "conv-1"
    assert [s.id for s in conv.sessions] == ["D1", "D3", "D10"]
    s1 = conv.sessions[0]
    assert s1.date == _utc(2023, 5, 8, 13, 56)
    assert s1.summary == "Alice adopted a corgi."
    assert conv.sessions[1].summary is None
    assert [t.id for t in s1.turns] == ["D1:1", "D1:2", "D1:3"]
    assert s1.turns[0].speaker == "Alice"
    assert s1.turns[0].timestamp == s1.date
    assert s1.turns[0].session_id == "D1"
    assert s1.turns[2].text == "Look at him! [shares an image: a photo of a corgi on a couch]"

    q = {question.id: question for question in conv.questions}
    assert list(q) == [f"conv-1:q{i}" for i in range(5)]
    temporal = q["conv-1:q0"]
    assert (temporal.category, temporal.gold_turn_ids, temporal.gold_session_ids) == (
        "temporal",
        ("D3:1",),
        ("D3",),
    )
    assert temporal.question_date is None
    assert not temporal.abstention

    multi = q["conv-1:q1"]
    assert multi.category == "multi-hop"
    assert multi.gold_turn_ids == ("D1:1", "D3:1", "D1:3", "D10:1")
    assert multi.gold_session_ids == ("D1", "D3", "D10")
    assert any("D:7" in issue for issue in conv.issues)

    assert q["conv-1:q2"].answer == "2023"
    assert q["conv-1:q2"].category == "single-hop"
    adversarial = q["conv-1:q3"]
    assert (adversarial.category, adversarial.answer, adversarial.abstention) == (
        "adversarial",
        "a dog",
        True,
    )
    assert q["conv-1:q4"].category == "open-domain"
    assert q["conv-1:q4"].gold_turn_ids == ()


def test_locomo_evidence_parsing() -> None:
    assert parse_locomo_evidence(["D8:6; D9:17"]) == (["D8:6", "D9:17"], [])
    assert parse_locomo_evidence(["D1:3 D1:4", "D1:3"]) == (["D1:3", "D1:4"], [])
    assert parse_locomo_evidence("D2:05,D3:1") == (["D2:5", "D3:1"], [])
    assert parse_locomo_evidence(["D", "D1:"]) == ([], ["D", "D1:"])
    assert parse_locomo_evidence(None) == ([], [])


def test_locomo_limit_and_errors(tmp_path: Path) -> None:
    second = _locomo_sample() | {"sample_id": "conv-2"}
    path = _write(tmp_path / "locomo10.json", [_locomo_sample(), second])
    assert [c.id for c in load("locomo", path)] == ["conv-1", "conv-2"]
    assert [c.id for c in load("locomo", path, limit=1)] == ["conv-1"]

    bad = _write(tmp_path / "bad.json", {"not": "a list"})
    with pytest.raises(ValueError, match=r"bad\.json.*LoCoMo"):
        list(load("locomo", bad))
    broken = tmp_path / "broken.json"
    broken.write_text('[{"sample_id": ', encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.json.*invalid JSON"):
        list(load("locomo", broken))


# --------------------------------------------------------------------- LongMemEval


def _lme_items() -> list[dict]:
    normal = {
        "question_id": "e47becba",
        "question_type": "single-session-user",
        "question": "What degree did I graduate with?",
        "answer": "Business Administration",
        "question_date": "2023/05/30 (Tue) 23:40",
        "haystack_session_ids": ["sharegpt_x_0", "answer_280352e9"],
        "haystack_dates": ["2023/05/20 (Sat) 02:21", "2023/05/22 (Mon) 10:05"],
        "haystack_sessions": [
            [
                {"role": "user", "content": "Write a poem."},
                {"role": "assistant", "content": "Roses are red."},
            ],
            [
                {"role": "user", "content": "I need a resume tip.", "has_answer": False},
                {"role": "assistant", "content": "Sure.", "has_answer": False},
                {
                    "role": "user",
                    "content": "I graduated in Business Administration.",
                    "has_answer": True,
                },
                {"role": "assistant", "content": "Great degree!", "has_answer": False},
            ],
        ],
        "answer_session_ids": ["answer_280352e9"],
    }
    abstention = {
        "question_id": "gpt4_abc_abs",
        "question_type": "temporal-reasoning",
        "question": "How many days ago did I buy a violin?",
        "answer": 7,
        "question_date": "2023/06/01 (Thu) 08:00",
        "haystack_session_ids": ["answer_s1"],
        "haystack_dates": ["2023/05/25 (Thu) 09:00"],
        "haystack_sessions": [
            [{"role": "user", "content": "I bought a guitar.", "has_answer": True}]
        ],
        "answer_session_ids": ["answer_s1"],
    }
    return [normal, abstention]


def test_longmemeval(tmp_path: Path) -> None:
    path = _write(tmp_path / "longmemeval_s.json", _lme_items())
    first, second = list(load("longmemeval", path))
    assert first.id == "e47becba"
    assert [s.id for s in first.sessions] == ["sharegpt_x_0", "answer_280352e9"]
    assert first.sessions[1].date == _utc(2023, 5, 22, 10, 5)
    turns = first.sessions[1].turns
    assert [t.id for t in turns] == [f"answer_280352e9:{n}" for n in (1, 2, 3, 4)]
    assert [t.role for t in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[0].timestamp == first.sessions[1].date
    (q,) = first.questions
    assert q.id == "e47becba"
    assert q.category == "single-session-user"
    assert q.question_date == _utc(2023, 5, 30, 23, 40)
    assert q.gold_turn_ids == ("answer_280352e9:3",)
    assert q.gold_session_ids == ("answer_280352e9",)
    assert not q.abstention

    (abs_q,) = second.questions
    assert abs_q.id == "gpt4_abc_abs"  # kept as given
    assert abs_q.abstention
    assert abs_q.answer == "7"
    assert abs_q.gold_session_ids == ("answer_s1",)

    assert [c.id for c in load("longmemeval", path, limit=1)] == ["e47becba"]
    assert list(load("longmemeval", path, limit=0)) == []


def test_longmemeval_streaming_small_chunks(tmp_path: Path) -> None:
    items = [*_lme_items(), {"a": [1, 2, {"b": "x" * 50}]}, 3, "s"]
    path = tmp_path / "arr.json"
    path.write_text("  \n" + json.dumps(items, indent=1) + "\n", encoding="utf-8")
    for chunk in (1, 7, 64, 1 << 20):
        assert list(iter_json_array(path, "x", chunk=chunk)) == items
    path.write_text("[123, 45]", encoding="utf-8")
    assert list(iter_json_array(path, "x", chunk=2)) == [123, 45]
    path.write_text("[]", encoding="utf-8")
    assert list(iter_json_array(path, "x", chunk=1)) == []


def test_longmemeval_errors(tmp_path: Path) -> None:
    trunc = tmp_path / "trunc.json"
    trunc.write_text(json.dumps(_lme_items())[:-40], encoding="utf-8")
    with pytest.raises(ValueError, match=r"trunc\.json.*element 1"):
        list(load("longmemeval", trunc))
    obj = _write(tmp_path / "obj.json", {"question_id": "x"})
    with pytest.raises(ValueError, match=r"obj\.json.*JSON array"):
        list(load("longmemeval", obj))
    missing = _write(tmp_path / "missing.json", [{"question_id": "x"}])
    with pytest.raises(ValueError, match=r"missing\.json.*haystack"):
        list(load("longmemeval", missing))


# ---------------------------------------------------------------------------- BEAM


def _beam_chat(offset: int = 0) -> list[dict]:
    def msg(i: int, role: str, text: str, **extra: object) -> dict:
        return {"role": role, "id": i + offset, "content": text, **extra}

    return [
        {
            "batch_number": 1,
            "time_anchor": None,
            "turns": [
                [
                    msg(
                        0,
                        "user",
                        "Deadline is March 15.",
                        time_anchor="March-15-2024",
                        index="1,1",
                        question_type="main_question",
                    ),
                    msg(1, "assistant", "Let's plan."),
                ],
                [
                    msg(2, "user", "My API answers in 400ms.", question_type="main_question"),
                    msg(3, "assistant", "Caching helps."),
                    msg(4, "user", "ok", question_type="followup_question"),
                    msg(5, "assistant", "Noted."),
                ],
            ],
        },
        {
            "batch_number": 2,
            "time_anchor": None,
            "turns": [
                [
                    msg(6, "user", "Now it answers in 250ms.", time_anchor="Someday-99-2024"),
                    msg(7, "assistant", "Nice."),
                ]
            ],
        },
    ]


def _beam_questions() -> dict:
    return {
        "abstention": [
            {
                "question": "What did my manager say?",
                "ideal_response": "No information.",
                "rubric": ["no information"],
            }
        ],
        "knowledge_update": [
            {
                "question": "API latency?",
                "answer": "250ms",
                "source_chat_ids": {"original_info": [2], "updated_info": [6]},
            }
        ],
        "event_ordering": [
            {"question": "Order?", "answer": {"order": [1, 2]}, "source_chat_ids": [0, [2, 6], [2]]}
        ],
        "summarization": [
            {"question": "Summarize.", "ideal_summary": "You planned.", "source_chat_ids": "[]"}
        ],
        "contradiction_resolution": [
            {
                "question": "Did I?",
                "ideal_answer": "Clarify?",
                "answer_unused": "x",
                "source_chat_ids": {"first_statement": [0], "second_statement": []},
            }
        ],
        "preference_following": [
            {
                "question": "Suggest.",
                "expected_compliance": "Lightweight.",
                "source_chat_ids": [4, 999],
            }
        ],
    }


def _beam_tree(root: Path) -> Path:
    for name, offset in (("10", 0), ("2", 0), ("notes", None)):
        d = root / name
        d.mkdir(parents=True)
        if offset is None:
            continue  # a directory without chat.json is ignored
        _write(d / "chat.json", _beam_chat(offset))
        _write(d / "probing_questions" / "probing_questions.json", _beam_questions())
    return root


def test_beam(tmp_path: Path) -> None:
    root = _beam_tree(tmp_path / "chats" / "100K")
    convs = list(load("beam", root))
    assert [c.id for c in convs] == ["2", "10"]  # numeric order
    conv = convs[0]
    assert [s.id for s in conv.sessions] == ["b1", "b2"]
    s1, s2 = conv.sessions
    assert [t.id for t in s1.turns] == ["0", "1", "2", "3", "4", "5"]
    assert s1.date == _utc(2024, 3, 15)
    assert all(t.timestamp == _utc(2024, 3, 15) for t in s1.turns)
    assert s1.turns[1].role == "assistant"
    assert s2.date is None  # unparseable anchor: None, no crash
    assert s2.turns[0].timestamp is None
    assert any("Someday" in issue for issue in conv.issues)

    q = {question.category: question for question in conv.questions}
    assert len(conv.questions) == 6
    abst = q["abstention"]
    assert abst.abstention and abst.gold_turn_ids == () and abst.answer == "No information."
    ku = q["knowledge_update"]
    assert (ku.gold_turn_ids, ku.gold_session_ids, ku.answer) == (("2", "6"), ("b1", "b2"), "250ms")
    assert not ku.abstention
    eo = q["event_ordering"]
    assert eo.gold_turn_ids == ("0", "2", "6")
    assert json.loads(eo.answer) == {"order": [1, 2]}
    summ = q["summarization"]
    assert summ.gold_turn_ids == () and not summ.abstention and summ.answer == "You planned."
    assert q["contradiction_resolution"].answer == "Clarify?"
    assert q["contradiction_resolution"].gold_turn_ids == ("0",)
    pref = q["preference_following"]
    assert pref.answer == "Lightweight."
    assert pref.gold_turn_ids == ("4", "999") and pref.gold_session_ids == ("b1",)
    assert any("999" in issue for issue in conv.issues)
    assert conv.questions[0].id == "2:abstention:0"
    assert all(question.question_date is None for question in conv.questions)


def test_beam_single_dir_limit_and_errors(tmp_path: Path) -> None:
    root = _beam_tree(tmp_path / "100K")
    (single,) = list(load("beam", root / "10"))
    assert single.id == "10"
    assert [c.id for c in load("beam", root, limit=1)] == ["2"]
    with pytest.raises(ValueError, match=r"no chat\.json"):
        list(load("beam", tmp_path / "100K" / "notes"))
    with pytest.raises(ValueError, match="not found"):
        list(load("beam", tmp_path / "nope"))
    (root / "2" / "probing_questions" / "probing_questions.json").unlink()
    with pytest.raises(ValueError, match=r"probing_questions\.json"):
        list(load("beam", root / "2"))
    _write(root / "10" / "chat.json", {"turns": []})
    with pytest.raises(ValueError, match=r"chat\.json.*list of batches"):
        list(load("beam", root / "10"))


# ------------------------------------------------------------------------- HaluMem


def _mp(
    index: int,
    content: str,
    ts: str,
    *,
    update: bool = False,
    originals: list[str] | None = None,
    source: str = "secondary",
) -> dict:
    return {
        "index": index,
        "memory_content": content,
        "memory_type": "Persona Memory",
        "memory_source": source,
        "is_update": "True" if update else "False",
        "original_memories": originals or [],
        "timestamp": ts,
        "importance": 0.75,
    }


def _halumem_user(uuid: str = "u-1") -> dict:
    t0, t0e = "Sep 04, 2025, 09:05:32", "Sep 04, 2025, 11:35:32"
    t1, t1e = "Sep 10, 2025, 14:00:00", "Sep 10, 2025, 15:00:00"
    return {
        "uuid": uuid,
        "persona_info": "Name: Sarah Garcia; Gender: Female;",
        "sessions": [
            {
                "start_time": t0,
                "end_time": t0e,
                "memory_points_count": "2",
                "memory_points": [
                    _mp(1, "Sarah's job title is director", t0e, source="system"),
                    _mp(2, "Sarah lives in Miami", t0e, source="interference"),
                ],
                "dialogue_turn_num": "1",
                "dialogue": [
                    {
                        "role": "user",
                        "content": "I'm a director.",
                        "timestamp": t0,
                        "dialogue_turn": 0,
                    },
                    {"role": "assistant", "content": "Nice!", "timestamp": t0, "dialogue_turn": 0},
                ],
            },
            {
                "start_time": t1,
                "end_time": t1e,
                "memory_points": [
                    _mp(
                        1,
                        "Sarah was promoted to senior director",
                        t1e,
                        update=True,
                        originals=["Sarah's job title is director"],
                    ),
                ],
                "dialogue": [
                    {"role": "user", "content": "Promoted!", "timestamp": t1, "dialogue_turn": 0},
                    {
                        "role": "assistant",
                        "content": "Congrats!",
                        "timestamp": t1,
                        "dialogue_turn": 0,
                    },
                ],
                "questions": [
                    {
                        "question": "What is Sarah's title now?",
                        "answer": "Senior director",
                        "evidence": [
                            {
                                "memory_content": "Sarah's job title is director",
                                "memory_type": "Persona Memory",
                            },
                            {
                                "memory_content": "Sarah was promoted to senior director",
                                "memory_type": "[Persona Memory]",
                            },
                        ],
                        "difficulty": "medium",
                        "question_type": "Dynamic Update",
                    },
                    {
                        "question": "Where does Sarah live?",
                        "answer": "Miami",
                        "evidence": [
                            {
                                "memory_content": "  sarah LIVES in   miami ",
                                "memory_type": "Persona Memory",
                            }
                        ],
                        "difficulty": "easy",
                        "question_type": "Basic Fact Recall",
                    },
                    {
                        "question": "Sarah's blood type?",
                        "answer": "Unknown",
                        "evidence": [],
                        "difficulty": "hard",
                        "question_type": "Memory Boundary",
                    },
                    {
                        "question": "Sarah's pet?",
                        "answer": "A cat",
                        "evidence": [
                            {"memory_content": "Sarah has a cat", "memory_type": "Persona Memory"}
                        ],
                        "difficulty": "easy",
                        "question_type": "Basic Fact Recall",
                    },
                ],
                "question_count": "4",
            },
        ],
        "total_question_count": "4",
    }


def test_halumem(tmp_path: Path) -> None:
    truncated = _halumem_user("u-2")
    truncated["sessions"] = truncated["sessions"][:1]  # cut short but still valid JSON
    path = tmp_path / "halumem.jsonl"
    path.write_text(
        json.dumps(_halumem_user()) + "\n\n" + json.dumps(truncated) + "\n", encoding="utf-8"
    )
    conv, short = list(load("halumem", path))
    assert conv.id == "u-1"
    assert [s.id for s in conv.sessions] == ["s0", "s1"]
    s0, s1 = conv.sessions
    assert s0.date == _utc(2025, 9, 4, 9, 5, 32)
    assert [t.id for t in s0.turns] == ["s0:0", "s0:1"]  # positions: dialogue_turn repeats
    assert [t.role for t in s0.turns] == ["user", "assistant"]
    assert s0.turns[0].timestamp == _utc(2025, 9, 4, 9, 5, 32)

    mp = s1.memory_points[0]
    assert mp.is_update and mp.original_memories == ("Sarah's job title is director",)
    assert mp.session_id == "s1" and mp.importance == 0.75 and mp.type == "Persona Memory"
    assert mp.timestamp == _utc(2025, 9, 10, 15)
    assert [m.source for m in conv.memory_points()] == ["system", "interference", "secondary"]
    assert not s0.memory_points[0].is_update

    update, normalised, boundary, unmatched = conv.questions
    assert update.id == "u-1:s1:q0"
    assert update.category == "Dynamic Update"
    assert update.gold_session_ids == ("s0", "s1")  # evidence in an earlier session too
    assert update.gold_turn_ids == ()
    assert update.question_date == _utc(2025, 9, 10, 15)
    assert not update.abstention
    assert normalised.gold_session_ids == ("s0",)
    assert boundary.abstention and boundary.gold_session_ids == ()
    assert unmatched.gold_session_ids == () and not unmatched.abstention
    assert len(conv.issues) == 1 and "Sarah has a cat" in conv.issues[0]

    assert short.id == "u-2" and len(short.sessions) == 1 and short.questions == ()
    assert [c.id for c in load("halumem", path, limit=1)] == ["u-1"]


def test_halumem_invalid_line(tmp_path: Path) -> None:
    path = tmp_path / "halumem.jsonl"
    path.write_text(
        json.dumps(_halumem_user()) + "\n" + '{"uuid": "u-2", "sessions": [{"st\n', encoding="utf-8"
    )
    loaded = load("halumem", path)
    assert next(loaded).id == "u-1"  # the valid first line still loads
    with pytest.raises(ValueError, match=r"halumem\.jsonl:2: invalid JSON"):
        next(loaded)
    no_sessions = tmp_path / "x.jsonl"
    no_sessions.write_text('{"uuid": "u"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"x\.jsonl:1: no 'sessions'"):
        list(load("halumem", no_sessions))


# ------------------------------------------------------------------------ dispatch


def test_dispatch_errors(tmp_path: Path) -> None:
    assert DATASETS == ("locomo", "longmemeval", "beam", "halumem")
    with pytest.raises(ValueError, match=r"unknown dataset 'msc'.*locomo"):
        load("msc", tmp_path)
    for name in ("locomo", "longmemeval", "halumem"):
        with pytest.raises(ValueError, match=r"missing\.json: not found; expected"):
            list(load(name, tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="is a directory"):
        list(load("locomo", tmp_path))
    with pytest.raises(ValueError, match="limit"):
        list(load("locomo", tmp_path / "x.json", limit=-1))
