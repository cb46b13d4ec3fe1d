"""The ``remem`` command line: every command is one ``remem.Memory`` call.

Tables for people; ``--json`` for scripts, in which case stdout carries the JSON
and nothing else. A ``RememError`` becomes one ``error: ...`` line on stderr and
exit code 1; usage mistakes exit 2, as click does.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer
from pydantic import BaseModel
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from remem import __version__
from remem.config import default_location
from remem.engine import Memory
from remem.errors import InvalidInput, RememError
from remem.eval.datasets import DATASETS as DATASETS
from remem.model import (
    KINDS,
    LAYERS,
    AddResult,
    Context,
    Event,
    MaintenanceReport,
    MemoryRecord,
    Page,
    SearchResults,
)
from remem.recipes import RECIPES

if TYPE_CHECKING:
    from remem.eval.operations import OperationsSettings
    from remem.eval.qa import QASettings
    from remem.providers.llm import LLM

P = ParamSpec("P")
R = TypeVar("R")

KindName = Enum("KindName", {k: k for k in KINDS}, type=str)  # type: ignore[misc]
RecipeName = Enum("RecipeName", {r: r for r in RECIPES}, type=str)  # type: ignore[misc]
LayerName = Enum("LayerName", {x: x for x in LAYERS}, type=str)  # type: ignore[misc]
DEFAULT_KIND = KindName("episode")
ADDED_ROWS = 20  # a file of thousands of turns needs no thousand-row echo
DEFAULT_RECIPE = RecipeName("hybrid")

app = typer.Typer(
    name="remem",
    help="Long-term memory for LLM agents: add what happened, search what matters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Styles come from Text objects, never from markup, so stored text prints verbatim.
_out = Console(highlight=False, markup=False)
_err = Console(stderr=True, highlight=False, markup=False)

# -- options shared by several commands ---------------------------------------
User = Annotated[str | None, typer.Option("--user", "-u", help="User id the memories belong to.")]
Agent = Annotated[str | None, typer.Option("--agent", help="Agent id the memories belong to.")]
Session = Annotated[str | None, typer.Option("--session", "-s", help="Session id (conversation).")]
AsOf = Annotated[
    str | None, typer.Option("--as-of", help="What remem believed at this time (ISO 8601).")
]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
Layers = Annotated[
    list[LayerName] | None,
    typer.Option("--layer", help="Only these layers (working, short, long); repeatable."),
]


# -- plumbing: one Memory per command, one error path, one output path --------
@dataclass
class _Session:
    """What the global options name; the Memory opens on first use, so --help never loads it."""

    location: str
    tenant: str
    memory: Memory | None = None

    def open(self) -> Memory:
        if self.memory is None:
            self.memory = Memory(self.location, tenant=self.tenant)
        return self.memory

    def close(self) -> None:
        if self.memory is not None:
            self.memory.close()
            self.memory = None


_session: ContextVar[_Session] = ContextVar("remem_cli_session")


def _memory() -> Memory:
    return _session.get().open()


def _fail(message: str) -> NoReturn:
    typer.echo("error: " + " ".join(message.split()), err=True)
    raise typer.Exit(1)


def command(
    name: str | None = None, group: typer.Typer | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Register a command whose RememErrors end as one line on stderr and exit code 1."""

    def register(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except RememError as exc:
                _fail(str(exc))

        (group or app).command(name)(run)
        return run

    return register


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _show(as_json: bool, value: Any, render: Callable[[Any], None]) -> None:
    """JSON of ``value`` for scripts, or ``render(value)`` for people."""
    if as_json:
        typer.echo(json.dumps(_jsonable(value), ensure_ascii=False, indent=2))
    else:
        render(value)


@contextmanager
def _busy(message: str, quiet: bool) -> Iterator[None]:
    """A spinner on stderr while a long call runs, only when a person is watching."""
    if quiet or not sys.stderr.isatty():
        yield
        return
    with _err.status(message):
        yield


def _parse_metadata(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    metadata = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected key=value, got {pair!r}", param_hint="--metadata")
        metadata[key] = value
    return metadata


def _read_messages(source: str) -> list[Any]:
    """A JSON list (or one object) of messages, or JSONL with one message per line."""
    name = "stdin" if source == "-" else source
    try:
        raw = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {name}: {exc}") from exc
    try:
        data = json.loads(raw)
        return data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        pass
    messages = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if line.strip():
            try:
                messages.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InvalidInput(
                    f"{name} is neither JSON nor JSONL: line {number}: {exc.msg}"
                ) from exc
    return messages


# -- rendering for people -----------------------------------------------------
def _short(text: str, width: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def _table(*columns: str, **options: Any) -> Table:
    return Table(*columns, box=box.SIMPLE_HEAD, pad_edge=False, **options)


def _memory_table(records: Iterable[MemoryRecord], caption: str | None = None) -> None:
    table = _table(caption=caption, caption_justify="left")
    table.add_column("id", no_wrap=True)
    for column in ("kind", "when", "text"):
        table.add_column(column)
    for record in records:
        table.add_row(record.id, record.kind, _when(record.valid_from), Text(_short(record.text)))
    _out.print(table)


def _render_added(result: AddResult) -> None:
    hidden = len(result.memories) - ADDED_ROWS
    caption = f"and {hidden} more (--json lists them all)" if hidden > 0 else None
    _memory_table(result.memories[:ADDED_ROWS], caption=caption)


def _render_search(results: SearchResults) -> None:
    if not results.hits:
        _out.print(
            f"Nothing found for {results.query!r}"
            + (f": {results.reason}" if results.reason else ".")
        )
        return
    window = results.time_window
    caption = (
        f"time named in the query: {_when(window[0])} to {_when(window[1])}" if window else None
    )
    table = _table("#", "score", caption=caption, caption_justify="left")
    table.add_column("memory", overflow="fold")
    table.add_column("kind")
    table.add_column("when", max_width=10)
    table.add_column("why", max_width=13)
    for rank, hit in enumerate(results.hits, start=1):
        # The id sits under the text and folds rather than being cut off in a narrow terminal.
        cell = Text(_short(hit.text)).append(f"\n{hit.id}", style="dim")
        for turn in hit.context:
            if hit.episode is None or turn.id != hit.episode.id:
                cell.append(f"\n  {turn.role}: {_short(turn.content, 70)}", style="dim italic")
        why = "\n".join(f"{name} #{signal.rank}" for name, signal in hit.signals.items())
        table.add_row(
            str(rank),
            f"{hit.score:.4f}",
            cell,
            hit.memory.kind,
            _when(hit.memory.valid_from),
            why,
        )
    _out.print(table)


def _render_page(page: Page) -> None:
    shown = f"{page.offset + 1}-{page.offset + len(page.items)}" if page.items else "none"
    more = f"; next: --offset {page.next_offset}" if page.next_offset is not None else ""
    _memory_table(page.items, caption=f"{shown} of {page.total}{more}")


def _render_record(record: MemoryRecord) -> None:
    grid = Table.grid(padding=(0, 2))
    for key, value in record.model_dump(mode="json").items():
        if value in (None, [], {}):
            continue
        shown = record.scope.label() if key == "scope" else value
        if isinstance(shown, list | dict):
            shown = json.dumps(shown, ensure_ascii=False)
        grid.add_row(Text(key, style="bold"), Text(str(shown)))
    _out.print(grid)


def _render_history(events: list[Event]) -> None:
    table = _table("at", "op", "version", "reason", "text")
    for event in events:
        text = event.payload.get("text") or ""
        table.add_row(
            event.at.strftime("%Y-%m-%d %H:%M:%S"),
            event.op,
            str(event.version or ""),
            Text(event.reason or ""),
            Text(_short(text, 60)),
        )
    _out.print(table)


def _render_stats(stats: dict[str, Any]) -> None:
    grid = Table.grid(padding=(0, 2))
    for key in ("backend", "url", "embedder", "dimension", "bytes", "episodes", "events"):
        if key in stats:
            grid.add_row(Text(key, style="bold"), Text(str(stats[key])))
    _out.print(grid)
    counts: dict[str, dict[str, int]] = stats.get("memories", {})
    statuses = sorted({status for by_status in counts.values() for status in by_status})
    table = _table("kind", *statuses, title="memories")
    for kind, by_status in sorted(counts.items()):
        table.add_row(kind, *(str(by_status.get(status, 0)) for status in statuses))
    _out.print(table)


def _counts(counts: dict[str, int]) -> str:
    plural = {
        "memory": "memories",
        "entity": "entities",
        "entity_link": "entity links",
        "extraction_job": "extraction jobs",
    }
    return ", ".join(f"{n} {plural.get(k, k + 's')}" for k, n in counts.items()) or "nothing"


# -- commands -----------------------------------------------------------------
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
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    session = _Session(location=db or default_location(), tenant=tenant)
    _session.set(session)
    ctx.call_on_close(session.close)


@command()
def add(
    text: Annotated[
        str | None, typer.Argument(help="What to remember; '-' reads messages from stdin.")
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
    if text == "-" and file is None:
        text, file = None, "-"
    if (text is None) == (file is None):
        raise typer.BadParameter("give either TEXT or --file (use '-' for stdin)")
    messages = text if file is None else _read_messages(file)
    count = len(messages) if isinstance(messages, list) else 1
    with _busy(f"Adding {count} message(s)…", quiet=as_json):
        result = _memory().add(
            messages,
            user_id=user,
            agent_id=agent,
            session_id=session,
            timestamp=timestamp,
            kind=kind.value,
            importance=importance,
            metadata=_parse_metadata(metadata),
            source="cli",
        )
    _show(as_json, result, _render_added)


@command()
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
    as_json: Json = False,
) -> None:
    """Find the memories that matter for QUERY, each with the signals that found it."""
    results = _memory().search(
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
    )
    _show(as_json, results, _render_search)


@command("list")
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
    as_json: Json = False,
) -> None:
    """Current memories, newest first, one page at a time."""
    page = _memory().list(
        user_id=user,
        agent_id=agent,
        session_id=session,
        kinds=[k.value for k in kind] if kind else None,
        limit=limit,
        offset=offset,
        layers=[x.value for x in layer] if layer else None,
        status="archived" if archived else "active",
    )
    _show(
        as_json, {**_jsonable(page), "next_offset": page.next_offset}, lambda _: _render_page(page)
    )


@command()
def show(
    memory_id: Annotated[str, typer.Argument(metavar="ID")],
    version: Annotated[
        int | None, typer.Option(help="This version instead of the current.")
    ] = None,
    as_of: AsOf = None,
    as_json: Json = False,
) -> None:
    """One memory: the current version, a given --version, or the one believed --as-of."""
    _show(as_json, _memory().get(memory_id, version=version, as_of=as_of), _render_record)


@command()
def history(memory_id: Annotated[str, typer.Argument(metavar="ID")], as_json: Json = False) -> None:
    """Every operation on a memory, oldest first."""
    _show(as_json, _memory().history(memory_id), _render_history)


@command()
def update(
    memory_id: Annotated[str, typer.Argument(metavar="ID")],
    text: Annotated[str | None, typer.Argument(help="The new text.")] = None,
    importance: Annotated[float | None, typer.Option(help="New importance, 0 to 1.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why, kept in the history.")] = None,
    as_json: Json = False,
) -> None:
    """Write a new version of a memory; the old one stays in its history."""
    record = _memory().update(memory_id, text, importance=importance, reason=reason)
    _show(as_json, record, lambda r: _out.print(f"updated {r.id} to version {r.version}"))


@command()
def delete(
    memory_id: Annotated[str, typer.Argument(metavar="ID")],
    reason: Annotated[str | None, typer.Option(help="Why, kept in the history.")] = None,
    as_json: Json = False,
) -> None:
    """Hide a memory from search and list; it stays in its history (see forget to erase)."""
    record = _memory().delete(memory_id, reason=reason)
    _show(as_json, record, lambda r: _out.print(f"deleted {r.id} (history kept)"))


@command()
def forget(
    memory_id: Annotated[str, typer.Argument(metavar="ID")], yes: Yes = False, as_json: Json = False
) -> None:
    """Erase a memory for good: every version, its history and its uncited source turns."""
    if not yes:
        if not sys.stdin.isatty():
            _fail(f"forget erases {memory_id} for good; pass --yes to confirm (no terminal to ask)")
        typer.confirm(f"Erase {memory_id} and its whole history for good?", abort=True, err=True)
    erased = _memory().forget(memory_id)
    _show(
        as_json,
        {"id": memory_id, "erased": erased},
        lambda r: _out.print(f"forgot {r['id']} ({r['erased']} records erased)"),
    )


@command()
def export(
    file: Annotated[
        str | None, typer.Argument(help="JSONL file to write. [default: stdout]")
    ] = None,
    as_json: Json = False,
) -> None:
    """Write every record of the tenant as JSONL, to move or back up a memory."""
    to_stdout = file in (None, "-")
    memory = _memory()
    with _busy("Exporting…", quiet=as_json or to_stdout):
        counts = memory.export(sys.stdout if to_stdout else file)  # type: ignore[arg-type]
    if to_stdout:
        # stdout already carries the export; the summary must not mix into it.
        if not as_json:
            _err.print(f"exported {_counts(counts)}")
        return
    _show(as_json, counts, lambda c: _out.print(f"exported {_counts(c)} to {file}"))


@command("import")
def import_(
    file: Annotated[str, typer.Argument(help="JSONL export to load; '-' reads stdin.")],
    as_json: Json = False,
) -> None:
    """Load a remem export into this tenant, all or nothing."""
    memory = _memory()
    with _busy(f"Importing {file}…", quiet=as_json):
        counts = memory.import_(sys.stdin if file == "-" else file)
    _show(as_json, counts, lambda c: _out.print(f"imported {_counts(c)}"))


def _render_maintenance(report: MaintenanceReport) -> None:
    moved = ", ".join(f"{step}: {n}" for step, n in report.moved.items()) or "none"
    layers = ", ".join(f"{layer}: {n}" for layer, n in sorted(report.layers.items()))
    _out.print(f"scanned {report.scanned}, archived {report.archived}")
    _out.print(f"moved between layers: {moved}")
    _out.print(f"layers now: {layers or 'empty'}")


@command()
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
    report = _memory().maintain(user_id=user, agent_id=agent, archive_below=archive_below)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        _render_maintenance(report)


@command()
def pin(
    memory_id: Annotated[str, typer.Argument(metavar="ID")],
    off: Annotated[bool, typer.Option("--off", help="Unpin: let it age again.")] = False,
    as_json: Json = False,
) -> None:
    """Pin a memory so it never fades or gets archived (--off to unpin)."""
    _show(as_json, _memory().pin(memory_id, pinned=not off), _render_record)


@command()
def summarize(
    user: User = None, agent: Agent = None, session: Session = None, as_json: Json = False
) -> None:
    """Summarize changed sessions, then the user's running summary and profile."""
    written = _memory().summarize(user_id=user, agent_id=agent, session_id=session)
    _show(as_json, written, lambda _: _memory_table(written, caption=f"{len(written)} written"))


@command()
def profile(
    user: User = None,
    agent: Agent = None,
    refresh: Annotated[bool, typer.Option(help="Rebuild it now.")] = False,
    as_json: Json = False,
) -> None:
    """The user's profile: stable facts and recent changes, each citing its memory."""
    record = _memory().profile(user_id=user, agent_id=agent, refresh=refresh)
    _show(as_json, record, lambda r: _out.print(Text(r.text)))


@command()
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
    block: Context = _memory().context(
        query, user_id=user, agent_id=agent, session_id=session, budget_tokens=budget,
        asked_at=asked_at,
    )  # fmt: skip
    _show(as_json, block, lambda b: _out.print(Text(b.text or "(nothing relevant is stored)")))


@command()
def stats(user: User = None, as_json: Json = False) -> None:
    """What is stored: backend, embedder, and memory counts by kind and status."""
    _show(as_json, _memory().stats(user_id=user), _render_stats)


@command()
def migrate(
    target: Annotated[str, typer.Argument(help="Destination path or postgresql:// URL.")],
    as_json: Json = False,
) -> None:
    """Copy every tenant of --db into TARGET (another file or backend), all or nothing.

    Ids, versions, times, history and vectors move verbatim; TARGET must not hold them yet.
    """
    source = _memory()
    with _busy(f"Migrating to {target}…", quiet=as_json):
        counts = source.migrate_to(target)
    _show(as_json, counts, lambda c: _out.print(f"migrated {_counts(c)} to {target}"))


@command("eval")
def eval_(
    dataset: Annotated[str, typer.Argument(help="locomo | longmemeval | beam | halumem")],
    path: Annotated[Path, typer.Argument(help="The benchmark file or folder, read in place.")],
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
    as_json: Json = False,
) -> None:
    """Run a public long-term-memory benchmark: remem against BM25 and dense baselines.

    With --qa (and an OpenAI-compatible LLM) it also reports the J score: answers from the
    top --qa-k memories, judged CORRECT/WRONG against the gold answer by an LLM judge.
    With --operations (halumem, same LLM options) it reports HaluMem's extraction and
    updating metrics: recall, precision, update accuracy, LLM calls and tokens per add.
    """
    import tempfile

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from remem.eval import report, runner

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
        Progress(*columns, console=_err, disable=as_json or not sys.stderr.isatty()) as bar,
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
            )
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
    summary = result.summary()
    paths = report.write(summary, out)
    _show(
        as_json,
        summary,
        lambda _: _out.print(
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


# -- service --------------------------------------------------------------------
keys_app = typer.Typer(
    help="API keys of the HTTP service; each key works in one tenant.", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
Host = Annotated[str, typer.Option(help="Interface to listen on.")]
NoAuth = Annotated[
    bool,
    typer.Option(
        "--no-auth",
        help="Development only: no API key, every request in --tenant. Loopback hosts only.",
    ),
]


def _keys() -> Any:
    from remem.service.keys import KeyStore

    return KeyStore(_session.get().location)


def _key_json(key: Any) -> dict[str, Any]:
    return {
        "id": key.id,
        "tenant": key.tenant,
        "name": key.name,
        "created_at": key.created_at.isoformat(),
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


def _server_extra() -> None:
    """Fail with the install command when the optional server packages are missing."""
    try:
        import fastapi  # noqa: F401
        import mcp  # noqa: F401
        import prometheus_client  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        _fail(f"this command needs {exc.name}: pip install 'remem[server]'")


def _check_bind(host: str, no_auth: bool) -> None:
    from remem.interfaces.mcp_server import is_loopback

    if no_auth and not is_loopback(host):
        _fail(f"--no-auth serves without API keys, so only on a loopback host, not {host}")


@command("create", group=keys_app)
def keys_create(
    tenant: Annotated[str, typer.Argument(help="Tenant the key works in.")],
    name: Annotated[str | None, typer.Option(help="A label, e.g. who holds the key.")] = None,
    as_json: Json = False,
) -> None:
    """Create an API key for TENANT; the key is shown once, only its hash is kept."""
    store = _keys()
    try:
        key, token = store.create(tenant, name)
    finally:
        store.close()
    _show(
        as_json,
        {**_key_json(key), "key": token},
        lambda k: _out.print(f"{k['key']}\n(key {k['id']} for tenant {k['tenant']}; shown once)"),
    )


@command("list", group=keys_app)
def keys_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    as_json: Json = False,
) -> None:
    """API keys (ids, tenants, names, revocation; never the keys themselves)."""
    store = _keys()
    try:
        found = [_key_json(k) for k in store.list(tenant)]
    finally:
        store.close()

    def render(rows: list[dict[str, Any]]) -> None:
        table = _table("id", "tenant", "name", "created", "revoked")
        for row in rows:
            table.add_row(
                row["id"],
                row["tenant"],
                row["name"] or "",
                row["created_at"][:16],
                row["revoked_at"] or "",
            )
        _out.print(table)

    _show(as_json, found, render)


@command("revoke", group=keys_app)
def keys_revoke(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID")], as_json: Json = False
) -> None:
    """Revoke a key at once: its next request is refused."""
    store = _keys()
    try:
        key = store.revoke(key_id)
    finally:
        store.close()
    _show(as_json, _key_json(key), lambda k: _out.print(f"revoked {k['id']} ({k['tenant']})"))


@command()
def serve(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_auth: NoAuth = False,
    max_body: Annotated[int, typer.Option(help="Largest request body in bytes.")] = 1 << 20,
    maintain_every: Annotated[
        float | None,
        typer.Option(help="Run `maintain` for every tenant every this many seconds."),
    ] = None,
    extract_in_background: Annotated[
        bool,
        typer.Option(
            "--extract-in-background",
            help="Adds return at once; a worker thread extracts facts from the queue "
            "(with an LLM configured).",
        ),
    ] = False,
) -> None:
    """Run the HTTP API (/v1, OpenAPI at /docs, /metrics) over --db."""
    _server_extra()
    import uvicorn

    from remem.service import create_app

    _check_bind(host, no_auth)
    session = _session.get()
    if maintain_every is not None and maintain_every <= 0:
        raise InvalidInput("--maintain-every must be a positive number of seconds")
    api = create_app(
        session.location,
        auth=not no_auth,
        tenant=session.tenant,
        max_body_bytes=max_body,
        maintain_every_s=maintain_every,
        extract_in_background=extract_in_background,
    )
    uvicorn.run(api, host=host, port=port, log_level="info")


class Transport(StrEnum):
    stdio = "stdio"
    http = "http"


@command("mcp")
def mcp_(
    transport: Annotated[
        Transport, typer.Option(help="stdio for desktop agents.")
    ] = Transport.stdio,
    user: Annotated[
        str | None,
        typer.Option("--user", "-u", help="Serve this user only (tools need no user_id)."),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            help="Use a remem service instead of --db (REMEM_URL, REMEM_API_KEY).",
            envvar="REMEM_URL",
        ),
    ] = None,
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for --transport http.")] = 8765,
    no_auth: NoAuth = False,
) -> None:
    """Run the MCP server: add, search, list, get, delete memories and build context, per user.

    Over HTTP every request needs an API key of --db and works in its tenant.
    --no-auth and --url serve every caller alike, so only on a loopback host.
    """
    _server_extra()
    from remem.engine import Memory
    from remem.interfaces import mcp_server

    session = _session.get()

    def fixed_facade() -> Any:
        if url:
            from remem.client import Client

            return Client(url)
        return session.open()

    if transport is Transport.stdio:
        mcp_server.build_server(mcp_server.fixed(fixed_facade()), user=user).run("stdio")
        return
    if no_auth or url:
        if not mcp_server.is_loopback(host):
            _fail(f"--no-auth and --url serve every caller alike: loopback hosts only, not {host}")
        server = mcp_server.build_server(mcp_server.fixed(fixed_facade()), user=user)
        asgi = mcp_server.http_app(server, host=host, keys=None)
    else:
        shared = session.open()
        tenants: dict[str, Memory] = {}
        lock = threading.Lock()  # MCP runs sync tools in worker threads

        def for_tenant(name: str) -> Memory:
            with lock:
                if name not in tenants:
                    tenants[name] = Memory(
                        store=shared.store, embedder=shared.embedder, llm=shared.llm, tenant=name
                    )
                return tenants[name]

        server = mcp_server.build_server(mcp_server.by_key(for_tenant), user=user)
        asgi = mcp_server.http_app(server, host=host, keys=_keys())
    import uvicorn

    uvicorn.run(asgi, host=host, port=port, log_level="warning")


def main() -> None:
    app(prog_name="remem")


if __name__ == "__main__":
    main()
