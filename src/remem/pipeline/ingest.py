"""Turn what a caller hands us into validated episodes and their round-level memories.

Everything is checked before anything is written, so bad input never leaves
half a conversation behind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from remem._ids import new_id
from remem._time import to_utc
from remem.errors import InvalidInput
from remem.model import KINDS, ROLES, Episode, MemoryRecord, Scope
from remem.pipeline.directives import is_directive

MAX_TEXT_CHARS = 1_000_000

Messages = str | Mapping[str, Any] | Sequence[Mapping[str, Any]]


def check_text(text: Any, field: str = "content") -> str:
    if not isinstance(text, str):
        raise InvalidInput(f"{field} must be a string, got {type(text).__name__}")
    if not text.strip():
        raise InvalidInput(f"{field} is empty: there is nothing to remember")
    if "\x00" in text:
        raise InvalidInput(f"{field} contains a NUL character, which no backend can store")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInput(f"{field} has {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
    return text


def check_metadata(metadata: Any, field: str = "metadata") -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidInput(f"{field} must be an object of key/value pairs")
    for key in metadata:
        if not isinstance(key, str) or not key or '"' in key:
            raise InvalidInput(f"{field} keys must be non-empty strings without quotes: {key!r}")
    return dict(metadata)


def check_importance(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise InvalidInput(f"importance must be a number between 0 and 1, got {value!r}")
    return float(value)


def _messages(messages: Messages) -> list[Mapping[str, Any]]:
    if isinstance(messages, str):
        return [{"role": "user", "content": check_text(messages, "text")}]
    if isinstance(messages, Mapping):
        return [messages]
    if isinstance(messages, Sequence) and messages:
        return list(messages)
    raise InvalidInput("messages must be a string, a message object or a non-empty list of them")


def build_turns(
    messages: Messages,
    *,
    scope: Scope,
    first_seq: int,
    now: datetime,
    timestamp: Any = None,
    metadata: Mapping[str, Any] | None = None,
    source: str = "api",
    kind: str = "episode",
    importance: float = 0.5,
) -> list[tuple[Episode, MemoryRecord]]:
    """One episode per message and one memory citing it, in order, or an error naming the bad message."""
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    default_time = to_utc(timestamp, field="timestamp") or now
    shared = check_metadata(metadata)
    built = []
    for position, message in enumerate(_messages(messages)):
        where = f"message {position}"
        if not isinstance(message, Mapping):
            raise InvalidInput(f"{where}: expected an object with role and content")
        unknown = set(message) - {"role", "content", "name", "speaker", "timestamp", "metadata"}
        if unknown:
            raise InvalidInput(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        role = message.get("role", "user")
        if role not in ROLES:
            raise InvalidInput(f"{where}: role must be one of {', '.join(ROLES)}, got {role!r}")
        content = check_text(message.get("content"), f"{where} content")
        speaker = message.get("speaker") or message.get("name")
        if speaker is not None and (not isinstance(speaker, str) or not speaker.strip()):
            raise InvalidInput(f"{where}: speaker must be a non-empty string")
        occurred = to_utc(message.get("timestamp"), field=f"{where} timestamp") or default_time
        meta = {**shared, **check_metadata(message.get("metadata"), f"{where} metadata")}
        episode = Episode(
            id=new_id("ep"),
            scope=scope,
            seq=first_seq + position,
            role=role,
            speaker=speaker,
            content=content,
            occurred_at=occurred,
            recorded_at=now,
            source=source,
            metadata=meta,
        )
        memory = MemoryRecord(
            id=new_id("mem"),
            scope=scope,
            kind=kind,  # type: ignore[arg-type]
            text=f"{speaker}: {content}" if speaker else content,
            provenance=(episode.id,),
            valid_from=occurred,
            recorded_at=now,
            importance=importance,
            metadata={
                **meta,
                "role": role,
                **({"speaker": speaker} if speaker else {}),
                **({"directive": True} if role == "user" and is_directive(content) else {}),
            },
        )
        built.append((episode, memory))
    return built
