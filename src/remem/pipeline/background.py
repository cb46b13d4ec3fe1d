"""Run ``Memory.maintain`` on a timer in a daemon thread, for long-running servers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from remem.errors import RememError

log = logging.getLogger("remem.maintenance")


class BackgroundMaintenance:
    """``start()`` runs ``maintain()`` now and then every ``every_s`` seconds until ``stop()``.

    A failing pass is logged and retried at the next tick: maintenance is never worth
    taking a server down for. ``on_pass`` sees each report (servers export it as a metric).
    """

    def __init__(
        self,
        maintain: Callable[[], Any],
        every_s: float,
        on_pass: Callable[[Any], None] | None = None,
    ) -> None:
        if every_s <= 0:
            raise ValueError("every_s must be positive")
        self._maintain = maintain
        self.every_s = every_s
        self._on_pass = on_pass
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0
        self.failures = 0

    def run_once(self) -> Any:
        try:
            report = self._maintain()
        except RememError as exc:
            self.failures += 1
            log.warning("maintenance pass failed: %s", exc)
            return None
        self.passes += 1
        if self._on_pass is not None:
            self._on_pass(report)
        return report

    def _loop(self) -> None:
        self.run_once()  # the first pass always runs, even when stopped at once
        while not self._stop.wait(self.every_s):
            self.run_once()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> BackgroundMaintenance:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="remem-maintain", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float | None = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
