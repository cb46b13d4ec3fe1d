"""When a client sends a call again, and how long it waits first.

A failure may pass: the service restarting, its database restarting (503), a proxy in
between (502, 504), a connection the server closed while idle. Which calls are sent
again depends on what the service may already have done with the first attempt:

- not connected (``ConnectError``, ``ConnectTimeout``, ``PoolTimeout``): the request never
  left, so any call is sent again;
- sent, and then the connection failed, timed out or the answer was 502/503/504: only a
  call that is safe to repeat (``Call.repeatable``): reads (GETs, search, context; a read
  sent twice may count one more recall of what it found, nothing else), and an add, which
  carries an ``Idempotency-Key`` so the service stores it once whatever the number of
  attempts. Other writes raise, since their outcome is unknown (an update may have made a
  version, a pin logged an event, a delete already answered).

Waits grow exponentially with full jitter (a random wait up to the bound), so clients
that failed together do not come back together.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from remem.client.wire import Call

#: Transport failures that happen before the request is sent.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class Retry:
    """``attempts`` in all (1: never again); waits from ``backoff_s``, doubling, at most
    ``max_backoff_s``; answers with a status in ``statuses`` are tried again."""

    attempts: int = 5
    backoff_s: float = 0.25
    max_backoff_s: float = 4.0
    statuses: frozenset[int] = frozenset({502, 503, 504})

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("Retry needs attempts >= 1 and waits >= 0")

    def waits(self) -> Iterator[float]:
        """The wait before each further attempt (``attempts - 1`` of them)."""
        for n in range(self.attempts - 1):
            yield random.uniform(0, min(self.max_backoff_s, self.backoff_s * 2**n))

    def again(self, call: Call[Any], failure: httpx.Response | httpx.TransportError) -> bool:
        """Whether ``call``, having met ``failure``, may be sent again."""
        if isinstance(failure, httpx.Response):
            return failure.status_code in self.statuses and call.repeatable
        return isinstance(failure, NOT_SENT) or call.repeatable

    def start(self, call: Call[Any]) -> Attempts:
        """The attempts at sending ``call``, to consult after each one."""
        return Attempts(self, call, self.waits())


@dataclass
class Attempts:
    """One call's attempts so far: whether to go on after an outcome, and after what wait."""

    retry: Retry
    call: Call[Any]
    left: Iterator[float]

    def wait_after(self, outcome: httpx.Response | httpx.TransportError) -> float | None:
        """The wait before sending the call again, or None: ``outcome`` is the answer."""
        if not self.retry.again(self.call, outcome):
            return None
        return next(self.left, None)


#: What clients do unless told otherwise: five attempts, waiting at most 3.75 s in all.
DEFAULT_RETRY = Retry()
#: Never send a call twice.
NO_RETRY = Retry(attempts=1)
