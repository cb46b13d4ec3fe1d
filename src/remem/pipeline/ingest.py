"""Turn what a caller hands us into validated episodes and their round-level memories.

Everything is checked before anything is written, so bad input never leaves
half a conversation behind. A turn is tagged as a standing directive only when it is the
owner's own trusted turn and nothing in it looks like an attempt to take over the
assistant (``remem.guard``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from remem._checks import check_metadata, check_text
from remem._ids import new_id
from remem._time import to_utc
from remem.config import DEFAULT_GUARD_POLICY, GuardPolicy
from remem.errors import Forbidden, InvalidInput
from remem.guard import STRICT, Finding, may_give_orders, quarantine_reasons, scan, turn_trust
from remem.model import KINDS, ROLES, Episode, MemoryRecord, Scope, Writer
from remem.pipeline.directives import is_directive

Messages = str | Mapping[str, Any] | Sequence[Mapping[str, Any]]


class Turn(NamedTuple):
    """One message as stored: its episode, its round-level memory, and why the memory goes
    to quarantine (empty: it does not)."""

    episode: Episode
    memory: MemoryRecord
    quarantine: tuple[str, ...] = ()


def _messages(messages: Messages) -> list[Mapping[str, Any]]:
    if isinstance(messages, str):
        return [{"role": "user", "content": check_text(messages, "text")}]
    if isinstance(messages, Mapping):
        return [messages]
    if isinstance(messages, Sequence) and messages:
        return list(cast(Sequence[Mapping[str, Any]], messages))  # a str returned above
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
    writer: Writer = Writer(),  # noqa: B008 (frozen: one shared default is safe)
    guard: GuardPolicy = DEFAULT_GUARD_POLICY,
) -> list[Turn]:
    """One episode per message and one memory citing it, in order, or an error naming the bad
    message. A memory whose text the guard flags is built in quarantine, with the reasons."""
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
        if role == "system" and not writer.system_turns:
            raise Forbidden(
                f"{where}: this writer may not store system turns (a system message is read "
                "as the operator's voice); send it as a user or tool turn, or use a key "
                "created with --system-turns"
            )
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
            trust=turn_trust(role, writer),
        )
        trust = episode.trust
        findings = scan(content) if guard.enabled else ()
        on = guard.enabled and guard.quarantine
        held = quarantine_reasons(role, trust, findings) if on else ()
        memory = MemoryRecord(
            id=new_id("mem"),
            scope=scope,
            kind=kind,  # type: ignore[arg-type]
            text=f"{speaker}: {content}" if speaker else content,
            provenance=(episode.id,),
            valid_from=occurred,
            recorded_at=now,
            importance=importance,
            status="quarantined" if held else "active",
            origin=role,
            trust=trust,
            metadata={
                **meta,
                "role": role,
                **({"speaker": speaker} if speaker else {}),
                **(
                    {"directive": True} if _directive(role, content, trust, findings, guard) else {}
                ),
            },
        )
        built.append(Turn(episode, memory, held))
    return built


def _directive(
    role: str, content: str, trust: str, findings: Sequence[Finding], guard: GuardPolicy
) -> bool:
    """A standing directive: the owner's own trusted turn giving one, and nothing more
    (with the guard off, any user turn phrased as one, as before the guard)."""
    if not guard.enabled:
        return role == "user" and is_directive(content)
    if not may_give_orders(role, trust) or not is_directive(content):
        return False
    return not any(f.kind in STRICT for f in findings)
