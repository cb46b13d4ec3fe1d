"""Tables and lines for people; ``--json`` output never comes through here."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from remem import AddResult, Event, MaintenanceReport, MemoryRecord, Page, SearchResults
from remem.interfaces.cli.common import console

ADDED_ROWS = 20  # a file of thousands of turns needs no thousand-row echo


def short(text: str, width: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def table(*columns: str, **options: Any) -> Table:
    return Table(*columns, box=box.SIMPLE_HEAD, pad_edge=False, **options)


def memory_table(records: Iterable[MemoryRecord], caption: str | None = None) -> None:
    rows = table(caption=caption, caption_justify="left")
    rows.add_column("id", no_wrap=True)
    for column in ("kind", "when", "text"):
        rows.add_column(column)
    for record in records:
        rows.add_row(record.id, record.kind, when(record.valid_from), Text(short(record.text)))
    console.print(rows)


def added(result: AddResult) -> None:
    hidden = len(result.memories) - ADDED_ROWS
    caption = f"and {hidden} more (--json lists them all)" if hidden > 0 else None
    memory_table(result.memories[:ADDED_ROWS], caption=caption)


def search_results(results: SearchResults) -> None:
    if not results.hits:
        console.print(
            f"Nothing found for {results.query!r}"
            + (f": {results.reason}" if results.reason else ".")
        )
        return
    window = results.time_window
    caption = f"time named in the query: {when(window[0])} to {when(window[1])}" if window else None
    rows = table("#", "score", caption=caption, caption_justify="left")
    rows.add_column("memory", overflow="fold")
    rows.add_column("kind")
    rows.add_column("when", max_width=10)
    rows.add_column("why", max_width=13)
    for rank, hit in enumerate(results.hits, start=1):
        # The id sits under the text and folds rather than being cut off in a narrow terminal.
        cell = Text(short(hit.text)).append(f"\n{hit.id}", style="dim")
        for turn in hit.context:
            if hit.episode is None or turn.id != hit.episode.id:
                cell.append(f"\n  {turn.role}: {short(turn.content, 70)}", style="dim italic")
        why = "\n".join(f"{name} #{signal.rank}" for name, signal in hit.signals.items())
        # How far it is believed, when below the owner's own words, and what the guard says.
        marks = (
            [] if hit.memory.trust == "trusted" else [f"{hit.memory.trust} ({hit.memory.origin})"]
        )
        why = "\n".join([why, *marks, *(short(flag, 40) for flag in hit.flags)])
        rows.add_row(
            str(rank),
            f"{hit.score:.4f}",
            cell,
            hit.memory.kind,
            when(hit.memory.valid_from),
            why,
        )
    console.print(rows)


def page(found: Page) -> None:
    shown = f"{found.offset + 1}-{found.offset + len(found.items)}" if found.items else "none"
    more = f"; next: --offset {found.next_offset}" if found.next_offset is not None else ""
    memory_table(found.items, caption=f"{shown} of {found.total}{more}")


def record(memory: MemoryRecord) -> None:
    grid = Table.grid(padding=(0, 2))
    for key, value in memory.model_dump(mode="json").items():
        if value in (None, [], {}):
            continue
        shown = memory.scope.label() if key == "scope" else value
        if isinstance(shown, list | dict):
            shown = json.dumps(shown, ensure_ascii=False)
        grid.add_row(Text(key, style="bold"), Text(str(shown)))
    console.print(grid)


def history(events: list[Event]) -> None:
    rows = table("at", "op", "version", "reason", "text")
    for event in events:
        text = event.payload.get("text") or ""
        rows.add_row(
            event.at.strftime("%Y-%m-%d %H:%M:%S"),
            event.op,
            str(event.version or ""),
            Text(event.reason or ""),
            Text(short(text, 60)),
        )
    console.print(rows)


def stats(found: dict[str, Any]) -> None:
    grid = Table.grid(padding=(0, 2))
    for key in ("backend", "url", "embedder", "dimension", "bytes", "episodes", "events"):
        if key in found:
            grid.add_row(Text(key, style="bold"), Text(str(found[key])))
    console.print(grid)
    counts: dict[str, dict[str, int]] = found.get("memories", {})
    statuses = sorted({status for by_status in counts.values() for status in by_status})
    rows = table("kind", *statuses, title="memories")
    for kind, by_status in sorted(counts.items()):
        rows.add_row(kind, *(str(by_status.get(status, 0)) for status in statuses))
    console.print(rows)


def maintenance(report: MaintenanceReport) -> None:
    moved = ", ".join(f"{step}: {n}" for step, n in report.moved.items()) or "none"
    layers = ", ".join(f"{layer}: {n}" for layer, n in sorted(report.layers.items()))
    console.print(f"scanned {report.scanned}, archived {report.archived}")
    console.print(f"moved between layers: {moved}")
    console.print(f"layers now: {layers or 'empty'}")


def counts(found: dict[str, int]) -> str:
    plural = {
        "memory": "memories",
        "entity": "entities",
        "entity_link": "entity links",
        "extraction_job": "extraction jobs",
    }
    return ", ".join(f"{n} {plural.get(k, k + 's')}" for k, n in found.items()) or "nothing"
