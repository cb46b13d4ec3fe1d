"""The front ends (CLI, MCP server, HTTP service, web inspector) reach remem through its public parts only.

They are thin adapters over ``remem.Memory``: they may import the facade and its types
(``remem``, model, errors, config, recipes, engine, client), the providers they share
with it, ``remem.stores`` (to open the one shared store), the eval runner (``remem
eval``) and each other, never the pipeline or retrieval inside the engine. The MCP
server and the HTTP service share ``service.errors``, not each other's app.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "remem"
FRONT_ENDS = ("interfaces", "service", "ui")

#: Modules a front end may import by name (not what is inside them) ...
MODULES = {
    "remem",
    "remem.config",
    "remem.errors",
    "remem.model",
    "remem.recipes",
    "remem.engine",
    "remem.client",
    "remem.stores",
    "remem._time",
    "remem._json",
}
#: ... and packages it may import anything from.
PACKAGES = (
    "remem.providers",
    "remem.eval",
    "remem.interfaces",
    "remem.service",
    "remem.integrations",
    "remem.ui",
)


def _imports(path: Path) -> set[str]:
    """Every ``remem`` module the file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name == "remem" or name.startswith("remem.")}


def _allowed(module: str) -> bool:
    return module in MODULES or any(module == p or module.startswith(p + ".") for p in PACKAGES)


def test_front_ends_import_only_the_public_parts_of_remem() -> None:
    files = [path for part in FRONT_ENDS for path in (SRC / part).rglob("*.py")]
    assert len(files) > 10
    reached = {
        f"{path.relative_to(SRC)}: {module}"
        for path in files
        for module in _imports(path)
        if not _allowed(module)
    }
    assert not reached, f"front ends reach past the engine: {sorted(reached)}"


def test_the_mcp_server_does_not_import_the_http_app() -> None:
    service = {m for m in _imports(SRC / "interfaces" / "mcp_server.py") if "service" in m}
    assert service == {"remem.service.errors", "remem.service.keys"}
