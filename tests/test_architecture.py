"""Dependencies point one way: interfaces -> engine -> pipeline / retrieval -> stores, providers
-> neutral ground (model, errors, text, ...). docs/architecture.md draws the same picture.
``remem.guard`` (trust and provenance) sits beside pipeline and retrieval, which both use it,
on neutral ground alone.

Every import counts, including the lazy ones inside functions: a lazy import still couples
the modules, it only moves the cost.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "remem"

#: Neutral ground: plain records, errors, time, text and configuration. Imports nothing above.
NEUTRAL = (
    "remem._checks",
    "remem._files",
    "remem._ids",
    "remem._json",
    "remem._time",
    "remem.config",
    "remem.errors",
    "remem.model",
    "remem.query",
    "remem.recipes",
    "remem.retention",
    "remem.text",
)
ABOVE_STORES = (
    "remem.engine",
    "remem.pipeline",
    "remem.retrieval",
    "remem.interfaces",
    "remem.service",
    "remem.ui",
    "remem.integrations",
    "remem.tools",
    "remem.eval",
    "remem.client",
    "remem.quickstart",
)

#: (modules, what they may never import, why)
RULES: list[tuple[tuple[str, ...], tuple[str, ...], str]] = [
    (
        NEUTRAL,
        (*ABOVE_STORES, "remem.guard", "remem.stores", "remem.providers", "remem.portability"),
        "neutral ground sits below every layer",
    ),
    (
        ("remem.stores",),
        (*ABOVE_STORES, "remem.guard", "remem.providers"),
        "a store knows storage, not policy or models",
    ),
    (
        ("remem.providers",),
        (*ABOVE_STORES, "remem.guard", "remem.stores"),
        "providers wrap models; they know nothing of memory",
    ),
    (
        ("remem.guard",),
        (*ABOVE_STORES, "remem.stores", "remem.providers", "remem.portability"),
        "the guard judges text and provenance on neutral ground; pipeline and retrieval use it",
    ),
    (
        ("remem.pipeline",),
        ("remem.retrieval", *ABOVE_STORES[:1], *ABOVE_STORES[3:]),
        "pipeline and retrieval are siblings: shared helpers live in remem.text and friends",
    ),
    (
        ("remem.retrieval",),
        ("remem.pipeline", *ABOVE_STORES[:1], *ABOVE_STORES[3:]),
        "pipeline and retrieval are siblings: shared helpers live in remem.text and friends",
    ),
    (
        ("remem.engine",),
        (
            "remem.interfaces",
            "remem.service",
            "remem.ui",
            "remem.integrations",
            "remem.tools",
            "remem.eval",
            "remem.client",
        ),
        "the engine is below every front end",
    ),
    (
        ("remem.client",),
        (
            "remem.engine",
            "remem.pipeline",
            "remem.retrieval",
            "remem.stores",
            "remem.interfaces",
            "remem.service",
            "remem.ui",
        ),
        "the HTTP client speaks the API; it does not embed the engine",
    ),
    (
        ("remem.interfaces", "remem.service", "remem.ui", "remem.integrations", "remem.tools"),
        ("remem.pipeline", "remem.retrieval"),
        "front ends go through the facade (remem.Memory and the public types)",
    ),
    (
        ("remem.interfaces.mcp_server",),
        ("remem.service.app",),
        "MCP and HTTP share an errors module, not each other",
    ),
    (
        ("remem.eval",),
        ("remem.interfaces", "remem.service", "remem.ui"),
        "the evaluation harness drives the engine, not a front end",
    ),
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(source: str, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:  # "from remem import engine" imports remem.engine
                yield node.lineno, f"{base}.{alias.name}"


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _violations(module: str, source: str, is_package: bool = False) -> list[str]:
    found = []
    for modules, forbidden, why in RULES:
        if _within(module, modules):
            for line, name in _imports(source, module, is_package):
                if _within(name, forbidden):
                    found.append(f"{module}:{line} imports {name} ({why})")
    return found


def test_dependencies_point_one_way() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        found += _violations(_module_name(path), source, path.name == "__init__.py")
    assert sorted(set(found)) == []


def test_lazy_and_relative_imports_are_seen() -> None:
    """An empty list above means something: the checker reads imports inside functions."""
    lazy = "def f():\n    from ..pipeline import lifecycle\n    return lifecycle\n"
    assert _violations("remem.retrieval.sample", lazy) == [
        "remem.retrieval.sample:2 imports remem.pipeline (pipeline and retrieval are siblings: "
        "shared helpers live in remem.text and friends)",
        "remem.retrieval.sample:2 imports remem.pipeline.lifecycle (pipeline and retrieval are "
        "siblings: shared helpers live in remem.text and friends)",
    ]
    assert _violations("remem.retrieval.sample", "from remem.text import terms\n") == []


@pytest.mark.parametrize("modules, forbidden, why", RULES)
def test_every_rule_names_real_packages(
    modules: tuple[str, ...], forbidden: tuple[str, ...], why: str
) -> None:
    named = [m for m in modules if m != "remem.integrations"]
    assert all(
        (SRC / m.replace(".", "/")).with_suffix(".py").exists()
        or (SRC / m.replace(".", "/")).is_dir()
        for m in named
    ), why


#: A module a newcomer can hold in their head; past this, split it by concern.
MAX_MODULE_LINES = 500


def test_no_source_module_is_over_500_lines() -> None:
    long = {
        str(path.relative_to(SRC)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
