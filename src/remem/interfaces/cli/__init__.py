"""The ``remem`` command line: every command is one ``remem.Memory`` call.

Tables for people; ``--json`` for scripts, in which case stdout carries the JSON
and nothing else. A ``RememError`` becomes one ``error: ...`` line on stderr and
exit code 1; usage mistakes exit 2, as click does.

One module per group of commands (memories, search, lifecycle, portability,
embedding, evaluation, service); ``common`` holds the options and plumbing they share and
``render`` the tables. The tree is declared here, in the order ``--help`` lists it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from remem import __version__
from remem.config import default_location
from remem.interfaces.cli import (
    cluster,
    embedding,
    evaluation,
    inspector,
    lifecycle,
    memories,
    portability,
    review,
    search,
    service,
)
from remem.interfaces.cli.common import CliSession, session

app = typer.Typer(
    name="remem",
    help="Long-term memory for LLM agents: add what happened, search what matters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: ``remem <name>``, in the order ``remem --help`` lists them.
COMMANDS: dict[str, Callable[..., Any]] = {
    "add": memories.add,
    "search": search.search,
    "list": memories.list_,
    "show": memories.show,
    "history": memories.history,
    "update": memories.update,
    "delete": memories.delete,
    "forget": memories.forget,
    "export": portability.export,
    "import": portability.import_,
    "backup": portability.backup,
    "maintain": lifecycle.maintain,
    "pin": lifecycle.pin,
    "summarize": lifecycle.summarize,
    "profile": lifecycle.profile,
    "context": search.context,
    "stats": memories.stats,
    "lessons": review.lessons,
    "migrate": portability.migrate,
    "distribute": cluster.distribute,
    "reembed": embedding.reembed,
    "eval": evaluation.eval_,
    "serve": service.serve,
    "mcp": service.mcp_,
    "ui": inspector.ui,
}
#: ``remem quarantine <name>``.
QUARANTINE_COMMANDS: dict[str, Callable[..., Any]] = {
    "list": review.quarantine_list,
    "release": review.quarantine_release,
    "forget": review.quarantine_forget,
}
#: ``remem keys <name>``.
KEY_COMMANDS: dict[str, Callable[..., Any]] = {
    "create": service.keys_create,
    "list": service.keys_list,
    "revoke": service.keys_revoke,
}

for _name, _run in COMMANDS.items():
    app.command(_name)(_run)
for _name, _run in QUARANTINE_COMMANDS.items():
    review.quarantine_app.command(_name)(_run)
app.add_typer(review.quarantine_app, name="quarantine")
for _name, _run in KEY_COMMANDS.items():
    service.keys_app.command(_name)(_run)
app.add_typer(service.keys_app, name="keys")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"remem {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="REMEM_DATABASE_URL",
            show_envvar=True,
            help="SQLite file or postgresql:// URL. [default: remem.db in the user data dir]",
        ),
    ] = None,
    tenant: Annotated[str, typer.Option(help="Tenant (organisation) to work in.")] = "default",
    embedder: Annotated[
        str | None,
        typer.Option(
            "--embedder",
            envvar="REMEM_EMBEDDER",
            show_envvar=True,
            help="Embedding model: a local model folder (model.onnx + tokenizer.json) or "
            "'local'. [default: the packaged all-MiniLM-L6-v2]",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    opened = CliSession(location=db or default_location(), tenant=tenant, embedder=embedder)
    session.set(opened)
    ctx.call_on_close(opened.close)


def main() -> None:
    app(prog_name="remem")


__all__ = ["COMMANDS", "KEY_COMMANDS", "QUARANTINE_COMMANDS", "app", "main"]
