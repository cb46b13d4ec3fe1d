"""Memories one by one and in pages: add, list, show, history, update, delete, forget, stats."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from remem.interfaces.cli import render
from remem.interfaces.cli.common import (
    DEFAULT_KIND,
    Agent,
    AsOf,
    Json,
    KindName,
    Layers,
    MemoryId,
    Session,
    User,
    Yes,
    busy,
    command,
    console,
    emit,
    fail,
    jsonable,
    memory,
    parse_metadata,
    read_input,
    read_messages,
    text_or_messages,
)


@command
def add(
    text: Annotated[
        str | None,
        typer.Argument(
            help="What to remember; '-' reads stdin: plain text, or messages as a JSON "
            "object or list, or JSONL.",
        ),
    ] = None,
    file: Annotated[
        str | None,
        typer.Option(
            "--file",
            "-f",
            help="JSON list or JSONL of messages {role, content, speaker?, timestamp?}; '-' is stdin.",
        ),
    ] = None,
    user: User = None,
    agent: Agent = None,
    session: Session = None,
    timestamp: Annotated[
        str | None, typer.Option(help="When it happened (ISO 8601). [default: now]")
    ] = None,
    kind: Annotated[KindName, typer.Option(help="Kind of memory.")] = DEFAULT_KIND,
    importance: Annotated[float, typer.Option(help="From 0 to 1.")] = 0.5,
    metadata: Annotated[
        list[str] | None, typer.Option("--metadata", "-m", help="key=value, repeatable.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Remember a text, or a conversation from a file or stdin (one memory per message)."""
    messages = _messages(text, file)
    count = len(messages) if isinstance(messages, list) else 1
    with busy(f"Adding {count} message(s)…", quiet=as_json):
        result = memory().add(
            messages,
            user_id=user,
            agent_id=agent,
            session_id=session,
            timestamp=timestamp,
            kind=kind.value,
            importance=importance,
            metadata=parse_metadata(metadata),
            source="cli",
        )
    emit(as_json, result, render.added)


def _messages(text: str | None, file: str | None) -> str | list[Any]:
    """TEXT, or the messages of --file; TEXT '-' reads stdin, text or messages."""
    if text == "-" and file is None:
        return text_or_messages(read_input("-"))
    if file is not None and text is None:
        return read_messages(file)
    if text is not None and file is None:
        return text
    raise typer.BadParameter("give either TEXT or --file (use '-' for stdin)")


@command
def list_(
    user: User = None,
    agent: Agent = None,
    session: Session = None,
    kind: Annotated[
        list[KindName] | None, typer.Option(help="Only these kinds; repeatable.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Page size.")] = 20,
    offset: Annotated[int, typer.Option(help="Skip this many (newest first).")] = 0,
    layer: Layers = None,
    archived: Annotated[bool, typer.Option(help="List archived memories instead.")] = False,
    after: Annotated[str | None, typer.Option(help="Event time at or after (ISO 8601).")] = None,
    before: Annotated[str | None, typer.Option(help="Event time before (ISO 8601).")] = None,
    as_json: Json = False,
) -> None:
    """Current memories, newest first, one page at a time."""
    page = memory().list(
        user_id=user,
        agent_id=agent,
        session_id=session,
        kinds=[k.value for k in kind] if kind else None,
        limit=limit,
        offset=offset,
        layers=[x.value for x in layer] if layer else None,
        status="archived" if archived else "active",
        after=after,
        before=before,
    )
    emit(as_json, {**jsonable(page), "next_offset": page.next_offset}, lambda _: render.page(page))


@command
def show(
    memory_id: MemoryId,
    version: Annotated[
        int | None, typer.Option(help="This version instead of the current.")
    ] = None,
    as_of: AsOf = None,
    as_json: Json = False,
) -> None:
    """One memory: the current version, a given --version, or the one believed --as-of."""
    emit(as_json, memory().get(memory_id, version=version, as_of=as_of), render.record)


@command
def history(memory_id: MemoryId, as_json: Json = False) -> None:
    """Every operation on a memory, oldest first."""
    emit(as_json, memory().history(memory_id), render.history)


@command
def update(
    memory_id: MemoryId,
    text: Annotated[str | None, typer.Argument(help="The new text.")] = None,
    importance: Annotated[float | None, typer.Option(help="New importance, 0 to 1.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why, kept in the history.")] = None,
    as_json: Json = False,
) -> None:
    """Write a new version of a memory; the old one stays in its history."""
    record = memory().update(memory_id, text, importance=importance, reason=reason)
    emit(as_json, record, lambda r: console.print(f"updated {r.id} to version {r.version}"))


@command
def delete(
    memory_id: MemoryId,
    reason: Annotated[str | None, typer.Option(help="Why, kept in the history.")] = None,
    as_json: Json = False,
) -> None:
    """Hide a memory from search and list; it stays in its history (see forget to erase)."""
    record = memory().delete(memory_id, reason=reason)
    emit(as_json, record, lambda r: console.print(f"deleted {r.id} (history kept)"))


@command
def forget(memory_id: MemoryId, yes: Yes = False, as_json: Json = False) -> None:
    """Erase a memory for good: every version, its history and its uncited source turns."""
    if not yes:
        if not sys.stdin.isatty():
            fail(f"forget erases {memory_id} for good; pass --yes to confirm (no terminal to ask)")
        typer.confirm(f"Erase {memory_id} and its whole history for good?", abort=True, err=True)
    erased = memory().forget(memory_id)
    emit(
        as_json,
        {"id": memory_id, "erased": erased},
        lambda r: console.print(f"forgot {r['id']} ({r['erased']} records erased)"),
    )


@command
def stats(user: User = None, as_json: Json = False) -> None:
    """What is stored: backend, embedder, and memory counts by kind and status."""
    emit(as_json, memory().stats(user_id=user), render.stats)
