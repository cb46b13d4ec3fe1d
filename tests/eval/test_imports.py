"""The loaders and metrics stay engine-free: they import nothing from remem but the loaders."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import remem.eval

EVAL = Path(remem.eval.__file__).parent
ENGINE_FREE = sorted([*(EVAL / "datasets").glob("*.py"), EVAL / "metrics.py"])


def _remem_imports(path: Path) -> set[str]:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module)
    return {name for name in imported if name == "remem" or name.startswith("remem.")}


@pytest.mark.parametrize("path", ENGINE_FREE, ids=lambda p: p.relative_to(EVAL).as_posix())
def test_engine_free(path: Path) -> None:
    outside = {
        name
        for name in _remem_imports(path)
        if name != "remem.eval.datasets" and not name.startswith("remem.eval.datasets.")
    }
    assert not outside, f"{path.name} imports {sorted(outside)}"


def test_every_dataset_module_is_checked() -> None:
    names = {p.stem for p in ENGINE_FREE}
    assert {"__init__", "model", "parsing", "locomo", "longmemeval", "beam", "halumem"} <= names
