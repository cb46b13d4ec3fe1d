"""``remem reembed``: move a store's vectors to another embedding model."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from remem.engine import Reembedded
from remem.interfaces.cli.common import Json, command, console, emit, err_console, fail, memory


@command
def reembed(
    model: Annotated[
        str,
        typer.Argument(
            metavar="MODEL",
            help="The new embedding model: a local model folder (model.onnx + "
            "tokenizer.json) or 'local'.",
        ),
    ],
    batch_size: Annotated[int, typer.Option(min=1, help="Texts embedded per batch.")] = 256,
    as_json: Json = False,
) -> None:
    """Embed every memory of --db again with MODEL, then switch the store to it.

    Every tenant moves. Search keeps working on the old vectors until the switch, one
    transaction at the end. Interrupted, the same command continues where it stopped.
    Afterwards use --embedder MODEL (or REMEM_EMBEDDER) with every command on --db.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    store = memory()
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, disable=as_json or not sys.stderr.isatty()) as bar:
        task = bar.add_task("re-embedding", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            result = store.reembed(model, batch_size=batch_size, progress=progress)
        except KeyboardInterrupt:
            result = None
    if result is None:  # said once the bar is gone
        fail(
            "interrupted: the vectors embedded so far are kept, and search still uses "
            "the old ones; run the same command again to continue"
        )
    emit(as_json, result, lambda r: console.print(_said(r, model), soft_wrap=True))


def _said(result: Reembedded, model: str) -> str:
    if not result.switched:
        return f"the store already uses {result.embedder}: nothing to re-embed"
    resumed = f", {result.resumed} staged by an earlier run" if result.resumed else ""
    return (
        f"re-embedded {result.embedded} memories and entities{resumed} in "
        f"{result.seconds:.1f}s; the store now holds the vectors of {result.embedder} "
        f"({result.dimension}-d), not {result.previous}.\n"
        f"Use --embedder {model} (or REMEM_EMBEDDER={model}) with every command on it."
    )
