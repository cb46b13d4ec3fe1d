"""One protocol per storage concern; ``remem.stores.base.Store`` is their union.

Policy code that needs one concern types against it (``SearchStore``, ``JobStore``...);
each backend implements every concern in a module of its own (``stores/sqlite/graph.py``,
``stores/postgres/graph.py``), and the shared conformance suite checks them all.
"""

from remem.stores.operations.events import EventStore
from remem.stores.operations.graph import GraphStore
from remem.stores.operations.idempotency import IdempotencyStore
from remem.stores.operations.jobs import JobStore
from remem.stores.operations.memories import MemoryStore
from remem.stores.operations.portability import PortableStore
from remem.stores.operations.reembed import ReembedStore
from remem.stores.operations.search import SearchStore
from remem.stores.operations.transactional import Transactional

__all__ = [
    "EventStore",
    "GraphStore",
    "IdempotencyStore",
    "JobStore",
    "MemoryStore",
    "PortableStore",
    "ReembedStore",
    "SearchStore",
    "Transactional",
]
