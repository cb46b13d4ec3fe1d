"""`remem eval --qa` end to end: real retrieval, a real HTTP LLM server with scripted answers."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_datasets import _lme_items
from test_runner import QUESTIONS, SESSIONS, write_locomo
from typer.testing import CliRunner

from remem.eval import report
from remem.eval.datasets import Question
from remem.eval.qa import Judgement, QASettings, context, judge_messages
from remem.eval.runner import evaluate
from remem.interfaces.cli import app
from remem.model import MemoryRecord, Scope, SearchHit
from remem.providers.llm import OpenAIChatLLM
from remem.testing import Reply, ScriptedOpenAIServer

#: The scripted judge says CORRECT exactly for these questions (LoCoMo fixture).
JUDGED_CORRECT = {
    "What did Melanie paint?",
    "What is Caroline looking into for her future family?",
    "What did Caroline say about her pet snake?",
}


def _field(prompt: str, name: str) -> str:
    match = re.search(rf"^{name}: (.*)$", prompt, re.MULTILINE)
    assert match, f"no {name!r} line in {prompt!r}"
    return match.group(1)


def scripted_llm(request: dict[str, Any]) -> Reply | str:
    """Answers 'answer to <question>'; the judge says CORRECT for JUDGED_CORRECT only."""
    prompt = request["messages"][-1]["content"]
    if "response_format" in request:
        question = _field(prompt, "Question")
        label = "CORRECT" if question in JUDGED_CORRECT else "WRONG"
        return json.dumps({"reasoning": "scripted", "label": label})
    question = _field(prompt, "Question")
    if "violin" in question or "degree" in question:  # LongMemEval fixture
        return "Not mentioned in the conversation" if "violin" in question else "Business"
    return f"answer to {question}"


@pytest.fixture
def llm_server() -> Any:
    with ScriptedOpenAIServer(responder=scripted_llm) as server:
        yield server


@pytest.fixture(scope="module")
def locomo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_locomo(tmp_path_factory.mktemp("locomo") / "locomo10.json")


def _settings(server: ScriptedOpenAIServer, **overrides: Any) -> QASettings:
    llm = OpenAIChatLLM(server.url, "answerer")
    return QASettings(answer_llm=llm, judge_llm=llm, **overrides)


def _split_usage(server: ScriptedOpenAIServer) -> dict[str, dict[str, int]]:
    """Token totals the server reported, for answer requests and judge requests apart."""
    totals = {
        side: {"prompt_tokens": 0, "completion_tokens": 0, "calls": 0}
        for side in ("answer", "judge")
    }
    for exchange in server.exchanges:
        side = totals["judge" if "response_format" in exchange.request else "answer"]
        side["calls"] += 1
        for key in ("prompt_tokens", "completion_tokens"):
            side[key] += (exchange.usage or {}).get(key, 0)
    return totals


def test_j_score_and_token_counts_are_exactly_what_the_server_said(
    locomo_file: Path, tmp_path: Path, llm_server: ScriptedOpenAIServer
) -> None:
    result = evaluate(
        "locomo",
        locomo_file,
        workdir=tmp_path,
        systems=["bm25", "remem"],
        qa_settings=_settings(llm_server, workers=3),
    )
    summary = result.summary()
    qa = summary["qa"]
    assert qa["answer_model"] == qa["judge_model"] == "openai:answerer" and qa["k"] == 10
    assert set(qa["systems"]) == {"remem"}  # QA answers from remem's retrieval by default
    remem = qa["systems"]["remem"]
    # Four answerable questions, two judged CORRECT; adversarial is reported apart.
    assert (remem["j"], remem["correct"], remem["n"]) == (0.5, 2, 4)
    assert remem["excluded_from_overall"] == ["adversarial"]
    assert remem["j_by_category"] == {
        "adversarial": 1.0,
        "multi-hop": 0.0,
        "open-domain": 1.0,
        "single-hop": 0.5,
    }
    assert remem["n_by_category"] == {
        "adversarial": 1,
        "multi-hop": 1,
        "open-domain": 1,
        "single-hop": 2,
    }
    server = _split_usage(llm_server)
    n = len(QUESTIONS)
    assert server["answer"]["calls"] == server["judge"]["calls"] == n
    for side in ("answer", "judge"):
        used = remem["llm"][side]
        assert used["calls"] == n and used["retries"] == 0
        assert used["prompt_tokens"] == server[side]["prompt_tokens"] > 0
        assert used["completion_tokens"] == server[side]["completion_tokens"] > 0
        assert remem["tokens_per_query"][side] == pytest.approx(
            (server[side]["prompt_tokens"] + server[side]["completion_tokens"]) / n
        )
    for stage in ("retrieval", "answer", "judge"):
        p50, p95 = remem["latency_ms"][stage]["p50"], remem["latency_ms"][stage]["p95"]
        assert 0 < p50 <= p95
    rows = {row["question"]: row for row in remem["questions"]}
    assert rows["What did Melanie paint?"]["answer"] == "answer to What did Melanie paint?"
    assert rows["What did Melanie paint?"]["label"] == "CORRECT"
    assert rows["What did Caroline say about her pet snake?"]["in_overall"] is False

    text = report.markdown(summary)
    assert "## QA: J score (LLM judge)" in text
    assert "| remem | 0.500 | 2 / 4 |" in text
    assert "| adversarial | 1 | 1.000 |" in text
    assert "Not in the overall J (reported below only): adversarial." in text


def test_answers_come_from_dated_memories_and_adversarial_questions_are_judged_as_traps(
    locomo_file: Path, tmp_path: Path, llm_server: ScriptedOpenAIServer
) -> None:
    evaluate(
        "locomo",
        locomo_file,
        workdir=tmp_path,
        systems=["remem"],
        qa_settings=_settings(llm_server, k=3, workers=1),
    )
    answers = [r for r in llm_server.requests if "response_format" not in r]
    paint = next(r for r in answers if "Melanie paint" in r["messages"][-1]["content"])
    assert paint["messages"][0]["role"] == "system"
    prompt = paint["messages"][-1]["content"]
    lines = [line for line in prompt.splitlines() if line.startswith("[2023-")]
    assert len(lines) == 3  # --qa-k memories
    assert "[2023-05-07 13:56] Melanie: That sounds amazing! I painted a sunrise" in prompt
    said = [t for _, turns in SESSIONS.items() for _, t in turns]
    order = [next(i for i, t in enumerate(said) if t in line) for line in lines]
    assert order == sorted(order)  # in the order they were said
    judges = [r["messages"][-1]["content"] for r in llm_server.requests if "response_format" in r]
    snake = next(p for p in judges if "pet snake" in p)
    assert "tempting wrong answer is 'none'" in snake and "Gold answer" not in snake
    paint_judge = next(p for p in judges if "Melanie paint" in p)
    assert "Gold answer: x" in paint_judge
    assert "Generated answer: answer to What did Melanie paint?" in paint_judge


def test_longmemeval_abstention_counts_and_cutoff_hides_later_turns(
    tmp_path: Path, llm_server: ScriptedOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    normal, abstention = _lme_items()
    normal = {**normal, "question_date": "2023/05/21 (Sun) 09:00"}  # before the answer session
    data = tmp_path / "longmemeval_s.json"
    data.write_text(json.dumps([normal, abstention]))
    monkeypatch.setenv("REMEM_LLM_URL", llm_server.url)
    monkeypatch.setenv("REMEM_LLM_MODEL", "answerer")
    runner = CliRunner()
    base = ["eval", "longmemeval", str(data), "--system", "remem", "--qa", "--json"]

    seen = runner.invoke(app, [*base, "--out", str(tmp_path / "all")])
    assert seen.exit_code == 0, seen.output
    qa = json.loads(seen.stdout)["qa"]["systems"]["remem"]
    # The scripted answers: "Business" (judged WRONG: not in JUDGED_CORRECT) and an
    # abstention for the violin, judged with the unanswerable rubric and counted.
    assert (qa["j"], qa["n"]) == (0.0, 2)
    prompts = [r["messages"][-1]["content"] for r in llm_server.requests]
    degree_answer = next(p for p in prompts if "degree" in p and "Generated answer" not in p)
    assert "The question is asked on 2023-05-21 09:00." in degree_answer
    assert "graduated in Business Administration" in degree_answer
    violin_judge = next(p for p in prompts if "violin" in p and "Generated answer" in p)
    assert "cannot be answered" in violin_judge and "Explanation: 7" in violin_judge

    # remem abstains once the answer session is hidden (nothing relevant is left) ...
    before = len(llm_server.requests)
    cut = runner.invoke(app, [*base, "--cutoff", "--out", str(tmp_path / "cut")])
    assert cut.exit_code == 0, cut.output
    prompts = [r["messages"][-1]["content"] for r in llm_server.requests[before:]]
    degree_answer = next(p for p in prompts if "degree" in p and "Generated answer" not in p)
    assert "Memories, oldest first:\n(no memories found)" in degree_answer
    # ... while dense still returns what was said before the question, and only that.
    before = len(llm_server.requests)
    dense = ["--system", "dense", "--qa-system", "dense", "--cutoff", "--out", str(tmp_path / "d")]
    cut = runner.invoke(app, [*base, *dense])
    assert cut.exit_code == 0, cut.output
    prompts = [r["messages"][-1]["content"] for r in llm_server.requests[before:]]
    degree_answer = next(p for p in prompts if "degree" in p and "Generated answer" not in p)
    assert "graduated" not in degree_answer  # said on 05-22, after the question
    assert "I need a resume tip." not in degree_answer
    assert "[2023-05-20 02:21] Write a poem." in degree_answer  # 05-20: already known


def test_cli_qa_uses_the_named_models_and_writes_the_reports(
    locomo_file: Path, tmp_path: Path, llm_server: ScriptedOpenAIServer
) -> None:
    out = tmp_path / "o"
    args = ["eval", "locomo", str(locomo_file), "--out", str(out), "--system", "remem"]
    args += ["--qa", "--llm-url", llm_server.url, "--llm-model", "small", "--judge-model", "big"]
    result = CliRunner().invoke(app, [*args, "--qa-workers", "2"])
    assert result.exit_code == 0, result.output
    assert "| remem | 0.500 | 2 / 4 |" in result.stdout
    models = {
        ("judge" if "response_format" in r else "answer", r["model"]) for r in llm_server.requests
    }
    assert models == {("answer", "small"), ("judge", "big")}
    written = json.loads((out / "locomo.json").read_text())
    assert written["qa"]["judge_model"] == "openai:big"
    assert written["qa"]["systems"]["remem"]["j"] == 0.5
    assert "## QA: J score" in (out / "locomo.md").read_text()


def test_cli_qa_without_an_llm_is_a_clear_error(
    locomo_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("REMEM_LLM_URL", "REMEM_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    args = ["eval", "locomo", str(locomo_file), "--out", str(tmp_path / "o"), "--qa"]
    for extra in ([], ["--llm-url", "http://127.0.0.1:9/v1"]):
        result = runner.invoke(app, [*args, *extra])
        assert result.exit_code == 1
        assert "--qa needs an OpenAI-compatible LLM" in result.stderr
        assert "REMEM_LLM_URL" in result.stderr
    assert not (tmp_path / "o").exists()  # failed before any work


def test_cli_qa_reports_a_failing_llm_server_as_one_error_line(
    locomo_file: Path, tmp_path: Path, llm_server: ScriptedOpenAIServer
) -> None:
    llm_server.responder = lambda request: Reply(status=401, error="Incorrect API key provided")
    args = ["eval", "locomo", str(locomo_file), "--out", str(tmp_path / "o"), "--qa"]
    args += ["--llm-url", llm_server.url, "--llm-model", "m", "--qa-workers", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: LLM server http://127.0.0.1:")
    assert "HTTP 401: Incorrect API key provided" in result.stderr
    # Not retried, and the questions still queued are dropped: at most one per worker ran.
    assert len(llm_server.requests) <= 2


def test_qa_systems_must_be_evaluated(locomo_file: Path, tmp_path: Path) -> None:
    llm = OpenAIChatLLM("http://127.0.0.1:9/v1", "m")
    settings = QASettings(answer_llm=llm, judge_llm=llm, systems=("dense",))
    with pytest.raises(ValueError, match=r"QA system\(s\) \['dense'\] are not evaluated"):
        evaluate("locomo", locomo_file, workdir=tmp_path, systems=["remem"], qa_settings=settings)


def _hit(text: str, when: datetime) -> SearchHit:
    record = MemoryRecord(
        id=f"mem-{text}",
        scope=Scope(user_id="u"),
        kind="episode",
        text=text,
        valid_from=when,
        recorded_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    return SearchHit(memory=record, score=1.0, signals={})


def test_context_keeps_the_top_k_and_orders_them_by_date() -> None:
    hits = [
        _hit("Ana: second", datetime(2024, 3, 2, 9, 30, tzinfo=UTC)),
        _hit("Ana: first\nline", datetime(2024, 3, 1, tzinfo=UTC)),
        _hit("Ana: not in the top 2", datetime(2020, 1, 1, tzinfo=UTC)),
    ]
    assert context(hits, 2) == "[2024-03-01 00:00] Ana: first line\n[2024-03-02 09:30] Ana: second"
    assert context([], 5) == "(no memories found)"


def test_abstention_judges_explain_why_the_question_is_unanswerable() -> None:
    question = Question("q", "Where?", "", "single-session-user", None, (), (), True)
    [message] = judge_messages("longmemeval", question, "No idea")
    assert "Explanation: the conversation does not contain this information" in message["content"]
    assert Judgement.model_validate({"label": " correct "}).label == "CORRECT"


def test_an_unusable_judge_answer_is_recorded_and_the_run_goes_on(
    locomo_file: Path, tmp_path: Path
) -> None:
    """A small local judge that writes no JSON for one question: that question is UNJUDGED."""

    def judge_fails_on_painting(request: dict[str, Any]) -> Reply | str:
        if "response_format" in request and "Melanie paint" in json.dumps(request["messages"]):
            return "I think it is probably right"  # no JSON object, on every repair too
        return scripted_llm(request)

    with ScriptedOpenAIServer(responder=judge_fails_on_painting) as server:
        result = evaluate(
            "locomo",
            locomo_file,
            workdir=tmp_path,
            systems=["remem"],
            qa_settings=_settings(server),
        )
        repaired = [e for e in server.exchanges if "Melanie paint" in json.dumps(e.request)]
    remem = result.summary()["qa"]["systems"]["remem"]
    rows = {row["question"]: row for row in remem["questions"]}
    painted = rows["What did Melanie paint?"]
    assert painted["label"] == "UNJUDGED" and "did not match Judgement" in painted["reasoning"]
    assert remem["unjudged"] == 1 and (remem["correct"], remem["n"]) == (1, 4)
    # The failed judge's attempts still count: one answer call plus 1 + 2 repair judge calls.
    assert painted["judge_usage"]["calls"] == 3 == len(repaired) - 1
    assert "Judge answers unusable, counted as not correct: remem 1." in report.markdown(
        result.summary()
    )
