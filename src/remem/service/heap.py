"""The service's heap after start-up, kept out of Python's full garbage collections.

By the time the API is ready it holds every module, class and function it will ever need
(FastAPI, numpy, onnxruntime, the stemmer's tables, the model): ~80k objects the cyclic
collector tracks and never frees. A full collection walks them all (~30-40 ms at 100k
memories, ~1% of searches, so p99 latency), and nothing in them is garbage. ``settle``
collects once and then freezes what survives (``gc.freeze``): later full collections walk
only what was made after start-up (~1.5 ms). ``release`` unfreezes at shutdown, so an app
started and stopped inside a longer process (tests, an embedding application) leaves no
frozen objects behind that could no longer be collected.

The library itself (``remem.Memory``) does not do this: freezing is a choice about the
whole process's heap, the host's objects included, which only the process's owner (here
the service) may make.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect what start-up left behind, then exempt the rest from full collections."""
    gc.collect()
    gc.freeze()


def release() -> None:
    """Return the frozen objects to the collector (at shutdown)."""
    gc.unfreeze()
