"""What every command shares: the options, the ``Memory`` the global options name, one
error path (``error: ...`` on stderr, exit 1) and one output path (a table or ``--json``)."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console

from remem import RECIPES, InvalidInput, Memory, RememError
from remem.model import KINDS, LAYERS, TRUST_LEVELS

P = ParamSpec("P")
R = TypeVar("R")

KindName = Enum("KindName", {k: k for k in KINDS}, type=str)  # type: ignore[misc]
RecipeName = Enum("RecipeName", {r: r for r in RECIPES}, type=str)  # type: ignore[misc]
LayerName = Enum("LayerName", {x: x for x in LAYERS}, type=str)  # type: ignore[misc]
TrustName = Enum("TrustName", {x: x for x in TRUST_LEVELS}, type=str)  # type: ignore[misc]
DEFAULT_KIND = KindName("episode")
DEFAULT_RECIPE = RecipeName("hybrid")

# Styles come from Text objects, never from markup, so stored text prints verbatim.
console = Console(highlight=False, markup=False)
err_console = Console(stderr=True, highlight=False, markup=False)

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
MemoryId = Annotated[str, typer.Argument(metavar="ID")]


# -- plumbing: one Memory per command, one error path, one output path --------
@dataclass
class CliSession:
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


session: ContextVar[CliSession] = ContextVar("remem_cli_session")


def memory() -> Memory:
    """The ``Memory`` of ``--db`` and ``--tenant``, opened on first use."""
    return session.get().open()


def fail(message: str) -> NoReturn:
    typer.echo("error: " + " ".join(message.split()), err=True)
    raise typer.Exit(1)


def command(fn: Callable[P, R]) -> Callable[P, R]:
    """A command whose RememErrors end as one line on stderr and exit code 1."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except RememError as exc:
            fail(str(exc))

    return run


def jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def emit(as_json: bool, value: Any, render: Callable[[Any], None]) -> None:
    """JSON of ``value`` for scripts, or ``render(value)`` for people."""
    if as_json:
        typer.echo(json.dumps(jsonable(value), ensure_ascii=False, indent=2))
    else:
        render(value)


@contextmanager
def busy(message: str, quiet: bool) -> Iterator[None]:
    """A spinner on stderr while a long call runs, only when a person is watching."""
    if quiet or not sys.stderr.isatty():
        yield
        return
    with err_console.status(message):
        yield


def parse_metadata(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    metadata = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected key=value, got {pair!r}", param_hint="--metadata")
        metadata[key] = value
    return metadata


def read_messages(source: str) -> list[Any]:
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
