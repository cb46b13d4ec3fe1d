"""Where things live by default; every default can be overridden by an argument or variable."""

from __future__ import annotations

import os
from pathlib import Path


def default_location() -> str:
    """REMEM_DATABASE_URL, else $REMEM_HOME/remem.db, else the user data dir (XDG)."""
    url = os.environ.get("REMEM_DATABASE_URL")
    if url:
        return url
    home = os.environ.get("REMEM_HOME")
    if home:
        return str(Path(home).expanduser() / "remem.db")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "remem" / "remem.db")
