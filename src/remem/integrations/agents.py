"""``RememSession``: an OpenAI Agents SDK session whose history is also long-term memory.

The SDK's session protocol (``agents.memory.session.Session``: ``get_items``,
``add_items``, ``pop_item``, ``clear_session``) over a ``remem.Memory`` or
``remem.Client``. Each item becomes one turn in the remem session ``session_id``, so it
is searchable, summarised and aged like any other conversation; the item itself is kept
verbatim in the memory's metadata, so the SDK gets back exactly what it stored.

    session = RememSession("chat-42", Memory(), user_id="ana")
    await Runner.run(agent, "Hi, I'm Ana", session=session)

It implements the protocol by shape (as the SDK asks of third-party sessions), so this
module does not import the SDK; install it with ``pip install 'remem[agents]'``.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, Protocol

from remem._checks import MAX_LIMIT, check_id

if TYPE_CHECKING:
    from remem.model import AddResult, MemoryRecord, Page

#: Metadata keys: the session an item belongs to, its position, and the item itself.
SESSION_KEY = "agents_session"
SEQ_KEY = "agents_seq"
ITEM_KEY = "agents_item"
#: What a replayed history includes: held-back turns were still said in this conversation.
VISIBLE = ("active", "archived", "quarantined")


class Facade(Protocol):
    """What the session needs of a ``Memory`` or a ``Client``."""

    def add(self, messages: Any, **kwargs: Any) -> AddResult: ...
    def list(self, **kwargs: Any) -> Page: ...
    def delete(self, memory_id: str, **kwargs: Any) -> MemoryRecord: ...


class RememSession:
    """One conversation of the Agents SDK, stored as the remem session ``session_id``."""

    session_settings: Any = None  # the SDK's SessionSettings; None: its defaults

    def __init__(
        self,
        session_id: str,
        memory: Facade,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
    ) -> None:
        self.session_id = check_id(session_id, "session_id")
        self.memory = memory
        self.user_id = user_id
        self.agent_id = agent_id
        self._lock = asyncio.Lock()  # one writer at a time keeps the positions unique

    async def get_items(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The history, oldest first; with ``limit``, the latest ``limit`` items."""
        records = await asyncio.to_thread(self._records)
        items = [r.metadata[ITEM_KEY] for r in records]
        return items if limit is None else items[-limit:] if limit > 0 else []

    async def add_items(self, items: list[dict[str, Any]]) -> None:
        """Append ``items`` (one add, one transaction) after what is stored."""
        if not items:
            return
        async with self._lock:
            await asyncio.to_thread(self._add, list(items))

    async def pop_item(self) -> dict[str, Any] | None:
        """Remove the latest item and return it (None when the session is empty).

        The memory is deleted, not erased: it leaves search, and its history keeps it.
        """
        async with self._lock:
            return await asyncio.to_thread(self._pop)

    async def clear_session(self) -> None:
        """Delete every item of this session (each stays in its memory's history)."""
        async with self._lock:
            await asyncio.to_thread(self._clear)

    def _records(self) -> list[MemoryRecord]:
        found: list[MemoryRecord] = []
        while True:
            page = self.memory.list(
                user_id=self.user_id,
                agent_id=self.agent_id,
                session_id=self.session_id,
                status=VISIBLE,
                metadata={SESSION_KEY: self.session_id},
                limit=MAX_LIMIT,
                offset=len(found),
            )
            found += page.items
            if len(found) >= page.total or not page.items:
                return sorted(found, key=lambda r: int(r.metadata[SEQ_KEY]))

    def _add(self, items: list[dict[str, Any]]) -> None:
        records = self._records()
        first = int(records[-1].metadata[SEQ_KEY]) + 1 if records else 0
        turns = [
            {
                "role": _role(item),
                "content": _text(item),
                "metadata": {SESSION_KEY: self.session_id, SEQ_KEY: first + i, ITEM_KEY: item},
            }
            for i, item in enumerate(items)
        ]
        self.memory.add(
            turns,
            user_id=self.user_id,
            agent_id=self.agent_id,
            session_id=self.session_id,
            source="openai-agents",
        )

    def _pop(self) -> dict[str, Any] | None:
        records = self._records()
        if not records:
            return None
        self._delete(records[-1])
        item: dict[str, Any] = records[-1].metadata[ITEM_KEY]
        return item

    def _clear(self) -> None:
        for record in self._records():
            self._delete(record)

    def _delete(self, record: MemoryRecord) -> None:
        self.memory.delete(
            record.id,
            user_id=self.user_id,
            agent_id=self.agent_id,
            reason="removed from the agent session",
        )


def _role(item: dict[str, Any]) -> str:
    """user and assistant messages keep their role; tool calls and their outputs are the
    assistant's and the tool's; instructions (system, developer) are not the user's word."""
    role = item.get("role")
    if role in ("user", "assistant"):
        return str(role)
    if item.get("type") in ("function_call", "reasoning") or str(item.get("type", "")).endswith(
        "_call"
    ):
        return "assistant"
    return "tool"


def _text(item: dict[str, Any]) -> str:
    """What the item says, for search and summaries; never empty."""
    kind = item.get("type", "message")
    if kind == "function_call":
        text = f"called {item.get('name')}({item.get('arguments', '')})"
    elif "output" in item:
        output = item["output"]
        text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
    else:
        text = _content_text(item.get("content", item.get("summary")))
    return text.strip() or f"[{kind}]"


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") or p.get("refusal") for p in content if isinstance(p, dict)]
        return "\n".join(p for p in parts if isinstance(p, str))
    return ""
