"""remem: long-term memory for LLM agents, embedded and offline by default."""

from remem.engine import AsyncMemory, Memory
from remem.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    ProviderError,
    RememError,
    ScopeError,
    StoreError,
)
from remem.model import (
    AddResult,
    Episode,
    Event,
    MemoryRecord,
    Page,
    Scope,
    SearchHit,
    SearchResults,
    Signal,
)

__version__ = "0.1.0"

__all__ = [
    "AddResult",
    "AsyncMemory",
    "Conflict",
    "Episode",
    "Event",
    "InvalidInput",
    "Memory",
    "MemoryRecord",
    "NotFound",
    "Page",
    "ProviderError",
    "RememError",
    "Scope",
    "ScopeError",
    "SearchHit",
    "SearchResults",
    "Signal",
    "StoreError",
    "__version__",
]
