"""Daemon threads for long-running processes: lifecycle maintenance on a timer, and the
extraction worker that drains the queue of ``Memory(extraction="background")``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Self

from remem.errors import RememError

log = logging.getLogger("remem.maintenance")
worker_log = logging.getLogger("remem.extraction")


class _Ticker:
    """Runs ``run_once`` now and then every ``every_s`` seconds, or sooner on ``wake()``."""

    name = "remem-ticker"

    def __init__(self, every_s: float) -> None:
        if every_s <= 0:
            raise ValueError("every_s must be positive")
        self.every_s = every_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> Any:
        raise NotImplementedError

    def _loop(self) -> None:
        self.run_once()  # the first pass always runs, even when stopped at once
        while not self._stop.is_set():
            self._wake.wait(self.every_s)
            self._wake.clear()
            if not self._stop.is_set():
                self.run_once()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def wake(self) -> None:
        """Run the next pass now instead of at the next tick."""
        self._wake.set()

    def start(self) -> Self:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the thread to stop and join it (a pass under way finishes first)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


class BackgroundMaintenance(_Ticker):
    """``start()`` runs ``maintain()`` now and then every ``every_s`` seconds until ``stop()``.

    A failing pass is logged and retried at the next tick: maintenance is never worth
    taking a server down for. ``on_pass`` sees each report (servers export it as a metric).
    """

    name = "remem-maintain"

    def __init__(
        self,
        maintain: Callable[[], Any],
        every_s: float,
        on_pass: Callable[[Any], None] | None = None,
    ) -> None:
        super().__init__(every_s)
        self._maintain = maintain
        self._on_pass = on_pass
        self.passes = 0
        self.failures = 0

    def run_once(self) -> Any:
        try:
            report = self._maintain()
        except RememError as exc:
            self.failures += 1
            log.warning("maintenance pass failed: %s", exc)
            return None
        except Exception:  # a bug must not silently end the thread: log it, try next round
            self.failures += 1
            log.exception("maintenance pass failed")
            return None
        self.passes += 1
        if self._on_pass is not None:
            self._on_pass(report)
        return report


class ExtractionWorker(_Ticker):
    """Calls ``drain()`` (run every due job, return how many ran) until it finds nothing,
    then waits ``every_s`` seconds or for ``wake()``.

    A pass that raises is logged and the next tick tries again: a job it held is taken
    over once its claim goes stale. ``passes``/``jobs``/``failures`` count the work.
    """

    name = "remem-extract"

    def __init__(self, drain: Callable[[], int], every_s: float) -> None:
        super().__init__(every_s)
        self._drain = drain
        self.passes = 0
        self.jobs = 0
        self.failures = 0

    def run_once(self) -> int:
        ran = 0
        try:
            while not self._stop.is_set():
                done = self._drain()
                ran += done
                self.jobs += done
                if not done:
                    break
        except Exception:  # a daemon thread that dies silently would stop the queue for good
            self.failures += 1
            worker_log.exception("extraction pass failed")
        self.passes += 1
        return ran
