"""``remem eval``: public long-term-memory benchmarks, remem against BM25 and dense baselines."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from remem import RECIPES, InvalidInput
from remem.interfaces.cli.common import (
    Json,
    RecipeName,
    command,
    console,
    emit,
    err_console,
    session,
)

if TYPE_CHECKING:
    from remem.eval.operations import OperationsSettings
    from remem.eval.qa import QASettings
    from remem.providers.llm import LLM


@command
def eval_(
    dataset: Annotated[
        str, typer.Argument(help="locomo | longmemeval | beam | halumem | poisoning")
    ],
    path: Annotated[
        Path,
        typer.Argument(
            help="The benchmark file or folder, read in place (poisoning: the folder of dev "
            "sets, laid out as ../shared/data)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the .md/.json/.png")] = Path(
        "eval-results"
    ),
    limit: Annotated[int | None, typer.Option(help="Only the first N conversations.")] = None,
    system: Annotated[
        list[str] | None, typer.Option("--system", help="bm25, dense, remem (default: all).")
    ] = None,
    workdir: Annotated[
        Path | None, typer.Option(help="Keep the ingested stores here and reuse them next run.")
    ] = None,
    recipe: Annotated[
        list[RecipeName] | None,
        typer.Option("--recipe", help="Also score this search recipe as a system; repeatable."),
    ] = None,
    context_budget: Annotated[
        list[int] | None,
        typer.Option(
            "--context-budget",
            help="Lifecycle mode: score Memory.context within this many tokens; repeatable.",
        ),
    ] = None,
    ask_at_end: Annotated[
        bool, typer.Option(help="Ask undated questions at the conversation's last turn.")
    ] = False,
    cutoff: Annotated[
        bool,
        typer.Option(
            "--cutoff",
            help="Replay in time order: hide turns after each question's date "
            "(datasets with question dates: longmemeval, halumem).",
        ),
    ] = False,
    qa: Annotated[
        bool,
        typer.Option(
            "--qa", help="Also answer each question with an LLM and score it with an LLM judge."
        ),
    ] = False,
    llm_url: Annotated[
        str | None,
        typer.Option(
            "--llm-url",
            help="OpenAI-compatible base URL for --qa/--operations (default: $REMEM_LLM_URL).",
        ),
    ] = None,
    llm_model: Annotated[
        str | None,
        typer.Option("--llm-model", help="Answer/extraction model (default: $REMEM_LLM_MODEL)."),
    ] = None,
    judge_model: Annotated[
        str | None,
        typer.Option("--judge-model", help="Judge model (default: the answer model)."),
    ] = None,
    qa_k: Annotated[
        int, typer.Option("--qa-k", min=1, help="Memories given to the answer model.")
    ] = 10,
    qa_system: Annotated[
        list[str] | None,
        typer.Option("--qa-system", help="Systems whose retrieval --qa answers from (remem)."),
    ] = None,
    qa_workers: Annotated[
        int, typer.Option("--qa-workers", min=1, help="Questions answered at once in --qa.")
    ] = 4,
    operations: Annotated[
        bool,
        typer.Option(
            "--operations",
            help="HaluMem: also ingest with LLM fact extraction and score extraction recall/"
            "precision and update accuracy against the gold memory points, with LLM cost.",
        ),
    ] = False,
    match_threshold: Annotated[
        float,
        typer.Option(
            "--match-threshold",
            min=0.0,
            max=1.0,
            help="--operations: embedding cosine at which a fact states a gold point.",
        ),
    ] = 0.8,
    embedder: Annotated[
        str | None,
        typer.Option(
            "--embedder",
            help="Embedding model for the turns and questions: a local model folder "
            "(model.onnx + tokenizer.json) or 'local'. [default: --embedder of remem]",
        ),
    ] = None,
    per_family: Annotated[
        int,
        typer.Option(
            "--per-family", min=1, help="poisoning: attacks of each family per conversation."
        ),
    ] = 3,
    as_json: Json = False,
) -> None:
    """Run a public long-term-memory benchmark: remem against BM25 and dense baselines.

    With --qa (and an OpenAI-compatible LLM) it also reports the J score: answers from the
    top --qa-k memories, judged CORRECT/WRONG against the gold answer by an LLM judge.
    With --operations (halumem, same LLM options) it reports HaluMem's extraction and
    updating metrics: recall, precision, update accuracy, LLM calls and tokens per add.
    Runs with different --embedder compare embedding models on the same questions.
    ``remem eval poisoning PATH`` plants generated attacks in the dev conversations under
    PATH and reports how far they get with the guard on and off (docs/security.md).
    """
    if dataset == "poisoning":
        from remem.interfaces.cli.poisoning import eval_poisoning

        eval_poisoning(
            path, out=out, limit=limit, workdir=workdir, per_family=per_family, as_json=as_json
        )
        return
    import tempfile

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from remem.eval import report, runner
    from remem.eval.datasets import DATASETS

    if dataset not in DATASETS:
        raise InvalidInput(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    qa_settings = (
        _qa_settings(llm_url, llm_model, judge_model, qa_k, qa_system, qa_workers) if qa else None
    )
    operations_settings = (
        _operations_settings(dataset, llm_url, llm_model, judge_model, match_threshold)
        if operations
        else None
    )
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with (
        Progress(*columns, console=err_console, disable=as_json or not sys.stderr.isatty()) as bar,
        tempfile.TemporaryDirectory(prefix="remem-eval-") as scratch,
    ):
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            name = stage if stage in ("questions", "answer and judge") else "ingest"
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done, description=stage[:40])

        try:
            result = runner.evaluate(
                dataset,
                path,
                workdir=workdir or scratch,
                systems=tuple(system) if system else tuple(runner.SYSTEMS),
                recipes={f"recipe:{r.value}": RECIPES[r.value] for r in recipe or ()},
                limit=limit,
                keep=workdir is not None,
                cutoff=cutoff,
                qa_settings=qa_settings,
                progress=progress,
                context_budgets=tuple(context_budget or ()),
                ask_at_end=ask_at_end,
                operations_settings=operations_settings,
                embedder=embedder or session.get().embedder,
            )
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
    summary = result.summary()
    paths = report.write(summary, out)
    emit(
        as_json,
        summary,
        lambda _: console.print(
            report.markdown(summary) + "\nwrote " + ", ".join(map(str, paths.values()))
        ),
    )


def _eval_llms(
    flag: str, url: str | None, model: str | None, judge_model: str | None
) -> tuple[LLM, LLM]:
    """The main and judge LLMs an eval ``flag`` asks for; a clear error when none is configured."""
    import os

    from remem.providers.llm import llm_from_env

    model = model or os.environ.get("REMEM_LLM_MODEL")
    main = llm_from_env(url=url, model=model) if model else None
    if main is None:
        raise InvalidInput(
            f"{flag} needs an OpenAI-compatible LLM: set REMEM_LLM_URL and REMEM_LLM_MODEL "
            "(or pass --llm-url and --llm-model; REMEM_LLM_API_KEY for the key)"
        )
    judge = (llm_from_env(url=url, model=judge_model) or main) if judge_model else main
    return main, judge


def _qa_settings(
    url: str | None,
    model: str | None,
    judge_model: str | None,
    k: int,
    systems: list[str] | None,
    workers: int,
) -> QASettings:
    """The answer and judge LLMs for --qa."""
    from remem.eval.qa import QASettings

    answer, judge = _eval_llms("--qa", url, model, judge_model)
    return QASettings(
        answer_llm=answer,
        judge_llm=judge,
        k=k,
        systems=tuple(systems) if systems else ("remem",),
        workers=workers,
    )


def _operations_settings(
    dataset: str, url: str | None, model: str | None, judge_model: str | None, threshold: float
) -> OperationsSettings:
    """The extraction LLM (and judge) for --operations; halumem only (it has memory points)."""
    from remem.eval.operations import OperationsSettings

    if dataset != "halumem":
        raise InvalidInput(
            f"--operations needs gold memory points: only halumem has them, not {dataset!r}"
        )
    llm, judge = _eval_llms("--operations", url, model, judge_model)
    return OperationsSettings(llm=llm, judge_llm=judge, threshold=threshold)
