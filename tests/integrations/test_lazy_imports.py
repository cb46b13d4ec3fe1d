"""A plain install pays nothing for the integrations: importing remem (and the modules that
need no framework) loads none of the frameworks' packages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
FRAMEWORKS = ("langgraph", "langchain_core", "agents", "openai", "mem0", "posthog")


def loaded_after(*modules: str) -> set[str]:
    code = (
        "import json, sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
    )
    return set(json.loads(out.stdout))


def test_import_remem_loads_no_framework() -> None:
    loaded = loaded_after(
        "remem",
        "remem.tools",
        "remem.integrations",
        "remem.integrations.agents",
        "remem.integrations.mem0",
    )
    assert "remem" in loaded
    assert loaded.isdisjoint(FRAMEWORKS), loaded & set(FRAMEWORKS)


def test_the_langgraph_store_loads_langgraph_only_when_imported() -> None:
    assert "langgraph" in loaded_after("remem.integrations.langgraph")
