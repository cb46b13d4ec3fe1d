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
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from typer.exceptions import TyperException

from remem import RECIPES, InvalidInput, Memory, RememError
from remem._json import loads
from remem.model import KINDS, LAYERS, TRUST_LEVELS

P = ParamSpec("P")
R = TypeVar("R")

KindName = Enum("KindName", {k: k for k in KINDS}, type=str)  # type: ignore[misc]
RecipeName = Enum("RecipeName", {r: r for r in RECIPES}, type=str)  # type: ignore[misc]
#: The most a file or stdin given to a command may hold (``remem add -f /dev/zero`` stops).
MAX_INPUT_CHARS = 16 << 20

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
    embedder: str | None = None
    memory: Memory | None = None

    def open(self) -> Memory:
        if self.memory is None:
            self.memory = Memory(self.location, tenant=self.tenant, embedder=self.embedder)
        return self.memory

    def close(self) -> None:
        if self.memory is not None:
            self.memory.close()
            self.memory = None


session: ContextVar[CliSession] = ContextVar("remem_cli_session")


def memory() -> Memory:
    """The ``Memory`` of ``--db`` and ``--tenant``, opened on first use."""
    return session.get().open()


#: How an error that is not a RememError begins: no input should ever lead to it.
UNEXPECTED = "unexpected"


def fail(message: str) -> NoReturn:
    typer.echo("error: " + " ".join(message.split()), err=True)
    raise typer.Exit(1)


def command(fn: Callable[P, R]) -> Callable[P, R]:
    """A command whose errors end as one line on stderr and exit code 1, never a traceback.

    RememErrors say what was wrong; anything else is a bug, said so in one line too
    (``tests/test_cli_fuzz.py`` checks that no input reaches that line).
    """

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except RememError as exc:
            fail(str(exc))
        except (TyperException, typer.Exit, typer.Abort, BrokenPipeError):
            raise  # usage errors and exits are click's to print; a closed pipe too
        except Exception as exc:
            fail(f"{UNEXPECTED} {type(exc).__name__}: {exc} (a bug in remem: please report it)")

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


def read_input(source: str) -> str:
    """The text of a file, or of stdin for '-', up to ``MAX_INPUT_CHARS`` characters."""
    name = "stdin" if source == "-" else source
    try:
        if source == "-":
            raw = sys.stdin.read(MAX_INPUT_CHARS + 1)
        else:
            with open(source, encoding="utf-8") as handle:
                raw = handle.read(MAX_INPUT_CHARS + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {name}: {exc}") from exc
    if len(raw) > MAX_INPUT_CHARS:
        raise InvalidInput(f"{name} holds more than {MAX_INPUT_CHARS} characters, the limit")
    return raw


def text_or_messages(raw: str) -> str | list[Any]:
    """Messages when ``raw`` is a JSON object or list, or JSONL of objects; else the text."""
    stripped = raw.strip()
    if stripped[:1] in ("{", "["):
        try:
            return parse_messages(raw, "stdin")
        except InvalidInput:
            pass
    return raw.rstrip("\r\n")  # the newline that ends what was typed or echoed


def read_messages(source: str) -> list[Any]:
    """A JSON list (or one object) of messages, or JSONL with one message per line."""
    return parse_messages(read_input(source), "stdin" if source == "-" else source)


def parse_messages(raw: str, name: str) -> list[Any]:
    try:
        data = loads(raw)
        if isinstance(data, list | dict):
            return data if isinstance(data, list) else [data]
    except (json.JSONDecodeError, RecursionError):
        pass
    messages = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if line.strip():
            try:
                message = loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deep"
                raise InvalidInput(
                    f"{name} is neither JSON nor JSONL: line {number}: {why}"
                ) from exc
            except InvalidInput as exc:
                raise InvalidInput(f"{name}: line {number}: {exc}") from exc
            if not isinstance(message, dict):
                raise InvalidInput(f"{name}: line {number} is not a message object")
            messages.append(message)
    return messages
