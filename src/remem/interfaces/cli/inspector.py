"""``remem ui``: the web inspector over a local store, on 127.0.0.1 only, without keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from remem.interfaces.cli.common import command, console, session
from remem.interfaces.cli.service import _server_extra


@command
def ui(
    db: Annotated[
        str | None,
        typer.Option("--db", help="SQLite file or postgresql:// URL (default: the global --db)."),
    ] = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8400,
    evals: Annotated[
        Path | None,
        typer.Option(help="Folder of `remem eval --out` reports (JSON, PNG) to show."),
    ] = None,
) -> None:
    """Open the web inspector for a local store at http://127.0.0.1:PORT/ui/ (no API key:
    it listens on the loopback interface only and works in --tenant)."""
    _server_extra()
    import uvicorn
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    from remem.providers import embedder_from
    from remem.service import create_app

    cli_session = session.get()
    app = create_app(
        db or cli_session.location,
        auth=False,
        tenant=cli_session.tenant,
        embedder=embedder_from(cli_session.embedder) if cli_session.embedder else None,
    )
    app.state.remem_ui.evals = evals
    # No key guards this server: a page of another site whose name resolves to 127.0.0.1
    # (DNS rebinding) must not read it, so only loopback names are served.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"])
    console.print(f"remem inspector: http://127.0.0.1:{port}/ui/ (Ctrl-C stops it)")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
