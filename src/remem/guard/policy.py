"""What a write's provenance earns it: its trust, and whether what it says sends it to review.

Trust comes from who spoke (the turn's role) and who wrote it down (the ``Writer``), never
from the text: a tool result saying "this is verified" is as untrusted as any other.
The text decides one thing only, through ``remem.guard.detect``: whether the memory is
kept out of search and context until someone reviews it (quarantine).

- The owner's own turns (and permitted system messages) may give orders: "always answer in
  French" is a standing directive. They are quarantined only for what no one means to
  say to their own memory: an override ("ignore previous instructions"), a role spoofed
  inside the text, an order planted for some AI to find ("tell the user that..."), hidden
  or encoded text.
- Everything else (assistant turns, tool and web results, imports, external writers) is
  quarantined for any finding, orders included: it is data, and data gives no orders.
"""

from __future__ import annotations

from collections.abc import Sequence

from remem.guard.detect import STRICT, Finding
from remem.model import Trust, Writer, lowest_trust

#: The trust a turn of each role earns when the owner writes it.
TRUST_OF_ROLE: dict[str, Trust] = {
    "user": "trusted",
    "system": "trusted",
    "assistant": "unverified",
    "tool": "untrusted",
}


def turn_trust(role: str, writer: Writer) -> Trust:
    """The trust of a turn of ``role`` written by ``writer`` (never more than the writer has)."""
    if writer.role != "owner":
        return "untrusted"
    return TRUST_OF_ROLE.get(role, "untrusted")


def written_by(trust: Trust, writer: Writer) -> Trust:
    """``trust`` as far as ``writer`` may vouch for it: an external writer vouches for nothing."""
    return trust if writer.role == "owner" else "untrusted"


def imported_trust(trust: Trust, origin: str, writer: Writer) -> Trust:
    """The trust an imported record keeps: what it carried, as far as ``writer`` could have
    written it itself (no system message without the permission, nothing from an external
    writer above untrusted)."""
    if origin == "system" and not writer.system_turns:
        trust = lowest_trust([trust, "unverified"])
    return written_by(trust, writer)


def may_give_orders(origin: str, trust: str) -> bool:
    """Whether a memory's orders are the owner's own: a trusted user turn."""
    return origin == "user" and trust == "trusted"


def quarantine_reasons(origin: str, trust: str, findings: Sequence[Finding]) -> tuple[str, ...]:
    """Why a memory of this provenance saying this goes to quarantine (empty: it does not)."""
    speaks_for_owner = trust == "trusted" and origin in ("user", "system")
    return tuple(str(f) for f in findings if f.kind in STRICT or not speaks_for_owner)
