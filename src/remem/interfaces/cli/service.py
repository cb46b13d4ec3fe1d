"""remem as a service: API keys (``remem keys``), the HTTP API (``remem serve``) and the
MCP server (``remem mcp``). Both servers need the ``server`` extra; keys do not."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from remem import InvalidInput
from remem.interfaces.cli.common import Json, command, console, emit, fail, session
from remem.interfaces.cli.render import table
from remem.service.keys import ApiKey, KeyStore

if TYPE_CHECKING:
    from remem.interfaces.mcp_server import Facade

keys_app = typer.Typer(
    help="API keys of the HTTP service; each key works in one tenant.", no_args_is_help=True
)
Host = Annotated[str, typer.Option(help="Interface to listen on.")]


class WriterRole(StrEnum):
    owner = "owner"
    external = "external"


NoAuth = Annotated[
    bool,
    typer.Option(
        "--no-auth",
        help="Development only: no API key, every request in --tenant. Loopback hosts only.",
    ),
]


def _keys() -> KeyStore:
    return KeyStore(session.get().location)


def _key_json(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "tenant": key.tenant,
        "name": key.name,
        "role": key.role,
        "system_turns": key.system_turns,
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
        fail(f"this command needs {exc.name}: pip install 'remem[server]'")


def _check_bind(host: str, no_auth: bool) -> None:
    from remem.interfaces.mcp_server import is_loopback

    if no_auth and not is_loopback(host):
        fail(f"--no-auth serves without API keys, so only on a loopback host, not {host}")


@command
def keys_create(
    tenant: Annotated[str, typer.Argument(help="Tenant the key works in.")],
    name: Annotated[str | None, typer.Option(help="A label, e.g. who holds the key.")] = None,
    role: Annotated[
        WriterRole,
        typer.Option(
            help="owner: the application speaking for its users (their turns are trusted); "
            "external: everything this key writes is untrusted (docs/trust.md)."
        ),
    ] = WriterRole.owner,
    system_turns: Annotated[
        bool,
        typer.Option(
            "--system-turns",
            help="Let this key store role: system turns (read as the operator's voice).",
        ),
    ] = False,
    as_json: Json = False,
) -> None:
    """Create an API key for TENANT; the key is shown once, only its hash is kept."""
    store = _keys()
    try:
        key, token = store.create(tenant, name, role=role.value, system_turns=system_turns)
    finally:
        store.close()
    emit(
        as_json,
        {**_key_json(key), "key": token},
        lambda k: console.print(
            f"{k['key']}\n(key {k['id']} for tenant {k['tenant']}; shown once)"
        ),
    )


@command
def keys_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    as_json: Json = False,
) -> None:
    """API keys (ids, tenants, names, roles, revocation; never the keys themselves)."""
    store = _keys()
    try:
        found = [_key_json(k) for k in store.list(tenant)]
    finally:
        store.close()

    def render(rows: list[dict[str, Any]]) -> None:
        shown = table("id", "tenant", "name", "role", "system turns", "created", "revoked")
        for row in rows:
            shown.add_row(
                row["id"],
                row["tenant"],
                row["name"] or "",
                row["role"],
                "yes" if row["system_turns"] else "no",
                row["created_at"][:16],
                row["revoked_at"] or "",
            )
        console.print(shown)

    emit(as_json, found, render)


@command
def keys_revoke(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID")], as_json: Json = False
) -> None:
    """Revoke a key at once: its next request is refused."""
    store = _keys()
    try:
        key = store.revoke(key_id)
    finally:
        store.close()
    emit(as_json, _key_json(key), lambda k: console.print(f"revoked {k['id']} ({k['tenant']})"))


@command
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
    mem0_compat: Annotated[
        bool,
        typer.Option(
            "--mem0-compat",
            help="Also serve Mem0's REST routes, so Mem0 clients work unchanged "
            "(docs/migrating-from-mem0.md).",
        ),
    ] = False,
) -> None:
    """Run the HTTP API (/v1, OpenAPI at /docs, /metrics) and the web inspector (/ui) over --db."""
    _server_extra()
    import uvicorn

    from remem.providers import embedder_from
    from remem.service import create_app

    _check_bind(host, no_auth)
    cli_session = session.get()
    if maintain_every is not None and maintain_every <= 0:
        raise InvalidInput("--maintain-every must be a positive number of seconds")
    api = create_app(
        cli_session.location,
        auth=not no_auth,
        tenant=cli_session.tenant,
        embedder=embedder_from(cli_session.embedder) if cli_session.embedder else None,
        max_body_bytes=max_body,
        maintain_every_s=maintain_every,
        extract_in_background=extract_in_background,
        mem0_compat=mem0_compat,
    )
    uvicorn.run(api, host=host, port=port, log_level="info")


class Transport(StrEnum):
    stdio = "stdio"
    http = "http"


@command
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
    from remem.interfaces import mcp_server
    from remem.service.state import Tenants

    cli_session = session.get()

    def fixed_facade() -> Facade:
        if url:
            from remem.client import Client

            return Client(url)
        return cli_session.open()

    if transport is Transport.stdio:
        mcp_server.build_server(mcp_server.fixed(fixed_facade()), user=user).run("stdio")
        return
    if no_auth or url:
        if not mcp_server.is_loopback(host):
            fail(f"--no-auth and --url serve every caller alike: loopback hosts only, not {host}")
        server = mcp_server.build_server(mcp_server.fixed(fixed_facade()), user=user)
        asgi = mcp_server.http_app(server, host=host, keys=None)
    else:
        shared = cli_session.open()
        tenants = Tenants(shared.store, shared.embedder, shared.llm)
        server = mcp_server.build_server(mcp_server.by_key(tenants.memory), user=user)
        asgi = mcp_server.http_app(server, host=host, keys=_keys())
    import uvicorn

    uvicorn.run(asgi, host=host, port=port, log_level="warning")
