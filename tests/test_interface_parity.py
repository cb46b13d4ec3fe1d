"""Every front end covers the facade: each public ``Memory`` method is offered by the HTTP
API, the MCP server and the CLI, or is listed as local to the library with a reason.

The method list is read from ``remem.Memory`` itself, so a new method fails here until
each front end maps it or says why it does not. A mapping that names a route, tool or
command that does not exist fails too, as does a route, tool or command that is neither
a mapped method nor listed as belonging to the front end alone.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer.main

from remem import Memory

#: Why a method runs only in the caller's process, shared by the front ends it applies to.
CLOSE = "releases this process's store and threads; a server or command owns its Memory's lifetime"
THREADS = "starts or stops a thread in the caller's process; `remem serve` runs its own workers"
RETENTION = "a pure computation on a record the caller already holds: nothing to ask a server"
MIGRATE = "copies every tenant of the database, not one tenant's memory: `remem migrate`"
REEMBED = (
    "moves every tenant of the database to another embedding model, whose files sit next "
    "to it: an operator's job (`remem reembed`), and servers restart with the new model"
)
BACKUP = "copies the whole database file, every tenant, not one tenant's memory: `remem backup`"
BULK = (
    "bulk ingest in the process that runs the embedder (eval, offline loads): one embedder "
    "call for many adds; a remote caller's adds each go to `add`, embedded by the server"
)


@dataclass(frozen=True)
class FrontEnd:
    """One front end: what it offers, which ``Memory`` method each offer calls, what it omits."""

    name: str
    offered: Callable[[Path], set[str]]
    #: ``Memory`` method -> the route ("METHOD /path"), tool or command that calls it.
    mapped: dict[str, str]
    #: ``Memory`` method -> why this front end does not offer it.
    local_only: dict[str, str]
    #: Route, tool or command -> what it is for, when it is no ``Memory`` method.
    own: dict[str, str]


def http_routes(tmp_path: Path) -> set[str]:
    from remem.service import create_app

    app = create_app(tmp_path / "routes.db", auth=False, llm=None)
    try:
        schema = app.openapi()
    finally:
        asyncio.run(app.state.remem.stop())  # closes the store it opened
    return {f"{verb.upper()} {path}" for path, ops in schema["paths"].items() for verb in ops}


def mcp_tools(_: Path) -> set[str]:
    from remem.interfaces import mcp_server

    def no_facade(_: object) -> mcp_server.Facade:
        raise AssertionError("listing the tools calls no facade")

    server = mcp_server.build_server(no_facade)
    return {tool.name for tool in asyncio.run(server.list_tools())}


def cli_commands(_: Path) -> set[str]:
    from remem.interfaces.cli import app

    def walk(command: object, prefix: str) -> set[str]:
        children: dict[str, object] = getattr(command, "commands", {})
        found = {prefix} if prefix and not children else set()
        for name, child in children.items():
            found |= walk(child, f"{prefix} {name}".strip())
        return found

    return walk(typer.main.get_command(app), "")


HTTP = FrontEnd(
    name="HTTP",
    offered=http_routes,
    mapped={
        "add": "POST /v1/memories",
        "search": "POST /v1/search",
        "list": "GET /v1/memories",
        "delete_all": "DELETE /v1/memories",
        "get": "GET /v1/memories/{memory_id}",
        "update": "PATCH /v1/memories/{memory_id}",
        "delete": "DELETE /v1/memories/{memory_id}",
        "forget": "POST /v1/memories/{memory_id}/forget",
        "history": "GET /v1/memories/{memory_id}/history",
        "versions": "GET /v1/memories/{memory_id}/versions",
        "surrounding": "GET /v1/memories/{memory_id}/surrounding",
        "stats": "GET /v1/stats",
        "facts": "GET /v1/facts",
        "entities": "GET /v1/entities",
        "related": "GET /v1/entities/{entity_id}/related",
        "context": "POST /v1/context",
        "maintain": "POST /v1/maintain",
        "summarize": "POST /v1/summarize",
        "profile": "GET /v1/profile",
        "pin": "POST /v1/memories/{memory_id}/pin",
        "export": "GET /v1/export",
        "export_lines": "GET /v1/export",
        "import_": "POST /v1/import",
        "quarantined": "GET /v1/quarantine",
        "release": "POST /v1/quarantine/{memory_id}/release",
        "forget_poisoned": "POST /v1/quarantine/{memory_id}/forget",
        "lessons": "GET /v1/lessons",
    },
    local_only={
        "close": CLOSE,
        "retention": RETENTION,
        "migrate_to": MIGRATE,
        "reembed": REEMBED,
        "backup": BACKUP,
        "maintain_in_background": THREADS + " (--maintain-every)",
        "start_extraction_worker": THREADS + " (--extract-in-background)",
        "stop_extraction_worker": THREADS + " (--extract-in-background)",
        "drain_extraction_queue": "the server's worker drains the queue "
        "(`remem serve --extract-in-background`), or a process on the same database",
        "extraction_jobs": "operator work on the queue: the inspector lists it (/ui/queue)",
        "retry_extraction": "operator work on the queue, not a tenant's request: run it "
        "embedded against the same database (no route yet)",
        "add_insight": "no route yet: insights are written where their sources are read, "
        "in the agent's process",
        "add_many": BULK,
    },
    own={
        "GET /healthz": "liveness probe",
        "GET /readyz": "readiness probe",
        "GET /metrics": "Prometheus metrics",
    },
)

#: Review belongs to a person: an agent that could release what the guard holds back, or
#: decide what counts as an attack, would undo the guard (docs/trust.md).
REVIEW = (
    "review of what the guard holds back is a person's decision, never the agent's own: "
    "`remem quarantine`, the HTTP API"
)

#: Agents get a small tool set on purpose: each tool costs context in every prompt.
AGENT_TOOLS = (
    "not an agent tool: the MCP server offers the few calls an agent makes in a conversation; "
    "use the HTTP API or the CLI"
)

MCP = FrontEnd(
    name="MCP",
    offered=mcp_tools,
    mapped={
        "add": "add_memory",
        "search": "search_memories",
        "list": "list_memories",
        "get": "get_memory",
        "delete": "delete_memory",
        "context": "memory_context",
    },
    local_only={
        "close": CLOSE,
        "retention": RETENTION,
        "migrate_to": MIGRATE,
        "reembed": REEMBED,
        "backup": BACKUP,
        "maintain_in_background": THREADS,
        "start_extraction_worker": THREADS,
        "stop_extraction_worker": THREADS,
        "add_many": BULK,
        **{m: REVIEW for m in ("quarantined", "release", "forget_poisoned", "lessons")},
        **{
            method: AGENT_TOOLS
            for method in (
                "add_insight",
                "delete_all",
                "drain_extraction_queue",
                "entities",
                "export",
                "export_lines",
                "facts",
                "forget",
                "history",
                "import_",
                "maintain",
                "pin",
                "profile",
                "related",
                "extraction_jobs",
                "retry_extraction",
                "stats",
                "summarize",
                "surrounding",
                "update",
                "versions",
            )
        },
    },
    own={},
)

#: Reads the CLI has no command for yet; the HTTP API serves them.
NOT_IN_CLI_YET = "no command yet; the HTTP API and remem.Memory offer it"

CLI = FrontEnd(
    name="CLI",
    offered=cli_commands,
    mapped={
        "add": "add",
        "search": "search",
        "list": "list",
        "get": "show",
        "history": "history",
        "update": "update",
        "delete": "delete",
        "forget": "forget",
        "export": "export",
        "import_": "import",
        "maintain": "maintain",
        "pin": "pin",
        "summarize": "summarize",
        "profile": "profile",
        "context": "context",
        "stats": "stats",
        "migrate_to": "migrate",
        "quarantined": "quarantine list",
        "release": "quarantine release",
        "forget_poisoned": "quarantine forget",
        "lessons": "lessons",
        "backup": "backup",
        "reembed": "reembed",
    },
    local_only={
        "close": CLOSE,
        "retention": RETENTION,
        "export_lines": "`remem export` (to a file, or `-` for stdout) writes the same lines",
        "maintain_in_background": THREADS + " (--maintain-every)",
        "start_extraction_worker": THREADS + " (--extract-in-background)",
        "stop_extraction_worker": THREADS + " (--extract-in-background)",
        "add_many": BULK,
        **{
            method: NOT_IN_CLI_YET
            for method in (
                "add_insight",
                "delete_all",
                "drain_extraction_queue",
                "entities",
                "extraction_jobs",
                "facts",
                "related",
                "retry_extraction",
                "surrounding",
                "versions",
            )
        },
    },
    own={
        "eval": "runs a benchmark over its own stores",
        "serve": "runs the HTTP API",
        "mcp": "runs the MCP server",
        "distribute": "spreads a PostgreSQL database over a Citus cluster: deployment, not memory",
        "keys create": "API keys of the service",
        "keys list": "API keys of the service",
        "keys revoke": "API keys of the service",
        "ui": "serves the web inspector (remem.ui), which calls the facade per page",
    },
)

FRONT_ENDS = [HTTP, MCP, CLI]


def facade_methods() -> set[str]:
    """The public surface: ``Memory``'s public methods, read from the class."""
    return {
        name
        for name, member in inspect.getmembers(Memory, inspect.isfunction)
        if not name.startswith("_")
    }


def test_the_facade_is_read_from_memory() -> None:
    methods = facade_methods()
    assert {"add", "search", "get", "list", "context", "import_"} <= methods
    assert not {name for name in methods if name.startswith("_")}


@pytest.mark.parametrize("front", FRONT_ENDS, ids=lambda f: f.name)
def test_every_memory_method_is_mapped_or_local_only(front: FrontEnd) -> None:
    methods = facade_methods()
    both = front.mapped.keys() & front.local_only.keys()
    assert not both, f"{front.name}: both mapped and local-only: {sorted(both)}"
    missing = methods - front.mapped.keys() - front.local_only.keys()
    assert not missing, (
        f"{front.name} neither offers nor excludes Memory.{', Memory.'.join(sorted(missing))}: "
        f"map it in {front.name}.mapped or give a reason in {front.name}.local_only"
    )
    stale = (front.mapped.keys() | front.local_only.keys()) - methods
    assert not stale, f"{front.name} names methods Memory no longer has: {sorted(stale)}"
    assert all(reason.strip() for reason in front.local_only.values())


@pytest.mark.parametrize("front", FRONT_ENDS, ids=lambda f: f.name)
def test_every_mapping_names_something_the_front_end_offers(
    front: FrontEnd, tmp_path: Path
) -> None:
    offered = front.offered(tmp_path)
    absent = {m: target for m, target in front.mapped.items() if target not in offered}
    assert not absent, f"{front.name} maps methods to what it does not offer: {absent}"
    stale_own = front.own.keys() - offered
    assert not stale_own, f"{front.name}.own names what it does not offer: {sorted(stale_own)}"
    unaccounted = offered - set(front.mapped.values()) - front.own.keys()
    assert not unaccounted, (
        f"{front.name} offers {sorted(unaccounted)}, which no Memory method maps to: "
        f"map it, or list it in {front.name}.own"
    )
