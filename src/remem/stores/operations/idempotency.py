"""Answers kept per request key, so a request sent again is answered, not done twice.

The HTTP service keeps the answer to an add sent with an ``Idempotency-Key`` here, in the
add's own transaction: the add and its answer are stored together or not at all. What an
answer holds is the caller's (ids, not content: ``forget`` must not leave text behind).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from remem.stores.operations.transactional import Transactional
from remem.stores.records import KeptAnswer


class IdempotencyStore(Transactional, Protocol):
    def keep_answer(
        self, tenant: str, key: str, fingerprint: str, answer: Mapping[str, Any], at: datetime
    ) -> bool:
        """Keep ``answer`` under ``(tenant, key)`` unless one is kept already: True if this
        one was. Runs in the caller's transaction; a concurrent one keeping the same key
        is waited for, so only one of them gets True."""
        ...

    def kept_answer(self, tenant: str, key: str) -> KeptAnswer | None:
        """The answer kept under ``(tenant, key)``, or None."""
        ...

    def replace_answer(self, tenant: str, key: str, answer: Mapping[str, Any]) -> None:
        """Overwrite a kept answer (when more of it is known after its transaction)."""
        ...

    def drop_answers(self, before: datetime) -> int:
        """Forget the answers of every tenant kept before ``before``; how many."""
        ...
