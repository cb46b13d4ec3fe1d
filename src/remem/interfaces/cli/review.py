"""Review (docs/trust.md): ``remem quarantine list|release|forget`` and ``remem lessons``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from rich.text import Text

from remem.interfaces.cli.common import Agent, Json, MemoryId, User, command, console, emit, memory
from remem.interfaces.cli.render import short, table, when
from remem.model import Flagged, MemoryRecord

quarantine_app = typer.Typer(
    help="Memories the guard holds back: review them (docs/trust.md).", no_args_is_help=True
)
Reason = Annotated[str | None, typer.Option(help="Why, kept in the decision's event.")]
Limit = Annotated[int, typer.Option("--limit", "-n", help="Most to list.")]
Offset = Annotated[int, typer.Option(help="Skip this many (paging).")]


def _flagged(found: list[Flagged]) -> None:
    if not found:
        console.print("none")
        return
    rows = table("id", "since", "source", "reason")
    rows.add_column("text", overflow="fold")
    for item in found:
        m = item.memory
        source = f"{m.origin}, {m.trust}"
        rows.add_row(m.id, when(item.at), source, Text(item.reason), Text(short(m.text, 60)))
    console.print(rows)


def _decided(verb: str) -> Callable[[MemoryRecord], None]:
    return lambda m: console.print(f"{verb} {m.id}: {short(m.text, 60)}")


@command
def quarantine_list(
    user: User = None,
    agent: Agent = None,
    limit: Limit = 50,
    offset: Offset = 0,
    as_json: Json = False,
) -> None:
    """Memories held in quarantine, newest first, each with why and since when."""
    found = memory().quarantined(user_id=user, agent_id=agent, limit=limit, offset=offset)
    emit(as_json, found, _flagged)


@command
def quarantine_release(
    memory_id: MemoryId, reason: Reason = None, user: User = None, as_json: Json = False
) -> None:
    """Let a quarantined memory into search and context (it was no attack)."""
    released: MemoryRecord = memory().release(memory_id, reason=reason, user_id=user)
    emit(as_json, released, _decided("released"))


@command
def quarantine_forget(
    memory_id: MemoryId, reason: Reason = None, user: User = None, as_json: Json = False
) -> None:
    """Confirm a memory as poisoned: never served again, kept as a lesson that holds back
    later writes close to it (``remem forget ID`` erases one for good instead)."""
    lesson: MemoryRecord = memory().forget_poisoned(memory_id, reason=reason, user_id=user)
    emit(as_json, lesson, _decided("confirmed as poisoned"))


@command
def lessons(
    user: User = None,
    agent: Agent = None,
    limit: Limit = 50,
    offset: Offset = 0,
    as_json: Json = False,
) -> None:
    """Memories confirmed as poisoned, with the reason given: the lessons new writes meet."""
    emit(
        as_json,
        memory().lessons(user_id=user, agent_id=agent, limit=limit, offset=offset),
        _flagged,
    )
