"""Trust and provenance: what resists memory poisoning (docs/trust.md, docs/security.md).

Beside ``pipeline`` and ``retrieval``, which both use it; it imports only neutral ground
(model, errors, text). ``detect`` finds instruction-like and hidden content offline;
``policy`` derives a write's trust from its provenance and decides what goes to
quarantine.
"""

from remem.guard.detect import STRICT, Finding, normalise, scan
from remem.guard.policy import (
    imported_trust,
    may_give_orders,
    quarantine_reasons,
    turn_trust,
    written_by,
)

__all__ = [
    "STRICT",
    "Finding",
    "imported_trust",
    "may_give_orders",
    "normalise",
    "quarantine_reasons",
    "scan",
    "turn_trust",
    "written_by",
]
