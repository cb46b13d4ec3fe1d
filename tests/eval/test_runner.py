"""`remem eval` end to end on a tiny LoCoMo-format file the test writes itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from remem import Memory
from remem.eval import metrics, report
from remem.eval.runner import evaluate
from remem.interfaces.cli import app

SESSIONS = {
    "session_1": [
        ("Caroline", "I went to the LGBTQ support group yesterday and it was so powerful."),
        ("Melanie", "That sounds amazing! I painted a sunrise over the lake last week."),
        ("Caroline", "I'm researching adoption agencies; I want to give a kid a loving home."),
        ("Melanie", "My kids and I went camping in the mountains over the weekend."),
    ],
    "session_2": [
        ("Caroline", "I signed up for a pottery class that starts next month."),
        ("Melanie", "I ran a charity race for mental health on Saturday."),
        ("Caroline", "My grandmother gave me a necklace from Sweden when I was ten."),
    ],
}
QUESTIONS = [
    ("What did Melanie paint?", ["D1:2"], 4),
    ("Which country is Caroline's necklace from?", ["D2:3"], 4),
    ("What is Caroline looking into for her future family?", ["D1:3"], 3),
    ("What activities has Melanie done with her children and for charity?", ["D1:4", "D2:2"], 1),
    ("What did Caroline say about her pet snake?", [], 5),
]


def write_locomo(path: Path) -> Path:
    conversation: dict = {"speaker_a": "Caroline", "speaker_b": "Melanie"}
    for n, (key, turns) in enumerate(SESSIONS.items(), start=1):
        conversation[key] = [
            {"speaker": who, "dia_id": f"D{n}:{i}", "text": text}
            for i, (who, text) in enumerate(turns, start=1)
        ]
        conversation[f"{key}_date_time"] = f"1:56 pm on {n * 7} May, 2023"
    qa = [
        {"question": q, "answer": "x", "evidence": ev, "category": cat}
        if cat != 5
        else {"question": q, "adversarial_answer": "none", "evidence": ev, "category": cat}
        for q, ev, cat in QUESTIONS
    ]
    path.write_text(json.dumps([{"sample_id": "conv-t", "conversation": conversation, "qa": qa}]))
    return path


@pytest.fixture(scope="module")
def locomo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_locomo(tmp_path_factory.mktemp("locomo") / "locomo10.json")


def test_evaluate_scores_every_system_on_the_same_index(locomo_file: Path, tmp_path: Path) -> None:
    result = evaluate("locomo", locomo_file, workdir=tmp_path)
    summary = result.summary()
    assert summary["conversations"] == 1 and summary["turns"] == 7
    assert set(summary["systems"]) == {"bm25", "dense", "remem"}
    remem = summary["systems"]["remem"]
    assert remem["overall"]["evidence_recall@5"] >= 0.9
    assert remem["n"]["evidence_recall@5"] == len(QUESTIONS)
    assert remem["overall"]["evidence_recall@50"] == 1.0  # every turn is retrievable
    assert set(remem["by_category"]) == {"single-hop", "open-domain", "multi-hop", "adversarial"}
    assert remem["latency_ms_p95"] is not None
    assert not list(tmp_path.iterdir())  # stores are cleaned up unless asked to keep them


def test_reports_are_written_as_markdown_json_and_png(locomo_file: Path, tmp_path: Path) -> None:
    summary = evaluate("locomo", locomo_file, workdir=tmp_path, systems=["bm25"]).summary()
    paths = report.write(summary, tmp_path / "out")
    assert json.loads(paths["json"].read_text())["dataset"] == "locomo"
    text = paths["markdown"].read_text()
    assert "| bm25 |" in text and "evidence_recall@k" in text and "single-hop" in text
    assert paths["png"].read_bytes().startswith(b"\x89PNG")


def test_cli_eval_runs_and_reuses_a_kept_workdir(locomo_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["eval", "locomo", str(locomo_file), "--out", str(tmp_path / "o")]
    args += ["--workdir", str(tmp_path / "w"), "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["systems"]["remem"]["overall"]["evidence_recall@50"] == 1.0
    kept = list((tmp_path / "w").iterdir())
    assert len(kept) == 1 and (kept[0] / "ingested").exists()
    again = runner.invoke(app, args)
    assert again.exit_code == 0
    scores = [
        {name: s["overall"] for name, s in json.loads(r.stdout)["systems"].items()}
        for r in (first, again)
    ]
    assert scores[0] == scores[1]


def test_cli_eval_rejects_unknown_dataset_and_missing_file(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["eval", "nope", str(tmp_path)])
    assert bad.exit_code == 1 and "unknown dataset" in bad.stderr
    missing = runner.invoke(app, ["eval", "locomo", str(tmp_path / "absent.json")])
    assert missing.exit_code == 1 and "absent.json" in missing.stderr


def test_lifecycle_mode_reports_tokens_per_query_within_each_budget(
    locomo_file: Path, tmp_path: Path
) -> None:
    from remem.recipes import RECIPES

    result = evaluate(
        "locomo",
        locomo_file,
        workdir=tmp_path,
        keep=True,
        systems=["remem"],
        recipes={"lifecycle": RECIPES["lifecycle"]},
        context_budgets=(60, 200),
    )
    summary = result.summary()
    assert list(summary["systems"]) == [
        "remem",
        "lifecycle",
        "top10",
        "top@60",
        "context@60",
        "context+sum@60",
        "top@200",
        "context@200",
        "context+sum@200",
    ]
    for budget in (60, 200):
        for name in ("top", "context", "context+sum"):
            rows = result.rows[f"{name}@{budget}"]
            assert len(rows) == len(QUESTIONS)
            assert all(0 < row["tokens"] <= budget for row in rows)
    assert len(result.rows["top10"]) == len(QUESTIONS)  # once, not once per budget
    tight = summary["systems"]["context@60"]["overall"]
    roomy = summary["systems"]["context@200"]["overall"]
    assert tight["cited_turns"] <= roomy["cited_turns"]
    assert roomy["evidence_recall@50"] > 0
    assert summary["summarize_seconds"] > 0
    # the run summarized the conversation into its kept store, as of its last turn
    [folder] = list(tmp_path.iterdir())
    with Memory(folder / "memory.db") as kept:
        kinds = {m.kind for m in kept.list(kinds=("summary", "profile"), limit=50).items}
        assert kinds == {"summary", "profile"}


def test_cli_eval_lifecycle_flags(locomo_file: Path, tmp_path: Path) -> None:
    args = ["eval", "locomo", str(locomo_file), "--out", str(tmp_path / "o"), "--json"]
    args += ["--system", "remem", "--recipe", "lifecycle", "--context-budget", "100"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    systems = json.loads(result.stdout)["systems"]
    assert set(systems) == {"remem", "recipe:lifecycle", "top10", "top@100", "context@100",
                            "context+sum@100"}  # fmt: skip
    assert systems["context@100"]["overall"]["tokens"] <= 100


def test_the_report_flags_the_default_below_its_best_signal(
    locomo_file: Path, tmp_path: Path
) -> None:
    summary = evaluate("locomo", locomo_file, workdir=tmp_path).summary()
    assert [c["k"] for c in summary["signal_check"]] == [5, 10]
    assert all(c["ok"] for c in summary["signal_check"])
    assert "never below its best signal" in report.markdown(summary)
    assert "BELOW" not in report.markdown(summary)
    # The same run, had BM25 alone done better at k=10 than remem by more than the tolerance:
    bm25 = summary["systems"]["bm25"]["overall"]
    bm25["evidence_recall@10"] = summary["systems"]["remem"]["overall"]["evidence_recall@10"] + 0.01
    summary["signal_check"] = metrics.below_best_signal(summary["systems"], "evidence_recall")
    text = report.markdown(summary)
    assert "**BELOW ITS BEST SIGNAL**" in text
    assert "remem is below its best single signal at k = 10." in text
