"""``remem.Client`` / ``remem.AsyncClient``: the ``Memory`` facade over HTTP.

The core methods of ``remem.Memory`` (add, search, get, list, update, delete, forget,
history, lifecycle and context, the graph reads facts/entities/related; not the local
ones such as add_insight/retry_extraction), with the same arguments, return types and errors,
so code moves from embedded to a shared service by changing the line that builds it::

    m = Memory("my.db")                                   # embedded
    m = Client("http://memory.internal:8000", api_key=KEY)  # remote, tenant from the key

Each method is written once, in ``calls``: it describes its request and how to read the
answer; ``clients`` derives ``Client`` (blocking) and ``AsyncClient`` (awaited) from it.
``tests/test_parity.py`` lists the local-only methods, each with its reason. A call that
fails in a way that may pass is sent again when that is safe (``retry``).
"""

from remem.client.calls import _Facade
from remem.client.clients import DEFAULT_URL, AsyncClient, Client
from remem.client.retry import DEFAULT_RETRY, NO_RETRY, Retry

__all__ = ["DEFAULT_RETRY", "DEFAULT_URL", "NO_RETRY", "AsyncClient", "Client", "Retry", "_Facade"]
