"""``remem.Memory``: the one public facade. Interfaces (CLI, HTTP, MCP) are thin layers over it.

``Memory`` is assembled from one class per concern over a shared core, each a module here:

- ``core``: the state every part shares (store, embedder, tenant, clock, LLM, policies);
- ``writes``: add, update, delete, delete_all, forget, add_insight;
- ``reads``: search, context, get, list, history, versions, surrounding, stats;
- ``graph``: facts, entities, related;
- ``lifecycle``: maintain, pin, retention, summarize, profile, maintain_in_background;
- ``queue``: the extraction queue (claims, retries, backoff, LLM use) and its worker;
- ``portable``: export, import_, migrate_to;
- ``embedding``: reembed (another embedding model for the whole store);
- ``background``: the daemon threads behind ``maintain_in_background`` and the worker;
- ``memory``: ``Memory`` itself (constructor, close); ``async_memory``: ``AsyncMemory``.

Import ``Memory`` and ``AsyncMemory`` from ``remem`` (or here); the modules are internal.
"""

from remem._checks import MAX_LIMIT
from remem.engine.async_memory import AsyncMemory
from remem.engine.background import BackgroundMaintenance, ExtractionWorker
from remem.engine.core import as_seen
from remem.engine.embedding import Reembedded
from remem.engine.memory import EXTRACTION_MODES, Memory
from remem.engine.writes import AddArguments

__all__ = [
    "EXTRACTION_MODES",
    "MAX_LIMIT",
    "AddArguments",
    "AsyncMemory",
    "BackgroundMaintenance",
    "ExtractionWorker",
    "Memory",
    "Reembedded",
    "as_seen",
]
