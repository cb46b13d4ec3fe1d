"""The README a newcomer starts from stays true: two set-up commands, and every file it
points at is in the repository (nothing outside it)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_set_up_is_two_commands() -> None:
    section = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert [b.strip() for b in blocks] == [
        "pip install -e . && python -m remem.quickstart",
        "./scripts/test.sh",
    ]
    assert "3.11" in section and "venv" in section and "scripts/postgres.sh stop" in section


def test_every_file_it_points_at_is_in_the_repository() -> None:
    assert "../" not in README
    named = set(re.findall(r"`((?:docs|scripts|src|tests|bench)/[\w./-]+)`", README))
    assert named, "the README names no repository file: the pattern is out of date"
    assert sorted(p for p in named if not (ROOT / p).exists()) == []
