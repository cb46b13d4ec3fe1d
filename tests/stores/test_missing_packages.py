"""Without the PostgreSQL extra, a postgresql:// target is a StoreError naming what to install."""

from __future__ import annotations

import sys

import pytest

from remem import StoreError
from remem.stores import distribute, open_store


def test_a_postgresql_url_without_its_packages_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loaded = [m for m in sys.modules if m.startswith("remem.stores.postgres")]
    for name in loaded:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # what an install without it raises
    try:
        for call in (open_store, distribute):
            with pytest.raises(StoreError, match=r"psycopg is missing.*remem\[postgres\]"):
                call("postgresql://127.0.0.1:1/none")
    finally:  # half-imported modules of the failed imports must not outlive the test
        for name in [m for m in sys.modules if m.startswith("remem.stores.postgres")]:
            if name not in loaded:
                del sys.modules[name]
