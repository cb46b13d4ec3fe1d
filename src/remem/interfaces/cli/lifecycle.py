"""The lifecycle: age memories (maintain), pin them, summarize sessions, show the profile."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.text import Text

from remem.interfaces.cli import render
from remem.interfaces.cli.common import (
    Agent,
    Json,
    MemoryId,
    Session,
    User,
    command,
    console,
    emit,
    memory,
)


@command
def maintain(
    user: User = None,
    agent: Agent = None,
    archive_below: Annotated[
        float | None,
        typer.Option(help="Archive memories whose retention is under this (0-1). [default: 0.01]"),
    ] = None,
    as_json: Json = False,
) -> None:
    """Age memories: move them between layers and archive the faded ones (nothing is deleted)."""
    report = memory().maintain(user_id=user, agent_id=agent, archive_below=archive_below)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        render.maintenance(report)


@command
def pin(
    memory_id: MemoryId,
    off: Annotated[bool, typer.Option("--off", help="Unpin: let it age again.")] = False,
    as_json: Json = False,
) -> None:
    """Pin a memory so it never fades or gets archived (--off to unpin)."""
    emit(as_json, memory().pin(memory_id, pinned=not off), render.record)


@command
def summarize(
    user: User = None, agent: Agent = None, session: Session = None, as_json: Json = False
) -> None:
    """Summarize changed sessions, then the user's running summary and profile."""
    written = memory().summarize(user_id=user, agent_id=agent, session_id=session)
    emit(
        as_json, written, lambda _: render.memory_table(written, caption=f"{len(written)} written")
    )


@command
def profile(
    user: User = None,
    agent: Agent = None,
    refresh: Annotated[bool, typer.Option(help="Rebuild it now.")] = False,
    as_json: Json = False,
) -> None:
    """The user's profile: stable facts and recent changes, each citing its memory."""
    record = memory().profile(user_id=user, agent_id=agent, refresh=refresh)
    emit(as_json, record, lambda r: console.print(Text(r.text)))
