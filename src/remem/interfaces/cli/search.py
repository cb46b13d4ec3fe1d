"""Recall: ranked hits for a query, and a prompt-ready context block within a token budget."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from remem.interfaces.cli import render
from remem.interfaces.cli.common import (
    DEFAULT_RECIPE,
    Agent,
    AsOf,
    Json,
    KindName,
    Layers,
    RecipeName,
    Session,
    TrustName,
    User,
    command,
    console,
    emit,
    memory,
)
from remem.model import Context


@command
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    user: User = None,
    agent: Agent = None,
    session: Session = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Most hits to return.")] = 10,
    kind: Annotated[
        list[KindName] | None, typer.Option(help="Only these kinds; repeatable.")
    ] = None,
    after: Annotated[str | None, typer.Option(help="Event time at or after (ISO 8601).")] = None,
    before: Annotated[str | None, typer.Option(help="Event time before (ISO 8601).")] = None,
    as_of: AsOf = None,
    context: Annotated[
        int, typer.Option("--context", "-c", help="Turns of conversation around each hit.")
    ] = 0,
    recipe: Annotated[RecipeName, typer.Option(help="Retrieval recipe.")] = DEFAULT_RECIPE,
    asked_at: Annotated[
        str | None,
        typer.Option(
            help="Resolve time phrases in QUERY against this time (ISO 8601). [default: now]"
        ),
    ] = None,
    layer: Layers = None,
    archived: Annotated[
        bool, typer.Option(help="Also search archived memories (found ones are restored).")
    ] = False,
    include_quarantined: Annotated[
        bool, typer.Option(help="Also return memories held in quarantine (flagged so).")
    ] = False,
    min_trust: Annotated[
        TrustName | None,
        typer.Option(help="Only memories at least this trusted (trusted, unverified)."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Find the memories that matter for QUERY, each with the signals that found it."""
    results = memory().search(
        query,
        user_id=user,
        agent_id=agent,
        session_id=session,
        limit=limit,
        kinds=[k.value for k in kind] if kind else None,
        after=after,
        before=before,
        as_of=as_of,
        context_window=context,
        recipe=recipe.value,
        asked_at=asked_at,
        layers=[x.value for x in layer] if layer else None,
        archived=archived,
        include_quarantined=include_quarantined,
        min_trust=min_trust.value if min_trust else None,
    )
    emit(as_json, results, render.search_results)


@command
def context(
    query: Annotated[str, typer.Argument(help="What the next prompt is about.")],
    user: User = None,
    agent: Agent = None,
    session: Session = None,
    budget: Annotated[int, typer.Option("--budget", "-b", help="Most tokens.")] = 1000,
    asked_at: Annotated[
        str | None, typer.Option(help="When the question is asked (ISO 8601). [default: now]")
    ] = None,
    as_json: Json = False,
) -> None:
    """A prompt-ready block for QUERY within --budget tokens, each line citing its memory."""
    block: Context = memory().context(
        query, user_id=user, agent_id=agent, session_id=session, budget_tokens=budget,
        asked_at=asked_at,
    )  # fmt: skip
    emit(as_json, block, lambda b: console.print(Text(b.text or "(nothing relevant is stored)")))
