"""The service keeps its start-up heap out of full garbage collections while it runs
(``remem.service.heap``), and gives it back when it stops."""

from __future__ import annotations

import gc
from pathlib import Path

from remem.providers.embedder import Embedder
from remem.service import KeyStore, create_app
from remem.stores import open_store
from tests.service.conftest import ServerThread


def test_a_running_service_freezes_its_start_up_heap_and_unfreezes_it_on_stop(
    tmp_path: Path, embedder: Embedder
) -> None:
    location = str(tmp_path / "heap.db")
    store, keys = open_store(location), KeyStore(location)
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    thread = ServerThread(create_app(location, store=store, embedder=embedder, keys=keys))
    try:
        thread.start()
        # Everything alive at start-up (the modules, the app, the model) is frozen.
        assert gc.get_freeze_count() > 10_000
    finally:
        thread.stop()
        keys.close()
        store.close()
    assert gc.get_freeze_count() == 0
