"""Spread a PostgreSQL store over a Citus cluster, by tenant (docs/postgres.md)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from remem import stores
from remem.errors import InvalidInput
from remem.interfaces.cli.common import Json, busy, command, console, emit, session


@command
def distribute(
    shards: Annotated[
        int | None,
        typer.Option(min=1, help="Shards per table. [default: the server's citus.shard_count]"),
    ] = None,
    as_json: Json = False,
) -> None:
    """Distribute --db (a Citus coordinator's postgresql:// URL) by tenant; safe to rerun.

    Tables with a tenant become distributed tables colocated with memories; the others are
    copied to every node. Rows already stored move into the shards.
    """
    location = session.get().location
    if not location.startswith(("postgresql://", "postgres://")):
        raise InvalidInput(
            f"--db must be the postgresql:// URL of a Citus coordinator, not {location!r}"
        )
    with busy("Distributing…", quiet=as_json):
        done = stores.distribute(location, shard_count=shards)
    emit(
        as_json,
        asdict(done),
        lambda d: console.print(
            f"{len(d['distributed'])} tables distributed by tenant, "
            f"{len(d['referenced'])} copied to every node; "
            f"{d['shards']} shards per table on {d['workers']} workers"
        ),
    )
