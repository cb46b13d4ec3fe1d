"""``remem eval poisoning``: the attack suite of ``remem.eval.poisoning``, guard on and off."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from remem import InvalidInput
from remem.interfaces.cli.common import console, emit, err_console


def eval_poisoning(
    path: Path,
    *,
    out: Path,
    limit: int | None,
    workdir: Path | None,
    per_family: int,
    as_json: bool,
) -> None:
    """Run the suite over the carriers under ``path``; write poisoning.md/.json to ``out``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from remem.eval import poisoning

    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with (
        Progress(*columns, console=err_console, disable=as_json or not sys.stderr.isatty()) as bar,
        tempfile.TemporaryDirectory(prefix="remem-poisoning-") as scratch,
    ):
        task = bar.add_task("carriers", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=stage[:40])

        try:
            result = poisoning.evaluate(
                path,
                workdir=workdir or scratch,
                limit=limit,
                per_family=per_family,
                progress=progress,
            )
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
    summary: dict[str, Any] = result.summary()
    report = poisoning.markdown(summary)
    out.mkdir(parents=True, exist_ok=True)
    (out / "poisoning.md").write_text(report, encoding="utf-8")
    (out / "poisoning.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    written = f"wrote {out / 'poisoning.md'}, {out / 'poisoning.json'}"
    emit(as_json, summary, lambda _: console.print(report + "\n" + written))
