"""Memory as tools for any function-calling model: remember, recall, forget and context.

``MemoryTools`` gives the JSON-schema definitions in the OpenAI function-calling shape
(``openai()``) and the Anthropic tool-use shape (``anthropic()``), and one dispatcher
(``call``) that runs a tool call against a ``remem.Memory`` or ``remem.Client``:

    tools = MemoryTools(memory, user_id="alice")
    response = openai.chat.completions.create(..., tools=tools.openai())
    for call in response.choices[0].message.tool_calls or []:
        answer = tools.call(call.function.name, call.function.arguments)

Whose memory a call reads and writes is bound here, never chosen by the model: a tool
call cannot reach another user's memories. Errors come back as data the model can read
(``{"error": {...}}``), not as exceptions, so one bad call does not end the conversation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from remem.errors import RememError

if TYPE_CHECKING:
    from remem.model import AddResult, Context, MemoryRecord, SearchResults


class Facade(Protocol):
    """What the tools need of a ``Memory`` or a ``Client`` (both have these methods)."""

    def add(self, messages: Any, **kwargs: Any) -> AddResult: ...
    def search(self, query: Any, **kwargs: Any) -> SearchResults: ...
    def delete(self, memory_id: str, **kwargs: Any) -> MemoryRecord: ...
    def context(self, query: Any, **kwargs: Any) -> Context: ...


class _Args(BaseModel):
    # A model's stray argument is an error it can read and fix, not a silent no-op.
    model_config = ConfigDict(extra="forbid")


class RememberArgs(_Args):
    text: str = Field(
        description="What to remember, in plain words: one fact, preference or event."
    )


class RecallArgs(_Args):
    query: str = Field(description="What to look for, in plain words.")
    limit: int = Field(default=5, ge=1, le=50, description="How many memories at most.")


class ForgetArgs(_Args):
    memory_id: str = Field(description="The id of the memory to forget, as recall returned it.")
    reason: str | None = Field(default=None, description="Why; kept in the memory's history.")


class ContextArgs(_Args):
    query: str = Field(description="What the next answer is about.")
    budget_tokens: int = Field(
        default=800, ge=16, le=20_000, description="Longest the context may be, in tokens."
    )


@dataclass(frozen=True)
class Tool:
    """One tool: its name, what the model reads about it, and its arguments."""

    name: str
    description: str
    args: type[_Args]

    def parameters(self) -> dict[str, Any]:
        """The arguments as a JSON schema object (no pydantic titles: they only cost tokens)."""
        schema = self.args.model_json_schema()
        properties = {
            name: {k: v for k, v in prop.items() if k != "title"}
            for name, prop in schema["properties"].items()
        }
        for prop in properties.values():
            if "anyOf" in prop:  # optional strings: say "string" once, not "string or null"
                prop.update(next(t for t in prop.pop("anyOf") if t.get("type") != "null"))
                prop.pop("default", None)
        return {
            "type": "object",
            "properties": properties,
            "required": schema.get("required", []),
            "additionalProperties": False,
        }


TOOLS: tuple[Tool, ...] = (
    Tool(
        "remember",
        "Remember something about the user for later conversations: a fact, preference or "
        "event, in plain words.",
        RememberArgs,
    ),
    Tool(
        "recall",
        "Find the user's memories that best match a query, best first, each with its id, "
        "date and why it was chosen.",
        RecallArgs,
    ),
    Tool(
        "forget",
        "Forget one memory by id (it no longer comes back; its history is kept). Use when "
        "the user asks to forget something or a memory is wrong.",
        ForgetArgs,
    ),
    Tool(
        "context",
        "What to know before answering: the user's profile, summaries and relevant "
        "memories, dated and cited by id, within a token budget.",
        ContextArgs,
    ),
)


class MemoryTools:
    """The four memory tools over one ``Memory`` or ``Client``, bound to one user/agent/session.

    ``prefix`` renames the tools (``prefix="memory_"`` gives ``memory_recall``...) when they
    would clash with an agent's own.
    """

    def __init__(
        self,
        memory: Facade,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        prefix: str = "",
    ) -> None:
        self.memory = memory
        self.user_id = user_id
        self.agent_id = agent_id
        self.session_id = session_id
        self.prefix = prefix
        self._run: dict[str, Callable[[Any], dict[str, Any]]] = {
            "remember": self._remember,
            "recall": self._recall,
            "forget": self._forget,
            "context": self._context,
        }

    @property
    def names(self) -> list[str]:
        return [self.prefix + tool.name for tool in TOOLS]

    def openai(self) -> list[dict[str, Any]]:
        """Tool definitions for OpenAI chat completions (``tools=``), and compatible servers."""
        return [
            {
                "type": "function",
                "function": {
                    "name": self.prefix + tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters(),
                },
            }
            for tool in TOOLS
        ]

    def anthropic(self) -> list[dict[str, Any]]:
        """Tool definitions for the Anthropic Messages API (``tools=``)."""
        return [
            {
                "name": self.prefix + tool.name,
                "description": tool.description,
                "input_schema": tool.parameters(),
            }
            for tool in TOOLS
        ]

    def call(self, name: str, arguments: str | Mapping[str, Any] | None) -> dict[str, Any]:
        """Run one tool call; ``arguments`` as the model sent them (a JSON string or an object).

        Returns what the model should read next: the tool's answer, or ``{"error": ...}``
        saying what was wrong (an unknown tool, bad arguments, a memory not found).
        """
        tool = next((t for t in TOOLS if self.prefix + t.name == name), None)
        if tool is None:
            return _error(
                "unknown_tool", f"no tool {name!r}; the tools are {', '.join(self.names)}"
            )
        try:
            raw = json.loads(arguments or "{}") if isinstance(arguments, str) else arguments or {}
            args = tool.args.model_validate(raw)
        except (ValueError, ValidationError) as exc:
            return _error("invalid_arguments", f"{name}: {_plain(exc)}")
        try:
            return self._run[tool.name](args)
        except RememError as exc:
            return _error(exc.code, str(exc))

    def _remember(self, args: RememberArgs) -> dict[str, Any]:
        result = self.memory.add(
            args.text,
            user_id=self.user_id,
            agent_id=self.agent_id,
            session_id=self.session_id,
            source="tool",
        )
        return {"remembered": [{"id": m.id, "text": m.text} for m in result.memories]}

    def _recall(self, args: RecallArgs) -> dict[str, Any]:
        results = self.memory.search(
            args.query, user_id=self.user_id, agent_id=self.agent_id, limit=args.limit
        )
        return {
            "memories": [
                {
                    "id": hit.memory.id,
                    "text": hit.memory.text,
                    "when": (hit.memory.valid_from or hit.memory.recorded_at).isoformat(),
                    "score": round(hit.score, 4),
                    "why": hit.explain(),
                }
                for hit in results.hits
            ],
            "abstained": results.abstained,
        }

    def _forget(self, args: ForgetArgs) -> dict[str, Any]:
        gone = self.memory.delete(
            args.memory_id, user_id=self.user_id, agent_id=self.agent_id, reason=args.reason
        )
        return {"forgotten": gone.id}

    def _context(self, args: ContextArgs) -> dict[str, Any]:
        block = self.memory.context(
            args.query,
            user_id=self.user_id,
            agent_id=self.agent_id,
            budget_tokens=args.budget_tokens,
        )
        return {"context": block.text, "cited": list(block.cited)}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _plain(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
        )
    return f"arguments are not a JSON object ({exc})"
