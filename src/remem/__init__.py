"""remem: long-term memory for LLM agents, embedded and offline by default."""

from typing import TYPE_CHECKING

from remem.config import GuardPolicy, QueuePolicy
from remem.engine import AddArguments, AsyncMemory, Memory
from remem.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ProviderError,
    RememError,
    ScopeError,
    StoreError,
    Unauthorized,
)
from remem.model import (
    AddResult,
    Episode,
    Event,
    Flagged,
    MaintenanceReport,
    MemoryRecord,
    Page,
    ProfileItem,
    Scope,
    SearchHit,
    SearchResults,
    Signal,
    Writer,
)
from remem.query import SearchQuery
from remem.recipes import RECIPES, Priors, SearchRecipe
from remem.retention import LifecyclePolicy

if TYPE_CHECKING:  # imported on first use at run time (below); checkers see the real classes
    from remem.client import AsyncClient, Client

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # The HTTP clients load httpx; embedded use never pays for that import.
    if name in ("Client", "AsyncClient"):
        from remem import client

        return getattr(client, name)
    raise AttributeError(f"module 'remem' has no attribute {name!r}")


__all__ = [
    "RECIPES",
    "AddArguments",
    "AddResult",
    "AsyncClient",
    "AsyncMemory",
    "Client",
    "Conflict",
    "Episode",
    "Event",
    "Flagged",
    "Forbidden",
    "GuardPolicy",
    "InvalidInput",
    "LifecyclePolicy",
    "MaintenanceReport",
    "Memory",
    "MemoryRecord",
    "NotFound",
    "Page",
    "Priors",
    "ProfileItem",
    "ProviderError",
    "QueuePolicy",
    "RememError",
    "Scope",
    "ScopeError",
    "SearchHit",
    "SearchQuery",
    "SearchRecipe",
    "SearchResults",
    "Signal",
    "StoreError",
    "Unauthorized",
    "Writer",
    "__version__",
]
