"""A memory as a file: export and import JSONL, or migrate every tenant to another backend."""

from __future__ import annotations

import io
import sys
from enum import StrEnum
from typing import Annotated

import typer

from remem.interfaces.cli import render
from remem.interfaces.cli.common import Json, busy, command, console, emit, err_console, memory


@command
def export(
    file: Annotated[
        str | None, typer.Argument(help="JSONL file to write. [default: stdout]")
    ] = None,
    as_json: Json = False,
) -> None:
    """Write every record of the tenant as JSONL, to move or back up a memory."""
    to_stdout = file in (None, "-")
    source = memory()
    with busy("Exporting…", quiet=as_json or to_stdout):
        counts = source.export(sys.stdout if to_stdout else file)  # type: ignore[arg-type]
    if to_stdout:
        # stdout already carries the export; the summary must not mix into it.
        if not as_json:
            err_console.print(f"exported {render.counts(counts)}")
        return
    emit(as_json, counts, lambda c: console.print(f"exported {render.counts(c)} to {file}"))


class Source(StrEnum):
    remem = "remem"
    mem0 = "mem0"


@command
def import_(
    file: Annotated[str, typer.Argument(help="JSONL export to load; '-' reads stdin.")],
    unverified: Annotated[
        bool,
        typer.Option(
            "--unverified",
            help="Also load an export of format 3 or older, which has no trailer to tell "
            "a truncated file from a whole one.",
        ),
    ] = False,
    source: Annotated[
        Source,
        typer.Option(
            "--from",
            help="What FILE is: a remem export, or Mem0's exported memories (JSON, as "
            "get_all returns them, or JSON Lines); Mem0 ids are kept as metadata.mem0_id.",
        ),
    ] = Source.remem,
    as_json: Json = False,
) -> None:
    """Load a remem export into this tenant, all or nothing: a file whose trailer (counts
    and checksum) is missing or does not match is refused."""
    target = memory()
    stream = sys.stdin if file == "-" else file
    with busy(f"Importing {file}…", quiet=as_json):
        if source is Source.mem0:
            from remem.integrations.mem0 import mem0_export

            counts = target.import_(io.StringIO("".join(mem0_export(stream))))
        else:
            counts = target.import_(stream, unverified=unverified)
    emit(as_json, counts, lambda c: console.print(f"imported {render.counts(c)}"))


@command
def backup(
    file: Annotated[str, typer.Argument(help="Where to write the copy (SQLite file).")],
    as_json: Json = False,
) -> None:
    """Copy the whole SQLite store (every tenant, API keys too) while it serves: one
    consistent snapshot, checked, replacing FILE only when whole. PostgreSQL: pg_dump."""
    source = memory()
    with busy(f"Backing up to {file}…", quiet=as_json):
        done = source.backup(file)
    emit(as_json, done, lambda d: console.print(f"backed up {d['bytes']} bytes to {d['path']}"))


@command
def migrate(
    target: Annotated[str, typer.Argument(help="Destination path or postgresql:// URL.")],
    as_json: Json = False,
) -> None:
    """Copy every tenant of --db into TARGET (another file or backend), all or nothing.

    Ids, versions, times, history and vectors move verbatim; TARGET must not hold them yet.
    """
    source = memory()
    with busy(f"Migrating to {target}…", quiet=as_json):
        counts = source.migrate_to(target)
    emit(as_json, counts, lambda c: console.print(f"migrated {render.counts(c)} to {target}"))
